"""The mollifiers of model 003 and the Fourier coefficients of the smoothed interaction ``V_δ``.

Theory page 003 (``docs/theory/003-dislocations.md``, "The interaction"); Hudson, van Meurs, Peletier
(2020), §1.2.1 and Assumption 1. ``V_δ = V * φ_δ`` on the unit torus has the Fourier coefficients
``V̂_δ(k) = φ̂_δ(k) / (4π²|k|²)``, ``V̂_δ(0) = 0``, with ``φ̂_δ(k) = φ̂_1(δ|k|)`` for a radial mollifier
``φ_δ(x) = δ^{-2} φ_1(|x|/δ)``. Three kinds of ``φ_1``:

* ``"gaussian"`` (the default): ``φ̂_1(s) = exp(-2π²s²)``, i.e. ``φ_1(r) = e^{-r²/2}/(2π)``;
* ``"bump"``: the paper's compactly supported mollifier, ``φ_1(r) = C exp(-1/(1 - r²))`` on the unit
  disc (:func:`bump`; the paper fixes no formula, this one is ours);
* a user callable ``φ_1(r)`` (a radial profile, vectorised over an array of radii ``r ≥ 0``) with a
  stated support radius ``R_φ`` (:class:`RadialMollifier`): it is treated as zero for ``r > R_φ``.

For the bump and a user profile the transform is the Hankel transform
``φ̂_1(s) = 2π ∫_0^{R_φ} φ_1(r) J_0(2π s r) r dr / m``, ``m = 2π ∫_0^{R_φ} φ_1(r) r dr`` (unit mass),
computed once by composite Gauss–Legendre quadrature (:func:`radial_hat_quadrature`) and tabulated
as Chebyshev series on panels of width ``1/max(1, R_φ)`` in ``s`` (:class:`RadialTable`), with the
envelope tail ``∫_s^∞ max_{s' ≥ s}|φ̂_1(s')| ds'`` that bounds the dropped Fourier tail of ``∇V_δ``
(:meth:`RadialTable.cutoff`).
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import scipy.special as _special

from meanfield.models.base import check_memory, check_positive

__all__ = ["MOLLIFIERS", "RadialMollifier", "RadialTable", "bump", "bump_hat", "bump_hat_quadrature", "bump_tail",
           "check_mollifier", "kernel_cutoff", "mollifier_hat", "potential_hat", "radial_hat_quadrature",
           "radial_mollifier"]

MOLLIFIERS = ("gaussian", "bump")


def check_mollifier(mollifier):
    """The mollifier, checked: one of :data:`MOLLIFIERS`, a :class:`RadialMollifier` or a callable
    radial profile ``φ_1(r)``."""
    if isinstance(mollifier, str):
        if mollifier not in MOLLIFIERS:
            raise ValueError(f"mollifier must be one of {MOLLIFIERS} or a callable radial profile phi(r), "
                             f"got {mollifier!r}")
        return mollifier
    if isinstance(mollifier, RadialMollifier) or callable(mollifier):
        return mollifier
    raise TypeError(f"mollifier must be one of {MOLLIFIERS} or a callable radial profile phi(r), got "
                    f"{mollifier!r} ({type(mollifier).__name__})")


# -- the paper's compactly supported bump (§1.2.1, the paragraph after Assumption 1) -------------------
# The paper asks for φ_δ ≥ 0 smooth, vanishing off B_δ(0), φ_δ(x) = δ^{-2} φ_1(x/δ), ∫_Q φ_δ = 1, and
# names no particular φ_1; we take the standard bump  φ_1(x) = C exp(-1/(1 - |x|²)) for |x| < 1, 0 else
# [our choice of the admissible family], with C fixed by ∫ φ_1 = 1: 2π C ∫_0^1 e^{-1/(1-r²)} r dr
# = π C ∫_0^1 e^{-1/u} du = π C (e^{-1} - E_1(1)), so C = 1/(π (e^{-1} - E_1(1))) ≈ 2.14357.
BUMP_CONSTANT = 1.0 / (np.pi * (np.exp(-1.0) - float(_special.exp1(1.0))))
_PANELS, _NODES = 40, 30  # composite Gauss–Legendre rule of the radial transform, per unit of radius
_SMAX = 160.0             # the bump: beyond, |φ̂_1(s)| < 1e-17 (below the quadrature's round-off floor 4e-16)
_DEGREE = 24              # Chebyshev degree per panel
_FLOOR = 1e-15            # a user table stops where a whole chunk of panels lies below this (round-off level)
_REFUSE = 1e-13           # ... and is refused if |φ̂_1| is still above this at s = _SMAX
_CHUNK = 8                # panels computed at a time while looking for the decay


def bump(r):
    """``φ_1(r) = C exp(-1/(1 - r²))`` for ``r < 1``, 0 otherwise (the radial profile; ∫_{R²} φ_1 = 1)."""
    r = np.asarray(r, dtype=float)
    inside = r < 1
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        val = BUMP_CONSTANT * np.exp(-1.0 / (1.0 - np.where(inside, r, 0.0) ** 2))
    return np.where(inside, val, 0.0)


def _radial_rule(profile, support, panels, nodes):
    """Nodes ``r`` and raw weights ``2π φ(r) r w`` of the composite Gauss–Legendre rule on ``[0, support]``."""
    x, w = np.polynomial.legendre.leggauss(int(nodes))
    a = np.arange(int(panels)) / panels
    r = (a[:, None] + 0.5 * (x[None, :] + 1) / panels).ravel() * support
    weights = 2 * np.pi * np.asarray(profile(r), dtype=float) * r * np.tile(0.5 * w * support / panels, int(panels))
    return r, weights


def radial_hat_quadrature(profile, s, support=1.0, panels=_PANELS, nodes=_NODES):
    """``φ̂_1(s) = 2π ∫_0^R φ_1(r) J_0(2π s r) r dr`` normalised to ``φ̂_1(0) = 1`` (the 2-D Fourier
    transform of a radial profile at ``|ξ| = s``, convention ``φ̂(ξ) = ∫ φ(x) e^{-2πiξ·x} dx``), by
    composite Gauss–Legendre quadrature on ``[0, R]``, ``R = support`` (``panels`` equal panels,
    ``nodes`` nodes each; a single rule of high order loses accuracy in its weights, ~1e-13). The
    weights are rescaled to sum to 1 exactly (unit mass to round-off)."""
    r, weights = _radial_rule(profile, support, panels, nodes)
    weights /= weights.sum()
    s = np.asarray(s, dtype=float)
    return (_special.j0(2 * np.pi * np.multiply.outer(s.ravel(), r)) @ weights).reshape(s.shape)


def bump_hat_quadrature(s, panels=_PANELS, nodes=_NODES):
    """:func:`radial_hat_quadrature` of :func:`bump` on [0, 1]. Absolute error at round-off (≲ 1e-16)
    for ``s ≤ 160`` with the defaults: the results change by < 1e-16 from (40, 30) to (80, 40) nodes."""
    return radial_hat_quadrature(bump, s, 1.0, panels, nodes)


def _chebyshev_nodes():
    return np.cos(np.pi * (np.arange(_DEGREE + 1) + 0.5) / (_DEGREE + 1))  # first kind


class RadialTable:
    """Chebyshev table of a transform ``φ̂_1`` on panels ``[p w, (p+1) w]`` in ``s`` and the tail
    function of its envelope ``Env(s) = max_{s' ≥ s}|φ̂_1(s')|`` sampled every ``w/100`` (an
    oscillation period of ``φ̂_1`` is ``≳ 1/R_φ ≥ w``), ``∫_s^∞ Env`` by the upper Riemann sum, zero
    beyond the table. ``quadrature(s)`` gives the transform at an array of ``s``."""

    def __init__(self, quadrature, width=1.0, panels=None):
        t = _chebyshev_nodes()
        tj = np.cos(np.outer(np.arange(_DEGREE + 1), np.arccos(t)))  # T_j(t_k)
        self.width = width
        if panels is not None:  # a fixed table (the bump: 160 panels of width 1)
            s = (np.arange(panels)[:, None] + 0.5 * (t[None, :] + 1)) * width
            vals = quadrature(s)
        else:  # grow by chunks until a whole chunk lies below the round-off floor, up to _SMAX
            cap = int(np.ceil(_SMAX / width - 1e-9))
            chunks = []
            done = 0
            while done < cap:
                k = np.arange(done, min(done + _CHUNK, cap))
                s = (k[:, None] + 0.5 * (t[None, :] + 1)) * width
                v = quadrature(s)
                chunks.append(v)
                done = k[-1] + 1
                if np.abs(v).max() < _FLOOR:
                    break
            vals = np.concatenate(chunks)
            last = np.abs(chunks[-1]).max()
            if done >= cap and last > _REFUSE:
                raise ValueError(
                    f"mollifier: the transform of the profile is still {last:.3g} at s = {_SMAX:g} (it must decay "
                    f"below {_REFUSE:g} there, as the transform of a smooth profile does, Assumption 1): the profile "
                    "is not smooth enough (a kink or a jump), or much narrower than 1 (use delta for the core size)")
        coef = 2.0 / (_DEGREE + 1) * vals @ tj.T
        coef[:, 0] *= 0.5
        self.coef = coef
        self.smax = coef.shape[0] * width
        ss = np.arange(0.0, self.smax + 1e-9 * width, 0.01 * width)
        env = np.maximum.accumulate(np.abs(self(ss))[::-1])[::-1]
        self.ss = ss
        self.tail = np.concatenate([np.cumsum(env[::-1])[::-1][1:], [0.0]]) * (0.01 * width) + env * (0.01 * width)

    def __call__(self, s):
        s = np.asarray(s, dtype=float)
        coef, w = self.coef, self.width
        idx = np.minimum(np.floor(s / w), coef.shape[0] - 1).astype(np.intp)
        t = 2.0 * (s / w - idx) - 1.0
        b1 = np.zeros_like(s)
        b2 = np.zeros_like(s)
        for j in range(coef.shape[1] - 1, 0, -1):  # Clenshaw
            b1, b2 = coef[idx, j] + 2 * t * b1 - b2, b1
        out = coef[idx, 0] + t * b1 - b2
        return np.where(s < self.smax, out, 0.0)

    def tail_at(self, s):
        """``∫_s^∞ Env(u) du``, the bound of the dropped Fourier tail (see :meth:`cutoff`)."""
        return float(np.interp(s, self.ss, self.tail, right=0.0))

    def cutoff(self, delta, tol):
        """Radius ``R`` such that dropping the modes ``|k| ≥ R`` of ``∇V_δ`` changes it by at most
        ``tol/δ`` everywhere (``tol`` relative to the Assumption-1 scale ``1/δ`` of ``‖∇V_δ‖_∞``).

        Bound: ``|2πik V̂_δ(k)| = |φ̂_1(δ|k|)| / (2π|k|) ≤ e(|k|)`` with ``e(r) = Env(δr)/(2πr)``
        decreasing, and a decreasing radial function summed over ``k ∈ Z², |k| ≥ R`` is at most its
        integral over ``|x| ≥ R - √2``; so the dropped sum is ``≤ ∫_{R-√2}^∞ Env(δr) dr
        = δ^{-1} ∫_{δ(R-√2)}^∞ Env``. ``R = S/δ + √2`` with ``∫_S^∞ Env ≤ tol``."""
        if not self.tail[0] > tol >= 1e-13:
            raise ValueError(f"kernel_tol must lie in [1e-13, {self.tail[0]:.3g}), got {tol!r}")
        s = self.ss[np.argmax(self.tail <= tol)]
        return s / delta + np.sqrt(2.0)


@functools.lru_cache(maxsize=1)
def _bump_table():
    return RadialTable(bump_hat_quadrature, 1.0, round(_SMAX))


def bump_hat(s):
    """``φ̂_1(s)`` of the bump at ``s = |ξ| ≥ 0`` from the Chebyshev table of :func:`bump_hat_quadrature`
    (agreement with it ≤ 1e-15 absolute; ``φ̂_1(0) = 1``); 0 for ``s ≥ 160``, where ``|φ̂_1| < 1e-17``."""
    return _bump_table()(s)


def bump_tail(s):
    """``∫_s^∞ Env(u) du`` of the bump (:meth:`RadialTable.tail_at`)."""
    return _bump_table().tail_at(s)


def kernel_cutoff(delta, tol):
    """The bump's cut-off radius (:meth:`RadialTable.cutoff`; measured ``δ‖∇V_δ‖_∞ ≈ 0.07``)."""
    return _bump_table().cutoff(delta, tol)


class RadialMollifier:
    """A user mollifier: the radial profile ``φ_1(r)`` (a callable, vectorised over an array of radii),
    treated as zero beyond ``support`` (``R_φ``), and the table of its normalised Hankel transform.

    Checked once, before the table is built (ValueError/TypeError naming ``mollifier``): the values
    on the quadrature nodes are finite and the mass ``2π ∫_0^{R_φ} φ_1(r) r dr`` is positive and finite
    (the profile is then normalised to unit mass); the transform decays below 1e-13 by ``s = 160``
    (:class:`RadialTable`, else refused: not smooth). Warnings (outside the paper's Assumption 1 /
    §1.2.1, or outside the numerics' guarantee): negative values (the paper's ``φ ≥ 0``), mass beyond
    the support (``2π ∫_{R_φ}^{2R_φ} |φ_1| r dr`` above 1e-12 of the mass: dropped), and a quadrature
    that does not resolve the profile (the mass changes by more than 1e-10 relative when the rule is
    doubled)."""

    def __init__(self, profile, support=1.0):
        if not callable(profile):
            raise TypeError(f"mollifier must be a callable radial profile phi(r), got {profile!r}")
        self.profile = profile
        self.support = check_positive("mollifier_support", support)
        panels = int(np.ceil(_PANELS * max(1.0, self.support)))
        self.panels = panels
        # the largest arrays: J_0 at (chunk of s values) x (quadrature nodes), twice for the doubled rule
        check_memory(3 * 8 * (_DEGREE + 1) * _CHUNK * 2 * panels * _NODES,
                     f"the transform of the mollifier with mollifier_support={support!r}")
        try:
            r, raw = _radial_rule(profile, self.support, panels, _NODES)
            values = np.asarray(profile(r), dtype=float)
        except (TypeError, ValueError) as err:
            raise TypeError(f"mollifier: the profile must take an array of radii and return an array of real "
                            f"values of the same shape ({err})") from None
        if values.shape != r.shape:
            raise TypeError(f"mollifier: the profile returned shape {values.shape} for radii of shape {r.shape}; "
                            "it must be vectorised (phi(r) elementwise)")
        if not np.all(np.isfinite(values)):
            raise ValueError("mollifier: the profile has non-finite values on [0, mollifier_support]")
        mass = float(raw.sum())
        if not (np.isfinite(mass) and mass > 0):
            raise ValueError(f"mollifier: the mass 2*pi*int_0^R phi(r) r dr of the profile must be positive and "
                             f"finite, got {mass!r} (R = mollifier_support = {self.support})")
        self.mass = mass
        if values.min() < 0:
            warnings.warn(f"mollifier: the profile takes negative values (min {values.min():.3g}); the paper's "
                          "mollifier is non-negative (§1.2.1), so its theorems do not cover this kernel",
                          stacklevel=3)
        _, fine = _radial_rule(profile, self.support, 2 * panels, _NODES)
        if abs(float(fine.sum()) - mass) > 1e-10 * abs(mass):
            warnings.warn(f"mollifier: the quadrature does not resolve the profile (mass {mass:.15g} with {panels} "
                          f"panels, {float(fine.sum()):.15g} with {2 * panels}); the transform is not accurate to "
                          "round-off (is the profile smooth?)", stacklevel=3)
        outside, out_w = _radial_rule(lambda q: np.abs(np.asarray(profile(q), dtype=float)), 2 * self.support,
                                      2 * panels, _NODES)
        beyond = float(out_w[outside > self.support].sum()) if np.all(np.isfinite(out_w)) else np.inf
        if not beyond <= 1e-12 * mass:
            warnings.warn(f"mollifier: the profile is not negligible beyond mollifier_support = {self.support} "
                          f"(mass {beyond:.3g} on [R, 2R] against {mass:.3g}); it is treated as zero there",
                          stacklevel=3)
        self.table = RadialTable(lambda s: radial_hat_quadrature(profile, s, self.support, panels, _NODES),
                                 1.0 / max(1.0, self.support))

    def hat(self, s):
        """``φ̂_1(s)``, unit mass (``φ̂_1(0) = 1``), 0 beyond the table (where ``|φ̂_1| < 1e-15``)."""
        return self.table(s)

    def cutoff(self, delta, tol):
        return self.table.cutoff(delta, tol)

    def __repr__(self):
        name = getattr(self.profile, "__qualname__", repr(self.profile))
        return f"RadialMollifier({name}, support={self.support})"


@functools.lru_cache(maxsize=8)
def radial_mollifier(profile, support=1.0):
    """The :class:`RadialMollifier` of ``(profile, support)``, built once per pair (cached)."""
    return RadialMollifier(profile, support)


def _hat_of(mollifier):
    """``s ↦ φ̂_1(s)`` for a tabulated mollifier ("bump", a RadialMollifier or a profile on [0, 1])."""
    if isinstance(mollifier, RadialMollifier):
        return mollifier.hat
    if check_mollifier(mollifier) == "bump":
        return bump_hat
    return radial_mollifier(mollifier, 1.0).hat


def mollifier_hat(k1, k2, delta, mollifier="gaussian"):
    """``φ̂_δ(k) = φ̂_1(δ|k|)``: Gaussian ``exp(-2π²δ²|k|²)`` (theory page 003, our choice), the bump,
    or a user profile (:class:`RadialMollifier`; a bare callable is taken with support 1)."""
    k2sum = np.asarray(k1, float) ** 2 + np.asarray(k2, float) ** 2
    if isinstance(mollifier, str) and check_mollifier(mollifier) == "gaussian":
        return np.exp(-2 * np.pi**2 * delta**2 * k2sum)
    return _hat_of(mollifier)(delta * np.sqrt(k2sum))


def potential_hat(k1, k2, delta, mollifier="gaussian"):
    """``V̂_δ(k) = φ̂_δ(k) / (4π²|k|²)`` at integer wavevectors, 0 at ``k = 0`` (theory page 003, sign
    corrected); ``mollifier`` "gaussian" (default), "bump" (the paper's compactly supported mollifier)
    or a user profile (:func:`mollifier_hat`)."""
    k2sum = np.asarray(k1, float) ** 2 + np.asarray(k2, float) ** 2
    if isinstance(mollifier, str) and check_mollifier(mollifier) == "gaussian":
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.exp(-2 * np.pi**2 * delta**2 * k2sum) / (4 * np.pi**2 * k2sum)
        return np.where(k2sum == 0, 0.0, out)
    hat = _hat_of(mollifier)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = hat(delta * np.sqrt(k2sum)) / (4 * np.pi**2 * k2sum)
    return np.where(k2sum == 0, 0.0, out)
