"""Validation of model 003 (Hudson–van Meurs–Peletier, screw dislocations on T²).

Checked here:

* Theorem 1.3, ``‖f_ε − f‖_{L²(ν_ε)} = O(ε²)`` between the lattice mean field (MF^ε, eq. (11)) and
  the continuum mean field (MF, eq. (12)), ε = 1/16 … 1/128 (quick) or 1/256 (full), with a fitted
  slope and confidence interval; mass conservation and positivity of MF^ε;
* Theorem 1.5: (SDE_n) empirical measures → MF in the dual bounded-Lipschitz norm with the paper's
  normalisation ``‖φ‖∞ + ‖∇φ‖∞ ≤ 1`` ("sum", notes §7), per species, n = 50 … 400 (quick) or
  50 … 1600 (full, 1.5 decades), replicas with a confidence interval on the fitted slope
  (the paper: about n^{-1/2} up to a logarithm).

* Theorem 1.6: (RW_n^ε) empirical measures (kinetic Monte Carlo) → MF^ε in the same norm, with fixed
  signs n/2 each (κ = 0), n = 50 … 400 (quick) or 32 … 2048 (full, 1.8 decades), replicas, fitted
  slope with confidence interval (paper: n^{-1/2} up to a logarithm, uniformly in ε);
* Theorem 1.2 for one and two particles, where the laws are computable: one walker (no force) against
  Brownian motion, exactly mode by mode; a ± pair through its separation ``z = X_1 - X_2``, whose
  lattice law (a walk with rates ``(2/(βε²))exp(½βh·F_1(z))``) and continuum law (Fokker–Planck of
  ``dz = ∇V_δ(z) dt + sqrt(4/β) dW``) are solved numerically (notes §9.2 items 1, 6): both
  ``‖p_ε − p‖_{L²(ν_ε)} = O(ε²)``; and the KMC itself against these laws: the single walker's
  displacement is Skellam(μ, μ) (chi-square test), the pair's separation follows the lattice law
  (mean of the log-likelihood ratio against the free law, within 4 standard errors);
* Lemma 3.1 (notes §9.1 V12): the top eigenvalue of the symmetric part of the lattice operator
  ``A_ε[ρ_ε]`` (sparse, shift-invert Lanczos) for ρ_ε = the MF^ε solution at t = 0.05 and a point
  mass, ε = 1/16 … 1/128 (quick) or 1/256: independent of ε (max/min < 1.10) and below an explicit
  derived bound (the lemma's own constant C is not given).
"""

from __future__ import annotations

import csv
import pathlib
import time

import numpy as np
from scipy import stats

from meanfield.measures import GridDensity
from meanfield.metrics import bounded_lipschitz
from meanfield.models.dislocations import Dislocations2D
from meanfield.plot import plot_rate
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
    n_ref = 128 if quick else 512  # spectral: 128² already resolves |k| ≤ 42, where φ̂_δ < 1e-15
    ref = model.solve_continuum(n_ref, t_end).density.values[-1]
    epss = [1 / 16, 1 / 32, 1 / 64, 1 / 128] + ([] if quick else [1 / 256])
    rows, worst_mass, min_density, finals = [], 0.0, np.inf, {}
    for eps in epss:
        n = int(round(1 / eps))
        f = model.solve_lattice(eps, t_end, times=[0.0, t_end]).density.values
        err = float(np.sqrt(eps**2 * np.sum((f[-1] - ref[:, :: n_ref // n, :: n_ref // n]) ** 2)))
        mass = f.sum(axis=(2, 3)) * eps**2
        worst_mass = max(worst_mass, float(np.abs(mass[-1] - mass[0]).max()))
        min_density = min(min_density, float(f.min()))
        rows.append({"eps": eps, "l2_error": err})
        finals[eps] = f[-1]
    with open(outdir / "dislocations_mfeps_vs_mf.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["eps", "l2_error"])
        w.writeheader()
        w.writerows(rows)
    e = np.array([r["l2_error"] for r in rows])
    fit = fit_rate(epss, e)
    stamps = {"mfeps": time.perf_counter() - t0}
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

    stamps["sde"] = time.perf_counter() - t0 - sum(stamps.values())
    # RW_n^eps -> MF^eps (Theorem 1.6), fixed signs n/2 each, dual BL "sum" per species, summed
    eps_rw = 1 / 16
    lat = model.solve_lattice(eps_rw, t_end).density.values[-1]
    site_grid = UniformGrid((-0.5 * eps_rw,) * 2, (1 - 0.5 * eps_rw,) * 2, (16, 16), periodic=True)
    lat_dens = {s: GridDensity(lat[k], site_grid) for k, s in enumerate("+-")}
    ns_rw = [50, 100, 200, 400] if quick else [32, 64, 128, 256, 512, 1024, 2048]
    reps_rw = 4 if quick else 10
    rw_rows = []
    for n in ns_rw:
        starts = [model.sample_lattice_particles(n, eps_rw, rng=20_000 + r, n_plus=n // 2) for r in range(reps_rw)]
        trajs = model.simulate_walkers(starts, eps_rw, t_end, rng=30_000 + n)
        for r, tr in enumerate(trajs):
            parts = tr.measure(t_end)
            d = sum(bounded_lipschitz(parts[s], lat_dens[s], "sum") for s in "+-")
            rw_rows.append({"n": n, "replica": r, "bl_sum": d, "jumps": tr.info["jumps"]})
    with open(outdir / "dislocations_rw_vs_mfeps.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["n", "replica", "bl_sum", "jumps"])
        w.writeheader()
        w.writerows(rw_rows)
    fit_rw = fit_rate([r["n"] for r in rw_rows], [r["bl_sum"] for r in rw_rows])
    claims.append(Claim(
        "rate_rw_to_mfeps_bl", "‖ρ_{ε,n} − ρ_ε‖*_{1,∞} (RW_n^ε empirical measures vs MF^ε, ε = 1/16, summed over "
        "species) decays like n^{-1/2} up to a logarithm", f"slope {fit_rw}", -0.75 < fit_rw.slope < -0.3,
        fit_rw.slope, (-0.75, -0.3), "Thm 1.6; notes §9.1 V6"))

    stamps["rw"] = time.perf_counter() - t0 - sum(stamps.values())
    # Theorem 1.2, one particle: exact lattice walk vs Brownian motion, mode by mode
    model2 = Dislocations2D(delta=0.25, beta=4.0)
    t2 = 0.05
    eps_law = [1 / 16, 1 / 32, 1 / 64] + ([] if quick else [1 / 128])
    one = [model2.single_law_distance(e, t2) for e in eps_law]
    fit_one = fit_rate(eps_law, one)
    claims.append(Claim(
        "rate_rw_sde_one_particle", "one walker (F = 0) vs Brownian motion: ‖p_ε − p‖_{L²(ν_ε)} = O(ε²) "
        "(exact, mode by mode; δ = 0.25, β = 4, t = 0.05)", f"slope {fit_one}", 1.9 < fit_one.slope < 2.1,
        fit_one.slope, (1.9, 2.1), "Thm 1.2; notes §9.2 item 1"))
    # Theorem 1.2, a ± pair through the separation z
    m_ref = 128 if quick else 256
    ref2 = model2.pair_law_continuum(-1, t2, resolution=m_ref)[-1]
    two = []
    for eps2 in eps_law:
        n = int(round(1 / eps2))
        p = model2.pair_law_lattice(eps2, -1, t2)[-1]
        two.append(float(np.sqrt(eps2**2 * np.sum((p - ref2[:: m_ref // n, :: m_ref // n]) ** 2))))
    fit_two = fit_rate(eps_law, two)
    claims.append(Claim(
        "rate_rw_sde_two_particles", "± pair: law of z = X_1 − X_2 under RW_2^ε vs SDE_2, ‖p_ε − p‖_{L²(ν_ε)} = O(ε²) "
        "(δ = 0.25, β = 4, t = 0.05)", f"slope {fit_two}", 1.9 < fit_two.slope < 2.1, fit_two.slope, (1.9, 2.1),
        "Thm 1.2; notes §9.2 item 6"))
    with open(outdir / "dislocations_rw_vs_sde_laws.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["eps", "one_particle_l2", "pair_l2"])
        w.writeheader()
        w.writerows({"eps": x, "one_particle_l2": y1, "pair_l2": y2} for x, y1, y2 in zip(eps_law, one, two))

    stamps["laws"] = time.perf_counter() - t0 - sum(stamps.values())
    # the KMC against these laws: one walker (Skellam displacement), a ± pair (lattice law of z)
    eps_k, t_k, reps_k = 1 / 16, 0.02, 2000 if quick else 20000
    mu = t_k / (model.beta * eps_k**2)
    start = (np.array([[0.5, 0.5]]), np.array([1]))
    walkers = model.simulate_walkers([start] * reps_k, eps_k, t_k, rng=40_000)
    disp = np.clip([int(round((tr.info["unwrapped"][-1][0, 0] - 0.5) / eps_k)) for tr in walkers], -8, 8)
    probs = np.concatenate([[stats.skellam.cdf(-8, mu, mu)], stats.skellam.pmf(np.arange(-7, 8), mu, mu),
                            [stats.skellam.sf(7, mu, mu)]])
    pval = float(stats.chisquare([np.sum(disp == k) for k in range(-8, 9)], reps_k * probs).pvalue)
    claims.append(Claim(
        "kmc_single_walker_law", "one KMC walker's displacement (units of ε) is Skellam(μ, μ), μ = t/(βε²) "
        f"(chi-square over {reps_k} runs)", f"p-value {pval:.3f}", pval > 1e-3, pval, (1e-3, 1),
        "eq. (8) with n = 1; notes §9.2 item 1"))
    m3 = Dislocations2D(delta=0.25, beta=16.0, c_prime=2.0)
    eps3, t3, reps3 = 1 / 32, 0.2, 8000 if quick else 40000
    g = np.random.default_rng(50_000)
    _, x3, y3 = m3.lattice(eps3)
    mass = (m3.pair_initial_density(x3, y3) * eps3**2).ravel()
    z0 = np.stack(np.unravel_index(g.choice(mass.size, size=reps3, p=mass / mass.sum()), (32, 32)), 1)
    l2 = g.integers(0, 32, (reps3, 2))
    pairs = [(np.stack([(l2[r] + z0[r]) % 32, l2[r]]) * eps3, np.array([1, -1])) for r in range(reps3)]
    zs = np.array([np.rint((tr.positions[-1][0] - tr.positions[-1][1]) / eps3).astype(int) % 32
                   for tr in m3.simulate_walkers(pairs, eps3, t3, rng=50_001)])
    p_int = m3.pair_law_lattice(eps3, -1, t3)[-1] * eps3**2
    p_free = m3.pair_law_lattice(eps3, 0, t3)[-1] * eps3**2
    phi = np.log(p_int / p_free)
    vals = phi[zs[:, 0], zs[:, 1]]
    se = float(vals.std() / np.sqrt(reps3))
    zscore = float((vals.mean() - np.sum(p_int * phi)) / se)
    zfree = float((vals.mean() - np.sum(p_free * phi)) / se)
    claims.append(Claim(
        "kmc_pair_law", "KMC ± pair (δ = 0.25, β = 16, ε = 1/32, t = 0.2): mean of φ = log(p_int/p_free) at the "
        "separation agrees with the lattice master equation within 4 standard errors (and not with the free law)",
        f"z-score {zscore:+.2f} vs the master equation, {zfree:+.1f} vs the free law ({reps3} pairs)",
        abs(zscore) < 4 and abs(zfree) > 4, zscore, (-4, 4), "eq. (8) with n = 2; notes §9.2 item 6"))

    stamps["kmc_laws"] = time.perf_counter() - t0 - sum(stamps.values())

    # Lemma 3.1 (notes §9.1 V12): top eigenvalue of the symmetric part of A_ε[ρ_ε], uniform in ε
    stab_rows = []
    for eps in epss:
        n = int(round(1 / eps))
        point = np.zeros((2, n, n))
        point[0, 0, 0] = n * n  # all mass on one + site: a concentrated ρ_ε ∈ P(Λ_{ε,±})
        for kind, rho in (("mfeps_t", finals[eps]), ("point_mass", point)):
            lam, bound = model.stability_constant(eps, rho)
            stab_rows.append({"eps": eps, "density": kind, "lambda": lam, "derived_bound": bound,
                              "lambda_over_beta_delta-2": lam * model.delta**2 / model.beta})
    with open(outdir / "dislocations_stability.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(stab_rows[0]))
        w.writeheader()
        w.writerows(stab_rows)
    spread = max(max(r["lambda"] for r in stab_rows if r["density"] == k)
                 / min(r["lambda"] for r in stab_rows if r["density"] == k) for k in ("mfeps_t", "point_mass"))
    below = all(0 < r["lambda"] <= r["derived_bound"] for r in stab_rows)
    claims.append(Claim(
        "stability_constant_eps_uniform", "Lemma 3.1: the top eigenvalue λ_ε of the symmetric part of A_ε[ρ_ε] in "
        "L²(𝒱_ε) (sparse operator, shift-invert Lanczos) is independent of ε (max/min over ε < 1.10), "
        "positive and below the explicit derived bound max Σ_h(e_h(ℓ-h) - e_h(ℓ))/(2βε²); "
        "ρ_ε = MF^ε at t = 0.05 and a point mass (δ = 0.1, β = 1)",
        "λ_ε at 1/ε = " + ", ".join(str(int(round(1 / e))) for e in epss) + ": MF^ε(t) "
        + ", ".join(f"{r['lambda']:.4e}" for r in stab_rows if r["density"] == "mfeps_t") + "; point mass "
        + ", ".join(f"{r['lambda']:.4e}" for r in stab_rows if r["density"] == "point_mass")
        + f" (= {stab_rows[-1]['lambda_over_beta_delta-2']:.2e} βδ^-2); max/min {spread:.3f}",
        spread < 1.10 and below, spread, (1.0, 1.10), "Lemma 3.1; notes §9.1 V12"))
    stamps["stability"] = time.perf_counter() - t0 - sum(stamps.values())
    fig, axes = plt.subplots(2, 2, figsize=(9, 7), layout="constrained")
    axes = axes.ravel()
    plot_rate(axes[0], epss, e, fit, label="MF^ε vs MF", xlabel="ε")
    axes[0].set_ylabel("discrete L² error")
    plot_rate(axes[1], [r["n"] for r in sde_rows], [r["bl_sum"] for r in sde_rows], fit_sde,
              label="SDE_n replicas", xlabel="n")
    axes[1].set_ylabel("dual BL (sum convention)")
    plot_rate(axes[2], [r["n"] for r in rw_rows], [r["bl_sum"] for r in rw_rows], fit_rw,
              label="RW_n^ε replicas", xlabel="n")
    axes[2].set_ylabel("dual BL to MF^ε (sum convention)")
    ax = axes[3]
    ax.loglog(eps_law, one, "o", label=f"one particle, slope {fit_one.slope:.3f}")
    ax.loglog(eps_law, two, "s", label=f"± pair (z), slope {fit_two.slope:.3f}")
    ax.set_xlabel("ε")
    ax.set_ylabel("‖p_ε − p‖ (RW vs SDE laws)")
    ax.legend()
    fig.savefig(outdir / "dislocations_rate.png", dpi=110)
    plt.close(fig)
    return PaperReport("003", "Hudson-van Meurs-Peletier: screw dislocations, MF^eps -> MF, SDE -> MF, RW -> MF^eps, RW vs SDE",
                       claims, [str(outdir / "dislocations_rate.png")],
                       [str(outdir / f) for f in ("dislocations_mfeps_vs_mf.csv", "dislocations_sde_vs_mf.csv",
                                                  "dislocations_rw_vs_mfeps.csv", "dislocations_rw_vs_sde_laws.csv",
                                                  "dislocations_stability.csv")],
                       f"reference: spectral MF on {n_ref}²; pair law reference {m_ref}²; "
                       f"wall time {time.perf_counter() - t0:.1f} s ("
                       + ", ".join(f"{k} {v:.1f} s" for k, v in stamps.items()) + ")")
