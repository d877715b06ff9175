"""Model 003: kernel, MF^ε (mass, positivity, free energy, consistency) and the O(ε²) rate to MF."""

import numpy as np
import pytest

from meanfield.models.dislocations import Dislocations2D, potential_hat
from meanfield.rates import fit_rate
from meanfield.solvers import fft


def test_potential_solves_periodic_poisson_with_mollifier():
    """-ΔV_δ = φ_δ - 1 (theory page 003, sign corrected): -Δ in Fourier is 4π²|k|², so 4π²|k|² V̂ = φ̂."""
    k1, k2 = np.meshgrid(np.arange(-5, 6), np.arange(-5, 6), indexing="ij")
    v = potential_hat(k1, k2, 0.1)
    lhs = 4 * np.pi**2 * (k1**2 + k2**2) * v
    rhs = np.where((k1 == 0) & (k2 == 0), 0.0, np.exp(-2 * np.pi**2 * 0.01 * (k1**2 + k2**2)))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-14)
    assert np.all(v >= 0)  # like charges repel: V decreasing away from 0


def test_lattice_gradient_samples_are_exact_and_odd():
    m = Dislocations2D(delta=0.1)
    g = m.grad_potential_hat(32)
    gx = fft.irfftn(g[0] * 32**2, (32, 32))  # sample values
    # direct evaluation of the series at a lattice point, all |k| <= 60
    k1, k2 = np.meshgrid(np.arange(-60, 61), np.arange(-60, 61), indexing="ij")
    v = potential_hat(k1, k2, 0.1)
    point = (3 / 32, 5 / 32)
    direct = np.real(np.sum(2j * np.pi * k1 * v * np.exp(2j * np.pi * (k1 * point[0] + k2 * point[1]))))
    assert gx[3, 5] == pytest.approx(direct, rel=1e-10)
    assert gx[0, 0] == pytest.approx(0.0, abs=1e-14)
    np.testing.assert_allclose(gx[1:, :], -gx[1:, :][::-1, :][:, np.r_[0, 31:0:-1]], atol=1e-12)


def test_lattice_mean_field_conserves_mass_keeps_positivity_and_free_energy_decreases():
    m = Dislocations2D(delta=0.1, beta=0.5, amplitude=0.45)
    sol = m.solve_lattice(1 / 32, 0.2, times=[0.0, 0.05, 0.1, 0.2])
    f = sol.density.values
    mass = f.sum(axis=(2, 3)) / 32**2
    np.testing.assert_allclose(mass, 0.5, rtol=1e-13)  # ρ ∈ P(T²_±): ½ per species
    assert f.min() > 0
    # free energy ½∫∫V σσ + β^{-1} Σ ∫ f log f (theory page 003), evaluated on the lattice
    g = m.grad_potential_hat(32)
    k1 = np.fft.fftfreq(32, 1 / 32)[:, None]
    k2 = np.fft.rfftfreq(32, 1 / 32)[None, :]
    vhat = potential_hat(k1, k2, 0.1)
    energy = []
    for fk in f:
        sig_hat = fft.rfftn(fk[0] - fk[1]) / 32**2
        weights = np.where(k2 == 0, 1.0, 2.0) * np.ones_like(vhat)
        weights[:, -1] = 1.0
        interaction = 0.5 * np.sum(weights * vhat * np.abs(sig_hat) ** 2)
        entropy = np.sum(fk * np.log(fk)) / 32**2 / m.beta
        energy.append(interaction + entropy)
    assert np.all(np.diff(energy) < 0)
    assert g[0].shape == (32, 17)


def test_lattice_mean_field_converges_to_mf_at_order_eps_squared():
    """Theorem 1.3: ‖f_ε - f‖_{L²(ν_ε)} = O(ε²)."""
    m = Dislocations2D(delta=0.1, beta=1.0, amplitude=0.4)
    t_end = 0.05
    ref = m.solve_continuum(t_end, resolution=128).density.values[-1]
    errors, epss = [], [1 / 16, 1 / 32, 1 / 64]
    for eps in epss:
        n = round(1 / eps)
        f = m.solve_lattice(eps, t_end).density.values[-1]
        errors.append(np.sqrt(eps**2 * np.sum((f - ref[:, :: 128 // n, :: 128 // n]) ** 2)))
    fit = fit_rate(epss, errors)
    assert 1.9 < fit.slope < 2.1, fit


def test_bad_input():
    m = Dislocations2D(delta=0.1)
    with pytest.raises(ValueError, match="1/eps must be an integer"):
        m.solve_lattice(0.03, 0.1)
    with pytest.raises(ValueError, match="eps << delta"):
        Dislocations2D(delta=0.01).solve_lattice(1 / 32, 0.1)
    with pytest.raises(ValueError, match="beta"):
        Dislocations2D(beta=0.0)
    with pytest.raises(ValueError, match="amplitude"):
        Dislocations2D(amplitude=0.7)


def test_particle_force_fourier_sum_matches_direct_pair_sum():
    m = Dislocations2D(delta=0.15)
    x, b = m.sample_particles(12, rng=0)
    force = m.particle_force(x, b.astype(float))
    k1, k2 = np.meshgrid(np.arange(-40, 41), np.arange(-40, 41), indexing="ij")
    v = potential_hat(k1, k2, 0.15)

    def grad_v(d):
        ph = np.exp(2j * np.pi * (k1 * d[0] + k2 * d[1]))
        return np.array([np.real(np.sum(2j * np.pi * k1 * v * ph)), np.real(np.sum(2j * np.pi * k2 * v * ph))])

    direct = np.array([-(b[i] / 12) * sum(b[j] * grad_v(x[i] - x[j]) for j in range(12) if j != i) for i in range(12)])
    np.testing.assert_allclose(force, direct, atol=1e-11)
    # Newton's third law: Σ_i b_i ... the total force on all particles weighted by 1 vanishes
    assert np.abs(force.sum(axis=0)).max() < 1e-12


def test_sde_is_reproducible_and_free_particle_diffuses_at_rate_2_over_beta():
    m = Dislocations2D(delta=0.1, beta=2.0)
    x, b = m.sample_particles(50, rng=1)
    a = m.simulate_particles((x, b), 0.01, rng=3)
    c = m.simulate_particles((x, b), 0.01, rng=3)
    np.testing.assert_array_equal(a.positions[-1], c.positions[-1])
    # a lone particle feels no force (∇V_δ(0) = 0): E|ΔX|² = 2 · 2t/β in 2-D; 400 independent runs,
    # the mean of |ΔX|² has relative standard deviation 1/sqrt(400) = 5 %: band of 4 standard deviations
    steps = []
    for seed in range(400):
        run = m.simulate_particles((np.array([[0.5, 0.5]]), np.array([1])), 0.005, rng=seed, dt=5e-4)
        steps.append(np.sum((run.positions[-1][0] - 0.5) ** 2))
    assert np.mean(steps) == pytest.approx(4 * 0.005 / 2.0, rel=0.2)
