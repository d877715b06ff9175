"""The SDE engine of model 000: ``dX^i = f^i(X) dt + sigma dB^i`` for charges with a singular pair drift.

:func:`simulate_charges` advances positions through :func:`meanfield.solvers.timestepping.integrate` with
Euler-Maruyama or stochastic Heun (:data:`SDE_SCHEMES`) under the close-pair step rule
(:class:`~meanfield.particles.close_pair_step.ClosePairStep`). The drift is a value passed in, a
function ``x -> (drift (N, 2), nearest-neighbour distances (N,))`` such as
:func:`meanfield.particles.coulomb_forces.drift_function` returns; wrapped in a
:class:`~meanfield.particles.close_pair_step.LastStateCache`, one evaluation at a step's start state
serves both the step rule and the scheme. Noise increments are ``sigma sqrt(h) z``, ``z`` standard
normal of shape ``(N, 2)``, one draw per step from ``rng``. Paper: eq. (1.1) of van Meurs, Peletier &
Slangen; theory page docs/theory/000-signed-coulomb.md ("Numerical choices for the particles").

:func:`sde_stepper` turns a scheme name (or the deprecated ``method="euler" | "heun"``) into a
stepper; :func:`integrate_from_zero` is :func:`~meanfield.solvers.timestepping.integrate` from t = 0 that
returns the initial state for outputs at t = 0 only.

:func:`simulate_charges_multirate` is the same SDE under the multirate rule of
:mod:`meanfield.particles.multirate_step` (Euler-Maruyama at the base step for every particle, short
substeps for the close groups only), so that the number of global steps, and of force evaluations, does
not grow with N; :func:`resolve_step` chooses between the two rules (``step="global" | "multirate" |
"auto"``).
"""

from __future__ import annotations

import warnings

import numpy as np

from meanfield.particles.close_pair_step import ClosePairStep, LastStateCache
from meanfield.particles.coulomb_forces import coulomb_drift, fmm_drift, nearest_distances, p3m_drift
from meanfield.particles.multirate_step import MultirateEulerMaruyama
from meanfield.solvers.timestepping import (
    EulerMaruyama,
    FixedStep,
    SDEProblem,
    Solution,
    StochasticHeun,
    integrate,
    step_budget,
)

__all__ = ["MULTIRATE_MIN_N", "SDE_METHODS", "SDE_SCHEMES", "STEP_RULES", "integrate_from_zero", "resolve_step",
           "sde_stepper", "simulate_charges", "simulate_charges_multirate"]

SDE_SCHEMES = {"euler_maruyama": EulerMaruyama, "stochastic_heun": StochasticHeun}
# the older short names, accepted as method= (deprecated) and as scheme= aliases
SDE_METHODS = {"euler": "euler_maruyama", "heun": "stochastic_heun"}
STEP_RESOLUTION = 4 * np.finfo(float).eps  # a step below this times max(1, t) does not advance t
STEP_RULES = ("global", "multirate", "auto")
# N from which step="auto" takes the multirate rule (Euler-Maruyama, the paper's kernel, direct, FMM or P3M
# forces): below it the global rule's numbers of before are kept bit for bit.
MULTIRATE_MIN_N = 1024


def resolve_step(step, n, scheme_short, force, custom_kernel):
    """The step rule ``step`` names (``"global"``, ``"multirate"``, or ``"auto"``: multirate from
    :data:`MULTIRATE_MIN_N` particles when it applies, else global), after checking that it applies:
    multirate needs Euler-Maruyama, the paper's kernel (``K`` or ``K_eps``) and direct, FMM or P3M forces."""
    if not isinstance(step, str) or step not in STEP_RULES:
        raise ValueError(f"step must be one of {STEP_RULES}, got {step!r}")
    why = ("scheme='euler_maruyama'" if scheme_short != "euler" else
           "the paper's kernel (kernel=None)" if custom_kernel else
           "force='direct', 'fmm' or 'p3m' (particle-mesh forces have no singular pairs)"
           if force not in ("direct", "fmm", "p3m")
           else None)
    if step == "auto":
        return "multirate" if n >= MULTIRATE_MIN_N and why is None else "global"
    if step == "multirate" and why is not None:
        raise ValueError(f"step='multirate' needs {why}; use step='global'")
    return step


def sde_stepper(scheme=None, method=None, stacklevel=3):
    """``(short name "euler" | "heun", stepper)`` from ``scheme`` (``"euler_maruyama"`` default or
    ``"stochastic_heun"``; ``"euler"``/``"heun"`` accepted as aliases) or the deprecated ``method``
    (``"euler"``/``"heun"``, a DeprecationWarning naming ``scheme=``)."""
    if method is not None:
        if not isinstance(method, str) or method not in SDE_METHODS:
            raise ValueError(f"method must be 'euler' or 'heun' (deprecated; use scheme="
                             f"{tuple(SDE_SCHEMES)}), got {method!r}")
        warnings.warn(f"method={method!r} is deprecated; use scheme={SDE_METHODS[method]!r}", DeprecationWarning,
                      stacklevel=stacklevel)
    if scheme is not None:
        name = SDE_METHODS.get(scheme, scheme) if isinstance(scheme, str) else scheme
        if not isinstance(name, str) or name not in SDE_SCHEMES:
            raise ValueError(f"scheme must be one of {tuple(SDE_SCHEMES)} (or 'euler', 'heun'), got {scheme!r}")
        if method is not None and SDE_METHODS[method] != name:
            raise ValueError(f"method={method!r} and scheme={scheme!r} disagree; give scheme only")
    else:
        name = SDE_METHODS[method or "euler"]
    short = next(k for k, v in SDE_METHODS.items() if v == name)
    return short, SDE_SCHEMES[name]()


def integrate_from_zero(stepper, problem, y0, ts, step, **kw):
    """:func:`integrate` from t = 0 to the last output time ``ts[-1]``; outputs at t = 0 only need no step."""
    if ts[-1] == 0:
        return Solution(times=ts, states=[np.array(y0, copy=True) for _ in ts])
    return integrate(stepper, problem, y0, ts[-1], ts, step, **kw)


def simulate_charges(drift, x0, sigma, ts, rng, *, dt, stepper, theta=0.25, dt_min_fraction=1e-3,
                     resolve_noise=False, collision_radius=None, max_steps):
    """Integrate ``dX = drift(X) dt + sigma dB`` from ``x0`` (checked by the caller) to the output times
    ``ts`` under the close-pair rule; returns ``(solution, rule, evaluate)`` with the rule's counters
    and ``evaluate.evaluations`` (drift evaluations). ``rule.first_collision_time`` is also set to
    ``ts[-1]`` when no step start saw a pair within ``collision_radius`` but the final state does.

    Refused before any work: a ``dt`` needing more than ``max_steps`` steps, and a floor step
    ``dt * dt_min_fraction`` below the resolution of float64 at ``ts[-1]``."""
    step_budget("dt", dt, ts[-1], max_steps)
    if dt * dt_min_fraction <= STEP_RESOLUTION * max(1.0, ts[-1]):
        raise ValueError(f"dt_min_fraction={dt_min_fraction!r} makes the floor step dt * dt_min_fraction = "
                         f"{dt * dt_min_fraction:.3g} fall below the resolution of float64 at t_end={ts[-1]}")
    evaluate = LastStateCache(drift)
    problem = SDEProblem(drift=lambda t, y: evaluate(y)[0], diffusion=sigma)
    rule = ClosePairStep(evaluate, dt, theta, dt_min_fraction, noise_sigma=sigma if resolve_noise else None,
                         collision_radius=collision_radius, save_at=ts)
    sol = integrate_from_zero(stepper, problem, x0, ts, rule, rng=rng, max_steps=max_steps)
    x = sol.states[-1]
    if collision_radius is not None and rule.first_collision_time == np.inf and x.shape[0] > 1 \
            and nearest_distances(x).min() <= collision_radius:
        rule.first_collision_time = ts[-1]
    return sol, rule, evaluate


def force_only(signs, gamma, epsilon, force, fmm_precision):
    """``x -> drift (n, 2)`` of eq. (1.1) with the paper's kernel by the compiled sum or the FMM (no
    nearest-neighbour query: the multirate rule finds its close pairs itself), or by P3M (exact kernel to
    its tolerance; its own neighbour distances are not used)."""
    if force == "fmm":
        return lambda x: fmm_drift(x, signs, gamma, fmm_precision)
    if force == "p3m":
        return lambda x: p3m_drift(x, signs, gamma)[0]
    return lambda x: coulomb_drift(x, signs, gamma, epsilon)[0]


def simulate_charges_multirate(signs, gamma, epsilon, force, fmm_precision, x0, sigma, ts, rng, *, dt, theta=0.25,
                               dt_min_fraction=1e-3, resolve_noise=False, collision_radius=None, max_steps):
    """:func:`simulate_charges` under the multirate rule (:class:`MultirateEulerMaruyama`): global
    Euler-Maruyama steps of ``dt`` (cut at the output times), substeps for the close groups. Returns
    ``(solution, stepper)``; the stepper holds the counters (``evaluations``, ``substeps``, ``capped``,
    ``grouped``, ``largest_group``, ``halvings``) and ``first_collision_time`` (also set to ``ts[-1]``
    when only the final state has a pair within ``collision_radius``). Refused before any work as in
    :func:`simulate_charges`."""
    step_budget("dt", dt, ts[-1], max_steps)
    if dt * dt_min_fraction <= STEP_RESOLUTION * max(1.0, ts[-1]):
        raise ValueError(f"dt_min_fraction={dt_min_fraction!r} makes the floor step dt * dt_min_fraction = "
                         f"{dt * dt_min_fraction:.3g} fall below the resolution of float64 at t_end={ts[-1]}")
    drift = force_only(signs, gamma, epsilon, force, fmm_precision)
    stepper = MultirateEulerMaruyama(drift, signs, gamma, epsilon, sigma, dt * dt_min_fraction, theta,
                                     resolve_noise=resolve_noise, collision_radius=collision_radius, rng=rng)
    problem = SDEProblem(drift=lambda t, y: drift(y), diffusion=sigma)
    sol = integrate_from_zero(stepper, problem, x0, ts, FixedStep(dt), rng=rng, max_steps=max_steps)
    x = sol.states[-1]
    if collision_radius is not None and stepper.first_collision_time == np.inf and x.shape[0] > 1 \
            and nearest_distances(x).min() <= collision_radius:
        stepper.first_collision_time = ts[-1]
    return sol, stepper
