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

The kernel is open to the user: ``kernel=phi`` gives ``K(x) = phi(|x|) x`` (``K(0) := 0``; the paper's
K is ``phi(r) = 1/r^2``), used by the particles and both continuum solvers; initial data of the
user's own go in through ``initial=`` (callable densities or GridDensity per species). Theory page:
docs/theory/000-signed-coulomb.md.

This module holds the equations, parameters, presets and wiring; the engines live in
:mod:`meanfield.particles`: the force evaluators in :mod:`meanfield.particles.coulomb_forces`
(re-exported here: compiled direct O(N^2) sum :func:`coulomb_drift`, NumPy sum :func:`radial_drift`
for a custom kernel, the 2-D Laplace fast multipole method of pyfmmlib :func:`fmm_drift`, exact
kernel to a requested tolerance, or particle-mesh :func:`particle_mesh_drift`, a grid-scale
regularisation; ``simulate_particles`` chooses with ``force=``), the SDE driver in
:mod:`meanfield.particles.coulomb_sde` (Euler-Maruyama or stochastic Heun through
:func:`meanfield.solvers.timestepping.integrate` under the close-pair step rule of
:mod:`meanfield.particles.close_pair_step`). The continuum goes through the same driver with
ETD2RK/ETDRK4 (``scheme="spectral"``) or forward Euler (``scheme="finite_volume"``) under a CFL rule.

Model contract (:mod:`meanfield.models.contract`): ``species = ("+", "-")`` (this order in
particle and continuum outputs), ``params`` (a property with every constructor argument),
``initial_density(grid)`` (a dict of GridDensity), ``sample_particles(n, rng, initial)``,
``simulate_particles(state, t_end, times, rng, *, scheme, force, ...)``,
``solve_continuum(t_end, times, initial, *, grid | resolution, scheme, stepper, ...)``. Empirical
measures carry weight ``m_+-/N_+-`` per particle of species +- (:func:`species_weights`), so each species
carries exactly its mass ``m_+-``: this is the paper's ``1/N`` of §5 when ``N_+- = m_+- N`` (the default
samples of even N with equal masses), and otherwise the paper's ``L^{N,+-}`` rescaled by ``m_+- N/N_+-`` — a
factor ``1 + O(1/N)`` for rounded counts, so that particles and continuum can be compared in Wasserstein
distances, which need equal masses.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np

from meanfield.measures import Domain, GridDensity, as_generator
from meanfield.models.base import (
    Trajectory,
    check_finite_array,
    check_in_range,
    check_integer,
    check_memory,
    check_nonnegative,
    check_positive,
    check_times,
    continuum_dataset,
)
from meanfield.models.contract import initial_densities
from meanfield.particles.close_pair_step import LastStateCache
from meanfield.particles.coulomb_forces import (
    FMM_CROSSOVER_N,
    FMM_TOLERANCE,
    check_charges,
    check_radial_profile,
    coulomb_drift,
    drift_function,
    fmm_available,
    fmm_drift,
    kernel_hat,
    nearest_distances,
    particle_drift,
    particle_mesh_drift,
    radial_drift,
    resolve_force,
)
from meanfield.particles.coulomb_sde import (
    integrate_from_zero,
    resolve_step,
    sde_stepper,
    simulate_charges,
    simulate_charges_multirate,
)
from meanfield.solvers import fft
from meanfield.solvers.grids import UniformGrid
from meanfield.solvers.timestepping import (
    DEFAULT_MAX_STEPS,
    ETD2RK,
    ETDRK4,
    ForwardEuler,
    ODEProblem,
    SemilinearProblem,
    StepFunction,
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
    "radial_drift",
    "species_weights",
]

SPECIES = ("+", "-")


# average of log|u| over the unit square [-1/2, 1/2]^2: -3/2 + pi/4 - (log 2)/2 (checked by quadrature)
_LOG_CELL_AVERAGE = -1.5 + np.pi / 4 - 0.5 * np.log(2.0)


def _point(name, value):
    """A finite point of R^2 (TypeError naming ``name`` for strings, None, complex entries)."""
    a = np.asarray(value) if not isinstance(value, (str, bytes)) and value is not None else None
    if a is None or a.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a pair of real numbers, got {value!r}")
    return check_finite_array(name, a, (2,))


def _check_grid(grid, name="grid"):
    if not isinstance(grid, UniformGrid) or grid.ndim != 2:
        raise TypeError(f"{name} must be a 2-D meanfield.solvers.grids.UniformGrid, got {grid!r}")
    return grid


# --- the model ------------------------------------------------------------------------------
def species_weights(signs, mass_plus: float, mass_minus: float) -> np.ndarray:
    """Particle weights ``m_+/N_+`` for the positive and ``m_-/N_-`` for the negative charges: each species'
    empirical measure has exactly the species' mass (module docstring)."""
    signs = np.asarray(signs)
    plus = signs > 0
    n_plus, n_minus = int(plus.sum()), int((~plus).sum())
    return np.where(plus, mass_plus / max(n_plus, 1), mass_minus / max(n_minus, 1))


class SignedCoulomb2D:
    """Signed Coulomb charges in R^2 and their two-species Keller-Segel-type limit.

    Species labels ``("+", "-")`` in this order (:attr:`species`), in particle and continuum outputs.

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
        Kernel regularisation of eq. (4.5), ``K_eps(x) = x / (|x|^2 + eps^2)``; 0 means the exact
        kernel ``K(x) = x / |x|^2``. Used by the particles and by both continuum solvers.
    mass_plus, mass_minus : float
        Species masses ``m_+``, ``m_-`` (>= 0, sum 1) of the initial data.
    centre_plus, centre_minus : (2,) floats; width : float > 0
        The preset initial data ``rho^+-_0 = m_+- N(centre_+-, width^2 I)`` (``initial=None``).
    kernel : None or callable
        The interaction kernel. None (default) is the paper's K (``epsilon = 0``) or K_eps
        (``epsilon > 0``). A callable ``phi`` gives the radially symmetric kernel
        ``K(x) = phi(|x|) x`` (``x != 0``), ``K(0) := 0``: ``phi`` takes a NumPy array of distances
        ``r > 0`` and returns finite reals of the same shape; the paper's K is ``phi(r) = 1/r^2``
        and K_eps is ``phi(r) = 1/(r^2 + eps^2)``; ``phi > 0`` makes equal signs repel. It is used by
        the particles (``force="direct"``, a NumPy sum, or ``"pm"``; the FMM sums the Coulomb kernel
        only and is refused) and by both continuum solvers (its samples on the zero-padded grid,
        with the singular cell set to 0 as for K). A custom kernel with ``epsilon > 0`` is refused,
        and one is outside the paper's theorems (Thm 4.1, Thm 5.4): a UserWarning says so.
    """

    species = SPECIES

    def __init__(self, sigma=1.0, gamma_bar=0.25, gamma=None, epsilon=0.0, mass_plus=0.5, mass_minus=0.5,
                 centre_plus=(0.0, 0.0), centre_minus=(0.0, 0.0), width=0.5, kernel=None):
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
        self.centre_plus = _point("centre_plus", centre_plus)
        self.centre_minus = _point("centre_minus", centre_minus)
        self.width = check_positive("width", width)
        self.kernel = None if kernel is None else check_radial_profile(kernel, "kernel")
        if self.kernel is not None:
            if self.epsilon > 0:
                raise ValueError(f"epsilon={self.epsilon} regularises the paper's kernel; a custom kernel carries its "
                                 "own regularisation (give epsilon=0)")
            warnings.warn("kernel: a custom interaction kernel is outside the paper's theorems (well-posedness "
                          "Thm 4.1, mean-field limit Thm 5.4, both for K); the solvers compute it as given",
                          UserWarning, stacklevel=2)
        self.domain = Domain.real(2)

    # --- parameters -------------------------------------------------------------------------
    @property
    def params(self) -> dict:
        """Every constructor argument under its name (``type(m)(**m.params)`` rebuilds the model)."""
        return {"sigma": self.sigma, "gamma_bar": self.gamma_bar, "gamma": self.gamma, "epsilon": self.epsilon,
                "mass_plus": self.mass_plus, "mass_minus": self.mass_minus, "centre_plus": self.centre_plus,
                "centre_minus": self.centre_minus, "width": self.width, "kernel": self.kernel}

    @property
    def masses(self) -> dict:
        """``{"+": m_+, "-": m_-}``."""
        return {"+": self.mass_plus, "-": self.mass_minus}

    def _paper_kernel_only(self, what):
        if self.kernel is not None or self.epsilon > 0:
            raise ValueError(f"{what} holds for the paper's exact kernel K only (kernel=None, epsilon=0); this "
                             f"model has {'a custom kernel' if self.kernel is not None else f'epsilon={self.epsilon}'}")

    def particle_gamma(self, n: int) -> float:
        """gamma used for ``n`` particles: fixed ``gamma`` or the mean-field ``gamma_bar / n`` (5.1)."""
        n = check_integer("n", n, minimum=1)
        return self.gamma if self.gamma is not None else self.gamma_bar / n

    def spread_dimension(self, n_plus: int, n_minus: int) -> float:
        """Dimension of the squared Bessel process ``sigma^-2 sum |X^i - Xbar|^2`` (eq. (4.26), I = all;
        exact kernel K only)."""
        self._paper_kernel_only("the squared Bessel law (4.26)")
        n_plus = check_integer("n_plus", n_plus, minimum=0)
        n_minus = check_integer("n_minus", n_minus, minimum=0)
        n = n_plus + n_minus
        g = self.particle_gamma(n)
        return 2 * (n - 1) + g * ((n_plus - n_minus) ** 2 - n) / self.sigma**2

    # --- particles --------------------------------------------------------------------------
    def sample_particles(self, n, rng=None, initial=None, *, grid=None):
        """``(positions (n, 2), signs (n,))`` with ``N_+ = round(m_+ n)`` positive and ``N_- = n - N_+``
        negative charges (exact counts), positions i.i.d. from each species' normalised initial density
        (exchangeable w.r.t. b, a.s. distinct); the ``N_+`` positive charges come first.

        ``initial=None``: the preset Gaussians ``m_+- N(centre_+-, width^2 I)``, sampled exactly.
        ``initial={"+": f_plus, "-": f_minus}``: each value a callable density ``f(x, y)`` or a
        :class:`~meanfield.measures.GridDensity`. A callable is cell-averaged on ``grid`` (default
        ``default_grid(256, 1.0)``, a box of 6 standard deviations of the preset spread; give a larger
        ``grid`` for data reaching further out: mass outside the box is not sampled) by a 2x2-point
        Gauss rule and normalised to the species' mass (:func:`~meanfield.models.contract.density_on_grid`);
        a GridDensity must carry the species' mass and live on ``grid`` (default: its own grid). Positions are
        then drawn from the piecewise-constant density (a cell by its mass, a uniform point in it:
        :meth:`GridDensity.sample`).
        """
        n = check_integer("n", n, minimum=2)
        check_memory(40 * n, f"sample_particles(n={n})")
        rng = as_generator(rng)
        n_plus = round(self.mass_plus * n)
        n_minus = n - n_plus
        if initial is None:
            xp = self.centre_plus + self.width * rng.standard_normal((n_plus, 2))
            xm = self.centre_minus + self.width * rng.standard_normal((n_minus, 2))
        else:
            dens = self._sampling_densities(initial, grid)
            xp, xm = (dens[s].sample(k, rng).positions if k > 0 else np.empty((0, 2))
                      for s, k in (("+", n_plus), ("-", n_minus)))
        signs = np.concatenate([np.ones(n_plus), -np.ones(n_minus)])
        return np.concatenate([xp, xm]), signs

    def _sampling_densities(self, initial, grid):
        """``{label: GridDensity}`` to sample from (:meth:`sample_particles`)."""
        if isinstance(initial, Mapping):
            own = [v.grid for v in initial.values() if isinstance(v, GridDensity)]
            if own and grid is None and all(g == own[0] for g in own) and len(own) == len(initial):
                grid = own[0]
        grid = self.default_grid(256, 1.0) if grid is None else _check_grid(grid)
        return initial_densities(initial, SPECIES, grid, self.masses)

    def simulate_particles(self, state, t_end, times=None, rng=None, *, scheme=None, force="auto", dt=None,
                           theta=0.25, dt_min_fraction=1e-3, pm_grid=256, fmm_precision=2, collision_radius=None,
                           resolve_noise=False, max_steps=DEFAULT_MAX_STEPS, method=None, step="auto"):
        """Integrate eq. (1.1) from ``state = (positions, signs)`` with the engine
        :func:`meanfield.particles.coulomb_sde.simulate_charges` (through
        :func:`meanfield.solvers.timestepping.integrate`), the drift given to it as a value
        (:func:`meanfield.particles.coulomb_forces.drift_function`, with the model's kernel).

        **Step control near close pairs** (:class:`~meanfield.particles.close_pair_step.ClosePairStep`,
        passed to the driver as its step rule): each step is shortened so that no particle's drift
        displacement exceeds ``theta`` times its distance to its nearest neighbour, so the drift never
        carries a particle across the singularity; the shortened step is floored at
        ``dt_min_fraction * dt`` because ``dt ~ r^2`` adaptivity does not terminate through a +-
        collision (the pair distance reaches 0 in finite time). The rule reuses the drift evaluation
        of the step's start state, so a step costs one drift evaluation (Euler-Maruyama) or two (Heun).
        Noise increments are ``sigma sqrt(h) z``, ``z`` standard normal of shape ``(n, 2)``, one draw
        per step from ``rng``: the same seed gives the same run bit for bit.

        **Multirate stepping** (``step="multirate"``, the default from
        :data:`~meanfield.particles.coulomb_sde.MULTIRATE_MIN_N` particles;
        :mod:`meanfield.particles.multirate_step`): the rule above makes the whole system's step that of its
        closest pair, so the number of steps grows like N. The multirate rule instead takes Euler-Maruyama
        steps of ``dt`` for every particle (one force evaluation per step) and advances only the close
        groups -- charges closer than ``sqrt(2 |gamma| dt / theta)``, whose own interaction would move them
        by more than ``theta`` times their distance in one step -- by substeps of the rule above with the
        far field frozen over the step; for an isolated pair it is the rule above.

        Parameters
        ----------
        state : (positions (n, 2), signs (n,) of +-1), n >= 1
        t_end, times : final time and output times (default ``[t_end]``).
        rng : seed or numpy Generator.
        scheme : ``"euler_maruyama"`` (default; strong order 1 for this additive noise) or
            ``"stochastic_heun"`` (trapezoidal drift: strong order 1, order 2 on the drift).
        method : ``"euler"`` or ``"heun"``, the older spelling of ``scheme`` (deprecated:
            DeprecationWarning).
        dt : float > 0
            Base step (default ``0.01 * width^2 / sigma^2``, a hundredth of the diffusive time of the
            initial data); a ``dt`` that would need more than ``max_steps`` steps is refused.
        theta : float in (0, 1]; dt_min_fraction : float in (0, 1]
            The close-pair rule's displacement fraction and floor (``dt * dt_min_fraction`` must be
            resolvable in float64 at ``t_end``).
        resolve_noise : bool
            Also keep the standard deviation ``sigma sqrt(2 h)`` of a pair's relative Brownian
            displacement below ``theta`` times the smallest pair distance, so noise does not carry a
            pair across the close-approach region unseen either (needed to resolve +- collisions, e.g.
            with ``collision_radius``; for small N only, as the smallest distance among many
            particles forces the floor step).
        force : ``"direct"`` | ``"fmm"`` | ``"p3m"`` | ``"pm"`` | ``"auto"``
            How the interaction sum is evaluated (:func:`particle_drift`): compiled O(N^2) (NumPy for a
            custom kernel), pyfmmlib fast multipole (exact kernel only, relative error <
            ``FMM_TOLERANCE[fmm_precision]``), P3M (exact kernel only, Gaussian-split mesh plus near
            field, as accurate as the FMM), particle-mesh (grid-scale regularisation, ``pm_grid`` cells a
            side), or direct below ``FMM_CROSSOVER_N`` particles, FMM above and P3M from
            ``P3M_CROSSOVER_N`` (exact kernel; :func:`~meanfield.particles.coulomb_forces.resolve_force`).
        collision_radius : float > 0, optional
            Record in ``info["first_collision_time"]`` the first step time at which some pair is
            closer than it (``inf`` if never; checked at every step, including the short steps of the
            close-pair control, which resolve the approach).
        max_steps : int
            Cap on the number of steps (default 10^7).
        step : ``"auto"`` | ``"global"`` | ``"multirate"``
            The step rule: ``"global"`` (the close-pair rule above for the whole system), ``"multirate"``
            (Euler-Maruyama, the paper's kernel, direct, FMM or P3M forces only), ``"auto"`` (multirate from
            ``MULTIRATE_MIN_N`` = 1024 particles when it applies, else global).

        Returns
        -------
        Trajectory
            Species ``"+"``/``"-"``, weights ``m_+-/N_+-`` (:func:`species_weights`);
            ``info`` holds ``steps``, ``capped_steps`` (steps the
            rule made shorter than both ``dt`` and the time left to the next output),
            ``drift_evaluations``, the scheme with its declared orders and the step rule; with the
            multirate rule ``capped_steps`` counts the close groups' substeps shorter than the time left
            in their global step, and ``substeps``, ``grouped`` (close-group members summed over the
            steps), ``largest_group`` and ``halvings`` (global steps halved because a close group
            outgrew 64 charges) are added.
        """
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise TypeError(f"state must be a pair (positions (n, 2), signs (n,)), got {type(state).__name__}")
        pos, signs = check_charges(state[0], state[1], "state positions", "state signs")
        if not np.all(np.abs(signs) == 1):
            raise ValueError("state signs must be an array of +1/-1 of length n")
        short, stepper = sde_stepper(scheme, method)
        n = pos.shape[0]
        force_used = resolve_force(force, n, self.epsilon, self.kernel, fmm_precision, pm_grid)
        if collision_radius is not None:
            collision_radius = check_positive("collision_radius", collision_radius)
        ts = check_times(t_end, times)
        theta = check_in_range("theta", theta, 0.0, 1.0, low_open=True)
        dt = 0.01 * self.width**2 / self.sigma**2 if dt is None else check_positive("dt", dt)
        dt_min_fraction = check_in_range("dt_min_fraction", dt_min_fraction, 0.0, 1.0, low_open=True)
        max_steps = check_integer("max_steps", max_steps, minimum=1)
        rng = as_generator(rng)
        gamma = self.particle_gamma(n)
        step = resolve_step(step, n, short, force_used, self.kernel is not None)
        if step == "multirate":
            return self._simulate_multirate(pos, signs, ts, rng, gamma, force_used, fmm_precision, dt, theta,
                                            dt_min_fraction, bool(resolve_noise), collision_radius, max_steps,
                                            stepper.describe())
        drift = drift_function(signs, gamma, self.epsilon, force_used, pm_grid, fmm_precision, self.kernel)
        sol, rule, evaluate = simulate_charges(drift, pos, self.sigma, ts, rng, dt=dt, stepper=stepper, theta=theta,
                                               dt_min_fraction=dt_min_fraction, resolve_noise=bool(resolve_noise),
                                               collision_radius=collision_radius, max_steps=max_steps)
        return self._trajectory(ts, sol.states, signs, {
            "steps": sol.steps, "capped_steps": rule.capped, "dt": dt, "gamma": gamma, "method": short,
            **stepper.describe(), **rule.describe(), "drift_evaluations": evaluate.evaluations,
            "epsilon": self.epsilon, "kernel": "custom" if self.kernel is not None else "paper", "force": force_used,
            "first_collision_time": rule.first_collision_time})

    def _trajectory(self, ts, states, signs, info):
        """The particle run's Trajectory: species labels ``"+"``/``"-"``, weights ``m_+-/N_+-``."""
        lab = np.where(signs > 0, "+", "-")
        weights = species_weights(signs, self.mass_plus, self.mass_minus)
        return Trajectory(ts, states, self.domain, weights=[weights] * len(ts), species=[lab] * len(ts),
                          labels=self.species, info=info)

    def _simulate_multirate(self, pos, signs, ts, rng, gamma, force_used, fmm_precision, dt, theta, dt_min_fraction,
                            resolve_noise, collision_radius, max_steps, scheme_info):
        """:meth:`simulate_particles` with ``step="multirate"`` (checked arguments)."""
        sol, mr = simulate_charges_multirate(signs, gamma, self.epsilon, force_used, fmm_precision, pos, self.sigma,
                                             ts, rng, dt=dt, theta=theta, dt_min_fraction=dt_min_fraction,
                                             resolve_noise=resolve_noise, collision_radius=collision_radius,
                                             max_steps=max_steps)
        return self._trajectory(ts, sol.states, signs, {
            "steps": sol.steps, "capped_steps": mr.capped, "dt": dt, "gamma": gamma, "method": "euler",
            **scheme_info, "step_rule": "multirate", "theta": theta, "dt_min": dt * dt_min_fraction,
            "resolve_noise": resolve_noise, "drift_evaluations": mr.evaluations, "substeps": mr.substeps,
            "grouped": mr.grouped, "largest_group": mr.largest_group, "halvings": mr.halvings,
            "epsilon": self.epsilon, "kernel": "paper", "force": force_used,
            "first_collision_time": mr.first_collision_time})

    # --- continuum --------------------------------------------------------------------------
    def default_grid(self, n=128, t_end=1.0, tail=6.0):
        """Square box holding the initial Gaussians and their diffusive spread to ``tail`` sds."""
        n = check_integer("n", n, minimum=8)
        t_end = check_nonnegative("t_end", t_end)
        tail = check_positive("tail", tail)
        s = np.sqrt(self.width**2 + self.sigma**2 * t_end)
        c = max(np.max(np.abs(self.centre_plus)), np.max(np.abs(self.centre_minus)))
        half = c + tail * s
        return UniformGrid((-half, -half), (half, half), (n, n), periodic=False)

    def _preset_array(self, grid: UniformGrid) -> np.ndarray:
        """Cell averages of the preset ``rho^+-_0 = m_+- N(c_+-, width^2 I)``, shape ``(2, *grid.shape)``;
        exact (products of error-function differences)."""
        from scipy.special import ndtr

        out = []
        for m, c in ((self.mass_plus, self.centre_plus), (self.mass_minus, self.centre_minus)):
            fac = []
            for a in range(2):
                e = (grid.axis_edges(a) - c[a]) / self.width
                fac.append(np.diff(ndtr(e)) / grid.spacing[a])
            out.append(m * np.outer(fac[0], fac[1]))
        return np.array(out)

    def initial_density(self, grid: UniformGrid) -> dict:
        """``{"+": GridDensity, "-": GridDensity}``: exact cell averages of the preset
        ``rho^+-_0 = m_+- N(c_+-, width^2 I)`` on ``grid``."""
        grid = _check_grid(grid)
        arr = self._preset_array(grid)
        return {s: GridDensity(arr[k], grid) for k, s in enumerate(SPECIES)}

    def initial_array(self, grid: UniformGrid, initial=None) -> np.ndarray:
        """The initial data as the solvers' state, shape ``(2, *grid.shape)`` (species in ``species``
        order): the preset for ``initial=None``, else ``initial`` as in :meth:`solve_continuum`."""
        grid = _check_grid(grid)
        if initial is None:
            return self._preset_array(grid)
        if isinstance(initial, np.ndarray):
            warnings.warn("initial as a (2, nx, ny) array is deprecated; pass {'+': GridDensity, '-': GridDensity} "
                          "or callables", DeprecationWarning, stacklevel=3)
            return self.check_density(initial, grid)
        dens = initial_densities(initial, SPECIES, grid, self.masses)
        assert dens is not None  # None only for initial=None, handled above
        return np.array([dens[s].values for s in SPECIES])

    def velocity(self, q, grid: UniformGrid, kernel_hat=None):
        """Free-space ``K * q`` on the grid by zero padding (no periodic images), the model's kernel."""
        grid = _check_grid(grid)
        q = check_finite_array("q", q, grid.shape)
        return _velocity(q, grid, self.kernel_hat(grid) if kernel_hat is None else kernel_hat)

    def kernel_hat(self, grid: UniformGrid):
        """Transforms of both components of the model's kernel (K, K_eps of eq. (4.5) if ``epsilon > 0``, or
        the custom ``K(x) = kernel(|x|) x``) sampled at displacements, K(0) := 0 (odd kernel):
        :func:`~meanfield.particles.coulomb_forces.kernel_hat`."""
        return kernel_hat(_check_grid(grid), self.epsilon, self.kernel)

    def free_energy(self, rho, grid: UniformGrid) -> float:
        """F = (sigma^2/2) sum_+- int rho log rho - (gamma_bar/2) int q (Phi * q),  q = rho+ - rho-, with
        the potential ``Phi = log|.|`` (K) or ``Phi = (1/2) log(|.|^2 + eps^2)`` (K_eps), ``grad Phi = K``.

        [derived here, not in the paper] The corrected eq. (1.3) reads
        d_t rho^+- = div(rho^+- grad(dF/drho^+-)) with dF/drho^+- = (sigma^2/2) log rho^+- -+ gamma_bar psi,
        psi = Phi * q (K * q = grad psi), so F is non-increasing along solutions. The log
        kernel's origin cell uses its exact cell average log(h) + c_0 (square cells). ``rho``: the
        ``(2, ...)`` state or a dict ``{label: GridDensity}``. Refused for a custom kernel."""
        if self.kernel is not None:
            raise ValueError("free_energy needs the kernel's potential; it is defined for the paper's K and K_eps "
                             "only (kernel=None)")
        if isinstance(rho, Mapping):
            rho = np.array([rho[s].values for s in SPECIES])
        grid = _check_grid(grid)
        rho = check_finite_array("rho", rho, (2, *grid.shape))
        q = rho[0] - rho[1]
        h = grid.spacing
        e2 = self.epsilon**2

        def logk(x, y):
            r2 = x * x + y * y
            if e2 > 0:
                return 0.5 * np.log(r2 + e2)
            with np.errstate(divide="ignore"):
                return np.where(r2 > 0, 0.5 * np.log(r2), np.log(np.sqrt(h[0] * h[1])) + _LOG_CELL_AVERAGE)

        psi = fft.convolve_free_space(q, fft.free_space_kernel_hat(logk, grid.shape, h), grid.cell_volume)
        with np.errstate(divide="ignore", invalid="ignore"):
            ent = np.where(rho > 0, rho * np.log(np.where(rho > 0, rho, 1.0)), 0.0)
        return float(self.sigma**2 / 2 * grid.integrate(ent.sum(axis=0)) - self.gamma_bar / 2 * grid.integrate(q * psi))

    def second_moment_rate(self) -> float:
        """``d/dt int |x|^2 (rho^+ + rho^-) = 2 sigma^2 (m_+ + m_-) + gamma_bar (m_+ - m_-)^2`` (exact kernel
        K only: in general the interaction term is ``gamma_bar int int |x-y|^2 phi(|x-y|) q(x) q(y)``)."""
        self._paper_kernel_only("the second-moment law")
        m = self.mass_plus + self.mass_minus
        return 2 * self.sigma**2 * m + self.gamma_bar * (self.mass_plus - self.mass_minus) ** 2

    def check_density(self, rho0, grid):
        """``rho0`` of shape ``(2, *grid.shape)``, finite and non-negative (the solvers' state)."""
        rho0 = check_finite_array("initial", rho0, (2, *grid.shape))
        if np.any(rho0 < 0):
            raise ValueError(f"initial must be non-negative, found min {rho0.min()!r}")
        return rho0

    def continuum_problem(self, grid: UniformGrid, scheme=None, *, method=None):
        """The corrected eq. (1.3) on ``grid`` as a problem for :func:`meanfield.solvers.timestepping.integrate`.

        Returns ``(problem, velocity)``: ``velocity(rho)`` is ``K * (rho^+ - rho^-)`` (free space, by
        zero padding, the model's kernel), remembered for the last state it saw so that a step rule
        and the scheme's first stage share one evaluation. The state is ``rho`` of shape
        ``(2, *grid.shape)`` in both cases.

        ``scheme="spectral"`` (default): a :class:`~meanfield.solvers.timestepping.SemilinearProblem`, linear part
        ``-(sigma^2/2) |k|^2`` diagonal in the basis of the real 2-D FFT of each species (the box is
        treated as periodic for derivatives: data must be negligible at the walls), nonlinear part
        ``-+ gamma_bar i k . FFT(rho^+- v)`` with the 2/3-rule dealiasing of the flux products.
        ``scheme="finite_volume"``: an :class:`~meanfield.solvers.timestepping.ODEProblem`, conservative upwind finite
        volumes with no-flux walls, face flux ``+-gamma_bar v_face rho_upwind - D (rho_R - rho_L)/h``.
        ``method="spectral" | "fv"`` is the deprecated spelling of ``scheme``.
        """
        grid = _check_grid(grid)
        family, _ = _continuum_scheme(scheme, None, method)
        khat = self.kernel_hat(grid)
        velocity = LastStateCache(lambda rho: _velocity(rho[0] - rho[1], grid, khat))
        D = self.sigma**2 / 2
        if family == "spectral":
            return _spectral_problem(grid, D, self.gamma_bar, velocity), velocity
        return _upwind_fv_problem(grid, D, self.gamma_bar, velocity), velocity

    def solve_continuum(self, t_end, times=None, initial=None, *, grid=None, resolution=128, scheme=None,
                        stepper=None, dt=None, cfl=0.5, max_steps=DEFAULT_MAX_STEPS, method=None):
        """Solve the corrected eq. (1.3) and return the standard dataset (species "+", "-").

        ``initial``: None (the preset Gaussians, exact cell averages), or ``{"+": f, "-": g}`` with each
        value a callable density ``f(x, y)`` (cell-averaged by a 2x2 Gauss rule and normalised to the
        species' mass) or a :class:`~meanfield.measures.GridDensity` on the run's grid carrying the
        species' mass (:func:`~meanfield.models.contract.initial_densities`). The deprecated
        ``(2, *grid.shape)`` array of the old ``rho0`` is accepted with a DeprecationWarning.
        ``grid`` defaults to the grid of GridDensity initial data, else ``default_grid(resolution, t_end)``.

        ``scheme="spectral"`` (default): pseudo-spectral, diffusion exact in Fourier space, 2/3-rule
        dealiasing of the flux products, free-space K * q by zero padding (:meth:`continuum_problem`),
        advanced by ``stepper="etd2rk"`` (default; Cox-Matthews ETD2RK, order 2) or ``"etdrk4"``
        (order 4). ``scheme="finite_volume"``: positivity-preserving upwind finite volumes with no-flux
        walls, explicit (forward) Euler (``stepper="forward_euler"``, the only one) under the positivity
        rule below. Both conserve each species' mass to round-off. Deprecated spellings (a
        DeprecationWarning): ``method="spectral" | "fv"`` for ``scheme``, ``scheme="fv"``, and
        ``scheme="etd2rk" | "etdrk4" | "forward_euler"`` for ``stepper``.
        Step rule (unless ``dt`` is given): spectral ``dt = cfl * h / max|v|`` (drift CFL; diffusion
        is exact); FV ``dt = cfl / (4 max|v|/h + 4 D / h^2)`` which keeps every cell
        non-negative for ``cfl <= 1`` (each cell loses at most that fraction of its mass through its
        four faces). The rule is evaluated at the start of each step. All stepping goes through
        :func:`meanfield.solvers.timestepping.integrate`; the dataset's ``solver_*`` attributes record the
        scheme, the stepper (``solver_stepper``), its declared order, the step rule and the number of
        steps. A fixed ``dt`` that needs more than ``max_steps`` steps, or a rule whose first step does,
        is refused before stepping, and so is a grid whose arrays would not fit in memory.
        """
        if isinstance(times, UniformGrid) or (t_end is not None and np.ndim(t_end) > 0):
            raise TypeError("solve_continuum(rho0, grid, t_end) is the old signature; call "
                            "solve_continuum(t_end, times, initial=..., grid=grid)")
        family, stepper_name = _continuum_scheme(scheme, stepper, method)
        ts = check_times(t_end, times)
        cfl = check_in_range("cfl", cfl, 0.0, 1.0, low_open=True)
        max_steps = check_integer("max_steps", max_steps, minimum=1)
        if dt is not None:
            dt = step_budget("dt", check_positive("dt", dt), ts[-1], max_steps)
        if grid is None:
            if isinstance(initial, np.ndarray):
                raise ValueError("initial was given as an array without its grid; pass grid=")
            own = [v.grid for v in initial.values() if isinstance(v, GridDensity)] \
                if isinstance(initial, Mapping) else []
            if own:
                grid = own[0]
            else:
                resolution = check_integer("resolution", resolution, minimum=8)
                check_memory(_continuum_bytes(resolution, resolution, len(ts)),
                             f"solve_continuum(resolution={resolution})")
                grid = self.default_grid(resolution, ts[-1])
        grid = _check_grid(grid)
        check_memory(_continuum_bytes(*grid.shape, len(ts)), f"solve_continuum on a {grid.shape} grid")
        rho0 = self.initial_array(grid, initial)
        problem, velocity = self.continuum_problem(grid, family)
        D = self.sigma**2 / 2
        h = float(np.min(grid.spacing))

        checked = []

        def cfl_rule(_t, rho):
            # the velocity of the step's start state, remembered (LastStateCache) for the scheme's first stage
            vmax = self.gamma_bar * float(np.max(np.abs(velocity(rho)))) + 1e-300
            step = cfl * h / vmax if family == "spectral" else cfl / (4 * vmax / h + 4 * D / h**2)
            if not checked:  # the first proposal, before any step: refuse a rule needing more than max_steps
                checked.append(step)
                step_budget(f"cfl={cfl!r} gives a first step", step, ts[-1], max_steps)
            return step
        rule_name = "drift_cfl" if family == "spectral" else "fv_positivity"
        step = dt if dt is not None else StepFunction(cfl_rule, rule_name)
        integrator = _FAMILIES[family][stepper_name]()
        sol = integrate_from_zero(integrator, problem, rho0, ts, step, max_steps=max_steps)
        out = np.array(sol.states)
        masses = grid.integrate(out)
        m2 = np.array([grid.integrate(r.sum(axis=0) * (grid.mesh()[0] ** 2 + grid.mesh()[1] ** 2)) for r in out])
        info = dict(sol.info)
        info.pop("stepper", None)
        return continuum_dataset(ts, out, grid, species=list(SPECIES), model=self,
                                 solver={"scheme": family, "stepper": stepper_name,
                                         "dt": "cfl rule" if dt is None else dt, "cfl": cfl,
                                         "steps": sol.steps, **info},
                                 mass=(("time", "species"), masses), second_moment=(("time",), m2))


# --- wiring to the time-stepping layer ------------------------------------------------------
_FAMILIES: dict[str, dict[str, type]] = {"spectral": {"etd2rk": ETD2RK, "etdrk4": ETDRK4},
                                         "finite_volume": {"forward_euler": ForwardEuler}}
_OLD_FAMILY = {"fv": "finite_volume"}  # deprecated spelling
_STEPPER_FAMILY = {name: fam for fam, steppers in _FAMILIES.items() for name in steppers}


def _continuum_bytes(nx, ny, n_times):
    """Rough memory of a continuum run: the stored states and about 40 work arrays of the padded grid."""
    return 8 * nx * ny * (2 * n_times + 160)


def _continuum_scheme(scheme, stepper, method):
    """``(discretisation family, stepper name)`` from ``scheme`` (``"spectral"`` default or
    ``"finite_volume"``) and ``stepper``, accepting the deprecated ``method=`` and old ``scheme=``
    spellings with a DeprecationWarning (:meth:`SignedCoulomb2D.solve_continuum`)."""
    def deprecated(msg):
        warnings.warn(msg, DeprecationWarning, stacklevel=4)

    family = None
    if method is not None:
        if not isinstance(method, str) or method not in ("spectral", "fv", "finite_volume"):
            raise ValueError(f"method must be 'spectral' or 'fv' (deprecated; use scheme='spectral' or "
                             f"'finite_volume'), got {method!r}")
        family = _OLD_FAMILY.get(method, method)
        deprecated(f"method={method!r} is deprecated; use scheme={family!r}")
    if scheme is not None:
        if not isinstance(scheme, str) or scheme not in (*_FAMILIES, *_OLD_FAMILY, *_STEPPER_FAMILY):
            raise ValueError(f"scheme must be one of {tuple(_FAMILIES)}, got {scheme!r}")
        if scheme in _STEPPER_FAMILY:  # the older meaning of scheme=: the time stepper
            deprecated(f"scheme={scheme!r} names a time stepper; use stepper={scheme!r} (scheme= is now "
                       f"{' or '.join(map(repr, _FAMILIES))})")
            if stepper is not None and stepper != scheme:
                raise ValueError(f"scheme={scheme!r} (old spelling of stepper) and stepper={stepper!r} disagree")
            stepper = scheme
            fam = family or _STEPPER_FAMILY[scheme]
        else:
            if scheme in _OLD_FAMILY:
                deprecated(f"scheme={scheme!r} is deprecated; use scheme={_OLD_FAMILY[scheme]!r}")
            fam = _OLD_FAMILY.get(scheme, scheme)
            if family is not None and fam != family:
                raise ValueError(f"method={method!r} and scheme={scheme!r} disagree; give scheme only")
        family = fam
    family = family or "spectral"
    if stepper is None:
        stepper = next(iter(_FAMILIES[family]))
    if not isinstance(stepper, str) or stepper not in _FAMILIES[family]:
        raise ValueError(f"stepper must be one of {tuple(_FAMILIES[family])} for scheme={family!r}, got {stepper!r}")
    return family, stepper


def _velocity(q, grid, kernel_hat):
    """``K * q`` on ``grid`` from the kernel's transforms (:meth:`SignedCoulomb2D.velocity`, unchecked): one
    forward transform of the zero-padded ``q`` serves both components (1 forward + 2 inverse padded FFTs)."""
    return fft.convolve_free_space(q, list(kernel_hat), grid.cell_volume)


def _spectral_problem(grid, D, g, velocity):
    """Semilinear form of eq. (1.3) for ETD schemes (:meth:`SignedCoulomb2D.continuum_problem`)."""
    kx, ky = grid.wavenumber_mesh(real=True)
    mask = grid.dealias_mask(real=True)
    shape = grid.shape

    charge = np.array([-g * 1j, g * 1j])[:, None, None]  # -s g i for s = +1, -1 (the same numbers per species)

    def nonlinear(_t, rho):
        v = velocity(rho)
        # both species' flux products, both components, forward in one batched call (4 transforms)
        f = fft.rfftn(rho[:, None] * v[None], ndim=2) * mask
        return charge * (kx * f[:, 0] + ky * f[:, 1])

    def forward(rho):
        return fft.rfftn(rho, ndim=2)

    def inverse(rho_hat):
        return fft.irfftn(rho_hat, shape, ndim=2)  # fft.irfftn never destroys its argument

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
