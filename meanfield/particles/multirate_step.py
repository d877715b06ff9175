"""Multirate close-pair stepping for the charges of model 000: the global step is not set by the closest pair.

The SDE of eq. (1.1) of van Meurs, Peletier & Slangen, ``dX^i = f^i(X) dt + sigma dB^i`` with
``f^i = gamma b^i sum_j b^j K(X^i - X^j)`` (``K(x) = x/|x|^2``, or ``K_eps`` of eq. (4.5)), is advanced
with Euler-Maruyama at the base step ``h`` for every particle, except the members of *close groups*,
which take their own short substeps inside the global step. Theory page: docs/theory/000-signed-coulomb.md
("Numerical choices for the particles").

**Close pairs.** A pair is close when its own interaction would move the two charges relative to each
other by more than ``theta`` times their distance ``d`` in one base step: the relative drift of an
isolated pair is ``2 |gamma| / d``, so the pair is close when ``d < R_c = sqrt(2 |gamma| h / theta)``.
With ``resolve_noise`` a pair is also close when the standard deviation ``sigma sqrt(2 h)`` of its
relative Brownian displacement exceeds ``theta d`` (the rule of
:class:`~meanfield.particles.close_pair_step.ClosePairStep`, pair by pair). Close pairs are found by a
cell list of side ``R_c`` (:func:`pairs_within`, O(N)); the charges they link form close groups
(connected components; a pair in the mean-field regime at N = 10^5 is one of a handful).

**One global step of size h** (one force evaluation ``f`` of the whole system, by the compiled sum or
the FMM, at the step's start state ``X``):

* every particle outside the close groups: ``X^i + h f^i + sigma sqrt(h) z^i`` (Euler-Maruyama);
* each close group ``G``: the far field ``f^i_far = f^i - sum_{j in G} gamma b^i b^j K(X^i - X^j)``
  is frozen over the step (it is what Euler-Maruyama does with it anyway), and the group advances
  by Euler-Maruyama substeps with the drift ``f^i_far + sum_{j in G} gamma b^i b^j K(Y^i - Y^j)`` of
  its current positions ``Y``, each substep of the close-pair rule of
  :class:`~meanfield.particles.close_pair_step.ClosePairStep` restricted to the group (no member's
  drift displacement above ``theta`` times its distance to the nearest member; with ``resolve_noise``
  also ``(theta d_min)^2 / (2 sigma^2)``; floor ``dt_min``), cut to end at the global step's end.
  The substeps' Brownian increments are fresh draws from the run's generator (the members' ``z`` of
  the global step are not used), so each member's noise over the step is a Brownian path sampled at
  stopping times, as in the global rule.

For an isolated pair (N = 2) the far field vanishes and the substeps are those of the global rule:
the pair's collision law of eq. (2.6) is reproduced as before. The total drift sums to zero at every
substep (the pair terms are antisymmetric and the frozen far field sums to the full drift's sum), so
the centre of mass stays a Brownian motion. A group larger than ``max_group`` (close pairs
percolating: the base step is far too long for this system) is handled by halving the global step,
the two halves' noise obtained from ``z`` by the Brownian bridge (exact in law).

Only the paper's kernel (``K`` or ``K_eps``) is supported: the close-pair radius relies on
``|K(x)| <= 1/|x|``; particle-mesh forces have no singularity to resolve.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from meanfield.solvers.timestepping import EulerMaruyama

__all__ = ["MultirateEulerMaruyama", "close_radius", "pairs_within"]

_MAX_CELLS = 2**30  # cells per axis of the cell list (keys stay far inside int64)


@njit(cache=True)
def _pairs_kernel(xs, ks, order, width, radius, fill, out_i, out_j, out_d):
    """Count (``fill`` False) or record the pairs closer than ``radius`` among the particles sorted by their
    cell keys ``ks`` (positions ``xs`` in that order, original indices ``order``). Each pair is met once:
    from the particle with the smaller sorted index, in its own row of cells (keys ``k - 1 ... k + 1``,
    later particles only) and in the next row (keys ``k + width - 1 ... k + width + 1``). The bounds of the
    candidate ranges only move forward as the keys grow: one sweep, O(n + candidates)."""
    n = xs.shape[0]
    r2 = radius * radius
    count = 0
    lo = 0
    hi = 0
    for a in range(n):
        k = ks[a]
        # the next row's candidates: keys in [k + width - 1, k + width + 1]
        while lo < n and ks[lo] < k + width - 1:
            lo += 1
        if hi < lo:
            hi = lo
        while hi < n and ks[hi] <= k + width + 1:
            hi += 1
        for part in range(2):
            p0 = a + 1 if part == 0 else lo
            for p in range(p0, n):
                if part == 0 and ks[p] > k + 1:
                    break
                if part == 1 and p >= hi:
                    break
                dx = xs[a, 0] - xs[p, 0]
                dy = xs[a, 1] - xs[p, 1]
                d2 = dx * dx + dy * dy
                if d2 < r2:
                    if fill:
                        i = order[a]
                        j = order[p]
                        out_i[count] = min(i, j)
                        out_j[count] = max(i, j)
                        out_d[count] = np.sqrt(d2)
                    count += 1
    return count


def pairs_within(x, radius):
    """``(i, j, d)``: every pair ``i < j`` of rows of ``x`` (n, 2) at distance ``d < radius``, by a cell
    list (cells of side ``>= radius`` sorted by their keys, then one sweep: O(n log n) for the sort, O(n)
    for the sweep when few particles share a cell). ``radius <= 0`` gives no pairs."""
    x = np.ascontiguousarray(x, dtype=float)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"x must have shape (n, 2), got {x.shape}")
    radius = float(radius)
    if not np.isfinite(radius):
        raise ValueError(f"radius must be finite, got {radius!r}")
    empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
    if radius <= 0 or x.shape[0] < 2:
        return empty
    lower = x.min(axis=0)
    span = float((x.max(axis=0) - lower).max())
    side = max(radius, span / _MAX_CELLS)
    cells = np.floor((x - lower) / side).astype(np.int64)
    width = int(cells[:, 1].max()) + 3  # a row of cells in key space, with a free cell at each end
    key = (cells[:, 0] + 1) * width + cells[:, 1] + 1
    order = np.argsort(key, kind="stable")
    ks, xs = key[order], x[order]
    count = _pairs_kernel(xs, ks, order, width, radius, False, empty[0], empty[1], empty[2])
    out_i, out_j, out_d = np.empty(count, np.int64), np.empty(count, np.int64), np.empty(count)
    _pairs_kernel(xs, ks, order, width, radius, True, out_i, out_j, out_d)
    return out_i, out_j, out_d


def close_radius(h, gamma, theta, sigma=None):
    """Distance below which a pair is close for the base step ``h`` (module docstring):
    ``sqrt(2 |gamma| h / theta)``, and with ``sigma`` (resolve the noise) at least ``sigma sqrt(2 h) / theta``."""
    r = np.sqrt(2.0 * abs(gamma) * h / theta)
    if sigma is not None:
        r = max(r, sigma * np.sqrt(2.0 * h) / theta)
    return float(r)


def _group_pairs(labels, n_groups):
    """All pairs ``p < q`` of members with the same group label (members sorted by label first)."""
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(n_groups + 1))
    ps, qs = [], []
    for g in range(n_groups):
        mem = order[bounds[g]:bounds[g + 1]]
        a, b = np.triu_indices(mem.size, 1)
        ps.append(mem[a])
        qs.append(mem[b])
    return np.concatenate(ps), np.concatenate(qs)


def _local_drift(y, p, q, w_sign, eps2, m):
    """Pair drifts ``gamma b^p b^q K_eps(y^p - y^q)`` summed over the group pairs ``(p, q)`` (``w_sign`` =
    ``gamma b^p b^q``), antisymmetric, and each member's distance to its nearest member."""
    dx = y[p, 0] - y[q, 0]
    dy = y[p, 1] - y[q, 1]
    r2 = dx * dx + dy * dy
    den = r2 + eps2
    w = np.zeros_like(den)
    np.divide(w_sign, den, out=w, where=den > 0)  # K(0) := 0
    fx, fy = w * dx, w * dy
    out = np.empty((m, 2))
    out[:, 0] = np.bincount(p, fx, m) - np.bincount(q, fx, m)
    out[:, 1] = np.bincount(p, fy, m) - np.bincount(q, fy, m)
    dmin = np.full(m, np.inf)
    r = np.sqrt(r2)
    np.minimum.at(dmin, p, r)
    np.minimum.at(dmin, q, r)
    return out, dmin


class MultirateEulerMaruyama(EulerMaruyama):
    """Euler-Maruyama with multirate substeps for the close groups (module docstring), a
    :class:`~meanfield.solvers.timestepping.Stepper` for :func:`~meanfield.solvers.timestepping.integrate`
    with a fixed global step.

    Parameters
    ----------
    force : callable
        ``x (n, 2) -> drift (n, 2)`` of the whole system (compiled direct sum or FMM).
    signs : (n,) array of +-1; gamma : float; epsilon : float >= 0
        The charges and the kernel ``K_eps`` (0: the paper's ``K``) of the close-group pair drifts.
    sigma : float > 0
        Noise amplitude.
    dt_min : float > 0
        Floor of a substep (``dt * dt_min_fraction``).
    theta : float in (0, 1]
    resolve_noise : bool
    collision_radius : float > 0, optional
        Record the first (sub)step start at which some pair is at most this far apart.
    rng : numpy Generator
        The run's generator: the substeps' Brownian increments are drawn from it.
    max_group : int
        Largest close group before the global step is halved.
    """

    # orders, name and problem type are Euler-Maruyama's: for a step without close groups it is that step

    def __init__(self, force, signs, gamma, epsilon, sigma, dt_min, theta, resolve_noise=False,
                 collision_radius=None, rng=None, max_group=64):
        if not callable(force):
            raise TypeError(f"force must be callable, got {force!r}")
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy Generator, got {rng!r}")
        self.force = force
        self.signs = np.asarray(signs, dtype=float)
        self.gamma, self.eps2 = float(gamma), float(epsilon) ** 2
        self.sigma, self.dt_min, self.theta = float(sigma), float(dt_min), float(theta)
        self.resolve_noise = bool(resolve_noise)
        self.collision_radius = None if collision_radius is None else float(collision_radius)
        self.rng = rng
        self.max_group = int(max_group)
        self.evaluations = 0  # force evaluations of the whole system
        self.substeps = 0  # close-group substeps (one per group and substep)
        self.capped = 0  # substeps the rule made shorter than the time left in the global step
        self.grouped = 0  # particles in close groups, summed over global steps
        self.largest_group = 0
        self.halvings = 0
        self.first_collision_time = np.inf

    def step(self, problem, t, y, h, z):
        f = self.force(y)
        self.evaluations += 1
        return self._advance(t, y, h, z, f)

    def _advance(self, t, y, h, z, f):
        r_close = close_radius(h, self.gamma, self.theta, self.sigma if self.resolve_noise else None)
        i, j, d = pairs_within(y, max(r_close, self.collision_radius or 0.0))
        if self.collision_radius is not None and d.size and d.min() <= self.collision_radius:
            self.first_collision_time = min(self.first_collision_time, t)
        close = d < r_close
        y_new = y + h * f + self.sigma * np.sqrt(h) * z
        if not close.any():
            return y_new
        ic, jc = i[close], j[close]
        members, inverse = np.unique(np.concatenate([ic, jc]), return_inverse=True)
        m = members.size
        graph = coo_matrix((np.ones(ic.size), (inverse[: ic.size], inverse[ic.size:])), shape=(m, m))
        n_groups, labels = connected_components(graph, directed=False)
        size = np.bincount(labels, minlength=n_groups)
        if size.max() > self.max_group and h / 2 >= self.dt_min:
            return self._halved(t, y, h, z, f)
        self.grouped += m
        self.largest_group = max(self.largest_group, int(size.max()))
        y_new[members] = self._substeps(t, y[members], f[members], self.signs[members], labels, n_groups, h)
        return y_new

    def _halved(self, t, y, h, z, f):
        """Two half steps whose Brownian increments sum to ``sqrt(h) z`` (the bridge at ``h/2``)."""
        self.halvings += 1
        w_half = 0.5 * np.sqrt(h) * z + 0.5 * np.sqrt(h) * self.rng.standard_normal(z.shape)
        s = np.sqrt(h / 2)
        y_mid = self._advance(t, y, h / 2, w_half / s, f)
        f_mid = self.force(y_mid)
        self.evaluations += 1
        return self._advance(t + h / 2, y_mid, h / 2, (np.sqrt(h) * z - w_half) / s, f_mid)

    def _substeps(self, t, y, f, b, labels, n_groups, h):
        """The close groups' positions after their substeps through the global step ``[t, t + h]``: every
        group keeps its own clock; each pass advances every unfinished group by one substep."""
        m = y.shape[0]
        p, q = _group_pairs(labels, n_groups)
        w_sign = self.gamma * b[p] * b[q]
        local, _ = _local_drift(y, p, q, w_sign, self.eps2, m)
        far = f - local  # frozen over the global step
        clock = np.zeros(n_groups)
        y = y.copy()
        while True:
            active_groups = clock < h
            if not active_groups.any():
                return y
            local, dmin = _local_drift(y, p, q, w_sign, self.eps2, m)
            drift = far + local
            speed = np.sqrt(drift[:, 0] ** 2 + drift[:, 1] ** 2)
            ratio = np.full(m, np.inf)
            np.divide(self.theta * dmin, speed, out=ratio, where=speed > 0)
            h_cap = np.full(n_groups, np.inf)
            np.minimum.at(h_cap, labels, ratio)
            closest = np.full(n_groups, np.inf)
            np.minimum.at(closest, labels, dmin)
            if self.resolve_noise:
                h_cap = np.minimum(h_cap, (self.theta * closest) ** 2 / (2 * self.sigma**2))
            if self.collision_radius is not None:
                hit = active_groups & (closest <= self.collision_radius)
                if hit.any():
                    self.first_collision_time = min(self.first_collision_time, t + clock[hit].min())
            left = h - clock
            step = np.where(h_cap >= left, left, np.maximum(h_cap, self.dt_min))
            self.capped += int(np.count_nonzero(active_groups & (h_cap < left)))
            # a group whose time left is below the float64 resolution of t + h is done without a step
            tiny = left <= 4 * np.finfo(float).eps * max(1.0, abs(t + h))
            step = np.where(active_groups & ~tiny, np.minimum(step, left), 0.0)
            self.substeps += int(np.count_nonzero(step > 0))
            hm = step[labels]
            moving = hm > 0
            noise = self.rng.standard_normal((int(moving.sum()), 2))
            y[moving] += hm[moving, None] * drift[moving] + self.sigma * np.sqrt(hm[moving, None]) * noise
            done = active_groups & (tiny | (step >= left))
            clock = np.where(done, h, clock + step)

    def describe(self) -> dict:
        return {"stepper": self.name, "order": self.order, "strong_order": self.strong_order,
                "weak_order": self.weak_order}

    def __repr__(self) -> str:
        return f"MultirateEulerMaruyama(theta={self.theta!r}, dt_min={self.dt_min!r})"
