"""Interaction forces of signed Coulomb charges in R² (model 000) and nearest-neighbour distances.

The drift of particle ``i`` in eq. (1.1) of van Meurs, Peletier & Slangen is

    f_i = gamma b_i sum_{j != i} b_j K(x_i - x_j),    K(x) = x / |x|²,  K(0) := 0,

with signs ``b = +-1`` (equal signs repel, opposite signs attract), or with the regularised kernel
``K_eps(x) = x / (|x|² + eps²)`` of eq. (4.5). Three evaluators:

* :func:`coulomb_drift` — compiled direct O(N²) sum (numba; parallel from :data:`_PARALLEL_MIN_N`
  particles), exact up to round-off, also returning each particle's nearest-neighbour distance;
* :func:`fmm_drift` — pyfmmlib's 2-D Laplace fast multipole method (O(N), exact kernel to a
  requested tolerance :data:`FMM_TOLERANCE`);
* :func:`particle_mesh_drift` — particle-mesh: cloud-in-cell deposit, free-space FFT convolution
  with :func:`coulomb_kernel_hat`, bilinear interpolation back (a grid-scale regularisation).

:func:`particle_drift` chooses among them (``force="direct" | "fmm" | "pm" | "auto"``) and always
returns ``(drift, nearest-neighbour distances)``, the pair the close-pair step rule
(:mod:`meanfield.particles.close_pair_step`) needs; :func:`nearest_distances` is the k-d tree query.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from meanfield.measures import EmpiricalMeasure, deposit
from meanfield.models.base import check_integer
from solvers import fft
from solvers.grids import UniformGrid

__all__ = ["FMM_CROSSOVER_N", "FMM_TOLERANCE", "FORCES", "coulomb_drift", "coulomb_kernel_hat", "fmm_available",
           "fmm_drift", "nearest_distances", "particle_drift", "particle_mesh_drift"]


def coulomb_kernel_hat(grid: UniformGrid, epsilon=0.0):
    """Free-space transforms (zero-padded, :func:`solvers.fft.free_space_kernel_hat`) of both components
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


def coulomb_drift(x, b, gamma, epsilon=0.0):
    """Drift of eq. (1.1) (``epsilon > 0``: regularised kernel (4.5)) and nearest distances."""
    x = np.ascontiguousarray(x, dtype=float)
    b = np.ascontiguousarray(b, dtype=float)
    kernel = _drift_parallel if x.shape[0] >= _PARALLEL_MIN_N else _drift_serial
    return kernel(x, b, float(gamma), float(epsilon) ** 2)


def particle_mesh_drift(x, b, gamma, n_grid=256, epsilon=0.0):
    """Particle-mesh (PM) approximation of the drift of eq. (1.1): cloud-in-cell deposit of the
    signed charges sum_j b_j delta_{x_j}, free-space K * q (K_eps of eq. (4.5) if ``epsilon > 0``) by
    zero-padded FFT (no periodic images), and bilinear interpolation back (the transpose of the
    deposit, so momentum is conserved to the interpolation error). Cost O(N + n_grid^2 log n_grid).

    PM drops the near field: pairs closer than a few cells see a grid-smoothed force, so for a
    random cloud its error against the direct sum does NOT vanish as the grid is refined at fixed N
    (it is a regularisation at the grid scale). For particles separated by many cells the error is
    second order in the cell size (tested). Use :func:`fmm_drift` when the exact-kernel sum is needed.
    """
    x = np.asarray(x, dtype=float)
    b = np.asarray(b, dtype=float)
    n_grid = check_integer("n_grid", n_grid, minimum=8)
    lo = x.min(axis=0) - 1e-9
    hi = x.max(axis=0) + 1e-9
    side = float(np.max(hi - lo))
    pad = 2 * side / n_grid
    grid = UniformGrid(lo - pad, lo - pad + side + 2 * pad, (n_grid, n_grid), periodic=False)
    q = deposit(EmpiricalMeasure(x, b), grid, order=1).values
    khat = coulomb_kernel_hat(grid, epsilon)
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


def fmm_available() -> bool:
    """Whether pyfmmlib (2-D Laplace fast multipole method, Greengard-Rokhlin) can be imported."""
    try:
        import pyfmmlib  # noqa: F401
    except ImportError:
        return False
    return True


# pyfmmlib precision flag -> its requested relative tolerance (fmmlib2d documentation)
FMM_TOLERANCE = {1: 0.5e-3, 2: 0.5e-6, 3: 0.5e-9, 4: 0.5e-12}


def fmm_drift(x, b, gamma, precision=2):
    """Drift of eq. (1.1) with the exact kernel by pyfmmlib's 2-D Laplace FMM (O(N) work).

    lfmm2dparttarg returns at each source x_i the field grad_x sum_{j != i} b_j log|x - x_j|
    = sum_{j != i} b_j K(x_i - x_j) (self term excluded, which is the convention K(0) := 0 for
    distinct points), so drift_i = gamma b_i * field_i. ``precision`` is pyfmmlib's ``iprec``
    (requested relative tolerance :data:`FMM_TOLERANCE`). Exact kernel only (no K_eps).
    """
    try:
        import pyfmmlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("force='fmm' needs the pyfmmlib package (pip install pyfmmlib)") from exc
    if precision not in FMM_TOLERANCE:
        raise ValueError(f"fmm precision must be one of {sorted(FMM_TOLERANCE)}, got {precision!r}")
    x = np.asarray(x, dtype=float)
    b = np.asarray(b, dtype=float)
    n = x.shape[0]
    ier, _, fld, *_ = pyfmmlib.lfmm2dparttarg(
        precision, np.asfortranarray(x.T), 1, b.astype(complex), 0, np.zeros(n, complex), np.zeros((2, n)),
        0, 1, 0, 0, np.zeros((2, 1)), 0, np.zeros(1, complex), 0, np.zeros((2, 1), complex), 0,
        np.zeros((3, 1), complex))
    if ier != 0:
        raise RuntimeError(f"pyfmmlib lfmm2dparttarg failed with ier={ier}")
    return gamma * b[:, None] * np.ascontiguousarray(fld.real.T)


def nearest_distances(x):
    """Distance of each particle to its nearest other particle (k-d tree, O(N log N))."""
    from scipy.spatial import cKDTree

    d, _ = cKDTree(x).query(x, k=2)
    return d[:, 1]


# N from which force="auto" uses the FMM instead of the compiled direct sum (exact kernel only).
# Measured crossover on the 2-core machines: python benchmarks/coulomb2d_forces.py.
FMM_CROSSOVER_N = 8192  # measured crossover 6.4e3-6.9e3 (ratio direct/FMM 0.47-0.53 at 4096, 1.2-1.5 at 8192)
FORCES = ("direct", "fmm", "pm", "auto")


def particle_drift(x, b, gamma, epsilon=0.0, force="direct", pm_grid=256, fmm_precision=2):
    """``(drift (N, 2), nearest-neighbour distances (N,))`` of eq. (1.1) by the chosen method.

    ``force``: ``"direct"`` (compiled O(N^2), exact up to round-off, K_eps if epsilon > 0),
    ``"fmm"`` (pyfmmlib FMM, exact kernel, relative error below :data:`FMM_TOLERANCE`),
    ``"pm"`` (particle-mesh on ``pm_grid^2`` cells: grid-scale regularisation, see
    :func:`particle_mesh_drift`), ``"auto"`` (direct below :data:`FMM_CROSSOVER_N` particles or when
    epsilon > 0 or pyfmmlib is missing, FMM above).
    """
    if force == "auto":
        use_fmm = x.shape[0] >= FMM_CROSSOVER_N and epsilon == 0 and fmm_available()
        force = "fmm" if use_fmm else "direct"
    if force == "direct":
        return coulomb_drift(x, b, gamma, epsilon)
    if force == "fmm":
        return fmm_drift(x, b, gamma, fmm_precision), nearest_distances(x)
    return particle_mesh_drift(x, b, gamma, pm_grid, epsilon), nearest_distances(x)
