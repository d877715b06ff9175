"""One module per paper. Model classes are imported lazily so that one model's compile-time
cost (numba) is paid only when that model is used.

* ``SignedCoulomb2D`` (module ``coulomb2d``): paper 000, van Meurs-Peletier-Slangen;
* ``Annihilation1D`` (``annihilation1d``): paper 001, van Meurs-Morandotti;
* ``Newtonian1D`` (``newtonian1d``): paper 002, Di Francesco-Esposito-Schmidtchen;
* ``Dislocations2D`` (``dislocations``): paper 003, Hudson-van Meurs-Peletier;
* ``CoagulationDiffusion`` (``smoluchowski``): paper 004, Hammond-Rezakhanlou.
"""

import importlib

_REGISTRY = {
    "SignedCoulomb2D": "coulomb2d",
    "Annihilation1D": "annihilation1d",
    "Newtonian1D": "newtonian1d",
    "Dislocations2D": "dislocations",
    "CoagulationDiffusion": "smoluchowski",
}

__all__ = list(_REGISTRY)


def __getattr__(name):
    if name in _REGISTRY:
        module = importlib.import_module(f"meanfield.models.{_REGISTRY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'meanfield.models' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
