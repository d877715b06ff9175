"""Event-driven integrator for signed particles on R with an annihilation rule (model 001, eq. (4.1)).

Only the *active* particles are integrated (ghosts, b = 0, are frozen and invisible: Def. 4.2), as
one compressed, sorted array. Between annihilations the ODE (4.1)

    ẋ_i = -(1/n) Σ_{b_i b_j = 1} V'(x_i - x_j) - (1/n) Σ_{b_i b_j = -1} W'(x_i - x_j)

is integrated by Dormand–Prince 5(4) (the tableau and continuous extension of
:mod:`meanfield.solvers.timestepping.dormand_prince_tableau`, declared orders those of
:class:`meanfield.solvers.timestepping.DormandPrince54`) under a :class:`meanfield.solvers.timestepping.PIController`
passed in (default :func:`default_controller`): its tolerances, error norm, safety factor, step
factor bounds and PI exponents drive the steps, and its checks refuse ``rtol`` below 100 machine
epsilons; ``atol`` below machine epsilon × max|x| (the round-off of the coordinate differences every
force is made of) is refused here. Forces: :mod:`meanfield.particles.annihilation_forces1d` (a
compiled pair sum below a few hundred active particles, a 1-D fast multipole method with O(m) work
above, its order chosen from ``rtol`` so that its error stays far below the tolerance).

Why this loop is not :func:`meanfield.solvers.timestepping.integrate`: the same run through the driver
(``DormandPrince54()``, the same ``PIController``, one terminal ``Event`` per adjacent ± pair,
restarted at each annihilation) costs 2.9–3.0× (n = 200) and 3.0–3.8× (n = 1000) this engine in CPU
time (medians of three runs of 5 interleaved rounds, ranges 2.0–4.7; rtol 1e-8; event times agree to
4e-10; ``benchmarks/annihilation1d_engine_vs_driver.py``), beyond the 1.05×
allowed, so this loop stays, with the scheme and the controller taken from
:mod:`meanfield.solvers.timestepping`. The driver evaluates 7 stages per step where FSAL needs 6, locates an
event by Brent iterations on whole steps (7 forces each) where this engine finds the root of the gap
on the step's quartic continuous extension (no force evaluation), and restarts from a fresh step
after each annihilation.

Why explicit: the Jacobian of (4.1) has eigenvalues up to λ ~ n (same-sign spacing ~ 1/n), so a
stable explicit step is h ~ 1/n; but annihilations also come at a rate ~ n (a fixed fraction of the
mass annihilates per unit time), and every annihilation restarts the integration with a jump in the
right-hand side. An implicit method therefore cannot take fewer than O(n) steps either, while each of
its steps costs a dense O(n³) factorisation (the Jacobian couples every same-sign pair). With O(m)
forces a run to t = 1 costs O(n²): measured CPU time ∝ n^1.7–1.8 for n = 10^3 … 10^4, 11.6–12.6 s
at n = 10^4 (12.8 s wall on an idle machine; two blocks, V = -log, W = 0, rtol 1e-8: 1843 accepted
and 5 rejected steps, 11787 force evaluations of which 698 are the restarts after the 698
annihilations), against n^2.8–3 with the direct sum; event times as accurate as with the direct sum
(``benchmarks/annihilation1d_scaling.py``). The engine with the direct sum took 633 s of CPU for the
same n = 10^4 run (one run; the 698 annihilation times agree to 6.6e-11). The step size is carried
across events (no restart from a tiny step).

Where the time goes (the same benchmark, CPU shares from timers around the force call and the event
location, on a machine loaded 9× its 2 cores): at n = 10^4, 19.6 s CPU, forces 82 %, event location
(Brent on the continuous extension) 0.3 %, the rest (Runge–Kutta combinations, error norm, gap checks)
18 %; 6 of 1847 attempted steps rejected (0.3 %), 698 of 11781 evaluations are restarts (6 %). The
accepted steps are set mostly by stability: the same particles all with charge +1 (no annihilation)
take 177 / 341 steps to t = 1 at n = 10^3 / 2·10^3 (rtol 1e-8), and loosening rtol to 1e-6 leaves the
two-block runs at 178 / 362 (to 1e-4: more steps, 40 / 106 of them rejected: the stability limit);
|λ|max · (mean step) = 8.3 at both n (|λ|max of the Jacobian at t = 0). The 70 / 139 annihilations add
63 / 140 steps at rtol 1e-8 (0.9 per annihilation, where cutting a step at an event placed uniformly
in it would lose half a step). So the steps grow like n; fewer would need a method with a longer real
stability interval per force evaluation (stabilised explicit Runge–Kutta) or multirate steps, not
fewer rejections. CPU time ∝ n^1.61 (n = 10^3 … 10^4) with force="auto" against n^2.65
(n = 10^3 … 4·10^3) with force="direct".

Annihilation times are roots of the gaps g_k = x_{j_k} - x_{i_k} of adjacent active opposite pairs
(at most 2L - 1 of them, Assumption 2.2) — a sign change of a gap, never a threshold on distance:
a step whose end has a non-positive gap is followed by root finding (Brent) on the step's continuous
extension (a quartic in the step fraction) and the state at the root is read off the same extension:
an annihilation costs no force evaluation beyond the restart. All pairs whose gaps have closed
at that time annihilate together, at their own (distinct) points. A step that would make two active
same-sign neighbours touch or cross (impossible for the exact flow, Prop. 4.5(ii)) or produces a
non-finite value is rejected and retried with a quarter of the step. Tangential contacts (a gap
touching 0 without changing sign) are not detected; Def. 4.2(d) would count them. Near the
finite-time collisions of W = -V (unbounded speed) the steps may fall below the resolution of t:
they are still taken (the state moves), so the collision is found at t to float64 resolution; a run
stops with a RuntimeError after ``max_steps`` steps or when the step underflows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import brentq

from meanfield.particles.annihilation_forces1d import (
    FORCE_METHODS,
    V_KINDS,
    W_KINDS,
    active_velocity,
    callable_velocity,
    fmm_order,
    velocity,
)
from meanfield.solvers.timestepping import DEFAULT_MAX_STEPS, DormandPrince54, PIController
from meanfield.solvers.timestepping._checks import TIME_TOL
from meanfield.solvers.timestepping.dormand_prince_tableau import A, E, P

__all__ = [
    "FORCE_METHODS",
    "V_KINDS",
    "W_KINDS",
    "AnnihilationRun",
    "active_velocity",
    "default_controller",
    "integrate_annihilation",
]

# PI parameter β of the engine's default controller: damps the accept/reject cycling of explicit steps
# at the stability limit of this stiff system (Hairer, Nørsett & Wanner I, §II.4).
BETA = 0.08


def default_controller(rtol: float = 1e-8, atol: float = 1e-11) -> PIController:
    """The engine's step controller: :class:`meanfield.solvers.timestepping.PIController` with β = :data:`BETA`.

    Parameters
    ----------
    rtol, atol : float, optional
        The relative and absolute tolerances.

    Returns
    -------
    PIController
        The controller.

    Raises
    ------
    ValueError
        From the controller's checks: ``rtol`` below 100 machine epsilons, negative or non-finite
        tolerances.

    Examples
    --------
    >>> c = default_controller()
    >>> c, c.beta
    (PIController(rtol=1e-08, atol=1e-11), 0.08)
    """
    return PIController(rtol, atol, beta=BETA)


@dataclass
class AnnihilationRun:
    """Output of :func:`integrate_annihilation`.

    Parameters
    ----------
    positions : list
        States at the output times (all particles, ghosts frozen where they annihilated).
    charges : list
        The charges b(t) at the output times (0 for ghosts).
    events : list
        ``(time, "annihilation", (i, j), place)`` per annihilated pair.
    accepted, rejected : int
        Step counts.
    force_evaluations : int
        The number of force evaluations.
    solver : dict
        The scheme, controller and force settings (for the dataset's records).

    References
    ----------
    :cite:`vanMeursMorandotti2019`, Def. 4.2; theory page ``docs/theory/001-annihilation.md``.

    Examples
    --------
    >>> import numpy as np
    >>> run = integrate_annihilation(np.array([-1.0, -0.5, 0.5, 1.0]), np.array([1, 1, -1, -1]),
    ...                              np.array([0.0, 2.0]), 0, 1, 0.3)
    >>> type(run).__name__, run.charges[-1]
    ('AnnihilationRun', array([ 1,  0,  0, -1]))
    """

    positions: list = field(default_factory=list)
    charges: list = field(default_factory=list)
    events: list = field(default_factory=list)
    accepted: int = 0
    rejected: int = 0
    force_evaluations: int = 0
    solver: dict = field(default_factory=dict)


def _adjacent_opposite(b):
    """Indices (into the active arrays) of adjacent opposite pairs, and of adjacent same-sign pairs."""
    d = b[1:] != b[:-1]
    k = np.arange(b.size - 1)
    return k[d], k[~d]


def integrate_annihilation(x: ArrayLike, b: ArrayLike, times: np.ndarray, vkind: int, wkind: int, delta: float,
                           rtol: float = 1e-8, atol: float = 1e-11, max_steps: int = DEFAULT_MAX_STEPS,
                           controller: PIController | None = None, forces: str = "auto",
                           kernels: tuple | None = None) -> AnnihilationRun:
    """Solve Problem 4.1 from sorted distinct ``x`` with charges ``b`` = ±1 (module docstring).

    Parameters
    ----------
    x : array_like
        Sorted distinct positions.
    b : array_like
        Charges ±1.
    times : numpy.ndarray
        Output times, increasing, ≥ 0.
    vkind : int
        Index of V in :data:`V_KINDS`.
    wkind : int
        Index of W in :data:`W_KINDS`.
    delta : float
        δ of W_δ.
    rtol, atol : float, optional
        Tolerances of the default controller.
    max_steps : int, optional
        Caps accepted + rejected steps (RuntimeError beyond, as when the step underflows).
    controller : PIController or None, optional
        A :class:`meanfield.solvers.timestepping.PIController` (default :func:`default_controller` of
        ``rtol``, ``atol``), whose tolerances, error norm and constants (safety, min/max factor, β) drive
        the steps.
    forces : {"auto", "direct", "fmm"}, optional
        The force evaluation (:mod:`.annihilation_forces1d`).
    kernels : tuple or None, optional
        ``(dV, dW)``: user force callables (dW None for W ≡ 0) summed by
        :func:`~meanfield.particles.annihilation_forces1d.callable_velocity` instead of the compiled
        presets ``vkind``/``wkind`` (then ``forces`` must be "auto" or "direct": no FMM for user
        potentials).

    Returns
    -------
    AnnihilationRun
        States, charges and annihilations at ``times``, with the step and force counts.

    Raises
    ------
    TypeError
        If ``controller`` is not a PIController.
    ValueError
        For an unknown ``forces``, "fmm" with user kernels, a bad ``max_steps`` or an ``atol`` below
        machine epsilon × max|x|.
    RuntimeError
        After ``max_steps`` steps or when the step underflows.

    References
    ----------
    :cite:`vanMeursMorandotti2019`, Problem 4.1, Def. 4.2, eq. (4.1); theory page ``docs/theory/001-annihilation.md``.

    Examples
    --------
    Two + and two - particles under ``V = -log``, ``W_δ``: the inner pair annihilates at t ≈ 0.6067, at 0:

    >>> import numpy as np
    >>> run = integrate_annihilation(np.array([-1.0, -0.5, 0.5, 1.0]), np.array([1, 1, -1, -1]),
    ...                              np.array([0.0, 2.0]), 0, 1, 0.3)
    >>> [(round(float(t), 4), kind, pair, round(float(place), 12)) for t, kind, pair, place in run.events]
    [(0.6067, 'annihilation', (1, 2), 0.0)]
    """
    if controller is None:
        controller = default_controller(rtol, atol)
    if not isinstance(controller, PIController):
        raise TypeError(f"controller must be a meanfield.solvers.timestepping.PIController, got {controller!r}")
    if forces not in FORCE_METHODS:
        raise ValueError(f"forces must be one of {FORCE_METHODS}, got {forces!r}")
    if kernels is not None and forces == "fmm":
        raise ValueError("forces='fmm' needs preset potentials (compiled kernels); user potentials use the direct "
                         "pair sum: give forces='auto' or 'direct'")
    if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}")
    x = np.array(x, dtype=float)
    b = np.array(b, dtype=np.int64)
    n = x.size
    atol_floor = np.finfo(float).eps * float(np.max(np.abs(x)))
    if not controller.atol >= atol_floor:
        raise ValueError(f"atol must be at least {atol_floor:.3g} (machine epsilon times max|x|: every force "
                         f"involves differences of coordinates of that size), got {controller.atol!r}")
    stepper = DormandPrince54()
    h = controller.h0
    controller.start(stepper, 0.0, float(times[-1]))  # resets the PI memory
    reject_exponent = -1.0 / (stepper.embedded_order + 1)  # after a rejection: the I-controller alone
    order = fmm_order(controller.rtol)
    run = AnnihilationRun(solver={**stepper.describe(), **controller.describe(), "beta": controller.beta,
                                  "safety": controller.safety, "min_factor": controller.min_factor,
                                  "max_factor": controller.max_factor, "forces": forces, "fmm_order": order})
    if kernels is not None:
        run.solver["forces"] = "python_direct"
    idx = np.arange(n)  # global indices of the active particles, in order
    xa, ba = x.copy(), b.copy()

    def force(y):
        run.force_evaluations += 1
        if kernels is not None:
            return callable_velocity(y, ba, n, *kernels)
        return velocity(y, ba, n, vkind, wkind, delta, forces, order)

    def dp_step(y, f0, h):
        k = np.empty((7, y.size))
        k[0] = f0
        for s in range(1, 7):
            k[s] = force(y + h * (np.asarray(A[s]) @ k[:s]))
        y_new = y + h * (np.asarray(A[6]) @ k[:6])
        return y_new, k, h * (E @ k)

    t = 0.0
    f = force(xa)
    opp, same = _adjacent_opposite(ba)
    for t_out in times:
        while t_out - t > TIME_TOL * max(1.0, abs(t_out)):
            if xa.size < 2:  # nothing moves
                t = t_out
                break
            if h is None:  # starting step of Hairer, Nørsett & Wanner I, §II.4 (first part)
                scale = controller.atol + controller.rtol * np.abs(xa)
                d0, d1 = np.sqrt(np.mean((xa / scale) ** 2)), np.sqrt(np.mean((f / scale) ** 2))
                h = 0.01 * d0 / d1 if d0 > 1e-5 and d1 > 1e-5 else 1e-6
            step = min(h, t_out - t)
            if run.accepted + run.rejected >= max_steps:
                raise RuntimeError(f"max_steps={max_steps} steps were spent at t={t} before reaching t={t_out}")
            if step < np.finfo(float).tiny:  # steps below the resolution of t do occur (W = -V collisions)
                raise RuntimeError(f"the step underflowed to {step!r} at t={t} (after "
                                   f"{run.accepted} accepted and {run.rejected} rejected steps; tolerances "
                                   f"rtol={controller.rtol}, atol={controller.atol})")
            y_new, k, err_vec = dp_step(xa, f, step)
            err = controller.error_norm(xa, y_new, err_vec)
            gaps_same = y_new[same + 1] - y_new[same]
            if not np.all(np.isfinite(y_new)) or not np.isfinite(err) or np.any(gaps_same <= 0):
                run.rejected += 1
                h = 0.25 * step
                continue
            if err > 1.0:
                run.rejected += 1
                h = step * max(controller.min_factor, controller.safety * err**reject_exponent)
                continue
            factor = controller.factor(err)  # PI control: damps accept/reject cycling at the stability limit
            controller.accepted(err)
            run.accepted += 1
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

                def gap(theta, c=c, coef=coef, g0=g0):
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
            for c in sorted(hit):  # type: ignore[assignment]  # c was a NumPy integer in the loop above
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
