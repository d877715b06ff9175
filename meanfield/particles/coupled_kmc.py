"""Two lattice jump processes driven by the same unit-rate Poisson processes (random time change).

Model 003 (Hudson–van Meurs–Peletier), §5.1, eqs. (74)–(75). Each possible jump of a walker is a
*channel* ``h = (i, ±εe_m)`` (``4n`` channels) with its own unit-rate Poisson process ``N^h``. Two
processes are built from the same ``N^h`` and the same initial sites:

* the interacting walkers (RW_n^ε), eq. (74):
  ``τ^h(t) = ∫_0^t R_h(X(s)) ds``, ``X(t) = X° + Σ_h h N^h(τ^h(t))``, with the rates (8)
  ``R_h = exp(½ β h·F(X)) / (β ε²)`` and the force (6) ``F_i = -(b_i/n) Σ_j b_j ∇V_δ(ℓ_i - ℓ_j)``;
* ``n`` independent walkers ``X̄`` (the auxiliary process), eq. (75):
  ``τ̄^h(t) = ∫_0^t R̄_h(X̄_i(s), s) ds``, ``X̄(t) = X° + Σ_h h N^h(τ̄^h(t))``, with the mean-field
  rates (10) ``R̄_h = exp(½ β h·F̄) / (β ε²)``, ``F̄(ℓ, b_i, s) = -b_i G(ℓ, s)``, where ``G`` is a given
  lattice field (for the paper, ``∇V_δ * (ρ_ε⁺ - ρ_ε⁻)`` of the MF^ε solution).

Simulation (Anderson's modified next reaction method, with the point sequences shared): channel
``h`` fires for ``X`` when ``τ^h`` reaches the next unused point of ``N^h`` (the points are the
partial sums of i.i.d. Exp(1) gaps), and likewise for ``X̄`` with ``τ̄^h``. Between two jumps of
``X`` all its rates are constant, so its clocks grow linearly and the next firing of every channel
is ``t + (P^h - τ^h)/R_h``; a jump of ``X`` changes every force, so every clock is brought up to date
and every firing time recomputed: O(n) work per jump of ``X`` (the field update of the direct
method, :mod:`meanfield.particles.lattice_kmc`, plus the ``4n`` clocks). A walker of ``X̄`` changes
only its own four rates when it jumps; its firing times sit in a min-tree over the walkers
(O(log n) per jump). The field ``G`` is piecewise constant in time on given cells
``[t_k, t_{k+1})`` (e.g. the MF^ε field at each cell's midpoint); at a cell boundary every clock of
``X̄`` is brought up to date and every rate recomputed (O(n) per boundary). Points of ``N^h`` are
drawn when first needed by either process and kept, so the process that lags behind uses the same
points later. The construction is exact for both processes: ``X`` is (RW_n^ε) and ``X̄`` the
independent walkers with the piecewise-constant field, whatever the cells.

Randomness: only ``Generator.standard_exponential()`` draws, in the order the points are first
needed; the same seed gives the same run bit for bit.

The clocks are returned at the output times, so Lemma 5.1(3),
``E|N^h(τ^h) - N^h(τ̄^h)| = E|τ^h - τ̄^h|``, can be checked on the runs.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .lattice_kmc import _after_jump, _full_fields, _move, _reduced, walker_inputs

__all__ = ["run_coupled"]

_INF = np.inf


@njit(cache=True, nogil=True)
def _set_rates(rate, k, coef, ex, ey):
    """Channels ``k .. k+3`` (+e1, -e1, +e2, -e2) of one walker from its two exponentials."""
    rate[k] = coef * ex
    rate[k + 1] = coef / ex
    rate[k + 2] = coef * ey
    rate[k + 3] = coef / ey


@njit(cache=True, nogil=True)
def _rates_x(i, b, sx, sy, coef, hb, inv_n, rate):
    """The four rates (8) of walker ``i`` of ``X`` (channels ``4i + ch``, ch: +e1, -e1, +e2, -e2)."""
    ex = np.exp(-hb * b[i] * inv_n * sx[i])
    ey = np.exp(-hb * b[i] * inv_n * sy[i])
    _set_rates(rate, 4 * i, coef, ex, ey)


@njit(cache=True, nogil=True)
def _rates_bar(i, b, awb, cwb, field, coef, hb, rate):
    """The four mean-field rates (10) of walker ``i`` of ``X̄`` at its site, ``F̄ = -b_i G``."""
    ex = np.exp(-hb * b[i] * field[0, awb[i], cwb[i]])
    ey = np.exp(-hb * b[i] * field[1, awb[i], cwb[i]])
    _set_rates(rate, 4 * i, coef, ex, ey)


@njit(cache=True, nogil=True)
def _leaf(fire, i):
    k = 4 * i
    return min(min(fire[k], fire[k + 1]), min(fire[k + 2], fire[k + 3]))


@njit(cache=True, nogil=True)
def _tree_set(tree, size, i, value):
    node = size + i
    tree[node] = value
    node //= 2
    while node >= 1:
        tree[node] = min(tree[2 * node], tree[2 * node + 1])
        node //= 2


@njit(cache=True, nogil=True)
def _tree_build(tree, size, fire, n):
    for i in range(size):
        tree[size + i] = _leaf(fire, i) if i < n else _INF
    for node in range(size - 1, 0, -1):
        tree[node] = min(tree[2 * node], tree[2 * node + 1])


@njit(cache=True, nogil=True)
def _tree_argmin(tree, size):
    node = 1
    while node < size:
        node = 2 * node if tree[2 * node] <= tree[2 * node + 1] else 2 * node + 1
    return node - size


@njit(cache=True, nogil=True)
def _ensure_point(pts, ngen, k, used, g):
    """Make point number ``used`` (0-based) of channel ``k`` exist; returns the (possibly grown) array."""
    if ngen[k] > used:
        return pts
    if ngen[k] == pts.shape[1]:
        grown = np.empty((pts.shape[0], 2 * pts.shape[1]))
        grown[:, : pts.shape[1]] = pts
        pts = grown
    pts[k, ngen[k]] = pts[k, ngen[k] - 1] + g.standard_exponential()
    ngen[k] += 1
    return pts


@njit(cache=True, nogil=True)
def _run_one(g, a, c, ab, cb, b, tab, nsite, coef, hb, fields, t_edges, t_out, out_a, out_c, out_ab, out_cb,
             out_tau, out_taub, out_nx, out_nb, stats, cap, max_events):
    """One replica (module docstring). ``a, c`` / ``ab, cb``: unwrapped coordinates of ``X`` / ``X̄``,
    advanced in place; outputs at ``t_out``; ``stats = (jumps of X, jumps of X̄, events, largest
    number of points drawn on one channel, 1 if max_events was reached)``."""
    n = a.size
    m4 = 4 * n
    inv_n = 1.0 / n
    off = 2 * nsite * nsite + nsite
    aw, cw, pw = _reduced(a, c, nsite)
    awb, cwb, pwb = _reduced(ab, cb, nsite)
    sx = np.zeros(n)
    sy = np.zeros(n)
    _full_fields(pw, b, tab, off, sx, sy)
    pts = np.empty((m4, cap))
    ngen = np.ones(m4, np.int64)
    for k in range(m4):
        pts[k, 0] = g.standard_exponential()
    used_x = np.zeros(m4, np.int64)  # points of N^h consumed by X: N^h(τ^h(t))
    used_b = np.zeros(m4, np.int64)
    rate = np.empty(m4)
    tau = np.zeros(m4)
    fire = np.empty(m4)
    for i in range(n):
        _rates_x(i, b, sx, sy, coef, hb, inv_n, rate)
    for k in range(m4):
        fire[k] = pts[k, 0] / rate[k]
    t_sync = 0.0
    n_cells = t_edges.size - 1
    cell = 0
    rate_b = np.empty(m4)
    tau_b = np.zeros(m4)
    fire_b = np.empty(m4)
    sync_b = np.zeros(n)
    for i in range(n):
        _rates_bar(i, b, awb, cwb, fields[0], coef, hb, rate_b)
    for k in range(m4):
        fire_b[k] = pts[k, 0] / rate_b[k]
    size = 1
    while size < n:
        size *= 2
    tree = np.empty(2 * size)
    _tree_build(tree, size, fire_b, n)
    kx = 0
    for k in range(1, m4):
        if fire[k] < fire[kx]:
            kx = k
    n_out = t_out.size
    k_out = 0
    jumps = 0
    jumps_b = 0
    events = 0
    while True:
        tx = fire[kx]
        tb = tree[1]
        tc = t_edges[cell + 1] if cell + 1 < n_cells else _INF
        t_ev = min(tx, min(tb, tc))
        while k_out < n_out and t_out[k_out] < t_ev:
            s = t_out[k_out]
            for i in range(n):
                out_a[k_out, i] = a[i]
                out_c[k_out, i] = c[i]
                out_ab[k_out, i] = ab[i]
                out_cb[k_out, i] = cb[i]
            for k in range(m4):
                out_tau[k_out, k] = tau[k] + rate[k] * (s - t_sync)
                out_taub[k_out, k] = tau_b[k] + rate_b[k] * (s - sync_b[k >> 2])
                out_nx[k_out, k] = used_x[k]
                out_nb[k_out, k] = used_b[k]
            k_out += 1
        if k_out == n_out:
            break
        if events >= max_events:
            stats[4] = 1
            break
        events += 1
        if tx <= tb and tx <= tc:  # X: channel kx reaches its next point
            dt = tx - t_sync
            for k in range(m4):
                tau[k] += rate[k] * dt
            tau[kx] = pts[kx, used_x[kx]]
            used_x[kx] += 1
            pts = _ensure_point(pts, ngen, kx, used_x[kx], g)
            i = kx >> 2
            p_old = pw[i]
            _move(i, kx & 3, a, c, aw, cw, pw, nsite)
            _after_jump(i, p_old, pw, b, tab, off, sx, sy)
            t_sync = tx
            for j in range(n):
                _rates_x(j, b, sx, sy, coef, hb, inv_n, rate)
            kx = 0
            for k in range(m4):
                fire[k] = tx + (pts[k, used_x[k]] - tau[k]) / rate[k]
                if fire[k] < fire[kx]:
                    kx = k
            jumps += 1
        elif tb <= tc:  # X̄: the walker with the earliest firing
            i = _tree_argmin(tree, size)
            dt = tb - sync_b[i]
            kb = 4 * i
            for q in range(4):
                tau_b[4 * i + q] += rate_b[4 * i + q] * dt
                if fire_b[4 * i + q] < fire_b[kb]:
                    kb = 4 * i + q
            tau_b[kb] = pts[kb, used_b[kb]]
            used_b[kb] += 1
            pts = _ensure_point(pts, ngen, kb, used_b[kb], g)
            _move(i, kb & 3, ab, cb, awb, cwb, pwb, nsite)
            sync_b[i] = tb
            _rates_bar(i, b, awb, cwb, fields[cell], coef, hb, rate_b)
            for q in range(4):
                k = 4 * i + q
                fire_b[k] = tb + (pts[k, used_b[k]] - tau_b[k]) / rate_b[k]
            _tree_set(tree, size, i, _leaf(fire_b, i))
            jumps_b += 1
        else:  # the field of X̄ changes: every clock of X̄ up to date, new rates
            cell += 1
            for i in range(n):
                dt = tc - sync_b[i]
                for q in range(4):
                    tau_b[4 * i + q] += rate_b[4 * i + q] * dt
                sync_b[i] = tc
                _rates_bar(i, b, awb, cwb, fields[cell], coef, hb, rate_b)
            for k in range(m4):
                fire_b[k] = tc + (pts[k, used_b[k]] - tau_b[k]) / rate_b[k]
            _tree_build(tree, size, fire_b, n)
    stats[0] = jumps
    stats[1] = jumps_b
    stats[2] = events
    stats[3] = ngen.max()


@njit(cache=True, nogil=True)
def _run_batch(g, a0, c0, b, tab, nsite, coef, hb, fields, t_edges, t_out, out_a, out_c, out_ab, out_cb, out_tau,
               out_taub, out_nx, out_nb, stats, cap, max_events):
    for r in range(a0.shape[0]):
        _run_one(g, a0[r].copy(), c0[r].copy(), a0[r].copy(), c0[r].copy(), b[r], tab, nsite, coef, hb, fields,
                 t_edges, t_out, out_a[r], out_c[r], out_ab[r], out_cb[r], out_tau[r], out_taub[r], out_nx[r],
                 out_nb[r], stats[r], cap, max_events)


def run_coupled(a0, c0, b, tables, beta, fields, cell_edges, t_out, rng, max_events=None):
    """Run ``R`` replicas of the coupled pair ``(X, X̄)`` of the module docstring.

    Parameters
    ----------
    a0, c0 : integer arrays, shape ``(R, n)``
        Initial lattice coordinates, shared by ``X`` and ``X̄`` (eqs. (74b), (75b)).
    b : array, shape ``(R, n)``
        Signs ±1.
    tables : ``(G_1, G_2)``
        ``∇V_δ`` on the lattice (:func:`meanfield.particles.lattice_kmc.force_tables`), each ``(N, N)``.
    beta : float
        Inverse temperature β of (8) and (10).
    fields : array, shape ``(K, 2, N, N)``
        The lattice field ``G`` of ``X̄`` on each time cell (``F̄(ℓ, b) = -b G(ℓ)``).
    cell_edges : array, shape ``(K + 1,)``
        ``0 = t_0 < t_1 < … < t_K`` with ``t_K ≥ max(t_out)``; field ``k`` holds on ``[t_k, t_{k+1})``.
    t_out : increasing array of output times in ``[0, t_K]``.
    rng : numpy.random.Generator
        Source of the Exp(1) gaps of the Poisson processes.
    max_events : int, optional
        Cap on the events of one replica (default: 50 times the expected count plus 10⁶); a replica
        that reaches it raises ``RuntimeError``.

    Returns
    -------
    dict with arrays ``a, c`` (``X``) and ``a_bar, c_bar`` (``X̄``), unwrapped coordinates of shape
    ``(R, len(t_out), n)``; ``tau, tau_bar`` (the clocks ``τ^h``, ``τ̄^h``) and ``count, count_bar``
    (``N^h(τ^h)``, ``N^h(τ̄^h)``), shape ``(R, len(t_out), 4n)``, channel ``4i + ch`` with ch = +e_1,
    -e_1, +e_2, -e_2; ``stats`` of shape ``(R, 4)``: jumps of ``X``, jumps of ``X̄``, events, the
    largest number of points drawn on one channel.
    """
    tab, nsite, a0, c0, b = walker_inputs(beta, tables, a0, c0, b)
    if not np.all(np.abs(b) == 1):
        raise ValueError("b must hold signs +1 or -1")
    fields = np.ascontiguousarray(fields, dtype=float)
    edges = np.ascontiguousarray(cell_edges, dtype=float)
    if fields.ndim != 4 or fields.shape[1:] != (2, nsite, nsite) or fields.shape[0] < 1:
        raise ValueError(f"fields must have shape (K, 2, {nsite}, {nsite}), got {fields.shape}")
    if not np.all(np.isfinite(fields)):
        raise ValueError("fields must be finite")
    if edges.shape != (fields.shape[0] + 1,) or edges[0] != 0 or np.any(np.diff(edges) <= 0) \
            or not np.all(np.isfinite(edges)):
        raise ValueError(f"cell_edges must be {fields.shape[0] + 1} strictly increasing finite times from 0, "
                         f"got {cell_edges!r}")
    t_out = np.ascontiguousarray(t_out, dtype=float)
    if t_out.ndim != 1 or t_out.size < 1 or not np.all(np.isfinite(t_out)) or t_out[0] < 0 \
            or np.any(np.diff(t_out) <= 0) or t_out[-1] > edges[-1]:
        raise ValueError(f"t_out must be strictly increasing finite times in [0, {edges[-1]}], got {t_out!r}")
    reps, n = a0.shape
    eps = 1.0 / nsite
    coef = 1.0 / (beta * eps * eps)
    hb = 0.5 * beta * eps
    gmax = max(float(np.abs(tab).max()), float(np.abs(fields).max()))
    rmax = coef * np.exp(hb * gmax)
    mean_points = rmax * t_out[-1]
    cap = int(mean_points + 8 * np.sqrt(mean_points) + 16)
    if max_events is None:
        max_events = int(50 * 8 * n * mean_points) + 10**6
    shape = (reps, t_out.size, n)
    out = {key: np.zeros(shape, np.int64) for key in ("a", "c", "a_bar", "c_bar")}
    out.update(tau=np.zeros((reps, t_out.size, 4 * n)), tau_bar=np.zeros((reps, t_out.size, 4 * n)),
               count=np.zeros((reps, t_out.size, 4 * n), np.int64),
               count_bar=np.zeros((reps, t_out.size, 4 * n), np.int64))
    stats = np.zeros((reps, 5), np.int64)
    _run_batch(rng, a0, c0, b, tab, nsite, coef, hb, fields, edges, t_out, out["a"], out["c"], out["a_bar"],
               out["c_bar"], out["tau"], out["tau_bar"], out["count"], out["count_bar"], stats, cap, int(max_events))
    if stats[:, 4].any():
        raise RuntimeError(f"a replica reached max_events={max_events} before t={t_out[-1]}")
    out["stats"] = stats[:, :4]
    return out
