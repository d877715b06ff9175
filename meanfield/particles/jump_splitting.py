"""Lie splitting of an SDE step and a jump sweep, as one stepper for :func:`solvers.timestepping.integrate`.

A particle system whose particles diffuse and, at random, react (merge, annihilate, ...) is
advanced over ``[t, t + h]`` by the SDE stepper (Brownian increments drawn by the driver) followed
by the jump sweep ``jumps(y, h)``, which decides the reactions of the step from the positions at
its end and the step length ``h`` (e.g. with probability ``1 - exp(-λ h)`` per pair) and may change
the number of particles. The sweep needs ``h``, which a problem's ``post_step(y)`` is not given,
hence a stepper. With the sweep's reaction probability exact for a frozen hazard, the splitting is
of weak order 1 (the hazard and the at-most-one-reaction rule are frozen over each step).
"""

from __future__ import annotations

from solvers.timestepping import SDEProblem, Stepper

__all__ = ["JumpSplitting"]


class JumpSplitting(Stepper):
    """``jumps(stepper.step(problem, t, y, h, z), h)`` (module docstring).

    Parameters
    ----------
    stepper : Stepper
        A stochastic stepper for the diffusion (e.g. ``EulerMaruyama()``, exact for Brownian motion
        with additive noise and no drift).
    jumps : callable
        ``jumps(y, h) -> y`` (may return fewer rows); may carry ``name`` and ``describe()``.
    """

    problem = SDEProblem
    stochastic = True
    order = 1
    weak_order = 1

    def __init__(self, stepper, jumps):
        if not isinstance(stepper, Stepper) or not stepper.stochastic:
            raise TypeError(f"stepper must be a stochastic Stepper (e.g. EulerMaruyama()), got {stepper!r}")
        if not callable(jumps):
            raise TypeError(f"jumps must be callable as jumps(y, h) -> y, got {jumps!r}")
        self.stepper, self.jumps = stepper, jumps
        self.name = f"{stepper.name}+{getattr(jumps, 'name', 'jumps')}"

    def check_problem(self, problem):
        self.stepper.check_problem(problem)

    def step(self, problem, t, y, h, z):
        return self.jumps(self.stepper.step(problem, t, y, h, z), h)

    def describe(self):
        out = {"scheme": self.name, "order": self.order, "weak_order": self.weak_order,
               "diffusion_scheme": self.stepper.name}
        if hasattr(self.jumps, "describe"):
            out.update(self.jumps.describe())
        return out

    def __repr__(self):
        return f"JumpSplitting({self.stepper!r}, {self.jumps!r})"
