"""Model 003: screw dislocations on the torus — lattice mean field MF^ε and continuum MF.

Hudson, van Meurs, Peletier, *Atomistic derivation of continuum dislocation dynamics*
(2020); equations and conventions on theory page 003 (``docs/theory/003-dislocations.md``).
All four models of the paper are here:

* The smoothed periodic interaction ``V_δ`` on the unit torus T² from its Fourier series
  ``V̂_δ(k) = φ̂_δ(k) / (4π²|k|²)``, ``V̂_δ(0) = 0`` (theory page 003: the paper prints ``-4π²/|k|²``, a
  typo: ``-ΔV = δ_0 - 1`` gives the sign and power used here), with the Gaussian mollifier
  ``φ̂_δ(k) = exp(-2π²δ²|k|²)`` (theory page 003; the default) or, with
  ``mollifier="bump"``, the compactly supported mollifier the paper asks for (§1.2.1, the paragraph
  after Assumption 1: ``φ_δ = δ^{-2}φ_1(·/δ) ≥ 0`` smooth, supported in ``B_δ(0)``, ``∫φ_δ = 1``; the
  paper fixes no formula, we take ``φ_1(x) = C exp(-1/(1-|x|²))``, ``C = 1/(π(e^{-1} - E_1(1)))``).
  Its transform ``φ̂_1(s) = 2π∫_0^1 φ_1(r) J_0(2πsr) r dr`` (theory page 003) is tabulated once to
  round-off (composite Gauss–Legendre, Chebyshev panels); it decays only like ``exp(-c√s)``
  (1e-9 at s = 40, 1e-12 at 80), so the series of ``∇V_δ`` is cut at ``|k| < R`` with the dropped
  tail bounded by ``kernel_tol/δ`` (:func:`kernel_cutoff`) and summed by one inverse FFT on a fine
  grid of ``M ≥ 2R`` points per axis. Lattice values of ``∇V_δ`` include the aliased Fourier modes
  (Gaussian: ``|m| ≤ 2`` alias images; bump: all modes ``|k| < R``, by subsampling a fine grid
  ``M = p/ε``) so they are the exact point values of the (truncated) series.
* (MF^ε), eq. (10)–(11): the lattice master equation for the densities ``f^±`` on
  ``Λ_ε = εZ²/Z²``,  ``∂_t f(ℓ) = Σ_h [R_h(ℓ-h) f(ℓ-h) - R_h(ℓ) f(ℓ)]``,
  ``R_h = exp(½ β h·F) / (β ε²)``, ``F(·, ±) = ∓ ∇V_δ * (f^+ - f^-)`` (lattice sum, by FFT).
  Split as ``R_h = (1 + (e^{½βh·F} - 1)) / (βε²)``: the first part is the lattice Laplacian
  ``β^{-1} Δ_ε``, integrated exactly (ETDRK4, exponential in Fourier space), so the step is not
  limited by ε²; the rest is a conservative flux difference, so each species' mass is conserved to
  round-off.
* (MF), eq. (12): ``∂_t f^± = -div(f^± F(·, ±)) + β^{-1} Δ f^±`` by a Fourier pseudo-spectral
  ETDRK4 with 2/3 dealiasing of the product.
* (SDE_n), eq. (9): ``dX_i = F_i dt + sqrt(2/β) dB_i`` on T² with (6)
  ``F_i = -(b_i/n) Σ_j b_j ∇V_δ(X_i - X_j)``, evaluated exactly (to the series truncation
  ``e^{-2π²δ²|k|²} < 1e-13``) as a Fourier sum (:mod:`meanfield.particles.dislocation_forces`)
  ``-b_i Σ_k 2πik V̂_k e^{2πik·X_i} S_k``,
  ``S_k = (1/n) Σ_j b_j e^{-2πik·X_j}``: O(n K²) work, no table, and ``∇V_δ(0) = 0`` makes the
  self-term vanish; Euler–Maruyama with a stated step. With the bump (whose series is far too long
  for this) the pair forces are interpolated on the fine grid of ``∇V_δ`` (order-6 Lagrange,
  :mod:`meanfield.particles.periodic_interp`, O(n²) pairs): error against the truncated series
  measured 1.6e-12 at δ = 0.1 (``‖∇V_δ‖_∞ = 1.93``), i.e. 8e-13 relative, and independent of δ at
  fixed ``kernel_tol`` since the grid has ``δM ≈ 2δR`` points per core size (tests: ≤ 1e-11).
* (RW_n^ε), eq. (8): ``n`` signed walkers on ``Λ_ε`` jumping to a neighbour ``ℓ_i ± εe_j`` at rate
  ``exp(±½ β ε F_{i,j}) / (β ε²)`` with the same force (6) evaluated at lattice points, by exact
  kinetic Monte Carlo (thinning or Gillespie's direct method with a sum tree) over an exact lattice
  table of ``∇V_δ``: thinning takes O(1 + βε G_b n) expected work per jump (a candidate below the
  smallest acceptance probability is accepted without a force sum), the direct method O(n):
  :mod:`meanfield.particles.lattice_kmc`.
  :meth:`Dislocations2D.simulate_random_walks`; replicas by :meth:`Dislocations2D.simulate_walkers`.

* Lemma 3.1 (stability): :meth:`Dislocations2D.stability_operator` is ``A_ε[ρ_ε]`` (the display
  before (54)) as a sparse 5-point stencil, and :meth:`Dislocations2D.stability_constant` the top
  eigenvalue of its symmetric part in ``L²(𝒱_ε)`` (shift-invert Lanczos), which the lemma bounds by
  ``Cβδ^{-2}`` uniformly in ε; measured ε-independent (converging like ε²) in the tests.

The contract (:mod:`meanfield.models.contract`): ``species = ("+", "-")``; ``params`` holds every
constructor argument; ``initial_density(grid)`` gives ``{"+": GridDensity, "-": GridDensity}``;
every run method with initial data (``solve_continuum``, ``solve_lattice``, ``sample_particles``,
``sample_lattice_particles``) takes ``initial=`` (a dict of callables ``f(x, y)`` or GridDensity,
mass ½ per species; per-site masses for the lattice); ``simulate_particles`` is (SDE_n) with
``scheme="euler_maruyama"`` and ``simulate_random_walks`` is (RW_n^ε). A user mollifier is a
callable radial profile (``mollifier=phi``, :class:`~meanfield.models.dislocation_kernels.RadialMollifier`).

Parameter ranges (checked before any work, ``ValueError`` naming the parameter): ``0 < δ ≤ 1``,
``β > 0``; for the lattice models ``1/ε ∈ N``, ``ε ≤ δ`` and Assumption 2's upper bound
``β ≤ C' δ/ε``. The paper leaves the constant ``C'`` free; we fix ``C' = 1`` by default (keyword
``c_prime``), which keeps the exponent ``½βε|F|`` of (8) below ``½ δ‖∇V_δ‖_∞ ≈ 0.04`` for the
Gaussian kernel (theory page 003), ≈ 0.1 for the bump (``δ‖∇V_δ‖_∞ = 0.193`` measured at δ = 0.1).
``mollifier`` must be "gaussian", "bump" or a callable profile; ``kernel_tol`` in ``[1e-13, 0.55)``.

Theorem 1.3: ``‖f_ε - f‖_{L²(ν_ε)} = O(ε²)``, measured in the tests and in the validation.
"""

from __future__ import annotations

import functools
import threading
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
    check_positive,
    check_times,
    continuum_dataset,
)
from meanfield.models.contract import initial_densities
from meanfield.models.dislocation_kernels import (
    MOLLIFIERS,
    RadialMollifier,
    bump,
    bump_hat,
    bump_hat_quadrature,
    check_mollifier,
    kernel_cutoff,
    mollifier_hat,
    potential_hat,
    radial_mollifier,
)
from meanfield.models.dislocation_lattice import flux_difference
from meanfield.particles import dislocation_forces, lattice_kmc, periodic_interp
from meanfield.particles.dislocation_couplings import charged_state_on_torus
from meanfield.solvers import fft
from meanfield.solvers.grids import UniformGrid
from meanfield.solvers.timestepping import ETDRK4, EulerMaruyama, SDEProblem, SemilinearProblem, integrate, step_budget

__all__ = [
    "MOLLIFIERS",
    "Dislocations2D",
    "RadialMollifier",
    "bump",
    "bump_hat",
    "bump_hat_quadrature",
    "mollifier_hat",
    "potential_hat",
    "preset_density",
]

SPECIES = ("+", "-")
SPECIES_MASS = 0.5  # mass of each species: ρ = (f⁺, f⁻) is a probability measure on T²_± (theory page 003)
SAMPLE_RESOLUTION = 256  # grid on which sample_particles puts a user density before sampling it
SCHEMES_SDE = ("euler_maruyama",)
SCHEMES_CONTINUUM = ("spectral",)
STEPPERS_CONTINUUM = ("etdrk4",)


def preset_density(x, y, amplitude):
    """The paper-style preset ``(f^+, f^-)`` at points ``x, y`` (densities w.r.t. Lebesgue measure on T²,
    mass ½ each): ``f^± = ½(1 ± amplitude·g_±/1.5)``, ``g_+ = cos2πx sin2πy + ½ sin4πx``,
    ``g_- = sin2π(x + y) - ½ cos2πy`` (theory page 003, "Initial data"); shape ``(2, *x.shape)``."""
    a = amplitude
    g_plus = np.cos(2 * np.pi * x) * np.sin(2 * np.pi * y) + 0.5 * np.sin(4 * np.pi * x)
    g_minus = np.sin(2 * np.pi * (x + y)) - 0.5 * np.cos(2 * np.pi * y)
    return 0.5 * np.stack([1 + a * g_plus / 1.5, 1 - a * g_minus / 1.5])


def _deprecated_keyword(old, new, value):
    warnings.warn(f"{old} is deprecated and will be removed in the next release; {new}", DeprecationWarning,
                  stacklevel=3)
    return value


@functools.lru_cache(maxsize=4)
def _grad_grid(delta, m, radius, mollifier):
    """``∇V_δ`` on the fine grid ``(j/m, l/m)``: inverse FFT of ``2πik V̂_δ(k)`` over ``|k| < radius``
    (``radius ≤ m/2``, so no mode is aliased and the Nyquist modes are absent). Shape (2, m, m)."""
    kx = np.fft.fftfreq(m, 1.0 / m)[:, None]
    ky = np.fft.rfftfreq(m, 1.0 / m)[None, :]
    v = potential_hat(kx, ky, delta, mollifier) * (kx**2 + ky**2 < radius**2)
    out = np.stack([fft.irfftn(2j * np.pi * k * v, (m, m)) * (m * m) for k in (kx, ky)])
    out.setflags(write=False)
    return out


class Dislocations2D:
    """Positive and negative screw dislocations on T² (theory page 003).

    Species labels, in this order: ``species = ("+", "-")`` (Burgers vector ``b = +1`` and ``b = -1``);
    every output (``Trajectory.measure``, ``sol.measure``, ``initial_density``) uses them, mass ½ each.

    Parameters
    ----------
    delta : float
        Core size δ of ``V_δ`` (the results need ε ≪ δ).
    beta : float
        Inverse temperature β > 0.
    amplitude : float
        The preset initial data (:func:`preset_density`) ``f^± = ½(1 + amplitude·g_±)`` with smooth
        zero-mean ``g_±`` (``|amplitude| < 1/2`` keeps them positive): ``ρ = (f⁺, f⁻)`` is a
        probability measure on ``T²_±`` (mass ½ per species), the normalisation of (10)–(12) and of
        the particles' weights 1/n. Every run method takes other data through ``initial=``.
    c_prime : float
        The constant ``C'`` of Assumption 2, ``β ≤ C' δ/ε``, enforced by the lattice models (default 1).
    mollifier : {"gaussian", "bump"} or callable
        ``φ_δ`` in ``V_δ = V * φ_δ``: the Gaussian ``φ̂_δ(k) = exp(-2π²δ²|k|²)`` (default, theory page 003, our
        choice), the compactly supported radial bump ``φ_δ(x) = δ^{-2} φ_1(x/δ)`` of the paper's
        §1.2.1 (the paragraph after Assumption 1: smooth, ≥ 0, supported in ``B_δ(0)``, unit mass),
        ``φ_1(x) = C exp(-1/(1-|x|²))`` (:func:`bump`), or a user radial profile ``φ_1(r)`` (a
        callable vectorised over an array of radii; normalised to unit mass, zero beyond
        ``mollifier_support``; its Hankel transform is computed once by quadrature and checked,
        :class:`~meanfield.models.dislocation_kernels.RadialMollifier`). Every solver uses the
        chosen kernel; the bump and a user profile take the same (tabulated) path.
    kernel_tol : float
        Bump and user profiles: the series of ``∇V_δ`` is truncated to ``|k| < R`` with the dropped
        tail bounded by ``kernel_tol/δ`` (:func:`kernel_cutoff`; default 1e-10, i.e. ≈ 1.4e-9 relative to
        ``‖∇V_δ‖_∞ ≈ 0.07/δ``). Lattice values (MF^ε, RW) are point values of that truncated series,
        subsampled from its inverse FFT on a fine grid of ``M = pN ≥ 2R`` points per axis (the
        aliases folded in exactly); the SDE force interpolates (order-6 Lagrange) on a fine grid of
        ``M ≥ 2R`` points per axis (``R ≈ 63/δ`` at the default, so ``M = 1280`` for δ = 0.1; memory
        16 M² bytes), interpolation error measured in the tests. Unused by the Gaussian.
    mollifier_support : float
        A user profile only: the radius ``R_φ`` beyond which ``φ_1`` is taken as zero (default 1, the
        paper's ``supp φ_1 ⊂ B_1``); a profile that is not negligible beyond it is warned about.
    """

    species = SPECIES

    def __init__(self, delta=0.1, beta=1.0, amplitude=0.4, c_prime=1.0, mollifier="gaussian", kernel_tol=1e-10,
                 mollifier_support=1.0):
        self.mollifier = check_mollifier(mollifier)
        self.delta = check_in_range("delta", delta, 0.0, 1.0, low_open=True)
        self.beta = check_positive("beta", beta)
        self.c_prime = check_positive("c_prime", c_prime)
        self.kernel_tol = check_positive("kernel_tol", kernel_tol)
        self.mollifier_support = check_positive("mollifier_support", mollifier_support)
        self.amplitude = check_in_range("amplitude", amplitude, -0.5, 0.5, low_open=True, high_open=True)
        if not callable(self.mollifier) or isinstance(self.mollifier, RadialMollifier):
            if self.mollifier_support != 1.0:
                raise ValueError(f"mollifier_support is for a callable profile (mollifier=phi); with mollifier="
                                 f"{self.mollifier!r} it must keep its default 1.0, got {mollifier_support!r}")
        if isinstance(self.mollifier, str):
            self._kernel = self.mollifier
        elif isinstance(self.mollifier, RadialMollifier):
            self._kernel = self.mollifier
        else:
            self._kernel = radial_mollifier(self.mollifier, self.mollifier_support)
        if self.tabulated:
            cutoff = kernel_cutoff if self._kernel == "bump" else self._kernel.cutoff
            self.kernel_radius = cutoff(self.delta, self.kernel_tol)

    @property
    def tabulated(self):
        """True for the bump and a user profile: ``∇V_δ`` from a truncated series on a fine grid."""
        return not (isinstance(self._kernel, str) and self._kernel == "gaussian")

    @property
    def params(self):
        """Every constructor argument (a user profile is kept as the callable itself)."""
        return {"delta": self.delta, "beta": self.beta, "amplitude": self.amplitude, "c_prime": self.c_prime,
                "mollifier": self.mollifier, "kernel_tol": self.kernel_tol,
                "mollifier_support": self.mollifier_support}

    # -- kernel ---------------------------------------------------------------------------------
    INTERP_ORDER = 6

    def potential_hat(self, k1, k2):
        """``V̂_δ(k)`` with this model's mollifier (:func:`potential_hat`)."""
        return potential_hat(k1, k2, self.delta, self._kernel)

    def fine_grid_size(self, multiple_of=64):
        """Tabulated kernel: the fine grid size ``M``, the least multiple of ``multiple_of`` with ``M ≥ 2R``;
        for a user profile also ``M ≥ 128/δ`` (the bump's ``δM ≈ 2δR ≈ 126`` points per core size, which
        keeps the order-6 interpolation of the SDE force at round-off; a fast-decaying transform has a
        small ``R``, e.g. ``R ≈ 13`` for the Gaussian profile at δ = 0.1, too coarse to interpolate on)."""
        r = self.kernel_radius
        if isinstance(self._kernel, RadialMollifier):
            r = max(r, 64.0 / self.delta)
        return int(multiple_of * np.ceil(2 * r / multiple_of))

    def grad_potential_grid(self, m=None):
        """Tabulated kernel (bump, user profile): ``∇V_δ`` at the points ``(j/M, l/M)`` (shape (2, M, M),
        read-only, cached): the series over ``|k| < R`` (:func:`kernel_cutoff`) by one inverse FFT;
        ``M`` defaults to :meth:`fine_grid_size`. Exact point values of the truncated series (round-off)."""
        if not self.tabulated:
            raise ValueError("grad_potential_grid is for mollifier='bump' or a user profile (the Gaussian kernel "
                             "is summed exactly)")
        m = self.fine_grid_size() if m is None else check_integer("m", m, minimum=2)
        if m < 2 * self.kernel_radius:
            raise ValueError(f"m={m} must be >= 2R = {2 * self.kernel_radius:.1f} (no aliased mode)")
        check_memory(5 * 8 * m * m, f"the fine grid of grad V_delta ({m}^2 points)")
        return _grad_grid(self.delta, m, self.kernel_radius, self._kernel)

    # -- data ----------------------------------------------------------------------------------
    def initial_density(self, grid, y=None):
        """The preset initial densities on ``grid`` (a 2-D periodic :class:`~meanfield.solvers.grids.UniformGrid`
        of the unit torus): ``{"+": GridDensity, "-": GridDensity}``, the values of
        :func:`preset_density` at the cell centres (mass ½ each to round-off on a grid of ≥ 5 cells
        per axis: the data are trigonometric polynomials of degree 2).

        The old call ``initial_density(x, y)`` (the array of :func:`preset_density` at points) still
        works for one release, with a DeprecationWarning."""
        if y is not None:
            warnings.warn("initial_density(x, y) is deprecated: use initial_density(grid) (a dict of GridDensity) "
                          "or meanfield.models.dislocations.preset_density(x, y, amplitude)", DeprecationWarning,
                          stacklevel=2)
            return preset_density(grid, y, self.amplitude)
        grid = self._check_torus_grid("grid", grid)
        return {s: GridDensity.from_function(lambda x, y, k=k: preset_density(x, y, self.amplitude)[k], grid)
                for k, s in enumerate(self.species)}

    @staticmethod
    def _check_torus_grid(name, grid):
        if not isinstance(grid, UniformGrid):
            raise TypeError(f"{name} must be a meanfield.solvers.grids.UniformGrid, got {type(grid).__name__}")
        length = np.asarray(grid.upper, float) - np.asarray(grid.lower, float)
        if grid.ndim != 2 or not all(grid.periodic) or not np.allclose(length, 1.0, rtol=0, atol=1e-12):
            raise ValueError(f"{name} must be a 2-D periodic grid of the unit torus (side 1), got {grid}")
        return grid

    def continuum_grid(self, resolution=64):
        """The grid of :meth:`solve_continuum`: ``resolution²`` cells centred on the points ``j/resolution``
        (a GridDensity given as ``initial=`` must live on it)."""
        n = check_integer("resolution", resolution, minimum=8)
        return UniformGrid(-0.5 / n, 1.0 - 0.5 / n, (n, n), periodic=True)

    def lattice_grid(self, eps):
        """The grid of :meth:`solve_lattice`: one cell of side ε centred on each site of ``Λ_ε``."""
        n = self._sites(eps)
        h = 1.0 / n
        return UniformGrid(-0.5 * h, 1.0 - 0.5 * h, (n, n), periodic=True)

    def _initial_values(self, initial, grid):
        """Densities ``(f⁺, f⁻)`` at the cell centres of ``grid`` from user ``initial`` (module
        :mod:`meanfield.models.contract`): a callable ``f(x, y)`` per species is evaluated at the
        centres (one-point rule, so the preset's own formula reproduces the preset to round-off) and
        scaled to mass ½; a GridDensity must live on ``grid`` with mass ½."""
        dens = initial_densities(initial, self.species, grid, {s: SPECIES_MASS for s in self.species}, quadrature=1)
        return np.stack([dens[s].values for s in self.species])

    def _grid(self, n):
        return UniformGrid(0.0, 1.0, (n, n), periodic=True)

    def lattice(self, eps):
        """The lattice ``Λ_ε`` (1/ε sites per axis, at ``εZ²``) as a grid whose *lower corners* are the
        sites; returns ``(n, x, y)``."""
        n = self._sites(eps)
        s = np.arange(n) / n
        x, y = np.meshgrid(s, s, indexing="ij")
        return n, x, y

    def _sites(self, eps):
        """``N = 1/ε`` after checking the lattice parameters (paper §1.2.6 and Assumption 2) and the memory
        of a lattice run (about 40 arrays of ``2N²`` floats) before any allocation."""
        n = 1.0 / check_positive("eps", eps)
        if abs(n - round(n)) > 1e-9 * n:
            raise ValueError(f"1/eps must be an integer, got eps={eps!r} (1/eps = {n})")
        n = round(n)
        if self.delta < 1.0 / n:
            raise ValueError(f"delta={self.delta} < eps={1 / n}: the theory needs eps <= delta (eps << delta)")
        bound = self.c_prime * self.delta * n
        if self.beta > bound * (1 + 1e-12):
            raise ValueError(f"beta={self.beta} exceeds Assumption 2's bound beta <= C' delta/eps = {bound:g} "
                             f"(C'={self.c_prime}, delta={self.delta}, eps=1/{n}); allowed range (0, {bound:g}]")
        check_memory(40 * 2 * 8 * float(n) ** 2, f"a lattice run with eps={eps!r} ({n}^2 sites)")
        return n

    def grad_potential_hat(self, n):
        """Fourier coefficients (rfft layout, n×n grid) of ``∇V_δ`` sampled at the n×n lattice: the
        series folded over its aliases ``k + n m``, so the samples are exact point values. Gaussian:
        ``|m| ≤ 2`` (the rest is below round-off). Tabulated (bump, user profile): all aliases with
        ``|k + nm| < R``, by subsampling :meth:`grad_potential_grid` on ``M = pn ≥ 2R`` (dropped tail
        ≤ ``kernel_tol/δ``)."""
        if self.tabulated:
            p = int(np.ceil(2 * self.kernel_radius / n))
            g = self.grad_potential_grid(p * n)[:, ::p, ::p]
            return [np.fft.rfftn(gi) / (n * n) for gi in g]
        kx = np.fft.fftfreq(n, 1.0 / n)
        ky = np.fft.rfftfreq(n, 1.0 / n)
        out = [np.zeros((n, ky.size), complex), np.zeros((n, ky.size), complex)]
        for m1 in range(-2, 3):
            for m2 in range(-2, 3):
                k1 = (kx + n * m1)[:, None]
                k2 = (ky + n * m2)[None, :]
                v = potential_hat(k1, k2, self.delta)
                out[0] += 2j * np.pi * k1 * v
                out[1] += 2j * np.pi * k2 * v
        return out

    # -- MF^ε -----------------------------------------------------------------------------------
    def solve_lattice(self, eps, t_end, times=None, initial=None, dt=None):
        """(MF^ε), eqs. (10)–(11), on ``Λ_ε``; returns the standard dataset (species "+", "-", densities at
        the sites, on :meth:`lattice_grid`). ``initial``: None (the preset sampled at the sites), a
        dict ``{label: callable f(x, y) or GridDensity on lattice_grid(eps)}`` (a callable is taken at
        the sites and scaled to mass ½), or per-site masses of shape ``(2, N, N)`` (species +, -),
        non-negative with each species' total ½ (relative 1e-9), as :meth:`lattice_initial_masses` gives."""
        ts = check_times(t_end, times)
        if dt is not None:  # refused before any work: not positive and finite, or more than 10^7 steps
            dt = step_budget("dt", dt, ts[-1])
        problem, u0, n, dt = self.lattice_problem(eps, dt, initial=initial)
        stepper = ETDRK4()
        states = integrate(stepper, problem, u0, t_end, ts, dt).states
        dens = np.array([fft.irfftn(s, (n, n), ndim=2) for s in states])
        h = 1.0 / n
        grid = UniformGrid(-0.5 * h, 1.0 - 0.5 * h, (n, n), periodic=True)  # cells centred on the sites
        return continuum_dataset(ts, dens, grid, species=list(self.species), model=self,
                                 solver={"method": "lattice_etdrk4", "eps": h, "dt": dt, **stepper.describe()})

    def _lattice_densities(self, eps, initial=None):
        """Initial densities ``(f⁺, f⁻)`` at the sites of ``Λ_ε`` (shape (2, N, N)); see :meth:`solve_lattice`."""
        n, x, y = self.lattice(eps)
        if initial is None:
            return preset_density(x, y, self.amplitude)
        if isinstance(initial, (np.ndarray, list, tuple)):
            masses = check_finite_array("initial (per-site masses)", initial, shape=(2, n, n))
            if masses.min() < 0:
                raise ValueError(f"initial (per-site masses) must be non-negative; its minimum is {masses.min():.3g}")
            totals = masses.sum(axis=(1, 2))
            if np.any(np.abs(totals - SPECIES_MASS) > 1e-9 * SPECIES_MASS):
                raise ValueError(f"initial (per-site masses) must give each species mass {SPECIES_MASS}, got "
                                 f"{totals.tolist()}")
            return masses * (n * n)
        return self._initial_values(initial, self.lattice_grid(eps))

    def lattice_problem(self, eps, dt=None, initial=None):
        """(MF^ε) as a semilinear problem for :func:`meanfield.solvers.timestepping.integrate` (module docstring:
        the lattice Laplacian is the linear part, diagonal in Fourier space; the state is the real-FFT
        of the densities), the Fourier coefficients of the initial densities (``initial`` as in
        :meth:`solve_lattice`) and the step; returns ``(problem, u0_hat, N, dt)``. Per ETDRK4 step: 4
        evaluations of the flux part, each 6 real 2-D FFTs of size N², the fewest it can do: 2 inverse for
        ``f^±``, 2 inverse for ``∇V_δ * σ`` (``σ̂ = f̂⁺ − f̂⁻`` from the state itself, by linearity), 2 forward
        for the flux difference, which is one compiled sweep over the lattice
        (:func:`~meanfield.models.dislocation_lattice.flux_difference`)."""
        n = self._sites(eps)
        if dt is not None:
            dt = check_positive("dt", dt)
        f0 = self._lattice_densities(eps, initial)
        ghat = self.grad_potential_hat(n)
        beta, h = self.beta, 1.0 / n
        kx = np.fft.fftfreq(n, 1.0 / n)[:, None]
        ky = np.fft.rfftfreq(n, 1.0 / n)[None, :]
        lap = -(4 / (beta * h * h)) * (np.sin(np.pi * kx * h) ** 2 + np.sin(np.pi * ky * h) ** 2)
        # lattice sum ε² Σ ∇V_δ(ℓ - ℓ') σ(ℓ'): the DFT of the samples is n² ĝ (ĝ the folded series
        # coefficients), so ε² · circular convolution = irfft(ĝ σ̂); x_a = ½βε (∇V_δ * σ)_a directly
        xhat = [0.5 * beta * h * g for g in ghat]
        scale = 1.0 / (beta * h * h)

        work = threading.local()  # per-thread work arrays, reused from call to call (no page faults)

        def nonlinear(_t, u_hat):
            if not hasattr(work, "f"):
                work.f, work.x, work.flux = np.empty((2, n, n)), np.empty((2, n, n)), np.empty((2, n, n))
            f = fft.irfftn(u_hat, (n, n), ndim=2, out=work.f)
            sigma_hat = u_hat[0] - u_hat[1]
            for a in range(2):
                fft.irfftn(xhat[a] * sigma_hat, (n, n), overwrite_input=True, out=work.x[a])
            return fft.rfftn(flux_difference(f, work.x[0], work.x[1], scale, out=work.flux), ndim=2)

        dt = self._step(f0, ghat, n, h) if dt is None else dt
        problem = SemilinearProblem(np.broadcast_to(lap, (2, *lap.shape)), nonlinear)
        return problem, fft.rfftn(f0, ndim=2), n, dt

    def _step(self, f0, ghat, n, h):
        """``dt = min(0.5 h / max|F|, h)`` at t = 0: a drift CFL (diffusion is exact) and ``dt ≤ h`` so
        that the ETDRK4 error O(dt⁴) stays O(h⁴), far below the O(ε²) of Theorem 1.3 (measured: at
        ε = 1/64 the time error is 3% of the space error)."""
        sigma_hat = fft.rfftn(f0[0] - f0[1])
        fmax = max(float(np.abs(fft.irfftn(g * sigma_hat, (n, n))).max()) for g in ghat)
        return min(0.5 * h / max(fmax, 1e-12), h)

    # -- MF -------------------------------------------------------------------------------------
    def solve_continuum(self, t_end, times=None, initial=None, *, resolution=64, dt=None, scheme="spectral",
                        stepper="etdrk4"):
        """(MF), eq. (12), pseudo-spectral (``scheme="spectral"``) with ETDRK4 (``stepper="etdrk4"``; both
        the only ones; ``scheme="etdrk4"`` is a deprecated spelling) with 2/3
        dealiasing on a ``resolution²`` grid whose points are ``j/resolution`` (the cell centres of
        :meth:`continuum_grid`). ``initial``: None (the preset, :func:`preset_density`) or a dict
        ``{label: callable f(x, y) or GridDensity on continuum_grid(resolution)}``; a callable is taken
        at the grid points and scaled to mass ½ (error if its integral is not positive and finite).

        The old call ``solve_continuum(resolution, t_end, times)`` (an integer first argument with a
        scalar second one) still works for one release, with a DeprecationWarning."""
        if (isinstance(t_end, (int, np.integer)) and not isinstance(t_end, (bool, np.bool_)) and t_end >= 8
                and times is not None and np.ndim(times) == 0 and not isinstance(times, str)
                and (initial is None or isinstance(initial, (list, tuple, np.ndarray)))):
            warnings.warn("solve_continuum(resolution, t_end, times) is deprecated: call "
                          "solve_continuum(t_end, times, resolution=...)", DeprecationWarning, stacklevel=2)
            resolution, t_end, times, initial = t_end, times, initial, None
        if isinstance(scheme, str) and scheme in STEPPERS_CONTINUUM:
            warnings.warn(f"scheme={scheme!r} names the time stepper; use stepper=", DeprecationWarning, stacklevel=2)
            scheme, stepper = "spectral", scheme
        if scheme not in SCHEMES_CONTINUUM:
            raise ValueError(f"scheme must be one of {SCHEMES_CONTINUUM}, got {scheme!r}")
        if stepper not in STEPPERS_CONTINUUM:
            raise ValueError(f"stepper must be one of {STEPPERS_CONTINUUM}, got {stepper!r}")
        n = check_integer("resolution", resolution, minimum=8)
        ts = check_times(t_end, times)
        if dt is not None:  # refused before any work: not positive and finite, or more than 10^7 steps
            dt = step_budget("dt", dt, ts[-1])
        check_memory(40 * 2 * 8 * float(n) ** 2, f"solve_continuum with resolution={n}")
        if initial is None:
            s = np.arange(n) / n
            x, y = np.meshgrid(s, s, indexing="ij")
            f0 = preset_density(x, y, self.amplitude)
        else:
            f0 = self._initial_values(initial, self.continuum_grid(n))
        kx = np.fft.fftfreq(n, 1.0 / n)[:, None]
        ky = np.fft.rfftfreq(n, 1.0 / n)[None, :]
        vhat = self.potential_hat(kx, ky)
        ghat = [2j * np.pi * kx * vhat, 2j * np.pi * ky * vhat]
        lap = -4 * np.pi**2 * (kx**2 + ky**2) / self.beta
        keep = UniformGrid(0.0, 1.0, (n, n), periodic=True).dealias_mask(real=True)
        sign = np.array([1.0, -1.0])[:, None, None]

        def nonlinear(_t, u_hat):
            f = fft.irfftn(u_hat, (n, n), ndim=2)
            sigma_hat = u_hat[0] - u_hat[1]
            force = [-sign * fft.irfftn(g * sigma_hat, (n, n)) for g in ghat]  # (2, n, n) per axis
            flux_hat = [fft.rfftn(f * fk, ndim=2) for fk in force]
            div = 2j * np.pi * (kx * flux_hat[0] + ky * flux_hat[1])
            return -div * keep

        dt = self._step(f0, ghat, n, 1.0 / n) if dt is None else dt
        stepper = ETDRK4()
        problem = SemilinearProblem(np.broadcast_to(lap, (2, *lap.shape)), nonlinear)
        states = integrate(stepper, problem, fft.rfftn(f0, ndim=2), t_end, ts, dt).states
        dens = np.array([fft.irfftn(st, (n, n), ndim=2) for st in states])
        grid = UniformGrid(-0.5 / n, 1.0 - 0.5 / n, (n, n), periodic=True)
        return continuum_dataset(ts, dens, grid, species=list(self.species), model=self,
                                 solver={"method": "spectral_etdrk4", "resolution": n, "dt": dt, **stepper.describe()})

    # -- SDE_n -----------------------------------------------------------------------------------
    def _modes(self, tol=1e-13):
        kmax = int(np.ceil(np.sqrt(-np.log(tol) / (2 * np.pi**2 * self.delta**2)))) + 1
        k = np.arange(-kmax, kmax + 1)
        k1, k2 = np.meshgrid(k, k, indexing="ij")
        keep = (k1**2 + k2**2 > 0) & (potential_hat(k1, k2, self.delta) * 4 * np.pi**2 * (k1**2 + k2**2) > tol)
        return k1[keep].astype(float), k2[keep].astype(float), potential_hat(k1[keep], k2[keep], self.delta)

    def force_data(self):
        """What :meth:`particle_force` needs, built once per run: the fine grid of ``∇V_δ`` (tabulated
        kernel) or the Fourier modes ``(k1, k2, V̂)`` (Gaussian)."""
        return self.grad_potential_grid() if self.tabulated else self._modes()

    def particle_force(self, x, b, modes=None):
        """(6): ``F_i = -(b_i/n) Σ_j b_j ∇V_δ(x_i - x_j)``. Gaussian: by the Fourier sum (module
        docstring). Tabulated (bump, user profile): pairwise, ``∇V_δ`` interpolated (Lagrange, order
        :attr:`INTERP_ORDER`) on :meth:`grad_potential_grid`
        (:func:`meanfield.particles.periodic_interp.pair_fields`)."""
        if self.tabulated:
            table = self.grad_potential_grid() if modes is None else modes
            return -np.asarray(b, float)[:, None] * periodic_interp.pair_fields(x, b, table, self.INTERP_ORDER)
        return dislocation_forces.fourier_force(x, b, *(self._modes() if modes is None else modes))

    def sample_particles(self, n, rng=None, initial=None, *, n_plus=None):
        """``n`` i.i.d. particles from ρ° on T²_± (each sign with probability ½); returns
        ``(x (n, 2), b (n,))``.

        ``initial=None``: the preset, by rejection sampling. ``initial`` a dict ``{label: callable
        f(x, y) or GridDensity}``: a callable is averaged onto a ``SAMPLE_RESOLUTION²`` (256²) grid of
        the torus (2-point Gauss rule per axis, scaled to mass ½) and a GridDensity (any 2-D periodic
        grid of the unit torus, mass ½) is used as it is; the positions are then drawn from that
        piecewise-constant density (cell by its mass, uniform inside the cell), so a callable's
        samples are exact up to its variation within a cell of side 1/256.

        ``n_plus`` (as in :meth:`sample_lattice_particles`): fix the signs, ``n_plus`` positive
        particles first and ``n - n_plus`` negative ones, with independent positions drawn from each
        species' normalised density ``2f^±`` (the setting of Theorem 1.6; the empirical measure then
        carries the mass discrepancy κ of (19), zero for ``n_plus = n/2``). None (default): i.i.d.
        signs as above."""
        n = check_integer("n", n, minimum=1)
        check_memory(64 * 8 * float(n), f"sample_particles(n={n})")
        if n_plus is not None:
            n_plus = check_integer("n_plus", n_plus, minimum=0)
            if n_plus > n:
                raise ValueError(f"n_plus must lie in [0, n={n}], got {n_plus}")
        g = as_generator(rng)
        if initial is not None:
            dens = self._sampling_densities(initial)
            sp = g.integers(0, 2, n) if n_plus is None else (np.arange(n) >= n_plus).astype(int)
            x = np.empty((n, 2))
            for k, s in enumerate(self.species):
                sel = sp == k
                if np.any(sel):
                    x[sel] = np.mod(dens[s].sample(int(sel.sum()), rng=g).positions, 1.0)
            return x, np.where(sp == 0, 1, -1)
        if n_plus is not None:
            x = np.concatenate([self._sample_preset_species(k, count, g)
                                for k, count in ((0, n_plus), (1, n - n_plus))])
            return x, np.where(np.arange(n) < n_plus, 1, -1)
        xs, bs = [], []
        bound = 0.5 * (1 + 1.5 * abs(self.amplitude) / 1.5) * 2
        while sum(len(v) for v in xs) < n:
            cand = g.random((2 * n, 2))
            sp = g.integers(0, 2, 2 * n)
            dens = preset_density(cand[:, 0], cand[:, 1], self.amplitude)[sp, np.arange(2 * n)]
            ok = g.random(2 * n) * bound < dens
            xs.append(cand[ok])
            bs.append(np.where(sp[ok] == 0, 1, -1))
        return np.concatenate(xs)[:n], np.concatenate(bs)[:n]

    def _sample_preset_species(self, k, count, g):
        """``count`` independent points from the preset density of species ``k`` (0: +, 1: -) by rejection
        under its bound ``½(1 + |amplitude|)`` (:func:`preset_density`: ``|g_±| ≤ 1.5``)."""
        bound = 0.5 * (1 + abs(self.amplitude))
        xs, have = [], 0
        while have < count:
            cand = g.random((2 * count, 2))
            ok = g.random(2 * count) * bound < preset_density(cand[:, 0], cand[:, 1], self.amplitude)[k]
            xs.append(cand[ok])
            have += int(ok.sum())
        return np.concatenate(xs)[:count] if xs else np.empty((0, 2))

    def _sampling_densities(self, initial):
        """``{label: GridDensity}`` to sample from (see :meth:`sample_particles`)."""
        if isinstance(initial, Mapping):
            grids = [d.grid for d in initial.values() if isinstance(d, GridDensity)]
            grid = self._check_torus_grid("initial (GridDensity)", grids[0]) if grids else None
        else:
            grid = None
        quadrature = 2
        if grid is None:
            grid = UniformGrid(0.0, 1.0, (SAMPLE_RESOLUTION, SAMPLE_RESOLUTION), periodic=True)
        return initial_densities(initial, self.species, grid, {s: SPECIES_MASS for s in self.species}, quadrature)

    def simulate_particles(self, state, t_end, times=None, rng=None, *, scheme="euler_maruyama", dt=None,
                           method=None, eps=None, kmc=None):
        """(SDE_n), eq. (9), from ``state = (positions (n, 2), charges ±1 (n,))``.

        ``scheme="euler_maruyama"`` (the only one): :class:`meanfield.solvers.timestepping.EulerMaruyama` through
        :func:`meanfield.solvers.timestepping.integrate`, positions wrapped onto the torus after each step, one
        ``rng`` draw of shape (n, 2) per step; ``dt`` defaults to ``min(δ²β/20, δ/(10 max|F|))`` so
        that a step's drift and noise move a particle a small fraction of the core size δ. A ``dt``
        that is not positive and finite, or that would need more than 10^7 steps, is refused before
        any work. ``info`` holds ``dt``, the step count, the scheme and its declared orders.
        Species "+"/"-", weight 1/n; positions wrapped into ``[0, 1)²``.

        The lattice random walks (RW_n^ε) are :meth:`simulate_random_walks`. Deprecated for one
        release (DeprecationWarning): ``method="sde"`` (now ``scheme="euler_maruyama"``) and
        ``method="rw", eps=..., kmc=...`` (now ``simulate_random_walks(state, eps, ..., kmc=...)``).
        """
        if method is not None:
            if method == "rw":
                _deprecated_keyword("simulate_particles(method='rw')",
                                    "use simulate_random_walks(state, eps, t_end, times, rng, kmc=...)", None)
                if dt is not None:
                    raise ValueError("dt is not used by the random walks (the jump process is simulated exactly)")
                return self.simulate_random_walks(state, eps, t_end, times, rng, kmc="thinning" if kmc is None else kmc)
            if method != "sde":
                raise ValueError(f"method must be 'sde' or 'rw' (deprecated: use scheme= for the SDE and "
                                 f"simulate_random_walks for the lattice walkers), got {method!r}")
            _deprecated_keyword("simulate_particles(method='sde')", "use scheme='euler_maruyama'", None)
        if eps is not None or kmc is not None:
            raise ValueError("eps and kmc belong to the lattice random walks: use simulate_random_walks(state, eps, "
                             "t_end, times, rng, kmc=...)")
        if scheme not in SCHEMES_SDE:
            raise ValueError(f"scheme must be one of {SCHEMES_SDE}, got {scheme!r}")
        x, b = charged_state_on_torus(state)
        ts = check_times(t_end, times)
        if dt is not None:  # refused before the kernel tables are built
            dt = step_budget("dt", dt, ts[-1])
        g = as_generator(rng)
        modes = self.force_data()
        if not self.tabulated:  # the Fourier sum holds four (n, K) complex arrays
            check_memory(4 * 16 * float(x.shape[0]) * modes[0].size, f"the SDE force of {x.shape[0]} particles")
        if dt is None:
            fmax = float(np.abs(self.particle_force(x, b, modes)).max())
            dt = min(self.delta**2 * self.beta / 20, self.delta / (10 * max(fmax, 1e-12)))
        n = x.shape[0]
        stepper = EulerMaruyama()
        problem = SDEProblem(lambda _t, y: self.particle_force(y, b, modes), np.sqrt(2 / self.beta),
                             post_step=lambda y: np.mod(y, 1.0))  # onto the torus [0, 1)²
        sol = integrate(stepper, problem, x, max(float(t_end), float(ts[-1])), ts, dt, rng=g)
        out = sol.states
        labels = np.where(b > 0, "+", "-")
        return Trajectory(ts, out, Domain.torus(2, 1.0), [np.full(n, 1.0 / n)] * len(ts), [labels] * len(ts),
                          labels=self.species, info={"dt": dt, "steps": sol.steps, **stepper.describe(),
                                "modes": None if self.tabulated else modes[0].size,
                                "fine_grid": modes.shape[-1] if self.tabulated else None})

    # -- RW_n^ε ----------------------------------------------------------------------------------
    def simulate_random_walks(self, state, eps, t_end, times=None, rng=None, kmc="thinning"):
        """(RW_n^ε), eq. (8): ``n`` signed walkers on ``Λ_ε`` from ``state = (positions (n, 2) on εZ²,
        charges ±1)`` (e.g. from :meth:`sample_lattice_particles`), by exact kinetic Monte Carlo,
        ``kmc="thinning"`` or ``"direct"`` (:mod:`meanfield.particles.lattice_kmc`); one replica of
        :meth:`simulate_walkers`. Species "+"/"-", weight 1/n; positions wrapped into ``[0, 1)²``."""
        return self.simulate_walkers([state], eps, t_end, times, rng=rng, kmc=kmc)[0]

    def lattice_force_tables(self, eps):
        """``(G_1, G_2)``: ``∇V_δ`` at every lattice vector ``(a, c) ε`` (exact point values of the
        series, aliases folded in), the look-up table of the walkers' forces (6)."""
        n = self._sites(eps)
        return lattice_kmc.force_tables(self.grad_potential_hat(n), n)

    def lattice_initial_masses(self, eps, initial=None):
        """``ρ_ε°``: the masses ``ε² f^{±}(ℓ)`` of the initial densities at the sites (``initial`` as in
        :meth:`solve_lattice`; None: the preset), renormalised to total mass 1 (theory page 003,
        initial-conditions remark), shape ``(2, N, N)``."""
        n = self._sites(eps)
        m = self._lattice_densities(eps, initial) / n**2
        return m / m.sum()

    def sample_lattice_particles(self, n, eps, rng=None, initial=None, n_plus=None):
        """``n`` walkers ``(ℓ_i, b_i)`` on ``Λ_{ε,±}`` from ``ρ_ε°`` (:meth:`lattice_initial_masses`,
        ``initial`` as in :meth:`solve_lattice`); returns ``(positions (n, 2) on εZ² ∩ [0, 1)², b (n,))``.
        By default i.i.d. with the sign drawn with the species (Remark 1.7); with ``n_plus`` the
        signs are fixed (``n_plus`` positive walkers first) and the positions are independent with
        laws ``∝ ρ_ε^{°,±}``, as in Theorem 1.6 (mass discrepancy κ of (19))."""
        n = check_integer("n", n, minimum=1)
        check_memory(64 * 8 * float(n), f"sample_lattice_particles(n={n})")
        m = self.lattice_initial_masses(eps, initial)
        sites = m.shape[1]
        g = as_generator(rng)
        if n_plus is None:
            k = g.choice(m.size, size=n, p=m.ravel())
            sp, a, c = np.unravel_index(k, m.shape)
            return np.stack([a, c], 1) / sites, np.where(sp == 0, 1, -1)
        n_plus = check_integer("n_plus", n_plus, minimum=0)
        if n_plus > n:
            raise ValueError(f"n_plus must lie in [0, n={n}], got {n_plus}")
        out = []
        for s, count in ((0, n_plus), (1, n - n_plus)):
            k = g.choice(sites * sites, size=count, p=(m[s] / m[s].sum()).ravel())
            out.append(np.stack(np.unravel_index(k, (sites, sites)), 1))
        return np.concatenate(out) / sites, np.where(np.arange(n) < n_plus, 1, -1)

    def _lattice_state(self, state, sites):
        x0, b0 = state
        x = np.asarray(x0, dtype=float)
        b = np.asarray(b0)
        if x.ndim != 2 or x.shape[1] != 2 or b.shape != (x.shape[0],) or not np.all(np.abs(b) == 1):
            raise ValueError("state must be (positions (n, 2), charges ±1 of shape (n,))")
        if x.shape[0] < 1 or not np.isfinite(x).all():
            raise ValueError("positions must be finite and there must be at least one walker")
        idx = np.rint(x * sites)
        if np.abs(x * sites - idx).max() > 1e-6:
            raise ValueError(f"positions must be lattice points of eps Z^2 (eps = 1/{sites}) for the random walks")
        return idx.astype(np.int64), b.astype(float)

    def simulate_walkers(self, states, eps, t_end, times=None, rng=None, kmc="thinning", workers=1,
                         track_rate=False):
        """Independent replicas of (RW_n^ε), eq. (8), one per state in ``states``.

        The replicas are cut into at most ``BLOCKS`` consecutive blocks of equal walker count, each
        with its own child generator (``Generator.spawn``) and one compiled call for the whole block
        (:func:`meanfield.particles.lattice_kmc.run_replicas`); the blocks do not depend on ``workers``
        (threads; the kernel releases the GIL), so neither does the result. Returns one :class:`Trajectory` per
        replica: positions wrapped into
        ``[0, 1)²`` at the output times, ``info["unwrapped"]`` the positions in ``εZ²`` without
        reduction mod 1, ``info["jumps"]``, ``info["candidates"]`` (thinning: proposals) and, with
        ``track_rate``, ``info["integrated_rate"] = ∫_0^{t_end} Λ(X_s) ds`` (the compensator of the
        jump count, so ``E[jumps] = E[integrated_rate]``).
        """
        if eps is None:
            raise ValueError("eps (the lattice spacing, 1/eps an integer) is required for the lattice walkers")
        sites = self._sites(eps)
        if kmc not in lattice_kmc.METHODS:
            raise ValueError(f"kmc must be one of {tuple(lattice_kmc.METHODS)}, got {kmc!r}")
        workers = check_integer("workers", workers, minimum=1)
        ts = check_times(t_end, times)
        parsed = [self._lattice_state(s, sites) for s in states]
        if not parsed:
            raise ValueError("states must hold at least one replica")
        tables = self.lattice_force_tables(eps)
        runs = lattice_kmc.run_replicas([p[0] for p in parsed], [p[1] for p in parsed], tables, self.beta, ts,
                                        as_generator(rng), kmc, track_rate, workers, self.BLOCKS)
        h = 1.0 / sites
        torus = Domain.torus(2, 1.0)
        out = []
        for (_, b), (a, c, st) in zip(parsed, runs, strict=True):
            unwrapped = [np.stack([a[j], c[j]], 1) * h for j in range(ts.size)]
            labels = np.where(b > 0, "+", "-")
            n = b.size
            info = {"eps": h, "kmc": kmc, "jumps": int(st[0]), "candidates": int(st[1]), "unwrapped": unwrapped}
            if track_rate:
                info["integrated_rate"] = float(st[2])
            out.append(Trajectory(ts, [np.mod(u, 1.0) for u in unwrapped], torus,
                                  [np.full(n, 1.0 / n)] * ts.size, [labels] * ts.size, info=info,
                                  labels=self.species))
        return out

    BLOCKS = 16

    # -- laws of one and two walkers (Theorem 1.2 checks, theory page 003 items 1 and 6) -------------------
    def pair_initial_density(self, z1, z2):
        """A smooth probability density of the separation ``z = X_1 - X_2`` on T² (trigonometric
        polynomial of degree 2, so its lattice samples have mass exactly 1 for ``1/ε ≥ 3``)."""
        return 1 + 0.5 * np.cos(2 * np.pi * z1) * np.sin(2 * np.pi * z2) + 0.3 * np.cos(2 * np.pi * (z1 + 2 * z2))

    def pair_law_lattice(self, eps, sign_product, t_end, times=None, dt=None):
        """Law of ``z = ℓ_1 - ℓ_2`` for (RW_2^ε) with ``b_1 b_2 = sign_product`` (theory page 003).

        Walker 1 jumps by ``h`` at rate ``exp(½β h·F_1)/(βε²)`` and walker 2 by ``-h`` at rate
        ``exp(½β (-h)·F_2)/(βε²)``; since ``F_2 = -F_1`` (``∇V_δ`` odd) both move ``z`` by ``h`` at the
        same rate, so ``z`` is itself a walk on ``Λ_ε`` with rates
        ``(2/(βε²)) exp(½β h·F_1(z))``, ``F_1(z) = -(b_1 b_2/2) ∇V_δ(z)``, eq. (6) with n = 2.
        Its master equation is solved like (MF^ε): lattice Laplacian ``(2/β)Δ_ε`` exactly in Fourier
        space (ETDRK4), the rest as a conservative flux difference. Initial masses ``ε² p°(ℓ)``
        (:meth:`pair_initial_density`). Returns the *densities* ``p_ε = masses/ε²``, shape
        ``(len(times), N, N)``, index ``[a, c]`` ↔ ``z = (aε, cε)``. ``sign_product=0`` switches the
        interaction off (two free walkers: the lattice heat equation), a reference for power checks.
        """
        n, x, y = self.lattice(eps)
        if sign_product not in (-1, 0, 1):
            raise ValueError(f"sign_product must be +1, -1 (or 0: no interaction), got {sign_product!r}")
        ts = check_times(t_end, times)
        beta, h = self.beta, 1.0 / n
        g1, g2 = lattice_kmc.force_tables(self.grad_potential_hat(n), n)
        force = [-0.5 * sign_product * g1, -0.5 * sign_product * g2]
        kx = np.fft.fftfreq(n, 1.0 / n)[:, None]
        ky = np.fft.rfftfreq(n, 1.0 / n)[None, :]
        lap = -(8 / (beta * h * h)) * (np.sin(np.pi * kx * h) ** 2 + np.sin(np.pi * ky * h) ** 2)
        excess = [[2 * np.expm1(0.5 * beta * s * h * force[ax]) / (beta * h * h) for s in (1.0, -1.0)]
                  for ax in range(2)]

        def nonlinear(_t, u_hat):
            p = fft.irfftn(u_hat, (n, n))
            out = np.zeros_like(p)
            for ax in range(2):
                for k, s in enumerate((1, -1)):
                    flux = excess[ax][k] * p
                    out += np.roll(flux, s, axis=ax) - flux
            return fft.rfftn(out)

        if dt is None:
            dt = min(0.5 * h / max(float(np.abs(np.stack(force)).max()) * 2, 1e-12), h)
        states = integrate(ETDRK4(), SemilinearProblem(lap, nonlinear), fft.rfftn(self.pair_initial_density(x, y)),
                           t_end, ts, dt).states
        return np.array([fft.irfftn(s, (n, n)) for s in states])

    def pair_law_continuum(self, sign_product, t_end, times=None, resolution=128, dt=None):
        """Density of ``z = X_1 - X_2`` for (SDE_2): ``dz = -b_1b_2∇V_δ(z) dt + sqrt(4/β) dW`` (theory page 003
        item 6), i.e. ``∂_t p = div(b_1b_2 p ∇V_δ) + (2/β)Δp`` on T², pseudo-spectral ETDRK4 (2/3
        dealiasing) on a ``resolution²`` grid at points ``j/resolution``; shape ``(len(times), M, M)``."""
        m = check_integer("resolution", resolution, minimum=8)
        if sign_product not in (-1, 1):
            raise ValueError(f"sign_product must be +1 or -1, got {sign_product!r}")
        ts = check_times(t_end, times)
        s = np.arange(m) / m
        x, y = np.meshgrid(s, s, indexing="ij")
        kx = np.fft.fftfreq(m, 1.0 / m)[:, None]
        ky = np.fft.rfftfreq(m, 1.0 / m)[None, :]
        vhat = self.potential_hat(kx, ky)
        vel = [-sign_product * fft.irfftn(2j * np.pi * k * vhat, (m, m)) * m * m for k in (kx, ky)]
        lap = -8 * np.pi**2 * (kx**2 + ky**2) / self.beta
        keep = UniformGrid(0.0, 1.0, (m, m), periodic=True).dealias_mask(real=True)

        def nonlinear(_t, u_hat):
            p = fft.irfftn(u_hat, (m, m))
            return -2j * np.pi * (kx * fft.rfftn(p * vel[0]) + ky * fft.rfftn(p * vel[1])) * keep

        if dt is None:
            dt = min(0.5 / m / max(float(np.abs(np.stack(vel)).max()), 1e-12), 1.0 / m)
        states = integrate(ETDRK4(), SemilinearProblem(lap, nonlinear), fft.rfftn(self.pair_initial_density(x, y)),
                           t_end, ts, dt).states
        return np.array([fft.irfftn(st, (m, m)) for st in states])

    def single_law_distance(self, eps, t):
        """Exact ``‖p_ε(t) - p(t)‖_{L²(ν_ε)}`` between the density of one free walker (RW_1^ε: n = 1, so
        F = 0) and of one Brownian particle (SDE_1), both started from :meth:`pair_initial_density`
        (theory page 003): mode ``k`` decays like ``exp(-(4/(βε²)) Σ_j sin²(πεk_j) t)`` on the lattice
        and ``exp(-4π²|k|²t/β)`` on T²; the initial datum has only modes ``|k_j| ≤ 2`` (distinct on
        the lattice for ``1/ε ≥ 5``), so the lattice norm is the Parseval sum over them."""
        n = self._sites(eps)
        if n < 5:
            raise ValueError(f"single_law_distance needs 1/eps >= 5, got 1/eps = {n}")
        # Fourier coefficients of pair_initial_density: 1 + ½cos(2πz1)sin(2πz2) + 0.3cos(2π(z1+2z2))
        modes = {(0, 0): 1.0}
        for k1 in (1, -1):
            for k2 in (1, -1):
                modes[(k1, k2)] = 0.5 * (0.5 * k2 / 2j)
        modes[(1, 2)] = modes[(-1, -2)] = 0.15
        total = 0.0
        for (k1, k2), c in modes.items():
            lat = 4 / (self.beta / n**2) * (np.sin(np.pi * k1 / n) ** 2 + np.sin(np.pi * k2 / n) ** 2)
            cont = 4 * np.pi**2 * (k1**2 + k2**2) / self.beta
            total += abs(c) ** 2 * (np.exp(-lat * t) - np.exp(-cont * t)) ** 2
        return float(np.sqrt(total))

    # -- the generators themselves (Lemma 3.2 consistency) --------------------------------------
    def lattice_generator(self, f, eps):
        """Right-hand side of (MF^ε), eq. (11), at lattice densities ``f`` (shape (2, N, N), species
        +, -), written directly from (10)–(11) with the full rates (no Laplacian split):
        ``∂_t f(ℓ) = Σ_h [R_h(ℓ-h) f(ℓ-h) - R_h(ℓ) f(ℓ)]``, ``R_h = exp(½βh·F)/(βε²)``,
        ``F(·, ±) = ∓ ε² Σ_ℓ' ∇V_δ(· - ℓ')(f⁺ - f⁻)(ℓ')`` (the lattice convolution, by FFT)."""
        n = self._sites(eps)
        f = np.asarray(f, dtype=float)
        if f.shape != (2, n, n):
            raise ValueError(f"f must have shape (2, {n}, {n}), got {f.shape}")
        h, beta = 1.0 / n, self.beta
        sigma_hat = np.fft.rfftn(f[0] - f[1])
        grad = [np.fft.irfftn(g * sigma_hat, (n, n), axes=(0, 1)) for g in self.grad_potential_hat(n)]
        out = np.zeros_like(f)
        for sp, sgn in enumerate((1.0, -1.0)):
            for ax in range(2):
                for s in (1, -1):
                    flux = np.exp(0.5 * beta * s * h * (-sgn * grad[ax])) / (beta * h * h) * f[sp]
                    out[sp] += np.roll(flux, s, axis=ax) - flux
        return out

    def continuum_generator(self, f):
        """Right-hand side of (MF), eq. (12), ``-div(f^± F(·, ±)) + β^{-1}Δf^±`` at grid values ``f``
        (shape (2, M, M) at points ``j/M``), spectrally (exact for band-limited data, no dealiasing)."""
        f = np.asarray(f, dtype=float)
        m = f.shape[-1]
        if f.shape != (2, m, m):
            raise ValueError(f"f must have shape (2, M, M), got {f.shape}")
        kx = np.fft.fftfreq(m, 1.0 / m)[:, None]
        ky = np.fft.rfftfreq(m, 1.0 / m)[None, :]
        vhat = self.potential_hat(kx, ky)
        sigma_hat = np.fft.rfftn(f[0] - f[1])
        grad = [np.fft.irfftn(2j * np.pi * k * vhat * sigma_hat, (m, m), axes=(0, 1)) for k in (kx, ky)]
        out = np.zeros_like(f)
        for sp, sgn in enumerate((1.0, -1.0)):
            fh = np.fft.rfftn(f[sp])
            div = 2j * np.pi * (kx * np.fft.rfftn(f[sp] * (-sgn * grad[0]))
                                + ky * np.fft.rfftn(f[sp] * (-sgn * grad[1])))
            out[sp] = np.fft.irfftn(-div - 4 * np.pi**2 * (kx**2 + ky**2) * fh / self.beta, (m, m), axes=(0, 1))
        return out

    # -- Lemma 3.1: the stability constant of A_ε[ρ_ε] -----------------------------------------
    def stability_operator(self, rho, eps):
        """The frozen-coefficient lattice operator ``A_ε[ρ_ε]`` of §3.1 (the display before (54)) as a
        sparse matrix: for ``(ℓ, b) ∈ Λ_{ε,±}``,
        ``A_ε[ρ]g(ℓ, b) = (1/(εβ)) Σ_h D_{-h}[g e^{½βh·F(·, b; ρ)}](ℓ)
        = Σ_h [R_h(ℓ-h) g(ℓ-h) - R_h(ℓ) g(ℓ)]``, ``R_h = e^{½βh·F}/(βε²)`` the rates (10) at the *fixed*
        density ``rho`` (lattice densities w.r.t. ``ν_ε``, shape (2, N, N), species +, -). It is the
        nearest-neighbour 5-point stencil of (11), block diagonal in the sign b, so
        ``A_ε[ρ] ρ`` is the right-hand side of (MF^ε) (:meth:`lattice_generator`), i.e. (54).
        Rows/columns are ordered (b, i, j) with b = 0 for "+", site ``(i ε, j ε)``; CSR, size 2N²."""
        import scipy.sparse as sp

        n = self._sites(eps)
        rho = np.asarray(rho, dtype=float)
        if rho.shape != (2, n, n):
            raise ValueError(f"rho must have shape (2, {n}, {n}), got {rho.shape}")
        h, beta = 1.0 / n, self.beta
        force = self._lattice_force(rho, n)  # (species, axis, N, N)
        idx = np.arange(n * n).reshape(n, n)
        rows, cols, vals = [], [], []
        for b in range(2):
            diag = np.zeros((n, n))
            for ax in range(2):
                for s in (1, -1):  # h = s ε e_ax
                    rate = np.exp(0.5 * beta * s * h * force[b, ax]) / (beta * h * h)
                    diag -= rate
                    # inflow into ℓ from ℓ - h, with the rate at the departure site ℓ - h
                    src = np.roll(idx, s, axis=ax)  # src[ℓ] = index of ℓ - h
                    rows.append(b * n * n + idx.ravel())
                    cols.append(b * n * n + src.ravel())
                    vals.append(rate.ravel()[src.ravel()])
            rows.append(b * n * n + idx.ravel())
            cols.append(b * n * n + idx.ravel())
            vals.append(diag.ravel())
        size = 2 * n * n
        return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                             shape=(size, size))

    def _lattice_force(self, f, n):
        """``F(ℓ, ±; ρ) = ∓ ε² Σ_ℓ' ∇V_δ(ℓ - ℓ')(f⁺ - f⁻)(ℓ')`` (10), shape (2 species, 2 axes, N, N)."""
        sigma_hat = np.fft.rfftn(f[0] - f[1])
        grad = np.stack([np.fft.irfftn(g * sigma_hat, (n, n), axes=(0, 1)) for g in self.grad_potential_hat(n)])
        return np.stack([-grad, grad])

    def stability_constant(self, eps, rho=None):
        """Lemma 3.1: the largest eigenvalue ``λ_ε`` of the symmetric part ``½(A + A*)`` of
        ``A_ε[ρ_ε]`` (:meth:`stability_operator`) in ``L²(𝒱_ε)``, i.e. the best constant in
        ``(A_ε[ρ_ε]g, g) ≤ λ_ε ‖g‖²``. ``𝒱_ε`` has the equal weight ε² at every site, so the adjoint
        is the transpose. The lemma bounds it by ``C β δ^{-2}`` uniformly in ε (C not given).
        ``rho`` defaults to the lattice samples of the preset (:func:`preset_density`).

        Computed per sign b (the operator is block diagonal) by Lanczos (``eigsh``) in shift-invert
        mode about ``σ = bound + 1``, where ``bound`` is the explicit upper bound
        ``max_ℓ (1/(2βε²)) Σ_h [e_h(ℓ-h) - e_h(ℓ)]``, ``e_h = e^{½βh·F}`` **[derived]**: from
        ``g(ℓ-h)g(ℓ) ≤ ½(g(ℓ-h)² + g(ℓ)²)`` in the quadratic form; it tends to ``½ max(-div F)``
        as ε → 0. Plain Lanczos at the top of a spectrum reaching ``-8/(βε²)`` would need O(1/ε)
        iterations; shift-invert converges in a few. Returns ``(λ_ε, bound)``."""
        from scipy.sparse.linalg import eigsh

        n = self._sites(eps)
        if rho is None:
            _, x, y = self.lattice(eps)
            rho = preset_density(x, y, self.amplitude)
        bound = self.stability_bound(rho, eps)  # also checks rho's shape
        a = self.stability_operator(rho, eps)
        sym = (0.5 * (a + a.T)).tocsc()
        m = n * n
        lam = -np.inf
        for b in range(2):
            block = sym[b * m:(b + 1) * m, b * m:(b + 1) * m]
            v0 = np.ones(m)
            val = eigsh(block, k=1, sigma=bound + 1.0, which="LM", v0=v0, return_eigenvectors=False)
            lam = max(lam, float(val[0]))
        return lam, bound

    def stability_bound(self, rho, eps):
        """The explicit bound ``max_{ℓ,b} (1/(2βε²)) Σ_h [e_h(ℓ-h) - e_h(ℓ)] ≥ λ_ε`` of
        :meth:`stability_constant` **[derived]**."""
        n = self._sites(eps)
        rho = np.asarray(rho, dtype=float)
        if rho.shape != (2, n, n):
            raise ValueError(f"rho must have shape (2, {n}, {n}), got {rho.shape}")
        h, beta = 1.0 / n, self.beta
        force = self._lattice_force(rho, n)
        total = np.zeros((2, n, n))
        for ax in range(2):
            for s in (1, -1):
                e = np.exp(0.5 * beta * s * h * force[:, ax])
                total += np.roll(e, s, axis=1 + ax) - e
        return float(total.max() / (2 * beta * h * h))

    # -- the propagation-of-chaos couplings (Lemmas 4.2 and 5.2) ---------------------------------
    def couple_sde_mean_field(self, state, t_end, times=None, rng=None, dt=None, resolution=64, initial=None):
        """Lemma 4.2's coupling: (SDE_n) and n McKean–Vlasov copies (64) driven by the same Brownian
        increments, the copies' drift from the (MF) solution; returns a ``CoupledPaths`` whose
        ``mean_distance()`` is ``(1/n) Σ|X_i − X̄_i|``. The ``X`` block equals
        ``simulate_particles(state, ..., rng=rng, dt=dt)`` bit for bit. ``initial``: the (MF) initial
        data (as in :meth:`solve_continuum`; None: the preset).
        See :func:`meanfield.particles.dislocation_couplings.couple_sde_mean_field`."""
        from meanfield.particles import dislocation_couplings

        return dislocation_couplings.couple_sde_mean_field(self, state, t_end, times, rng, dt, resolution, initial)

    def couple_walkers_mean_field(self, states, eps, t_end, times=None, rng=None, cell_dt=None, initial=None):
        """Lemma 5.2's coupling: (RW_n^ε) and n independent walkers with the MF^ε rates (10), random time
        changes (74)–(75) of the same unit Poisson processes; one ``CoupledPaths`` per state.
        ``initial``: the MF^ε initial data (as in :meth:`solve_lattice`; None: the preset). See
        :func:`meanfield.particles.dislocation_couplings.couple_walkers_mean_field`."""
        from meanfield.particles import dislocation_couplings

        return dislocation_couplings.couple_walkers_mean_field(self, states, eps, t_end, times, rng, cell_dt, initial)
