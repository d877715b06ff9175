"""Convergence rates: least-squares slopes in log-log coordinates with confidence intervals.

Every convergence claim of the validation (``docs/user-guide/validation.md``) is a slope fitted by
:func:`fit_rate`, accepted when its confidence interval lies in the band the theory page of the paper
states (``docs/theory/``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from meanfield.models.base import check_in_range

__all__ = ["RateFit", "fit_rate"]


@dataclass(frozen=True)
class RateFit:
    """A fitted rate ``error ~ C * h**slope``, as :func:`fit_rate` returns it.

    Parameters
    ----------
    slope : float
        The least-squares slope of ``log(error)`` against ``log(h)``.
    intercept : float
        ``log(C)``.
    ci : tuple of float
        The two-sided confidence interval ``(low, high)`` of the slope.
    level : float
        The confidence level of ``ci`` (e.g. 0.95).
    n_points : int
        The number of points fitted.

    Examples
    --------
    >>> fit = RateFit(slope=-0.5, intercept=0.0, ci=(-0.6, -0.4), level=0.95, n_points=6)
    >>> fit.prefactor(), fit.contains(-0.5), fit.contains(-1.0)
    (1.0, True, False)
    >>> print(fit)
    -0.500 (95% CI [-0.600, -0.400], 6 points)
    """

    slope: float
    intercept: float
    ci: tuple
    level: float
    n_points: int

    def prefactor(self) -> float:
        """The prefactor ``C = exp(intercept)`` in ``error ~ C * h**slope``.

        Returns
        -------
        float
        """
        return float(np.exp(self.intercept))

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in the confidence interval of the slope (ends included).

        Parameters
        ----------
        value : float
            A slope, e.g. the rate a theorem predicts.

        Returns
        -------
        bool
        """
        return self.ci[0] <= value <= self.ci[1]

    def __str__(self):
        pct = round(100 * self.level)
        return f"{self.slope:.3f} ({pct}% CI [{self.ci[0]:.3f}, {self.ci[1]:.3f}], {self.n_points} points)"


def fit_rate(h: ArrayLike, errors: ArrayLike, level: float = 0.95) -> RateFit:
    """Fit ``log(error) = intercept + slope * log(h)`` by least squares.

    Parameters
    ----------
    h : array_like
        The refinement parameter of each point (N, 1/N, dx, dt, ...), positive and finite. Several
        errors per ``h`` (seeds) are allowed, each a separate point.
    errors : array_like
        The errors, positive and finite, as many as ``h``.
    level : float, default 0.95
        The confidence level of the interval, in (0, 1).

    Returns
    -------
    RateFit
        The slope, the intercept and the confidence interval of the slope: Student's t with
        ``n_points - 2`` degrees of freedom; with exactly two points it is ``(slope, slope)`` if they
        lie exactly on a line, otherwise infinite.

    Raises
    ------
    ValueError
        If ``h`` and ``errors`` differ in length, hold a value that is not positive and finite, or
        ``h`` has fewer than two distinct values, or ``level`` is not in (0, 1).
    TypeError
        If ``level`` is not a real number.

    Examples
    --------
    >>> import numpy as np
    >>> n = np.array([100, 200, 400, 800, 1600])
    >>> fit = fit_rate(n, 2.0 * n**-0.5 * np.array([1.05, 0.95, 1.05, 0.95, 1.05]))
    >>> print(fit)
    -0.500 (95% CI [-0.592, -0.408], 5 points)
    >>> fit.contains(-0.5), fit.contains(-1.0)
    (True, False)
    """
    level = check_in_range("level", level, 0.0, 1.0, low_open=True, high_open=True)
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
