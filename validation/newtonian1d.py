"""Validation of model 002 (Di Francesco-Esposito-Schmidtchen, two species, N(x) = |x|), as studies.

The paper proves convergence of the particle system to system (5) without a rate (Thm 5.1) and
has no numerical experiments. The checks are declared as :class:`meanfield.study.Study` values
(:func:`studies`) and the claims are computed from their tables (:func:`claims`):

* ``rates_<case>``: particles (midpoint atomisation x_i = X_0((i - 1/2)/N), exact event-driven
  dynamics) against the quantile-flow solution (M mass cells) in W1, W2 and the bounded-Lipschitz
  norm at t = 0.25, 0.5, 1, summed over the two species, N = 2^4 .. 2^10 (quick) or 2^4 .. 2^12
  (full), for separated and overlapping initial data; a fitted rate with a 95 % CI for every
  metric and time. With midpoint atomisation the particles follow the characteristics of the
  continuum exactly until contact, so the expected rate is N^-1. Observers record along 41 times in
  [0, 1]: the energy ∫(F - H)² of both runs (the energy (24) on the cone; (6) is its gradient flow,
  so it never increases, and the particle energy is the continuum one of the empirical measures),
  the total centre of mass Σ x_i/N + Σ y_j/N (conserved exactly: the pairwise forces are odd), and
  the centres of mass per species;
* ``fv_<case>``: the two continuum solvers agree (upwind finite volume on M/4 cells vs the quantile
  flow) within twice the finite-volume cell at t = 1 (the scheme is first order);
* ``ghosts_<case>``: Props 5.1-5.3: with the paper's atomisation (65) and the ghost particles that
  close the reconstructions (66)-(67), Φ_2 = ‖ρ~^N‖_2² + ‖η~^N‖_2² never increases, and Φ_2(0) ≤
  ‖ρ_0‖_2² + ‖η_0‖_2² (= 2 for these data);
* ``exact``: for separated uniform data before contact (t < gap/4) the solution is explicit: ρ(t)
  is uniform on [0, 1 + 2t], and the midpoint particles sit at its (i - 1/2)/N quantiles, so
  W1(ρ^N, ρ) = (1 + 2t)/(4N) exactly.

Metrics: ``meanfield.metrics.wasserstein`` (exact in 1-D) and ``bounded_lipschitz`` ("max").
``run(..., workers=k | executor=client, store=folder)`` passes execution to the studies: the tables,
and so the report, do not depend on it, and a run killed while writing into ``store`` resumes.
The environment variable ``MEANFIELD_VALIDATION_SIZE=tiny`` shrinks every size (for tests only).
"""

from __future__ import annotations

import pathlib

import numpy as np
import pandas as pd

from meanfield.measures import IntervalDensity1D
from meanfield.models.base import Trajectory
from meanfield.models.newtonian1d import reconstruction_lm_power
from meanfield.observers import CentreOfMass, Observer
from meanfield.pairings import ContinuumVsContinuum, ParticlesOnly, ParticleVsExact
from meanfield.study import Study, distances
from meanfield.validation.claims import Claim
from meanfield.validation.rate_fits import floored_fit, summed_floors
from meanfield.validation.runner import paper_runner
from meanfield.validation.sizes import chosen_sizes, time_index

CASES = {
    "overlapping": dict(rho_support=(0.0, 1.0), eta_support=(0.5, 1.5)),
    "separated": dict(rho_support=(0.0, 1.0), eta_support=(1.5, 2.5)),
}
TIMES = [0.25, 0.5, 1.0]
CURVE_TIMES = [k / 40.0 for k in range(41)]  # energy / centre-of-mass curves; contains TIMES exactly
GHOST_TIMES = [float(t) for t in np.linspace(0.0, 1.0, 101)]
METRICS = ["W1", "W2", "BL"]
SIZES = {
    "quick": {"ns": [2**k for k in range(4, 11)], "resolution": 2048},
    "full": {"ns": [2**k for k in range(4, 13)], "resolution": 8192},
    "tiny": {"ns": [16, 32, 64], "resolution": 256},  # tests only (MEANFIELD_VALIDATION_SIZE=tiny)
}
EXACT_N, EXACT_T = 256, 0.1
RATE_BAND = (-1.1, -0.9)
PAPER, TITLE = "002", "Di Francesco-Esposito-Schmidtchen: two species, 1D Newtonian potential"


def sizes(quick: bool) -> dict:
    """The sizes of a quick or full run (``MEANFIELD_VALIDATION_SIZE=tiny`` for tests)."""
    return chosen_sizes(SIZES, quick)


# --- observers (module-level functions: they are pickled to worker processes) ------------------------------
_index = time_index


def energy(run, t) -> float:
    """∫(F - H)² dx: the particles' energy (24) from the trajectory, or the continuum run's energy."""
    if isinstance(run, Trajectory):
        return float(run.info["energy"][_index(run.times, t)])
    return float(run.energy.values[_index(run.time.values, t)])


def total_centre_of_mass(traj, t) -> float:
    """Σ x_i/N + Σ y_j/N (first moment of ρ^N + η^N; each species has mass 1)."""
    k = _index(traj.times, t)
    x, y = traj.info["x"][k], traj.info["y"][k]
    return float(x.sum() / x.size + y.sum() / y.size)


def phi_2(traj, t) -> float:
    """Φ_2 = ‖ρ~^N‖_2² + ‖η~^N‖_2² of the reconstructions (66)-(67), ghosts included."""
    k = _index(traj.times, t)
    xg = np.concatenate([[traj.info["x_ghost"][k]], traj.info["x"][k]])
    yg = np.concatenate([[traj.info["y_ghost"][k]], traj.info["y"][k]])
    return float(reconstruction_lm_power(xg, 2.0) + reconstruction_lm_power(yg, 2.0))


def separated_rho(model, t):
    """Separated uniform data before contact: ρ(t) = uniform on [a, b + 2t] (explicit solution)."""
    a, b = model.supports["rho"]
    return {"rho": IntervalDensity1D([a, b + 2 * t], [1.0])}


# --- the studies ---------------------------------------------------------------------------------------------
def studies(quick: bool = True) -> dict:
    """Every study of this validation, by name (see the module docstring)."""
    size = sizes(quick)
    ns, m_ref = size["ns"], size["resolution"]
    out = {}
    for case, supports in CASES.items():
        out[f"rates_{case}"] = Study(
            "Newtonian1D", {"n": ns}, 1.0, CURVE_TIMES, compare_times=TIMES, seeds=[0], metrics=METRICS,
            model_params=supports, sample_kwargs={"sampling": "midpoint"}, particle_kwargs={"record_events": False},
            continuum_kwargs={"resolution": m_ref, "scheme": "quantile"},
            observers=[Observer("energy", energy, on="both"), Observer("total_centre_of_mass", total_centre_of_mass),
                       CentreOfMass(on="both")])
        out[f"fv_{case}"] = Study(
            "Newtonian1D", {"continuum.resolution": [m_ref]}, 1.0, TIMES, compare_times=[1.0], metrics=["W1"],
            model_params=supports, continuum_kwargs={"scheme": "quantile"},
            pairing=ContinuumVsContinuum({"scheme": "finite_volume", "resolution": m_ref // 4}))
        out[f"ghosts_{case}"] = Study(
            "Newtonian1D", {"n": [ns[-1] // 4]}, 1.0, GHOST_TIMES, metrics=[], model_params=supports,
            sample_kwargs={"sampling": "paper"}, particle_kwargs={"record_events": False, "ghosts": "support"},
            pairing=ParticlesOnly(), observers=[Observer("phi_2", phi_2)])
    out["exact"] = Study(
        "Newtonian1D", {"n": [EXACT_N]}, EXACT_T, [EXACT_T], metrics=["W1"], model_params=CASES["separated"],
        pairing=ParticleVsExact(separated_rho))
    return out


# --- claims from the tables ----------------------------------------------------------------------------------
def _series(table, metric, run, species="", n=None) -> np.ndarray:
    sel = (table["metric"] == metric) & (table["run"] == run) & (table["species"] == species)
    if n is not None:
        sel &= table["n"] == n
    return table[sel].sort_values("time")["value"].to_numpy(float)


def species_sums(table) -> pd.DataFrame:
    """Distances summed over the two species (ρ first, then η), one column per metric, index (n, time)."""
    d = distances(table).set_index(["n", "time", "metric", "species"])["value"]
    out = {}
    for metric in METRICS:
        if metric in d.index.get_level_values("metric"):
            rho = d.xs((metric, "rho"), level=("metric", "species"))
            eta = d.xs((metric, "eta"), level=("metric", "species"))
            out[metric] = rho + eta
    return pd.DataFrame(out)


def with_floors(table, metric, t) -> pd.DataFrame:
    """Per N at time ``t``: ``metric`` summed over the two species, with its two floors summed alike."""
    return summed_floors(table, ["n"], ("rho", "eta"), metric, time=t)


def rate(table, metric, t):
    """The rate in N of ``metric`` at ``t`` with the floors' rule
    (:func:`~meanfield.validation.rate_fits.floored_fit`)."""
    rows = with_floors(table, metric, t)
    return floored_fit(rows["n"], rows["value"], rows.get("sampling_floor"), rows.get("discretisation_floor"),
                       x_name="N")


def claims(tables: dict, quick: bool = True) -> list:
    """The claims, computed from the studies' tables."""
    size = sizes(quick)
    ns, m_ref = size["ns"], size["resolution"]
    n_top = ns[-1]
    out = []
    for case, supports in CASES.items():
        fv = distances(tables[f"fv_{case}"])
        e_fv = float(fv[fv["species"] == "rho"]["value"].iloc[0] + fv[fv["species"] == "eta"]["value"].iloc[0])
        hull = max(supports["rho_support"][1], supports["eta_support"][1]) - min(supports["rho_support"][0],
                                                                                 supports["eta_support"][0])
        dx = float(hull) / (m_ref // 4)
        out.append(Claim.within(
            f"fv_vs_quantile_{case}",
            "finite-volume and quantile-flow solutions agree at the FV order (W1 <= 2 dx at t=1)",
            e_fv, (0.0, 2 * dx), "upwind FV (first order) vs the Lagrangian quantile flow",
            f"W1 sum over species = {e_fv:.3e}, dx = {dx:.3e}"))
        table = tables[f"rates_{case}"]
        com = _series(table, "total_centre_of_mass", "sample", n=n_top)
        dcom = float(np.max(np.abs(com - com[0])))
        out.append(Claim.within(
            f"particle_com_{case}", "total centre of mass is conserved exactly (the pairwise forces are odd)", dcom,
            (0.0, 1e-12), "system (6)", f"max |CoM(t) - CoM(0)| = {dcom:.1e} at N={n_top}"))
        en = _series(table, "energy", "sample", n=n_top)
        inc = float(np.max(np.diff(en)))
        out.append(Claim.at_most(
            f"particle_energy_{case}", "particle energy int (F-H)^2 is non-increasing", inc, 1e-14,
            "(6) is the gradient flow of the energy (24)",
            f"N={n_top}, {len(CURVE_TIMES)} times in [0, 1]: {en[0]:.6f} -> {en[-1]:.6f}, largest step {inc:.2e}"))
        en_c = _series(table, "energy", "reference", n=n_top)
        gap = float(np.max(np.abs(en - en_c)))
        out.append(Claim.within(
            f"energy_particles_vs_continuum_{case}",
            "particle energy curve follows the continuum one to O(1/N^2): max over t <= 1/N^2 "
            "(measured 0.35-0.47/N^2 at N = 1024 and 4096)", gap, (0.0, 1.0 / n_top**2),
            "energies (4) and (24): the particle energy is the continuum energy of the empirical measures",
            f"N={n_top}: max_t |F_N(t) - F(t)| = {gap:.2e} = {gap * n_top * n_top:.2f}/N^2"))
        inc_c = float(np.max(np.diff(en_c)))
        out.append(Claim.at_most(
            f"continuum_energy_{case}", "continuum energy is non-increasing", inc_c, 0.0,
            "(5) is the Wasserstein gradient flow of the energy (4)",
            f"{len(CURVE_TIMES)} times in [0, 1]: {en_c[0]:.6f} -> {en_c[-1]:.6f}, largest step {inc_c:.2e}",
            strict=True))
        for t in TIMES:
            for metric in METRICS:
                fit = rate(table, metric, t)
                out.append(Claim.within(
                    f"rate_{metric}_t{t:g}_{case}",
                    f"{metric}(particles, continuum) at t={t:g} decays like N^rate (expect -1, midpoint atomisation)",
                    fit.slope, RATE_BAND, "Thm 5.1 (no rate in the paper); -1 and the band ours: midpoint particles "
                    "follow the characteristics", fit.describe()))
    for case in CASES:
        phi = _series(tables[f"ghosts_{case}"], "phi_2", "sample")
        n = ns[-1] // 4
        worst = float(np.max(np.diff(phi) / phi[:-1]))
        out.append(Claim.at_most(
            f"lm_monotone_{case}", "Phi_2 = ||rho~^N||_2^2 + ||eta~^N||_2^2 is non-increasing (ghost convention)",
            worst, 1e-12, "Props 5.2-5.3; reconstructions (66)-(67)",
            f"N={n}: Phi_2 {phi[0]:.6f} -> {phi[-1]:.6f}, max relative increase {worst:.1e}; "
            "||rho0||^2+||eta0||^2 = 2"))
        out.append(Claim.at_most(
            f"lm_initial_{case}", "Phi_2(0) <= ||rho_0||_2^2 + ||eta_0||_2^2 = 2 for the atomisation (65)",
            phi[0], 2.0 * (1 + 1e-12), "Prop 5.1", f"N={n}: Phi_2(0) = {phi[0]:.12f}"))
    ex = distances(tables["exact"])
    w1 = float(ex["value"].iloc[0])
    exact = (1 + 2 * EXACT_T) / (4 * EXACT_N)
    tol = 1e-12 * exact + 1e-15
    out.append(Claim.within(
        "exact_w1_separated", "W1(rho^N, rho) = (1+2t)/(4N) for midpoint atomisation before contact", w1,
        (exact - tol, exact + tol), "explicit solution for separated supports (this module's docstring)",
        f"{w1:.15e} vs {exact:.15e}"))
    return out


# --- figures and data ----------------------------------------------------------------------------------------
def figures(declared: dict, tables: dict, quick: bool, outdir: pathlib.Path) -> list:
    from matplotlib.figure import Figure

    from meanfield import io
    from meanfield.plot import plot_rate
    from meanfield.study import floor_curves

    ns = sizes(quick)["ns"]
    n_top = ns[-1]
    fig_d = Figure(figsize=(10, 7), layout="constrained")
    axd = fig_d.subplots(2, 2)
    fig_r = Figure(figsize=(10, 4), layout="constrained")
    axr = fig_r.subplots(1, 2)
    fig_e = Figure(figsize=(10, 4), layout="constrained")
    axe = fig_e.subplots(1, 2)
    for c, case in enumerate(CASES):
        study, table = declared[f"rates_{case}"], tables[f"rates_{case}"]
        traj, sol = study.sample({"n": n_top}, 0), study.reference({"n": n_top})
        ax = axd[c, 0]
        for sp, arr, col in (("rho", traj.info["x"][-1], "C0"), ("eta", traj.info["y"][-1], "C1")):
            ax.hist(arr, bins=64, density=True, alpha=0.35, color=col, label=f"particles {sp} (N={n_top})")
            q = sol.measure(1.0, species=sp)
            ax.stairs(q.density(), q.edges, color=col, lw=1.2, label=f"quantile flow {sp}")
        ax.set_title(f"{case}: densities at t=1")
        ax.legend(fontsize=7)
        axd[c, 1].plot(CURVE_TIMES, _series(table, "energy", "sample", n=n_top), "-", label=f"particles (N={n_top})")
        axd[c, 1].plot(CURVE_TIMES, _series(table, "energy", "reference", n=n_top), "--",
                       label="continuum (quantile flow)")
        axd[c, 1].set_xlabel("t")
        axd[c, 1].set_title(f"{case}: energy")
        axd[c, 1].legend(fontsize=7)
        com = {(side, sp): _series(table, "centre_of_mass", side, sp, n=n_top)
               for side in ("sample", "reference") for sp in ("rho", "eta")}
        axe[c].plot(CURVE_TIMES, com["sample", "rho"], "-", label=f"CoM rho (particles, N={n_top})")
        axe[c].plot(CURVE_TIMES, com["sample", "eta"], "-", label=f"CoM eta (particles, N={n_top})")
        axe[c].plot(CURVE_TIMES, _series(table, "total_centre_of_mass", "sample", n=n_top), "-",
                    label="total CoM (particles)")
        axe[c].plot(CURVE_TIMES, com["reference", "rho"], "k:", label="CoM rho (continuum)")
        axe[c].plot(CURVE_TIMES, com["reference", "eta"], "k--", label="CoM eta (continuum)")
        axe[c].plot(CURVE_TIMES, com["reference", "rho"] + com["reference", "eta"], "k-.",
                    label="total CoM (continuum)")
        axe[c].set_xlabel("t")
        axe[c].set_title(f"{case}: centres of mass")
        axe[c].legend(fontsize=7)
        sums = species_sums(table)
        for metric in METRICS:
            rows = with_floors(table, metric, 1.0)
            plot_rate(axr[c], rows["n"], rows["value"], rate(table, metric, 1.0).fit, label=metric,
                      xlabel="N per species", floors=floor_curves(rows, "n"), ylabel="distance (sum of species)")
        for t in TIMES[:2]:
            axr[c].loglog(ns, sums["W1"].xs(t, level="time").loc[ns].to_numpy(), ":", label=f"W1 at t={t}")
        axr[c].set_title(f"{case}: distance vs N at t=1 (dashed: sampling floor, dash-dot: discretisation floor)",
                         fontsize=8)
        axr[c].set_xlabel("N per species")
        axr[c].legend(fontsize=7)
    paths = []
    for fig, name in ((fig_d, "newtonian1d_densities.png"), (fig_r, "newtonian1d_rates.png"),
                      (fig_e, "newtonian1d_com.png")):
        paths.append(str(io.save_figure(fig, outdir / name, dpi=110)))
    return paths


def data_files(declared: dict, tables: dict, quick: bool, outdir: pathlib.Path) -> list:
    """``newtonian1d_distances.csv`` (per case, N, t: distances summed over species and the particle
    energy) and ``newtonian1d_studies.csv`` (every study's tidy table, with a ``study`` column)."""
    from meanfield import io

    rows = []
    for case in CASES:
        table = tables[f"rates_{case}"]
        sums = species_sums(table)
        en = table[(table["metric"] == "energy") & (table["run"] == "sample")].set_index(["n", "time"])["value"]
        for n in sizes(quick)["ns"]:
            for t in TIMES:
                rows.append({"case": case, "N": n, "t": t, **{m: sums.loc[(n, t), m] for m in METRICS},
                             "energy": en[(n, t)]})
    wide = pd.DataFrame(rows)
    tidy = pd.concat([t.assign(study=name) for name, t in tables.items()], ignore_index=True)
    return [str(io.save_table(wide, outdir / "newtonian1d_distances.csv")),
            str(io.save_table(tidy, outdir / "newtonian1d_studies.csv"))]


def notes(declared: dict, quick: bool) -> str:
    """The sizes and settings stated under the paper's table."""
    size = sizes(quick)
    return (f"N = {size['ns'][0]}..{size['ns'][-1]}, continuum reference: quantile flow with "
            f"M = {size['resolution']}; studies: {', '.join(declared)}")


run = paper_runner(__name__)
