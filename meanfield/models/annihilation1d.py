"""Model 001: 1-D charged particles with annihilation → the equation in [κ]±.

van Meurs & Morandotti, *Discrete-to-continuum limits of particles with an annihilation rule*
(SIAM J. Appl. Math. 2019).

Particles (4.1): ``ẋ_i = -(1/n) Σ_{b_i b_j = 1} V'(x_i - x_j) - (1/n) Σ_{b_i b_j = -1} W'(x_i - x_j)``
over active particles, mass 1/n each. Annihilation (Def. 4.2): when two adjacent active opposite
charges meet, both become ghosts (charge 0): frozen, invisible, kept in μ_n^± (4.15). The
integrator (:mod:`meanfield.particles.annihilation_events1d`) is Dormand–Prince 5(4) under a PI
step controller of :mod:`solvers.timestepping`, with error control on the active particles only,
and annihilation times located as roots of the gaps of adjacent active opposite pairs on the step's
continuous extension — a sign change of a gap, never a distance threshold. Forces
(:mod:`meanfield.particles.annihilation_forces1d`): a compiled pair sum for a few hundred active
particles, a 1-D fast multipole method (O(n) per evaluation) above, so that a run to t = 1 costs
O(n²) (n = 10^4 in about 13 s of CPU). Why an explicit method for a stiff system (λ ~ n) is the
cheaper choice here: see that module and ``benchmarks/annihilation1d_scaling.py``.

Potentials (§1.2, Assumption 2.1), chosen by name — anything else is a ValueError:

* ``V = -log|r|`` ("log") or ``V = r coth r - log|2 sinh r|`` ("wall", dislocation walls, evaluated in
  the stable form ``2r/(e^{2r}-1) - log1p(-e^{-2r})``, free of the cancellation of the naive formula
  for large r). Both satisfy (2.1a-d) with ``|rV'| ≤ 1``.
* ``W ≡ 0`` ("none"); ``W_δ = ½ log(r² + δ²)`` ("regularised": the paper gives no formula; this one
  is even, C¹, W_δ' Lipschitz with constant δ⁻², rW_δ' ∈ [0, 1), V + W_δ = ½ log(1 + δ²/r²) ≥ 0 for
  V = -log, and it is a regularisation of -V = log|r| as in Fig. 1);
* ``W = -V`` ("-V"): the singular-attraction variant behind (1.4) and §1.7(a). It is OUTSIDE
  Assumption 2.1 (W' not Lipschitz) and Theorem 5.1 does not cover it; particles then collide in
  finite time with unbounded speed (an isolated pair of opposite charges at distance d obeys
  ḋ = -2/(n d), so d² = d₀² - 4t/n).

Initial data (Assumption 2.2): finitely many alternating blocks, each a semicircle law with a
centre, radius, sign and mass; supports pairwise disjoint. Two blocks (+ on [-1.5, -0.5], - on
[0.5, 1.5], masses ½) is the reference case; more blocks give L > 2 alternations.

Continuum (1.3): ``∂_t ρ^± = ([κ]_± (V' * [κ]_± + W' * [κ]_∓))'``, κ = ρ⁺ - ρ⁻, by conservative
finite volumes: only the active part σ^± = [ρ⁺_j - ρ⁻_j]_± of each cell is transported,
with the upwind flux; the nonlocal velocity uses exact cell integrals through the antiderivative
(``∫_{C_k} V'(x_j - y) dy = V(x_j - x_{k-½}) - V(x_j - x_{k+½})``, the singular self-cell term is 0 by
symmetry), a Toeplitz product done by zero-padded FFT (both species in one batched transform through
:mod:`solvers.fft`, which runs such small transforms on one thread); SSP-RK3 (through
:func:`solvers.timestepping.integrate`) under ``dt ≤ cfl h / max|v|`` keeps ρ^± ≥ 0 and conserves
each species' mass to round-off. With W = -V this is the two-species form of (1.4).
"""

from __future__ import annotations

import numpy as np

from meanfield.measures import Domain, EmpiricalMeasure
from meanfield.models.base import (
    Trajectory,
    check_integer,
    check_positive,
    check_times,
    continuum_dataset,
)
from meanfield.particles.annihilation_events1d import (
    V_KINDS,
    W_KINDS,
    active_velocity,
    default_controller,
    integrate_annihilation,
)
from solvers import fft
from solvers.finite_volume import divergence, upwind_flux
from solvers.grids import UniformGrid
from solvers.timestepping import SSPRK3, ODEProblem, StepFunction, integrate, step_budget

__all__ = ["Annihilation1D", "potential"]

_V_KINDS, _W_KINDS = V_KINDS, W_KINDS


def potential(kind, r, delta=0.3, V="log"):
    """``V`` or ``W`` of the given kind at ``r`` (even functions; V singular at 0). For kind "-V"
    the potential is ``-V`` with ``V`` given by the keyword ``V``."""
    r = np.abs(np.asarray(r, dtype=float))
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


def _semicircle_cdf(u):
    u = np.clip(u, -1.0, 1.0)
    return 0.5 + (u * np.sqrt(1 - u * u) + np.arcsin(u)) / np.pi


class Annihilation1D:
    """Signed particles on R with annihilation, and the continuum equation (1.3).

    Parameters
    ----------
    V : "log" or "wall"
    W : "none", "regularised" (W_δ) or "-V" (singular attraction, outside Assumption 2.1)
    delta : float > 0, the core of W_δ
    centres, radii : sequences (length k ≥ 2) of the initial semicircle blocks, in increasing order,
        with pairwise disjoint supports [c - r, c + r]
    signs : ±1 per block (default alternating, starting with +)
    masses : positive block masses summing to 1 (default: ``mass_plus`` and ``1 - mass_plus`` for two
        blocks, equal masses otherwise)
    """

    def __init__(self, V="log", W="none", delta=0.3, centres=(-1.0, 1.0), radii=(0.5, 0.5), mass_plus=None,
                 signs=None, masses=None):
        if V not in _V_KINDS:
            raise ValueError(f"V must be one of {_V_KINDS} (Assumption 2.1: singular, even, |rV'| bounded), "
                             f"got {V!r}")
        if W not in _W_KINDS:
            raise ValueError(f"W must be one of {_W_KINDS} (W_δ satisfies Assumption 2.1; '-V' is the singular "
                             f"variant), got {W!r}")
        self.V, self.W = V, W
        self.delta = check_positive("delta", delta)
        c = np.atleast_1d(np.asarray(centres, float))
        r = np.atleast_1d(np.asarray(radii, float))
        k = c.size
        if c.ndim != 1 or k < 2 or r.shape != c.shape:
            raise ValueError(f"centres and radii must be sequences of the same length >= 2, got {centres!r}, "
                             f"{radii!r}")
        if not (np.all(np.isfinite(c)) and np.all(np.isfinite(r))) or np.any(r <= 0):
            raise ValueError(f"centres must be finite and radii positive finite, got {centres!r}, {radii!r}")
        if np.any(c[:-1] + r[:-1] >= c[1:] - r[1:]):
            raise ValueError(f"blocks [c - r, c + r] must be ordered and disjoint (Assumption 2.2), got centres "
                             f"{centres!r}, radii {radii!r}: the + and - initial supports overlap")
        s = np.array([1 if i % 2 == 0 else -1 for i in range(k)]) if signs is None else np.asarray(signs)
        if s.shape != (k,) or not np.all(np.abs(s) == 1):
            raise ValueError(f"signs must be {k} values in {{+1, -1}}, got {signs!r}")
        if np.all(s == s[0]):
            raise ValueError(f"signs must contain both charges, got {signs!r}")
        if masses is None:
            if mass_plus is not None:
                if k != 2 or s[0] == s[1]:
                    raise ValueError("mass_plus is only for two blocks of opposite sign; give masses instead")
                if not 0 < float(mass_plus) < 1:
                    raise ValueError(f"mass_plus must lie in (0, 1), got {mass_plus!r}")
                m = np.where(s > 0, float(mass_plus), 1 - float(mass_plus))
            else:
                m = np.full(k, 1.0 / k)
        else:
            m = np.asarray(masses, float)
            if m.shape != (k,) or not np.all(np.isfinite(m)) or np.any(m <= 0) or abs(m.sum() - 1) > 1e-12:
                raise ValueError(f"masses must be {k} positive numbers summing to 1, got {masses!r}")
        self.centres, self.radii, self.signs, self.masses = c, r, s.astype(int), m
        self.mass_plus = float(m[s > 0].sum())
        self.domain = Domain(1)

    @property
    def params(self):
        return {"V": self.V, "W": self.W, "delta": self.delta, "centres": self.centres, "radii": self.radii,
                "signs": self.signs, "masses": self.masses, "mass_plus": self.mass_plus}

    @property
    def blocks(self):
        """L: the number of alternating ± blocks of the initial data (Assumption 2.2)."""
        return int(1 + np.count_nonzero(self.signs[1:] != self.signs[:-1]))

    # -- initial data -------------------------------------------------------------------------
    @staticmethod
    def _semicircle_quantile(s, c, r):
        """Quantile of the semicircle law on [c-r, c+r] by bisection on its CDF."""
        lo, hi = -np.ones_like(s), np.ones_like(s)
        for _ in range(60):
            u = 0.5 * (lo + hi)
            below = _semicircle_cdf(u) < s
            lo, hi = np.where(below, u, lo), np.where(below, hi, u)
        return c + r * 0.5 * (lo + hi)

    def _block_counts(self, n):
        raw = self.masses * n
        counts = np.floor(raw).astype(int)
        order = np.argsort(-(raw - counts), kind="stable")
        counts[order[: n - counts.sum()]] += 1  # largest remainders
        if np.any(counts == 0):
            raise ValueError(f"n = {n} is too small: every block needs at least one particle")
        return counts

    def sample_particles(self, n, rng=None):
        """Quantile placement ``x = F_k^{-1}((i - ½)/n_k)`` per block with ``n_k`` the
        largest-remainder rounding of ``m_k n``; ``rng`` unused (deterministic data). Returns
        ``(x sorted, b)``."""
        n = check_integer("n", n, minimum=2)
        parts, charges = [], []
        for count, c, r, sign in zip(self._block_counts(n), self.centres, self.radii, self.signs, strict=True):
            s = (np.arange(count) + 0.5) / count
            parts.append(self._semicircle_quantile(s, c, r))
            charges.append(np.full(count, sign))
        return np.concatenate(parts), np.concatenate(charges)

    def initial_density(self, grid: UniformGrid):
        """Cell averages of ρ^±° (sums of semicircle blocks), shape ``(2, n)``; exact cell integrals."""
        out = np.zeros((2, *tuple(grid.shape)))
        for c, r, sign, m in zip(self.centres, self.radii, self.signs, self.masses, strict=True):
            cdf = _semicircle_cdf((grid.edges[0] - c) / r)
            out[0 if sign > 0 else 1] += m * np.diff(cdf) / grid.spacing[0]
        return out

    # -- particles ------------------------------------------------------------------------------
    def _kinds(self):
        return _V_KINDS.index(self.V), _W_KINDS.index(self.W)

    def velocity(self, x, b, n_total=None):
        """Right-hand side of (4.1) for all particles ``x`` with charges ``b`` ∈ {-1, 0, 1} (ghosts:
        velocity 0, no influence); ``n_total`` defaults to ``len(x)``."""
        x = np.asarray(x, float)
        b = np.asarray(b, np.int64)
        n_total = x.size if n_total is None else n_total
        act = np.flatnonzero(b)
        out = np.zeros(x.size)
        vk, wk = self._kinds()
        out[act] = active_velocity(x[act], b[act], n_total, vk, wk, self.delta)
        return out

    def simulate_particles(self, state, t_end, times=None, rng=None, rtol=1e-8, atol=1e-11, *, controller=None,
                           forces="auto"):
        """Event-driven solution of Problem 4.1 (Def. 4.2) by
        :func:`meanfield.particles.annihilation_events1d.integrate_annihilation`: Dormand–Prince 5(4)
        under a :class:`solvers.timestepping.PIController` (``controller``, default the engine's PI
        controller at ``rtol``/``atol``; ``rtol`` below 100 machine epsilons is refused), forces by
        ``forces`` = "auto" (direct pair sum, or the 1-D fast multipole method from a few hundred active
        particles on), "direct" or "fmm"; at most :data:`solvers.timestepping.DEFAULT_MAX_STEPS` steps.

        ``state = (x, b)``: strictly increasing finite positions and charges ±1. Returns a Trajectory of
        all particles (ghosts included, as in μ_n^± (4.15)) with species "+"/"-" by initial charge;
        ``info["active"][k]`` are the charges b(t_k); ``events`` the annihilations
        ``(time, "annihilation", (i, j))`` and ``info["annihilations"]`` the same as
        ``(time, place, (i, j))``; ``info["stats"]`` the step and force-evaluation counts; ``info["blocks"]``
        the number L of alternating ± blocks of the initial state (Assumption 2.2 needs L bounded in n).
        """
        try:
            x0, b0 = state
        except (TypeError, ValueError):
            raise ValueError(f"state must be a pair (x, b) of 1-D arrays, got {type(state).__name__}") from None
        x = np.asarray(x0, dtype=float)
        b_raw = np.asarray(b0)
        if x.ndim != 1 or x.size < 2:
            raise ValueError(f"state x (positions) must be a 1-D array of length >= 2, got shape {x.shape}")
        if b_raw.shape != x.shape:
            raise ValueError(f"state b (charges) must have the shape of x {x.shape}, got {b_raw.shape}")
        bad = np.flatnonzero(~np.isfinite(x))
        if bad.size:
            raise ValueError(f"state x (positions) must be finite, got x[{bad[0]}] = {float(x[bad[0]])!r}")
        same = np.flatnonzero(np.diff(x) <= 0)
        if same.size:
            i = int(same[0])
            what = "coincide" if x[i] == x[i + 1] else "are not increasing"
            raise ValueError(f"state x (positions) must be strictly increasing (distinct, ordered: Problem 4.1); "
                             f"x[{i}] = {float(x[i])!r} and x[{i + 1}] = {float(x[i + 1])!r} {what}")
        if not np.all(np.isin(b_raw, (1, -1))):
            bad = int(np.flatnonzero(~np.isin(b_raw, (1, -1)))[0])
            raise ValueError(f"state b (charges) must be +1 or -1 (Problem 4.1), got b[{bad}] = {b_raw[bad].item()!r}")
        if controller is None:
            for name, val in (("rtol", rtol), ("atol", atol)):
                check_positive(name, val)
            controller = default_controller(rtol, atol)
        ts = check_times(t_end, times)
        b_init = b_raw.astype(np.int64)
        vk, wk = self._kinds()
        run = integrate_annihilation(x, b_init, ts, vk, wk, self.delta, controller=controller, forces=forces)
        n = x.size
        species = [np.where(b_init > 0, "+", "-") for _ in ts]
        events = [(t, kind, pair) for t, kind, pair, _ in run.events]
        info = {"active": run.charges, "charges": b_init,
                "blocks": int(1 + np.count_nonzero(b_init[1:] != b_init[:-1])),  # L of Assumption 2.2
                "annihilations": [(t, place, pair) for t, _, pair, place in run.events],
                "stats": {"accepted": run.accepted, "rejected": run.rejected,
                          "force_evaluations": run.force_evaluations},
                "solver": run.solver}
        return Trajectory(ts, run.positions, self.domain, [np.full(n, 1.0 / n) for _ in ts], species, events,
                          info=info)

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
        """Transforms of the cell-integrated kernels ``K(r) = ∫_{C_k} K'(x_j - y) dy = K(r + h/2) - K(r - h/2)``,
        r = x_j - x_k, for V and W (None for W ≡ 0)."""
        h = grid.spacing[0]
        n = grid.shape[0]

        def cell_kernel(kind):
            return lambda m: (potential(kind, m + h / 2, self.delta, self.V)
                              - potential(kind, m - h / 2, self.delta, self.V))

        v_hat = fft.free_space_kernel_hat(cell_kernel(self.V), (n,), (h,))
        w_hat = None if self.W == "none" else fft.free_space_kernel_hat(cell_kernel(self.W), (n,), (h,))
        return v_hat, w_hat

    def default_window(self, t_end):
        """Initial hull ± (3 max radius + √(4 t_end)): supports spread like R² ≤ R₀² + 4mt."""
        pad = 3 * float(self.radii.max()) + np.sqrt(4 * t_end)
        return float(np.min(self.centres - self.radii)) - pad, float(np.max(self.centres + self.radii)) + pad

    def solve_continuum(self, resolution=800, t_end=None, times=None, window=None, cfl=0.4):
        """Finite volumes for (1.3) on ``window`` (default :meth:`default_window`); returns the standard
        dataset (species "+", "-": ρ^± including annihilated mass) with the annihilated mass ``A(t)``
        and the active masses ``[κ]_±(R)`` (non-increasing) as extra variables.

        Time stepping: :func:`solvers.timestepping.integrate` with :class:`~solvers.timestepping.SSPRK3`
        under the CFL rule ``dt = cfl h / max|v|`` (a :class:`~solvers.timestepping.StepFunction`);
        scheme, declared order and step rule are recorded in the dataset's solver attributes. A ``cfl``
        that would need more than :data:`solvers.timestepping.DEFAULT_MAX_STEPS` steps at the initial
        speed is refused before any step."""
        if t_end is None:
            raise ValueError("t_end is required")
        n = check_integer("resolution", resolution, minimum=16)
        ts = check_times(t_end, times)
        check_positive("cfl", cfl)
        if cfl > 1:
            raise ValueError(f"cfl must lie in (0, 1] for positivity of the upwind scheme, got {cfl!r}")
        if window is None:
            window = self.default_window(ts[-1])
        lo, hi = float(window[0]), float(window[1])
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ValueError(f"window must be a finite interval (lo, hi) with lo < hi, got {window!r}")
        grid = UniformGrid(lo, hi, n, periodic=False)
        rho = self.initial_density(grid)
        v_hat, w_hat = self._toeplitz_hats(grid)
        cache = {}

        def velocities(r):
            if cache.get("r") is r:
                return cache["out"]
            kappa = r[0] - r[1]
            sig = np.stack([np.clip(kappa, 0, None), np.clip(-kappa, 0, None)])
            padded = np.zeros((2, 2 * n))
            padded[:, :n] = sig
            s_hat = fft.rfftn(padded, ndim=1)
            # v^± = -(V' * σ^± + W' * σ^∓) at centres: both species in one batched transform
            prod = s_hat * v_hat
            if w_hat is not None:
                prod = prod + s_hat[::-1] * w_hat
            centre = -fft.irfftn(prod, 2 * n, ndim=1)[:, :n]
            faces = np.zeros((2, n + 1))
            faces[:, 1:-1] = 0.5 * (centre[:, 1:] + centre[:, :-1])  # walls: zero flux
            cache["r"], cache["out"] = r, (sig, faces)
            return sig, faces

        def rhs(_t, r):
            sig, faces = velocities(r)
            return np.stack([divergence([upwind_flux(sig[k], faces[k], grid, 0)], grid) for k in range(2)])

        h = grid.spacing[0]

        def cfl_rule(_t, r):  # dt = cfl h / max|v| on the faces (inf when nothing moves: the driver clips)
            _, faces = velocities(r)
            return cfl * h / max(float(np.abs(faces).max()), 1e-300)

        step_budget(f"cfl={cfl!r}: the initial step cfl h / max|v|", cfl_rule(0.0, rho), ts[-1])
        stepper, rule = SSPRK3(), StepFunction(cfl_rule, f"cfl (dt = {cfl:g} h / max|v|)")
        out = integrate(stepper, ODEProblem(rhs), rho, ts[-1], ts, rule).states
        out = np.array(out)
        kappa = out[:, 0] - out[:, 1]
        active_plus = grid.integrate(np.clip(kappa, 0, None))
        active_minus = grid.integrate(np.clip(-kappa, 0, None))
        return continuum_dataset(ts, out, grid, species=["+", "-"], params=self.params,
                                 solver={"method": "upwind_fv_ssprk3", "resolution": n, "cfl": cfl,
                                         **stepper.describe(), **rule.describe()},
                                 annihilated_mass=(("time",), self.mass_plus - active_plus),
                                 active_plus=(("time",), active_plus), active_minus=(("time",), active_minus))
