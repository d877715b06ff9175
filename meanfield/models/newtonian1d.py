"""Model 002: two species on R interacting through the 1-D Newtonian potential ``N(x) = |x|``.

Di Francesco, Esposito, Schmidtchen, *Many-particle limit for a system of interaction equations
driven by Newtonian potentials* (Calc. Var. PDE 2021); equations and conventions on theory page 002
(``docs/theory/002-newtonian.md``).

Particles (ODE (6), OCR-reconstructed in theory page 002; the y-equation uses n_k for the self sum and
m_k for the cross sum — the OCR prints m_k in both)::

    x_i' = sum_{k} m_k sign(x_i - x_k) - sum_k n_k sign(x_i - y_k)       (same species repel,
    y_j' = sum_{k} n_k sign(y_j - y_k) - sum_k m_k sign(y_j - x_k)        other species attract)

*defined* as the gradient flow (58) of the convex energy (24) on the ordered cone (Thm 3.1): at
ties we use the minimal-norm subgradient (Remark 3.6), i.e. same-species signs by index and
sign(x_i - y_j) := sign(i - j) at a common point (theory page 002). Literal (6) with sign(0) = 0 is
*not* used: it would never scatter an initial cluster. Velocities are piecewise constant, so the
system is integrated exactly, event by event (:mod:`meanfield.particles.sticky_events1d`): x_i and
y_j cross when they meet if i != j and stick at rest forever if i = j (Thm 4.1; general masses:
Remark 4.1). The energy is evaluated as F[Z] = int (F_rho - F_eta)^2 dx (theory page 002).

Continuum (system (5)): d_t rho + d_x(rho v) = 0, d_t eta - d_x(eta v) = 0 with
v = 2 (F_rho - F_eta) (theory page 002). Two solvers:

* ``scheme="quantile"``: pseudo-inverse flow d_t X(s) = 2s - 2 H(X(s)), d_t Y(s) = 2s - 2 F(Y(s))
  (theory page 002) with piecewise-linear quantiles (:mod:`meanfield.solvers.quantile_flow1d`);
* ``scheme="finite_volume"``: conservative finite volumes with exact prefix-sum CDFs at faces
  (:mod:`meanfield.solvers.upwind_cdf_velocity1d`, theory page 002), donor-cell (``flux="upwind"``, first order,
  the default) or minmod MUSCL (``flux="muscl"``, second order on smooth data), on the hull of the
  initial supports, which the solution never leaves (Prop 4.1 continuum analogue, theory page 002).

Both are advanced by :func:`meanfield.solvers.timestepping.integrate` with an SSP Runge–Kutta stepper,
``stepper="ssp_rk3"`` (default), ``"ssp_rk2"`` or ``"forward_euler"``, under the solver's step rule;
the output dataset's ``solver_*`` attributes record the scheme, its declared order, the step rule
and the number of steps.

Species labels, in this order (``Newtonian1D.species``): ``"rho"`` (x-particles) and ``"eta"``
(y-particles). The model follows the contract of :mod:`meanfield.models.contract`: ``params``,
``initial_density(grid)``, and ``initial=`` on ``sample_particles`` and ``solve_continuum`` taking a
user's density, GridDensity or quantile function per species (:mod:`meanfield.models.initial1d`);
the presets ``profile="uniform"|"bump"`` stay the defaults. Renamed keywords (version 0.1): in
``solve_continuum`` ``method=`` is now ``scheme=`` and the old ``scheme=`` (the time stepper)
``stepper=``; in ``sample_particles`` ``method=`` is now ``sampling=``. The old names work for one
release with a DeprecationWarning.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any, cast

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from meanfield.measures import Domain, GridDensity, as_generator
from meanfield.models.base import (
    Trajectory,
    check_in_range,
    check_integer,
    check_memory,
    check_real,
    check_times,
    continuum_dataset,
    interval_dataset,
)
from meanfield.models.initial1d import Profile1D, Quantile, profile_from  # noqa: F401 - Quantile re-exported
from meanfield.particles.sticky_clusters1d import simulate_general_masses
from meanfield.particles.sticky_events1d import (
    check_two_species_state,
    simulate_two_species_events,
)
from meanfield.solvers.grids import UniformGrid
from meanfield.solvers.quantile_flow1d import solve_quantile_flow
from meanfield.solvers.timestepping import SSPRK2, SSPRK3, ForwardEuler, step_budget
from meanfield.solvers.upwind_cdf_velocity1d import FLUX_ORDERS, solve_upwind_cdf_velocity

__all__ = ["Newtonian1D", "energy", "reconstruction_lm_power", "validate_particles"]  # + Quantile, re-exported

SPECIES = ("rho", "eta")
# time steppers of the continuum solvers: SSP Runge-Kutta, SSP coefficient 1 (orders 3, 2, 1)
SCHEMES = {cls.name: cls for cls in (SSPRK3, SSPRK2, ForwardEuler)}
_PROFILES = ("uniform", "bump")


# --- initial profiles ---------------------------------------------------------------------
def _profile_cdf(profile, a, b, x):
    u = np.clip((np.asarray(x, dtype=float) - a) / (b - a), 0.0, 1.0)
    if profile == "uniform":
        return u
    return u - np.sin(2 * np.pi * u) / (2 * np.pi)  # density (1 - cos(2 pi u)) / (b - a)


def _profile_quantile(profile, a, b, s):
    s = np.asarray(s, dtype=float)
    if profile == "uniform":
        return a + (b - a) * s
    u = s.copy()  # Newton on u - sin(2 pi u)/(2 pi) = s, monotone; safeguarded by bisection
    lo, hi = np.zeros_like(s), np.ones_like(s)
    for _ in range(60):
        g = u - np.sin(2 * np.pi * u) / (2 * np.pi) - s
        lo = np.where(g < 0, u, lo)
        hi = np.where(g > 0, u, hi)
        d = 1 - np.cos(2 * np.pi * u)
        with np.errstate(divide="ignore", invalid="ignore"):
            un = u - g / d
        bad = ~np.isfinite(un) | (un <= lo) | (un >= hi)
        u = np.where(bad, 0.5 * (lo + hi), un)
    return a + (b - a) * u


# --- validation and energy ----------------------------------------------------------------
def validate_particles(
    x: ArrayLike, y: ArrayLike, mx: ArrayLike | None = None, my: ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Check a particle state of system (6) and return it as float arrays.

    The state must be finite, non-decreasing within each species (labels are ranks, the cone C^N of
    Section 3), with positive masses of matching length summing to 1 (default 1/N)
    (:func:`~meanfield.particles.sticky_events1d.check_two_species_state`).

    Parameters
    ----------
    x, y : array_like
        The positions of the x- (``"rho"``) and y- (``"eta"``) particles.
    mx, my : array_like or None, optional
        Their masses (default 1/N each).

    Returns
    -------
    x, y, mx, my : numpy.ndarray
        The checked state as float arrays.

    Raises
    ------
    ValueError
        Before any work, for an empty, non-finite or unsorted species, or masses that are not
        positive, of the wrong length or not summing to 1.

    References
    ----------
    :cite:`DiFrancescoEspositoSchmidtchen`, Section 3; theory page ``docs/theory/002-newtonian.md``.

    Examples
    --------
    >>> validate_particles([0.0, 0.5], [0.25, 1.0])
    (array([0. , 0.5]), array([0.25, 1.  ]), array([0.5, 0.5]), array([0.5, 0.5]))
    """
    return check_two_species_state(x, y, mx, my)


def energy(x: ArrayLike, y: ArrayLike, mx: ArrayLike | None = None, my: ArrayLike | None = None) -> float:
    """Discrete energy (24) on the cone, evaluated as ``int (F^N - H^N)^2 dx`` in O(N log N).

    Parameters
    ----------
    x, y : array_like
        The positions of the two species.
    mx, my : array_like or None, optional
        Their masses (default 1/N each).

    Returns
    -------
    float
        ``int (F^N - H^N)^2 dx`` for the empirical CDFs ``F^N`` of x and ``H^N`` of y (theory page 002).

    References
    ----------
    :cite:`DiFrancescoEspositoSchmidtchen`, eq. (24); theory page ``docs/theory/002-newtonian.md``.

    Examples
    --------
    ``F - H`` is 1/2 on [0, 0.25), 0 on [0.25, 0.5), 1/2 on [0.5, 1): ``0.25 (0.25 + 0.5) = 0.1875``.

    >>> energy([0.0, 0.5], [0.25, 1.0])
    0.1875
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    mx = np.full(x.size, 1.0 / x.size) if mx is None else np.asarray(mx, float)
    my = np.full(y.size, 1.0 / y.size) if my is None else np.asarray(my, float)
    pts = np.concatenate([x, y])
    w = np.concatenate([mx, -my])
    order = np.argsort(pts, kind="stable")
    d = np.cumsum(w[order])  # F - H just right of each point
    gaps = np.diff(pts[order])
    return float(np.sum(d[:-1] ** 2 * gaps))


def reconstruction_lm_power(x_with_ghost: ArrayLike, m: float) -> float:
    """``int (rho~^N)^m dx`` for the reconstruction (66)-(67): cells ``[x_i, x_{i+1})`` of mass 1/N each.

    Parameters
    ----------
    x_with_ghost : array_like
        The N + 1 positions ``x_0 (the ghost), x_1, ..., x_N``, strictly increasing.
    m : float
        The exponent; ``inf`` gives the L^inf norm.

    Returns
    -------
    float
        ``sum_i N^{-m} (x_{i+1} - x_i)^{1-m}``, or ``max_i 1/(N (x_{i+1} - x_i))`` for ``m = inf``.

    References
    ----------
    :cite:`DiFrancescoEspositoSchmidtchen`, eqs. (66)-(67); theory page ``docs/theory/002-newtonian.md``.

    Examples
    --------
    >>> import numpy as np
    >>> reconstruction_lm_power([0.0, 0.25, 0.5], 2), reconstruction_lm_power([0.0, 0.25, 0.5], np.inf)
    (2.0, 2.0)
    """
    x = np.asarray(x_with_ghost, float)
    n = x.size - 1
    gaps = np.diff(x)
    if np.isinf(m):
        return float(1.0 / (n * gaps.min()))
    return float(np.sum(n ** (-m) * gaps ** (1.0 - m)))


EVENT_NAMES = ("cross", "stick", "x-cluster", "y-cluster", "detach")


class _EventView(Sequence):
    """``traj.events`` without materialising millions of tuples: item k is
    ``(time, kind, (i, j))`` with ``kind`` in :data:`EVENT_NAMES` and 0-based ranks: of the x- and
    the y-particle, or of two same-species neighbours for ``"x-cluster"``/``"y-cluster"``."""

    def __init__(self, t, kind, i, j):
        self.time, self.kind, self.i, self.j = t, kind, i, j

    def __len__(self):
        return self.time.size

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[q] for q in range(*k.indices(len(self)))]
        return (float(self.time[k]), EVENT_NAMES[self.kind[k]],
                (int(self.i[k]), int(self.j[k])))


def _renamed(old, old_value, new, new_value, new_default):
    """The value of keyword ``new`` when the deprecated keyword ``old`` may have been used instead."""
    if old_value is None:
        return new_value
    warnings.warn(f"{old}= is deprecated (it will be removed in the next release); use {new}= instead",
                  DeprecationWarning, stacklevel=3)
    if new_value != new_default and new_value != old_value:
        raise TypeError(f"give {new}= only, not both {new}={new_value!r} and the deprecated {old}={old_value!r}")
    return old_value


def _support(name, value):
    """A pair of finite reals (a, b) with a < b; TypeError/ValueError naming ``name`` otherwise."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise TypeError(f"{name} must be a pair (a, b) of real numbers, got {value!r}")
    a, b = (check_real(f"{name}[{k}]", v) for k, v in enumerate(value))
    if not (np.isfinite(a) and np.isfinite(b)):
        raise ValueError(f"{name} must be finite, got {tuple(value)!r}")
    if not b > a:
        raise ValueError(f"{name} must be an interval (a, b) with a < b, got {tuple(value)!r}")
    return a, b


class Newtonian1D:
    """Two species with self-repulsion ``-|x|`` and cross-attraction ``+|x|`` (paper 002, system (5)/(6)).

    Species, in this order: ``species = ("rho", "eta")`` (the x- and the y-particles); each has mass 1.
    The model has no interaction strength: both kernels have unit coefficient (theory page 002).

    User initial data (``initial=`` of :meth:`sample_particles` and :meth:`solve_continuum`): a dict
    ``{"rho": value, "eta": value}`` where each value is a callable density ``f(x)`` (taken on the
    species' support and normalised to mass 1), a :class:`~meanfield.measures.GridDensity` (any 1-D
    grid) or :class:`~meanfield.measures.IntervalDensity1D` of mass 1, a quantile function wrapped as
    :class:`~meanfield.models.initial1d.Quantile` (the Lagrangian form, used exactly), or None for the
    preset (:mod:`meanfield.models.initial1d`). ``initial=None`` is the preset for both species.

    Parameters
    ----------
    rho_support, eta_support : tuple of float
        ``(a, b)`` with ``a < b``: the supports of the preset initial densities rho_0, eta_0 (used by
        ``initial_density``, ``sample_particles`` and ``solve_continuum``), and the interval on which a
        user's callable density is taken (``initial=``). Default: overlapping [0, 1] and [0.5, 1.5].
    profile : {"uniform", "bump"}
        The preset shape on the support: uniform, or the smooth bump (1 - cos(2 pi u)) / (b - a).

    Raises
    ------
    TypeError
        If a support is not a pair of real numbers.
    ValueError
        If a support is not a finite interval with ``a < b``, or ``profile`` is unknown.

    References
    ----------
    :cite:`DiFrancescoEspositoSchmidtchen`, system (5) and ODE (6); theory page ``docs/theory/002-newtonian.md``.

    Examples
    --------
    >>> m = Newtonian1D()
    >>> m.species, m.params
    (('rho', 'eta'), {'rho_support': [0.0, 1.0], 'eta_support': [0.5, 1.5], 'profile': 'uniform'})
    >>> Newtonian1D(**m.params).params == m.params
    True
    >>> x, y = m.sample_particles(4)
    >>> traj = m.simulate_particles((x, y), 1.0, [0.0, 0.5, 1.0])
    >>> traj.measure(1.0)
    {'rho': EmpiricalMeasure(n=4, mass=1, domain=R^1), 'eta': EmpiricalMeasure(n=4, mass=1, domain=R^1)}
    """

    species = SPECIES
    #: the particle dynamics is deterministic (exact event-driven): ``simulate_particles`` refuses a
    #: generator; only ``sample_particles(sampling="random")`` draws random numbers (contract docstring)
    deterministic_dynamics = True

    def __init__(
        self, rho_support: Sequence[float] = (0.0, 1.0), eta_support: Sequence[float] = (0.5, 1.5),
        profile: str = "uniform",
    ) -> None:
        supports = [_support("rho_support", rho_support), _support("eta_support", eta_support)]
        if not isinstance(profile, str) or profile not in _PROFILES:
            raise ValueError(f"profile must be one of {_PROFILES}, got {profile!r}")
        self.supports = dict(zip(SPECIES, supports, strict=True))
        self.profile = profile
        self.domain = Domain(1)

    # -- parameters ------------------------------------------------------------------------
    @property
    def params(self) -> dict[str, Any]:
        """Every constructor argument (plain values): ``type(m)(**m.params)`` rebuilds ``m``."""
        return {"rho_support": list(self.supports["rho"]), "eta_support": list(self.supports["eta"]),
                "profile": self.profile}

    def hull(self) -> tuple[float, float]:
        """The smallest interval holding both preset supports.

        Returns
        -------
        tuple of float
            ``(min(a_rho, a_eta), max(b_rho, b_eta))``.

        Examples
        --------
        >>> Newtonian1D().hull()
        (0.0, 1.5)
        """
        a = min(self.supports["rho"][0], self.supports["eta"][0])
        b = max(self.supports["rho"][1], self.supports["eta"][1])
        return a, b

    def cdf0(self, species: str, x: ArrayLike) -> np.ndarray:
        """CDF of the preset initial datum of ``species`` (the implementation of the presets).

        Parameters
        ----------
        species : {"rho", "eta"}
            The species label.
        x : array_like
            Where to evaluate.

        Returns
        -------
        numpy.ndarray
            The CDF at ``x``.

        Examples
        --------
        >>> Newtonian1D().cdf0("rho", [0.25, 2.0])
        array([0.25, 1.  ])
        """
        a, b = self.supports[species]
        return _profile_cdf(self.profile, a, b, x)

    def quantile0(self, species: str, s: ArrayLike) -> np.ndarray:
        """Quantile function of the preset initial datum of ``species`` (the implementation of the presets).

        Parameters
        ----------
        species : {"rho", "eta"}
            The species label.
        s : array_like
            Mass coordinates in [0, 1].

        Returns
        -------
        numpy.ndarray
            The quantile function at ``s``.

        Examples
        --------
        >>> Newtonian1D().quantile0("eta", [0.0, 0.5, 1.0])
        array([0.5, 1. , 1.5])
        """
        a, b = self.supports[species]
        return _profile_quantile(self.profile, a, b, s)

    # -- initial data ----------------------------------------------------------------------
    def initial_profiles(self, initial: Mapping[str, Any] | None = None) -> dict:
        """The CDF, quantile and support of the initial data per species, checked before any work.

        Parameters
        ----------
        initial : dict or None, optional
            User initial data per species (class docstring); None (or a species given as None): the
            preset (:func:`meanfield.models.initial1d.profile_from` otherwise).

        Returns
        -------
        dict
            ``{label: Profile1D}`` in ``species`` order.

        Raises
        ------
        TypeError
            If ``initial`` is not None or a dict, or a value is of no accepted kind.
        ValueError
            If ``initial`` has keys other than the species, or a value is refused by
            :func:`~meanfield.models.initial1d.profile_from`.

        Examples
        --------
        >>> p = Newtonian1D().initial_profiles()
        >>> list(p), p["eta"].support
        (['rho', 'eta'], (0.5, 1.5))
        """
        if initial is None:
            initial = {}
        elif not isinstance(initial, Mapping):
            raise TypeError(f"initial must be None or a dict keyed by species {list(SPECIES)}, got "
                            f"{type(initial).__name__}")
        else:
            unknown = [k for k in initial if k not in SPECIES]
            if unknown:
                raise ValueError(f"initial must be keyed by the species {list(SPECIES)}, got keys {list(initial)}")
        out = {}
        for s in SPECIES:
            value = initial.get(s)
            if value is None:
                out[s] = Profile1D(partial(self.cdf0, s), partial(self.quantile0, s), self.supports[s])
            else:
                out[s] = profile_from(value, self.supports[s], s)
        return out

    def initial_density(self, grid: UniformGrid, initial: Mapping[str, Any] | None = None) -> dict:
        """Cell averages of rho_0, eta_0 on the 1-D ``grid`` (exact: CDF differences).

        Parameters
        ----------
        grid : UniformGrid
            A one-dimensional grid.
        initial : dict or None, optional
            As in the class docstring (None: the presets).

        Returns
        -------
        dict
            ``{label: GridDensity}`` in ``species`` order.

        Raises
        ------
        ValueError
            If ``grid`` is not a one-dimensional UniformGrid (and as :meth:`initial_profiles`).

        Examples
        --------
        >>> from meanfield.solvers.grids import UniformGrid
        >>> d = Newtonian1D().initial_density(UniformGrid([0.0], [1.5], (3,), periodic=False))
        >>> d["rho"].values, d["eta"].values
        (array([1., 1., 0.]), array([0., 1., 1.]))
        """
        if not isinstance(grid, UniformGrid) or grid.ndim != 1:
            raise ValueError(f"grid must be a one-dimensional UniformGrid, got {grid!r}")
        return _cell_averages(self.initial_profiles(initial), grid)

    def sample_particles(
        self, n: int, rng: Any = None, initial: Mapping[str, Any] | None = None, sampling: str = "midpoint", *,
        method: str | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """N particles per species, each of mass 1/N: an atomisation of the initial data.

        The quantiles are those of the preset, or of the user's ``initial`` data (class docstring): exact
        for a :class:`~meanfield.models.initial1d.Quantile`, a GridDensity or an IntervalDensity1D, and of
        the tabulated CDF of a callable density.

        Parameters
        ----------
        n : int
            Particles per species (>= 1).
        rng : None, int or numpy.random.Generator, optional
            Used by ``sampling="random"`` only (:func:`~meanfield.measures.as_generator`); the other
            atomisations are deterministic and do not touch it (a study hands every run a generator).
        initial : dict or None, optional
            User initial data per species (class docstring); None: the presets.
        sampling : {"midpoint", "paper", "random"}, optional
            ``"paper"``: the atomisation (65), x_i = i/N-quantile (sits half a cell right of the
            midpoint quantiles the dynamics follows; theory page 002); ``"midpoint"``: (i - 1/2)/N
            quantiles (default; theory page 002); ``"random"``: sorted i.i.d. samples drawn with ``rng``
            (inverse-CDF sampling: the quantile function at sorted uniforms).
        method : str or None, optional
            Deprecated name of ``sampling=`` (DeprecationWarning).

        Returns
        -------
        x, y : numpy.ndarray
            The sorted positions of the two species.

        Raises
        ------
        ValueError
            For a bad ``n`` or ``sampling``, too many particles for the memory, or bad ``initial``.
        TypeError
            If both ``sampling=`` and the deprecated ``method=`` are given, with different values.

        References
        ----------
        :cite:`DiFrancescoEspositoSchmidtchen`, eq. (65); theory page ``docs/theory/002-newtonian.md``.

        Examples
        --------
        >>> m = Newtonian1D()
        >>> m.sample_particles(4)
        (array([0.125, 0.375, 0.625, 0.875]), array([0.625, 0.875, 1.125, 1.375]))
        >>> m.sample_particles(2, sampling="paper")
        (array([0.5, 1. ]), array([1. , 1.5]))
        """
        n = check_integer("n", n, minimum=1)
        sampling = _renamed("method", method, "sampling", sampling, "midpoint")
        if sampling not in ("paper", "midpoint", "random"):
            raise ValueError(f"sampling must be 'paper', 'midpoint' or 'random', got {sampling!r}")
        check_memory(6 * 8 * n, f"sampling {n} particles per species")
        profiles = self.initial_profiles(initial)
        if sampling == "random":
            g = as_generator(rng)
            s = [np.sort(g.random(n)), np.sort(g.random(n))]
        else:
            k = np.arange(1, n + 1)
            q = k / n if sampling == "paper" else (k - 0.5) / n
            s = [q, q]
        return tuple(profiles[sp].quantile(si) for sp, si in zip(SPECIES, s, strict=True))

    # -- particles ---------------------------------------------------------------------------
    def simulate_particles(
        self, state: tuple | list, t_end: float, times: ArrayLike | None = None, masses: tuple | list | None = None,
        record_events: bool = True, rng: Any = None, ghosts: tuple | str | None = None,
    ) -> Trajectory:
        """Exact event-driven solution of (6) from ``state = (x, y)`` (sorted arrays).

        Equal masses use the compiled rank-velocity engine (:mod:`meanfield.particles.sticky_events1d`);
        general masses, where stuck pairs move, same species can collide and larger clusters form
        (theory page 002), use the cluster engine (:mod:`meanfield.particles.sticky_clusters1d`:
        minimal-norm subgradient per cluster, Remark 3.6). Both are exact event by event.

        Parameters
        ----------
        state : tuple
            ``(x, y)``: the sorted positions of the two species.
        t_end : float
            The final time.
        times : array_like or None, optional
            Output times (default ``[t_end]``).
        masses : tuple or None, optional
            ``(mx, my)`` (default 1/N each; the species may then have different sizes).
        record_events : bool, optional
            Whether to record the events (crossings, sticking, clusters).
        rng : None, optional
            The dynamics is deterministic: ``rng`` must be None (a generator is refused with a
            ValueError rather than silently ignored; :attr:`deterministic_dynamics`,
            :mod:`meanfield.models.contract`).
        ghosts : tuple, "support" or None, optional
            ``(x_0, y_0)`` or ``"support"`` (the left ends of the initial supports, the paper's x̄_0, ȳ_0
            of (65)) also tracks the rank-0 ghosts that close the reconstructions (66)-(67) ("ghost"
            convention, theory page 002; equal masses only); they are returned in ``info["x_ghost"]``,
            ``info["y_ghost"]`` and are not part of the measures.

        Returns
        -------
        Trajectory
            Positions at each output time ``concat(x, y)`` with species labels ``"rho"``/``"eta"``;
            ``traj.events`` lists ``(time, kind, (i, j))`` (0-based ranks, ``kind`` one of "cross",
            "stick", "x-cluster", "y-cluster", "detach"); ``info`` holds the event arrays, counts, the
            final velocities and the energy (24) at each output time.

        Raises
        ------
        ValueError
            For a non-None ``rng``, a bad state or masses (:func:`validate_particles`), bad times, or
            ghosts with general masses.
        TypeError
            If ``state`` or ``masses`` is not a pair.

        References
        ----------
        :cite:`DiFrancescoEspositoSchmidtchen`, ODE (6), Thm 4.1, Remarks 3.6 and 4.1; theory page
        ``docs/theory/002-newtonian.md``.

        Examples
        --------
        >>> m = Newtonian1D()
        >>> traj = m.simulate_particles(m.sample_particles(4), 1.0, [0.0, 0.5, 1.0])
        >>> len(traj.events), traj.events[0]
        (7, (0.1666..., 'cross', (1, 0)))
        >>> traj.info["energy"].round(4)
        array([0.2188, 0.0312, 0.    ])
        """
        if rng is not None:
            raise ValueError(f"simulate_particles: rng must be None, got {rng!r}: the particle dynamics of model "
                             "002 is deterministic (exact event-driven) and uses no random numbers")
        if not (isinstance(state, (tuple, list)) and len(state) == 2):
            raise TypeError(f"state must be a pair (x, y) of position arrays, got {type(state).__name__}")
        x, y = state
        if masses is None:
            mx, my = None, None
        elif isinstance(masses, (tuple, list)) and len(masses) == 2:
            mx, my = masses
        else:
            raise TypeError(f"masses must be None or a pair (mx, my) of arrays, got {type(masses).__name__}")
        x, y, mx, my = validate_particles(x, y, mx, my)
        ts = check_times(t_end, times)
        # outputs: x and y at every time, twice (engine arrays and concatenated positions), plus weights
        check_memory(8 * (x.size + y.size) * (4 * ts.size + 16), f"a run of {x.size} + {y.size} particles with "
                                                                f"{ts.size} output times")
        if isinstance(ghosts, str):
            if ghosts != "support":
                raise ValueError(f"ghosts must be None, 'support' or a pair (x_0, y_0), got {ghosts!r}")
            ghosts = (self.supports["rho"][0], self.supports["eta"][0])
        equal = x.size == y.size and np.all(mx == mx[0]) and np.all(my == mx[0])
        if equal:
            r = simulate_two_species_events(x, y, mx, my, ts, t_end, record_events, ghosts=ghosts)
        elif ghosts is not None:
            raise ValueError("ghosts are defined for equal masses 1/N only (theory page 002)")
        else:
            r = simulate_general_masses(x, y, mx, my, ts, t_end, record_events)
        if ghosts is not None:
            r["x_ghost"], r["x"] = r["x"][:, 0], r["x"][:, 1:]
            r["y_ghost"], r["y"] = r["y"][:, 0], r["y"][:, 1:]
            r["velocity_x"], r["velocity_y"] = r["velocity_x"][1:], r["velocity_y"][1:]
        pos = [np.concatenate([r["x"][k], r["y"][k]]) for k in range(ts.size)]
        w = np.concatenate([mx, my])
        lab = np.array(["rho"] * x.size + ["eta"] * y.size)
        traj = Trajectory(ts, pos, self.domain, weights=[w] * ts.size, species=[lab] * ts.size,
                          # a read-only Sequence in place of the list of Trajectory.events (typing only)
                          events=cast(list, _EventView(r["event_time"], r["event_kind"], r["event_i"], r["event_j"])),
                          labels=self.species)
        traj.info.update({k: r[k] for k in r if k not in ("x", "y")})
        traj.info.update({"x": r["x"], "y": r["y"], "mx": mx, "my": my,
                          "energy": np.array([energy(r["x"][k], r["y"][k], mx, my) for k in range(ts.size)])})
        return traj

    # -- continuum ---------------------------------------------------------------------------
    def solve_continuum(
        self, t_end: float, times: ArrayLike | None = None, initial: Mapping[str, Any] | None = None, *,
        resolution: int, scheme: str = "quantile", stepper: str = "ssp_rk3", cfl: float | None = None,
        dt_max: float | None = None, flux: str | None = None, method: str | None = None,
    ) -> xr.Dataset:
        """Solve system (5) from rho_0, eta_0 (the presets, or ``initial``).

        Parameters
        ----------
        t_end : float
            Final time.
        times : array_like, optional
            Output times (default ``[t_end]``); the driver lands on each exactly.
        initial : dict, optional
            User initial data per species (class docstring); None: the presets. ``"quantile"`` uses
            the quantile functions at the nodes k/M (exact for a ``Quantile``), ``"finite_volume"``
            the cell averages from the CDFs on the hull of the data's supports (a GridDensity on
            exactly that grid is used as is).
        resolution : int >= 2
            Number of mass cells M per species (``"quantile"``) or of grid cells on the initial
            hull (``"finite_volume"``).
        scheme : {"quantile", "finite_volume"}
            The discretisation (``"fv"`` is a deprecated spelling of ``"finite_volume"``).
        stepper : {"ssp_rk3", "ssp_rk2", "forward_euler"}
            The SSP Runge–Kutta time stepper (orders 3, 2, 1); all have SSP coefficient 1, so the same
            step rule keeps node order / positivity. The quantile flow measures time order 2 with
            both SSP-RK3 and SSP-RK2 (its right-hand side has kinks, see
            :mod:`meanfield.solvers.quantile_flow1d`). (Before version 0.1 this was ``scheme=``; a stepper name
            given as ``scheme=`` still works with a DeprecationWarning.)
        cfl : float, optional
            Step-rule factor: in (0, 1) for ``"quantile"`` (default 0.5); in (0, 1] for the upwind
            flux (default 0.9) and (0, 1/2] for MUSCL (default 0.45), see the solver modules.
        dt_max : float, optional
            Caps the step (used to measure the time order); must be positive and finite, and a value
            that would need more than 10^7 steps to reach ``t_end`` is refused before any work.
        flux : {"upwind", "muscl"}, optional
            Face flux of ``"finite_volume"``: first-order donor cell or the second-order minmod
            MUSCL reconstruction (:mod:`meanfield.solvers.finite_volume`).
        method : str, optional
            Deprecated name of ``scheme`` (a DeprecationWarning names the new keyword).

        Returns
        -------
        xarray.Dataset
            ``interval_dataset`` / ``continuum_dataset`` with the energy int (F - H)^2 dx and the
            centre of mass of each species as extra variables; the solver attributes record the
            scheme with its declared order, the step rule and the number of steps.

        Raises
        ------
        ValueError
            Before any work, for bad times, ``resolution``, ``scheme``, ``stepper``, ``cfl``, ``dt_max``
            or ``flux`` (or ``flux`` with ``scheme="quantile"``), too large a run for the memory, or bad
            ``initial`` (a quantile that is flat at the nodes: a point mass).
        TypeError
            If a deprecated keyword is given together with its new name, with different values.

        References
        ----------
        :cite:`DiFrancescoEspositoSchmidtchen`, system (5); theory page ``docs/theory/002-newtonian.md``.

        Examples
        --------
        The energy decays; the two solvers agree on the centres of mass (time, species):

        >>> m = Newtonian1D()
        >>> q = m.solve_continuum(1.0, [0.0, 1.0], resolution=16)
        >>> q.energy.values.round(4), q.centre_of_mass.values.round(3)
        (array([0.2083, 0.001 ]), array([[0.5  , 1.   ],
               [0.733, 0.767]]))
        >>> fv = m.solve_continuum(1.0, [0.0, 1.0], resolution=32, scheme="finite_volume")
        >>> fv.centre_of_mass.values.round(2)
        array([[0.5 , 1.  ],
               [0.74, 0.76]])
        """
        ts = check_times(t_end, times)
        M = check_integer("resolution", resolution, minimum=2)
        if isinstance(scheme, str) and scheme in SCHEMES:  # the stepper under its pre-issue-15 keyword
            stepper = _renamed("scheme", scheme, "stepper", stepper, "ssp_rk3")
            scheme = "quantile"
        scheme = _renamed("method", method, "scheme", scheme, "quantile")
        if scheme == "fv":
            warnings.warn("scheme='fv' is deprecated; use scheme='finite_volume'", DeprecationWarning, stacklevel=2)
            scheme = "finite_volume"
        if scheme not in ("quantile", "finite_volume"):
            raise ValueError(f"scheme must be 'quantile' or 'finite_volume', got {scheme!r}")
        if not isinstance(stepper, str) or stepper not in SCHEMES:
            raise ValueError(f"stepper must be one of {tuple(SCHEMES)}, got {stepper!r}")
        t_end = max(float(t_end), float(ts[-1]))
        if dt_max is not None:
            dt_max = step_budget("dt_max", dt_max, ts[-1])
        if scheme == "quantile" and flux is not None:
            raise ValueError(f"flux is only used by scheme='finite_volume', got flux={flux!r}")
        if scheme == "finite_volume":
            flux = "upwind" if flux is None else flux
            if not isinstance(flux, str) or flux not in FLUX_ORDERS:
                raise ValueError(f"flux must be one of {tuple(FLUX_ORDERS)}, got {flux!r}")
            limit = 1.0 if flux == "upwind" else 0.5
            cfl = 0.9 * limit if cfl is None else check_in_range("cfl", cfl, 0, limit, low_open=True)
        else:
            cfl = 0.5 if cfl is None else check_in_range("cfl", cfl, 0, 1, low_open=True, high_open=True)
        # outputs (2 species x (M + 1) values per time, and their dataset copy) and the stepper's stages
        check_memory(8 * 2 * (M + 1) * (3 * ts.size + 16), f"a continuum run with resolution={M} and "
                                                           f"{ts.size} output times")
        profiles = self.initial_profiles(initial)
        stepper_ = SCHEMES[stepper]()
        user = {} if initial is None else {"initial": "user"}
        if scheme == "quantile":
            s = np.linspace(0.0, 1.0, M + 1)
            X0, Y0 = (profiles[sp].quantile(s) for sp in SPECIES)
            for sp, Q in zip(SPECIES, (X0, Y0), strict=True):
                if not np.all(np.diff(Q) > 0):
                    raise ValueError(f"initial[{sp!r}]: its quantile function must be strictly increasing at the "
                                     f"nodes k/{M} (a flat piece is a point mass, which the quantile solver "
                                     "cannot resolve)")
            Xo, Yo, sol = solve_quantile_flow(
                X0, Y0, lambda s, H: 2 * s - 2 * H, lambda s, F: 2 * s - 2 * F, ts, t_end, cfl=cfl,
                dvdh=2.0, v_max=2.0, dt_max=np.inf if dt_max is None else dt_max, stepper=stepper_)
            edges = np.stack([Xo, Yo], axis=1)
            masses = np.full((2, M), 1.0 / M)
            en = np.array([_energy_quantile(Xo[k], Yo[k]) for k in range(ts.size)])
            com = np.stack([_com_quantile(Xo), _com_quantile(Yo)], axis=1)
            return interval_dataset(ts, edges, masses, species=SPECIES, model=self,
                                    solver={"method": "quantile", "cells": M, "steps": sol.steps, **user, **sol.info},
                                    energy=(("time",), en), centre_of_mass=(("time", "species"), com))
        a = min(p.support[0] for p in profiles.values())
        b = max(p.support[1] for p in profiles.values())
        grid = UniformGrid([a], [b], (M,), periodic=False)
        init = _cell_averages(profiles, grid)
        dx = float(grid.spacing[0])
        flux = cast(str, flux)  # typing only: set above for scheme="finite_volume"
        R, E, sol = solve_upwind_cdf_velocity(
            init["rho"].values, init["eta"].values, grid, lambda F, H: 2 * (F - H), lambda F, H: 2 * (H - F),
            2.0, ts, t_end, cfl=cfl, dt_max=np.inf if dt_max is None else dt_max, flux=flux, stepper=stepper_)
        dens = np.stack([R, E], axis=1)
        xc = grid.centres[0]
        en = np.array([_energy_fv(R[k], E[k], dx) for k in range(ts.size)])
        com = np.stack([R @ xc * dx, E @ xc * dx], axis=1)
        return continuum_dataset(ts, dens, grid, species=SPECIES, model=self,
                                 solver={"method": "finite_volume", "cells": M, "cfl": cfl, "steps": sol.steps,
                                         "flux": flux, "flux_order": FLUX_ORDERS[flux], **user, **sol.info},
                                 energy=(("time",), en), centre_of_mass=(("time", "species"), com))


def _cell_averages(profiles, grid):
    """``{label: GridDensity}``: cell averages from CDF differences (exact), or the user's own
    GridDensity when it lives on ``grid``."""
    edges = grid.edges[0]
    dx = float(grid.spacing[0])
    out = {}
    for s, p in profiles.items():
        if p.grid_density is not None and p.grid_density.grid == grid:
            out[s] = p.grid_density
        else:
            out[s] = GridDensity(np.diff(p.cdf(edges)) / dx, grid)
    return out


def _com_quantile(Q):
    """Centre of mass int_0^1 X(s) ds of piecewise-linear quantiles (trapezoid rule is exact)."""
    return 0.5 * (Q[:, 1:] + Q[:, :-1]).mean(axis=1)


def _energy_quantile(X, Y):
    """int (F - H)^2 dx for piecewise-linear quantiles: F - H is piecewise linear between the
    merged breakpoints, so Simpson's rule on each piece is exact."""
    M = X.size - 1
    s = np.linspace(0.0, 1.0, M + 1)
    pts = np.unique(np.concatenate([X, Y]))
    d = np.interp(pts, X, s, 0.0, 1.0) - np.interp(pts, Y, s, 0.0, 1.0)
    dm = np.interp(0.5 * (pts[1:] + pts[:-1]), X, s, 0.0, 1.0) - np.interp(0.5 * (pts[1:] + pts[:-1]), Y, s, 0.0, 1.0)
    return float(np.sum(np.diff(pts) * (d[:-1] ** 2 + 4 * dm**2 + d[1:] ** 2) / 6))


def _energy_fv(rho, eta, dx):
    """int (F - H)^2 dx with F, H linear inside each cell (exact for cell-wise constant densities)."""
    d = np.concatenate([[0.0], np.cumsum((rho - eta) * dx)])
    return float(np.sum(dx * (d[:-1] ** 2 + d[:-1] * d[1:] + d[1:] ** 2) / 3))
