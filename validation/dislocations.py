"""Validation of model 003 (Hudson–van Meurs–Peletier, screw dislocations on T²), as studies.

Theory page: ``docs/theory/003-dislocations.md``. Every check is a :class:`meanfield.study.Study`
(:func:`studies`) and every claim is computed from the studies' tables (:func:`claims`) with
:meth:`Claim.within` / :meth:`Claim.at_most` / :meth:`Claim.at_least`, its band fixed before the run
(the source column says whether the paper states the claim or it is ours). Checked:

* Theorem 1.3, ``‖f_ε − f‖_{L²(ν_ε)} = O(ε²)`` between the lattice mean field (MF^ε, eq. (11)) and
  the continuum mean field (MF, eq. (12)), ε = 1/16 … 1/128 (quick) or 1/256 (full); mass
  conservation and positivity of MF^ε (study ``mfeps``, with Lemma 3.1 below);
* Theorem 1.5: (SDE_n) empirical measures → MF in the dual bounded-Lipschitz norm with the paper's
  normalisation ``‖φ‖∞ + ‖∇φ‖∞ ≤ 1`` ("sum"), per species summed, n = 50 … 400 (quick) or 50 … 1600
  (full), seeds as replicas (study ``sde_mf``: pairing SDE vs the MF solution averaged onto 16² cells);
* Theorem 1.6: (RW_n^ε) empirical measures (kinetic Monte Carlo) → MF^ε in the same norm, fixed signs
  n/2 each (κ = 0), ε = 1/16 (study ``rw_mfeps``: :class:`~meanfield.pairings.LatticeVsLattice`);
* Theorem 1.2 for one and two particles, where the laws are computable: one walker against Brownian
  motion (exact, mode by mode) and a ± pair through its separation (both reductions ours), both
  ``O(ε²)`` (study ``laws``); the KMC against these laws: Skellam displacement of one walker
  (chi-square), the pair's separation against the lattice law (log-likelihood mean within 4
  standard errors) (studies ``kmc_walker``, ``kmc_pair``);
* Lemma 3.1: the top eigenvalue of the symmetric part of ``A_ε[ρ_ε]`` is independent of ε and below
  an explicit derived bound (study ``mfeps``);
* Lemma 4.2 (study ``coupling_sde``, pairing :class:`~meanfield.pairings.CoupledSDEMeanField`):
  (SDE_n) coupled to n McKean–Vlasov copies with the same Brownian increments: the pathwise
  distance ``(1/n) E Σ|X_i − X̄_i|(t)`` decays like n^{-1/2} and stays below the lemma's bound;
* Lemma 5.2 (studies ``coupling_rw``, ``coupling_rw_eps``, pairing
  :class:`~meanfield.pairings.CoupledWalkersMeanField`): (RW_n^ε) coupled to n MF^ε walkers through
  the same unit Poisson processes: the distance decays like n^{-1/2}, does not change with ε, stays
  below the bound with the proof's constants, and Lemma 5.1(3) ``E|N(τ) − N(τ̄)| = E|τ − τ̄|`` holds;
* Corollary 1.8 measured directly (V9; studies ``direct``, ``direct_limit``): (RW_n^ε) against the
  continuum MF (not through MF^ε) over a grid of (ε, n): least squares ``a·ε + b·n^{-1/2}``, the
  ``n = ∞`` limit (MF^ε masses) ``c_□ε``, the fitted rates in n (per ε, after removing the n = ∞
  term) and in ε (n = ∞), and the reference checked against a coarser one; with the i.i.d.
  sampling floor (n walkers drawn from MF^ε);
* the paper's compactly supported bump mollifier: MF^ε → MF at O(ε²) (studies ``bump``,
  ``bump_kernel``) and, full mode, Lemma 4.2's bound with the bump kernel (``bump_coupling``).

Runs that are computations rather than particle-vs-measure pairs (the L² errors, the laws, the
stability constants, the exact-transport BL distances of V9) are studies with the pairing
:class:`~meanfield.validation.computations.Computation` (``fn(model, rng, eps=, size=, t_end=) ->
{name: number}``, the spacing and the count swept as ``pairing.eps`` / ``pairing.size``, recorded by the
observer :class:`~meanfield.validation.computations.Recorded` under the metric ``measured``); their
continuum references are computed once per process (:func:`_cached`).
``run(..., workers=k | executor=client, store=folder)`` passes execution to the studies: the tables,
and so the report, do not depend on it; a run killed while writing into ``store`` resumes.
"""

from __future__ import annotations

import functools
import pathlib
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from meanfield.measures import Domain, EmpiricalMeasure, GridDensity
from meanfield.metrics import bounded_lipschitz_bracket
from meanfield.models.dislocations import Dislocations2D
from meanfield.observers import Observer
from meanfield.pairings import (
    CoupledSDEMeanField,
    CoupledWalkersMeanField,
    LatticeVsLattice,
    PathwiseDistance,
    SDEVsContinuum,
)
from meanfield.particles import dislocation_couplings as dc
from meanfield.rates import fit_rate
from meanfield.solvers.grids import UniformGrid
from meanfield.study import Study
from meanfield.validation.claims import Claim
from meanfield.validation.computations import Computation, Recorded
from meanfield.validation.rate_fits import floored_fit, summed_floors
from meanfield.validation.runner import paper_runner
from meanfield.validation.sizes import chosen_sizes

T_END = 0.05
MODEL = {"delta": 0.1, "beta": 1.0, "amplitude": 0.4}  # the main model of the checks
LAW_MODEL = {"delta": 0.25, "beta": 4.0}  # Theorem 1.2 for one and two particles
PAIR_KMC_MODEL = {"delta": 0.25, "beta": 16.0, "c_prime": 2.0}
DIRECT_MODEL = {"delta": 0.125, "beta": 1.0, "amplitude": 0.4}
BUMP_MODEL = {"delta": 0.25, "beta": 1.0, "amplitude": 0.4, "mollifier": "bump"}
C_SQUARE = (np.sqrt(2.0) + np.log(1.0 + np.sqrt(2.0))) / 6.0  # W1(ν_ε, ν) = C_SQUARE·ε: mean distance to the site
EPS_RW, EPS_COUPLING, N_UNIFORM, KMC_BINS = 1 / 16, 1 / 16, 64, 8

#: Sizes per mode. ``mf_reference``: spectral MF grid (128² resolves |k| ≤ 42, where φ̂_δ < 1e-15);
#: ``sde_*``/``rw_*``: Theorems 1.5/1.6; ``law_*``/``kmc_*``: Theorem 1.2; ``coupling_*``: Lemma 4.2
#: (``coupling_sde_*``) and 5.2 (``coupling_rw_*``, ``uniform_eps`` at n = 64); ``direct_*``: V9 (ε, n,
#: replicas, reference grids fine/coarse); ``bump_*``: the bump mollifier.
SIZES = {
    "quick": {"mf_reference": 128, "mfeps_eps": [1 / 16, 1 / 32, 1 / 64, 1 / 128],
              "sde_n": [50, 100, 200, 400], "sde_reps": 4, "rw_n": [50, 100, 200, 400], "rw_reps": 4,
              "law_eps": [1 / 16, 1 / 32, 1 / 64], "law_reference": 128, "kmc_walkers": 2000, "kmc_pairs": 8000,
              "coupling_sde_n": [16, 64, 256], "coupling_sde_reps": 6, "coupling_rw_n": [16, 64, 256],
              "coupling_rw_reps": 32, "uniform_eps": [1 / 10, 1 / 20, 1 / 40], "direct_eps": [1 / 8, 1 / 16],
              "direct_n": [64, 512], "direct_reps": 2, "direct_reference": (64, 32), "direct_iid": True,
              "bump_eps": [1 / 32, 1 / 64, 1 / 128], "bump_reference": 256, "bump_sde_n": []},
    "full": {"mf_reference": 512, "mfeps_eps": [1 / 16, 1 / 32, 1 / 64, 1 / 128, 1 / 256],
             "sde_n": [50, 100, 200, 400, 800, 1600], "sde_reps": 10, "rw_n": [32, 64, 128, 256, 512, 1024, 2048],
             "rw_reps": 10, "law_eps": [1 / 16, 1 / 32, 1 / 64, 1 / 128], "law_reference": 256,
             "kmc_walkers": 20000, "kmc_pairs": 40000, "coupling_sde_n": [16, 64, 256, 1024, 4096],
             "coupling_sde_reps": 8, "coupling_rw_n": [16, 64, 256, 1024], "coupling_rw_reps": 64,
             "uniform_eps": [1 / 10, 1 / 20, 1 / 40, 1 / 80], "direct_eps": [1 / 8, 1 / 12, 1 / 16, 1 / 24],
             "direct_n": [64, 256, 1024, 4096], "direct_reps": 4, "direct_reference": (96, 48), "direct_iid": True,
             "bump_eps": [1 / 32, 1 / 64, 1 / 128, 1 / 256], "bump_reference": 512, "bump_sde_n": [64, 256]},
    "tiny": {"mf_reference": 64, "mfeps_eps": [1 / 16, 1 / 32], "sde_n": [10, 20], "sde_reps": 2, "rw_n": [10, 20],
             "rw_reps": 2, "law_eps": [1 / 16, 1 / 32], "law_reference": 64, "kmc_walkers": 200, "kmc_pairs": 200,
             "coupling_sde_n": [8, 16], "coupling_sde_reps": 2, "coupling_rw_n": [16, 64], "coupling_rw_reps": 8,
             "uniform_eps": [1 / 10, 1 / 20], "direct_eps": [1 / 8, 1 / 16], "direct_n": [16, 32], "direct_reps": 1,
             "direct_reference": (32, 16), "direct_iid": True, "bump_eps": [1 / 32, 1 / 64], "bump_reference": 128,
             "bump_sde_n": [8, 16]},  # tests only (MEANFIELD_VALIDATION_SIZE=tiny): the claims need not pass
}

# Bands, fixed before the run (the claim texts say where each comes from).
RATE_L2 = (1.9, 2.1)  # O(ε²): Thm 1.3 / Thm 1.2
RATE_HALF = (-0.75, -0.3)  # n^{-1/2} up to a logarithm: Thms 1.5, 1.6
COUPLING_SDE_BAND = {"quick": (-0.65, -0.35), "full": (-0.6, -0.4)}  # Lemma 4.2: −1/2
COUPLING_RW_BAND = {"quick": (-0.75, -0.25), "full": (-0.65, -0.35)}  # Lemma 5.2: −1/2
UNIFORM_EPS_BAND = {"quick": (-0.3, 0.3), "full": (-0.2, 0.2)}  # Lemma 5.2: uniform in ε
PAPER = "003"
TITLE = ("Hudson-van Meurs-Peletier: screw dislocations, MF^eps -> MF, SDE -> MF, RW -> MF^eps, RW vs SDE, the "
         "couplings of Lemmas 4.2 and 5.2, RW -> MF directly, the bump mollifier")
DIRECT_N_BAND = (-0.75, -0.3)  # V9: the n term of Cor. 1.8 / Thm 1.6, n^{-1/2} up to a log (upper end used)


def sizes(quick: bool) -> dict:
    return chosen_sizes(SIZES, quick)


# --- continuum references, once per process ----------------------------------------------------------------
@functools.lru_cache(maxsize=16)
def _cached(kind, params, t_end, m):
    """Continuum references, once per process: ``kind`` "mf" (the spectral MF density at ``t_end``,
    ``(2, m, m)``), "pair" (the continuum pair law of a ± pair, the 128²/256² reference of Thm 1.2),
    "atoms" (the MF at ``t_end`` as atoms at the grid points, per species)."""
    model = Dislocations2D(**dict(params))
    if kind == "mf":
        return model.solve_continuum(t_end, resolution=m).density.values[-1]
    if kind == "pair":
        return model.pair_law_continuum(-1, t_end, resolution=m)[-1]
    f = _cached("mf", params, t_end, m)
    s = np.arange(m) / m
    pts = np.stack(np.meshgrid(s, s, indexing="ij"), -1).reshape(-1, 2)
    return {label: EmpiricalMeasure(pts, f[k].ravel() / m**2, Domain.torus(2, 1.0)) for k, label in enumerate("+-")}


def _key(model):
    return tuple(sorted(model.params.items()))


def _l2_lattice(f_eps, ref, eps):
    """``‖f_ε − f‖_{L²(ν_ε)}``: the MF reference sampled at the sites (its grid is a multiple of 1/ε)."""
    n, m = round(1 / eps), ref.shape[-1]
    return float(np.sqrt(eps**2 * np.sum((f_eps - ref[:, :: m // n, :: m // n]) ** 2)))


# --- the computations (module level: pickled to worker processes) ----------------------------------------------
def mfeps_vs_mf(model, rng, *, eps, size, t_end):
    """Thm 1.3 at spacing ``eps`` against the MF on ``size``²; mass drift and minimum of MF^ε; Lemma 3.1's
    top eigenvalue for ρ_ε = MF^ε(t) and for a point mass, with the derived bound."""
    f = model.solve_lattice(eps, t_end, times=[0.0, t_end]).density.values
    mass = f.sum(axis=(2, 3)) * eps**2
    n = round(1 / eps)
    point = np.zeros((2, n, n))
    point[0, 0, 0] = n * n  # all mass on one + site: a concentrated ρ_ε ∈ P(Λ_{ε,±})
    lam_t, bound_t = model.stability_constant(eps, f[-1])
    lam_p, bound_p = model.stability_constant(eps, point)
    return {"l2_error": _l2_lattice(f[-1], _cached("mf", _key(model), t_end, size), eps),
            "mass_drift": float(np.abs(mass[-1] - mass[0]).max()), "min_density": float(f.min()),
            "lambda_mfeps_t": lam_t, "bound_mfeps_t": bound_t, "lambda_point_mass": lam_p, "bound_point_mass": bound_p}


def law_distances(model, rng, *, eps, size, t_end):
    """Thm 1.2: one walker vs Brownian motion (exact, mode by mode) and the ± pair's separation law
    (lattice master equation vs the continuum Fokker–Planck on ``size``²), at spacing ``eps``."""
    ref = _cached("pair", _key(model), t_end, size)
    lat = model.pair_law_lattice(eps, -1, t_end)[-1]
    n, m = round(1 / eps), size
    pair = float(np.sqrt(eps**2 * np.sum((lat - ref[:: m // n, :: m // n]) ** 2)))
    return {"one_particle_l2": float(model.single_law_distance(eps, t_end)), "pair_l2": pair}


def kmc_single_walker(model, rng, *, eps, size, t_end):
    """``size`` single KMC walkers (F = 0) at spacing ``eps``: counts of the displacement in units of ε,
    clipped to ±KMC_BINS (labels ``d-8`` … ``d8``)."""
    start = (np.array([[0.5, 0.5]]), np.array([1]))
    walkers = model.simulate_walkers([start] * size, eps, t_end, rng=rng)
    disp = np.clip([round((tr.info["unwrapped"][-1][0, 0] - 0.5) / eps) for tr in walkers], -KMC_BINS, KMC_BINS)
    return {f"d{k}": int(np.sum(disp == k)) for k in range(-KMC_BINS, KMC_BINS + 1)}


def kmc_pair(model, rng, *, eps, size, t_end):
    """``size`` KMC ± pairs at spacing ``eps`` from the pair's initial law: moments of φ = log(p_int/p_free)
    at the separations, and the means of φ under the lattice law (interaction) and the free law."""
    sites = round(1 / eps)
    _, x, y = model.lattice(eps)
    mass = (model.pair_initial_density(x, y) * eps**2).ravel()
    z0 = np.stack(np.unravel_index(rng.choice(mass.size, size=size, p=mass / mass.sum()), (sites, sites)), 1)
    l2 = rng.integers(0, sites, (size, 2))
    pairs = [(np.stack([(l2[r] + z0[r]) % sites, l2[r]]) * eps, np.array([1, -1])) for r in range(size)]
    zs = np.array([np.rint((tr.positions[-1][0] - tr.positions[-1][1]) / eps).astype(int) % sites
                   for tr in model.simulate_walkers(pairs, eps, t_end, rng=rng)])
    p_int = model.pair_law_lattice(eps, -1, t_end)[-1] * eps**2
    p_free = model.pair_law_lattice(eps, 0, t_end)[-1] * eps**2
    phi = np.log(p_int / p_free)
    vals = phi[zs[:, 0], zs[:, 1]]
    return {"mean": float(vals.mean()), "std": float(vals.std()), "count": int(vals.size),
            "expected_interacting": float(np.sum(p_int * phi)), "expected_free": float(np.sum(p_free * phi))}


def _lattice_measures(pos, b, n, sites):
    """Per species, the empirical measure of walkers on the lattice with coinciding walkers merged into
    one atom (weight = count/n): the same measure, fewer atoms for the transport problem."""
    out = {}
    torus = Domain.torus(2, 1.0)
    idx = np.rint(np.mod(pos, 1.0) * sites).astype(np.int64) % sites
    for label, sign in (("+", 1), ("-", -1)):
        flat = idx[b == sign, 0] * sites + idx[b == sign, 1]
        cells, counts = np.unique(flat, return_counts=True)
        out[label] = EmpiricalMeasure(np.stack([cells // sites, cells % sites], 1) / sites, counts / n, torus)
    return out


def _bl_sum(measures, ref):
    """``Σ_± ‖μ^± − ρ^±‖*_{1,∞}`` ("sum" convention), each by exact transport between the atoms with the
    cutting-plane search of ``bounded_lipschitz_bracket`` (relative gap 1e-4); returns (value, gap)."""
    value, gap = 0.0, 0.0
    for s in "+-":
        br = bounded_lipschitz_bracket(measures[s], ref[s], "sum", rtol=1e-4, max_solves=40, max_pairs=2**24)
        if br.method != "exact":
            raise RuntimeError(f"the BL distance took the {br.method!r} route: {br}")
        value += br.value
        gap += br.width
    return value, gap


def _site_masses(model, eps, t_end):
    sites = round(1 / eps)
    lat = model.solve_lattice(eps, t_end).density.values[-1]
    s = np.arange(sites) / sites
    pts = np.stack(np.meshgrid(s, s, indexing="ij"), -1).reshape(-1, 2)
    return lat, pts


def direct_limit(model, rng, *, eps, size, t_end):
    """V9 at n = ∞: the MF^ε masses (atoms at the sites) against the MF atoms on ``size``²."""
    lat, pts = _site_masses(model, eps, t_end)
    torus = Domain.torus(2, 1.0)
    masses = {label: EmpiricalMeasure(pts, lat[k].ravel() * eps**2, torus) for k, label in enumerate("+-")}
    d, gap = _bl_sum(masses, _cached("atoms", _key(model), t_end, size))
    return {"bl_sum_n_infinity": d, "bracket_gap": gap}


def direct_replica(model, rng, *, eps, size, t_end, fine, coarse, iid):
    """V9: one replica of RW_n^ε (n = ``size``, n/2 of each sign) at spacing ``eps`` against the MF atoms
    on the fine and the coarse reference grids; with ``iid`` also n i.i.d. walkers drawn from MF^ε(t)
    (the sampling floor)."""
    n, sites = size, round(1 / eps)
    start = model.sample_lattice_particles(n, eps, rng=rng, n_plus=n // 2)
    tr = model.simulate_random_walks(start, eps, t_end, rng=rng)
    b = np.where(tr.species[-1] == "+", 1, -1)
    meas = _lattice_measures(tr.positions[-1], b, n, sites)
    d, gap = _bl_sum(meas, _cached("atoms", _key(model), t_end, fine))
    d_coarse, _ = _bl_sum(meas, _cached("atoms", _key(model), t_end, coarse))
    out = {"bl_sum": d, "bl_sum_coarse_reference": d_coarse, "bracket_gap": gap, "jumps": tr.info["jumps"]}
    if iid:  # sampling floor: n i.i.d. walkers from the MF^ε law at t, same signs
        lat, pts = _site_masses(model, eps, t_end)
        probs = [lat[k].ravel() / lat[k].sum() for k in range(2)]
        walkers = np.concatenate([pts[rng.choice(pts.shape[0], size=c, p=probs[k])]
                                  for k, c in enumerate((n // 2, n - n // 2))])
        signs = np.where(np.arange(n) < n // 2, 1, -1)
        out["bl_sum_iid_mfeps"] = _bl_sum(_lattice_measures(walkers, signs, n, sites),
                                          _cached("atoms", _key(model), t_end, fine))[0]
    return out


def bump_mfeps_vs_mf(model, rng, *, eps, size, t_end):
    """Thm 1.3 with the bump mollifier at spacing ``eps`` against the bump MF on ``size``²."""
    f = model.solve_lattice(eps, t_end, times=[0.0, t_end]).density.values
    drift = float(np.abs(f.sum(axis=(2, 3))[-1] - f.sum(axis=(2, 3))[0]).max() * eps**2)
    return {"l2_error": _l2_lattice(f[-1], _cached("mf", _key(model), t_end, size), eps), "mass_drift": drift}


def bump_kernel_gap(model, rng, *, size, t_end):
    """RMS distance of the Gaussian-kernel MF (``size/2``²) from the bump MF (``size``²) at ``t_end``."""
    ref = _cached("mf", _key(model), t_end, size)
    params = {k: v for k, v in model.params.items() if k != "mollifier"}
    gauss = _cached("mf", tuple(sorted(params.items())), t_end, size // 2)
    return {"kernel_gap": float(np.sqrt(np.mean(np.sum((gauss - ref[:, ::2, ::2]) ** 2, axis=0))))}


# --- pairings and observers of the particle studies ------------------------------------------------------------
@dataclass(frozen=True)
class SDEVsCellAverages(SDEVsContinuum):
    """(SDE_n) against the MF solution averaged onto ``cells``² cells (of the continuum grid, whose size
    must be a multiple), species by species (Theorem 1.5's check: a coarse reference keeps the exact
    BL transport small)."""

    cells: int = 16
    reference_fields: ClassVar[tuple] = ()

    def measures(self, model, sample, reference, t):
        mf = reference.measure(t)
        m = next(iter(mf.values())).values.shape[0]
        r, c = m // self.cells, self.cells
        coarse = UniformGrid((-0.5 / m,) * 2, (1 - 0.5 / m,) * 2, (c, c))
        cont = {s: GridDensity(mf[s].values.reshape(c, r, c, r).mean(axis=(1, 3)), coarse) for s in model.species}
        parts = sample.measure(t)
        return {s: (parts.get(s), cont[s]) for s in model.species}


@dataclass(frozen=True)
class ClockStatistics(Observer):
    """Lemma 5.2's clocks at the last output time of a coupled walker run: the proof's bound
    ``(1/n) Σ_h ε|τ^h − τ̄^h|`` and the sums of ``|N^h(τ^h) − N^h(τ̄^h)|``, its square, ``|τ^h − τ̄^h|``
    over the 4n channels (Lemma 5.1(3))."""

    name: str = "clocks"
    on: str = "sample"

    def observe(self, model, run, t):
        if run.index(t) != len(run.times) - 1:
            return None
        info = run.info
        dtau = np.abs(info["tau"][-1] - info["tau_bar"][-1])
        dn = np.abs(info["count"][-1] - info["count_bar"][-1]).astype(float)
        n = dn.size // 4
        return {"clock_bound": float(info["eps"] * dtau.sum() / n), "dn_sum": float(dn.sum()),
                "dn_sumsq": float(np.sum(dn * dn)), "dtau_sum": float(dtau.sum()), "channels": float(dn.size),
                "jumps": float(info["jumps"]), "jumps_bar": float(info["jumps_bar"])}


# --- the studies -----------------------------------------------------------------------------------------------
def _measure(fn, model, sweep, seeds=(0,), t_end=T_END, args=None):
    """A study of the computation ``fn(model, rng, eps=, size=, t_end=, **args)`` (sweep ``pairing.eps`` and
    ``pairing.size``), its numbers recorded under the metric ``measured``."""
    return Study("Dislocations2D", sweep, t_end, [t_end], seeds=list(seeds), metrics=[], model_params=model,
                 pairing=Computation(fn, args=args or {}, with_t_end=True), observers=[Recorded("measured")])


def studies(quick: bool = True) -> dict:
    """Every study of this validation, by name (see the module docstring)."""
    size = sizes(quick)
    fine, coarse = size["direct_reference"]
    out = {
        "mfeps": _measure(mfeps_vs_mf, MODEL,
                          {"pairing.eps": size["mfeps_eps"], "pairing.size": [size["mf_reference"]]}),
        "sde_mf": Study("Dislocations2D", {"n": size["sde_n"]}, T_END, [T_END], seeds=list(range(size["sde_reps"])),
                        metrics=["BLsum"], model_params=MODEL, continuum_kwargs={"resolution": 64},
                        pairing=SDEVsCellAverages()),
        "rw_mfeps": Study("Dislocations2D", {"n": size["rw_n"]}, T_END, [T_END], seeds=list(range(size["rw_reps"])),
                          metrics=["BLsum"], model_params=MODEL, pairing=LatticeVsLattice(EPS_RW, balanced=True),
                          floors=["sampling"]),  # MF^ε is the lattice ODE itself: no grid to refine
        "laws": _measure(law_distances, LAW_MODEL, {"pairing.eps": size["law_eps"],
                                                    "pairing.size": [size["law_reference"]]}),
        "kmc_walker": _measure(kmc_single_walker, MODEL,
                               {"pairing.eps": [1 / 16], "pairing.size": [size["kmc_walkers"]]},
                               t_end=0.02),
        "kmc_pair": _measure(kmc_pair, PAIR_KMC_MODEL, {"pairing.eps": [1 / 32], "pairing.size": [size["kmc_pairs"]]},
                             t_end=0.2),
        "coupling_sde": Study("Dislocations2D", {"n": size["coupling_sde_n"]}, T_END, [T_END],
                              seeds=list(range(size["coupling_sde_reps"])), metrics=["W1"], model_params=MODEL,
                              pairing=CoupledSDEMeanField(), observers=[PathwiseDistance()]),
        "coupling_rw": Study("Dislocations2D", {"n": size["coupling_rw_n"]}, T_END, [T_END],
                             seeds=list(range(size["coupling_rw_reps"])), metrics=[], model_params=MODEL,
                             pairing=CoupledWalkersMeanField(eps=EPS_COUPLING, distances=False),
                             observers=[PathwiseDistance(), ClockStatistics()]),
        "coupling_rw_eps": Study("Dislocations2D", {"n": [N_UNIFORM], "pairing.eps": size["uniform_eps"]}, T_END,
                                 [T_END], seeds=list(range(size["coupling_rw_reps"])), metrics=[],
                                 model_params=MODEL, pairing=CoupledWalkersMeanField(distances=False),
                                 observers=[PathwiseDistance(), ClockStatistics()]),
        "direct_limit": _measure(direct_limit, DIRECT_MODEL,
                                 {"pairing.eps": size["direct_eps"], "pairing.size": [fine]}),
        "direct": _measure(direct_replica, DIRECT_MODEL,
                           {"pairing.eps": size["direct_eps"], "pairing.size": size["direct_n"]},
                           seeds=range(size["direct_reps"]),
                           args={"fine": fine, "coarse": coarse, "iid": size["direct_iid"]}),
        "bump": _measure(bump_mfeps_vs_mf, BUMP_MODEL, {"pairing.eps": size["bump_eps"],
                                                        "pairing.size": [size["bump_reference"]]}),
        "bump_kernel": _measure(bump_kernel_gap, BUMP_MODEL, {"pairing.size": [size["bump_reference"]]}),
    }
    if size["bump_sde_n"]:
        out["bump_coupling"] = Study("Dislocations2D", {"n": size["bump_sde_n"]}, T_END, [T_END], seeds=list(range(4)),
                                     metrics=["W1"], model_params=BUMP_MODEL, pairing=CoupledSDEMeanField(),
                                     observers=[PathwiseDistance()])
    return out


# --- claims from the tables ------------------------------------------------------------------------------------
def _wide(table, metric) -> pd.DataFrame:
    """The observer rows named ``metric`` as one row per task (parameters, seed), one column per label."""
    obs = table[(table["run"] == "sample") & (table["metric"] == metric)]
    keys = [c for c in obs.columns if c not in ("time", "species", "metric", "value", "run")]
    return obs.pivot_table(index=keys, columns="species", values="value", aggfunc="first").reset_index()


def _bl_per_task(table) -> pd.DataFrame:
    """Distances and their floors summed over the species, one row per (n, seed)."""
    return summed_floors(table, ["n", "seed"], ("+", "-"), "BLsum")


def _bl_rate(table):
    """The rate in n of :func:`_bl_per_task` with the floors' rule
    (:func:`~meanfield.validation.rate_fits.floored_fit`)."""
    d = _bl_per_task(table)
    return floored_fit(d["n"], d["value"], d.get("sampling_floor"), d.get("discretisation_floor"))


def _means(frame, key, value):
    """Per distinct ``key``: (keys, means, standard errors) of ``value``."""
    g = frame.groupby(key)[value]
    keys = np.array(sorted(frame[key].unique()), dtype=float)
    mean = g.mean().loc[keys].to_numpy()
    se = (g.std(ddof=1) / np.sqrt(g.count())).loc[keys].to_numpy()
    return keys, mean, se


def _batch_fit(frame, key, value, batch):
    """Rate fit on the means of consecutive batches of ``batch`` replicas (in seed order) per ``key`` (a
    per-replica lattice distance can be 0, so single replicas cannot enter a log-log fit); the batch size
    doubles until no batch mean is 0. Returns (fit, batch size)."""
    keys = sorted(frame[key].unique())
    vals = [frame[frame[key] == k].sort_values("seed")[value].to_numpy(float) for k in keys]
    while True:
        means = [v[: v.size // batch * batch].reshape(-1, batch).mean(axis=1) for v in vals]
        if all(m.size and np.all(m > 0) for m in means) or batch >= max(v.size for v in vals):
            break
        batch *= 2
    for k, m in zip(keys, means, strict=True):
        if not (m.size and np.all(m > 0)):
            raise RuntimeError(f"the {value} of every replica at {key} = {k} is 0: too few replicas for a rate")
    return fit_rate([k for k, m in zip(keys, means, strict=True) for _ in m], [e for m in means for e in m]), batch


def _lattice_rate_claims(tables, size):
    m = _wide(tables["mfeps"], "measured").sort_values("pairing.eps")
    epss, e = m["pairing.eps"].to_numpy(float), m["l2_error"].to_numpy(float)
    fit = fit_rate(epss, e)
    worst_mass, min_density = float(m["mass_drift"].max()), float(m["min_density"].min())
    out = [
        Claim.within("rate_mfeps_to_mf", "‖f_ε − f‖_{L²(ν_ε)} = O(ε²) at t = 0.05 (δ = 0.1, β = 1)", fit.slope, RATE_L2,
                     "Thm 1.3 (paper)", f"slope {fit}"),
        Claim.at_most("mfeps_mass", "MF^ε conserves each species' mass to round-off", worst_mass, 1e-12,
                      "eq. (11) in flux form (ours)", f"max drift {worst_mass:.1e}"),
        Claim.at_least("mfeps_positive", "MF^ε keeps the densities positive", min_density, 0.0,
                       "eq. (11): a master equation (ours)", f"min density {min_density:.4f}", strict=True),
    ]
    fit_sde = _bl_rate(tables["sde_mf"])
    out.append(Claim.within(
        "rate_sde_to_mf_bl", "‖ρ_n − ρ‖*_{1,∞} (SDE_n empirical measures vs MF, summed over species) decays like "
        "n^{-1/2} up to a logarithm", fit_sde.slope, RATE_HALF, "Thm 1.5 (paper)", fit_sde.describe()))
    fit_rw = _bl_rate(tables["rw_mfeps"])
    out.append(Claim.within(
        "rate_rw_to_mfeps_bl", "‖ρ_{ε,n} − ρ_ε‖*_{1,∞} (RW_n^ε empirical measures vs MF^ε, ε = 1/16, summed over "
        "species) decays like n^{-1/2} up to a logarithm", fit_rw.slope, RATE_HALF, "Thm 1.6 (paper)",
        fit_rw.describe() + " (MF^ε is the lattice equation itself: no grid to refine)"))
    laws = _wide(tables["laws"], "measured").sort_values("pairing.eps")
    eps_law = laws["pairing.eps"].to_numpy(float)
    fit_one = fit_rate(eps_law, laws["one_particle_l2"].to_numpy(float))
    fit_two = fit_rate(eps_law, laws["pair_l2"].to_numpy(float))
    out += [
        Claim.within("rate_rw_sde_one_particle", "one walker (F = 0) vs Brownian motion: ‖p_ε − p‖_{L²(ν_ε)} = O(ε²) "
                     "(exact, mode by mode; δ = 0.25, β = 4, t = 0.05)", fit_one.slope, RATE_L2,
                     "Thm 1.2 (paper); exact mode-by-mode distance ours", f"slope {fit_one}"),
        Claim.within("rate_rw_sde_two_particles", "± pair: law of z = X_1 − X_2 under RW_2^ε vs SDE_2, "
                     "‖p_ε − p‖_{L²(ν_ε)} = O(ε²) (δ = 0.25, β = 4, t = 0.05)", fit_two.slope, RATE_L2,
                     "Thm 1.2 (paper); pair reduction ours", f"slope {fit_two}"),
    ]
    # the KMC against the laws
    walker = _wide(tables["kmc_walker"], "measured").iloc[0]
    reps, eps_k, t_k = int(walker["pairing.size"]), float(walker["pairing.eps"]), 0.02
    mu = t_k / (MODEL["beta"] * eps_k**2)
    probs = np.concatenate([[stats.skellam.cdf(-KMC_BINS, mu, mu)],
                            stats.skellam.pmf(np.arange(-KMC_BINS + 1, KMC_BINS), mu, mu),
                            [stats.skellam.sf(KMC_BINS - 1, mu, mu)]])
    counts = [walker[f"d{k}"] for k in range(-KMC_BINS, KMC_BINS + 1)]
    pval = float(stats.chisquare(counts, reps * probs).pvalue)
    out.append(Claim.within(
        "kmc_single_walker_law", "one KMC walker's displacement (units of ε) is Skellam(μ, μ), μ = t/(βε²) "
        f"(chi-square over {reps} runs)", pval, (1e-3, 1), "eq. (8) with n = 1 (paper); Skellam law ours",
        f"p-value {pval:.3f}"))
    pair = _wide(tables["kmc_pair"], "measured").iloc[0]
    se = float(pair["std"] / np.sqrt(pair["count"]))
    zscore = float((pair["mean"] - pair["expected_interacting"]) / se)
    zfree = float((pair["mean"] - pair["expected_free"]) / se)
    claim = Claim.within(
        "kmc_pair_law", "KMC ± pair (δ = 0.25, β = 16, ε = 1/32, t = 0.2): mean of φ = log(p_int/p_free) at the "
        "separation agrees with the lattice master equation within 4 standard errors (and not with the free law: "
        "|z| > 4 against it)", zscore, (-4, 4), "eq. (8) with n = 2 (paper); pair reduction ours",
        f"z-score {zscore:+.2f} vs the master equation, {zfree:+.1f} vs the free law ({int(pair['count'])} pairs)")
    claim.passed = abs(zfree) > 4  # the compound condition (the band is the first one)
    out.append(claim)
    # Lemma 3.1
    lam = {k: m[f"lambda_{k}"].to_numpy(float) for k in ("mfeps_t", "point_mass")}
    bounds = {k: m[f"bound_{k}"].to_numpy(float) for k in ("mfeps_t", "point_mass")}
    spread = float(max(v.max() / v.min() for v in lam.values()))
    below = all(np.all((0 < lam[k]) & (lam[k] <= bounds[k])) for k in lam)
    claim = Claim.within(
        "stability_constant_eps_uniform", "Lemma 3.1: the top eigenvalue λ_ε of the symmetric part of A_ε[ρ_ε] in "
        "L²(𝒱_ε) (sparse operator, shift-invert Lanczos) is independent of ε (max/min over ε < 1.10), "
        "positive and below the explicit derived bound max Σ_h(e_h(ℓ-h) - e_h(ℓ))/(2βε²); "
        "ρ_ε = MF^ε at t = 0.05 and a point mass (δ = 0.1, β = 1)", spread, (1.0, 1.10),
        "Lemma 3.1 (paper); explicit bound ours",
        "λ_ε at 1/ε = " + ", ".join(str(round(1 / x)) for x in epss) + ": MF^ε(t) "
        + ", ".join(f"{v:.4e}" for v in lam["mfeps_t"]) + "; point mass "
        + ", ".join(f"{v:.4e}" for v in lam["point_mass"])
        + f" (= {lam['point_mass'][-1] * MODEL['delta']**2 / MODEL['beta']:.2e} βδ^-2); max/min {spread:.3f}",
        closed=(True, False))
    claim.passed = below
    out.append(claim)
    return out


def _coupling_claims(tables, quick, size):
    mode = "quick" if quick else "full"
    model = Dislocations2D(**MODEL)
    c_v, grad_c, hess_c = dc.kernel_constant(model)
    delta = model.delta
    sde = _wide(tables["coupling_sde"], "pathwise_distance").rename(columns={"": "d"})
    fit = fit_rate(sde["n"].to_numpy(float), sde["d"].to_numpy(float))
    keys, mean, se = _means(sde, "n", "d")
    bound = dc.lemma42_bound(c_v, delta, T_END, keys)
    ratio = float(np.max((mean + 2 * se) / bound))
    band = COUPLING_SDE_BAND[mode]
    ns, reps = size["coupling_sde_n"], size["coupling_sde_reps"]
    out = [
        Claim.within(
            "coupling_sde_mckean_vlasov_rate",
            f"Lemma 4.2: (1/n) E Σ|X_i − X̄_i|(t), SDE_n coupled to n McKean–Vlasov copies driven by the same Brownian "
            f"increments (drift from the MF solution), decays like n^{{-1/2}} (κ = 0: n/2 of each sign; δ = {delta}, "
            f"β = {model.beta}, t = {T_END}, n = {ns[0]}…{ns[-1]}, {reps} replicas). Band −1/2 ± {band[1] + 0.5:.2f}: "
            "the lemma's rate; the width (ours) allows the O(1/n) term of each copy's mean field holding its own "
            "mass 1/n and the replica scatter", fit.slope, band,
            "Lemma 4.2 (paper: the rate, band centre fixed before the run); band width ours", f"slope {fit}"),
        Claim.at_most(
            "coupling_sde_below_lemma42_bound",
            "Lemma 4.2's explicit bound (2C_V t/δ)(n^{-1/2} + κ)exp(2C_V t/δ²) holds at every n: max over n of "
            f"(mean + 2 s.e.)/bound ≤ 1, with C_V = max(δ‖∇V_δ‖∞, δ²‖d²V_δ‖∞) = {c_v:.4f} (the constants the proof "
            f"uses; δ‖∇V_δ‖∞ = {grad_c:.4f}, δ²‖d²V_δ‖∞ = {hess_c:.4f})", ratio, 1.0,
            "Lemma 4.2 (paper: the bound, computed before the run from C_V)",
            "mean distance / bound at n = "
            + ", ".join(f"{k:g}: {a:.3e}/{b:.3e}" for k, a, b in zip(keys, mean, bound, strict=True))
            + f"; max (mean + 2 s.e.)/bound {ratio:.3f}"),
    ]
    # Lemma 5.2
    rw = _wide(tables["coupling_rw"], "pathwise_distance").rename(columns={"": "d"})
    clocks = _wide(tables["coupling_rw"], "clocks")
    fit_rw, batch_rw = _batch_fit(rw, "n", "d", 8)
    keys_rw, mean_rw, se_rw = _means(rw, "n", "d")
    _, clock_rw, _ = _means(clocks, "n", "clock_bound")
    bound_rw = dc.lemma52_bound(c_v, delta, model.beta, EPS_COUPLING, T_END, keys_rw)
    ratio_rw = float(np.max((mean_rw + 2 * se_rw) / bound_rw))
    both = pd.concat([clocks, _wide(tables["coupling_rw_eps"], "clocks")])
    count = float(both["channels"].sum())
    dn_mean, dtau_mean = float(both["dn_sum"].sum() / count), float(both["dtau_sum"].sum() / count)
    dn_sd = float(np.sqrt((both["dn_sumsq"].sum() - count * dn_mean**2) / (count - 1)))
    z = (dn_mean - dtau_mean) / (dn_sd / np.sqrt(count))
    band = COUPLING_RW_BAND[mode]
    ns_rw, reps_rw = size["coupling_rw_n"], size["coupling_rw_reps"]
    out += [
        Claim.within(
            "coupling_rw_mfeps_rate",
            f"Lemma 5.2: (1/n) E Σ|X_ε,i − X̄_ε,i|(t), RW_n^ε coupled to n independent MF^ε walkers through the same "
            f"unit Poisson processes (random time change (74)–(75)), decays like n^{{-1/2}} (ε = 1/16, n = "
            f"{ns_rw[0]}…{ns_rw[-1]}, {reps_rw} replicas fitted as means of {batch_rw}). "
            f"Band −1/2 ± {band[1] + 0.5:.2f} (ours: each walker's distance is a multiple of ε, so few walkers "
            "carry it)", fit_rw.slope, band, "Lemma 5.2 (paper: the rate, band centre fixed before the run); band "
            "width ours", f"slope {fit_rw}; means " + ", ".join(
                f"n={k:g}: {a:.2e}±{s:.1e}" for k, a, s in zip(keys_rw, mean_rw, se_rw, strict=True))),
        Claim.at_most(
            "coupling_rw_below_lemma52_bound",
            "Lemma 5.2's bound with the constants of its proof, (4e^A C_V t/δ)(n^{-1/2} + κ)exp(4e^A C_V t/δ²), "
            "A = C_V βε/(2δ), holds at every n: max (mean + 2 s.e.)/bound ≤ 1 (the lemma's constants are not given; "
            "this explicit form follows the proof's (79)–(82) and is ours)", ratio_rw, 1.0,
            "Lemma 5.2 (paper); explicit constants ours (fixed before the run)",
            f"max (mean + 2 s.e.)/bound {ratio_rw:.3f}; the proof's own bound on the distance, "
            "(1/n) Σ_h ε E|τ^h − τ̄^h|, at n = "
            + ", ".join(f"{k:g}: {c:.2e}" for k, c in zip(keys_rw, clock_rw, strict=True))),
        Claim.within(
            "coupling_rw_time_change_identity",
            "Lemma 5.1(3): E|N^h(τ^h) − N^h(τ̄^h)| = E|τ^h − τ̄^h| for every channel h (mean over channels and "
            f"replicas, {int(count)} channels of the two Lemma 5.2 studies): z-score within ±4", z, (-4.0, 4.0),
            "Lemma 5.1(3) (paper)", f"E|ΔN| {dn_mean:.4e}, E|Δτ| {dtau_mean:.4e}, z = {z:+.2f}"),
    ]
    u = _wide(tables["coupling_rw_eps"], "pathwise_distance").rename(columns={"": "d"})
    uc = _wide(tables["coupling_rw_eps"], "clocks")
    fit_u, batch_u = _batch_fit(u, "pairing.eps", "d", 8)
    fit_uc = fit_rate(uc["pairing.eps"].to_numpy(float), uc["clock_bound"].to_numpy(float))
    band = UNIFORM_EPS_BAND[mode]
    eps_u = size["uniform_eps"]
    out.append(Claim.within(
        "coupling_rw_mfeps_uniform_in_eps",
        f"Lemma 5.2 is uniform in ε: at n = {N_UNIFORM} the coupled distance does not change with ε = 1/10 … "
        f"1/{round(1 / eps_u[-1])} (slope in ε of the means of {batch_u} replicas, {size['coupling_rw_reps']} "
        f"replicas per ε, within 0 ± {band[1]}; width ours, from the replica scatter of a multiple-of-ε distance)",
        fit_u.slope, band, "Lemma 5.2 (paper: uniform in ε, so slope 0 fixed before the run)",
        f"slope {fit_u}; the proof's clock bound (1/n)Σ_h ε|τ^h − τ̄^h|: slope {fit_uc}"))
    if "bump_coupling" in tables:
        bump = Dislocations2D(**BUMP_MODEL)
        cb = dc.kernel_constant(bump)[0]
        bc = _wide(tables["bump_coupling"], "pathwise_distance").rename(columns={"": "d"})
        k, mb, sb = _means(bc, "n", "d")
        bd = dc.lemma42_bound(cb, bump.delta, T_END, k)
        worst = float(np.max((mb + 2 * sb) / bd))
        out.append(Claim.at_most(
            "bump_coupling_sde_below_lemma42_bound",
            f"Lemma 4.2 with the bump kernel (C_V = {cb:.4f}): the coupled distance stays below the explicit bound "
            "(max (mean + 2 s.e.)/bound ≤ 1, 4 replicas)", worst, 1.0, "Lemma 4.2 (paper)",
            "; ".join(f"n={a:g}: {b:.2e} vs {c:.2e}" for a, b, c in zip(k, mb, bd, strict=True))
            + f"; max ratio {worst:.3f}"))
    return out


def direct_fit(rows: pd.DataFrame, column="bl_sum"):
    """Least squares ``err ≈ a ε + b n^{-1/2}`` over every replica; returns (coef, 95% half widths, rel. RMS)."""
    design = np.stack([rows["pairing.eps"].to_numpy(float), rows["pairing.size"].to_numpy(float) ** -0.5], 1)
    y = rows[column].to_numpy(float)
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ coef
    dof = len(y) - 2
    cov = resid @ resid / dof * np.linalg.inv(design.T @ design)
    half = stats.t.ppf(0.975, dof) * np.sqrt(np.diag(cov))
    return coef, half, float(np.sqrt(np.mean((resid / y) ** 2)))


def _direct_claims(tables, size):
    model = Dislocations2D(**DIRECT_MODEL)
    fine, coarse = size["direct_reference"]
    rows = _wide(tables["direct"], "measured")
    inf = _wide(tables["direct_limit"], "measured").sort_values("pairing.eps")
    (a, b), (ha, hb), rel_rms = direct_fit(rows)
    floor_note = ""
    if "bl_sum_iid_mfeps" in rows:
        c_iid, _, _ = direct_fit(rows, "bl_sum_iid_mfeps")
        floor_note = (f"; i.i.d. sampling floor: a = {c_iid[0]:.4f}, b = {c_iid[1]:.4f}, RW/i.i.d. mean ratio "
                      f"{np.mean(rows['bl_sum'] / rows['bl_sum_iid_mfeps']):.3f}")
    inf_eps, inf_val = inf["pairing.eps"].to_numpy(float), inf["bl_sum_n_infinity"].to_numpy(float)
    fit_inf = fit_rate(inf_eps, inf_val)
    ratios = inf_val / (C_SQUARE * inf_eps)
    floor = float(np.max(np.abs(rows["bl_sum"] - rows["bl_sum_coarse_reference"]) / rows["bl_sum"]))
    epss, ns = size["direct_eps"], size["direct_n"]
    lattice = Claim.within(
        "rw_to_mf_lattice_term",
        "Cor. 1.8's first-order ε term, measured at n = ∞: Σ_± ‖ρ_ε^±(t) − ρ^±(t)‖*_{1,∞} between the MF^ε masses "
        f"(atoms at the sites) and MF (δ = {model.delta}, β = {model.beta}, t = {T_END}) has slope 1 ± 0.1 in ε "
        f"and equals c_□ε within [0.88, 1.05] at every ε, c_□ = (√2 + ln(1 + √2))/6 = {C_SQUARE:.5f} the mean "
        "distance to the nearest site (W1(ν_ε, ν) = c_□ε; the 'sum' norm is W1 up to a factor 1/(1 + ε/√2) "
        "from the oscillation of the optimal potential; +5% for the reference grid and the O(ε²) MF^ε − MF term)",
        fit_inf.slope, (0.9, 1.1), "Cor. 1.8 (paper: first order in ε); constant c_□ and bands ours",
        f"slope {fit_inf}; ratio to c_□ε " + ", ".join(f"1/{round(1 / e)}: {q:.3f}" for e, q in
                                                     zip(inf_eps, ratios, strict=True)))
    lattice.passed = bool(np.all((0.88 <= ratios) & (ratios <= 1.05)))
    fit_claim = Claim.within(
        "rw_to_mf_direct_fit",
        "V9 directly (not through MF^ε): E Σ_± ‖ρ_{ε,n}^± − ρ^±‖*_{1,∞} for RW_n^ε against MF over ε = "
        + ", ".join(f"1/{round(1 / e)}" for e in epss) + f", n = {ns[0]}…{ns[-1]} ({size['direct_reps']} replicas, "
        "κ = 0), least squares err ≈ a·ε + b·n^{-1/2}: both terms present (95% CIs of a and b above 0) and "
        "a ≤ 1.05·c_□ (the lattice term cannot exceed its n = ∞ value)", a, (0.0, 1.05 * C_SQUARE),
        "Cor. 1.8 and Thm 1.6 (paper: O(ε) + n^{-1/2} up to a log); bound on a ours",
        f"a = {a:.4f} ± {ha:.4f}, b = {b:.4f} ± {hb:.4f} (95%), relative RMS residual {rel_rms:.3f} "
        f"({len(rows)} points){floor_note}")
    fit_claim.passed = bool(a - ha > 0 and b - hb > 0)
    out = [lattice, fit_claim, Claim.within(
        "rw_to_mf_reference_floor",
        f"the continuum reference (MF on {fine}², its point masses as atoms) is resolved: at every (ε, n) the "
        f"distance changes by at most a quarter when the reference is coarsened to {coarse}² "
        "(an over-estimate of the reference's own error)", floor, (0.0, 0.25), "ours",
        f"max |D_{fine} − D_{coarse}|/D_{fine} = {floor:.3f}")]
    # the rate in n, per ε: by the triangle inequality |D(ε, n) − D(ε, ∞)| ≤ ‖ρ_{ε,n} − ρ_ε‖*_{1,∞}, which is
    # O(n^{-1/2} log n) by Thm 1.6; so the excess decays at least like n^{-1/2} up to a log (it may decay faster
    # where the lattice term dominates: the two errors do not add)
    if len(ns) >= 2:
        parts, slopes = [], []
        for eps in epss:
            sel = rows[np.isclose(rows["pairing.eps"], eps)]
            d_inf = float(inf_val[np.isclose(inf_eps, eps)][0])
            excess = np.abs(sel["bl_sum"].to_numpy(float) - d_inf)
            ok = excess > 0
            f = fit_rate(sel["pairing.size"].to_numpy(float)[ok], excess[ok])
            slopes.append(f.slope)
            parts.append(f"ε = 1/{round(1 / eps)}: {f}")
        out.append(Claim.at_most(
            "rw_to_mf_direct_rate_in_n",
            "V9: at each ε the distance approaches its n = ∞ value at least as fast as n^{-1/2} up to a log: the "
            "slope in n of |D(ε, n) − D(ε, ∞)| is at most −0.3 at every ε (the triangle inequality bounds it by "
            "‖ρ_{ε,n} − ρ_ε‖*_{1,∞} = O(n^{-1/2} log n), Thm 1.6; −0.3 is the upper end of the Thm 1.5/1.6 bands)",
            max(slopes), DIRECT_N_BAND[1], "Cor. 1.8, Thm 1.6 (paper: n^{-1/2} up to a log); the triangle-inequality "
            "form ours, revised after its first run: the two-sided band [−0.75, −0.3] first declared did not "
            "follow from the theorem (measured −0.96 at ε = 1/8), only this one-sided bound does", "; ".join(parts)))
    return out


def _bump_claims(tables, size):
    rows = _wide(tables["bump"], "measured").sort_values("pairing.eps")
    eps, err = rows["pairing.eps"].to_numpy(float), rows["l2_error"].to_numpy(float)
    fit = fit_rate(eps, err)
    drift = float(rows["mass_drift"].max())
    gap = float(_wide(tables["bump_kernel"], "measured")["kernel_gap"].iloc[0])
    claim = Claim.within(
        "bump_rate_mfeps_to_mf",
        "Thm 1.3 with the paper's compactly supported mollifier φ_δ = δ^{-2}φ_1(·/δ), φ_1 ∝ exp(-1/(1-|x|²)): "
        f"‖f_ε − f‖_{{L²(ν_ε)}} = O(ε²) at t = {T_END} (δ = 0.25, β = 1; reference spectral MF "
        f"{size['bump_reference']}² with the same kernel), slope in [1.9, 2.1]; each species' mass conserved to "
        "1e-12; the Gaussian-kernel MF lies farther from the bump MF than twice the finest error (the check sees "
        "the kernel)", fit.slope, RATE_L2, "Thm 1.3 (paper); §1.2.1 mollifier (paper); the profile φ_1 ours",
        f"slope {fit}; mass drift {drift:.1e}; Gaussian vs bump MF {gap:.2e} vs finest error {err[0]:.2e}")
    claim.passed = bool(drift < 1e-12 and gap > 2 * err[0])
    return [claim]


def claims(tables: dict, quick: bool = True) -> list:
    """The claims, computed from the studies' tables."""
    size = sizes(quick)
    return (_lattice_rate_claims(tables, size) + _coupling_claims(tables, quick, size) + _direct_claims(tables, size)
            + _bump_claims(tables, size))


# --- figures and data ------------------------------------------------------------------------------------------
def figures(declared: dict, tables: dict, quick: bool, outdir: pathlib.Path) -> list:
    from matplotlib.figure import Figure

    from meanfield import io
    from meanfield.plot import FLOOR_STYLES, plot_rate
    from meanfield.study import floor_curves

    size = sizes(quick)
    fine, coarse = size["direct_reference"]
    fig = Figure(figsize=(9, 7), layout="constrained")
    axes = fig.subplots(2, 2).ravel()
    m = _wide(tables["mfeps"], "measured").sort_values("pairing.eps")
    eps, err = m["pairing.eps"].to_numpy(float), m["l2_error"].to_numpy(float)
    plot_rate(axes[0], eps, err, fit_rate(eps, err), label="MF^ε vs MF", xlabel="ε")
    axes[0].set_ylabel("discrete L² error")
    for ax, name, label in ((axes[1], "sde_mf", "SDE_n replicas"), (axes[2], "rw_mfeps", "RW_n^ε replicas (vs MF^ε)")):
        d = _bl_per_task(tables[name])
        plot_rate(ax, d["n"], d["value"], _bl_rate(tables[name]).fit, label=label, xlabel="n",
                  floors=floor_curves(d, "n"), ylabel="dual BL (sum convention)")
        ax.set_title("dashed: sampling floor" + (", dash-dot: discretisation floor" if name == "sde_mf" else
                                                 " (MF^ε: no grid to refine)"), fontsize=8)
    laws = _wide(tables["laws"], "measured").sort_values("pairing.eps")
    for col, mark, label in (("one_particle_l2", "o", "one particle"), ("pair_l2", "s", "± pair (z)")):
        f = fit_rate(laws["pairing.eps"].to_numpy(float), laws[col].to_numpy(float))
        axes[3].loglog(laws["pairing.eps"], laws[col], mark, label=f"{label}, slope {f.slope:.3f}")
    axes[3].set_xlabel("ε")
    axes[3].set_ylabel("‖p_ε − p‖ (RW vs SDE laws)")
    axes[3].legend()
    paths = [str(io.save_figure(fig, outdir / "dislocations_rate.png", dpi=110))]

    model = Dislocations2D(**MODEL)
    c_v = dc.kernel_constant(model)[0]
    fig = Figure(figsize=(10, 8), layout="constrained")
    axes = fig.subplots(2, 2).ravel()
    sde = _wide(tables["coupling_sde"], "pathwise_distance").rename(columns={"": "d"})
    keys, mean, se = _means(sde, "n", "d")
    plot_rate(axes[0], sde["n"], sde["d"], fit_rate(sde["n"].to_numpy(float), sde["d"].to_numpy(float)),
              label="SDE_n vs McKean–Vlasov", xlabel="n")
    axes[0].loglog(keys, dc.lemma42_bound(c_v, model.delta, T_END, keys), "k--", label="Lemma 4.2 bound")
    rw = _wide(tables["coupling_rw"], "pathwise_distance").rename(columns={"": "d"})
    keys, mean, se = _means(rw, "n", "d")
    axes[0].errorbar(keys, mean, 2 * se, fmt="s", label="RW_n^ε vs MF^ε walkers (ε = 1/16)")
    axes[0].loglog(keys, dc.lemma52_bound(c_v, model.delta, model.beta, EPS_COUPLING, T_END, keys), "k:",
                   label="Lemma 5.2 bound (proof's constants)")
    axes[0].set_ylabel("(1/n) E Σ|X_i − X̄_i|(t)")
    axes[0].legend(fontsize=7)
    u = _wide(tables["coupling_rw_eps"], "pathwise_distance").rename(columns={"": "d"})
    e, mean, se = _means(u, "pairing.eps", "d")
    axes[1].errorbar(e, mean, 2 * se, fmt="o", label=f"n = {N_UNIFORM}")
    _, clock, _ = _means(_wide(tables["coupling_rw_eps"], "clocks"), "pairing.eps", "clock_bound")
    axes[1].plot(e, clock, "^", label="(1/n) Σ_h ε|τ^h − τ̄^h| (proof's bound)")
    axes[1].set_xscale("log")
    axes[1].set_yscale("log")
    axes[1].set_xlabel("ε")
    axes[1].set_title("Lemma 5.2: uniform in ε", fontsize=9)
    axes[1].legend(fontsize=7)
    rows = _wide(tables["direct"], "measured")
    inf = _wide(tables["direct_limit"], "measured")
    (a, b), _, _ = direct_fit(rows)
    ax = axes[2]
    for eps in size["direct_eps"]:
        sel = rows[np.isclose(rows["pairing.eps"], eps)]
        line = ax.loglog(sel["pairing.size"], sel["bl_sum"], "o", label=f"ε = 1/{round(1 / eps)}")
        ns = np.geomspace(sel["pairing.size"].min(), sel["pairing.size"].max(), 30)
        ax.loglog(ns, a * eps + b / np.sqrt(ns), "-", color=line[0].get_color())
        ax.axhline(float(inf[np.isclose(inf["pairing.eps"], eps)]["bl_sum_n_infinity"].iloc[0]),
                   color=line[0].get_color(), ls=":", lw=0.8)
        means = sel.assign(ref_gap=np.abs(sel["bl_sum"] - sel["bl_sum_coarse_reference"])).groupby("pairing.size")
        if "bl_sum_iid_mfeps" in sel:  # the sampling floor: n i.i.d. walkers from MF^ε
            ax.loglog(sel["pairing.size"], sel["bl_sum_iid_mfeps"], "x", color=line[0].get_color())
            iid = means["bl_sum_iid_mfeps"].mean()
            ax.loglog(iid.index, iid.to_numpy(), color=line[0].get_color(), lw=1.2,
                      linestyle=FLOOR_STYLES["sampling floor"])
        gap = means["ref_gap"].mean()  # the reference's floor, over-estimated by the coarser reference
        ax.loglog(gap.index, gap.to_numpy(), color=line[0].get_color(), lw=1.2,
                  linestyle=FLOOR_STYLES["discretisation floor"])
    ax.set_xlabel("n")
    ax.set_ylabel("Σ_± dual BL (sum) to MF")
    ax.set_title(f"RW_n^ε vs MF: fit {a:.3f}ε + {b:.3f}/√n (lines); n = ∞ dotted;\n× and dashed: i.i.d. sampling "
                 f"floor; dash-dot: |D_{fine} − D_{coarse}| (discretisation floor)", fontsize=7)
    ax.legend(fontsize=7)
    bump = _wide(tables["bump"], "measured").sort_values("pairing.eps")
    eb, errb = bump["pairing.eps"].to_numpy(float), bump["l2_error"].to_numpy(float)
    plot_rate(axes[3], eb, errb, fit_rate(eb, errb), label="bump mollifier: MF^ε vs MF", xlabel="ε")
    axes[3].set_ylabel("discrete L² error")
    paths.append(str(io.save_figure(fig, outdir / "dislocations_couplings.png", dpi=110)))
    return paths


def data_files(declared: dict, tables: dict, quick: bool, outdir: pathlib.Path) -> list:
    """``dislocations_studies.csv``: every study's tidy table, with a ``study`` column."""
    from meanfield import io

    tidy = pd.concat([t.assign(study=name) for name, t in tables.items()], ignore_index=True)
    return [str(io.save_table(tidy, outdir / "dislocations_studies.csv"))]


def notes(declared: dict, quick: bool) -> str:
    """The sizes and settings stated under the paper's table."""
    size = sizes(quick)
    return (f"reference: spectral MF on {size['mf_reference']}²; pair law reference {size['law_reference']}²; "
            f"studies: {', '.join(declared)}")


run = paper_runner(__name__)
