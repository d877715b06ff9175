"""The shape of a validation result: claims checked against a paper, with their numbers.

Every ``validation/<paper>.py`` module exposes ``run(outdir: pathlib.Path, quick: bool = True)
-> PaperReport`` (converted modules also accept ``workers``, ``executor`` and ``store``, passed to
their studies): it writes its PNG figures and data files into ``outdir`` and returns the claims it
checked, each with the measured value, the band it had to fall in and pass/fail.

A claim's verdict is computed from its band: build it with :meth:`Claim.within`,
:meth:`Claim.at_most` or :meth:`Claim.at_least`, and ``passed`` is ``low <= value <= high`` (an
end may be open). The plain constructor is kept for modules that decide ``passed`` themselves; when
such a claim also carries a value and a band, a ``passed`` that disagrees with them is refused
(``ValueError``), so the report can never show a band the verdict ignored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Claim", "PaperReport"]


def _number(name: str, value) -> float:
    if isinstance(value, bool) or (not isinstance(value, (int, float)) and not hasattr(value, "__float__")):
        raise TypeError(f"claim {name!r}: the value must be a real number, got {value!r}")
    return float(value)


def _in_band(value: float, band: tuple, closed: tuple) -> bool:
    low, high = band
    above = value >= low if closed[0] else value > low
    below = value <= high if closed[1] else value < high
    return bool(above and below)  # False for NaN


class Claim:
    """One checkable statement with the number measured for it and the band it must fall in.

    Parameters
    ----------
    name, statement : str
        Identifier (unique within a paper) and what is claimed, in words.
    measured : str
        The measurement as shown in the report (numbers with context).
    passed : bool, optional
        Only for claims without a band (or legacy code): when ``value`` and ``band`` are given the
        verdict is ``value`` in ``band`` and an explicit ``passed`` must agree with it.
    value : float, optional
        The number the verdict is computed from.
    band : (low, high), optional
        Allowed range of ``value``; ``closed`` says whether each end belongs to it.
    source : str
        The paper's equation, theorem or section the claim comes from.
    """

    def __init__(self, name, statement, measured="", passed=None, value=None, band=None, source="",
                 closed=(True, True)):
        self.name, self.statement, self.measured, self.source = str(name), str(statement), str(measured), str(source)
        self.closed = (bool(closed[0]), bool(closed[1]))
        if band is not None:
            if len(band) != 2:
                raise ValueError(f"claim {name!r}: band must be (low, high), got {band!r}")
            band = (_number(name, band[0]), _number(name, band[1]))
            if not band[0] <= band[1]:
                raise ValueError(f"claim {name!r}: band must have low <= high, got {band!r}")
        self.band = band
        self.value = None if value is None else _number(name, value)
        self._explicit = None
        if self.derived is None and passed is None:
            raise ValueError(f"claim {name!r}: give a value and a band (the verdict is computed from them) "
                             "or an explicit passed")
        if passed is not None:
            self.passed = passed

    # --- constructors whose verdict is computed from the band --------------------------------------------
    @classmethod
    def within(cls, name, statement, value, band, source="", measured=None, closed=(True, True)) -> Claim:
        """``passed = low <= value <= high`` (``closed`` makes an end open); ``measured`` defaults to the value."""
        if band is None:
            raise ValueError(f"claim {name!r}: within needs a band (low, high)")
        v = _number(name, value)
        return cls(name, statement, f"{v:.6g}" if measured is None else measured, None, v, band, source, closed)

    @classmethod
    def at_most(cls, name, statement, value, bound, source="", measured=None, strict=False) -> Claim:
        """``passed = value <= bound`` (``value < bound`` with ``strict``)."""
        return cls.within(name, statement, value, (-math.inf, bound), source, measured, (True, not strict))

    @classmethod
    def at_least(cls, name, statement, value, bound, source="", measured=None, strict=False) -> Claim:
        """``passed = value >= bound`` (``value > bound`` with ``strict``)."""
        return cls.within(name, statement, value, (bound, math.inf), source, measured, (not strict, True))

    # --- the verdict ---------------------------------------------------------------------------------------
    @property
    def derived(self) -> bool | None:
        """``value`` in ``band``, or ``None`` when the claim has no value or no band."""
        if self.value is None or self.band is None:
            return None
        return _in_band(self.value, self.band, self.closed)

    @property
    def passed(self) -> bool:
        """The band's verdict, and the explicit one where a module gave it: a claim never passes outside
        its band; a compound claim (its value in band, another stated condition not met) may fail."""
        derived = self.derived
        explicit = True if self._explicit is None else bool(self._explicit)
        return (derived and explicit) if derived is not None else explicit

    @passed.setter
    def passed(self, verdict) -> None:
        verdict = None if verdict is None else bool(verdict)
        if verdict and self.derived is False:
            raise ValueError(
                f"claim {self.name!r}: passed={verdict} contradicts value {self.value!r} and band "
                f"{self.band_text()}; build it with Claim.within so the verdict follows from the band")
        self._explicit = verdict

    def band_text(self) -> str:
        if self.band is None:
            return ""
        left, right = ("[" if self.closed[0] else "("), ("]" if self.closed[1] else ")")
        return f"{left}{self.band[0]:.4g}, {self.band[1]:.4g}{right}"

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

    def __eq__(self, other):
        if not isinstance(other, Claim):
            return NotImplemented
        return self.as_row() == other.as_row() and self.closed == other.closed

    __hash__ = None  # type: ignore[assignment]  # mutable and compared by value: unhashable, as a dataclass(eq=True)

    def __repr__(self):
        return (f"Claim({self.name!r}, value={self.value!r}, band={self.band_text() or None}, "
                f"passed={self.passed})")


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
