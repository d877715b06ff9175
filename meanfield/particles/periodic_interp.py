"""Pair forces of n particles on the unit torus from a tabulated periodic kernel (model 003, SDE_n).

The kernel ``G = ∇V_δ`` is given by its values on the fine periodic grid ``(j/M, l/M)``, ``j, l ∈
{0..M-1}`` (two tables ``G_1, G_2``); off the grid it is evaluated by tensor-product Lagrange
interpolation of order ``q`` (``q`` points per axis, polynomial degree ``q - 1``, the ``q`` grid points
nearest to the evaluation point, indices taken mod M). For a smooth periodic kernel the error is
``O((1/M)^q ‖∂^q G‖_∞)`` (measured for the model's kernels in ``Dislocations2D``).

:func:`pair_fields` returns ``S_i = (1/n) Σ_j b_j G(x_i - x_j)`` (the ``j = i`` term included; it is
``G(0)`` read from the table: Lagrange interpolation is exact at grid points, and it is zero for an
odd kernel), so the force (6) of the paper is ``F_i = -b_i S_i``. Each unordered pair is interpolated
once and used twice (``G(-d) = -G(d)`` for the odd kernels ``∇V_δ``): O(n² q²/2) work, compiled
with numba, no allocation per pair.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

__all__ = ["interpolate", "pair_fields"]


@njit(cache=True, nogil=True)
def _weights(u, q, inv_den, w):
    """Lagrange weights at the offset ``u`` (grid units) from the first of ``q`` consecutive nodes
    ``0..q-1``: ``w[a] = Π_{c≠a} (u - c)/(a - c)`` (``inv_den[a] = 1/Π_{c≠a}(a - c)``)."""
    for a in range(q):
        num = inv_den[a]
        for c in range(q):
            if c != a:
                num *= u - c
        w[a] = num


@njit(cache=True, nogil=True)
def _eval(d0, d1, g, q, inv_den, wx, wy):
    m = g.shape[0]
    u0 = (d0 - np.floor(d0)) * m  # in [0, m]
    u1 = (d1 - np.floor(d1)) * m
    i0 = int(np.floor(u0)) - (q // 2 - 1)
    i1 = int(np.floor(u1)) - (q // 2 - 1)
    _weights(u0 - i0, q, inv_den, wx)
    _weights(u1 - i1, q, inv_den, wy)
    s1 = 0.0
    s2 = 0.0
    inside = i1 >= 0 and i1 + q <= m
    for a in range(q):
        ia = (i0 + a) % m
        t1 = 0.0
        t2 = 0.0
        if inside:  # no wrap along the second axis: contiguous row segment
            for c in range(q):
                t1 += wy[c] * g[ia, i1 + c, 0]
                t2 += wy[c] * g[ia, i1 + c, 1]
        else:
            for c in range(q):
                ic = (i1 + c) % m
                t1 += wy[c] * g[ia, ic, 0]
                t2 += wy[c] * g[ia, ic, 1]
        s1 += wx[a] * t1
        s2 += wx[a] * t2
    return s1, s2


@njit(cache=True, nogil=True)
def _inv_den(q):
    out = np.empty(q)
    for a in range(q):
        den = 1.0
        for c in range(q):
            if c != a:
                den *= a - c
        out[a] = 1.0 / den
    return out


@njit(cache=True, nogil=True)
def _pair_fields(x, b, g, q, out):
    """Each unordered pair once: ``G(x_j - x_i)`` is taken as ``-G(x_i - x_j)`` (the kernel is odd), so
    the result is exactly antisymmetric pair by pair; the ``j = i`` term is ``G(0)`` (exact at a grid point)."""
    n = x.shape[0]
    wx = np.empty(q)
    wy = np.empty(q)
    inv_den = _inv_den(q)
    for i in range(n):
        out[i, 0] = 0.0
        out[i, 1] = 0.0
    for i in range(n):
        v1, v2 = _eval(0.0, 0.0, g, q, inv_den, wx, wy)
        out[i, 0] += b[i] * v1
        out[i, 1] += b[i] * v2
        for j in range(i + 1, n):
            v1, v2 = _eval(x[i, 0] - x[j, 0], x[i, 1] - x[j, 1], g, q, inv_den, wx, wy)
            out[i, 0] += b[j] * v1
            out[i, 1] += b[j] * v2
            out[j, 0] -= b[i] * v1
            out[j, 1] -= b[i] * v2
    for i in range(n):
        out[i, 0] /= n
        out[i, 1] /= n


@njit(cache=True, nogil=True)
def _interpolate(p, g, q, out):
    wx = np.empty(q)
    wy = np.empty(q)
    inv_den = _inv_den(q)
    for i in range(p.shape[0]):
        v1, v2 = _eval(p[i, 0], p[i, 1], g, q, inv_den, wx, wy)
        out[i, 0] = v1
        out[i, 1] = v2


def _check(tables, order):
    g = np.asarray(tables, dtype=float)
    if g.ndim != 3 or g.shape[0] != 2 or g.shape[1] != g.shape[2]:
        raise ValueError(f"tables must be two square (M, M) arrays (shape (2, M, M)), got shape {g.shape}")
    q = int(order)
    if q < 2 or q % 2 or q > g.shape[1]:
        raise ValueError(f"order must be an even integer in [2, M={g.shape[1]}], got {order!r}")
    return _interleaved(g), q


_CACHE: dict[str, tuple[Any, np.ndarray]] = {}  # "last": (table, its interleaved copy)


def _interleaved(g):
    """``(M, M, 2)`` contiguous copy (both components of a grid point in one cache line), cached for the
    last table passed (read-only tables of the model are reused at every time step)."""
    hit = _CACHE.get("last")
    if hit is not None and hit[0] is g:
        return hit[1]
    out = np.ascontiguousarray(np.moveaxis(g, 0, -1))
    if not g.flags.writeable:
        _CACHE["last"] = (g, out)
    return out


def pair_fields(x, b, tables, order=6):
    """``S_i = (1/n) Σ_j b_j G(x_i - x_j)``, shape ``(n, 2)``, for positions ``x`` (n, 2) on T² and
    weights ``b`` (n,), ``G`` interpolated from ``tables = (G_1, G_2)`` (module docstring)."""
    g, q = _check(tables, order)
    x = np.ascontiguousarray(x, dtype=float)
    b = np.ascontiguousarray(b, dtype=float)
    out = np.empty((x.shape[0], 2))
    _pair_fields(x, b, g, q, out)
    return out


def interpolate(points, tables, order=6):
    """``G(p)`` at points ``p`` (k, 2) of T² by the interpolation of :func:`pair_fields`, shape (k, 2)."""
    g, q = _check(tables, order)
    p = np.ascontiguousarray(points, dtype=float)
    out = np.empty((p.shape[0], 2))
    _interpolate(p, g, q, out)
    return out
