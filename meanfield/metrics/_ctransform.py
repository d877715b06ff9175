"""Compiled c-transform of dual potentials over all particles, for
:mod:`meanfield.metrics.semidiscrete` (imported on first use: numba is not loaded with the package)."""

import math

import numpy as np
from numba import njit, prange

__all__ = ["ctransform"]


@njit(parallel=True, cache=True)
def ctransform(x, u, y, period, p):
    """Best and second-best value of ``|x_i - y_j|^p - u_i`` over the particles ``i``, for every
    point ``y_j`` (minimal image on the axes with ``period > 0``), and the largest
    ``|displacement_a| / period_a`` of the best particle (0 in free space)."""
    n, dim = x.shape
    m = y.shape[0]
    best = np.empty(m)
    second = np.empty(m)
    reach = np.zeros(m)
    argbest = np.zeros(m, np.int64)
    for j in prange(m):
        b1 = np.inf
        b2 = np.inf
        arg = 0
        for i in range(n):
            d2 = 0.0
            for a in range(dim):
                diff = x[i, a] - y[j, a]
                if period[a] > 0.0:
                    diff -= period[a] * np.round(diff / period[a])
                d2 += diff * diff
            val = (d2 if p == 2 else math.sqrt(d2)) - u[i]
            if val < b1:
                b2 = b1
                b1 = val
                arg = i
            elif val < b2:
                b2 = val
        best[j] = b1
        second[j] = b2
        argbest[j] = arg
        for a in range(dim):
            if period[a] > 0.0:
                diff = x[arg, a] - y[j, a]
                diff -= period[a] * np.round(diff / period[a])
                reach[j] = max(reach[j], (abs(diff) + 0.0) / period[a])
    return best, second, reach, argbest
