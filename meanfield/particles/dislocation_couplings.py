"""The two propagation-of-chaos couplings of model 003 (Hudson–van Meurs–Peletier), run as particles.

Both couplings pair the ``n``-particle system with ``n`` *independent* copies of the mean-field
process, started at the same points and driven by the same noise; the mean distance of the pairs,
``(1/n) E Σ_i |X_i - X̄_i|(t)`` on the lifts to R² (both started at the same point), bounds the
distance of the laws and is what the paper's proofs estimate.

* **Lemma 4.2** (continuum, §4.1): (SDE_n), eq. (9), ``dX_i = F_i(X) dt + sqrt(2/β) dB_i``, and the
  McKean–Vlasov process (64), ``dX̄_i = F(X̄_i, b_i; ρ(t)) dt + sqrt(2/β) dB_i`` with the *same*
  Brownian motions, where ``F(x, b; ρ) = -b ∇V_δ * (ρ⁺ - ρ⁻)(x)`` is the force of the (MF) solution
  ``ρ(t)`` (Lemma 4.1: the ``X̄_i`` are independent with law ``ρ^±(t)/|ρ^±|``).
  :func:`couple_sde_mean_field`: both by Euler–Maruyama through
  :func:`meanfield.solvers.timestepping.integrate` on one state of three blocks, ``X`` (wrapped onto the
  torus after each step, as the plain run keeps it), the lift of ``X̄`` and the difference of the
  lifts ``X - X̄``, with one Gaussian draw of shape ``(n, 2)`` per step added to the first two (the
  difference has no noise: ``d(X - X̄) = (F(X) - F̄(X̄)) dt``, so it is free of the noise's
  round-off; the force ``F̄`` is periodic, so it is evaluated at the lift). Step rule and random
  stream are those of
  ``Dislocations2D.simulate_particles`` (scheme "euler_maruyama"), so the ``X`` block is that run bit for bit.
  The mean field ``ρ(t)`` comes from ``Dislocations2D.solve_continuum`` saved at every step's start
  time (no interpolation in time); its force is evaluated at the particles exactly, as the
  trigonometric polynomial the spectral solution is (the modes ``|k_j| ≤ K`` with ``K`` the smaller
  of the solver's ``M/2 - 1`` and, for the Gaussian kernel, the kernel's own cut-off).
  Bound (Lemma 4.2): ``(2 C_V t/δ)(n^{-1/2} + κ) exp(2 C_V t/δ²)`` (:func:`lemma42_bound`).

* **Lemma 5.2** (lattice, §5.1): (RW_n^ε), eq. (74), and the independent walkers (75) with the
  MF^ε rates (10), both written as random time changes of the same ``4n`` unit-rate Poisson
  processes ``N^h`` (Volkonskii–Helms–Kurtz). :func:`couple_walkers_mean_field`, engine
  :mod:`meanfield.particles.coupled_kmc`. The MF^ε field ``∇V_δ * (ρ_ε⁺ - ρ_ε⁻)`` is taken at the
  midpoint of each time cell of length ``≤ cell_dt`` and held on the cell: the auxiliary walkers
  are then exact for that piecewise-constant field, whose clocks differ from the exact MF^ε clocks
  by ``O(cell_dt²)`` (midpoint rule). The walkers ``X`` are (RW_n^ε) exactly.
  Bound: the paper gives ``(C' t/δ)(n^{-1/2} + κ) e^{C t/δ²}`` with universal ``C, C'``;
  following its proof ((79)–(82): ``|e^u - e^v| ≤ e^A |u - v|`` with ``A = C_V βε/(2δ)``, four
  channels per walker, the zero-mean function ``g`` of (70)) the constants are ``C' = 4 e^A C_V`` and
  ``C = 4 e^A C_V`` (:func:`lemma52_bound`; this explicit form is ours).

``C_V`` here is the constant the two proofs use, ``max(δ ‖∇V_δ‖_∞, δ² ‖d²V_δ‖_∞)`` (Assumption 1
with k = 1, 2; ``‖d²V_δ‖`` the largest operator norm of the Hessian), computed by
:func:`kernel_constant` on a fine grid. κ is the mass discrepancy (17): 0 for ``n/2`` particles of
each sign and the model's data (mass ½ per species).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from meanfield.measures import as_generator
from meanfield.models.base import check_integer, check_positive, check_times
from meanfield.particles import coupled_kmc
from meanfield.solvers import fft
from meanfield.solvers.timestepping import EulerMaruyama, ODEProblem, SDEProblem, Stepper, integrate

__all__ = [
    "CoupledPaths",
    "couple_sde_mean_field",
    "couple_walkers_mean_field",
    "kernel_constant",
    "lemma42_bound",
    "lemma52_bound",
    "mean_field_lattice_cells",
    "sample_fixed_signs",
]


@dataclass
class CoupledPaths:
    """A coupled pair ``(X, X̄)`` at output times.

    ``x``, ``x_bar``: lists of ``(n, 2)`` lifts to R² (not reduced mod 1) at ``times``, both started
    at the same points; ``signs``: ``b_i``; ``info``: run details.
    """

    times: np.ndarray
    x: list
    x_bar: list
    signs: np.ndarray
    info: dict = field(default_factory=dict)

    def distances(self, k=-1):
        """``|X_i - X̄_i|`` at output number ``k`` (Euclidean distance of the lifts), shape ``(n,)``."""
        return np.hypot(*(np.asarray(self.x[k]) - np.asarray(self.x_bar[k])).T)

    def mean_distance(self, k=-1):
        """``(1/n) Σ_i |X_i - X̄_i|`` at output number ``k``: the quantity of Lemmas 4.2 and 5.2."""
        return float(self.distances(k).mean())


# -- constants and bounds ----------------------------------------------------------------------------
def charged_state_on_torus(state):
    """``(positions wrapped into [0, 1)², charges)`` from a state ``(positions (n, 2), charges ±1)``."""
    x0, b0 = state
    x = np.mod(np.array(x0, dtype=float), 1.0)
    b = np.asarray(b0, dtype=float)
    if x.ndim != 2 or x.shape[1] != 2 or b.shape != (x.shape[0],) or not np.all(np.isin(b, (-1, 1))):
        raise ValueError("state must be (positions (n, 2), charges ±1 of shape (n,))")
    if x.shape[0] < 1:
        raise ValueError("state must hold at least one particle, got an empty state")
    if not np.all(np.isfinite(x)):
        raise ValueError("positions must be finite")
    return x, b


def kernel_constant(model, resolution=None):
    """``C_V = max(δ‖∇V_δ‖_∞, δ²‖d²V_δ‖_∞)`` for ``model``'s kernel (see the module docstring).

    Evaluated on a ``resolution²`` grid of the torus (default: 512 for the Gaussian kernel, whose
    series is negligible beyond ``|k| ≈ 6/δ``; for the bump the fine grid of its truncated series).
    Returns ``(C_V, δ‖∇V_δ‖_∞, δ²‖d²V_δ‖_∞)``. The maxima are taken over the grid points, which
    under-estimates a maximum between points by ``O(h²)`` relative (h ≤ δ/50 here)."""
    delta = model.delta
    if resolution is None:
        resolution = model.fine_grid_size() if model.tabulated else max(512, int(64 / delta))
    m = check_integer("resolution", resolution, minimum=16)
    kx = np.fft.fftfreq(m, 1.0 / m)[:, None]
    ky = np.fft.rfftfreq(m, 1.0 / m)[None, :]
    v = model.potential_hat(kx, ky)
    if model.tabulated:
        v = v * (kx**2 + ky**2 < model.kernel_radius**2)
    scale = m * m

    def grid(coef):
        return np.fft.irfftn(coef, (m, m), axes=(0, 1)) * scale

    g1, g2 = grid(2j * np.pi * kx * v), grid(2j * np.pi * ky * v)
    h11, h22, h12 = (grid(-4 * np.pi**2 * p * v) for p in (kx * kx, ky * ky, kx * ky))
    grad = float(np.sqrt(g1**2 + g2**2).max())
    hess = float((np.abs(0.5 * (h11 + h22)) + np.sqrt(0.25 * (h11 - h22) ** 2 + h12**2)).max())
    return max(delta * grad, delta**2 * hess), delta * grad, delta**2 * hess


def lemma42_bound(c_v, delta, t, n, kappa=0.0):
    """Lemma 4.2: ``(2 C_V t/δ)(n^{-1/2} + κ) exp(2 C_V t/δ²)``."""
    return 2 * c_v * t / delta * (1 / np.sqrt(n) + kappa) * np.exp(2 * c_v * t / delta**2)


def lemma52_bound(c_v, delta, beta, eps, t, n, kappa=0.0):
    """Lemma 5.2 with the constants of its proof (module docstring):
    ``(4 e^A C_V t/δ)(n^{-1/2} + κ) exp(4 e^A C_V t/δ²)``, ``A = C_V βε/(2δ)``."""
    amp = np.exp(c_v * beta * eps / (2 * delta))
    return 4 * amp * c_v * t / delta * (1 / np.sqrt(n) + kappa) * np.exp(4 * amp * c_v * t / delta**2)


# -- initial data --------------------------------------------------------------------------------------
def sample_fixed_signs(model, n, n_plus=None, rng=None):
    """``n`` particles on T² with fixed signs: ``n_plus`` (default ``n // 2``) positive ones first, the
    positions independent with laws ``ρ°^±/|ρ°^±|`` (the setting of Theorem 1.5; κ of (17) is
    ``|½ - n_plus/n|`` for the model's data). Rejection sampling from the uniform law with the bound
    ``f^± ≤ ½(1 + |amplitude|)``. Returns ``(x (n, 2), b (n,))``."""
    from meanfield.models.dislocations import preset_density

    n = check_integer("n", n, minimum=1)
    n_plus = n // 2 if n_plus is None else check_integer("n_plus", n_plus, minimum=0)
    if n_plus > n:
        raise ValueError(f"n_plus must lie in [0, n={n}], got {n_plus}")
    g = as_generator(rng)
    bound = 0.5 * (1 + abs(model.amplitude))
    out = []
    for species, count in ((0, n_plus), (1, n - n_plus)):
        got = np.empty((0, 2))
        for _ in range(1000):  # acceptance ≥ 1/(1 + |amplitude|) > 2/3: never exhausted in practice
            if got.shape[0] >= count:
                break
            cand = g.random((2 * count + 8, 2))
            keep = g.random(cand.shape[0]) * bound < preset_density(cand[:, 0], cand[:, 1], model.amplitude)[species]
            got = np.concatenate([got, cand[keep]])
        out.append(got[:count])
    return np.concatenate(out), np.where(np.arange(n) < n_plus, 1, -1)


# -- Lemma 4.2: SDE_n and the McKean–Vlasov copies --------------------------------------------------
class _MeanFieldForce:
    """``G(x, t) = ∇V_δ * (ρ⁺ - ρ⁻)(t)(x)`` off the grid from spectral MF states at given times."""

    def __init__(self, model, densities, times, kmax):
        m = densities.shape[-1]
        self.k = np.arange(-kmax, kmax + 1)
        k1, k2 = np.meshgrid(self.k, self.k, indexing="ij")
        vhat = model.potential_hat(k1, k2)
        self.times = np.asarray(times, dtype=float)
        sig = np.fft.fft2(densities[:, 0] - densities[:, 1]) / (m * m)  # (T, m, m), exact coefficients
        sig = sig[:, k1 % m, k2 % m]
        self.coef = np.stack([2j * np.pi * k1 * vhat * sig, 2j * np.pi * k2 * vhat * sig], 1)  # (T, 2, K, K)

    def __call__(self, x, t):
        j = int(np.argmin(np.abs(self.times - t)))
        if abs(self.times[j] - t) > 1e-9 * max(1.0, abs(t)):
            raise RuntimeError(f"no mean-field state saved at t={t!r} (nearest {self.times[j]!r})")
        ex = np.exp(2j * np.pi * np.outer(x[:, 0], self.k))
        ey = np.exp(2j * np.pi * np.outer(x[:, 1], self.k))
        return _trig_sum(ex, ey, self.coef[j])


@njit(cache=True, nogil=True)
def _trig_sum(ex, ey, coef):
    """``Re Σ_{k1, k2} ex[i, k1] ey[i, k2] coef[m, k1, k2]`` for each point i and component m (no BLAS:
    complex matrix products measured tens of times slower on a loaded 2-core machine)."""
    n, kk = ex.shape
    out = np.empty((n, 2))
    for i in range(n):
        for m in range(2):
            acc = 0.0
            for k1 in range(kk):
                row = 0.0 + 0.0j
                for k2 in range(kk):
                    row += coef[m, k1, k2] * ey[i, k2]
                acc += (ex[i, k1] * row).real
            out[i, m] = acc
    return out


_FORCE_CACHE: dict = {}


def _mean_field_force(model, m, starts, kmax, t_end, initial=None):
    """The (MF) force at the step start times ``starts`` (:class:`_MeanFieldForce`), from one
    ``solve_continuum`` run; the last few are kept, keyed by the model's parameters, the grid and the
    times, so replicas with the same step share one mean-field solve (user ``initial`` data: not cached)."""
    if initial is not None:
        mf = model.solve_continuum(t_end, times=starts, initial=initial, resolution=m)
        return _MeanFieldForce(model, mf.density.values, starts, kmax)
    key = (_params_key(model), m, kmax, starts.tobytes())
    if key not in _FORCE_CACHE:
        mf = model.solve_continuum(t_end, times=starts, resolution=m)  # integrates up to the last start only
        while len(_FORCE_CACHE) >= 4:
            _FORCE_CACHE.pop(next(iter(_FORCE_CACHE)))
        _FORCE_CACHE[key] = _MeanFieldForce(model, mf.density.values, starts, kmax)
    return _FORCE_CACHE[key]


class _RecordStarts(Stepper):
    """A stepper that does nothing but record the start time of every step the driver takes."""

    order = 1
    name = "record_step_starts"
    problem = ODEProblem

    def __init__(self):
        self.starts = []

    def step(self, problem, t, y, h):
        self.starts.append(t)
        return y


def _step_starts(ts, dt):
    """The start times of the steps :func:`meanfield.solvers.timestepping.integrate` takes with the fixed step
    ``dt`` to the output times ``ts`` (asked of the driver itself, so the same floats)."""
    if ts[-1] <= 0:  # outputs at t = 0 only: no step
        return np.array([])
    recorder = _RecordStarts()
    integrate(recorder, ODEProblem(lambda t, y: y), np.zeros(1), float(ts[-1]), ts, dt)
    return np.array(recorder.starts)


def couple_sde_mean_field(model, state, t_end, times=None, rng=None, dt=None, resolution=64, initial=None):
    """Lemma 4.2's coupling: (SDE_n) and the McKean–Vlasov process (64) with the same Brownian motions.

    Parameters
    ----------
    model : Dislocations2D
    state : ``(x (n, 2), b (n,))``
        Initial positions (shared by ``X`` and ``X̄``) and signs ±1.
    t_end, times : output times as in ``simulate_particles``.
    rng : Generator or seed
        The Brownian increments (one standard normal draw of shape ``(n, 2)`` per step).
    dt : float, optional
        Euler–Maruyama step; default the rule of ``simulate_particles``.
    resolution : int
        Grid of the spectral (MF) solution (``solve_continuum``).
    initial : dict, optional
        The (MF) initial data (``solve_continuum``'s ``initial=``; None: the preset). The state
        should be drawn from them (e.g. ``model.sample_particles(n, initial=initial)``).

    Returns
    -------
    CoupledPaths
        ``x`` and ``x_bar`` as lifts; ``info["x_wrapped"]`` the ``X`` positions in ``[0, 1)²`` exactly as
        ``simulate_particles(state, t_end, times, rng=rng, dt=dt)`` returns them.
    """
    x, b = charged_state_on_torus(state)
    ts = check_times(t_end, times)
    m = check_integer("resolution", resolution, minimum=8)
    if dt is not None:
        dt = check_positive("dt", dt)
        if ts[-1] / dt > 10**7:
            raise ValueError(f"dt={dt!r} would need {ts[-1] / dt:.4g} steps to reach t={ts[-1]}, more than 10^7")
    g = as_generator(rng)
    modes = model.force_data()
    if dt is None:  # the rule of simulate_particles, computed the same way
        fmax = float(np.abs(model.particle_force(x, b, modes)).max())
        dt = min(model.delta**2 * model.beta / 20, model.delta / (10 * max(fmax, 1e-12)))
    starts = _step_starts(ts, dt)
    kmax = m // 2 - 1
    if not model.tabulated:
        kmax = min(kmax, int(max(np.abs(modes[0]).max(), np.abs(modes[1]).max())))
    # no step at all (every output time is 0): the copies sit at the start, no mean field is needed
    force_bar = _mean_field_force(model, m, starts, kmax, float(ts[-1]), initial) if starts.size else None
    n = x.shape[0]

    def drift(t, y):  # blocks: X (wrapped), the lift of X̄, the difference of the lifts X - X̄
        fx = model.particle_force(y[0], b, modes)
        fb = -b[:, None] * force_bar(y[1], t)
        return np.stack([fx, fb, fx - fb])

    def wrap(y):
        y[0] = np.mod(y[0], 1.0)  # X on the torus, as simulate_particles keeps it; X̄ stays a lift
        return y

    noise = np.sqrt(2 / model.beta)
    problem = SDEProblem(drift, np.array([noise, noise, 0.0])[:, None, None], noise_shape=(n, 2), post_step=wrap)
    y0 = np.stack([x, x.copy(), np.zeros_like(x)])
    stepper = EulerMaruyama()
    sol = integrate(stepper, problem, y0, max(float(t_end), float(ts[-1])), ts, dt, rng=g)
    return CoupledPaths(ts, [s[1] + s[2] for s in sol.states], [s[1].copy() for s in sol.states], b.astype(int),
                        info={"dt": dt, "steps": sol.steps, **stepper.describe(), "mf_resolution": m,
                              "mf_modes": 2 * kmax + 1, "x_wrapped": [s[0].copy() for s in sol.states]})


# -- Lemma 5.2: RW_n^ε and the independent MF^ε walkers ----------------------------------------------
_LATTICE_CACHE: dict = {}
_LATTICE_CACHE_SIZE = 8


def mean_field_lattice_cells(model, eps, t_end, cell_dt=None, initial=None):
    """The field ``G = ∇V_δ * (ρ_ε⁺ - ρ_ε⁻)`` of the MF^ε solution (lattice sum, eq. (10)) at the
    midpoints of ``K = ceil(t_end/cell_dt)`` equal cells of ``[0, t_end]``; returns
    ``(fields (K, 2, N, N), edges (K + 1,))``. ``cell_dt`` defaults to ``min(t_end, 0.1)/40``;
    ``initial``: the MF^ε initial data (``Dislocations2D.solve_lattice``; None: the preset).

    The field depends only on the model's parameters, ``1/ε``, ``t_end`` and ``cell_dt``, not on the
    walkers: for the preset data it is computed once per process and these settings (the last
    ``_LATTICE_CACHE_SIZE`` are kept) and the same read-only arrays are returned to every replica and
    every study task (Lemma 5.2's studies run hundreds of replicas on a few fields); user ``initial``
    data are not cached."""
    t_end = check_positive("t_end", t_end)
    cell_dt = min(t_end, 0.1) / 40 if cell_dt is None else check_positive("cell_dt", cell_dt)
    cells = int(np.ceil(t_end / cell_dt * (1 - 1e-12)))
    if cells > 10**5:
        raise ValueError(f"cell_dt={cell_dt!r} gives {cells} cells on [0, {t_end}], more than 10^5")
    sites = model._sites(eps)
    key = (type(model).__qualname__, _params_key(model), sites, t_end, cell_dt) if initial is None else None
    if key is not None and key in _LATTICE_CACHE:
        return _LATTICE_CACHE[key]
    edges = t_end * np.arange(cells + 1) / cells
    mids = 0.5 * (edges[:-1] + edges[1:])
    dens = model.solve_lattice(eps, t_end, times=mids, initial=initial).density.values  # (K, 2, N, N)
    ghat = model.grad_potential_hat(sites)
    sig = fft.rfftn(dens[:, 0] - dens[:, 1], ndim=2)
    fields = np.stack([fft.irfftn(gh * sig, (sites, sites), ndim=2) for gh in ghat], 1)
    if key is None:
        return fields, edges
    for array in (fields, edges):
        array.flags.writeable = False  # shared by every caller: nobody may change it
    while len(_LATTICE_CACHE) >= _LATTICE_CACHE_SIZE:
        _LATTICE_CACHE.pop(next(iter(_LATTICE_CACHE)))
    _LATTICE_CACHE[key] = (fields, edges)
    return fields, edges


def _params_key(model):
    """A hashable form of ``model.params`` (a cache key): the items sorted by name, arrays as bytes."""
    out = []
    for name, value in sorted(model.params.items()):
        if isinstance(value, np.ndarray):
            value = (value.dtype.str, value.shape, value.tobytes())
        elif isinstance(value, (list, dict)):
            value = repr(value)
        out.append((name, value))
    return tuple(out)


def couple_walkers_mean_field(model, states, eps, t_end, times=None, rng=None, cell_dt=None, initial=None):
    """Lemma 5.2's coupling: (RW_n^ε) and ``n`` independent walkers with the MF^ε rates (10), both
    random time changes of the same unit-rate Poisson processes (eqs. (74)–(75)); one replica per
    state in ``states`` (each ``(positions (n, 2) on εZ², b (n,))``; positions shared by both).

    ``cell_dt``: length of the time cells on which the MF^ε field is held at its midpoint value
    (:func:`mean_field_lattice_cells`). One generator for all replicas, in order.

    Returns a list of :class:`CoupledPaths` (lifts in εZ²) with ``info``: ``jumps``, ``jumps_bar``,
    ``tau``/``tau_bar`` (clocks ``τ^h``, ``τ̄^h`` at the output times, shape ``(T, 4n)``),
    ``count``/``count_bar`` (``N^h(τ^h)``, ``N^h(τ̄^h)``), ``eps``, ``cells``."""
    if eps is None:
        raise ValueError("eps (the lattice spacing, 1/eps an integer) is required")
    sites = model._sites(eps)
    ts = check_times(t_end, times)
    parsed = [model._lattice_state(s, sites) for s in states]
    if not parsed:
        raise ValueError("states must hold at least one replica")
    if len({p[1].size for p in parsed}) != 1:
        raise ValueError("all replicas must have the same number of walkers")
    idx = np.stack([p[0] for p in parsed])
    b = np.stack([p[1] for p in parsed])
    fields, edges = mean_field_lattice_cells(model, eps, float(ts[-1]), cell_dt, initial)
    out = coupled_kmc.run_coupled(idx[..., 0], idx[..., 1], b, model.lattice_force_tables(eps), model.beta, fields,
                                  edges, ts, as_generator(rng))
    h = 1.0 / sites
    runs = []
    for r in range(len(parsed)):
        x = [np.stack([out["a"][r, k], out["c"][r, k]], 1) * h for k in range(ts.size)]
        xb = [np.stack([out["a_bar"][r, k], out["c_bar"][r, k]], 1) * h for k in range(ts.size)]
        runs.append(CoupledPaths(ts, x, xb, b[r].astype(int), info={
            "eps": h, "cells": fields.shape[0], "jumps": int(out["stats"][r, 0]), "jumps_bar": int(out["stats"][r, 1]),
            "tau": out["tau"][r], "tau_bar": out["tau_bar"][r], "count": out["count"][r],
            "count_bar": out["count_bar"][r]}))
    return runs
