"""Rate fits of the validation reports with their two floors.

Every particle-vs-continuum distance of a study carries, when the study has floors
(:mod:`meanfield.floors`, docs/theory/distances.md "Floors of a convergence study"), the **sampling
floor** (the same distance for i.i.d. samples of the continuum solution, as many as the particles)
and the **discretisation floor** (the continuum reference against one at twice its resolution). A
validation claim fits its rate through :func:`floored_fit`, which applies the rule of
:func:`meanfield.study.fit_rates`: a point whose distance is below :data:`REFERENCE_FACTOR` times its
discretisation floor is left out (the continuum, not the particles, limits it there), and says which
points it used and why (:meth:`FlooredFit.describe`, the text of the claim's "measured" column). The
sampling floor's own rate is fitted on the same points: the i.i.d. rate the particles' one compares with.

:func:`summed_floors` sums a distance and its floors over species; :func:`meanfield.study.floor_curves`
of its frame is the ``floors=`` argument of :func:`meanfield.plot.plot_rate`, which draws them dashed
in the series' colour in every report rate figure.

``REFERENCE_FACTOR = 3`` (ours): for a scheme of order ``p ≥ 1`` the floor is ``(1 − 2^{-p})`` times the
reference's own error, so at a kept point the reference's error is at most ``2/3`` of the distance
(``1/3`` for ``p`` large): the distance is the particles' to within that share.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from meanfield.floors import COLUMNS
from meanfield.rates import RateFit, fit_rate

__all__ = ["REFERENCE_FACTOR", "FlooredFit", "floored_fit", "summed_floors"]

REFERENCE_FACTOR = 3.0


def _fmt(values) -> str:
    return "[" + ", ".join(f"{v:g}" for v in sorted(set(np.asarray(values, dtype=float).tolist()))) + "]"


@dataclass(frozen=True)
class FlooredFit:
    """A rate fit on the points the discretisation floor does not limit.

    ``fit``: the particles' fit on the kept points; ``x_used``/``x_left``: the ``x`` values kept and
    left out (one entry per point); ``sampling``: the sampling floor's fit on the kept points (None
    without a sampling floor); ``has_discretisation``: whether a discretisation floor was given."""

    fit: RateFit
    x_used: tuple
    x_left: tuple
    factor: float
    sampling: RateFit | None = None
    has_discretisation: bool = False
    x_name: str = "n"

    @property
    def slope(self) -> float:
        return self.fit.slope

    def describe(self) -> str:
        """The fit, the points it used and why, and the sampling floor's rate on the same points."""
        x = self.x_name
        if not np.isfinite(self.fit.slope):
            return (f"no rate: fewer than two {x} above {self.factor:g} × the discretisation floor (left out "
                    f"{x} = {_fmt(self.x_left)}); refine the continuum reference")
        parts = [f"slope {self.fit}"]
        if not self.has_discretisation:
            parts.append(f"points {x} = {_fmt(self.x_used)} (all; no discretisation floor)")
        elif self.x_left:
            parts.append(f"points {x} = {_fmt(self.x_used)}; left out {x} = {_fmt(self.x_left)} "
                         f"({len(self.x_left)} points): distance below {self.factor:g} × the discretisation floor")
        else:
            parts.append(f"points {x} = {_fmt(self.x_used)} (all: every distance ≥ {self.factor:g} × its "
                         "discretisation floor)")
        if self.sampling is not None:
            parts.append(f"sampling floor slope {self.sampling.slope:.3f} on the same points")
        return "; ".join(parts)


def floored_fit(x, values, sampling=None, discretisation=None, factor: float = REFERENCE_FACTOR,
                x_name: str = "n") -> FlooredFit:
    """Fit ``values ~ C x^slope`` leaving out the points with ``value < factor × discretisation``.

    ``sampling``, ``discretisation``: the floors of each point (same length as ``values``; NaN where a
    point has none), or None. When fewer than two distinct ``x`` remain the slope is NaN (a claim on it
    fails: the rate cannot be measured against this reference; :meth:`FlooredFit.describe` says so)."""
    x = np.asarray(x, dtype=float).ravel()
    v = np.asarray(values, dtype=float).ravel()
    if x.shape != v.shape:
        raise ValueError(f"x and values must have the same length, got {x.size} and {v.size}")
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not factor > 0:
        raise ValueError(f"factor must be a positive number, got {factor!r}")
    left = np.zeros(x.size, dtype=bool)
    if discretisation is not None:
        d = np.asarray(discretisation, dtype=float).ravel()
        if d.shape != v.shape:
            raise ValueError(f"discretisation must have one floor per point, got {d.size} for {v.size} points")
        left = np.isfinite(d) & (v < factor * d)
    if np.unique(x[~left]).size < 2:  # no rate can be measured against this reference: a NaN slope fails its claim
        nan = float("nan")
        return FlooredFit(RateFit(nan, nan, (nan, nan), 0.95, int((~left).sum())), tuple(x[~left].tolist()),
                          tuple(x[left].tolist()), float(factor), None, discretisation is not None, x_name)
    fit = fit_rate(x[~left], v[~left])
    samp = None
    if sampling is not None:
        s = np.asarray(sampling, dtype=float).ravel()
        if s.shape != v.shape:
            raise ValueError(f"sampling must have one floor per point, got {s.size} for {v.size} points")
        ok = ~left & np.isfinite(s) & (s > 0)
        if np.unique(x[ok]).size >= 2:
            samp = fit_rate(x[ok], s[ok])
    return FlooredFit(fit, tuple(x[~left].tolist()), tuple(x[left].tolist()), float(factor), samp,
                      discretisation is not None, x_name)


def summed_floors(table: pd.DataFrame, index, species, metric, time=None, scale: float = 1.0) -> pd.DataFrame:
    """The distance and its floors summed over ``species`` (times ``scale``, e.g. ½ for a mean), one row per
    ``index`` (e.g. ``["n", "seed"]``): columns ``value`` and, where the table has them,
    ``sampling_floor`` and ``discretisation_floor`` (a floor of a sum is bounded by the sum of the floors,
    by the triangle inequality)."""
    rows = table[(table["run"] == "pair") & (table["metric"] == metric) & table["species"].isin(list(species))]
    if time is not None:
        rows = rows[rows["time"] == time]
    cols = ["value"] + [c for c in COLUMNS.values() if c in rows.columns]
    return rows.groupby(list(index))[cols].sum(min_count=1).mul(scale).reset_index()
