"""Compiled upper bound of a coupling between particles and a piecewise-uniform density, for
:mod:`meanfield.metrics.semidiscrete` (eq. 1'): imported on first use (numba is not loaded with the
package).

A plan ``π_ij`` between particles ``x_i`` and boxes ``B_j`` (uniform density of mass ``b_j = Σ_i π_ij``)
is turned into a coupling by cutting each box into pieces, one per particle it serves, of masses
``π_ij``: the particles of a box are sorted along the box's longest side, split into two halves by
count, and the box is cut across that side at the fraction of mass of the first half (the half
nearer the low end of the side gets the low piece); the two pieces are split again, recursively,
until each holds one particle. The density is uniform on a box, so a piece of the right volume
fraction carries the right mass and every particle receives exactly ``Σ_j π_ij``: a coupling. Its
cost is summed piece by piece: ``E|x - Y|^2 = |x - c|^2 + Σ_a s_a^2/12`` (exact) for p = 2, and for
p = 1 Jensen's bound ``(|x - c_k|^2 + Σ_a (s_a/K)^2/12)^{1/2}`` averaged over the K^d children of
the piece (K = 4). A box served by one particle costs exactly what spreading the plan uniformly
over it costs; a shared box costs less, since each particle takes the part of the box nearest it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["split_cost"]

_K = 4  # children per axis in the p = 1 Jensen bound


@njit(cache=True)
def _piece_cost(xi, lo, hi, p):
    dim = xi.size
    if p == 2:
        c = 0.0
        for a in range(dim):
            mid = 0.5 * (lo[a] + hi[a])
            side = hi[a] - lo[a]
            c += (xi[a] - mid) ** 2 + side * side / 12.0
        return c
    var = 0.0
    for a in range(dim):
        side = (hi[a] - lo[a]) / _K
        var += side * side / 12.0
    total = 0.0
    count = _K**dim
    for k in range(count):
        rest = k
        d2 = 0.0
        for a in range(dim):
            idx = rest % _K
            rest //= _K
            mid = lo[a] + (idx + 0.5) * (hi[a] - lo[a]) / _K
            d2 += (xi[a] - mid) ** 2
        total += math.sqrt(d2 + var)
    return total / count


@njit(cache=True)
def split_cost(xrel, flow, starts, side, p):
    """``Σ π_ij E|x_i - Y_ij|^p`` of the box-splitting coupling (module docstring).

    ``xrel``: (P, d) particle positions relative to their box's centre (minimal image), rows
    grouped by box; ``flow``: (P,) the plan's masses; ``starts``: (B + 1,) offsets of the boxes'
    groups; ``side``: (d,) the boxes' sides; ``p``: 1 or 2.
    """
    dim = xrel.shape[1]
    total = 0.0
    nbox = starts.size - 1
    order = np.arange(xrel.shape[0])
    # explicit stack of pieces: (start, end, lo[0..d), hi[0..d))
    stack_se = np.empty((64, 2), np.int64)
    stack_lo = np.empty((64, dim))
    stack_hi = np.empty((64, dim))
    key = np.empty(xrel.shape[0])
    for b in range(nbox):
        top = 0
        stack_se[0, 0] = starts[b]
        stack_se[0, 1] = starts[b + 1]
        for a in range(dim):
            stack_lo[0, a] = -0.5 * side[a]
            stack_hi[0, a] = 0.5 * side[a]
        top = 1
        while top > 0:
            top -= 1
            s0, s1 = stack_se[top, 0], stack_se[top, 1]
            lo = stack_lo[top].copy()
            hi = stack_hi[top].copy()
            if s1 - s0 == 1:
                i = order[s0]
                total += flow[i] * _piece_cost(xrel[i], lo, hi, p)
                continue
            ax = 0
            for a in range(1, dim):
                if hi[a] - lo[a] > hi[ax] - lo[ax]:
                    ax = a
            for k in range(s0, s1):  # insertion sort of the group along the axis
                key[k] = xrel[order[k], ax]
            for k in range(s0 + 1, s1):
                v, o = key[k], order[k]
                m = k - 1
                while m >= s0 and key[m] > v:
                    key[m + 1] = key[m]
                    order[m + 1] = order[m]
                    m -= 1
                key[m + 1] = v
                order[m + 1] = o
            half = s0 + (s1 - s0) // 2
            m_low, m_all = 0.0, 0.0
            for k in range(s0, s1):
                m_all += flow[order[k]]
                if k < half:
                    m_low += flow[order[k]]
            cut = lo[ax] + (hi[ax] - lo[ax]) * (m_low / m_all if m_all > 0.0 else 0.5)
            if top + 2 > stack_se.shape[0]:
                raise ValueError("box-splitting stack overflow")
            stack_se[top, 0], stack_se[top, 1] = s0, half
            stack_lo[top] = lo
            stack_hi[top] = hi
            stack_hi[top, ax] = cut
            top += 1
            stack_se[top, 0], stack_se[top, 1] = half, s1
            stack_lo[top] = lo
            stack_hi[top] = hi
            stack_lo[top, ax] = cut
            top += 1
    return total
