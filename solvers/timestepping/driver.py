"""The one time loop of the package: :func:`integrate` advances any problem with any stepper.

Every continuum solver and every fixed-step particle/SDE loop of the models goes through it; the
scheme (a :class:`~.base.Stepper`), the equations (a problem from :mod:`.problems`) and the step
rule (:mod:`.step_control`) are values passed in.

Guarantees:

* Output times ``save_at`` are hit exactly: the last step before each is shortened to land on it,
  and a time counts as reached once it is within ``TIME_TOL · max(1, |t|)`` (``TIME_TOL = 1e-12``).
* No run can loop forever: ``dt ≤ 0``, NaN or inf are refused before any work; a fixed step that
  would need more than ``max_steps`` steps is refused before any work with the count it needs; any
  other rule raises once ``max_steps`` steps (accepted + rejected) are spent, or when the step falls
  below the resolution of float64 at the current time; ``rtol`` below 100 machine epsilons is refused.
* A state that stops being finite raises (checked at every output time and event).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import brentq

from ._checks import DEFAULT_MAX_STEPS, TIME_TOL, output_times, positive_int
from .base import Stepper
from .step_control import FixedStep, as_step_rule

__all__ = ["DEFAULT_MAX_STEPS", "Event", "Solution", "integrate"]


@dataclass(frozen=True)
class Event:
    """A scalar function ``fn(t, y)`` whose sign changes are located (to ``xtol`` in time, on the
    stepper's own step from the last accepted state). ``direction``: +1 rising only, -1 falling
    only, 0 both. A ``terminal`` event stops the run at the event."""

    fn: Callable[[float, Any], float]
    terminal: bool = True
    direction: int = 0
    name: str = "event"

    def __post_init__(self):
        if not callable(self.fn):
            raise TypeError(f"an event needs a callable fn(t, y) -> float, got {self.fn!r}")
        if self.direction not in (-1, 0, 1):
            raise ValueError(f"direction must be -1, 0 or 1, got {self.direction!r}")


@dataclass
class Solution:
    """States at the output times (the last one at a terminal event, if any)."""

    times: np.ndarray
    states: list
    steps: int = 0
    rejected: int = 0
    events: list = field(default_factory=list)  # (t, y, name)
    stopped_at: float | None = None
    info: dict = field(default_factory=dict)


def _finite(y) -> bool:
    return bool(np.all(np.isfinite(y)))


def _as_generator(rng):
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer, np.random.SeedSequence)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy Generator, a SeedSequence, an int seed or None, got {rng!r}")


def integrate(stepper: Stepper, problem, y0, t_end: float, save_at: Sequence[float] | None = None, dt=None, *,
              events: Sequence[Event] = (), max_steps: int = DEFAULT_MAX_STEPS, t0: float = 0.0, rng=None,
              progress: bool = False) -> Solution:
    """Advance ``problem`` from ``y0`` at ``t0`` to ``t_end`` with ``stepper``.

    Parameters
    ----------
    stepper : Stepper
        The scheme (e.g. ``SSPRK3()``, ``ETDRK4()``, ``EulerMaruyama()``).
    problem
        The equations, of the class the stepper advances (``stepper.problem``).
    y0 : array
        Initial state (not modified).
    t_end : float
        Final time (> ``t0``).
    save_at : sequence of float, optional
        Strictly increasing output times in ``[t0, t_end]``; default ``[t_end]``.
    dt : float, callable or step rule
        A number (fixed step), ``rule(t, y) -> h`` (e.g. a CFL rule), or a rule object
        (:class:`~.step_control.FixedStep`, :class:`~.step_control.StepFunction`,
        :class:`~.step_control.PIController` for embedded pairs, or a model's own rule with a
        ``propose(t, y)`` method).
    events : sequence of Event
        Located after each accepted step (deterministic steppers only).
    max_steps : int
        Cap on accepted + rejected steps (default 10^7).
    rng : numpy Generator or seed
        Random stream of stochastic steppers (standard normals of the noise's shape, one draw per step).
    progress : bool
        Show a tqdm progress bar in model time.

    Returns
    -------
    Solution

    Raises
    ------
    ValueError, TypeError
        Bad arguments, before any work. RuntimeError: the step cap was reached, the step underflowed,
        or the state stopped being finite.
    """
    if not isinstance(stepper, Stepper):
        raise TypeError(f"stepper must be a Stepper (e.g. SSPRK3()), got {stepper!r}")
    stepper.check_problem(problem)
    max_steps = positive_int("max_steps", max_steps)
    t_end, times = output_times(t_end, save_at, float(t0))
    t0 = float(t0)
    if dt is None:
        raise ValueError("dt is required: a step size, a rule(t, y) -> dt, or a step controller")
    rule = as_step_rule(dt)
    adaptive = getattr(rule, "adaptive", False)
    if adaptive and stepper.embedded_order is None:
        raise ValueError(f"{type(stepper).__name__} has no error estimate; adaptive step control needs an "
                         "embedded pair such as DormandPrince54")
    events = tuple(events)
    for ev in events:
        if not isinstance(ev, Event):
            raise TypeError(f"events must be Event values, got {ev!r}")
    if stepper.stochastic:
        if events:
            raise ValueError("events are not located for stochastic steppers")
        rng = _as_generator(rng)
    y = np.array(y0, copy=True)
    if not np.issubdtype(y.dtype, np.number):
        raise TypeError(f"y0 must be a numeric array, got dtype {y.dtype}")
    if not _finite(y):
        raise ValueError("y0 must be finite")
    if isinstance(rule, FixedStep):
        needed = math.ceil((t_end - t0) / rule.dt * (1 - 1e-12))
        if needed > max_steps:
            raise ValueError(f"dt={rule.dt!r} would need {needed:.4g} steps to reach t_end={t_end}, more than "
                             f"max_steps={max_steps}")
    noise_shape = getattr(problem, "noise_shape", None)  # None: the state's shape at each step
    post = getattr(problem, "post_step", None)
    h_ctrl: float = rule.start(stepper, t0, t_end) if adaptive else math.nan  # read only when adaptive

    sol = Solution(times=times, states=[], info={**stepper.describe(), **rule.describe()})
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=t_end - t0, unit="t", leave=False)
    g_old = [float(ev.fn(t0, y)) for ev in events]
    t = t0
    steps = rejected = 0
    tiny = 4 * np.finfo(float).eps
    try:
        for t_out in times:
            while t_out - t > TIME_TOL * max(1.0, abs(t_out)):
                h = h_ctrl if adaptive else rule.propose(t, y)
                last = h >= t_out - t
                if last:
                    h = t_out - t
                if h <= tiny * max(1.0, abs(t)):
                    raise RuntimeError(f"the step fell to {h!r} at t={t}, below the resolution of float64 "
                                       f"(after {steps} steps)")
                if steps + rejected >= max_steps:
                    raise RuntimeError(f"max_steps={max_steps} steps were spent at t={t} before reaching "
                                       f"t={t_out}; about {steps + (t_end - t) / h:.3g} steps would be needed at "
                                       "the current step size")
                if adaptive:
                    y_new, err_vec = stepper.step_with_error(problem, t, y, h)
                    err = rule.error_norm(y, y_new, err_vec)
                    if not err <= 1.0:  # also NaN
                        rejected += 1
                        h_ctrl = h * (rule.factor(err) if np.isfinite(err) else rule.min_factor)
                        continue
                    fac = rule.factor(err)
                    rule.accepted(err)
                    h_ctrl = h * fac if (h == h_ctrl or fac < 1) else max(h_ctrl, h * fac)
                elif stepper.stochastic:
                    y_new = stepper.step(problem, t, y, h, rng.standard_normal(noise_shape or y.shape))
                else:
                    y_new = stepper.step(problem, t, y, h)
                if post is not None:
                    y_new = post(y_new)
                steps += 1
                if events:
                    stop = _locate_events(stepper, problem, events, g_old, t, y, h, y_new, sol)
                    if stop is not None:
                        t_star, y_star = stop
                        sol.stopped_at = t_star
                        sol.states.append(y_star)
                        sol.times = np.append(times[: len(sol.states) - 1], t_star)
                        return sol
                t = t_out if last else t + h
                y = y_new
                if bar is not None:
                    bar.update(h)
            if not _finite(y):
                raise RuntimeError(f"the state stopped being finite before t={t_out} (after {steps} steps with "
                                   f"{sol.info}): the step rule does not keep this scheme stable")
            sol.states.append(y.copy())
    finally:
        sol.steps, sol.rejected = steps, rejected
        if bar is not None:
            bar.close()
    return sol


def _locate_events(stepper, problem, events, g_old, t, y, h, y_new, sol):
    """Record the events whose functions change sign over the step; return ``(t*, y*)`` of the first
    terminal one, else None (and update ``g_old``)."""
    post = getattr(problem, "post_step", None)

    def state_at(s):
        ys = stepper.step(problem, t, y, s)
        return post(ys) if post is not None else ys

    found = []
    for i, ev in enumerate(events):
        g_new = float(ev.fn(t + h, y_new))
        g0 = g_old[i]
        rising = np.sign(g_new - g0)
        crossed = g0 != 0 and np.sign(g_new) != np.sign(g0) and (ev.direction == 0 or rising == ev.direction)
        if crossed:
            def g(s, ev=ev, g0=g0):
                return float(ev.fn(t + s, state_at(s))) if s > 0 else g0

            s_star = brentq(g, 0.0, h, xtol=1e-14 * max(1.0, t + h), rtol=4 * np.finfo(float).eps)
            found.append((s_star, i, ev))
        g_old[i] = g_new
    stop = None
    for s_star, _i, ev in sorted(found, key=lambda x: x[0]):
        y_star = state_at(s_star) if s_star > 0 else y
        if not _finite(y_star):
            raise RuntimeError(f"the state stopped being finite at the event {ev.name!r} (t={t + s_star})")
        sol.events.append((t + s_star, y_star, ev.name))
        if ev.terminal:
            stop = (t + s_star, y_star)
            break
    return stop
