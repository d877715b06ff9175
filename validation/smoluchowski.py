"""Validation of model 004 (Hammond–Rezakhanlou, coagulating Brownian particles).

The paper proves the kinetic limit (Thm 1.1) without a rate and has no numerical experiments
(theory page 004). What we check:

* the kernel: the closed form of the cell problem for the uniform-ball V against table
  and ODE shooting (theory page 004), and the hard-core (Smoluchowski) limit ``F → 4π``;
* particles vs continuum in the kinetic limit, spatially uniform monodisperse data, d ≡ 1,
  α' = 100, Z = 10 (theory page 004): mass-class concentrations ``(Z/N)#{m_i = n}`` against the
  homogeneous solution with the corrected kernel, at t = 2.5e-3, N growing, several seeds, with a
  fitted rate; the literal kernel of (1.7)–(1.8) as the alternative that the data must reject;
* the dual bounded-Lipschitz distance (sum convention is not needed here: "max") between the
  particle measure of monomers and the continuum monomer density on the torus, per N;
* exact conservation of Σ m_i by the particles and of Σ n ∫ f_n by the PDE solver;
* the full coagulation–diffusion system against particles in free space R^3 (the paper's setting)
  with spatially inhomogeneous data (a Gaussian bump, σ = 0.2, d ≡ 1, α' = 10, Z = 10): mass-class
  totals ``(Z/N)#{m_i = n}`` against ``∫ f_n`` of the PDE (solved on a periodic box of side 2 whose
  wrap-around error is < 1e-5), M0 against the corrected and the literal kernel, and the dual BL
  distance between the monomer particles and ``f_1`` on R^3, with rates in N; plots of ``∫ f_n(t)``;
* the O(M log M) FFT coagulation sums: additive kernel, M = 2048, against the exact solution.
"""

from __future__ import annotations

import csv
import pathlib
import time

import numpy as np

from meanfield.measures import Domain, EmpiricalMeasure, GridDensity
from meanfield.metrics import bounded_lipschitz
from meanfield.models.smoluchowski import (CoagulationDiffusion, SeparableKernel, capture_function,
                                           capture_function_uniform_ball, coagulation_operator, solve_homogeneous)
from meanfield.rates import fit_rate
from solvers.grids import UniformGrid
from validation.claims import Claim, PaperReport

T_END = 2.5e-3


def _kernel_claims():
    table = {1.0: 0.912921, 10.0: 5.14110, 100.0: 9.99476, 1000.0: 11.7531}
    closed = {a: float(capture_function_uniform_ball(a)) for a in table}
    err = max(abs(closed[a] - v) / v for a, v in table.items())
    shoot = max(abs(capture_function(a, lambda r: np.where(r <= 1, 1.0, 0.0)) - closed[a]) / closed[a] for a in table)
    limit = float(capture_function_uniform_ball(1e12))
    return [
        Claim("kernel_closed_form", "F(a) = 4π(1 - tanh x/x) for V uniform on B_1 matches table",
              f"max relative difference {err:.1e} (table has 6 digits)", err < 5e-6, err, (0, 5e-6), "theory page 004"),
        Claim("kernel_shooting", "radial ODE shooting reproduces the closed form",
              f"max relative difference {shoot:.1e}", shoot < 1e-6, shoot, (0, 1e-6), "theory page 004, (1.7)"),
        Claim("kernel_hard_core_limit", "F(a) -> Cap = 4π as a -> ∞ (Thm 6.2, Smoluchowski 4π(D1+D2)R)",
              f"F(1e12) = {limit:.8f}, 4π = {4 * np.pi:.8f}", abs(limit / (4 * np.pi) - 1) < 1e-5,
              limit, (4 * np.pi * (1 - 1e-5), 4 * np.pi), "Thm 6.2; theory page 004"),
    ]


def _fft_claims():
    from scipy.special import gammaln

    big_m = 2048
    f0 = np.zeros(big_m)
    f0[0] = 1.0
    sep = SeparableKernel.additive(big_m)
    t0 = time.perf_counter()
    _, f = solve_homogeneous(sep, f0, 1.0, [1.0], sums="fft")
    wall = time.perf_counter() - t0
    k = np.arange(1, 21)
    th = 1 - np.exp(-1.0)
    exact = np.exp(-1.0) * np.exp((k - 1) * np.log(k) - gammaln(k + 1) + (k - 1) * np.log(th) - k * th)
    err = float(np.max(np.abs(f[-1][:20] / exact - 1)))
    drift = float(abs((np.arange(1, big_m + 1) * f[-1]).sum() - 1))
    direct = coagulation_operator(f[-1][:, None], sep.matrix(), "direct")
    agree = float(np.abs(coagulation_operator(f[-1][:, None], sep, "fft") - direct).max() / np.abs(direct).max())
    return [
        Claim("fft_sums_additive_exact",
              "O(M log M) FFT coagulation sums, additive kernel K = n + m, M = 2048, t = 1: f_n, n ≤ 20, vs the exact "
              "solution; mass Σ n f_n; agreement with the compiled O(M²) loop",
              f"max relative error {err:.1e}, mass drift {drift:.1e}, |fft - loop| / max = {agree:.1e}, "
              f"wall {wall:.2f} s", bool(err < 1e-7 and drift < 1e-11 and agree < 1e-13), err, (0, 1e-7),
              "theory page 004"),
    ]


R3_T = 2.5e-3


def _r3_part(outdir, quick):
    """Particles in R^3 vs the coagulation–diffusion PDE with inhomogeneous (Gaussian) data."""
    kw = dict(max_mass=16, diffusivity=1.0, alpha=20.0, initial_profile="bump", domain="free", box=2.0,
              bump_width=0.2, total_density=10.0)
    model = CoagulationDiffusion(**kw)
    times = [R3_T / 4, R3_T / 2, 3 * R3_T / 4, R3_T]
    res = 16 if quick else 24
    sol = model.solve_continuum(R3_T, resolution=res, times=[0.0] + times)
    cell = (model.box / res) ** 3
    pde_classes = sol.density.values.sum(axis=(2, 3, 4)) * cell  # (time, mass) ∫ f_n
    k_unordered = CoagulationDiffusion(**{**kw, "pair_sum": "unordered"}).kernel()
    literal = CoagulationDiffusion(**kw, kernel=2 * k_unordered)  # the literal (1.7)-(1.8): β = (d+d) F(α'), K = 2β
    lit = literal.solve_continuum(R3_T, resolution=res, times=[R3_T]).density.values[-1].sum() * cell
    # f_1(T) as weighted atoms on R^3 (cells carrying < 1e-3 of the largest cell mass dropped; their
    # mass is reported and bounds the change of the BL value)
    grid = UniformGrid(0.0, model.box, (res,) * 3, periodic=False)
    mono_cells = sol.density.values[-1, 0] * cell
    keep = mono_cells > 1e-3 * mono_cells.max()
    pts = np.stack([c[keep] for c in grid.mesh()], axis=1)
    f1_atoms = EmpiricalMeasure(pts, mono_cells[keep], Domain.real(3))
    dropped = float(mono_cells[~keep].sum())
    ns = [250, 500, 1000] if quick else [250, 500, 1000, 2000]
    seeds = range(3 if quick else 4)
    rows, classes, mono_x = [], {}, []
    for n in ns:
        for s in seeds:
            state = model.sample_particles(n, rng=500 + s)
            traj = model.simulate_particles(state, R3_T, times=times, rng=600 + s)
            assert traj.info["total_mass"] == int(state[1].sum())  # Σ m_i exactly conserved
            conc = np.array([[np.sum(np.asarray(sp) == str(m)) for m in range(1, 17)] for sp in traj.species])
            conc = conc * model.total_density / n
            classes.setdefault(n, []).append(conc)
            err = float(np.abs(conc[-1, :4] - pde_classes[-1, :4]).sum())
            mono = traj.measure(R3_T, "1")
            bl = bounded_lipschitz(mono, f1_atoms)
            if n == ns[-1]:
                mono_x.append(mono.positions[:, 0])
            rows.append({"n": n, "seed": s, "m0": float(conc[-1].sum()), "class_l1_error": err, "bl_monomers": bl,
                         "events": traj.info["events"], "dt": traj.info["dt"]})
    with open(outdir / "smoluchowski_r3.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    n_arr = np.array([r["n"] for r in rows], float)
    m0_p = float(np.mean([r["m0"] for r in rows if r["n"] == ns[-1]]))
    m0_pde = float(pde_classes[-1].sum())
    rel = abs(m0_p - m0_pde) / m0_pde
    claims = [Claim(
        "r3_kinetics_inhomogeneous",
        f"particles in R^3, Gaussian data: M0(T) at N={ns[-1]} matches the coagulation-diffusion PDE with the "
        "corrected kernel within 5 % and is closer to it than to the PDE with the literal kernel",
        f"particles {m0_p:.3f} (mean of {len(seeds)} seeds), PDE corrected {m0_pde:.3f}, literal {lit:.3f}",
        bool(rel < 0.05 and abs(m0_p - m0_pde) < abs(m0_p - lit)), rel, (0, 0.05), "Thm 1.1; theory page 004")]
    fit_c = fit_rate(n_arr, [r["class_l1_error"] for r in rows])
    claims.append(Claim(
        "r3_rate_class_totals",
        "R^3, inhomogeneous: Σ_{n≤4} |(Z/N)#{m_i=n} - ∫f_n(T)| decreases as N grows",
        f"slope {fit_c}", fit_c.slope < -0.2, fit_c.slope, (-np.inf, -0.2), "Thm 1.1; theory page 004"))
    fit_bl = fit_rate(n_arr, [r["bl_monomers"] for r in rows])
    claims.append(Claim(
        "r3_rate_bl_monomers",
        "R^3, inhomogeneous: BL(monomer particles, f_1(T)) decreases as N grows (no rate in the paper; 3-D "
        f"sampling floor N^-1/3; f_1 as {f1_atoms.n} cell atoms, dropped mass {dropped:.1e})",
        f"slope {fit_bl}", fit_bl.slope < -0.15, fit_bl.slope, (-np.inf, -0.15), "Thm 1.1; theory page 004"))
    drift = float(np.max(np.abs(sol["total_mass"].values - model.total_density)))
    wrap = model.wrap_around_estimate(R3_T)
    claims.append(Claim(
        "r3_pde_mass_and_box", "R^3 PDE on a periodic box: Σ n ∫ f_n conserved; Gaussian wrap-around estimate",
        f"max drift {drift:.1e}, wrap-around {wrap:.1e}", bool(drift < 1e-11 and wrap < 1e-5), drift, (0, 1e-11),
        "theory page 004"))

    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    tt = np.array([0.0] + times)
    big = np.mean(classes[ns[-1]], axis=0)
    for k in range(4):
        line, = axes[0].plot(tt, pde_classes[:, k], "-", label=f"∫ f_{k + 1} (PDE)")
        axes[0].plot(times, big[:, k], "o", color=line.get_color(), ms=4)
    axes[0].set_xlabel("t")
    axes[0].set_title(f"R^3, Gaussian data: mass classes (dots: particles N={ns[-1]})", fontsize=9)
    axes[0].legend(fontsize=7)
    xs = grid.axis_centres(0)
    marg = sol.density.values[-1, 0].sum(axis=(1, 2)) * (model.box / res) ** 2
    axes[1].plot(xs, marg, "k-", label="f_1(T) x-marginal (PDE)")
    edges = grid.axis_edges(0)
    hist, _ = np.histogram(np.concatenate(mono_x), bins=edges)
    axes[1].step(xs, hist * model.total_density / ns[-1] / len(seeds) / (model.box / res), where="mid",
                 label=f"monomer particles (N={ns[-1]})")
    axes[1].set_xlabel("x")
    axes[1].legend(fontsize=7)
    fig.savefig(outdir / "smoluchowski_r3.png", dpi=110)
    plt.close(fig)
    return claims


def run(outdir: pathlib.Path, quick: bool = True) -> PaperReport:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    claims = _kernel_claims() + _fft_claims()

    model = CoagulationDiffusion(max_mass=16, diffusivity=1.0, alpha=200.0, total_density=10.0)
    times = [T_END / 4, T_END / 2, 3 * T_END / 4, T_END]
    _, hom = model.solve_homogeneous(T_END, times)
    beta_corr = model.kernel()[0, 0] / 2
    beta_literal = float(capture_function_uniform_ball(100.0)) * 2  # (d+d) F(α') with d = 1
    ns = [125, 250, 500] if quick else [125, 250, 500, 1000, 2000]
    seeds = range(3 if quick else 6)
    grid = UniformGrid(0.0, 1.0, (8, 8, 8) if quick else (12, 12, 12))
    rows = []
    m0_curves = {}
    for n in ns:
        for s in seeds:
            traj = model.simulate_particles(model.sample_particles(n, rng=s), T_END, times=times, rng=1000 + s)
            assert traj.info["total_mass"] == n  # monodisperse start: Σ m_i = n, exactly conserved
            counts = np.array([[np.sum(np.asarray(sp) == str(m)) for m in range(1, 5)] for sp in traj.species])
            conc = counts * model.total_density / n
            m0 = np.array([len(p) for p in traj.positions]) * model.total_density / n
            m0_curves.setdefault(n, []).append(m0)
            class_err = float(np.abs(conc[-1] - hom[-1, :4]).sum())
            mono = traj.measure(T_END, "1")
            cont = GridDensity(np.full(grid.shape, hom[-1, 0]), grid)
            bl = bounded_lipschitz(mono, cont)
            rows.append({"n": n, "seed": s, "m0": m0[-1], "class_l1_error": class_err, "bl_monomers": bl,
                         "events": traj.info["events"], "dt": traj.info["dt"]})
    with open(outdir / "smoluchowski_particles.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    n_arr = np.array([r["n"] for r in rows], float)
    mean_m0 = np.array([np.mean([r["m0"] for r in rows if r["n"] == n]) for n in ns])
    pred = hom[-1].sum()
    literal = model.total_density / (1 + beta_literal * model.total_density * T_END)
    # The reaction range ε = Z/N biases M0 low by O(ε) = O(1/N) (6 % at N = 500: the mean over 100
    # seeds is 7.38 against 7.88, so the mean of 3 seeds at N = 500 falls on the literal side of the
    # midpoint 7.28 for about one seed set in seven). The kinetic limit is N → ∞: M0 is extrapolated
    # there by least squares in 1/N over every (N, seed) run, with its standard error.
    inv_n = 1 / n_arr
    design = np.vstack([np.ones_like(inv_n), inv_n]).T
    coef, res, *_ = np.linalg.lstsq(design, [r["m0"] for r in rows], rcond=None)
    m0_inf = float(coef[0])
    m0_se = float(np.sqrt(res[0] / (len(rows) - 2) * np.linalg.inv(design.T @ design)[0, 0])) if len(res) else 0.0
    rel = abs(m0_inf - pred) / pred
    claims.append(Claim(
        "kinetics_corrected_kernel",
        f"M0(T) of the particles, extrapolated to N → ∞ (least squares in 1/N over N = {ns}; the finite-ε "
        f"bias is O(1/N)), matches the continuum with the corrected β = ½(d+d)F(2α') = {beta_corr:.3f} within "
        f"10 % and is closer to it than to the literal β = {beta_literal:.2f}",
        f"particles {m0_inf:.3f} ± {m0_se:.3f} extrapolated ({mean_m0[-1]:.3f} at N={ns[-1]}, mean of {len(seeds)} "
        f"seeds), corrected {pred:.3f}, literal {literal:.3f}",
        bool(rel < 0.1 and abs(m0_inf - pred) < abs(m0_inf - literal)), rel, (0, 0.1),
        "theory page 004 (factor-2 audit), §5.6"))
    fit_c = fit_rate(n_arr, [r["class_l1_error"] for r in rows])
    claims.append(Claim(
        "rate_class_concentrations",
        "Σ_{n≤4} |(Z/N)#{m_i=n} - f_n(T)| decreases as N grows (fluctuations O(N^-1/2) plus O(ε) transient)",
        f"slope {fit_c}", fit_c.slope < -0.2, fit_c.slope, (-np.inf, -0.2), "Thm 1.1; theory page 004"))
    fit_bl = fit_rate(n_arr, [r["bl_monomers"] for r in rows])
    claims.append(Claim(
        "rate_bl_monomers",
        "BL(monomer particle measure, f_1(T)) on T^3 decreases as N grows (the paper gives no rate; the "
        "asymptotic 3-D sampling rate is N^-1/3, small N decay faster)",
        f"slope {fit_bl}", fit_bl.slope < -0.15, fit_bl.slope, (-np.inf, -0.15), "Thm 1.1; theory page 004"))

    sol = model.solve_continuum(T_END, resolution=8, times=[0.0, T_END])
    drift = float(np.max(np.abs(sol["total_mass"].values - model.total_density)))
    claims.append(Claim("pde_mass", "Σ n ∫ f_n is conserved by the coagulation-diffusion solver",
                        f"max drift {drift:.1e}", drift < 1e-11, drift, (0, 1e-11), "theory page 004"))

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    tt = np.array(times)
    for n in ns:
        axes[0].plot(tt, np.mean(m0_curves[n], axis=0), "o-", ms=3, label=f"particles N={n}")
    fine = np.linspace(0, T_END, 50)[1:]
    _, hom_fine = model.solve_homogeneous(T_END, fine)
    axes[0].plot(fine, hom_fine.sum(axis=1), "k-", label="continuum, corrected β")
    axes[0].plot(fine, model.total_density / (1 + beta_literal * model.total_density * fine), "k--",
                 label="literal (1.7)-(1.8)")
    axes[0].set_xlabel("t")
    axes[0].set_ylabel("M0 = Σ f_n")
    axes[0].legend(fontsize=7)
    for k in range(4):
        axes[1].plot(fine, hom_fine[:, k], label=f"f_{k + 1}")
    axes[1].set_xlabel("t")
    axes[1].set_title("continuum f_m(t)")
    axes[1].legend(fontsize=7)
    fig.savefig(outdir / "smoluchowski_kinetics.png", dpi=110)
    plt.close(fig)
    claims += _r3_part(outdir, quick)

    return PaperReport(
        paper="004",
        title="Hammond-Rezakhanlou: coagulating Brownian particles -> Smoluchowski",
        claims=claims,
        figures=[str(outdir / "smoluchowski_kinetics.png"), str(outdir / "smoluchowski_r3.png")],
        data=[str(outdir / "smoluchowski_particles.csv"), str(outdir / "smoluchowski_r3.csv")],
        notes=f"torus: N = {ns}, {len(seeds)} seeds, T = {T_END}, Z = 10, d ≡ 1, α' = 100, V uniform on B_1, uniform "
              f"data; R^3: Gaussian data σ = 0.2, α' = 10, T = {R3_T}; wall time {time.perf_counter() - t0:.1f} s",
    )
