"""The stepper protocol: a stepper is a small value carrying its scheme and its declared order.

``stepper.step(problem, t, y, h)`` returns the state after one step of size ``h`` (a new array;
the input is never modified). Embedded pairs also have ``step_with_error`` returning
``(y_new, error_estimate)``; stochastic steppers take the standard normal draws ``z`` as a further
argument, so that the driver, not the scheme, owns the random stream.

Class attributes: ``order`` (deterministic order of accuracy; for SDE schemes the order on the
drift alone), ``strong_order``/``weak_order`` for SDE schemes, ``embedded_order`` for pairs, and
``problem`` (the problem class it advances).
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = ["Stepper"]


class Stepper:
    """Base class of every time stepper (see the module docstring)."""

    order: ClassVar[float]
    name: ClassVar[str]
    problem: ClassVar[type]
    stochastic: ClassVar[bool] = False
    embedded_order: ClassVar[int | None] = None
    strong_order: ClassVar[float | None] = None
    weak_order: ClassVar[float | None] = None

    def step(self, problem, t: float, y: Any, h: float, *noise: Any) -> Any:  # pragma: no cover - interface
        """One step of size ``h``; stochastic steppers take the step's Gaussian draws ``z`` after ``h``."""
        raise NotImplementedError

    def step_with_error(self, problem, t: float, y: Any, h: float) -> tuple[Any, Any]:  # pragma: no cover
        """Embedded pairs only (``embedded_order`` set): the step and its error estimate."""
        raise NotImplementedError

    def check_problem(self, problem) -> None:
        if not isinstance(problem, self.problem):
            raise TypeError(f"{type(self).__name__} advances a {self.problem.__name__}, got {type(problem).__name__}")

    def describe(self) -> dict:
        """Name and declared orders, for the attributes of an output dataset."""
        out = {"stepper": self.name, "order": self.order}
        for key in ("embedded_order", "strong_order", "weak_order"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
