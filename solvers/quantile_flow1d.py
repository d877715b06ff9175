"""Lagrangian (pseudo-inverse / quantile) solver for two-species 1-D Wasserstein gradient flows.

Each species is described by its quantile function X(s), s in [0, 1], discretised by its values at
the nodes s_k = k/M (k = 0..M): a piecewise-linear quantile function, i.e. a piecewise-constant
density with cells of mass 1/M (``meanfield.measures.IntervalDensity1D``). For flows whose
Lagrangian velocity depends on the mass coordinate s and on the CDF of the *other* species at the
particle's position,

    d/dt X(s, t) = V_X(s, H(X(s, t))),        d/dt Y(s, t) = V_Y(s, F(Y(s, t))),

the nodes form one ODE system ``y = (X, Y)`` of shape ``(2, M + 1)`` advanced by
:func:`meanfield.solvers.timestepping.integrate` with a strong-stability-preserving Runge–Kutta stepper
(SSP-RK3 by default; SSP-RK2 or forward Euler may be passed). H is the exact CDF of the
piecewise-linear other quantile (inverse linear interpolation, O(M log M)). Mass per cell is 1/M by
construction (exact conservation) and positivity is the strict ordering of the nodes, which is
checked after every step.

Step rule (:class:`QuantileStepRule`, CFL in physical space): the right-hand side is Lipschitz in X
with constant L = |dV/dH| * max density of the other species, so a node gap X_{k+1} - X_k shrinks at
most at relative rate L and a forward Euler step keeps the order when ``dt <= cfl / L``,
``cfl < 1``; an SSP Runge–Kutta step (SSP coefficient 1: a convex combination of such Euler steps)
keeps it under the same ``dt``. For accuracy we also require that no node moves more than ``cfl``
times the smallest cell, ``dt <= cfl * min_gap / v_max``, and optionally ``dt <= dt_max``. All are
recomputed every step; the driver shortens the last step before each output time to land on it.

Orders (measured in tests/test_newtonian1d_continuum.py): 2 in space (W1 vs M), 2 in time: the
right-hand side is only piecewise linear in X (kinks where a node of X passes a node of Y), and each
kink crossing costs O(dt^2), so SSP-RK3 does not reach 3 (and SSP-RK2 reaches the same 2).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import cast

import numpy as np
from numpy.typing import ArrayLike

from meanfield.solvers.timestepping import (
    DEFAULT_MAX_STEPS,
    SSPRK3,
    ODEProblem,
    Solution,
    Stepper,
    integrate,
    step_budget,
)

__all__ = ["QuantileStepRule", "cdf_of_quantile_nodes", "max_density", "solve_quantile_flow"]


def cdf_of_quantile_nodes(
    q: Sequence[float] | np.ndarray, s: Sequence[float] | np.ndarray, x: Sequence[float] | np.ndarray | float
) -> np.ndarray | float:
    """CDF at points ``x`` of the measure whose quantile function interpolates ``(s_k, q_k)``.

    The CDF of a piecewise-linear quantile function is its inverse: linear interpolation of ``s``
    against the increasing nodes ``q``, 0 left of ``q_0`` and 1 right of ``q_M``.

    Parameters
    ----------
    q : array_like
        The strictly increasing nodes ``X(s_k)``.
    s : array_like
        The mass coordinates ``s_k`` in [0, 1] (same length).
    x : array_like
        Where to evaluate the CDF.

    Returns
    -------
    numpy.ndarray or float
        The CDF at ``x`` (a float for a scalar ``x``), values in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> s = np.linspace(0.0, 1.0, 5)
    >>> cdf_of_quantile_nodes(np.linspace(0.0, 1.0, 5), s, [-1.0, 0.3, 2.0])
    array([0. , 0.3, 1. ])
    """
    return np.interp(x, q, s, left=0.0, right=1.0)


def max_density(q: np.ndarray) -> float:
    """The largest density of the piecewise-constant density with cells of mass 1/M between the nodes.

    Parameters
    ----------
    q : numpy.ndarray
        The M+1 strictly increasing nodes of a quantile function.

    Returns
    -------
    float
        ``1 / (M min_k (q_{k+1} - q_k))``.

    Examples
    --------
    >>> import numpy as np
    >>> max_density(np.array([0.0, 0.1, 0.5, 1.0, 2.0]))
    2.5
    """
    gaps = np.diff(q)
    return float(1.0 / (gaps.size * gaps.min()))


def _positive(name, value, allow_inf=False):
    v = float(value)
    if not (v > 0 and (allow_inf or np.isfinite(v))):
        raise ValueError(f"{name} must be a positive{'' if allow_inf else ' finite'} number, got {value!r}")
    return v


class QuantileStepRule:
    """The step rule of the quantile flow: positivity (node order) and accuracy.

    ``dt = min(cfl / L, cfl * min_gap / v_max, dt_max)`` with ``L = dvdh * max density`` over both
    species and ``min_gap`` the smallest node gap (module docstring), for a state ``(X, Y)``.

    Parameters
    ----------
    cfl : float
        In (0, 1).
    dvdh : float
        Bound (> 0) on ``|dV/dH|`` (2 for paper 002).
    v_max : float
        Bound (> 0) on ``|V|`` (2 for paper 002).
    dt_max : float
        Cap (> 0) on the step (``inf``: none).

    Raises
    ------
    ValueError
        If ``cfl`` is outside (0, 1), or ``dvdh``, ``v_max`` or ``dt_max`` is not positive (the first
        two also finite).

    References
    ----------
    :cite:`DiFrancescoEspositoSchmidtchen`; theory page ``docs/theory/002-newtonian.md``.

    Examples
    --------
    >>> import numpy as np
    >>> rule = QuantileStepRule()
    >>> rule
    QuantileStepRule(cfl=0.5, dvdh=2.0, v_max=2.0, dt_max=inf)
    >>> float(rule.propose(0.0, (np.linspace(-1.0, 0.0, 5), np.linspace(0.0, 1.0, 5))))
    0.0625
    >>> rule.describe()
    {'step_rule': 'quantile_cfl', 'cfl': 0.5, 'dvdh': 2.0, 'v_max': 2.0}
    """

    adaptive = False

    def __init__(self, cfl: float = 0.5, dvdh: float = 2.0, v_max: float = 2.0, dt_max: float = np.inf) -> None:
        self.cfl = float(cfl)
        if not 0 < self.cfl < 1:
            raise ValueError(f"cfl must lie in (0, 1), got {cfl!r}")
        self.dvdh = _positive("dvdh", dvdh)
        self.v_max = _positive("v_max", v_max)
        self.dt_max = _positive("dt_max", dt_max, allow_inf=True)

    def propose(self, t: float, y: np.ndarray) -> float:
        """The step from state ``y = (X, Y)`` at time ``t``.

        Parameters
        ----------
        t : float
            The current time (unused: the rule depends on the state only).
        y : numpy.ndarray
            The nodes, shape ``(2, M + 1)``.

        Returns
        -------
        float
            ``min(cfl / L, cfl * min_gap / v_max, dt_max)``.
        """
        X, Y = y
        L = self.dvdh * max(max_density(X), max_density(Y))
        gap = min(np.diff(X).min(), np.diff(Y).min())
        return min(self.cfl / L, self.cfl * gap / self.v_max, self.dt_max)

    def describe(self) -> dict:
        """The rule's name and parameters, for the solver attributes of a dataset.

        Returns
        -------
        dict
            ``step_rule``, ``cfl``, ``dvdh``, ``v_max`` and ``dt_max`` when finite.
        """
        out = {"step_rule": "quantile_cfl", "cfl": self.cfl, "dvdh": self.dvdh, "v_max": self.v_max}
        if np.isfinite(self.dt_max):
            out["dt_max"] = self.dt_max
        return out

    def __repr__(self) -> str:
        return f"QuantileStepRule(cfl={self.cfl!r}, dvdh={self.dvdh!r}, v_max={self.v_max!r}, dt_max={self.dt_max!r})"


def _check_node_order(y):
    """``post_step``: the nodes of each species must stay strictly increasing (positivity)."""
    if np.any(np.diff(y, axis=1) <= 0):
        raise RuntimeError("quantile nodes lost their order; the step rule was violated")
    return y


def solve_quantile_flow(
    X0: ArrayLike,
    Y0: ArrayLike,
    velocity_x: Callable[[np.ndarray, np.ndarray], np.ndarray],
    velocity_y: Callable[[np.ndarray, np.ndarray], np.ndarray],
    out_times: Sequence[float] | np.ndarray,
    t_end: float,
    cfl: float = 0.5,
    dvdh: float = 2.0,
    v_max: float = 2.0,
    dt_max: float = np.inf,
    stepper: Stepper | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
) -> tuple[np.ndarray, np.ndarray, Solution]:
    """Integrate the nodal system from ``X0``, ``Y0`` (strictly increasing, same length M+1).

    Parameters
    ----------
    X0, Y0 : array_like
        The initial quantile nodes of the two species at ``s_k = k/M``.
    velocity_x, velocity_y : callable
        ``velocity_x(s, H)`` / ``velocity_y(s, F)`` give the Lagrangian velocities from the mass
        coordinates and the CDF of the other species at the nodes.
    out_times : array_like
        Increasing output times in ``[0, t_end]``.
    t_end : float
        The end of the run (positive).
    cfl, dvdh, v_max, dt_max : float, optional
        The step rule (:class:`QuantileStepRule`): ``dvdh`` bounds the velocities' derivative in the CDF
        argument and ``v_max`` their size (2 and 2 for paper 002).
    stepper : Stepper or None, optional
        An SSP stepper of :mod:`meanfield.solvers.timestepping` (default ``SSPRK3()``).
    max_steps : int, optional
        The step cap of the driver.

    Returns
    -------
    X_out, Y_out : numpy.ndarray
        The nodes at ``out_times``, shape ``(len(out_times), M+1)`` each.
    solution : Solution
        The driver's :class:`~meanfield.solvers.timestepping.Solution` (``.steps``, ``.info`` with the
        scheme, its declared order and the step rule).

    Raises
    ------
    ValueError
        Before any work for bad arguments, including a ``dt_max`` so small that reaching ``t_end``
        would take more than ``max_steps`` steps.
    RuntimeError
        If the nodes lose their order after a step (the step rule was violated).

    References
    ----------
    :cite:`DiFrancescoEspositoSchmidtchen`; theory page ``docs/theory/002-newtonian.md``.

    Examples
    --------
    X on [-1, 0] moves right with velocity ``1 - H``, Y on [0, 1] moves left with velocity ``-F``:

    >>> import numpy as np
    >>> X, Y, sol = solve_quantile_flow(np.linspace(-1.0, 0.0, 9), np.linspace(0.0, 1.0, 9),
    ...                                 lambda s, H: 1 - H, lambda s, F: -F, [0.0, 0.5], 0.5)
    >>> X.shape, sol.steps
    ((2, 9), 21)
    >>> X[-1].round(4)
    array([-0.5   , -0.375 , -0.2509, -0.1401, -0.042 ,  0.0474,  0.131 ,  0.2105,  0.2872])
    """
    stepper = SSPRK3() if stepper is None else stepper
    rule = QuantileStepRule(cfl, dvdh, v_max, dt_max)
    t_end = _positive("t_end", t_end)
    if np.isfinite(rule.dt_max):
        step_budget("dt_max", rule.dt_max, t_end, max_steps)
    y0 = np.stack([np.asarray(X0, dtype=float), np.asarray(Y0, dtype=float)])
    if y0.ndim != 2 or y0.shape[1] < 2:
        raise ValueError(f"X0 and Y0 must be 1-D arrays of the same length >= 2, got shape {y0.shape}")
    if np.any(np.diff(y0, axis=1) <= 0):
        raise ValueError("X0 and Y0 must be strictly increasing")
    s = np.linspace(0.0, 1.0, y0.shape[1])

    def rhs(_t, y):
        X, Y = y
        out = np.empty_like(y)
        out[0] = velocity_x(s, cdf_of_quantile_nodes(Y, s, X))
        out[1] = velocity_y(s, cdf_of_quantile_nodes(X, s, Y))
        return out

    sol = integrate(stepper, ODEProblem(rhs, post_step=_check_node_order), y0, t_end,
                    cast(Sequence[float], out_times), rule, max_steps=max_steps)
    nodes = np.array(sol.states)
    return nodes[:, 0], nodes[:, 1], sol
