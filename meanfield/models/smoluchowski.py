"""Model 004: coagulating Brownian particles → Smoluchowski coagulation–diffusion system.

Hammond & Rezakhanlou, *The kinetic limit of a system of coagulating Brownian particles*
(ARMA 2007).

Convention (stated once and used everywhere). Each **unordered** pair ``{i, j}`` of
particles coagulates at hazard ``κ(m_i, m_j) ε^{-2} V((x_i - x_j)/ε)``. The paper's generator
(1.6) sums over *ordered* pairs, i.e. ``κ = 2α`` (``pair_sum="ordered"``, the default, the paper
read literally); ``pair_sum="unordered"`` gives ``κ = α``. The continuum limit is then, in the
standard form with kernel ``K``,

    ∂_t f_n = d(n) Δ f_n + ½ Σ_{m<n} K(m, n-m) f_m f_{n-m} − f_n Σ_m K(n, m) f_m,
    K(n, m) = (d(n) + d(m)) F_V(κ(n, m) / (d(n) + d(m))),

with ``F_V(a) = a ∫ V (1 + u_a)`` and ``Δ u_a = a V (1 + u_a)``, ``u_a → 0`` (cell problem (1.7),
(6.1)). The paper's form (1.1)–(1.3) is the same equation with ``β = K/2``. Read literally, the
paper's (1.7)–(1.8) give ``β = (d(n)+d(m)) F(α')``, which is a factor up to 2 too large for its own
ordered-pair generator (many-body Monte Carlo of the particles follows ``β = ½(d(n)+d(m)) F(2α')``);
this module uses the corrected value, which is what the particle system is tested against.

* Kernel: radial ODE shooting of the cell problem (1.7) for any radial ``V``, closed form
  ``F(a) = 4π R (1 − tanh x / x)``, ``x = R sqrt(3a / (4π R^3))``, for ``V`` uniform on the ball
  ``B_R`` in ``d = 3``; ``F(a) → 4π R`` (Smoluchowski's ``4π (D_1 + D_2) R``) as ``a → ∞``.
* Continuum: the homogeneous system (Dormand–Prince 5(4) with error control) and the full system
  on a periodic box (Strang splitting: exact heat propagator per mass in Fourier space, reaction by
  SSP-RK3 under its positivity step, or RK4 / DP5 at fixed step:
  ``stepper="ssp_rk3"|"rk4"|"dormand_prince_54"``), both advanced by
  the package's one time-stepping driver (:func:`meanfield.solvers.timestepping.integrate`). Mass truncation
  ``n ≤ M`` is **conservative** (a collision whose product would exceed ``M`` does not happen, so
  ``Σ n f_n`` is conserved exactly). The coagulation sums cost O(M²) per point (compiled loop) or,
  for kernels that are sums of products ``Σ_r a_r(n) b_r(m)`` (constant, additive, multiplicative,
  or any tabulated kernel of numerical rank ≤ 4), O(M log M) by FFT convolutions over mass
  (:class:`~meanfield.models.coagulation_sums.SeparableKernel`, checked and summed through its factors
  in O(r M) memory: no ``M × M`` matrix is formed; the paper's kernel with constant ``d`` and ``α`` is
  the constant ``2d F(κ/2d)`` and is handled so); ``sums="auto"|"direct"|"fft"`` chooses, and the
  sums themselves live in :mod:`meanfield.models.coagulation_sums`. In free space (``domain="free"``) the PDE
  is solved on the periodic box
  ``[0, L)^3`` standing for ``R^3``, refused when the Gaussian wrap-around estimate exceeds 1e-3.
* Physics open to the user (theory page 004, "The model's interface"), the paper's choices as
  defaults: the kernel ``K`` (``kernel=``: an ``(M, M)`` table, a SeparableKernel or a callable
  ``K(n, m)``; checked symmetric, non-negative and finite), used by the homogeneous system, the PDE
  and the particles (hazard factor ``κ = (d(n)+d(m)) F^{-1}(K/(d(n)+d(m)))``, refused above the
  diffusion-limited rate); the diffusivity ``d(m)`` (a number, ``M`` values or a callable) in the
  PDE and the particles; the interaction profile ``V`` of the cell problem (``interaction=``,
  :meth:`CoagulationDiffusion.capture`). Initial data through ``initial=`` on every run method.
* The kinetic scaling ``N ε^{d-2} = Z`` (§1.3) is :func:`kinetic_scaling`; a particle number whose
  ε is not small (ε > L/3 on the torus, or reaction ranges overlapping on average in the densest
  initial region) is refused.
* Particles: Brownian motions ``dx = sqrt(2 d(m)) dB`` (generator (1.5)) on the torus or in ``R^3``
  (the paper's setting), fixed step from the rule ``sqrt(2 d_max dt) ≤ c ε`` and ``λ_max dt ≤ 0.1``;
  after each Brownian step (Euler–Maruyama, exact here: no drift, additive noise) the reaction
  sweep of :mod:`meanfield.particles.coagulation` reacts each close pair with probability
  ``1 − exp(−λ dt)``, at most one reaction per particle per step, the product placed at ``x_i``
  with probability ``m_i / (m_i + m_j)`` (placement rule of §1); each particle carries weight
  ``ε^{d-2} = Z / N`` (empirical measure (1.10)). The state of a run is the ``(n, 4)`` array of rows
  ``[x, y, z, mass]``, whose row count falls as particles merge; the run's numpy Generator drives
  both the increments and the sweeps, so a seed fixes the run.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
from scipy.integrate import solve_ivp

from meanfield.measures import Domain, GridDensity, as_generator
from meanfield.models.base import (
    Trajectory,
    check_integer,
    check_memory,
    check_nonnegative,
    check_positive,
    check_times,
    continuum_dataset,
)
from meanfield.models.coagulation_sums import (
    FFT_MIN_MASSES,
    FFT_MIN_MASSES_FIELD,
    SeparableKernel,
    as_kernel,
    choose_sums,
    coagulation_operator,
    loss_rate,
    sums_keyword,
)
from meanfield.models.contract import density_on_grid
from meanfield.particles.coagulation import CoagulationSweep, profile_mass
from meanfield.solvers import fft
from meanfield.solvers.grids import UniformGrid
from meanfield.solvers.timestepping import (
    RK4,
    SSPRK3,
    DormandPrince54,
    EulerMaruyama,
    ExactLinear,
    JumpSplitting,
    ODEProblem,
    PIController,
    SDEProblem,
    SemilinearProblem,
    SplitProblem,
    StrangSplitting,
    Substeps,
    integrate,
)

__all__ = ["CoagulationDiffusion", "capture_function", "capture_function_uniform_ball", "coagulation_rates",
           "invert_capture", "kinetic_scaling", "solve_homogeneous"]

# the coagulation sums live in meanfield.models.coagulation_sums; these names stay importable from here
_REEXPORTED = (FFT_MIN_MASSES, FFT_MIN_MASSES_FIELD, SeparableKernel, coagulation_operator)


# --- the kinetic scaling N ε^{d-2} = Z (§1.3) ----------------------------------------------------
def kinetic_scaling(n=None, epsilon=None, total_density=1.0, dim=3):
    """The paper's kinetic (constant mean-free-path) scaling ``N ε^{d-2} = Z`` (§1.3, Thm 1.1).

    Give exactly one of ``n`` (returns ``ε = (Z/N)^{1/(d-2)}``) or ``epsilon`` (returns the
    particle number ``N = Z ε^{2-d}``, a float: round it as you like). ``dim ≥ 3`` (the paper's
    hypothesis: Brownian motion must be transient); ``Z = total_density > 0``; ``N ≥ 2`` an
    integer; ``0 < ε < ∞``.
    """
    dim = check_integer("dim", dim, minimum=3)
    z = check_positive("total_density", total_density)
    if (n is None) == (epsilon is None):
        raise ValueError(f"give exactly one of n and epsilon, got n={n!r}, epsilon={epsilon!r}")
    if n is not None:
        n = check_integer("n", n, minimum=2)
        return (z / n) ** (1.0 / (dim - 2))
    eps = check_positive("epsilon", epsilon)
    return z * eps ** (2 - dim)


# --- the kernel: cell problem (1.7)/(6.1) ------------------------------------------------------
def capture_function_uniform_ball(a, radius=1.0):
    """``F(a)`` for ``V`` uniform on ``B_R ⊂ R^3`` (∫V = 1): ``4π R (1 − tanh x / x)``."""
    a = _real_array("a", a)
    radius = check_positive("radius", radius)
    if np.any(a < 0) or np.any(np.isnan(a)):
        raise ValueError(f"a must be non-negative, got {a!r}")
    x = radius * np.sqrt(3 * a / (4 * np.pi * radius**3))
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(x < 1e-4, 1 - x**2 / 3 + 2 * x**4 / 15, np.tanh(x) / np.where(x == 0, 1, x))
    return 4 * np.pi * radius * (1 - ratio)


def capture_function(a, profile, radius=1.0):
    """``F(a) = a ∫ V (1 + u)`` for a radial ``V(r) = profile(r)`` supported in ``B_radius ⊂ R^3``.

    ``profile`` need not be normalised (it is scaled to ∫V = 1). Shoots ``w = 1 + u``:
    ``w'' + (2/r) w' = a V w``, ``w(0) = 1``, ``w'(0) = 0``; outside the support ``w = A − B/r`` and
    ``F = 4π B / A``.
    """
    a = check_nonnegative("a", a)
    radius = check_positive("radius", radius)
    if not callable(profile):
        raise TypeError(f"profile must be a callable radial profile V(r), got {profile!r}")
    r = np.linspace(0, radius, 4001)
    mass = np.trapezoid(4 * np.pi * r**2 * profile(r), r)
    if not mass > 0:
        raise ValueError("the profile must have positive integral on its support")

    def rhs(s, y):
        w, dw = y
        vs = profile(np.array([s]))[0] / mass
        return [dw, a * vs * w - (2 / s * dw if s > 0 else 0.0)]

    # start at small r0 with the regular series w = 1 + a V(0) r^2 / 6
    r0 = 1e-6 * radius
    v0 = profile(np.array([0.0]))[0] / mass
    sol = solve_ivp(rhs, (r0, radius), [1 + a * v0 * r0**2 / 6, a * v0 * r0 / 3], rtol=1e-12, atol=1e-14,
                    method="DOP853")
    w, dw = sol.y[:, -1]
    b = dw * radius**2
    big_a = w + b / radius
    return 4 * np.pi * b / big_a


def coagulation_rates(masses, diffusivity, alpha, capture, pair_sum="ordered"):
    """Standard-form kernel ``K[n-1, m-1]`` for masses ``1..M`` (see the module docstring)."""
    if pair_sum not in ("ordered", "unordered"):
        raise ValueError(f"pair_sum must be 'ordered' or 'unordered', got {pair_sum!r}")
    n = np.arange(1, masses + 1)
    dsum = diffusivity(n)[:, None] + diffusivity(n)[None, :]
    kappa = (2.0 if pair_sum == "ordered" else 1.0) * alpha(n[:, None], n[None, :]) * np.ones_like(dsum)
    return dsum * capture(kappa / dsum)



# --- capture function of a model's V and its inverse (the particles' reaction strengths) ----------------
def invert_capture(capture, target, top=None, a_max=1e12):
    """``a`` with ``capture(a) = target`` for each entry of ``target ≥ 0`` (``F`` is increasing from 0 to
    the capacity of the support of ``V``, Thm 6.2), by bracketing and Brent's method on the distinct
    values. ``top``: a bound ``F < top`` (default ``F(a_max)``); ValueError for a target not below it or
    not reached by ``a ≤ a_max`` (no finite reaction strength gives it)."""
    from scipy.optimize import brentq

    target = np.asarray(target, dtype=float)
    values, where = np.unique(target, return_inverse=True)
    top = float(capture(a_max)) if top is None else float(top)
    out = np.empty(values.size)
    for k, y in enumerate(values):
        if y == 0.0:
            out[k] = 0.0
            continue
        if not (np.isfinite(y) and 0 < y < top):
            raise ValueError(f"no reaction strength gives F(a) = {y:.6g}: F is bounded by the capacity of the "
                             f"support of V, F(a) < {top:.6g} (diffusion-limited rate)")
        hi = max(y, 1.0)
        while float(capture(hi)) < y:
            if hi >= a_max:
                raise ValueError(f"no reaction strength a <= {a_max:.3g} gives F(a) = {y:.6g} (F({a_max:.3g}) = "
                                 f"{float(capture(a_max)):.6g}): too close to the diffusion-limited rate")
            hi = min(16 * hi, a_max)
        out[k] = brentq(lambda a, y=y: float(capture(a)) - y, 0.0, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps,
                        maxiter=500)
    return out[where].reshape(target.shape)


# reaction steppers of the coagulation–diffusion splitting (``stepper=`` of solve_continuum), under the names of
# meanfield.solvers.timestepping (one spelling across models); the older spellings keep working for one release with a
# DeprecationWarning, and so does the stepper given as ``scheme=``
REACTION_SCHEMES = {cls.name: cls for cls in (SSPRK3, RK4, DormandPrince54)}
_OLD_SCHEMES = {"ssprk3": "ssp_rk3", "dp5": "dormand_prince_54", "dp54": "dormand_prince_54"}


def _check_f0(f0, size=None):
    """A 1-D array of non-negative finite class densities (masses 1..M), ``size`` entries if given."""
    if isinstance(f0, (str, bytes)) or f0 is None:
        raise TypeError(f"initial class densities must be a 1-D array of real numbers, got {f0!r}")
    try:
        arr = np.asarray(f0, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"initial class densities must be a 1-D array of real numbers, got {f0!r}") from None
    if arr.ndim != 1 or arr.size < 1 or (size is not None and arr.size != size):
        want = f"{size} entries (masses 1..{size})" if size is not None else "masses 1..M"
        raise ValueError(f"initial class densities must be a 1-D array of {want}, got shape {arr.shape}")
    if np.any(arr < 0) or not np.all(np.isfinite(arr)):
        raise ValueError("initial class densities must be finite and non-negative")
    return arr


def solve_homogeneous(kernel, f0, t_end, times=None, rtol=1e-10, atol=1e-14, sums="auto", *, method=None):
    """Homogeneous system ``df_n/dt = Q(f)_n`` (standard form, conservative truncation at ``M = len(f0)``;
    theory page 004, eqs. (1.1)–(1.3) without diffusion) by Dormand–Prince 5(4) with error control
    (:class:`DormandPrince54` under the classical controller, :class:`PIController` with ``beta=0``).
    ``kernel``: array ``(M, M)`` or a :class:`SeparableKernel`; ``sums``: "direct" (compiled O(M²) loop),
    "fft" (O(M log M), separable kernels) or "auto" (default; see
    :func:`~meanfield.models.coagulation_sums.choose_sums`); ``method=`` is its deprecated name.
    Returns ``(times, f)``, f of shape ``(len(times), M)``."""
    sums = sums_keyword(sums, method, "auto", "solve_homogeneous")
    rule = PIController(rtol, atol, beta=0.0)  # refuses tolerances float64 cannot deliver, before any work
    ts = check_times(t_end, times)
    f0 = _check_f0(f0)
    mat, sep = as_kernel(kernel, f0.size)
    how, operand = choose_sums(mat, sep, sums, f0.size)
    problem = ODEProblem(lambda t, y: coagulation_operator(y[:, None], operand, how)[:, 0])
    sol = integrate(DormandPrince54(), problem, f0, max(ts[-1], float(t_end)), None if times is None else ts, rule)
    return sol.times, np.array(sol.states)


def _no_drift(t, y):
    """The particles are Brownian: no drift."""
    return 0.0


def _ball_profile(r):
    """``V`` uniform on the unit ball, ``∫V = 1``."""
    return np.where(r <= 1.0, 3 / (4 * np.pi), 0.0)


class CoagulationDiffusion:
    """Coagulating Brownian particles in the periodic box ``[0, L)^3`` or in free space ``R^3``, and
    their Smoluchowski limit (see the module docstring for the equations and the convention, and
    theory page 004).

    Species are the mass classes, labelled ``"1", "2", …, "M"`` in increasing mass (:attr:`species`);
    particle and continuum outputs use these labels.

    Parameters
    ----------
    max_mass : int
        ``M``: masses ``1..M`` (conservative truncation; particles never exceed ``M`` either).
    diffusivity : float, array of length M, or callable
        ``d(m)`` (generator ``d(m) Δ``, eq. (1.5), so ``E|Δx|^2 = 6 d(m) t``): a number (constant), the
        values ``d(1), …, d(M)``, or a function of the mass array; positive and finite. Used by the
        PDE (heat flow of each class) and by the particles (Brownian increments).
    alpha : float or callable
        Reaction strength ``α(n, m)`` of the generator (1.6) (symmetric, non-negative); it sets the
        paper's kernel (eqs. (1.7)–(1.8), corrected as on theory page 004) when ``kernel`` is None,
        and is not used otherwise.
    pair_sum : "ordered" (paper (1.6) literally, κ = 2α) or "unordered" (κ = α); like ``alpha``, used
        only by the paper's kernel (``kernel`` None).
    interaction : "ball" (V uniform on the unit ball, closed-form kernel) or a callable radial
        profile ``V(r)`` supported in the unit ball (need not be normalised; kernel by ODE shooting of
        the cell problem (1.7)/(6.1), :meth:`capture`). Used by the kernel and by the particles.
    box : float
        Side ``L`` of the periodic box. In free space (``domain="free"``) the box only carries the
        continuum solver: the whole-space PDE is solved on the periodic box ``[0, L)^3``, which is
        faithful while the densities are negligible at its faces (the solver reports
        the Gaussian wrap-around estimate).
    initial_mass_fractions : sequence
        Number fractions of masses 1, 2, ... in the initial data (default monodisperse).
    total_density : float
        ``Z = Σ_n ∫ h_n`` (kinetic scaling ``N ε = Z`` in d = 3).
    initial_profile : "uniform", "gaussian" (centred bump of width ``box/8`` on a uniform floor) or
        "bump" (the Gaussian alone, centred at ``(L/2, L/2, L/2)``, standard deviation
        ``bump_width``, default ``box/8``; periodised on the torus).
    domain : "torus" (particles on ``[0, L)^3``, periodic) or "free" (particles in ``R^3``, the
        paper's setting; needs ``initial_profile="bump"``, data of fast decay).
    bump_width : float, optional
        Standard deviation of the "bump" profile.
    kernel : None, array (M, M), SeparableKernel or callable, optional
        The standard-form coagulation kernel ``K(n, m)`` (``K = 2β`` of the paper's (1.1)–(1.3)). None
        (default): the paper's kernel ``K = (d(n) + d(m)) F(κ / (d(n) + d(m)))`` from the capture
        function of ``V`` (theory page 004). A symmetric non-negative finite ``(M, M)`` table, a
        :class:`SeparableKernel` (summed by FFT, never expanded to ``M × M``), or a function
        ``K(n, m)`` of broadcast mass arrays. Used by the homogeneous system, the PDE and the
        particles: their pair hazard is ``κ(n, m) V_ε``, ``κ = (d(n)+d(m)) F^{-1}(K / (d(n)+d(m)))``
        (the inverse of the cell problem, :func:`invert_capture`), which exists only below the
        diffusion-limited rate ``K < (d(n)+d(m)) F(∞)`` (``F(∞) = 4π`` for the ball); the particles
        refuse a kernel above it.
    """

    def __init__(self, max_mass=8, diffusivity=1.0, alpha=100.0, pair_sum="ordered", interaction="ball", box=1.0,
                 initial_mass_fractions=(1.0,), total_density=10.0, initial_profile="uniform", domain="torus",
                 bump_width=None, kernel=None):
        self.max_mass = check_integer("max_mass", max_mass, minimum=1)
        big_m = self.max_mass
        self.box = check_positive("box", box)
        self.total_density = check_positive("total_density", total_density)
        if pair_sum not in ("ordered", "unordered"):
            raise ValueError(f"pair_sum must be 'ordered' or 'unordered', got {pair_sum!r}")
        self.pair_sum = pair_sum
        separable = isinstance(kernel, SeparableKernel)
        check_memory(8.0 * big_m * 4, f"the mass-class vectors of max_mass={big_m}")
        masses = np.arange(1, big_m + 1)
        # diffusivity: a number, M values, or a function d(m)
        if callable(diffusivity):
            self._d = diffusivity
            dvals = np.broadcast_to(np.asarray(diffusivity(masses), dtype=float), (big_m,)).copy()
            self._diffusivity = diffusivity
        elif np.ndim(diffusivity) == 0:
            c = check_positive("diffusivity", diffusivity)
            self._d = lambda m, c=c: np.full(np.shape(m), c)
            dvals = self._d(masses)
            self._diffusivity = c
        else:
            dvals = _real_array("diffusivity", diffusivity)
            if dvals.shape != (big_m,):
                raise ValueError(f"diffusivity must be a number, a callable or an array of max_mass={big_m} values "
                                 f"d(1..{big_m}), got shape {dvals.shape}")
            table = dvals.copy()
            self._d = lambda m, t=table: t[np.asarray(m, dtype=np.intp) - 1]
            self._diffusivity = table.copy()
        if np.any(~np.isfinite(dvals)) or np.any(dvals <= 0):
            raise ValueError(f"diffusivity must be positive for masses 1..{big_m}, got {dvals}")
        self._dvals = dvals
        # alpha: the reaction strength of the paper's kernel (a table only when that kernel is used)
        if callable(alpha):
            self._alpha = alpha
            self._alpha_arg = alpha
        else:
            c = check_nonnegative("alpha", alpha)
            self._alpha = lambda n, m, c=c: np.full(np.broadcast(n, m).shape, c)
            self._alpha_arg = c
        # an (M, M) table is built below (callable alpha or kernel) or by the first solve (the paper's kernel of a
        # mass-dependent d): refused now if it cannot fit; a separable kernel (given, or the paper's constant one)
        # never is
        if not (separable or self._paper_kernel_is_constant(kernel)):
            check_memory(8.0 * 4 * big_m**2, f"the ({big_m}, {big_m}) kernel tables of max_mass={big_m}")
        if kernel is None and callable(alpha):
            avals = np.asarray(self._alpha(masses[:, None], masses[None, :]), dtype=float)
            if not np.all(np.isfinite(avals)) or np.any(avals < 0) or not np.allclose(avals, avals.T):
                raise ValueError(f"alpha must be finite, non-negative and symmetric on masses 1..{big_m}; got "
                                 f"min {avals.min():.3g}, max |α(n,m) - α(m,n)| {np.abs(avals - avals.T).max():.3g}")
        # interaction V: the ball or a radial profile
        if isinstance(interaction, str) and interaction == "ball":
            self._capture = capture_function_uniform_ball
            self._profile = _ball_profile
        elif callable(interaction):
            _check_profile(interaction)
            prof = interaction
            self._capture = np.vectorize(lambda a: capture_function(a, prof))
            self._profile = prof
        else:
            raise ValueError(f"interaction must be 'ball' or a radial profile callable, got {interaction!r}")
        self.interaction = interaction
        frac = _real_array("initial_mass_fractions", initial_mass_fractions)
        if frac.ndim != 1 or frac.size > big_m or np.any(frac < 0) or not np.all(np.isfinite(frac)) or frac.sum() <= 0:
            raise ValueError(f"initial_mass_fractions must be ≤ {big_m} non-negative numbers, got {frac}")
        self._fractions_arg = tuple(float(x) for x in frac)
        self.fractions = np.zeros(big_m)
        self.fractions[: frac.size] = frac / frac.sum()
        if initial_profile not in ("uniform", "gaussian", "bump"):
            raise ValueError(f"initial_profile must be 'uniform', 'gaussian' or 'bump', got {initial_profile!r}")
        if domain not in ("torus", "free"):
            raise ValueError(f"domain must be 'torus' or 'free' (R^3), got {domain!r}")
        if domain == "free" and initial_profile != "bump":
            raise ValueError(f"domain='free' (R^3) needs integrable initial data: initial_profile must be 'bump', "
                             f"got {initial_profile!r}")
        self.initial_profile = initial_profile
        self.bump_width = self.box / 8 if bump_width is None else check_positive("bump_width", bump_width)
        if self.bump_width > self.box / 4:
            raise ValueError(f"bump_width must be at most box/4 = {self.box / 4} so that the bump fits in the box, "
                             f"got {bump_width!r}")
        self.domain_kind = domain
        self.domain = Domain.torus(3, self.box) if domain == "torus" else Domain.real(3)
        # the coagulation kernel: checked now (symmetry, non-negativity, finiteness, shape (M, M))
        self._kernel_arg = kernel
        self._operand = None
        if kernel is not None:
            if callable(kernel) and not separable:
                try:
                    table = np.asarray(kernel(masses[:, None], masses[None, :]), dtype=float)
                except (TypeError, ValueError) as err:
                    raise ValueError(f"kernel(n, m) must give real numbers on the mass arrays 1..{big_m}: "
                                     f"{err}") from None
                kernel_table = np.broadcast_to(table, (big_m, big_m)).copy()
                mat, _ = as_kernel(kernel_table, big_m)
                self._operand = mat
            else:
                mat, sep = as_kernel(kernel, big_m)
                self._operand = sep if mat is None else mat.copy()

    # -- the contract: labels and parameters -------------------------------------------------
    @property
    def species(self):
        """The mass-class labels ``("1", …, str(max_mass))``, in increasing mass."""
        return tuple(str(m) for m in range(1, self.max_mass + 1))

    @property
    def params(self):
        """Every constructor argument (user callables and kernels as given, arrays as arrays)."""
        return {"max_mass": self.max_mass, "diffusivity": self._diffusivity, "alpha": self._alpha_arg,
                "pair_sum": self.pair_sum, "interaction": self.interaction, "box": self.box,
                "initial_mass_fractions": self._fractions_arg, "total_density": self.total_density,
                "initial_profile": self.initial_profile, "domain": self.domain_kind, "bump_width": self.bump_width,
                "kernel": self._kernel_arg}

    # -- kernel ------------------------------------------------------------------------------
    def _paper_kernel_is_constant(self, kernel):
        """True when the kernel is the paper's (``kernel`` None) with a constant ``α`` and one diffusivity for
        every mass: then ``K = 2d F(κ/(2d))`` is the same number for every pair (theory page 004)."""
        return kernel is None and not callable(self._alpha_arg) and bool(np.all(self._dvals == self._dvals[0]))

    def coagulation_kernel(self):
        """The standard-form kernel as the solvers use it: the :class:`SeparableKernel` given as ``kernel=``
        (not expanded); for the paper's kernel with a constant ``α`` and one diffusivity for every mass,
        which is constant, ``SeparableKernel.constant(M, K)`` with ``K = 2d F(κ/(2d))`` evaluated once (the
        same number as every entry of the table, O(M) memory: no ``M × M`` matrix); otherwise the
        ``(M, M)`` table."""
        if self._operand is None:
            def d(m):
                return np.asarray(self._d(m), float)

            def alpha(n, m):
                return np.asarray(self._alpha(n, m), float)

            if self._paper_kernel_is_constant(self._kernel_arg):
                value = float(coagulation_rates(1, d, alpha, self._capture, self.pair_sum)[0, 0])
                self._operand = SeparableKernel.constant(self.max_mass, value)
            else:
                self._operand = coagulation_rates(self.max_mass, d, alpha, self._capture, self.pair_sum)
        return self._operand

    def kernel(self):
        """Standard-form ``K[n-1, m-1]`` as an ``(M, M)`` table (a :class:`SeparableKernel` is tabulated,
        after a memory check); the paper's ``β`` is ``K / 2``."""
        k = self.coagulation_kernel()
        if isinstance(k, SeparableKernel):
            check_memory(8.0 * self.max_mass**2, f"the ({self.max_mass}, {self.max_mass}) table of the kernel")
            return k.matrix()
        return k.copy()

    def capture(self, a):
        """The capture function ``F(a) = a ∫ V (1 + u_a)`` of this model's ``V`` (cell problem (1.7)/(6.1),
        theory page 004): closed form for the ball, radial ODE shooting for a profile."""
        a = np.asarray(a, dtype=float)
        if not np.all(np.isfinite(a)) or np.any(a < 0):
            raise ValueError(f"a must be finite and non-negative, got {a!r}")
        return self._capture(a)

    def capacity(self):
        """``F(∞)``, the capacity of the support of ``V`` (Thm 6.2; eq. (6.4)): ``4π R``, ``R`` the radius of
        the support (``4π`` for the unit ball). The diffusion-limited rate is ``(d(n) + d(m)) F(∞)``."""
        if isinstance(self.interaction, str):
            return 4 * np.pi
        r = np.linspace(0, 1, 4001)
        support = r[np.broadcast_to(np.asarray(self._profile(r), dtype=float), r.shape) > 0]
        return 4 * np.pi * float(support.max())

    def reaction_strengths(self):
        """``κ(n, m)``, the hazard factor of an unordered pair (``λ = κ V_ε``, the ordered-pair factor
        included) for the masses ``1..M``, zero for pairs whose product would exceed ``M``. From ``α``
        for the paper's kernel; from a user kernel by inverting ``K = (d(n)+d(m)) F(κ/(d(n)+d(m)))``
        (ValueError where ``K`` is at or above the diffusion-limited rate)."""
        if self._kernel_arg is None:
            return (2.0 if self.pair_sum == "ordered" else 1.0) * self._kappa_alpha()
        big_m = self.max_mass
        check_memory(8.0 * 4 * big_m**2, f"the ({big_m}, {big_m}) reaction-strength table of the particles")
        k = self.kernel()
        dsum = self._dvals[:, None] + self._dvals[None, :]
        reach = (np.add.outer(np.arange(1, big_m + 1), np.arange(1, big_m + 1)) <= big_m)
        target = np.where(reach, k / dsum, 0.0)
        try:
            if isinstance(self.interaction, str):  # the ball: closed form, any a
                a = invert_capture(self._capture, target)
            else:  # shooting overflows for a >> 1e6; F < 4π (radius of the support of V)
                a = invert_capture(self._capture, target, top=self.capacity(), a_max=1e6)
        except ValueError as err:
            raise ValueError(f"kernel is not realisable by the particles: {err}; K(n, m) must stay below "
                             "(d(n) + d(m)) F(∞)") from None
        return dsum * a

    def epsilon(self, n):
        """Reaction range from the kinetic scaling ``N ε^{d-2} = Z`` (§1.3): ``ε = Z / N`` in d = 3."""
        return kinetic_scaling(n=n, total_density=self.total_density)

    def peak_density(self):
        """``max_x Σ_n h_n(x)`` of the preset initial data (``∫ = Z``)."""
        if self.initial_profile == "uniform":
            return self.total_density / self.box**3
        c = self.box / 2
        return float(self.total_density * self._shape_density(np.array(c), np.array(c), np.array(c)))

    def check_kinetic_regime(self, n):
        """Refuse ``n`` for which ``ε = Z/N`` is not small: on the torus ``ε ≤ L/3`` (cell lists, and
        ε ≪ L); everywhere, reaction ranges of the densest initial region must not overlap on average,
        ``ε^3 · (number density) = Z² max h / N² < 1`` (= ``(ε / mean spacing)^3``). Returns ε."""
        n = check_integer("n", n, minimum=2)
        eps = self.epsilon(n)
        if self.domain_kind == "torus" and eps > self.box / 3:
            raise ValueError(f"n={n} gives ε = Z/N = {eps:.3g} > box/3: the kinetic scaling needs ε ≪ box; "
                             f"use n > {int(3 * self.total_density / self.box)}")
        fill = self.total_density * self.peak_density() / n**2
        if fill >= 1.0:
            need = int(np.ceil(np.sqrt(self.total_density * self.peak_density())))
            raise ValueError(f"n={n} gives ε = Z/N = {eps:.3g} and ε³·(peak number density) = {fill:.3g} ≥ 1: "
                             f"reaction ranges overlap, outside the kinetic scaling; use n > {need}")
        return eps

    # -- initial data ------------------------------------------------------------------------
    def _shape_density(self, x, y, z):
        if self.initial_profile == "uniform":
            return np.ones(np.broadcast(x, y, z).shape) / self.box**3
        if self.initial_profile == "bump":
            c, w = self.box / 2, self.bump_width
            shifts = (-self.box, 0.0, self.box) if self.domain_kind == "torus" else (0.0,)
            out = 0.0
            for sx in shifts:  # periodised on the torus (images beyond the neighbours are < e^{-72})
                for sy in shifts:
                    for sz in shifts:
                        out = out + np.exp(-((x - c + sx) ** 2 + (y - c + sy) ** 2 + (z - c + sz) ** 2) / (2 * w**2))
            return out / ((2 * np.pi) ** 1.5 * w**3)
        c, w = self.box / 2, self.box / 8
        bump = np.exp(-((x - c) ** 2 + (y - c) ** 2 + (z - c) ** 2) / (2 * w**2))
        g = 0.5 / self.box**3 + 0.5 * bump / ((2 * np.pi) ** 1.5 * w**3)
        return g

    def continuum_grid(self, resolution=16):
        """The grid of :meth:`solve_continuum`: ``resolution^3`` cells on the periodic box ``[0, L)^3``
        (it also stands for ``R^3`` when ``domain="free"``). A GridDensity given as ``initial=`` lives
        on it."""
        resolution = check_integer("resolution", resolution, minimum=2)
        return UniformGrid(0.0, self.box, (resolution,) * 3, periodic=True)

    def _preset_array(self, grid):
        """``h_n = Z · fraction_n · shape`` (point values, normalised on the grid), shape ``(M, *grid.shape)``."""
        shape = self._shape_density(*grid.mesh())
        shape = shape / grid.integrate(shape)  # exactly Z · fraction_n on the grid
        return self.total_density * self.fractions[:, None, None, None] * shape[None]

    def initial_density(self, grid: UniformGrid):
        """The preset initial data ``{label: GridDensity}`` on ``grid``, one per mass class in
        :attr:`species` order: ``h_n = Z · fraction_n · shape`` (point values of the profile, scaled so
        that ``∫ h_n = Z · fraction_n`` on the grid; zero for classes absent initially)."""
        if not isinstance(grid, UniformGrid) or grid.ndim != 3:
            raise ValueError(f"grid must be a 3-D meanfield.solvers.grids.UniformGrid, got {grid!r}")
        values = self._preset_array(grid)
        return {label: GridDensity(values[k], grid) for k, label in enumerate(self.species)}

    def _class_masses(self):
        return {label: self.total_density * float(self.fractions[k]) for k, label in enumerate(self.species)}

    def _initial_parts(self, initial):
        """``initial`` as ``[(label, class indices, value, mass)]``: one value for every class (label "",
        normalised to ``Z`` and split by the mass fractions) or a dict naming every class of positive
        initial mass (each normalised to ``Z · fraction_n``)."""
        if not isinstance(initial, Mapping):
            return [("", np.flatnonzero(self.fractions > 0), initial, self.total_density)]
        keys = {str(k): v for k, v in initial.items()}
        unknown = sorted(set(keys) - set(self.species))
        if unknown:
            raise ValueError(f"initial names mass classes {unknown} not among the species '1'..'{self.max_mass}'")
        masses = self._class_masses()
        missing = [s for s in self.species if masses[s] > 0 and s not in keys]
        if missing:
            raise ValueError(f"initial must give every mass class of positive initial mass (initial_mass_fractions); "
                             f"missing {missing}")
        return [(s, np.array([int(s) - 1]), keys[s], masses[s]) for s in self.species if s in keys]

    def _initial_array(self, grid, initial):
        """The initial densities on the run's grid, shape ``(M, *grid.shape)``: the preset (``initial``
        None) or the user's data (callables averaged over cells and normalised, GridDensities on the
        grid with the class mass; :func:`~meanfield.models.contract.density_on_grid`)."""
        if initial is None:
            return self._preset_array(grid)
        out = np.zeros((self.max_mass, *grid.shape))
        for label, idx, value, mass in self._initial_parts(initial):
            dens = density_on_grid(value, grid, mass, label)
            for k in idx:
                out[k] = dens.values * self.fractions[k] if not label else dens.values
        return out

    def sample_particles(self, n, rng=None, initial=None, *, resolution=64):
        """``n`` i.i.d. particles from ``h_n / Z``; returns ``(positions (n, 3), masses (n,))``.

        Masses are drawn from the initial mass fractions. ``initial`` None: positions from the preset
        profile. Otherwise the same forms as :meth:`solve_continuum` (one value for every class, or a
        dict by class label): a callable density is averaged over the cells of the
        ``resolution^3`` grid of the box (:meth:`continuum_grid`) and each particle is drawn from that
        piecewise-constant density (a cell with probability its mass, uniform inside it); a
        GridDensity is sampled on its own grid (its mass must be the class's, ``Z`` for one value)."""
        n = check_integer("n", n, minimum=2)
        check_memory(8.0 * 5 * n, f"a particle state of n={n}")
        g = as_generator(rng)
        parts = None
        if initial is not None:
            parts = self._initial_parts(initial)  # checked before any draw
            grid = self.continuum_grid(resolution)
            dens = []
            for label, idx, value, mass in parts:
                on = value.grid if isinstance(value, GridDensity) else grid
                if mass > 0:
                    dens.append((idx, density_on_grid(value, on, mass, label)))
        masses = g.choice(np.arange(1, self.max_mass + 1), size=n, p=self.fractions)
        if parts is not None:
            pos = np.empty((n, 3))
            for idx, d in dens:
                sel = np.flatnonzero(np.isin(masses, idx + 1))
                if sel.size:
                    pos[sel] = d.sample(sel.size, rng=g).positions
            pos = self.domain.wrap(pos)
        elif self.initial_profile == "uniform":
            pos = g.random((n, 3)) * self.box
        elif self.initial_profile == "bump":
            pos = self.box / 2 + g.normal(scale=self.bump_width, size=(n, 3))
            pos = self.domain.wrap(pos)
        else:
            pos = np.empty((n, 3))
            from_bump = g.random(n) < 0.5
            pos[~from_bump] = g.random(((~from_bump).sum(), 3)) * self.box
            pos[from_bump] = self.box / 2 + g.normal(scale=self.box / 8, size=(from_bump.sum(), 3))
            pos %= self.box
        return pos, masses.astype(np.int64)

    # -- particles ---------------------------------------------------------------------------
    def step_rule(self, n, displacement=0.1, hazard=0.1):
        """``dt`` with ``sqrt(2 d_max dt) ≤ displacement·ε`` and ``λ_max dt ≤ hazard``."""
        eps = self.epsilon(n)
        dmax = float(np.max(self._d(np.arange(1, self.max_mass + 1))))
        if self._kernel_arg is None:
            kappa = (2.0 if self.pair_sum == "ordered" else 1.0) * float(np.max(self._kappa_alpha()))
        else:
            kappa = float(np.max(self.reaction_strengths()))
        vmax = float(self._profile(np.linspace(0, 1, 201)).max()) / self._profile_mass()
        move = displacement**2 * eps**2 / (2 * dmax)
        return move if kappa == 0.0 else min(move, hazard * eps**2 / (kappa * vmax))

    def _kappa_alpha(self):
        check_memory(8.0 * 2 * self.max_mass**2, f"the ({self.max_mass}, {self.max_mass}) table of alpha(n, m)")
        m = np.arange(1, self.max_mass + 1)
        return np.asarray(self._alpha(m[:, None], m[None, :]), dtype=float)

    def _profile_mass(self):
        return profile_mass(self._profile)

    def _check_state(self, state):
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise TypeError("state must be (positions of shape (n, 3), integer masses of shape (n,)), got "
                            f"{type(state).__name__}")
        pos0, m0 = state
        try:
            pos = np.array(pos0, dtype=float)
        except (TypeError, ValueError):
            raise TypeError("state positions must be an (n, 3) array of real numbers") from None
        m_arr = np.asarray(m0)
        if pos.ndim != 2 or pos.shape[1] != 3 or m_arr.shape != (pos.shape[0],):
            raise ValueError(f"state must be (positions of shape (n, 3), integer masses of shape (n,)), got shapes "
                             f"{pos.shape} and {m_arr.shape}")
        if pos.shape[0] == 0:
            raise ValueError("state is empty (no particles): nothing to simulate")
        if m_arr.dtype.kind not in "iuf" or not np.all(np.isfinite(m_arr)) or np.any(m_arr != np.round(m_arr)):
            raise ValueError(f"masses must be integers in 1..{self.max_mass}, got non-integer values")
        mass = m_arr.astype(np.int64)
        if not np.all(np.isfinite(pos)):
            raise ValueError("positions must be finite")
        if np.any(mass < 1) or np.any(mass > self.max_mass) or not np.array_equal(mass, np.asarray(m0)):
            raise ValueError(f"masses must be integers in 1..{self.max_mass}")
        return self.domain.wrap(pos), mass

    def simulate_particles(self, state, t_end, times=None, rng=None, dt=None):
        """Brownian motion + pair reactions (module docstring). ``state = (positions, masses)``."""
        pos, mass = self._check_state(state)
        n = pos.shape[0]
        ts = check_times(t_end, times)
        eps = self.check_kinetic_regime(n)
        dt = self.step_rule(n) if dt is None else check_positive("dt", dt)
        kappa = self.reaction_strengths()
        g = as_generator(rng)
        sweep = CoagulationSweep.from_profile(eps, kappa, self._profile, g,
                                              box=self.box if self.domain_kind == "torus" else None, particles=n)
        # dx = sqrt(2 d(m)) dB per coordinate (generator d(m) Δ); the mass column does not move
        dcoef = np.sqrt(2 * self._dvals * 1.0)
        xyz = np.array([1.0, 1.0, 1.0, 0.0])
        problem = SDEProblem(_no_drift, lambda t, y: dcoef[y[:, 3].astype(np.intp) - 1, None] * xyz)
        stepper = JumpSplitting(EulerMaruyama(), sweep)
        sol = integrate(stepper, problem, np.column_stack([pos, mass.astype(float)]), max(ts[-1], t_end), ts, dt,
                        rng=g)
        weight = self.total_density / n
        final = sol.states[-1][:, 3].astype(np.int64)
        return Trajectory(ts, [s[:, :3] for s in sol.states], self.domain,
                          [np.full(s.shape[0], weight) for s in sol.states],
                          [s[:, 3].astype(np.int64).astype(str) for s in sol.states], events=[], labels=self.species,
                          info={**sol.info, "dt": dt, "epsilon": eps, "events": sweep.events,
                                "total_mass": int(final.sum())})

    # -- continuum ---------------------------------------------------------------------------
    def solve_homogeneous(self, t_end, times=None, initial=None, *, sums="auto", method=None, rtol=1e-10,
                          atol=1e-14):
        """Spatially uniform densities ``f_n(t)`` (per unit volume of the box): the system (1.1)–(1.3)
        without diffusion, by :func:`solve_homogeneous` (``rtol``, ``atol``: its error-control
        tolerances). ``initial``: the class densities ``f_1(0), …, f_M(0)`` (a vector of ``M``
        non-negative numbers); None: ``Z / L^3`` times the initial mass fractions. ``sums``: "auto",
        "direct" or "fft" (``method=`` is its deprecated name). The paper's kernel with constant ``α``
        and ``d`` is constant and is summed through its separable form (:meth:`coagulation_kernel`):
        O(M) memory, O(M log M) per evaluation with ``sums="fft"``. Returns ``(times, f)``."""
        sums = sums_keyword(sums, method, "auto", "CoagulationDiffusion.solve_homogeneous")
        if initial is None:
            f0 = self.total_density / self.box**3 * self.fractions
        else:
            f0 = _check_f0(initial, self.max_mass)
        check_times(t_end, times)  # times and tolerances checked before the kernel is built
        PIController(rtol, atol, beta=0.0)
        return solve_homogeneous(self.coagulation_kernel(), f0, t_end, times, rtol, atol, sums=sums)

    def wrap_around_estimate(self, t_end, sigma0=None):
        """For ``domain="free"``: the fraction of a Gaussian of variance ``σ0² + 2 d_max t`` per axis
        (the data spread by the fastest diffusion; coagulation only sharpens the profiles) that lies
        beyond the box faces, ``1 - erf(L / (2 sqrt(2) σ))^3``: the size of the periodic-box error of
        the continuum solution in R^3. ``σ0``: the preset's ``bump_width`` by default (for user data,
        :meth:`solve_continuum` passes the largest per-axis standard deviation of ``Σ_n f_n``). 0 on
        the torus."""
        from scipy.special import erf

        if self.domain_kind == "torus":
            return 0.0
        dmax = float(np.max(self._d(np.arange(1, self.max_mass + 1))))
        s0 = self.bump_width if sigma0 is None else sigma0
        sigma = np.sqrt(s0**2 + 2 * dmax * float(t_end))
        return float(1 - erf(self.box / (2 * np.sqrt(2) * sigma)) ** 3)

    def solve_continuum(self, t_end, times=None, initial=None, *, resolution=16, dt=None, reaction_substeps=1,
                        scheme="spectral", stepper="ssp_rk3", sums="auto", method=None):
        """Coagulation–diffusion (theory page 004, eqs. (1.1)–(1.3) in the standard form) on the periodic
        box by Strang splitting (module docstring). For ``domain="free"`` the box stands for R^3
        (attribute ``wrap_around_estimate``, see :meth:`wrap_around_estimate`).

        ``initial``: None (the preset, :meth:`initial_density`); one callable density ``f(x, y, z)``
        or GridDensity for all classes (normalised to ``Z`` and split by the initial mass fractions);
        or a dict ``{label: callable or GridDensity}`` naming every class of positive initial mass
        (each normalised to ``Z · fraction_n``). Callables are averaged over the cells of
        :meth:`continuum_grid` (2-point Gauss rule per axis); a GridDensity must live on that grid.

        One step of length ``h`` is ``H(h/2) ∘ R(h) ∘ H(h/2)``: ``H`` the exact heat flow
        ``f̂_n ← exp(−d(n)|k|² t) f̂_n`` per mass in Fourier space, ``R`` the reaction ``df/dt =
        Q(f)`` advanced by ``reaction_substeps`` steps of ``stepper``: "ssp_rk3" (default;
        Shu–Osher SSP-RK3, a convex combination of forward-Euler steps, so positive under the step
        rule below), "rk4" (classical RK4) or "dormand_prince_54" (Dormand–Prince 5 at fixed step; RK4
        and DP5 are more accurate per step but not positivity preserving). ``scheme``: the spatial
        discretisation, "spectral" (the only one); a stepper name given as ``scheme=`` (the keyword
        before version 0.1) and the spellings "ssprk3", "dp5", "dp54" are deprecated. ``sums``: the coagulation-sum
        algorithm, "auto", "direct" or "fft" (see
        :func:`~meanfield.models.coagulation_sums.choose_sums`; ``method=`` is its deprecated name).

        Step rule (unless ``dt`` given): ``dt = 0.5 / max(loss rate)`` at the start, which makes each
        forward-Euler stage of the reaction positive (the spectral heat step is exact in Fourier space
        but not positivity preserving for under-resolved data: a Gibbs undershoot of 2.7e-8 of the
        maximum for a bump two cells wide, none at four cells — use smooth, resolved data); the
        splitting error is O(dt²) and the reaction error O((dt/reaction_substeps)^p), p the order of
        the scheme (both measured in the tests). Returns the standard dataset with species labelled by
        mass ``1..M``; the attributes ``solver_stepper``, ``solver_order``, ``solver_a``, ``solver_b``
        and ``solver_step_rule`` record the steppers and their declared orders.
        """
        if isinstance(t_end, (int, np.integer)) and not isinstance(t_end, bool) and np.ndim(times) == 0 \
                and times is not None:
            raise TypeError(f"solve_continuum takes t_end first: solve_continuum({t_end!r}, {times!r}) reads as the "
                            f"old (resolution, t_end) call; write solve_continuum({times!r}, resolution={t_end!r})")
        sums = sums_keyword(sums, method, "auto", "CoagulationDiffusion.solve_continuum")
        if not isinstance(sums, str) or sums not in ("auto", "direct", "fft"):
            raise ValueError(f"sums must be 'auto', 'direct' or 'fft', got {sums!r}")
        reaction_substeps = check_integer("reaction_substeps", reaction_substeps, minimum=1)
        if isinstance(scheme, str) and (scheme in REACTION_SCHEMES or scheme in _OLD_SCHEMES):
            warnings.warn(f"scheme={scheme!r} names the reaction stepper; use stepper=", DeprecationWarning,
                          stacklevel=2)
            scheme, stepper = "spectral", scheme
        if scheme != "spectral":
            raise ValueError(f"scheme must be 'spectral' (the only discretisation of this model), got {scheme!r}")
        if isinstance(stepper, str) and stepper in _OLD_SCHEMES:
            warnings.warn(f"stepper={stepper!r} is deprecated, use stepper={_OLD_SCHEMES[stepper]!r}",
                          DeprecationWarning, stacklevel=2)
            stepper = _OLD_SCHEMES[stepper]
        if not isinstance(stepper, str) or stepper not in REACTION_SCHEMES:
            raise ValueError(f"stepper must be one of {sorted(REACTION_SCHEMES)}, got {stepper!r}")
        ts = check_times(t_end, times)
        if dt is not None:
            dt = check_positive("dt", dt)
        grid = self.continuum_grid(resolution)
        resolution = grid.shape[0]
        cells = self.max_mass * resolution**3
        check_memory(8.0 * cells * (len(ts) + 12), f"solve_continuum with max_mass={self.max_mass} and "
                                                     f"resolution={resolution} ({len(ts)} output times)")
        f = self._initial_array(grid, initial)
        sigma0 = None if initial is None else _spread(f.sum(axis=0), grid)
        wrap = self.wrap_around_estimate(ts[-1], sigma0)
        if wrap > 1e-3:
            raise ValueError(f"box = {self.box} is too small to stand for R^3 up to t_end = {ts[-1]}: the Gaussian "
                             f"wrap-around estimate is {wrap:.2g} > 1e-3 (see wrap_around_estimate); use a larger box")
        kernel = self.coagulation_kernel()
        if isinstance(kernel, SeparableKernel):
            how, operand = choose_sums(None, kernel, sums, self.max_mass, field=True)
        else:
            how, operand = choose_sums(kernel, None, sums, self.max_mass, field=True)
        if dt is None:
            dt = check_positive("dt", 0.5 / max(float(loss_rate(f, kernel).max()), 1e-300))
        kx, ky, kz = grid.wavenumber_mesh(real=True)
        k2 = kx**2 + ky**2 + kz**2
        dvals = self._dvals
        heat = SemilinearProblem(-dvals[:, None, None, None] * k2[None], forward=lambda u: fft.rfftn(u, ndim=3),
                                 inverse=lambda u: fft.irfftn(u, grid.shape, ndim=3))
        reaction = ODEProblem(lambda t, u: coagulation_operator(u, operand, how))
        react = REACTION_SCHEMES[stepper]()
        if reaction_substeps > 1:
            react = Substeps(react, reaction_substeps)
        stepper = StrangSplitting(ExactLinear(), react)
        sol = integrate(stepper, SplitProblem(heat, reaction), f, max(ts[-1], float(t_end)), ts, dt)
        out = np.array(sol.states)
        masses = np.arange(1, self.max_mass + 1)
        total = (masses[None, :, None, None, None] * out).sum(axis=1)
        name = "strang_spectral_sspRK3" if stepper == "ssp_rk3" else f"strang_spectral_{stepper}"
        return continuum_dataset(ts, out, grid, species=list(self.species), model=self,
                                 solver={"method": name, **sol.info, "dt": dt, "resolution": resolution,
                                         "reaction_substeps": reaction_substeps, "coagulation_sums": how,
                                         "wrap_around_estimate": wrap,
                                         "initial": "preset" if initial is None else "user"},
                                 total_mass=(("time",), grid.integrate(total)))


def _spread(rho, grid):
    """The largest per-axis standard deviation of the density ``rho`` on ``grid`` (about its mean)."""
    w = rho / rho.sum()
    sig = 0.0
    for c in grid.mesh():
        mean = float((w * c).sum())
        sig = max(sig, float(np.sqrt((w * (c - mean) ** 2).sum())))
    return sig


def _real_array(name, value):
    """``value`` as a float array; TypeError naming ``name`` for strings, None, complex or non-numbers."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be real numbers, got {value!r}")
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be real numbers, got {value!r} (dtype {arr.dtype})")
    return arr.astype(float)


def _check_profile(profile):
    """A radial profile ``V(r)`` on ``[0, 1]``: finite, non-negative, positive integral ``∫ 4π r² V``."""
    r = np.linspace(0, 1, 4001)
    try:
        v = np.broadcast_to(np.asarray(profile(r), dtype=float), r.shape)
    except (TypeError, ValueError) as err:
        raise ValueError(f"interaction profile V(r) must give real numbers on an array of radii in [0, 1]: "
                         f"{err}") from None
    if not np.all(np.isfinite(v)) or np.any(v < 0):
        raise ValueError("interaction profile V(r) must be finite and non-negative on [0, 1]")
    if not np.trapezoid(4 * np.pi * r**2 * v, r) > 0:
        raise ValueError("interaction profile V(r) must have a positive integral on the unit ball")
