"""Observers: scalar diagnostics recorded at the output times of a study's runs.

In the manner of py-pde's trackers, an observer is a value handed to a study
(``Study(..., observers=[...])``) that looks at a run at each output time ``t`` and returns numbers.
The study puts them in the same tidy table as the distances: one row per (parameters, seed, time,
label) with ``metric`` = the observer's name, ``run`` = ``"sample"`` or ``"reference"`` (the side it
observed; distance rows have ``run = "pair"``) and ``species`` = the label (``""`` for a single
number).

An observer returns a number, a mapping ``{label: number}``, a 1-D array (one row per component,
named ``<name>[i]``), or ``None`` (nothing to record at this time). :class:`Observer` wraps a function
``fn(run, t)``; the generic ones below work on every model through ``run.measure(t)``:

* :class:`ParticleCount`: number of particles per species and in all (empirical measures only);
* :class:`TotalMass`: mass per species and in all;
* :class:`CentreOfMass`: ``∫ x dμ / μ(R^d)`` per species and in all (coordinates in the domain's box;
  on a torus this is the mean of the wrapped coordinates, not an intrinsic centre).

Observers are frozen dataclasses: picklable when their function is defined at module level (needed
for ``workers=k``; dask also ships lambdas) and part of a study's identity (class, name, side and
the function's qualified name with a hash of its source).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["CentreOfMass", "Observer", "ParticleCount", "TotalMass", "observe_rows"]

SIDES = ("sample", "reference", "both")


@dataclass(frozen=True)
class Observer:
    """A diagnostic ``fn(run, t)`` recorded under ``name`` at every output time of a study's runs.

    Parameters
    ----------
    name : str
        The ``metric`` of its rows; not empty and not a metric's name (W1, W2, BL, BLsum).
    fn : callable
        ``fn(run, t)`` returning a number, a mapping ``{label: number}``, a 1-D array or None (module
        docstring); required unless a subclass overrides :meth:`observe`.
    on : {"sample", "reference", "both"}, default "sample"
        Which run of the pairing it observes.

    Raises
    ------
    ValueError
        For a bad ``name``, ``on`` or ``fn``.

    Examples
    --------
    >>> import numpy as np
    >>> from meanfield.measures import Domain
    >>> from meanfield.models.base import Trajectory
    >>> run = Trajectory(np.array([0.0, 1.0]), [np.array([0.0, 2.0]), np.array([1.0, 3.0])], Domain(1))
    >>> spread = Observer("spread", lambda run, t: float(np.ptp(run.measure(t).x)))
    >>> spread.observe(None, run, 1.0), spread.sides()
    (2.0, ('sample',))
    >>> observe_rows(spread, None, run, 1.0, {"n": 2, "seed": 0}, "sample")
    [{'n': 2, 'seed': 0, 'time': 1.0, 'species': '', 'metric': 'spread', 'value': 2.0, 'run': 'sample'}]
    """

    name: str
    fn: Any = None
    on: str = "sample"

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name or self.name in ("W1", "W2", "BL", "BLsum"):
            raise ValueError(f"observer name must be a non-empty string other than a metric name, got {self.name!r}")
        if self.on not in SIDES:
            raise ValueError(f"observer {self.name!r}: on must be one of {SIDES}, got {self.on!r}")
        if type(self) is Observer and not callable(self.fn):
            raise ValueError(f"observer {self.name!r}: fn must be a function (run, t) -> number(s), got {self.fn!r}")

    def identity(self) -> dict:
        """The observer's part of a study's identity (:mod:`meanfield.store`).

        Returns
        -------
        dict
            Class, name, side and the function's :func:`meanfield.store.callable_identity`.
        """
        from meanfield.store import callable_identity

        cls = type(self)
        return {"observer": f"{cls.__module__}.{cls.__qualname__}", "name": self.name, "on": self.on,
                "fn": None if self.fn is None else callable_identity(self.fn)}

    def observe(self, model: Any, run: Any, t: float) -> Any:
        """The values at time ``t``: ``fn(run, t)``.

    Parameters
    ----------
    model : object
        The run's model.
    run : Trajectory or xarray.Dataset
        The run; anything with ``run.measure(t)``.
    t : float
        An output time of the run.

    Returns
    -------
    number, mapping, 1-D array or None
        As the module docstring says.
        """
        return self.fn(run, t)

    def sides(self) -> tuple:
        """The sides of the pairing it observes.

        Returns
        -------
        tuple of str
            ``("sample",)``, ``("reference",)`` or both.
        """
        return ("sample", "reference") if self.on == "both" else (self.on,)


def _labelled(run, t) -> dict:
    m = run.measure(t)
    return m if isinstance(m, dict) else {"": m}


def _with_all(values: dict, combine) -> dict:
    if len(values) > 1 or (values and "" not in values):
        values = {**values, "all": combine(list(values.values()))}
    return values


@dataclass(frozen=True)
class ParticleCount(Observer):
    """Particles per species (and ``"all"``) at each time; ``None`` for a run that is not particles.

    Parameters
    ----------
    name : str, default "particle_count"
        As in :class:`Observer`.
    fn : None
        Not used.
    on : {"sample", "reference", "both"}, default "sample"
        As in :class:`Observer`.

    Examples
    --------
    >>> import numpy as np
    >>> from meanfield.measures import Domain
    >>> from meanfield.models.base import Trajectory
    >>> run = Trajectory(np.array([0.0]), [np.zeros(3)], Domain(1), species=[np.array(["+", "-", "+"])])
    >>> ParticleCount().observe(None, run, 0.0)
    {'+': 2, '-': 1, 'all': 3}
    """

    name: str = "particle_count"
    on: str = "sample"

    def observe(self, model: Any, run: Any, t: float) -> dict | None:
        """The particle counts at ``t``.

    Parameters
    ----------
    model : object
        The run's model.
    run : Trajectory or xarray.Dataset
        The run; anything with ``run.measure(t)``.
    t : float
        An output time of the run.

    Returns
    -------
    dict or None
        ``{label: count, "all": total}``; None when the run is not particles.
        """
        from meanfield.measures import EmpiricalMeasure

        measures = _labelled(run, t)
        if not all(isinstance(m, EmpiricalMeasure) for m in measures.values()):
            return None
        return _with_all({k: m.n for k, m in measures.items()}, sum)


@dataclass(frozen=True)
class TotalMass(Observer):
    """Mass per species (and ``"all"``) at each time.

    Parameters
    ----------
    name : str, default "total_mass"
        As in :class:`Observer`.
    fn : None
        Not used.
    on : {"sample", "reference", "both"}, default "sample"
        As in :class:`Observer`.

    Examples
    --------
    >>> import numpy as np
    >>> from meanfield.measures import Domain
    >>> from meanfield.models.base import Trajectory
    >>> run = Trajectory(np.array([0.0]), [np.zeros(3)], Domain(1), weights=[np.array([0.5, 0.25, 0.5])],
    ...                  species=[np.array(["+", "-", "+"])])
    >>> TotalMass().observe(None, run, 0.0)
    {'+': 1.0, '-': 0.25, 'all': 1.25}
    """

    name: str = "total_mass"
    on: str = "sample"

    def observe(self, model: Any, run: Any, t: float) -> dict:
        """The masses at ``t``.

    Parameters
    ----------
    model : object
        The run's model.
    run : Trajectory or xarray.Dataset
        The run; anything with ``run.measure(t)``.
    t : float
        An output time of the run.

    Returns
    -------
    dict
        ``{label: mass}`` (with ``"all"`` for several species).
        """
        return _with_all({k: m.mass for k, m in _labelled(run, t).items()}, lambda v: float(np.sum(v)))


def first_moment(measure) -> np.ndarray:
    """``∫ x dμ`` (shape ``(d,)``) of an empirical measure, grid density or 1-D interval density."""
    from meanfield.measures import EmpiricalMeasure, GridDensity, IntervalDensity1D

    if isinstance(measure, EmpiricalMeasure):
        return measure.moment(1)
    if isinstance(measure, GridDensity):
        return np.array([measure.integrate(lambda *xs, a=a: xs[a]) for a in range(measure.dim)])
    if isinstance(measure, IntervalDensity1D):
        return np.array([measure.integrate(lambda x: x, quadrature=2)])
    raise ValueError(f"no first moment for {type(measure).__name__}")


@dataclass(frozen=True)
class CentreOfMass(Observer):
    """``∫ x dμ / μ`` per species and in all (one row per coordinate in dimension > 1).

    Parameters
    ----------
    name : str, default "centre_of_mass"
        As in :class:`Observer`.
    fn : None
        Not used.
    on : {"sample", "reference", "both"}, default "sample"
        As in :class:`Observer`.

    Examples
    --------
    >>> import numpy as np
    >>> from meanfield.measures import Domain
    >>> from meanfield.models.base import Trajectory
    >>> run = Trajectory(np.array([0.0]), [np.array([0.0, 1.0, 3.0])], Domain(1), weights=[np.full(3, 0.25)],
    ...                  species=[np.array(["+", "+", "-"])])
    >>> CentreOfMass().observe(None, run, 0.0)  # "all": the centre of the total mass, (0 + 1 + 3) / 3
    {'+': 0.5, '-': 3.0, 'all': 1.3333333333333333}
    """

    name: str = "centre_of_mass"
    on: str = "sample"

    def observe(self, model: Any, run: Any, t: float) -> dict:
        """The centres of mass at ``t``.

    Parameters
    ----------
    model : object
        The run's model.
    run : Trajectory or xarray.Dataset
        The run; anything with ``run.measure(t)``.
    t : float
        An output time of the run.

    Returns
    -------
    dict
        ``{label: centre}``: a float in 1-D, an array of the coordinates otherwise; ``"all"``
        is the centre of the total mass (not the sum of the species' centres).
        """
        measures = _labelled(run, t)
        moments = {k: (first_moment(m), m.mass) for k, m in measures.items()}
        out = {k: mom / mass for k, (mom, mass) in moments.items()}
        if len(out) > 1 or (out and "" not in out):
            total = sum(mass for _, mass in moments.values())
            out["all"] = sum(mom for mom, _ in moments.values()) / total
        return {k: (float(v[0]) if v.size == 1 else v) for k, v in out.items()}


def observe_rows(observer: Observer, model: Any, run: Any, t: float, base: dict, side: str) -> list[dict]:
    """The table rows of one observation.

    Parameters
    ----------
    observer : Observer
        The observer.
    model : object
        The run's model.
    run : Trajectory or xarray.Dataset
        The run.
    t : float
        An output time.
    base : dict
        The columns every row repeats (parameters, seed).
    side : str
        The ``run`` column (``"sample"`` or ``"reference"``).

    Returns
    -------
    list of dict
        ``base`` plus ``time``, ``species``, ``metric``, ``value`` and ``run``, one row per label and
        component (``<name>[i]`` for the components of an array); empty when the observer returns None.

    Raises
    ------
    ValueError
        If the observer returns an array of more than one dimension.

    Examples
    --------
    >>> import numpy as np
    >>> from meanfield.measures import Domain
    >>> from meanfield.models.base import Trajectory
    >>> run = Trajectory(np.array([0.0]), [np.array([[0.0, 1.0], [2.0, 3.0]])], Domain(2))
    >>> [(r["metric"], r["value"]) for r in observe_rows(CentreOfMass(), None, run, 0.0, {}, "sample")]
    [('centre_of_mass[0]', 1.0), ('centre_of_mass[1]', 2.0)]
    """
    values = observer.observe(model, run, t)
    if values is None:
        return []
    if not isinstance(values, dict):
        values = {"": values}
    rows = []
    for label, value in values.items():
        arr = np.asarray(value, dtype=float)
        if arr.ndim == 0:
            items = [(observer.name, float(arr))]
        elif arr.ndim == 1:
            items = [(f"{observer.name}[{i}]", float(v)) for i, v in enumerate(arr)]
        else:
            raise ValueError(f"observer {observer.name!r} returned an array of shape {arr.shape}; "
                             "return numbers, 1-D arrays or a mapping of them")
        for metric, v in items:
            rows.append({**base, "time": t, "species": str(label), "metric": metric, "value": v, "run": side})
    return rows
