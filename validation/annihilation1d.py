"""Validation of model 001 (van Meurs–Morandotti, particles with an annihilation rule).

The paper proves convergence (Thm 5.1) without a rate. Checked here, for the notes' reference case
(V = -log, W = 0, semicircles of mass ½, radius ½, centres ∓1; notes §5.4):

* particles (quantile placement, n = 2^5 … 2^8 quick, … 2^11 full) vs the finite-volume solution
  (1600 cells) at t = 1 and t = 2: W1 per species of μ_n^± (ghosts included, (4.15)) against ρ^±,
  and the dual bounded-Lipschitz distance of the active parts [κ_n]_± against [κ]_± — fitted
  rates with 95 % confidence intervals (empirical; the paper gives none);
* the annihilated mass A(t) from both sides (notes §5.4 table: A(2) ≈ 0.140);
* the same with the regularised cross potential W_δ (δ = 0.3).
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

TIMES = [0.5, 1.0, 1.5, 2.0]


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


def run(outdir: pathlib.Path, quick: bool = True) -> PaperReport:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    ns = [32, 64, 128, 256] if quick else [32, 64, 128, 256, 512, 1024, 2048]
    claims, rows = [], []
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    for case, kwargs in (("W=0", {}), ("W_delta", {"W": "regularised", "delta": 0.3})):
        model = Annihilation1D(**kwargs)
        sol = model.solve_continuum(1600, 2.0, times=TIMES, window=(-4.0, 4.0))
        a_cont = sol.annihilated_mass.values
        for n in ns:
            traj = model.simulate_particles(model.sample_particles(n), 2.0, times=TIMES)
            a_part = [0.5 - (b == 1).sum() / n for b in traj.info["active"]]
            for t, a in zip(TIMES, a_part):
                w1, bl = _distances(model, traj, sol, t) if t in (1.0, 2.0) else (np.nan, np.nan)
                rows.append({"case": case, "n": n, "time": t, "A_particles": a, "A_fv": float(a_cont[TIMES.index(t)]),
                             "W1": w1, "BL_active": bl})
            if case == "W=0":
                axes[0].plot(TIMES, a_part, "o-", ms=3, label=f"particles n={n}")
        if case == "W=0":
            axes[0].plot(TIMES, a_cont, "k-", lw=2, label="finite volumes (1600 cells)")
            axes[0].set_xlabel("t")
            axes[0].set_ylabel("annihilated mass A(t)")
            axes[0].legend(fontsize=7)
            dens = sol.measure(2.0)
            x = sol.x.values
            axes[1].plot(x, dens["+"].values, label="ρ⁺ (FV)")
            axes[1].plot(x, dens["-"].values, label="ρ⁻ (FV)")
            axes[1].set_xlim(-3, 3)
            axes[1].set_title("t = 2: annihilated mass forms an atom at 0")
            axes[1].legend(fontsize=7)
        for t in (1.0, 2.0):
            sub = [r for r in rows if r["case"] == case and r["time"] == t]
            for metric in ("W1", "BL_active"):
                fit = fit_rate([r["n"] for r in sub], [r[metric] for r in sub])
                claims.append(Claim(
                    f"rate_{metric}_{case}_t{t:g}",
                    f"{metric}(particles, FV) at t={t:g} decreases as n grows ({case}; paper: no rate)",
                    f"slope {fit}", fit.slope < -0.3, fit.slope, (-np.inf, -0.3), "Thm 5.1; notes §5.4"))
        big = [r for r in rows if r["case"] == case and r["n"] == ns[-1] and r["time"] == 2.0][0]
        gap = abs(big["A_particles"] - big["A_fv"])
        claims.append(Claim(
            f"annihilated_mass_{case}", f"A(2) from particles (n={ns[-1]}) and FV agree ({case})",
            f"particles {big['A_particles']:.4f}, FV {big['A_fv']:.4f}", gap < 0.01, gap, (0, 0.01), "notes §5.4"))
    a_ref = [r for r in rows if r["case"] == "W=0" and r["time"] == 2.0][0]["A_fv"]
    claims.append(Claim("annihilated_mass_reference", "A(2) matches the notes' reference 0.140 ± 0.001 (W = 0)",
                        f"FV {a_ref:.4f}", abs(a_ref - 0.1404) < 1.5e-3, a_ref, (0.1389, 0.1419), "notes §5.4 table"))
    fig.savefig(outdir / "annihilation1d_mass.png", dpi=110)
    plt.close(fig)
    with open(outdir / "annihilation1d_distances.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return PaperReport("001", "van Meurs-Morandotti: particles with an annihilation rule", claims,
                       [str(outdir / "annihilation1d_mass.png")], [str(outdir / "annihilation1d_distances.csv")],
                       f"n = {ns}; FV 1600 cells on [-4, 4]; wall time {time.perf_counter() - t0:.1f} s")
