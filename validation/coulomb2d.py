"""Validation of model 000 (signed Coulomb charges, van Meurs-Peletier-Slangen), as studies.

The checks are declared as :class:`meanfield.study.Study` values (:func:`studies`) and the claims
are computed from their tables (:func:`claims`); everything runs through
:func:`meanfield.study.run_studies`, so ``run(..., workers=k | executor=client, store=folder)``
runs on local processes or a dask cluster and a killed run resumes from its store.

* ``meanfield``: mean-field convergence (Thm 5.4; no rate in the paper): with gamma = gamma_bar / N
  and sigma^2 > 2 gamma_bar, the per-species empirical measures approach the PDE solution (1.3)
  (diffusion sigma^2/2, docs/theory/000-signed-coulomb.md). W1 and BL ("max" convention; for
  probability measures whose optimal plan moves no mass farther than 2 the two coincide) between
  the *normalised* species measures and the spectral PDE solution at t_end (pairing
  :class:`NormalisedSpecies`), across N and seeds; fitted rate with 95% CI. Expected: the 2-D
  sampling floor N^{-1/2} (up to logs), band [-0.7, -0.3] for the slope. The observer
  ``second_moment`` of the PDE run gives claim 2.
* claim 2, PDE second-moment law d/dt int|x|^2 Sigma = 2 sigma^2 m + gamma_bar (m+ - m-)^2 (theory
  page 000) of the spectral solver: relative error < 1e-3 (an exact law, read off the ``meanfield``
  study's reference run).
* ``solvers``: spectral and finite-volume solvers agree (L1 gap < 2e-2 at the resolution of the
  reference) — a direct computation declared as a study (:class:`meanfield.validation.computations.Computation`).
* ``orders``: measured spatial orders of the two solvers against a fine spectral reference (block
  averages of cell values): FV slope in [0.8, 1.5], spectral slope >= 2 with errors below FV's
  (:func:`solver_errors`, a direct computation declared as a study).
* Particle runs use the multirate close-pair rule (``step="multirate"``: Euler-Maruyama at the base
  step, substeps for close pairs only; :mod:`meanfield.particles.multirate_step`), the default from
  1024 particles.
* ``pair_collision`` and ``spread``: exact particle facts (paper §2.3 eq. (2.6) and §4 eq. (4.26)
  with I = all particles; theory page 000, V5), Monte Carlo with the SDE solver, one study seed per
  sample path, each within 3.5 standard errors of the exact value: the collision probability of an
  isolated +- pair before t, Q(a, |D_0|^2 / (4 sigma^2 t)), a = gamma / sigma^2; and the mean of the
  spread process R = sigma^-2 sum |X^i - Xbar|^2 of a mean-field system, a squared Bessel process,
  E R_t = R_0 + dim t.

Species masses: the distances compare the species measures normalised to probability measures on
both sides (the shapes, as the paper's rates are stated per species). The particles weigh m_+-/N_+- each
(model 000's species weights), so each species carries exactly m_+- even when the counts
N_+- = round(m_+- N) are rounded, and W1 with and without the normalisation differ by the factor m_+-
exactly. For the runs declared here (m_+- = 1/2, N = 2^k) the weights are the paper's 1/N.

Seeding: each task's generator is ``SeedSequence([seed, crc32(parameters)])`` (one generator for the
sampling and the SDE): the numbers do not depend on the executor (they differ from the hand-written
module of before, which seeded the sampling with ``seed`` and the SDE with ``10000 + seed``).

--quick: N = 2^6..2^9, 2 seeds. --full: N = 2^6..2^13, 5 seeds, 96^2 PDE grid; the exact W1 and BL
transport problems dominate (minutes per (N, seed) at N = 2^13); N >= 8192 uses the FMM forces when
pyfmmlib is installed. Grid densities enter the metrics as atoms at cell centres: at N = 512 this
moves W1 by +3 % (0.1119 vs 0.1084 with 3x3 sub-cells), so the fitted slope is barely affected.
``MEANFIELD_VALIDATION_SIZE=tiny`` shrinks every size (tests only).
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from meanfield.measures import EmpiricalMeasure, GridDensity
from meanfield.observers import Observer
from meanfield.pairings import Pairing, ParticlesFrom, positive_part
from meanfield.rates import fit_rate
from meanfield.study import Study, distances
from meanfield.validation.claims import Claim
from meanfield.validation.computations import Computation, DatasetValue, Recorded
from meanfield.validation.rate_fits import floored_fit, summed_floors
from meanfield.validation.runner import paper_runner
from meanfield.validation.sizes import chosen_sizes, time_index

MODEL = dict(sigma=1.0, gamma_bar=0.4, mass_plus=0.5, mass_minus=0.5, centre_plus=(-0.4, 0.0),
             centre_minus=(0.4, 0.0), width=0.4)
T_END = 0.1
STEPS = 32  # the spectral solver's fixed step is T_END / STEPS
# the isolated pair of claim 7: sigma = 1, gamma = 0.4 (a = 0.4 < 1/2, the paper's regime), |D_0| = 1
PAIR_MODEL = dict(sigma=1.0, gamma=0.4, gamma_bar=0.1)
PAIR_T, PAIR_D0 = 0.25, 1.0
PAIR_KWARGS = dict(dt=5e-3, dt_min_fraction=1e-4, resolve_noise=True, collision_radius=0.02 * PAIR_D0, force="direct",
                   step="multirate")
# every particle run uses the multirate close-pair rule (meanfield/particles/multirate_step.py)
STEP = {"step": "multirate"}
SPREAD_N, SPREAD_T, SPREAD_START_SEED = 32, 0.1, 0
PAPER, TITLE = "000", "Signed Coulomb charges in R^2: mean-field limit"
SIZES = {
    "quick": {"ns": [2**k for k in range(6, 10)], "seeds": 2, "resolution": 64, "tail": 6.0,
              "order_ns": [24, 48], "order_ref": 96, "pair_runs": 600, "spread_runs": 300,
              "floors": ["sampling"]},
    "full": {"ns": [2**k for k in range(6, 14)], "seeds": 5, "resolution": 96, "tail": 4.0,
             "order_ns": [24, 48, 96], "order_ref": 192, "pair_runs": 4000, "spread_runs": 2000,
             "floors": "auto"},
    "tiny": {"ns": [16, 32], "seeds": 2, "resolution": 48, "tail": 6.0,  # tests only
             "order_ns": [16, 32], "order_ref": 64, "pair_runs": 20, "spread_runs": 20, "floors": "auto"},
}
# Floors of the ``meanfield`` study (meanfield.floors): the sampling floor always; the discretisation floor
# (the 64² reference against the 128² one averaged onto its cells) only in --full: it is two exact transport
# problems per metric between 64² grid measures, measured at 7.4e-5 (W1) and 7.4e-5 (BL) per species at
# N-independent cost ~15 min on the loaded 2-core machine, far below the distances (~1e-2).
FIGURE_N = 512  # particles shown in the figure (remade after the study; the top N of --full is too costly)


def sizes(quick: bool) -> dict:
    """The sizes of a quick or full run (``MEANFIELD_VALIDATION_SIZE=tiny`` for tests)."""
    return chosen_sizes(SIZES, quick)


# --- the pairing of the mean-field study --------------------------------------------------------------------
def _normalised(mu):
    """``mu`` rescaled to a probability measure (empirical measure or grid density)."""
    if isinstance(mu, EmpiricalMeasure):
        return EmpiricalMeasure(mu.positions, mu.weights / mu.weights.sum(), mu.domain)
    return GridDensity(mu.values / mu.grid.integrate(mu.values), mu.grid)


@dataclass(frozen=True)
class NormalisedSpecies(Pairing):
    """Particles vs the continuum species by species, both sides normalised to probability measures.

    Sample: ``sample_particles`` then ``simulate_particles`` (the default). Reference:
    ``solve_continuum`` on ``model.default_grid(resolution, t_end, tail)`` (``resolution`` from the
    continuum keywords, default 128). The reference density's round-off negative part (the
    pseudo-spectral far field, ~1e-12 of the mass) is dropped by :func:`meanfield.pairings.positive_part`
    (the package's one tolerance) before normalising. Normalising both sides compares the shapes
    ``L^{N,+-} / L^{N,+-}(R^2)`` and ``rho^+- / m_+-`` (the particle species carry their masses ``m_+-``
    exactly, so this divides W1 by ``m_+-``).
    """

    tail: float = 6.0
    reserved: ClassVar[dict] = {"continuum": {"grid"}}

    def check(self, model_cls, owner):
        if isinstance(self.tail, bool) or not isinstance(self.tail, (int, float)) or not self.tail > 0:
            raise ValueError("NormalisedSpecies.tail must be a positive number of standard deviations, "
                             f"got {self.tail!r}")

    def reference(self, model, settings, t_end, times):
        kwargs = dict(settings["continuum"])
        grid = model.default_grid(kwargs.pop("resolution", 128), t_end, tail=self.tail)
        return model.solve_continuum(t_end, times, grid=grid, **kwargs)

    def measures(self, model, sample, reference, t):
        parts, dens = sample.measure(t), reference.measure(t)
        return {s: (_normalised(parts[s]) if s in parts else None, _normalised(positive_part(dens[s])))
                for s in model.species}


# --- observers and direct computations (module level: pickled to worker processes) -------------------------
def integration(traj, t):
    """Steps and capped steps of the particle integration (recorded at the last output time)."""
    if t != traj.times[-1]:
        return None
    return {"steps": traj.info["steps"], "capped_steps": traj.info["capped_steps"]}


def isolated_pair(model, n, rng):
    """A + charge at the origin and a - charge at distance |D_0| (deterministic start)."""
    return np.array([[0.0, 0.0], [PAIR_D0, 0.0]]), np.array([1.0, -1.0])


def collided(traj, t) -> float:
    """1 if the pair came within the collision radius before ``t``, else 0."""
    return float(traj.info["first_collision_time"] <= t)


def spread_start(model, n, rng):
    """The fixed start of the spread Monte Carlo: ``sample_particles(n, rng=SPREAD_START_SEED)``."""
    return model.sample_particles(n, rng=SPREAD_START_SEED)


@dataclass(frozen=True)
class SpreadProcess(Observer):
    """R = sigma^-2 sum |X^i - Xbar|^2 and the squared Bessel dimension of eq. (4.26) (I = all)."""

    name: str = "spread"
    on: str = "sample"

    def observe(self, model, run, t):
        k = time_index(run.times, t)
        y = np.asarray(run.positions[k])
        labels = np.asarray(run.species[k])
        n_plus = int((labels == "+").sum())
        return {"R": float(((y - y.mean(0)) ** 2).sum() / model.sigma**2),
                "dimension": model.spread_dimension(n_plus, labels.size - n_plus)}


def solver_gap(model, rng, resolution, tail, steps):
    """L1 gap between the spectral (ETD2RK, dt = t/steps) and the upwind FV solutions at ``T_END``,
    both species, on ``model.default_grid(resolution, T_END, tail)``."""
    grid = model.default_grid(resolution, T_END, tail=tail)
    sp = model.solve_continuum(T_END, [0.0, T_END], grid=grid, dt=T_END / steps)["density"].values[-1]
    fv = model.solve_continuum(T_END, [0.0, T_END], grid=grid, scheme="finite_volume")["density"].values[-1]
    return {"l1_gap": float(np.abs(fv - sp).sum() * grid.cell_volume)}


def solver_errors(model, ns, n_ref, t_end):
    """L1 errors of the spectral and FV solutions on grids ``ns`` against the spectral solution on
    ``n_ref`` (same box), restricted by block averages (grid values are cell averages).
    Returns ``(spacings, spectral errors, FV errors)``."""
    def block(a, f):
        s = a.shape
        return a.reshape(s[0], s[1] // f, f, s[2] // f, f).mean(axis=(2, 4))

    gref = model.default_grid(n_ref, t_end)
    ref = model.solve_continuum(t_end, grid=gref, dt=t_end / 32)["density"].values[-1]
    hs, e_sp, e_fv = [], [], []
    for n in ns:
        g = model.default_grid(n, t_end)
        target = block(ref, n_ref // n)
        sp = model.solve_continuum(t_end, grid=g, dt=t_end / 32)["density"].values[-1]
        fv = model.solve_continuum(t_end, grid=g, scheme="finite_volume")["density"].values[-1]
        hs.append(g.spacing[0])
        e_sp.append(float(np.abs(sp - target).sum() * g.cell_volume))
        e_fv.append(float(np.abs(fv - target).sum() * g.cell_volume))
    return hs, e_sp, e_fv


def solver_orders(model, rng, ns, n_ref):
    """:func:`solver_errors` at ``T_END`` as a Computation's result."""
    hs, e_sp, e_fv = solver_errors(model, ns, n_ref, T_END)
    return {"h": np.array(hs), "spectral": np.array(e_sp), "finite_volume": np.array(e_fv)}


# --- the studies ---------------------------------------------------------------------------------------------
def studies(quick: bool = True) -> dict:
    """Every study of this validation, by name (see the module docstring)."""
    size = sizes(quick)
    return {
        "meanfield": Study(
            "SignedCoulomb2D", {"n": size["ns"]}, T_END, [0.0, T_END], compare_times=[T_END],
            seeds=list(range(size["seeds"])), metrics=["W1", "BL"], model_params=MODEL,
            continuum_kwargs={"resolution": size["resolution"], "dt": T_END / STEPS}, particle_kwargs=STEP,
            pairing=NormalisedSpecies(tail=size["tail"]), floors=size["floors"],
            observers=[DatasetValue("second_moment"), Observer("integration", integration)]),
        "solvers": Study(
            "SignedCoulomb2D", {"pairing.args": [{"resolution": size["resolution"], "tail": size["tail"],
                                                  "steps": STEPS}]},
            T_END, metrics=[], model_params=MODEL, pairing=Computation(solver_gap), observers=[Recorded()]),
        "orders": Study(
            "SignedCoulomb2D", {"pairing.args": [{"ns": size["order_ns"], "n_ref": size["order_ref"]}]},
            T_END, metrics=[], model_params=MODEL, pairing=Computation(solver_orders), observers=[Recorded()]),
        "pair_collision": Study(
            "SignedCoulomb2D", {"n": [2]}, PAIR_T, [PAIR_T], seeds=list(range(size["pair_runs"])), metrics=[],
            model_params=PAIR_MODEL, particle_kwargs=PAIR_KWARGS, pairing=ParticlesFrom(isolated_pair),
            observers=[Observer("collided", collided)]),
        "spread": Study(
            "SignedCoulomb2D", {"n": [SPREAD_N]}, SPREAD_T, [0.0, SPREAD_T], seeds=list(range(size["spread_runs"])),
            metrics=[], model_params=MODEL, particle_kwargs={"dt": SPREAD_T / 50, **STEP},
            pairing=ParticlesFrom(spread_start),
            observers=[SpreadProcess()]),
    }


# --- claims from the tables ----------------------------------------------------------------------------------
def _obs(table, metric, run, species="") -> pd.DataFrame:
    sel = (table["metric"] == metric) & (table["run"] == run) & (table["species"] == species)
    return table[sel]


def per_run(table) -> pd.DataFrame:
    """One row per (n, seed): W1 and BL per species at t_end and the particle integration's steps."""
    d = distances(table)
    d = d[d["time"] == T_END].pivot_table(index=["n", "seed"], columns=["metric", "species"], values="value")
    out = pd.DataFrame({f"{m.lower()}_{s}": d[(m, s)] for m in ("W1", "BL") for s in ("+", "-")})
    for name in ("steps", "capped_steps"):
        out[name] = _obs(table, "integration", "sample", name).set_index(["n", "seed"])["value"].astype(int)
    return out.reset_index()


def species_mean(table, metric) -> pd.DataFrame:
    """Per (n, seed) at ``T_END``: the mean over the two species of ``metric`` and of its floors."""
    return summed_floors(table, ["n", "seed"], ("+", "-"), metric, time=T_END, scale=0.5)


def _species_mean_fit(table, metric):
    """The rate in N of :func:`species_mean` with the floors' rule
    (:func:`~meanfield.validation.rate_fits.floored_fit`)."""
    rows = species_mean(table, metric)
    return floored_fit(rows["n"], rows["value"], rows.get("sampling_floor"), rows.get("discretisation_floor"),
                       x_name="N")


def _recorded(table, name) -> np.ndarray:
    rows = _obs(table, "value", "sample", name)
    if len(rows):
        return rows["value"].to_numpy(float)
    rows = table[(table["run"] == "sample") & (table["species"] == name)]
    return rows.sort_values("metric", key=lambda m: m.str.extract(r"(\d+)")[0].astype(int))["value"].to_numpy(float)


def claims(tables: dict, quick: bool = True) -> list:
    """The eight claims, computed from the studies' tables."""
    from scipy.special import gammaincc

    from meanfield.models.coulomb2d import SignedCoulomb2D

    model = SignedCoulomb2D(**MODEL)
    fits = {metric: _species_mean_fit(tables["meanfield"], metric) for metric in ("W1", "BL")}
    out = [Claim.within("meanfield_rate_w1",
                        "W1(L^{N,+-}, rho^+-) (mean of the species) decays in N (Thm 5.4), at the 2-D sampling "
                        "rate N^-1/2 (paper: convergence, no rate; the band is ours)",
                        fits["W1"].slope, (-0.7, -0.3), "Thm 5.4; theory page 000", fits["W1"].describe()),
           Claim.within("meanfield_rate_bl", "BL distance (mean of the species) decays in N (paper: no rate; band "
                        "ours)", fits["BL"].slope, (-0.7, -0.3), "Thm 5.4", fits["BL"].describe())]
    m2 = _obs(tables["meanfield"], "second_moment", "reference")
    m2 = m2[(m2["n"] == m2["n"].iloc[0]) & (m2["seed"] == m2["seed"].iloc[0])].sort_values("time")["value"].to_numpy()
    rate = (m2[-1] - m2[0]) / T_END
    rel = abs(rate / model.second_moment_rate() - 1)
    out.append(Claim.within("pde_second_moment_law", "d/dt int|x|^2 Sigma = 2 sigma^2 m + gamma_bar (m+ - m-)^2",
                            rel, (0.0, 1e-3), "theory page of paper 000", f"relative error {rel:.2e}",
                            closed=(True, False)))
    gap = float(_recorded(tables["solvers"], "l1_gap")[0])
    out.append(Claim.within("solvers_agree", "spectral ETD2RK and upwind FV agree", gap, (0.0, 2e-2),
                            "ours: cross-check", f"L1 gap {gap:.2e}", closed=(True, False)))
    hs, e_sp, e_fv = (_recorded(tables["orders"], k) for k in ("h", "spectral", "finite_volume"))
    f_sp, f_fv = fit_rate(hs, e_sp), fit_rate(hs, e_fv)
    out.append(Claim.within("fv_order", "upwind FV converges at first order in h (L1, vs fine spectral reference)",
                            f_fv.slope, (0.8, 1.5), "ours: cross-check",
                            f"slope {f_fv}; errors {', '.join(f'{e:.2e}' for e in e_fv)}"))
    below = bool(all(a < b for a, b in zip(e_sp, e_fv, strict=True)))
    order = Claim.at_least("spectral_order",
                           "spectral ETD2RK converges at least at second order in h (L1), below the FV error",
                           f_sp.slope, 2.0, "ours: cross-check",
                           f"slope {f_sp}; errors {', '.join(f'{e:.2e}' for e in e_sp)}"
                           + ("" if below else " (NOT below the FV errors)"))
    order.passed = below  # compound: the slope in its band and every spectral error below the FV one
    out.append(order)

    hits = _obs(tables["pair_collision"], "collided", "sample")["value"].to_numpy(float)
    p_mc = float(hits.mean())
    sigma, gamma = PAIR_MODEL["sigma"], PAIR_MODEL["gamma"]
    p_exact = float(gammaincc(gamma / sigma**2, PAIR_D0**2 / (4 * sigma**2 * PAIR_T)))
    p_se = float(np.sqrt(p_exact * (1 - p_exact) / hits.size))
    z = (p_mc - p_exact) / p_se
    out.append(Claim.within("pair_collision_probability",
                            "isolated +- pair: P(collision before t) = Q(gamma/sigma^2, |D0|^2/(4 sigma^2 t))", z,
                            (-3.5, 3.5), "paper (2.6); theory page of paper 000",
                            f"Monte Carlo {p_mc:.4f} vs exact {p_exact:.4f} (se {p_se:.4f}, z = {z:+.2f})",
                            closed=(False, False)))
    spread = tables["spread"]
    r = _obs(spread, "spread", "sample", "R").pivot_table(index="seed", columns="time", values="value")
    inc = (r[SPREAD_T] - r[0.0]).to_numpy()
    dims = _obs(spread, "spread", "sample", "dimension")["value"].unique()
    if dims.size != 1:
        raise ValueError(f"the spread runs must share one start (one Bessel dimension), got {dims}")
    r_mc, r_exact, r_se = float(inc.mean()), float(dims[0]) * SPREAD_T, float(inc.std(ddof=1) / np.sqrt(inc.size))
    z = (r_mc - r_exact) / r_se
    out.append(Claim.within("spread_process_besq",
                            f"N={SPREAD_N}, gamma=gamma_bar/N: E[R_t - R_0] = dim t for the squared Bessel spread "
                            "process", z, (-3.5, 3.5), "paper (4.26), I = all; theory page of paper 000",
                            f"Monte Carlo {r_mc:.4f} vs exact {r_exact:.4f} (se {r_se:.4f}, z = {z:+.2f})",
                            closed=(False, False)))
    return out


# --- figures and data ----------------------------------------------------------------------------------------
def figures(declared: dict, tables: dict, quick: bool, outdir: pathlib.Path) -> list:
    from matplotlib.figure import Figure

    from meanfield import io
    from meanfield.plot import plot_rate
    from meanfield.study import floor_curves

    study, size = declared["meanfield"], sizes(quick)
    n_fig = min(FIGURE_N, size["ns"][-1])
    seed = study.seeds[-1]
    sol = study.reference({"n": n_fig})
    traj = study.sample({"n": n_fig}, seed)
    grid = sol.measure(T_END)["+"].grid
    fig = Figure(figsize=(13, 4), layout="constrained")
    ax = fig.subplots(1, 3)
    X, Y = grid.mesh()
    dens = sol.measure(T_END)
    pos = traj.positions[-1]
    lab = np.asarray(traj.species[-1])
    for k, (s, c) in enumerate((("+", "Reds"), ("-", "Blues"))):
        ax[k].contourf(X, Y, dens[s].values, levels=12, cmap=c)
        sel = lab == s
        ax[k].scatter(pos[sel, 0], pos[sel, 1], s=2, c="k", alpha=0.5)
        ax[k].set_title(f"rho^{s} at t={T_END} and N={pos.shape[0]} particles (seed {seed})")
        ax[k].set_xlim(-2.5, 2.5)
        ax[k].set_ylim(-2.5, 2.5)
        ax[k].set_aspect("equal")
    for metric in ("W1", "BL"):
        rows = species_mean(tables["meanfield"], metric)
        plot_rate(ax[2], rows["n"], rows["value"], _species_mean_fit(tables["meanfield"], metric).fit,
                  label=f"{metric} (mean of species)", xlabel="N", floors=floor_curves(rows, "n"), ylabel="distance")
    disc = "discretisation_floor" in distances(tables["meanfield"]).columns
    ax[2].set_title("dashed: sampling floor" + (", dash-dot: discretisation floor" if disc else
                                                "; discretisation floor: --full only"), fontsize=8)
    return [str(io.save_figure(fig, outdir / "coulomb2d_meanfield.png", dpi=90))]


def data_files(declared: dict, tables: dict, quick: bool, outdir: pathlib.Path) -> list:
    """``coulomb2d_meanfield.csv`` (per N and seed: W1, BL per species, integration steps) and
    ``coulomb2d_studies.csv`` (every study's tidy table, with a ``study`` column)."""
    from meanfield import io

    tidy = pd.concat([t.assign(study=name) for name, t in tables.items()], ignore_index=True)
    return [str(io.save_table(per_run(tables["meanfield"]), outdir / "coulomb2d_meanfield.csv")),
            str(io.save_table(tidy, outdir / "coulomb2d_studies.csv"))]


def notes(declared: dict, quick: bool) -> str:
    """The sizes and settings stated under the paper's table."""
    from meanfield.particles.coulomb_forces import resolve_force

    size = sizes(quick)
    return (f"quick={quick}, N in {size['ns']}, seeds {size['seeds']}, t_end={T_END}, PDE grid "
            f"{size['resolution']}^2 (tail {size['tail']} sd), particle forces at N={size['ns'][-1]}: "
            f"{resolve_force('auto', size['ns'][-1])}; Monte Carlo: {size['pair_runs']} pair runs, "
            f"{size['spread_runs']} spread runs; studies: {', '.join(declared)}")


run = paper_runner(__name__)
