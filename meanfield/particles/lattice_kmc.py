"""Kinetic Monte Carlo of signed interacting random walks on the periodic square lattice.

Model 003 (Hudson–van Meurs–Peletier), process (RW_n^ε), eq. (8) of the paper: ``n`` walkers with
fixed signs ``b_i = ±1`` on ``Λ_ε = εZ²/Z²`` (``N = 1/ε`` sites per axis). Walker ``i`` jumps to
``ℓ_i + s ε e_m`` (``s = ±1``, ``m = 1, 2``) at rate

    R_{i,m,s} = exp(½ β s ε F_{i,m}) / (β ε²),     F_i = -(b_i/n) Σ_{j≠i} b_j ∇V_δ(ℓ_i - ℓ_j)   (6)–(8).

Every pair difference is a lattice vector, so ``∇V_δ`` is needed only on the ``N × N`` lattice: the
table ``G[a, c] = ∇V_δ(aε, cε)`` makes force look-ups exact (no interpolation). ``V_δ`` is even, so
``G[0, 0] = 0`` (the engine sets it so) and the ``j = i`` term vanishes. The engine stores the table
unrolled over differences in ``[-N, N)²`` with both components side by side (:func:`pair_table`), so
a pair's look-up is one subtraction of packed positions, with no reduction mod N in the loops.

Two exact event simulations, compiled with numba (``nogil``, so replicas run on threads):

* ``"thinning"`` (uniformisation, the default): candidate events at the constant rate
  ``Λ* = 4n R_max``, ``R_max = exp(½ β ε G_b) / (β ε²)``, where ``G_b = (n-1)/n · max_{a,c,m} |G_m|``
  bounds every ``|F_{i,m}|``. A candidate picks ``(i, m, s)`` uniformly and a uniform ``u`` and is
  accepted iff ``u < p = R_{i,m,s} / R_max = exp(½ β ε (s F_{i,m} - G_b))``; the accepted candidates
  are exactly the jump process with rates (8) (Poisson thinning).

  The force is needed only to tell on which side of ``u`` the value ``p`` falls, and
  ``p ≥ p_min = exp(-β ε G_b)`` whatever the configuration. A candidate with ``u < p_min`` is
  therefore accepted at once (O(1), no walker data read), and only the others sum ``F_i`` exactly
  over the table (O(n)) and compare: every decision is the one the exact force gives, with the same
  random numbers, so the run with ``lazy=False`` (the exact force at every candidate) is identical
  bit for bit (``p_min`` carries a margin for the round-off of the sum). The O(n) sums run for a
  fraction ``1 - p_min ≈ β ε G_b`` of the candidates, small since Assumption 2 keeps ``βε/δ``
  bounded and ``G_b = O(1/δ)``; no field is updated per jump, so the cost per jump is
  O(1 + β ε G_b n). The rejected fraction is at most ``1 - exp(-β ε G_b)`` as well.
* ``"direct"`` (Gillespie's direct method): the total rate ``Λ = Σ_i r_i``,
  ``r_i = (2/(βε²)) (cosh(½βεF_{i,1}) + cosh(½βεF_{i,2}))``, a time step ``Exp(Λ)``, and the jumping
  walker drawn from a sum tree over the ``r_i`` (O(log n)), then its direction from its four rates.
  Every jump changes every force, so the fields ``S_i = Σ_j b_j G(ℓ_i - ℓ_j)`` (``F_i = -(b_i/n) S_i``)
  are updated by ``S_i += b_k [G(ℓ_i - ℓ_k^new) - G(ℓ_i - ℓ_k^old)]`` and the tree rebuilt bottom-up,
  O(n) per jump; the fields are re-summed from scratch (O(n²)) at every output time, so round-off
  cannot accumulate across outputs. This is the independent cross-check of thinning, not the fast
  path.

Randomness: a ``numpy.random.Generator`` is passed into the compiled code (numba's Generator
support), so the same seed gives the same run bit for bit. The uniform candidate index in
``[0, 4n)`` is taken from the 53 random bits of one ``Generator.random()`` by exact rejection
(``k = 2⁵³ u`` is a uniform integer; values ``k`` past the last full multiple of ``4n`` are drawn
again), which is exact and several times cheaper than numba's ``Generator.integers``.
Positions are kept *unwrapped* (integer lattice coordinates in Z², not reduced mod N) so that
displacements can be measured; forces use them mod N.

Optionally the integral ``∫_0^{t_end} Λ(X_s) ds`` of the total jump rate along the path is
accumulated (the compensator of the jump count): ``E[#jumps] = E ∫ Λ ds`` exactly, a check of the
event rate that the tests use. For thinning it is computed from fields updated eagerly on the side
(O(n) per jump, the diagnostic only); the decisions stay lazy and the random stream is unchanged.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["fields", "force_tables", "pair_table", "replica_blocks", "run_kmc", "run_replicas", "total_rate"]

THINNING, DIRECT = 0, 1
METHODS = {"thinning": THINNING, "direct": DIRECT}
MAX_TABLE_BYTES = 2**32  # the unrolled force table (64 N² bytes): N ≤ 8192
_TWO53 = 9007199254740992.0  # 2**53: Generator.random() returns k / 2**53, k uniform in [0, 2**53)


def force_tables(grad_hat, n_sites):
    """``(G_1, G_2)``, each ``(N, N)``: ``∇V_δ`` at the lattice points ``(a, c) ε`` from the rfft-layout
    Fourier coefficients of the sampled gradient (``Dislocations2D.grad_potential_hat``)."""
    n = int(n_sites)
    return np.stack([np.fft.irfftn(g * n * n, (n, n), axes=(0, 1)) for g in grad_hat]).astype(float)


def pair_table(tables):
    """The look-up table of ``∇V_δ`` at every lattice difference, unrolled so that no coordinate is
    reduced mod N in the force loops: for ``-N ≤ d_1, d_2 < N``,
    ``T[2 (d_1 + N) 2N + 2 (d_2 + N) + m] = G_m[d_1 mod N, d_2 mod N]`` (flat, both components of one
    difference side by side), with ``G_m[0, 0] = 0`` (``∇V_δ(0) = 0`` for the even ``V_δ``). A walker
    at ``(a, c)`` (reduced mod N) has the packed position ``p = 2N a + c``; the pair ``(i, j)`` reads
    ``T[2 (p_i - p_j + off)]``, ``off = 2N² + N``. Size ``64 N²`` bytes (refused above ``MAX_TABLE_BYTES``)."""
    gx, gy = (np.asarray(t, dtype=float) for t in tables)
    if gx.ndim != 2 or gx.shape[0] != gx.shape[1] or gy.shape != gx.shape or gx.shape[0] < 1:
        raise ValueError(f"tables must be two (N, N) arrays, got shapes {gx.shape} and {gy.shape}")
    nsite = gx.shape[0]
    if 64 * nsite**2 > MAX_TABLE_BYTES:
        raise ValueError(f"tables of N = {nsite} sites per axis need a look-up table of {64 * nsite**2} bytes "
                         f"({64 * nsite**2 / 2**30:.2f} GiB; at most MAX_TABLE_BYTES = {MAX_TABLE_BYTES})")
    if not (np.isfinite(gx).all() and np.isfinite(gy).all()):
        raise ValueError("tables must be finite")
    g = np.stack([gx, gy], axis=-1)
    g[0, 0] = 0.0
    d = np.arange(-nsite, nsite) % nsite
    return np.ascontiguousarray(g[d[:, None], d[None, :]]).ravel()


def walker_inputs(beta, tables, a0, c0, b):
    """Checked inputs of a walker engine: ``(pair table, sites per axis, a0, c0, b)`` with the lattice
    coordinates as int64 and the charges as float, shapes ``(R, n)``."""
    if not (np.isfinite(beta) and beta > 0):
        raise ValueError(f"beta must be positive and finite, got {beta!r}")
    tab = pair_table(tables)
    nsite = np.asarray(tables[0]).shape[0]
    a0 = np.ascontiguousarray(a0, dtype=np.int64)
    c0 = np.ascontiguousarray(c0, dtype=np.int64)
    b = np.ascontiguousarray(b, dtype=float)
    if a0.ndim != 2 or c0.shape != a0.shape or b.shape != a0.shape or a0.shape[1] < 1:
        raise ValueError(f"a0, c0, b must share one shape (R, n) with n >= 1, got {a0.shape}, {c0.shape}, {b.shape}")
    return tab, nsite, a0, c0, b


@njit(cache=True, nogil=True)
def _field(i, pw, b, tab, off):
    """``S_i = Σ_j b_j G(ℓ_i - ℓ_j)`` (O(n); ``pw`` packed positions, see :func:`pair_table`; the
    ``j = i`` term is ``b_i G(0) = 0``). Two partial sums per component (even and odd ``j``)."""
    pi = pw[i] + off
    n = pw.size
    x0 = 0.0
    y0 = 0.0
    x1 = 0.0
    y1 = 0.0
    for j in range(0, n - 1, 2):
        k0 = 2 * (pi - pw[j])
        k1 = 2 * (pi - pw[j + 1])
        x0 += b[j] * tab[k0]
        y0 += b[j] * tab[k0 + 1]
        x1 += b[j + 1] * tab[k1]
        y1 += b[j + 1] * tab[k1 + 1]
    if n % 2 == 1:
        k0 = 2 * (pi - pw[n - 1])
        x0 += b[n - 1] * tab[k0]
        y0 += b[n - 1] * tab[k0 + 1]
    return x0 + x1, y0 + y1


@njit(cache=True, nogil=True)
def _full_fields(pw, b, tab, off, sx, sy):
    """All fields ``S_i``, O(n²)."""
    for i in range(pw.size):
        sx[i], sy[i] = _field(i, pw, b, tab, off)


@njit(cache=True, nogil=True)
def _after_jump(k, p_old, pw, b, tab, off, sx, sy):
    """Update the fields after walker ``k`` moved from the packed position ``p_old`` to ``pw[k]``:
    O(n). ``S_k`` is summed afresh (``G`` is odd: ``G(ℓ_k - ℓ_i) = -G(ℓ_i - ℓ_k)``)."""
    bk = b[k]
    new = off - pw[k]
    old = off - p_old
    fx = 0.0
    fy = 0.0
    for i in range(pw.size):
        kn = 2 * (pw[i] + new)
        ko = 2 * (pw[i] + old)
        gnx = tab[kn]
        gny = tab[kn + 1]
        sx[i] += bk * (gnx - tab[ko])
        sy[i] += bk * (gny - tab[ko + 1])
        fx -= b[i] * gnx
        fy -= b[i] * gny
    sx[k] = fx
    sy[k] = fy


@njit(cache=True, nogil=True)
def _particle_rate(i, b, sx, sy, coef, hb, inv_n):
    """``r_i``: walker i's total jump rate (sum of its four rates (8)), ``cosh x = (eˣ + e⁻ˣ)/2``."""
    ex = np.exp(-hb * b[i] * inv_n * sx[i])
    ey = np.exp(-hb * b[i] * inv_n * sy[i])
    return coef * (ex + 1.0 / ex + ey + 1.0 / ey)


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
def _uniform_index(g, m, limit):
    """Uniform integer in ``[0, m)``: ``k = 2⁵³ U`` from one ``g.random()`` (exactly uniform on
    ``[0, 2⁵³)``), kept if ``k < limit`` (``limit`` the largest multiple of ``m`` ≤ 2⁵³) and reduced
    mod m. A value is redrawn with probability ``< m / 2⁵³``; after 64 redraws (never in practice)
    the last one is used."""
    k = np.int64(g.random() * _TWO53)
    for _ in range(64):
        if k < limit:
            break
        k = np.int64(g.random() * _TWO53)
    return k % m


@njit(cache=True, nogil=True)
def _move(i, ch, a, c, aw, cw, pw, nsite):
    """Walker ``i`` steps in direction ``ch`` (0: +e_1, 1: -e_1, 2: +e_2, 3: -e_2); ``aw, cw`` reduced
    mod N, ``pw = 2N aw + cw``."""
    if ch == 0:
        a[i] += 1
        aw[i] = 0 if aw[i] == nsite - 1 else aw[i] + 1
    elif ch == 1:
        a[i] -= 1
        aw[i] = nsite - 1 if aw[i] == 0 else aw[i] - 1
    elif ch == 2:
        c[i] += 1
        cw[i] = 0 if cw[i] == nsite - 1 else cw[i] + 1
    else:
        c[i] -= 1
        cw[i] = nsite - 1 if cw[i] == 0 else cw[i] - 1
    pw[i] = 2 * nsite * aw[i] + cw[i]


@njit(cache=True, nogil=True)
def _record(k_out, a, c, out_a, out_c):
    for i in range(a.size):
        out_a[k_out, i] = a[i]
        out_c[k_out, i] = c[i]


@njit(cache=True, nogil=True)
def _reduced(a, c, nsite):
    """``(aw, cw, pw)``: coordinates reduced mod N and the packed positions ``2N aw + cw``."""
    n = a.size
    aw = np.empty(n, np.int64)
    cw = np.empty(n, np.int64)
    pw = np.empty(n, np.int64)
    for i in range(n):
        aw[i] = a[i] % nsite
        cw[i] = c[i] % nsite
        pw[i] = 2 * nsite * aw[i] + cw[i]
    return aw, cw, pw


@njit(cache=True, nogil=True)
def _run_thinning(g, a, c, b, tab, nsite, coef, hb, t_out, out_a, out_c, lazy, track, stats):
    """One replica by thinning, summing a force only when the candidate's ``u`` reaches the smallest
    possible acceptance probability (module docstring). ``a, c`` (unwrapped integer coordinates) are
    advanced in place; the state at ``t_out[k]`` goes to ``out_a[k], out_c[k]``.
    ``stats = (jumps, candidates, ∫Λ ds or 0, O(n) force sums)``."""
    n = a.size
    inv_n = 1.0 / n
    off = 2 * nsite * nsite + nsite
    aw, cw, pw = _reduced(a, c, nsite)
    gabs = np.abs(tab).max()
    gb = (n - 1) * inv_n * gabs  # ≥ |F_{i,m}|
    # p ≥ p_min for every candidate; the margin covers the round-off of a sum of n terms ≤ gabs
    p_min = np.exp(-hb * (2.0 * gb + (4.0 * (n + 2) / _TWO53 + 1e-13) * gabs))
    lam_star = 4.0 * n * coef * np.exp(hb * gb)
    m4 = 4 * n
    limit = np.int64(_TWO53 // m4) * m4
    # eager fields, for the integrated rate only
    sx = np.zeros(n)
    sy = np.zeros(n)
    lam = 0.0
    if track:
        _full_fields(pw, b, tab, off, sx, sy)
        lam = _total_rate(b, sx, sy, coef, hb, inv_n)
    n_out = t_out.size
    t_end = t_out[n_out - 1]
    k_out = 0
    t = 0.0
    jumps = 0
    candidates = 0
    sums = 0
    integral = 0.0
    while True:
        t_next = t + g.standard_exponential() / lam_star
        while k_out < n_out and t_out[k_out] < t_next:
            _record(k_out, a, c, out_a, out_c)
            k_out += 1
            if track and k_out < n_out:
                _full_fields(pw, b, tab, off, sx, sy)  # no round-off drift across outputs
                lam = _total_rate(b, sx, sy, coef, hb, inv_n)
        if track:
            integral += lam * (min(t_next, t_end) - t)
        if k_out == n_out:
            break
        t = t_next
        candidates += 1
        k = _uniform_index(g, m4, limit)
        i = k >> 2
        ch = k & 3
        u = g.random()
        if u >= p_min or not lazy:
            qx, qy = _field(i, pw, b, tab, off)
            sums += 1
            f = -b[i] * inv_n * (qx if ch < 2 else qy)
            if ch & 1:
                f = -f
            if u >= np.exp(hb * (f - gb)):
                continue  # rejected candidate: the state is unchanged
        p_old = pw[i]
        _move(i, ch, a, c, aw, cw, pw, nsite)
        jumps += 1
        if track:
            _after_jump(i, p_old, pw, b, tab, off, sx, sy)
            lam = _total_rate(b, sx, sy, coef, hb, inv_n)
    stats[0] = jumps
    stats[1] = candidates
    stats[2] = integral
    stats[3] = sums


@njit(cache=True, nogil=True)
def _run_direct(g, a, c, b, tab, nsite, coef, hb, t_out, out_a, out_c, track, stats):
    """One replica by Gillespie's direct method with a sum tree (module docstring); arguments and
    ``stats`` as :func:`_run_thinning` (``stats[3]`` counts the O(n) passes, one per jump)."""
    n = a.size
    inv_n = 1.0 / n
    off = 2 * nsite * nsite + nsite
    aw, cw, pw = _reduced(a, c, nsite)
    sx = np.zeros(n)
    sy = np.zeros(n)
    _full_fields(pw, b, tab, off, sx, sy)
    size = 1
    while size < n:
        size *= 2
    tree = np.zeros(2 * size)
    _build_tree(tree, size, b, sx, sy, coef, hb, inv_n)
    n_out = t_out.size
    t_end = t_out[n_out - 1]
    k_out = 0
    t = 0.0
    jumps = 0
    integral = 0.0
    while True:
        lam = tree[1]
        t_next = t + g.standard_exponential() / lam
        while k_out < n_out and t_out[k_out] < t_next:
            _record(k_out, a, c, out_a, out_c)
            k_out += 1
            if k_out < n_out:
                _full_fields(pw, b, tab, off, sx, sy)  # no round-off drift across outputs
                _build_tree(tree, size, b, sx, sy, coef, hb, inv_n)
        if track:
            integral += lam * (min(t_next, t_end) - t)
        if k_out == n_out:
            break
        t = t_next
        i = min(_tree_pick(tree, size, g.random() * tree[1]), n - 1)
        w0 = np.exp(-hb * b[i] * inv_n * sx[i])
        w1 = 1.0 / w0
        w2 = np.exp(-hb * b[i] * inv_n * sy[i])
        w3 = 1.0 / w2
        u = g.random() * (w0 + w1 + w2 + w3)
        if u < w0:
            ch = 0
        elif u < w0 + w1:
            ch = 1
        elif u < w0 + w1 + w2:
            ch = 2
        else:
            ch = 3
        p_old = pw[i]
        _move(i, ch, a, c, aw, cw, pw, nsite)
        _after_jump(i, p_old, pw, b, tab, off, sx, sy)
        _build_tree(tree, size, b, sx, sy, coef, hb, inv_n)
        jumps += 1
    stats[0] = jumps
    stats[1] = jumps
    stats[2] = integral
    stats[3] = jumps


@njit(cache=True, nogil=True)
def _run_batch(g, a0, c0, b, tab, nsite, coef, hb, t_out, out_a, out_c, stats, method, lazy, track):
    """Replicas ``r = 0..R-1`` one after the other with one generator (a0, c0, b of shape (R, n))."""
    for r in range(a0.shape[0]):
        a = a0[r].copy()
        c = c0[r].copy()
        if method == THINNING:
            _run_thinning(g, a, c, b[r], tab, nsite, coef, hb, t_out, out_a[r], out_c[r], lazy, track, stats[r])
        else:
            _run_direct(g, a, c, b[r], tab, nsite, coef, hb, t_out, out_a[r], out_c[r], track, stats[r])


def run_kmc(a0, c0, b, tables, beta, t_out, rng, method="thinning", track_rate=False, lazy=True):
    """Run ``R`` independent replicas of (RW_n^ε) (module docstring).

    Parameters
    ----------
    a0, c0 : integer array, shape ``(R, n)``
        Lattice coordinates (any integers; reduced mod N for the forces).
    b : array, shape ``(R, n)``
        Signs ±1.
    tables : ``(G_1, G_2)``
        From :func:`force_tables`, each ``(N, N)``.
    beta : float
        Inverse temperature β of (8).
    t_out : increasing array of output times ``≥ 0``.
    rng : numpy.random.Generator
    method : ``"thinning"`` or ``"direct"``
    track_rate : bool
        Also accumulate ``∫_0^{t_end} Λ ds`` (O(n) extra work per jump).
    lazy : bool
        Thinning only: accept a candidate without summing its force when ``u`` lies below the
        smallest acceptance probability (True), or sum the exact force at every candidate (False;
        the reference: the same decisions and random numbers, so identical results).

    Returns
    -------
    a, c : int arrays, shape ``(R, len(t_out), n)``
        Unwrapped coordinates at the output times.
    stats : array, shape ``(R, 4)``
        ``(jumps, candidate events, ∫_0^{t_end} Λ ds or 0, O(n) force sums or passes)``.
    """
    if method not in METHODS:
        raise ValueError(f"kmc method must be one of {tuple(METHODS)}, got {method!r}")
    tab, nsite, a0, c0, b = walker_inputs(beta, tables, a0, c0, b)
    t_out = np.ascontiguousarray(t_out, dtype=float)
    if t_out.ndim != 1 or t_out.size < 1 or not np.all(np.isfinite(t_out)) or t_out[0] < 0 \
            or np.any(np.diff(t_out) < 0):
        raise ValueError(f"t_out must be a non-empty non-decreasing array of finite times >= 0, got {t_out!r}")
    reps, n = a0.shape
    eps = 1.0 / nsite
    coef = 1.0 / (beta * eps * eps)
    hb = 0.5 * beta * eps
    out_a = np.zeros((reps, t_out.size, n), np.int64)
    out_c = np.zeros((reps, t_out.size, n), np.int64)
    stats = np.zeros((reps, 4))
    _run_batch(rng, a0, c0, b, tab, nsite, coef, hb, t_out, out_a, out_c, stats, METHODS[method], bool(lazy),
               bool(track_rate))
    return out_a, out_c, stats


def fields(a, c, b, tables):
    """``S_i = Σ_j b_j ∇V_δ(ℓ_i - ℓ_j)`` by the O(n²) sum (the compiled one), shape ``(n, 2)``."""
    tab = pair_table(tables)
    nsite = np.asarray(tables[0]).shape[0]
    _, _, pw = _reduced(np.asarray(a, dtype=np.int64).ravel(), np.asarray(c, dtype=np.int64).ravel(), nsite)
    sx, sy = np.zeros(pw.size), np.zeros(pw.size)
    _full_fields(pw, np.ascontiguousarray(b, dtype=float), tab, 2 * nsite * nsite + nsite, sx, sy)
    return np.stack([sx, sy], 1)


def total_rate(a, c, b, tables, beta):
    """``Λ = Σ_{i,j,s} R_{i,j,s}`` at a configuration (for checks)."""
    s = fields(a, c, b, tables)
    n, eps = len(b), 1.0 / tables[0].shape[0]
    force = -np.asarray(b, float)[:, None] / n * s
    return float(np.sum(2 * np.cosh(0.5 * beta * eps * force)) / (beta * eps * eps))


def replica_blocks(sizes, max_blocks):
    """Cut replicas (walker counts ``sizes``, in order) into at most ``max_blocks`` runs of consecutive
    replicas with the same count, at most ``ceil(len/max_blocks)`` each; returns ``[(start, stop)]``."""
    blocks, start = [], 0
    size = -(-len(sizes) // max_blocks)
    while start < len(sizes):
        stop = start + 1
        while stop < len(sizes) and stop - start < size and sizes[stop] == sizes[start]:
            stop += 1
        blocks.append((start, stop))
        start = stop
    return blocks


def run_replicas(positions, signs, tables, beta, t_out, rng, method="thinning", track_rate=False, workers=1,
                 max_blocks=16):
    """Independent replicas of (RW_n^ε) with different walker counts: replica ``r`` starts at the
    integer lattice coordinates ``positions[r]`` (shape ``(n_r, 2)``) with signs ``signs[r]``.

    The replicas are cut into blocks (:func:`replica_blocks`), each with its own child generator
    (``rng.spawn``) and one :func:`run_kmc` call; the blocks do not depend on ``workers`` (threads: the
    kernel releases the GIL), so neither does the result. Returns one ``(a (T, n_r), c (T, n_r),
    stats (4,))`` per replica, as :func:`run_kmc` gives them."""
    blocks = replica_blocks([s.size for s in signs], max_blocks)
    children = rng.spawn(len(blocks))

    def run(k):
        lo, hi = blocks[k]
        idx = np.stack(positions[lo:hi])
        b = np.stack(signs[lo:hi])
        return run_kmc(idx[..., 0], idx[..., 1], b, tables, beta, t_out, children[k], method, track_rate)

    if workers == 1 or len(blocks) == 1:
        results = [run(k) for k in range(len(blocks))]
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(run, range(len(blocks))))
    return [(a[r], c[r], st[r]) for a, c, st in results for r in range(a.shape[0])]
