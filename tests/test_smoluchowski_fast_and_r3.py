"""Model 004, second part: the O(M log M) coagulation sums for separable kernels (FFT) against the
compiled loop and the exact homogeneous solutions, the kinetic-scaling helper and the bad-input
checks, and the particles in free space R^3 (neighbour search, exact mass, kinetics against the
coagulation-diffusion PDE with inhomogeneous data)."""

import numpy as np
import pytest
from scipy.special import gammaln

from meanfield.models.smoluchowski import (
    CoagulationDiffusion,
    SeparableKernel,
    coagulation_operator,
    kinetic_scaling,
    solve_homogeneous,
)
from meanfield.particles.coagulation import reaction_sweep


# --- FFT coagulation sums -----------------------------------------------------------------
@pytest.mark.parametrize("kind", ["constant", "additive", "multiplicative"])
def test_fft_sums_equal_the_compiled_loop_to_round_off(kind):
    rng = np.random.default_rng(1)
    for big_m in (1, 2, 3, 8, 61, 300):
        sep = getattr(SeparableKernel, kind)(big_m, 0.7)
        f = rng.random((big_m, 4)) * np.exp(-np.arange(big_m) / 20)[:, None]
        f[rng.random(f.shape) < 0.05] *= -1e-3  # Runge-Kutta stages may be slightly negative
        direct = coagulation_operator(f, sep.matrix(), "direct")
        fast = coagulation_operator(f, sep, "fft")
        scale = max(np.abs(direct).max(), 1e-300)
        assert np.abs(fast - direct).max() <= 1e-14 * scale
        weights = np.arange(1, big_m + 1)[:, None]
        assert np.abs((weights * fast).sum(axis=0)).max() <= 1e-13 * (weights * np.abs(direct)).sum()


def test_separable_form_found_only_for_low_rank_kernels():
    n = np.arange(1, 41, dtype=float)
    for k, rank in ((np.full((40, 40), 3.0), 1), (n[:, None] + n[None, :], 2), (np.outer(n, n), 1)):
        sep = SeparableKernel.from_matrix(k)
        assert sep.rank == rank
        np.testing.assert_allclose(sep.matrix(), k, rtol=1e-14)
    assert SeparableKernel.from_matrix(1.0 / (n[:, None] + n[None, :])) is None  # Hilbert-like: full rank
    # the paper's kernel with constant d and alpha is constant: rank 1, FFT sums apply
    assert SeparableKernel.from_matrix(CoagulationDiffusion(max_mass=30).kernel()).rank == 1
    with pytest.raises(ValueError, match="separable"):
        coagulation_operator(np.ones((40, 1)), 1.0 / (n[:, None] + n[None, :]), "fft")


BIG_M = 2048  # large enough that the truncation does not touch n <= 20


def _exact(kind, t):
    k = np.arange(1, 21)
    if kind == "constant":  # K = 2, standard form: tau = K N0 t / 2
        return t ** (k - 1) / (1 + t) ** (k + 1)
    if kind == "additive":  # K = n + m
        th = 1 - np.exp(-t)
        return np.exp(-t) * np.exp((k - 1) * np.log(k) - gammaln(k + 1) + (k - 1) * np.log(th) - k * th)
    return np.exp((k - 2) * np.log(k) - gammaln(k + 1) + (k - 1) * np.log(t) - k * t)  # K = n m, t < 1


@pytest.mark.parametrize("kind,c,times", [("constant", 2.0, [1.0, 5.0]), ("additive", 1.0, [0.5, 1.0]),
                                          ("multiplicative", 1.0, [0.5, 0.9])])
def test_fft_solver_exact_solutions_mass_and_positivity(kind, c, times):
    """Exact solutions for n <= 20 with M = 2048 by the FFT sums; the multiplicative
    kernel up to t = 0.9, before gelation at t = 1; Σ n f_n conserved to round-off; f >= 0 to round-off."""
    f0 = np.zeros(BIG_M)
    f0[0] = 1.0
    ts, f = solve_homogeneous(getattr(SeparableKernel, kind)(BIG_M, c), f0, times[-1], times, sums="fft")
    n = np.arange(1, BIG_M + 1)
    for t, row in zip(ts, f, strict=True):
        np.testing.assert_allclose(row[:20], _exact(kind, t), rtol=1e-8)
        assert abs((n * row).sum() - 1.0) < 1e-11
        assert row.min() >= -1e-15 * row.max()  # positive up to round-off (Runge-Kutta in the far tail)


def test_auto_method_takes_fft_for_large_separable_kernels_and_agrees_with_direct():
    f0 = np.zeros(300)
    f0[:3] = (0.5, 0.3, 0.2)
    k = SeparableKernel.additive(300).matrix()
    _, a = solve_homogeneous(k, f0, 0.8, sums="auto")
    _, d = solve_homogeneous(k, f0, 0.8, sums="direct")
    np.testing.assert_allclose(a, d, rtol=1e-8, atol=1e-14 * a.max())


# --- kinetic scaling and bad input ----------------------------------------------------------
def test_kinetic_scaling_helper():
    assert kinetic_scaling(n=1000, total_density=10.0) == pytest.approx(0.01)  # ε = Z/N in d = 3
    assert kinetic_scaling(n=1000, total_density=10.0, dim=4) == pytest.approx(0.1)  # (Z/N)^{1/2}
    assert kinetic_scaling(epsilon=0.1, total_density=10.0, dim=4) == pytest.approx(1000.0)
    for d in (3, 4, 5):
        eps = kinetic_scaling(n=777, total_density=2.5, dim=d)
        assert 777 * eps ** (d - 2) == pytest.approx(2.5, rel=1e-13)
    for kwargs, name in (({"n": 10, "dim": 2}, "dim"), ({"n": 1}, "n"), ({"n": 10.5}, "n"),
                         ({"epsilon": -0.1}, "epsilon"), ({"n": 10, "total_density": 0.0}, "total_density"),
                         ({}, "exactly one"), ({"n": 10, "epsilon": 0.1}, "exactly one")):
        with pytest.raises(ValueError, match=name):
            kinetic_scaling(**kwargs)


def test_bad_input_is_refused_before_any_work():
    bad = [({"alpha": -1.0}, "alpha"), ({"alpha": lambda n, m: n + 2 * m}, "symmetric"),
           ({"max_mass": 2.5}, "max_mass"),
           ({"domain": "sphere"}, "domain"), ({"domain": "free"}, "bump"), ({"box": -1.0}, "box"),
           ({"initial_profile": "bump", "bump_width": 0.5}, "bump_width"),
           ({"diffusivity": lambda m: 1.0 - 0.3 * m, "max_mass": 4}, "diffusivity"),
           ({"initial_mass_fractions": (1.0, -0.5)}, "initial_mass_fractions")]
    for kwargs, word in bad:
        with pytest.raises(ValueError, match=word):
            CoagulationDiffusion(**kwargs)
    model = CoagulationDiffusion(max_mass=4, total_density=10.0)
    pos, m = model.sample_particles(200, rng=0)
    for masses, word in ((m * 1.5, "integers"), (m + 4, "1..4"), (np.where(m == 1, np.nan, m), "integers")):
        with pytest.raises(ValueError, match=word):
            model.simulate_particles((pos, masses), 1e-4)
    # ε = Z/N must be small: on the torus ε <= L/3, and everywhere ε³·(peak number density) < 1
    with pytest.raises(ValueError, match=r"n=20 .*box/3"):
        model.check_kinetic_regime(20)
    free = CoagulationDiffusion(domain="free", initial_profile="bump", bump_width=0.1, total_density=10.0)
    with pytest.raises(ValueError, match=r"n=60 .*overlap"):
        free.simulate_particles(free.sample_particles(60, rng=0), 1e-4)
    assert free.check_kinetic_regime(200) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="too small to stand for R\\^3"):  # σ² = 0.01 + 2·0.1: faces at 1.1σ
        free.solve_continuum(0.1, resolution=8)
    with pytest.raises(ValueError, match="sums"):
        model.solve_homogeneous(1e-3, sums="gpu")
    with pytest.raises(ValueError, match="kernel must have shape"):
        solve_homogeneous(np.ones((3, 3)), np.ones(4), 1.0)


# --- particles in R^3 -------------------------------------------------------------------------
def _isolated_pairs(rng, pairs, eps, box):
    """``pairs`` pairs at distances < ε, pair centres on a coarse lattice (no other particle within
    several ε), random offsets so pairs straddle cell boundaries."""
    side = int(np.ceil(pairs ** (1 / 3)))
    centres = (np.stack(np.meshgrid(*[np.arange(side)] * 3, indexing="ij"), -1).reshape(-1, 3)[:pairs] + 0.5)
    centres = centres * box / side + rng.uniform(-0.1, 0.1, (pairs, 3)) * box / side
    u = rng.normal(size=(pairs, 3))
    u /= np.linalg.norm(u, axis=1)[:, None]
    r = eps * rng.uniform(0.05, 0.95, pairs)
    pos = np.concatenate([centres - 0.5 * r[:, None] * u, centres + 0.5 * r[:, None] * u])
    return pos, r


def test_free_space_neighbour_search_finds_every_pair_once_and_matches_the_torus_kernel():
    """With each particle in at most one candidate pair, both sweeps draw the same uniforms for the
    same pairs, so the outcomes must be identical; with a certain reaction, the number of events
    equals the number of pairs within ε (brute force) — at negative coordinates too (R^3)."""
    rng = np.random.default_rng(5)
    eps, box, pairs = 0.01, 1.0, 300
    pos, _ = _isolated_pairs(rng, pairs, eps, box)
    n = pos.shape[0]
    r = np.linspace(0, 1, 2049)
    vtab, vtab_r2 = np.full(r.size, 3 / (4 * np.pi)), r**2
    order = rng.permutation(n)
    for kappa, certain in ((np.full((4, 4), 1.0), False), (np.full((4, 4), 1e12), True)):
        masses = rng.integers(1, 3, n).astype(np.int64)
        res = []
        for free, shift in ((False, 0.0), (True, -0.37)):
            p, m, alive = pos.copy() + shift, masses.copy(), np.ones(n, np.bool_)
            if free:
                ev = reaction_sweep(p, m, alive, 0.0, 0, eps, kappa, vtab_r2, vtab, 3e-4, 123, order)
            else:
                ev = reaction_sweep(p, m, alive, box, 10, eps, kappa, vtab_r2, vtab, 3e-4, 123, order)
            res.append((ev, m.copy(), alive.copy(), p - shift))
        assert res[0][0] == res[1][0]
        np.testing.assert_array_equal(res[0][1], res[1][1])
        np.testing.assert_array_equal(res[0][2], res[1][2])
        np.testing.assert_allclose(res[0][3], res[1][3], atol=1e-12)
        if certain:
            assert res[1][0] == pairs
        else:
            assert 0 < res[1][0] < pairs
    np.testing.assert_array_equal(res[1][1][res[1][2]].sum(), masses.sum())  # mass kept by the events


def test_free_space_particles_conserve_mass_exactly_and_are_reproducible():
    model = CoagulationDiffusion(max_mass=8, alpha=20.0, domain="free", initial_profile="bump", box=2.0,
                                 bump_width=0.2, initial_mass_fractions=(0.6, 0.3, 0.1))
    state = model.sample_particles(300, rng=2)
    a = model.simulate_particles(state, 2e-3, times=[1e-3, 2e-3], rng=9)
    b = model.simulate_particles(state, 2e-3, times=[1e-3, 2e-3], rng=9)
    assert a.domain.periodic is False and a.info["events"] > 0
    for k in range(2):
        np.testing.assert_array_equal(a.positions[k], b.positions[k])
        assert sum(int(s) for s in a.species[k]) == int(state[1].sum())
    assert len(a.positions[-1]) == 300 - a.info["events"]


def test_free_space_kinetics_follow_the_inhomogeneous_pde_with_the_corrected_kernel():
    """Gaussian data in R^3 (σ = 0.2), d ≡ 1, α' = 10, Z = 10: M0 = Σ_n (Z/N)#{m_i = n} from 3 runs at
    N = 500 against the coagulation-diffusion PDE on a periodic box of side 2 (wrap-around < 1e-5)
    with the corrected kernel; the literal kernel of (1.7)-(1.8) (K twice the unordered one) must
    be farther away. Same check on more N and seeds in validation/smoluchowski.py."""
    t_end = 2.5e-3
    kw = dict(max_mass=16, diffusivity=1.0, alpha=20.0, initial_profile="bump", domain="free", box=2.0,
              bump_width=0.2)
    model = CoagulationDiffusion(**kw)
    assert model.wrap_around_estimate(t_end) < 1e-5
    sol = model.solve_continuum(t_end, resolution=16, times=[t_end])
    m0_pde = float(sol.density.values[-1].sum() * (2.0 / 16) ** 3)
    k_unordered = CoagulationDiffusion(**{**kw, "pair_sum": "unordered"}).kernel()
    literal = CoagulationDiffusion(**kw, kernel=2 * k_unordered)  # β = (d+d) F(α'), K = 2β
    literal_density = literal.solve_continuum(t_end, resolution=16, times=[t_end]).density.values[-1]
    m0_literal = float(literal_density.sum() * (2.0 / 16) ** 3)
    m0 = np.mean([len(model.simulate_particles(model.sample_particles(500, rng=s), t_end, rng=50 + s).positions[-1])
                  * 10 / 500 for s in range(3)])
    assert abs(m0 - m0_pde) / m0_pde < 0.06
    assert abs(m0 - m0_pde) < 0.5 * abs(m0 - m0_literal)


def test_pde_reaction_step_with_fft_sums_equals_the_compiled_loop():
    """Constant d and α give a constant kernel (rank 1): the coagulation–diffusion solver with the
    FFT sums reproduces the compiled loop to round-off, in R^3 mode with inhomogeneous data."""
    model = CoagulationDiffusion(max_mass=12, diffusivity=1.0, alpha=20.0, domain="free", initial_profile="bump",
                                 box=2.0, bump_width=0.25)
    a = model.solve_continuum(1e-3, resolution=8, times=[1e-3], sums="fft")
    b = model.solve_continuum(1e-3, resolution=8, times=[1e-3], sums="direct")
    assert a.attrs["solver_coagulation_sums"] == "fft" and b.attrs["solver_coagulation_sums"] == "direct"
    np.testing.assert_allclose(a.density.values, b.density.values, rtol=0, atol=1e-13 * float(b.density.max()))
    np.testing.assert_allclose(a["total_mass"].values, 10.0, rtol=1e-13)
