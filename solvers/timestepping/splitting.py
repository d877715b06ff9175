"""Operator splitting for ``y' = A(y) + B(y)`` (:class:`~.problems.SplitProblem`).

* :class:`LieSplitting` — ``B(h) ∘ A(h)``: order 1.
* :class:`StrangSplitting` — ``A(h/2) ∘ B(h) ∘ A(h/2)`` (Strang 1968): order 2 when both
  sub-steppers are of order ≥ 2 (the declared order is ``min(2, order_A, order_B)``).

Each sub-problem is advanced by its own stepper (e.g. the exact heat flow by :class:`~.exponential.ETD1`
with a zero nonlinearity, and a reaction by :class:`~.explicit.SSPRK3`).
"""

from __future__ import annotations

from .base import Stepper
from .problems import SplitProblem

__all__ = ["LieSplitting", "StrangSplitting"]


class _Splitting(Stepper):
    problem = SplitProblem
    _max_order = 1

    def __init__(self, a: Stepper, b: Stepper):
        for label, s in (("a", a), ("b", b)):
            if not isinstance(s, Stepper) or s.stochastic:
                raise TypeError(f"the sub-stepper {label} must be a deterministic Stepper, got {s!r}")
        self.a, self.b = a, b

    @property
    def order(self):  # type: ignore[override]
        return min(self._max_order, self.a.order, self.b.order)

    def describe(self):
        return {"scheme": self.name, "order": self.order, "a": self.a.name, "b": self.b.name}

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
