"""Pairings and observers for validation checks that are not a particle-vs-continuum comparison.

Some claims of the papers are exact laws checked by a direct computation (a kernel table, an FFT sum
against an exact solution, the error of a solver under refinement) or diagnostics of one continuum
run (its conserved mass). To give them the same road as every other claim — a :class:`~meanfield.study.Study`
run by :func:`~meanfield.study.run_studies`, so that they resume from a store, run on local processes
or a dask cluster and enter the same tidy table — they are declared with the pairings below:

* :class:`Computation`: the study's task calls ``fn(model, rng, **args)`` (a module-level function
  returning ``{name: number or 1-D array}``); the observer :class:`Recorded` puts those numbers in the
  table (``metric = "value"`` or ``"value[i]"``, ``species = name``). Sweep ``pairing.args`` (a list of
  keyword dicts, ``[{}]`` for one call) to run several, or the scalar fields ``pairing.eps`` (a
  spacing) and ``pairing.size`` (a count or a resolution), which reach ``fn`` as the keywords ``eps``
  and ``size`` when set and stand as plain columns of the table; ``with_t_end=True`` also passes the
  study's ``t_end``. ``rng`` is the task's generator (:meth:`~meanfield.study.Study.rng`), so a Monte
  Carlo computation is reproducible whatever executes it;
* :class:`ContinuumOnly`: ``solve_continuum(t_end, times, **continuum)`` alone (no particles, no
  distances), observed through :class:`DatasetValue` (a variable of the dataset per output time) or
  the generic observers of :mod:`meanfield.observers` (``TotalMass`` gives ``∫ f`` per species).

These are validation helpers (the pairings of :mod:`meanfield.pairings` are the package's); they are
frozen dataclasses of plain values and module-level functions, hence picklable and part of a study's
identity (the function's qualified name and a hash of its source text).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from meanfield.observers import Observer
from meanfield.pairings import Pairing
from meanfield.validation.sizes import time_index

__all__ = ["Computation", "ComputedValues", "ContinuumOnly", "DatasetValue", "Recorded"]


class ComputedValues:
    """The 'run' of a :class:`Computation`: the mapping the function returned."""

    def __init__(self, values: dict):
        if not isinstance(values, dict):
            raise TypeError(f"a Computation's function must return a dict of numbers, got {type(values).__name__}")
        self.values = values

    def measure(self, t):  # pragma: no cover - a Computation compares nothing
        raise ValueError("a Computation has no measures")


@dataclass(frozen=True)
class Computation(Pairing):
    """A direct computation as a study task: ``fn(model, rng, **args) -> {name: number or 1-D array}``.

    No particle number (do not sweep ``n``), no reference run, no distances (``metrics=[]``); record the
    result with the observer :class:`Recorded`. ``fn`` must be defined at module level. ``eps`` and
    ``size``, when not None, are passed as the keywords ``eps=`` and ``size=`` (sweep them as
    ``pairing.eps`` / ``pairing.size``: one table column each); ``with_t_end=True`` passes ``t_end=``.
    """

    fn: object = None
    args: dict = field(default_factory=dict)
    eps: float | None = None
    size: int | None = None
    with_t_end: bool = False
    sections: ClassVar[dict] = {"sample": None, "particles": None, "continuum": None}
    needs_n: ClassVar[bool] = False
    compares: ClassVar[bool] = False
    reference_fields: ClassVar[tuple] = ()

    def check(self, model_cls, owner):
        if not callable(self.fn):
            raise ValueError(f"Computation.fn must be a function (model, rng, **args) -> dict, got {self.fn!r}")
        if not isinstance(self.args, dict) or not all(isinstance(k, str) for k in self.args):
            raise ValueError(f"Computation.args must be a mapping of keyword names, got {self.args!r}")
        if self.eps is not None and (isinstance(self.eps, bool) or not isinstance(self.eps, (int, float))
                                     or not 0 < self.eps < float("inf")):
            raise ValueError(f"Computation.eps must be None or a positive number, got {self.eps!r}")
        if self.size is not None and (isinstance(self.size, bool) or not isinstance(self.size, (int, np.integer))
                                      or self.size < 1):
            raise ValueError(f"Computation.size must be None or a positive integer, got {self.size!r}")
        if not isinstance(self.with_t_end, bool):
            raise ValueError(f"Computation.with_t_end must be True or False, got {self.with_t_end!r}")
        clash = {"eps", "size", "t_end"} & set(self.args)
        if clash:
            raise ValueError(f"Computation.args must not name {sorted(clash)}: use the fields eps, size, with_t_end")

    def keywords(self, t_end) -> dict:
        """The keywords ``fn`` gets: ``args``, then ``eps``/``size`` when set and ``t_end`` when asked."""
        out = dict(self.args)
        out.update({k: v for k, v in (("eps", self.eps), ("size", self.size)) if v is not None})
        if self.with_t_end:
            out["t_end"] = t_end
        return out

    def reference(self, model, settings, t_end, times):
        return None

    def sample(self, model, settings, t_end, times, rng):
        return ComputedValues(self.fn(model, rng, **self.keywords(t_end)))

    def measures(self, model, sample, reference, t):
        return {}


@dataclass(frozen=True)
class Recorded(Observer):
    """The numbers a :class:`Computation` returned, one row per name (``species`` = the name)."""

    name: str = "value"
    on: str = "sample"

    def observe(self, model, run, t):
        return run.values if isinstance(run, ComputedValues) else None


@dataclass(frozen=True)
class ContinuumOnly(Pairing):
    """One continuum run, ``solve_continuum(t_end, times, **continuum)``, observed only (no particles, no
    reference, ``metrics=[]``); sweep a continuum keyword, e.g. ``{"continuum.resolution": [8]}``."""

    sections: ClassVar[dict] = {"sample": None, "particles": None, "continuum": "solve_continuum"}
    needs_n: ClassVar[bool] = False
    compares: ClassVar[bool] = False

    def reference(self, model, settings, t_end, times):
        return None

    def sample(self, model, settings, t_end, times, rng):
        return model.solve_continuum(t_end=t_end, times=times, **settings["continuum"])

    def measures(self, model, sample, reference, t):
        return {}


@dataclass(frozen=True)
class DatasetValue(Observer):
    """The scalar variable ``variable`` (default: the observer's ``name``) of a continuum dataset (e.g.
    ``second_moment``, ``total_mass``) at each output time; ``None`` (no row) for a run that is not a
    dataset or lacks the variable."""

    on: str = "reference"
    variable: str | None = None

    def observe(self, model, run, t):
        var = self.name if self.variable is None else self.variable
        if not hasattr(run, "data_vars") or var not in run.data_vars:
            return None
        return float(np.asarray(run[var].values)[time_index(run.time.values, t)])
