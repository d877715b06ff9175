"""Validation of model 001 (van Meurs–Morandotti, particles with an annihilation rule), as studies.

The paper proves convergence (Thm 5.1) without a rate. Checked here, for three initial data
(V = -log throughout; semicircle blocks of radius ½):

* "2 blocks, W=0" — the separation case of Assumption 2.2 (L = 2: masses ½, centres ∓1);
* "2 blocks, W_delta" — the same data with the regularised cross potential W_δ (δ = 0.3);
* "4 blocks, W=0" — several ± blocks (+ - + -, L = 4, masses ¼, centres -2.4, -0.8, 0.8, 2.4).

The checks are :class:`meanfield.study.Study` values (:func:`studies`), the claims are computed from
their tables (:func:`claims`):

* ``particles_<case>``: particles (quantile placement, n = 2^5 … 2^8 quick, 2^5 … 2^11 full) against
  the finite-volume solution of (1.3) (pairing :class:`~meanfield.pairings.ActiveParts`) at t = 1
  and t = 2: W1 on R × {±1} (the sum of the per-species W1 of μ_n^±, annihilated particles included
  as in (4.15), and ρ^±; an upper bound as in (3.4)) and the dual bounded-Lipschitz distance of the
  active parts [κ_n]_± and [κ]_± (Lemma 4.6), with fitted rates (empirical: the paper gives none);
  observers record the annihilated mass A(t) = m_± − [κ]_±(R) of both sides on 20 times in
  [0.1, 2], the finite-volume masses and minimum, and the number of annihilations;
* ``fv_order``: the finite-volume error of A(2) and of W1(ρ^±) under refinement against a 4× finer
  grid (first order), pairing :class:`~meanfield.pairings.ContinuumVsContinuum`;
* ``potentials_<label>``: the other potentials of §1.2 (the dislocation-wall V with W_δ, and the
  singular attraction W = -V, outside Assumption 2.1 and Theorem 5.1): A(0.5), A(1) of particles and
  finite volumes agree (no rate claimed);
* ``interleaved``: Assumption 2.2's counter-example: interleaved ± charges (L ~ n) never annihilate.

``run(..., workers=k | executor=client, store=folder)`` passes execution to the studies; the report
does not depend on it. ``MEANFIELD_VALIDATION_SIZE=tiny`` shrinks the sizes (tests only).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from meanfield.models.base import Trajectory
from meanfield.observers import Observer
from meanfield.pairings import ActiveParts, ContinuumVsContinuum, ParticlesFrom, ParticleVsContinuum
from meanfield.rates import fit_rate
from meanfield.study import Study, distances
from meanfield.validation.claims import Claim
from meanfield.validation.rate_fits import floored_fit, summed_floors
from meanfield.validation.runner import paper_runner
from meanfield.validation.sizes import chosen_sizes, time_index

CASES: dict[str, dict] = {
    "2 blocks, W=0": {},
    "2 blocks, W_delta": {"W": "regularised", "delta": 0.3},
    "4 blocks, W=0": {"centres": (-2.4, -0.8, 0.8, 2.4), "radii": (0.5,) * 4},
}
T_END = 2.0
CURVE = [float(t) for t in np.round(np.linspace(0.1, T_END, 20), 10)]  # A(t) curve; contains 1.0 and 2.0
COMPARE = [1.0, 2.0]
POTENTIALS = {"wall V, W_delta": {"V": "wall", "W": "regularised"}, "log V, W=-V": {"W": "-V"}}
SIZES = {
    "quick": {"ns": [32, 64, 128, 256], "cells": 1600, "order_cells": [200, 400, 800],
              "potential_n": {"wall V, W_delta": 256, "log V, W=-V": 128}},
    "full": {"ns": [32, 64, 128, 256, 512, 1024, 2048], "cells": 6400, "order_cells": [200, 400, 800, 1600, 3200],
             "potential_n": {"wall V, W_delta": 2048, "log V, W=-V": 512}},
    "tiny": {"ns": [16, 32, 64], "cells": 200, "order_cells": [50, 100],  # tests only
             "potential_n": {"wall V, W_delta": 32, "log V, W=-V": 32}},
}
WINDOW = (-4.0, 4.0)
PAPER, TITLE = "001", "van Meurs-Morandotti: particles with an annihilation rule"


def sizes(quick: bool) -> dict:
    """The sizes of a quick or full run (``MEANFIELD_VALIDATION_SIZE=tiny`` for tests)."""
    return chosen_sizes(SIZES, quick)


# --- observers (module level: pickled to worker processes) ---------------------------------------------
_index = time_index


@dataclass(frozen=True)
class AnnihilatedMass(Observer):
    """A(t): particles ``{"+": m_+ - N_+(t)/n, "-": m_- - N_-(t)/n}`` (active counts N_±), continuum
    ``m_+ - [κ]_+(R)`` (the dataset's ``annihilated_mass``)."""

    name: str = "annihilated_mass"
    on: str = "both"

    def observe(self, model, run, t):
        if isinstance(run, Trajectory):
            b = run.info["active"][_index(run.times, t)]
            n = b.size
            return {"+": model.mass_plus - (b == 1).sum() / n, "-": (1 - model.mass_plus) - (b == -1).sum() / n}
        return float(run.annihilated_mass.values[_index(run.time.values, t)])


@dataclass(frozen=True)
class FVStructure(Observer):
    """Finite-volume run: max over species |∫ρ^± - m_±|, min ρ, and the active masses [κ]_±(R)."""

    name: str = "fv"
    on: str = "reference"

    def observe(self, model, run, t):
        k = _index(run.time.values, t)
        dens = run.density.values[k]
        h = float(run.x.values[1] - run.x.values[0])
        err = float(np.max(np.abs(dens.sum(axis=-1) * h - [model.mass_plus, 1 - model.mass_plus])))
        return {"mass_error": err, "min_density": float(dens.min()),
                "active+": float(run.active_plus.values[k]), "active-": float(run.active_minus.values[k])}


def annihilations(traj, t) -> int:
    """Number of annihilation events up to time ``t``."""
    return sum(1 for ev in traj.events if ev[0] <= t)


def interleaved(model, n, rng):
    """n charges alternating + - + - on (-1, 1) at the cell midpoints (L = n blocks)."""
    x = -1 + (np.arange(n) + 0.5) * 2 / n
    return x, np.where(np.arange(n) % 2 == 0, 1, -1)


# --- the studies ------------------------------------------------------------------------------------------
def studies(quick: bool = True) -> dict:
    size = sizes(quick)
    out = {}
    for case, kwargs in CASES.items():
        out[f"particles_{case}"] = Study(
            "Annihilation1D", {"n": size["ns"]}, T_END, CURVE, compare_times=COMPARE, metrics=["W1", "BL"],
            model_params=kwargs, continuum_kwargs={"resolution": size["cells"]},
            pairing=ActiveParts(full=True, full_metrics=("W1",), active_metrics=("BL",)),
            observers=[AnnihilatedMass(), FVStructure(), Observer("annihilations", annihilations)])
    out["fv_order"] = Study(
        "Annihilation1D", {"continuum.resolution": size["order_cells"]}, T_END, [T_END], metrics=["W1"],
        continuum_kwargs={"window": WINDOW},
        pairing=ContinuumVsContinuum(reference_kwargs={"resolution": 4 * size["order_cells"][-1]}),
        observers=[AnnihilatedMass()])
    for label, kwargs in POTENTIALS.items():
        out[f"potentials_{label}"] = Study(
            "Annihilation1D", {"n": [size["potential_n"][label]]}, 1.0, [0.5, 1.0], compare_times=[],
            model_params=kwargs, continuum_kwargs={"resolution": size["cells"]}, pairing=ParticleVsContinuum(),
            observers=[AnnihilatedMass(), Observer("annihilations", annihilations)])
    out["interleaved"] = Study(
        "Annihilation1D", {"n": [40, 80, 160]}, 1.0, [1.0], metrics=[], pairing=ParticlesFrom(interleaved),
        observers=[Observer("annihilations", annihilations)])
    return out


# --- claims -----------------------------------------------------------------------------------------------
def _obs(table, metric, run, species="", **where) -> pd.DataFrame:
    sel = (table["metric"] == metric) & (table["run"] == run) & (table["species"] == species)
    for key, value in where.items():
        sel &= table[key] == value
    return table[sel].sort_values("time")


def sums(table) -> pd.DataFrame:
    """Per (n, time): W1 summed over the whole measures ("+" then "-") and BL over the active parts."""
    d = distances(table).set_index(["n", "time", "species", "metric"])["value"]
    w1 = d.xs(("+", "W1"), level=("species", "metric")) + d.xs(("-", "W1"), level=("species", "metric"))
    bl = d.xs(("active+", "BL"), level=("species", "metric")) + d.xs(("active-", "BL"), level=("species", "metric"))
    return pd.DataFrame({"W1": w1, "BL_active": bl})


SPECIES = {"W1": ("+", "-"), "BL_active": ("active+", "active-")}  # the labels each summed distance adds


def with_floors(table, metric, t) -> pd.DataFrame:
    """Per n at time ``t``: the distance ``metric`` of :func:`sums` and its two floors, summed over its labels."""
    return summed_floors(table, ["n"], SPECIES[metric], metric.split("_")[0], time=t)


def rate(table, metric, t):
    """The rate in n of ``metric`` at ``t`` with the floors' rule
    (:func:`~meanfield.validation.rate_fits.floored_fit`)."""
    rows = with_floors(table, metric, t)
    return floored_fit(rows["n"], rows["value"], rows.get("sampling_floor"), rows.get("discretisation_floor"))


def claims(tables: dict, quick: bool = True) -> list:
    size = sizes(quick)
    ns = size["ns"]
    out, sym = [], 0.0
    for case in CASES:
        table = tables[f"particles_{case}"]
        first = {"n": ns[0], "seed": 0}
        mass_err = float(_obs(table, "fv", "reference", "mass_error", **first)["value"].max())
        min_rho = float(_obs(table, "fv", "reference", "min_density", **first)["value"].min())
        ap = _obs(table, "fv", "reference", "active+", **first)["value"].to_numpy()
        am = _obs(table, "fv", "reference", "active-", **first)["value"].to_numpy()
        out.append(Claim.within(
            f"fv_structure_{case}", f"FV ({case}): each species' mass conserved to round-off", mass_err, (0, 1e-12),
            "(1.3) conserves ρ^±(R)", f"max mass error {mass_err:.1e}, min ρ {min_rho:.1e}"))
        out.append(Claim.at_least(f"fv_positive_{case}", f"FV ({case}): ρ^± ≥ 0 (upwind, CFL ≤ 1)", min_rho, 0.0,
                                  "(1.3): positivity", f"min ρ {min_rho:.1e}"))
        rise = float(max(np.max(np.diff(ap)), np.max(np.diff(am))))
        out.append(Claim.at_most(f"fv_active_monotone_{case}", f"FV ({case}): [κ]_±(R) non-increasing", rise, 0.0,
                                 "(1.3): annihilation only removes active mass", f"largest increase {rise:.1e}"))
        spread = float(np.ptp(ap - am))
        out.append(Claim.at_most(f"fv_kappa_conserved_{case}", f"FV ({case}): κ(R) = [κ]_+(R) - [κ]_-(R) conserved",
                                 spread, 1e-12, "(1.3)", f"max - min of κ(R) over time {spread:.1e}", strict=True))
        for t in COMPARE:
            for metric in ("W1", "BL_active"):
                fit = rate(table, metric, t)
                out.append(Claim.at_most(
                    f"rate_{metric}_{case}_t{t:g}",
                    f"{metric}(particles, FV) at t={t:g} decreases as n grows ({case}; paper: no rate; the bound "
                    "-0.3 is ours)", fit.slope, -0.3, "Thm 5.1", fit.describe(), strict=True))
        a_fv = _obs(table, "annihilated_mass", "reference", **first)["value"].to_numpy()
        a_top = _obs(table, "annihilated_mass", "sample", "+", n=ns[-1])["value"].to_numpy()
        gap = float(np.max(np.abs(a_top - a_fv)))
        out.append(Claim.within(
            f"annihilated_mass_{case}", f"sup_t |A_particles(t) - A_FV(t)| on [0.1, 2] small at n={ns[-1]} ({case})",
            gap, (0, 0.015), "Thm 5.1 ([κ_n]_± → [κ]_±)",
            f"{gap:.4f} (A(2): particles {a_top[-1]:.4f}, FV {a_fv[-1]:.4f})", closed=(True, False)))
        if case == "2 blocks, W=0":
            a_ref = float(a_fv[-1])
            out.append(Claim.within("annihilated_mass_reference", "A(2) matches the reference value 0.140 ± 0.001",
                                    a_ref, (0.1389, 0.1419), "reference case: A(2) = 0.1404", f"FV {a_ref:.4f}",
                                    closed=(False, False)))
        plus = _obs(table, "annihilated_mass", "sample", "+").set_index(["n", "time"])["value"]
        minus = _obs(table, "annihilated_mass", "sample", "-").set_index(["n", "time"])["value"]
        sym = max(sym, float(np.max(np.abs(plus - minus))))
    out.append(Claim.within("annihilated_mass_both_species", "particles: mass lost by + equals mass lost by - at all "
                            "times (pairs annihilate)", sym, (0, 1e-12), "Def. 4.2", f"max difference {sym:.1e}",
                            closed=(True, False)))
    order = tables["fv_order"]
    cells = size["order_cells"]
    ref_cells = 4 * cells[-1]
    a_h = _obs(order, "annihilated_mass", "sample").set_index("continuum.resolution")["value"]
    a_ref = _obs(order, "annihilated_mass", "reference").set_index("continuum.resolution")["value"]
    d = distances(order).set_index(["continuum.resolution", "species"])["value"]
    errs = {"A(2)": [abs(float(a_h[c]) - float(a_ref[c])) for c in cells],
            "W1(rho)": [float(d[(c, "+")] + d[(c, "-")]) for c in cells]}
    h = [8.0 / c for c in cells]
    for name, err in errs.items():
        fit = fit_rate(h, err)
        out.append(Claim.within(f"fv_order_{name}", f"FV error of {name} vs {ref_cells} cells is first order in h",
                                fit.slope, (0.7, 1.4), "upwind finite volumes: first order", f"slope {fit}"))
    for label in POTENTIALS:
        table = tables[f"potentials_{label}"]
        n = size["potential_n"][label]
        a_p = _obs(table, "annihilated_mass", "sample", "+")["value"].to_numpy()
        a_c = _obs(table, "annihilated_mass", "reference")["value"].to_numpy()
        events = int(_obs(table, "annihilations", "sample")["value"].iloc[-1])
        gap = float(np.max(np.abs(a_p - a_c)))
        out.append(Claim.within(
            f"annihilated_mass_{label}", f"{label}: A(0.5), A(1) of particles (n={n}) and FV agree"
            + (" (outside Thm 5.1)" if "-V" in label else ""), gap, (0, 0.01),
            "§1.2 case (iii) and W = -V (1.4)", f"max gap {gap:.4f}; particles {np.round(a_p, 4).tolist()}, FV "
            f"{np.round(a_c, 4).tolist()}; {events} events", closed=(True, False)))
    counts = [int(v) for v in _obs(tables["interleaved"], "annihilations", "sample").sort_values("n")["value"]]
    out.append(Claim.within("interleaved_no_annihilation", "interleaved ± data (outside Assumption 2.2) has no "
                            "annihilation up to t = 1 for n = 40, 80, 160", float(sum(counts)), (0, 0),
                            "Assumption 2.2; §1.6", f"events {counts}"))
    return out


# --- figure and data --------------------------------------------------------------------------------------
def figures(declared, tables, quick, outdir) -> list:
    from matplotlib.figure import Figure

    from meanfield import io
    from meanfield.plot import plot_rate
    from meanfield.study import floor_curves

    ns, cells = sizes(quick)["ns"], sizes(quick)["cells"]
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    axes = fig.subplots(1, 2)
    fig_r = Figure(figsize=(15, 4.2), layout="constrained")
    for (case, _), col, ax in zip(CASES.items(), ("C0", "C1", "C2"), fig_r.subplots(1, 3), strict=True):
        table = tables[f"particles_{case}"]
        a_fv = _obs(table, "annihilated_mass", "reference", n=ns[0], seed=0)["value"].to_numpy()
        axes[0].plot(CURVE, a_fv, "-", color=col, lw=2, label=f"FV {cells} cells: {case}")
        for n, style in ((ns[0], ":"), (ns[-1], "o")):
            a = _obs(table, "annihilated_mass", "sample", "+", n=n)["value"].to_numpy()
            axes[0].plot(CURVE, a, style, color=col, ms=3, label=f"particles n={n}: {case}")
        for metric in ("W1", "BL_active"):
            rows = with_floors(table, metric, T_END)
            plot_rate(ax, rows["n"], rows["value"], rate(table, metric, T_END).fit, label=metric, xlabel="n",
                      floors=floor_curves(rows, "n"), ylabel="distance to FV")
        ax.set_title(f"{case}, t = {T_END:g} (dashed: sampling floor, dash-dot: discretisation floor)", fontsize=8)
        if case == "4 blocks, W=0":
            sol = declared[f"particles_{case}"].reference({"n": ns[0]})
            dens = sol.measure(T_END)
            axes[1].plot(sol.x.values, dens["+"].values, label="ρ⁺ (FV)")
            axes[1].plot(sol.x.values, dens["-"].values, label="ρ⁻ (FV)")
            axes[1].set_xlim(-5, 5)
            axes[1].set_ylim(0, 1.0)
            axes[1].set_title("4 blocks, t = 2: atoms at the 3 interfaces")
            axes[1].legend(fontsize=7)
    axes[0].set_xlabel("t")
    axes[0].set_ylabel("annihilated mass A(t) = m₊ - [κ]₊(R)")
    axes[0].set_title("annihilated mass: particles and finite volumes")
    axes[0].legend(fontsize=6)
    return [str(io.save_figure(fig, outdir / "annihilation1d_mass.png", dpi=110)),
            str(io.save_figure(fig_r, outdir / "annihilation1d_rates.png", dpi=110))]


def data_files(declared, tables, quick, outdir) -> list:
    from meanfield import io

    size = sizes(quick)
    rows = []
    for case in CASES:
        table = tables[f"particles_{case}"]
        s = sums(table)
        a_fv = _obs(table, "annihilated_mass", "reference", n=size["ns"][0], seed=0).set_index("time")["value"]
        for n in size["ns"]:
            plus = _obs(table, "annihilated_mass", "sample", "+", n=n).set_index("time")["value"]
            minus = _obs(table, "annihilated_mass", "sample", "-", n=n).set_index("time")["value"]
            events = int(_obs(table, "annihilations", "sample", n=n)["value"].iloc[-1])
            for t in CURVE:
                w1, bl = (s.loc[(n, t), "W1"], s.loc[(n, t), "BL_active"]) if t in COMPARE else (np.nan, np.nan)
                rows.append({"case": case, "n": n, "time": t, "A_particles_plus": plus[t],
                             "A_particles_minus": minus[t],
                             "A_fv": a_fv[t], "W1": w1, "BL_active": bl, "events": events})
    tidy = pd.concat([t.assign(study=name) for name, t in tables.items()], ignore_index=True)
    return [str(io.save_table(pd.DataFrame(rows), outdir / "annihilation1d_distances.csv")),
            str(io.save_table(tidy, outdir / "annihilation1d_studies.csv"))]


def notes(declared: dict, quick: bool) -> str:
    """The sizes and settings stated under the paper's table."""
    size = sizes(quick)
    return f"n = {size['ns']}; FV {size['cells']} cells; cases {list(CASES)}; studies: {', '.join(declared)}"


run = paper_runner(__name__)
