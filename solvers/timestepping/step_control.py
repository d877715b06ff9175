"""Step rules: how the driver chooses the next step, as values passed into :func:`~.driver.integrate`.

* :class:`FixedStep` — a constant ``dt`` (the last step before an output time is shortened to land
  on it). The number of steps is known in advance, so a run that would need more than
  ``max_steps`` is refused before any work.
* :class:`StepFunction` — ``h = rule(t, y)``, e.g. a CFL rule (:func:`cfl_step`) or a model's
  displacement cap; every returned step is checked (positive and finite).
* :class:`PIController` — error control for embedded pairs: the error norm
  ``err = rms(e / (atol + rtol max(|y|, |y_new|)))``, a step is accepted when ``err ≤ 1``, and the
  next step is ``h · clip(safety · err^{-(1/k - 0.75β)} · err_prev^{β}, min_factor, max_factor)`` with
  ``k`` the embedded order + 1 (Hairer, Nørsett & Wanner, *Solving ODEs I*, §II.4, and the PI
  variant of their DOPRI5 code; ``β = 0`` is the classical I-controller).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._checks import positive, real_number, tolerances

__all__ = ["FixedStep", "PIController", "StepFunction", "as_step_rule", "cfl_step"]


def cfl_step(max_speed, dx, cfl):
    """``dt = cfl · dx / max_speed`` (``inf`` when nothing moves)."""
    cfl = positive("cfl", cfl)
    dx = positive("dx", dx)
    speed = real_number("max_speed", max_speed)
    if not np.isfinite(speed) or speed < 0:
        raise ValueError(f"max_speed must be finite and non-negative, got {max_speed!r}")
    return np.inf if speed == 0 else cfl * dx / speed


class FixedStep:
    adaptive = False

    def __init__(self, dt):
        self.dt = positive("dt", dt)

    def propose(self, t, y):
        return self.dt

    def describe(self):
        return {"step_rule": "fixed", "dt": self.dt}

    def __repr__(self):
        return f"FixedStep({self.dt!r})"


class StepFunction:
    adaptive = False

    def __init__(self, rule: Callable, name: str = "rule"):
        if not callable(rule):
            raise TypeError(f"a step rule must be callable as rule(t, y) -> dt, got {rule!r}")
        self.rule, self.name = rule, name

    def propose(self, t, y):
        h = self.rule(t, y)
        try:
            h = float(h)
        except (TypeError, ValueError):
            raise TypeError(f"the step rule {self.name!r} returned {h!r} at t={t}, not a number") from None
        if not h > 0 or np.isnan(h):
            raise ValueError(f"the step rule {self.name!r} returned a non-positive or NaN step {h!r} at t={t}")
        return h

    def describe(self):
        return {"step_rule": self.name}

    def __repr__(self):
        return f"StepFunction({self.name!r})"


class PIController:
    adaptive = True

    def __init__(self, rtol=1e-6, atol=1e-9, h0=None, safety=0.9, min_factor=0.2, max_factor=5.0, beta=0.04):
        self.rtol, self.atol = tolerances(rtol, atol)
        if self.atol == 0 and self.rtol == 0:  # pragma: no cover - tolerances() refuses rtol = 0
            raise ValueError("rtol and atol cannot both be 0")
        self.h0 = None if h0 is None else positive("h0", h0)
        self.safety = positive("safety", safety)
        self.min_factor = positive("min_factor", min_factor)
        self.max_factor = positive("max_factor", max_factor)
        if not (self.min_factor < 1 < self.max_factor):
            raise ValueError(f"need min_factor < 1 < max_factor, got {min_factor!r}, {max_factor!r}")
        self.beta = real_number("beta", beta)
        if not 0 <= self.beta < 0.2:
            raise ValueError(f"beta must lie in [0, 0.2), got {beta!r}")

    def start(self, stepper, t0, t_end):
        """Reset for a new run; returns the first step."""
        k = (stepper.embedded_order or stepper.order) + 1
        self._alpha = 1.0 / k - 0.75 * self.beta
        self._err_prev = 1e-4
        return self.h0 if self.h0 is not None else 1e-3 * (t_end - t0)

    def error_norm(self, y, y_new, err_vec):
        if np.size(y) == 0:
            return 0.0
        scale = self.atol + self.rtol * np.maximum(np.abs(y), np.abs(y_new))
        return float(np.sqrt(np.mean((err_vec / scale) ** 2)))

    def factor(self, err):
        if err == 0:
            return self.max_factor
        f = self.safety * err ** (-self._alpha)
        if self.beta:
            f *= self._err_prev ** self.beta
        return min(self.max_factor, max(self.min_factor, f))

    def accepted(self, err):
        self._err_prev = max(err, 1e-4)

    def describe(self):
        return {"step_rule": "pi", "rtol": self.rtol, "atol": self.atol}

    def __repr__(self):
        return f"PIController(rtol={self.rtol!r}, atol={self.atol!r})"


def as_step_rule(dt):
    """A step rule from ``dt``: a number → :class:`FixedStep`, a callable → :class:`StepFunction`,
    a rule object → itself."""
    if isinstance(dt, (FixedStep, StepFunction, PIController)) or hasattr(dt, "propose") or hasattr(dt, "error_norm"):
        return dt
    if callable(dt):
        return StepFunction(dt)
    return FixedStep(dt)
