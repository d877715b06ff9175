"""Strong-stability-preserving Runge–Kutta steps and a CFL-controlled integration loop.

SSP-RK3 (Shu & Osher 1988; Gottlieb, Shu & Tadmor 2001, eq. (4.2)) is a convex combination of
forward-Euler steps, so any property a forward-Euler step keeps under ``dt <= dt_FE`` (positivity,
a maximum principle, TVD) is kept by SSP-RK3 under the same ``dt`` (SSP coefficient 1).
"""

from __future__ import annotations

import numpy as np

from ._checks import output_times, positive

__all__ = ["cfl_step", "ssp_rk1_step", "ssp_rk3_step", "integrate_ssp"]


def cfl_step(max_speed, dx, cfl):
    """``dt = cfl * dx / max_speed`` (``inf`` when nothing moves)."""
    cfl = positive("cfl", cfl)
    dx = positive("dx", dx)
    speed = float(max_speed)
    if not np.isfinite(speed) or speed < 0:
        raise ValueError(f"max_speed must be finite and non-negative, got {max_speed!r}")
    return np.inf if speed == 0 else cfl * dx / speed


def ssp_rk1_step(rhs, t, u, dt):
    return u + dt * rhs(t, u)


def ssp_rk3_step(rhs, t, u, dt):
    u1 = u + dt * rhs(t, u)
    u2 = 0.75 * u + 0.25 * (u1 + dt * rhs(t + dt, u1))
    return u / 3.0 + (2.0 / 3.0) * (u2 + dt * rhs(t + 0.5 * dt, u2))


def integrate_ssp(rhs, u0, t_end, times=None, dt_rule=None, dt=None, order=3, max_steps=10**7):
    """Integrate ``u' = rhs(t, u)`` with SSP-RK1/3 to the output ``times``.

    The step is ``dt_rule(t, u)`` (e.g. a CFL rule through :func:`cfl_step`) or the fixed ``dt``,
    shortened to land exactly on each output time. Returns ``(states, steps)``.
    """
    if (dt_rule is None) == (dt is None):
        raise ValueError("give exactly one of dt_rule (a callable) and dt (a number)")
    if order not in (1, 3):
        raise ValueError(f"order must be 1 or 3, got {order!r}")
    if dt is not None:
        dt = positive("dt", dt)
    t_end, times = output_times(t_end, times)
    step = ssp_rk3_step if order == 3 else ssp_rk1_step
    u, t, out, steps = np.array(u0, dtype=float, copy=True), 0.0, [], 0
    for t_out in times:
        while t_out - t > 1e-12 * max(1.0, t_out):
            h = dt if dt is not None else dt_rule(t, u)
            if not (h > 0):
                raise ValueError(f"the step rule returned a non-positive step {h!r} at t={t}")
            h = min(h, t_out - t)
            u = step(rhs, t, u, h)
            t = t_out if h == t_out - t else t + h
            steps += 1
            if steps > max_steps:
                raise RuntimeError(f"more than max_steps={max_steps} steps before t={t_out}")
        out.append(u.copy())
    return out, steps
