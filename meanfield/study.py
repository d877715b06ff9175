"""Convergence studies: a sweep of parameters × seeds → a tidy table of distances + fitted rates.

A :class:`Study` names a model (registry name or class), fixed model parameters, a sweep and the
distances to measure. Sweep keys:

* ``n``: the particle number;
* ``model.<name>``: a model constructor parameter;
* ``particles.<name>``: a keyword of ``simulate_particles``; ``sample.<name>``: of ``sample_particles``;
* ``continuum.<name>``: a keyword of ``solve_continuum``;
* ``pairing.<name>``: a field of the study's pairing (e.g. ``pairing.eps``).

(``sample``/``particles``/``continuum`` feed the run methods the pairing names, e.g.
``sample_lattice_particles`` and ``solve_lattice`` for lattice walkers.) Settings are checked when the
study is built (see :mod:`meanfield.study_inputs`): particle numbers and seeds are integers without
repeats, every model parameter and keyword is one the model's constructor or run method accepts. A
swept value overrides a fixed one of the same name.

Pairings (:mod:`meanfield.pairings`): a study compares two runs through a measure map. The default,
:class:`~meanfield.pairings.ParticleVsContinuum`, pairs ``simulate_particles`` with ``solve_continuum``
species by species; others pair lattice walkers with the lattice ODE, the active parts of an
annihilating system with the continuum's, particles grouped into mass classes, particles with an exact
solution, two continuum solvers, or particles with nothing (observers only). ``compare_times`` (default:
every output time) are the times at which distances are measured.

Observers (:mod:`meanfield.observers`): scalar diagnostics (particle count, mass, centre of mass, or any
``Observer(name, fn)``) recorded at every output time of the sample or reference run into the same
table. The table has one row per (parameters, seed, time, species, metric) with ``run = "pair"`` for a
distance and ``"sample"``/``"reference"`` for an observer's value.

Floors (:mod:`meanfield.floors`): beside every distance, ``floors`` (default ``"auto"``: both for a
pairing of particles against ``solve_continuum``) adds the columns ``sampling_floor`` (the same
distance between ``k`` i.i.d. samples of the reference measure and the reference, ``k`` the particle
measure's atom count, seeded from the task's seed) and ``discretisation_floor`` (the reference
against the same run at twice the resolution, computed once per reference setting like the
reference). :func:`fit_rates` fits the sampling floor's rate beside the particles' one and, with
``reference_factor``, leaves out the points the discretisation floor limits; :func:`plot_rates`
draws both floors as dashed lines in their series' colour.

Every combination of the swept values is run once per seed. The reference run depends only on the
model, the continuum settings and the pairing, so it is computed once per distinct setting and reused
across particle numbers and seeds (and kept by the study: :meth:`Study.reference`). Each sample run's
random generator is seeded from ``SeedSequence([seed, crc32(parameters)])`` (:meth:`Study.rng`;
:meth:`Study.sample` remakes any task's run): the numbers do not depend on the executor, the number of
workers or the order of execution.

Execution: in-process (default), ``workers=k`` local processes, or a ``dask.distributed``
``Client`` / scheduler address (``executor=``). With ``store=folder`` every finished task is
written atomically to its own file and a rerun skips it, so an interrupted study resumes. The
folder records the study's identity (model, every parameter and keyword, sweep, times, seeds,
metrics, pairing, observers, package version; see :mod:`meanfield.store`): a rerun of a *different*
study into the same folder is refused with the first setting that differs, so rows of one study are
never returned for another. A function in a pairing or observer is identified by its qualified name
and a hash of its source text; for ``workers=k`` it must be defined at module level.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
import zlib
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np
import pandas as pd

from meanfield.observers import observe_rows

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["METRICS", "Study", "distances", "fit_rates", "floor_curves", "load_study_file", "plot_rates", "run_studies"]


def _metric_functions():
    from meanfield import metrics

    return {
        "W1": lambda a, b: metrics.wasserstein(a, b, 1),
        "W2": lambda a, b: metrics.wasserstein(a, b, 2),
        "BL": lambda a, b: metrics.bounded_lipschitz(a, b, "max"),
        "BLsum": lambda a, b: metrics.bounded_lipschitz(a, b, "sum"),
    }


METRICS = ("W1", "W2", "BL", "BLsum")
_PREFIXES = ("model", "particles", "sample", "continuum", "pairing")


def _resolve_model(model):
    if isinstance(model, str):
        from meanfield import models

        if model not in models.__all__:
            raise ValueError(f"model {model!r} is not a registered model; choose from {models.__all__}")
        return getattr(models, model)
    if not isinstance(model, type):
        raise ValueError(f"model must be a registered model name or a model class, got {model!r}")
    return model


def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, default=lambda v: np.asarray(v).tolist())


def _split(params: dict) -> dict:
    """``{"n": 8, "model.a": 1, ...}`` → ``{"n": 8, "model": {"a": 1}, "particles": {...}, ...}``."""
    out: dict[str, Any] = {p: {} for p in _PREFIXES}
    out["n"] = params.get("n")
    for key, value in params.items():
        if key == "n":
            continue
        prefix, name = key.split(".", 1)
        out[prefix][name] = value
    return out


def _distance(func, name, a, b, unequal_masses=False) -> float:
    """``func(a, b)``, where a species missing on one side (e.g. a mass class with no particles left)
    is the zero measure: its dual-BL distance to a nonnegative measure is that measure's mass (both
    conventions: f = 1 is admissible and optimal), and a Wasserstein distance to it is undefined (NaN).
    With ``unequal_masses`` (pairings whose two measures need not have one mass, e.g. active parts) a
    Wasserstein distance between measures of different masses is NaN too."""
    if a is not None and b is not None:
        if unequal_masses and name.startswith("W") and not np.isclose(a.mass, b.mass, rtol=1e-9, atol=0.0):
            return float("nan")
        return float(func(a, b))
    present = a if a is not None else b
    if name.startswith("BL"):
        if not present.is_nonnegative:
            raise ValueError("a species is missing on one side and the other side is not a nonnegative measure")
        return float(present.mass)
    return float("nan")


def _default_pairing():
    from meanfield.pairings import ParticleVsContinuum

    return ParticleVsContinuum()


@dataclass
class Study:
    """A convergence study: a sweep of parameters and seeds, each run compared with a reference run.

    See the module docstring for the sweep keys, pairings, observers, floors and execution. The
    settings are checked when the study is built (:mod:`meanfield.study_inputs`).

    Parameters
    ----------
    model : str or type
        A model of :mod:`meanfield.models`, by name (``"Newtonian1D"``) or class.
    sweep : dict
        ``{key: list of values}``; ``n`` (particle numbers) is required unless the pairing runs no
        particles.
    t_end : float
        The final time.
    times : list of float, optional
        Output times (default ``[t_end]``).
    seeds : list of int, default [0]
        Seeds, non-negative, without repeats.
    metrics : list of str, default ["W1"]
        Distances from :data:`METRICS`.
    model_params : dict, optional
        Fixed constructor parameters.
    particle_kwargs, sample_kwargs, continuum_kwargs : dict, optional
        Fixed keywords of ``simulate_particles``, ``sample_particles`` and ``solve_continuum`` (or of
        the run methods the pairing names).
    pairing : meanfield.pairings.Pairing, optional
        What is compared with what (default :class:`~meanfield.pairings.ParticleVsContinuum`).
    observers : list of meanfield.observers.Observer, optional
        Diagnostics recorded at every output time.
    compare_times : list of float, optional
        Output times at which distances are measured (default all; ``[]``: observers only).
    floors : "auto" or list of str, default "auto"
        The floors beside each distance (:mod:`meanfield.floors`).

    Raises
    ------
    meanfield.study_inputs.StudyInputError
        (a ValueError) naming the first bad setting.

    Examples
    --------
    >>> study = Study("Annihilation1D", sweep={"n": [16, 64]}, t_end=1e-3, continuum_kwargs={"resolution": 200},
    ...               floors=[])  # the default "auto" adds the sampling and discretisation floors
    >>> study.tasks()
    [({'n': 16}, 0), ({'n': 64}, 0)]
    >>> table = study.run()
    >>> print(table[["n", "species", "metric", "run"]].to_string(index=False))
     n species metric  run
    16       +     W1 pair
    16       -     W1 pair
    64       +     W1 pair
    64       -     W1 pair
    >>> rates = fit_rates(table)
    >>> rates[["species", "points"]].to_dict("records"), bool((rates["slope"] < -0.9).all())
    ([{'species': '+', 'points': 2}, {'species': '-', 'points': 2}], True)
    """

    model: object
    sweep: dict
    t_end: float
    times: list | None = None
    seeds: list = field(default_factory=lambda: [0])
    metrics: list = field(default_factory=lambda: ["W1"])
    model_params: dict = field(default_factory=dict)
    particle_kwargs: dict = field(default_factory=dict)
    sample_kwargs: dict = field(default_factory=dict)
    continuum_kwargs: dict = field(default_factory=dict)
    pairing: Any = field(default_factory=_default_pairing)
    observers: list = field(default_factory=list)
    compare_times: list | None = None
    floors: object = "auto"

    def __post_init__(self):
        from meanfield.study_inputs import StudyInputError, _check_keywords, check_study

        self._compare_times: list[float] = []  # set by check_study (every output time when compare_times is None)
        check_study(self, _PREFIXES, METRICS)
        try:
            self._model_cls = _resolve_model(self.model)
        except ValueError as exc:
            raise StudyInputError("model", str(exc)) from None
        self.model_name = self.model if isinstance(self.model, str) else self._model_cls.__name__
        _check_keywords(self, self.model_name)
        self._resolve_floors()
        self._references, self._finer = {}, {}

    def _resolve_floors(self):
        from meanfield.floors import resolve_floors
        from meanfield.study_inputs import StudyInputError

        keys = set(self.continuum_kwargs) | {k.split(".", 1)[1] for k in self.sweep if k.startswith("continuum.")}
        try:
            self._floors = resolve_floors(self.floors, self.pairing, keys, self._model_cls)
        except ValueError as exc:
            raise StudyInputError("floors", str(exc)) from None
        if not self._compare_times or not self.metrics:  # no distances, so nothing to put floors beside
            self._floors = ()

    def __getstate__(self):
        state = dict(self.__dict__)
        # never ship cached reference runs with every task (a task gets the ones it needs)
        state["_references"], state["_finer"] = {}, {}
        return state

    # --- the task graph --------------------------------------------------------------------
    def parameter_sets(self) -> list[dict]:
        """Every combination of the swept values, in the sweep's key order.

        Returns
        -------
        list of dict
        """
        keys = list(self.sweep)
        return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(self.sweep[k] for k in keys))]

    def _settings(self, params):
        parts = _split(params)
        pairing = self.pairing
        if parts["pairing"]:
            pairing = dataclasses.replace(pairing, **parts["pairing"])
        return {
            "model": {**self.model_params, **parts["model"]},
            "continuum": {**self.continuum_kwargs, **parts["continuum"]},
            "particles": {**self.particle_kwargs, **parts["particles"]},
            "sample": {**self.sample_kwargs, **parts["sample"]},
            "n": None if parts["n"] is None else int(parts["n"]),
            "pairing": pairing,
        }

    def reference_key(self, params: dict) -> str:
        """The name of the reference setting of a parameter set (equal for sets sharing a reference run).

        Parameters
        ----------
        params : dict
            One parameter set of :meth:`parameter_sets`.

        Returns
        -------
        str
        """
        s = self._settings(params)
        return f"ref-{zlib.crc32(_canonical(s['pairing'].reference_parts(s)).encode()):08x}"

    def identity(self) -> dict:
        """Everything that determines this study's numbers, in plain JSON types (see :mod:`meanfield.store`).

        Returns
        -------
        dict

        Raises
        ------
        ValueError
            Naming the setting when one has no plain form (e.g. a grid object).
        """
        import meanfield
        from meanfield.store import native

        cls = self._model_cls
        model = self.model if isinstance(self.model, str) else f"{cls.__module__}.{cls.__qualname__}"
        return {
            "meanfield": meanfield.__version__,
            "model": model,
            "model_params": native(self.model_params, "model_params"),
            "sweep": native(self.sweep, "sweep"),
            "t_end": native(self.t_end, "t_end"),
            "times": native(self.times, "times"),
            "compare_times": native(self.compare_times, "compare_times"),
            "seeds": native(self.seeds, "seeds"),
            "metrics": native(list(self.metrics), "metrics"),
            "sample_kwargs": native(self.sample_kwargs, "sample_kwargs"),
            "particle_kwargs": native(self.particle_kwargs, "particle_kwargs"),
            "continuum_kwargs": native(self.continuum_kwargs, "continuum_kwargs"),
            "pairing": native(self.pairing, "pairing"),
            "observers": native(list(self.observers), "observers"),
            "defaults": _signature_defaults(cls, self.pairing),
            **self._floor_identity(),
        }

    def _floor_identity(self) -> dict:
        """The floors in the identity; absent without floors (so such a study keeps its old identity)."""
        from meanfield.floors import REFINEMENT

        if not self._floors:
            return {}
        out: dict[str, Any] = {"floors": list(self._floors)}
        if "discretisation" in self._floors:
            out["floor_refinement"] = REFINEMENT
        return out

    def task_key(self, params: dict, seed: int) -> str:
        """Name of the task's file in a store: ``task-<identity hash>-<crc32 of params>-<seed>``.

        Parameters
        ----------
        params : dict
            One parameter set of :meth:`parameter_sets`.
        seed : int
            One of :attr:`seeds`.

        Returns
        -------
        str
        """
        from meanfield.store import StudyStore

        return StudyStore(".", self.identity()).task_name(params, seed).removesuffix(".json")

    def tasks(self) -> list[tuple[dict, int]]:
        """Every ``(parameter set, seed)`` of the study.

        Returns
        -------
        list of tuple
        """
        return [(p, s) for p in self.parameter_sets() for s in self.seeds]

    # --- the runs --------------------------------------------------------------------------
    def _model(self, s):
        return self._model_cls(**s["model"])

    def solve_reference(self, params: dict) -> Any:
        """The pairing's reference run for a parameter set (computed afresh).

        Parameters
        ----------
        params : dict
            One parameter set of :meth:`parameter_sets`.

        Returns
        -------
        xarray.Dataset or Trajectory or None
            What the pairing's ``reference`` returns (e.g. ``solve_continuum``'s dataset).
        """
        s = self._settings(params)
        return s["pairing"].reference(self._model(s), s, self.t_end, self.times)

    def reference(self, params: dict) -> Any:
        """The reference run for ``params``, computed once per reference setting in this process.

        A run of the study keeps the references it computed.

        Parameters
        ----------
        params : dict
            One parameter set of :meth:`parameter_sets`.

        Returns
        -------
        xarray.Dataset or Trajectory or None
        """
        key = self.reference_key(params)
        if key not in self._references:
            self._references[key] = self.solve_reference(params)
        return self._references[key]

    def solve_finer_reference(self, params: dict) -> Any:
        """The reference run at :data:`meanfield.floors.REFINEMENT` times the continuum resolution.

        The discretisation floor's comparison run, computed afresh.

        Parameters
        ----------
        params : dict
            One parameter set of :meth:`parameter_sets`.

        Returns
        -------
        xarray.Dataset or Trajectory or None
        """
        from meanfield.floors import refined_continuum

        s = self._settings(params)
        fine = {**s, "continuum": refined_continuum(self._model_cls, s["continuum"])}
        return s["pairing"].reference(self._model(s), fine, self.t_end, self.times)

    def finer_reference(self, params: dict) -> Any:
        """The finer reference run for ``params``, computed once per reference setting in this process.

        Parameters
        ----------
        params : dict
            One parameter set of :meth:`parameter_sets`.

        Returns
        -------
        xarray.Dataset or Trajectory or None
        """
        key = self.reference_key(params)
        if key not in self._finer:
            self._finer[key] = self.solve_finer_reference(params)
        return self._finer[key]

    def rng(self, params: dict, seed: int) -> np.random.Generator:
        """The task's generator: ``SeedSequence([seed, crc32(parameters)])``.

        Parameters
        ----------
        params : dict
            One parameter set of :meth:`parameter_sets`.
        seed : int
            One of :attr:`seeds`.

        Returns
        -------
        numpy.random.Generator
        """
        return np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(_canonical(params).encode())]))

    def sample(self, params: dict, seed: int) -> Any:
        """The pairing's sample run for ``(params, seed)``, exactly as the study's task makes it.

        Parameters
        ----------
        params : dict
            One parameter set of :meth:`parameter_sets`.
        seed : int
            One of :attr:`seeds`.

        Returns
        -------
        Trajectory or xarray.Dataset
            What the pairing's ``sample`` returns (e.g. ``simulate_particles``' trajectory).
        """
        s = self._settings(params)
        model = self._model(s)
        return s["pairing"].sample(model, s, self.t_end, self.times, self._sample_rng(model, params, seed))

    def _sample_rng(self, model, params, seed):
        """:meth:`rng`, or None for a model whose particles are deterministic (``model.deterministic``:
        its run methods refuse a generator)."""
        return None if getattr(model, "deterministic", False) else self.rng(params, seed)

    def run_task(self, params: dict, seed: int, reference: Any) -> list[dict]:
        """Sample run for one parameter set and seed, compared with ``reference``.

        Parameters
        ----------
        params : dict
            One parameter set of :meth:`parameter_sets`.
        seed : int
            One of :attr:`seeds`.
        reference : xarray.Dataset or Trajectory or None
            The reference run (:meth:`reference`).

        Returns
        -------
        list of dict
            The table rows: distances to ``reference`` at each compared time (with the floors) and
            the observers' values at each output time.
        """
        s = self._settings(params)
        pairing, model = s["pairing"], self._model(s)
        sample = pairing.sample(model, s, self.t_end, self.times, self._sample_rng(model, params, seed))
        funcs = _metric_functions()
        compare = set(self._compare_times)
        base = {**params, "seed": int(seed)}
        finer = self.finer_reference(params) if "discretisation" in self._floors else None
        rows = []
        assert self.times is not None  # check_study made it a list (default [t_end])
        for t in self.times:
            if t in compare and pairing.compares:
                pairs = pairing.measures(model, sample, reference, t)
                floors = self._floor_values(params, seed, model, sample, finer, t, pairs, funcs)
                for species, (a, b) in pairs.items():
                    for name in pairing.metrics_for(species, self.metrics):
                        value = _distance(funcs[name], name, a, b, pairing.unequal_masses)
                        rows.append({**base, "time": t, "species": species, "metric": name, "value": value,
                                     "run": "pair", **floors.get((species, name), {})})
            for obs in self.observers:
                for side in obs.sides():
                    run = sample if side == "sample" else reference
                    if run is not None:
                        rows.extend(observe_rows(obs, model, run, t, base, side))
        return rows

    def _floor_values(self, params, seed, model, sample, finer, t, pairs, funcs) -> dict:
        """``{(label, metric): {column: floor}}`` at time ``t`` (see :mod:`meanfield.floors`)."""
        from meanfield.floors import COLUMNS, atoms, discretisation_memo, floor_seed, on_coarse_grid, sampling_floor

        if not self._floors:
            return {}
        pairing = self._settings(params)["pairing"]
        fine = pairing.measures(model, sample, finer, t) if finer is not None else {}
        key = self.reference_key(params)
        out: dict[tuple[str, str], dict[str, float]] = {}
        for label, (a, b) in pairs.items():
            names = pairing.metrics_for(label, self.metrics)
            if "sampling" in self._floors:
                k = atoms(a)
                for name in names:
                    rng = np.random.default_rng(floor_seed(seed, params, t, label))  # one sample for every metric
                    value = sampling_floor(b, k, lambda x, y, n=name: _distance(funcs[n], n, x, y,
                                                                                 pairing.unequal_masses), rng)
                    out.setdefault((label, name), {})[COLUMNS["sampling"]] = value
            if "discretisation" in self._floors:
                b_fine = on_coarse_grid(fine.get(label, (None, None))[1], b)
                for name in names:  # the same for every seed and n of this setting: once per process
                    memo = (self.model_name, key, repr(pairing), float(self.t_end), tuple(self.times or ()), float(t),
                            str(label), name)
                    out.setdefault((label, name), {})[COLUMNS["discretisation"]] = discretisation_memo(
                        memo, lambda b=b, b_fine=b_fine, name=name: 0.0 if b is None and b_fine is None else
                        _distance(funcs[name], name, b, b_fine, pairing.unequal_masses))
        return out

    # --- execution -------------------------------------------------------------------------
    def run(
        self, workers: int | None = None, executor: Any = None, store: str | PathLike | None = None,
        progress: bool = False,
    ) -> pd.DataFrame:
        """Run every task not already in ``store``; returns the tidy table (all tasks).

        The table's rows and values do not depend on the executor or the number of workers.

        Parameters
        ----------
        workers : int, optional
            Local process count (ignored when ``executor`` is given; default in-process).
        executor : dask.distributed.Client or str, optional
            A client or a scheduler address.
        store : str or pathlib.Path, optional
            A folder keeping one file per finished task (see the module docstring); a SIGTERM during
            the run is raised as :class:`meanfield.io.Terminated` so nothing half-written remains.
        progress : bool, default False
            Show a tqdm bar.

        Returns
        -------
        pandas.DataFrame
            One row per (parameters, seed, time, species, metric), columns as in the module docstring.

        Raises
        ------
        ValueError
            When a required argument is missing, the store belongs to another study or the study
            cannot be sent to worker processes.
        """
        from meanfield.io import terminate_as_interrupt

        with terminate_as_interrupt():
            return self._run(workers, executor, store, progress)

    def _check_picklable(self):
        import pickle

        try:
            pickle.dumps(self)
        except Exception as exc:
            raise ValueError(f"this study cannot be sent to worker processes ({type(exc).__name__}: {exc}); "
                             "define observer and exact-solution functions at module level, or run in-process"
                             ) from None

    def _run(self, workers, executor, store, progress) -> pd.DataFrame:
        return _run_many([(self, store)], workers, executor, progress)[0]

    def _plan(self, store, workers, executor) -> dict:
        """Checks and the pending work: ``{"store", "tasks", "by_ref", "todo"}`` (no computation)."""
        from meanfield.study_inputs import check_required

        check_required(self, self.model_name)
        if executor is None and workers is not None and int(workers) > 1:
            self._check_picklable()
        if store is not None:
            from meanfield.store import StudyStore

            store = StudyStore(store, self.identity()).open()
        tasks = self.tasks()
        pending = [(p, s) for p, s in tasks if not (store and store.has(p, s))]
        by_ref: dict[str, list] = {}
        for p, s in pending:
            by_ref.setdefault(self.reference_key(p), []).append((p, s))
        todo = [key for key in by_ref if key not in self._references]
        finer = []
        if "discretisation" in self._floors:
            from meanfield.floors import refined_continuum

            for p in self.parameter_sets():  # refuse an unrefinable setting before any work
                try:
                    refined_continuum(self._model_cls, self._settings(p)["continuum"])
                except ValueError as exc:
                    raise ValueError(f"floors: parameters {p}: {exc}; give floors without 'discretisation'") from None
            finer = [key for key in by_ref if key not in self._finer]
        return {"store": store, "tasks": tasks, "by_ref": by_ref, "todo": todo, "todo_finer": finer}


def _solve_reference(study, params, finer=False):
    return study.solve_finer_reference(params) if finer else study.solve_reference(params)


def _run_task(study, params, seed, reference, finer=None):
    if finer is not None:  # a worker's copy of the study gets the finer run its task needs
        study._finer.setdefault(study.reference_key(params), finer)
    return study.run_task(params, seed, reference)


def run_studies(studies: dict, workers: int | None = None, executor: Any = None,
                store: str | PathLike | None = None, progress: bool = False) -> dict:
    """Run several studies on one pool, each as ``studies[name].run(...)`` would.

    Every reference run of every study is computed first, all at once, then every task, so that the
    workers are busy across studies (a single study waits for its references before its tasks).

    Parameters
    ----------
    studies : dict
        ``{name: Study}``.
    workers, executor, progress
        As in :meth:`Study.run`.
    store : str or pathlib.Path, optional
        A folder; study ``name`` keeps its tasks in ``store/name``.

    Returns
    -------
    dict
        ``{name: table}``; the tables do not depend on ``workers`` or ``executor``.

    Examples
    --------
    >>> studies = {"coarse": Study("Annihilation1D", sweep={"n": [8]}, t_end=1e-3, floors=[],
    ...                            continuum_kwargs={"resolution": 50}),
    ...            "fine": Study("Annihilation1D", sweep={"n": [8]}, t_end=1e-3, floors=[],
    ...                          continuum_kwargs={"resolution": 100})}
    >>> tables = run_studies(studies)
    >>> sorted(tables), len(tables["fine"])
    (['coarse', 'fine'], 2)
    """
    from meanfield.io import terminate_as_interrupt

    names = list(studies)
    items = [(studies[n], None if store is None else Path(store) / n) for n in names]
    with terminate_as_interrupt():
        return dict(zip(names, _run_many(items, workers, executor, progress), strict=True))


def _run_many(items, workers, executor, progress) -> list:
    """``items = [(study, store folder or None)]`` → their tables, on one runner."""
    plans = [study._plan(store, workers, executor) for study, store in items]
    runner = _Runner(workers, executor)
    done: list[dict] = [{} for _ in items]
    bar = None
    meta: list[Any]
    jobs: list[Any]
    try:
        meta, jobs = [], []
        for (study, _), plan in zip(items, plans, strict=True):
            for finer in (False, True):
                for key in plan["todo_finer" if finer else "todo"]:
                    meta.append((study, key, finer))
                    jobs.append((study, plan["by_ref"][key][0][0], finer))
        for (study, key, finer), (_, ref) in zip(meta, runner.imap(_solve_reference, jobs), strict=True):
            (study._finer if finer else study._references)[key] = ref
        meta, jobs = [], []
        for i, ((study, _), plan) in enumerate(zip(items, plans, strict=True)):
            for key, group in plan["by_ref"].items():
                for p, s in group:
                    meta.append(i)
                    jobs.append((study, p, s, study._references[key], study._finer.get(key)))
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(jobs), unit="task")
        for i, ((_, p, s, _, _), rows) in zip(meta, runner.imap(_run_task, jobs), strict=True):
            if plans[i]["store"] is not None:
                plans[i]["store"].write(p, s, rows)
            else:
                done[i][_canonical([p, s])] = rows
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
    except BaseException:
        if bar is not None:
            bar.close()
        runner.close(cancel=True)
        raise
    runner.close()
    tables = []
    for i, plan in enumerate(plans):
        store, rows = plan["store"], []
        for p, s in plan["tasks"]:
            rows.extend(store.read(p, s) if store is not None else done[i][_canonical([p, s])])
        tables.append(pd.DataFrame(rows))
    return tables


def _signature_defaults(cls, pairing=None) -> dict:
    """Default values of the model's constructor and the run methods the pairing uses, in plain form (a
    default without one is recorded by its type name); a changed default changes the study's identity."""
    import inspect

    from meanfield.store import native

    out = {}
    methods = ["sample_particles", "simulate_particles", "solve_continuum"]
    if pairing is not None:
        methods = [m for m in pairing.sections.values() if m is not None]
    for name in ["__init__", *methods]:
        func = getattr(cls, name, None)
        if func is None:
            continue
        try:
            sig = inspect.signature(func)
        except (TypeError, ValueError):
            continue
        values = {}
        for pname, par in sig.parameters.items():
            if par.default is inspect.Parameter.empty:
                continue
            try:
                values[pname] = native(par.default, pname)
            except ValueError:
                values[pname] = f"<{type(par.default).__qualname__}>"
        out[name] = values
    return out


class _Runner:
    """The same map over in-process, local-process or dask execution; results in input order."""

    def __init__(self, workers, executor):
        self.kind, self.pool, self.own, self.futures = "local", None, False, []
        if executor is not None:
            from dask.distributed import Client

            if isinstance(executor, str):
                self.pool, self.own = Client(executor), True
            else:
                self.pool = executor
            self.kind = "dask"
        elif workers is not None and int(workers) > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # forkserver, not fork: a forked child inherits the parent's locks mid-use (FFTW, numba and
            # BLAS thread pools), and a worker forked from a busy process can deadlock on them
            context = multiprocessing.get_context("forkserver")
            self.pool, self.own, self.kind = ProcessPoolExecutor(int(workers), mp_context=context), True, "processes"

    def map(self, func, items):
        return [r for _, r in self.imap(func, [(x,) for x in items])]

    def imap(self, func, jobs):
        """Yield ``(job, func(*job))`` in input order."""
        if self.kind == "local":
            for job in jobs:
                yield job, func(*job)
            return
        if self.kind == "processes":
            futures = [self.pool.submit(func, *job) for job in jobs]
        else:
            futures = [self.pool.submit(func, *job, pure=False) for job in jobs]
        self.futures.extend(futures)
        for job, fut in zip(jobs, futures, strict=True):
            yield job, fut.result()

    def close(self, cancel=False):
        """Release the pool; ``cancel=True`` (after an error or interruption) drops the tasks not yet
        started instead of waiting for them, also on a dask client the caller owns."""
        if cancel and self.futures:
            if self.kind == "dask":
                self.pool.cancel(self.futures)
            else:
                for fut in self.futures:
                    fut.cancel()
        if self.own and self.pool is not None:
            if self.kind == "processes":
                self.pool.shutdown(wait=True, cancel_futures=cancel)
            else:
                self.pool.close()


# --- rates and plots ---------------------------------------------------------------------
def distances(table: pd.DataFrame) -> pd.DataFrame:
    """The distance rows of a study table (``run == "pair"``), without the observers' rows.

    Parameters
    ----------
    table : pandas.DataFrame
        A study table.

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> table = pd.DataFrame({"n": [8, 8], "metric": ["W1", "total_mass"], "value": [0.1, 1.0],
    ...                       "run": ["pair", "sample"]})
    >>> distances(table)["metric"].tolist()
    ['W1']
    """
    if "run" not in table.columns:
        return table
    return table[table["run"] == "pair"]


def fit_rates(table: pd.DataFrame, x: str = "n", level: float = 0.95, reference_factor: float | None = None
              ) -> pd.DataFrame:
    """Fit ``value ~ C x^slope`` for each (metric, time, species, other swept parameters) of the distance rows.

    Every seed is a separate point, so the confidence interval carries the seed-to-seed spread.
    Observer rows are left out (fit them by passing a table of them with ``run`` dropped).

    Parameters
    ----------
    table : pandas.DataFrame
        A study table (:meth:`Study.run`).
    x : str, default "n"
        The swept column the rates are fitted against.
    level : float, default 0.95
        The confidence level (:func:`meanfield.rates.fit_rate`).
    reference_factor : float, optional
        With floors in the table (:mod:`meanfield.floors`), a point whose distance is below
        ``reference_factor`` times its discretisation floor is left out of both fits (the continuum
        limits it there).

    Returns
    -------
    pandas.DataFrame
        One row per series: ``slope``, ``ci_low``, ``ci_high``, ``prefactor``, ``points`` (the points
        used); with a sampling floor ``sampling_slope`` (with ``sampling_ci_low``,
        ``sampling_ci_high``), the fitted rate of the floor on the same points, the i.i.d. rate the
        particles' one compares with; with ``reference_factor`` ``left_out`` and ``why`` (which
        points and why). A group left with fewer than two distinct ``x`` gets a NaN slope.

    Raises
    ------
    ValueError
        If ``reference_factor`` is not a positive number.

    Examples
    --------
    >>> table = pd.DataFrame({"n": [10, 100, 1000, 10, 100, 1000], "seed": [0, 0, 0, 1, 1, 1],
    ...                       "metric": "W1", "value": [0.3, 0.1, 0.03, 0.33, 0.09, 0.033], "run": "pair"})
    >>> fit_rates(table)[["metric", "slope", "points"]].round(3).to_dict("records")
    [{'metric': 'W1', 'slope': -0.5, 'points': 6}]
    """
    from meanfield.floors import COLUMNS
    from meanfield.rates import fit_rate

    if reference_factor is not None and not (isinstance(reference_factor, (int, float)) and
                                             not isinstance(reference_factor, bool) and reference_factor > 0):
        raise ValueError(f"reference_factor must be a positive number or None, got {reference_factor!r}")
    table = distances(table)
    group_cols = _group_columns(table, (x, "seed", "value"))
    sampling, disc = COLUMNS["sampling"], COLUMNS["discretisation"]
    out = []
    for key, g in _fittable_groups(table, group_cols, x):
        row = dict(zip(group_cols, key if isinstance(key, tuple) else (key,), strict=True))
        left = np.zeros(len(g), dtype=bool)
        if reference_factor is not None and disc in g.columns:
            left = (g["value"] < reference_factor * g[disc]).to_numpy()
            row["left_out"] = int(left.sum())
            row["why"] = (f"{x} = {sorted(set(g[x][left].tolist()))}: distance below {reference_factor:g} x the "
                          "discretisation floor" if left.any() else "")
        used = g[~left]
        if used[x].nunique() < 2:
            row.update(slope=np.nan, ci_low=np.nan, ci_high=np.nan, prefactor=np.nan, points=len(used))
            out.append(row)
            continue
        fit = fit_rate(used[x].to_numpy(float), used["value"].to_numpy(float), level=level)
        row.update(slope=fit.slope, ci_low=fit.ci[0], ci_high=fit.ci[1], prefactor=fit.prefactor(),
                   points=fit.n_points)
        if sampling in used.columns:
            f = used[np.isfinite(used[sampling].to_numpy(float)) & (used[sampling].to_numpy(float) > 0)]
            if f[x].nunique() >= 2:
                ff = fit_rate(f[x].to_numpy(float), f[sampling].to_numpy(float), level=level)
                row.update(sampling_slope=ff.slope, sampling_ci_low=ff.ci[0], sampling_ci_high=ff.ci[1])
        out.append(row)
    return pd.DataFrame(out)


def _group_columns(table, exclude) -> list:
    """The columns naming a series: all but ``exclude`` and the floor columns."""
    from meanfield.floors import COLUMNS

    return [c for c in table.columns if c not in (*exclude, *COLUMNS.values())]


def _fittable_groups(table, group_cols, x):
    """Groups with at least two distinct ``x`` among their positive finite values (NaN rows, e.g. a
    Wasserstein distance to a species with no particles, and exact zeros cannot enter a log-log fit)."""
    for key, g in table.groupby(group_cols, dropna=False, sort=True):
        v = g["value"].to_numpy(float)
        g = g[np.isfinite(v) & (v > 0)]
        if g[x].nunique() >= 2:
            yield key, g


def floor_curves(group: pd.DataFrame, x: str = "n") -> dict:
    """The floors of one series averaged over seeds at each ``x`` (positive finite values only).

    Parameters
    ----------
    group : pandas.DataFrame
        The rows of one series over seeds.
    x : str, default "n"
        The swept column.

    Returns
    -------
    dict
        ``{"sampling floor": (x values, mean floor), "discretisation floor": (...)}``, for the floor
        columns present.

    Examples
    --------
    >>> group = pd.DataFrame({"n": [10, 10, 100], "sampling_floor": [0.2, 0.4, 0.1]})
    >>> floor_curves(group)
    {'sampling floor': (array([ 10., 100.]), array([0.3, 0.1]))}
    """
    from meanfield.floors import COLUMNS

    out = {}
    for name, col in COLUMNS.items():
        if col not in group.columns:
            continue
        v = group[col].to_numpy(float)
        g = group[np.isfinite(v) & (v > 0)]
        if len(g):
            mean = g.groupby(x, sort=True)[col].mean()
            out[f"{name} floor"] = (mean.index.to_numpy(float), mean.to_numpy(float))
    return out


def plot_rates(table: pd.DataFrame, x: str = "n", level: float = 0.95) -> Figure:
    """Log-log plot of every series with its fitted slope and confidence interval, one panel per metric.

    The sampling and discretisation floors (mean over seeds) are dashed lines in the series' colour
    (:func:`meanfield.plot.plot_rate`).

    Parameters
    ----------
    table : pandas.DataFrame
        A study table.
    x : str, default "n"
        The swept column.
    level : float, default 0.95
        The confidence level.

    Returns
    -------
    matplotlib.figure.Figure
        A note instead of axes for a study of observers only.

    Examples
    --------
    >>> table = pd.DataFrame({"n": [10, 100, 1000], "seed": 0, "metric": "W1", "value": [0.3, 0.1, 0.03],
    ...                       "run": "pair"})
    >>> fig = plot_rates(table)
    >>> [ax.get_title() for ax in fig.axes], fig.axes[0].get_xlabel()
    (['W1'], 'n')
    """
    from matplotlib.figure import Figure

    from meanfield.plot import plot_rate
    from meanfield.rates import fit_rate

    table = distances(table)
    metrics = sorted(table["metric"].unique()) if len(table) else []
    if not metrics:  # a study of observers only
        fig = Figure(figsize=(4.5, 3.6), layout="constrained")
        fig.text(0.5, 0.5, "no distances in this study (observers only)", ha="center", va="center")
        return fig
    fig = Figure(figsize=(4.5 * len(metrics), 3.6), layout="constrained")
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    group_cols = _group_columns(table, (x, "seed", "value", "metric"))
    for ax, metric in zip(axes, metrics, strict=True):
        sub = table[table["metric"] == metric]
        for key, g in _fittable_groups(sub, group_cols, x):
            values = key if isinstance(key, tuple) else (key,)
            label = ", ".join(f"{c}={v}" for c, v in zip(group_cols, values, strict=True) if v != "")
            fit = fit_rate(g[x].to_numpy(float), g["value"].to_numpy(float), level=level)
            plot_rate(ax, g[x], g["value"], fit, label=label, xlabel=x, floors=floor_curves(g, x))
        ax.set_title(metric)
    return fig


# --- study files (TOML) --------------------------------------------------------------------
_TOP_KEYS = {"model", "t_end", "times", "seeds", "metrics", "sweep", "model_params", "particles", "sample", "continuum",
             "pairing", "observers", "compare_times", "floors"}
_TABLES = ("sweep", "model_params", "particles", "sample", "continuum", "pairing")
# pairings and observers a study file can name (those whose settings are plain values)
_FILE_PAIRINGS = ("ParticleVsContinuum", "SDEVsContinuum", "ActiveParts", "LatticeVsLattice", "MassClasses",
                  "ContinuumVsContinuum", "ParticlesOnly")
_FILE_OBSERVERS = {"particle_count": "ParticleCount", "total_mass": "TotalMass", "centre_of_mass": "CentreOfMass"}


def _file_pairing(spec, fail):
    """A pairing from a study file: ``pairing = "Name"`` or a table ``[pairing]`` with ``name`` and fields."""
    import dataclasses

    from meanfield import pairings

    name_key = "pairing" if isinstance(spec, str) else "pairing.name"
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, dict) or "name" not in spec:
        fail("pairing", 'must be a pairing name or a table with a "name" key, e.g. [pairing] name = "LatticeVsLattice"')
    name = spec["name"]
    if name not in _FILE_PAIRINGS:
        fail(name_key, f"unknown pairing {name!r}; a study file can use {', '.join(_FILE_PAIRINGS)} "
                             "(the others take functions: use the Python API)")
    cls = getattr(pairings, name)
    fields = {f.name for f in dataclasses.fields(cls)}
    args = {k: v for k, v in spec.items() if k != "name"}
    for key in args:
        if key not in fields:
            fail(f"pairing.{key}", f"not a field of {name}; fields: {', '.join(sorted(fields)) or '(none)'}")
    return cls(**{k: tuple(v) if isinstance(v, list) and k.endswith("metrics") else v for k, v in args.items()})


def _file_observers(names, fail):
    from meanfield import observers

    if not isinstance(names, list):
        fail("observers", f"must be a list of observer names from {sorted(_FILE_OBSERVERS)}")
    out = []
    for name in names:
        if not isinstance(name, str) or name not in _FILE_OBSERVERS:
            fail("observers", f"unknown observer {name!r}; choose from {sorted(_FILE_OBSERVERS)}")
        out.append(getattr(observers, _FILE_OBSERVERS[name])(on="both" if name != "particle_count" else "sample"))
    return out
_HEADER = re.compile(r"^\[\s*([^\[\]]+?)\s*\]")
_KEY = re.compile(r"""^(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_.\- ]+?))\s*=""")


def _line_of(text: str, key: str) -> int:
    """Line of ``key`` (``"seeds"``, ``"sweep.n"``, ``"sweep.model.profile"``, ``"continuum.resolution"``)
    in a study file: the key's own line, else its table's header, else 0 (unknown)."""
    first, _, rest = key.partition(".")
    table, name = (first, rest) if rest and first in _TABLES else (None, key)
    current, header = None, 0
    for i, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        m = _HEADER.match(stripped)
        if m:
            current = m.group(1).strip().strip("\"'")
            if current == (table or name):
                header = i
            continue
        k = _KEY.match(stripped)
        if k is None:
            continue
        found = next(g for g in k.groups() if g is not None).strip()
        if current == table and found == name:
            return i
        if current is None and found == key:  # top-level key, or a dotted one such as continuum.resolution
            return i
    return header


def _read_study_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise IsADirectoryError(21, "is a folder, expected a study file (TOML)", str(path)) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not a text (UTF-8) file: {exc}") from None


def load_study_file(path: str | PathLike) -> Study:
    """Build a :class:`Study` from a TOML file; an error names the file, the line and the key.

    A study file::

        model = "Newtonian1D"
        t_end = 1.0
        times = [0.5, 1.0]
        seeds = [0, 1, 2]
        metrics = ["W1", "BL"]
        [model_params]
        profile = "bump"
        [sample]
        sampling = "random"
        [continuum]
        resolution = 2048
        [sweep]
        n = [16, 32, 64, 128]
        "model.profile" = ["bump", "uniform"]    # a swept model parameter: quote dotted names

    Optional: ``compare_times`` (distances only at these output times), ``observers = ["particle_count",
    "total_mass", "centre_of_mass"]`` (recorded at every output time; mass and centre of mass on both
    runs), and the pairing, by name or as a table of its fields::

        [pairing]
        name = "LatticeVsLattice"   # or ParticleVsContinuum (default), SDEVsContinuum, ActiveParts,
        eps = 0.0625                # MassClasses, ContinuumVsContinuum, ParticlesOnly

    Particle numbers and seeds must be integers (``16``, not ``16.0`` or ``true``), without repeats;
    every key of ``[model_params]``, ``[sample]``, ``[particles]`` and ``[continuum]`` must be a
    parameter of the model's constructor or of the run method it is passed to.

    Parameters
    ----------
    path : str or pathlib.Path
        The TOML file (e.g. ``examples/newtonian1d_study.toml``).

    Returns
    -------
    Study

    Raises
    ------
    OSError
        ``FileNotFoundError``/``PermissionError``/``IsADirectoryError`` when the file cannot be read.
    ValueError
        ``"<file>: line <L>, key '<key>': ..."`` when it is not a valid study.

    Examples
    --------
    >>> from pathlib import Path
    >>> _ = Path("s.toml").write_text('model = "Newtonian1D"\\nt_end = 0.5\\n[sweep]\\nn = [16, 64]\\n')
    >>> load_study_file("s.toml").tasks()
    [({'n': 16}, 0), ({'n': 64}, 0)]
    >>> _ = Path("bad.toml").write_text('model = "Newtonian1D"\\nt_end = 0.5\\n[sweep]\\nn = [16, 16.0]\\n')
    >>> load_study_file("bad.toml")
    Traceback (most recent call last):
    ...
    ValueError: bad.toml: line 4, key 'sweep.n': ...
    """
    import tomllib

    from meanfield.study_inputs import StudyInputError

    path = Path(path)
    text = _read_study_text(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from None

    def fail(key, message) -> NoReturn:
        line = _line_of(text, key)
        where = f"line {line}, " if line else ""
        raise ValueError(f"{path}: {where}key {key!r}: {message}")

    for key in data:
        if key not in _TOP_KEYS:
            fail(key, f"unknown key; allowed: {', '.join(sorted(_TOP_KEYS))}")
    for key in ("model", "t_end", "sweep"):
        if key not in data:
            raise ValueError(f"{path}: missing required key {key!r}")
    if not isinstance(data["model"], str):
        fail("model", "must be a model name string")
    if not isinstance(data["t_end"], (int, float)) or isinstance(data["t_end"], bool):
        fail("t_end", f"must be a number, got {data['t_end']!r}")
    if not isinstance(data["sweep"], dict):
        fail("sweep", "must be a table [sweep]")
    for table in ("model_params", "particles", "sample", "continuum"):
        if table in data and not isinstance(data[table], dict):
            fail(table, f"must be a table [{table}]")
    extra = {}
    if "pairing" in data:
        extra["pairing"] = _file_pairing(data["pairing"], fail)
    if "observers" in data:
        extra["observers"] = _file_observers(data["observers"], fail)
    if "compare_times" in data:
        extra["compare_times"] = data["compare_times"]
    if "floors" in data:
        extra["floors"] = data["floors"]
    sweep = {}
    for key, values in data["sweep"].items():
        if isinstance(values, dict):  # a dotted key such as model.profile parses as a table
            inner = next(iter(values), "name")
            fail(f"sweep.{key}.{inner}", f"quote dotted names, e.g. \"{key}.{inner}\" = [...]")
        if not isinstance(values, list) or not values:
            fail(f"sweep.{key}", "must be a non-empty list")
        sweep[key] = values
    try:
        return Study(
            model=data["model"], sweep=sweep, t_end=data["t_end"], times=data.get("times"),
            seeds=data.get("seeds", [0]), metrics=data.get("metrics", ["W1"]),
            model_params=data.get("model_params", {}), particle_kwargs=data.get("particles", {}),
            sample_kwargs=data.get("sample", {}), continuum_kwargs=data.get("continuum", {}), **extra,
        )
    except StudyInputError as exc:
        fail(exc.key, str(exc))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
