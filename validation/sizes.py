"""Run sizes of a validation module: quick, full, or (tests only) ``MEANFIELD_VALIDATION_SIZE=tiny``."""

from __future__ import annotations

import os

import numpy as np

__all__ = ["chosen_sizes", "time_index"]


def chosen_sizes(table: dict, quick: bool) -> dict:
    """``table["quick"]`` or ``table["full"]``, or the entry named by ``MEANFIELD_VALIDATION_SIZE``."""
    chosen = os.environ.get("MEANFIELD_VALIDATION_SIZE", "")
    if chosen and chosen not in table:
        raise ValueError(f"MEANFIELD_VALIDATION_SIZE must be one of {sorted(table)}, got {chosen!r}")
    return dict(table[chosen or ("quick" if quick else "full")])


def time_index(times, t) -> int:
    """Index of the output time nearest ``t``."""
    return int(np.argmin(np.abs(np.asarray(times) - t)))
