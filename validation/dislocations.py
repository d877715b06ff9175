"""Validation of model 003 (Hudson–van Meurs–Peletier, screw dislocations on T²).

Checked here:

* Theorem 1.3, ``‖f_ε − f‖_{L²(ν_ε)} = O(ε²)`` between the lattice mean field (MF^ε, eq. (11)) and
  the continuum mean field (MF, eq. (12)), ε = 1/16 … 1/128 (quick) or 1/256 (full), with a fitted
  slope and confidence interval; mass conservation and positivity of MF^ε;
* Theorem 1.5: (SDE_n) empirical measures → MF in the dual bounded-Lipschitz norm with the paper's
  normalisation ``‖φ‖∞ + ‖∇φ‖∞ ≤ 1`` ("sum", notes §7), per species, n = 50 … 400 (quick) or
  50 … 1600 (full, 1.5 decades), replicas with a confidence interval on the fitted slope
  (the paper: about n^{-1/2} up to a logarithm).

Not yet: the lattice random walks (RW) and Theorems 1.2, 1.6.
"""

from __future__ import annotations

import csv
import pathlib
import time

import numpy as np

from meanfield.measures import GridDensity
from meanfield.metrics import bounded_lipschitz
from meanfield.models.dislocations import Dislocations2D
from solvers.grids import UniformGrid
from meanfield.rates import fit_rate
from validation.claims import Claim, PaperReport


def run(outdir: pathlib.Path, quick: bool = True) -> PaperReport:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    model = Dislocations2D(delta=0.1, beta=1.0, amplitude=0.4)
    t_end = 0.05
    n_ref = 256 if quick else 512
    ref = model.solve_continuum(n_ref, t_end).density.values[-1]
    epss = [1 / 16, 1 / 32, 1 / 64, 1 / 128] + ([] if quick else [1 / 256])
    rows, worst_mass, min_density = [], 0.0, np.inf
    for eps in epss:
        n = int(round(1 / eps))
        f = model.solve_lattice(eps, t_end, times=[0.0, t_end]).density.values
        err = float(np.sqrt(eps**2 * np.sum((f[-1] - ref[:, :: n_ref // n, :: n_ref // n]) ** 2)))
        mass = f.sum(axis=(2, 3)) * eps**2
        worst_mass = max(worst_mass, float(np.abs(mass[-1] - mass[0]).max()))
        min_density = min(min_density, float(f.min()))
        rows.append({"eps": eps, "l2_error": err})
    with open(outdir / "dislocations_mfeps_vs_mf.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["eps", "l2_error"])
        w.writeheader()
        w.writerows(rows)
    e = np.array([r["l2_error"] for r in rows])
    fit = fit_rate(epss, e)
    claims = [
        Claim("rate_mfeps_to_mf", "‖f_ε − f‖_{L²(ν_ε)} = O(ε²) at t = 0.05 (δ = 0.1, β = 1)", f"slope {fit}",
              1.9 < fit.slope < 2.1, fit.slope, (1.9, 2.1), "Thm 1.3; notes §9.1"),
        Claim("mfeps_mass", "MF^ε conserves each species' mass to round-off", f"max drift {worst_mass:.1e}",
              worst_mass < 1e-12, worst_mass, (0, 1e-12), "notes §3.3"),
        Claim("mfeps_positive", "MF^ε keeps the densities positive", f"min density {min_density:.4f}",
              min_density > 0, min_density, (0, np.inf), "notes §3.3"),
    ]
    # SDE_n -> MF in the dual BL norm ("sum" convention of the paper)
    mf = model.solve_continuum(64, t_end).measure(t_end)
    coarse = UniformGrid((-0.5 / 64,) * 2, (1 - 0.5 / 64,) * 2, (16, 16))
    cont = {s: GridDensity(mf[s].values.reshape(16, 4, 16, 4).mean(axis=(1, 3)), coarse) for s in "+-"}
    ns = [50, 100, 200, 400] if quick else [50, 100, 200, 400, 800, 1600]
    replicas = range(4 if quick else 10)
    sde_rows = []
    for n in ns:
        for r in replicas:
            traj = model.simulate_particles(model.sample_particles(n, rng=r), t_end, rng=10_000 + r)
            parts = traj.measure(t_end)
            d = sum(bounded_lipschitz(parts[s], cont[s], "sum") for s in "+-")
            sde_rows.append({"n": n, "replica": r, "bl_sum": d})
    with open(outdir / "dislocations_sde_vs_mf.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["n", "replica", "bl_sum"])
        w.writeheader()
        w.writerows(sde_rows)
    fit_sde = fit_rate([r["n"] for r in sde_rows], [r["bl_sum"] for r in sde_rows])
    claims.append(Claim(
        "rate_sde_to_mf_bl", "‖ρ_n − ρ‖*_{1,∞} (SDE_n empirical measures vs MF, summed over species) decays like "
        "n^{-1/2} up to a logarithm", f"slope {fit_sde}", -0.75 < fit_sde.slope < -0.3, fit_sde.slope, (-0.75, -0.3),
        "Thm 1.5; notes §9.1"))

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained")
    ax = axes[0]
    ax.loglog(epss, e, "o", label="MF^ε vs MF")
    xs = np.geomspace(min(epss), max(epss), 20)
    ax.loglog(xs, fit.prefactor() * xs**fit.slope, "-", label=f"slope {fit.slope:.3f}")
    ax.set_xlabel("ε")
    ax.set_ylabel("discrete L² error")
    ax.legend()
    ax = axes[1]
    ax.loglog([r["n"] for r in sde_rows], [r["bl_sum"] for r in sde_rows], ".", alpha=0.5, label="SDE_n replicas")
    xs = np.geomspace(min(ns), max(ns), 20)
    ax.loglog(xs, fit_sde.prefactor() * xs**fit_sde.slope, "-", label=f"slope {fit_sde.slope:.3f}")
    ax.set_xlabel("n")
    ax.set_ylabel("dual BL (sum convention)")
    ax.legend()
    fig.savefig(outdir / "dislocations_rate.png", dpi=110)
    plt.close(fig)
    return PaperReport("003", "Hudson-van Meurs-Peletier: screw dislocations, MF^eps -> MF, SDE -> MF", claims,
                       [str(outdir / "dislocations_rate.png")], [str(outdir / "dislocations_mfeps_vs_mf.csv"),
                                                          str(outdir / "dislocations_sde_vs_mf.csv")],
                       f"reference: spectral MF on {n_ref}²; wall time {time.perf_counter() - t0:.1f} s; "
                       "lattice random walks (RW) not implemented yet")
