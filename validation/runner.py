"""Run the validation modules and write one report folder.

Each paper has a module ``validation/<name>.py`` exposing ``run(outdir, quick) -> PaperReport``
(see :mod:`validation.claims`). :func:`run_validation` runs the chosen ones, each into its own
sub-folder, and writes

* ``report.md``: a pass/fail table per claim with the measured numbers, the figures, the data files;
* ``summary.json``: the same, machine-readable.

A module that is missing or raises becomes a failed row carrying the error, not a crash.
"""

from __future__ import annotations

import importlib
import json
import os
import tempfile
import time
import traceback
from pathlib import Path

from validation.claims import Claim, PaperReport

__all__ = ["PAPERS", "resolve_papers", "run_validation", "write_report"]

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


def run_one(module: str, outdir: Path, quick: bool) -> tuple[PaperReport, float]:
    """Run ``validation/<module>.py`` into ``outdir/<module>``; errors become a failed report."""
    sub = outdir / module
    sub.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        mod = importlib.import_module(f"validation.{module}")
    except ModuleNotFoundError as exc:
        if exc.name == f"validation.{module}":
            return _failed_report(module, f"not implemented yet: no validation/{module}.py"), 0.0
        return _failed_report(module, traceback.format_exc(limit=3)), time.perf_counter() - t0
    try:
        report = mod.run(sub, quick=quick)
    except Exception:  # a failing paper must not hide the others
        return _failed_report(module, traceback.format_exc(limit=5)), time.perf_counter() - t0
    return report, time.perf_counter() - t0


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def write_report(results, outdir: Path, quick: bool) -> None:
    """``report.md`` and ``summary.json`` for ``results = [(module, PaperReport, seconds), ...]``."""
    lines = [
        "# meanfield validation report",
        "",
        f"Mode: {'quick' if quick else 'full'}. Each claim is a number measured in this run and the band it "
        "had to fall in; the source column names the paper's equation or the notes' section.",
        "",
        "| paper | module | claims passed | time (s) |",
        "|---|---|---|---|",
    ]
    for module, rep, secs in results:
        ok = sum(c.passed for c in rep.claims)
        lines.append(f"| {rep.paper} | {module} | {ok}/{len(rep.claims)} {'PASS' if rep.passed else 'FAIL'} | {secs:.1f} |")
    summary = []
    for module, rep, secs in results:
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
                "seconds": round(secs, 2),
                "claims": [c.as_row() for c in rep.claims],
                "figures": [str(f) for f in rep.figures],
                "data": [str(d) for d in rep.data],
                "notes": rep.notes,
            }
        )
    _atomic_write(outdir / "report.md", "\n".join(lines) + "\n")
    _atomic_write(outdir / "summary.json", json.dumps({"quick": quick, "papers": summary}, indent=2, default=float) + "\n")


def run_validation(papers=None, outdir="validation-report", quick: bool = True, on_start=None, on_done=None):
    """Run the chosen papers' validations into ``outdir``; returns ``[(module, PaperReport, seconds)]``.

    ``on_start(module)`` and ``on_done(module, report)`` are optional progress callbacks.
    """
    modules = resolve_papers(papers)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    results = []
    for module in modules:
        if on_start is not None:
            on_start(module)
        report, secs = run_one(module, outdir, quick)
        results.append((module, report, secs))
        if on_done is not None:
            on_done(module, report)
        write_report(results, outdir, quick)  # a partial report survives an interruption
    return results
