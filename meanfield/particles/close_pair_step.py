"""Step control for particle systems with a singular pair drift (e.g. ``K(x) = x/|x|²`` of model 000).

For ``dX^i = f^i(X) dt + σ dB^i`` with a drift that blows up as two particles approach each other, a
fixed step ``dt`` lets the drift carry a particle across the singularity in one step. The rule of
:class:`ClosePairStep` shortens each step so that no particle's drift displacement exceeds ``θ``
times its distance to its nearest neighbour::

    h = dt                               if h_cap ≥ dt,
    h = max(h_cap, dt_min)               otherwise,       h_cap = θ · min_i d_i / |f^i(X)|,

with ``d_i`` particle ``i``'s nearest-neighbour distance and ``dt_min = dt_min_fraction · dt``. The
floor is needed because ``dt ~ r²`` adaptivity does not terminate through a collision of opposite
charges (their distance reaches 0 in finite time). With ``noise_sigma`` (``resolve_noise``) the step
is also kept below ``(θ min_i d_i)² / (2σ²)``, so that the standard deviation ``σ sqrt(2h)`` of a pair's
relative Brownian displacement stays below ``θ`` times the smallest distance: noise does not carry a
pair across the close-approach region unseen either.

The rule is a value passed to :func:`meanfield.solvers.timestepping.integrate` as ``dt``; it keeps counters
(``proposals``; ``capped``: steps it made shorter than both ``dt`` and the time left to the next
output, when it is given the output times) and, with ``collision_radius``, the first time a step
starts with some pair closer than that radius (``first_collision_time``, ``inf`` if never).

The drift and the distances come from one evaluation ``drift_and_distances(y) -> (f, d)``; wrapped in
:class:`LastStateCache`, the scheme's drift evaluation at the step's start state reuses the one
made here, so the rule costs no extra drift evaluation.

This rule sets the step of the whole system by its closest pair; for many particles
:class:`meanfield.particles.multirate_step.MultirateEulerMaruyama` applies it to the close groups only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from meanfield.solvers.timestepping import TIME_TOL

__all__ = ["ClosePairStep", "LastStateCache"]


class LastStateCache:
    """``fn(y)`` remembered for the last ``y`` it was called with, recognised by identity.

    The time-stepping driver and its steppers never modify a state in place, so the same array
    object means the same state; the cache holds a reference to it (so its ``id`` cannot be reused
    by a new array). ``evaluations`` counts the calls of ``fn``, ``hits`` the calls served from memory.
    """

    def __init__(self, fn: Callable):
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {fn!r}")
        self._fn = fn
        self._y = None
        self._value = None
        self.evaluations = 0
        self.hits = 0

    def __call__(self, y):
        if y is self._y:
            self.hits += 1
            return self._value
        value = self._fn(y)
        self._y, self._value = y, value
        self.evaluations += 1
        return value


def _in_unit_interval(name, value) -> float:
    v = float(value)
    if not (0.0 < v <= 1.0):
        raise ValueError(f"{name} must lie in (0, 1], got {value!r}")
    return v


class ClosePairStep:
    """Close-pair step rule (module docstring) with ``propose(t, y)`` and ``describe()``.

    Parameters
    ----------
    drift_and_distances : callable
        ``y -> (f (n, d), nearest-neighbour distances (n,))``, ideally a :class:`LastStateCache`
        shared with the problem's drift.
    dt : float > 0
        Base step.
    theta : float in (0, 1]
        Largest drift displacement per step, as a fraction of the nearest-neighbour distance.
    dt_min_fraction : float in (0, 1]
        Floor of a shortened step, as a fraction of ``dt``.
    noise_sigma : float > 0, optional
        Noise amplitude σ; if given, the step also resolves the relative Brownian motion of the
        closest pair (module docstring).
    collision_radius : float > 0, optional
        Record the first step start at which some pair is at most this far apart.
    save_at : sequence of float, optional
        The run's output times; only used to count ``capped`` steps as steps shortened below the time
        left to the next output too (the step itself does not depend on them).
    """

    adaptive = False

    def __init__(self, drift_and_distances, dt, theta=0.25, dt_min_fraction=1e-3, noise_sigma=None,
                 collision_radius=None, save_at=None):
        if not callable(drift_and_distances):
            raise TypeError(f"drift_and_distances must be callable, got {drift_and_distances!r}")
        self.evaluate = drift_and_distances
        self.dt = float(dt)
        if not (np.isfinite(self.dt) and self.dt > 0):
            raise ValueError(f"dt must be a positive finite number, got {dt!r}")
        self.theta = _in_unit_interval("theta", theta)
        self.dt_min = self.dt * _in_unit_interval("dt_min_fraction", dt_min_fraction)
        self.noise_sigma = None if noise_sigma is None else float(noise_sigma)
        if self.noise_sigma is not None and not (np.isfinite(self.noise_sigma) and self.noise_sigma > 0):
            raise ValueError(f"noise_sigma must be a positive finite number, got {noise_sigma!r}")
        self.collision_radius = None if collision_radius is None else float(collision_radius)
        if self.collision_radius is not None and not (np.isfinite(self.collision_radius) and self.collision_radius > 0):
            raise ValueError(f"collision_radius must be a positive finite number, got {collision_radius!r}")
        self._outputs = None if save_at is None else sorted(float(v) for v in np.ravel(save_at))
        self._next = 0
        self.proposals = 0
        self.capped = 0
        self.first_collision_time = np.inf

    def _time_left(self, t):
        """Time from ``t`` to the next output time not yet reached (``inf`` without output times)."""
        out = self._outputs
        if out is None:
            return np.inf
        while self._next < len(out) and out[self._next] - t <= TIME_TOL * max(1.0, abs(out[self._next])):
            self._next += 1
        return out[self._next] - t if self._next < len(out) else np.inf

    def propose(self, t, y):
        f, dmin = self.evaluate(y)
        self.proposals += 1
        if dmin.size == 0:
            return self.dt
        if self.noise_sigma is not None or self.collision_radius is not None:
            closest = dmin.min()
            if self.collision_radius is not None and self.first_collision_time == np.inf \
                    and closest <= self.collision_radius:
                self.first_collision_time = t
        speed = np.sqrt(f[:, 0] ** 2 + f[:, 1] ** 2) if f.shape[1] == 2 else np.sqrt((f**2).sum(axis=1))
        ratio = np.full_like(speed, np.inf)
        np.divide(self.theta * dmin, speed, out=ratio, where=speed > 0)
        h_cap = ratio.min()
        if self.noise_sigma is not None:
            h_cap = min(h_cap, (self.theta * closest) ** 2 / (2 * self.noise_sigma**2))
        if h_cap >= self.dt:
            return self.dt
        if h_cap < min(self.dt, self._time_left(t)):
            self.capped += 1
        return max(h_cap, self.dt_min)

    def describe(self) -> dict:
        return {"step_rule": "close_pair", "dt": self.dt, "theta": self.theta, "dt_min": self.dt_min,
                "resolve_noise": self.noise_sigma is not None}

    def __repr__(self) -> str:
        return f"ClosePairStep(dt={self.dt!r}, theta={self.theta!r}, dt_min={self.dt_min!r})"
