"""meanfield: particle systems, their mean-field PDE limits, and the distances between them."""

__version__ = "0.1.0"

from meanfield import measures  # noqa: E402,F401
from meanfield.measures import Domain, EmpiricalMeasure, GridDensity, IntervalDensity1D  # noqa: E402,F401
