"""Problems: the equations a stepper advances, as values (no time loop here).

* :class:`ODEProblem` — ``y' = f(t, y)``.
* :class:`SemilinearProblem` — ``y' = L y + N(t, y)`` with ``L`` diagonal in the basis reached by
  ``forward`` (e.g. a real FFT) and left by ``inverse``; ``N`` takes the state in the original basis
  and returns its value in the diagonal basis. Identity transforms for an ``L`` diagonal on the grid.
* :class:`SDEProblem` — ``dX = f(t, X) dt + g(t, X) dW`` (Itô for Euler–Maruyama, Stratonovich for
  Heun), with ``g`` a number or array (additive noise) or a callable (diagonal, state-dependent noise).
* :class:`SplitProblem` — ``y' = A(y) + B(y)`` as two sub-problems with their own steppers.

Every problem may carry ``post_step(y)``, applied after each accepted step (e.g. wrapping positions
onto a torus).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ODEProblem", "SDEProblem", "SemilinearProblem", "SplitProblem"]


def _identity(y):
    return y


def _zero_nonlinearity(t, y):
    return 0.0


def _check_callable(name, f):
    if not callable(f):
        raise TypeError(f"{name} must be callable, got {f!r}")


@dataclass(frozen=True)
class ODEProblem:
    """``y' = rhs(t, y)``."""

    rhs: Callable[[float, Any], Any]
    post_step: Callable | None = None

    def __post_init__(self):
        _check_callable("rhs", self.rhs)


@dataclass(frozen=True, eq=False)
class SemilinearProblem:
    """``y' = L y + N(t, y)``, ``L = diag(linear)`` in the basis ``forward(y)``.

    ``nonlinear(t, y)`` receives the state in the original basis and returns ``N`` in the diagonal
    basis (so a pseudo-spectral model forms products on the grid and returns their transform);
    ``None`` means ``N ≡ 0`` (a linear problem, advanced exactly by :class:`~.exponential.ExactLinear`).
    """

    linear: Any
    nonlinear: Callable[[float, Any], Any] | None = None
    forward: Callable = _identity
    inverse: Callable = _identity
    post_step: Callable | None = None

    def __post_init__(self):
        lin = np.asarray(self.linear)
        if not np.all(np.isfinite(lin)):
            raise ValueError("linear must be finite")
        object.__setattr__(self, "linear", lin)
        if self.nonlinear is None:
            object.__setattr__(self, "nonlinear", _zero_nonlinearity)
        for name in ("nonlinear", "forward", "inverse"):
            _check_callable(name, getattr(self, name))

    @property
    def is_linear(self) -> bool:
        return self.nonlinear is _zero_nonlinearity

    @property
    def transformed(self) -> bool:
        return self.forward is not _identity or self.inverse is not _identity


@dataclass(frozen=True, eq=False)
class SDEProblem:
    """``dX = drift(t, X) dt + diffusion dW`` with ``dW`` of shape ``noise_shape`` (default: the state's
    shape at each step, which ``post_step`` may change, e.g. when particles merge).

    ``diffusion``: a number or an array broadcastable to the state (additive noise), or a callable
    ``g(t, X)`` (diagonal, state-dependent noise, multiplied elementwise with ``dW``).
    """

    drift: Callable[[float, Any], Any]
    diffusion: Any
    noise_shape: tuple | None = None
    post_step: Callable | None = None

    def __post_init__(self):
        _check_callable("drift", self.drift)
        if not callable(self.diffusion):
            d = np.asarray(self.diffusion, dtype=float)
            if not np.all(np.isfinite(d)) or np.any(d < 0):
                raise ValueError(f"diffusion must be finite and non-negative, got {self.diffusion!r}")

    @property
    def additive(self) -> bool:
        return not callable(self.diffusion)

    def g(self, t, x):
        return self.diffusion(t, x) if callable(self.diffusion) else self.diffusion


@dataclass(frozen=True, eq=False)
class SplitProblem:
    """``y' = A(y) + B(y)``: ``a`` and ``b`` are problems advanced by the sub-steppers of a splitting."""

    a: Any
    b: Any
    post_step: Callable | None = None
