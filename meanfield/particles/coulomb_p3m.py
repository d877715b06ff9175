"""P3M (particle-particle particle-mesh) forces of signed Coulomb charges in R² (model 000), exact kernel.

The drift of eq. (1.1) of van Meurs, Peletier & Slangen, ``f_i = gamma b_i sum_{j != i} b_j K(x_i - x_j)``
with ``K(x) = x / |x|² = grad log|x|`` (theory page docs/theory/000-signed-coulomb.md), is split with a
Gaussian ``G_s(x) = exp(-|x|²/(2 s²)) / (2 pi s²)`` of width ``alpha`` (Ewald's split, free space)::

    K = K_near + K_far,     K_far = K * G_alpha = x/|x|² (1 - exp(-|x|²/(2 alpha²))),
                            K_near = x/|x|² exp(-|x|²/(2 alpha²)),

(the field of a Gaussian charge is its enclosed fraction over r; ``K_far(0) = 0``, consistent with
``K(0) := 0``). ``K_near`` is below the tolerance beyond ``r_c = m alpha`` and is summed directly over
the neighbours within ``r_c`` (a cell list of side ``r_c``, compiled pair loop, which also gives the
nearest-neighbour distances). ``K_far`` is smooth (entire) and goes on a mesh of spacing ``h`` as in
the spectral Ewald method: with ``alpha² = 2 tau² + beta²``, ``K_far = G_tau * M * G_tau`` where
``M = K * G_beta`` (same closed form with ``beta``), so

1. spread: ``H(y_m) = sum_j b_j G_tau(y_m - x_j)`` on the mesh (truncated Gaussians, ``P`` points a side);
2. ``V = M * H`` by the trapezoidal rule, a free-space (zero-padded) FFT convolution (no periodic images);
3. gather: ``F_i = h² sum_m G_tau(x_i - y_m) V(y_m)``, drift_i = gamma b_i (F_i + near_i).

Every step is spectrally accurate in ``tau / h`` (trapezoidal rule of Gaussians: error about
``2 exp(-2 pi² tau²/h²)``) and in the truncations (``exp(-m²/2)``), so one number, the tolerance ``tol``,
sets ``tau / h``, ``P`` and ``m`` (:func:`p3m_parameters`); the spacing ``h`` only trades near-field pairs
against mesh cells (chosen from the cloud, :func:`p3m_spacing`). Momentum: the near pairs are exactly
antisymmetric, and spread/gather with one Gaussian and an odd ``M`` make ``sum_i b_i F_i = 0`` up to the
FFT's round-off. Exact kernel only: K_eps of eq. (4.5) and custom kernels are refused (``force="pm"``
or ``"direct"`` evaluate them).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from meanfield.models.base import check_in_range, check_memory, check_positive, check_real
from meanfield.solvers import fft

__all__ = ["P3M_TOLERANCE", "p3m_drift", "p3m_parameters", "p3m_spacing"]

# default tolerance: pyfmmlib's FMM at its default precision 2 has a relative rms force error of
# 1.7e-9 - 2.9e-9 on Gaussian clouds of 10^4 - 10^6 charges; P3M at tol = 1e-8 has 7e-10 - 1e-9 there
# (benchmarks/coulomb2d_forces.py --part p3m; tol = 3e-8 gave 5.5e-9, above the FMM's)
P3M_TOLERANCE = 1e-8


def p3m_parameters(tol=P3M_TOLERANCE):
    """``(tau_over_h, P, m)`` for the requested tolerance ``tol`` in [1e-15, 0.1]: Gaussian width in mesh
    cells from ``2 exp(-(4/3) pi² (tau/h)²) = tol``, support ``P`` points a side with ``(P/2) h >= m tau``,
    and the truncation ``exp(-m²/2) = tol`` (also the near-field cutoff ``r_c = m alpha``); ``beta = tau``,
    so ``alpha = sqrt(3) tau``.

    The trapezoidal rule of one Gaussian of width ``tau`` errs by ``2 exp(-2 pi² tau²/h²)``; the sums here
    integrate products ``G_tau(x_i - y) W(y - x_j)`` whose width is ``sqrt(2/3) tau`` for ``W`` of width
    ``sqrt(2) tau``, hence the 4/3. Measured on a Gaussian cloud of 3000 charges (relative rms error
    against the direct sum): ``tau/h`` from the 2 pi² rule gave 1.2e-7 at tol = 1e-9, this rule 8e-11;
    ``P`` two points smaller 6e-10, four smaller 7e-8; ``beta = tau/2`` 3e-5 (``M`` must be resolved)."""
    tol = check_in_range("tol", tol, 1e-15, 0.1)
    tau_h = math.sqrt(3 * math.log(2.0 / tol) / (4 * math.pi**2))
    m = math.sqrt(2 * math.log(1.0 / tol))
    p = 2 * math.ceil(m * tau_h)
    return tau_h, p, m


# --- compiled kernels ------------------------------------------------------------------------
@njit(cache=True)
def _weights(s, p, c, out):
    """exp(-c (k - s)²) for the ``p`` mesh points k = floor(s) - p/2 + 1 ...; returns the first index."""
    k0 = math.floor(s) - p // 2 + 1
    for a in range(p):
        d = k0 + a - s
        out[a] = math.exp(-c * d * d)
    return k0


@njit(cache=True)
def _spread(x, b, lower, h, tau, p, nx, ny):
    """H(y_m) = sum_j b_j G_tau(y_m - x_j), y_m = lower + m h, on an (nx, ny) mesh."""
    grid = np.zeros((nx, ny))
    c = 0.5 * (h / tau) ** 2
    norm = 1.0 / (2 * math.pi * tau * tau)
    wx = np.empty(p)
    wy = np.empty(p)
    for i in range(x.shape[0]):
        ix = _weights((x[i, 0] - lower[0]) / h, p, c, wx)
        iy = _weights((x[i, 1] - lower[1]) / h, p, c, wy)
        q = b[i] * norm
        for a in range(p):
            qa = q * wx[a]
            for d in range(p):
                grid[ix + a, iy + d] += qa * wy[d]
    return grid


@njit(parallel=True, cache=True)
def _gather(x, vx, vy, lower, h, tau, p):
    """F_i = h² sum_m G_tau(x_i - y_m) V(y_m), both components."""
    n = x.shape[0]
    out = np.empty((n, 2))
    c = 0.5 * (h / tau) ** 2
    norm = h * h / (2 * math.pi * tau * tau)
    for i in prange(n):
        wx = np.empty(p)
        wy = np.empty(p)
        ix = _weights((x[i, 0] - lower[0]) / h, p, c, wx)
        iy = _weights((x[i, 1] - lower[1]) / h, p, c, wy)
        fx = 0.0
        fy = 0.0
        for a in range(p):
            sx = 0.0
            sy = 0.0
            for d in range(p):
                sx += wy[d] * vx[ix + a, iy + d]
                sy += wy[d] * vy[ix + a, iy + d]
            fx += wx[a] * sx
            fy += wx[a] * sy
        out[i, 0] = norm * fx
        out[i, 1] = norm * fy
    return out


@njit(cache=True)
def _near_column(xs, bs, start, ncx, ncy, reach, rc2, inv2a2, ci, out, d2min):
    """Pairs between the cells of column ``ci`` and the cells after them in the half stencil (same
    column: rows above; columns ``ci + 1 ... ci + reach``: all rows within ``reach``), each pair once,
    added to both particles (Newton's third law: exactly antisymmetric). Writes only to columns
    ``ci ... ci + reach``."""
    for cj in range(ncy):
        k = ci * ncy + cj
        for i in range(start[k], start[k + 1]):
            xi = xs[i, 0]
            yi = xs[i, 1]
            bi = bs[i]
            fx = 0.0
            fy = 0.0
            best = d2min[i]
            for a in range(ci, min(ci + reach + 1, ncx)):
                lo_d = cj if a == ci else max(cj - reach, 0)
                for d in range(lo_d, min(cj + reach + 1, ncy)):
                    kk = a * ncy + d
                    j0 = i + 1 if kk == k else start[kk]
                    for j in range(j0, start[kk + 1]):
                        dx = xi - xs[j, 0]
                        dy = yi - xs[j, 1]
                        r2 = dx * dx + dy * dy
                        if r2 < best:
                            best = r2
                        if r2 < d2min[j]:
                            d2min[j] = r2
                        if r2 < rc2 and r2 > 0.0:  # K(0) := 0: coincident points add nothing
                            s = math.exp(-r2 * inv2a2) / r2
                            sx = s * dx
                            sy = s * dy
                            fx += bs[j] * sx
                            fy += bs[j] * sy
                            out[j, 0] -= bi * sx
                            out[j, 1] -= bi * sy
            out[i, 0] += fx
            out[i, 1] += fy
            d2min[i] = best


@njit(parallel=True, cache=True)
def _near(xs, bs, start, ncx, ncy, reach, rc, inv2a2):
    """Near field ``sum_{j != i, |x_i - x_j| < rc} b_j K_near(x_i - x_j)`` and the smallest squared
    distance to any other particle in the ``(2 reach + 1)²`` block of cells around i's (``inf`` if none),
    for particles sorted by cell (``start``: CSR offsets of the ``ncx * ncy`` cells, row-major; cells of
    side ``rc / reach``). Each pair is evaluated once; columns are processed in ``reach + 1`` colours,
    columns of one colour in parallel (their writes, columns ``ci ... ci + reach``, are disjoint)."""
    n = xs.shape[0]
    out = np.zeros((n, 2))
    d2min = np.full(n, np.inf)
    stride = reach + 1
    for colour in range(stride):
        for c in prange((ncx - colour + stride - 1) // stride):
            _near_column(xs, bs, start, ncx, ncy, reach, rc * rc, inv2a2, colour + c * stride, out, d2min)
    return out, d2min


# --- mesh ------------------------------------------------------------------------------------
def _smooth_size(n):
    """Smallest 2^a 3^b 5^c >= n (fast FFT lengths)."""
    best = 1 << max(0, int(n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p3 = p5
        while p3 < best:
            p2 = p3
            while p2 < n:
                p2 *= 2
            best = min(best, p2)
            p3 *= 3
        p5 *= 5
    return best


@njit(parallel=True, cache=True)
def _m_samples(n0, n1, h, beta, a):
    """Component ``a`` of M = K * G_beta = x/|x|² (1 - exp(-|x|²/(2 beta²))), M(0) = 0, at the
    displacements of the zero-padded ``(2 n0, 2 n1)`` mesh in wrap-around order, the Nyquist slots 0 (the
    layout of :func:`meanfield.solvers.fft.free_space_kernel_hat`)."""
    out = np.zeros((2 * n0, 2 * n1))
    c = 0.5 / (beta * beta)
    for i in prange(2 * n0):
        if i == n0:
            continue
        x = (i if i < n0 else i - 2 * n0) * h
        for j in range(2 * n1):
            if j == n1 or (i == 0 and j == 0):
                continue
            y = (j if j < n1 else j - 2 * n1) * h
            r2 = x * x + y * y
            out[i, j] = (x if a == 0 else y) * -math.expm1(-c * r2) / r2
    return out


_HAT_CACHE: dict = {}
_HAT_CACHE_SIZE = 4


def _m_hat(shape, h, beta):
    """Transforms of M's components on the zero-padded mesh (cached: the SDE calls with one mesh)."""
    key = (shape, h, beta)
    hat = _HAT_CACHE.get(key)
    if hat is None:
        hat = [fft.rfftn(_m_samples(shape[0], shape[1], h, beta, a)) for a in range(2)]
        if len(_HAT_CACHE) >= _HAT_CACHE_SIZE:
            _HAT_CACHE.pop(next(iter(_HAT_CACHE)))
        _HAT_CACHE[key] = hat
    return hat


def _convolve(grid, khat, cell_area):
    """Both components of the free-space convolution ``V = M * H`` (trapezoidal rule): one forward
    transform of the zero-padded ``H`` shared by the two (as :func:`meanfield.solvers.fft.convolve_free_space`
    does for one kernel)."""
    nx, ny = grid.shape
    padded = np.zeros((2 * nx, 2 * ny))
    padded[:nx, :ny] = grid
    ghat = fft.rfftn(padded)
    return [fft.irfftn(ghat * kh, padded.shape)[:nx, :ny] * cell_area for kh in khat]


def _mesh_bytes(nx, ny):
    """Work arrays of the mesh part: two kernel transforms, the padded FFTs and the fields."""
    return 16 * (4 * nx * ny) * 8


# near pairs per mesh cell at which both parts cost about the same (order of magnitude, measured on
# one core: a pair ~ 5 ns, a mesh cell of the three padded FFTs and the spread/gather ~ 60 ns)
_PAIRS_PER_CELL = 12.0


def p3m_spacing(x, tol=P3M_TOLERANCE):
    """Mesh spacing ``h`` for the cloud ``x`` (checked ``(n, 2)`` array): the power of ``2^(1/4)`` that
    minimises the cost model ``pairs + _PAIRS_PER_CELL * mesh cells``, with pairs estimated as
    ``n rho_eff pi r_c²`` (``rho_eff = sum_c n_c² / (n |cell|)`` on a 32x32 histogram, the density a
    particle sees on average). Quantised so that nearby clouds reuse one mesh (and its kernel)."""
    tau_h, p, m = p3m_parameters(tol)
    n = x.shape[0]
    lo = x.min(axis=0)
    ext = x.max(axis=0) - lo
    side = float(ext.max())
    if side == 0:  # all particles at one point: no scale, any mesh is exact (nothing but K(0) := 0)
        return 1.0
    box = np.maximum(ext, side / 32)  # a cloud on a line: density over cells of the longer side
    counts, *_ = np.histogram2d(x[:, 0], x[:, 1], bins=32, range=[(lo[0], lo[0] + box[0]), (lo[1], lo[1] + box[1])])
    rho = float((counts**2).sum()) / (n * float(np.prod(box)) / 32**2)
    rc_h = m * math.sqrt(3.0) * tau_h  # r_c / h
    top = math.ceil(4 * math.log2(side))
    best = (math.inf, side)
    for k in range(top - 64, top + 1):  # h from side / 2^16 to side
        h = 2.0 ** (k / 4)
        cells = 4 * (ext[0] / h + p + 3) * (ext[1] / h + p + 3)
        pairs = n * min(rho * math.pi * (rc_h * h) ** 2, n)
        cost = pairs + _PAIRS_PER_CELL * cells
        if cost < best[0]:
            best = (cost, h)
    return best[1]


# cells of the near-field list per cutoff: a (2 _REACH + 1)² block of side (2 + 1/_REACH) r_c is searched
_REACH = 2


def _p3m(x, b, gamma, tol, h=None):
    """:func:`p3m_drift` on checked arrays: ``(drift, nearest-neighbour distances)``."""
    tau_h, p, m = p3m_parameters(tol)
    if h is None:
        h = p3m_spacing(x, tol)
    tau = tau_h * h
    beta = tau
    alpha = math.sqrt(2 * tau**2 + beta**2)
    rc = m * alpha
    lo = x.min(axis=0)
    ext = x.max(axis=0) - lo
    # particles sorted by the near field's cells (side rc / _REACH): also the mesh's memory order
    side = rc / _REACH
    ncx, ncy = (max(1, int(e // side) + 1) for e in ext)
    nx, ny = (_smooth_size(math.ceil(e / h) + p + 3) for e in ext)
    check_memory(_mesh_bytes(nx, ny) + 8 * ncx * ncy, f"P3M mesh of {nx}x{ny} cells (spacing h={h:.3g})")
    ci = np.minimum(((x[:, 0] - lo[0]) / side).astype(np.int64), ncx - 1)
    cj = np.minimum(((x[:, 1] - lo[1]) / side).astype(np.int64), ncy - 1)
    cell = ci * ncy + cj
    order = np.argsort(cell, kind="stable")
    start = np.zeros(ncx * ncy + 1, dtype=np.int64)
    np.cumsum(np.bincount(cell, minlength=ncx * ncy), out=start[1:])
    xs = x[order]
    bs = b[order]
    # mesh (nx, ny above): particles at least p/2 + 1 cells inside, sizes rounded to fast FFT lengths
    lower = lo - (p // 2 + 1) * h
    hmesh = _spread(xs, bs, lower, h, tau, p, nx, ny)
    vx, vy = _convolve(hmesh, _m_hat((nx, ny), h, beta), h * h)
    far = _gather(xs, vx, vy, lower, h, tau, p)
    near, d2_s = _near(xs, bs, start, ncx, ncy, _REACH, rc, 1.0 / (2 * alpha**2))
    drift = np.empty_like(x)
    drift[order] = gamma * bs[:, None] * (far + near)
    d2 = np.empty(x.shape[0])
    d2[order] = d2_s
    dmin = np.sqrt(d2)
    far_away = d2 > rc * rc  # nearest neighbour not certainly in the searched block: ask the k-d tree
    if np.any(far_away) and x.shape[0] > 1:
        from scipy.spatial import cKDTree

        d, _ = cKDTree(x).query(x[far_away], k=2)
        dmin[far_away] = d[:, 1]
    return drift, dmin


def p3m_drift(x, b, gamma, tol=P3M_TOLERANCE, h=None):
    """Drift of eq. (1.1) with the exact kernel by P3M (module docstring) and the nearest-neighbour
    distances: ``(drift (n, 2), dmin (n,))``. ``tol`` sets the accuracy (:func:`p3m_parameters`; the
    default matches pyfmmlib's FMM at its default precision), ``h`` the mesh spacing (default
    :func:`p3m_spacing`, a cost balance; the accuracy does not depend on it). Work
    ``O(n P² + pairs within r_c + mesh log mesh)``."""
    from meanfield.particles.coulomb_forces import check_charges

    x, b = check_charges(x, b)
    gamma = check_real("gamma", gamma)
    tol = check_in_range("tol", tol, 1e-15, 0.1)
    if h is not None:
        h = check_positive("h", h)
    return _p3m(x, b, gamma, tol, h)
