"""Validation of model 002 (Di Francesco-Esposito-Schmidtchen, two species, N(x) = |x|).

The paper proves convergence of the particle system to system (5) with no rate (Thm 5.1) and has
no numerical experiments (notes/002.md §4). What we check:

* particle empirical measures vs the continuum solution (quantile flow, fine M) in W1, W2 and the
  bounded-Lipschitz norm at t = 0.25, 0.5, 1, for separated and overlapping initial data,
  N = 2^4 .. 2^10 (quick) or 2^4 .. 2^12 (full); a fitted rate with a 95 % CI for every metric and
  time (notes §5.5 expects O(1/N) in W1 with midpoint atomisation);
* the exact separated-support formula W1 = (1 + 2t)/(4N) before contact (notes §5.3);
* total centre of mass conserved and energy non-increasing along particle and continuum runs, on
  41 times in [0, 1] (curves in the figures), and the particle energy curve close to the
  continuum one (notes §5.2, §5.4);
* the two continuum solvers agree (finite volume vs quantile flow at the FV order).

Metrics: ``meanfield.metrics.wasserstein`` (exact in 1-D) and ``bounded_lipschitz`` ("max").
"""

from __future__ import annotations

import csv
import pathlib
import time

import numpy as np

from meanfield.measures import EmpiricalMeasure, IntervalDensity1D
from meanfield.models.newtonian1d import Newtonian1D, reconstruction_lm_power
from meanfield.rates import fit_rate
from validation.claims import Claim, PaperReport

from meanfield.metrics import bounded_lipschitz, wasserstein

CASES = {
    "overlapping": dict(rho_support=(0.0, 1.0), eta_support=(0.5, 1.5)),
    "separated": dict(rho_support=(0.0, 1.0), eta_support=(1.5, 2.5)),
}
TIMES = [0.25, 0.5, 1.0]
CURVE_TIMES = np.arange(41) / 40.0  # energy / centre-of-mass curves; contains TIMES exactly


def _distances(x, sol, t, species):
    mu, nu = EmpiricalMeasure(x), sol.measure(t, species=species)
    return float(wasserstein(mu, nu, p=1)), float(wasserstein(mu, nu, p=2)), float(bounded_lipschitz(mu, nu))


def run(outdir: pathlib.Path, quick: bool = True) -> PaperReport:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    Ns = [2**k for k in range(4, 11 if quick else 13)]
    M_ref = 2048 if quick else 8192
    claims, rows, figures, data = [], [], [], []
    fig_d, axd = plt.subplots(2, 2, figsize=(10, 7))
    fig_r, axr = plt.subplots(1, 2, figsize=(10, 4))
    fig_e, axe = plt.subplots(1, 2, figsize=(10, 4))
    t_start = time.perf_counter()
    for c, (case, sup) in enumerate(CASES.items()):
        model = Newtonian1D(**sup)
        sol = model.solve_continuum(M_ref, 1.0, CURVE_TIMES, method="quantile")
        fv = model.solve_continuum(M_ref // 4, 1.0, TIMES, method="finite_volume")
        # FV vs quantile at t = 1: exact W1 between the two piecewise-constant densities
        e_fv = sum(wasserstein(fv.measure(1.0, species=sp), sol.measure(1.0, species=sp), 1) for sp in ("rho", "eta"))
        dx = float(np.diff(model.hull())[0]) / (M_ref // 4)
        claims.append(Claim(
            f"fv_vs_quantile_{case}", "finite-volume and quantile-flow solutions agree at the FV order (W1 <= 2 dx at t=1)",
            f"W1 sum over species = {e_fv:.3e}, dx = {dx:.3e}", e_fv <= 2 * dx, e_fv, (0.0, 2 * dx), "notes §6.4, §6.6"))
        errs = {(t, k): [] for t in TIMES for k in ("W1", "W2", "BL")}
        for n in Ns:
            x0, y0 = model.sample_particles(n, method="midpoint")
            tr = model.simulate_particles((x0, y0), 1.0, CURVE_TIMES, record_events=False)
            for t in TIMES:
                k = int(np.argmin(np.abs(CURVE_TIMES - t)))
                d = [_distances(tr.info["x"][k], sol, t, "rho"), _distances(tr.info["y"][k], sol, t, "eta")]
                w1, w2, bl = (d[0][i] + d[1][i] for i in range(3))
                errs[(t, "W1")].append(w1)
                errs[(t, "W2")].append(w2)
                errs[(t, "BL")].append(bl)
                rows.append({"case": case, "N": n, "t": t, "W1": w1, "W2": w2, "BL": bl,
                             "energy": tr.info["energy"][k], "events": len(tr.info["event_time"])})
            com = tr.info["x"].sum(1) / n + tr.info["y"].sum(1) / n
            com0 = x0.mean() + y0.mean()
            if n == Ns[-1]:
                dcom = float(np.max(np.abs(com - com0)))
                claims.append(Claim(f"particle_com_{case}", "total centre of mass is conserved exactly (notes §1.5)",
                                    f"max |CoM(t) - CoM(0)| = {dcom:.1e} at N={n}", dcom <= 1e-12, dcom, (0, 1e-12),
                                    "notes §1.5, §5.2(2)"))
                en = tr.info["energy"]
                inc = float(np.max(np.diff(en)))
                claims.append(Claim(f"particle_energy_{case}", "particle energy int (F-H)^2 is non-increasing",
                                    f"N={n}, {CURVE_TIMES.size} times in [0, 1]: {en[0]:.6f} -> {en[-1]:.6f}, "
                                    f"largest step {inc:.2e}", inc <= 1e-14, inc, (-np.inf, 1e-14), "notes §5.2(4)"))
                gap = float(np.max(np.abs(en - sol.energy.values)))
                claims.append(Claim(f"energy_particles_vs_continuum_{case}",
                                    "particle energy curve follows the continuum one to O(1/N^2): max over t <= 1/N^2 "
                                    "(measured 0.35-0.47/N^2 at N = 1024 and 4096)",
                                    f"N={n}: max_t |F_N(t) - F(t)| = {gap:.2e} = {gap * n * n:.2f}/N^2", gap <= 1.0 / n**2,
                                    gap, (0.0, 1.0 / n**2), "notes §1.4, §2.2, §5.3"))
                ax = axd[c, 0]
                for sp, arr, col in (("rho", tr.info["x"][-1], "C0"), ("eta", tr.info["y"][-1], "C1")):
                    ax.hist(arr, bins=64, density=True, alpha=0.35, color=col, label=f"particles {sp} (N={n})")
                    q = sol.measure(1.0, species=sp)
                    dens = q.density()
                    ax.stairs(dens, q.edges, color=col, lw=1.2,
                              label=f"quantile flow {sp}")
                ax.set_title(f"{case}: densities at t=1")
                ax.legend(fontsize=7)
                axd[c, 1].plot(CURVE_TIMES, en, "-", label=f"particles (N={n})")
                axd[c, 1].plot(CURVE_TIMES, sol.energy.values, "--", label="continuum (quantile flow)")
                axd[c, 1].set_xlabel("t")
                axd[c, 1].set_title(f"{case}: energy")
                axd[c, 1].legend(fontsize=7)
                axe[c].plot(CURVE_TIMES, tr.info["x"].mean(1), "-", label=f"CoM rho (particles, N={n})")
                axe[c].plot(CURVE_TIMES, tr.info["y"].mean(1), "-", label=f"CoM eta (particles, N={n})")
                axe[c].plot(CURVE_TIMES, com, "-", label="total CoM (particles)")
                axe[c].plot(CURVE_TIMES, sol.centre_of_mass.values[:, 0], "k:", label="CoM rho (continuum)")
                axe[c].plot(CURVE_TIMES, sol.centre_of_mass.values[:, 1], "k--", label="CoM eta (continuum)")
                axe[c].plot(CURVE_TIMES, sol.centre_of_mass.values.sum(1), "k-.", label="total CoM (continuum)")
                axe[c].set_xlabel("t")
                axe[c].set_title(f"{case}: centres of mass")
                axe[c].legend(fontsize=7)
        en_c = sol.energy.values
        inc_c = float(np.max(np.diff(en_c)))
        claims.append(Claim(f"continuum_energy_{case}", "continuum energy is non-increasing",
                            f"{CURVE_TIMES.size} times in [0, 1]: {en_c[0]:.6f} -> {en_c[-1]:.6f}, largest step {inc_c:.2e}",
                            inc_c < 0, inc_c, (-np.inf, 0.0), "notes §5.4"))
        for t in TIMES:
            for metric in ("W1", "W2", "BL"):
                e = np.array(errs[(t, metric)])
                fit = fit_rate(Ns, e)
                band = (-1.1, -0.9)
                claims.append(Claim(
                    f"rate_{metric}_t{t:g}_{case}",
                    f"{metric}(particles, continuum) at t={t:g} decays like N^rate (expect -1, midpoint atomisation)",
                    f"rate {fit}", band[0] <= fit.slope <= band[1], fit.slope, band,
                    "notes §5.5 [scratch]; paper: no rate"))
                if t == 1.0:
                    axr[c].loglog(Ns, e, "o-", label=f"{metric}, rate {fit.slope:.2f} [{fit.ci[0]:.2f}, {fit.ci[1]:.2f}]")
        for t in TIMES[:2]:
            axr[c].loglog(Ns, errs[(t, "W1")], ":", label=f"W1 at t={t}")
        axr[c].set_title(f"{case}: distance vs N at t=1")
        axr[c].set_xlabel("N per species")
        axr[c].legend(fontsize=7)
    # Props 5.1-5.3 (the paper's key a-priori estimate): Phi_m of the ghost reconstruction never
    # increases, and Phi_m(0) <= ||rho_0||_m^m + ||eta_0||_m^m, with the paper's atomisation (65)
    for case, sup in CASES.items():
        model = Newtonian1D(**sup)
        n = Ns[-1] // 4
        ts = np.linspace(0.0, 1.0, 101)
        tr = model.simulate_particles(model.sample_particles(n, method="paper"), 1.0, ts, record_events=False,
                                      ghosts="support")
        X = np.concatenate([tr.info["x_ghost"][:, None], tr.info["x"]], 1)
        Y = np.concatenate([tr.info["y_ghost"][:, None], tr.info["y"]], 1)
        phi = np.array([reconstruction_lm_power(X[k], 2.0) + reconstruction_lm_power(Y[k], 2.0) for k in range(ts.size)])
        worst = float(np.max(np.diff(phi) / phi[:-1]))
        claims.append(Claim(
            f"lm_monotone_{case}", "Phi_2 = ||rho~^N||_2^2 + ||eta~^N||_2^2 is non-increasing (ghost convention)",
            f"N={n}: Phi_2 {phi[0]:.6f} -> {phi[-1]:.6f}, max relative increase {worst:.1e}; ||rho0||^2+||eta0||^2 = 2",
            worst <= 1e-12 and phi[0] <= 2.0 * (1 + 1e-12), worst, (-np.inf, 1e-12), "Props 5.1-5.3; notes §3.2, §3.5"))
    # exact formula (notes §5.3), separated uniform data, before contact (t < gap/4 = 1/8)
    m = Newtonian1D(**CASES["separated"])
    n, t = 256, 0.1
    tr = m.simulate_particles(m.sample_particles(n), t, [t])
    w1 = wasserstein(EmpiricalMeasure(tr.info["x"][0]), IntervalDensity1D([0.0, 1.0 + 2 * t], [1.0]), 1)
    exact = (1 + 2 * t) / (4 * n)
    claims.append(Claim("exact_w1_separated", "W1(rho^N, rho) = (1+2t)/(4N) for midpoint atomisation before contact",
                        f"{w1:.15e} vs {exact:.15e}", abs(w1 - exact) <= 1e-12 * exact + 1e-15, w1, (exact, exact),
                        "notes §5.3"))
    for f, name in ((fig_d, "newtonian1d_densities.png"), (fig_r, "newtonian1d_rates.png"), (fig_e, "newtonian1d_com.png")):
        f.tight_layout()
        p = outdir / name
        f.savefig(p, dpi=110)
        plt.close(f)
        figures.append(str(p))
    csv_path = outdir / "newtonian1d_distances.csv"
    with open(csv_path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    data.append(str(csv_path))
    notes = (f"N = {Ns[0]}..{Ns[-1]}, continuum reference: quantile flow with M = {M_ref}; "
             f"wall time {time.perf_counter() - t_start:.1f} s")
    return PaperReport("002", "Di Francesco-Esposito-Schmidtchen: two species, 1D Newtonian potential", claims,
                       figures, data, notes)

