"""Dormand–Prince 5(4) with error control and event location.

Butcher tableau of Dormand & Prince (1980); the 5th-order solution is propagated (local
extrapolation) and the embedded 4th-order one gives the error estimate
``err = rms((y5 - y4) / (atol + rtol * max(|y|, |y_new|)))``; a step is accepted when
``err <= 1`` and the next step is ``h * clip(0.9 * err^(-1/5), 0.2, 5)`` (Hairer, Nørsett &
Wanner, *Solving ODEs I*, §II.4). ``fixed_step=h`` switches control off (for order measurements).

Events: ``event(t, y)`` is a scalar function; after each accepted step a sign change is located
by Brent's method on ``s -> event(t + s, DP5 step of size s from (t, y))``, i.e. to the accuracy of
the 5th-order scheme, and integration stops there (``terminal=True``) or continues.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq

from ._checks import output_times, positive
from .dormand_prince_tableau import A, B4, B5, C

__all__ = ["AdaptiveResult", "dormand_prince"]



@dataclass
class AdaptiveResult:
    times: np.ndarray
    states: list
    accepted: int = 0
    rejected: int = 0
    events: list = field(default_factory=list)  # (t, y) at each located event
    stopped_at: float | None = None  # time of a terminal event


def _dp_step(f, t, y, h):
    k = []
    for i in range(7):
        yi = y + h * sum(a * kj for a, kj in zip(A[i], k)) if i else y
        k.append(np.asarray(f(t + C[i] * h, yi), dtype=float))
    y5 = y + h * sum(b * kj for b, kj in zip(B5, k))
    y4 = y + h * sum(b * kj for b, kj in zip(B4, k))
    return y5, y5 - y4


def dormand_prince(f, y0, t_end, times=None, rtol=1e-6, atol=1e-9, h0=None, fixed_step=None, event=None,
                   terminal=True, max_steps=10**6) -> AdaptiveResult:
    """Integrate ``y' = f(t, y)`` from ``t = 0`` to the output ``times`` (see the module docstring)."""
    t_end, times = output_times(t_end, times)
    rtol, atol = positive("rtol", rtol), positive("atol", atol)
    y = np.array(y0, dtype=float, copy=True)
    if not np.all(np.isfinite(y)):
        raise ValueError("y0 must be finite")
    h = positive("fixed_step", fixed_step) if fixed_step is not None else (
        positive("h0", h0) if h0 is not None else 1e-3 * t_end)
    res = AdaptiveResult(times=times, states=[])
    t = 0.0
    g_old = None if event is None else float(event(t, y))
    for t_out in times:
        while t_out - t > 1e-13 * max(1.0, t_out):
            step = min(h, t_out - t)
            y_new, err_vec = _dp_step(f, t, y, step)
            if fixed_step is None:
                scale = atol + rtol * np.maximum(np.abs(y), np.abs(y_new))
                err = float(np.sqrt(np.mean((err_vec / scale) ** 2))) if y.size else 0.0
                factor = 5.0 if err == 0 else min(5.0, max(0.2, 0.9 * err ** (-0.2)))
                if err > 1.0:
                    res.rejected += 1
                    h = step * factor
                    continue
                h = step * factor if step == h or factor < 1 else max(h, step * factor)
            res.accepted += 1
            if res.accepted + res.rejected > max_steps:
                raise RuntimeError(f"more than max_steps={max_steps} steps before t={t_out}")
            if event is not None:
                g_new = float(event(t + step, y_new))
                if g_old != 0 and np.sign(g_new) != np.sign(g_old):
                    t0, y0_ = t, y

                    def g(s):
                        return float(event(t0 + s, _dp_step(f, t0, y0_, s)[0])) if s > 0 else g_old

                    s_star = brentq(g, 0.0, step, xtol=1e-14 * max(1.0, t0 + step), rtol=4 * np.finfo(float).eps)
                    y_star = _dp_step(f, t0, y0_, s_star)[0] if s_star > 0 else y0_
                    res.events.append((t0 + s_star, y_star))
                    if terminal:
                        res.stopped_at = t0 + s_star
                        res.states.append(y_star)
                        res.times = np.append(times[: len(res.states) - 1], t0 + s_star)
                        return res
                g_old = g_new
            t = t_out if step == t_out - t else t + step
            y = y_new
        res.states.append(y.copy())
    return res
