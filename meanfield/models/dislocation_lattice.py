"""The jump part of the lattice mean field (MF^ε) of model 003, in one compiled pass over the lattice.

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
(``d = −u/(1 + u)`` would lose digits to ``1 + u`` for ``x ≪ 0``), loss ``−u d``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["flux_difference"]


# |x| below this: e^{±x} - 1 from the even and odd parts of the Taylor series through x^11/11! (the first
# dropped term, x^12/12!, is below 2.1e-21 there: under a thousandth of an ulp of e^{±x} - 1)
_SERIES_BELOW = 0.1


@njit(cache=True, nogil=True, inline="always")
def _expm1_pair(x):  # pragma: no cover - compiled
    """``(e^x - 1, e^{-x} - 1, loss)`` with ``loss = (e^x - 1) + (e^{-x} - 1) = 2 (cosh x - 1) ≥ 0``."""
    if abs(x) < _SERIES_BELOW:
        x2 = x * x
        even = x2 * (1 / 2 + x2 * (1 / 24 + x2 * (1 / 720 + x2 * (1 / 40320 + x2 * (1 / 3628800)))))
        odd = x * (1 + x2 * (1 / 6 + x2 * (1 / 120 + x2 * (1 / 5040 + x2 * (1 / 362880 + x2 * (1 / 39916800))))))
        return even + odd, even - odd, 2 * even
    u = math.expm1(x)
    d = math.expm1(-x)  # not -u/(1 + u): 1 + u cancels for x << 0 (2e-12 relative at x = -10)
    return u, d, -(u * d)


@njit(cache=True, nogil=True)
def _flux_difference(f, x0, x1, scale, out):  # pragma: no cover - compiled (tested through flux_difference)
    n0, n1 = x0.shape
    for i in range(n0):
        ip = i + 1 if i + 1 < n0 else 0
        im = i - 1 if i > 0 else n0 - 1
        for j in range(n1):
            jp = j + 1 if j + 1 < n1 else 0
            jm = j - 1 if j > 0 else n1 - 1
            u0, d0, loss0 = _expm1_pair(x0[i, j])
            u1, d1, loss1 = _expm1_pair(x1[i, j])
            loss = loss0 + loss1
            a = f[0, i, j] * scale  # species +: towards +e_a with d_a, towards -e_a with u_a
            out[0, i, j] -= loss * a
            out[0, ip, j] += d0 * a
            out[0, im, j] += u0 * a
            out[0, i, jp] += d1 * a
            out[0, i, jm] += u1 * a
            b = f[1, i, j] * scale  # species -: the other way round
            out[1, i, j] -= loss * b
            out[1, ip, j] += u0 * b
            out[1, im, j] += d0 * b
            out[1, i, jp] += u1 * b
            out[1, i, jm] += d1 * b


def flux_difference(f, x0, x1, scale):
    """``J = (J⁺, J⁻)`` of the module docstring, shape ``(2, n0, n1)``, periodic lattice.

    ``f``: densities ``(f⁺, f⁻)`` at the sites, shape ``(2, n0, n1)``; ``x0``, ``x1``: ``½βε (∇V_δ * σ)``
    along each axis, shape ``(n0, n1)``; ``scale = 1/(βε²)``. Each species' sum of ``J`` is 0 to round-off
    (mass conservation). Internal (called by the solver with checked arrays); the shapes are checked.
    """
    f = np.ascontiguousarray(f, dtype=np.float64)
    x0 = np.ascontiguousarray(x0, dtype=np.float64)
    x1 = np.ascontiguousarray(x1, dtype=np.float64)
    if f.ndim != 3 or f.shape[0] != 2 or x0.shape != f.shape[1:] or x1.shape != f.shape[1:]:
        raise ValueError(f"f must have shape (2, n0, n1) and x0, x1 shape (n0, n1); got {f.shape}, {x0.shape}, "
                         f"{x1.shape}")
    out = np.zeros(f.shape)
    _flux_difference(f, x0, x1, float(scale), out)
    return out
