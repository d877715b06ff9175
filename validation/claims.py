"""The shape of a validation result: claims checked against a paper, with their numbers.

Every ``validation/<paper>.py`` module exposes ``run(outdir: pathlib.Path, quick: bool = True)
-> PaperReport``: it writes its PNG figures and data files into ``outdir`` and returns the
claims it checked, each with the measured value, the band it had to fall in and pass/fail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Claim", "PaperReport"]


@dataclass
class Claim:
    """One checkable statement. ``passed`` is decided by the module from ``value`` and ``band``."""

    name: str
    statement: str
    measured: str
    passed: bool
    value: float | None = None
    band: tuple | None = None
    source: str = ""  # equation / theorem / notes section the claim comes from

    def as_row(self) -> dict:
        return {
            "claim": self.name,
            "statement": self.statement,
            "measured": self.measured,
            "value": self.value,
            "band": None if self.band is None else list(self.band),
            "passed": bool(self.passed),
            "source": self.source,
        }


@dataclass
class PaperReport:
    paper: str  # "000" .. "004"
    title: str
    claims: list = field(default_factory=list)
    figures: list = field(default_factory=list)  # paths of PNG files written into outdir
    data: list = field(default_factory=list)  # paths of data files (csv, nc) written into outdir
    notes: str = ""

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.claims)

    def figure_paths(self) -> list:
        return [Path(p) for p in self.figures]
