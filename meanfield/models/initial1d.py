"""User initial data of one species on R as a CDF/quantile pair (1-D Lagrangian methods, model 002).

A species of a 1-D model with Lagrangian (quantile) solvers is given, per species, by a
:class:`Profile1D`: its CDF ``F``, its quantile (pseudo-inverse) function ``X = F^{-1}`` and the
interval ``support`` outside which it vanishes, with total mass 1 (the normalisation of paper 002,
theory page 002). :func:`profile_from` builds one from what a user passes as ``initial=``:

* a callable density ``f(x)`` (vectorised): taken on the species' support interval ``(a, b)`` (the
  model's ``rho_support`` / ``eta_support``; zero outside), averaged over :data:`FINE_CELLS` cells by a
  4-point Gauss rule and normalised to mass 1 (:func:`meanfield.models.contract.density_on_grid`;
  error if its integral is not positive and finite or if it is negative somewhere);
* a :class:`~meanfield.measures.GridDensity` on any 1-D grid, or an
  :class:`~meanfield.measures.IntervalDensity1D`: piecewise constant, used exactly; mass must be 1
  (relative 1e-9), values non-negative; support = the grid's extent / the first to last edge;
* a :class:`Quantile` — the marker that tells a quantile function ``s -> X(s)`` on ``[0, 1]`` apart
  from a density callable: finite at ``s = 0`` and ``1`` (compact support ``[X(0), X(1)]``) and
  non-decreasing (checked on :data:`FINE_CELLS` + 1 points); used exactly by the quantile solver and
  the particle atomisation, its CDF by inverse linear interpolation on those points elsewhere.

For piecewise-constant data the CDF is piecewise linear and both maps are exact (up to round-off);
for a smooth callable density the tabulated CDF is accurate to O(h²) with ``h = (b - a) / FINE_CELLS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from meanfield.measures import GridDensity, IntervalDensity1D
from meanfield.models.contract import density_on_grid
from meanfield.solvers.grids import UniformGrid

__all__ = ["FINE_CELLS", "Profile1D", "Quantile", "profile_from"]

# cells of the table on which a callable density or quantile function is tabulated
FINE_CELLS = 2**14


class Quantile:
    """Marks ``func`` as a quantile function ``s -> X(s)`` for ``initial=``.

    The function must be vectorised, non-decreasing and finite at 0 and 1 on ``[0, 1]``; the marker
    keeps it from being read as a density ``f(x)``.

    Parameters
    ----------
    func : callable
        The quantile function ``s -> X(s)``.

    Raises
    ------
    TypeError
        If ``func`` is not callable.

    References
    ----------
    :cite:`DiFrancescoEspositoSchmidtchen`; theory page ``docs/theory/002-newtonian.md``.

    Examples
    --------
    >>> import numpy as np
    >>> def uniform_on_0_2(s):
    ...     return 2.0 * s
    >>> q = Quantile(uniform_on_0_2)
    >>> q
    Quantile(uniform_on_0_2)
    >>> q(np.array([0.0, 0.5, 1.0]))
    array([0., 1., 2.])
    """

    def __init__(self, func: Callable) -> None:
        if not callable(func):
            raise TypeError(f"Quantile needs a callable s -> X(s), got {type(func).__name__}")
        self.func = func

    def __call__(self, s: np.ndarray) -> np.ndarray:
        return self.func(s)

    def __repr__(self) -> str:
        return f"Quantile({getattr(self.func, '__name__', repr(self.func))})"


@dataclass(frozen=True)
class Profile1D:
    """One species' datum on R of mass 1: ``cdf(x)``, ``quantile(s)`` and its ``support`` (a, b).

    Parameters
    ----------
    cdf : callable
        The CDF ``F(x)`` (vectorised), 0 left and 1 right of the support.
    quantile : callable
        The quantile function ``X(s) = F^{-1}(s)`` on ``[0, 1]`` (vectorised).
    support : tuple
        ``(a, b)``: the interval outside which the density vanishes.
    grid_density : GridDensity or None, optional
        The user's own GridDensity, used as is on its grid (None otherwise).

    Examples
    --------
    >>> import numpy as np
    >>> p = Profile1D(lambda x: np.clip(x, 0, 1), lambda s: s, (0.0, 1.0))
    >>> p.cdf(np.array([-1.0, 0.25, 2.0])), p.quantile(0.5), p.support
    (array([0.  , 0.25, 1.  ]), 0.5, (0.0, 1.0))
    """

    cdf: Callable
    quantile: Callable
    support: tuple
    grid_density: GridDensity | None = None  # the user's own GridDensity, used as is on its grid


def _piecewise_linear(edges, cumulative, support, grid_density=None) -> Profile1D:
    """The profile of a piecewise-constant density with cumulative masses ``cumulative`` at ``edges``."""
    return Profile1D(lambda x: np.interp(np.asarray(x, dtype=float), edges, cumulative, 0.0, 1.0),
                     lambda s: np.interp(np.asarray(s, dtype=float), cumulative, edges),
                     support, grid_density)


def _cumulative(masses, name):
    c = np.concatenate([[0.0], np.cumsum(masses)])
    c[-1] = 1.0  # the mass was checked to be 1 to relative 1e-9: remove the round-off of the sum
    if not np.all(np.diff(c) >= 0):
        raise ValueError(f"{name} must be non-negative")
    return np.minimum(c, 1.0)


def _quantile_profile(q: Quantile, name: str) -> Profile1D:
    s = np.linspace(0.0, 1.0, FINE_CELLS + 1)
    try:
        X = np.asarray(q(s), dtype=float)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: the quantile function failed on an array of s in [0, 1] ({err}); it must "
                         "be vectorised") from None
    if X.shape != s.shape:
        raise ValueError(f"{name}: the quantile function must return one value per s (shape {s.shape}), got "
                         f"shape {X.shape}")
    if not np.all(np.isfinite(X)):
        k = int(np.argmax(~np.isfinite(X)))
        raise ValueError(f"{name}: the quantile function must be finite on [0, 1] (compact support); "
                         f"X({s[k]:.6g}) = {X[k]!r}")
    d = np.diff(X)
    if np.any(d < 0):
        k = int(np.argmax(d < 0))
        raise ValueError(f"{name}: the quantile function must be non-decreasing; X({s[k]:.6g}) = {X[k]:.6g} > "
                         f"X({s[k + 1]:.6g}) = {X[k + 1]:.6g}")
    if not X[-1] > X[0]:
        raise ValueError(f"{name}: the quantile function is constant ({X[0]!r}): a point mass has no density")

    def quantile(u):
        return np.asarray(q(np.asarray(u, dtype=float)), dtype=float)

    return Profile1D(lambda x: np.interp(np.asarray(x, dtype=float), X, s, 0.0, 1.0), quantile,
                     (float(X[0]), float(X[-1])))


def profile_from(value: object, support: tuple, label: str) -> Profile1D:
    """The :class:`Profile1D` of a user's initial datum ``value`` of one species (module docstring).

    Parameters
    ----------
    value : callable, GridDensity, IntervalDensity1D or Quantile
        A density ``f(x)`` (taken on ``support``, normalised to mass 1), a piecewise-constant density of
        mass 1 (used exactly), or a quantile function.
    support : tuple
        ``(a, b)``: the model's support of the species (used for a callable density only).
    label : str
        The species label, for the error messages (``initial[label]``).

    Returns
    -------
    Profile1D
        The CDF, quantile function and support of the datum.

    Raises
    ------
    TypeError
        If ``value`` is none of the accepted kinds.
    ValueError
        If it is negative somewhere, has a mass other than 1 (GridDensity, IntervalDensity1D), has an
        integral that is not positive and finite (callable) or is a point mass; for a Quantile, if it is
        not vectorised, not finite on [0, 1] or decreasing somewhere.

    References
    ----------
    :cite:`DiFrancescoEspositoSchmidtchen`; theory page ``docs/theory/002-newtonian.md``.

    Examples
    --------
    A density ``2x`` on [0, 1] (normalised to mass 1): its CDF is ``x²`` up to O(h²):

    >>> p = profile_from(lambda x: x, (0.0, 1.0), "rho")
    >>> p.support, round(float(p.cdf(0.5)), 6), round(float(p.quantile(0.25)), 6)
    ((0.0, 1.0), 0.25, 0.5)

    A quantile function is used exactly:

    >>> q = profile_from(Quantile(lambda s: s**2), (0.0, 1.0), "eta")
    >>> q.support, float(q.quantile(0.5))
    ((0.0, 1.0), 0.25)
    """
    name = f"initial[{label!r}]"
    if isinstance(value, Quantile):
        return _quantile_profile(value, name)
    if isinstance(value, GridDensity):
        if value.grid.ndim != 1:
            raise ValueError(f"{name} must be a GridDensity on a 1-D grid, got ndim={value.grid.ndim}")
        d = density_on_grid(value, value.grid, 1.0, label)
        g = value.grid
        return _piecewise_linear(g.edges[0], _cumulative(d.cell_masses, name), (float(g.lower[0]),
                                                                                 float(g.upper[0])), d)
    if isinstance(value, IntervalDensity1D):
        if not value.is_nonnegative:
            raise ValueError(f"{name} must be non-negative; its smallest cell mass is {value.masses.min():.3g}")
        if abs(value.mass - 1.0) > 1e-9:
            raise ValueError(f"{name} has mass {value.mass:.12g} but the model gives species {label!r} mass 1")
        e = value.edges
        if not e[-1] > e[0]:
            raise ValueError(f"{name} is a point mass: it has no density")
        return _piecewise_linear(e, _cumulative(value.masses, name), (float(e[0]), float(e[-1])))
    if callable(value):
        a, b = support
        fine = UniformGrid([a], [b], (FINE_CELLS,), periodic=False)
        d = density_on_grid(value, fine, 1.0, label, quadrature=4)
        return _piecewise_linear(fine.edges[0], _cumulative(d.cell_masses, name), (float(a), float(b)))
    raise TypeError(f"{name} must be a callable density f(x), a GridDensity, an IntervalDensity1D, a "
                    f"Quantile(X) or None (the preset), got {type(value).__name__}")
