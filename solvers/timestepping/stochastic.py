"""Steppers for ``dX = f(t, X) dt + g(t, X) dW`` (:class:`~.problems.SDEProblem`).

The driver draws ``z ~ N(0, I)`` of the noise's shape and passes it in; ``ΔW = sqrt(h) z``.

* :class:`EulerMaruyama` — ``X + h f(X) + g(X) ΔW`` (Itô). Strong order 1/2 in general, 1 for
  additive noise; weak order 1; order 1 on the drift (Kloeden & Platen 1992, §10.2, §14.1).
* :class:`StochasticHeun` — predictor ``X̃ = X + h f(X) + g(X) ΔW``, corrector
  ``X + h/2 (f(X) + f(X̃)) + 1/2 (g(X) + g(X̃)) ΔW`` (Stratonovich; the trapezoidal rule on the drift,
  order 2 there). Strong order 1 for additive or commutative noise; weak order 2 for additive noise
  (Kloeden & Platen 1992, §15.1; Rümelin 1982).
"""

from __future__ import annotations

import numpy as np

from .base import Stepper
from .problems import SDEProblem

__all__ = ["EulerMaruyama", "StochasticHeun"]


class EulerMaruyama(Stepper):
    order = 1
    strong_order = 0.5
    weak_order = 1
    name = "euler_maruyama"
    problem = SDEProblem
    stochastic = True

    def step(self, problem, t, y, h, z):
        return y + h * problem.drift(t, y) + problem.g(t, y) * np.sqrt(h) * z


class StochasticHeun(Stepper):
    order = 2
    strong_order = 1.0
    weak_order = 2
    name = "stochastic_heun"
    problem = SDEProblem
    stochastic = True

    def step(self, problem, t, y, h, z):
        f = problem.drift(t, y)
        if problem.additive:
            dw = problem.diffusion * np.sqrt(h) * z
            yp = y + h * f + dw
            return y + 0.5 * h * (f + problem.drift(t + h, yp)) + dw
        dw = np.sqrt(h) * z
        g = problem.diffusion(t, y)
        yp = y + h * f + g * dw
        return y + 0.5 * h * (f + problem.drift(t + h, yp)) + 0.5 * (g + problem.diffusion(t + h, yp)) * dw
