"""What every model shares: particle trajectories, continuum datasets, parameter checks.

* :class:`Trajectory` is a particle run sampled at output times; ``traj.measure(t)`` gives an
  :class:`~meanfield.measures.EmpiricalMeasure`, or a dict of them keyed by species label for
  multi-species models; ``traj.events`` lists ``(time, kind, particles)`` for event-driven models.
* Continuum runs return an ``xarray.Dataset`` built by :func:`continuum_dataset`; the registered
  accessor makes ``sol.measure(t)`` return a :class:`~meanfield.measures.GridDensity` (or a dict of
  them by species), and :func:`interval_dataset` does the same for 1-D Lagrangian solutions
  (``IntervalDensity1D``).
* :func:`check_positive`, :func:`check_in_range` and friends raise ``ValueError`` naming the
  parameter, the value and the allowed range.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from meanfield import __version__
from meanfield.measures import Domain, EmpiricalMeasure, GridDensity, IntervalDensity1D
from meanfield.metrics._inputs import check_memory  # noqa: F401 - one memory guard for the package
from solvers.grids import UniformGrid

__all__ = [
    "Trajectory",
    "continuum_dataset",
    "interval_dataset",
    "grid_from_attrs",
    "check_real",
    "check_memory",
    "check_positive",
    "check_nonnegative",
    "check_in_range",
    "check_integer",
    "check_finite_array",
    "check_times",
]


# --- parameter validation -----------------------------------------------------------------
def check_real(name, value) -> float:
    """``float(value)`` for a real number; TypeError naming ``name`` for strings, None, complex, bools."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
            return float(value)
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    return float(value)


def check_positive(name, value):
    v = check_real(name, value)
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return v


def check_nonnegative(name, value):
    v = check_real(name, value)
    if not np.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be a non-negative finite number, got {value!r}")
    return v


def check_in_range(name, value, low, high, low_open=False, high_open=False):
    v = check_real(name, value)
    lo_ok = v > low if low_open else v >= low
    hi_ok = v < high if high_open else v <= high
    if not (np.isfinite(v) and lo_ok and hi_ok):
        lb = "(" if low_open else "["
        hb = ")" if high_open else "]"
        raise ValueError(f"{name} must lie in {lb}{low}, {high}{hb}, got {value!r}")
    return v


# The largest count any run accepts (particles, cells, classes): above it no array fits in memory.
MAX_COUNT = 2**40


def check_integer(name, value, minimum=None, maximum=MAX_COUNT):
    """An integer (a float with an integral value is accepted; bools, strings, NaN are not)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.integer, np.floating)):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if not np.isfinite(value) or int(value) != value:
        raise ValueError(f"{name} must be an integer, got {value!r}")
    v = int(value)
    if minimum is not None and v < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if maximum is not None and v > maximum:
        raise ValueError(f"{name} must be an integer <= {maximum}, got {value!r}")
    return v


def check_finite_array(name, value, shape=None):
    a = np.asarray(value, dtype=float)
    if shape is not None and a.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite; found NaN or infinite entries")
    return a


def check_times(t_end, times=None):
    """Validate ``t_end`` and output ``times`` (default ``[t_end]``); returns a sorted array."""
    t_end = check_positive("t_end", t_end)
    if times is None:
        return np.array([t_end])
    try:
        ts = np.atleast_1d(np.asarray(times, dtype=float))
    except (TypeError, ValueError):
        raise TypeError(f"times must be a list of real numbers, got {times!r}") from None
    if ts.size == 0 or not np.all(np.isfinite(ts)) or np.any(ts < 0) or np.any(ts > t_end * (1 + 1e-12)):
        raise ValueError(f"times must be finite and lie in [0, t_end={t_end}], got {times!r}")
    if np.any(np.diff(ts) <= 0):
        raise ValueError(f"times must be strictly increasing, got {times!r}")
    return ts


def _time_index(times, t):
    times = np.asarray(times)
    k = int(np.argmin(np.abs(times - t)))
    if not np.isclose(times[k], t, rtol=1e-9, atol=1e-12):
        raise ValueError(f"t={t!r} is not an output time; available: {times.tolist()}")
    return k


# --- particle trajectories ----------------------------------------------------------------
@dataclass
class Trajectory:
    """Particle states at output times.

    ``positions[k]`` is an ``(n_k, d)`` (or ``(n_k,)``) array at ``times[k]``; ``weights[k]``
    the matching weights (``None`` for ``1/n``); ``species[k]`` an array of species labels per
    particle or ``None`` for a single species. Particle counts may change between times
    (annihilation, coagulation). ``labels`` is the model's ``species`` tuple: ``measure(t)`` returns
    its dict in that order (labels without particles at ``t`` are left out); without it, sorted.
    """

    times: np.ndarray
    positions: list
    domain: Domain
    weights: list | None = None
    species: list | None = None
    events: list = field(default_factory=list)
    info: dict = field(default_factory=dict)
    labels: tuple | None = None

    def _k(self, t):
        return _time_index(self.times, t)

    def measure(self, t, species=None):
        """Empirical measure at output time ``t``.

        For multi-species trajectories returns ``{label: EmpiricalMeasure}`` (in ``labels`` order),
        or only the one asked for with ``species=label``.
        """
        k = self._k(t)
        pos = np.asarray(self.positions[k])
        w = None if self.weights is None else np.asarray(self.weights[k])
        if self.species is None:
            if species is not None:
                raise ValueError("this trajectory has a single species; do not pass species")
            return EmpiricalMeasure(pos, w, self.domain)
        lab = np.asarray(self.species[k])
        present = set(lab.tolist())
        if species is not None:
            labels = [species]
        elif self.labels is not None:
            labels = [s for s in self.labels if s in present] + sorted(present - set(self.labels))
        else:
            labels = sorted(present)
        out = {}
        for s in labels:
            sel = lab == s
            if not np.any(sel):
                raise ValueError(f"species {s!r} has no particles at t={t}")
            out[s] = EmpiricalMeasure(pos[sel], None if w is None else w[sel], self.domain)
        return out if species is None else out[species]


# --- continuum datasets -------------------------------------------------------------------
_SPATIAL = ("x", "y", "z")


def _attr_safe(value):
    """netCDF attributes hold numbers, strings and 1-D numeric arrays only."""
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if value is None:
        return "None"
    if isinstance(value, (list, tuple)):
        arr = np.asarray(value)
        if arr.dtype == bool:
            return arr.astype(int)
        if arr.dtype.kind in "iuf":
            return arr
        return str(value)
    if isinstance(value, (int, float, str, np.integer, np.floating)):
        return value
    return str(value)


def continuum_dataset(times, density, grid: UniformGrid, *, species=None, params=None, solver=None, **extra_vars):
    """Build the standard ``xarray.Dataset`` of a grid-based continuum run.

    ``density`` has shape ``(n_times, [n_species,] *grid.shape)``. ``params`` (model parameters)
    and ``solver`` (name and settings) go into attrs with the package version. ``extra_vars``
    are ``name=(dims, array)`` pairs (e.g. ``energy=(("time",), e)``).
    """
    density = np.asarray(density, dtype=float)
    dims = ["time"] + (["species"] if species is not None else []) + list(_SPATIAL[: grid.ndim])
    coords = {"time": np.asarray(times, dtype=float)}
    if species is not None:
        coords["species"] = [str(s) for s in species]
    for a in range(grid.ndim):
        coords[_SPATIAL[a]] = grid.centres[a]
    ds = xr.Dataset({"density": (dims, density)}, coords=coords)
    for name, (vdims, arr) in extra_vars.items():
        ds[name] = (vdims, np.asarray(arr))
    ds["time"].attrs["units"] = "model time units"
    for a in range(grid.ndim):
        ds[_SPATIAL[a]].attrs["units"] = "model length units"
    ds.attrs.update(
        {
            "meanfield_version": __version__,
            "measure_kind": "grid",
            "grid_lower": np.asarray(grid.lower),
            "grid_upper": np.asarray(grid.upper),
            "grid_shape": np.asarray(grid.shape),
            "grid_periodic": np.asarray(grid.periodic, dtype=int),
        }
    )
    for k, v in (params or {}).items():
        ds.attrs[f"param_{k}"] = _attr_safe(v)
    for k, v in (solver or {}).items():
        ds.attrs[f"solver_{k}"] = _attr_safe(v)
    return ds


def interval_dataset(times, edges, masses, *, species=None, params=None, solver=None, **extra_vars):
    """Dataset of a 1-D Lagrangian run: ``edges`` shape ``(n_times, [n_species,] n_cells + 1)``
    (the quantile function at the cumulative masses), ``masses`` shape ``([n_species,] n_cells)``."""
    edges = np.asarray(edges, dtype=float)
    masses = np.asarray(masses, dtype=float)
    sp = ["species"] if species is not None else []
    coords = {"time": np.asarray(times, dtype=float)}
    if species is not None:
        coords["species"] = [str(s) for s in species]
    ds = xr.Dataset(
        {"edges": (["time"] + sp + ["edge"], edges), "cell_mass": (sp + ["cell"], masses)}, coords=coords
    )
    for name, (vdims, arr) in extra_vars.items():
        ds[name] = (vdims, np.asarray(arr))
    ds.attrs.update({"meanfield_version": __version__, "measure_kind": "interval"})
    for k, v in (params or {}).items():
        ds.attrs[f"param_{k}"] = _attr_safe(v)
    for k, v in (solver or {}).items():
        ds.attrs[f"solver_{k}"] = _attr_safe(v)
    return ds


def grid_from_attrs(attrs) -> UniformGrid:
    return UniformGrid(
        np.atleast_1d(attrs["grid_lower"]),
        np.atleast_1d(attrs["grid_upper"]),
        tuple(int(n) for n in np.atleast_1d(attrs["grid_shape"])),
        tuple(bool(p) for p in np.atleast_1d(attrs["grid_periodic"])),
    )


@xr.register_dataset_accessor("measure")
class _MeasureAccessor:
    """``sol.measure(t, species=None)``: the continuum solution at output time ``t`` as a measure."""

    def __init__(self, ds):
        self._ds = ds

    def __call__(self, t, species=None):
        ds = self._ds
        k = _time_index(ds["time"].values, t)
        kind = ds.attrs.get("measure_kind", "grid")
        has_species = "species" in ds.dims
        labels = [str(s) for s in ds["species"].values] if has_species else [None]
        if species is not None:
            if not has_species:
                raise ValueError("this solution has a single species; do not pass species")
            if str(species) not in labels:
                raise ValueError(f"species must be one of {labels}, got {species!r}")
            labels = [str(species)]
        out = {}
        for s in labels:
            sel = {"time": k} if s is None else {"time": k, "species": labels_index(ds, s)}
            if kind == "grid":
                out[s] = GridDensity(ds["density"].isel(sel).values, grid_from_attrs(ds.attrs))
            elif kind == "interval":
                msel = {} if s is None else {"species": labels_index(ds, s)}
                out[s] = IntervalDensity1D(ds["edges"].isel(sel).values, ds["cell_mass"].isel(msel).values)
            else:
                raise ValueError(f"unknown measure_kind {kind!r} in dataset attrs")
        if not has_species:
            return out[None]
        return out if species is None else out[str(species)]


def labels_index(ds, label):
    return [str(s) for s in ds["species"].values].index(str(label))
