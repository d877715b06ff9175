"""Validation of model 003 (Hudson–van Meurs–Peletier, screw dislocations on T²).

Checked here: Theorem 1.3, ``‖f_ε − f‖_{L²(ν_ε)} = O(ε²)`` between the lattice mean field (MF^ε,
eq. (11)) and the continuum mean field (MF, eq. (12)), ε = 1/16 … 1/128 (quick) or 1/256 (full),
with a fitted slope and confidence interval; mass conservation and positivity of MF^ε.
Not yet: the particle systems (RW) and (SDE) and Theorems 1.2, 1.5, 1.6 (see the issue's notes).
"""

from __future__ import annotations

import csv
import pathlib
import time

import numpy as np

from meanfield.models.dislocations import Dislocations2D
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
    fig, ax = plt.subplots(figsize=(4.5, 3.6), layout="constrained")
    ax.loglog(epss, e, "o", label="MF^ε vs MF")
    xs = np.geomspace(min(epss), max(epss), 20)
    ax.loglog(xs, fit.prefactor() * xs**fit.slope, "-", label=f"slope {fit.slope:.3f}")
    ax.set_xlabel("ε")
    ax.set_ylabel("discrete L² error")
    ax.legend()
    fig.savefig(outdir / "dislocations_rate.png", dpi=110)
    plt.close(fig)
    return PaperReport("003", "Hudson-van Meurs-Peletier: screw dislocations, MF^eps -> MF", claims,
                       [str(outdir / "dislocations_rate.png")], [str(outdir / "dislocations_mfeps_vs_mf.csv")],
                       f"reference: spectral MF on {n_ref}²; wall time {time.perf_counter() - t0:.1f} s; "
                       "particle systems RW/SDE not implemented yet")
