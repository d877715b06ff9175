"""The jump part of the lattice mean field (MF^ε) of model 003, in one compiled sweep over the lattice.

Paper eq. (10)–(11) (Hudson, van Meurs, Peletier 2020; theory page ``docs/theory/003-dislocations.md``):
on ``Λ_ε`` a walker of species ± at ``ℓ`` jumps to ``ℓ + h``, ``h = ±ε e_a``, at rate
``R_h(ℓ) = exp(½ β h·F(ℓ, ±)) / (β ε²)`` with ``F(·, ±) = ∓ ∇V_δ * σ``. Split as
``R_h = (1 + (e^{½βh·F} − 1)) / (βε²)``, the 1 is the lattice Laplacian (the linear part of the ETDRK4
problem in :meth:`~meanfield.models.dislocations.Dislocations2D.lattice_problem`) and this module gives the
rest, the conservative flux difference

    J^±(ℓ) = Σ_h [g_h^±(ℓ − h) f^±(ℓ − h) − g_h^±(ℓ) f^±(ℓ)] / (βε²),   g_h^± = e^{½βh·F(·, ±)} − 1.

With ``x_a = ½βε (∇V_δ * σ)_a`` (per axis ``a``), ``u_a = e^{x_a} − 1`` and ``d_a = e^{−x_a} − 1 =
−u_a/(1 + u_a)``: species + (force ``−∇V_δ * σ``) leaves towards ``+e_a`` with factor ``d_a`` and towards
``−e_a`` with ``u_a``; species − the other way round; the loss at ``ℓ`` is ``(u_a + d_a) f = 2(cosh x_a − 1) f``.
One evaluation per site and axis serves both species and both directions (the NumPy form it replaces took
four ``expm1``, and twenty-odd passes over the arrays): for ``|x_a| < 0.1`` (every site at the step sizes
the solver takes) the even and odd parts ``E``, ``O`` of the Taylor series give ``u = E + O``,
``d = E − O`` and the loss ``2E`` without cancellation or division; larger ``|x_a|`` use ``expm1`` for both
(``d = −u/(1 + u)`` would lose digits to ``1 + u`` for ``x ≪ 0``), loss ``−u d``. The lattice is swept
row by row: the factors of rows ``i − 1, i, i + 1`` are kept in three rotating row buffers (each row's
factors made once, by a branch-free loop the compiler vectorises), and ``J(ℓ)`` is gathered from the four
neighbours, so each site is written once.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["flux_difference"]


# |x| below this: e^{±x} - 1 from the even and odd parts of the Taylor series through x^11/11! (the first
# dropped term, x^12/12!, is below 2.1e-21 there: under a thousandth of an ulp of e^{±x} - 1)
_SERIES_BELOW = 0.1


@njit(cache=True, nogil=True)
def _factors(x, u, d, loss):  # pragma: no cover - compiled
    """Row of ``u = e^x - 1``, ``d = e^{-x} - 1``, ``loss = u + d = 2 (cosh x - 1)``: the series (a loop
    without branches, which the compiler vectorises), then ``expm1`` where ``|x| >= 0.1``."""
    for j in range(x.size):
        x1 = x[j]
        x2 = x1 * x1
        even = x2 * (1 / 2 + x2 * (1 / 24 + x2 * (1 / 720 + x2 * (1 / 40320 + x2 * (1 / 3628800)))))
        odd = x1 * (1 + x2 * (1 / 6 + x2 * (1 / 120 + x2 * (1 / 5040 + x2 * (1 / 362880 + x2 * (1 / 39916800))))))
        u[j] = even + odd
        d[j] = even - odd
        loss[j] = 2 * even
    for j in range(x.size):
        if not abs(x[j]) < _SERIES_BELOW:
            uj = math.expm1(x[j])
            dj = math.expm1(-x[j])  # not -u/(1 + u): 1 + u cancels for x << 0 (2e-12 relative at x = -10)
            u[j], d[j], loss[j] = uj, dj, -(uj * dj)


@njit(cache=True, nogil=True)
def _flux_difference(f, x0, x1, scale, out):  # pragma: no cover - compiled (tested through flux_difference)
    n0, n1 = x0.shape
    # axis-0 factors of the rows i - 1, i, i + 1 (rotated), axis-1 factors of row i; row 0 kept for the wrap
    prev = np.empty((3, n1))
    cur = np.empty((3, n1))
    nxt = np.empty((3, n1))
    first = np.empty((3, n1))
    row1 = np.empty((3, n1))
    _factors(x0[n0 - 1], prev[0], prev[1], prev[2])
    _factors(x0[0], first[0], first[1], first[2])
    cur[:] = first
    for i in range(n0):
        ip = i + 1 if i + 1 < n0 else 0
        im = i - 1 if i > 0 else n0 - 1
        if ip == 0:
            nxt[:] = first
        else:
            _factors(x0[ip], nxt[0], nxt[1], nxt[2])
        _factors(x1[i], row1[0], row1[1], row1[2])
        for j in range(n1):
            jp = j + 1 if j + 1 < n1 else 0
            jm = j - 1 if j > 0 else n1 - 1
            loss = cur[2, j] + row1[2, j]
            # species +: leaves towards +e_a with d_a, towards -e_a with u_a; species -: the other way round
            inp = (prev[1, j] * f[0, im, j] + nxt[0, j] * f[0, ip, j]
                   + row1[1, jm] * f[0, i, jm] + row1[0, jp] * f[0, i, jp])
            inm = (prev[0, j] * f[1, im, j] + nxt[1, j] * f[1, ip, j]
                   + row1[0, jm] * f[1, i, jm] + row1[1, jp] * f[1, i, jp])
            out[0, i, j] = (inp - loss * f[0, i, j]) * scale
            out[1, i, j] = (inm - loss * f[1, i, j]) * scale
        prev, cur, nxt = cur, nxt, prev


def flux_difference(f, x0, x1, scale, out=None):
    """``J = (J⁺, J⁻)`` of the module docstring, shape ``(2, n0, n1)``, periodic lattice.

    ``f``: densities ``(f⁺, f⁻)`` at the sites, shape ``(2, n0, n1)``; ``x0``, ``x1``: ``½βε (∇V_δ * σ)``
    along each axis, shape ``(n0, n1)``; ``scale = 1/(βε²)``; ``out``: a float64 C-contiguous array of
    ``f``'s shape to write ``J`` into (a work array reused by the caller), else a new one. Each species' sum
    of ``J`` is 0 to round-off (mass conservation). The shapes are checked.
    """
    f = np.ascontiguousarray(f, dtype=np.float64)
    x0 = np.ascontiguousarray(x0, dtype=np.float64)
    x1 = np.ascontiguousarray(x1, dtype=np.float64)
    if f.ndim != 3 or f.shape[0] != 2 or x0.shape != f.shape[1:] or x1.shape != f.shape[1:]:
        raise ValueError(f"f must have shape (2, n0, n1) and x0, x1 shape (n0, n1); got {f.shape}, {x0.shape}, "
                         f"{x1.shape}")
    if out is None:
        out = np.empty(f.shape)
    elif not (isinstance(out, np.ndarray) and out.dtype == np.float64 and out.shape == f.shape
              and out.flags.c_contiguous and out.flags.writeable):
        raise ValueError(f"out must be a writeable C-contiguous float64 array of shape {f.shape}")
    _flux_difference(f, x0, x1, float(scale), out)
    return out
