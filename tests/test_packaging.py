"""Packaging: the numerics in solvers/ and the validation in validation/ are installed inside the package
(``meanfield.solvers``, ``meanfield.validation``; the folders are symlinked into meanfield/), so nothing
named ``solvers`` or ``validation`` lands in site-packages, and the numerics depend on nothing above them."""

import ast
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def _tracked_python_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [ROOT / line for line in out.stdout.split()]


def test_subpackages_are_symlinked_into_the_package():
    for name in ("solvers", "validation"):
        link = ROOT / "meanfield" / name
        assert link.is_symlink() and link.resolve() == (ROOT / name).resolve(), link


def test_no_module_imports_the_top_level_names():
    bad = [(p.relative_to(ROOT), m) for p in _tracked_python_files() for m in _imports(p)
           if m.split(".")[0] in ("solvers", "validation")]
    assert bad == []


def test_numerics_import_nothing_above_them():
    """The one-way rule: meanfield.solvers never imports models, particles, metrics, studies or validation."""
    files = sorted((ROOT / "solvers").rglob("*.py"))
    assert files
    bad = [(p.relative_to(ROOT), m) for p in files for m in _imports(p)
           if m.startswith("meanfield") and not m.startswith("meanfield.solvers")]
    assert bad == []


def test_the_package_finder_installs_only_meanfield():
    """The packages setuptools finds with pyproject's [tool.setuptools.packages.find] settings: the numerics
    and the validation inside meanfield (through the symlinks), nothing else at the top."""
    import tomllib

    from setuptools import find_packages

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    found = set(find_packages(where=str(ROOT), include=config["include"], exclude=config.get("exclude", ())))
    assert {p.split(".")[0] for p in found} == {"meanfield"}, sorted(found)
    assert {"meanfield.solvers", "meanfield.solvers.timestepping", "meanfield.validation"} <= found, sorted(found)
