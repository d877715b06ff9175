"""``integrate_ssp``: SSP Runge–Kutta with a CFL step rule or a fixed step, as one call.

A convenience over :func:`~.driver.integrate` with :class:`~.explicit.SSPRK3` (or
:class:`~.explicit.ForwardEuler` for ``order=1``).
"""

from __future__ import annotations

import numpy as np

from .driver import DEFAULT_MAX_STEPS, integrate
from .explicit import SSPRK2, SSPRK3, ForwardEuler
from .problems import ODEProblem
from .step_control import FixedStep, StepFunction, cfl_step

__all__ = ["cfl_step", "integrate_ssp"]

_SSP = {1: ForwardEuler, 2: SSPRK2, 3: SSPRK3}


def integrate_ssp(rhs, u0, t_end, times=None, dt_rule=None, dt=None, order=3, max_steps=DEFAULT_MAX_STEPS):
    """Integrate ``u' = rhs(t, u)`` with SSP-RK of ``order`` 1, 2 or 3 to the output ``times``.

    The step is ``dt_rule(t, u)`` (e.g. a CFL rule through :func:`cfl_step`) or the fixed ``dt``,
    shortened to land exactly on each output time. Returns ``(states, steps)``.
    """
    if (dt_rule is None) == (dt is None):
        raise ValueError("give exactly one of dt_rule (a callable) and dt (a number)")
    if order not in _SSP:
        raise ValueError(f"order must be 1, 2 or 3, got {order!r}")
    rule = FixedStep(dt) if dt is not None else StepFunction(dt_rule, "dt_rule")
    sol = integrate(_SSP[order](), ODEProblem(rhs), np.asarray(u0, dtype=float), t_end, times, rule,
                    max_steps=max_steps)
    return sol.states, sol.steps
