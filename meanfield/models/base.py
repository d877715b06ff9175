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

import json
import numbers
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from meanfield import __version__
from meanfield.measures import Domain, EmpiricalMeasure, GridDensity, IntervalDensity1D
from meanfield.metrics._inputs import check_memory  # one memory guard for the package (re-exported)
from meanfield.solvers.grids import UniformGrid

__all__ = [
    "Trajectory",
    "check_finite_array",
    "check_in_range",
    "check_integer",
    "check_memory",
    "check_nonnegative",
    "check_positive",
    "check_real",
    "check_times",
    "continuum_dataset",
    "git_revision",
    "grid_from_attrs",
    "interval_dataset",
    "model_from",
    "params_from",
    "provenance",
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
    ``attrs`` holds what a saved file records about the run (:func:`meanfield.io.save_trajectory`:
    the model, its parameters for :func:`params_from`, the seed, the version, the creation time).
    """

    times: np.ndarray
    positions: list
    domain: Domain
    weights: list | None = None
    species: list | None = None
    events: list = field(default_factory=list)
    info: dict = field(default_factory=dict)
    labels: tuple | None = None
    attrs: dict = field(default_factory=dict)

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


# --- self-describing outputs: provenance, parameters, CF attributes ----------------------------
_SPATIAL = ("x", "y", "z")

#: Citation key in the repository's ``references.bib`` of the paper each model implements.
REFERENCES = {
    "SignedCoulomb2D": "vanMeursPeletierSlangen",
    "Annihilation1D": "vanMeursMorandotti2019",
    "Newtonian1D": "DiFrancescoEspositoSchmidtchen",
    "Dislocations2D": "HudsonvanMeursPeletier2020",
    "CoagulationDiffusion": "HammondRezakhanlou2007",
}

#: ``long_name`` of the variables the models add to their datasets (all nondimensional, units "1").
LONG_NAMES = {
    "density": "density of each species",
    "mass": "mass of each species",
    "total_mass": "total mass of all mass classes",
    "second_moment": "second moment about the origin",
    "energy": "interaction energy",
    "centre_of_mass": "centre of mass of each species",
    "annihilated_mass": "annihilated mass of each sign",
    "active_plus": "active mass of the positive species",
    "active_minus": "active mass of the negative species",
    "edges": "position of the Lagrangian cell boundaries (quantile function at the cumulative masses)",
    "cell_mass": "mass of each Lagrangian cell",
}

PARAMS_ATTR = "meanfield_params"  # JSON record of the model parameters, read by params_from
MODEL_ATTR = "meanfield_model"  # class name of the model that made the output


@lru_cache(maxsize=8)
def git_revision(root=None) -> str | None:
    """The commit of the meanfield source tree (or of the folder ``root``) when it is the top of a
    git checkout (``-dirty`` appended when tracked files have uncommitted changes), else None; never
    fails (no git, not a checkout, timeout)."""
    root = Path(__file__).resolve().parents[2] if root is None else Path(root).resolve()
    try:
        top = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        if top.returncode != 0:
            return None
        where, rev = top.stdout.split()[:2]
        if Path(where).resolve() != root:  # some other repository around an installed copy
            return None
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
        return rev + ("-dirty" if dirty.returncode == 0 and dirty.stdout.strip() else "")
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def provenance(seed=None) -> dict:
    """Attributes every file the package writes carries: ``meanfield_version``, ``git_revision`` (when
    available), ``date_created`` (UTC, ISO 8601) and ``seed`` (when the run had one; an int)."""
    out: dict[str, str | int] = {"meanfield_version": __version__}
    rev = git_revision()
    if rev is not None:
        out["git_revision"] = rev
    out["date_created"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if seed is not None:
        if isinstance(seed, np.random.Generator) or not isinstance(seed, (numbers.Integral, np.integer)):
            raise TypeError(f"seed must be an integer to be recorded, got {seed!r} ({type(seed).__name__})")
        out["seed"] = int(seed)
    return out


def _encode(value):
    """A JSON-ready form of a parameter that :func:`_decode` turns back into the same Python type."""
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":  # before float: np.float64 is one
        return {"__numpy__": _encode(value.item()), "dtype": value.dtype.str}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if np.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, np.ndarray) and value.dtype.kind in "biufU":
        return {"__ndarray__": [_encode(v) for v in value.ravel().tolist()], "dtype": value.dtype.str,
                "shape": list(value.shape)}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"__dict__": {k: _encode(v) for k, v in value.items()}}
    kind = "callable" if callable(value) else "object"
    return {"__unrebuildable__": kind, "type": f"{type(value).__module__}.{type(value).__qualname__}",
            "repr": repr(value)}


class _Unrebuildable:
    def __init__(self, record):
        self.record = record


def _decode(value):
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__float__" in value:
        return float(value["__float__"])
    if "__numpy__" in value:
        return np.dtype(value["dtype"]).type(_decode(value["__numpy__"]))
    if "__ndarray__" in value:
        return np.array([_decode(v) for v in value["__ndarray__"]], dtype=value["dtype"]).reshape(value["shape"])
    if "__tuple__" in value:
        return tuple(_decode(v) for v in value["__tuple__"])
    if "__dict__" in value:
        return {k: _decode(v) for k, v in value["__dict__"].items()}
    if "__unrebuildable__" in value:
        return _Unrebuildable(value)
    raise ValueError(f"unknown parameter record {value!r}")


def params_json(params) -> str:
    """The JSON text of ``params`` stored in the ``meanfield_params`` attribute (see :func:`params_from`)."""
    return json.dumps({str(k): _encode(v) for k, v in params.items()}, allow_nan=False)


def _output_attrs(obj) -> Mapping:
    if isinstance(obj, (xr.Dataset, Trajectory)):
        return obj.attrs
    if isinstance(obj, Mapping):
        return obj
    attrs = getattr(obj, "attrs", None)
    if not isinstance(attrs, Mapping):
        raise TypeError(f"expected a dataset, a trajectory or their attrs, got {type(obj).__name__}")
    return attrs


def params_from(obj, **overrides) -> dict:
    """The model parameters a saved output recorded, in their native types, so that
    ``Model(**params_from(ds))`` rebuilds the model that made ``ds``.

    ``obj`` is a dataset (continuum run), a :class:`Trajectory` (particle run, e.g. from
    :func:`meanfield.io.load_trajectory`) or their ``attrs``. Numbers, strings, bools, None, tuples,
    lists, dicts and NumPy arrays come back with their type. A user callable (or other object) given to
    the model cannot be rebuilt from a file: only its repr was stored, and this raises ValueError naming
    the parameter unless it is passed again in ``overrides`` (``params_from(ds, kernel=my_kernel)``).
    """
    attrs = _output_attrs(obj)
    if PARAMS_ATTR not in attrs:
        raise ValueError(f"no {PARAMS_ATTR!r} attribute: not an output of a meanfield model (or written by a "
                         "version before parameters were recorded)")
    try:
        params = {k: _decode(v) for k, v in json.loads(str(attrs[PARAMS_ATTR])).items()}
    except (json.JSONDecodeError, AttributeError, TypeError, ValueError) as err:
        raise ValueError(f"the {PARAMS_ATTR!r} attribute is not a valid parameter record ({err})") from None
    unknown = sorted(set(overrides) - set(params))
    if unknown:
        raise ValueError(f"overrides name parameters the output does not record: {unknown}; recorded: "
                         f"{sorted(params)}")
    params.update(overrides)
    for k, v in params.items():
        if isinstance(v, _Unrebuildable):
            rec = v.record
            raise ValueError(f"parameter {k!r} was a user {rec['__unrebuildable__']} ({rec['type']}: {rec['repr']}), "
                             f"which a file cannot rebuild; pass it again: params_from(..., {k}=...)")
    return params


def model_from(obj, **overrides):
    """The model that made a saved output: ``getattr(meanfield.models, name)(**params_from(obj))``."""
    from meanfield import models

    attrs = _output_attrs(obj)
    name = str(attrs.get(MODEL_ATTR, ""))
    if name not in models.__all__:
        raise ValueError(f"the output does not name a meanfield model ({MODEL_ATTR}={name or None!r})")
    return getattr(models, name)(**params_from(attrs, **overrides))


def _attr_safe(value):
    """A netCDF-storable view of a parameter for the ``param_*`` attributes (numbers, strings, 1-D
    numeric arrays as themselves, bools as 0/1; anything else as JSON text, a callable as its repr).
    The exact record is the ``meanfield_params`` JSON attribute (:func:`params_from`)."""
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, float, str, np.integer, np.floating)):
        return value
    if isinstance(value, (list, tuple, np.ndarray)):
        try:
            arr = np.asarray(value)
        except ValueError:  # ragged
            arr = np.asarray([], dtype=object)
        if arr.ndim == 1 and arr.size and arr.dtype.kind in "biuf":
            return arr.astype(int) if arr.dtype == bool else arr
    if callable(value) and not isinstance(value, type):
        return repr(value)
    try:
        return json.dumps(_encode(value), allow_nan=False)
    except (TypeError, ValueError):
        return repr(value)


def _describe(obj, name, units="1"):
    attrs = {"long_name": LONG_NAMES.get(name, name.replace("_", " ")), "units": units}
    obj.attrs.update({k: v for k, v in attrs.items() if k not in obj.attrs})


def _common_attrs(ds, kind, model, params, solver, seed, title):
    """CF global attributes, provenance, the model's name and parameters, ``param_*``/``solver_*``."""
    if model is not None and params is None:
        params = model.params
    name = type(model).__name__ if model is not None else None
    ds["time"].attrs.update({"long_name": "time", "units": "1", "axis": "T",
                             "comment": "nondimensional model time, as in the paper"})
    if "species" in ds.coords:
        ds["species"].attrs.update({"long_name": "species label" + (" (mass class)" if name ==
                                                                  "CoagulationDiffusion" else "")})
    for v in ds.data_vars:
        _describe(ds[v], v)
    method = (solver or {}).get("method", (solver or {}).get("scheme"))
    attrs = {
        "Conventions": "CF-1.10",
        "title": title or f"{name or 'meanfield'} continuum solution" + (f" ({method})" if method else ""),
        "source": f"meanfield {__version__}" + (f", model {name}" if name else ""),
        "references": REFERENCES.get(name, "") if name else "",
        "comment": "all quantities are nondimensional, in the scaling of the paper (units '1')",
        **provenance(seed),
        "measure_kind": kind,
    }
    attrs["history"] = f"{attrs['date_created']} created by meanfield {__version__}"
    if not attrs["references"]:
        del attrs["references"]
    if name is not None:
        attrs[MODEL_ATTR] = name
    ds.attrs.update(attrs)
    if params is not None:
        ds.attrs[PARAMS_ATTR] = params_json(params)
    for k, v in (params or {}).items():
        ds.attrs[f"param_{k}"] = _attr_safe(v)
    for k, v in (solver or {}).items():
        ds.attrs[f"solver_{k}"] = _attr_safe(v)
    return ds


def continuum_dataset(times, density, grid: UniformGrid, *, species=None, params=None, solver=None, model=None,
                      seed=None, title=None, **extra_vars):
    """Build the standard ``xarray.Dataset`` of a grid-based continuum run.

    ``density`` has shape ``(n_times, [n_species,] *grid.shape)``. ``model`` (the model that ran; its
    ``params`` are recorded unless ``params`` is given) and ``solver`` (name and settings) go into the
    attributes, with CF-1.10 metadata (``long_name``/``units``/``axis`` on the coordinates — no CF
    standard names, see :mod:`meanfield.io` — ``long_name``/``units`` on every variable, ``Conventions``,
    ``title``, ``history``,
    ``source``, ``references`` = the paper's key in ``references.bib``) and the provenance of
    :func:`provenance` (version, git revision, creation time, ``seed`` when given). The parameters are
    stored exactly as JSON in ``meanfield_params`` (read back by :func:`params_from`) and, for reading,
    one ``param_<name>`` attribute each. ``extra_vars`` are ``name=(dims, array)`` pairs (e.g.
    ``energy=(("time",), e)``).
    """
    density = np.asarray(density, dtype=float)
    dims = ["time"] + (["species"] if species is not None else []) + list(_SPATIAL[: grid.ndim])
    coords: dict[str, Any] = {"time": np.asarray(times, dtype=float)}
    if species is not None:
        coords["species"] = [str(s) for s in species]
    for a in range(grid.ndim):
        coords[_SPATIAL[a]] = grid.centres[a]
    ds = xr.Dataset({"density": (dims, density)}, coords=coords)
    for name, (vdims, arr) in extra_vars.items():
        ds[name] = (vdims, np.asarray(arr))
    for a in range(grid.ndim):
        c = _SPATIAL[a]
        ds[c].attrs.update({"long_name": f"{c} (cell centre)",
                            "units": "1", "axis": c.upper()})
    ds.attrs.update(
        {
            "grid_lower": np.asarray(grid.lower),
            "grid_upper": np.asarray(grid.upper),
            "grid_shape": np.asarray(grid.shape),
            "grid_periodic": np.asarray(grid.periodic, dtype=int),
        }
    )
    return _common_attrs(ds, "grid", model, params, solver, seed, title)


def interval_dataset(times, edges, masses, *, species=None, params=None, solver=None, model=None, seed=None,
                     title=None, **extra_vars):
    """Dataset of a 1-D Lagrangian run: ``edges`` shape ``(n_times, [n_species,] n_cells + 1)``
    (the quantile function at the cumulative masses), ``masses`` shape ``([n_species,] n_cells)``.
    Attributes as in :func:`continuum_dataset`."""
    edges = np.asarray(edges, dtype=float)
    masses = np.asarray(masses, dtype=float)
    sp = ["species"] if species is not None else []
    coords = {"time": np.asarray(times, dtype=float)}
    if species is not None:
        coords["species"] = [str(s) for s in species]
    ds = xr.Dataset(
        {"edges": (["time", *sp, "edge"], edges), "cell_mass": ([*sp, "cell"], masses)}, coords=coords
    )
    for name, (vdims, arr) in extra_vars.items():
        ds[name] = (vdims, np.asarray(arr))
    return _common_attrs(ds, "interval", model, params, solver, seed, title)


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
