"""Validation of model 000 (signed Coulomb charges, van Meurs-Peletier-Slangen).

Claims checked
--------------
1. Mean-field convergence (Thm 5.4; no rate in the paper): with gamma = gamma_bar / N and
   sigma^2 > 2 gamma_bar, the per-species empirical measures approach the PDE solution (1.3)
   (diffusion sigma^2/2, notes §8.1). Measured: W1 between the normalised species measures and
   the spectral PDE solution at t_end, across N and seeds; fitted rate with 95% CI. Expected:
   the 2-D sampling floor N^{-1/2} (up to logs; notes §6 "Comparison / metrics"), band
   [-0.7, -0.3] for the slope.
2. PDE second-moment law (notes V11) of the spectral solver, relative error < 1e-3.
3. Spectral and finite-volume solvers agree (L1 gap < 2e-2 at the FV resolution used).
"""

from __future__ import annotations

import csv
import pathlib
import time

import numpy as np

from meanfield.measures import EmpiricalMeasure, GridDensity
from meanfield.models.coulomb2d import SignedCoulomb2D
from meanfield.rates import fit_rate
from validation.claims import Claim, PaperReport

try:  # the shared metrics package (lands on main separately)
    from meanfield.metrics import wasserstein as _wasserstein
    from meanfield.metrics import bounded_lipschitz as _bounded_lipschitz
except ImportError:  # pragma: no cover - fallback until meanfield.metrics lands
    _wasserstein = None
    _bounded_lipschitz = None


def _w1_pot(mu: EmpiricalMeasure, nu: GridDensity) -> float:
    """Private stand-in for ``meanfield.metrics.wasserstein(mu, nu, p=1)`` (POT exact EMD)."""
    import ot

    w = np.asarray(nu.cell_masses).ravel()
    keep = w > 1e-12 * w.max()
    pts = nu.grid.points()[keep]
    b = w[keep] / w[keep].sum()
    a = mu.weights / mu.weights.sum()
    cost = ot.dist(mu.positions, pts, metric="euclidean")
    return float(ot.emd2(a, b, cost, numItermax=10**8))


def _normalised(mu: EmpiricalMeasure) -> EmpiricalMeasure:
    return EmpiricalMeasure(mu.positions, mu.weights / mu.weights.sum(), mu.domain)


def distances(model, traj, sol, t):
    """W1 (and BL when available) per species between normalised particle and PDE measures."""
    parts = traj.measure(t)
    dens = sol.measure(t)
    out = {}
    for s in ("+", "-"):
        mu = _normalised(parts[s])
        # the pseudo-spectral solution carries round-off-level negative values in the far field
        # (|negative mass| ~ 1e-12 here); distances between measures use its positive part
        positive = np.clip(dens[s].values, 0.0, None)
        nu = GridDensity(positive / dens[s].grid.integrate(positive), dens[s].grid)
        out[f"w1_{s}"] = _wasserstein(mu, nu, p=1) if _wasserstein is not None else _w1_pot(mu, nu)
        if _bounded_lipschitz is not None:
            out[f"bl_{s}"] = _bounded_lipschitz(mu, nu)
    return out


def run(outdir: pathlib.Path, quick: bool = True) -> PaperReport:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    model = SignedCoulomb2D(sigma=1.0, gamma_bar=0.4, mass_plus=0.5, mass_minus=0.5, centre_plus=(-0.4, 0.0),
                            centre_minus=(0.4, 0.0), width=0.4)
    t_end = 0.1
    ns = [2**k for k in (range(6, 10) if quick else range(6, 14))]
    seeds = range(2 if quick else 3)
    grid = model.default_grid(64, t_end) if quick else model.default_grid(96, t_end, tail=4.0)
    sol = model.solve_continuum(model.initial_density(grid), grid, t_end, times=[0.0, t_end], dt=t_end / 32)

    rows = []
    last = None
    for n in ns:
        for s in seeds:
            x0 = model.sample_particles(n, rng=s)
            traj = model.simulate_particles(x0, t_end, rng=10_000 + s)
            d = distances(model, traj, sol, t_end)
            rows.append({"n": n, "seed": s, **d, "steps": traj.info["steps"], "capped": traj.info["capped_steps"],
                         "seconds": round(time.perf_counter() - t0, 2)})
            if not quick:
                print(rows[-1], flush=True)
            last = traj
    data = outdir / "coulomb2d_meanfield.csv"
    with open(data, "w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=list(rows[0]))
        wr.writeheader()
        wr.writerows(rows)
    n_arr = np.array([r["n"] for r in rows], float)
    w1 = np.array([0.5 * (r["w1_+"] + r["w1_-"]) for r in rows])
    fit = fit_rate(n_arr, w1)
    claims = [Claim("meanfield_rate_w1",
                    "W1(L^{N,+-}, rho^+-) decays in N (Thm 5.4), at the 2-D sampling rate N^-1/2",
                    f"slope {fit}", bool(-0.7 <= fit.slope <= -0.3), fit.slope, (-0.7, -0.3), "Thm 5.4; notes §6")]
    if rows and "bl_+" in rows[0]:
        bl = np.array([0.5 * (r["bl_+"] + r["bl_-"]) for r in rows])
        fb = fit_rate(n_arr, bl)
        claims.append(Claim("meanfield_rate_bl", "BL distance decays in N", f"slope {fb}",
                            bool(-0.7 <= fb.slope <= -0.3), fb.slope, (-0.7, -0.3), "Thm 5.4"))
    m2 = sol["second_moment"].values
    rate = (m2[-1] - m2[0]) / t_end
    rel = abs(rate / model.second_moment_rate() - 1)
    claims.append(Claim("pde_second_moment_law", "d/dt int|x|^2 Sigma = 2 sigma^2 m + gamma_bar (m+ - m-)^2",
                        f"relative error {rel:.2e}", bool(rel < 1e-3), rel, (0.0, 1e-3), "notes V11"))
    fv = model.solve_continuum(model.initial_density(grid), grid, t_end, times=[0.0, t_end], method="fv")
    gap = float(np.abs(fv["density"].values[-1] - sol["density"].values[-1]).sum() * grid.cell_volume)
    claims.append(Claim("solvers_agree", "spectral ETD2RK and upwind FV agree", f"L1 gap {gap:.2e}",
                        bool(gap < 2e-2), gap, (0.0, 2e-2), "issue 5"))

    figs = []
    fig, ax = plt.subplots(1, 3, figsize=(13, 4))
    X, Y = grid.mesh()
    dens = sol.measure(t_end)
    pos = last.positions[-1]
    lab = np.asarray(last.species[-1])
    for k, (s, c) in enumerate((("+", "Reds"), ("-", "Blues"))):
        ax[k].contourf(X, Y, dens[s].values, levels=12, cmap=c)
        sel = lab == s
        ax[k].scatter(pos[sel, 0], pos[sel, 1], s=2, c="k", alpha=0.5)
        ax[k].set_title(f"rho^{s} at t={t_end} and N={last.positions[-1].shape[0]} particles")
        ax[k].set_xlim(-2.5, 2.5)
        ax[k].set_ylim(-2.5, 2.5)
        ax[k].set_aspect("equal")
    ax[2].loglog(n_arr, w1, "o", label="W1 (mean of species)")
    nn = np.unique(n_arr)
    ax[2].loglog(nn, fit.prefactor() * nn**fit.slope, "-", label=f"fit slope {fit.slope:.2f}")
    ax[2].set_xlabel("N")
    ax[2].legend()
    p = outdir / "coulomb2d_meanfield.png"
    fig.tight_layout()
    fig.savefig(p, dpi=90)
    plt.close(fig)
    figs.append(str(p))
    notes = (f"quick={quick}, N in {ns}, seeds {len(list(seeds))}, t_end={t_end}, grid {grid.shape}, "
             f"metrics={'meanfield.metrics' if _wasserstein else 'private POT fallback (W1 only)'}, "
             f"elapsed {time.perf_counter() - t0:.1f} s")
    return PaperReport("000", "Signed Coulomb charges in R^2: mean-field limit", claims, figs, [str(data)], notes)


if __name__ == "__main__":  # pragma: no cover
    import sys

    rep = run(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "out_coulomb2d"), quick="--full" not in sys.argv)
    for c in rep.claims:
        print(c.name, c.passed, c.measured)
    print(rep.notes)
