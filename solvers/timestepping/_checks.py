"""Argument checks shared by the steppers and the driver."""

from __future__ import annotations

import numbers

import numpy as np

# An output time ``t_out`` counts as reached once ``t_out - t <= TIME_TOL * max(1, |t_out|)``: the
# one end-of-interval tolerance of the package (well above the round-off of summing ~10^7 steps of
# similar size, well below any step a stated rule would take).
TIME_TOL = 1e-12

# Cap on the steps of one run (accepted + rejected), overridable per call.
DEFAULT_MAX_STEPS = 10**7

# rtol below this cannot be delivered in float64 (scipy's solve_ivp uses the same floor).
RTOL_FLOOR = 100 * np.finfo(float).eps


def real_number(name, value) -> float:
    """``float(value)`` for a real number; TypeError naming ``name`` for strings, None, complex, bools."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    return float(value)


def positive(name, value) -> float:
    v = real_number(name, value)
    if not (np.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return v


def non_negative(name, value) -> float:
    v = real_number(name, value)
    if not (np.isfinite(v) and v >= 0):
        raise ValueError(f"{name} must be a non-negative finite number, got {value!r}")
    return v


def positive_int(name, value) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def tolerances(rtol, atol) -> tuple[float, float]:
    """Check ``rtol`` (at least :data:`RTOL_FLOOR`) and ``atol`` (non-negative)."""
    rtol = positive("rtol", rtol)
    if rtol < RTOL_FLOOR:
        raise ValueError(f"rtol must be at least {RTOL_FLOOR:.3g} (100 machine epsilons: float64 cannot deliver "
                         f"less), got {rtol!r}")
    return rtol, non_negative("atol", atol)


def output_times(t_end, times, t0=0.0):
    """``(t_end, times)`` with ``times`` (default ``[t_end]``) strictly increasing in ``[t0, t_end]``."""
    t_end = positive("t_end", t_end) if t0 == 0.0 else real_number("t_end", t_end)
    if not (np.isfinite(t_end) and t_end > t0):
        raise ValueError(f"t_end must be finite and greater than t0={t0}, got {t_end!r}")
    out = np.array([t_end] if times is None else times, dtype=float)
    if out.ndim != 1 or out.size == 0 or not np.all(np.isfinite(out)):
        raise ValueError(f"times must be a non-empty 1-D list of finite numbers, got {times!r}")
    if np.any(out < t0) or np.any(out > t_end) or np.any(np.diff(out) <= 0):
        raise ValueError(f"times must increase strictly within [{t0}, t_end={t_end}], got {out.tolist()}")
    return t_end, out


def step_budget(name, dt, span, max_steps=DEFAULT_MAX_STEPS) -> float:
    """Check a step (or step cap) ``dt`` and refuse, before any work, one that would need more than
    ``max_steps`` steps to cover ``span``; returns ``dt`` as a float."""
    dt = positive(name, dt)
    if span / dt > max_steps:
        raise ValueError(f"{name}={dt!r} would need at least {span / dt:.4g} steps to cover {span}, more than "
                         f"max_steps={max_steps}")
    return dt
