"""Distances between measures: Wasserstein W_p and the dual bounded-Lipschitz norm.

Both accept :class:`~meanfield.measures.EmpiricalMeasure`, :class:`~meanfield.measures.GridDensity`
and :class:`~meanfield.measures.IntervalDensity1D` in any mix, on R^d or on a torus.
In 2-D and 3-D, :mod:`~meanfield.metrics.transport_bounds` returns certified brackets
``lower <= distance <= upper`` at sizes where exact transport over all atom pairs does not fit.
"""

from .bounded_lipschitz import bounded_lipschitz, bounded_lipschitz_1d, bounded_lipschitz_ot
from .semidiscrete import semidiscrete_bracket
from .transport_bounds import Bracket, bounded_lipschitz_bracket, wasserstein_bracket
from .wasserstein import wasserstein, wasserstein_1d, wasserstein_circle, wasserstein_ot

__all__ = [
    "Bracket",
    "bounded_lipschitz",
    "bounded_lipschitz_1d",
    "bounded_lipschitz_bracket",
    "bounded_lipschitz_ot",
    "semidiscrete_bracket",
    "wasserstein",
    "wasserstein_1d",
    "wasserstein_bracket",
    "wasserstein_circle",
    "wasserstein_ot",
]
