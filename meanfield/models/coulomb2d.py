"""Model 000: signed Coulomb charges in R^2 (van Meurs, Peletier, Slangen).

Particles (paper eq. (1.1))::

    dX^i = sigma dB^i + gamma * sum_j b^i b^j K(X^i - X^j) dt,   K(x) = x / |x|^2,  K(0) := 0,

with signs ``b^i = +-1`` (equal signs repel, opposite signs attract) and optionally the
regularised kernel ``K_eps(x) = x / (|x|^2 + eps^2)`` of eq. (4.5). Mean-field scaling
``gamma = gamma_bar / N`` (eq. (5.1)).

Continuum limit (eq. (1.3)/(5.6) **with the corrected diffusion coefficient** sigma^2/2; the
paper prints ``sigma * Laplace``, a typo: the generator of ``sigma dB`` is ``(sigma^2/2) Laplace``,
and only this coefficient matches the particle system's second-moment law below)::

    d_t rho^+- = (sigma^2 / 2) Laplace rho^+- -+ gamma_bar div( rho^+- K * (rho^+ - rho^-) ).

Exact facts used by the tests:

* the centre of mass is a Brownian motion with covariance ``sigma^2 t / N`` per coordinate;
* ``R = sigma^-2 sum_i |X^i - Xbar|^2`` is a squared Bessel process of dimension
  ``2 (N - 1) + gamma ((N_+ - N_-)^2 - N) / sigma^2`` (eq. (4.26) with I = all particles);
* the PDE second moment grows linearly, ``d/dt int |x|^2 (rho^+ + rho^-) = 2 sigma^2 m +
  gamma_bar (m_+ - m_-)^2`` with ``m = m_+ + m_-``;
* neutral symmetric data ``rho^+_0 = rho^-_0`` flow by the heat equation;
* an isolated +- pair collides before t with probability ``Q(a, |D_0|^2 / (4 sigma^2 t))``,
  ``a = gamma / sigma^2`` (paper (2.6): ``|D|^2 / (2 sigma^2)`` is BESQ of dimension ``2 (1 - a)``, and by time
  reversal of the Bessel process its hitting time of 0 has that law).

Particle forces (in :mod:`meanfield.particles.coulomb_forces`, re-exported here): compiled direct
O(N^2) sum (:func:`coulomb_drift`), the 2-D Laplace fast multipole method of pyfmmlib
(:func:`fmm_drift`, exact kernel to a requested tolerance), or particle-mesh
(:func:`particle_mesh_drift`, a grid-scale regularisation); ``simulate_particles`` chooses with
``force=``. Time stepping goes through :func:`solvers.timestepping.integrate`: the particles with
Euler-Maruyama or stochastic Heun under the close-pair step rule
(:mod:`meanfield.particles.close_pair_step`), the continuum with ETD2RK/ETDRK4 (spectral) or forward
Euler (finite volumes) under a CFL rule.

Species labels are ``"+"`` and ``"-"``; empirical measures carry weight ``1/N`` per particle
(so ``L^{N,+-}`` has mass ``N_+-/N``, as in §5 of the paper).
"""

from __future__ import annotations

import warnings

import numpy as np

from meanfield.measures import Domain, as_generator
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
from meanfield.particles.close_pair_step import ClosePairStep, LastStateCache
from meanfield.particles.coulomb_forces import (
    FMM_CROSSOVER_N,
    FMM_TOLERANCE,
    FORCES,
    coulomb_drift,
    coulomb_kernel_hat,
    fmm_available,
    fmm_drift,
    nearest_distances,
    particle_drift,
    particle_mesh_drift,
)
from solvers import fft
from solvers.grids import UniformGrid
from solvers.timestepping import (
    DEFAULT_MAX_STEPS,
    ETD2RK,
    ETDRK4,
    EulerMaruyama,
    ForwardEuler,
    ODEProblem,
    SDEProblem,
    SemilinearProblem,
    Solution,
    StepFunction,
    StochasticHeun,
    integrate,
    step_budget,
)

__all__ = [
    "FMM_CROSSOVER_N",
    "FMM_TOLERANCE",
    "SPECIES",
    "SignedCoulomb2D",
    "coulomb_drift",
    "fmm_available",
    "fmm_drift",
    "nearest_distances",
    "particle_drift",
    "particle_mesh_drift",
]

SPECIES = ("+", "-")


# average of log|u| over the unit square [-1/2, 1/2]^2: -3/2 + pi/4 - (log 2)/2 (checked by quadrature)
_LOG_CELL_AVERAGE = -1.5 + np.pi / 4 - 0.5 * np.log(2.0)


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
        Species masses ``m_+``, ``m_-`` (>= 0, sum 1) of the initial data.
    centre_plus, centre_minus : (2,) floats; width : float > 0
        Initial data ``rho^+-_0 = m_+- N(centre_+-, width^2 I)``.
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
                "near collisions"
                + (" and collisions are sticky (gamma >= sigma^2)" if self.gamma >= self.sigma**2 else ""),
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
        """Dimension of the squared Bessel process ``sigma^-2 sum |X^i - Xbar|^2`` (eq. (4.26), I = all)."""
        n = n_plus + n_minus
        g = self.particle_gamma(n)
        return 2 * (n - 1) + g * ((n_plus - n_minus) ** 2 - n) / self.sigma**2

    # --- particles --------------------------------------------------------------------------
    def sample_particles(self, n, rng=None):
        """``(positions (n, 2), signs (n,))``: N_+- = round(m_+- n) fixed, positions i.i.d.
        from the normalised initial Gaussians (exchangeable w.r.t. b, a.s. distinct)."""
        n = check_integer("n", n, minimum=2)
        rng = as_generator(rng)
        n_plus = round(self.mass_plus * n)
        n_minus = n - n_plus
        xp = self.centre_plus + self.width * rng.standard_normal((n_plus, 2))
        xm = self.centre_minus + self.width * rng.standard_normal((n_minus, 2))
        signs = np.concatenate([np.ones(n_plus), -np.ones(n_minus)])
        return np.concatenate([xp, xm]), signs

    def simulate_particles(self, x0, t_end, times=None, rng=None, dt=None, method=None, theta=0.25,
                           dt_min_fraction=1e-3, force="auto", pm_grid=256, fmm_precision=2, collision_radius=None,
                           resolve_noise=False, scheme=None, max_steps=DEFAULT_MAX_STEPS):
        """Integrate eq. (1.1) from ``x0 = (positions, signs)`` through :func:`solvers.timestepping.integrate`.

        **Step control near close pairs** (:class:`~meanfield.particles.close_pair_step.ClosePairStep`,
        passed to the driver as its step rule): each step is shortened so that no particle's drift
        displacement exceeds ``theta`` times its distance to its nearest neighbour, so the drift never
        carries a particle across the singularity; the shortened step is floored at
        ``dt_min_fraction * dt`` because ``dt ~ r^2`` adaptivity does not terminate through a +-
        collision (the pair distance reaches 0 in finite time). The rule reuses the drift evaluation
        of the step's start state, so a step costs one drift evaluation (Euler-Maruyama) or two (Heun).
        Noise increments are ``sigma sqrt(h) z``, ``z`` standard normal of shape ``(n, 2)``, one draw
        per step from ``rng``: the same seed gives the same run bit for bit.

        Parameters
        ----------
        x0 : (positions (n, 2), signs (n,) of +-1)
        t_end, times : final time and output times (default ``[t_end]``).
        rng : seed or numpy Generator.
        dt : float > 0
            Base step (default ``0.01 * width^2 / sigma^2``, a hundredth of the diffusive time of the
            initial data); a ``dt`` that would need more than ``max_steps`` steps is refused.
        scheme : ``"euler_maruyama"`` (default; strong order 1 for this additive noise) or
            ``"stochastic_heun"`` (trapezoidal drift: strong order 1, order 2 on the drift).
        method : ``"euler"`` or ``"heun"``, the older spelling of ``scheme``.
        theta : float in (0, 1]; dt_min_fraction : float in (0, 1]
            The close-pair rule's displacement fraction and floor (``dt * dt_min_fraction`` must be
            resolvable in float64 at ``t_end``).
        resolve_noise : bool
            Also keep the standard deviation ``sigma sqrt(2 h)`` of a pair's relative Brownian
            displacement below ``theta`` times the smallest pair distance, so noise does not carry a
            pair across the close-approach region unseen either (needed to resolve +- collisions, e.g.
            with ``collision_radius``; for small N only, as the smallest distance among many
            particles forces the floor step).
        force : ``"direct"`` | ``"fmm"`` | ``"pm"`` | ``"auto"``
            How the interaction sum is evaluated (:func:`particle_drift`): compiled O(N^2), pyfmmlib
            fast multipole (exact kernel, relative error < ``FMM_TOLERANCE[fmm_precision]``),
            particle-mesh (grid-scale regularisation, ``pm_grid`` cells a side), or direct below
            ``FMM_CROSSOVER_N`` particles and FMM above.
        collision_radius : float > 0, optional
            Record in ``info["first_collision_time"]`` the first step time at which some pair is
            closer than it (``inf`` if never; checked at every step, including the short steps of the
            close-pair control, which resolve the approach).
        max_steps : int
            Cap on the number of steps (default 10^7).

        Returns
        -------
        Trajectory
            Species ``"+"``/``"-"``, weights 1/N; ``info`` holds ``steps``, ``capped_steps`` (steps the
            rule made shorter than both ``dt`` and the time left to the next output),
            ``drift_evaluations``, the scheme with its declared orders and the step rule.
        """
        pos, signs = x0
        pos = check_finite_array("x0 positions", pos)
        if pos.ndim != 2 or pos.shape[1] != 2:
            raise ValueError(f"x0 positions must have shape (n, 2), got {pos.shape}")
        signs = np.asarray(signs, dtype=float)
        if signs.shape != (pos.shape[0],) or not np.all(np.abs(signs) == 1):
            raise ValueError("x0 signs must be an array of +1/-1 of length n")
        method, stepper = _sde_scheme(method, scheme)
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
        dt_min_fraction = check_in_range("dt_min_fraction", dt_min_fraction, 0.0, 1.0, low_open=True)
        step_budget("dt", dt, ts[-1], max_steps)
        if dt * dt_min_fraction <= _STEP_RESOLUTION * max(1.0, ts[-1]):
            raise ValueError(f"dt_min_fraction={dt_min_fraction!r} makes the floor step dt * dt_min_fraction = "
                             f"{dt * dt_min_fraction:.3g} fall below the resolution of float64 at t_end={ts[-1]}")
        rng = as_generator(rng)
        n = pos.shape[0]
        gamma = self.particle_gamma(n)
        if force == "auto":
            force = "fmm" if (n >= FMM_CROSSOVER_N and self.epsilon == 0 and fmm_available()) else "direct"

        evaluate = LastStateCache(
            lambda y: particle_drift(y, signs, gamma, self.epsilon, force, pm_grid, fmm_precision))
        problem = SDEProblem(drift=lambda t, y: evaluate(y)[0], diffusion=self.sigma)
        rule = ClosePairStep(evaluate, dt, theta, dt_min_fraction, noise_sigma=self.sigma if resolve_noise else None,
                             collision_radius=collision_radius, save_at=ts)
        sol = _integrate_from_zero(stepper, problem, pos, ts, rule, rng=rng, max_steps=max_steps)
        x = sol.states[-1]
        t_coll = rule.first_collision_time
        if collision_radius is not None and t_coll == np.inf and n > 1 \
                and nearest_distances(x).min() <= collision_radius:
            t_coll = ts[-1]
        lab = np.where(signs > 0, "+", "-")
        return Trajectory(ts, sol.states, self.domain, weights=[np.full(n, 1.0 / n)] * len(ts), species=[lab] * len(ts),
                          info={"steps": sol.steps, "capped_steps": rule.capped, "dt": dt, "gamma": gamma,
                                "method": method, **stepper.describe(), **rule.describe(),
                                "drift_evaluations": evaluate.evaluations, "epsilon": self.epsilon, "force": force,
                                "first_collision_time": t_coll})

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
        displacements, K(0) := 0 (odd kernel): :func:`~meanfield.particles.coulomb_forces.coulomb_kernel_hat`."""
        return coulomb_kernel_hat(grid, epsilon)

    def free_energy(self, rho, grid: UniformGrid) -> float:
        """F = (sigma^2/2) sum_+- int rho log rho - (gamma_bar/2) int q (log|.| * q),  q = rho+ - rho-.

        [derived here, not in the paper] The corrected eq. (1.3) reads
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
        """``d/dt int |x|^2 (rho^+ + rho^-) = 2 sigma^2 (m_+ + m_-) + gamma_bar (m_+ - m_-)^2``."""
        m = self.mass_plus + self.mass_minus
        return 2 * self.sigma**2 * m + self.gamma_bar * (self.mass_plus - self.mass_minus) ** 2

    def check_density(self, rho0, grid):
        rho0 = check_finite_array("rho0", rho0, (2, *grid.shape))
        if np.any(rho0 < 0):
            raise ValueError(f"rho0 must be non-negative, found min {rho0.min()!r}")
        return rho0

    def continuum_problem(self, grid: UniformGrid, method="spectral"):
        """The corrected eq. (1.3) on ``grid`` as a problem for :func:`solvers.timestepping.integrate`.

        Returns ``(problem, velocity)``: ``velocity(rho)`` is ``K * (rho^+ - rho^-)`` (free space, by
        zero padding), remembered for the last state it saw so that a step rule and the scheme's first
        stage share one evaluation. The state is ``rho`` of shape ``(2, *grid.shape)`` in both cases.

        ``method="spectral"``: a :class:`~solvers.timestepping.SemilinearProblem`, linear part
        ``-(sigma^2/2) |k|^2`` diagonal in the basis of the real 2-D FFT of each species (the box is
        treated as periodic for derivatives: data must be negligible at the walls), nonlinear part
        ``-+ gamma_bar i k . FFT(rho^+- v)`` with the 2/3-rule dealiasing of the flux products.
        ``method="fv"``: an :class:`~solvers.timestepping.ODEProblem`, conservative upwind finite
        volumes with no-flux walls, face flux ``+-gamma_bar v_face rho_upwind - D (rho_R - rho_L)/h``.
        """
        if method not in _SCHEMES:
            raise ValueError(f"method must be one of {tuple(_SCHEMES)}, got {method!r}")
        khat = self.kernel_hat(grid)
        velocity = LastStateCache(lambda rho: self.velocity(rho[0] - rho[1], grid, khat))
        D = self.sigma**2 / 2
        if method == "spectral":
            return _spectral_problem(grid, D, self.gamma_bar, velocity), velocity
        return _upwind_fv_problem(grid, D, self.gamma_bar, velocity), velocity

    def solve_continuum(self, rho0=None, grid: UniformGrid | None = None, t_end=None, times=None, method="spectral",
                        dt=None, cfl=0.5, resolution=128, scheme=None, max_steps=DEFAULT_MAX_STEPS):
        """Solve the corrected eq. (1.3) and return the standard dataset (species "+", "-").

        ``rho0`` (shape ``(2, *grid.shape)``) and ``grid`` default to the model's initial density on
        ``default_grid(resolution, t_end)``, so that a study can ask for a run by settings alone.

        ``method="spectral"``: pseudo-spectral, diffusion exact in Fourier space, 2/3-rule dealiasing
        of the flux products, free-space K * q by zero padding (:meth:`continuum_problem`), advanced by
        ``scheme="etd2rk"`` (default; Cox-Matthews ETD2RK, order 2) or ``"etdrk4"`` (order 4).
        ``method="fv"``: positivity-preserving upwind finite volumes with no-flux walls, explicit
        (forward) Euler (``scheme="forward_euler"``, the only one) under the positivity rule below.
        Both conserve each species' mass to round-off.
        Step rule (unless ``dt`` is given): spectral ``dt = cfl * h / max|v|`` (drift CFL; diffusion
        is exact); FV ``dt = cfl / (4 max|v|/h + 4 D / h^2)`` which keeps every cell
        non-negative for ``cfl <= 1`` (each cell loses at most that fraction of its mass through its
        four faces). The rule is evaluated at the start of each step. All stepping goes through
        :func:`solvers.timestepping.integrate`; the dataset's ``solver_*`` attributes record the
        scheme, its declared order, the step rule and the number of steps. A fixed ``dt`` that needs
        more than ``max_steps`` steps, or a rule whose first step does, is refused before stepping.
        """
        if t_end is None:
            raise ValueError("t_end is required")
        if method not in _SCHEMES:
            raise ValueError(f"method must be one of {tuple(_SCHEMES)}, got {method!r}")
        scheme = next(iter(_SCHEMES[method])) if scheme is None else scheme
        if scheme not in _SCHEMES[method]:
            raise ValueError(f"scheme must be one of {tuple(_SCHEMES[method])} for method={method!r}, got {scheme!r}")
        ts = check_times(t_end, times)
        cfl = check_in_range("cfl", cfl, 0.0, 1.0, low_open=True)
        if dt is not None:
            dt = step_budget("dt", check_positive("dt", dt), ts[-1], max_steps)
        if grid is None:
            if rho0 is not None:
                raise ValueError("rho0 was given without its grid")
            grid = self.default_grid(resolution, t_end)
        if rho0 is None:
            rho0 = self.initial_density(grid)
        rho0 = self.check_density(rho0, grid)
        problem, velocity = self.continuum_problem(grid, method)
        D = self.sigma**2 / 2
        h = float(np.min(grid.spacing))

        def cfl_rule(_t, rho):
            vmax = self.gamma_bar * float(np.max(np.abs(velocity(rho)))) + 1e-300
            if method == "spectral":
                return cfl * h / vmax
            return cfl / (4 * vmax / h + 4 * D / h**2)

        if dt is None:
            step_budget(f"cfl={cfl!r} gives a first step", cfl_rule(0.0, rho0), ts[-1], max_steps)
        rule_name = "drift_cfl" if method == "spectral" else "fv_positivity"
        step = dt if dt is not None else StepFunction(cfl_rule, rule_name)
        stepper = _SCHEMES[method][scheme]()
        sol = _integrate_from_zero(stepper, problem, rho0, ts, step, max_steps=max_steps)
        out = np.array(sol.states)
        masses = grid.integrate(out)
        m2 = np.array([grid.integrate(r.sum(axis=0) * (grid.mesh()[0] ** 2 + grid.mesh()[1] ** 2)) for r in out])
        return continuum_dataset(ts, out, grid, species=list(SPECIES), params=self.params(),
                                 solver={"method": method, "dt": "cfl rule" if dt is None else dt, "cfl": cfl,
                                         "steps": sol.steps, **sol.info},
                                 mass=(("time", "species"), masses), second_moment=(("time",), m2))


# --- wiring to the time-stepping layer ------------------------------------------------------
_SCHEMES = {"spectral": {"etd2rk": ETD2RK, "etdrk4": ETDRK4}, "fv": {"forward_euler": ForwardEuler}}
_SDE_SCHEMES = {"euler_maruyama": EulerMaruyama, "stochastic_heun": StochasticHeun}
_SDE_METHODS = {"euler": "euler_maruyama", "heun": "stochastic_heun"}
_STEP_RESOLUTION = 4 * np.finfo(float).eps  # a step below this times max(1, t) does not advance t


def _sde_scheme(method, scheme):
    """``(method name, stepper)`` from ``scheme`` (preferred) or its older spelling ``method``."""
    if method is not None and method not in _SDE_METHODS:
        raise ValueError(f"method must be 'euler' or 'heun', got {method!r}")
    if scheme is not None:
        name = _SDE_METHODS.get(scheme, scheme)
        if name not in _SDE_SCHEMES:
            raise ValueError(f"scheme must be one of {tuple(_SDE_SCHEMES)} (or 'euler', 'heun'), got {scheme!r}")
        if method is not None and _SDE_METHODS[method] != name:
            raise ValueError(f"method={method!r} and scheme={scheme!r} disagree; give scheme only")
    else:
        name = _SDE_METHODS[method or "euler"]
    method = next(k for k, v in _SDE_METHODS.items() if v == name)
    return method, _SDE_SCHEMES[name]()


def _integrate_from_zero(stepper, problem, y0, ts, step, **kw):
    """:func:`integrate` from t = 0 to the last output time ``ts[-1]``; outputs at t = 0 only need no step."""
    if ts[-1] == 0:
        return Solution(times=ts, states=[np.array(y0, copy=True) for _ in ts])
    return integrate(stepper, problem, y0, ts[-1], ts, step, **kw)


def _irfft2(x_hat, shape):
    """``fft.irfftn`` on a copy: with pyFFTW the c2r plan may run on the caller's (aligned) array
    and destroy it (FFTW c2r overwrites its input)."""
    return fft.irfftn(np.array(x_hat, copy=True), shape)


def _spectral_problem(grid, D, g, velocity):
    """Semilinear form of eq. (1.3) for ETD schemes (:meth:`SignedCoulomb2D.continuum_problem`)."""
    kx, ky = grid.wavenumber_mesh(real=True)
    mask = grid.dealias_mask(real=True)
    shape = grid.shape

    def nonlinear(_t, rho):
        v = velocity(rho)
        out = []
        for s, r in zip((1.0, -1.0), rho, strict=True):
            fx = fft.rfftn(r * v[0]) * mask
            fy = fft.rfftn(r * v[1]) * mask
            out.append(-s * g * 1j * (kx * fx + ky * fy))
        return np.array(out)

    def forward(rho):
        return np.array([fft.rfftn(r) for r in rho])

    def inverse(rho_hat):
        return np.array([_irfft2(x, shape) for x in rho_hat])

    return SemilinearProblem(-D * (kx**2 + ky**2), nonlinear, forward, inverse)


def _upwind_fv_problem(grid, D, g, velocity):
    """Upwind finite-volume right-hand side of eq. (1.3) (:meth:`SignedCoulomb2D.continuum_problem`):
    ``d rho/dt = -div_h F`` with the face fluxes ``F`` of the docstring there."""
    hx, hy = grid.spacing

    def rhs(_t, rho):
        v = velocity(rho)
        out = np.empty_like(rho)
        for k, s in enumerate((1.0, -1.0)):
            r = rho[k]
            ux = 0.5 * (v[0][1:, :] + v[0][:-1, :]) * s * g
            uy = 0.5 * (v[1][:, 1:] + v[1][:, :-1]) * s * g
            fx = np.maximum(ux, 0) * r[:-1, :] + np.minimum(ux, 0) * r[1:, :] - D * (r[1:, :] - r[:-1, :]) / hx
            fy = np.maximum(uy, 0) * r[:, :-1] + np.minimum(uy, 0) * r[:, 1:] - D * (r[:, 1:] - r[:, :-1]) / hy
            div = np.zeros_like(r)
            div[:-1, :] += fx / hx
            div[1:, :] -= fx / hx
            div[:, :-1] += fy / hy
            div[:, 1:] -= fy / hy
            out[k] = -div
        return out

    return ODEProblem(rhs)
