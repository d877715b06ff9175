"""Distances between measures: Wasserstein W_p and the dual bounded-Lipschitz norm.

Both accept :class:`~meanfield.measures.EmpiricalMeasure`, :class:`~meanfield.measures.GridDensity`
and :class:`~meanfield.measures.IntervalDensity1D` in any mix, on R^d or on a torus.
"""

from .bounded_lipschitz import bounded_lipschitz, bounded_lipschitz_1d, bounded_lipschitz_ot
from .wasserstein import wasserstein, wasserstein_1d, wasserstein_circle, wasserstein_ot

__all__ = [
    "bounded_lipschitz",
    "bounded_lipschitz_1d",
    "bounded_lipschitz_ot",
    "wasserstein",
    "wasserstein_1d",
    "wasserstein_circle",
    "wasserstein_ot",
]
