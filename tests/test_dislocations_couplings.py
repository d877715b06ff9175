"""Model 003: the coupled processes of the propagation-of-chaos lemmas.

Lemma 4.2: (SDE_n) and McKean–Vlasov copies with the same Brownian increments; Lemma 5.2: (RW_n^ε)
and independent MF^ε walkers as random time changes of the same Poisson processes. Each coupled
component must have the law of its process alone (the SDE block is the plain SDE run bit for bit;
the walkers pass the exact-law checks of the plain KMC; the mean-field copies follow the mean field),
the clock identity of Lemma 5.1(3) must hold, and the pair distance must shrink like n^{-1/2}.
Monte Carlo checks: fixed seeds, bands of 4 standard errors (or a goodness-of-fit p-value above
1e-3), each also excluding a plausible wrong answer.
"""

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from meanfield.measures import EmpiricalMeasure
from meanfield.models.dislocations import Dislocations2D
from meanfield.particles import coupled_kmc
from meanfield.particles import dislocation_couplings as dc
from meanfield.rates import fit_rate


def _torus_gap(a, b):
    d = np.asarray(a) - np.asarray(b)
    return np.abs(d - np.rint(d))


# -- Lemma 4.2: SDE_n and the McKean–Vlasov copies ---------------------------------------------------
@pytest.mark.parametrize("mollifier, dt", [("gaussian", None), ("gaussian", 7e-4), ("bump", None)])
def test_sde_block_is_the_plain_sde_run_bit_for_bit(mollifier, dt):
    """Same seed: the X block of the coupled run is simulate_particles (the SDE) to the last bit
    (default step and a step that must be shortened onto the output times); the lifts agree with it
    mod 1 and X̄ starts where X starts."""
    m = Dislocations2D(delta=0.2, beta=1.0, mollifier=mollifier)
    state = dc.sample_fixed_signs(m, 12, rng=1)
    times = [0.004, 0.01]
    cp = dc.couple_sde_mean_field(m, state, 0.01, times=times, rng=5, dt=dt)
    plain = m.simulate_particles(state, 0.01, times=times, rng=5, dt=dt)
    for a, b in zip(plain.positions, cp.info["x_wrapped"], strict=True):
        np.testing.assert_array_equal(a, b)
    for k in range(2):
        assert _torus_gap(cp.x[k], plain.positions[k]).max() < 1e-12
    assert cp.mean_distance(0) > 0  # the copies are not the particles
    at_zero = dc.couple_sde_mean_field(m, state, 0.01, times=[0.0], rng=5, dt=dt)
    assert at_zero.mean_distance() == 0.0 and at_zero.info["steps"] == 0
    other = m.simulate_particles(state, 0.01, times=times, rng=6, dt=dt)
    assert not np.array_equal(other.positions[-1], cp.info["x_wrapped"][-1])


def test_mean_field_force_is_the_spectral_field():
    """The copies' drift: at grid points, the (MF) force of the spectral solution computed by FFT on
    the grid; between grid points, the trigonometric polynomial summed mode by mode."""
    m = Dislocations2D(delta=0.1, beta=1.0)
    size = 32
    dens = m.solve_continuum(0.01, times=[0.0, 0.01], resolution=size).density.values
    force = dc._MeanFieldForce(m, dens, [0.0, 0.01], size // 2 - 1)
    k = np.fft.fftfreq(size, 1.0 / size)
    k1, k2 = np.meshgrid(k, k, indexing="ij")
    sig = np.fft.fft2(dens[1, 0] - dens[1, 1])
    vhat = m.potential_hat(k1, k2)
    ref = np.stack([np.real(np.fft.ifft2(2j * np.pi * kk * vhat * sig)) for kk in (k1, k2)], -1).reshape(-1, 2)
    s = np.arange(size) / size
    pts = np.stack(np.meshgrid(s, s, indexing="ij"), -1).reshape(-1, 2)
    assert np.abs(force(pts, 0.01) - ref).max() < 1e-12
    assert np.abs(ref).max() > 5e-3
    off = np.random.default_rng(0).random((5, 2))
    coef = np.fft.fft2(dens[1, 0] - dens[1, 1]) / size**2
    keep = (np.abs(k1) < size // 2) & (np.abs(k2) < size // 2)
    brute = [[np.real(np.sum((2j * np.pi * kk * vhat * coef * np.exp(2j * np.pi * (k1 * p[0] + k2 * p[1])))[keep]))
              for kk in (k1, k2)] for p in off]
    np.testing.assert_allclose(force(off, 0.01), brute, atol=1e-12)
    with pytest.raises(RuntimeError, match=r"no mean-field state saved at t=0\.005"):
        force(off, 0.005)


def test_mean_field_copies_follow_the_mean_field():
    """Lemma 4.1: the X̄_i are independent with law ρ^±(t)/|ρ^±|: their Fourier moments at t, pooled per
    sign, agree with the (MF) solution's within 4.5 standard errors, and are far from those at t = 0."""
    m = Dislocations2D(delta=0.25, beta=0.5, amplitude=0.45)
    t, n = 0.05, 1600
    cp = dc.couple_sde_mean_field(m, dc.sample_fixed_signs(m, n, rng=3), t, rng=4)
    size = 64
    dens = m.solve_continuum(t, times=[0.0, t], resolution=size).density.values
    s = np.arange(size) / size
    pts = np.stack(np.meshgrid(s, s, indexing="ij"), -1).reshape(-1, 2)
    modes = np.array([(1, 0), (0, 1), (1, 1), (1, -1), (2, 0), (0, 2)], float)
    far = 0.0
    for sp, sign in enumerate((1, -1)):
        pos = cp.x_bar[-1][cp.signs == sign]
        est = np.exp(-2j * np.pi * pos @ modes.T).mean(0)
        se = np.sqrt(0.5 / pos.shape[0])
        for j, ref_t in ((1, True), (0, False)):
            w = dens[j, sp].ravel()
            ref = (w[:, None] * np.exp(-2j * np.pi * pts @ modes.T)).sum(0) / w.sum()
            dev = np.maximum(np.abs(est.real - ref.real), np.abs(est.imag - ref.imag)).max() / se
            if ref_t:
                assert dev < 4.5
            else:
                far = max(far, dev)
    assert far > 5


def test_sde_coupling_distance_decays_like_n_to_minus_half_below_lemma_bound():
    """(1/n) E Σ|X_i - X̄_i|(t): slope in n within -1/2 ± 0.15 over n = 16 … 1024 (Lemma 4.2's rate; the
    band allows the O(1/n) term from each copy's mean field holding its own mass 1/n and the scatter of 8
    replicas); every mean below the explicit bound of Lemma 4.2."""
    m = Dislocations2D(delta=0.2, beta=1.0)
    t = 0.05
    c_v = dc.kernel_constant(m)[0]
    rows = []
    for n in (16, 64, 256, 1024):
        d = [dc.couple_sde_mean_field(m, dc.sample_fixed_signs(m, n, rng=10 * n + r), t, rng=r).mean_distance()
             for r in range(8)]
        assert np.mean(d) < dc.lemma42_bound(c_v, m.delta, t, n)
        rows += [(n, v) for v in d]
    fit = fit_rate(*zip(*rows, strict=True))
    assert -0.65 < fit.slope < -0.35, fit


def test_kernel_constant_at_the_origin():
    """Gaussian kernel: the Hessian of V_δ is largest at 0, where -ΔV_δ = φ_δ - 1 and isotropy give
    ∂_11 V_δ(0) = ∂_22 V_δ(0) = -(φ_δ(0) - 1)/2, φ_δ(0) = (Σ_k e^{-2π²δ²k²})²; δ‖∇V_δ‖_∞ ≈ 0.064 at
    δ = 0.1 (measured independently on a 1024² grid)."""
    for delta in (0.1, 0.2):
        m = Dislocations2D(delta=delta)
        c_v, grad, hess = dc.kernel_constant(m)
        k = np.arange(-60, 61)
        phi0 = np.sum(np.exp(-2 * np.pi**2 * delta**2 * k**2)) ** 2
        assert hess == pytest.approx(delta**2 * (phi0 - 1) / 2, rel=1e-10)
        assert c_v == max(grad, hess)
    assert dc.kernel_constant(Dislocations2D(delta=0.1))[1] == pytest.approx(0.064, abs=5e-4)


def test_lemma_bounds_formulae():
    expect = 2 * 0.1 * 0.5 / 0.2 * 0.1 * np.exp(2 * 0.1 * 0.5 / 0.04)
    assert dc.lemma42_bound(0.1, 0.2, 0.5, 100) == pytest.approx(expect)
    amp = np.exp(0.1 * 2.0 * 0.05 / 0.4)
    assert dc.lemma52_bound(0.1, 0.2, 2.0, 0.05, 0.5, 100, kappa=0.1) == pytest.approx(
        4 * amp * 0.1 * 0.5 / 0.2 * 0.2 * np.exp(4 * amp * 0.1 * 0.5 / 0.04))


def test_fixed_sign_sampler():
    """n_plus positive particles first; positions follow f^± (first moments within 4.5 standard errors)."""
    m = Dislocations2D(delta=0.1, amplitude=0.45)
    x, b = dc.sample_fixed_signs(m, 20001, n_plus=12000, rng=0)
    assert x.shape == (20001, 2) and (b[:12000] == 1).all() and (b[12000:] == -1).all()
    assert x.min() >= 0 and x.max() < 1
    # f^+ ∝ 1 + a(cos 2πx sin 2πy + ½ sin 4πx)/1.5: E sin(4πX) = a/(2·1.5)·½ ; f^-: E sin 2π(X+Y) = -a/1.5·½
    a = 0.45
    est_p = np.sin(4 * np.pi * x[:12000, 0]).mean()
    est_m = np.sin(2 * np.pi * x[12000:].sum(1)).mean()
    assert abs(est_p - a / 6) < 4.5 * np.sqrt(0.5 / 12000)
    assert abs(est_m + a / 3) < 4.5 * np.sqrt(0.5 / 8001)
    with pytest.raises(ValueError, match="n_plus must lie in"):
        dc.sample_fixed_signs(m, 4, n_plus=5)


# -- Lemma 5.2: RW_n^ε and the MF^ε walkers ----------------------------------------------------------
def _engine(m, eps, starts, t_out, rng, fields=None, edges=None):
    sites = round(1 / eps)
    idx = np.stack([np.rint(x / eps).astype(np.int64) for x, _ in starts])
    b = np.stack([s for _, s in starts]).astype(float)
    if fields is None:
        fields = np.zeros((1, 2, sites, sites))
        edges = [0.0, t_out[-1]]
    return coupled_kmc.run_coupled(idx[..., 0], idx[..., 1], b, m.lattice_force_tables(eps), m.beta, fields, edges,
                                   t_out, np.random.default_rng(rng))


def test_coupled_walkers_coincide_when_their_rates_do():
    """One walker (no force) and a zero mean field: both processes have the rates 1/(βε²) in every
    direction, so the time changes coincide and the paths are equal, clocks included."""
    m = Dislocations2D(delta=0.1, beta=1.0)
    starts = [(np.array([[3 / 16, 5 / 16]]), np.array([1]))] * 20
    out = _engine(m, 1 / 16, starts, [0.01, 0.03], 1)
    for key in ("a", "c", "count"):
        np.testing.assert_array_equal(out[key], out[key.replace("count", "count_bar") if key == "count" else
                                                   key + "_bar"])
    np.testing.assert_array_equal(out["tau"], out["tau_bar"])
    np.testing.assert_allclose(out["tau"][:, -1], 0.03 * 256, rtol=1e-12)  # τ^h(t) = t/(βε²)
    assert out["stats"][:, 0].sum() > 0


def test_walker_component_is_the_exact_random_walk_for_one_walker():
    """n = 1, the mean-field walker driven by a strong random field: the coupled X is still the free
    walk, each coordinate's displacement Skellam(μ, μ), μ = t/(βε²) (chi-square; a 1.2× rate is
    rejected by the same test), while X̄ moves differently."""
    m = Dislocations2D(delta=0.1, beta=1.0)
    eps, t, reps = 1 / 16, 0.02, 4000
    mu = t / (m.beta * eps**2)
    starts = [(np.array([[3 / 16, 5 / 16]]), np.array([1]))] * reps
    fields = np.random.default_rng(0).normal(scale=20.0, size=(3, 2, 16, 16))
    out = _engine(m, eps, starts, [t], 2, fields=fields, edges=[0.0, 0.007, 0.012, t])
    disp = np.stack([out["a"][:, -1, 0] - 3, out["c"][:, -1, 0] - 5], 1)
    probs = np.concatenate([[stats.skellam.cdf(-8, mu, mu)], stats.skellam.pmf(np.arange(-7, 8), mu, mu),
                            [stats.skellam.sf(7, mu, mu)]])
    nu = 1.2 * mu
    wrong = np.concatenate([[stats.skellam.cdf(-8, nu, nu)], stats.skellam.pmf(np.arange(-7, 8), nu, nu),
                            [stats.skellam.sf(7, nu, nu)]])
    for axis in range(2):
        counts = np.bincount(np.clip(disp[:, axis], -8, 8) + 8, minlength=17)
        assert stats.chisquare(counts, reps * probs).pvalue > 1e-3
        assert stats.chisquare(counts, reps * wrong).pvalue < 1e-3
    assert np.mean((out["a"] != out["a_bar"]) | (out["c"] != out["c_bar"])) > 0.2


def test_walker_component_pair_separation_follows_its_master_equation():
    """A ± pair in the coupled engine (MF^ε walkers alongside): the law of z = ℓ_1 - ℓ_2 agrees with the
    reduced lattice master equation (mean log-likelihood ratio against the free law within 4 standard
    errors of its value under the interacting law, more than 6 from its value under the free law)."""
    m = Dislocations2D(delta=0.25, beta=16.0, c_prime=2.0)
    eps, t, reps = 1 / 32, 0.2, 8000
    _, x, y = m.lattice(eps)
    mass = (m.pair_initial_density(x, y) * eps**2).ravel()
    g = np.random.default_rng(1)
    z0 = np.stack(np.unravel_index(g.choice(mass.size, size=reps, p=mass / mass.sum()), (32, 32)), 1)
    l2 = g.integers(0, 32, (reps, 2))
    starts = [(np.stack([(l2[r] + z0[r]) % 32, l2[r]]) * eps, np.array([1, -1])) for r in range(reps)]
    fields = np.random.default_rng(5).normal(scale=1.0, size=(1, 2, 32, 32))
    out = _engine(m, eps, starts, [t], 2, fields=fields, edges=[0.0, t])
    z = np.stack([(out["a"][:, -1, 0] - out["a"][:, -1, 1]) % 32, (out["c"][:, -1, 0] - out["c"][:, -1, 1]) % 32], 1)
    p_int = m.pair_law_lattice(eps, -1, t)[-1] * eps**2
    p_free = m.pair_law_lattice(eps, 0, t)[-1] * eps**2
    phi = np.log(p_int / p_free)
    vals = phi[z[:, 0], z[:, 1]]
    se = vals.std() / np.sqrt(reps)
    assert abs(vals.mean() - np.sum(p_int * phi)) < 4 * se
    assert np.sum(p_int * phi) - np.sum(p_free * phi) > 6 * se


def test_time_change_identities_of_lemma_5_1():
    """Lemma 5.1(3): E|N^h(τ^h) - N^h(τ̄^h)| = E|τ^h - τ̄^h| (channel mean within 4 standard errors);
    the counts are Poisson in the clocks, E N^h(τ^h) = E τ^h for both processes. Independent Poisson
    processes would give E|N - N'| of order sqrt(τ), far outside the band."""
    m = Dislocations2D(delta=0.1, beta=1.0)
    eps, t, n = 1 / 16, 0.05, 64
    starts = [m.sample_lattice_particles(n, eps, rng=r, n_plus=n // 2) for r in range(24)]
    runs = dc.couple_walkers_mean_field(m, starts, eps, t, rng=3)
    dn = np.concatenate([np.abs(r.info["count"][-1] - r.info["count_bar"][-1]) for r in runs]).astype(float)
    dtau = np.concatenate([np.abs(r.info["tau"][-1] - r.info["tau_bar"][-1]) for r in runs])
    assert abs(dn.mean() - dtau.mean()) < 4 * dn.std() / np.sqrt(dn.size)
    assert dn.sum() > 30  # the processes do separate
    for key in ("", "_bar"):
        cnt = np.concatenate([r.info["count" + key][-1] for r in runs]).astype(float)
        tau = np.concatenate([r.info["tau" + key][-1] for r in runs])
        assert abs(cnt.mean() - tau.mean()) < 4 * np.sqrt(tau.mean() / cnt.size)
    assert np.sqrt(tau.mean()) > 10 * dn.mean()


def test_mean_field_walkers_follow_the_lattice_mean_field():
    """Lemma 5.1(2): the X̄ walkers are independent with law ρ_ε^±(t)/|ρ_ε^±|: low Fourier moments of the
    pooled X̄ (per sign) agree with MF^ε's within 4.5 standard errors, and differ from those at t = 0."""
    m = Dislocations2D(delta=0.1, beta=1.0, amplitude=0.45)
    eps, t, n, reps = 1 / 16, 0.03, 500, 12
    starts = [m.sample_lattice_particles(n, eps, rng=r, n_plus=n // 2) for r in range(reps)]
    runs = dc.couple_walkers_mean_field(m, starts, eps, t, rng=9)
    sol = m.solve_lattice(eps, t, times=[0.0, t]).density.values
    _, x, y = m.lattice(eps)
    sites = np.stack([x.ravel(), y.ravel()], 1)
    modes = np.array([(1, 0), (0, 1), (1, 1), (1, -1), (2, 0), (0, 2), (2, 1)], float)
    for s, sign in enumerate((1, -1)):
        pos = np.concatenate([r.x_bar[-1][r.signs == sign] for r in runs])
        est = np.exp(-2j * np.pi * pos @ modes.T).mean(0)
        se = np.sqrt(0.5 / pos.shape[0])
        refs = [(sol[j, s].ravel()[:, None] * np.exp(-2j * np.pi * sites @ modes.T)).sum(0) / sol[j, s].sum()
                for j in range(2)]
        assert np.all(np.abs(est.real - refs[1].real) < 4.5 * se)
        assert np.all(np.abs(est.imag - refs[1].imag) < 4.5 * se)
        assert np.abs(est - refs[0]).max() > 5 * se


def test_walker_coupling_distance_decays_like_n_to_minus_half_below_derived_bound():
    """(1/n) E Σ|X_i - X̄_i|(t) on the lattice: slope in n within -1/2 ± 0.25 (Lemma 5.2's rate; a
    distance is a multiple of ε per walker, so batch means of 8 replicas are fitted), and every mean
    below the bound of Lemma 5.2 with the constants of its proof."""
    m = Dislocations2D(delta=0.1, beta=1.0)
    eps, t = 1 / 16, 0.05
    c_v = dc.kernel_constant(m)[0]
    rows = []
    for n in (16, 64, 256):
        starts = [m.sample_lattice_particles(n, eps, rng=100 * n + r, n_plus=n // 2) for r in range(32)]
        d = np.array([r.mean_distance() for r in dc.couple_walkers_mean_field(m, starts, eps, t, rng=n)])
        assert d.mean() < dc.lemma52_bound(c_v, m.delta, m.beta, eps, t, n)
        rows += [(n, v) for v in d.reshape(4, 8).mean(1)]
    fit = fit_rate(*zip(*rows, strict=True))
    assert -0.75 < fit.slope < -0.25, fit


def test_couplings_same_seed_same_result():
    m = Dislocations2D(delta=0.1, beta=1.0)
    starts = [m.sample_lattice_particles(20, 1 / 16, rng=r, n_plus=10) for r in range(3)]
    one = dc.couple_walkers_mean_field(m, starts, 1 / 16, 0.02, times=[0.01, 0.02], rng=4)
    two = dc.couple_walkers_mean_field(m, starts, 1 / 16, 0.02, times=[0.01, 0.02], rng=4)
    for a, b in zip(one, two, strict=True):
        for k in range(2):
            np.testing.assert_array_equal(a.x[k], b.x[k])
            np.testing.assert_array_equal(a.x_bar[k], b.x_bar[k])
    three = dc.couple_walkers_mean_field(m, starts, 1 / 16, 0.02, times=[0.01, 0.02], rng=5)
    assert any(not np.array_equal(a.x[-1], c.x[-1]) for a, c in zip(one, three, strict=True))


def test_couplings_bad_input():
    m = Dislocations2D(delta=0.1, beta=1.0)
    x, b = m.sample_lattice_particles(4, 1 / 16, rng=0, n_plus=2)
    with pytest.raises(ValueError, match=r"eps .* is required"):
        dc.couple_walkers_mean_field(m, [(x, b)], None, 0.1)
    with pytest.raises(ValueError, match="1/eps must be an integer"):
        dc.couple_walkers_mean_field(m, [(x, b)], 0.03, 0.1)
    with pytest.raises(ValueError, match="lattice points"):
        dc.couple_walkers_mean_field(m, [(x + 0.01, b)], 1 / 16, 0.1)
    with pytest.raises(ValueError, match="same number of walkers"):
        dc.couple_walkers_mean_field(m, [(x, b), (x[:2], b[:2])], 1 / 16, 0.1)
    with pytest.raises(ValueError, match="states must hold at least one replica"):
        dc.couple_walkers_mean_field(m, [], 1 / 16, 0.1)
    with pytest.raises(ValueError, match="cell_dt must be a positive"):
        dc.couple_walkers_mean_field(m, [(x, b)], 1 / 16, 0.1, cell_dt=0.0)
    with pytest.raises(ValueError, match="state must be"):
        dc.couple_sde_mean_field(m, (x, b[:3]), 0.1)
    with pytest.raises(ValueError, match="dt must be a positive"):
        dc.couple_sde_mean_field(m, (x, b), 0.1, dt=-1.0)
    with pytest.raises(ValueError, match="resolution"):
        dc.couple_sde_mean_field(m, (x, b), 0.1, resolution=4)
    tables = m.lattice_force_tables(1 / 16)
    a = np.zeros((1, 2), np.int64)
    ones = np.ones((1, 2))
    f = np.zeros((1, 2, 16, 16))
    with pytest.raises(ValueError, match="fields must have shape"):
        coupled_kmc.run_coupled(a, a, ones, tables, 1.0, f[:, :, :8], [0, 1], [0.5], np.random.default_rng(0))
    with pytest.raises(ValueError, match="cell_edges must be 2 strictly increasing"):
        coupled_kmc.run_coupled(a, a, ones, tables, 1.0, f, [0.1, 1], [0.5], np.random.default_rng(0))
    with pytest.raises(ValueError, match="t_out must be strictly increasing"):
        coupled_kmc.run_coupled(a, a, ones, tables, 1.0, f, [0, 1], [1.5], np.random.default_rng(0))
    with pytest.raises(ValueError, match="signs"):
        coupled_kmc.run_coupled(a, a, 2 * ones, tables, 1.0, f, [0, 1], [0.5], np.random.default_rng(0))
    with pytest.raises(ValueError, match="beta must be positive"):
        coupled_kmc.run_coupled(a, a, ones, tables, 0.0, f, [0, 1], [0.5], np.random.default_rng(0))
    with pytest.raises(RuntimeError, match="max_events"):
        coupled_kmc.run_coupled(a, a, ones, tables, 1.0, f, [0, 1], [0.5], np.random.default_rng(0), max_events=10)


def test_model_methods_delegate_to_the_couplings():
    m = Dislocations2D(delta=0.2, beta=1.0)
    state = dc.sample_fixed_signs(m, 8, rng=2)
    a = m.couple_sde_mean_field(state, 0.01, rng=3)
    b = dc.couple_sde_mean_field(m, state, 0.01, rng=3)
    np.testing.assert_array_equal(a.x[-1], b.x[-1])
    starts = [m.sample_lattice_particles(6, 1 / 8, rng=1, n_plus=3)]
    c = m.couple_walkers_mean_field(starts, 1 / 8, 0.01, rng=4)[0]
    d = dc.couple_walkers_mean_field(m, starts, 1 / 8, 0.01, rng=4)[0]
    np.testing.assert_array_equal(c.x_bar[-1], d.x_bar[-1])


def test_validation_lattice_measures_merge_coinciding_walkers():
    """The V9 distance merges walkers on one site into one atom: same measure (masses per site, each
    species' total n^±/n), same dual BL distance as the unmerged atoms."""
    from meanfield.metrics import bounded_lipschitz_bracket
    from meanfield.validation.dislocations import _lattice_measures

    g = np.random.default_rng(0)
    sites, n = 4, 40
    pos = g.integers(0, sites, (n, 2)) / sites
    b = np.where(np.arange(n) < 15, 1, -1)
    merged = _lattice_measures(pos, b, n, sites)
    assert merged["+"].weights.sum() == pytest.approx(15 / n) and merged["-"].weights.sum() == pytest.approx(25 / n)
    assert merged["+"].positions.shape[0] <= sites * sites
    torus = merged["+"].domain
    ref = EmpiricalMeasure(g.random((30, 2)), np.full(30, 15 / n / 30), torus)
    raw = EmpiricalMeasure(pos[b == 1], np.full(15, 1 / n), torus)
    one = bounded_lipschitz_bracket(merged["+"], ref, "sum", rtol=1e-6, max_solves=60)
    two = bounded_lipschitz_bracket(raw, ref, "sum", rtol=1e-6, max_solves=60)
    assert one.value == pytest.approx(two.value, rel=1e-5)


NAMES_003 = ["rate_mfeps_to_mf", "mfeps_mass", "mfeps_positive", "rate_sde_to_mf_bl", "rate_rw_to_mfeps_bl",
             "rate_rw_sde_one_particle", "rate_rw_sde_two_particles", "kmc_single_walker_law", "kmc_pair_law",
             "stability_constant_eps_uniform", "coupling_sde_mckean_vlasov_rate", "coupling_sde_below_lemma42_bound",
             "coupling_rw_mfeps_rate", "coupling_rw_below_lemma52_bound", "coupling_rw_time_change_identity",
             "coupling_rw_mfeps_uniform_in_eps", "bump_coupling_sde_below_lemma42_bound", "rw_to_mf_lattice_term",
             "rw_to_mf_direct_fit", "rw_to_mf_reference_floor", "rw_to_mf_direct_rate_in_n", "bump_rate_mfeps_to_mf"]


def test_validation_declarations_same_report_in_process_on_two_processes_and_resumed(tmp_path, monkeypatch):
    """The 003 validation as studies (tiny sizes; every branch of the full mode: the i.i.d. sampling floor,
    Lemma 4.2 with the bump kernel): every claim is computed from the tables with a value and a band, and
    the claims are identical in-process, on two local processes, and rerun from the store."""
    import meanfield.validation.dislocations as vd

    monkeypatch.setenv("MEANFIELD_VALIDATION_SIZE", "tiny")
    rows = {}
    for name, kwargs in (("local", {}), ("procs", {"workers": 2, "store": tmp_path / "store"}),
                         ("resumed", {"store": tmp_path / "store"})):
        report = vd.run(tmp_path / name, quick=True, **kwargs)
        rows[name] = [c.as_row() for c in report.claims]
        for f in report.figures + report.data:
            assert Path(f).stat().st_size > 0
    assert [r["claim"] for r in rows["local"]] == NAMES_003
    assert all(r["value"] is not None and r["band"] is not None for r in rows["local"])
    assert "i.i.d. sampling floor" in rows["local"][NAMES_003.index("rw_to_mf_direct_fit")]["measured"]
    assert rows["procs"] == rows["local"] and rows["resumed"] == rows["local"]


def test_mean_field_lattice_cells_are_computed_once_and_shared(monkeypatch):
    """Lemma 5.2's MF^ε field depends on the model, ε, t_end and cell_dt only: one computation, the same
    read-only arrays for every replica and study task, equal to a fresh computation."""
    monkeypatch.setattr(dc, "_LATTICE_CACHE", {})
    model = Dislocations2D(delta=0.25, beta=1.0, amplitude=0.4)
    fields, edges = dc.mean_field_lattice_cells(model, 1 / 8, 0.02)
    again = dc.mean_field_lattice_cells(model, 1 / 8, 0.02)
    assert again[0] is fields and again[1] is edges
    assert not fields.flags.writeable and not edges.flags.writeable
    assert dc.mean_field_lattice_cells(model, 1 / 8, 0.02, cell_dt=0.001)[0] is not fields  # another setting
    other = Dislocations2D(delta=0.25, beta=2.0, amplitude=0.4)
    assert dc.mean_field_lattice_cells(other, 1 / 8, 0.02)[0] is not fields  # another model
    monkeypatch.setattr(dc, "_LATTICE_CACHE", {})
    fresh, fresh_edges = dc.mean_field_lattice_cells(model, 1 / 8, 0.02)
    assert fresh is not fields and np.array_equal(fresh, fields) and np.array_equal(fresh_edges, edges)
    assert not dc._LATTICE_CACHE or dc.mean_field_lattice_cells(model, 1 / 8, 0.02, initial=None)[0] is fresh
    walkers = model.sample_lattice_particles(16, 1 / 8, rng=1, n_plus=8)
    runs = [model.couple_walkers_mean_field([walkers], 1 / 8, 0.02, rng=3)[0] for _ in range(2)]
    assert np.array_equal(runs[0].x_bar[-1], runs[1].x_bar[-1])  # a shared field, the same coupled run
