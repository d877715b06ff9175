"""Validation of model 004 (Hammond–Rezakhanlou, coagulating Brownian particles), as studies.

The paper proves the kinetic limit (Thm 1.1) without a rate and has no numerical experiments
(docs/theory/004-coagulation.md). The checks are :class:`meanfield.study.Study` values
(:func:`studies`), the claims are computed from their tables (:func:`claims`); everything runs through
:func:`meanfield.study.run_studies` (``run(..., workers=k | executor=client, store=folder)``: local
processes or a dask cluster, resume from a store; the report does not depend on it).

* ``kernel`` (a direct computation, :class:`meanfield.validation.computations.Computation`): the closed form
  of the cell problem for the uniform-ball V against a table and ODE shooting (theory page 004),
  and the hard-core (Smoluchowski) limit ``F → 4π``;
* ``fft`` (a direct computation): the O(M log M) FFT coagulation sums, additive kernel, M = 2048,
  against the exact solution, the mass Σ n f_n and the compiled O(M²) loop;
* ``torus``: particles vs continuum in the kinetic limit, spatially uniform monodisperse data,
  d ≡ 1, α' = 100, Z = 10 (theory page 004), pairing :class:`HomogeneousReference` (the
  homogeneous solution with the corrected kernel as constant densities on the torus): mass-class
  totals ``(Z/N)#{m_i = n}`` (observer ``total_mass`` of both runs) at t = 2.5e-3, N growing,
  several seeds, with a fitted rate; M0 extrapolated to N → ∞ against the corrected and the
  literal kernel of (1.7)–(1.8), which the data must reject; the dual bounded-Lipschitz distance
  ("max") between the monomer particles and the continuum monomer density per N;
* ``pde_mass``: exact conservation of Σ n ∫ f_n by the PDE solver (pairing
  :class:`~meanfield.validation.computations.ContinuumOnly`); the particles' Σ m_i is checked exactly in every
  particle task (observer ``mass_units``; a violation stops the validation);
* ``r3`` and ``r3_literal``: the full coagulation–diffusion system against particles in free space
  R^3 (the paper's setting) with spatially inhomogeneous data (a Gaussian bump, σ = 0.2, d ≡ 1,
  α' = 10, Z = 10), pairing :class:`MonomerAtoms`: mass-class totals against ``∫ f_n`` of the PDE
  (solved on a periodic box of side 2 whose wrap-around error is < 1e-5), M0 against the corrected
  and the literal kernel (``r3_literal``: the PDE with K = 2 × the unordered-pair kernel), and the
  dual BL distance between the monomer particles and ``f_1`` on R^3, with rates in N.

Seeding: each task's generator is ``SeedSequence([seed, crc32(parameters)])``, one generator for the
sampling and the particle run (the hand-written module of before used ``seed`` / ``1000 + seed`` on
the torus and ``500 + seed`` / ``600 + seed`` in R^3), so the particle numbers differ from it while
the claims and bands are the same. ``MEANFIELD_VALIDATION_SIZE=tiny`` shrinks every size (tests only).
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from meanfield.measures import Domain, EmpiricalMeasure, GridDensity
from meanfield.observers import Observer, TotalMass
from meanfield.pairings import Pairing, as_labelled
from meanfield.rates import fit_rate
from meanfield.study import Study, distances
from meanfield.validation.claims import Claim
from meanfield.validation.computations import Computation, ContinuumOnly, DatasetValue, Recorded
from meanfield.validation.rate_fits import floored_fit, summed_floors
from meanfield.validation.runner import paper_runner
from meanfield.validation.sizes import chosen_sizes, time_index

T_END = 2.5e-3
TIMES = [T_END / 4, T_END / 2, 3 * T_END / 4, T_END]
TORUS = dict(max_mass=16, diffusivity=1.0, alpha=200.0, total_density=10.0)
R3_T = 2.5e-3
R3_TIMES = [0.0, R3_T / 4, R3_T / 2, 3 * R3_T / 4, R3_T]
R3 = dict(max_mass=16, diffusivity=1.0, alpha=20.0, initial_profile="bump", domain="free", box=2.0,
          bump_width=0.2, total_density=10.0)
KERNEL_TABLE = {1.0: 0.912921, 10.0: 5.14110, 100.0: 9.99476, 1000.0: 11.7531}
PAPER, TITLE = "004", "Hammond-Rezakhanlou: coagulating Brownian particles -> Smoluchowski"
ATOM_CUT = 1e-3  # f_1 cells below this fraction of the largest cell mass are dropped (mass reported)
SIZES = {
    "quick": {"ns": [125, 250, 500], "seeds": 3, "resolution": 8, "r3_ns": [250, 500, 1000], "r3_seeds": 3,
              "r3_resolution": 16, "fft_m": 2048},
    "full": {"ns": [125, 250, 500, 1000, 2000], "seeds": 6, "resolution": 12, "r3_ns": [250, 500, 1000, 2000],
             "r3_seeds": 4, "r3_resolution": 24, "fft_m": 2048},
    "tiny": {"ns": [125, 250], "seeds": 2, "resolution": 4, "r3_ns": [250, 500], "r3_seeds": 2,  # tests only
             "r3_resolution": 8, "fft_m": 256},
}


def sizes(quick: bool) -> dict:
    """The sizes of a quick or full run (``MEANFIELD_VALIDATION_SIZE=tiny`` for tests)."""
    return chosen_sizes(SIZES, quick)


# --- pairings (module level: pickled to worker processes) ---------------------------------------------------
class HomogeneousRun:
    """``solve_homogeneous``'s ``f_n(t)`` as a run: ``.measure(t)`` gives ``{label: constant GridDensity}``
    on ``grid`` (the torus' cells), so that ``∫ f_n`` over the box is the class total."""

    def __init__(self, times, f, grid, labels):
        self.times, self.f, self.grid, self.labels = np.asarray(times), np.asarray(f), grid, list(labels)

    def measure(self, t):
        k = time_index(self.times, t)
        return {lab: GridDensity(np.full(self.grid.shape, self.f[k, i]), self.grid)
                for i, lab in enumerate(self.labels)}


@dataclass(frozen=True)
class HomogeneousReference(Pairing):
    """Particles on the torus against the spatially uniform solution ``solve_homogeneous`` (the
    system (1.1)–(1.3) without diffusion, corrected kernel), as constant densities on the
    ``resolution^3`` cells of the box; compares the classes ``labels`` (default the monomers)."""

    resolution: int = 8
    labels: tuple = ("1",)
    sections: ClassVar[dict] = {"sample": "sample_particles", "particles": "simulate_particles",
                                "continuum": "solve_homogeneous"}
    reserved: ClassVar[dict] = {"continuum": {"t_end", "times"}}
    reference_fields: ClassVar[tuple] = ("resolution",)

    def check(self, model_cls, owner):
        if isinstance(self.resolution, bool) or not isinstance(self.resolution, int) or self.resolution < 2:
            raise ValueError(f"HomogeneousReference.resolution must be an integer >= 2, got {self.resolution!r}")

    def reference(self, model, settings, t_end, times):
        ts, f = model.solve_homogeneous(t_end, times, **settings["continuum"])
        return HomogeneousRun(ts, f, model.continuum_grid(self.resolution), model.species)

    def measures(self, model, sample, reference, t):
        emp, cont = as_labelled(sample.measure(t)), reference.measure(t)
        return {lab: (emp.get(lab), cont[lab]) for lab in self.labels}


def monomer_atoms(dens: GridDensity, cut: float = ATOM_CUT):
    """``f_1`` as weighted atoms at the cell centres on R^3 (cells carrying less than ``cut`` of the
    largest cell mass dropped); returns ``(EmpiricalMeasure, dropped mass)``."""
    grid = dens.grid
    cells = dens.values * grid.cell_volume
    keep = cells > cut * cells.max()
    pts = np.stack([c[keep] for c in grid.mesh()], axis=1)
    return EmpiricalMeasure(pts, cells[keep], Domain.real(3)), float(cells[~keep].sum())


@dataclass(frozen=True)
class MonomerAtoms(Pairing):
    """Particles in R^3 against ``solve_continuum`` (the periodic box standing for R^3), the classes
    ``labels`` of the PDE as atoms on R^3 (:func:`monomer_atoms`; the dropped mass, below ``cut`` of
    the largest cell, bounds the change of a BL value). ``cells``: the atoms sit at the centres of
    ``model.continuum_grid(cells)``; a finer reference (the discretisation floor's, :mod:`meanfield.floors`)
    is first averaged onto those cells (:func:`meanfield.floors.on_coarse_grid`), so the floor compares two
    PDE solutions on the same atoms."""

    cut: float = ATOM_CUT
    labels: tuple = ("1",)
    cells: int | None = None
    reference_fields: ClassVar[tuple] = ()

    def check(self, model_cls, owner):
        if isinstance(self.cut, bool) or not isinstance(self.cut, (int, float)) or not 0 <= self.cut < 1:
            raise ValueError(f"MonomerAtoms.cut must be a fraction in [0, 1), got {self.cut!r}")
        if self.cells is not None and (isinstance(self.cells, bool) or not isinstance(self.cells, int)
                                       or self.cells < 2):
            raise ValueError(f"MonomerAtoms.cells must be None or an integer >= 2, got {self.cells!r}")

    def measures(self, model, sample, reference, t):
        from meanfield.floors import on_coarse_grid

        emp, dens = as_labelled(sample.measure(t)), reference.measure(t)
        if self.cells is not None:
            grid = model.continuum_grid(self.cells)
            dens = {lab: on_coarse_grid(dens[lab], grid) for lab in self.labels}
        return {lab: (emp.get(lab), monomer_atoms(dens[lab], self.cut)[0]) for lab in self.labels}


# --- observers and direct computations -----------------------------------------------------------------------
def integration(traj, t):
    """Reaction events and the time step of the particle run (at the last output time)."""
    if t != traj.times[-1]:
        return None
    return {"events": traj.info["events"], "dt": traj.info["dt"]}


@dataclass(frozen=True)
class MassUnits(Observer):
    """Σ m_i over the particles (an integer; conserved exactly by coagulation)."""

    name: str = "mass_units"
    on: str = "sample"

    def observe(self, model, run, t):
        labels = np.asarray(run.species[time_index(run.times, t)]).astype(np.int64)
        return int(labels.sum())


@dataclass(frozen=True)
class MonomerCells(Observer):
    """Atoms kept and mass dropped when the PDE's ``f_1`` becomes atoms (:func:`monomer_atoms`)."""

    name: str = "f1_atoms"
    on: str = "reference"
    cut: float = ATOM_CUT

    def observe(self, model, run, t):
        atoms, dropped = monomer_atoms(run.measure(t)["1"], self.cut)
        return {"atoms": atoms.n, "dropped": dropped}


@dataclass(frozen=True)
class MonomerHistogram(Observer):
    """Counts of monomer particles in the x-slabs of the ``bins^3`` continuum grid (at the last time)."""

    name: str = "monomer_x"
    on: str = "sample"
    bins: int = 16

    def observe(self, model, run, t):
        if t != run.times[-1]:
            return None
        edges = model.continuum_grid(self.bins).axis_edges(0)
        x = run.measure(t, "1").positions[:, 0]
        return np.histogram(x, bins=edges)[0].astype(float)


def kernel_checks(model, rng):
    """Closed form of the capture function for V uniform on B_1 against :data:`KERNEL_TABLE` and ODE
    shooting; ``F(1e12)`` (the hard-core limit)."""
    from meanfield.models.smoluchowski import capture_function, capture_function_uniform_ball

    closed = {a: float(capture_function_uniform_ball(a)) for a in KERNEL_TABLE}
    err = max(abs(closed[a] - v) / v for a, v in KERNEL_TABLE.items())
    shoot = max(abs(capture_function(a, lambda r: np.where(r <= 1, 1.0, 0.0)) - closed[a]) / closed[a]
                for a in KERNEL_TABLE)
    return {"closed_form_error": float(err), "shooting_error": float(shoot),
            "hard_core_limit": float(capture_function_uniform_ball(1e12))}


def fft_additive(model, rng, big_m):
    """FFT coagulation sums, additive kernel K = n + m, monomers at t = 0, M = ``big_m``, t = 1: relative
    error of f_n (n ≤ 20) against the exact solution, mass drift, FFT vs the O(M²) loop."""
    from scipy.special import gammaln

    from meanfield.models.smoluchowski import SeparableKernel, coagulation_operator, solve_homogeneous

    f0 = np.zeros(big_m)
    f0[0] = 1.0
    sep = SeparableKernel.additive(big_m)
    _, f = solve_homogeneous(sep, f0, 1.0, [1.0], sums="fft")
    k = np.arange(1, 21)
    th = 1 - np.exp(-1.0)
    exact = np.exp(-1.0) * np.exp((k - 1) * np.log(k) - gammaln(k + 1) + (k - 1) * np.log(th) - k * th)
    err = float(np.max(np.abs(f[-1][:20] / exact - 1)))
    drift = float(abs((np.arange(1, big_m + 1) * f[-1]).sum() - 1))
    direct = coagulation_operator(f[-1][:, None], sep.matrix(), "direct")
    agree = float(np.abs(coagulation_operator(f[-1][:, None], sep, "fft") - direct).max() / np.abs(direct).max())
    return {"error": err, "mass_drift": drift, "fft_vs_loop": agree}


def literal_kernel():
    """The literal (1.7)–(1.8) for the R^3 data: β = (d+d) F(α'), i.e. K = 2 × the unordered-pair kernel."""
    from meanfield.models.smoluchowski import CoagulationDiffusion

    return 2 * CoagulationDiffusion(**{**R3, "pair_sum": "unordered"}).kernel()


# --- the studies ---------------------------------------------------------------------------------------------
def studies(quick: bool = True) -> dict:
    """Every study of this validation, by name (see the module docstring)."""
    size = sizes(quick)
    particles_obs = [TotalMass(on="both"), MassUnits(), Observer("integration", integration)]
    return {
        "kernel": Study("CoagulationDiffusion", {"pairing.args": [{}]}, 1.0, metrics=[],
                        pairing=Computation(kernel_checks), observers=[Recorded()]),
        "fft": Study("CoagulationDiffusion", {"pairing.args": [{"big_m": size["fft_m"]}]}, 1.0, metrics=[],
                     pairing=Computation(fft_additive), observers=[Recorded()]),
        "torus": Study(
            "CoagulationDiffusion", {"n": size["ns"]}, T_END, TIMES, compare_times=[T_END],
            seeds=list(range(size["seeds"])), metrics=["BL"], model_params=TORUS,
            pairing=HomogeneousReference(resolution=size["resolution"]), observers=particles_obs,
            floors=["sampling"]),  # no discretisation floor: the reference is the homogeneous ODE, no grid
        "pde_mass": Study(
            "CoagulationDiffusion", {"continuum.resolution": [8]}, T_END, [0.0, T_END], metrics=[],
            model_params=TORUS, pairing=ContinuumOnly(), observers=[DatasetValue("total_mass", on="sample")]),
        "r3": Study(
            "CoagulationDiffusion", {"n": size["r3_ns"]}, R3_T, R3_TIMES, compare_times=[R3_T],
            seeds=list(range(size["r3_seeds"])), metrics=["BL"], model_params=R3,
            continuum_kwargs={"resolution": size["r3_resolution"]}, pairing=MonomerAtoms(cells=size["r3_resolution"]),
            observers=[*particles_obs, DatasetValue("pde_total_mass", variable="total_mass"), MonomerCells(),
                       MonomerHistogram(bins=size["r3_resolution"])]),
        "r3_literal": Study(
            "CoagulationDiffusion", {"continuum.resolution": [size["r3_resolution"]]}, R3_T, [R3_T], metrics=[],
            model_params={**R3, "kernel": literal_kernel()}, pairing=ContinuumOnly(), observers=[TotalMass()]),
    }


# --- claims from the tables ----------------------------------------------------------------------------------
def _obs(table, metric, run, species="", **where) -> pd.DataFrame:
    sel = (table["metric"] == metric) & (table["run"] == run) & (table["species"] == species)
    for key, value in where.items():
        sel &= table[key] == value
    return table[sel]


def _recorded(table, name) -> float:
    return float(_obs(table, "value", "sample", name)["value"].iloc[0])


def class_totals(table, run, t, **where) -> pd.DataFrame:
    """``∫ f_n`` (reference) or ``(Z/N)#{m_i = n}`` (sample) at time ``t``: one column per class
    ``"1".."M"`` (0 for a class without particles) and ``"all"`` (M0), one row per (n, seed)."""
    rows = table[(table["metric"] == "total_mass") & (table["run"] == run) & (table["time"] == t)]
    for key, value in where.items():
        rows = rows[rows[key] == value]
    wide = rows.pivot_table(index=["n", "seed"], columns="species", values="value").fillna(0.0)
    return wide


def per_run(table, t) -> pd.DataFrame:
    """Per (n, seed) at time ``t``: M0, Σ_{n≤4} |class total - continuum|, BL of the monomers, events, dt."""
    part = class_totals(table, "sample", t)
    cont = class_totals(table, "reference", t).iloc[0]
    classes = [str(m) for m in range(1, 5)]
    err = sum((part.get(c, 0.0) - cont[c]).abs() for c in classes)
    d = distances(table)
    bl = d[(d["time"] == t) & (d["species"] == "1")].set_index(["n", "seed"])["value"]
    out = pd.DataFrame({"m0": part["all"], "class_l1_error": err, "bl_monomers": bl})
    for name in ("events", "dt"):
        out[name] = _obs(table, "integration", "sample", name).set_index(["n", "seed"])["value"]
    out["events"] = out["events"].astype(int)
    return out.reset_index()


def monomer_distances(table, t) -> pd.DataFrame:
    """Per (n, seed) at time ``t``: the BL distance of the monomers and its floors (where the study has them)."""
    return summed_floors(table, ["n", "seed"], ("1",), "BL", time=t)


def monomer_rate(table, t):
    """The rate in N of :func:`monomer_distances` with the floors' rule
    (:func:`~meanfield.validation.rate_fits.floored_fit`)."""
    rows = monomer_distances(table, t)
    return floored_fit(rows["n"], rows["value"], rows.get("sampling_floor"), rows.get("discretisation_floor"),
                       x_name="N")


def _check_mass_units(table) -> None:
    """Σ m_i is conserved exactly (monodisperse start: Σ m_i = n at every time)."""
    units = _obs(table, "mass_units", "sample")
    bad = units[units["value"] != units["n"]]
    if len(bad):
        raise ValueError(f"particles lost or gained mass: Σ m_i != n in {len(bad)} rows, e.g. {bad.iloc[0].to_dict()}")


def _compound(claim: Claim, condition: bool) -> Claim:
    """A claim whose value is in its band and that also needs ``condition`` (stated in its text)."""
    claim.passed = bool(condition)
    return claim


def claims(tables: dict, quick: bool = True) -> list:
    """The twelve claims, computed from the studies' tables."""
    from meanfield.models.smoluchowski import CoagulationDiffusion, capture_function_uniform_ball

    size = sizes(quick)
    kernel = tables["kernel"]
    err, shoot, limit = (_recorded(kernel, k) for k in ("closed_form_error", "shooting_error", "hard_core_limit"))
    out = [
        Claim.within("kernel_closed_form", "F(a) = 4π(1 - tanh x/x) for V uniform on B_1 matches table", err,
                     (0, 5e-6), "theory page 004", f"max relative difference {err:.1e} (table has 6 digits)",
                     closed=(True, False)),
        Claim.within("kernel_shooting", "radial ODE shooting reproduces the closed form", shoot, (0, 1e-6),
                     "theory page 004, (1.7)", f"max relative difference {shoot:.1e}", closed=(True, False)),
        Claim.within("kernel_hard_core_limit", "F(a) -> Cap = 4π as a -> ∞ (Thm 6.2, Smoluchowski 4π(D1+D2)R)",
                     limit, (4 * np.pi * (1 - 1e-5), 4 * np.pi), "Thm 6.2; theory page 004",
                     f"F(1e12) = {limit:.8f}, 4π = {4 * np.pi:.8f}", closed=(False, True)),
    ]
    fft = tables["fft"]
    f_err, f_drift, f_agree = (_recorded(fft, k) for k in ("error", "mass_drift", "fft_vs_loop"))
    out.append(_compound(Claim.within(
        "fft_sums_additive_exact",
        f"O(M log M) FFT coagulation sums, additive kernel K = n + m, M = {size['fft_m']}, t = 1: f_n, n ≤ 20, vs the "
        "exact solution; mass Σ n f_n (drift < 1e-11); agreement with the compiled O(M²) loop (< 1e-13)", f_err,
        (0, 1e-7), "theory page 004",
        f"max relative error {f_err:.1e}, mass drift {f_drift:.1e}, |fft - loop| / max = {f_agree:.1e}",
        closed=(True, False)), f_drift < 1e-11 and f_agree < 1e-13))

    # --- torus, homogeneous data
    torus = tables["torus"]
    _check_mass_units(torus)
    model = CoagulationDiffusion(**TORUS)
    ns, seeds = size["ns"], size["seeds"]
    rows = per_run(torus, T_END)
    n_arr = rows["n"].to_numpy(float)
    beta_corr = model.kernel()[0, 0] / 2
    beta_literal = float(capture_function_uniform_ball(100.0)) * 2  # (d+d) F(α') with d = 1
    pred = float(class_totals(torus, "reference", T_END).iloc[0]["all"])
    literal = model.total_density / (1 + beta_literal * model.total_density * T_END)
    mean_top = float(rows[rows["n"] == ns[-1]]["m0"].mean())
    # The reaction range ε = Z/N biases M0 low by O(ε) = O(1/N) (6 % at N = 500: the mean over 100
    # seeds is 7.38 against 7.88, so the mean of 3 seeds at N = 500 falls on the literal side of the
    # midpoint 7.28 for about one seed set in seven). The kinetic limit is N → ∞: M0 is extrapolated
    # there by least squares in 1/N over every (N, seed) run, with its standard error.
    inv_n = 1 / n_arr
    design = np.vstack([np.ones_like(inv_n), inv_n]).T
    coef, res, *_ = np.linalg.lstsq(design, rows["m0"].to_numpy(float), rcond=None)
    m0_inf = float(coef[0])
    m0_se = float(np.sqrt(res[0] / (len(rows) - 2) * np.linalg.inv(design.T @ design)[0, 0])) if len(res) else 0.0
    rel = abs(m0_inf - pred) / pred
    out.append(_compound(Claim.within(
        "kinetics_corrected_kernel",
        f"M0(T) of the particles, extrapolated to N → ∞ (least squares in 1/N over N = {ns}; the finite-ε "
        f"bias is O(1/N)), matches the continuum with the corrected β = ½(d+d)F(2α') = {beta_corr:.3f} within "
        f"10 % and is closer to it than to the literal β = {beta_literal:.2f}", rel, (0, 0.1),
        "theory page 004 (factor-2 audit), §5.6",
        f"particles {m0_inf:.3f} ± {m0_se:.3f} extrapolated ({mean_top:.3f} at N={ns[-1]}, mean of {seeds} "
        f"seeds), corrected {pred:.3f}, literal {literal:.3f}", closed=(True, False)),
        abs(m0_inf - pred) < abs(m0_inf - literal)))
    fit_c = fit_rate(n_arr, rows["class_l1_error"].to_numpy(float))
    out.append(Claim.at_most(
        "rate_class_concentrations",
        "Σ_{n≤4} |(Z/N)#{m_i=n} - f_n(T)| decreases as N grows (fluctuations O(N^-1/2) plus O(ε) transient)",
        fit_c.slope, -0.2, "Thm 1.1; theory page 004", f"slope {fit_c}", strict=True))
    fit_bl = monomer_rate(torus, T_END)
    out.append(Claim.at_most(
        "rate_bl_monomers",
        "BL(monomer particle measure, f_1(T)) on T^3 decreases as N grows (the paper gives no rate; the "
        "asymptotic 3-D sampling rate is N^-1/3, small N decay faster; the bound -0.15 is ours)", fit_bl.slope,
        -0.15, "Thm 1.1; theory page 004", fit_bl.describe() + " (the reference is the homogeneous ODE: no grid "
        "to refine)", strict=True))
    mass = _obs(tables["pde_mass"], "total_mass", "sample")["value"].to_numpy(float)
    drift = float(np.max(np.abs(mass - model.total_density)))
    out.append(Claim.within("pde_mass", "Σ n ∫ f_n is conserved by the coagulation-diffusion solver", drift,
                            (0, 1e-11), "theory page 004", f"max drift {drift:.1e}", closed=(True, False)))

    # --- R^3, inhomogeneous data
    r3 = tables["r3"]
    _check_mass_units(r3)
    model3 = CoagulationDiffusion(**R3)
    ns3 = size["r3_ns"]
    rows3 = per_run(r3, R3_T)
    n3 = rows3["n"].to_numpy(float)
    m0_p = float(rows3[rows3["n"] == ns3[-1]]["m0"].mean())
    m0_pde = float(class_totals(r3, "reference", R3_T).iloc[0]["all"])
    lit = float(_obs(tables["r3_literal"], "total_mass", "sample", "all")["value"].iloc[0])
    rel3 = abs(m0_p - m0_pde) / m0_pde
    out.append(_compound(Claim.within(
        "r3_kinetics_inhomogeneous",
        f"particles in R^3, Gaussian data: M0(T) at N={ns3[-1]} matches the coagulation-diffusion PDE with the "
        "corrected kernel within 5 % and is closer to it than to the PDE with the literal kernel", rel3, (0, 0.05),
        "Thm 1.1; theory page 004",
        f"particles {m0_p:.3f} (mean of {size['r3_seeds']} seeds), PDE corrected {m0_pde:.3f}, literal {lit:.3f}",
        closed=(True, False)), abs(m0_p - m0_pde) < abs(m0_p - lit)))
    fit_c3 = fit_rate(n3, rows3["class_l1_error"].to_numpy(float))
    out.append(Claim.at_most(
        "r3_rate_class_totals", "R^3, inhomogeneous: Σ_{n≤4} |(Z/N)#{m_i=n} - ∫f_n(T)| decreases as N grows",
        fit_c3.slope, -0.2, "Thm 1.1; theory page 004", f"slope {fit_c3}", strict=True))
    first = {"n": ns3[0], "seed": 0}
    atoms = int(_obs(r3, "f1_atoms", "reference", "atoms", time=R3_T, **first)["value"].iloc[0])
    dropped = float(_obs(r3, "f1_atoms", "reference", "dropped", time=R3_T, **first)["value"].iloc[0])
    fit_bl3 = monomer_rate(r3, R3_T)
    out.append(Claim.at_most(
        "r3_rate_bl_monomers",
        "R^3, inhomogeneous: BL(monomer particles, f_1(T)) decreases as N grows (no rate in the paper; 3-D "
        f"sampling floor N^-1/3; f_1 as {atoms} cell atoms, dropped mass {dropped:.1e}; the bound -0.15 is ours)",
        fit_bl3.slope, -0.15, "Thm 1.1; theory page 004", fit_bl3.describe(), strict=True))
    mass3 = _obs(r3, "pde_total_mass", "reference", **first).sort_values("time")["value"].to_numpy(float)
    drift3 = float(np.max(np.abs(mass3 - model3.total_density)))
    wrap = model3.wrap_around_estimate(R3_T)
    out.append(_compound(Claim.within(
        "r3_pde_mass_and_box",
        "R^3 PDE on a periodic box: Σ n ∫ f_n conserved; Gaussian wrap-around estimate (< 1e-5)", drift3,
        (0, 1e-11), "theory page 004", f"max drift {drift3:.1e}, wrap-around {wrap:.1e}", closed=(True, False)),
        wrap < 1e-5))
    return out


# --- figures and data ----------------------------------------------------------------------------------------
def figures(declared: dict, tables: dict, quick: bool, outdir: pathlib.Path) -> list:
    from matplotlib.figure import Figure

    from meanfield import io
    from meanfield.models.smoluchowski import CoagulationDiffusion, capture_function_uniform_ball
    from meanfield.plot import plot_rate
    from meanfield.study import floor_curves

    size = sizes(quick)
    model = CoagulationDiffusion(**TORUS)
    beta_literal = float(capture_function_uniform_ball(100.0)) * 2
    torus = tables["torus"]
    fig = Figure(figsize=(10, 4), layout="constrained")
    axes = fig.subplots(1, 2)
    for n in size["ns"]:
        m0 = _obs(torus, "total_mass", "sample", "all", n=n).groupby("time")["value"].mean()
        axes[0].plot(m0.index, m0.to_numpy(), "o-", ms=3, label=f"particles N={n}")
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
    paths = [str(io.save_figure(fig, outdir / "smoluchowski_kinetics.png", dpi=110))]

    r3, ns3, res = tables["r3"], size["r3_ns"], size["r3_resolution"]
    model3 = CoagulationDiffusion(**R3)
    fig = Figure(figsize=(10, 4), layout="constrained")
    axes = fig.subplots(1, 2)
    first = {"n": ns3[0], "seed": 0}
    for k in range(4):
        label = str(k + 1)
        pde = _obs(r3, "total_mass", "reference", label, **first).sort_values("time")
        line, = axes[0].plot(pde["time"], pde["value"], "-", label=f"∫ f_{label} (PDE)")
        part = _obs(r3, "total_mass", "sample", label, n=ns3[-1]).groupby("time")["value"].sum() / size["r3_seeds"]
        axes[0].plot(part.index, part.to_numpy(), "o", color=line.get_color(), ms=4)
    axes[0].set_xlabel("t")
    axes[0].set_title(f"R^3, Gaussian data: mass classes (dots: particles N={ns3[-1]})", fontsize=9)
    axes[0].legend(fontsize=7)
    grid = model3.continuum_grid(res)
    sol = declared["r3"].reference({"n": ns3[0]})
    xs = grid.axis_centres(0)
    marg = sol.density.values[-1, 0].sum(axis=(1, 2)) * (model3.box / res) ** 2
    axes[1].plot(xs, marg, "k-", label="f_1(T) x-marginal (PDE)")
    hist = r3[(r3["n"] == ns3[-1]) & r3["metric"].str.startswith("monomer_x[")]
    counts = hist.assign(i=hist["metric"].str.extract(r"\[(\d+)\]")[0].astype(int)).groupby("i")["value"].sum()
    axes[1].step(xs, counts.reindex(range(res), fill_value=0.0).to_numpy() * model3.total_density / ns3[-1]
                 / size["r3_seeds"] / (model3.box / res), where="mid", label=f"monomer particles (N={ns3[-1]})")
    axes[1].set_xlabel("x")
    axes[1].legend(fontsize=7)
    paths.append(str(io.save_figure(fig, outdir / "smoluchowski_r3.png", dpi=110)))

    fig = Figure(figsize=(10, 4), layout="constrained")
    panels = ((torus, T_END, "T^3, uniform data"), (r3, R3_T, "R^3, Gaussian data"))
    for ax, (table, t, where) in zip(fig.subplots(1, 2), panels, strict=True):
        rows = monomer_distances(table, t)
        plot_rate(ax, rows["n"], rows["value"], monomer_rate(table, t).fit, label="BL monomers", xlabel="N",
                  floors=floor_curves(rows, "n"), ylabel="BL(monomer particles, f_1)")
        ax.set_title(f"{where}: dashed sampling floor" + (", dash-dot discretisation floor" if table is r3 else
                                                          " (ODE reference: no discretisation floor)"), fontsize=8)
    paths.append(str(io.save_figure(fig, outdir / "smoluchowski_rates.png", dpi=110)))
    return paths


def data_files(declared: dict, tables: dict, quick: bool, outdir: pathlib.Path) -> list:
    """``smoluchowski_particles.csv`` (torus) and ``smoluchowski_r3.csv`` (R^3): per N and seed, M0,
    the class error, the monomer BL distance, events, dt; ``smoluchowski_studies.csv``: every study's
    tidy table with a ``study`` column."""
    from meanfield import io

    tidy = pd.concat([t.assign(study=name) for name, t in tables.items()], ignore_index=True)
    return [str(io.save_table(per_run(tables["torus"], T_END), outdir / "smoluchowski_particles.csv")),
            str(io.save_table(per_run(tables["r3"], R3_T), outdir / "smoluchowski_r3.csv")),
            str(io.save_table(tidy, outdir / "smoluchowski_studies.csv"))]


def notes(declared: dict, quick: bool) -> str:
    """The sizes and settings stated under the paper's table."""
    size = sizes(quick)
    return (f"torus: N = {size['ns']}, {size['seeds']} seeds, T = {T_END}, Z = 10, d ≡ 1, α' = 100, V uniform on "
            f"B_1, uniform data; R^3: N = {size['r3_ns']}, {size['r3_seeds']} seeds, Gaussian data σ = 0.2, α' = 10, "
            f"T = {R3_T}, PDE {size['r3_resolution']}^3; studies: {', '.join(declared)}")


run = paper_runner(__name__)
