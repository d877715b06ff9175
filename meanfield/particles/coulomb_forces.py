"""Interaction forces of signed Coulomb charges in R² (model 000) and nearest-neighbour distances.

The drift of particle ``i`` in eq. (1.1) of van Meurs, Peletier & Slangen is

    f_i = gamma b_i sum_{j != i} b_j K(x_i - x_j),    K(x) = x / |x|²,  K(0) := 0,

with signs ``b = +-1`` (equal signs repel, opposite signs attract), or with the regularised kernel
``K_eps(x) = x / (|x|² + eps²)`` of eq. (4.5), or with any radially symmetric kernel given by its
profile ``phi`` (a *custom kernel*)::

    K(x) = phi(|x|) x   for x != 0,     K(0) := 0,

so that the paper's K is ``phi(r) = 1/r²`` and K_eps is ``phi(r) = 1/(r² + eps²)``. ``phi`` is a Python
callable taking a NumPy array of distances ``r > 0`` (it is never called at ``r = 0``) and returning
an array of the same shape of finite real values; ``phi > 0`` makes equal signs repel, as in the
paper. Theory page: docs/theory/000-signed-coulomb.md. Evaluators:

* :func:`coulomb_drift` — compiled direct O(N²) sum (numba; parallel from :data:`_PARALLEL_MIN_N`
  particles), exact up to round-off, also returning each particle's nearest-neighbour distance;
* :func:`fmm_drift` — pyfmmlib's 2-D Laplace fast multipole method (O(N), exact kernel to a
  requested tolerance :data:`FMM_TOLERANCE`);
* :func:`particle_mesh_drift` — particle-mesh: cloud-in-cell deposit, free-space FFT convolution
  with :func:`coulomb_kernel_hat`, bilinear interpolation back (a grid-scale regularisation: it drops
  the near field; kept for K_eps and custom kernels resolved by the grid);
* :func:`meanfield.particles.coulomb_p3m.p3m_drift` — P3M: Gaussian-split mesh far field plus the
  direct near-field sum over neighbours within a cutoff (exact kernel to a tolerance
  :data:`~meanfield.particles.coulomb_p3m.P3M_TOLERANCE`, set to the FMM's measured accuracy).

* :func:`radial_drift` — the direct O(N²) sum for a custom kernel ``phi`` (NumPy, in blocks of rows so
  that the pair arrays stay small; ``phi`` is called once per block).

:func:`particle_drift` chooses among them (``force="direct" | "fmm" | "p3m" | "pm" | "auto"``; a custom
kernel or K_eps takes ``"direct"`` or ``"pm"``, the FMM and P3M sum the Coulomb kernel only) and always
returns ``(drift, nearest-neighbour distances)``, the pair the close-pair step rule
(:mod:`meanfield.particles.close_pair_step`) needs; :func:`drift_function` returns that evaluation as a
value (checked once) for the SDE driver; :func:`nearest_distances` is the k-d tree query. Every public
function checks its input (positions ``(n, 2)`` finite with ``n >= 1``, charges of length ``n``) before
any work.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from meanfield.measures import EmpiricalMeasure, deposit
from meanfield.models.base import check_in_range, check_integer, check_memory, check_nonnegative, check_real
from meanfield.particles.coulomb_p3m import P3M_TOLERANCE, _p3m, p3m_drift
from meanfield.solvers import fft
from meanfield.solvers.grids import UniformGrid

__all__ = ["FMM_CROSSOVER_N", "FMM_TOLERANCE", "FORCES", "P3M_CROSSOVER_N", "P3M_TOLERANCE", "check_charges",
           "check_radial_profile", "coulomb_drift", "coulomb_kernel_hat", "drift_function", "fmm_available",
           "fmm_drift", "kernel_hat", "nearest_distances", "p3m_drift", "particle_drift", "particle_mesh_drift",
           "radial_drift"]


# --- input checks ----------------------------------------------------------------------------
def check_charges(x, b, x_name="x", b_name="b"):
    """``(x, b)`` as contiguous float arrays after checking them: ``x`` finite of shape ``(n, 2)`` with
    ``n >= 1``, ``b`` finite of shape ``(n,)`` (a charge per particle). ValueError/TypeError naming the
    argument otherwise (a ``b`` of another length would be silently truncated or read out of bounds)."""
    try:
        xa = np.ascontiguousarray(x, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{x_name} must be a real array of shape (n, 2), got {type(x).__name__}") from None
    if xa.ndim != 2 or xa.shape[1] != 2:
        raise ValueError(f"{x_name} must have shape (n, 2), got {xa.shape}")
    if xa.shape[0] == 0:
        raise ValueError(f"{x_name} is an empty particle state (n = 0); at least one particle is needed")
    if not np.all(np.isfinite(xa)):
        raise ValueError(f"{x_name} must be finite; found NaN or infinite entries")
    try:
        ba = np.ascontiguousarray(b, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{b_name} must be a real array of length n={xa.shape[0]}, got {type(b).__name__}") from None
    if ba.shape != (xa.shape[0],):
        raise ValueError(f"{b_name} must have shape ({xa.shape[0]},), one charge per row of {x_name}; got "
                         f"{ba.shape}")
    if not np.all(np.isfinite(ba)):
        raise ValueError(f"{b_name} must be finite; found NaN or infinite entries")
    return xa, ba


_PROBE_R = np.geomspace(1e-3, 1e3, 13)


def check_radial_profile(phi, name="kernel"):
    """``phi`` after checking that it is callable and gives finite real values of the right shape on
    probe distances ``1e-3 ... 1e3`` (TypeError/ValueError naming ``name`` otherwise)."""
    if not callable(phi):
        raise TypeError(f"{name} must be None (the paper's kernel) or a callable phi(r) with K(x) = phi(|x|) x, "
                        f"got {phi!r} ({type(phi).__name__})")
    _profile(phi, _PROBE_R, name)
    return phi


def _profile(phi, r, name="kernel"):
    """``phi(r)`` as a float array of ``r``'s shape, refused unless finite and real."""
    try:
        v = np.asarray(phi(r))
    except Exception as err:  # the user's callable: report what it raised
        raise ValueError(f"{name}: phi(r) raised {type(err).__name__}: {err} on r of shape {r.shape}") from None
    if v.dtype.kind == "c" or v.dtype.kind not in "iuf":
        raise ValueError(f"{name}: phi(r) must return real numbers, got dtype {v.dtype}")
    if v.shape != r.shape:
        try:
            v = np.broadcast_to(v, r.shape)
        except ValueError:
            raise ValueError(f"{name}: phi(r) must return an array of the shape of r {r.shape}, got {v.shape}") \
                from None
    v = np.asarray(v, dtype=float)
    if not np.all(np.isfinite(v)):
        bad = r[~np.isfinite(v)]
        raise ValueError(f"{name}: phi(r) must be finite for r > 0; it is not at r = {bad.min():.3g} ... "
                         f"{bad.max():.3g}")
    return v


def kernel_hat(grid: UniformGrid, epsilon=0.0, kernel=None):
    """Free-space transforms of both components of the interaction kernel on ``grid``: the paper's
    K / K_eps (:func:`coulomb_kernel_hat`) if ``kernel`` is None, else ``K(x) = kernel(|x|) x`` sampled at
    the grid's displacements with ``K(0) := 0`` (the paper's convention for the singular cell, which
    an odd kernel's principal value also gives)."""
    if kernel is None:
        return coulomb_kernel_hat(grid, epsilon)

    def comp(a):
        def k(x, y):
            r = np.sqrt(x * x + y * y)
            out = np.zeros_like(r)
            pos = r > 0
            out[pos] = _profile(kernel, r[pos]) * (x if a == 0 else y)[pos]
            return out
        return k
    return [fft.free_space_kernel_hat(comp(a), grid.shape, grid.spacing) for a in range(2)]


def coulomb_kernel_hat(grid: UniformGrid, epsilon=0.0):
    """Free-space transforms (zero-padded, :func:`meanfield.solvers.fft.free_space_kernel_hat`) of both components
    of K (K_eps of eq. (4.5) if ``epsilon > 0``) sampled at the grid's displacements, K(0) := 0 (odd
    kernel). Used by the particle-mesh forces and by the continuum solvers' velocity ``K * q``."""
    e2 = float(epsilon) ** 2

    def comp(a):
        def k(x, y):
            r2 = x * x + y * y
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(r2 > 0, (x if a == 0 else y) / (r2 + e2), 0.0)
        return k
    return [fft.free_space_kernel_hat(comp(a), grid.shape, grid.spacing) for a in range(2)]


# --- compiled direct O(N^2) interaction sum ------------------------------------------------
@njit(cache=True)
def _drift_row(x, b, gamma, eps2, i, out, dmin):
    """drift_i = gamma b_i sum_{j != i} b_j K_eps(x_i - x_j) and nearest-neighbour distance_i, into
    ``out[i]`` and ``dmin[i]``.

    ``K(0) := 0`` (paper §1.1): coincident points contribute nothing, never a division by zero.
    """
    fx = 0.0
    fy = 0.0
    best = np.inf
    xi = x[i, 0]
    yi = x[i, 1]
    for j in range(x.shape[0]):
        if j == i:
            continue
        dx = xi - x[j, 0]
        dy = yi - x[j, 1]
        r2 = dx * dx + dy * dy
        best = min(best, r2)
        den = r2 + eps2
        if den > 0.0:
            s = b[j] / den
            fx += s * dx
            fy += s * dy
    out[i, 0] = gamma * b[i] * fx
    out[i, 1] = gamma * b[i] * fy
    dmin[i] = np.sqrt(best)


# Two kernels with their own names, hence their own numba cache files: numba's on-disk cache keys a
# compiled function by its bytecode and signature, not by ``parallel=``, so one Python function
# compiled twice (parallel and serial) with cache=True shares one cache entry and the serial twin can
# load the threaded code (measured: 10-600 us instead of 1.6 us per call at N = 2 on a loaded machine).
@njit(parallel=True, cache=True)
def _drift_parallel(x, b, gamma, eps2):
    n = x.shape[0]
    out = np.zeros((n, 2))
    dmin = np.empty(n)
    for i in prange(n):
        _drift_row(x, b, gamma, eps2, i, out, dmin)
    return out, dmin


# serial twin for small N: thread start-up and spin-waits dominate there, badly so on a loaded machine
@njit(cache=True)
def _drift_serial(x, b, gamma, eps2):
    n = x.shape[0]
    out = np.zeros((n, 2))
    dmin = np.empty(n)
    for i in range(n):
        _drift_row(x, b, gamma, eps2, i, out, dmin)
    return out, dmin


_PARALLEL_MIN_N = 512


def _direct(x, b, gamma, epsilon):
    """The compiled sum on checked arrays (the model's per-step path)."""
    kernel = _drift_parallel if x.shape[0] >= _PARALLEL_MIN_N else _drift_serial
    return kernel(x, b, float(gamma), float(epsilon) ** 2)


def coulomb_drift(x, b, gamma, epsilon=0.0):
    """Drift of eq. (1.1) (``epsilon > 0``: regularised kernel (4.5)) and nearest distances."""
    x, b = check_charges(x, b)
    return _direct(x, b, check_real("gamma", gamma), check_nonnegative("epsilon", epsilon))


# pairs per block of the NumPy direct sum of a custom kernel (about 6 arrays of this many floats)
_BLOCK_PAIRS = 2**20


def _radial(x, b, gamma, phi):
    """:func:`radial_drift` on checked arrays."""
    n = x.shape[0]
    out = np.empty((n, 2))
    dmin = np.empty(n)
    rows = max(1, _BLOCK_PAIRS // n)
    for s in range(0, n, rows):
        e = min(n, s + rows)
        dx = x[s:e, None, 0] - x[None, :, 0]
        dy = x[s:e, None, 1] - x[None, :, 1]
        r2 = dx * dx + dy * dy
        r = np.sqrt(r2)
        w = np.zeros_like(r)
        pos = r > 0  # the self pair and coincident points: K(0) := 0
        w[pos] = _profile(phi, r[pos])
        w *= b[None, :]
        own = np.arange(s, e)
        r2[own - s, own] = np.inf
        dmin[s:e] = np.sqrt(r2.min(axis=1))
        out[s:e, 0] = gamma * b[s:e] * (w * dx).sum(axis=1)
        out[s:e, 1] = gamma * b[s:e] * (w * dy).sum(axis=1)
    return out, dmin


def radial_drift(x, b, gamma, kernel):
    """Drift ``f_i = gamma b_i sum_{j != i} b_j phi(|x_i - x_j|) (x_i - x_j)`` of eq. (1.1) with a custom
    radial kernel ``kernel = phi`` (module docstring; coincident points contribute nothing) and the
    nearest-neighbour distances. Direct O(N²) sum in NumPy, ``phi`` called once per block of rows."""
    x, b = check_charges(x, b)
    return _radial(x, b, check_real("gamma", gamma), check_radial_profile(kernel))


def _pm_grid_bytes(n_grid):
    """Bytes of the particle-mesh work arrays: the doubled grid's kernel transforms and FFTs."""
    return 12 * (2 * n_grid) ** 2 * 16


def _pm(x, b, gamma, n_grid, epsilon, kernel):
    """:func:`particle_mesh_drift` on checked arrays."""
    lo = x.min(axis=0) - 1e-9
    hi = x.max(axis=0) + 1e-9
    side = float(np.max(hi - lo))
    pad = 2 * side / n_grid
    grid = UniformGrid(lo - pad, lo - pad + side + 2 * pad, (n_grid, n_grid), periodic=False)
    q = deposit(EmpiricalMeasure(x, b), grid, order=1).values
    khat = kernel_hat(grid, epsilon, kernel)
    v = np.array([fft.convolve_free_space(q, kh, grid.cell_volume) for kh in khat])
    s_ = (x - np.asarray(grid.lower)) / grid.spacing - 0.5
    base = np.floor(s_).astype(np.int64)
    frac = s_ - base
    out = np.zeros_like(x)
    for cx in (0, 1):
        for cy in (0, 1):
            wt = (frac[:, 0] if cx else 1 - frac[:, 0]) * (frac[:, 1] if cy else 1 - frac[:, 1])
            ix = np.clip(base[:, 0] + cx, 0, n_grid - 1)
            iy = np.clip(base[:, 1] + cy, 0, n_grid - 1)
            out[:, 0] += wt * v[0][ix, iy]
            out[:, 1] += wt * v[1][ix, iy]
    return gamma * b[:, None] * out


def particle_mesh_drift(x, b, gamma, n_grid=256, epsilon=0.0, kernel=None):
    """Particle-mesh (PM) approximation of the drift of eq. (1.1): cloud-in-cell deposit of the
    signed charges sum_j b_j delta_{x_j}, free-space K * q (K_eps of eq. (4.5) if ``epsilon > 0``, the
    custom ``K(x) = kernel(|x|) x`` if ``kernel`` is given; :func:`kernel_hat`) by zero-padded FFT (no
    periodic images), and bilinear interpolation back (the transpose of the deposit, so momentum is
    conserved to the interpolation error). Cost O(N + n_grid^2 log n_grid).

    PM drops the near field: pairs closer than a few cells see a grid-smoothed force, so for a
    random cloud its error against the direct sum does NOT vanish as the grid is refined at fixed N
    (it is a regularisation at the grid scale). For particles separated by many cells the error is
    second order in the cell size (tested). Use :func:`fmm_drift` when the exact-kernel sum is needed.
    """
    x, b = check_charges(x, b)
    gamma = check_real("gamma", gamma)
    n_grid = check_integer("n_grid", n_grid, minimum=8)
    check_memory(_pm_grid_bytes(n_grid), f"particle-mesh forces on n_grid={n_grid}")
    epsilon = check_nonnegative("epsilon", epsilon)
    if kernel is not None:
        check_radial_profile(kernel)
        if epsilon > 0:
            raise ValueError(f"epsilon={epsilon} regularises the paper's kernel; a custom kernel carries its own "
                             "regularisation (give epsilon=0)")
    return _pm(x, b, gamma, n_grid, epsilon, kernel)


def fmm_available() -> bool:
    """Whether pyfmmlib (2-D Laplace fast multipole method, Greengard-Rokhlin) can be imported."""
    try:
        import pyfmmlib  # noqa: F401 - imported only to test availability
    except ImportError:
        return False
    return True


# pyfmmlib precision flag -> its requested relative tolerance (fmmlib2d documentation)
FMM_TOLERANCE = {1: 0.5e-3, 2: 0.5e-6, 3: 0.5e-9, 4: 0.5e-12}


def _fmm(x, b, gamma, precision):
    """:func:`fmm_drift` on checked arrays."""
    try:
        import pyfmmlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("force='fmm' needs the pyfmmlib package (pip install pyfmmlib)") from exc
    n = x.shape[0]
    ier, _, fld, *_ = pyfmmlib.lfmm2dparttarg(
        precision, np.asfortranarray(x.T), 1, b.astype(complex), 0, np.zeros(n, complex), np.zeros((2, n)),
        0, 1, 0, 0, np.zeros((2, 1)), 0, np.zeros(1, complex), 0, np.zeros((2, 1), complex), 0,
        np.zeros((3, 1), complex))
    if ier != 0:
        raise RuntimeError(f"pyfmmlib lfmm2dparttarg failed with ier={ier}")
    return gamma * b[:, None] * np.ascontiguousarray(fld.real.T)


def fmm_drift(x, b, gamma, precision=2):
    """Drift of eq. (1.1) with the exact kernel by pyfmmlib's 2-D Laplace FMM (O(N) work).

    lfmm2dparttarg returns at each source x_i the field grad_x sum_{j != i} b_j log|x - x_j|
    = sum_{j != i} b_j K(x_i - x_j) (self term excluded, which is the convention K(0) := 0 for
    distinct points), so drift_i = gamma b_i * field_i. ``precision`` is pyfmmlib's ``iprec``
    (requested relative tolerance :data:`FMM_TOLERANCE`). Exact kernel only (no K_eps, no custom kernel).
    """
    x, b = check_charges(x, b)
    gamma = check_real("gamma", gamma)
    if isinstance(precision, (bool, np.bool_)) or precision not in FMM_TOLERANCE:
        raise ValueError(f"fmm precision must be one of {sorted(FMM_TOLERANCE)}, got {precision!r}")
    return _fmm(x, b, gamma, precision)


def nearest_distances(x):
    """Distance of each particle to its nearest other particle (k-d tree, O(N log N))."""
    from scipy.spatial import cKDTree

    d, _ = cKDTree(x).query(x, k=2)
    return d[:, 1]


# N from which force="auto" uses the FMM instead of the compiled direct sum (exact kernel only).
# Measured crossover on the 2-core machines: python benchmarks/coulomb2d_forces.py.
FMM_CROSSOVER_N = 8192  # measured crossover 6.4e3-6.9e3 (ratio direct/FMM 0.47-0.53 at 4096, 1.2-1.5 at 8192)
# N from which force="auto" uses P3M instead of the FMM (exact kernel): P3M at its default tolerance
# (relative error 7e-10 - 1e-9, the FMM's 1.7e-9 - 2.7e-9) measured faster in every repeat from 10^5
# (python benchmarks/coulomb2d_forces.py --part p3m, loaded 2-core machine, P3M time / FMM time, median
# [range] of 5 interleaved pairs: 10^4 1.04 [0.81, 1.23], 3*10^4 0.84 [0.62, 1.15], 10^5 0.53
# [0.35, 0.74], 3*10^5 0.71 [0.52, 0.91], 10^6 0.92 [0.62, 0.96]). Without pyfmmlib, P3M replaces the FMM
# from FMM_CROSSOVER_N: P3M / direct 0.80 [0.49, 0.82] at 8192 (--part p3m-direct).
P3M_CROSSOVER_N: int | None = 100_000
FORCES = ("direct", "fmm", "p3m", "pm", "auto")


def resolve_force(force, n, epsilon=0.0, kernel=None, fmm_precision=2, pm_grid=256, p3m_tol=P3M_TOLERANCE):
    """The evaluator ``force`` names for ``n`` particles, after checking it can evaluate the kernel:
    ``"auto"`` is, for the exact kernel, the direct sum below :data:`FMM_CROSSOVER_N` particles, then the
    FMM when pyfmmlib is installed (P3M from :data:`P3M_CROSSOVER_N`, or wherever the FMM is missing),
    and ``"direct"`` for K_eps or a custom kernel; ``"fmm"`` and ``"p3m"`` are refused for K_eps and for
    a custom kernel."""
    if not isinstance(force, str) or force not in FORCES:
        raise ValueError(f"force must be one of {FORCES}, got {force!r}")
    if force in ("fmm", "p3m") and kernel is not None:
        raise ValueError(f"force={force!r} sums the Laplace (Coulomb) kernel only; a custom kernel needs "
                         "force='direct' or 'pm'")
    if force in ("fmm", "p3m") and epsilon > 0:
        raise ValueError(f"force={force!r} evaluates the exact kernel only; epsilon={epsilon} needs "
                         "force='direct' or 'pm'")
    if force == "fmm" and (isinstance(fmm_precision, (bool, np.bool_)) or fmm_precision not in FMM_TOLERANCE):
        raise ValueError(f"fmm_precision must be one of {sorted(FMM_TOLERANCE)}, got {fmm_precision!r}")
    if force == "p3m":
        check_in_range("p3m_tol", p3m_tol, 1e-15, 0.1)
    if force == "pm":
        pm_grid = check_integer("pm_grid", pm_grid, minimum=8)
        check_memory(_pm_grid_bytes(pm_grid), f"particle-mesh forces on pm_grid={pm_grid}")
    if force == "auto":
        force = "direct"
        if n >= FMM_CROSSOVER_N and epsilon == 0 and kernel is None:
            use_p3m = P3M_CROSSOVER_N is not None and n >= P3M_CROSSOVER_N
            force = "p3m" if use_p3m or not fmm_available() else "fmm"
    return force


def drift_function(b, gamma, epsilon=0.0, force="direct", pm_grid=256, fmm_precision=2, kernel=None,
                   p3m_tol=P3M_TOLERANCE):
    """The drift evaluation ``x -> (drift (N, 2), nearest-neighbour distances (N,))`` of eq. (1.1) for
    fixed charges ``b`` as a value (checked once here, not at every call): what the SDE driver
    (:func:`meanfield.particles.coulomb_sde.simulate_charges`) is given. ``force`` as in
    :func:`particle_drift`."""
    b = np.ascontiguousarray(b, dtype=float)
    if b.ndim != 1 or b.size == 0 or not np.all(np.isfinite(b)):
        raise ValueError(f"b must be a non-empty finite 1-D array of charges, got shape {b.shape}")
    gamma = check_real("gamma", gamma)
    epsilon = check_nonnegative("epsilon", epsilon)
    if kernel is not None:
        check_radial_profile(kernel)
        if epsilon > 0:
            raise ValueError(f"epsilon={epsilon} regularises the paper's kernel; a custom kernel carries its own "
                             "regularisation (give epsilon=0)")
    force = resolve_force(force, b.size, epsilon, kernel, fmm_precision, pm_grid, p3m_tol)
    if force == "direct" and kernel is None:
        return lambda x: _direct(np.ascontiguousarray(x, dtype=float), b, gamma, epsilon)
    if force == "direct":
        return lambda x: _radial(np.asarray(x, dtype=float), b, gamma, kernel)
    if force == "fmm":
        return lambda x: (_fmm(x, b, gamma, fmm_precision), nearest_distances(x))
    if force == "p3m":
        p3m_tol = float(p3m_tol)
        return lambda x: _p3m(np.ascontiguousarray(x, dtype=float), b, gamma, p3m_tol)
    pm_grid = int(pm_grid)
    return lambda x: (_pm(x, b, gamma, pm_grid, epsilon, kernel), nearest_distances(x))


def particle_drift(x, b, gamma, epsilon=0.0, force="direct", pm_grid=256, fmm_precision=2, kernel=None,
                   p3m_tol=P3M_TOLERANCE):
    """``(drift (N, 2), nearest-neighbour distances (N,))`` of eq. (1.1) by the chosen method.

    ``force``: ``"direct"`` (compiled O(N^2), exact up to round-off, K_eps if epsilon > 0; the NumPy
    :func:`radial_drift` for a custom ``kernel``), ``"fmm"`` (pyfmmlib FMM, exact kernel, relative
    error below :data:`FMM_TOLERANCE`), ``"p3m"`` (exact kernel, Gaussian-split mesh plus near-field
    sum, tolerance ``p3m_tol``: :func:`~meanfield.particles.coulomb_p3m.p3m_drift`), ``"pm"``
    (particle-mesh on ``pm_grid^2`` cells: grid-scale regularisation, see :func:`particle_mesh_drift`),
    ``"auto"`` (:func:`resolve_force`: direct below :data:`FMM_CROSSOVER_N` particles or when
    epsilon > 0 or a custom kernel is given, FMM above, P3M from :data:`P3M_CROSSOVER_N`).
    """
    x, b = check_charges(x, b)
    return drift_function(b, gamma, epsilon, force, pm_grid, fmm_precision, kernel, p3m_tol)(x)
