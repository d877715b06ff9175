"""Kinetic Monte Carlo of signed interacting random walks on the periodic square lattice.

Model 003 (Hudson–van Meurs–Peletier), process (RW_n^ε), eq. (8) of the paper (notes/003.md §3.1,
§10.5): ``n`` walkers with fixed signs ``b_i = ±1`` on ``Λ_ε = εZ²/Z²`` (``N = 1/ε`` sites per
axis). Walker ``i`` jumps to ``ℓ_i + s ε e_j`` (``s = ±1``, ``j = 1, 2``) at rate

    R_{i,j,s} = exp(½ β s ε F_{i,j}) / (β ε²),     F_i = -(b_i/n) Σ_{j≠i} b_j ∇V_δ(ℓ_i - ℓ_j)   (6)–(8).

Every pair difference is a lattice vector, so ``∇V_δ`` is needed only on the ``N × N`` lattice: the
table ``G[a, c] = ∇V_δ(aε, cε)`` makes force look-ups exact (no interpolation), and ``G[0, 0] = 0``
(``V_δ`` even) makes the ``j = i`` term vanish. The code keeps the fields ``S_i = Σ_j b_j G(ℓ_i - ℓ_j)``
(``F_i = -(b_i/n) S_i``); after walker ``k`` jumps, ``S_i += b_k [G(ℓ_i - ℓ_k^new) - G(ℓ_i - ℓ_k^old)]``
for every ``i`` and ``S_k`` is summed afresh: O(n) work per jump. All fields are re-summed from
scratch (O(n²)) at every output time, so round-off cannot accumulate across outputs.

Two exact event simulations, both compiled with numba (``nogil``, so replicas run on threads):

* ``"thinning"`` (uniformisation): candidate events at the constant rate ``4n R_max`` with
  ``R_max = exp(½ β ε G_max) / (β ε²)`` and ``G_max = (n-1)/n · max_{a,c,j} |G_j[a, c]|`` ≥ every
  ``|F_{i,j}|``; a candidate picks ``(i, j, s)`` uniformly and is accepted with probability
  ``R_{i,j,s} / R_max``. Accepted candidates form exactly the jump process with rates (8)
  (Poisson thinning). A rejected candidate costs O(1); the acceptance probability is at least
  ``exp(-β ε G_max)`` (Assumption 2 keeps ``βε/δ`` bounded and ``δ G_max`` is bounded by Assumption 1).
* ``"direct"`` (Gillespie's direct method): the total rate ``Λ = Σ_i r_i``,
  ``r_i = (2/(βε²)) (cosh(½βεF_{i,1}) + cosh(½βεF_{i,2}))``, a time step ``Exp(Λ)``, and the jumping
  walker drawn from a sum tree over the ``r_i`` (O(log n)), then its direction from its four rates.
  Every jump changes every force, so the tree is rebuilt bottom-up in O(n) per jump.

Randomness: a ``numpy.random.Generator`` is passed into the compiled code (numba's Generator
support), so the same seed gives the same run bit for bit. Positions are kept *unwrapped* (integer
lattice coordinates in Z², not reduced mod N) so that displacements can be measured; forces use
them mod N.

Optionally the integral ``∫_0^{t_end} Λ(X_s) ds`` of the total jump rate along the path is
accumulated (the compensator of the jump count): ``E[#jumps] = E ∫ Λ ds`` exactly, a check of the
event rate that the tests use.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["force_tables", "run_kmc", "total_rate", "fields"]

THINNING, DIRECT = 0, 1
METHODS = {"thinning": THINNING, "direct": DIRECT}


def force_tables(grad_hat, n_sites):
    """``(G_1, G_2)``, each ``(N, N)``: ``∇V_δ`` at the lattice points ``(a, c) ε`` from the rfft-layout
    Fourier coefficients of the sampled gradient (``Dislocations2D.grad_potential_hat``)."""
    n = int(n_sites)
    return np.stack([np.fft.irfftn(g * n * n, (n, n), axes=(0, 1)) for g in grad_hat]).astype(float)


@njit(cache=True, nogil=True)
def _wrap(d, n):
    """``d mod n`` for ``-n < d < n`` (differences of coordinates already reduced mod n): no division."""
    if d < 0:
        d += n
    return d


@njit(cache=True, nogil=True)
def _full_fields(a, c, b, gx, gy, nsite, sx, sy):
    """``S_i = Σ_j b_j G(ℓ_i - ℓ_j)`` for all i, O(n²) (``a, c`` reduced mod N)."""
    n = a.size
    for i in range(n):
        fx = 0.0
        fy = 0.0
        for j in range(n):
            da = _wrap(a[i] - a[j], nsite)
            dc = _wrap(c[i] - c[j], nsite)
            fx += b[j] * gx[da, dc]
            fy += b[j] * gy[da, dc]
        sx[i] = fx
        sy[i] = fy


@njit(cache=True, nogil=True)
def _after_jump(k, old_a, old_c, a, c, b, gx, gy, nsite, sx, sy):
    """Update the fields after walker ``k`` moved from ``(old_a, old_c)`` to ``(a[k], c[k])`` (all
    coordinates reduced mod N): O(n)."""
    n = a.size
    bk = b[k]
    fx = 0.0
    fy = 0.0
    for i in range(n):
        if i == k:
            continue
        na = _wrap(a[i] - a[k], nsite)
        nc = _wrap(c[i] - c[k], nsite)
        oa = _wrap(a[i] - old_a, nsite)
        oc = _wrap(c[i] - old_c, nsite)
        sx[i] += bk * (gx[na, nc] - gx[oa, oc])
        sy[i] += bk * (gy[na, nc] - gy[oa, oc])
        # G is odd: G(ℓ_k - ℓ_i) = -G(ℓ_i - ℓ_k)
        fx -= b[i] * gx[na, nc]
        fy -= b[i] * gy[na, nc]
    sx[k] = fx
    sy[k] = fy


@njit(cache=True, nogil=True)
def _particle_rate(i, b, sx, sy, coef, hb, inv_n):
    """``r_i``: walker i's total jump rate (sum of its four rates (8))."""
    fx = -b[i] * inv_n * sx[i]
    fy = -b[i] * inv_n * sy[i]
    return coef * 2.0 * (np.cosh(hb * fx) + np.cosh(hb * fy))


@njit(cache=True, nogil=True)
def _total_rate(b, sx, sy, coef, hb, inv_n):
    tot = 0.0
    for i in range(b.size):
        tot += _particle_rate(i, b, sx, sy, coef, hb, inv_n)
    return tot


@njit(cache=True, nogil=True)
def _build_tree(tree, size, b, sx, sy, coef, hb, inv_n):
    n = b.size
    for i in range(size):
        tree[size + i] = _particle_rate(i, b, sx, sy, coef, hb, inv_n) if i < n else 0.0
    for node in range(size - 1, 0, -1):
        tree[node] = tree[2 * node] + tree[2 * node + 1]


@njit(cache=True, nogil=True)
def _tree_pick(tree, size, u):
    """Leaf index ``i`` with ``Σ_{j<i} r_j ≤ u < Σ_{j≤i} r_j`` (u in [0, tree[1]))."""
    node = 1
    while node < size:
        left = tree[2 * node]
        if u < left:
            node = 2 * node
        else:
            u -= left
            node = 2 * node + 1
    return node - size


@njit(cache=True, nogil=True)
def _run_one(g, a, c, b, gx, gy, nsite, coef, hb, inv_n, gmax, t_out, out_a, out_c, method, track):
    """One replica. ``a, c`` (unwrapped integer coordinates) are advanced in place; the state at
    ``t_out[k]`` goes to ``out_a[k], out_c[k]``. Returns ``(jumps, candidates, ∫Λ ds)``."""
    n = a.size
    sx = np.zeros(n)
    sy = np.zeros(n)
    aw = np.empty(n, np.int64)  # coordinates reduced mod N, for the table look-ups
    cw = np.empty(n, np.int64)
    for i in range(n):
        aw[i] = a[i] % nsite
        cw[i] = c[i] % nsite
    _full_fields(aw, cw, b, gx, gy, nsite, sx, sy)
    n_out = t_out.size
    t_end = t_out[n_out - 1]
    k_out = 0
    t = 0.0
    jumps = 0
    candidates = 0
    integral = 0.0
    # thinning set-up
    rmax = coef * np.exp(hb * gmax)
    lam_star = 4.0 * n * rmax
    # direct-method set-up
    size = 1
    while size < n:
        size *= 2
    tree = np.zeros(2 * size)
    lam = 0.0
    if method == DIRECT:
        _build_tree(tree, size, b, sx, sy, coef, hb, inv_n)
        lam = tree[1]
    elif track:
        lam = _total_rate(b, sx, sy, coef, hb, inv_n)
    while True:
        rate = lam if method == DIRECT else lam_star
        t_next = t + g.standard_exponential() / rate
        while k_out < n_out and t_out[k_out] < t_next:
            for i in range(n):
                out_a[k_out, i] = a[i]
                out_c[k_out, i] = c[i]
            k_out += 1
            if k_out < n_out:
                _full_fields(aw, cw, b, gx, gy, nsite, sx, sy)  # no round-off drift across outputs
                if method == DIRECT:
                    _build_tree(tree, size, b, sx, sy, coef, hb, inv_n)
                    lam = tree[1]
        if track:
            integral += lam * (min(t_next, t_end) - t)
        if k_out == n_out:
            break
        t = t_next
        candidates += 1
        if method == DIRECT:
            i = _tree_pick(tree, size, g.random() * tree[1])
            if i >= n:
                i = n - 1
            fx = -b[i] * inv_n * sx[i]
            fy = -b[i] * inv_n * sy[i]
            w0 = np.exp(hb * fx)
            w1 = np.exp(-hb * fx)
            w2 = np.exp(hb * fy)
            w3 = np.exp(-hb * fy)
            u = g.random() * (w0 + w1 + w2 + w3)
            if u < w0:
                ch = 0
            elif u < w0 + w1:
                ch = 1
            elif u < w0 + w1 + w2:
                ch = 2
            else:
                ch = 3
        else:
            i = g.integers(0, n)
            ch = g.integers(0, 4)
            if ch < 2:
                f = -b[i] * inv_n * sx[i]
            else:
                f = -b[i] * inv_n * sy[i]
            s = 1.0 if ch % 2 == 0 else -1.0
            if g.random() * rmax >= coef * np.exp(hb * s * f):
                continue  # rejected candidate: the state is unchanged
        old_a = aw[i]
        old_c = cw[i]
        if ch == 0:
            a[i] += 1
            aw[i] = 0 if old_a == nsite - 1 else old_a + 1
        elif ch == 1:
            a[i] -= 1
            aw[i] = nsite - 1 if old_a == 0 else old_a - 1
        elif ch == 2:
            c[i] += 1
            cw[i] = 0 if old_c == nsite - 1 else old_c + 1
        else:
            c[i] -= 1
            cw[i] = nsite - 1 if old_c == 0 else old_c - 1
        _after_jump(i, old_a, old_c, aw, cw, b, gx, gy, nsite, sx, sy)
        jumps += 1
        if method == DIRECT:
            _build_tree(tree, size, b, sx, sy, coef, hb, inv_n)
            lam = tree[1]
        elif track:
            lam = _total_rate(b, sx, sy, coef, hb, inv_n)
    return jumps, candidates, integral


@njit(cache=True, nogil=True)
def _run_batch(g, a0, c0, b, gx, gy, nsite, coef, hb, inv_n, gmax, t_out, out_a, out_c, stats, method, track):
    """Replicas ``r = 0..R-1`` one after the other with one generator (a0, c0, b of shape (R, n))."""
    for r in range(a0.shape[0]):
        a = a0[r].copy()
        c = c0[r].copy()
        jumps, cand, integral = _run_one(g, a, c, b[r], gx, gy, nsite, coef, hb, inv_n, gmax, t_out,
                                         out_a[r], out_c[r], method, track)
        stats[r, 0] = jumps
        stats[r, 1] = cand
        stats[r, 2] = integral


def run_kmc(a0, c0, b, tables, beta, t_out, rng, method="thinning", track_rate=False):
    """Run ``R`` independent replicas of (RW_n^ε) (module docstring).

    ``a0, c0``: integer lattice coordinates, shape ``(R, n)`` (any integers; reduced mod N for the
    forces); ``b``: signs ±1, shape ``(R, n)``; ``tables``: ``(G_1, G_2)`` from :func:`force_tables`;
    ``t_out``: increasing output times ``≥ 0``; ``rng``: ``numpy.random.Generator``.
    Returns ``(a, c, stats)`` with ``a, c`` of shape ``(R, len(t_out), n)`` (unwrapped coordinates)
    and ``stats[r] = (jumps, candidate events, ∫_0^{t_end} Λ ds or 0)``.
    """
    if method not in METHODS:
        raise ValueError(f"kmc method must be one of {tuple(METHODS)}, got {method!r}")
    gx, gy = (np.ascontiguousarray(t, dtype=float) for t in tables)
    nsite = gx.shape[0]
    a0 = np.ascontiguousarray(a0, dtype=np.int64)
    c0 = np.ascontiguousarray(c0, dtype=np.int64)
    b = np.ascontiguousarray(b, dtype=float)
    reps, n = a0.shape
    eps = 1.0 / nsite
    coef = 1.0 / (beta * eps * eps)
    hb = 0.5 * beta * eps
    gmax = (n - 1) / n * max(float(np.abs(gx).max()), float(np.abs(gy).max()))
    t_out = np.ascontiguousarray(t_out, dtype=float)
    out_a = np.zeros((reps, t_out.size, n), np.int64)
    out_c = np.zeros((reps, t_out.size, n), np.int64)
    stats = np.zeros((reps, 3))
    _run_batch(rng, a0, c0, b, gx, gy, nsite, coef, hb, 1.0 / n, gmax, t_out, out_a, out_c, stats,
               METHODS[method], bool(track_rate))
    return out_a, out_c, stats


def fields(a, c, b, tables):
    """``S_i = Σ_j b_j ∇V_δ(ℓ_i - ℓ_j)`` by the O(n²) sum (the compiled one), shape ``(n, 2)``."""
    gx, gy = (np.ascontiguousarray(t, dtype=float) for t in tables)
    a = np.ascontiguousarray(np.mod(a, gx.shape[0]), dtype=np.int64)
    c = np.ascontiguousarray(np.mod(c, gx.shape[0]), dtype=np.int64)
    sx, sy = np.zeros(a.size), np.zeros(a.size)
    _full_fields(a, c, np.asarray(b, float), gx, gy, gx.shape[0], sx, sy)
    return np.stack([sx, sy], 1)


def total_rate(a, c, b, tables, beta):
    """``Λ = Σ_{i,j,s} R_{i,j,s}`` at a configuration (for checks)."""
    s = fields(a, c, b, tables)
    n, eps = len(b), 1.0 / tables[0].shape[0]
    force = -np.asarray(b, float)[:, None] / n * s
    return float(np.sum(2 * np.cosh(0.5 * beta * eps * force)) / (beta * eps * eps))
