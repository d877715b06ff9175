"""Run the validation modules and write one report folder.

Each paper has a module ``validation/<name>.py`` declared as studies: it exposes

* ``PAPER`` ("000" … "004") and ``TITLE``;
* ``studies(quick) -> {name: Study}``;
* ``claims(tables, quick) -> [Claim]`` computed from the studies' tables;
* ``figures(declared, tables, quick, outdir) -> [path]`` and ``data_files(declared, tables, quick, outdir)
  -> [path]``, written into ``outdir``;
* ``notes(declared, quick) -> str``, the sizes and settings stated under the paper's table;

and :func:`run_paper` turns these parts into a :class:`~meanfield.validation.claims.PaperReport` (the one
body every paper shares); a module's ``run = paper_runner(__name__)`` keeps ``module.run(outdir, quick,
workers=..., executor=..., store=...)`` for callers. :func:`run_validation` runs the chosen papers, each
into its own sub-folder, and writes

* ``report.md``: a pass/fail table per claim with the measured numbers, the figures, the data files;
* ``summary.json``: the same, machine-readable;
* ``timings.json``: wall time per paper and how the studies were executed (kept out of the report,
  which depends only on the numbers).

The studies get the execution settings: ``workers=k`` local processes or ``executor`` (a ``dask.distributed`` client or
scheduler address, connected once for all papers), and ``store``, a folder in which each paper keeps
its studies' finished tasks (``store/<module>/<study>``) so that a killed run resumes where it
stopped. Their tables, and so the report, are the same whatever executes them. A module with only a
``run(outdir, quick)`` (no ``studies``) runs in-process and ignores these settings.

A module that is missing or raises becomes a failed row carrying the error, not a crash.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import time
import traceback
from pathlib import Path

from meanfield.validation.claims import Claim, PaperReport

__all__ = ["PAPERS", "paper_runner", "resolve_papers", "run_paper", "run_validation", "write_report"]

# paper number -> module name in validation/
PAPERS = {
    "000": "coulomb2d",
    "001": "annihilation1d",
    "002": "newtonian1d",
    "003": "dislocations",
    "004": "smoluchowski",
}


def resolve_papers(names) -> list[str]:
    """Module names for paper numbers or module names; all papers when ``names`` is empty."""
    if not names:
        return list(PAPERS.values())
    out = []
    for name in names:
        key = str(name).strip()
        if key in PAPERS:
            out.append(PAPERS[key])
        elif key in PAPERS.values():
            out.append(key)
        else:
            choices = ", ".join(f"{k} ({v})" for k, v in PAPERS.items())
            raise ValueError(f"unknown paper {name!r}; choose from {choices}")
    return out


def _failed_report(module: str, error: str) -> PaperReport:
    paper = next((k for k, v in PAPERS.items() if v == module), "?")
    claim = Claim(name="module_ran", statement=f"validation/{module}.py runs", measured=error, passed=False)
    return PaperReport(paper=paper, title=module, claims=[claim], notes=error)


_EXECUTION = ("workers", "executor", "store")
_PARTS = ("PAPER", "TITLE", "studies", "claims", "figures", "data_files", "notes")


def declared_as_studies(mod) -> bool:
    """Does the module expose the parts :func:`run_paper` assembles (module docstring)?"""
    return all(hasattr(mod, name) for name in _PARTS)


def run_paper(mod, outdir, quick: bool = True, *, workers=None, executor=None, store=None) -> PaperReport:
    """Run a paper module's studies (:func:`~meanfield.study.run_studies` with ``workers``/``executor``/
    ``store``), compute its claims from their tables, write its figures and data files into ``outdir``.

    ``mod`` is a module (or any object) with the parts listed in the module docstring; a missing part is
    a ValueError naming it (before any work)."""
    from meanfield.study import run_studies

    missing = [name for name in _PARTS if not hasattr(mod, name)]
    if missing:
        raise ValueError(f"the validation module {getattr(mod, '__name__', mod)!r} lacks {missing}: see "
                         "meanfield.validation.runner")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    declared = mod.studies(quick)
    tables = run_studies(declared, workers, executor, store)
    found = mod.claims(tables, quick)
    figures = mod.figures(declared, tables, quick, outdir)
    data = mod.data_files(declared, tables, quick, outdir)
    return PaperReport(mod.PAPER, mod.TITLE, found, figures, data, mod.notes(declared, quick))


def paper_runner(module_name: str):
    """``run(outdir, quick=True, *, workers=None, executor=None, store=None) -> PaperReport`` for the module
    ``module_name``: :func:`run_paper` on it (write ``run = paper_runner(__name__)`` in the module)."""

    def run(outdir, quick: bool = True, *, workers=None, executor=None, store=None) -> PaperReport:
        return run_paper(importlib.import_module(module_name), outdir, quick, workers=workers, executor=executor,
                         store=store)

    run.__doc__ = (f"Run the studies of ``{module_name}``, compute the claims, write the figures and data "
                   "files into ``outdir`` (:func:`meanfield.validation.runner.run_paper`).")
    run.__module__ = module_name
    return run


def accepts_execution(run) -> bool:
    """Does a module's ``run`` take the execution settings (``workers``, ``executor``, ``store``)?"""
    try:
        params = inspect.signature(run).parameters
    except (TypeError, ValueError):
        return False
    return all(name in params for name in _EXECUTION)


def run_one(module: str, outdir: Path, quick: bool, workers=None, executor=None, store=None
            ) -> tuple[PaperReport, float]:
    """Run ``validation/<module>.py`` into ``outdir/<module>``; errors become a failed report.

    ``workers``, ``executor`` and ``store`` (a folder; the module uses ``store/<module>``) reach the
    studies of a module declared as studies (:func:`run_paper`), or a plain ``run`` that accepts them
    (:func:`accepts_execution`)."""
    sub = outdir / module
    sub.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        mod = importlib.import_module(f"meanfield.validation.{module}")
    except ModuleNotFoundError as exc:
        if exc.name == f"meanfield.validation.{module}":
            return _failed_report(module, f"not implemented yet: no validation/{module}.py"), 0.0
        return _failed_report(module, traceback.format_exc(limit=3)), time.perf_counter() - t0
    execution = {"workers": workers, "executor": executor, "store": None if store is None else Path(store) / module}
    try:
        if declared_as_studies(mod):
            report = run_paper(mod, sub, quick, **execution)
        else:
            report = mod.run(sub, quick=quick, **(execution if accepts_execution(mod.run) else {}))
    except Exception:  # a failing paper must not hide the others
        return _failed_report(module, traceback.format_exc(limit=5)), time.perf_counter() - t0
    return report, time.perf_counter() - t0


def _atomic_write(path: Path, text: str) -> None:
    from meanfield.io import write_text

    write_text(path, text)


def _relative(path, outdir: Path) -> str:
    """``path`` relative to the report folder (so the report does not depend on where it was written)."""
    return os.path.relpath(Path(path).resolve(), outdir.resolve())


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def write_report(results, outdir: Path, quick: bool, execution: str = "in-process") -> None:
    """``report.md``, ``summary.json`` (the numbers only: the same whatever executed the studies) and
    ``timings.json`` for ``results = [(module, PaperReport, seconds), ...]``."""
    lines = [
        "# meanfield validation report",
        "",
        f"Mode: {'quick' if quick else 'full'}. Each claim is a number measured in this run and the band it "
        "had to fall in; the source column names the paper's equation, theorem or section.",
        "",
        "| paper | module | claims passed |",
        "|---|---|---|",
    ]
    for module, rep, _ in results:
        ok = sum(c.passed for c in rep.claims)
        lines.append(f"| {rep.paper} | {module} | {ok}/{len(rep.claims)} {'PASS' if rep.passed else 'FAIL'} |")
    summary = []
    for module, rep, _ in results:
        lines += ["", f"## {rep.paper}: {_cell(rep.title)}", ""]
        lines += ["| claim | statement | measured | band | result | source |", "|---|---|---|---|---|---|"]
        for c in rep.claims:
            band = c.band_text()
            lines.append(
                f"| {_cell(c.name)} | {_cell(c.statement)} | {_cell(c.measured)} | {band} | "
                f"{'pass' if c.passed else '**FAIL**'} | {_cell(c.source)} |"
            )
        for fig in rep.figures:
            rel = os.path.relpath(Path(fig).resolve(), outdir.resolve())
            lines += ["", f"![{Path(fig).stem}]({rel})"]
        if rep.data:
            rels = ", ".join(f"`{os.path.relpath(Path(d).resolve(), outdir.resolve())}`" for d in rep.data)
            lines += ["", f"Data: {rels}"]
        if rep.notes:
            lines += ["", _cell(rep.notes)]
        summary.append(
            {
                "paper": rep.paper,
                "module": module,
                "title": rep.title,
                "passed": rep.passed,
                "claims": [c.as_row() for c in rep.claims],
                "figures": [_relative(f, outdir) for f in rep.figures],
                "data": [_relative(d, outdir) for d in rep.data],
                "notes": rep.notes,
            }
        )
    _atomic_write(outdir / "report.md", "\n".join(lines) + "\n")
    text = json.dumps({"quick": quick, "papers": summary}, indent=2, default=float)
    _atomic_write(outdir / "summary.json", text + "\n")
    timings = {"quick": quick, "execution": execution, "seconds": {m: round(secs, 2) for m, _, secs in results}}
    _atomic_write(outdir / "timings.json", json.dumps(timings, indent=2) + "\n")


def _describe(workers, executor) -> str:
    if executor is not None:
        if isinstance(executor, str):
            return f"dask {executor}"
        address = getattr(getattr(executor, "scheduler", None), "address", None)
        return f"dask {address if address else repr(executor)}"
    return f"{int(workers)} local processes" if workers is not None and int(workers) > 1 else "in-process"


def run_validation(papers=None, outdir="validation-report", quick: bool = True, on_start=None, on_done=None,
                   workers=None, executor=None, store=None):
    """Run the chosen papers' validations into ``outdir``; returns ``[(module, PaperReport, seconds)]``.

    ``on_start(module)`` and ``on_done(module, report)`` are optional progress callbacks. ``workers``,
    ``executor`` (a ``dask.distributed.Client`` or a scheduler address, connected once here) and
    ``store`` (a folder; see the module docstring) reach the modules declared as studies.
    """
    modules = resolve_papers(papers)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    execution = _describe(workers, executor)
    client, own = executor, False
    if isinstance(executor, str):
        from dask.distributed import Client

        client, own = Client(executor), True
    results = []
    try:
        for module in modules:
            if on_start is not None:
                on_start(module)
            report, secs = run_one(module, outdir, quick, workers, client, store)
            results.append((module, report, secs))
            if on_done is not None:
                on_done(module, report)
            write_report(results, outdir, quick, execution)  # a partial report survives an interruption
    finally:
        if own:
            client.close()
    return results
