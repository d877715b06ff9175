"""Lagrangian (pseudo-inverse / quantile) solver for two-species 1-D Wasserstein gradient flows.

Each species is described by its quantile function X(s), s in [0, 1], discretised by its values at
the nodes s_k = k/M (k = 0..M): a piecewise-linear quantile function, i.e. a piecewise-constant
density with cells of mass 1/M (``meanfield.measures.IntervalDensity1D``). For flows whose
Lagrangian velocity depends on the mass coordinate s and on the CDF of the *other* species at the
particle's position,

    d/dt X(s, t) = V_X(s, H(X(s, t))),        d/dt Y(s, t) = V_Y(s, F(Y(s, t))),

the nodes are integrated by SSP-RK3. H is the exact CDF of the piecewise-linear other quantile
(inverse linear interpolation, O(M log M)). Mass per cell is 1/M by construction (exact
conservation) and positivity is the strict ordering of the nodes, which is checked every step.

Step rule (CFL in physical space): the right-hand side is Lipschitz in X with constant
L = |dV/dH| * max density of the other species, so a node gap X_{k+1} - X_k shrinks at most at
relative rate L and a forward Euler step (and SSP-RK3, a convex combination of them) keeps the
order when ``dt <= cfl / L``, ``cfl < 1``. For accuracy we also require that no node moves more than
``cfl`` times the smallest cell: ``dt <= cfl * min_gap / v_max``. Both are recomputed every step.

Orders (measured in tests/test_newtonian1d_continuum.py): 2 in space (W1 vs M), 2 in time: the
right-hand side is only piecewise linear in X (kinks where a node of X passes a node of Y), and each
kink crossing costs O(dt^2), so SSP-RK3 does not reach 3.
"""

from __future__ import annotations

import numpy as np

__all__ = ["cdf_of_quantile_nodes", "solve_quantile_flow", "max_density"]


def cdf_of_quantile_nodes(q, s, x):
    """CDF at points ``x`` of the measure whose quantile function interpolates ``(s_k, q_k)``."""
    return np.interp(x, q, s, left=0.0, right=1.0)


def max_density(q):
    gaps = np.diff(q)
    return float((1.0 / (gaps.size * gaps.min())))


def solve_quantile_flow(X0, Y0, velocity_x, velocity_y, out_times, t_end, cfl=0.5, dvdh=2.0, v_max=2.0, dt_max=np.inf):
    """Integrate the nodal system from ``X0``, ``Y0`` (strictly increasing, length M+1).

    ``velocity_x(s, H)`` / ``velocity_y(s, F)`` give the Lagrangian velocities; ``dvdh`` bounds
    their derivative in the CDF argument and ``v_max`` their size (2 and 2 for paper 002). Returns ``(X_out, Y_out, n_steps)``.
    """
    X = np.array(X0, dtype=float)
    Y = np.array(Y0, dtype=float)
    M = X.size - 1
    s = np.linspace(0.0, 1.0, M + 1)

    def rhs(X, Y):
        return velocity_x(s, cdf_of_quantile_nodes(Y, s, X)), velocity_y(s, cdf_of_quantile_nodes(X, s, Y))

    out_times = np.asarray(out_times, dtype=float)
    Xo = np.empty((out_times.size, M + 1))
    Yo = np.empty((out_times.size, M + 1))
    t = 0.0
    o = 0
    steps = 0
    while o < out_times.size and out_times[o] <= 0.0:
        Xo[o], Yo[o] = X, Y
        o += 1
    while o < out_times.size:
        L = dvdh * max(max_density(X), max_density(Y))
        gap = min(np.diff(X).min(), np.diff(Y).min())
        dt = min(cfl / L, cfl * gap / v_max, dt_max, out_times[o] - t)
        k1x, k1y = rhs(X, Y)
        X1, Y1 = X + dt * k1x, Y + dt * k1y
        k2x, k2y = rhs(X1, Y1)
        X2 = 0.75 * X + 0.25 * (X1 + dt * k2x)
        Y2 = 0.75 * Y + 0.25 * (Y1 + dt * k2y)
        k3x, k3y = rhs(X2, Y2)
        X = X / 3.0 + 2.0 / 3.0 * (X2 + dt * k3x)
        Y = Y / 3.0 + 2.0 / 3.0 * (Y2 + dt * k3y)
        t = t + dt
        steps += 1
        if np.any(np.diff(X) <= 0) or np.any(np.diff(Y) <= 0):
            raise RuntimeError(f"quantile nodes lost their order at t={t}; the step rule was violated")
        while o < out_times.size and t >= out_times[o] * (1 - 1e-14):
            Xo[o], Yo[o] = X, Y
            o += 1
    return Xo, Yo, steps
