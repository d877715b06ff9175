"""Exponential time differencing for ``y' = L y + N(t, y)`` (:class:`~.problems.SemilinearProblem`).

With ``z = hL`` and ``φ_0(z) = e^z``, ``φ_{k+1}(z) = (φ_k(z) - 1/k!)/z``:

* :class:`ExactLinear`: the exact flow ``u_{n+1} = e^z u_n`` of a linear problem (``N ≡ 0``), e.g.
  the heat part of a splitting; its declared order is infinite.
* :class:`ETD1` (exponential Euler; Cox & Matthews 2002, eq. (5)), order 1:
  ``u_{n+1} = e^z u_n + h φ_1(z) N_n``.
* :class:`ETD2RK` (Cox & Matthews 2002, eq. (22)), order 2:
  ``a = e^z u_n + h φ_1(z) N(u_n)``, ``u_{n+1} = a + h φ_2(z) (N(a) - N(u_n))``.
* :class:`ETDRK4` (Cox & Matthews 2002, eq. (26)–(29)), order 4, with ``E2 = e^{z/2}``::

      a = E2 u + Q N(u)            b = E2 u + Q N(a)
      c = E2 a + Q (2 N(b) - N(u))
      u_new = e^z u + f1 N(u) + 2 f2 (N(a) + N(b)) + f3 N(c)

  ``Q = (h/2) φ_1(z/2)``, ``f1 = h(φ_1 - 3φ_2 + 4φ_3)``, ``f2 = h(φ_2 - 2φ_3)``, ``f3 = h(-φ_2 + 4φ_3)``.

Coefficients. The closed forms lose all digits to cancellation as ``|z| → 0``. Kassam & Trefethen
(2005, §3) average them over a circle around each ``z`` (:func:`contour_phi`, kept as the reference);
that costs 64 exponentials per entry, too much when a CFL rule changes ``h`` every step. Here
``|z| < 1`` uses the Taylor series ``φ_k(z) = Σ_j z^j/(j+k)!`` (20 terms: truncation < 1e-18) on those
entries only, and ``|z| ≥ 1`` the closed forms (for ETDRK4, the closed forms of ``f1, f2, f3``
themselves, which do not cancel there). Both agree with the contour mean to ~1e-15 (tested).
Coefficients are cached per step size (the last 8 sizes).
"""

from __future__ import annotations

from math import factorial

import numpy as np

from .base import Stepper
from .problems import SemilinearProblem

__all__ = ["ETD1", "ETD2RK", "ETDRK4", "ExactLinear", "contour_phi", "etdrk4_coefficients", "phi_functions"]

_SERIES_TERMS = 20


def _series_phi(z, k):
    """``φ_k(z)`` by its Taylor series (for ``|z| < 1``)."""
    acc = np.full_like(z, 1.0 / factorial(_SERIES_TERMS - 1 + k))
    for j in range(_SERIES_TERMS - 2, -1, -1):
        acc = acc * z + 1.0 / factorial(j + k)
    return acc


def phi_functions(z, k_max):
    """``[φ_0(z), ..., φ_{k_max}(z)]`` accurate to round-off for every real or complex ``z``."""
    z = np.asarray(z)
    shape = z.shape
    z = z.astype(np.result_type(z.dtype, float), copy=False).reshape(-1)
    small = np.abs(z) < 1.0
    zs = np.where(small, 1.0, z)
    ez = np.exp(z)
    out = [ez]
    partial = np.ones_like(z)  # Σ_{j<k} z^j / j!
    zk = np.ones_like(z)
    for k in range(1, k_max + 1):
        zk = zk * zs
        if k > 1:
            partial = partial + z ** (k - 1) / factorial(k - 1)
        phik = (ez - partial) / zk
        if np.any(small):
            phik[small] = _series_phi(z[small], k)
        out.append(phik)
    return [o.reshape(shape) for o in out]


def contour_phi(z, k_max, points=64):
    """``φ_k`` as means over a circle of radius 1 around each ``z`` (Kassam & Trefethen 2005) — the
    reference the series/closed forms are tested against."""
    z = np.asarray(z)
    r = np.exp(2j * np.pi * (np.arange(points) + 0.5) / points)
    w = z[..., None] + r
    out = [np.exp(z)]
    phi = np.exp(w)
    for k in range(1, k_max + 1):
        phi = (phi - 1.0 / factorial(k - 1)) / w
        out.append(np.mean(phi, axis=-1))
    if not np.iscomplexobj(z):
        out = [o.real for o in out]
    return out


def etdrk4_coefficients(hl, h):
    """``(E, E2, Q, f1, f2, f3)`` of ETDRK4 for the array ``hl = hL`` (module docstring)."""
    z = np.asarray(hl)
    shape = z.shape
    z = z.astype(np.result_type(z.dtype, float), copy=False).reshape(-1)
    e = np.exp(z)
    e2, phi1_half = phi_functions(z / 2, 1)
    small = np.abs(z) < 1.0
    zs = np.where(small, 1.0, z)
    f1 = (-4 - zs + e * (4 - 3 * zs + zs**2)) / zs**3
    f2 = (2 + zs + e * (zs - 2)) / zs**3
    f3 = (-4 - 3 * zs - zs**2 + e * (4 - zs)) / zs**3
    if np.any(small):
        p1, p2, p3 = (_series_phi(z[small], k) for k in (1, 2, 3))
        f1[small] = p1 - 3 * p2 + 4 * p3
        f2[small] = p2 - 2 * p3
        f3[small] = -p2 + 4 * p3
    return tuple(c.reshape(shape) for c in (e, e2, 0.5 * h * phi1_half, h * f1, h * f2, h * f3))


def _compact(linear):
    """``linear`` with every broadcast (stride-0) axis cut to length 1: its coefficients broadcast against
    the state exactly as the full ones would (the same numbers), at a fraction of the memory traffic."""
    if not isinstance(linear, np.ndarray) or 0 not in linear.strides:
        return linear
    return linear[tuple(slice(0, 1) if st == 0 and n > 1 else slice(None)
                        for st, n in zip(linear.strides, linear.shape, strict=True))]


def _fits(out, *operands):
    """Whether ``out`` (an array the step itself allocated) can take the result of an elementwise operation
    on ``operands`` in place: the shape of their broadcast and the dtype of the result."""
    return (isinstance(out, np.ndarray) and out.shape == np.broadcast_shapes(*(np.shape(o) for o in operands))
            and out.dtype == np.result_type(*operands))


def _iadd(x, y):
    """``x + y``, in place in ``x`` (a temporary of the step's) when it fits: the same numbers, one array
    fewer to allocate (fresh large arrays cost page faults comparable to the operation)."""
    if _fits(x, x, y):
        x += y
        return x
    return x + y


def _isub(x, y):
    """``x - y``, in place in ``x`` when it fits (:func:`_iadd`)."""
    if _fits(x, x, y):
        x -= y
        return x
    return x - y


def _imul(x, y):
    """``x * y``, in place in ``x`` when it fits (:func:`_iadd`)."""
    if _fits(x, x, y):
        x *= y
        return x
    return x * y


class _ETD(Stepper):
    problem = SemilinearProblem
    _phis = 1

    def __init__(self):
        self._cache: dict = {}

    def _coefficients(self, problem, h):
        key = (id(problem.linear), h)
        c = self._cache.get(key)
        if c is None:
            if len(self._cache) >= 8:
                self._cache.clear()
            c = self._make(_compact(problem.linear) * h, h)
            self._cache[key] = c
        return c

    def _make(self, z, h):
        """``(e^z, h φ_1(z), ..., h φ_k(z))`` (the products with ``h`` made once per step size)."""
        e, *phis = phi_functions(z, self._phis)
        return (e, *(h * p for p in phis))


class ExactLinear(_ETD):
    order = float("inf")
    name = "exact_linear"
    _phis = 0

    def step(self, problem, t, y, h):
        if not problem.is_linear:
            raise ValueError("ExactLinear advances u' = Lu only: give the problem no nonlinear part (nonlinear=None)")
        (e,) = self._coefficients(problem, h)
        return problem.inverse(e * problem.forward(y))


class ETD1(_ETD):
    order = 1
    name = "etd1"

    def step(self, problem, t, y, h):
        e, hphi1 = self._coefficients(problem, h)
        return problem.inverse(e * problem.forward(y) + hphi1 * problem.nonlinear(t, y))


class ETD2RK(_ETD):
    order = 2
    name = "etd2rk"
    _phis = 2

    def step(self, problem, t, y, h):
        e, hphi1, hphi2 = self._coefficients(problem, h)
        n0 = problem.nonlinear(t, y)
        a_hat = e * problem.forward(y) + hphi1 * n0
        n1 = problem.nonlinear(t + h, problem.inverse(a_hat))
        return problem.inverse(a_hat + hphi2 * (n1 - n0))


class ETDRK4(_ETD):
    order = 4
    name = "etdrk4"

    def _make(self, z, h):
        e, e2, q, f1, f2, f3 = etdrk4_coefficients(z, h)
        return e, e2, q, f1, 2 * f2, f3  # 2 f2 is exact: the same numbers as doubling at each step

    def step(self, problem, t, y, h):
        e, e2, q, f1, f2x2, f3 = self._coefficients(problem, h)
        fwd, inv, n = problem.forward, problem.inverse, problem.nonlinear
        u = fwd(y)
        nu = n(t, y)
        e2u = e2 * u  # shared by the stages a and b
        a = _iadd(q * nu, e2u)  # e2 u + q N(u)
        na = n(t + 0.5 * h, inv(a))
        b = _iadd(q * na, e2u)
        nb = n(t + 0.5 * h, inv(b))
        c = 2 * nb
        c = _iadd(_imul(_isub(c, nu), q), e2 * a)  # e2 a + q (2 N(b) - N(u))
        nc = n(t + h, inv(c))
        acc = _iadd(e * u, f1 * nu)  # e u + f1 N(u) + 2 f2 (N(a) + N(b)) + f3 N(c), summed in this order
        s = _imul(na + nb, f2x2)
        acc = _iadd(acc, s)
        return inv(_iadd(acc, np.multiply(f3, nc, out=s) if _fits(s, f3, nc) else f3 * nc))
