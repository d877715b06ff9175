"""``dormand_prince``: Dormand–Prince 5(4) with error control and event location, as one call.

A convenience over :func:`~.driver.integrate` with :class:`~.explicit.DormandPrince54` and a
:class:`~.step_control.PIController` (``beta=0``: the classical controller ``h · clip(0.9 err^{-1/5},
0.2, 5)``; Hairer, Nørsett & Wanner, *Solving ODEs I*, §II.4), or fixed steps for order measurements.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .driver import DEFAULT_MAX_STEPS, Event, integrate
from .explicit import DormandPrince54
from .problems import ODEProblem
from .step_control import FixedStep, PIController

__all__ = ["AdaptiveResult", "dormand_prince"]


@dataclass
class AdaptiveResult:
    times: np.ndarray
    states: list
    accepted: int = 0
    rejected: int = 0
    events: list = field(default_factory=list)  # (t, y) at each located event
    stopped_at: float | None = None  # time of a terminal event


def dormand_prince(f, y0, t_end, times=None, rtol=1e-6, atol=1e-9, h0=None, fixed_step=None, event=None,
                   terminal=True, max_steps=DEFAULT_MAX_STEPS) -> AdaptiveResult:
    """Integrate ``y' = f(t, y)`` from ``t = 0`` to the output ``times`` (module docstring); ``event(t, y)``
    is a scalar function whose sign changes are located (the run stops at the first if ``terminal``)."""
    rule = FixedStep(fixed_step) if fixed_step is not None else PIController(rtol, atol, h0=h0, beta=0.0)
    events = () if event is None else (Event(event, terminal=terminal),)
    y0 = np.asarray(y0, dtype=float)
    sol = integrate(DormandPrince54(), ODEProblem(f), y0, t_end, times, rule, events=events, max_steps=max_steps)
    return AdaptiveResult(times=sol.times, states=sol.states, accepted=sol.steps, rejected=sol.rejected,
                          events=[(te, ye) for te, ye, _ in sol.events], stopped_at=sol.stopped_at)
