"""Coagulation reaction sweep of Brownian particles (paper 004's particle system), as a value
applied after each Brownian step.

Each **unordered** pair ``{i, j}`` at distance ``r`` reacts during a step of length ``h`` with
probability ``1 - exp(-λ h)``, ``λ = κ(m_i, m_j) V(r/ε) / ε²`` (the hazard of the generator (1.6)
frozen over the step); at most one reaction per particle per step; the product, of mass
``m_i + m_j``, sits at ``x_i`` with probability ``m_i / (m_i + m_j)`` and at ``x_j`` otherwise (the
placement rule of §1). A collision whose product would exceed the largest mass ``M`` does not
happen (conservative truncation), so ``Σ m_i`` is conserved exactly.

Candidate pairs within ``ε`` come from cell lists: on the torus ``[0, L)^3`` cells of side ``≥ ε``
(at least 3 per axis, so that the 27 neighbour cells are distinct; minimum-image distances), in
free space ``R^3`` cells of side ``ε`` indexed by a spatial hash (O(n) memory however far the
particles spread). Both sweeps visit the particles in a random order and draw two uniforms per
candidate pair within range from numba's generator, seeded from the caller's numpy Generator, so a
run is reproducible from its seed.

:class:`CoagulationSweep` holds the tables and the Generator; called as ``sweep(y, h)`` on the state
``y`` of shape ``(n, 4)`` (rows ``[x, y, z, mass]``) it returns the state of the survivors (fewer
rows after merges). :class:`meanfield.solvers.timestepping.JumpSplitting` applies it after each
Brownian step of the driver.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["CoagulationSweep", "profile_mass", "reaction_sweep", "tabulate_profile"]


def profile_mass(profile):
    """``∫ V = ∫_0^1 4π r² V(r) dr`` of a radial profile on the unit ball (trapezoid rule, 4001 radii)."""
    r = np.linspace(0, 1, 4001)
    return float(np.trapezoid(4 * np.pi * r**2 * profile(r), r))


def tabulate_profile(profile, samples=2049):
    """The sweep's table of the interaction: squared radii ``r²`` (``r`` in units of ε on ``[0, 1]``) and
    ``V(r) / ∫V`` (normalised to ``∫V = 1``, :func:`profile_mass`)."""
    r = np.linspace(0, 1, samples)
    return r**2, profile(r) / profile_mass(profile)


@njit(cache=True)
def _try_react(i, j, d2, pos, mass, alive, busy, eps, kappa_table, vtab_r2, vtab, dt):
    """The pair rule shared by both sweeps: particles ``i, j`` at squared distance ``d2`` react in
    ``dt`` with probability ``1 - exp(-λ dt)``, ``λ = κ(m_i, m_j) V(r/ε) / ε²`` (two uniform draws per
    candidate pair within range); the product of mass ``m_i + m_j`` sits at ``x_i`` or ``x_j`` with
    probabilities ``m_i/(m_i+m_j)``, ``m_j/(m_i+m_j)``, in slot ``i``; ``j`` dies. True if it reacted."""
    r2 = d2 / (eps * eps)
    if r2 >= vtab_r2[-1]:
        return False
    idx = np.searchsorted(vtab_r2, r2)
    v = vtab[min(idx, vtab.size - 1)]
    lam = kappa_table[mass[i] - 1, mass[j] - 1] * v / (eps * eps)
    u = np.random.random()
    w = np.random.random()
    if u < 1.0 - np.exp(-lam * dt) and mass[i] + mass[j] <= kappa_table.shape[0]:
        mi, mj = mass[i], mass[j]
        if w >= mi / (mi + mj):
            for k in range(3):
                pos[i, k] = pos[j, k]
        mass[i] = mi + mj
        alive[j] = False
        busy[i] = True
        busy[j] = True
        return True
    return False


@njit(cache=True)
def _cell_hash(cx, cy, cz, mask):
    return ((cx * 73856093) ^ (cy * 19349663) ^ (cz * 83492791)) & mask


@njit(cache=True)
def _bucket(cx, cy, cz, periodic, cells, size):
    """Head-table index of cell ``(cx, cy, cz)``: linear on the torus, hashed in free space."""
    if periodic:
        return (cx * cells + cy) * cells + cz
    return _cell_hash(cx, cy, cz, size - 1)


@njit(cache=True)
def reaction_sweep(pos, mass, alive, box, cells, eps, kappa_table, vtab_r2, vtab, dt, seed, order):
    """One reaction sweep over the candidate pairs within ε; returns the number of events.

    ``box > 0``: the torus ``[0, box)^3`` (positions wrapped), ``cells`` cells per axis of side
    ``box / cells ≥ ε``, at least 3 so that the 27 neighbour cells are distinct, minimum-image
    distances. ``box = 0``: free space ``R^3``, cells of side ε indexed by a spatial hash (a table of
    ``2^k ≥ 2n`` buckets, so memory is O(n) however far the particles spread). A bucket may hold
    several cells, so each candidate ``j`` is checked to lie in the neighbour cell being scanned,
    which visits every pair once. Particles are visited in ``order``; uniform draws come from
    numba's generator seeded with ``seed`` (drawn from the caller's Generator)."""
    np.random.seed(seed)
    n = pos.shape[0]
    periodic = box > 0.0
    side = box / cells if periodic else eps
    if periodic:
        size = cells**3
    else:
        size = 1
        while size < 2 * n:
            size *= 2
    head = -np.ones(size, np.int64)
    nxt = -np.ones(n, np.int64)
    cell = np.zeros((n, 3), np.int64)
    for i in range(n):
        if alive[i]:
            for k in range(3):
                c = int(np.floor(pos[i, k] / side))
                cell[i, k] = c % cells if periodic else c
            bucket = _bucket(cell[i, 0], cell[i, 1], cell[i, 2], periodic, cells, size)
            nxt[i] = head[bucket]
            head[bucket] = i
    busy = np.zeros(n, np.bool_)
    events = 0
    for oi in range(n):
        i = order[oi]
        if not alive[i] or busy[i]:
            continue
        done = False
        for a in range(-1, 2):
            for b in range(-1, 2):
                for c in range(-1, 2):
                    if done:
                        break
                    cx, cy, cz = cell[i, 0] + a, cell[i, 1] + b, cell[i, 2] + c
                    if periodic:
                        cx, cy, cz = cx % cells, cy % cells, cz % cells
                    j = head[_bucket(cx, cy, cz, periodic, cells, size)]
                    while j >= 0 and not done:
                        if (j > i and alive[j] and not busy[j] and cell[j, 0] == cx and cell[j, 1] == cy
                                and cell[j, 2] == cz):
                            d2 = 0.0
                            for k in range(3):
                                dx = pos[i, k] - pos[j, k]
                                if periodic:
                                    dx -= box * np.floor(dx / box + 0.5)
                                d2 += dx * dx
                            if _try_react(i, j, d2, pos, mass, alive, busy, eps, kappa_table, vtab_r2, vtab, dt):
                                events += 1
                                done = True
                        j = nxt[j]
    return events


class CoagulationSweep:
    """The reaction sweep as a value: ``sweep(y, h)`` reacts the particles of the state ``y`` (shape
    ``(n, 4)``, rows ``[x, y, z, mass]``, masses integers in ``1..M`` stored as floats) over a step of
    length ``h`` and returns the survivors' state (module docstring); on the torus it first wraps the
    positions onto ``[0, L)^3``. ``events`` counts the reactions so far.

    Parameters
    ----------
    epsilon : float
        Reaction range ``ε``.
    kappa : array (M, M)
        ``κ(m, m')`` per unordered pair (the ordered-pair factor 2 already included), symmetric.
    v_r2, v : arrays
        The interaction profile tabulated at squared radii ``v_r2`` (increasing, last entry the
        squared support radius in units of ε) with values ``v`` (∫V = 1).
    rng : numpy.random.Generator
        The stream of the run (the same Generator the driver draws the Brownian increments from):
        each sweep draws a permutation of the particles and the seed of numba's generator.
    box : float or None
        Side ``L`` of the torus, or None for free space ``R^3``.
    particles : int
        The initial particle number, which sets the torus cell lists (about one particle per cell,
        at least 3 cells per axis, cell side ≥ ε).
    """

    name = "coagulation_sweep"

    @classmethod
    def from_profile(cls, epsilon, kappa, profile, rng, box=None, particles=2):
        """The sweep for a radial profile ``V(r)`` on the unit ball (tabulated by :func:`tabulate_profile`)."""
        v_r2, v = tabulate_profile(profile)
        return cls(epsilon, kappa, v_r2, v, rng, box=box, particles=particles)

    def __init__(self, epsilon, kappa, v_r2, v, rng, box=None, particles=2):
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy Generator (the run's stream), got {rng!r}")
        self.eps = float(epsilon)
        if not (np.isfinite(self.eps) and self.eps > 0):
            raise ValueError(f"epsilon must be a positive finite number, got {epsilon!r}")
        self.kappa = np.ascontiguousarray(kappa, dtype=float)
        if self.kappa.ndim != 2 or self.kappa.shape[0] != self.kappa.shape[1]:
            raise ValueError(f"kappa must be a square table (M, M), got shape {self.kappa.shape}")
        self.v_r2 = np.ascontiguousarray(v_r2, dtype=float)
        self.v = np.ascontiguousarray(v, dtype=float)
        if self.v_r2.shape != self.v.shape or self.v.ndim != 1:
            raise ValueError(f"v_r2 and v must be 1-D tables of one length, got {self.v_r2.shape} and {self.v.shape}")
        self.rng = rng
        self.box = None if box is None else float(box)
        self.cells = 0
        if self.box is not None:
            if not self.eps <= self.box / 3:
                raise ValueError(f"epsilon={epsilon!r} must be at most box/3 = {self.box / 3} on the torus")
            self.cells = max(3, min(int(self.box / self.eps), round(particles ** (1 / 3))))
        self.events = 0

    def __call__(self, y, h):
        n = y.shape[0]
        pos = np.ascontiguousarray(y[:, :3] % self.box if self.box is not None else y[:, :3])
        mass = y[:, 3].astype(np.int64)
        alive = np.ones(n, np.bool_)
        order = self.rng.permutation(n)
        seed = int(self.rng.integers(2**31))
        events = reaction_sweep(pos, mass, alive, 0.0 if self.box is None else self.box, self.cells, self.eps,
                                self.kappa, self.v_r2, self.v, h, seed, order)
        self.events += int(events)
        out = np.empty((n - int(events), 4))
        out[:, :3] = pos[alive]
        out[:, 3] = mass[alive]
        return out

    def describe(self):
        return {"jumps": self.name, "epsilon": self.eps}
