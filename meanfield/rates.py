"""Convergence rates: least-squares slopes in log-log coordinates with confidence intervals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["RateFit", "fit_rate"]


@dataclass(frozen=True)
class RateFit:
    """``error ~ C * h**slope``; ``ci`` is the two-sided confidence interval of the slope."""

    slope: float
    intercept: float
    ci: tuple
    level: float
    n_points: int

    def prefactor(self) -> float:
        """``C = exp(intercept)`` in ``error ~ C * h**slope``."""
        return float(np.exp(self.intercept))

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in the confidence interval of the slope."""
        return self.ci[0] <= value <= self.ci[1]

    def __str__(self):
        pct = round(100 * self.level)
        return f"{self.slope:.3f} ({pct}% CI [{self.ci[0]:.3f}, {self.ci[1]:.3f}], {self.n_points} points)"


def fit_rate(h, errors, level: float = 0.95) -> RateFit:
    """Fit ``log(error) = intercept + slope * log(h)`` by least squares.

    ``h`` is the refinement parameter (N, 1/N, dx, dt, ...); several errors per ``h`` (seeds)
    are allowed, each a separate point. The confidence interval uses Student's t with
    ``n_points - 2`` degrees of freedom; with exactly two distinct points it is ``(slope, slope)``
    only if the points are exact, otherwise infinite.
    """
    h = np.asarray(h, dtype=float).ravel()
    e = np.asarray(errors, dtype=float).ravel()
    if h.shape != e.shape:
        raise ValueError(f"h and errors must have the same length, got {h.size} and {e.size}")
    if np.any(h <= 0) or np.any(e <= 0) or not (np.all(np.isfinite(h)) and np.all(np.isfinite(e))):
        raise ValueError("h and errors must be positive and finite to fit a log-log slope")
    if np.unique(h).size < 2:
        raise ValueError("need at least two distinct values of h to fit a rate")
    x, y = np.log(h), np.log(e)
    n = x.size
    res = stats.linregress(x, y)
    if n > 2:
        tq = stats.t.ppf(0.5 + level / 2, n - 2)
        half = tq * res.stderr
    else:
        half = 0.0 if np.isclose(res.rvalue**2, 1.0) else np.inf
    return RateFit(float(res.slope), float(res.intercept), (float(res.slope - half), float(res.slope + half)), level, n)
