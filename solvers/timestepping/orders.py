"""Measured orders of every stepper on problems with exact solutions.

``python -m meanfield.solvers.timestepping.orders`` prints a table of each stepper's declared and measured
order (least-squares slope of log error against log step over four halvings). The same problems are
used by the test suite, which asserts each measured order within 0.15 of the declared one.

Problems (all to ``t = 1`` unless stated):

* explicit Runge–Kutta: ``u' = a u + u²`` with ``a = (-1, 0.5)``, ``u0 = (0.5, 0.4)``, whose exact
  solution is ``u(t) = 1/((1/u0 + 1/a) e^{-at} - 1/a)`` (``v = 1/u`` solves a linear equation);
  Dormand–Prince on the oscillator ``y'' = -y`` to ``t = 3`` (its error reaches round-off too soon on
  the first problem);
* exponential integrators: the same Riccati system with stiff linear parts ``a = (0, -1, -20, -400,
  0.5)`` taken exactly;
* splittings: ``A: u' = a u`` (exact flow), ``B: u' = u²`` (RK4), same exact solution;
* SDE schemes, order on the drift (zero noise): the first problem;
* SDE schemes, strong order: geometric Brownian motion ``dX = μX dt + sX dW`` (Itô for
  Euler–Maruyama, exact ``X_T = exp((μ - s²/2)T + sW_T)``; Stratonovich for Heun, ``exp(μT + sW_T)``),
  mean absolute error over 4,000 paths, coarse increments summed from one fine Brownian path.
"""

from __future__ import annotations

import numpy as np

from .driver import integrate
from .explicit import RK4
from .exponential import ExactLinear
from .problems import ODEProblem, SDEProblem, SemilinearProblem, SplitProblem
from .splitting import LieSplitting, StrangSplitting, Substeps
from .stochastic import EulerMaruyama

__all__ = ["measured_order", "measured_strong_order", "order_table", "riccati_exact", "stepper_instance"]

STIFF_A = np.array([0.0, -1.0, -20.0, -400.0, 0.5])
STIFF_U0 = np.array([0.3, 0.5, 0.2, 0.1, 0.4])
MILD_A = np.array([-1.0, 0.5])
MILD_U0 = np.array([0.5, 0.4])


def riccati_exact(t, a=STIFF_A, u0=STIFF_U0):
    """Exact solution of ``u' = a u + u²`` (componentwise)."""
    safe = np.where(a == 0, 1, a)
    inv = np.where(a == 0, 1 / u0 - t, (1 / u0 + 1 / safe) * np.exp(-a * t) - 1 / safe)
    return 1 / inv


def stepper_instance(cls):
    """An instance of ``cls`` (splittings: exact linear flow for A, RK4 for B; sub-steps: 2 of RK4)."""
    if cls in (LieSplitting, StrangSplitting):
        return cls(ExactLinear(), RK4())
    return Substeps(RK4(), 2) if cls is Substeps else cls()


def _ode_error(stepper, h):
    sol = integrate(stepper, ODEProblem(lambda t, u: MILD_A * u + u * u), MILD_U0, 1.0, None, h)
    return np.max(np.abs(sol.states[-1] - riccati_exact(1.0, MILD_A, MILD_U0)))


def _oscillator_error(stepper, h):
    sol = integrate(stepper, ODEProblem(lambda t, y: np.array([y[1], -y[0]])), np.array([1.0, 0.0]), 3.0, None, h)
    return np.max(np.abs(sol.states[-1] - [np.cos(3.0), -np.sin(3.0)]))


def _etd_error(stepper, h):
    sol = integrate(stepper, SemilinearProblem(STIFF_A, lambda t, u: u * u), STIFF_U0, 1.0, None, h)
    return np.max(np.abs(sol.states[-1] - riccati_exact(1.0)))


def _split_error(stepper, h):
    problem = SplitProblem(SemilinearProblem(STIFF_A), ODEProblem(lambda t, u: u * u))
    sol = integrate(stepper, problem, STIFF_U0, 1.0, None, h)
    return np.max(np.abs(sol.states[-1] - riccati_exact(1.0)))


def _drift_error(stepper, h):
    sol = integrate(stepper, SDEProblem(lambda t, u: MILD_A * u + u * u, 0.0), MILD_U0, 1.0, None, h, rng=0)
    return np.max(np.abs(sol.states[-1] - riccati_exact(1.0, MILD_A, MILD_U0)))


_FINE = [1 / 16, 1 / 32, 1 / 64, 1 / 128]
_PROBLEMS = {
    "ODEProblem": (_ode_error, _FINE),
    "RK4": (_ode_error, [1 / 8, 1 / 16, 1 / 32, 1 / 64]),
    "Substeps": (_ode_error, [1 / 4, 1 / 8, 1 / 16, 1 / 32]),
    "DormandPrince54": (_oscillator_error, [0.3, 0.15, 0.075, 0.0375]),
    "ETDRK4": (_etd_error, [1 / 8, 1 / 16, 1 / 32, 1 / 64]),
    "SemilinearProblem": (_etd_error, _FINE),
    "SplitProblem": (_split_error, _FINE),
    "SDEProblem": (_drift_error, _FINE),
}


def _slope(hs, errors):
    return float(np.polyfit(np.log(hs), np.log(errors), 1)[0])


def measured_order(cls) -> float:
    """Measured (deterministic) order of stepper class ``cls`` (module docstring)."""
    error, hs = _PROBLEMS.get(cls.__name__) or _PROBLEMS[cls.problem.__name__]
    stepper = stepper_instance(cls)
    return _slope(hs, [error(stepper, h) for h in hs])


def measured_strong_order(cls, paths=4000, fine=2**10, mu=1.0, s=0.8, seed=1) -> float:
    """Measured strong order of an SDE stepper class on geometric Brownian motion (module docstring)."""
    stepper = cls()
    rng = np.random.default_rng(seed)
    z_fine = rng.standard_normal((fine, paths))
    w_t = np.sqrt(1.0 / fine) * z_fine.sum(axis=0)
    problem = SDEProblem(lambda t, x: mu * x, lambda t, x: s * x)
    ito = isinstance(stepper, EulerMaruyama)
    exact = np.exp((mu - (s * s / 2 if ito else 0.0)) + s * w_t)
    hs, errors = [], []
    for ratio in (8, 16, 32, 64):
        z = z_fine.reshape(fine // ratio, ratio, paths).sum(axis=1) / np.sqrt(ratio)
        h = ratio / fine
        x = np.ones(paths)
        for k in range(fine // ratio):
            x = stepper.step(problem, k * h, x, h, z[k])
        hs.append(h)
        errors.append(float(np.mean(np.abs(x - exact))))
    return _slope(hs, errors)


def order_table() -> str:
    """Markdown table: stepper, problem class, declared order(s), measured order(s)."""
    from . import STEPPERS

    rows = ["| stepper | problem | declared order | measured order |", "|---|---|---|---|"]
    for cls in STEPPERS:
        st = stepper_instance(cls)
        if st.order == float("inf"):
            declared, measured = "exact (linear flow)", "exact to round-off"
        else:
            declared, measured = f"{st.order:g}", f"{measured_order(cls):.2f}"
        if st.strong_order is not None:
            declared += f"; strong {st.strong_order:g}"
            measured += f"; strong {measured_strong_order(cls):.2f}"
        rows.append(f"| `{st!r}` | `{st.problem.__name__}` | {declared} | {measured} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(order_table())
