"""Explicit Runge–Kutta steppers for ``y' = f(t, y)`` (:class:`~.problems.ODEProblem`).

* :class:`ForwardEuler` — order 1 (SSP, coefficient 1).
* :class:`SSPRK2` — Heun's method in Shu–Osher form, order 2, SSP coefficient 1.
* :class:`SSPRK3` — Shu & Osher (1988); Gottlieb, Shu & Tadmor (2001) eq. (4.2): order 3, SSP
  coefficient 1, a convex combination of forward-Euler steps, so any property a forward-Euler step
  keeps under ``h <= h_FE`` (positivity, a maximum principle, TVD) SSP-RK3 keeps under the same ``h``.
* :class:`RK4` — the classical four-stage method, order 4.
* :class:`DormandPrince54` — Dormand & Prince (1980), order 5 with an embedded order-4 error
  estimate (local extrapolation) and a 4th-order continuous extension (Hairer, Nørsett & Wanner,
  *Solving ODEs I*, §II.4–II.6).

A general method is its Butcher tableau ``(c, A, b)``; the SSP methods are written in their
Shu–Osher form, which is how their convex-combination property is seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from . import dormand_prince_tableau as dp
from .base import Stepper
from .problems import ODEProblem

__all__ = ["RK4", "SSPRK2", "SSPRK3", "ButcherTableau", "DormandPrince54", "ForwardEuler"]


class ForwardEuler(Stepper):
    order = 1
    name = "forward_euler"
    problem = ODEProblem

    def step(self, problem, t, y, h):
        return y + h * problem.rhs(t, y)


class SSPRK2(Stepper):
    order = 2
    name = "ssp_rk2"
    problem = ODEProblem

    def step(self, problem, t, y, h):
        f = problem.rhs
        u1 = y + h * f(t, y)
        return 0.5 * y + 0.5 * (u1 + h * f(t + h, u1))


class SSPRK3(Stepper):
    order = 3
    name = "ssp_rk3"
    problem = ODEProblem

    def step(self, problem, t, y, h):
        f = problem.rhs
        u1 = y + h * f(t, y)
        u2 = 0.75 * y + 0.25 * (u1 + h * f(t + h, u1))
        return y / 3.0 + (2.0 / 3.0) * (u2 + h * f(t + 0.5 * h, u2))


class ButcherTableau(Stepper):
    """An explicit Runge–Kutta method given by its tableau: class data ``C``, ``A`` (rows of the
    strictly lower triangle), ``B`` and, for embedded pairs, ``E = B - B_hat``."""

    problem = ODEProblem
    C: np.ndarray
    A: ClassVar[Sequence[Sequence[float]]]
    B: np.ndarray
    E: np.ndarray | None = None

    def _stages(self, problem, t, y, h):
        f = problem.rhs
        k = []
        for i, row in enumerate(self.A):
            yi = y + h * sum(a * kj for a, kj in zip(row, k, strict=True)) if i else y
            k.append(np.asarray(f(t + self.C[i] * h, yi), dtype=float))
        return k

    def step(self, problem, t, y, h):
        k = self._stages(problem, t, y, h)
        return y + h * sum(b * kj for b, kj in zip(self.B, k, strict=True) if b != 0)

    def step_with_error(self, problem, t, y, h):
        k = self._stages(problem, t, y, h)
        y_new = y + h * sum(b * kj for b, kj in zip(self.B, k, strict=True) if b != 0)
        return y_new, h * sum(e * kj for e, kj in zip(self.E, k, strict=True) if e != 0)


class RK4(ButcherTableau):
    order = 4
    name = "rk4"
    C = np.array([0.0, 0.5, 0.5, 1.0])
    A = ((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0))
    B = np.array([1 / 6, 1 / 3, 1 / 3, 1 / 6])


class DormandPrince54(ButcherTableau):
    order = 5
    embedded_order = 4
    name = "dormand_prince_54"
    C, A, B, E = dp.C, dp.A, dp.B5, dp.E

    def dense(self, y, h, k, theta):
        """The continuous extension ``y(t + θh)`` from the stages ``k`` of a step (order 4)."""
        powers = np.array([theta ** (q + 1) for q in range(dp.P.shape[1])])
        weights = dp.P @ powers
        return y + h * sum(w * kj for w, kj in zip(weights, k, strict=True) if w != 0)
