"""Model 004 on the time-stepping layer: the reaction scheme of the coagulation–diffusion splitting
is selectable and has its declared order, steps that would never end are refused before any work
for every run method, and the particles' Brownian increments have the generator's scale."""

import numpy as np
import pytest

from meanfield.models.smoluchowski import REACTION_SCHEMES, CoagulationDiffusion, SeparableKernel, solve_homogeneous
from meanfield.rates import fit_rate

BAD_STEPS = [0.0, -0.01, float("nan"), float("inf"), 1e-300]


@pytest.mark.parametrize("scheme, divisions",
                         [("ssp_rk3", (2, 4, 8, 16)), ("rk4", (2, 4, 8, 16)), ("dormand_prince_54", (2, 4, 8))])
def test_reaction_scheme_has_its_declared_order(scheme, divisions):
    """Uniform data: the heat flow is the identity, so the splitting is exact and the PDE at every
    point is the homogeneous system; the error against a tight Dormand–Prince solution falls with
    the declared order of the reaction stepper (measured 3.01, 4.00; DP5 5.26, still above its
    asymptotic 5 where its error reaches round-off, hence the wider band above)."""
    model = CoagulationDiffusion(max_mass=6, diffusivity=0.01, alpha=20.0)
    t_end = 0.02
    _, ref = solve_homogeneous(model.kernel(), model.total_density * model.fractions, t_end, rtol=1e-13, atol=1e-16)
    dts, errs = [t_end / k for k in divisions], []
    for dt in dts:
        ds = model.solve_continuum(t_end, resolution=2, dt=dt, stepper=scheme)
        errs.append(np.abs(ds.density.values[-1].mean(axis=(1, 2, 3)) - ref[-1]).max())
    order = REACTION_SCHEMES[scheme].order
    assert ds.attrs["solver_b"] == REACTION_SCHEMES[scheme].name and ds.attrs["solver_stepper"] == "strang"
    assert ds.attrs["solver_order"] == 2 and ds.attrs["solver_step_rule"] == "fixed"
    slope = fit_rate(dts, errs).slope
    assert order - 0.2 < slope < order + 0.4, (scheme, slope, errs)


def test_schemes_agree_on_inhomogeneous_data_and_substeps_are_recorded():
    """Mass-dependent diffusion (reaction and diffusion do not commute): the three reaction steppers
    share the splitting error (measured against dt/16: 6.6e-3) and differ by their reaction errors,
    smaller and ordered by the declared orders (measured: SSP-RK3 7.7e-4 and RK4 3.5e-6 from DP5)."""
    model = CoagulationDiffusion(max_mass=4, diffusivity=lambda m: 0.05 / m, alpha=50.0, initial_profile="gaussian")
    runs = {s: model.solve_continuum(0.02, resolution=8, dt=0.02 / 8, reaction_substeps=4, stepper=s)
            for s in REACTION_SCHEMES}
    fine = model.solve_continuum(0.02, resolution=8, dt=0.02 / 128, reaction_substeps=4,
                                 stepper="dormand_prince_54").density.values[-1]
    ref = runs["dormand_prince_54"].density.values[-1]
    splitting = np.abs(ref - fine).max()
    d_rk3 = np.abs(runs["ssp_rk3"].density.values[-1] - ref).max()
    d_rk4 = np.abs(runs["rk4"].density.values[-1] - ref).max()
    assert d_rk4 < 0.01 * d_rk3 and d_rk3 < 0.2 * splitting, (d_rk4, d_rk3, splitting)
    assert runs["ssp_rk3"].attrs["solver_b"] == "ssp_rk3x4" and runs["ssp_rk3"].attrs["solver_reaction_substeps"] == 4
    for ds in runs.values():
        np.testing.assert_allclose(ds["total_mass"].values, model.total_density, rtol=1e-12)
    with pytest.raises(ValueError, match="scheme"):
        model.solve_continuum(0.02, resolution=8, scheme="euler")


@pytest.mark.parametrize("dt", BAD_STEPS)
@pytest.mark.parametrize("run", ["continuum", "particles_torus", "particles_free"])
def test_bad_steps_are_refused_before_any_work(run, dt):
    if run == "continuum":
        model = CoagulationDiffusion(max_mass=4)
        with pytest.raises(ValueError, match="dt"):
            model.solve_continuum(0.01, resolution=8, dt=dt)
        return
    if run == "particles_torus":
        model = CoagulationDiffusion(max_mass=4)
    else:
        model = CoagulationDiffusion(max_mass=4, domain="free", initial_profile="bump", box=2.0, bump_width=0.2)
    with pytest.raises(ValueError, match="dt"):
        model.simulate_particles(model.sample_particles(200, rng=0), 0.01, dt=dt)


@pytest.mark.parametrize("rtol, atol", [(1e-300, 1e-14), (1e-300, 1e-300), (0.0, 1e-14), (float("nan"), 1e-14),
                                        (1e-10, -1.0), (1e-10, float("inf"))])
def test_homogeneous_tolerances_float64_cannot_deliver_are_refused(rtol, atol):
    with pytest.raises(ValueError, match=r"rtol|atol"):
        solve_homogeneous(SeparableKernel.constant(8), np.eye(8)[0], 1.0, rtol=rtol, atol=atol)


def test_brownian_increments_have_the_generator_scale():
    """No reactions (α = 0): in R^3 the displacements are Gaussian with E|Δx|² = 6 d(m) t (generator
    d(m) Δ), here d(m) = 1/m for masses 1 and 2; each mean of 3n squared standard normals lies within
    5 standard deviations, sqrt(2/(3n)) relative, of 1."""
    model = CoagulationDiffusion(max_mass=2, diffusivity=lambda m: 1.0 / m, alpha=0.0, domain="free",
                                 initial_profile="bump", box=2.0, bump_width=0.2, initial_mass_fractions=(0.5, 0.5))
    pos, mass = model.sample_particles(4000, rng=1)
    t_end = 0.01
    tr = model.simulate_particles((pos, mass), t_end, times=[t_end / 2, t_end], rng=2, dt=t_end / 7)
    assert tr.info["events"] == 0 and tr.info["stepper"] == "euler_maruyama+coagulation_sweep"
    assert tr.info["step_rule"] == "fixed" and tr.info["weak_order"] == 1
    np.testing.assert_array_equal(tr.species[-1].astype(int), mass)  # no reaction: rows kept in order
    disp2 = ((tr.positions[-1] - pos) ** 2).sum(axis=1)
    for m in (1, 2):
        sel = mass == m
        ratio = disp2[sel].mean() / (6 * (1.0 / m) * t_end)
        assert abs(ratio - 1) < 5 * np.sqrt(2 / (3 * sel.sum())), (m, ratio)


def test_jump_splitting_and_sweep_refuse_bad_parts():
    from meanfield.particles.coagulation import CoagulationSweep
    from meanfield.solvers.timestepping import SSPRK3, EulerMaruyama, JumpSplitting

    r = np.linspace(0, 1, 5)
    sweep = CoagulationSweep(0.01, np.ones((2, 2)), r**2, np.ones(5), np.random.default_rng(0), box=1.0, particles=100)
    assert sweep.cells == 5  # about one particle per cell, at least 3 per axis, side >= ε
    with pytest.raises(TypeError, match="stochastic"):
        JumpSplitting(SSPRK3(), sweep)
    with pytest.raises(TypeError, match="jumps"):
        JumpSplitting(EulerMaruyama(), "sweep")
    with pytest.raises(TypeError, match="Generator"):
        CoagulationSweep(0.01, np.ones((2, 2)), r**2, np.ones(5), 0)
    with pytest.raises(ValueError, match="box/3"):
        CoagulationSweep(0.5, np.ones((2, 2)), r**2, np.ones(5), np.random.default_rng(0), box=1.0)
    stepper = JumpSplitting(EulerMaruyama(), sweep)
    assert stepper.describe()["stepper"] == "euler_maruyama+coagulation_sweep"
    assert stepper.describe()["epsilon"] == 0.01
