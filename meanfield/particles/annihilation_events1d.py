"""Event-driven integrator for signed particles on R with an annihilation rule (model 001, eq. (4.1)).

Only the *active* particles are integrated (ghosts, b = 0, are frozen and invisible: Def. 4.2), as
one compressed, sorted array. Between annihilations the ODE (4.1)

    ẋ_i = -(1/n) Σ_{b_i b_j = 1} V'(x_i - x_j) - (1/n) Σ_{b_i b_j = -1} W'(x_i - x_j)

is integrated by Dormand–Prince 5(4) with error control; forces are a compiled O(m²) pair sum over
the m active particles that visits each pair once (V', W' odd). Why explicit: the Jacobian of (4.1)
has eigenvalues up to λ ~ n (same-sign spacing ~ 1/n), so a stable explicit step is h ~ 1/n; but
annihilations also come at a rate ~ n (a fixed fraction of the mass annihilates per unit time), and
every annihilation restarts the integration with a jump in the right-hand side. An implicit method
therefore cannot take fewer than O(n) steps either, while each of its steps costs a dense O(n³)
factorisation (the Jacobian couples every same-sign pair); measured step counts are in
``benchmarks/annihilation1d_scaling.py``. The step size is carried across events (no restart from a
tiny step).

Annihilation times are roots of the gaps g_k = x_{j_k} - x_{i_k} of adjacent active opposite pairs
(at most 2L - 1 of them, Assumption 2.2) — a sign change of a gap, never a threshold on distance:
a step whose end has a non-positive gap is followed by root finding (Brent) on the step's continuous
extension (a quartic in the step fraction) and the state at the root is read off the same extension:
an annihilation costs no force evaluation beyond the restart. All pairs whose gaps have closed
at that time annihilate together, at their own (distinct) points. A step that would make two active
same-sign neighbours touch or cross (impossible for the exact flow, Prop. 4.5(ii)) or produces a
non-finite value is rejected and retried with a quarter of the step. Tangential contacts (a gap
touching 0 without changing sign) are not detected; Def. 4.2(d) would count them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit
from scipy.optimize import brentq

from solvers.timestepping.dormand_prince_tableau import A, E, P

__all__ = ["V_KINDS", "W_KINDS", "active_velocity", "integrate_annihilation", "AnnihilationRun"]

V_KINDS = ("log", "wall")
W_KINDS = ("none", "regularised", "-V")

_BETA = 0.08


@njit(cache=True, error_model="numpy")
def _dv(kind, r):
    """V'(r): kind 0 → V = -log|r| (V' = -1/r); kind 1 → wall V = r coth r - log|2 sinh r|
    (V' = -r / sinh² r, notes §1.2)."""
    if kind == 0:
        return -1.0 / r
    if abs(r) > 350.0:  # sinh overflows; V' ~ -4 r e^{-2|r|} underflows to 0
        return 0.0
    s = np.sinh(r)
    return -r / (s * s)


@njit(cache=True, error_model="numpy")
def _dw(kind, vkind, r, delta):
    """W'(r): 0 → W ≡ 0; 1 → W_δ = ½ log(r² + δ²) (W' = r/(r² + δ²)); 2 → W = -V (W' = -V')."""
    if kind == 0:
        return 0.0
    if kind == 1:
        return r / (r * r + delta * delta)
    return -_dv(vkind, r)


@njit(cache=True, error_model="numpy")
def active_velocity(x, b, n_total, vkind, wkind, delta):
    """Right-hand side of (4.1) for active particles ``x`` (charges ``b`` = ±1) with mass 1/n_total:
    each pair is visited once, ``f = V'(x_i - x_j)`` (or W') enters ẋ_i with ``-f/n`` and ẋ_j with
    ``+f/n`` (V', W' odd)."""
    m = x.size
    out = np.zeros(m)
    for i in range(m):
        xi = x[i]
        bi = b[i]
        acc = 0.0
        for j in range(i + 1, m):
            r = xi - x[j]
            if bi == b[j]:
                f = _dv(vkind, r)
            elif wkind == 0:
                continue
            else:
                f = _dw(wkind, vkind, r, delta)
            acc -= f
            out[j] += f
        out[i] += acc
    for i in range(m):
        out[i] /= n_total
    return out


@dataclass
class AnnihilationRun:
    """Output of :func:`integrate_annihilation`: states at the output times (all particles, ghosts
    frozen where they annihilated), charges b(t), events ``(time, "annihilation", (i, j), place)``
    and counters (accepted/rejected steps, force evaluations)."""

    positions: list = field(default_factory=list)
    charges: list = field(default_factory=list)
    events: list = field(default_factory=list)
    accepted: int = 0
    rejected: int = 0
    force_evaluations: int = 0


def _adjacent_opposite(b):
    """Indices (into the active arrays) of adjacent opposite pairs, and of adjacent same-sign pairs."""
    d = b[1:] != b[:-1]
    k = np.arange(b.size - 1)
    return k[d], k[~d]


def integrate_annihilation(x, b, times, vkind, wkind, delta, rtol=1e-8, atol=1e-11, max_steps=10**7):
    """Solve Problem 4.1 from sorted distinct ``x`` with charges ``b`` = ±1, returning the states at
    ``times`` (increasing, ≥ 0). ``vkind``/``wkind`` index :data:`V_KINDS`/:data:`W_KINDS`."""
    x = np.array(x, dtype=float)
    b = np.array(b, dtype=np.int64)
    n = x.size
    run = AnnihilationRun()
    idx = np.arange(n)  # global indices of the active particles, in order
    xa, ba = x.copy(), b.copy()

    def force(y):
        run.force_evaluations += 1
        return active_velocity(y, ba, n, vkind, wkind, delta)

    def err_norm(y, y_new, err):
        scale = atol + rtol * np.maximum(np.abs(y), np.abs(y_new))
        return float(np.sqrt(np.mean((err / scale) ** 2))) if y.size else 0.0

    def dp_step(y, f0, h):
        k = np.empty((7, y.size))
        k[0] = f0
        for s in range(1, 7):
            k[s] = force(y + h * (np.asarray(A[s]) @ k[:s]))
        y_new = y + h * (np.asarray(A[6]) @ k[:6])
        return y_new, k, h * (E @ k)

    t = 0.0
    err_old = 1e-4
    f = force(xa)
    h = None
    opp, same = _adjacent_opposite(ba)
    for t_out in times:
        while t_out - t > 1e-14 * max(1.0, abs(t_out)):
            if xa.size < 2:  # nothing moves
                t = t_out
                break
            if h is None:
                scale = atol + rtol * np.abs(xa)
                d0, d1 = np.sqrt(np.mean((xa / scale) ** 2)), np.sqrt(np.mean((f / scale) ** 2))
                h = 0.01 * d0 / d1 if d0 > 1e-5 and d1 > 1e-5 else 1e-6
            step = min(h, t_out - t)
            y_new, k, err_vec = dp_step(xa, f, step)
            err = err_norm(xa, y_new, err_vec)
            gaps_same = y_new[same + 1] - y_new[same]
            if not np.all(np.isfinite(y_new)) or not np.isfinite(err) or np.any(gaps_same <= 0):
                run.rejected += 1
                h = 0.25 * step
                continue
            if err > 1.0:
                run.rejected += 1
                h = step * max(0.2, 0.9 * err ** (-0.2))
                continue
            # PI control (Hairer–Nørsett–Wanner I, §II.4, β = 0.08): damps the accept/reject cycling
            # of explicit steps at the stability limit of a stiff problem
            factor = 5.0 if err == 0 else min(5.0, max(0.2, 0.9 * err ** (-0.2 + 0.75 * _BETA) * err_old**_BETA))
            err_old = max(err, 1e-4)
            run.accepted += 1
            if run.accepted + run.rejected > max_steps:
                raise RuntimeError(f"more than max_steps={max_steps} steps before t={t_out}")
            h = step * factor if step == h or factor < 1 else max(h, step * factor)
            gaps = y_new[opp + 1] - y_new[opp]
            closed = np.flatnonzero(gaps <= 0)
            if closed.size == 0:
                t = t_out if step == t_out - t else t + step
                xa, f = y_new, k[6]
                continue
            # annihilation inside this step: earliest root of the gaps on the continuous extension
            g0 = xa[opp + 1] - xa[opp]
            best = np.inf
            for c in closed:
                i, j = opp[c], opp[c] + 1
                coef = step * ((k[:, j] - k[:, i]) @ P)  # gap(θ) = g0 + Σ_q coef_q θ^{q+1}

                def gap(theta, c=c, coef=coef):
                    return g0[c] + theta * (coef[0] + theta * (coef[1] + theta * (coef[2] + theta * coef[3])))

                lo_val = gap(0.0)
                if lo_val <= 0:
                    theta = 0.0
                elif gap(1.0) > 0:  # the interpolant misses the sign change: take the step end
                    theta = 1.0
                else:
                    theta = brentq(gap, 0.0, 1.0, xtol=1e-15, rtol=4 * np.finfo(float).eps)
                best = min(best, theta)
            s_star = best * step
            # state at the event from the continuous extension (4th order, no force evaluation); a
            # real step only if that state breaks the same-sign ordering
            powers = best ** np.arange(1, 5)
            y_star = xa + step * ((k.T @ P) @ powers)
            if np.any(y_star[same + 1] - y_star[same] <= 0) or not np.all(np.isfinite(y_star)):
                y_star = dp_step(xa, f, s_star)[0] if s_star > 0 else xa.copy()
            g_star = y_star[opp + 1] - y_star[opp]
            t_event = t + s_star
            hit = set(np.flatnonzero(g_star <= 0).tolist()) | {int(np.argmin(g_star))}
            dead = []
            for c in sorted(hit):
                i, j = opp[c], opp[c] + 1
                if i in dead or j in dead:
                    continue
                place = 0.5 * (y_star[i] + y_star[j])
                gi, gj = int(idx[i]), int(idx[j])
                x[gi] = x[gj] = place
                b[gi] = b[gj] = 0
                run.events.append((t_event, "annihilation", (gi, gj), place))
                dead += [i, j]
            keep = np.ones(xa.size, bool)
            keep[dead] = False
            x[idx] = np.where(keep, y_star, x[idx])
            xa, ba, idx = y_star[keep], ba[keep], idx[keep]
            opp, same = _adjacent_opposite(ba)
            t = t_event
            f = force(xa) if xa.size else xa.copy()
        x[idx] = xa
        run.positions.append(x.copy())
        run.charges.append(b.copy())
    return run
