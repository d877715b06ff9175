"""Model 001: 1-D charged particles with annihilation → the equation in [κ]±.

van Meurs & Morandotti, *Discrete-to-continuum limits of particles with an annihilation rule*
(SIAM J. Appl. Math. 2019); reading notes ``notes/001.md``.

Particles (4.1): ``ẋ_i = -(1/n) Σ_{b_i b_j = 1} V'(x_i - x_j) - (1/n) Σ_{b_i b_j = -1} W'(x_i - x_j)``
over active particles, mass 1/n each. Annihilation (Def. 4.2): when two adjacent active opposite
charges meet, both become ghosts (charge 0): frozen, invisible, kept in μ_n^± (4.15). Between
events the ODE is integrated by Dormand–Prince 5(4) with error control
(:func:`solvers.timestepping.dormand_prince`; its steps are limited by the stiffness, λ ~ n), and
the annihilation time is the root, located by Brent's method, of the smallest gap between adjacent
active opposite charges — a sign change of a gap, never a distance threshold (notes §6.1).

Potentials (§1.2, Assumption 2.1): ``V = -log|r|`` ("log") or ``V = r coth r - log|2 sinh r|``
("wall", dislocation walls); ``W ≡ 0`` ("none") or ``W_δ = ½ log(r² + δ²)`` ("regularised", our
choice, notes §1.2: even, C¹, W' Lipschitz, rW' bounded). ``W = -V`` (singular attraction) is
outside Assumption 2.1 and is refused: its collisions happen with unbounded speed.

Continuum (1.3): ``∂_t ρ^± = ([κ]_± (V' * [κ]_± + W' * [κ]_∓))'``, κ = ρ⁺ - ρ⁻, by conservative
finite volumes (notes §6.2): only the active part σ^± = [ρ⁺_j - ρ⁻_j]_± of each cell is transported,
with the upwind flux; the nonlocal velocity uses exact cell integrals through the antiderivative
(``∫_{C_k} V'(x_j - y) dy = V(x_j - x_{k-½}) - V(x_j - x_{k+½})``, the singular self-cell term is 0 by
symmetry), a Toeplitz product done by zero-padded FFT; SSP-RK3 under ``dt ≤ cfl h / max|v|``
keeps ρ^± ≥ 0 and conserves each species' mass to round-off.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from meanfield.measures import Domain, EmpiricalMeasure
from meanfield.models.base import Trajectory, check_integer, check_positive, check_times, continuum_dataset
from solvers import fft
from solvers.finite_volume import divergence, upwind_flux
from solvers.grids import UniformGrid
from solvers.timestepping import dormand_prince
from solvers.timestepping.ssp import ssp_rk3_step

__all__ = ["Annihilation1D", "potential"]

_V_KINDS = ("log", "wall")
_W_KINDS = ("none", "regularised")


def potential(kind, r, delta=0.3):
    """``V`` or ``W`` of the given kind at ``r`` (even functions; V singular at 0)."""
    r = np.abs(np.asarray(r, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if kind == "log":
            return -np.log(r)
        if kind == "wall":  # r coth r - log|2 sinh r| = 2r/(e^{2r}-1) - log1p(-e^{-2r})  (notes §1.2)
            small = r < 1e-3
            series = 1 - np.log(2) - np.log(r) + r**2 / 6 - r**4 / 60
            stable = 2 * r / np.expm1(2 * r) - np.log1p(-np.exp(-2 * r))
            return np.where(small, series, stable)
        if kind == "none":
            return np.zeros_like(r)
        if kind == "regularised":
            return 0.5 * np.log(r**2 + delta**2)
    raise ValueError(f"unknown potential kind {kind!r}")


@njit(cache=True)
def _dv(kind, r):
    if kind == 0:  # -log|r|
        return -1.0 / r
    s = np.sinh(r)  # wall: V'(r) = -r / sinh^2 r
    return -r / (s * s)


@njit(cache=True)
def _dw(kind, r, delta):
    if kind == 0:
        return 0.0
    return r / (r * r + delta * delta)


@njit(cache=True)
def _velocity(x, b, n_total, vkind, wkind, delta):
    n = x.size
    out = np.zeros(n)
    for i in range(n):
        if b[i] == 0:
            continue
        acc = 0.0
        for j in range(n):
            if j == i or b[j] == 0:
                continue
            r = x[i] - x[j]
            if b[i] == b[j]:
                acc -= _dv(vkind, r)
            else:
                acc -= _dw(wkind, r, delta)
        out[i] = acc / n_total
    return out


class Annihilation1D:
    """Signed particles on R with annihilation, and the continuum equation (1.3).

    Parameters
    ----------
    V : "log" or "wall";  W : "none" or "regularised";  delta : float (W_δ's core)
    centres, radii : initial semicircle densities ρ^±° (notes §5.4), masses ``mass_plus`` and
        ``1 - mass_plus``; the supports must form alternating blocks (Assumption 2.2).
    """

    def __init__(self, V="log", W="none", delta=0.3, centres=(-1.0, 1.0), radii=(0.5, 0.5), mass_plus=0.5):
        if V not in _V_KINDS:
            if V == "W=-V":
                raise ValueError("W = -V (singular attraction) is outside Assumption 2.1: collisions happen "
                                 "with unbounded speed; not supported")
            raise ValueError(f"V must be one of {_V_KINDS}, got {V!r}")
        if W not in _W_KINDS:
            raise ValueError(f"W must be one of {_W_KINDS} (W = -V is outside Assumption 2.1), got {W!r}")
        self.V, self.W = V, W
        self.delta = check_positive("delta", delta)
        c = np.asarray(centres, float)
        r = np.asarray(radii, float)
        if c.shape != (2,) or r.shape != (2,) or np.any(r <= 0):
            raise ValueError(f"centres and radii must be pairs with positive radii, got {centres!r}, {radii!r}")
        if c[0] + r[0] > c[1] - r[1] and c[1] + r[1] > c[0] - r[0]:
            raise ValueError("the + and - initial supports overlap: Assumption 2.2 needs separated blocks")
        self.centres, self.radii = c, r
        if not 0 < mass_plus < 1:
            raise ValueError(f"mass_plus must lie in (0, 1), got {mass_plus!r}")
        self.mass_plus = float(mass_plus)
        self.domain = Domain(1)

    @property
    def params(self):
        return {"V": self.V, "W": self.W, "delta": self.delta, "centres": self.centres, "radii": self.radii,
                "mass_plus": self.mass_plus}

    # -- initial data -------------------------------------------------------------------------
    def _semicircle_quantile(self, s, c, r):
        """Quantile of the semicircle law on [c-r, c+r] by bisection on its CDF."""
        lo, hi = -np.ones_like(s), np.ones_like(s)
        for _ in range(60):
            u = 0.5 * (lo + hi)
            cdf = 0.5 + (u * np.sqrt(1 - u * u) + np.arcsin(u)) / np.pi
            lo, hi = np.where(cdf < s, u, lo), np.where(cdf < s, hi, u)
        return c + r * 0.5 * (lo + hi)

    def sample_particles(self, n, rng=None):
        """Quantile placement ``x = F^{-1}((i - ½)/n_±)`` per species (notes §1.7); ``rng`` unused
        (deterministic data). Returns ``(x sorted, b)`` with ``n_+ = round(mass_plus · n)``."""
        n = check_integer("n", n, minimum=2)
        n_plus = int(round(self.mass_plus * n))
        parts, charges = [], []
        for k, (count, sign) in enumerate(((n_plus, 1), (n - n_plus, -1))):
            s = (np.arange(count) + 0.5) / count
            parts.append(self._semicircle_quantile(s, self.centres[k], self.radii[k]))
            charges.append(np.full(count, sign))
        x = np.concatenate(parts)
        b = np.concatenate(charges)
        order = np.argsort(x, kind="stable")
        return x[order], b[order]

    def initial_density(self, grid: UniformGrid):
        """Cell averages of ρ^±° (semicircles), shape ``(2, n)``, species masses exact on the grid."""
        out = []
        for k, m in ((0, self.mass_plus), (1, 1 - self.mass_plus)):
            c, r = self.centres[k], self.radii[k]
            e = np.clip((grid.edges[0] - c) / r, -1, 1)
            cdf = 0.5 + (e * np.sqrt(1 - e * e) + np.arcsin(e)) / np.pi
            out.append(m * np.diff(cdf) / grid.spacing[0])
        return np.array(out)

    # -- particles ------------------------------------------------------------------------------
    def _kinds(self):
        return _V_KINDS.index(self.V), _W_KINDS.index(self.W)

    def velocity(self, x, b, n_total):
        vk, wk = self._kinds()
        return _velocity(np.asarray(x, float), np.asarray(b, np.int64), n_total, vk, wk, self.delta)

    def simulate_particles(self, state, t_end, times=None, rng=None, rtol=1e-8, atol=1e-11):
        """Event-driven solution of (4.1) with the annihilation rule (module docstring).

        ``state = (x, b)``: strictly increasing positions and charges ±1. Returns a Trajectory of all
        particles (ghosts included, as in μ_n^± (4.15)) with species "+"/"-" by initial charge;
        ``info["active"][k]`` are the charges b(t_k) and ``events`` the annihilations
        ``(time, "annihilation", (i, j))``.
        """
        x0, b0 = state
        x = np.array(x0, dtype=float)
        b = np.array(b0, dtype=np.int64)
        if x.ndim != 1 or b.shape != x.shape or x.size < 2:
            raise ValueError("state must be (x, b): two 1-D arrays of the same length >= 2")
        if not np.all(np.isfinite(x)):
            raise ValueError("positions must be finite")
        if np.any(np.diff(x) <= 0):
            raise ValueError("positions must be strictly increasing (distinct, ordered: Problem 4.1)")
        if not np.all(np.abs(b) == 1):
            raise ValueError("charges must be +1 or -1")
        ts = check_times(t_end, times)
        n = x.size
        b_init = b.copy()
        events, out_x, out_b = [], [], []
        t = 0.0

        def adjacent_pairs(bb):
            act = np.flatnonzero(bb != 0)
            return [(act[k], act[k + 1]) for k in range(act.size - 1) if bb[act[k]] != bb[act[k + 1]]]

        for t_out in ts:
            while t_out - t > 1e-14 * max(1.0, t_out):
                pairs = adjacent_pairs(b)
                bb = b.copy()
                vk, wk = self._kinds()

                def rhs(s, y):
                    return _velocity(y, bb, n, vk, wk, self.delta)  # ghosts: b = 0, velocity 0

                event = None
                if pairs:
                    ii = np.array([p[0] for p in pairs])
                    jj = np.array([p[1] for p in pairs])

                    def event(s, y):
                        return float(np.min(y[jj] - y[ii]))

                res = dormand_prince(rhs, x, t_out - t, rtol=rtol, atol=atol, event=event,
                                     h0=min(t_out - t, 1e-3 / n))
                x = res.states[-1].copy()
                if res.stopped_at is None:
                    t = t_out
                    break
                t += res.stopped_at
                gaps = x[jj] - x[ii]
                # the located pair, plus any other adjacent opposite pair whose gap has also closed
                # by this time (simultaneous annihilations at distinct points, Def. 4.2)
                closing = set(np.flatnonzero(gaps <= 0).tolist()) | {int(np.argmin(gaps))}
                for k in sorted(closing):
                    i, j = ii[k], jj[k]
                    meet = 0.5 * (x[i] + x[j])
                    x[i] = x[j] = meet
                    b[i] = b[j] = 0
                    events.append((t, "annihilation", (int(i), int(j))))
            out_x.append(x.copy())
            out_b.append(b.copy())
        species = [np.where(b_init > 0, "+", "-") for _ in ts]
        return Trajectory(ts, out_x, self.domain, [np.full(n, 1.0 / n) for _ in ts], species, events,
                          info={"active": out_b, "charges": b_init})

    def active_measures(self, traj, t):
        """``[κ_n(t)]_±`` = the active particles only (Lemma 4.6(i)), as {"+", "-"} measures of mass N_±/n."""
        k = int(np.argmin(np.abs(np.asarray(traj.times) - t)))
        x, b = traj.positions[k], traj.info["active"][k]
        n = x.size
        out = {}
        for sign, label in ((1, "+"), (-1, "-")):
            sel = b == sign
            out[label] = EmpiricalMeasure(x[sel], np.full(sel.sum(), 1.0 / n)) if sel.any() else None
        return out

    # -- continuum ------------------------------------------------------------------------------
    def _toeplitz_hats(self, grid):
        h = grid.spacing[0]
        n = grid.shape[0]

        def cell_kernel(kind):
            return lambda m: potential(kind, m + h / 2, self.delta) - potential(kind, m - h / 2, self.delta)

        hats = []
        for kind in (self.V, self.W):
            # kernel(r) on displacements r = (j - k) h: ∫_{C_k} K'(x_j - y) dy = K(r + h/2) - K(r - h/2)
            hats.append(fft.free_space_kernel_hat(cell_kernel(kind), (n,), (h,)))
        return hats

    def solve_continuum(self, resolution=800, t_end=None, times=None, window=None, cfl=0.4):
        """Finite volumes for (1.3) on ``window`` (default: initial hull ± 3 radii + √(4 t_end));
        returns the standard dataset (species "+", "-": ρ^± including annihilated mass) with the
        annihilated mass ``A(t)`` and active masses ``[κ]_±(R)`` as extra variables."""
        if t_end is None:
            raise ValueError("t_end is required")
        n = check_integer("resolution", resolution, minimum=16)
        ts = check_times(t_end, times)
        if window is None:
            lo = float(np.min(self.centres - self.radii)) - 3 * float(self.radii.max()) - np.sqrt(4 * t_end)
            hi = float(np.max(self.centres + self.radii)) + 3 * float(self.radii.max()) + np.sqrt(4 * t_end)
            window = (lo, hi)
        grid = UniformGrid(window[0], window[1], n, periodic=False)
        rho = self.initial_density(grid)
        v_hat, w_hat = self._toeplitz_hats(grid)
        h = grid.spacing[0]

        def velocities(r):
            kappa = r[0] - r[1]
            sig = np.stack([np.clip(kappa, 0, None), np.clip(-kappa, 0, None)])
            conv_v = [fft.convolve_free_space(s, v_hat, 1.0) for s in sig]
            conv_w = [fft.convolve_free_space(s, w_hat, 1.0) for s in sig] if self.W != "none" else [0 * sig[0]] * 2
            # v^± = -(V' * σ^± + W' * σ^∓) at centres (notes §2.2), averaged to the interior faces
            centre = [-(conv_v[0] + conv_w[1]), -(conv_v[1] + conv_w[0])]
            faces = [np.concatenate(([0.0], 0.5 * (c[1:] + c[:-1]), [0.0])) for c in centre]
            return sig, faces

        def rhs(_t, r):
            sig, faces = velocities(r)
            return np.stack([divergence([upwind_flux(sig[k], faces[k], grid, 0)], grid) for k in range(2)])

        out, t = [], 0.0
        for t_out in ts:
            while t_out - t > 1e-12 * max(1.0, t_out):
                _, faces = velocities(rho)
                vmax = max(float(np.abs(f).max()) for f in faces)
                dt = min(cfl * h / max(vmax, 1e-300), t_out - t)
                rho = ssp_rk3_step(rhs, t, rho, dt)
                t = t_out if dt == t_out - t else t + dt
            out.append(rho.copy())
        out = np.array(out)
        kappa = out[:, 0] - out[:, 1]
        active_plus = grid.integrate(np.clip(kappa, 0, None))
        active_minus = grid.integrate(np.clip(-kappa, 0, None))
        return continuum_dataset(ts, out, grid, species=["+", "-"], params=self.params,
                                 solver={"method": "upwind_fv_ssprk3", "resolution": n, "cfl": cfl},
                                 annihilated_mass=(("time",), self.mass_plus - active_plus),
                                 active_plus=(("time",), active_plus), active_minus=(("time",), active_minus))
