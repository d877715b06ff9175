"""Checks of a :class:`meanfield.study.Study`'s settings, made before any work.

Each error is a :class:`StudyInputError` (a ``ValueError``) whose ``key`` names the setting the way a
study file spells it (``seeds``, ``sweep.n``, ``continuum.resolution``, ...), so that
:func:`meanfield.study.load_study_file` can point at the file's line.

* particle numbers (sweep ``n``) and seeds are integers: ``bool`` and ``float`` values are refused
  (``16.0`` too: a study file that says ``16.0`` most likely means something else), particle
  numbers are at least 1, seeds non-negative, and no list repeats a value;
* ``t_end`` is a positive finite number and ``times`` strictly increase within ``[0, t_end]``;
* every model parameter, fixed or swept, is a parameter of the model's constructor, and every
  keyword of ``sample``/``particles``/``continuum`` one of the run method the study's pairing passes
  it to (read from their signatures; see :mod:`meanfield.pairings`); the message lists the valid
  ones. Arguments the study or the pairing sets itself (the particle number or state, ``rng``,
  ``t_end``, ``times``, e.g. ``eps`` of a lattice pairing) are refused as keywords, keywords for a
  section the pairing does not use are refused, and required ones must be given (checked when the
  study runs). A swept value overrides a fixed one of the same name; ``pairing.<field>`` sweeps a
  field of the pairing;
* ``compare_times`` (where distances are measured) are output times (``[]``: observers only);
  ``metrics`` may be empty only for a pairing that compares nothing.
"""

from __future__ import annotations

import inspect
import itertools
import json
import math
import numbers
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from meanfield.study import Study

__all__ = ["StudyInputError", "check_required", "check_study", "method_parameters"]

# study-file key of each keyword dictionary, its Study field, the model method it feeds
SECTIONS = {
    "model": ("model_params", "model_params", "__init__"),
    "sample": ("sample", "sample_kwargs", "sample_particles"),
    "particles": ("particles", "particle_kwargs", "simulate_particles"),
    "continuum": ("continuum", "continuum_kwargs", "solve_continuum"),
}


class StudyInputError(ValueError):
    """A bad study setting (a ``ValueError``).

    Parameters
    ----------
    key : str
        The setting's name in a study file (e.g. ``"sweep.n"``), kept as ``err.key``.
    message : str
        What is wrong.

    Examples
    --------
    >>> from meanfield.study import Study
    >>> try:
    ...     Study("Newtonian1D", sweep={"n": [16, 16]}, t_end=0.5)
    ... except StudyInputError as err:
    ...     print(err.key, "|", err)
    sweep.n | sweep['n'] repeats 16 (entries 0 and 1); each value once
    """

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


def _is_integer(value) -> bool:
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value) -> bool:
    return isinstance(value, (numbers.Real, np.floating, np.integer)) and not isinstance(value, (bool, np.bool_))


def _plain(value) -> str:
    """A hashable rendering for duplicate detection (``1`` and ``1.0`` and ``True`` stay distinct)."""
    try:
        return f"{type(value).__name__}:{json.dumps(value, sort_keys=True, default=repr)}"
    except (TypeError, ValueError):
        return f"{type(value).__name__}:{value!r}"


def _no_duplicates(key: str, what: str, values) -> None:
    seen: dict[str, int] = {}
    for i, v in enumerate(values):
        label = _plain(v)
        if label in seen:
            raise StudyInputError(key, f"{what} repeats {v!r} (entries {seen[label]} and {i}); each value once")
        seen[label] = i


def _integers(key: str, what: str, values, minimum: int) -> list[int]:
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)) or len(values) == 0:
        raise StudyInputError(key, f"{what} must be a non-empty list of integers, got {values!r}")
    out = []
    for i, v in enumerate(values):
        if not _is_integer(v):
            kind = "a bool" if isinstance(v, (bool, np.bool_)) else f"a {type(v).__name__}"
            raise StudyInputError(key, f"{what}[{i}] = {v!r} is {kind}; it must be an integer "
                                       "(write e.g. 16, not 16.0)")
        if int(v) < minimum:
            raise StudyInputError(key, f"{what}[{i}] = {v!r} must be >= {minimum}")
        out.append(int(v))
    _no_duplicates(key, what, out)
    return out


def _signature(cls, method: str, owner: str, pairing=None):
    func = getattr(cls, method, None)
    if func is None or not callable(func):
        who = f"the pairing {type(pairing).__name__}" if pairing is not None else "a study"
        raise StudyInputError("model", f"{owner} has no method {method}; {who} needs it")
    try:
        return inspect.signature(func)
    except (TypeError, ValueError):
        return None


_RUN_METHODS = ("sample_particles", "simulate_particles", "sample_lattice_particles", "solve_continuum",
                "solve_lattice")


def method_parameters(
    model_cls: type, method: str, owner: str, also_reserved: Iterable[str] = (), pairing: Any = None
) -> tuple[set[str] | None, set[str], set[str]]:
    """The keywords a study may pass to a model's constructor or run method, read from its signature.

    Parameters
    ----------
    model_cls : type
        The model class.
    method : str
        ``"__init__"`` or a run method (``sample_particles``, ``simulate_particles``,
        ``solve_continuum``, ...).
    owner : str
        The model's name, for messages.
    also_reserved : iterable of str, optional
        Names a pairing sets itself for this method (e.g. ``eps``).
    pairing : meanfield.pairings.Pairing, optional
        The pairing that needs the method, for messages.

    Returns
    -------
    tuple
        ``(accepted names, or None when the method takes **kwargs; required names; names the study
        sets itself)``: the particle number or state, ``rng``, ``t_end``, ``times`` and
        ``also_reserved``.

    Raises
    ------
    StudyInputError
        If the class has no such method.

    Examples
    --------
    >>> from meanfield.models import Newtonian1D
    >>> accepted, required, reserved = method_parameters(Newtonian1D, "solve_continuum", "Newtonian1D")
    >>> sorted(required), sorted(reserved), "scheme" in accepted
    (['resolution'], ['t_end', 'times'], True)
    """
    sig = _signature(model_cls, method, owner, pairing)
    if sig is None:
        return None, set(), set(also_reserved)
    params = [p for p in sig.parameters.values() if p.name != "self"]
    if method == "__init__" and isinstance(getattr(model_cls, "__init__", None), type(object.__init__)):
        params = []  # object.__init__: no parameters
    reserved = set(also_reserved)
    if method in ("sample_particles", "simulate_particles", "sample_lattice_particles") and params:
        reserved.add(params[0].name)  # the particle number / the initial state
    reserved |= {"rng"} if method in ("sample_particles", "simulate_particles", "sample_lattice_particles") else set()
    reserved |= {"t_end", "times"} if method in ("simulate_particles", "solve_continuum", "solve_lattice") else set()
    named = [p for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    accepted = None if any(p.kind == p.VAR_KEYWORD for p in params) else {p.name for p in named} - reserved
    required = {p.name for p in named if p.default is p.empty} - reserved
    return accepted, required, reserved & ({p.name for p in named} | set(also_reserved))


def _sections(study):
    """``[(prefix, file key, Study field, method or None)]`` for the study's pairing."""
    out = [("model", "model_params", "model_params", "__init__")]
    for prefix in ("sample", "particles", "continuum"):
        file_key, field, _ = SECTIONS[prefix]
        out.append((prefix, file_key, field, study.pairing.sections.get(prefix)))
    return out


def _check_pairing(study, owner: str) -> None:
    """The pairing is a Pairing, swept ``pairing.<field>`` names are its fields, its own checks pass."""
    import dataclasses

    from meanfield.pairings import Pairing

    pairing = study.pairing
    if not isinstance(pairing, Pairing):
        raise StudyInputError("pairing", f"pairing must be a meanfield.pairings.Pairing value, got {pairing!r}")
    names = {f.name for f in dataclasses.fields(pairing)}
    swept = {k.split(".", 1)[1]: v for k, v in study.sweep.items() if k.startswith("pairing.")}
    for name in swept:
        if name not in names:
            valid = ", ".join(sorted(names)) or "(none)"
            raise StudyInputError(f"sweep.pairing.{name}", f"sweep key 'pairing.{name}': {type(pairing).__name__} "
                                                           f"has no field {name!r}; fields: {valid}")
    try:
        pairing.check(study._model_cls, owner)
        for name, values in swept.items():
            for v in values:
                dataclasses.replace(pairing, **{name: v}).check(study._model_cls, owner)
    except ValueError as exc:
        raise StudyInputError("pairing", str(exc)) from None


def _check_keywords(study, owner: str) -> None:
    """Fixed and swept keywords against the constructor / method signatures the pairing uses."""
    cls = study._model_cls
    _check_pairing(study, owner)
    swept: dict[str, set[str]] = {}
    for key in study.sweep:
        if key != "n":
            prefix, name = key.split(".", 1)
            swept.setdefault(prefix, set()).add(name)
    for prefix, file_key, field, method in _sections(study):
        fixed = getattr(study, field)
        if not isinstance(fixed, dict):
            raise StudyInputError(file_key, f"{field} must be a mapping of names to values, got {fixed!r}")
        bad_names = [k for k in fixed if not isinstance(k, str)]
        if bad_names:
            raise StudyInputError(file_key, f"{field} keys must be strings, got {bad_names[0]!r}")
        if method is None:
            given = [f"{file_key}.{k}" for k in fixed] + [f"sweep.{prefix}.{k}" for k in sorted(swept.get(prefix, ()))]
            if given:
                raise StudyInputError(given[0], f"the pairing {type(study.pairing).__name__} makes no {prefix} run, "
                                                f"so {field} must be empty and '{prefix}.*' not swept")
            continue
        accepted, _, reserved = method_parameters(cls, method, owner, study.pairing.reserved.get(prefix, ()),
                                                  study.pairing)
        target = owner if method == "__init__" else f"{owner}.{method}"
        what = "a parameter of" if method == "__init__" else "a keyword of"
        valid = ", ".join(sorted(accepted)) if accepted is not None else ""
        for name, key, label in [(k, f"{file_key}.{k}", f"{field} key {k!r}") for k in fixed] + [
            (k, f"sweep.{prefix}.{k}", f"sweep key '{prefix}.{k}'") for k in sorted(swept.get(prefix, ()))
        ]:
            if name in reserved:
                raise StudyInputError(key, f"{label}: {name!r} is set by the study itself (from n, the seed, "
                                           "t_end, times or the pairing), not by a keyword")
            if accepted is not None and name not in accepted:
                raise StudyInputError(key, f"{label}: {name!r} is not {what} {target}; valid: {valid or '(none)'}")


def check_required(study: Study, owner: str) -> None:
    """Check that every argument without a default of the constructor and run methods is given, fixed or swept.

    Checked when the study runs: a study may be built first and completed later.

    Parameters
    ----------
    study : meanfield.study.Study
        The study.
    owner : str
        The model's name, for messages.

    Raises
    ------
    StudyInputError
        Naming the first missing argument and where to give it.

    Examples
    --------
    >>> from meanfield.study import Study
    >>> study = Study("Newtonian1D", sweep={"n": [16]}, t_end=0.5)  # solve_continuum needs a resolution
    >>> check_required(study, "Newtonian1D")
    Traceback (most recent call last):
    ...
    meanfield.study_inputs.StudyInputError: Newtonian1D.solve_continuum needs 'resolution': give it in ...
    """
    swept: dict[str, set[str]] = {}
    for key in study.sweep:
        if key != "n":
            prefix, name = key.split(".", 1)
            swept.setdefault(prefix, set()).add(name)
    for prefix, file_key, field, method in _sections(study):
        if method is None:
            continue
        _, required, _ = method_parameters(study._model_cls, method, owner, study.pairing.reserved.get(prefix, ()),
                                           study.pairing)
        missing = sorted(required - set(getattr(study, field)) - swept.get(prefix, set()))
        if missing:
            target = owner if method == "__init__" else f"{owner}.{method}"
            raise StudyInputError(file_key, f"{target} needs {missing[0]!r}: give it in {field} or sweep "
                                            f"'{prefix}.{missing[0]}'")


def check_study(study: Study, prefixes: Iterable[str], metric_names: Iterable[str]) -> None:
    """Validate and normalise a study's settings in place (``n``, seeds to ``int``; times to ``float``).

    :class:`meanfield.study.Study` calls it when it is built; the module docstring lists the checks.

    Parameters
    ----------
    study : meanfield.study.Study
        The study.
    prefixes : iterable of str
        The sweep-key prefixes (``model``, ``sample``, ``particles``, ``continuum``, ``pairing``).
    metric_names : iterable of str
        The valid metrics.

    Raises
    ------
    StudyInputError
        Naming the first bad setting.

    Examples
    --------
    >>> from meanfield.study import Study
    >>> study = Study("Newtonian1D", sweep={"n": [16]}, t_end=0.5, times=[0.25, 0.5])
    >>> study.times = [0.5, 0.25]
    >>> check_study(study, ["model", "continuum"], ["W1"])
    Traceback (most recent call last):
    ...
    meanfield.study_inputs.StudyInputError: times must be strictly increasing, got [0.5, 0.25]
    """
    if not isinstance(study.sweep, dict) or not study.sweep:
        raise StudyInputError("sweep", "sweep must be a non-empty mapping from parameter to list of values")
    for key, values in study.sweep.items():
        if not isinstance(key, str) or (key != "n" and (("." not in key) or key.split(".", 1)[0] not in prefixes)):
            raise StudyInputError(f"sweep.{key}", f"sweep key {key!r} must be 'n' or start with one of "
                                                  f"{', '.join(p + '.' for p in prefixes)}")
        if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)) or len(values) == 0:
            raise StudyInputError(f"sweep.{key}", f"sweep[{key!r}] must be a non-empty list, got {values!r}")
        if key != "n":
            _no_duplicates(f"sweep.{key}", f"sweep[{key!r}]", values)
    needs_n = getattr(study.pairing, "needs_n", True)
    if "n" not in study.sweep and needs_n:
        raise StudyInputError("sweep", "sweep must include 'n' (the particle numbers)")
    if "n" in study.sweep:
        if not needs_n:
            raise StudyInputError("sweep.n", f"the pairing {type(study.pairing).__name__} runs no particles; "
                                             "do not sweep 'n'")
        study.sweep = {**study.sweep, "n": _integers("sweep.n", "sweep['n']", study.sweep["n"], 1)}
    study.seeds = _integers("seeds", "seeds", study.seeds, 0)

    compares = getattr(study.pairing, "compares", True)
    if isinstance(study.metrics, str) or not isinstance(study.metrics, (list, tuple)) or (
            compares and not study.metrics):
        raise StudyInputError("metrics", f"metrics must be a non-empty list of names from {metric_names}, "
                                         f"got {study.metrics!r}")
    if not compares and study.metrics:
        raise StudyInputError("metrics", f"the pairing {type(study.pairing).__name__} compares no measures; "
                                         f"give metrics=[] (got {study.metrics!r})")
    study.metrics = list(study.metrics)
    unknown = [m for m in study.metrics if m not in metric_names]
    if unknown:
        raise StudyInputError("metrics", f"unknown metrics {unknown}; choose from {metric_names}")
    _no_duplicates("metrics", "metrics", study.metrics)

    if not _is_real(study.t_end) or not math.isfinite(float(study.t_end)) or not float(study.t_end) > 0:
        raise StudyInputError("t_end", f"t_end must be a positive finite number, got {study.t_end!r}")
    study.t_end = float(study.t_end)
    if study.times is None:
        study.times = [study.t_end]
    else:
        times = study.times
        if isinstance(times, (str, bytes)) or not isinstance(times, (list, tuple)) or len(times) == 0:
            raise StudyInputError("times", f"times must be a non-empty list of numbers, got {times!r}")
        for i, t in enumerate(times):
            if not _is_real(t) or not 0 <= float(t) <= study.t_end:
                raise StudyInputError("times", f"times[{i}] = {t!r} must be a number in [0, t_end={study.t_end}]")
        times = [float(t) for t in times]
        if any(b <= a for a, b in itertools.pairwise(times)):
            raise StudyInputError("times", f"times must be strictly increasing, got {study.times!r}")
        study.times = times
    if study.compare_times is None:
        study._compare_times = list(study.times)  # the field stays None: "every output time"
    else:
        ct = study.compare_times
        if isinstance(ct, (str, bytes)) or not isinstance(ct, (list, tuple)):
            raise StudyInputError("compare_times", f"compare_times must be a list of output times ([]: observers "
                                                   f"only), got {ct!r}")
        for i, t in enumerate(ct):
            if not _is_real(t) or float(t) not in study.times:
                raise StudyInputError("compare_times", f"compare_times[{i}] = {t!r} is not one of the output times "
                                                       f"{study.times}")
        _no_duplicates("compare_times", "compare_times", [float(t) for t in ct])
        study.compare_times = [t for t in study.times if t in {float(c) for c in ct}]
        study._compare_times = list(study.compare_times)
    _check_observers(study)


def _check_observers(study) -> None:
    from meanfield.observers import Observer

    obs = study.observers
    if isinstance(obs, (str, bytes)) or not isinstance(obs, (list, tuple)):
        raise StudyInputError("observers", f"observers must be a list of Observer values, got {obs!r}")
    names = []
    for i, o in enumerate(obs):
        if not isinstance(o, Observer):
            raise StudyInputError("observers", f"observers[{i}] = {o!r} is not a meanfield.observers.Observer")
        names.append(o.name)
    _no_duplicates("observers", "observer names", names)
    study.observers = list(obs)
