"""Model 000: signed Coulomb charges in R^2 (van Meurs, Peletier, Slangen).

Particles (paper eq. (1.1), notes/000.md §1.1)::

    dX^i = sigma dB^i + gamma * sum_j b^i b^j K(X^i - X^j) dt,   K(x) = x / |x|^2,  K(0) := 0,

with signs ``b^i = +-1`` (equal signs repel, opposite signs attract) and optionally the
regularised kernel ``K_eps(x) = x / (|x|^2 + eps^2)`` of eq. (4.5). Mean-field scaling
``gamma = gamma_bar / N`` (eq. (5.1)).

Continuum limit (eq. (1.3)/(5.6) **with the corrected diffusion coefficient** sigma^2/2; the
paper prints ``sigma * Laplace``, a typo, see notes/000.md "Most important caveat" and §8.1)::

    d_t rho^+- = (sigma^2 / 2) Laplace rho^+- -+ gamma_bar div( rho^+- K * (rho^+ - rho^-) ).

Exact facts used by the tests (notes/000.md §5, V2-V5, V10, V11):

* the centre of mass is a Brownian motion with covariance ``sigma^2 t / N`` per coordinate;
* ``R = sigma^-2 sum_i |X^i - Xbar|^2`` is a squared Bessel process of dimension
  ``2 (N - 1) + gamma ((N_+ - N_-)^2 - N) / sigma^2`` (eq. (4.26) with I = all particles);
* the PDE second moment grows linearly, ``d/dt int |x|^2 (rho^+ + rho^-) = 2 sigma^2 m +
  gamma_bar (m_+ - m_-)^2`` with ``m = m_+ + m_-`` (notes V11);
* neutral symmetric data ``rho^+_0 = rho^-_0`` flow by the heat equation (V10);
* an isolated +- pair collides before t with probability Q(a, |D_0|^2 / (4 sigma^2 t)),
  a = gamma / sigma^2 (paper (2.6): |D|^2 / (2 sigma^2) is BESQ of dimension 2 (1 - a); notes V5).

Particle forces: compiled direct O(N^2) sum (:func:`coulomb_drift`), the 2-D Laplace fast
multipole method of pyfmmlib (:func:`fmm_drift`, exact kernel to a requested tolerance), or
particle-mesh (:func:`particle_mesh_drift`, a grid-scale regularisation); ``simulate_particles``
chooses with ``force=``.

Species labels are ``"+"`` and ``"-"``; empirical measures carry weight ``1/N`` per particle
(so ``L^{N,+-}`` has mass ``N_+-/N``, as in §5 of the paper).
"""

from __future__ import annotations

import warnings

import numpy as np
from numba import njit, prange

from meanfield.measures import Domain, GridDensity, as_generator
from meanfield.models.base import (
    Trajectory,
    check_finite_array,
    check_in_range,
    check_integer,
    check_nonnegative,
    check_positive,
    check_times,
    continuum_dataset,
)
from solvers import fft
from solvers.grids import UniformGrid

__all__ = ["SignedCoulomb2D", "coulomb_drift", "particle_mesh_drift", "fmm_drift", "particle_drift",
           "nearest_distances", "fmm_available", "SPECIES"]

SPECIES = ("+", "-")


# average of log|u| over the unit square [-1/2, 1/2]^2: -3/2 + pi/4 - (log 2)/2 (checked by quadrature)
_LOG_CELL_AVERAGE = -1.5 + np.pi / 4 - 0.5 * np.log(2.0)


# --- compiled direct O(N^2) interaction sum ------------------------------------------------
def _drift_direct_py(x, b, gamma, eps2):
    """drift_i = gamma b_i sum_{j != i} b_j K_eps(x_i - x_j) and nearest-neighbour distance_i.

    ``K(0) := 0`` (paper §1.1): coincident points contribute nothing, never a division by zero.
    """
    n = x.shape[0]
    out = np.zeros((n, 2))
    dmin = np.empty(n)
    for i in prange(n):
        fx = 0.0
        fy = 0.0
        best = np.inf
        xi = x[i, 0]
        yi = x[i, 1]
        for j in range(n):
            if j == i:
                continue
            dx = xi - x[j, 0]
            dy = yi - x[j, 1]
            r2 = dx * dx + dy * dy
            if r2 < best:
                best = r2
            den = r2 + eps2
            if den > 0.0:
                s = b[j] / den
                fx += s * dx
                fy += s * dy
        out[i, 0] = gamma * b[i] * fx
        out[i, 1] = gamma * b[i] * fy
        dmin[i] = np.sqrt(best)
    return out, dmin


_drift_parallel = njit(parallel=True, cache=True)(_drift_direct_py)
# serial twin for small N: thread start-up and spin-waits dominate there, badly so on a loaded machine
_drift_serial = njit(cache=True)(_drift_direct_py)
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
    from meanfield.measures import EmpiricalMeasure, deposit

    x = np.asarray(x, dtype=float)
    b = np.asarray(b, dtype=float)
    n_grid = check_integer("n_grid", n_grid, minimum=8)
    lo = x.min(axis=0) - 1e-9
    hi = x.max(axis=0) + 1e-9
    side = float(np.max(hi - lo))
    pad = 2 * side / n_grid
    grid = UniformGrid(lo - pad, lo - pad + side + 2 * pad, (n_grid, n_grid), periodic=False)
    q = deposit(EmpiricalMeasure(x, b), grid, order=1).values
    khat = SignedCoulomb2D.kernel_hat(grid, epsilon)
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
# Measured crossover on the 2-core machines: benchmarks/coulomb2d_forces.py.
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


# --- the model ------------------------------------------------------------------------------
class SignedCoulomb2D:
    """Signed Coulomb charges in R^2 and their two-species Keller-Segel-type limit.

    Parameters
    ----------
    sigma : float > 0
        Noise amplitude (diffusivity sigma^2/2).
    gamma_bar : float in (0, sigma^2/2)
        Mean-field interaction strength; particles use ``gamma = gamma_bar / N`` unless
        ``gamma`` is given. ``gamma_bar >= sigma^2/2`` is refused: the mean-field theory
        (Thm 5.4, condition (5.1)) does not hold there.
    gamma : float >= 0, optional
        Fixed particle interaction strength (overrides the mean-field scaling). Values
        ``gamma >= sigma^2/2`` trigger a warning: no weak-solution theory (Thm 4.1), and for
        ``gamma >= sigma^2`` opposite-sign collisions are sticky (§2.3).
    epsilon : float >= 0
        Kernel regularisation of eq. (4.5); 0 means the exact kernel.
    mass_plus, mass_minus : float
        Species masses m_+, m_- (>= 0, sum 1) of the initial data.
    centre_plus, centre_minus : (2,) floats; width : float > 0
        Initial data rho^+-_0 = m_+- N(centre_+-, width^2 I).
    """

    def __init__(self, sigma=1.0, gamma_bar=0.25, gamma=None, epsilon=0.0, mass_plus=0.5, mass_minus=0.5,
                 centre_plus=(0.0, 0.0), centre_minus=(0.0, 0.0), width=0.5):
        self.sigma = check_positive("sigma", sigma)
        self.gamma_bar = check_in_range("gamma_bar", gamma_bar, 0.0, self.sigma**2 / 2, high_open=True)
        self.gamma = None if gamma is None else check_nonnegative("gamma", gamma)
        if self.gamma is not None and self.gamma >= self.sigma**2 / 2:
            warnings.warn(
                f"gamma={self.gamma} >= sigma^2/2={self.sigma**2 / 2}: outside the well-posedness regime of "
                "Thm 4.1 (drift not integrable after a +- collision); results are Euler-Maruyama artefacts "
                "near collisions" + (" and collisions are sticky (gamma >= sigma^2)" if self.gamma >= self.sigma**2 else ""),
                RuntimeWarning, stacklevel=2)
        self.epsilon = check_nonnegative("epsilon", epsilon)
        self.mass_plus = check_in_range("mass_plus", mass_plus, 0.0, 1.0)
        self.mass_minus = check_in_range("mass_minus", mass_minus, 0.0, 1.0)
        if abs(self.mass_plus + self.mass_minus - 1.0) > 1e-12:
            raise ValueError(f"mass_plus + mass_minus must equal 1, got {self.mass_plus + self.mass_minus!r}")
        self.centre_plus = check_finite_array("centre_plus", centre_plus, (2,))
        self.centre_minus = check_finite_array("centre_minus", centre_minus, (2,))
        self.width = check_positive("width", width)
        self.domain = Domain.real(2)

    # --- parameters -------------------------------------------------------------------------
    def params(self) -> dict:
        return {"sigma": self.sigma, "gamma_bar": self.gamma_bar, "gamma": self.gamma, "epsilon": self.epsilon,
                "mass_plus": self.mass_plus, "mass_minus": self.mass_minus, "centre_plus": self.centre_plus,
                "centre_minus": self.centre_minus, "width": self.width}

    def particle_gamma(self, n: int) -> float:
        """gamma used for ``n`` particles: fixed ``gamma`` or the mean-field ``gamma_bar / n`` (5.1)."""
        return self.gamma if self.gamma is not None else self.gamma_bar / n

    def spread_dimension(self, n_plus: int, n_minus: int) -> float:
        """Dimension of the squared Bessel process sigma^-2 sum |X^i - Xbar|^2 (eq. (4.26), I = all)."""
        n = n_plus + n_minus
        g = self.particle_gamma(n)
        return 2 * (n - 1) + g * ((n_plus - n_minus) ** 2 - n) / self.sigma**2

    # --- particles --------------------------------------------------------------------------
    def sample_particles(self, n, rng=None):
        """``(positions (n, 2), signs (n,))``: N_+- = round(m_+- n) fixed (notes §6), positions i.i.d.
        from the normalised initial Gaussians (exchangeable w.r.t. b, a.s. distinct)."""
        n = check_integer("n", n, minimum=2)
        rng = as_generator(rng)
        n_plus = int(round(self.mass_plus * n))
        n_minus = n - n_plus
        xp = self.centre_plus + self.width * rng.standard_normal((n_plus, 2))
        xm = self.centre_minus + self.width * rng.standard_normal((n_minus, 2))
        signs = np.concatenate([np.ones(n_plus), -np.ones(n_minus)])
        return np.concatenate([xp, xm]), signs

    def simulate_particles(self, x0, t_end, times=None, rng=None, dt=None, method="euler", theta=0.25,
                           dt_min_fraction=1e-3, force="auto", pm_grid=256, fmm_precision=2, collision_radius=None,
                           resolve_noise=False):
        """Integrate eq. (1.1) from ``x0 = (positions, signs)``.

        Time step rule: base step ``dt`` (default ``0.01 * width^2 / sigma^2``, i.e. a hundredth of
        the diffusive time of the initial data). **Step control near close pairs:** each step is
        shortened so that no particle's drift displacement exceeds ``theta`` times its distance to
        its nearest neighbour, so the drift never carries a particle across the singularity; the
        shortened step is floored at ``dt_min_fraction * dt`` because ``dt ~ r^2`` adaptivity does not
        terminate through a +- collision (notes §6). With ``resolve_noise=True`` the step is also
        shortened so that the standard deviation sigma sqrt(2 h) of a pair's relative Brownian
        displacement stays below ``theta`` times the smallest pair distance, so noise does not carry a
        pair across the close-approach region unseen either (needed to resolve +- collisions, e.g.
        with ``collision_radius``; for small N only, as the smallest distance among many particles
        forces the floor step). ``method``: ``"euler"`` (Euler-Maruyama) or
        ``"heun"`` (stochastic Heun: trapezoidal drift, exact for additive noise up to the drift
        error; strong order 1 for smooth drift). ``force`` chooses how the interaction sum is
        evaluated (:func:`particle_drift`): ``"direct"`` compiled O(N^2), ``"fmm"`` pyfmmlib fast
        multipole (exact kernel, relative error < ``FMM_TOLERANCE[fmm_precision]``), ``"pm"``
        particle-mesh (grid-scale regularisation, ``pm_grid`` cells a side), ``"auto"`` direct below
        ``FMM_CROSSOVER_N`` particles and FMM above. ``collision_radius`` (optional, > 0): record in
        ``info["first_collision_time"]`` the first step time at which some pair is closer than it
        (``inf`` if never; checked at every step, including the short steps of the close-pair
        control, which resolve the approach). Returns a :class:`Trajectory` with species
        ``"+"``/``"-"`` and weights 1/N; ``info`` holds step counts and the number of capped steps.
        """
        pos, signs = x0
        pos = check_finite_array("x0 positions", pos)
        if pos.ndim != 2 or pos.shape[1] != 2:
            raise ValueError(f"x0 positions must have shape (n, 2), got {pos.shape}")
        signs = np.asarray(signs, dtype=float)
        if signs.shape != (pos.shape[0],) or not np.all(np.abs(signs) == 1):
            raise ValueError("x0 signs must be an array of +1/-1 of length n")
        if method not in ("euler", "heun"):
            raise ValueError(f"method must be 'euler' or 'heun', got {method!r}")
        if force not in FORCES:
            raise ValueError(f"force must be one of {FORCES}, got {force!r}")
        if force == "fmm" and self.epsilon > 0:
            raise ValueError(f"force='fmm' evaluates the exact kernel only; epsilon={self.epsilon} needs "
                             "force='direct' or 'pm'")
        if force == "fmm" and fmm_precision not in FMM_TOLERANCE:
            raise ValueError(f"fmm_precision must be one of {sorted(FMM_TOLERANCE)}, got {fmm_precision!r}")
        if force == "pm":
            pm_grid = check_integer("pm_grid", pm_grid, minimum=8)
        if collision_radius is not None:
            collision_radius = check_positive("collision_radius", collision_radius)
        ts = check_times(t_end, times)
        theta = check_in_range("theta", theta, 0.0, 1.0, low_open=True)
        dt = 0.01 * self.width**2 / self.sigma**2 if dt is None else check_positive("dt", dt)
        rng = as_generator(rng)
        n = pos.shape[0]
        gamma = self.particle_gamma(n)
        if force == "auto":
            force = "fmm" if (n >= FMM_CROSSOVER_N and self.epsilon == 0 and fmm_available()) else "direct"

        def drift(y):
            return particle_drift(y, signs, gamma, self.epsilon, force, pm_grid, fmm_precision)

        dt_min = dt * check_in_range("dt_min_fraction", dt_min_fraction, 0.0, 1.0, low_open=True)
        x = pos.copy()
        t = 0.0
        out = []
        steps = 0
        capped = 0
        t_coll = np.inf
        for t_out in ts:
            while t < t_out - 1e-14 * max(1.0, t_out):
                h = min(dt, t_out - t)
                f, dmin = drift(x)
                if collision_radius is not None and t_coll == np.inf and dmin.min() <= collision_radius:
                    t_coll = t
                speed = np.sqrt(f[:, 0] ** 2 + f[:, 1] ** 2)
                with np.errstate(divide="ignore"):
                    h_cap = np.min(np.where(speed > 0, theta * dmin / speed, np.inf))
                if resolve_noise:
                    h_cap = min(h_cap, (theta * dmin.min()) ** 2 / (2 * self.sigma**2))
                if h_cap < h:
                    h = max(h_cap, min(dt_min, h))
                    capped += 1
                dw = self.sigma * np.sqrt(h) * rng.standard_normal((n, 2))
                if method == "euler":
                    x = x + h * f + dw
                else:
                    xp = x + h * f + dw
                    fp, _ = drift(xp)
                    x = x + 0.5 * h * (f + fp) + dw
                t += h
                steps += 1
            out.append(x.copy())
        if collision_radius is not None and t_coll == np.inf and n > 1 and nearest_distances(x).min() <= collision_radius:
            t_coll = t
        lab = np.where(signs > 0, "+", "-")
        return Trajectory(ts, out, self.domain, weights=[np.full(n, 1.0 / n)] * len(ts), species=[lab] * len(ts),
                          info={"steps": steps, "capped_steps": capped, "dt": dt, "gamma": gamma, "method": method,
                                "epsilon": self.epsilon, "force": force, "first_collision_time": t_coll})

    # --- continuum --------------------------------------------------------------------------
    def default_grid(self, n=128, t_end=1.0, tail=6.0):
        """Square box holding the initial Gaussians and their diffusive spread to ``tail`` sds."""
        n = check_integer("n", n, minimum=8)
        s = np.sqrt(self.width**2 + self.sigma**2 * t_end)
        c = max(np.max(np.abs(self.centre_plus)), np.max(np.abs(self.centre_minus)))
        half = c + tail * s
        return UniformGrid((-half, -half), (half, half), (n, n), periodic=False)

    def initial_density(self, grid: UniformGrid) -> np.ndarray:
        """Cell averages of rho^+-_0 = m_+- N(c_+-, width^2 I); shape ``(2, *grid.shape)``.

        Cell averages are exact (products of error-function differences)."""
        from scipy.special import ndtr

        out = []
        for m, c in ((self.mass_plus, self.centre_plus), (self.mass_minus, self.centre_minus)):
            fac = []
            for a in range(2):
                e = (grid.axis_edges(a) - c[a]) / self.width
                fac.append(np.diff(ndtr(e)) / grid.spacing[a])
            out.append(m * np.outer(fac[0], fac[1]))
        return np.array(out)

    def velocity(self, q, grid: UniformGrid, kernel_hat=None):
        """Free-space ``K * q`` on the grid by zero padding (no periodic images)."""
        if kernel_hat is None:
            kernel_hat = self.kernel_hat(grid)
        return np.array([fft.convolve_free_space(q, kh, grid.cell_volume) for kh in kernel_hat])

    @staticmethod
    def kernel_hat(grid: UniformGrid, epsilon=0.0):
        """Transforms of both components of K (K_eps of eq. (4.5) if ``epsilon > 0``) sampled at
        displacements, K(0) := 0 (odd kernel)."""
        e2 = float(epsilon) ** 2

        def comp(a):
            def k(x, y):
                r2 = x * x + y * y
                with np.errstate(divide="ignore", invalid="ignore"):
                    return np.where(r2 > 0, (x if a == 0 else y) / (r2 + e2), 0.0)
            return k
        return [fft.free_space_kernel_hat(comp(a), grid.shape, grid.spacing) for a in range(2)]

    def free_energy(self, rho, grid: UniformGrid) -> float:
        """F = (sigma^2/2) sum_+- int rho log rho - (gamma_bar/2) int q (log|.| * q),  q = rho+ - rho-.

        [derived, not in the paper (notes §9.7)] The corrected eq. (1.3) reads
        d_t rho^+- = div(rho^+- grad(dF/drho^+-)) with dF/drho^+- = (sigma^2/2) log rho^+- -+ gamma_bar psi,
        psi = log|.| * q (K * q = grad psi), so F is non-increasing along solutions. The log
        kernel's origin cell uses its exact cell average log(h) + c_0 (square cells)."""
        rho = np.asarray(rho, dtype=float)
        q = rho[0] - rho[1]
        h = grid.spacing

        def logk(x, y):
            r2 = x * x + y * y
            with np.errstate(divide="ignore"):
                return np.where(r2 > 0, 0.5 * np.log(r2), np.log(np.sqrt(h[0] * h[1])) + _LOG_CELL_AVERAGE)

        psi = fft.convolve_free_space(q, fft.free_space_kernel_hat(logk, grid.shape, h), grid.cell_volume)
        with np.errstate(divide="ignore", invalid="ignore"):
            ent = np.where(rho > 0, rho * np.log(np.where(rho > 0, rho, 1.0)), 0.0)
        return float(self.sigma**2 / 2 * grid.integrate(ent.sum(axis=0)) - self.gamma_bar / 2 * grid.integrate(q * psi))

    def second_moment_rate(self) -> float:
        """d/dt int |x|^2 (rho^+ + rho^-) = 2 sigma^2 (m_+ + m_-) + gamma_bar (m_+ - m_-)^2 (notes V11)."""
        m = self.mass_plus + self.mass_minus
        return 2 * self.sigma**2 * m + self.gamma_bar * (self.mass_plus - self.mass_minus) ** 2

    def check_density(self, rho0, grid):
        rho0 = check_finite_array("rho0", rho0, (2, *grid.shape))
        if np.any(rho0 < 0):
            raise ValueError(f"rho0 must be non-negative, found min {rho0.min()!r}")
        return rho0

    def solve_continuum(self, rho0=None, grid: UniformGrid | None = None, t_end=None, times=None, method="spectral",
                        dt=None, cfl=0.5, resolution=128):
        """Solve the corrected eq. (1.3) and return the standard dataset (species "+", "-").

        ``rho0`` (shape ``(2, *grid.shape)``) and ``grid`` default to the model's initial density on
        ``default_grid(resolution, t_end)``, so that a study can ask for a run by settings alone.

        ``method="spectral"``: pseudo-spectral ETD2RK (Cox-Matthews) with diffusion exact in
        Fourier space, 2/3-rule dealiasing of the flux products, free-space K * q by zero padding.
        ``method="fv"``: positivity-preserving upwind finite volumes with no-flux walls, explicit
        Euler under the positivity rule below. Both conserve each species' mass to round-off.
        Step rule (unless ``dt`` is given): spectral ``dt = cfl * h / max|v|`` (drift CFL; diffusion
        is exact); FV ``dt = cfl / (4 max|v|/h + 4 D / h^2)`` which keeps every cell
        non-negative for ``cfl <= 1``.
        """
        if t_end is None:
            raise ValueError("t_end is required")
        if grid is None:
            if rho0 is not None:
                raise ValueError("rho0 was given without its grid")
            grid = self.default_grid(resolution, t_end)
        if rho0 is None:
            rho0 = self.initial_density(grid)
        rho0 = self.check_density(rho0, grid)
        ts = check_times(t_end, times)
        cfl = check_in_range("cfl", cfl, 0.0, 1.0, low_open=True)
        if method not in ("spectral", "fv"):
            raise ValueError(f"method must be 'spectral' or 'fv', got {method!r}")
        khat = self.kernel_hat(grid)
        D = self.sigma**2 / 2
        g = self.gamma_bar
        h = float(np.min(grid.spacing))
        sgn = np.array([1.0, -1.0])[:, None, None]

        def vel(rho):
            return self.velocity(rho[0] - rho[1], grid, khat)

        def rule(rho):
            v = vel(rho)
            vmax = g * float(np.max(np.abs(v))) + 1e-300
            if method == "spectral":
                return cfl * h / vmax
            return cfl / (4 * vmax / h + 4 * D / h**2)

        if method == "spectral":
            stepper = _SpectralETD2(grid, D, g, vel)
        else:
            stepper = _UpwindFV(grid, D, g, vel)
        rho = rho0.copy()
        t = 0.0
        out = []
        nsteps = 0
        for t_out in ts:
            while t < t_out - 1e-14 * max(1.0, t_out):
                step = min(dt if dt is not None else rule(rho), t_out - t)
                rho = stepper.step(rho, step)
                t += step
                nsteps += 1
            out.append(rho.copy())
        out = np.array(out)
        masses = grid.integrate(out)
        m2 = np.array([grid.integrate(r.sum(axis=0) * (grid.mesh()[0] ** 2 + grid.mesh()[1] ** 2)) for r in out])
        return continuum_dataset(ts, out, grid, species=list(SPECIES), params=self.params(),
                                 solver={"method": method, "dt": "cfl rule" if dt is None else dt, "cfl": cfl,
                                         "steps": nsteps},
                                 mass=(("time", "species"), masses), second_moment=(("time",), m2))


def _irfft2(x_hat, shape):
    """``fft.irfftn`` on a copy: with pyFFTW the c2r plan may run on the caller's (aligned) array
    and destroy it (FFTW c2r overwrites its input); reported to the lead."""
    return fft.irfftn(np.array(x_hat, copy=True), shape)


class _SpectralETD2:
    """ETD2RK (Cox & Matthews 2002) for u' = D Laplace u + N(u), N = -+ g div(rho v), on the box
    treated as periodic for derivatives (data must be negligible at the walls)."""

    def __init__(self, grid, D, g, vel):
        self.grid, self.g, self.vel = grid, g, vel
        kx, ky = grid.wavenumber_mesh(real=True)
        self.kx, self.ky = kx, ky
        self.L = -D * (kx**2 + ky**2)
        self.mask = grid.dealias_mask(real=True)
        self._h = None

    def _coeffs(self, h):
        if self._h != h:
            z = self.L * h
            ez = np.exp(z)
            small = np.abs(z) < 1e-4
            zs = np.where(small, 1.0, z)
            phi1 = np.where(small, 1 + z / 2 + z**2 / 6, (ez - 1) / zs)
            phi2 = np.where(small, 0.5 + z / 6 + z**2 / 24, (ez - 1 - z) / zs**2)
            self._h, self._c = h, (ez, phi1, phi2)
        return self._c

    def nonlinear_hat(self, rho):
        v = self.vel(rho)
        out = []
        for s, r in zip((1.0, -1.0), rho):
            fx = fft.rfftn(r * v[0]) * self.mask
            fy = fft.rfftn(r * v[1]) * self.mask
            out.append(-s * self.g * 1j * (self.kx * fx + self.ky * fy))
        return np.array(out)

    def step(self, rho, h):
        ez, phi1, phi2 = self._coeffs(h)
        shape = self.grid.shape
        u_hat = np.array([fft.rfftn(r) for r in rho])
        n0 = self.nonlinear_hat(rho)
        a_hat = ez * u_hat + h * phi1 * n0
        a = np.array([_irfft2(x, shape) for x in a_hat])
        n1 = self.nonlinear_hat(a)
        new_hat = a_hat + h * phi2 * (n1 - n0)
        return np.array([_irfft2(x, shape) for x in new_hat])


class _UpwindFV:
    """Conservative upwind finite volumes, no-flux walls: face flux = +-g v_face * rho_upwind
    - D (rho_R - rho_L)/h; explicit Euler. Positivity for dt (4 max|g v|/h + 4D/h^2) <= 1
    (each cell loses at most that fraction of its mass through its four faces)."""

    def __init__(self, grid, D, g, vel):
        self.grid, self.D, self.g, self.vel = grid, D, g, vel

    def step(self, rho, h):
        v = self.vel(rho)
        hx, hy = self.grid.spacing
        new = np.empty_like(rho)
        for k, s in enumerate((1.0, -1.0)):
            r = rho[k]
            ux = 0.5 * (v[0][1:, :] + v[0][:-1, :]) * s * self.g
            uy = 0.5 * (v[1][:, 1:] + v[1][:, :-1]) * s * self.g
            fx = np.maximum(ux, 0) * r[:-1, :] + np.minimum(ux, 0) * r[1:, :] - self.D * (r[1:, :] - r[:-1, :]) / hx
            fy = np.maximum(uy, 0) * r[:, :-1] + np.minimum(uy, 0) * r[:, 1:] - self.D * (r[:, 1:] - r[:, :-1]) / hy
            div = np.zeros_like(r)
            div[:-1, :] += fx / hx
            div[1:, :] -= fx / hx
            div[:, :-1] += fy / hy
            div[:, 1:] -= fy / hy
            new[k] = r - h * div
        return new
