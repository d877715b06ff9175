"""Validation of model 001 (van Meurs–Morandotti, particles with an annihilation rule).

The paper proves convergence (Thm 5.1) without a rate. Checked here, for three initial data
(V = -log throughout; semicircle blocks of radius ½):

* "2 blocks, W=0" — the separation case of Assumption 2.2 (L = 2; the notes' reference case §5.4:
  masses ½, centres ∓1);
* "2 blocks, W_delta" — the same data with the regularised cross potential W_δ (δ = 0.3);
* "4 blocks, W=0" — several ± blocks (+ - + -, L = 4, masses ¼, centres -2.4, -0.8, 0.8, 2.4).

For each: particles (quantile placement, n = 2^5 … 2^8 quick, 2^5 … 2^11 full) against the finite-
volume solution at t = 1 and t = 2 in W1 on R × {±1} (the sum of the per-species W1 of μ_n^± (ghosts
included, (4.15)) and ρ^±, an upper bound as in (3.4)) and in the dual bounded-Lipschitz distance of
the active parts [κ_n]_± and [κ]_± — fitted rates with 95 % confidence intervals (empirical: the
paper gives none); the annihilated mass A(t) from both sides (particles and FV) on one plot; FV
structure (masses, positivity, monotone [κ]_±(R)) and its measured order under refinement; the
notes' reference A(2) ≈ 0.140; and the counter-example behind Assumption 2.2 (interleaved charges:
no annihilation, notes §5.2 item 7).
"""

from __future__ import annotations

import csv
import pathlib
import time

import numpy as np

from meanfield.measures import GridDensity
from meanfield.metrics import bounded_lipschitz, wasserstein
from meanfield.models.annihilation1d import Annihilation1D
from meanfield.rates import fit_rate
from validation.claims import Claim, PaperReport

CASES = {
    "2 blocks, W=0": {},
    "2 blocks, W_delta": {"W": "regularised", "delta": 0.3},
    "4 blocks, W=0": {"centres": (-2.4, -0.8, 0.8, 2.4), "radii": (0.5,) * 4},
}
T_END = 2.0
CURVE = np.round(np.linspace(0.1, T_END, 20), 10)  # A(t) curve; contains 1.0 and 2.0
COMPARE = (1.0, 2.0)


def _distances(model, traj, sol, t):
    parts = traj.measure(t)
    dens = sol.measure(t)
    w1 = sum(wasserstein(parts[s], dens[s], 1) for s in ("+", "-"))
    grid = dens["+"].grid
    kappa = dens["+"].values - dens["-"].values
    active = model.active_measures(traj, t)
    bl = 0.0
    for s, part in (("+", np.clip(kappa, 0, None)), ("-", np.clip(-kappa, 0, None))):
        cont = GridDensity(part, grid)
        bl += bounded_lipschitz(active[s], cont) if active[s] is not None else cont.mass
    return w1, bl


def _fv_order(claims, rows_fv, quick):
    """FV refinement for the reference case: A(2) and W1(ρ^±_h, ρ^±_ref) against the finest grid."""
    model = Annihilation1D()
    cells = [200, 400, 800] if quick else [200, 400, 800, 1600, 3200]
    ref_cells = 4 * cells[-1]
    window = (-4.0, 4.0)
    ref = model.solve_continuum(ref_cells, T_END, window=window)
    ref_a = float(ref.annihilated_mass.values[-1])
    ref_m = ref.measure(T_END)
    err_a, err_w = [], []
    for c in cells:
        sol = model.solve_continuum(c, T_END, window=window)
        err_a.append(abs(float(sol.annihilated_mass.values[-1]) - ref_a))
        m = sol.measure(T_END)
        err_w.append(sum(wasserstein(m[s], ref_m[s], 1) for s in ("+", "-")))
        rows_fv.append({"cells": c, "ref_cells": ref_cells, "A_err": err_a[-1], "W1_err": err_w[-1]})
    h = [8.0 / c for c in cells]
    for name, err in (("A(2)", err_a), ("W1(rho)", err_w)):
        fit = fit_rate(h, err)
        claims.append(Claim(f"fv_order_{name}", f"FV error of {name} vs {ref_cells} cells is first order in h",
                            f"slope {fit}", 0.7 <= fit.slope <= 1.4, fit.slope, (0.7, 1.4), "notes §5.4, §6.2"))


def run(outdir: pathlib.Path, quick: bool = True) -> PaperReport:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    ns = [32, 64, 128, 256] if quick else [32, 64, 128, 256, 512, 1024, 2048]
    cells = 1600 if quick else 6400
    claims, rows, rows_fv = [], [], []
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), layout="constrained")
    colours = dict(zip(CASES, ("C0", "C1", "C2")))
    for case, kwargs in CASES.items():
        model = Annihilation1D(**kwargs)
        sol = model.solve_continuum(cells, T_END, times=CURVE)
        a_fv = sol.annihilated_mass.values
        # FV structure: species masses to round-off, ρ^± ≥ 0, κ(R) conserved, [κ]_±(R) non-increasing
        h = float(sol.x.values[1] - sol.x.values[0])
        mass_err = float(np.max(np.abs(sol.density.values.sum(axis=-1) * h - [[model.mass_plus, 1 - model.mass_plus]])))
        ap, am = sol.active_plus.values, sol.active_minus.values
        ok = (mass_err < 1e-12 and sol.density.values.min() >= 0 and np.all(np.diff(ap) <= 0)
              and np.all(np.diff(am) <= 0) and np.ptp(ap - am) < 1e-12)
        claims.append(Claim(f"fv_structure_{case}", f"FV ({case}): masses to round-off, ρ^± ≥ 0, κ(R) conserved, "
                            "[κ]_±(R) non-increasing", f"max mass error {mass_err:.1e}, min ρ {sol.density.values.min():.1e}",
                            bool(ok), mass_err, (0, 1e-12), "§2.4 (notes), (1.3)"))
        curves = {}
        for n in ns:
            traj = model.simulate_particles(model.sample_particles(n), T_END, times=CURVE)
            a_plus = np.array([model.mass_plus - (b == 1).sum() / n for b in traj.info["active"]])
            a_minus = np.array([(1 - model.mass_plus) - (b == -1).sum() / n for b in traj.info["active"]])
            curves[n] = a_plus
            for k, t in enumerate(CURVE):
                w1, bl = _distances(model, traj, sol, t) if t in COMPARE else (np.nan, np.nan)
                rows.append({"case": case, "n": n, "time": float(t), "A_particles_plus": a_plus[k],
                             "A_particles_minus": a_minus[k], "A_fv": float(a_fv[k]), "W1": w1, "BL_active": bl,
                             "events": len(traj.events)})
        col = colours[case]
        axes[0].plot(CURVE, a_fv, "-", color=col, lw=2, label=f"FV {cells} cells: {case}")
        for n, style in ((ns[0], ":"), (ns[-1], "o")):
            axes[0].plot(CURVE, curves[n], style, color=col, ms=3, label=f"particles n={n}: {case}")
        for t in COMPARE:
            sub = [r for r in rows if r["case"] == case and r["time"] == t]
            for metric in ("W1", "BL_active"):
                fit = fit_rate([r["n"] for r in sub], [r[metric] for r in sub])
                claims.append(Claim(
                    f"rate_{metric}_{case}_t{t:g}",
                    f"{metric}(particles, FV) at t={t:g} decreases as n grows ({case}; paper: no rate)",
                    f"slope {fit}", fit.slope < -0.3, fit.slope, (-np.inf, -0.3), "Thm 5.1; notes §5.4"))
                if t == T_END:
                    axes[1].loglog([r["n"] for r in sub], [r[metric] for r in sub], "o-" if metric == "W1" else "s--",
                                   color=col, ms=4, label=f"{metric} {case}: slope {fit.slope:.2f}")
        gap = float(np.max(np.abs(curves[ns[-1]] - a_fv)))
        claims.append(Claim(
            f"annihilated_mass_{case}", f"sup_t |A_particles(t) - A_FV(t)| on [0.1, 2] small at n={ns[-1]} ({case})",
            f"{gap:.4f} (A(2): particles {curves[ns[-1]][-1]:.4f}, FV {a_fv[-1]:.4f})", gap < 0.015, gap, (0, 0.015),
            "Thm 5.1 ([κ_n]_± → [κ]_±); notes §5.4"))
        if case == "2 blocks, W=0":
            a_ref = float(a_fv[-1])
            claims.append(Claim("annihilated_mass_reference", "A(2) matches the notes' reference 0.140 ± 0.001",
                                f"FV {a_ref:.4f}", abs(a_ref - 0.1404) < 1.5e-3, a_ref, (0.1389, 0.1419),
                                "notes §5.4 table"))
        if case == "4 blocks, W=0":
            dens = sol.measure(T_END)
            axes[2].plot(sol.x.values, dens["+"].values, label="ρ⁺ (FV)")
            axes[2].plot(sol.x.values, dens["-"].values, label="ρ⁻ (FV)")
            axes[2].set_xlim(-5, 5)
            axes[2].set_ylim(0, 1.0)
            axes[2].set_title("4 blocks, t = 2: atoms at the 3 interfaces")
            axes[2].legend(fontsize=7)
    axes[0].set_xlabel("t")
    axes[0].set_ylabel("annihilated mass A(t) = m₊ - [κ]₊(R)")
    axes[0].set_title("annihilated mass: particles and finite volumes")
    axes[0].legend(fontsize=6)
    axes[1].set_xlabel("n")
    axes[1].set_title("distances to FV at t = 2")
    axes[1].legend(fontsize=6)
    # both species lose the same mass: A from the + side equals A from the - side for particles
    sym = max(abs(r["A_particles_plus"] - r["A_particles_minus"]) for r in rows)
    claims.append(Claim("annihilated_mass_both_species", "particles: mass lost by + equals mass lost by - at all "
                        "times (pairs annihilate)", f"max difference {sym:.1e}", sym < 1e-12, sym, (0, 1e-12),
                        "Def. 4.2; notes §5.3"))
    _fv_order(claims, rows_fv, quick)
    # the other potentials of §1.2: the dislocation-wall V with W_δ, and the singular attraction W = -V
    # (outside Assumption 2.1 and Theorem 5.1: checked for agreement only, no rate claimed)
    for label, kwargs, n in (("wall V, W_delta", {"V": "wall", "W": "regularised"}, 256 if quick else 2048),
                             ("log V, W=-V", {"W": "-V"}, 128 if quick else 512)):
        model = Annihilation1D(**kwargs)
        vt = [0.5, 1.0]
        sol = model.solve_continuum(cells, 1.0, times=vt)
        traj = model.simulate_particles(model.sample_particles(n), 1.0, times=vt)
        a_p = np.array([model.mass_plus - (b == 1).sum() / n for b in traj.info["active"]])
        gap = float(np.max(np.abs(a_p - sol.annihilated_mass.values)))
        claims.append(Claim(
            f"annihilated_mass_{label}", f"{label}: A(0.5), A(1) of particles (n={n}) and FV agree"
            + (" (outside Thm 5.1)" if "-V" in label else ""),
            f"max gap {gap:.4f}; particles {np.round(a_p, 4).tolist()}, FV "
            f"{np.round(sol.annihilated_mass.values, 4).tolist()}; {len(traj.events)} events",
            gap < 0.01, gap, (0, 0.01), "§1.2 cases (iii) and W = -V (1.4); notes §5.1"))
    # Assumption 2.2's counter-example: interleaved charges (L ~ n) never annihilate, κ_n → 0 but [κ_n]_± do not
    counts = []
    for n in (40, 80, 160):
        x = -1 + (np.arange(n) + 0.5) * 2 / n
        b = np.where(np.arange(n) % 2 == 0, 1, -1)
        counts.append(len(Annihilation1D().simulate_particles((x, b), 1.0).events))
    claims.append(Claim("interleaved_no_annihilation", "interleaved ± data (outside Assumption 2.2) has no "
                        "annihilation up to t = 1 for n = 40, 80, 160", f"events {counts}", sum(counts) == 0,
                        float(sum(counts)), (0, 0), "notes §5.2 item 7; §1.6"))
    fig.savefig(outdir / "annihilation1d_mass.png", dpi=110)
    plt.close(fig)
    for name, data in (("annihilation1d_distances.csv", rows), ("annihilation1d_fv_order.csv", rows_fv)):
        with open(outdir / name, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(data[0]))
            w.writeheader()
            w.writerows(data)
    return PaperReport("001", "van Meurs-Morandotti: particles with an annihilation rule", claims,
                       [str(outdir / "annihilation1d_mass.png")],
                       [str(outdir / "annihilation1d_distances.csv"), str(outdir / "annihilation1d_fv_order.csv")],
                       f"n = {ns}; FV {cells} cells; cases {list(CASES)}; wall time {time.perf_counter() - t0:.1f} s")
