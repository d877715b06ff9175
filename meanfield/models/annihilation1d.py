"""Model 001: 1-D charged particles with annihilation → the equation in [κ]±.

van Meurs & Morandotti, *Discrete-to-continuum limits of particles with an annihilation rule*
(SIAM J. Appl. Math. 2019).

Particles (4.1): ``ẋ_i = -(1/n) Σ_{b_i b_j = 1} V'(x_i - x_j) - (1/n) Σ_{b_i b_j = -1} W'(x_i - x_j)``
over active particles, mass 1/n each. Annihilation (Def. 4.2): when two adjacent active opposite
charges meet, both become ghosts (charge 0): frozen, invisible, kept in μ_n^± (4.15). The
integrator (:mod:`meanfield.particles.annihilation_events1d`) is Dormand–Prince 5(4) under a PI
step controller of :mod:`meanfield.solvers.timestepping`, with error control on the active particles only,
and annihilation times located as roots of the gaps of adjacent active opposite pairs on the step's
continuous extension — a sign change of a gap, never a distance threshold. Forces
(:mod:`meanfield.particles.annihilation_forces1d`): a compiled pair sum for a few hundred active
particles, a 1-D fast multipole method (O(n) per evaluation) above, so that a run to t = 1 costs
O(n²) (n = 10^4 in about 13 s of CPU). Why an explicit method for a stiff system (λ ~ n) is the
cheaper choice here: see that module and ``benchmarks/annihilation1d_scaling.py``.

Potentials (§1.2, Assumption 2.1): a preset name below, or a user
:class:`~meanfield.particles.annihilation_potentials1d.Potential1D` ``(value, derivative, name)`` — the
particles use the force ``V'``, the finite volumes the exact cell integrals ``V(b) - V(a)`` of the same
``V``. User potentials are checked on a sample of points against Assumption 2.1 and an
:class:`~meanfield.particles.annihilation_potentials1d.OutsideTheoremWarning` names what fails; their
particle forces go through a NumPy pair sum (O(m²) per evaluation for m active particles and no FMM,
so a run costs O(n³) where the presets' FMM gives O(n²); not timed here). Presets (any other name is a ValueError):

* ``V = -log|r|`` ("log") or ``V = r coth r - log|2 sinh r|`` ("wall", dislocation walls, evaluated in
  the stable form ``2r/(e^{2r}-1) - log1p(-e^{-2r})``, free of the cancellation of the naive formula
  for large r). Both satisfy (2.1a-d) with ``|rV'| ≤ 1``.
* ``W ≡ 0`` ("none"); ``W_δ = ½ log(r² + δ²)`` ("regularised": the paper gives no formula; this one
  is even, C¹, W_δ' Lipschitz with constant δ⁻², rW_δ' ∈ [0, 1), V + W_δ = ½ log(1 + δ²/r²) ≥ 0 for
  V = -log, and it is a regularisation of -V = log|r| as in Fig. 1);
* ``W = -V`` ("-V"): the singular-attraction variant behind (1.4) and §1.7(a). It is OUTSIDE
  Assumption 2.1 (W' not Lipschitz) and Theorem 5.1 does not cover it; particles then collide in
  finite time with unbounded speed (an isolated pair of opposite charges at distance d obeys
  ḋ = -2/(n d), so d² = d₀² - 4t/n). It gives an OutsideTheoremWarning.

Initial data (Assumption 2.2): finitely many alternating blocks, each a semicircle law with a
centre, radius, sign and mass; supports pairwise disjoint. Two blocks (+ on [-1.5, -0.5], - on
[0.5, 1.5], masses ½) is the reference case; more blocks give L > 2 alternations. These block families
are the presets and the default; ``initial=`` on :meth:`Annihilation1D.sample_particles` and
:meth:`Annihilation1D.solve_continuum` takes the user's
densities per species ``{"+": f, "-": g}`` (callables or GridDensity, normalised to the species' masses).

Contract (:mod:`meanfield.models.contract`): ``species = ("+", "-")``; ``params`` holds every
constructor argument; ``initial_density(grid)`` is ``{"+": GridDensity, "-": GridDensity}``; the
particles are deterministic (``rng`` must be None; :attr:`Annihilation1D.deterministic`).

Continuum (1.3): ``∂_t ρ^± = ([κ]_± (V' * [κ]_± + W' * [κ]_∓))'``, κ = ρ⁺ - ρ⁻, by conservative
finite volumes: only the active part σ^± = [ρ⁺_j - ρ⁻_j]_± of each cell is transported,
with the upwind flux; the nonlocal velocity uses exact cell integrals through the antiderivative
(``∫_{C_k} V'(x_j - y) dy = V(x_j - x_{k-½}) - V(x_j - x_{k+½})``, the singular self-cell term is 0 by
symmetry), a Toeplitz product done by zero-padded FFT (both species in one batched transform through
:mod:`meanfield.solvers.fft`, which runs such small transforms on one thread); SSP-RK3 (through
:func:`meanfield.solvers.timestepping.integrate`) under ``dt ≤ cfl h / max|v|`` keeps ρ^± ≥ 0 and conserves
each species' mass to round-off. With W = -V this is the two-species form of (1.4). The scheme lives in
:mod:`meanfield.solvers.active_transport1d`; this module gives it the initial cells and the kernels.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any, cast

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from meanfield.measures import Domain, EmpiricalMeasure, GridDensity
from meanfield.models.base import (
    Trajectory,
    _time_index,
    check_integer,
    check_memory,
    check_positive,
    check_real,
    check_times,
    continuum_dataset,
)
from meanfield.models.contract import initial_densities
from meanfield.particles.annihilation_events1d import (
    active_velocity,
    callable_velocity,
    default_controller,
    integrate_annihilation,
)
from meanfield.particles.annihilation_potentials1d import (
    OutsideTheoremWarning,
    Potential1D,
    assumption_violations,
    engine_kinds,
    potential,
    preset_v,
    preset_w,
)
from meanfield.solvers.active_transport1d import cell_kernel_hat, solve_active_transport
from meanfield.solvers.grids import UniformGrid
from meanfield.solvers.timestepping import PIController

__all__ = ["Annihilation1D", "Potential1D", "potential"]

SPECIES = ("+", "-")
SCHEMES = ("finite_volume",)
# mass a window may leave outside (of the total 1) before it is refused: round-off of the CDFs only
WINDOW_MASS_TOL = 1e-12
# mass in a boundary cell above which a run warns that its support reached the window's walls
WALL_MASS_TOL = 1e-9
# cells of the fine grid on which a callable initial density is placed for the particle quantiles
SAMPLE_CELLS = 2**14


def _semicircle_cdf(u):
    u = np.clip(u, -1.0, 1.0)
    return 0.5 + (u * np.sqrt(1 - u * u) + np.arcsin(u)) / np.pi


def _real_array(name, value):
    """A 1-D float array of ``value``; TypeError naming ``name`` for strings, None, complex entries."""
    try:
        arr = np.atleast_1d(np.asarray(value))
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a sequence of real numbers, got {value!r}") from None
    if arr.dtype.kind not in "iuf" or arr.dtype == bool:
        raise TypeError(f"{name} must be a sequence of real numbers, got {value!r}")
    return arr.astype(float)


def _quantiles_of_cells(edges, masses, count):
    """Positions ``F^{-1}((i - ½) M / count)``, i = 1..count, of the piecewise-uniform density with cell
    ``masses`` on ``edges`` (total M): the quantile placement of the presets, for user densities."""
    cum = np.cumsum(masses)
    target = (np.arange(count) + 0.5) / count * cum[-1]
    k = np.minimum(np.searchsorted(cum, target, side="left"), masses.size - 1)  # cell k holds the target
    below = np.where(k > 0, cum[k - 1], 0.0)
    return edges[k] + (target - below) / masses[k] * (edges[k + 1] - edges[k])


class Annihilation1D:
    """Signed particles on R with annihilation, and the continuum equation (1.3).

    Species ``("+", "-")`` (by initial charge); ``params`` holds the constructor arguments (V and W as
    given: a name or the Potential1D object), so that ``Annihilation1D(**m.params)`` rebuilds ``m``.

    Parameters
    ----------
    V : str or Potential1D
        "log", "wall" or a :class:`Potential1D` (even, singular at 0, non-increasing on (0, ∞)).
    W : str or Potential1D
        "none", "regularised" (W_δ), "-V" (singular attraction, outside Assumption 2.1) or a
        :class:`Potential1D` (even, W' Lipschitz).
    delta : float
        δ > 0, the core of W_δ.
    centres, radii : sequence of float
        Centres and radii (length k ≥ 2) of the initial semicircle blocks, in increasing order, with
        pairwise disjoint supports [c - r, c + r].
    mass_plus : float or None
        The mass of the + blocks for two blocks of opposite sign (default ½); with ``masses`` given it
        must agree with them.
    signs : sequence of int or None
        ±1 per block (default alternating, starting with +).
    masses : sequence of float or None
        Positive block masses summing to 1 (default: ``mass_plus`` and ``1 - mass_plus`` for two
        blocks, equal masses otherwise).

    Raises
    ------
    TypeError
        If ``centres``, ``radii``, ``signs`` or ``masses`` is not a sequence of real numbers.
    ValueError
        If the blocks are fewer than two, overlap or are not ordered (Assumption 2.2), the signs are
        not ±1 or all equal, the masses do not sum to 1 or disagree with ``mass_plus``, ``delta`` is
        not positive, or a potential name is unknown.

    Warns
    -----
    OutsideTheoremWarning
        For ``W = "-V"`` or user potentials that leave Assumption 2.1 (Theorem 5.1 does not cover the run).

    References
    ----------
    :cite:`vanMeursMorandotti2019`, Problem 4.1, Def. 4.2, eqs. (1.3), (4.1); theory page
    ``docs/theory/001-annihilation.md``.

    Examples
    --------
    >>> m = Annihilation1D(W="regularised", centres=(-0.6, 0.6))
    >>> m.species, m.blocks, m.species_masses
    (('+', '-'), 2, {'+': 0.5, '-': 0.5})
    >>> from meanfield.models.contract import same_params
    >>> same_params(Annihilation1D(**m.params).params, m.params)
    True
    >>> x, b = m.sample_particles(8)
    >>> traj = m.simulate_particles((x, b), 2.0, [0.0, 2.0])
    >>> [(round(float(t), 4), kind, pair) for t, kind, pair in traj.events]
    [(0.2019, 'annihilation', (3, 4)), (0.62, 'annihilation', (2, 5))]
    >>> m.active_measures(traj, 2.0)
    {'+': EmpiricalMeasure(n=2, mass=0.25, domain=R^1), '-': EmpiricalMeasure(n=2, mass=0.25, domain=R^1)}
    """

    species = SPECIES
    #: particles and their dynamics draw no random numbers: run methods accept only ``rng=None``
    deterministic = True
    #: implied by ``deterministic`` (stated for the contract: no run of the dynamics takes a generator)
    deterministic_dynamics = True

    def __init__(self, V: str | Potential1D = "log", W: str | Potential1D = "none", delta: float = 0.3,
                 centres: ArrayLike = (-1.0, 1.0), radii: ArrayLike = (0.5, 0.5), mass_plus: float | None = None,
                 signs: ArrayLike | None = None, masses: ArrayLike | None = None) -> None:
        self.delta = check_positive("delta", delta)
        self.V, self.W = V, W
        self.potential_v = preset_v(V)
        self.potential_w = preset_w(W, self.potential_v, self.delta)
        self._kinds_or_none = engine_kinds(self.potential_v, self.potential_w, self.delta)
        c = _real_array("centres", centres)
        r = _real_array("radii", radii)
        k = c.size
        if c.ndim != 1 or k < 2 or r.shape != c.shape:
            raise ValueError(f"centres and radii must be sequences of the same length >= 2, got {centres!r}, "
                             f"{radii!r}")
        if not (np.all(np.isfinite(c)) and np.all(np.isfinite(r))) or np.any(r <= 0):
            raise ValueError(f"centres must be finite and radii positive finite, got {centres!r}, {radii!r}")
        if np.any(c[:-1] + r[:-1] >= c[1:] - r[1:]):
            raise ValueError(f"blocks [c - r, c + r] must be ordered and disjoint (Assumption 2.2), got centres "
                             f"{centres!r}, radii {radii!r}: the + and - initial supports overlap")
        s = np.array([1 if i % 2 == 0 else -1 for i in range(k)]) if signs is None else _real_array("signs", signs)
        if s.shape != (k,) or not np.all(np.abs(s) == 1):
            raise ValueError(f"signs must be {k} values in {{+1, -1}}, got {signs!r}")
        if np.all(s == s[0]):
            raise ValueError(f"signs must contain both charges, got {signs!r}")
        if mass_plus is not None:
            mp = check_real("mass_plus", mass_plus)
            if not 0 < mp < 1:
                raise ValueError(f"mass_plus must lie in (0, 1), got {mass_plus!r}")
        if masses is None:
            if mass_plus is not None:
                if k != 2 or s[0] == s[1]:
                    raise ValueError("mass_plus is only for two blocks of opposite sign; give masses instead")
                m = np.where(s > 0, mp, 1 - mp)
            else:
                m = np.full(k, 1.0 / k)
        else:
            m = _real_array("masses", masses)
            if m.shape != (k,) or not np.all(np.isfinite(m)) or np.any(m <= 0) or abs(m.sum() - 1) > 1e-12:
                raise ValueError(f"masses must be {k} positive numbers summing to 1, got {masses!r}")
            if mass_plus is not None and abs(float(m[s > 0].sum()) - mp) > 1e-12:
                raise ValueError(f"mass_plus={mass_plus!r} disagrees with the masses of the + blocks "
                                 f"{float(m[s > 0].sum())!r}; give one of them")
        self.centres, self.radii, self.signs, self.masses = c, r, s.astype(int), m
        self._mass_plus_arg = None if mass_plus is None else mp
        self.mass_plus = float(m[s > 0].sum())
        self.domain = Domain(1)
        self._warn_outside_theorem()

    def _warn_outside_theorem(self):
        if isinstance(self.V, str) and isinstance(self.W, str):
            if self.W == "-V":
                warnings.warn("W = -V is outside Assumption 2.1 (W' not Lipschitz): Theorem 5.1 does not cover "
                              "this run; opposite particles collide in finite time with unbounded speed",
                              OutsideTheoremWarning, stacklevel=3)
            return
        failed = assumption_violations(self.potential_v, self.potential_w)
        if failed:
            warnings.warn("the potentials leave Assumption 2.1 (checked on r in ±[1e-6, 1e3]); Theorem 5.1 does "
                          "not cover this run: " + "; ".join(failed), OutsideTheoremWarning, stacklevel=3)

    @property
    def params(self) -> dict[str, Any]:
        """Every constructor argument (V and W as given), so that ``Annihilation1D(**params)`` rebuilds
        this model (:func:`meanfield.models.contract.same_params`)."""
        return {"V": self.V, "W": self.W, "delta": self.delta, "centres": self.centres, "radii": self.radii,
                "mass_plus": self._mass_plus_arg, "signs": self.signs, "masses": self.masses}

    @property
    def species_masses(self) -> dict[str, float]:
        """``{"+": m₊, "-": m₋}``: the masses of the species (constant in time, eq. (4.15))."""
        return {"+": self.mass_plus, "-": float(self.masses[self.signs < 0].sum())}

    @property
    def blocks(self) -> int:
        """L: the number of alternating ± blocks of the initial data (Assumption 2.2)."""
        return int(1 + np.count_nonzero(self.signs[1:] != self.signs[:-1]))

    # -- initial data -------------------------------------------------------------------------
    @staticmethod
    def _semicircle_quantile(s, c, r):
        """Quantile of the semicircle law on [c-r, c+r] by bisection on its CDF."""
        lo, hi = -np.ones_like(s), np.ones_like(s)
        for _ in range(60):
            u = 0.5 * (lo + hi)
            below = _semicircle_cdf(u) < s
            lo, hi = np.where(below, u, lo), np.where(below, hi, u)
        return c + r * 0.5 * (lo + hi)

    @staticmethod
    def _largest_remainder(masses, n, what):
        raw = np.asarray(masses) * n
        counts = np.floor(raw).astype(int)
        order = np.argsort(-(raw - counts), kind="stable")
        counts[order[: n - counts.sum()]] += 1  # largest remainders
        if np.any(counts == 0):
            raise ValueError(f"n = {n} is too small: every {what} needs at least one particle")
        return counts

    def _block_counts(self, n):
        return self._largest_remainder(self.masses, n, "block")

    @staticmethod
    def _check_rng(rng, method):
        if rng is not None:
            raise ValueError(f"{method}: rng must be None, got {rng!r}: the particles of model 001 are "
                             "deterministic (quantile placement, ODE dynamics) and use no random numbers")

    def sample_particles(self, n: int, rng: None = None, initial: dict | None = None, *,
                         window: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Deterministic initial particles, ``n`` in all, mass 1/n each.

        Presets (``initial=None``): quantile placement ``x = F_k^{-1}((i - ½)/n_k)`` per block with ``n_k``
        the largest-remainder rounding of ``m_k n``. ``initial={"+": f, "-": g}`` (callables or
        GridDensity, normalised to the species' masses): the same placement per species, ``n_±`` the
        largest-remainder rounding of ``m_± n`` and ``x = F_±^{-1}((i - ½)/n_±)`` for the CDF of the
        density put on a grid — the GridDensity's own grid, or for a callable :data:`SAMPLE_CELLS` cells
        over ``window`` (default :meth:`default_window` at t = 0) with a 2-point Gauss rule per cell, so the
        CDF is exact on the cell edges and linear in between.

        Parameters
        ----------
        n : int
            The number of particles (>= 2; every block, or species, needs one).
        rng : None
            Must be None (deterministic data).
        initial : dict or None, optional
            ``{"+": f, "-": g}`` (callables or GridDensity); None: the preset blocks.
        window : tuple of float or None, optional
            ``(lo, hi)`` for callables in ``initial`` (refused with the presets).

        Returns
        -------
        x : numpy.ndarray
            The sorted positions.
        b : numpy.ndarray
            The charges ±1.

        Raises
        ------
        ValueError
            For a non-None ``rng``, a bad ``n``, a ``window`` without ``initial`` or one that cuts off mass
            of a callable, or user densities whose quantile positions coincide.
        TypeError
            If ``initial`` is not a dict.

        References
        ----------
        :cite:`vanMeursMorandotti2019`, Assumption 2.2; theory page ``docs/theory/001-annihilation.md``.

        Examples
        --------
        >>> x, b = Annihilation1D().sample_particles(4)
        >>> x.round(4), b
        (array([-1.202, -0.798,  0.798,  1.202]), array([ 1,  1, -1, -1]))
        """
        self._check_rng(rng, "sample_particles")
        n = check_integer("n", n, minimum=2)
        check_memory(n * 8 * 8, f"sample_particles(n={n})")  # x, b and the bisection's work arrays
        if initial is None:
            if window is not None:
                raise ValueError("window is only used with initial= (the preset quantiles are exact)")
            parts, charges = [], []
            for count, c, r, sign in zip(self._block_counts(n), self.centres, self.radii, self.signs, strict=True):
                s = (np.arange(count) + 0.5) / count
                parts.append(self._semicircle_quantile(s, c, r))
                charges.append(np.full(count, sign))
            return np.concatenate(parts), np.concatenate(charges)
        dens = self._user_densities(initial, window, SAMPLE_CELLS, 0.0)
        masses = self.species_masses
        counts = self._largest_remainder([masses[s] for s in SPECIES], n, "species")
        xs, bs = [], []
        for label, count, sign in zip(SPECIES, counts, (1, -1), strict=True):
            d = dens[label]
            xs.append(_quantiles_of_cells(d.grid.edges[0], d.cell_masses, count))
            bs.append(np.full(count, sign))
        x, b = np.concatenate(xs), np.concatenate(bs)
        order = np.argsort(x, kind="stable")
        x, b = x[order], b[order]
        same = np.flatnonzero(np.diff(x) <= 0)
        if same.size:
            raise ValueError(f"initial: the quantile positions of the species coincide at x = {x[same[0]]!r} "
                             "(equal + and - densities there); Problem 4.1 needs distinct positions")
        return x, b

    def _user_densities(self, initial, window, cells, t_end):
        """``{label: GridDensity}`` of user data: a GridDensity keeps its grid (all species must share it);
        callables go on ``cells`` cells over ``window`` after the check that the window holds their mass."""
        if not isinstance(initial, dict):
            raise TypeError(f"initial must be a dict {{'+': density, '-': density}} of callables f(x) or "
                            f"GridDensity, got {type(initial).__name__}")
        grids = [v.grid for v in initial.values() if isinstance(v, GridDensity)]
        if grids:
            grid = grids[0]
            if grid.ndim != 1:
                raise ValueError(f"initial: a GridDensity of model 001 lives on a 1-D grid, got {grid}")
            if window is not None and (float(window[0]), float(window[1])) != (grid.lower[0], grid.upper[0]):
                raise ValueError(f"window={window!r} differs from the grid of the initial GridDensity "
                                 f"[{grid.lower[0]}, {grid.upper[0]}]")
        else:
            lo, hi = self._window(window, t_end)
            grid = UniformGrid(lo, hi, cells, periodic=False)
        for label, value in initial.items():
            if callable(value) and not isinstance(value, GridDensity):
                self._check_callable_window(f"initial[{label!r}]", value, grid)
        return initial_densities(initial, SPECIES, grid, self.species_masses)

    @staticmethod
    def _check_callable_window(name, func, grid):
        """Refuse a window that cuts off mass of ``func``: its integral over three window widths on each
        side (2-point Gauss on a grid of the same spacing) must be below 1e-9 of the total."""
        lo, hi = grid.lower[0], grid.upper[0]
        w = hi - lo
        n = grid.shape[0]
        wide = UniformGrid(lo - 3 * w, hi + 3 * w, 7 * n, periodic=False)
        try:
            cells = GridDensity.from_function(func, wide, quadrature=2).cell_masses
        except ValueError as err:
            raise ValueError(f"{name}: the callable gave unusable values ({err})") from None
        total, outside = cells.sum(), cells[: 3 * n].sum() + cells[4 * n:].sum()
        if np.isfinite(total) and total > 0 and outside > 1e-9 * total:
            raise ValueError(f"window=({lo!r}, {hi!r}) cuts off a fraction {outside / total:.3g} of the mass of "
                             f"{name}; give a window that holds the initial data")

    def initial_density(self, grid: UniformGrid) -> dict[str, GridDensity]:
        """The preset ρ^±° (sums of semicircle blocks) on ``grid``: exact cell averages.

        Parameters
        ----------
        grid : UniformGrid
            A one-dimensional grid.

        Returns
        -------
        dict
            ``{"+": GridDensity, "-": GridDensity}``: differences of the semicircle CDF per cell.

        Raises
        ------
        TypeError
            If ``grid`` is not a one-dimensional UniformGrid.

        Examples
        --------
        >>> from meanfield.solvers.grids import UniformGrid
        >>> d = Annihilation1D().initial_density(UniformGrid(-2.0, 2.0, 4, periodic=False))
        >>> d["+"].values, d["-"].values
        (array([0.25, 0.25, 0.  , 0.  ]), array([0.  , 0.  , 0.25, 0.25]))
        """
        if not isinstance(grid, UniformGrid) or grid.ndim != 1:
            raise TypeError(f"grid must be a 1-D meanfield.solvers.grids.UniformGrid, got {grid!r}")
        cells = self._preset_cells(grid)
        return {label: GridDensity(cells[k], grid) for k, label in enumerate(SPECIES)}

    def _preset_cells(self, grid):
        out = np.zeros((2, *tuple(grid.shape)))
        for c, r, sign, m in zip(self.centres, self.radii, self.signs, self.masses, strict=True):
            cdf = _semicircle_cdf((grid.edges[0] - c) / r)
            out[0 if sign > 0 else 1] += m * np.diff(cdf) / grid.spacing[0]
        return out

    def _preset_mass_outside(self, lo, hi):
        """Mass of the preset blocks outside [lo, hi] (exact, through the semicircle CDF)."""
        inside = self.masses * (_semicircle_cdf((hi - self.centres) / self.radii)
                                - _semicircle_cdf((lo - self.centres) / self.radii))
        return float(max(1.0 - inside.sum(), 0.0))

    # -- particles ------------------------------------------------------------------------------
    def _kinds(self):
        """``(vkind, wkind)``: the compiled engine's indices of the preset potentials."""
        if self._kinds_or_none is None:
            raise ValueError("the compiled kernels serve the preset potentials only; this model has user potentials")
        return self._kinds_or_none[:2]

    def _kernels(self):
        """``(dV, dW)`` for the NumPy pair sum of user potentials, or None for the compiled presets."""
        if self._kinds_or_none is not None:
            return None
        W = self.potential_w
        return self.potential_v.derivative, None if W.zero else W.derivative

    def velocity(self, x: ArrayLike, b: ArrayLike, n_total: int | None = None) -> np.ndarray:
        """Right-hand side of (4.1) for all particles.

        Parameters
        ----------
        x : array_like
            The positions.
        b : array_like
            The charges ∈ {-1, 0, 1} (ghosts, 0: velocity 0, no influence).
        n_total : int or None, optional
            The n of the prefactor 1/n (default ``len(x)``).

        Returns
        -------
        numpy.ndarray
            The velocities.

        Raises
        ------
        ValueError
            If ``b`` has another shape than ``x`` or ``n_total`` is not a positive integer.

        References
        ----------
        :cite:`vanMeursMorandotti2019`, eq. (4.1); theory page ``docs/theory/001-annihilation.md``.

        Examples
        --------
        Two + particles at distance ½ repel through ``V' = -1/r`` with prefactor 1/n = ¼ (ghosts are
        frozen and invisible); with W_δ two opposite charges at distance 2 attract at speed
        ``½ · 2 / (4 + δ²)``:

        >>> Annihilation1D().velocity([-1.0, -0.5, 0.5, 1.0], [1, 1, 0, -1])
        array([-0.5,  0.5,  0. ,  0. ])
        >>> Annihilation1D(W="regularised", delta=0.3).velocity([-1.0, 1.0], [1, -1])
        array([ 0.2444...,  -0.2444...])
        """
        x = np.asarray(x, float)
        b = np.asarray(b, np.int64)
        if b.shape != x.shape:
            raise ValueError(f"b (charges) must have the shape of x {x.shape}, got {b.shape}")
        n_total = x.size if n_total is None else check_integer("n_total", n_total, minimum=1)
        act = np.flatnonzero(b)
        out = np.zeros(x.size)
        kernels = self._kernels()
        if kernels is None:
            vk, wk, delta = cast(tuple, self._kinds_or_none)  # not None: the presets (typing only)
            out[act] = active_velocity(x[act], b[act], n_total, vk, wk, delta)
        else:
            out[act] = callable_velocity(x[act], b[act], n_total, *kernels)
        return out

    def simulate_particles(self, state: tuple, t_end: float, times: ArrayLike | None = None, rng: None = None,
                           rtol: float = 1e-8, atol: float = 1e-11, *, controller: PIController | None = None,
                           force: str = "auto", forces: str | None = None) -> Trajectory:
        """Event-driven solution of Problem 4.1 (Def. 4.2).

        By :func:`meanfield.particles.annihilation_events1d.integrate_annihilation`: Dormand–Prince 5(4)
        under a :class:`meanfield.solvers.timestepping.PIController`, annihilations located as roots of
        the gaps of adjacent active opposite pairs, at most
        :data:`meanfield.solvers.timestepping.DEFAULT_MAX_STEPS` steps.

        Parameters
        ----------
        state : tuple
            ``(x, b)``: strictly increasing finite positions and charges ±1.
        t_end : float
            The final time.
        times : array_like or None, optional
            Output times (default ``[t_end]``).
        rng : None
            Must be None (deterministic dynamics).
        rtol, atol : float, optional
            Tolerances of the default controller (``rtol`` below 100 machine epsilons is refused).
        controller : PIController or None, optional
            The step controller (default the engine's PI controller at ``rtol``/``atol``).
        force : {"auto", "direct", "fmm"}, optional
            The force evaluation: "auto" = direct pair sum, or the 1-D fast multipole method from a few
            hundred active particles on; user potentials use the NumPy pair sum ("auto"/"direct" only).
        forces : str or None, optional
            The older spelling of ``force=`` (deprecated; the keyword of every model is ``force``).

        Returns
        -------
        Trajectory
            All particles (ghosts included, as in μ_n^± (4.15)) with species "+"/"-" by initial charge;
            ``info["active"][k]`` are the charges b(t_k); ``events`` the annihilations
            ``(time, "annihilation", (i, j))`` and ``info["annihilations"]`` the same as
            ``(time, place, (i, j))``; ``info["stats"]`` the step and force-evaluation counts;
            ``info["blocks"]`` the number L of alternating ± blocks of the initial state (Assumption 2.2
            needs L bounded in n).

        Raises
        ------
        ValueError
            Before any work, for a non-None ``rng``, a state that is not a pair of arrays, positions that
            are not finite and strictly increasing, charges other than ±1, bad tolerances or times, or a
            run too large for the memory.
        RuntimeError
            If the step cap is reached or the step underflows.

        Warns
        -----
        DeprecationWarning
            For ``forces=``.

        References
        ----------
        :cite:`vanMeursMorandotti2019`, Problem 4.1, Def. 4.2, eqs. (4.1), (4.15); theory page
        ``docs/theory/001-annihilation.md``.

        Examples
        --------
        >>> m = Annihilation1D(W="regularised", centres=(-0.6, 0.6))
        >>> traj = m.simulate_particles(m.sample_particles(8), 2.0, [0.0, 2.0])
        >>> traj.info["active"][-1], traj.info["blocks"]
        (array([ 1,  1,  0,  0,  0,  0, -1, -1]), 2)
        """
        self._check_rng(rng, "simulate_particles")
        if forces is not None:
            warnings.warn("simulate_particles(forces=...) is deprecated; use force=", DeprecationWarning, stacklevel=2)
            force = forces
        try:
            x0, b0 = state
        except (TypeError, ValueError):
            raise ValueError(f"state must be a pair (x, b) of 1-D arrays, got {type(state).__name__}") from None
        x = _real_array("state x (positions)", x0) if np.ndim(x0) else np.asarray(x0, dtype=float)
        b_raw = np.asarray(b0)
        if x.ndim != 1 or x.size < 2:
            raise ValueError(f"state x (positions) must be a 1-D array of length >= 2, got shape {x.shape}")
        if b_raw.shape != x.shape:
            raise ValueError(f"state b (charges) must have the shape of x {x.shape}, got {b_raw.shape}")
        bad = np.flatnonzero(~np.isfinite(x))
        if bad.size:
            raise ValueError(f"state x (positions) must be finite, got x[{bad[0]}] = {float(x[bad[0]])!r}")
        same = np.flatnonzero(np.diff(x) <= 0)
        if same.size:
            i = int(same[0])
            what = "coincide" if x[i] == x[i + 1] else "are not increasing"
            raise ValueError(f"state x (positions) must be strictly increasing (distinct, ordered: Problem 4.1); "
                             f"x[{i}] = {float(x[i])!r} and x[{i + 1}] = {float(x[i + 1])!r} {what}")
        if b_raw.dtype.kind not in "iuf" or not np.all(np.isin(b_raw, (1, -1))):
            bad_b = int(np.flatnonzero(~np.isin(b_raw, (1, -1)))[0]) if b_raw.dtype.kind in "iuf" else 0
            raise ValueError(f"state b (charges) must be +1 or -1 (Problem 4.1), got b[{bad_b}] = "
                             f"{b_raw[bad_b].item()!r}")
        if controller is None:
            for name, val in (("rtol", rtol), ("atol", atol)):
                check_positive(name, val)
            controller = default_controller(rtol, atol)
        ts = check_times(t_end, times)
        check_memory(ts.size * x.size * 16, f"simulate_particles: {ts.size} output states of {x.size} particles")
        b_init = b_raw.astype(np.int64)
        kernels = self._kernels()
        vk, wk, delta = cast(tuple, self._kinds_or_none) if kernels is None else (0, 0, self.delta)
        run = integrate_annihilation(x, b_init, ts, vk, wk, delta, controller=controller, forces=force,
                                     kernels=kernels)
        n = x.size
        species = [np.where(b_init > 0, "+", "-") for _ in ts]
        events = [(t, kind, pair) for t, kind, pair, _ in run.events]
        info = {"active": run.charges, "charges": b_init,
                "blocks": int(1 + np.count_nonzero(b_init[1:] != b_init[:-1])),  # L of Assumption 2.2
                "annihilations": [(t, place, pair) for t, _, pair, place in run.events],
                "stats": {"accepted": run.accepted, "rejected": run.rejected,
                          "force_evaluations": run.force_evaluations},
                "solver": run.solver}
        return Trajectory(ts, run.positions, self.domain, [np.full(n, 1.0 / n) for _ in ts], species, events,
                          info=info, labels=self.species)

    def active_measures(self, traj: Trajectory, t: float) -> dict[str, EmpiricalMeasure | None]:
        """``[κ_n(t)]_±``: the active particles only (Lemma 4.6(i)).

        Parameters
        ----------
        traj : Trajectory
            A trajectory of :meth:`simulate_particles`.
        t : float
            An output time of ``traj``.

        Returns
        -------
        dict
            ``{"+": measure, "-": measure}`` of masses N_±/n (None for a part with no particle left).

        Raises
        ------
        TypeError
            If ``traj`` is not a trajectory of :meth:`simulate_particles`.
        ValueError
            If ``t`` is not an output time of ``traj`` (the message lists them).

        References
        ----------
        :cite:`vanMeursMorandotti2019`, Lemma 4.6(i); theory page ``docs/theory/001-annihilation.md``.

        Examples
        --------
        >>> m = Annihilation1D()
        >>> traj = m.simulate_particles(m.sample_particles(4), 0.1)
        >>> m.active_measures(traj, 0.1)["+"]
        EmpiricalMeasure(n=2, mass=0.5, domain=R^1)
        """
        if not isinstance(traj, Trajectory) or "active" not in traj.info:
            raise TypeError(f"traj must be a Trajectory of Annihilation1D.simulate_particles, got "
                            f"{type(traj).__name__}")
        t = check_real("t", t)
        k = _time_index(traj.times, t)
        x, b = traj.positions[k], traj.info["active"][k]
        n = x.size
        out = {}
        for sign, label in ((1, "+"), (-1, "-")):
            sel = b == sign
            out[label] = EmpiricalMeasure(x[sel], np.full(sel.sum(), 1.0 / n)) if sel.any() else None
        return out

    # -- continuum ------------------------------------------------------------------------------
    def _toeplitz_hats(self, grid):
        """Transforms of the cell-integrated kernels of V and W (None for W ≡ 0) from the potentials'
        values (:func:`meanfield.solvers.active_transport1d.cell_kernel_hat`)."""
        h = grid.spacing[0]

        def value(P, given):
            if isinstance(given, str) and P.kind is not None:  # presets by name: the calls of the old code
                return lambda r: potential(given, r, self.delta, self.V)
            return P.evaluate

        W = self.potential_w
        v_hat = cell_kernel_hat(value(self.potential_v, self.V), grid)
        w_hat = None if W.zero else cell_kernel_hat(value(W, self.W), grid)
        for name, hat in (("V", v_hat), ("W", w_hat)):
            if hat is not None and not np.all(np.isfinite(hat)):
                raise ValueError(f"the cell-integrated kernel of {name} is not finite on this grid (h = {h:.3g}); "
                                 f"check {name}.value away from 0")
        return v_hat, w_hat

    def default_window(self, t_end: float) -> tuple[float, float]:
        """Initial hull ± (3 max radius + √(4 t_end)): supports spread like R² ≤ R₀² + 4mt.

        Parameters
        ----------
        t_end : float
            The end of the run.

        Returns
        -------
        tuple of float
            ``(lo, hi)``.

        Raises
        ------
        TypeError
            If ``t_end`` is not a real number.

        Examples
        --------
        >>> tuple(float(v) for v in Annihilation1D().default_window(1.0))
        (-5.0, 5.0)
        """
        t_end = check_real("t_end", t_end)
        pad = 3 * float(self.radii.max()) + np.sqrt(4 * t_end)
        return float(np.min(self.centres - self.radii)) - pad, float(np.max(self.centres + self.radii)) + pad

    def _window(self, window, t_end):
        if window is None:
            return self.default_window(t_end)
        try:
            lo, hi = window
        except (TypeError, ValueError):
            raise ValueError(f"window must be a pair (lo, hi), got {window!r}") from None
        lo, hi = check_real("window[0]", lo), check_real("window[1]", hi)
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ValueError(f"window must be a finite interval (lo, hi) with lo < hi, got {window!r}")
        return lo, hi

    def solve_continuum(self, t_end: float | None = None, times: ArrayLike | None = None, initial: dict | None = None,
                        *, resolution: int = 800, window: tuple[float, float] | None = None,
                        scheme: str = "finite_volume", cfl: float = 0.4) -> xr.Dataset:
        """Finite volumes for (1.3) on ``window`` with ``resolution`` cells.

        Time stepping: :func:`meanfield.solvers.timestepping.integrate` with
        :class:`~meanfield.solvers.timestepping.SSPRK3`
        under the CFL rule ``dt = cfl h / max|v|`` (a :class:`~meanfield.solvers.timestepping.StepFunction`);
        scheme, declared order and step rule are recorded in the dataset's solver attributes. The old call
        ``solve_continuum(resolution, t_end, ...)`` still works with a DeprecationWarning.

        Parameters
        ----------
        t_end : float
            The final time (required).
        times : array_like or None, optional
            Output times (default ``[t_end]``).
        initial : dict or None, optional
            None (the preset blocks, exact cell averages) or ``{"+": f, "-": g}`` with callables (cell
            averages by a 2-point Gauss rule, normalised to the species' masses) or GridDensity on the
            run's grid (``window`` and ``resolution`` are then taken from it when not given).
        resolution : int, optional
            The number of cells (>= 16).
        window : tuple of float or None, optional
            ``(lo, hi)`` (default :meth:`default_window`). A window that cuts off initial mass is refused:
            zero-flux walls would keep the rest, and the lost mass would be reported as annihilated.
        scheme : {"finite_volume"}, optional
            The only scheme.
        cfl : float, optional
            In (0, 1] (positivity of the upwind scheme).

        Returns
        -------
        xarray.Dataset
            The standard dataset (species "+", "-": ρ^± including annihilated mass) with the annihilated
            mass ``annihilated_mass`` A(t) and the active masses ``active_plus``, ``active_minus``
            ``[κ]_±(R)`` (non-increasing) as extra variables.

        Raises
        ------
        ValueError
            Before any step, for a missing ``t_end``, bad times, ``scheme``, ``cfl``, ``resolution`` or
            ``window``, a window that cuts off initial mass (the message gives the mass outside), or a
            ``cfl`` that would need more than :data:`meanfield.solvers.timestepping.DEFAULT_MAX_STEPS`
            steps at the initial speed.

        Warns
        -----
        RuntimeWarning
            If mass reaches a wall of the window (give a wider window).
        DeprecationWarning
            For the old positional call.

        References
        ----------
        :cite:`vanMeursMorandotti2019`, eq. (1.3); theory page ``docs/theory/001-annihilation.md``.

        Examples
        --------
        Each species keeps its mass; the active masses decrease as mass annihilates:

        >>> m = Annihilation1D(W="regularised", centres=(-0.6, 0.6))
        >>> ds = m.solve_continuum(0.5, [0.0, 0.5], resolution=100)
        >>> ds.annihilated_mass.values.round(4), ds.active_plus.values.round(4)
        (array([0.    , 0.1908]), array([0.5   , 0.3092]))
        """
        if (isinstance(t_end, (int, np.integer)) and not isinstance(t_end, bool) and t_end >= 16
                and isinstance(times, numbers.Real) and not isinstance(times, bool)
                and not isinstance(initial, dict)):
            warnings.warn("solve_continuum(resolution, t_end, times, ...) is deprecated: call "
                          "solve_continuum(t_end, times, resolution=...)", DeprecationWarning, stacklevel=2)
            t_end, times, resolution, initial = times, initial, t_end, None
        if t_end is None:
            raise ValueError("t_end is required")
        if scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
        ts = check_times(t_end, times)
        check_positive("cfl", cfl)
        if cfl > 1:
            raise ValueError(f"cfl must lie in (0, 1] for positivity of the upwind scheme, got {cfl!r}")
        user_grid = None
        if isinstance(initial, dict):
            grids = [v.grid for v in initial.values() if isinstance(v, GridDensity)]
            user_grid = grids[0] if grids else None
        if user_grid is not None and user_grid.ndim == 1:
            n = user_grid.shape[0]
            if resolution not in (800, n):
                raise ValueError(f"resolution={resolution!r} differs from the {n} cells of the initial GridDensity")
            resolution = n
        n = check_integer("resolution", resolution, minimum=16)
        check_memory(n * 8 * (2 * ts.size + 40), f"solve_continuum(resolution={n})")
        if user_grid is not None and window is None:
            window = (float(user_grid.lower[0]), float(user_grid.upper[0]))
        lo, hi = self._window(window, ts[-1])
        grid = UniformGrid(lo, hi, n, periodic=False)
        if initial is None:
            outside = self._preset_mass_outside(lo, hi)
            if outside > WINDOW_MASS_TOL:
                raise ValueError(f"window=({lo!r}, {hi!r}) cuts off mass {outside:.3g} of the initial blocks "
                                 f"(hull [{float(np.min(self.centres - self.radii))!r}, "
                                 f"{float(np.max(self.centres + self.radii))!r}]); give a window that holds them")
            rho = self._preset_cells(grid)
        else:
            dens = self._user_densities(initial, (lo, hi), n, ts[-1])
            rho = np.stack([dens[s].values for s in SPECIES])
        v_hat, w_hat = self._toeplitz_hats(grid)
        out, stepper, rule = solve_active_transport(rho, grid, v_hat, w_hat, ts, cfl)
        wall = float(np.max(out[:, :, [0, -1]])) * grid.spacing[0]
        if wall > WALL_MASS_TOL:
            warnings.warn(f"mass {wall:.3g} reached a wall of window=({lo!r}, {hi!r}) by t = {ts[-1]!r}: the zero-flux "
                          "walls hold it back, unlike (1.3) on R; give a wider window", RuntimeWarning, stacklevel=2)
        kappa = out[:, 0] - out[:, 1]
        active_plus = grid.integrate(np.clip(kappa, 0, None))
        active_minus = grid.integrate(np.clip(-kappa, 0, None))
        return continuum_dataset(ts, out, grid, species=list(SPECIES), model=self,
                                 solver={"method": "upwind_fv_ssprk3", "scheme": scheme, "resolution": n, "cfl": cfl,
                                         "initial": "preset" if initial is None else "user",
                                         **stepper.describe(), **rule.describe()},
                                 annihilated_mass=(("time",), self.mass_plus - active_plus),
                                 active_plus=(("time",), active_plus), active_minus=(("time",), active_minus))
