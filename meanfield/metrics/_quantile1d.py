"""Compiled kernels of the 1-D Wasserstein distance: a sort of positions that carries the weights
along, and one merge of the two quantile functions' mass breakpoints.

A 1-D measure here is a list of *quantile pieces*: piece ``k`` carries mass ``m_k`` and its quantile
function runs linearly from ``l_k`` to ``r_k`` over the mass interval it occupies (an atom has
``l_k = r_k``). With the pieces of both measures in increasing order, the merged breakpoints
``s_0 = 0 < s_1 < ... `` of the two cumulative masses cut ``[0, m]`` into intervals on which
``F^{-1} - G^{-1}`` is linear, from ``a`` to ``b`` say, so that

    W_p^p = ∫_0^m |F^{-1}(s) - G^{-1}(s)|^p ds = Σ (s_{i+1} - s_i) · A_p(a_i, b_i),           (1)
    A_p(a, b) = ∫_0^1 |a + (b - a) t|^p dt
              = (u^{p+1} - v^{p+1}) / ((p + 1)(u - v))          a, b of one sign, u = max |.|, v = min |.|
              = (|a|^{p+1} + |b|^{p+1}) / ((p + 1)(|a| + |b|))  a, b of opposite signs.          (2)

Scaled form (any p >= 1, no overflow or underflow of the powers): with ``D = max |F^{-1} - G^{-1}|``
(the largest end value of (1), found by a first merge pass) and the total mass ``m``,

    W_p = D · m^{1/p} · ( Σ ((s_{i+1} - s_i) / m) · A_p(a_i / D, b_i / D) )^{1/p},               (3)

where the largest term of the sum is of the order of its piece's share of the mass, however large p.
Both passes are one linear walk over the two piece lists (no allocation, O(n1 + n2)).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["merge_pass", "sort_with_weights"]

_RADIX_BITS = 11
_RADIX_PASSES = 6  # 6 * 11 >= 64 bits


@njit(cache=True)
def sort_with_weights(x, w):
    """``(x[order], w[order])`` for the stable order of ``x`` (finite float64), by an LSD radix sort
    of the order-preserving integer image of the floats, 11 bits per pass; a pass whose digit is
    the same for every key is skipped."""
    n = x.size
    bits = x.view(np.uint64)
    top = np.uint64(1) << np.uint64(63)
    ones = ~np.uint64(0)
    keys = np.empty(n, np.uint64)
    for i in range(n):
        b = bits[i]
        keys[i] = (b ^ ones) if (b & top) else (b ^ top)  # negative: flip all bits; positive: the sign
    nb = 1 << _RADIX_BITS
    mask = np.uint64(nb - 1)
    hist = np.zeros((_RADIX_PASSES, nb), np.int64)
    for i in range(n):
        v = keys[i]
        for q in range(_RADIX_PASSES):
            hist[q, (v >> np.uint64(q * _RADIX_BITS)) & mask] += 1
    keys2 = np.empty(n, np.uint64)
    ws = w.copy()
    ws2 = np.empty(n, np.float64)
    offset = np.empty(nb, np.int64)
    for q in range(_RADIX_PASSES):
        h = hist[q]
        trivial = False
        for d in range(nb):
            if h[d] != 0:
                trivial = h[d] == n
                break
        if trivial:
            continue
        acc = 0
        for d in range(nb):
            offset[d] = acc
            acc += h[d]
        shift = np.uint64(q * _RADIX_BITS)
        for i in range(n):
            d = (keys[i] >> shift) & mask
            o = offset[d]
            keys2[o] = keys[i]
            ws2[o] = ws[i]
            offset[d] = o + 1
        keys, keys2 = keys2, keys
        ws, ws2 = ws2, ws
    out = np.empty(n, np.float64)
    out_bits = out.view(np.uint64)
    for i in range(n):
        v = keys[i]
        out_bits[i] = (v ^ top) if (v & top) else (v ^ ones)
    return out, ws


@njit(cache=True, inline="always")
def _mean_abs_power(a, b, p):
    """A_p(a, b) of (2), without cancellation when |a| ≈ |b|."""
    if a == b:
        if p == 1.0:
            return abs(a)
        if p == 2.0:
            return a * a
        return abs(a) ** p
    ua, ub = abs(a), abs(b)
    if (a < 0.0) != (b < 0.0) and ua > 0.0 and ub > 0.0:
        return (ua ** (p + 1.0) + ub ** (p + 1.0)) / ((p + 1.0) * (ua + ub))
    u, v = max(ua, ub), min(ua, ub)
    if p == 1.0:
        return 0.5 * (u + v)
    if p == 2.0:
        return (u * u + u * v + v * v) / 3.0
    if v == 0.0:
        return u**p / (p + 1.0)
    log_r = math.log(v / u)
    if log_r == 0.0:
        return u**p
    return u**p * (math.expm1((p + 1.0) * log_r) / math.expm1(log_r)) / (p + 1.0)


@njit(cache=True, inline="always")
def _quantile(left, right, lo, mass, s, atom):
    if atom or mass <= 0.0:
        return left
    frac = min(max((s - lo) / mass, 0.0), 1.0)
    return left + (right - left) * frac


@njit(cache=True)
def merge_pass(m1, l1, r1, atoms1, m2, l2, r2, atoms2, p, scale, inv_mass):
    """One walk over the merged breakpoints of two sorted piece lists (see the module docstring).

    ``scale == 0``: returns ``D``, the largest ``|F^{-1} - G^{-1}|`` at a breakpoint.
    ``scale > 0``: returns ``Σ (ds · inv_mass) · A_p(a / scale, b / scale)``, the sum of (3).
    The walk stops when either list is exhausted (the smaller total mass). ``atoms1`` says that
    ``l1`` and ``r1`` are the same array (``atoms2`` likewise).
    """
    n1, n2 = m1.size, m2.size
    i, j = 0, 0
    lo1, hi1 = 0.0, m1[0]
    lo2, hi2 = 0.0, m2[0]
    c1, c2 = 0.0, 0.0  # compensations of the running sums hi1, hi2 (Kahan)
    s = 0.0
    acc, c_acc = 0.0, 0.0  # the sum and its compensation (Kahan)
    inv_scale = 1.0 / scale if scale > 0.0 else 0.0
    while i < n1 and j < n2:
        e = min(hi1, hi2)
        ds = e - s
        if ds > 0.0:
            da = _quantile(l1[i], r1[i], lo1, m1[i], s, atoms1) - _quantile(l2[j], r2[j], lo2, m2[j], s, atoms2)
            if atoms1 and atoms2:
                db = da
            else:
                db = _quantile(l1[i], r1[i], lo1, m1[i], e, atoms1) - _quantile(l2[j], r2[j], lo2, m2[j], e, atoms2)
            if scale == 0.0:
                acc = max(acc, abs(da), abs(db))
            else:
                y = (ds * inv_mass) * _mean_abs_power(da * inv_scale, db * inv_scale, p) - c_acc
                t = acc + y
                c_acc = (t - acc) - y
                acc = t
            s = e
        if hi1 <= e:
            i += 1
            if i < n1:
                y = m1[i] - c1
                t = hi1 + y
                c1 = (t - hi1) - y
                lo1, hi1 = hi1, t
        if hi2 <= e:
            j += 1
            if j < n2:
                y = m2[j] - c2
                t = hi2 + y
                c2 = (t - hi2) - y
                lo2, hi2 = hi2, t
    return acc
