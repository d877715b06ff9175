"""Operator splitting for ``y' = A(y) + B(y)`` (:class:`~.problems.SplitProblem`).

* :class:`LieSplitting` — ``B(h) ∘ A(h)``: order 1.
* :class:`StrangSplitting` — ``A(h/2) ∘ B(h) ∘ A(h/2)`` (Strang 1968): order 2 when both
  sub-steppers are of order ≥ 2 (the declared order is ``min(2, order_A, order_B)``).
* :class:`Substeps` — ``n`` steps of ``h/n`` of one stepper (e.g. a stiff reaction inside a splitting).
* :class:`JumpSplitting` — an SDE step followed by a jump sweep ``jumps(y, h)`` (particles that react
  at random and may merge or vanish): weak order 1.

Each sub-problem is advanced by its own stepper (e.g. the exact heat flow by :class:`~.exponential.ETD1`
with a zero nonlinearity, and a reaction by :class:`~.explicit.SSPRK3`).
"""

from __future__ import annotations

from ._checks import positive_int
from .base import Stepper
from .problems import SDEProblem, SplitProblem

__all__ = ["JumpSplitting", "LieSplitting", "StrangSplitting", "Substeps"]


class _Splitting(Stepper):
    problem = SplitProblem
    _max_order = 1

    def __init__(self, a: Stepper, b: Stepper):
        for label, s in (("a", a), ("b", b)):
            if not isinstance(s, Stepper) or s.stochastic:
                raise TypeError(f"the sub-stepper {label} must be a deterministic Stepper, got {s!r}")
        self.a, self.b = a, b

    @property
    def order(self):
        return min(self._max_order, self.a.order, self.b.order)

    def describe(self):
        return {"stepper": self.name, "order": self.order, "a": self.a.name, "b": self.b.name}

    def __repr__(self):
        return f"{type(self).__name__}({self.a!r}, {self.b!r})"


class LieSplitting(_Splitting):
    name = "lie"

    def step(self, problem, t, y, h):
        y = self.a.step(problem.a, t, y, h)
        return self.b.step(problem.b, t, y, h)


class StrangSplitting(_Splitting):
    name = "strang"
    _max_order = 2

    def step(self, problem, t, y, h):
        y = self.a.step(problem.a, t, y, 0.5 * h)
        y = self.b.step(problem.b, t, y, h)
        return self.a.step(problem.a, t + 0.5 * h, y, 0.5 * h)


class Substeps(Stepper):
    """``n`` steps of length ``h/n`` of ``inner`` for one step of length ``h`` (e.g. the reaction of a
    splitting sub-stepped so that its error ``O((h/n)^p)`` falls below the splitting error); declared
    order that of ``inner``."""

    def __init__(self, inner: Stepper, n: int):
        if not isinstance(inner, Stepper) or inner.stochastic:
            raise TypeError(f"inner must be a deterministic Stepper, got {inner!r}")
        self.inner, self.n = inner, positive_int("n", n)

    @property
    def order(self):
        """The inner stepper's declared order."""
        return self.inner.order

    @property
    def name(self):
        """``<inner name>x<n>``, e.g. ``rk4x4``."""
        return f"{self.inner.name}x{self.n}"

    @property
    def problem(self):
        """The problem class the inner stepper advances."""
        return self.inner.problem

    def step(self, problem, t, y, h):
        hs = h / self.n
        for k in range(self.n):
            y = self.inner.step(problem, t + k * hs, y, hs)
        return y

    def __repr__(self):
        return f"Substeps({self.inner!r}, {self.n})"


class JumpSplitting(Stepper):
    """``jumps(stepper.step(problem, t, y, h, z), h)``.

    A particle system whose particles diffuse and, at random, react (merge, annihilate, ...) is
    advanced over ``[t, t + h]`` by the SDE stepper (Brownian increments drawn by the driver), then
    by the sweep ``jumps(y, h)``, which decides the step's reactions from the positions at its end
    and the step length (e.g. with probability ``1 - exp(-λh)`` per pair) and may change the number
    of particles. The sweep needs ``h``, which a problem's ``post_step(y)`` is not given, hence a
    stepper. With the sweep's reaction probability exact for a frozen hazard, the splitting is of
    weak order 1.

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
        out = {"stepper": self.name, "order": self.order, "weak_order": self.weak_order,
               "diffusion_scheme": self.stepper.name}
        if hasattr(self.jumps, "describe"):
            out.update(self.jumps.describe())
        return out

    def __repr__(self):
        return f"JumpSplitting({self.stepper!r}, {self.jumps!r})"
