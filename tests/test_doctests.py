"""The Examples of the docstrings run, and every public function and class of these modules has a
numpy-style docstring: a summary, its parameters, what it returns and an example. The modules: the
package's infrastructure, and the 1-D models (001 Annihilation1D, 002 Newtonian1D) with their particle
engines and continuum solvers."""

import doctest
import importlib
import inspect
from functools import cached_property

import pytest

MODULES = [
    "meanfield.cli",
    "meanfield.io",
    "meanfield.measures",
    "meanfield.observers",
    "meanfield.plot",
    "meanfield.rates",
    "meanfield.store",
    "meanfield.study",
    "meanfield.study_inputs",
    "meanfield.solvers.finite_volume",
    "meanfield.solvers.grids",
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
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    """Every ``>>>`` line of the module's docstrings gives the output written under it (each docstring
    runs in an empty temporary folder, where its files go)."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report = []
    for k, test in enumerate(finder.find(module, name, globs=dict(vars(module)))):
        folder = tmp_path / str(k)
        folder.mkdir()
        monkeypatch.chdir(folder)
        runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(report)
    assert result.attempted > 0, f"{name} has no examples"


def _public(module):
    """``(qualified name, object, kind)`` of the module's public functions and classes (``__all__``; a
    re-export from another module of :data:`MODULES` is checked there) and of the public methods and
    properties those classes define."""
    for attr in module.__all__:
        obj = getattr(module, attr)
        obj = getattr(obj, "py_func", obj)  # numba dispatchers: the Python function
        if not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue  # constants
        home = getattr(obj, "__module__", None)
        if home != module.__name__ and home in MODULES:
            continue
        yield f"{module.__name__}.{attr}", obj, "class" if inspect.isclass(obj) else "function"
        if not inspect.isclass(obj):
            continue
        for member, value in vars(obj).items():
            if member.startswith("_"):
                continue
            if isinstance(value, (property, cached_property)):
                yield f"{module.__name__}.{attr}.{member}", value, "property"
            elif inspect.isfunction(value) or isinstance(value, (classmethod, staticmethod)):
                yield f"{module.__name__}.{attr}.{member}", value, "method"


# numpydoc's checks, by kind of object (numpydoc.validate): GL08 docstring present, SS01 summary,
# PR01 every parameter documented, PR02 no unknown parameter documented, RT01 a Returns section,
# EX01 an Examples section (functions and classes; a class's example shows its methods)
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
    for qualname, _obj, kind in _public(module):
        errors = [f"{code} {msg}" for code, msg in validate(qualname)["errors"] if code in CHECKS[kind]]
        findings += [f"{qualname}: {e}" for e in errors]
    assert not findings, "\n".join(findings)
