"""meanfield: particle systems, their mean-field PDE limits, and the distances between them.

``import meanfield`` loads NumPy and the measures only (``python -X importtime -c "import meanfield"``);
the subpackages, and with them SciPy, pyFFTW, xarray, POT, numba, dask and matplotlib, load on first use:
``import meanfield.models`` or the attribute ``meanfield.models`` (PEP 562).
"""

import importlib

__version__ = "0.1.0"

from meanfield import measures  # noqa: F401 - public re-export
from meanfield.measures import Domain, EmpiricalMeasure, GridDensity, IntervalDensity1D  # noqa: F401 - public re-exports

_SUBMODULES = frozenset({"cli", "floors", "io", "metrics", "models", "observers", "pairings", "particles", "plot",
                         "rates", "solvers", "store", "study", "study_inputs", "validation"})


def __getattr__(name):
    """Subpackages on first attribute access (``meanfield.models``), so the bare import stays light."""
    if name in _SUBMODULES:
        return importlib.import_module(f"meanfield.{name}")
    raise AttributeError(f"module 'meanfield' has no attribute {name!r}")
