"""Model 001: exact particle cases, invariants, no false annihilation, continuum structure and order,
particles vs finite volumes."""

import numpy as np
import pytest
from scipy.special import roots_hermite

from meanfield.models.annihilation1d import Annihilation1D, potential
from meanfield.rates import fit_rate


def test_three_particle_annihilation_time_and_final_state():
    """theory page 001: x = (-1, 1, 2), b = (+, +, -), W = 0: collision at t = 9 at x = 2."""
    tr = Annihilation1D().simulate_particles((np.array([-1.0, 1.0, 2.0]), np.array([1, 1, -1])), 12.0, times=[12.0])
    ((t, kind, pair),) = tr.events
    assert t == pytest.approx(9.0, rel=1e-7) and kind == "annihilation" and pair == (1, 2)
    np.testing.assert_allclose(tr.positions[-1], [-2.0, 2.0, 2.0], atol=1e-7)
    np.testing.assert_array_equal(tr.info["active"][-1], [1, 0, 0])


def test_hermite_self_similar_solution():
    """theory page 001: x_i(t) = sqrt(c0² + 2t/n) h_i with h_i the zeros of H_N (one species)."""
    h, _ = roots_hermite(8)
    c0, n = 0.3, 8
    tr = Annihilation1D().simulate_particles((c0 * h, np.ones(8, int)), 1.0, times=[0.5, 1.0])
    for t, x in zip(tr.times, tr.positions, strict=True):
        np.testing.assert_allclose(x, np.sqrt(c0**2 + 2 * t / n) * h, rtol=1e-7)


def test_regularised_pair_never_annihilates_and_follows_exact_law():
    """theory page 001: n = 2, d0 = 1, δ = 0.3: d(1) = 3.865599220e-3, exponential approach, no event."""
    m = Annihilation1D(W="regularised", delta=0.3)
    tr = m.simulate_particles((np.array([-0.5, 0.5]), np.array([1, -1])), 3.0, times=[1.0, 3.0], rtol=1e-10, atol=1e-15)
    assert tr.events == []
    d1 = tr.positions[0][1] - tr.positions[0][0]
    assert d1 == pytest.approx(3.865599220e-3, rel=1e-5)
    assert tr.positions[1][1] - tr.positions[1][0] > 0  # d(3) ~ 8.6e-13 but never crosses


def test_invariants_on_two_blocks():
    m = Annihilation1D()
    x, b = m.sample_particles(120)
    times = np.linspace(0.25, 2.0, 8)
    tr = m.simulate_particles((x, b), 2.0, times=times)
    plus, minus = b > 0, b < 0
    for xt, bt in zip(tr.positions, tr.info["active"], strict=True):
        # W = 0: per-species first moments are conserved (ghosts included)
        assert xt[plus].sum() == pytest.approx(x[plus].sum(), abs=1e-9)
        assert xt[minus].sum() == pytest.approx(x[minus].sum(), abs=1e-9)
        assert (bt == 1).sum() - (bt == -1).sum() == plus.sum() - minus.sum()
        active = np.flatnonzero(bt)
        assert np.all(np.diff(xt[active]) > 0)  # active particles stay ordered
    counts = [(bt != 0).sum() for bt in tr.info["active"]]
    assert np.all(np.diff(counts) <= 0) and len(tr.events) == (120 - counts[-1]) // 2
    # ghosts come in coincident ± pairs
    for _, _, (i, j) in tr.events:
        assert tr.positions[-1][i] == tr.positions[-1][j] and b[i] == -b[j]


def test_second_moment_is_piecewise_linear_with_w_zero():
    """theory page 001: dM2/dt = (N+(N+-1) + N-(N- -1))/n² between events (V = -log, W = 0)."""
    m = Annihilation1D()
    x, b = m.sample_particles(40)
    times = np.linspace(0.05, 0.3, 6)  # before the first contact (t_c = 0.375 for the continuum)
    tr = m.simulate_particles((x, b), 0.3, times=times)
    assert tr.events == []
    m2 = np.array([np.sum(xt**2) / 40 for xt in tr.positions])
    slope = (20 * 19 + 20 * 19) / 40**2
    np.testing.assert_allclose(np.diff(m2) / np.diff(times), slope, rtol=1e-6)


def test_wall_potential_stable_formula():
    r = np.array([1e-4, 1e-2, 0.5, 3.0])
    exact = r / np.tanh(r) - np.log(2 * np.sinh(r))
    np.testing.assert_allclose(potential("wall", r), exact, rtol=1e-10)
    # far field V ≈ (2r + 1) e^{-2r} (theory page 001), where the naive formula cancels to 0
    assert potential("wall", 20.0) == pytest.approx(41 * np.exp(-40.0), rel=1e-12)
    assert potential("wall", 400.0) >= 0


def test_continuum_masses_positivity_and_annihilated_mass():
    m = Annihilation1D()
    sol = m.solve_continuum(2.0, resolution=400, times=[0.2, 1.0, 2.0])
    grid_mass = sol.density.values.sum(axis=-1) * (sol.x.values[1] - sol.x.values[0])
    np.testing.assert_allclose(grid_mass, 0.5, rtol=1e-12)  # each species, to round-off
    assert sol.density.values.min() >= 0
    a = sol.annihilated_mass.values
    assert np.all(np.diff(a) > 0)
    # before contact (t_c = 0.375) the exact A is 0; the upwind scheme's numerical diffusion gives
    # exponentially small overlaps that vanish under refinement
    early = [m.solve_continuum(0.2, resolution=c, window=(-3.0, 3.0)).annihilated_mass.values[-1] for c in (200, 400)]
    assert early[1] < 1e-2 * early[0] and early[1] < 1e-6


def test_continuum_first_order_and_agreement_with_particles():
    m = Annihilation1D()
    ref = m.solve_continuum(2.0, resolution=1600).annihilated_mass.values[-1]
    cells = [100, 200, 400]
    errs = [abs(m.solve_continuum(2.0, resolution=c).annihilated_mass.values[-1] - ref) for c in cells]
    fit = fit_rate([1 / c for c in cells], errs)
    assert 0.7 < fit.slope < 1.4, fit
    # theory page 001: A(2) ≈ 0.140 ± 0.001 (FV 3200 cells 0.1404; particles 400/species 0.1400)
    assert ref == pytest.approx(0.1404, abs=1.5e-3)
    tr = m.simulate_particles(m.sample_particles(400), 2.0)
    a_particles = 0.5 - (tr.info["active"][-1] == 1).sum() / 400
    assert a_particles == pytest.approx(ref, abs=3e-3)


def test_bad_input():
    m = Annihilation1D()
    with pytest.raises(ValueError, match="strictly increasing"):
        m.simulate_particles((np.array([0.0, 0.0, 1.0]), np.array([1, 1, -1])), 1.0)
    with pytest.raises(ValueError, match="finite"):
        m.simulate_particles((np.array([0.0, np.nan]), np.array([1, -1])), 1.0)
    with pytest.raises(ValueError, match=r"Assumption 2\.1"):
        Annihilation1D(W="minusV")
    with pytest.raises(ValueError, match="V must be one of"):
        Annihilation1D(V="W=-V")
    with pytest.raises(ValueError, match="overlap"):
        Annihilation1D(centres=(0.0, 0.5))


def test_simultaneous_annihilations_at_distinct_points():
    """Mirror-symmetric data (+ - ... + -) about 0 with two interfaces annihilating at the same time."""
    x = np.array([-3.0, -2.0, -1.5, 1.5, 2.0, 3.0])
    b = np.array([1, 1, -1, 1, -1, -1])
    tr = Annihilation1D().simulate_particles((x, b), 5.0, times=[5.0])
    times = [e[0] for e in tr.events]
    assert len(times) >= 2 and times[0] == pytest.approx(times[1], rel=1e-7)
    pts = [tr.positions[-1][e[2][0]] for e in tr.events[:2]]
    assert pts[0] == pytest.approx(-pts[1], rel=1e-6) and pts[0] != pts[1]


def test_particles_satisfy_the_weak_form_3_6():
    """Lemma 4.6(iii): the particle measures satisfy (3.6) exactly; here up to the trapezoidal time
    quadrature. φ(t, x) = sin²(πt/T) exp(-x²) vanishes with its time derivative at 0 and T."""
    m = Annihilation1D()
    n, T = 40, 1.5
    times = np.linspace(0.0, T, 3001)
    tr = m.simulate_particles(m.sample_particles(n), T, times=times)
    assert len(tr.events) > 0  # the window contains annihilations
    b0 = tr.info["charges"]

    def dphi_dt(t, x):
        return np.pi / T * np.sin(2 * np.pi * t / T) * np.exp(-(x**2))

    def dphi_dx(t, x):
        return np.sin(np.pi * t / T) ** 2 * (-2 * x) * np.exp(-(x**2))

    for sign in (1, -1):
        term1, term2 = [], []
        for t, x, b in zip(tr.times, tr.positions, tr.info["active"], strict=True):
            term1.append(np.sum(dphi_dt(t, x[b0 == sign])) / n)  # ∫ ∂_t φ dμ_n^± (ghosts included)
            xa = x[b == sign]  # [κ_n]_±: active particles only
            d = xa[:, None] - xa[None, :]
            g = dphi_dx(t, xa)
            with np.errstate(divide="ignore", invalid="ignore"):
                pair = np.where(d != 0, (g[:, None] - g[None, :]) * (-1.0 / d), 0.0)  # V'(r) = -1/r
            term2.append(0.5 * pair.sum() / n**2)
        lhs = np.trapezoid(term1, tr.times)
        rhs = np.trapezoid(term2, tr.times)
        assert abs(lhs - rhs) < 1e-4 * (abs(lhs) + abs(rhs))
