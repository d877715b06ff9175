"""The Examples of the docstrings of the 1-D models (001 Annihilation1D, 002 Newtonian1D), their particle
engines and their continuum solvers run and print what they show (issue 19), and every public function and
class of these modules has a numpy-style docstring."""

import doctest
import importlib
import inspect
from functools import cached_property

import pytest

MODULES = [
    "meanfield.models.annihilation1d",
    "meanfield.models.newtonian1d",
    "meanfield.models.initial1d",
    "meanfield.particles.annihilation_events1d",
    "meanfield.particles.annihilation_forces1d",
    "meanfield.particles.annihilation_potentials1d",
    "meanfield.particles.sticky_clusters1d",
    "meanfield.particles.sticky_events1d",
    "meanfield.solvers.active_transport1d",
    "meanfield.solvers.quantile_flow1d",
    "meanfield.solvers.upwind_cdf_velocity1d",
]

FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    """``doctest.testmod`` over the module: no example fails, and the module has examples."""
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=FLAGS, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed"
    assert result.attempted > 0, f"{name} has no examples"


def _public(module):
    """``(qualified name, kind)`` of the module's public functions and classes defined in it (``__all__``;
    re-exports are checked in their own module) and of the public methods and properties of those classes."""
    for attr in module.__all__:
        obj = getattr(module, attr)
        target = getattr(obj, "py_func", obj)  # numba dispatchers: the Python function
        if not (inspect.isfunction(target) or inspect.isclass(target)):
            continue  # constants
        if getattr(target, "__module__", None) != module.__name__:
            continue
        yield f"{module.__name__}.{attr}", "class" if inspect.isclass(target) else "function"
        if not inspect.isclass(target):
            continue
        for member, value in vars(target).items():
            if member.startswith("_"):
                continue
            if isinstance(value, (property, cached_property)):
                yield f"{module.__name__}.{attr}.{member}", "property"
            elif inspect.isfunction(value) or isinstance(value, (classmethod, staticmethod)):
                yield f"{module.__name__}.{attr}.{member}", "method"


# numpydoc's checks by kind of object (numpydoc.validate): GL08 docstring present, SS01 summary, PR01 every
# parameter documented, PR02 no unknown parameter documented, RT01 a Returns section, EX01 an Examples section
CHECKS = {
    "function": {"GL08", "SS01", "PR01", "PR02", "RT01", "EX01"},
    "class": {"GL08", "SS01", "PR01", "PR02", "EX01"},
    "method": {"GL08", "SS01", "PR01", "PR02", "RT01"},
    "property": {"GL08", "SS01"},
}


@pytest.mark.parametrize("name", MODULES)
def test_public_names_have_numpy_style_docstrings(name):
    validate = pytest.importorskip("numpydoc.validate").validate
    module = importlib.import_module(name)
    findings = []
    for qualname, kind in _public(module):
        errors = [f"{code} {msg}" for code, msg in validate(qualname)["errors"] if code in CHECKS[kind]]
        findings += [f"{qualname}: {e}" for e in errors]
    assert not findings, "\n".join(findings)
