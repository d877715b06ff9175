"""The model contract: what every model offers, and the shared handling of user initial data.

Every model class in :mod:`meanfield.models` follows :class:`Model`:

* ``species`` — the species labels, in one documented order (e.g. ``("+", "-")``);
* ``params`` — a property holding every constructor argument as plain Python/NumPy values, so that
  ``type(m)(**m.params)`` rebuilds an equal model;
* ``initial_density(grid)`` — a dict ``{label: GridDensity}`` (``IntervalDensity1D`` for 1-D
  Lagrangian data), one entry per species, in ``species`` order;
* ``sample_particles(n, rng=None, initial=None, ...)`` — an initial particle state;
* ``simulate_particles(state, t_end, times=None, rng=None, ...)`` — a :class:`~.base.Trajectory`;
* ``solve_continuum(t_end, times=None, initial=None, ..., scheme=...)`` — an ``xarray.Dataset`` whose
  ``.measure(t)`` gives the densities.

Random numbers: ``rng`` (None, a seed or a Generator) is accepted only by run methods that use it;
a method that would ignore it refuses a non-None one (ValueError). Two class attributes tell drivers
(studies, pairings, the CLI) which methods to hand a generator: ``deterministic = True`` — no run
method draws random numbers (001: quantile placement, ODE dynamics); ``deterministic_dynamics =
True`` — ``simulate_particles`` draws none (002: exact event-driven dynamics) while
``sample_particles`` may (002's ``sampling="random"``). Missing attributes mean False
(:func:`meanfield.pairings.sample_rng`, :func:`meanfield.pairings.dynamics_rng`).

``initial=`` accepts, per species (a dict keyed by label, or one value for a single-species model):
a callable density ``f(x)``, ``f(x, y)`` or ``f(x, y, z)`` (normalised by the model to the species'
mass), or a :class:`~meanfield.measures.GridDensity` (its mass must equal the species' mass). Options
with different meanings have different names: ``scheme=`` (numerical scheme), ``force=`` (force
evaluation), ``sums=`` (coagulation sums).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

from meanfield.measures import GridDensity
from meanfield.solvers.grids import UniformGrid

__all__ = ["Model", "density_on_grid", "initial_densities", "same_params"]


@runtime_checkable
class Model(Protocol):
    """The contract every model follows (module docstring)."""

    species: tuple

    @property
    def params(self) -> dict: ...

    def initial_density(self, grid) -> dict: ...

    def sample_particles(self, n, rng=None, initial=None): ...

    def simulate_particles(self, state, t_end, times=None, rng=None): ...

    def solve_continuum(self, t_end, times=None, initial=None): ...


def density_on_grid(initial: Any, grid: UniformGrid, mass: float, label: str = "", quadrature: int = 2) -> GridDensity:
    """The species' initial density on ``grid`` from user data (module docstring).

    A callable is averaged over each cell by a ``quadrature``-point Gauss rule per axis and scaled to
    ``mass``; a GridDensity must live on ``grid`` and carry ``mass`` (relative 1e-9).
    """
    name = f"initial[{label!r}]" if label else "initial"
    if isinstance(initial, GridDensity):
        if initial.grid != grid:
            raise ValueError(f"{name} lives on {initial.grid}, but this run uses {grid}; pass a callable or a "
                             "GridDensity on the run's grid")
        d = initial
    elif callable(initial):
        try:
            d = GridDensity.from_function(initial, grid, quadrature=quadrature)
        except ValueError as err:  # non-finite values
            raise ValueError(f"{name}: the callable gave unusable values on the grid ({err})") from None
        total = d.mass
        if not (np.isfinite(total) and total > 0):
            raise ValueError(f"{name}: the integral of the callable over the grid must be positive and finite, "
                             f"got {total!r}")
        d = GridDensity(d.values * (mass / total), grid)
    else:
        raise TypeError(f"{name} must be a callable density f(x[, y[, z]]) or a GridDensity, got "
                        f"{type(initial).__name__}")
    if not d.is_nonnegative:
        raise ValueError(f"{name} must be non-negative; its minimum is {d.values.min():.3g}")
    if (mass == 0 and d.mass != 0) or (mass != 0 and abs(d.mass - mass) > 1e-9 * abs(mass)):
        raise ValueError(f"{name} has mass {d.mass:.12g} but the model gives species {label!r} mass {mass:.12g}")
    return d


def initial_densities(initial: Any, species: tuple, grid: UniformGrid, masses: Mapping[str, float],
                      quadrature: int = 2) -> dict | None:
    """``{label: GridDensity}`` from ``initial`` (None → None: the model's preset). A single value is
    accepted for a single-species model; a dict must name exactly the model's species."""
    if initial is None:
        return None
    if not isinstance(initial, Mapping):
        if len(species) != 1:
            raise TypeError(f"initial must be a dict keyed by species {list(species)} for this model, got "
                            f"{type(initial).__name__}")
        initial = {species[0]: initial}
    keys = [str(k) for k in initial]
    if sorted(keys) != sorted(species):
        raise ValueError(f"initial must name the species {list(species)} exactly, got {keys}")
    return {s: density_on_grid(initial[s], grid, masses[s], s, quadrature) for s in species}


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return same_params(a, b)
    if isinstance(a, (list, tuple, np.ndarray)) or isinstance(b, (list, tuple, np.ndarray)):
        try:
            x, y = np.asarray(a), np.asarray(b)
        except (ValueError, TypeError):
            return False
        if x.dtype == object or y.dtype == object:
            return len(a) == len(b) and all(_same_value(u, v) for u, v in zip(a, b, strict=True))
        return x.shape == y.shape and bool(np.array_equal(x, y, equal_nan=x.dtype.kind == "f"))
    if callable(a) or callable(b):
        return a is b or a == b
    return (type(a) is type(b) and a == b) or (a is None and b is None)


def same_params(a: Mapping, b: Mapping) -> bool:
    """True when two ``params`` dicts hold the same keys and equal values (arrays compared by value,
    callables by identity): the test of ``type(m)(**m.params)`` rebuilding an equal model."""
    return set(a) == set(b) and all(_same_value(a[k], b[k]) for k in a)
