"""Forces of model 001 (eq. (4.1)) on the active particles: a compiled direct pair sum, and a 1-D
fast multipole method (FMM) with O(m) work for m active particles.

The right-hand side of (4.1) for active particles ``x_1 < … < x_m`` with charges ``b_i = ±1`` and
mass 1/n each is

    v_i = -(1/n) Σ_{j ≠ i} K_ij(x_i - x_j),   K_ij = V' if b_i b_j = 1, W' if b_i b_j = -1,

with V' and W' odd. Writing ``K_ij = ½(V' + W') + ½ b_i b_j (V' - W')`` splits the sum into two sums
whose kernels no longer depend on the charges — weights 1 with ``K₊ = ½(V' + W')``, and weights
``b_j`` with ``K₋ = ½(V' - W')`` (multiplied by ``b_i`` at the target):

    Σ_j K_ij(x_i - x_j) = Σ_j K₊(x_i - x_j) + b_i Σ_j b_j K₋(x_i - x_j).                        (F)

**User potentials** (:func:`callable_velocity`): the same rule ``K_ij`` with ``V'`` and ``W'`` given as
NumPy callables (:class:`meanfield.particles.annihilation_potentials1d.Potential1D`), summed over blocks
of rows of the pair matrix (O(m²) work, O(m · 2^20 / m) memory per block); no FMM.

**Direct** (:func:`active_velocity`): every pair once, ``K_ij`` applied as it is (no splitting), so
opposite charges with W ≡ 0 contribute exactly nothing however close they are. O(m²).

**FMM** (:func:`fmm_velocity`): a uniform binary tree of ``2^L`` leaves (about
:data:`FMM_LEAF_SIZE` particles each) over ``[x_1, x_m]``. Pairs in the same or adjacent leaves are
summed directly with the rule ``K_ij``: the near field holds every close pair, in particular the
opposite pairs about to annihilate, whose 1/gap would otherwise enter both sums of (F) and cancel
catastrophically. Every other pair is well separated at exactly one level (target and source boxes
of width w, centres 2w or 3w apart) and is summed through (F) with Chebyshev interpolation of degree
p - 1 on both boxes (the "black-box" FMM of Fong & Darve, *J. Comput. Phys.* 228 (2009), in one
dimension): for y in a box of centre c and half-width a, ``K(x - y) ≈ Σ_α K(x - s_α) L_α((y - c)/a)``
with Chebyshev nodes ``s_α`` and ``L_α(u) = 1/p + (2/p) Σ_{k≥1} T_k(ŝ_α) T_k(u)``. Carried as
Chebyshev moments ``Σ_j q_j T_k(u_j)`` (leaves, P2M), re-expanded exactly into the parents (M2M: a
polynomial of degree p - 1), turned into local Chebyshev coefficients by the p × p matrices
``Sᵀ K± S`` of each level and offset (M2L; cached, since the root width is rounded up to a geometric
grid 2^(k/8)), re-expanded into the children (L2L) and summed at the particles (L2P). All loops are
compiled and written so that they vectorise. Every kernel here (V = -log, the wall V, W_δ, W = -V)
is smooth away from 0, so one code serves all of them; only the M2L matrices change.

Accuracy: the nearest singularity of ``y ↦ K(x - y)`` lies 3 half-widths from a source box's
centre, so the interpolation error decays like ``ρ^-p``, ``ρ = 3 + √8 ≈ 5.83``. Measured, relative to
``(1/n) Σ_j 1/|x_i - x_j|`` (which bounds the sum of the |terms| for every kernel): 0.1–0.3 · 5.83^-p,
log-slope -1.87 per unit of p, round-off (5e-15) from p = 18 on (``tests/test_annihilation1d_forces.py``).
A run at tolerance rtol uses :func:`fmm_order` (error ≤ 3e-4 · rtol; p = 15 at rtol = 1e-8).

Cost (``benchmarks/annihilation1d_scaling.py``, CPU time, interleaved, p = 15, three runs): 0.15–0.22 ms
at m = 10^3, 0.9–1.2 ms at 10^4, 10–14 ms at 10^5; against the direct sum 0.30–0.38× at 10^3 and
0.016–0.019× at 10^4 (crossover between m = 200 and 300: :data:`FMM_CROSSOVER`); against pyfmmlib's 2-D
Laplace FMM on the real axis (both sums in one call, iprec 3 / 4, errors 5e-12 / 6e-15) 0.025–0.05×.
Re-measured on a loaded machine (load average 15–18 on 2 cores; 7 interleaved rounds, median [range]):
0.37 ms at 10^3, 1.5 ms at 10^4, 16 ms at 10^5; direct ÷ FMM 0.97 [0.83, 1.02] at m = 200, 1.55
[1.48, 1.74] at 300, 3.3 [2.9, 3.7] at 600.

Stage states of a Runge–Kutta step may be slightly out of order (an annihilating pair crossing) or
non-finite: the first give finite forces (a particle a hair outside its leaf), the second NaN, which
makes the step rejected.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numba import njit

__all__ = [
    "FMM_CROSSOVER",
    "FMM_LEAF_SIZE",
    "FMM_ORDER",
    "FORCE_METHODS",
    "V_KINDS",
    "W_KINDS",
    "active_velocity",
    "callable_velocity",
    "fmm_order",
    "fmm_velocity",
    "velocity",
]

V_KINDS = ("log", "wall")
W_KINDS = ("none", "regularised", "-V")
FORCE_METHODS = ("auto", "direct", "fmm")

FMM_ORDER = 20  # default Chebyshev order of fmm_velocity: round-off accuracy (module docstring)
FMM_LEAF_SIZE = 32  # mean particles per leaf: balances the near field against the tree (scaling benchmark)
# active particles from which "auto" uses the FMM: direct/FMM time 0.97 at 200, 1.55 at 300 (module docstring);
# kept at 300 so that runs below it are the direct engine bit for bit
FMM_CROSSOVER = 300


@njit(cache=True)
def _offset(o):
    """The M2L partners of a box, in box widths: -3, -2, 2, 3 for o = 0…3 (the children of the parent's
    neighbours that are not adjacent). A function, not a global array (numba would unpickle it per call)."""
    return o - 3 if o < 2 else o


@njit(cache=True, error_model="numpy")
def _dv(kind, r):
    """V'(r): kind 0 → V = -log|r| (V' = -1/r); kind 1 → wall V = r coth r - log|2 sinh r|
    (V' = -r / sinh² r)."""
    if kind == 0:
        return -1.0 / r
    if abs(r) > 350.0:  # sinh overflows; V' ~ -4 r e^{-2|r|} underflows to 0
        return 0.0
    s = np.sinh(r)
    return -r / (s * s)


@njit(cache=True, error_model="numpy")
def _dw(kind, vkind, r, delta):
    """W'(r): 0 → W ≡ 0; 1 → W_δ = ½ log(r² + δ²) (W' = r/(r² + δ²)); 2 → W = -V (W' = -V')."""
    if kind == 0:
        return 0.0
    if kind == 1:
        return r / (r * r + delta * delta)
    return -_dv(vkind, r)


@njit(cache=True, error_model="numpy")
def active_velocity(x: np.ndarray, b: np.ndarray, n_total: int, vkind: int, wkind: int, delta: float) -> np.ndarray:
    """Right-hand side of (4.1) by the direct sum (compiled).

    Each pair is visited once, ``f = V'(x_i - x_j)`` (or W') enters ẋ_i with ``-f/n`` and ẋ_j with ``+f/n``
    (V', W' odd). O(m²) work.

    Parameters
    ----------
    x : numpy.ndarray
        Positions of the m active particles (float64).
    b : numpy.ndarray
        Their charges ±1 (int64).
    n_total : int
        n: each particle has mass 1/n.
    vkind : int
        Index of V in :data:`V_KINDS` (0 "log", 1 "wall").
    wkind : int
        Index of W in :data:`W_KINDS` (0 "none", 1 "regularised", 2 "-V").
    delta : float
        δ of W_δ.

    Returns
    -------
    numpy.ndarray
        The m velocities.

    References
    ----------
    :cite:`vanMeursMorandotti2019`, eq. (4.1); theory page ``docs/theory/001-annihilation.md``.

    Examples
    --------
    >>> import numpy as np
    >>> x, b = np.array([-1.0, -0.5, 0.5, 1.0]), np.array([1, 1, -1, -1])
    >>> active_velocity(x, b, 4, 0, 1, 0.3)
    array([-0.2174942 ,  0.88961421, -0.88961421,  0.2174942 ])
    """
    m = x.size
    out = np.zeros(m)
    for i in range(m):
        xi = x[i]
        bi = b[i]
        acc = 0.0
        for j in range(i + 1, m):
            r = xi - x[j]
            if bi == b[j]:
                f = _dv(vkind, r)
            elif wkind == 0:
                continue
            else:
                f = _dw(wkind, vkind, r, delta)
            acc -= f
            out[j] += f
        out[i] += acc
    for i in range(m):
        out[i] /= n_total
    return out


@njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def _near(x, b, lo, mid, hi, vkind, wkind, delta, out):
    """Pairs (i, j) with i in [lo, mid) and i < j < hi by the rule K_ij, as :func:`active_velocity`, but
    written as a select (both kernels evaluated, the pair's one kept) so that the inner loop vectorises."""
    for i in range(lo, mid):
        xi = x[i]
        bi = b[i]
        acc = 0.0
        for j in range(i + 1, hi):
            jj = np.uint64(j)  # an unsigned index: no negative-index wrap, so the loop vectorises
            r = xi - x[jj]
            fv = _dv(vkind, r)
            fw = _dw(wkind, vkind, r, delta)
            f = fv if bi == b[jj] else fw
            acc -= f
            out[jj] += f
        out[i] += acc


def _chebyshev_operators(p):
    """Nodes ``ŝ_α = cos((2α + 1)π / 2p)``; ``S[α, k] = w_k T_k(ŝ_α)`` (w_0 = 1/p, w_k = 2/p), so that the
    Lagrange polynomials are ``L_α(u) = Σ_k S[α, k] T_k(u)``; and the exact re-expansions of a child's
    Chebyshev series in its parent's coordinates, ``T_k(σ/2 + u/2) = Σ_l C[σ][k, l] T_l(u)`` (σ = -1 left,
    +1 right child; exact for degree ≤ p - 1)."""
    theta = (2 * np.arange(p) + 1) * np.pi / (2 * p)
    nodes = np.cos(theta)
    k = np.arange(p)
    S = np.where(k == 0, 1.0 / p, 2.0 / p)[None, :] * np.cos(np.outer(theta, k))
    shift = np.empty((2, p, p))
    for side, sigma in enumerate((-1.0, 1.0)):
        T = np.cos(np.outer(k, np.arccos(sigma / 2 + nodes / 2)))  # T_k at the child's nodes, parent coordinates
        shift[side] = T @ S  # interpolate T_k(σ/2 + u/2) in u at the nodes: exact (degree p - 1)
    return nodes, S, shift


@njit(cache=True, error_model="numpy")
def _kernel_samples(nodes, widths, vkind, wkind, delta):
    """``K±(-off·w + (w/2)(ŝ_α - ŝ_β))`` for every level width w and offset :func:`_offset`: the
    kernels (F) between the nodes of a target box and of its interaction-list partner."""
    p = nodes.size
    out = np.empty((widths.size, 4, 2, p, p))
    for lev in range(widths.size):
        w = widths[lev]
        for o in range(4):
            for a in range(p):
                for q in range(p):
                    r = -_offset(o) * w + 0.5 * w * (nodes[a] - nodes[q])
                    v = _dv(vkind, r)
                    u = _dw(wkind, vkind, r, delta)
                    out[lev, o, 0, a, q] = 0.5 * (v + u)
                    out[lev, o, 1, a, q] = 0.5 * (v - u)
    return out


_CACHE: dict = {}
_CACHE_SIZE = 16


def _operators(p, levels, width_key, vkind, wkind, delta):
    """``(shift, shiftᵀ, M2Lᵀ)``: the child → parent re-expansions and the M2L matrices ``Sᵀ K± S``
    (moments → local Chebyshev coefficients, stored transposed) of every level for a root of width
    ``2^(width_key / 8)``. Cached: the root width is rounded up to that geometric grid, so it changes
    only as the particles spread."""
    key = (p, levels, width_key, vkind, wkind, float(delta))
    hit = _CACHE.get(key)
    if hit is None:
        nodes, S, shift = _chebyshev_operators(p)
        widths = 2.0 ** (width_key / 8) / 2.0 ** np.arange(levels + 1)
        m2l = S.T @ _kernel_samples(nodes, widths, vkind, wkind, delta) @ S
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        hit = _CACHE[key] = tuple(np.ascontiguousarray(a) for a in (shift, np.swapaxes(shift, -1, -2),
                                                                     np.swapaxes(m2l, -1, -2)))
    return hit


@njit(cache=True, error_model="numpy")
def _gemv_t(mat_t, vec, out):
    """``out += mat_t.T @ vec`` as rows of axpy (contiguous, vectorised inner loop)."""
    p = vec.size
    for q in range(p):
        v = vec[q]
        for a in range(p):
            out[a] += mat_t[q, a] * v


@njit(cache=True, error_model="numpy")
def _leaves(x, levels, width):
    """Particle ranges ``start[k]:start[k + 1]`` of the ``2^L`` leaves of width ``width / 2^L`` from
    ``x[0]`` (x sorted, so the leaf index is non-decreasing), and the particle count of every box
    (heap order: box k of level l at ``2^l - 1 + k``)."""
    m = x.size
    nleaf = 1 << levels
    wl = width / nleaf
    start = np.zeros(nleaf + 1, np.int64)
    for i in range(m):
        k = (x[i] - x[0]) / wl  # ≥ 0 unless a stage state is slightly out of order (then: leaf 0)
        start[min(int(k), nleaf - 1) + 1 if k >= 0 else 1] += 1
    for k in range(nleaf):
        start[k + 1] += start[k]
    count = np.zeros(2 * nleaf - 1, np.int64)
    for lev in range(levels + 1):
        for k in range(1 << lev):
            count[(1 << lev) - 1 + k] = start[(k + 1) << (levels - lev)] - start[k << (levels - lev)]
    return start, count


@njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def _leaf_chebyshev(x, b, start, width, series, evaluate, out):
    """One sweep over the leaves with the Chebyshev recurrence ``T_q(u_i)`` (u the position in leaf
    coordinates) run over all the particles of a leaf at once (vectorised; |T_q| ≤ 1 in the leaf, so
    the forward recurrence is stable).

    ``evaluate=False`` (P2M): ``series[leaf, ch, q] = Σ_i w_i T_q(u_i)`` with weights w = 1 (ch 0) and
    w = b (ch 1). ``evaluate=True`` (L2P): ``out_i = -(u₊(x_i) + b_i u₋(x_i))`` with the local series
    ``u± = Σ_q series[leaf, 0 or 1, q] T_q``."""
    nleaf = start.size - 1
    p = series.shape[2]
    wl = width / nleaf
    cap = 0
    for k in range(nleaf):
        cap = max(cap, start[k + 1] - start[k])
    t0 = np.empty(cap)
    t1 = np.empty(cap)
    u2 = np.empty(cap)
    bq = np.empty(cap)
    gp = np.zeros(cap)
    gm = np.zeros(cap)
    for k in range(nleaf):
        lo, c = start[k], start[k + 1] - start[k]
        if c == 0:
            continue
        sk = series[nleaf - 1 + k]
        centre = x[0] + (k + 0.5) * wl
        for i in range(c):
            t0[i] = 1.0
            t1[i] = (x[lo + i] - centre) / (0.5 * wl)
            u2[i] = 2.0 * t1[i]
            bq[i] = b[lo + i]
        if evaluate:
            for i in range(c):
                gp[i] = sk[0, 0] + sk[0, 1] * t1[i]
                gm[i] = sk[1, 0] + sk[1, 1] * t1[i]
        else:
            s0 = s1 = s2 = 0.0
            for i in range(c):
                s0 += bq[i]
                s1 += t1[i]
                s2 += bq[i] * t1[i]
            sk[0, 0], sk[1, 0], sk[0, 1], sk[1, 1] = c, s0, s1, s2
        for q in range(2, p):
            if evaluate:
                a, z = sk[0, q], sk[1, q]
                for i in range(c):
                    t = u2[i] * t1[i] - t0[i]
                    t0[i] = t1[i]
                    t1[i] = t
                    gp[i] += a * t
                    gm[i] += z * t
            else:
                s0 = s1 = 0.0
                for i in range(c):
                    t = u2[i] * t1[i] - t0[i]
                    t0[i] = t1[i]
                    t1[i] = t
                    s0 += t
                    s1 += bq[i] * t
                sk[0, q], sk[1, q] = s0, s1
        if evaluate:
            for i in range(c):
                out[lo + i] = -(gp[i] + bq[i] * gm[i])


@njit(cache=True, error_model="numpy")
def _shift_level(lev, count, mats_t, arr, up):
    """Re-expansions between level ``lev`` and its children: ``up`` (M2M) adds ``C_σ`` times each child's
    moments to its parent's, else (L2L) ``C_σᵀ`` times the parent's local series to each child's
    (``mats_t`` holds the transposes of what is applied)."""
    base, cbase = (1 << lev) - 1, (1 << (lev + 1)) - 1
    for k in range(1 << lev):
        for side in range(2):
            child = cbase + 2 * k + side
            if count[child] > 0:
                for ch in range(2):
                    if up:
                        _gemv_t(mats_t[side], arr[child, ch], arr[base + k, ch])
                    else:
                        _gemv_t(mats_t[side], arr[base + k, ch], arr[child, ch])


@njit(cache=True, error_model="numpy")
def _tree(levels, count, shift, shift_t, m2l_t, mom, loc):
    """Upward pass (M2M), interaction lists (M2L: offsets ±2 always, +3 from even and -3 from odd
    boxes, the children of the parent's neighbours that are not adjacent) and downward pass (L2L)."""
    for lev in range(levels - 1, 1, -1):
        _shift_level(lev, count, shift_t, mom, True)
    for lev in range(2, levels + 1):
        base, nb = (1 << lev) - 1, 1 << lev
        for k in range(nb):
            if count[base + k] == 0:
                continue
            for o in range(4):
                s = k + _offset(o)
                if 0 <= s < nb and abs((s >> 1) - (k >> 1)) == 1 and count[base + s] > 0:
                    for ch in range(2):
                        _gemv_t(m2l_t[lev, o, ch], mom[base + s, ch], loc[base + k, ch])
    for lev in range(2, levels):
        _shift_level(lev, count, shift, loc, False)


@njit(cache=True, error_model="numpy")
def _fmm(x, b, n_total, vkind, wkind, delta, levels, width, shift, shift_t, m2l_t):
    start, count = _leaves(x, levels, width)
    p = shift.shape[1]
    mom = np.zeros((count.size, 2, p))  # Chebyshev moments, channels q = 1 and q = b
    loc = np.zeros((count.size, 2, p))  # local Chebyshev coefficients of the far field, channels K₊ and K₋
    out = np.zeros(x.size)
    _leaf_chebyshev(x, b, start, width, mom, False, out)  # P2M
    _tree(levels, count, shift, shift_t, m2l_t, mom, loc)
    _leaf_chebyshev(x, b, start, width, loc, True, out)  # L2P
    nleaf = start.size - 1
    for k in range(nleaf):  # near field: pairs within each leaf and with the next one, by the rule K_ij
        _near(x, b, start[k], start[k + 1], start[min(k + 2, nleaf)], vkind, wkind, delta, out)
    out /= n_total
    return out


def fmm_levels(m: int, leaf_size: int = FMM_LEAF_SIZE) -> int:
    """Tree depth L for m particles: ``2^L`` the power of 2 nearest to ``m / leaf_size``, at least 2.

    Parameters
    ----------
    m : int
        The number of particles.
    leaf_size : int, optional
        The mean number of particles per leaf.

    Returns
    -------
    int
        L.

    Examples
    --------
    >>> fmm_levels(1000), fmm_levels(10)
    (5, 2)
    """
    return max(2, round(math.log2(max(m, 1) / leaf_size)))


def fmm_velocity(x: np.ndarray, b: np.ndarray, n_total: int, vkind: int, wkind: int, delta: float,
                 order: int = FMM_ORDER, leaf_size: int = FMM_LEAF_SIZE) -> np.ndarray:
    """Right-hand side of (4.1) by the 1-D FMM (module docstring): O(m (p + leaf_size) + m p²/leaf_size) work.

    Parameters
    ----------
    x : numpy.ndarray
        Positions of the m active particles, sorted strictly increasing.
    b : numpy.ndarray
        Their charges ±1 (int64).
    n_total : int
        n: each particle has mass 1/n.
    vkind : int
        Index of V in :data:`V_KINDS` (0 "log", 1 "wall").
    wkind : int
        Index of W in :data:`W_KINDS` (0 "none", 1 "regularised", 2 "-V").
    delta : float
        δ of W_δ.
    order : int, optional
        The Chebyshev order p (:func:`fmm_order` for a run at a tolerance).
    leaf_size : int, optional
        The mean number of particles per leaf.

    Returns
    -------
    numpy.ndarray
        The m velocities (NaN for a non-finite or collapsed state, which makes a step rejected).

    References
    ----------
    :cite:`vanMeursMorandotti2019`, eq. (4.1); theory page ``docs/theory/001-annihilation.md``.

    Examples
    --------
    Against the direct sum on 400 random particles (relative error at round-off for p = 20):

    >>> import numpy as np
    >>> x = np.sort(np.random.default_rng(0).uniform(-1, 1, 400))
    >>> b = np.where(x < 0, 1, -1)
    >>> direct = active_velocity(x, b, 400, 0, 1, 0.3)
    >>> bool(np.abs(fmm_velocity(x, b, 400, 0, 1, 0.3) - direct).max() < 1e-13 * np.abs(direct).max())
    True
    """
    x = np.ascontiguousarray(x, dtype=float)
    if x.size < 2:
        return np.zeros(x.size)
    extent = float(x.max() - x[0])  # a stage state may be slightly out of order: x[0] is the tree's origin
    if not (math.isfinite(extent) and extent > 0):
        return np.full(x.size, np.nan)  # a non-finite or collapsed stage state: the step is rejected
    levels = fmm_levels(x.size, leaf_size)
    width_key = math.ceil(8 * math.log2(extent) + 1e-9)  # root width 2^(key/8) ≥ the extent
    ops = _operators(int(order), levels, width_key, vkind, wkind, delta)
    return _fmm(x, b, n_total, vkind, wkind, delta, levels, 2.0 ** (width_key / 8), *ops)


def fmm_order(rtol: float) -> int:
    """The Chebyshev order p for a run at relative tolerance ``rtol``.

    The smallest p with ``5.83^-p ≤ 1e-3 rtol``, within [10, 24]. The measured force error is at most
    0.3 · 5.83^-p relative to ``(1/n) Σ_j 1/|x_i - x_j|`` (``tests/test_annihilation1d_forces.py``), so at
    most 3e-4 · rtol.

    Parameters
    ----------
    rtol : float
        The relative tolerance of the run.

    Returns
    -------
    int
        p.

    Examples
    --------
    >>> fmm_order(1e-8), fmm_order(1e-3)
    (15, 10)
    """
    p = int(np.ceil(np.log(1e3 / float(rtol)) / np.log(3 + np.sqrt(8))))
    return min(24, max(10, p))


PAIR_BLOCK = 2**20  # pair-matrix entries per block of rows in callable_velocity


def callable_velocity(x: np.ndarray, b: np.ndarray, n_total: int, dv: Callable[[np.ndarray], np.ndarray],
                      dw: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """Right-hand side of (4.1) for user potentials: ``v_i = -(1/n) Σ_{j≠i} K_ij(x_i - x_j)``.

    ``K_ij = dv`` for equal charges and ``dw`` for opposite ones. Blocks of rows of the pair matrix
    (:data:`PAIR_BLOCK` entries each); the self-term is 0 (the convention V'(0) := 0). Non-finite values
    (a collapsed stage state) propagate, which makes the step rejected.

    Parameters
    ----------
    x : numpy.ndarray
        Positions of the m active particles.
    b : numpy.ndarray
        Their charges ±1.
    n_total : int
        n: each particle has mass 1/n.
    dv : callable
        V', vectorised over the array of differences.
    dw : callable or None, optional
        W', likewise (None: W ≡ 0).

    Returns
    -------
    numpy.ndarray
        The m velocities.

    References
    ----------
    :cite:`vanMeursMorandotti2019`, eq. (4.1); theory page ``docs/theory/001-annihilation.md``.

    Examples
    --------
    The same forces as the compiled presets ``V = -log``, ``W_δ`` (δ = 0.3):

    >>> import numpy as np
    >>> x, b = np.array([-1.0, -0.5, 0.5, 1.0]), np.array([1, 1, -1, -1])
    >>> callable_velocity(x, b, 4, lambda r: -1 / r, lambda r: r / (r * r + 0.09))
    array([-0.2174942 ,  0.88961421, -0.88961421,  0.2174942 ])
    """
    x = np.asarray(x, dtype=float)
    b = np.asarray(b)
    m = x.size
    out = np.zeros(m)
    rows = max(1, PAIR_BLOCK // max(m, 1))
    with np.errstate(all="ignore"):
        for lo in range(0, m, rows):
            hi = min(m, lo + rows)
            r = x[lo:hi, None] - x[None, :]
            f = np.broadcast_to(np.asarray(dv(r), dtype=float), r.shape)
            if dw is not None:
                f = np.where(b[lo:hi, None] == b[None, :], f, np.asarray(dw(r), dtype=float))
            else:
                f = np.where(b[lo:hi, None] == b[None, :], f, 0.0)
            f[np.arange(hi - lo), np.arange(lo, hi)] = 0.0
            out[lo:hi] = -f.sum(axis=1)
    return out / n_total


def velocity(x: np.ndarray, b: np.ndarray, n_total: int, vkind: int, wkind: int, delta: float,
             method: str = "auto", order: int = FMM_ORDER) -> np.ndarray:
    """Right-hand side of (4.1) on the active particles by ``method``.

    Parameters
    ----------
    x : numpy.ndarray
        Positions of the m active particles, sorted strictly increasing.
    b : numpy.ndarray
        Their charges ±1 (int64).
    n_total : int
        n: each particle has mass 1/n.
    vkind : int
        Index of V in :data:`V_KINDS` (0 "log", 1 "wall").
    wkind : int
        Index of W in :data:`W_KINDS` (0 "none", 1 "regularised", 2 "-V").
    delta : float
        δ of W_δ.
    method : {"auto", "direct", "fmm"}, optional
        "direct" (:func:`active_velocity`), "fmm" (:func:`fmm_velocity`), or "auto" (the FMM from
        :data:`FMM_CROSSOVER` active particles on: bit-identical to "direct" below).
    order : int, optional
        The Chebyshev order of the FMM.

    Returns
    -------
    numpy.ndarray
        The m velocities.

    References
    ----------
    :cite:`vanMeursMorandotti2019`, eq. (4.1); theory page ``docs/theory/001-annihilation.md``.

    Examples
    --------
    >>> import numpy as np
    >>> x, b = np.array([-1.0, -0.5, 0.5, 1.0]), np.array([1, 1, -1, -1])
    >>> bool(np.array_equal(velocity(x, b, 4, 0, 1, 0.3), active_velocity(x, b, 4, 0, 1, 0.3)))
    True
    """
    if method == "direct" or (method == "auto" and x.size < FMM_CROSSOVER):
        return active_velocity(x, b, n_total, vkind, wkind, delta)
    return fmm_velocity(x, b, n_total, vkind, wkind, delta, order=order)
