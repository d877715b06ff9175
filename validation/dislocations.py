"""Validation of model 003 (Hudson–van Meurs–Peletier, screw dislocations on T²).

Checked here:

* Theorem 1.3, ``‖f_ε − f‖_{L²(ν_ε)} = O(ε²)`` between the lattice mean field (MF^ε, eq. (11)) and
  the continuum mean field (MF, eq. (12)), ε = 1/16 … 1/128 (quick) or 1/256 (full), with a fitted
  slope and confidence interval; mass conservation and positivity of MF^ε;
* Theorem 1.5: (SDE_n) empirical measures → MF in the dual bounded-Lipschitz norm with the paper's
  normalisation ``‖φ‖∞ + ‖∇φ‖∞ ≤ 1`` ("sum", the dual W^{1,∞} norm of the paper's Appendix A), per
  species, n = 50 … 400 (quick) or 50 … 1600 (full, 1.5 decades), replicas with a confidence interval
  on the fitted slope
  (the paper: about n^{-1/2} up to a logarithm).

* Theorem 1.6: (RW_n^ε) empirical measures (kinetic Monte Carlo) → MF^ε in the same norm, with fixed
  signs n/2 each (κ = 0), n = 50 … 400 (quick) or 32 … 2048 (full, 1.8 decades), replicas, fitted
  slope with confidence interval (paper: n^{-1/2} up to a logarithm, uniformly in ε);
* Theorem 1.2 for one and two particles, where the laws are computable: one walker (no force) against
  Brownian motion, exactly mode by mode; a ± pair through its separation ``z = X_1 - X_2``, whose
  lattice law (a walk with rates ``(2/(βε²))exp(½βh·F_1(z))``) and continuum law (Fokker–Planck of
  ``dz = ∇V_δ(z) dt + sqrt(4/β) dW``) are solved numerically (both reductions ours): both
  ``‖p_ε − p‖_{L²(ν_ε)} = O(ε²)``; and the KMC itself against these laws: the single walker's
  displacement is Skellam(μ, μ) (chi-square test), the pair's separation follows the lattice law
  (mean of the log-likelihood ratio against the free law, within 4 standard errors);
* Lemma 3.1: the top eigenvalue of the symmetric part of the lattice operator
  ``A_ε[ρ_ε]`` (sparse, shift-invert Lanczos) for ρ_ε = the MF^ε solution at t = 0.05 and a point
  mass, ε = 1/16 … 1/128 (quick) or 1/256: independent of ε (max/min < 1.10) and below an explicit
  derived bound (the lemma's own constant C is not given);
* Lemma 4.2: (SDE_n) coupled to n McKean–Vlasov copies (same Brownian increments, drift from the MF
  solution): ``(1/n) E Σ|X_i − X̄_i|(t)`` decays like n^{-1/2} and stays below the lemma's explicit bound
  (with the constant C_V computed for the kernel);
* Lemma 5.2: (RW_n^ε) coupled to n independent MF^ε walkers (the same unit Poisson processes, random
  time change (74)–(75)): the same distance decays like n^{-1/2}, does not change with ε, stays below
  the bound with the constants of the proof, and Lemma 5.1(3) ``E|N(τ) − N(τ̄)| = E|τ − τ̄|`` holds;
* Corollary 1.8 measured directly: (RW_n^ε) empirical measures against the continuum MF (not through
  MF^ε) in the "sum" dual BL norm over a grid of (ε, n), least squares ``a·ε + b·n^{-1/2}``; the n = ∞
  limit (MF^ε masses) is ``c_□ε`` (the mean distance to the nearest site, first order); the reference
  is checked against a coarser one; in full mode the i.i.d. sampling floor (n walkers drawn from MF^ε);
* the paper's compactly supported bump mollifier: MF^ε → MF at O(ε²) (and, full mode, Lemma 4.2's
  bound with the bump kernel).

Each claim's band is fixed before the run; its source says whether the paper states it or it is ours.
"""

from __future__ import annotations

import csv
import pathlib
import time

import numpy as np
from scipy import stats

from meanfield.measures import Domain, EmpiricalMeasure, GridDensity
from meanfield.metrics import bounded_lipschitz, bounded_lipschitz_bracket
from meanfield.models.dislocations import Dislocations2D
from meanfield.particles import dislocation_couplings as dc
from meanfield.plot import plot_rate
from meanfield.rates import fit_rate
from solvers.grids import UniformGrid
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
    ref = model.solve_continuum(t_end, resolution=n_ref).density.values[-1]
    epss = [1 / 16, 1 / 32, 1 / 64, 1 / 128] + ([] if quick else [1 / 256])
    rows, worst_mass, min_density, finals = [], 0.0, np.inf, {}
    for eps in epss:
        n = round(1 / eps)
        f = model.solve_lattice(eps, t_end, times=[0.0, t_end]).density.values
        err = float(np.sqrt(eps**2 * np.sum((f[-1] - ref[:, :: n_ref // n, :: n_ref // n]) ** 2)))
        mass = f.sum(axis=(2, 3)) * eps**2
        worst_mass = max(worst_mass, float(np.abs(mass[-1] - mass[0]).max()))
        min_density = min(min_density, float(f.min()))
        rows.append({"eps": eps, "l2_error": err})
        finals[eps] = f[-1]
    _write_csv(outdir / "dislocations_mfeps_vs_mf.csv", rows)
    e = np.array([r["l2_error"] for r in rows])
    fit = fit_rate(epss, e)
    stamps = {"mfeps": time.perf_counter() - t0}
    claims = [
        Claim("rate_mfeps_to_mf", "‖f_ε − f‖_{L²(ν_ε)} = O(ε²) at t = 0.05 (δ = 0.1, β = 1)", f"slope {fit}",
              1.9 < fit.slope < 2.1, fit.slope, (1.9, 2.1), "Thm 1.3 (paper)"),
        Claim("mfeps_mass", "MF^ε conserves each species' mass to round-off", f"max drift {worst_mass:.1e}",
              worst_mass < 1e-12, worst_mass, (0, 1e-12), "eq. (11) in flux form (ours)"),
        Claim("mfeps_positive", "MF^ε keeps the densities positive", f"min density {min_density:.4f}",
              min_density > 0, min_density, (0, np.inf), "eq. (11): a master equation (ours)"),
    ]
    # SDE_n -> MF in the dual BL norm ("sum" convention of the paper)
    mf = model.solve_continuum(t_end, resolution=64).measure(t_end)
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
    _write_csv(outdir / "dislocations_sde_vs_mf.csv", sde_rows)
    fit_sde = fit_rate([r["n"] for r in sde_rows], [r["bl_sum"] for r in sde_rows])
    claims.append(Claim(
        "rate_sde_to_mf_bl", "‖ρ_n − ρ‖*_{1,∞} (SDE_n empirical measures vs MF, summed over species) decays like "
        "n^{-1/2} up to a logarithm", f"slope {fit_sde}", -0.75 < fit_sde.slope < -0.3, fit_sde.slope, (-0.75, -0.3),
        "Thm 1.5 (paper)"))

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
    _write_csv(outdir / "dislocations_rw_vs_mfeps.csv", rw_rows)
    fit_rw = fit_rate([r["n"] for r in rw_rows], [r["bl_sum"] for r in rw_rows])
    claims.append(Claim(
        "rate_rw_to_mfeps_bl", "‖ρ_{ε,n} − ρ_ε‖*_{1,∞} (RW_n^ε empirical measures vs MF^ε, ε = 1/16, summed over "
        "species) decays like n^{-1/2} up to a logarithm", f"slope {fit_rw}", -0.75 < fit_rw.slope < -0.3,
        fit_rw.slope, (-0.75, -0.3), "Thm 1.6 (paper)"))

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
        fit_one.slope, (1.9, 2.1), "Thm 1.2 (paper); exact mode-by-mode distance ours"))
    # Theorem 1.2, a ± pair through the separation z
    m_ref = 128 if quick else 256
    ref2 = model2.pair_law_continuum(-1, t2, resolution=m_ref)[-1]
    two = []
    for eps2 in eps_law:
        n = round(1 / eps2)
        p = model2.pair_law_lattice(eps2, -1, t2)[-1]
        two.append(float(np.sqrt(eps2**2 * np.sum((p - ref2[:: m_ref // n, :: m_ref // n]) ** 2))))
    fit_two = fit_rate(eps_law, two)
    claims.append(Claim(
        "rate_rw_sde_two_particles", "± pair: law of z = X_1 − X_2 under RW_2^ε vs SDE_2, ‖p_ε − p‖_{L²(ν_ε)} = O(ε²) "
        "(δ = 0.25, β = 4, t = 0.05)", f"slope {fit_two}", 1.9 < fit_two.slope < 2.1, fit_two.slope, (1.9, 2.1),
        "Thm 1.2 (paper); pair reduction ours"))
    _write_csv(outdir / "dislocations_rw_vs_sde_laws.csv",
               [{"eps": x, "one_particle_l2": y1, "pair_l2": y2} for x, y1, y2 in zip(eps_law, one, two, strict=True)])

    stamps["laws"] = time.perf_counter() - t0 - sum(stamps.values())
    # the KMC against these laws: one walker (Skellam displacement), a ± pair (lattice law of z)
    eps_k, t_k, reps_k = 1 / 16, 0.02, 2000 if quick else 20000
    mu = t_k / (model.beta * eps_k**2)
    start = (np.array([[0.5, 0.5]]), np.array([1]))
    walkers = model.simulate_walkers([start] * reps_k, eps_k, t_k, rng=40_000)
    disp = np.clip([round((tr.info["unwrapped"][-1][0, 0] - 0.5) / eps_k) for tr in walkers], -8, 8)
    probs = np.concatenate([[stats.skellam.cdf(-8, mu, mu)], stats.skellam.pmf(np.arange(-7, 8), mu, mu),
                            [stats.skellam.sf(7, mu, mu)]])
    pval = float(stats.chisquare([np.sum(disp == k) for k in range(-8, 9)], reps_k * probs).pvalue)
    claims.append(Claim(
        "kmc_single_walker_law", "one KMC walker's displacement (units of ε) is Skellam(μ, μ), μ = t/(βε²) "
        f"(chi-square over {reps_k} runs)", f"p-value {pval:.3f}", pval > 1e-3, pval, (1e-3, 1),
        "eq. (8) with n = 1 (paper); Skellam law ours"))
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
        abs(zscore) < 4 and abs(zfree) > 4, zscore, (-4, 4), "eq. (8) with n = 2 (paper); pair reduction ours"))

    stamps["kmc_laws"] = time.perf_counter() - t0 - sum(stamps.values())

    # Lemma 3.1: top eigenvalue of the symmetric part of A_ε[ρ_ε], uniform in ε
    stab_rows = []
    for eps in epss:
        n = round(1 / eps)
        point = np.zeros((2, n, n))
        point[0, 0, 0] = n * n  # all mass on one + site: a concentrated ρ_ε ∈ P(Λ_{ε,±})
        for kind, rho in (("mfeps_t", finals[eps]), ("point_mass", point)):
            lam, bound = model.stability_constant(eps, rho)
            stab_rows.append({"eps": eps, "density": kind, "lambda": lam, "derived_bound": bound,
                              "lambda_over_beta_delta-2": lam * model.delta**2 / model.beta})
    _write_csv(outdir / "dislocations_stability.csv", stab_rows)
    spread = max(max(r["lambda"] for r in stab_rows if r["density"] == k)
                 / min(r["lambda"] for r in stab_rows if r["density"] == k) for k in ("mfeps_t", "point_mass"))
    below = all(0 < r["lambda"] <= r["derived_bound"] for r in stab_rows)
    claims.append(Claim(
        "stability_constant_eps_uniform", "Lemma 3.1: the top eigenvalue λ_ε of the symmetric part of A_ε[ρ_ε] in "
        "L²(𝒱_ε) (sparse operator, shift-invert Lanczos) is independent of ε (max/min over ε < 1.10), "
        "positive and below the explicit derived bound max Σ_h(e_h(ℓ-h) - e_h(ℓ))/(2βε²); "
        "ρ_ε = MF^ε at t = 0.05 and a point mass (δ = 0.1, β = 1)",
        "λ_ε at 1/ε = " + ", ".join(str(round(1 / e)) for e in epss) + ": MF^ε(t) "
        + ", ".join(f"{r['lambda']:.4e}" for r in stab_rows if r["density"] == "mfeps_t") + "; point mass "
        + ", ".join(f"{r['lambda']:.4e}" for r in stab_rows if r["density"] == "point_mass")
        + f" (= {stab_rows[-1]['lambda_over_beta_delta-2']:.2e} βδ^-2); max/min {spread:.3f}",
        spread < 1.10 and below, spread, (1.0, 1.10), "Lemma 3.1 (paper); explicit bound ours"))
    stamps["stability"] = time.perf_counter() - t0 - sum(stamps.values())
    cpu0 = time.process_time()
    new_claims, new_files, plot_data = _couplings(model, t_end, quick, outdir)
    stamps["couplings"] = time.perf_counter() - t0 - sum(stamps.values())
    cpu = {"couplings": time.process_time() - cpu0}
    direct_claims, direct_files, direct = _direct_rw_to_mf(t_end, quick, outdir)
    stamps["rw_vs_mf_direct"] = time.perf_counter() - t0 - sum(stamps.values())
    cpu["rw_vs_mf_direct"] = time.process_time() - cpu0 - sum(cpu.values())
    bump_claims, bump_rows = _bump(t_end, quick)
    stamps["bump"] = time.perf_counter() - t0 - sum(stamps.values())
    cpu["bump"] = time.process_time() - cpu0 - sum(cpu.values())
    claims += new_claims + direct_claims + bump_claims
    new_files += [*direct_files, _write_csv(outdir / "dislocations_bump_mfeps_vs_mf.csv", bump_rows)]
    coupling_figure = _new_figure(plot_data, direct, bump_rows, outdir)
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
    _save_figure(fig, outdir / "dislocations_rate.png")
    plt.close(fig)
    return PaperReport("003", "Hudson-van Meurs-Peletier: screw dislocations, MF^eps -> MF, SDE -> MF, RW -> MF^eps, "
                       "RW vs SDE, the couplings of Lemmas 4.2 and 5.2, RW -> MF directly, the bump mollifier",
                       claims, [str(outdir / "dislocations_rate.png"), coupling_figure],
                       [str(outdir / f) for f in ("dislocations_mfeps_vs_mf.csv", "dislocations_sde_vs_mf.csv",
                                                  "dislocations_rw_vs_mfeps.csv", "dislocations_rw_vs_sde_laws.csv",
                                                  "dislocations_stability.csv")] + new_files,
                       f"reference: spectral MF on {n_ref}²; pair law reference {m_ref}²; "
                       f"wall time {time.perf_counter() - t0:.1f} s ("
                       + ", ".join(f"{k} {v:.1f} s" for k, v in stamps.items()) + "); CPU time of the couplings, "
                       "the direct RW-MF study and the bump claims: "
                       + ", ".join(f"{k} {v:.1f} s" for k, v in cpu.items()))


# -- sizes of the coupling, direct RW-MF and bump studies -----------------------------------------------------
#: Per mode: particle numbers and replicas of the couplings (Lemma 4.2: ``sde_*``; Lemma 5.2: ``rw_*``,
#: ``uniform_eps`` at n = 64), the (ε, n) grid, replicas and reference grids (fine, coarse) of the direct
#: RW-vs-MF study, the lattice spacings and reference of the bump claim and, full mode, the particle
#: numbers of Lemma 4.2 with the bump kernel.
SIZES = {
    "quick": {"sde_n": [16, 64, 256], "sde_reps": 6, "rw_n": [16, 64, 256], "rw_reps": 32,
              "uniform_eps": [1 / 10, 1 / 20, 1 / 40], "direct_eps": [1 / 8, 1 / 16], "direct_n": [64, 512],
              "direct_reps": 2, "direct_reference": (64, 32), "bump_eps": [1 / 32, 1 / 64, 1 / 128],
              "bump_reference": 256, "bump_sde_n": []},
    "full": {"sde_n": [16, 64, 256, 1024, 4096], "sde_reps": 8, "rw_n": [16, 64, 256, 1024], "rw_reps": 64,
             "uniform_eps": [1 / 10, 1 / 20, 1 / 40, 1 / 80], "direct_eps": [1 / 8, 1 / 12, 1 / 16, 1 / 24],
             "direct_n": [64, 256, 1024, 4096], "direct_reps": 4, "direct_reference": (96, 48),
             "bump_eps": [1 / 32, 1 / 64, 1 / 128, 1 / 256], "bump_reference": 512, "bump_sde_n": [64, 256]},
}


# -- helpers ---------------------------------------------------------------------------------------------
C_SQUARE = (np.sqrt(2.0) + np.log(1.0 + np.sqrt(2.0))) / 6.0  # W1(ν_ε, ν) = C_SQUARE·ε: mean distance to the site


def _write_csv(path, rows):
    """``rows`` (dicts with the same keys) to ``path`` atomically (a temporary file, then a rename)."""
    from meanfield.io import atomic_path

    path = pathlib.Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return str(path)


def _save_figure(fig, path):
    from meanfield.io import save_figure

    return str(save_figure(fig, path, dpi=110))


def _band_claim(name, statement, measured, value, band, source):
    """A claim that passes iff ``band[0] <= value <= band[1]`` (the band fixed before the run)."""
    return Claim(name, statement, measured, bool(band[0] <= value <= band[1]), float(value), band, source)


def _means(rows, key, value):
    """Per distinct ``key``: (keys, means, standard errors) of ``value`` over the rows."""
    keys = sorted({r[key] for r in rows})
    vals = [np.array([r[value] for r in rows if r[key] == k]) for k in keys]
    return np.array(keys), np.array([v.mean() for v in vals]), np.array([v.std(ddof=1) / np.sqrt(v.size) for v in vals])


def _batch_fit(rows, key, value, batch):
    """Rate fit on the means of consecutive batches of ``batch`` replicas per ``key`` (a per-replica
    lattice distance can be 0, so single replicas cannot enter a log-log fit). Should a batch mean be 0
    too, the batch size is doubled (for every key) until none is; returns (fit, h, means, batch size)."""
    keys = sorted({r[key] for r in rows})
    vals = [np.array([r[value] for r in rows if r[key] == k]) for k in keys]
    while True:
        means = [v[: v.size // batch * batch].reshape(-1, batch).mean(axis=1) for v in vals]
        if all(m.size and np.all(m > 0) for m in means) or batch >= max(v.size for v in vals):
            break
        batch *= 2
    for k, m in zip(keys, means, strict=True):
        if not (m.size and np.all(m > 0)):
            raise RuntimeError(f"the {value} of every replica at {key} = {k} is 0: too few replicas for a rate")
    hs = [k for k, m in zip(keys, means, strict=True) for _ in m]
    es = [e for m in means for e in m]
    return fit_rate(hs, es), hs, es, batch


# -- Lemmas 4.2 and 5.2: the couplings ------------------------------------------------------------------
def _couplings(model, t_end, quick, outdir):
    """The two propagation-of-chaos couplings as particle runs; returns (claims, data files, plot data)."""
    c_v, grad_c, hess_c = dc.kernel_constant(model)
    delta = model.delta
    # Lemma 4.2: SDE_n and n McKean–Vlasov copies with the same Brownian increments
    size = SIZES["quick" if quick else "full"]
    ns, reps = size["sde_n"], size["sde_reps"]
    rows = []
    for n in ns:
        for r in range(reps):
            cp = dc.couple_sde_mean_field(model, dc.sample_fixed_signs(model, n, rng=60_000 + 97 * n + r), t_end,
                                          rng=61_000 + 97 * n + r)
            rows.append({"n": n, "replica": r, "mean_distance": cp.mean_distance(),
                         "lemma42_bound": dc.lemma42_bound(c_v, delta, t_end, n)})
    fit = fit_rate([r["n"] for r in rows], [r["mean_distance"] for r in rows])
    keys, mean, se = _means(rows, "n", "mean_distance")
    bound = dc.lemma42_bound(c_v, delta, t_end, keys)
    ratio = float(np.max((mean + 2 * se) / bound))
    band = (-0.65, -0.35) if quick else (-0.6, -0.4)
    claims = [
        _band_claim(
            "coupling_sde_mckean_vlasov_rate",
            f"Lemma 4.2: (1/n) E Σ|X_i − X̄_i|(t), SDE_n coupled to n McKean–Vlasov copies driven by the same Brownian "
            f"increments (drift from the MF solution), decays like n^{{-1/2}} (κ = 0: n/2 of each sign; δ = {delta}, "
            f"β = {model.beta}, t = {t_end}, n = {ns[0]}…{ns[-1]}, {reps} replicas). Band −1/2 ± {band[1] + 0.5:.2f}: "
            "the lemma's rate; the width (ours) allows the O(1/n) term of each copy's mean field holding its own "
            "mass 1/n and the replica scatter",
            f"slope {fit}", fit.slope, band, "Lemma 4.2 (paper: the rate); band width ours"),
        _band_claim(
            "coupling_sde_below_lemma42_bound",
            "Lemma 4.2's explicit bound (2C_V t/δ)(n^{-1/2} + κ)exp(2C_V t/δ²) holds at every n: max over n of "
            f"(mean + 2 s.e.)/bound < 1, with C_V = max(δ‖∇V_δ‖∞, δ²‖d²V_δ‖∞) = {c_v:.4f} (the constants the proof "
            f"uses; δ‖∇V_δ‖∞ = {grad_c:.4f}, δ²‖d²V_δ‖∞ = {hess_c:.4f})",
            "mean distance / bound at n = "
            + ", ".join(f"{k}: {m:.3e}/{b:.3e}" for k, m, b in zip(keys, mean, bound, strict=True))
            + f"; max (mean + 2 s.e.)/bound {ratio:.3f}", ratio, (0.0, 1.0), "Lemma 4.2 (paper)"),
    ]
    files = [_write_csv(outdir / "dislocations_coupling_sde.csv", rows)]
    plot = {"sde": (rows, fit, keys, bound)}

    # Lemma 5.2: RW_n^ε and n MF^ε walkers, time changes of the same Poisson processes
    eps = 1 / 16
    ns_rw, reps_rw, batch = size["rw_n"], size["rw_reps"], 8
    rw_rows, dn_all, dtau_all = [], [], []
    for n in ns_rw:
        starts = [model.sample_lattice_particles(n, eps, rng=62_000 + 97 * n + r, n_plus=n // 2)
                  for r in range(reps_rw)]
        for r, run in enumerate(dc.couple_walkers_mean_field(model, starts, eps, t_end, rng=63_000 + n)):
            dtau = np.abs(run.info["tau"][-1] - run.info["tau_bar"][-1])
            dn_all.append(np.abs(run.info["count"][-1] - run.info["count_bar"][-1]))
            dtau_all.append(dtau)
            rw_rows.append({"eps": eps, "n": n, "replica": r, "mean_distance": run.mean_distance(),
                            "clock_bound": eps * dtau.sum() / n, "jumps": run.info["jumps"],
                            "jumps_bar": run.info["jumps_bar"],
                            "lemma52_bound": dc.lemma52_bound(c_v, delta, model.beta, eps, t_end, n)})
    fit_rw, _, _, batch_rw = _batch_fit(rw_rows, "n", "mean_distance", batch)
    keys_rw, mean_rw, se_rw = _means(rw_rows, "n", "mean_distance")
    _, clock_rw, _ = _means(rw_rows, "n", "clock_bound")
    bound_rw = dc.lemma52_bound(c_v, delta, model.beta, eps, t_end, keys_rw)
    ratio_rw = float(np.max((mean_rw + 2 * se_rw) / bound_rw))
    dn = np.concatenate(dn_all).astype(float)
    dt_ = np.concatenate(dtau_all)
    z = float((dn.mean() - dt_.mean()) / (dn.std(ddof=1) / np.sqrt(dn.size)))
    band = (-0.75, -0.25) if quick else (-0.65, -0.35)
    claims += [
        _band_claim(
            "coupling_rw_mfeps_rate",
            f"Lemma 5.2: (1/n) E Σ|X_ε,i − X̄_ε,i|(t), RW_n^ε coupled to n independent MF^ε walkers through the same "
            f"unit Poisson processes (random time change (74)–(75)), decays like n^{{-1/2}} (ε = 1/16, n = "
            f"{ns_rw[0]}…{ns_rw[-1]}, {reps_rw} replicas fitted as means of {batch_rw}). "
            f"Band −1/2 ± {band[1] + 0.5:.2f} "
            "(ours: each walker's distance is a multiple of ε, so few walkers carry it)",
            f"slope {fit_rw}; means " + ", ".join(f"n={k}: {m:.2e}±{s:.1e}" for k, m, s in
                                                  zip(keys_rw, mean_rw, se_rw, strict=True)),
            fit_rw.slope, band, "Lemma 5.2 (paper: the rate); band width ours"),
        _band_claim(
            "coupling_rw_below_lemma52_bound",
            "Lemma 5.2's bound with the constants of its proof, (4e^A C_V t/δ)(n^{-1/2} + κ)exp(4e^A C_V t/δ²), "
            "A = C_V βε/(2δ), holds at every n: max (mean + 2 s.e.)/bound < 1 (the lemma's constants are not given; "
            "this explicit form follows the proof's (79)–(82) and is ours)",
            f"max (mean + 2 s.e.)/bound {ratio_rw:.3f}; the proof's own bound on the distance, "
            "(1/n) Σ_h ε E|τ^h − τ̄^h|, at n = "
            + ", ".join(f"{k}: {c:.2e}" for k, c in zip(keys_rw, clock_rw, strict=True)),
            ratio_rw, (0.0, 1.0), "Lemma 5.2 (paper); explicit constants ours"),
        _band_claim(
            "coupling_rw_time_change_identity",
            "Lemma 5.1(3): E|N^h(τ^h) − N^h(τ̄^h)| = E|τ^h − τ̄^h| for every channel h (mean over channels and "
            f"replicas, {dn.size} channels, ε = 1/16): z-score within ±4",
            f"E|ΔN| {dn.mean():.4e}, E|Δτ| {dt_.mean():.4e}, z = {z:+.2f}", z, (-4.0, 4.0), "Lemma 5.1(3) (paper)"),
    ]
    # uniformity in ε at fixed n
    n_u = 64
    eps_u, reps_u = size["uniform_eps"], size["rw_reps"]
    u_rows = []
    for e in eps_u:
        starts = [model.sample_lattice_particles(n_u, e, rng=64_000 + 7 * round(1 / e) + r, n_plus=n_u // 2)
                  for r in range(reps_u)]
        for r, run in enumerate(dc.couple_walkers_mean_field(model, starts, e, t_end, rng=65_000 + round(1 / e))):
            dtau = np.abs(run.info["tau"][-1] - run.info["tau_bar"][-1])
            u_rows.append({"eps": e, "n": n_u, "replica": r, "mean_distance": run.mean_distance(),
                           "clock_bound": e * dtau.sum() / n_u, "jumps": run.info["jumps"],
                           "jumps_bar": run.info["jumps_bar"],
                           "lemma52_bound": dc.lemma52_bound(c_v, delta, model.beta, e, t_end, n_u)})
    fit_u, _, _, batch_u = _batch_fit(u_rows, "eps", "mean_distance", batch)
    fit_uc = fit_rate([r["eps"] for r in u_rows], [r["clock_bound"] for r in u_rows])
    band = (-0.3, 0.3) if quick else (-0.2, 0.2)
    claims.append(_band_claim(
        "coupling_rw_mfeps_uniform_in_eps",
        f"Lemma 5.2 is uniform in ε: at n = {n_u} the coupled distance does not change with ε = 1/10 … "
        f"1/{round(1 / eps_u[-1])} "
        f"(slope in ε of the means of {batch_u} replicas, {reps_u} replicas per ε, within 0 ± {band[1]}; width ours, "
        "from the replica scatter of a multiple-of-ε distance)",
        f"slope {fit_u}; the proof's clock bound (1/n)Σ_h ε|τ^h − τ̄^h|: slope {fit_uc}", fit_u.slope, band,
        "Lemma 5.2 (paper: uniform in ε)"))
    files.append(_write_csv(outdir / "dislocations_coupling_rw.csv", rw_rows + u_rows))
    plot["rw"] = (rw_rows, fit_rw, keys_rw, bound_rw)
    plot["rw_eps"] = (u_rows, fit_u)
    return claims, files, plot


# -- Corollary 1.8 measured directly: RW_n^ε against the continuum MF --------------------------------------
def _lattice_measures(pos, b, n, sites):
    """Per species, the empirical measure of walkers on the lattice with coinciding walkers merged
    into one atom (weight = count/n): the same measure, fewer atoms for the transport problem."""
    out = {}
    torus = Domain.torus(2, 1.0)
    idx = np.rint(np.mod(pos, 1.0) * sites).astype(np.int64) % sites
    for label, sign in (("+", 1), ("-", -1)):
        flat = idx[b == sign, 0] * sites + idx[b == sign, 1]
        cells, counts = np.unique(flat, return_counts=True)
        out[label] = EmpiricalMeasure(np.stack([cells // sites, cells % sites], 1) / sites, counts / n, torus)
    return out


def _reference_atoms(model, t_end, m):
    """The (MF) solution at ``t_end`` on an ``m²`` grid as atoms at the grid points ``j/m`` with the masses
    ``f(j/m)/m²`` (the spectral solution's cell masses), per species."""
    f = model.solve_continuum(t_end, resolution=m).density.values[-1]
    s = np.arange(m) / m
    pts = np.stack(np.meshgrid(s, s, indexing="ij"), -1).reshape(-1, 2)
    torus = Domain.torus(2, 1.0)
    return {label: EmpiricalMeasure(pts, f[k].ravel() / m**2, torus) for k, label in enumerate("+-")}


def _bl_sum(measures, ref):
    """``Σ_± ‖μ^± − ρ^±‖*_{1,∞}`` ("sum" convention), each by exact transport between the atoms with the
    cutting-plane search of ``bounded_lipschitz_bracket`` (relative gap 1e-4); returns (value, gap)."""
    value, gap = 0.0, 0.0
    for s in "+-":
        br = bounded_lipschitz_bracket(measures[s], ref[s], "sum", rtol=1e-4, max_solves=40, max_pairs=2**24)
        if br.method != "exact":
            raise RuntimeError(f"the BL distance took the {br.method!r} route: {br}")
        value += br.value
        gap += br.width
    return value, gap


def _direct_rw_to_mf(t_end, quick, outdir):
    """V9: E Σ_± ‖ρ_{ε,n}^± − ρ^±‖*_{1,∞} for RW_n^ε against the continuum MF over a grid of (ε, n), with
    the n → ∞ limit (MF^ε masses), the reference floor and (full) the i.i.d. sampling floor."""
    model = Dislocations2D(delta=0.125, beta=1.0, amplitude=0.4)
    size = SIZES["quick" if quick else "full"]
    epss, ns, reps = size["direct_eps"], size["direct_n"], size["direct_reps"]
    m_ref, m_coarse = size["direct_reference"]
    refs = {m: _reference_atoms(model, t_end, m) for m in (m_ref, m_coarse)}
    torus = Domain.torus(2, 1.0)
    inf_rows, rows = [], []
    for eps in epss:
        sites = round(1 / eps)
        lat = model.solve_lattice(eps, t_end).density.values[-1]
        s = np.arange(sites) / sites
        pts = np.stack(np.meshgrid(s, s, indexing="ij"), -1).reshape(-1, 2)
        masses = {label: EmpiricalMeasure(pts, lat[k].ravel() * eps**2, torus) for k, label in enumerate("+-")}
        d_inf, gap = _bl_sum(masses, refs[m_ref])
        inf_rows.append({"eps": eps, "bl_sum_n_infinity": d_inf, "ratio_to_c_square_eps": d_inf / (C_SQUARE * eps),
                         "bracket_gap": gap})
        probs = [lat[k].ravel() / lat[k].sum() for k in range(2)]
        for n in ns:
            starts = [model.sample_lattice_particles(n, eps, rng=70_000 + 13 * n + sites + r, n_plus=n // 2)
                      for r in range(reps)]
            trajs = model.simulate_walkers(starts, eps, t_end, rng=71_000 + 13 * n + sites)
            g = np.random.default_rng(72_000 + 13 * n + sites)
            for r, tr in enumerate(trajs):
                b = np.where(tr.species[-1] == "+", 1, -1)
                meas = _lattice_measures(tr.positions[-1], b, n, sites)
                d, gap = _bl_sum(meas, refs[m_ref])
                d_coarse, _ = _bl_sum(meas, refs[m_coarse])
                row = {"eps": eps, "n": n, "replica": r, "bl_sum": d, "bl_sum_coarse_reference": d_coarse,
                       "bracket_gap": gap, "jumps": tr.info["jumps"]}
                if not quick:  # sampling floor: n i.i.d. walkers from the MF^ε law at t, same signs
                    iid = np.concatenate([pts[g.choice(pts.shape[0], size=c, p=probs[k])]
                                          for k, c in enumerate((n // 2, n - n // 2))])
                    row["bl_sum_iid_mfeps"] = _bl_sum(_lattice_measures(iid, np.where(np.arange(n) < n // 2, 1, -1), n,
                                                                        sites), refs[m_ref])[0]
                rows.append(row)
    # least squares err = a ε + b n^{-1/2} over every replica
    design = np.array([[r["eps"], r["n"] ** -0.5] for r in rows])
    y = np.array([r["bl_sum"] for r in rows])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ coef
    dof = len(rows) - 2
    cov = resid @ resid / dof * np.linalg.inv(design.T @ design)
    tq = stats.t.ppf(0.975, dof)
    half = tq * np.sqrt(np.diag(cov))
    (a, b), (ha, hb) = coef, half
    rel_rms = float(np.sqrt(np.mean((resid / y) ** 2)))
    floor_note = ""
    if "bl_sum_iid_mfeps" in rows[0]:  # the same model fitted to n i.i.d. walkers from MF^ε(t)
        y_iid = np.array([r["bl_sum_iid_mfeps"] for r in rows])
        c_iid, *_ = np.linalg.lstsq(design, y_iid, rcond=None)
        floor_note = (f"; i.i.d. sampling floor: a = {c_iid[0]:.4f}, b = {c_iid[1]:.4f}, RW/i.i.d. mean ratio "
                      f"{np.mean(y / y_iid):.3f}")
    inf_eps = np.array([r["eps"] for r in inf_rows])
    inf_val = np.array([r["bl_sum_n_infinity"] for r in inf_rows])
    fit_inf = fit_rate(inf_eps, inf_val)
    ratios = inf_val / (C_SQUARE * inf_eps)
    floor = max(abs(r["bl_sum"] - r["bl_sum_coarse_reference"]) / r["bl_sum"] for r in rows)
    claims = [
        Claim("rw_to_mf_lattice_term",
              "Cor. 1.8's first-order ε term, measured at n = ∞: Σ_± ‖ρ_ε^±(t) − ρ^±(t)‖*_{1,∞} between the MF^ε "
              "masses "
              f"(atoms at the sites) and MF (δ = {model.delta}, β = {model.beta}, t = {t_end}) has slope 1 ± 0.1 in ε "
              f"and equals c_□ε within [0.88, 1.05] at every ε, c_□ = (√2 + ln(1 + √2))/6 = {C_SQUARE:.5f} the mean "
              "distance to the nearest site (W1(ν_ε, ν) = c_□ε; the 'sum' norm is W1 up to a factor 1/(1 + ε/√2) "
              "from the oscillation of the optimal potential; +5% for the reference grid and the O(ε²) MF^ε − MF term)",
              f"slope {fit_inf}; ratio to c_□ε " + ", ".join(f"1/{round(1 / e)}: {q:.3f}" for e, q in
                                                           zip(inf_eps, ratios, strict=True)),
              bool(0.9 <= fit_inf.slope <= 1.1 and np.all((0.88 <= ratios) & (ratios <= 1.05))), fit_inf.slope,
              (0.9, 1.1), "Cor. 1.8 (paper: first order in ε); constant c_□ and bands ours"),
        Claim("rw_to_mf_direct_fit",
              "V9 directly (not through MF^ε): E Σ_± ‖ρ_{ε,n}^± − ρ^±‖*_{1,∞} for RW_n^ε against MF over ε = "
              + ", ".join(f"1/{round(1 / e)}" for e in epss) + f", n = {ns[0]}…{ns[-1]} ({reps} replicas, κ = 0), "
              "least squares err ≈ a·ε + b·n^{-1/2}: both terms present (95% CIs of a and b above 0) and a ≤ 1.05·c_□ "
              "(the lattice term cannot exceed its n = ∞ value)",
              f"a = {a:.4f} ± {ha:.4f}, b = {b:.4f} ± {hb:.4f} (95%), relative RMS residual {rel_rms:.3f} "
              f"({len(rows)} points){floor_note}", bool(a - ha > 0 and b - hb > 0 and a <= 1.05 * C_SQUARE), a,
              (0.0, 1.05 * C_SQUARE), "Cor. 1.8 and Thm 1.6 (paper: O(ε) + n^{-1/2} up to a log); bound on a ours"),
        _band_claim(
            "rw_to_mf_reference_floor",
            f"the continuum reference (MF on {m_ref}², its point masses as atoms) is resolved: at every (ε, n) the "
            f"distance changes by at most a quarter when the reference is coarsened to {m_coarse}² "
            "(an over-estimate of the reference's own error)",
            f"max |D_{m_ref} − D_{m_coarse}|/D_{m_ref} = {floor:.3f}", floor, (0.0, 0.25), "ours"),
    ]
    files = [_write_csv(outdir / "dislocations_rw_vs_mf_direct.csv", rows),
             _write_csv(outdir / "dislocations_mfeps_masses_vs_mf.csv", inf_rows)]
    return claims, files, {"rows": rows, "coef": coef, "inf": inf_rows, "epss": epss}


# -- the compactly supported bump mollifier ------------------------------------------------------------------
def _bump(t_end, quick):
    """MF^ε → MF at O(ε²) with the paper's compactly supported mollifier; returns (claims, rows)."""
    # δ = 1/4: the bump series has |k| < R ≈ 63/δ, tabulated on a fine grid of M = p/ε ≥ 2R points; for
    # 1/ε = 32 … 256 that is the same M = 512 for every ε (one FFT shape, planned once), and the lattice
    # shapes are those of the Gaussian claims. δ/ε ≥ 8: at δ/ε = 4 the error is still pre-asymptotic
    # (local slope 2.17 measured at δ = 0.2, ε = 1/20)
    model = Dislocations2D(delta=0.25, beta=1.0, amplitude=0.4, mollifier="bump")
    size = SIZES["quick" if quick else "full"]
    n_ref, epss = size["bump_reference"], size["bump_eps"]
    ref = model.solve_continuum(t_end, resolution=n_ref).density.values[-1]
    rows, drift = [], 0.0
    for eps in epss:
        n = round(1 / eps)
        f = model.solve_lattice(eps, t_end, times=[0.0, t_end]).density.values
        drift = max(drift, float(np.abs(f.sum(axis=(2, 3))[-1] - f.sum(axis=(2, 3))[0]).max() * eps**2))
        err = np.sqrt(eps**2 * np.sum((f[-1] - ref[:, :: n_ref // n, :: n_ref // n]) ** 2))
        rows.append({"eps": eps, "l2_error": float(err)})
    fit = fit_rate(epss, [r["l2_error"] for r in rows])
    gauss = Dislocations2D(delta=0.25, beta=1.0, amplitude=0.4).solve_continuum(t_end, resolution=n_ref // 2).density.values[-1]
    kernel_gap = float(np.sqrt(np.mean(np.sum((gauss - ref[:, ::2, ::2]) ** 2, axis=0))))
    claims = [Claim(
        "bump_rate_mfeps_to_mf",
        "Thm 1.3 with the paper's compactly supported mollifier φ_δ = δ^{-2}φ_1(·/δ), φ_1 ∝ exp(-1/(1-|x|²)): "
        f"‖f_ε − f‖_{{L²(ν_ε)}} = O(ε²) at t = {t_end} (δ = 0.25, β = 1; reference spectral MF {n_ref}² with the same "
        "kernel), slope in [1.9, 2.1]; each species' mass conserved to 1e-12; the Gaussian-kernel MF lies farther "
        "from the bump MF than twice the finest error (the check sees the kernel)",
        f"slope {fit}; mass drift {drift:.1e}; Gaussian vs bump MF {kernel_gap:.2e} vs finest error "
        f"{rows[-1]['l2_error']:.2e}",
        bool(1.9 <= fit.slope <= 2.1 and drift < 1e-12 and kernel_gap > 2 * rows[-1]["l2_error"]),
        fit.slope, (1.9, 2.1), "Thm 1.3 (paper); §1.2.1 mollifier (paper); the profile φ_1 ours")]
    if size["bump_sde_n"]:  # Lemma 4.2's bound with the bump kernel (full mode)
        c_v = dc.kernel_constant(model)[0]
        worst = 0.0
        parts = []
        for n in size["bump_sde_n"]:
            d = [dc.couple_sde_mean_field(model, dc.sample_fixed_signs(model, n, rng=80_000 + n + r), t_end,
                                          rng=81_000 + n + r).mean_distance() for r in range(4)]
            bound = dc.lemma42_bound(c_v, model.delta, t_end, n)
            worst = max(worst, (np.mean(d) + 2 * np.std(d, ddof=1) / 2) / bound)
            parts.append(f"n={n}: {np.mean(d):.2e} vs {bound:.2e}")
        claims.append(_band_claim(
            "bump_coupling_sde_below_lemma42_bound",
            f"Lemma 4.2 with the bump kernel (C_V = {c_v:.4f}): the coupled distance stays below the explicit bound "
            "(max (mean + 2 s.e.)/bound < 1, 4 replicas)", "; ".join(parts) + f"; max ratio {worst:.3f}", worst,
            (0.0, 1.0), "Lemma 4.2 (paper)"))
    return claims, rows


def _new_figure(plot, direct, bump_rows, outdir):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 8), layout="constrained")
    axes = axes.ravel()
    rows, fit, keys, bound = plot["sde"]
    plot_rate(axes[0], [r["n"] for r in rows], [r["mean_distance"] for r in rows], fit, label="SDE_n vs McKean–Vlasov",
              xlabel="n")
    axes[0].loglog(keys, bound, "k--", label="Lemma 4.2 bound")
    rows, fit, keys, bound = plot["rw"]
    _, mean, se = _means(rows, "n", "mean_distance")
    axes[0].errorbar(keys, mean, 2 * se, fmt="s", label=f"RW_n^ε vs MF^ε walkers (ε = 1/16), slope {fit.slope:.3f}")
    axes[0].loglog(keys, bound, "k:", label="Lemma 5.2 bound (proof's constants)")
    axes[0].set_ylabel("(1/n) E Σ|X_i − X̄_i|(t)")
    axes[0].legend(fontsize=7)
    u_rows, fit_u = plot["rw_eps"]
    e, mean, se = _means(u_rows, "eps", "mean_distance")
    axes[1].errorbar(e, mean, 2 * se, fmt="o", label=f"n = {u_rows[0]['n']}, slope {fit_u.slope:.3f}")
    _, clock, _ = _means(u_rows, "eps", "clock_bound")
    axes[1].plot(e, clock, "^", label="(1/n) Σ_h ε|τ^h − τ̄^h| (proof's bound)")
    axes[1].set_xscale("log")
    axes[1].set_yscale("log")
    axes[1].set_xlabel("ε")
    axes[1].set_title("Lemma 5.2: uniform in ε", fontsize=9)
    axes[1].legend(fontsize=7)
    a, b = direct["coef"]
    ax = axes[2]
    for eps in direct["epss"]:
        sel = [r for r in direct["rows"] if r["eps"] == eps]
        line = ax.loglog([r["n"] for r in sel], [r["bl_sum"] for r in sel], "o", label=f"ε = 1/{round(1 / eps)}")
        ns = np.geomspace(min(r["n"] for r in sel), max(r["n"] for r in sel), 30)
        ax.loglog(ns, a * eps + b / np.sqrt(ns), "-", color=line[0].get_color())
        inf = next(r["bl_sum_n_infinity"] for r in direct["inf"] if r["eps"] == eps)
        ax.axhline(inf, color=line[0].get_color(), ls=":", lw=0.8)
        if "bl_sum_iid_mfeps" in sel[0]:
            ax.loglog([r["n"] for r in sel], [r["bl_sum_iid_mfeps"] for r in sel], "x", color=line[0].get_color())
    ax.set_xlabel("n")
    ax.set_ylabel("Σ_± dual BL (sum) to MF")
    ax.set_title(f"RW_n^ε vs MF: fit {a:.3f}ε + {b:.3f}/√n (lines); n = ∞ dotted; × i.i.d. floor", fontsize=8)
    ax.legend(fontsize=7)
    eps_b = [r["eps"] for r in bump_rows]
    err_b = [r["l2_error"] for r in bump_rows]
    plot_rate(axes[3], eps_b, err_b, fit_rate(eps_b, err_b), label="bump mollifier: MF^ε vs MF", xlabel="ε")
    axes[3].set_ylabel("discrete L² error")
    path = _save_figure(fig, outdir / "dislocations_couplings.png")
    plt.close(fig)
    return path
