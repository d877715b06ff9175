"""Model 004: kernel (cell problem), homogeneous exact solutions, coagulation-diffusion invariants,
particles (exact mass conservation, reproducibility, kinetics against the continuum)."""

import numpy as np
import pytest

from meanfield.models.smoluchowski import (
    CoagulationDiffusion,
    capture_function,
    capture_function_uniform_ball,
    coagulation_operator,
    solve_homogeneous,
)
from meanfield.rates import fit_rate


# --- kernel --------------------------------------------------------------------------------
@pytest.mark.parametrize("a,ref", [(0.01, 0.00999046), (1, 0.912921), (10, 5.14110), (100, 9.99476), (1e5, 12.4850)])
def test_uniform_ball_closed_form_matches_reference_table(a, ref):
    assert capture_function_uniform_ball(a) == pytest.approx(ref, rel=5e-6)  # table has 6 digits


def test_shooting_agrees_with_closed_form_and_smooth_profile_values():
    ball = lambda r: np.where(r <= 1, 1.0, 0.0)  # noqa: E731
    for a in (0.5, 20.0, 500.0):
        assert capture_function(a, ball) == pytest.approx(capture_function_uniform_ball(a), rel=1e-6)
    bump = lambda r: np.clip(1 - r**2, 0, None) ** 2  # noqa: E731
    assert capture_function(1.0, bump) == pytest.approx(0.885441, rel=1e-6)
    assert capture_function(100.0, bump) == pytest.approx(8.19017, rel=1e-6)


def test_kernel_limits_bounds_and_born_expansion():
    a = np.geomspace(1e-3, 1e6, 40)
    f = capture_function_uniform_ball(a)
    assert np.all(np.diff(f) > 0) and np.all(f <= np.minimum(a, 4 * np.pi))
    assert capture_function_uniform_ball(1e12) == pytest.approx(4 * np.pi, rel=1e-5)  # Smoluchowski 4πR
    # Born: F(a) = a - a^2 E + O(a^3), E = 6/(5 R) / (4π)
    small = 1e-3
    assert (small - capture_function_uniform_ball(small)) / small**2 == pytest.approx(6 / 5 / (4 * np.pi), rel=1e-3)


def test_model_kernel_is_symmetric_and_has_hard_core_limit():
    d = lambda m: 1.0 / m  # noqa: E731
    model = CoagulationDiffusion(max_mass=5, diffusivity=d, alpha=1e9)
    k = model.kernel()
    np.testing.assert_allclose(k, k.T)
    m = np.arange(1, 6)
    # K -> 4π (d(n) + d(m)) R, the Smoluchowski rate (corrected convention, module docstring)
    np.testing.assert_allclose(k, 4 * np.pi * (d(m)[:, None] + d(m)[None, :]), rtol=2e-3)


# --- homogeneous solutions -----------------------------------------------------------------
def test_constant_kernel_exact_solution():
    big_m, k, n0 = 60, 2.0, 1.0
    f0 = np.zeros(big_m)
    f0[0] = n0
    times, f = solve_homogeneous(np.full((big_m, big_m), k), f0, 1.0, [0.5, 1.0])
    n = np.arange(1, 11)
    for t, row in zip(times, f, strict=True):
        tau = k * n0 * t / 2
        exact = n0 * tau ** (n - 1) / (1 + tau) ** (n + 1)
        np.testing.assert_allclose(row[:10], exact, rtol=1e-7, atol=1e-12)
    assert (f[-1] * np.arange(1, big_m + 1)).sum() == pytest.approx(1.0, rel=1e-13)  # mass exactly


def test_additive_and_multiplicative_kernels_exact_before_gelation():
    from scipy.special import gammaln

    big_m = 200
    n = np.arange(1, big_m + 1)
    f0 = np.zeros(big_m)
    f0[0] = 1.0
    _, f = solve_homogeneous(n[:, None] + n[None, :] * 1.0, f0, 1.0)
    theta = 1 - np.exp(-1.0)
    k = np.arange(1, 11)
    exact = np.exp(-1.0) * np.exp((k - 1) * np.log(k) - gammaln(k + 1) + (k - 1) * np.log(theta) - k * theta)
    np.testing.assert_allclose(f[-1][:10], exact, rtol=1e-6)
    _, f = solve_homogeneous(np.outer(n, n) * 1.0, f0, 0.5)
    tau = 0.5
    exact = np.exp((k - 2) * np.log(k) - gammaln(k + 1) + (k - 1) * np.log(tau) - k * tau)
    np.testing.assert_allclose(f[-1][:10], exact, rtol=1e-6)


# --- coagulation-diffusion on the torus --------------------------------------------------------
def test_operator_conserves_mass_and_keeps_positivity():
    rng = np.random.default_rng(0)
    f = rng.random((7, 30))
    k = rng.random((7, 7))
    k = k + k.T
    rhs = coagulation_operator(f, k)
    np.testing.assert_allclose((np.arange(1, 8)[:, None] * rhs).sum(axis=0), 0.0, atol=1e-14)
    assert np.all(rhs[0] <= 0)  # monomers are only lost


def test_pde_mass_positivity_heat_equation_and_uniform_reduction():
    model = CoagulationDiffusion(max_mass=6, diffusivity=0.01, alpha=20.0, initial_profile="gaussian",
                                 total_density=10.0)
    sol = model.solve_continuum(0.02, resolution=16, times=[0.0, 0.01, 0.02])
    total = sol["total_mass"].values
    np.testing.assert_allclose(total, model.total_density, rtol=1e-12)  # Σ n ∫ f_n, to round-off
    # the spectral heat step is not positivity preserving: the Gibbs undershoot of the bump
    # (width 2 cells at 16^3) is 2.7e-8 of the maximum and disappears once resolved
    assert float(sol.density.min()) > -1e-7 * float(sol.density.max())
    resolved = model.solve_continuum(0.02, resolution=32, times=[0.02])
    assert float(resolved.density.min()) >= 0.0
    # d(m) constant: rho = Σ n f_n solves the heat equation exactly (the reaction conserves Σ n f_n pointwise)
    from meanfield.solvers import fft
    from meanfield.solvers.grids import UniformGrid

    grid = UniformGrid(0, 1, (16,) * 3)
    h0 = np.array([d.values for d in model.initial_density(grid).values()])  # in species order 1..6
    rho0 = (np.arange(1, 7)[:, None, None, None] * h0).sum(axis=0)
    k2 = sum(k**2 for k in grid.wavenumber_mesh(real=True))
    heat = fft.irfftn(fft.rfftn(rho0) * np.exp(-0.01 * k2 * 0.02), grid.shape)
    rho = (np.arange(1, 7)[:, None, None, None] * sol.density.values[-1]).sum(axis=0)
    np.testing.assert_allclose(rho, heat, atol=1e-10 * rho0.max())
    # uniform data reproduce the homogeneous solution
    uniform = CoagulationDiffusion(max_mass=6, diffusivity=0.01, alpha=20.0)
    _, hom = uniform.solve_homogeneous(0.02)
    pde = uniform.solve_continuum(0.02, resolution=4, dt=2e-4).density.values[-1].mean(axis=(1, 2, 3))
    np.testing.assert_allclose(pde, hom[-1], rtol=1e-5)


def test_strang_splitting_second_order():
    """Mass-dependent diffusivity makes diffusion and reaction not commute; the reaction is
    sub-stepped so that only the splitting error is left."""
    d = lambda m: 0.05 / m  # noqa: E731
    model = CoagulationDiffusion(max_mass=4, diffusivity=d, alpha=50.0, initial_profile="gaussian")
    ref = model.solve_continuum(0.05, resolution=8, dt=0.05 / 256, reaction_substeps=4).density.values[-1]
    dts, errs = [0.05 / 4, 0.05 / 8, 0.05 / 16, 0.05 / 32], []
    for dt in dts:
        out = model.solve_continuum(0.05, resolution=8, dt=dt, reaction_substeps=32).density.values[-1]
        errs.append(np.abs(out - ref).max())
    fit = fit_rate(dts, errs)
    assert 1.8 < fit.slope < 2.3, fit


# --- particles --------------------------------------------------------------------------------
def test_particles_conserve_mass_exactly_and_are_reproducible():
    model = CoagulationDiffusion(max_mass=8, alpha=200.0, initial_mass_fractions=(0.5, 0.3, 0.2))
    state = model.sample_particles(200, rng=3)
    a = model.simulate_particles(state, 1e-3, times=[5e-4, 1e-3], rng=4)
    b = model.simulate_particles(state, 1e-3, times=[5e-4, 1e-3], rng=4)
    total0 = int(state[1].sum())
    for k in range(2):
        np.testing.assert_array_equal(a.positions[k], b.positions[k])
        assert sum(int(s) for s in a.species[k]) == total0
    assert a.info["events"] > 0 and len(a.positions[1]) == 200 - a.info["events"]


def test_particle_kinetics_match_the_corrected_kernel():
    """Monodisperse, d ≡ 1, α' = 100, uniform-ball V (corrected convention): M0(t) from 3 runs at N = 500
    against the continuum with β = ½(d+d)F(2α') = 10.75; the literal β = 19.99 is excluded."""
    model = CoagulationDiffusion(max_mass=16, diffusivity=1.0, alpha=200.0)
    _, hom = model.solve_homogeneous(2.5e-3)
    predicted = hom[-1].sum()
    m0 = [len(model.simulate_particles(model.sample_particles(500, rng=s), 2.5e-3, rng=100 + s).positions[-1])
          * 10 / 500 for s in range(3)]
    literal = 10.0 / (1 + 19.99 * 10.0 * 2.5e-3)
    mean = np.mean(m0)
    # finite-ε transient and O(Z^{3/2}/N) corrections push M0 down by a few %
    assert abs(mean - predicted) / predicted < 0.1
    assert abs(mean - predicted) < abs(mean - literal)


def test_bad_input():
    with pytest.raises(ValueError, match="diffusivity"):
        CoagulationDiffusion(diffusivity=-1.0)
    with pytest.raises(ValueError, match="pair_sum"):
        CoagulationDiffusion(pair_sum="both")
    model = CoagulationDiffusion(max_mass=4)
    pos, m = model.sample_particles(100, rng=0)
    with pytest.raises(ValueError, match=r"integers in 1\.\.4"):
        model.simulate_particles((pos, m + 0.5), 1e-4)
    with pytest.raises(ValueError, match="kinetic scaling"):
        model.simulate_particles(model.sample_particles(20, rng=0), 1e-4)
