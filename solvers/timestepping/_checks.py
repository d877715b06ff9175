"""Argument checks shared by the steppers."""

import numpy as np


def positive(name, value):
    v = float(value)
    if not (np.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return v


def output_times(t_end, times):
    t_end = positive("t_end", t_end)
    out = np.array([t_end] if times is None else times, dtype=float)
    if out.ndim != 1 or out.size == 0 or not np.all(np.isfinite(out)):
        raise ValueError(f"times must be a non-empty 1-D list of finite numbers, got {times!r}")
    if np.any(out < 0) or np.any(out > t_end) or np.any(np.diff(out) <= 0):
        raise ValueError(f"times must increase strictly within [0, t_end={t_end}], got {out.tolist()}")
    return t_end, out
