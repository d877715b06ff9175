"""The interaction potentials of model 001 as values: :class:`Potential1D` (theory page
``docs/theory/001-annihilation.md``, paper §1.2 and Assumption 2.1).

A potential is an even function ``V(r)`` with its odd derivative ``V'(r)``. The particles use the force
``V'`` (eq. (4.1)); the finite volumes use the exact cell integrals ``∫_{C_k} V'(x_j - y) dy =
V(x_j - x_{k-½}) - V(x_j - x_{k+½})`` of the same ``V`` (theory page, "The continuum equation").

The paper's potentials are presets: :data:`LOG` (``V = -log|r|``), :data:`WALL` (``V = r coth r -
log|2 sinh r|``), :data:`NONE` (``W ≡ 0``), :func:`regularised` (``W_δ = ½ log(r² + δ²)``) and
:func:`negative` (``W = -V``). A preset carries ``kind``, the index the compiled particle engine of
:mod:`meanfield.particles.annihilation_forces1d` knows it by; a user potential (``kind=None``) is
summed by a vectorised NumPy pair sum instead (O(m²) work per force evaluation for m active particles,
memory bounded by row blocks; no fast multipole method, so the cost grows like that of the compiled
direct sum, not like the FMM's O(m)).

:func:`assumption_violations` checks on a sample of points what can be checked of Assumption 2.1: V and
W even, V singular at 0 and non-increasing on (0, ∞), ``|r V'(r)|`` and ``|r W'(r)|`` bounded, W'
Lipschitz near 0 (not singular), and each derivative consistent with its value (``V(2r) - V(r) = ∫_r^{2r} V'``
by Gauss–Legendre).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["LOG", "NONE", "WALL", "OutsideTheoremWarning", "Potential1D", "assumption_violations", "engine_kinds",
           "negative", "potential", "preset_v", "preset_w", "regularised"]


class OutsideTheoremWarning(UserWarning):
    """The chosen potentials leave Assumption 2.1: Theorem 5.1 (convergence) does not cover the run.

    References
    ----------
    :cite:`vanMeursMorandotti2019`, Assumption 2.1, Theorem 5.1; theory page ``docs/theory/001-annihilation.md``.

    Examples
    --------
    >>> import warnings
    >>> from meanfield.models.annihilation1d import Annihilation1D
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = Annihilation1D(W="-V")
    >>> [w.category.__name__ for w in caught]
    ['OutsideTheoremWarning']
    """


def potential(kind: str, r: ArrayLike, delta: float = 0.3, V: str = "log") -> np.ndarray:
    """``V`` or ``W`` of the given preset kind at ``r`` (even functions; V singular at 0).

    Parameters
    ----------
    kind : {"log", "wall", "none", "regularised", "-V"}
        ``-log|r|``; ``r coth r - log|2 sinh r|`` (evaluated as ``2r/(e^{2r}-1) - log1p(-e^{-2r})``, a
        series below 1e-3); 0; ``½ log(r² + δ²)``; ``-V``.
    r : array_like
        The distances (the sign is ignored).
    delta : float, optional
        δ of "regularised".
    V : str, optional
        For kind "-V": the kind of the potential V that is negated.

    Returns
    -------
    numpy.ndarray
        The values (``inf`` at 0 for the singular ones).

    Raises
    ------
    ValueError
        If ``kind`` is unknown.

    References
    ----------
    :cite:`vanMeursMorandotti2019`, §1.2; theory page ``docs/theory/001-annihilation.md``.

    Examples
    --------
    >>> potential("log", [0.5, 1.0, 2.0])
    array([ 0.69314718, -0.        , -0.69314718])
    >>> potential("wall", [1.0]), potential("regularised", [0.4], delta=0.3)
    (array([0.45844874]), array([-0.69314718]))
    """
    r = cast(np.ndarray, np.abs(np.asarray(r, dtype=float)))  # cast: typing only
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if kind == "log":
            return -np.log(r)
        if kind == "wall":  # r coth r - log|2 sinh r| = 2r/(e^{2r}-1) - log1p(-e^{-2r})
            small = r < 1e-3
            series = 1 - np.log(2) - np.log(r) + r**2 / 6 - r**4 / 60
            stable = 2 * r / np.expm1(2 * r) - np.log1p(-np.exp(-2 * r))
            return np.where(small, series, stable)
        if kind == "none":
            return np.zeros_like(r)
        if kind == "regularised":
            return 0.5 * np.log(r**2 + delta**2)
        if kind == "-V":
            return -potential(V, r)
    raise ValueError(f"unknown potential kind {kind!r}")


def _dlog(r):
    with np.errstate(divide="ignore"):
        return -1.0 / np.asarray(r, dtype=float)


def _dwall(r):
    """``V'(r) = -r / sinh² r`` (0 where sinh overflows, as the compiled kernel)."""
    r = np.asarray(r, dtype=float)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        s = np.sinh(r)
        return np.where(np.abs(r) > 350.0, 0.0, -r / (s * s))


@dataclass(frozen=True, eq=False)
class Potential1D:
    """An even potential with its derivative, for the particles (force) and the finite volumes (value).

    Parameters
    ----------
    value : callable
        ``value(r)``, vectorised over NumPy arrays of r ≠ 0.
    derivative : callable
        ``derivative(r)`` = ``value'(r)``, likewise.
    name : str, optional
        A name for records.
    kind : int or None, optional
        The compiled engine's index of a preset (None for a user potential).
    zero : bool, optional
        True marks W ≡ 0 (no opposite-sign force at all).

    Raises
    ------
    TypeError
        If ``value`` or ``derivative`` is not callable or ``name`` is not a string.

    References
    ----------
    :cite:`vanMeursMorandotti2019`, §1.2, Assumption 2.1; theory page ``docs/theory/001-annihilation.md``.

    Examples
    --------
    >>> import numpy as np
    >>> P = Potential1D(lambda r: -np.log(np.abs(r)), lambda r: -1 / r, "mylog")
    >>> P, P.evaluate([1.0, 2.0]), P.evaluate([2.0], "derivative")
    (Potential1D('mylog'), array([-0.        , -0.69314718]), array([-0.5]))
    """

    value: Callable
    derivative: Callable
    name: str = "custom"
    kind: int | None = None
    zero: bool = False

    def __post_init__(self) -> None:
        for field_name in ("value", "derivative"):
            if not callable(getattr(self, field_name)):
                raise TypeError(f"Potential1D.{field_name} must be a callable r -> array, got "
                                f"{getattr(self, field_name)!r}")
        if not isinstance(self.name, str):
            raise TypeError(f"Potential1D.name must be a string, got {self.name!r}")

    def __repr__(self) -> str:
        return f"Potential1D({self.name!r})"

    def evaluate(self, r: ArrayLike, what: str = "value") -> np.ndarray:
        """``value(r)`` (or ``derivative(r)``) as a float array of r's shape.

        Parameters
        ----------
        r : array_like
            The points.
        what : {"value", "derivative"}, optional
            Which function to evaluate.

        Returns
        -------
        numpy.ndarray
            Float values of r's shape.

        Raises
        ------
        TypeError, ValueError
            Naming the potential when the callable gives something else.
        """
        func = self.value if what == "value" else self.derivative
        r = np.asarray(r, dtype=float)
        with np.errstate(all="ignore"):
            out = func(r)
        try:
            out = np.broadcast_to(np.asarray(out, dtype=float), r.shape)
        except (TypeError, ValueError):
            raise TypeError(f"potential {self.name!r}: {what}(r) must return real numbers of r's shape {r.shape}, "
                            f"got {type(out).__name__}") from None
        return out


LOG = Potential1D(lambda r: potential("log", r), _dlog, "log", kind=0)
WALL = Potential1D(lambda r: potential("wall", r), _dwall, "wall", kind=1)
NONE = Potential1D(lambda r: potential("none", r), lambda r: np.zeros_like(np.asarray(r, dtype=float)), "none",
                   kind=0, zero=True)
V_PRESETS = {"log": LOG, "wall": WALL}


def regularised(delta: float) -> Potential1D:
    """``W_δ(r) = ½ log(r² + δ²)``, ``W_δ'(r) = r / (r² + δ²)`` (the compiled engine's W kind 1).

    Parameters
    ----------
    delta : float
        The core δ.

    Returns
    -------
    Potential1D
        W_δ.

    References
    ----------
    :cite:`vanMeursMorandotti2019`, Fig. 1; theory page ``docs/theory/001-annihilation.md``.

    Examples
    --------
    >>> W = regularised(0.3)
    >>> W, W.kind, W.evaluate([0.4], "derivative")
    (Potential1D('regularised'), 1, array([1.6]))
    """
    return Potential1D(_Regularised(float(delta)), _RegularisedDerivative(float(delta)), "regularised", kind=1)


@dataclass(frozen=True)
class _Regularised:
    delta: float

    def __call__(self, r):
        return potential("regularised", r, self.delta)


@dataclass(frozen=True)
class _RegularisedDerivative:
    delta: float

    def __call__(self, r):
        r = np.asarray(r, dtype=float)
        return r / (r * r + self.delta * self.delta)


@dataclass(frozen=True)
class _Negated:
    func: Callable

    def __call__(self, r):
        return -np.asarray(self.func(r), dtype=float)


def negative(V: Potential1D) -> Potential1D:
    """``W = -V`` (singular attraction, outside Assumption 2.1).

    Parameters
    ----------
    V : Potential1D
        The potential to negate.

    Returns
    -------
    Potential1D
        ``-V``, named "-V"; the compiled engine's W kind 2 when V is a preset.

    References
    ----------
    :cite:`vanMeursMorandotti2019`, eq. (1.4), §1.7(a); theory page ``docs/theory/001-annihilation.md``.

    Examples
    --------
    >>> W = negative(LOG)
    >>> W, W.kind, W.evaluate([2.0])
    (Potential1D('-V'), 2, array([0.69314718]))
    """
    kind = 2 if V.kind is not None else None
    return Potential1D(_Negated(V.value), _Negated(V.derivative), "-V", kind=kind)


def preset_v(V: str | Potential1D) -> Potential1D:
    """The potential ``V`` of the model: a preset name ("log", "wall") or a :class:`Potential1D`.

    Parameters
    ----------
    V : str or Potential1D
        "log", "wall" or a user potential (returned as is).

    Returns
    -------
    Potential1D
        The potential.

    Raises
    ------
    ValueError
        For any other value.

    Examples
    --------
    >>> preset_v("wall")
    Potential1D('wall')
    """
    if isinstance(V, Potential1D):
        return V
    if isinstance(V, str) and V in V_PRESETS:
        return V_PRESETS[V]
    raise ValueError(f"V must be one of {tuple(V_PRESETS)} (Assumption 2.1: singular, even, |rV'| bounded) or a "
                     f"Potential1D(value, derivative), got {V!r}")


W_PRESETS = ("none", "regularised", "-V")


def preset_w(W: str | Potential1D, V: Potential1D, delta: float) -> Potential1D:
    """The potential ``W`` of the model: a preset name ("none", "regularised" with ``delta``, "-V") or a
    :class:`Potential1D`.

    Parameters
    ----------
    W : str or Potential1D
        "none", "regularised", "-V" or a user potential (returned as is).
    V : Potential1D
        The model's V (negated for "-V").
    delta : float
        δ of "regularised".

    Returns
    -------
    Potential1D
        The potential.

    Raises
    ------
    ValueError
        For any other value of ``W``.

    Examples
    --------
    >>> preset_w("regularised", LOG, 0.3), preset_w("none", LOG, 0.3).zero
    (Potential1D('regularised'), True)
    """
    if isinstance(W, Potential1D):
        return W
    if isinstance(W, str) and W in W_PRESETS:
        return NONE if W == "none" else regularised(delta) if W == "regularised" else negative(V)
    raise ValueError(f"W must be one of {W_PRESETS} (W_δ satisfies Assumption 2.1; '-V' is the singular variant) or "
                     f"a Potential1D(value, derivative), got {W!r}")


# sample points for the checks: r in [1e-6, 1e3] (log-spaced) and their negatives
_R = np.geomspace(1e-6, 1e3, 181)


def _derivative_mismatch(P: Potential1D):
    """Largest gap between ``V(2r) - V(r)`` and ``∫_r^{2r} V'`` (4 panels of 10-point Gauss–Legendre) over the sample,
    relative to ``|V(2r) - V(r)| + 1e-9 (|V(r)| + |V(2r)|) + 1e-12 max|V|`` (round-off and underflow)."""
    r = _R[:-20]
    nodes, weights = np.polynomial.legendre.leggauss(10)
    integral = np.zeros(r.size)
    for k in range(4):  # four panels of [r, 2r]
        pts = r[:, None] * (1 + (k + 0.5 + 0.5 * nodes[None, :]) / 4)
        integral += (P.evaluate(pts, "derivative") * weights[None, :]).sum(axis=1) * r / 8
    lo, hi = P.evaluate(r), P.evaluate(2 * r)
    floor = 1e-12 * max(float(np.max(np.abs(lo))), 1e-300)  # tails where V and V' underflow
    scale = np.abs(hi - lo) + 1e-9 * (np.abs(lo) + np.abs(hi)) + floor
    gap = np.abs(hi - lo - integral) / scale
    return float(np.max(gap)) if np.all(np.isfinite(gap)) else np.inf


def assumption_violations(V: Potential1D, W: Potential1D) -> list[str]:
    """What fails of Assumption 2.1 on the sample ``r ∈ ±[1e-6, 1e3]`` (module docstring).

    Parameters
    ----------
    V, W : Potential1D
        The potentials of the model.

    Returns
    -------
    list of str
        One sentence per failed check, empty when every sampled check passes (which does not prove the
        assumption).

    References
    ----------
    :cite:`vanMeursMorandotti2019`, Assumption 2.1; theory page ``docs/theory/001-annihilation.md``.

    Examples
    --------
    >>> assumption_violations(LOG, regularised(0.3))
    []
    >>> assumption_violations(LOG, negative(LOG))
    ["W = '-V': W' is not Lipschitz at 0 (|W'(r)/r| = 1e+12 at r = 1e-6); Assumption 2.1 needs a regular W"]
    """
    out = []
    for label, P in (("V", V), ("W", W)):
        plus, minus = P.evaluate(_R), P.evaluate(-_R)
        dplus, dminus = P.evaluate(_R, "derivative"), P.evaluate(-_R, "derivative")
        if not (np.all(np.isfinite(plus)) and np.all(np.isfinite(dplus))):
            out.append(f"{label} = {P.name!r} or its derivative is not finite on r in [1e-6, 1e3]")
            continue
        if not np.allclose(plus, minus, rtol=1e-10, atol=1e-12) or not np.allclose(dplus, -dminus, rtol=1e-10,
                                                                                    atol=1e-12):
            out.append(f"{label} = {P.name!r} is not even (V(-r) = V(r), V'(-r) = -V'(r))")
        gap = _derivative_mismatch(P)
        if gap > 1e-6:
            out.append(f"{label} = {P.name!r}: its derivative differs from the differences of its value by a "
                       f"relative {gap:.2g}")
        rd = np.abs(_R * dplus)
        if rd[0] > 10 * max(rd[60], 1.0) or rd[-1] > 10 * max(rd[120], 1.0):
            out.append(f"{label} = {P.name!r}: |r {label}'(r)| grows ({rd[0]:.3g} at r = 1e-6, {rd[-1]:.3g} at "
                       "r = 1e3); Assumption 2.1 needs it bounded")
        if label == "V":
            if not plus[0] > plus[60] + 1.0:
                out.append(f"V = {P.name!r} is not singular at 0 (V(1e-6) = {plus[0]:.3g}); Assumption 2.1 needs "
                           "V(0+) = +inf")
            if np.any(dplus > 1e-12 * np.max(np.abs(dplus))):
                out.append(f"V = {P.name!r} is not non-increasing on (0, inf) (V' > 0 somewhere)")
        elif not P.zero:
            lip = np.abs(dplus[:60] / _R[:60])  # |W'(r)/r| near 0: bounded when W' is Lipschitz (W' odd)
            if lip[0] > 10 * max(lip[59], 1.0):
                out.append(f"W = {P.name!r}: W' is not Lipschitz at 0 (|W'(r)/r| = {lip[0]:.3g} at r = 1e-6); "
                           "Assumption 2.1 needs a regular W")
    return out


def engine_kinds(V: Potential1D, W: Potential1D, delta: float) -> tuple[Any, Any, float] | None:
    """``(vkind, wkind, delta)`` for the compiled engine when V and W are presets it knows.

    Parameters
    ----------
    V, W : Potential1D
        The potentials of the model.
    delta : float
        The model's δ (replaced by the δ a W_δ preset was built with).

    Returns
    -------
    tuple or None
        ``(vkind, wkind, delta)``, or None for the NumPy pair sum of user potentials (or ``-V`` of another
        V than the model's).

    Examples
    --------
    >>> engine_kinds(LOG, regularised(0.5), 0.3)
    (0, 1, 0.5)
    >>> engine_kinds(Potential1D(abs, abs), NONE, 0.3) is None
    True
    """
    if V.kind is None or W.kind is None:
        return None
    if isinstance(W.value, _Regularised):
        delta = W.value.delta
    if isinstance(W.value, _Negated) and W.value.func is not V.value:
        return None  # -V of another V than the model's
    return V.kind, W.kind, float(delta)
