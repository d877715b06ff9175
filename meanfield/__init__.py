"""meanfield: particle systems, their mean-field PDE limits, and the distances between them."""

__version__ = "0.1.0"

from meanfield import measures  # noqa: F401 - public re-export
from meanfield.measures import Domain, EmpiricalMeasure, GridDensity, IntervalDensity1D  # noqa: F401 - public re-exports
