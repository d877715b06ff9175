"""Empirical measures, grid densities and the reconstructions between them.

* :class:`Domain` says where a measure lives: free space R^d or a periodic box (torus).
* :class:`EmpiricalMeasure` is ``sum_i w_i delta_{x_i}``; weights default to ``1/n`` each and may
  be signed (the metrics decide what they accept).
* :class:`GridDensity` is a piecewise-constant density (cell averages) on a
  :class:`meanfield.solvers.grids.UniformGrid`.

Conversions and their accuracy (tested in ``tests/test_measures.py``):

* :meth:`GridDensity.to_empirical` puts each cell's mass at its centre: ``W_1`` error ``O(h)``
  against the piecewise-constant density (exactly ``h/4`` in 1D for a uniform density);
  integrals of smooth test functions are exact to ``O(h^2)`` (midpoint rule).
* :func:`deposit` puts particles on a grid: ``order=0`` nearest-grid-point, ``order=1``
  cloud-in-cell (linear weights). Both conserve mass exactly; for smooth test functions
  ``integral phi d(deposit(mu)) - integral phi d(mu)`` is ``O(h)`` for NGP and ``O(h^2)`` for CIC.
* :meth:`GridDensity.sample` draws i.i.d. points from the piecewise-constant density (exact law).

These are the meeting point of particles and continuum: ``traj.measure(t)`` gives
:class:`EmpiricalMeasure` objects and ``sol.measure(t)`` :class:`GridDensity` or
:class:`IntervalDensity1D` objects, which the distances of :mod:`meanfield.metrics` compare
(``docs/user-guide/measures.md``, ``docs/theory/distances.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from meanfield.solvers.grids import UniformGrid

__all__ = ["Domain", "EmpiricalMeasure", "GridDensity", "IntervalDensity1D", "as_generator", "deposit"]


def as_generator(rng: int | np.random.Generator | None) -> np.random.Generator:
    """A ``numpy.random.Generator`` from a seed, a Generator or None.

    Parameters
    ----------
    rng : int, numpy.random.Generator or None
        A Generator is returned as it is; a seed or None (fresh entropy) goes to
        ``numpy.random.default_rng``.

    Returns
    -------
    numpy.random.Generator

    Raises
    ------
    TypeError, ValueError
        From ``numpy.random.default_rng`` for anything else (a string, a negative seed).

    Examples
    --------
    >>> g = as_generator(7)
    >>> as_generator(g) is g
    True
    >>> float(as_generator(7).random()) == float(np.random.default_rng(7).random())
    True
    """
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


@dataclass(frozen=True)
class Domain:
    """Where a measure lives: free space R^dim or a periodic box (a torus).

    Parameters
    ----------
    dim : int
        The space dimension (>= 1).
    period : float or sequence of float, optional
        The side lengths ``L_k`` of the periodic box ``prod_k [a_k, a_k + L_k)``, positive and
        finite (a scalar is broadcast); None (default) for free space.
    origin : float or sequence of float, optional
        The corner ``a`` of the box (default 0); only with ``period``.

    Raises
    ------
    ValueError
        If ``dim`` is not a positive integer, ``period`` not positive and finite, ``origin`` not
        finite, or ``origin`` given without ``period``.

    Examples
    --------
    >>> Domain(2).describe()
    'R^2'
    >>> torus = Domain.torus(1, period=2.0)
    >>> torus.describe(), torus.wrap(np.array([2.5, -0.5]))
    ('torus of period (2.0,) from (0.0,)', array([0.5, 1.5]))
    >>> torus.displacement(np.array([1.9]), np.array([0.1]))  # the nearest periodic image
    array([-0.2])
    """

    dim: int
    period: tuple | None = None
    origin: tuple | None = None

    def __init__(self, dim: int, period: float | tuple | None = None, origin: float | tuple | None = None):
        if int(dim) != dim or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        dim = int(dim)
        object.__setattr__(self, "dim", dim)
        if period is None:
            if origin is not None:
                raise ValueError("origin is only meaningful for a periodic domain (period given)")
            object.__setattr__(self, "period", None)
            object.__setattr__(self, "origin", None)
            return
        per = np.broadcast_to(np.asarray(period, dtype=float), (dim,))
        if not np.all(np.isfinite(per)) or np.any(per <= 0):
            raise ValueError(f"period must be positive and finite, got {period!r}")
        org = np.broadcast_to(np.asarray(0.0 if origin is None else origin, dtype=float), (dim,))
        if not np.all(np.isfinite(org)):
            raise ValueError(f"origin must be finite, got {origin!r}")
        object.__setattr__(self, "period", tuple(float(p) for p in per))
        object.__setattr__(self, "origin", tuple(float(o) for o in org))

    @classmethod
    def real(cls, dim: int) -> Domain:
        """Free space R^dim.

        Parameters
        ----------
        dim : int
            The dimension.

        Returns
        -------
        Domain
        """
        return cls(dim)

    @classmethod
    def torus(cls, dim: int, period: float | tuple = 1.0, origin: float | tuple = 0.0) -> Domain:
        """The periodic box ``prod_k [origin_k, origin_k + period_k)``.

        Parameters
        ----------
        dim : int
            The dimension.
        period : float or sequence of float, default 1.0
            The side lengths.
        origin : float or sequence of float, default 0.0
            The lower corner.

        Returns
        -------
        Domain
        """
        return cls(dim, period=period, origin=origin)

    @classmethod
    def of_grid(cls, grid: UniformGrid) -> Domain:
        """The domain of a grid's measures.

        Parameters
        ----------
        grid : UniformGrid
            The grid.

        Returns
        -------
        Domain
            The torus of a fully periodic grid, free space for a grid with walls on every axis.

        Raises
        ------
        ValueError
            For a grid periodic on some axes only.
        """
        if all(grid.periodic):
            return cls(grid.ndim, period=tuple(grid.lengths), origin=grid.lower)
        if any(grid.periodic):
            raise ValueError("grids periodic on some axes only have no Domain")
        return cls(grid.ndim)

    @property
    def periodic(self) -> bool:
        """Whether this is a torus."""
        return self.period is not None

    def wrap(self, positions: np.ndarray) -> np.ndarray:
        """Map positions into the fundamental box (identity on free space).

        Parameters
        ----------
        positions : numpy.ndarray
            Shape ``(n, dim)`` (or broadcastable to it).

        Returns
        -------
        numpy.ndarray
        """
        if not self.periodic:
            return positions
        org, per = np.asarray(self.origin), np.asarray(self.period)
        return org + np.mod(positions - org, per)

    def displacement(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``x - y``, replaced by the nearest periodic image on a torus.

        Parameters
        ----------
        x, y : numpy.ndarray
            Points, broadcast together.

        Returns
        -------
        numpy.ndarray
        """
        d = np.asarray(x) - np.asarray(y)
        if self.periodic:
            per = np.asarray(self.period)
            d = d - per * np.round(d / per)
        return d

    def describe(self) -> str:
        """A short text such as ``R^2`` or ``torus of period (1.0, 1.0) from (0.0, 0.0)``.

        Returns
        -------
        str
        """
        if not self.periodic:
            return f"R^{self.dim}"
        return f"torus of period {self.period} from {self.origin}"


def _check_positions(positions, name="positions", dim=None) -> np.ndarray:
    pos = np.asarray(positions, dtype=float)
    if pos.ndim == 1:
        pos = pos[:, None] if (dim in (None, 1)) else pos.reshape(-1, dim)
    if pos.ndim != 2:
        raise ValueError(f"{name} must have shape (n,) or (n, d), got {np.shape(positions)}")
    if pos.shape[0] == 0:
        raise ValueError(f"{name} is empty: a measure needs at least one point")
    if not np.all(np.isfinite(pos)):
        bad = np.argwhere(~np.isfinite(pos))[0][0]
        raise ValueError(f"{name} must be finite; entry {bad} is {pos[bad]}")
    return pos


class EmpiricalMeasure:
    """A weighted sum of Dirac masses ``sum_i w_i delta_{x_i}``.

    Parameters
    ----------
    positions : array_like, shape (n,) or (n, d)
        The atoms, finite; at least one.
    weights : array_like, shape (n,), optional
        Default ``1/n`` each (a probability measure); a scalar is broadcast. Signed weights are
        allowed here; metrics that need a non-negative measure reject them.
    domain : Domain, optional
        Default free space R^d. On a periodic domain positions are wrapped into the box.

    Raises
    ------
    ValueError
        If ``positions`` is empty, not finite or of the wrong shape, or ``weights`` do not match it
        or are not finite, or ``domain`` has another dimension.

    Examples
    --------
    >>> mu = EmpiricalMeasure([0.0, 1.0, 3.0], weights=[0.5, 0.25, 0.25])
    >>> mu
    EmpiricalMeasure(n=3, mass=1, domain=R^1)
    >>> mu.n, mu.dim, mu.mass, mu.is_nonnegative
    (3, 1, 1.0, True)
    >>> mu.integrate(lambda x: x**2), mu.moment(1)
    (2.5, array([1.]))
    >>> (-mu).mass
    -1.0
    """

    def __init__(self, positions: ArrayLike, weights: ArrayLike | None = None, domain: Domain | None = None):
        dim = domain.dim if domain is not None else None
        pos = _check_positions(positions, "positions", dim)
        n, d = pos.shape
        if domain is None:
            domain = Domain(d)
        if domain.dim != d:
            raise ValueError(f"positions are {d}-dimensional but domain is {domain.describe()}")
        if weights is None:
            w = np.full(n, 1.0 / n)
        else:
            w = np.asarray(weights, dtype=float)
            if w.ndim == 0:
                w = np.full(n, float(w))
            if w.shape != (n,):
                raise ValueError(f"weights must have shape ({n},) to match positions, got {w.shape}")
            if not np.all(np.isfinite(w)):
                raise ValueError("weights must be finite")
        self.positions = domain.wrap(pos)
        self.weights = w
        self.domain = domain

    @property
    def n(self) -> int:
        """Number of atoms."""
        return self.positions.shape[0]

    @property
    def dim(self) -> int:
        """Space dimension."""
        return self.domain.dim

    @property
    def mass(self) -> float:
        """Total (signed) mass ``sum_i w_i``."""
        return float(self.weights.sum())

    @property
    def is_nonnegative(self) -> bool:
        """Whether every weight is >= 0."""
        return bool(np.all(self.weights >= 0))

    @property
    def x(self) -> np.ndarray:
        """Positions as a flat array (1-D measures only; ValueError otherwise)."""
        if self.dim != 1:
            raise ValueError(f"x is defined for 1-D measures; this one is {self.dim}-D")
        return self.positions[:, 0]

    def integrate(self, phi: Callable) -> float:
        """The integral ``sum_i w_i phi(x_i)`` of a test function.

        Parameters
        ----------
        phi : callable
            Takes an ``(n, d)`` array (``(n,)`` in 1-D) and returns ``n`` values.

        Returns
        -------
        float
        """
        arg = self.positions[:, 0] if self.dim == 1 else self.positions
        return float(np.dot(self.weights, np.asarray(phi(arg), dtype=float)))

    def moment(self, order: int = 1) -> np.ndarray:
        """Coordinate-wise moment ``sum_i w_i x_i**order``.

        Parameters
        ----------
        order : int, default 1
            The power.

        Returns
        -------
        numpy.ndarray
            Shape ``(d,)``.
        """
        return (self.weights[:, None] * self.positions**order).sum(axis=0)

    def __neg__(self):
        return EmpiricalMeasure(self.positions, -self.weights, self.domain)

    def __repr__(self):
        return f"EmpiricalMeasure(n={self.n}, mass={self.mass:.6g}, domain={self.domain.describe()})"


class GridDensity:
    """A piecewise-constant density on a uniform grid (``values`` are cell averages).

    A periodic grid gives a measure on the torus; a grid with walls gives a measure on R^d
    supported in the box.

    Parameters
    ----------
    values : array_like
        The cell averages, of the grid's shape, finite.
    grid : UniformGrid
        The grid.

    Raises
    ------
    ValueError
        If ``grid`` is not a UniformGrid, ``values`` do not have its shape or are not finite, or
        the grid is periodic on some axes only.

    Examples
    --------
    >>> grid = UniformGrid(0.0, 1.0, 4, periodic=False)
    >>> rho = GridDensity([0.5, 1.5, 1.5, 0.5], grid)
    >>> rho
    GridDensity(shape=(4,), mass=1, domain=R^1)
    >>> rho.cell_masses, rho.integrate(lambda x: x)
    (array([0.125, 0.375, 0.375, 0.125]), 0.5)
    >>> rho.to_empirical().positions[:, 0]
    array([0.125, 0.375, 0.625, 0.875])
    >>> rho.sample(3, rng=1).mass
    1.0
    >>> GridDensity.from_function(lambda x: 2 * x, grid, quadrature=2).values
    array([0.25, 0.75, 1.25, 1.75])
    """

    def __init__(self, values: ArrayLike, grid: UniformGrid):
        if not isinstance(grid, UniformGrid):
            raise ValueError(f"grid must be a meanfield.solvers.grids.UniformGrid, got {type(grid).__name__}")
        v = np.asarray(values, dtype=float)
        if v.shape != grid.shape:
            raise ValueError(f"values have shape {v.shape} but the grid has shape {grid.shape}")
        if not np.all(np.isfinite(v)):
            raise ValueError("values must be finite")
        self.values = v
        self.grid = grid
        self.domain = Domain.of_grid(grid)

    @classmethod
    def from_function(cls, func: Callable, grid: UniformGrid, quadrature: int = 1) -> GridDensity:
        """Cell averages of ``func(*coords)`` by a tensor Gauss-Legendre rule.

        Parameters
        ----------
        func : callable
            ``func(x)``, ``func(x, y)`` or ``func(x, y, z)`` on arrays of the grid's shape.
        grid : UniformGrid
            The grid.
        quadrature : int, default 1
            Points per axis of the rule (1: the midpoint rule).

        Returns
        -------
        GridDensity
        """
        nodes, wts = np.polynomial.legendre.leggauss(quadrature)
        values = np.zeros(grid.shape)
        h = grid.spacing
        for combo in np.ndindex(*(quadrature,) * grid.ndim):
            shifted = [grid.centres[a] + 0.5 * h[a] * nodes[combo[a]] for a in range(grid.ndim)]
            mesh = np.meshgrid(*shifted, indexing="ij")
            weight = np.prod([wts[combo[a]] / 2 for a in range(grid.ndim)])
            values += weight * np.asarray(func(*mesh), dtype=float)
        return cls(values, grid)

    @property
    def dim(self) -> int:
        """Space dimension (the grid's)."""
        return self.grid.ndim

    @property
    def mass(self) -> float:
        """Total (signed) mass, the integral of the cell averages."""
        return float(self.grid.integrate(self.values))

    @property
    def is_nonnegative(self) -> bool:
        """Whether every cell average is >= 0."""
        return bool(np.all(self.values >= 0))

    @property
    def cell_masses(self) -> np.ndarray:
        """Mass of each cell (cell average times cell volume)."""
        return self.values * self.grid.cell_volume

    def integrate(self, phi: Callable) -> float:
        """The integral of a test function by the midpoint rule ``sum_cells phi(centre) * mass``.

        Exact for affine ``phi``, ``O(h^2)`` otherwise.

        Parameters
        ----------
        phi : callable
            ``phi(*mesh)`` on the arrays of :meth:`UniformGrid.mesh`.

        Returns
        -------
        float
        """
        mesh = self.grid.mesh()
        return float(np.sum(np.asarray(phi(*mesh), dtype=float) * self.cell_masses))

    def to_empirical(self, drop_zero: bool = True) -> EmpiricalMeasure:
        """All of each cell's mass at its centre (``W_1`` error at most ``|h|/2``; see the module docstring).

        Parameters
        ----------
        drop_zero : bool, default True
            Leave out the cells of zero mass (unless every cell has zero mass).

        Returns
        -------
        EmpiricalMeasure
        """
        pts = self.grid.points()
        w = self.cell_masses.ravel()
        if drop_zero and np.any(w != 0):
            keep = w != 0
            pts, w = pts[keep], w[keep]
        return EmpiricalMeasure(pts, w, self.domain)

    def sample(self, n: int, rng: int | np.random.Generator | None = None) -> EmpiricalMeasure:
        """``n`` i.i.d. points from the normalised density (the exact law of the piecewise-constant density).

        Parameters
        ----------
        n : int
            The number of points (>= 1).
        rng : int, numpy.random.Generator or None, optional
            The seed or generator (:func:`as_generator`).

        Returns
        -------
        EmpiricalMeasure
            Weights ``mass/n`` each.

        Raises
        ------
        ValueError
            If ``n`` is not a positive integer or the density has negative values or zero mass.
        """
        if int(n) != n or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        if not self.is_nonnegative:
            raise ValueError("cannot sample from a density with negative values")
        mass = self.mass
        if mass <= 0:
            raise ValueError("cannot sample from a density of zero mass")
        rng = as_generator(rng)
        p = self.cell_masses.ravel() / self.cell_masses.sum()
        cells = rng.choice(p.size, size=int(n), p=p)
        idx = np.stack(np.unravel_index(cells, self.grid.shape), axis=1)
        u = rng.random((int(n), self.dim))
        pos = np.asarray(self.grid.lower) + (idx + u) * self.grid.spacing
        return EmpiricalMeasure(pos, np.full(int(n), mass / n), self.domain)

    def __repr__(self):
        return f"GridDensity(shape={self.grid.shape}, mass={self.mass:.6g}, domain={self.domain.describe()})"


def deposit(measure: EmpiricalMeasure, grid: UniformGrid, order: int = 1) -> GridDensity:
    """Deposit an empirical measure on a grid, conserving its mass exactly.

    Parameters
    ----------
    measure : EmpiricalMeasure
        The particles.
    grid : UniformGrid
        The grid, of the measure's dimension.
    order : {0, 1}, default 1
        0: nearest grid point (each weight into the cell containing the point). 1: cloud-in-cell
        (linear weights to the 2^d nearest centres); near a wall the share that would leave the box
        is folded back into the boundary cell.

    Returns
    -------
    GridDensity
        Of the measure's mass to round-off.

    Raises
    ------
    ValueError
        If ``order`` is not 0 or 1, the dimensions differ, or a point lies outside a bounded box.

    Examples
    --------
    >>> grid = UniformGrid(0.0, 1.0, 4, periodic=True)
    >>> mu = EmpiricalMeasure([0.125, 0.25])
    >>> deposit(mu, grid, order=0).cell_masses
    array([0.5, 0.5, 0. , 0. ])
    >>> deposit(mu, grid, order=1).cell_masses
    array([0.75, 0.25, 0.  , 0.  ])
    """
    if order not in (0, 1):
        raise ValueError(f"order must be 0 (nearest grid point) or 1 (cloud in cell), got {order!r}")
    if measure.dim != grid.ndim:
        raise ValueError(f"measure is {measure.dim}-D but grid is {grid.ndim}-D")
    pos, w = measure.positions, measure.weights
    out = np.zeros(grid.shape)
    if order == 0:
        idx = grid.cell_index(pos)
        np.add.at(out, tuple(idx.T), w)
        return GridDensity(out / grid.cell_volume, grid)
    grid.cell_index(pos)  # raises for points outside a bounded box
    h = grid.spacing
    s = (pos - np.asarray(grid.lower)) / h - 0.5  # position in units of cells, centre-based
    base = np.floor(s).astype(np.int64)
    frac = s - base
    for corner in np.ndindex(*(2,) * grid.ndim):
        c = np.asarray(corner)
        wt = w * np.prod(np.where(c == 1, frac, 1.0 - frac), axis=1)
        idx = base + c
        for a in range(grid.ndim):
            if grid.periodic[a]:
                idx[:, a] %= grid.shape[a]
            else:
                idx[:, a] = np.clip(idx[:, a], 0, grid.shape[a] - 1)
        np.add.at(out, tuple(idx.T), wt)
    return GridDensity(out / grid.cell_volume, grid)


class IntervalDensity1D:
    """A piecewise-constant density on R with arbitrary cell edges.

    Cell ``k`` is ``[edges[k], edges[k+1])`` and carries mass ``masses[k]``. Its quantile
    (pseudo-inverse) function is piecewise linear, which is the form produced by Lagrangian
    (pseudo-inverse) solvers (002, ``docs/theory/002-newtonian.md``): ``edges`` are the quantile
    function at the cumulative masses. Zero-width cells are atoms of mass ``masses[k]``.

    Parameters
    ----------
    edges : array_like
        Non-decreasing cell edges, at least two, finite.
    masses : array_like
        One mass per cell, finite.

    Raises
    ------
    ValueError
        If the sizes do not match, a value is not finite or the edges decrease.

    Examples
    --------
    >>> rho = IntervalDensity1D([0.0, 0.5, 0.5, 2.0], [0.25, 0.25, 0.5])
    >>> rho
    IntervalDensity1D(cells=3, mass=1)
    >>> rho.density()  # the middle cell is an atom
    array([0.5       ,        inf, 0.33333333])
    >>> rho.integrate(lambda x: x)
    0.8125
    """

    def __init__(self, edges: ArrayLike, masses: ArrayLike):
        e = np.asarray(edges, dtype=float).ravel()
        m = np.asarray(masses, dtype=float).ravel()
        if e.size < 2:
            raise ValueError("edges needs at least two entries")
        if m.shape != (e.size - 1,):
            raise ValueError(f"masses must have {e.size - 1} entries (one per cell), got {m.size}")
        if not (np.all(np.isfinite(e)) and np.all(np.isfinite(m))):
            raise ValueError("edges and masses must be finite")
        if np.any(np.diff(e) < 0):
            raise ValueError("edges must be non-decreasing")
        self.edges = e
        self.masses = m
        self.domain = Domain(1)

    dim = 1

    @property
    def mass(self) -> float:
        """Total (signed) mass, the sum of the cell masses."""
        return float(self.masses.sum())

    @property
    def is_nonnegative(self) -> bool:
        """Whether every cell mass is >= 0."""
        return bool(np.all(self.masses >= 0))

    def density(self) -> np.ndarray:
        """Cell densities ``masses / widths``; infinite for zero-width cells with mass (atoms).

        Returns
        -------
        numpy.ndarray
        """
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.masses == 0, 0.0, self.masses / np.diff(self.edges))

    def integrate(self, phi: Callable, quadrature: int = 4) -> float:
        """The integral ``sum_k masses[k] * (mean of phi over cell k)`` of a test function.

        Parameters
        ----------
        phi : callable
            Vectorised ``phi(x)``.
        quadrature : int, default 4
            Points of the Gauss-Legendre rule per cell (exact for polynomials of degree
            ``< 2 * quadrature``; atoms are evaluated at their point).

        Returns
        -------
        float
        """
        nodes, wts = np.polynomial.legendre.leggauss(quadrature)
        a, b = self.edges[:-1], self.edges[1:]
        mid, half = (a + b) / 2, (b - a) / 2
        vals = sum(w / 2 * np.asarray(phi(mid + half * t), dtype=float) for t, w in zip(nodes, wts, strict=True))
        return float(np.dot(self.masses, vals))

    def __repr__(self):
        return f"IntervalDensity1D(cells={self.masses.size}, mass={self.mass:.6g})"
