"""Model 003: the lattice random walks (RW_n^ε, eq. (8)) by kinetic Monte Carlo, the two-walker laws,
the generators of MF^ε / MF (Lemma 3.2) and MF's free energy.

Monte Carlo checks use fixed seeds and bands of 4 standard errors (or a goodness-of-fit p-value
above 1e-3); each one also asserts that the band excludes a plausible wrong answer, so it could fail.
"""

import numpy as np
import pytest
from numba import njit
from scipy import stats

from meanfield.models.dislocations import Dislocations2D, potential_hat, preset_density
from meanfield.particles import lattice_kmc
from meanfield.rates import fit_rate


def test_force_table_fields_match_fourier_sum_force():
    """The KMC's lattice table gives the force (6) of the Fourier-sum SDE code at lattice points."""
    m = Dislocations2D(delta=0.15, beta=1.0)
    eps = 1 / 32
    x, b = m.sample_lattice_particles(25, eps, rng=2)
    idx = np.rint(x * 32).astype(int)
    s = lattice_kmc.fields(idx[:, 0], idx[:, 1], b, m.lattice_force_tables(eps))
    np.testing.assert_allclose(-(b[:, None] / 25) * s, m.particle_force(x, b.astype(float)), atol=1e-11)


@pytest.mark.parametrize("kmc", ["thinning", "direct"])
def test_single_walker_has_the_exact_continuous_time_random_walk_law(kmc):
    """n = 1: no force, rates 1/(βε²) per direction, so each coordinate's displacement (in units of ε)
    is Skellam(μ, μ), μ = t/(βε²), the jump count Poisson(4μ), E|ΔX|² = 4t/β exactly."""
    m = Dislocations2D(delta=0.1, beta=1.0)
    eps, t, reps = 1 / 16, 0.02, 4000
    mu = t / (m.beta * eps**2)
    start = (np.array([[3 / 16, 5 / 16]]), np.array([1]))
    trs = m.simulate_walkers([start] * reps, eps, t, rng=11, kmc=kmc)
    disp = np.array([np.rint((tr.info["unwrapped"][-1][0] - start[0][0]) / eps) for tr in trs])
    jumps = np.array([tr.info["jumps"] for tr in trs])
    np.testing.assert_array_equal(np.abs(disp).sum(axis=1) % 2, jumps % 2)  # each jump moves one step
    edges = np.arange(-7, 8)
    pmf = stats.skellam.pmf(edges, mu, mu)
    probs = np.concatenate([[stats.skellam.cdf(-8, mu, mu)], pmf, [stats.skellam.sf(7, mu, mu)]])
    for axis in range(2):
        d = np.clip(disp[:, axis], -8, 8)
        counts = np.array([np.sum(d == k) for k in range(-8, 9)])
        assert stats.chisquare(counts, reps * probs).pvalue > 1e-3
        # power: a walk at 1.2x the rate is rejected by the same test
        wrong = stats.skellam.pmf(np.arange(-8, 9), 1.2 * mu, 1.2 * mu)
        wrong[0], wrong[-1] = stats.skellam.cdf(-8, 1.2 * mu, 1.2 * mu), stats.skellam.sf(7, 1.2 * mu, 1.2 * mu)
        assert stats.chisquare(counts, reps * wrong).pvalue < 1e-3
    sq = np.sum((disp * eps) ** 2, axis=1)
    assert abs(sq.mean() - 4 * t / m.beta) < 4 * sq.std() / np.sqrt(reps)
    assert abs(jumps.mean() - 4 * mu) < 4 * np.sqrt(4 * mu / reps)


@pytest.mark.parametrize("kmc", ["thinning", "direct"])
def test_jump_count_matches_the_integrated_total_rate(kmc):
    """N(t) - ∫_0^t Λ(X_s) ds is a martingale with E[(N - ∫Λ)²] = E ∫Λ: the mean jump count equals the
    mean integrated total rate (8) within 4 standard errors, for interacting walkers. The integrated
    rate exceeds the no-force value 4n t/(βε²) (Λ ∝ Σ cosh), so the forces enter it."""
    m = Dislocations2D(delta=0.25, beta=8.0)
    eps, t, n, reps = 1 / 32, 0.05, 20, 300
    starts = [m.sample_lattice_particles(n, eps, rng=100 + r) for r in range(reps)]
    trs = m.simulate_walkers(starts, eps, t, rng=5, kmc=kmc, track_rate=True)
    jumps = np.array([tr.info["jumps"] for tr in trs], float)
    integ = np.array([tr.info["integrated_rate"] for tr in trs])
    assert abs(jumps.mean() - integ.mean()) < 4 * np.sqrt(integ.mean() / reps)
    assert np.all(integ > 4 * n * t / (m.beta * eps**2))
    if kmc == "thinning":
        cand = np.array([tr.info["candidates"] for tr in trs])
        assert np.all(cand >= jumps)
        assert np.all(cand > jumps)  # βεG_b = 0.03 here: some candidates are rejected


@pytest.mark.parametrize("scale", [1.0, 40.0])
def test_lazy_thinning_makes_the_decisions_of_the_exact_force(scale):
    """Thinning accepts a candidate with u < p_min without summing its force; with lazy=False every
    candidate sums the exact force. Same seed, so the runs must agree bit for bit: the shortcut never
    changes a decision. With the table scaled ×40 (βεG_b ≈ 1.2) both branches, and rejections, are
    frequent; unscaled nearly every candidate takes the shortcut."""
    m = Dislocations2D(delta=0.25, beta=16.0, c_prime=2.0)
    eps, n = 1 / 32, 40
    tables = tuple(scale * g for g in m.lattice_force_tables(eps))
    starts = [m.sample_lattice_particles(n, eps, rng=r) for r in range(3)]
    idx = np.stack([np.rint(x / eps).astype(np.int64) for x, _ in starts])
    b = np.stack([s for _, s in starts]).astype(float)
    t_out = [0.05, 0.1, 0.2]
    runs = [lattice_kmc.run_kmc(idx[..., 0], idx[..., 1], b, tables, m.beta, t_out, np.random.default_rng(4),
                                lazy=lazy) for lazy in (True, False)]
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    np.testing.assert_array_equal(runs[0][2][:, :3], runs[1][2][:, :3])  # jumps, candidates
    lazy_sums, full_sums, cand, jumps = runs[0][2][:, 3], runs[1][2][:, 3], runs[0][2][:, 1], runs[0][2][:, 0]
    np.testing.assert_array_equal(full_sums, cand)
    assert np.all(lazy_sums < cand) and np.all(jumps < cand)
    # the force is summed iff u ≥ p_min = exp(-βεG_b): Binomial(candidates, 1 - p_min) sums
    gb = (n - 1) / n * max(np.abs(g).max() for g in tables)
    q = 1 - np.exp(-m.beta * eps * gb)
    sd = np.sqrt(cand.sum() * q * (1 - q))
    assert abs(lazy_sums.sum() - q * cand.sum()) < 4 * sd
    assert 10 * sd < abs(cand.sum() - q * cand.sum())  # a run summing every candidate would fail


def test_candidate_index_is_exactly_uniform():
    """The candidate index comes from the 53 bits of Generator.random() by rejection: the premise
    (inside the compiled code every draw is k/2^53 with k an integer) holds, and the indices of a
    non-power-of-two range fit the uniform law (chi-square), while a 1 % tilt would be detected."""
    g = np.random.default_rng(0)
    u = _draw_uniforms(g, 200_000)
    assert np.all(u * 2.0**53 == np.floor(u * 2.0**53)) and u.min() >= 0 and u.max() < 1
    m = 12
    limit = (2**53 // m) * m
    k = _draw_indices(np.random.default_rng(1), m, limit, 240_000)
    assert k.min() == 0 and k.max() == m - 1
    counts = np.bincount(k, minlength=m)
    assert stats.chisquare(counts).pvalue > 1e-3
    tilt = np.full(m, 1.0)
    tilt[0] = 1.12  # 1 % of the mass moved onto index 0
    assert stats.chisquare(counts, k.size * tilt / tilt.sum()).pvalue < 1e-3


@njit
def _draw_uniforms(g, size):
    out = np.empty(size)
    for i in range(size):
        out[i] = g.random()
    return out


@njit
def _draw_indices(g, m, limit, size):
    out = np.empty(size, np.int64)
    for i in range(size):
        out[i] = lattice_kmc._uniform_index(g, m, limit)
    return out


def test_same_seed_same_result_and_independent_of_workers():
    m = Dislocations2D(delta=0.1, beta=1.0)
    eps = 1 / 16
    starts = [m.sample_lattice_particles(30, eps, rng=r) for r in range(5)]
    for kmc in ("thinning", "direct"):
        a = m.simulate_walkers(starts, eps, 0.02, times=[0.01, 0.02], rng=7, kmc=kmc)
        b = m.simulate_walkers(starts, eps, 0.02, times=[0.01, 0.02], rng=7, kmc=kmc, workers=2)
        for ta, tb in zip(a, b, strict=True):
            for pa, pb in zip(ta.info["unwrapped"], tb.info["unwrapped"], strict=True):
                np.testing.assert_array_equal(pa, pb)
        c = m.simulate_walkers(starts, eps, 0.02, times=[0.01, 0.02], rng=8, kmc=kmc)
        assert any(not np.array_equal(ta.positions[-1], tc.positions[-1]) for ta, tc in zip(a, c, strict=True))
    one = m.simulate_random_walks(starts[0], eps, 0.02, rng=3)
    two = m.simulate_random_walks(starts[0], eps, 0.02, rng=3)
    np.testing.assert_array_equal(one.positions[-1], two.positions[-1])
    assert set(one.measure(0.02)) == {"+", "-"}


def _pair_states(m, eps, reps, rng):
    """``reps`` dipoles with ``z = ℓ_1 - ℓ_2`` drawn from ε² p°(ℓ) and ℓ_2 uniform."""
    n_sites = round(1 / eps)
    _, x, y = m.lattice(eps)
    mass = (m.pair_initial_density(x, y) * eps**2).ravel()
    g = np.random.default_rng(rng)
    z = np.stack(np.unravel_index(g.choice(mass.size, size=reps, p=mass / mass.sum()), (n_sites, n_sites)), 1)
    l2 = g.integers(0, n_sites, (reps, 2))
    l1 = (l2 + z) % n_sites
    return [(np.stack([l1[r], l2[r]]) * eps, np.array([1, -1])) for r in range(reps)]


def test_two_walker_separation_law_matches_its_master_equation():
    """A ± pair: the KMC's law of z = ℓ_1 - ℓ_2 agrees with the reduced lattice master equation
    (an independent computation): the mean of the log-likelihood ratio
    φ = log(p_int / p_free) under the KMC sample is within 4 standard errors of its value under
    p_int, and more than 6 standard errors from its value under the free law p_free."""
    m = Dislocations2D(delta=0.25, beta=16.0, c_prime=2.0)
    eps, t, reps = 1 / 32, 0.2, 8000
    trs = m.simulate_walkers(_pair_states(m, eps, reps, 1), eps, t, rng=2)
    z = np.array([np.rint((tr.positions[-1][0] - tr.positions[-1][1]) / eps).astype(int) % 32 for tr in trs])
    p_int = m.pair_law_lattice(eps, -1, t)[-1] * eps**2
    p_free = m.pair_law_lattice(eps, 0, t)[-1] * eps**2
    np.testing.assert_allclose([p_int.sum(), p_free.sum()], 1.0, rtol=1e-12)
    phi = np.log(p_int / p_free)
    vals = phi[z[:, 0], z[:, 1]]
    se = vals.std() / np.sqrt(reps)
    assert abs(vals.mean() - np.sum(p_int * phi)) < 4 * se
    assert np.sum(p_int * phi) - np.sum(p_free * phi) > 6 * se


def test_two_walker_lattice_law_converges_to_the_sde_law_at_order_eps_squared():
    """Theorem 1.2 for n = 2 through the relative coordinate: ‖p_ε(t) - p(t)‖_{L²(ν_ε)} = O(ε²)."""
    m = Dislocations2D(delta=0.25, beta=4.0)
    t = 0.05
    ref = m.pair_law_continuum(-1, t, resolution=128)[-1]
    epss = [1 / 16, 1 / 32, 1 / 64]
    errs = []
    for eps in epss:
        n = round(1 / eps)
        p = m.pair_law_lattice(eps, -1, t)[-1]
        errs.append(np.sqrt(eps**2 * np.sum((p - ref[:: 128 // n, :: 128 // n]) ** 2)))
    assert 1.9 < fit_rate(epss, errs).slope < 2.1
    # one walker: the exact mode-by-mode distance has the same order
    one = [m.single_law_distance(e, t) for e in epss]
    assert 1.9 < fit_rate(epss, one).slope < 2.1


def _moments(x, modes):
    return np.array([np.mean(np.exp(-2j * np.pi * (x @ np.array(k, float)))) for k in modes])


def test_many_walkers_follow_the_lattice_mean_field():
    """Theorem 1.6 at one n: the RW species moments ``(1/n^±) Σ_{i∈I^±} e^{-2πik·ℓ_i}`` at time t agree with
    those of MF^ε(t) (normalised per species) within 4.5 standard errors for every low mode, pooled over
    replicas with fixed signs (κ = 0), and are far (> 5 standard errors for some mode) from the moments at
    t = 0: the walkers have moved with MF^ε."""
    m = Dislocations2D(delta=0.1, beta=1.0, amplitude=0.45)
    eps, t, n, reps = 1 / 16, 0.03, 500, 16
    sol = m.solve_lattice(eps, t, times=[0.0, t]).density.values
    _, x, y = m.lattice(eps)
    sites = np.stack([x.ravel(), y.ravel()], 1)
    modes = [(1, 0), (0, 1), (1, 1), (1, -1), (2, 0), (0, 2), (2, 1)]
    ref = [[np.sum(sol[j, s].ravel() * np.exp(-2j * np.pi * (sites @ np.array(k, float)))) / sol[j, s].sum()
            for k in modes] for j in range(2) for s in range(2)]
    ref = np.array(ref).reshape(2, 2, len(modes))  # (time, species, mode)
    starts = [m.sample_lattice_particles(n, eps, rng=r, n_plus=n // 2) for r in range(reps)]
    trs = m.simulate_walkers(starts, eps, t, rng=9)
    for s, label in enumerate("+-"):
        pos = np.concatenate([tr.positions[-1][tr.species[-1] == label] for tr in trs])
        est = _moments(pos, modes)
        se = np.sqrt(0.5 / pos.shape[0])  # sd of cos or sin of a uniform-ish phase ≤ 1/sqrt(2)
        assert np.all(np.abs(est.real - ref[1, s].real) < 4.5 * se)
        assert np.all(np.abs(est.imag - ref[1, s].imag) < 4.5 * se)
        assert np.abs(est - ref[0, s]).max() > 5 * se


def test_lattice_generator_is_consistent_with_the_continuum_one_at_order_eps_squared():
    """Lemma 3.2: max_ℓ |A_ε[ρ]ρ - A[ρ]ρ| = O(ε²) at lattice points, for smooth ρ (ratio ≈ 4 per halving)."""
    m = Dislocations2D(delta=0.2, beta=2.0, amplitude=0.45)
    big = 128
    s = np.arange(big) / big
    ref = m.continuum_generator(preset_density(*np.meshgrid(s, s, indexing="ij"), m.amplitude))
    epss, errs = [1 / 16, 1 / 32, 1 / 64], []
    for eps in epss:
        n, x, y = m.lattice(eps)
        coarse = ref[:, :: big // n, :: big // n]
        errs.append(np.abs(m.lattice_generator(preset_density(x, y, m.amplitude), eps) - coarse).max())
    assert 1.9 < fit_rate(epss, errs).slope < 2.1
    # the generators conserve each species' mass: lattice exactly, continuum spectrally
    n, x, y = m.lattice(1 / 32)
    assert np.abs(m.lattice_generator(preset_density(x, y, m.amplitude), 1 / 32).sum(axis=(1, 2))).max() < 1e-9
    assert np.abs(ref.mean(axis=(1, 2))).max() < 1e-9


def test_lattice_generator_matches_the_split_form_of_the_solver():
    """One tiny MF^ε step of the split ETDRK4 solver moves f by dt·A_ε[f]f (the direct generator)."""
    m = Dislocations2D(delta=0.1, beta=1.0, amplitude=0.45)
    eps, dt = 1 / 16, 1e-7
    _n, x, y = m.lattice(eps)
    f0 = preset_density(x, y, m.amplitude)
    f1 = m.solve_lattice(eps, dt, dt=dt).density.values[-1]
    np.testing.assert_allclose((f1 - f0) / dt, m.lattice_generator(f0, eps), rtol=0, atol=1e-4 * 2000)


def test_continuum_free_energy_decreases():
    """(MF) is a gradient flow of ½∫∫V_δ σσ + β^{-1}Σ_± ∫ f^± log f^±: non-increasing."""
    m = Dislocations2D(delta=0.2, beta=0.5, amplitude=0.45)
    res = 32
    sol = m.solve_continuum(0.25, times=[0.0, 0.0625, 0.125, 0.1875, 0.25], resolution=res, dt=1 / 32).density.values
    k1 = np.fft.fftfreq(res, 1 / res)[:, None]
    k2 = np.fft.fftfreq(res, 1 / res)[None, :]
    vhat = potential_hat(k1, k2, m.delta)
    energy = []
    for f in sol:
        sig_hat = np.fft.fft2(f[0] - f[1]) / res**2
        energy.append(0.5 * np.sum(vhat * np.abs(sig_hat) ** 2) + np.mean(f * np.log(f)) * 2 / m.beta)
    assert np.all(np.diff(energy) < 0), energy


def test_rw_bad_input():
    m = Dislocations2D(delta=0.1, beta=1.0)
    x, b = m.sample_lattice_particles(4, 1 / 16, rng=0)
    with pytest.raises(ValueError, match=r"1/eps must be an integer"):
        m.simulate_random_walks((x, b), 0.03, 0.1)
    with (pytest.raises(ValueError, match=r"eps .* is required"),
          pytest.warns(DeprecationWarning, match="simulate_random_walks")):
        m.simulate_particles((x, b), 0.1, method="rw")
    with pytest.raises(ValueError, match="delta"):
        Dislocations2D(delta=0.01).simulate_random_walks((x, b), 1 / 16, 0.1)
    with pytest.raises(ValueError, match=r"beta=4\.0 exceeds Assumption 2"):
        Dislocations2D(delta=0.1, beta=4.0).simulate_random_walks((x, b), 1 / 16, 0.1)
    with pytest.raises(ValueError, match=r"beta=4\.0 exceeds Assumption 2"):
        Dislocations2D(delta=0.1, beta=4.0).solve_lattice(1 / 16, 0.1)
    with pytest.raises(ValueError, match="delta must lie in"):
        Dislocations2D(delta=1.5)
    with pytest.raises(ValueError, match="lattice points"):
        m.simulate_random_walks((x + 0.01, b), 1 / 16, 0.1)
    with pytest.raises(ValueError, match="kmc must be one of"):
        m.simulate_random_walks((x, b), 1 / 16, 0.1, kmc="gillespie")
    with pytest.raises(ValueError, match="method must be"):
        m.simulate_particles((x, b), 0.1, method="kmc")
    with pytest.raises(ValueError, match="sign_product"):
        m.pair_law_lattice(1 / 16, 2, 0.1)


def test_unrolled_table_reads_the_force_of_every_lattice_difference():
    """pair_table: the pair (i, j) at packed positions p = 2N a + c reads G_m[(a_i - a_j) mod N,
    (c_i - c_j) mod N] exactly, for every difference; G(0) is zeroed."""
    g = np.random.default_rng(0)
    nsite = 7
    tables = g.normal(size=(2, nsite, nsite))
    tab = lattice_kmc.pair_table(tables)
    assert tab.shape == (2 * (2 * nsite) ** 2,)
    a, c = np.meshgrid(np.arange(nsite), np.arange(nsite), indexing="ij")
    p = (2 * nsite * a + c).ravel()
    off = 2 * nsite * nsite + nsite
    k = 2 * (p[:, None] - p[None, :] + off)
    da = (a.ravel()[:, None] - a.ravel()[None, :]) % nsite
    dc = (c.ravel()[:, None] - c.ravel()[None, :]) % nsite
    for m in range(2):
        expect = np.where((da == 0) & (dc == 0), 0.0, tables[m][da, dc])
        np.testing.assert_array_equal(tab[k + m], expect)


def test_kmc_engine_bad_input(monkeypatch):
    m = Dislocations2D(delta=0.1, beta=1.0)
    tables = m.lattice_force_tables(1 / 16)
    a = np.zeros((1, 3), np.int64)
    b = np.ones((1, 3))
    with pytest.raises(ValueError, match="kmc method must be one of"):
        lattice_kmc.run_kmc(a, a, b, tables, 1.0, [0.1], np.random.default_rng(0), method="gillespie")
    with pytest.raises(ValueError, match="beta must be positive"):
        lattice_kmc.run_kmc(a, a, b, tables, -1.0, [0.1], np.random.default_rng(0))
    with pytest.raises(ValueError, match="share one shape"):
        lattice_kmc.run_kmc(a, a[:, :2], b, tables, 1.0, [0.1], np.random.default_rng(0))
    with pytest.raises(ValueError, match="t_out"):
        lattice_kmc.run_kmc(a, a, b, tables, 1.0, [0.2, 0.1], np.random.default_rng(0))
    with pytest.raises(ValueError, match="tables must be two"):
        lattice_kmc.run_kmc(a, a, b, (tables[0], tables[1][:4]), 1.0, [0.1], np.random.default_rng(0))
    monkeypatch.setattr(lattice_kmc, "MAX_TABLE_BYTES", 4000)
    with pytest.raises(ValueError, match="N = 16 sites per axis need a look-up table of 16384 bytes"):
        lattice_kmc.run_kmc(a, a, b, tables, 1.0, [0.1], np.random.default_rng(0))
