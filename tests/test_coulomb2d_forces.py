"""Model 000: fast force methods against the compiled direct sum of eq. (1.1), and the exact
collision law of an isolated +- pair (paper (2.6); theory page 000).

* FMM (pyfmmlib, 2-D Laplace): relative error below its requested tolerance, and a full SDE run
  with force="fmm" follows the direct-sum run with the same seed path by path.
* Particle-mesh: for particles separated by many cells its error against the direct sum is second
  order in the cell size (measured slope); it drops the near field, so for random clouds it is a
  grid-scale regularisation (numbers in benchmarks/coulomb2d_forces.py).
* P3M (issue 18): on random clouds at least as accurate as the FMM (stated bound below), error below
  its tolerance at any mesh spacing, exact two-particle force, translation invariance, momentum to
  round-off, the SDE path of the direct sum, K_eps and custom kernels refused, bad input refused.
"""

import numpy as np
import pytest

from meanfield.models.coulomb2d import (
    FMM_TOLERANCE,
    SignedCoulomb2D,
    coulomb_drift,
    fmm_drift,
    nearest_distances,
    particle_drift,
    particle_mesh_drift,
)
from meanfield.particles.coulomb_p3m import P3M_TOLERANCE, p3m_drift, p3m_spacing
from meanfield.rates import fit_rate


def _rel(f, ref):
    return np.sqrt(((f - ref) ** 2).sum(1).mean() / (ref**2).sum(1).mean())


def _cloud(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 2)), np.where(rng.random(n) < 0.6, 1.0, -1.0)


@pytest.mark.parametrize("precision", [1, 2, 3])
def test_fmm_matches_direct_sum_within_its_tolerance(precision):
    pytest.importorskip("pyfmmlib")
    x, b = _cloud(3000)
    fd, _ = coulomb_drift(x, b, 0.7)
    ff = fmm_drift(x, b, 0.7, precision=precision)
    err = _rel(ff, fd)
    assert err < FMM_TOLERANCE[precision], err
    assert err > 1e-16  # an independent method, not the direct sum again


def test_nearest_distances_match_direct_kernel():
    x, b = _cloud(500, 3)
    _, dmin = coulomb_drift(x, b, 1.0)
    assert np.allclose(nearest_distances(x), dmin, rtol=1e-12, atol=0)


def test_pm_error_is_second_order_for_separated_particles():
    """CIC deposit + bilinear interpolation: O(h^2) when every pair is many cells apart."""
    rng = np.random.default_rng(0)
    g = np.arange(-3, 4) * 0.5
    x = np.array([(a, c) for a in g for c in g]) + 0.1 * rng.uniform(-1, 1, (49, 2))  # min distance > 0.3
    b = np.where(rng.random(49) < 0.5, 1.0, -1.0)
    fd, _ = coulomb_drift(x, b, 1.0)
    hs, errs = [], []
    for n_grid in (32, 64, 128):
        fp = particle_mesh_drift(x, b, 1.0, n_grid=n_grid)
        hs.append(1.0 / n_grid)  # cell size is proportional to 1 / n_grid (same padded box)
        errs.append(_rel(fp, fd))
    fit = fit_rate(hs, errs)
    assert 1.7 < fit.slope < 2.4, fit
    assert errs[-1] < 1e-3


def test_pm_with_regularised_kernel_converges_to_direct_regularised_sum():
    """With K_eps (4.5) and eps resolved by the grid (a random cloud, close pairs included), PM
    approaches the direct K_eps sum at second order in the cell size."""
    x, b = _cloud(400, 5)
    fd, _ = coulomb_drift(x, b, 1.0, epsilon=0.3)
    ngs = (32, 64, 128)
    errs = [_rel(particle_mesh_drift(x, b, 1.0, n_grid=ng, epsilon=0.3), fd) for ng in ngs]
    fit = fit_rate([1.0 / ng for ng in ngs], errs)
    assert 1.7 < fit.slope < 2.4, (fit, errs)
    assert errs[-1] < 5e-3, errs


def test_sde_with_fmm_forces_follows_direct_run():
    pytest.importorskip("pyfmmlib")
    m = SignedCoulomb2D(sigma=1.0, gamma_bar=0.4, width=0.5)
    x0 = m.sample_particles(300, rng=1)
    a = m.simulate_particles(x0, 0.02, rng=4, force="direct")
    f = m.simulate_particles(x0, 0.02, rng=4, force="fmm")
    assert f.info["force"] == "fmm" and a.info["force"] == "direct"
    assert a.info["steps"] == f.info["steps"]
    assert np.abs(a.positions[-1] - f.positions[-1]).max() < 1e-8


def test_auto_force_is_direct_for_small_n():
    m = SignedCoulomb2D(sigma=1.0, gamma_bar=0.4)
    tr = m.simulate_particles(m.sample_particles(50, rng=0), 0.01, rng=0)
    assert tr.info["force"] == "direct"
    x, b = _cloud(64)
    f, _d = particle_drift(x, b, 0.1, force="auto")
    assert np.array_equal(f, coulomb_drift(x, b, 0.1)[0])


@pytest.mark.parametrize("kw, name", [(dict(force="tree"), "force"), (dict(force="pm", pm_grid=4), "pm_grid"),
                                      (dict(force="fmm", fmm_precision=9), "fmm_precision"),
                                      (dict(collision_radius=0.0), "collision_radius"),
                                      (dict(dt=-1.0), "dt"), (dict(theta=0.0), "theta")])
def test_bad_simulation_options_raise(kw, name):
    m = SignedCoulomb2D(sigma=1.0, gamma_bar=0.4)
    with pytest.raises(ValueError, match=name):
        m.simulate_particles(m.sample_particles(10, rng=0), 0.01, **kw)


def test_fmm_refuses_regularised_kernel():
    m = SignedCoulomb2D(sigma=1.0, gamma_bar=0.4, epsilon=0.1)
    with pytest.raises(ValueError, match="epsilon"):
        m.simulate_particles(m.sample_particles(10, rng=0), 0.01, force="fmm")


def test_opposite_pair_collision_probability_matches_closed_form():
    """Isolated +- pair (eq. (2.4)-(2.6)): R = |D|^2 / (2 sigma^2) is BESQ of dimension
    2 (1 - a), a = gamma / sigma^2, started at |D_0|^2 / (2 sigma^2), so (theory page 000, Getoor's
    time reversal) P(T_coll <= t) = Q(a, |D_0|^2 / (4 sigma^2 t)) (regularised upper incomplete
    gamma). Monte Carlo with the SDE solver, steps resolving the approach (drift and noise step
    control) and a collision declared at pair distance 0.02 |D_0|: the estimate must lie within
    3.5 standard errors of the closed form (here 0.1195)."""
    from scipy.special import gammaincc

    sigma, gamma, t, d0 = 1.0, 0.4, 0.25, 1.0
    m = SignedCoulomb2D(sigma=sigma, gamma=gamma, gamma_bar=0.1)
    x0 = (np.array([[0.0, 0.0], [d0, 0.0]]), np.array([1.0, -1.0]))
    exact = gammaincc(gamma / sigma**2, d0**2 / (4 * sigma**2 * t))
    runs = 600
    hits = np.array([m.simulate_particles(x0, t, rng=s, dt=5e-3, dt_min_fraction=1e-4, resolve_noise=True,
                                          collision_radius=0.02 * d0, force="direct").info["first_collision_time"] <= t
                     for s in range(runs)])
    p = hits.mean()
    se = np.sqrt(exact * (1 - exact) / runs)
    assert abs(p - exact) < 3.5 * se, (p, exact, se)


def test_drift_integrators_orders_in_the_noise_free_limit():
    """Euler-Maruyama is first order and stochastic Heun second order in dt for the drift of
    eq. (1.1) with the smooth kernel K_eps (4.5), sigma -> 0 (noise 1e-7), against a fine Heun run;
    the close-pair step control is inactive here (theta = 1, no capped steps)."""
    with pytest.warns(RuntimeWarning, match="sigma\\^2/2"):  # gamma >> sigma^2/2: expected warning
        m = SignedCoulomb2D(sigma=1e-7, gamma=0.1, gamma_bar=1e-15, epsilon=0.3)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 2))
    b = np.array([1, 1, 1, 1, -1, -1, -1, -1.0])
    T = 0.5
    ref = m.simulate_particles((x, b), T, rng=0, dt=T / 512, scheme="stochastic_heun", theta=1.0).positions[-1]
    dts = [T / k for k in (8, 16, 32, 64)]
    for method, band in (("euler_maruyama", (0.9, 1.15)), ("stochastic_heun", (1.85, 2.2))):
        runs = [m.simulate_particles((x, b), T, rng=0, dt=d, scheme=method, theta=1.0) for d in dts]
        assert all(r.info["capped_steps"] == 0 for r in runs)
        errs = [np.abs(r.positions[-1] - ref).max() for r in runs]
        fit = fit_rate(dts, errs)
        assert band[0] < fit.slope < band[1], (method, fit, errs)


# --- P3M (issue 18): Gaussian-split mesh far field plus near-field sum, exact kernel ---------------
# The FMM's own accuracy at its default precision 2, measured against the direct sum on Gaussian clouds
# of 10^4-10^6 charges: relative rms error 1.7e-9 - 2.9e-9 (benchmarks/coulomb2d_forces.py --part p3m).
# P3M at its default tolerance must be at least as accurate: bound 2e-9 (measured 7e-10 - 9e-10).
P3M_BOUND = 2e-9


def _uniform(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.0, 3.0, (n, 2)), np.where(rng.random(n) < 0.5, 1.0, -1.0)


@pytest.mark.parametrize("cloud", [_cloud, _uniform])
def test_p3m_matches_direct_sum_to_the_fmm_level(cloud):
    x, b = cloud(3000, 2)
    fd, dd = coulomb_drift(x, b, 0.7)
    fp, dp = p3m_drift(x, b, 0.7)
    err = _rel(fp, fd)
    assert 1e-16 < err < P3M_BOUND, err  # an independent method, at least as accurate as the FMM
    np.testing.assert_allclose(dp, dd, rtol=1e-15, atol=0)  # nearest distances: the same squared distances


@pytest.mark.parametrize("tol", [1e-4, 1e-6, 1e-10])
def test_p3m_error_follows_its_tolerance_whatever_the_spacing(tol):
    """The tolerance sets the Gaussian split and truncations (p3m_parameters); the mesh spacing only
    trades pairs against cells, so the error stays below tol at half and twice the chosen spacing
    (measured: about 0.1 tol)."""
    x, b = _cloud(2000, 4)
    fd, _ = coulomb_drift(x, b, 1.0)
    h = p3m_spacing(x, tol)
    for hh in (h, h / 2, 2 * h):
        err = _rel(p3m_drift(x, b, 1.0, tol=tol, h=hh)[0], fd)
        assert tol / 1e3 < err < tol, (tol, hh, err)


@pytest.mark.parametrize("d", [1e-4, 0.03, 0.3, 3.0])
def test_p3m_two_particle_force_is_exact(d):
    """f_1 = gamma b_1 b_2 (x_1 - x_2) / |x_1 - x_2|^2 (eq. (1.1)), f_2 = -f_1: a pair deep in the near
    field, across the split and in the far field only (the spacing is fixed, r_c ~ 0.15 here), to the
    default tolerance 1e-8 relative (measured 2.4e-9 at d = 0.03, where the mesh carries a part)."""
    x = np.array([[0.2, -0.1], [0.2 + 0.6 * d, -0.1 + 0.8 * d]])
    b = np.array([1.0, -1.0])
    f, dmin = p3m_drift(x, b, 0.5, h=0.01)
    exact = 0.5 * (-1.0) * (x[0] - x[1]) / d**2
    np.testing.assert_allclose(f[0], exact, rtol=P3M_TOLERANCE, atol=0)
    np.testing.assert_allclose(f[1], -exact, rtol=P3M_TOLERANCE, atol=0)
    np.testing.assert_allclose(dmin, [d, d], rtol=1e-12)


def test_p3m_single_particle_and_coincident_points():
    """One charge feels nothing (the mesh self-term cancels: spread and gather with one Gaussian, M odd);
    coincident charges follow K(0) := 0 as the direct sum does."""
    f, dmin = p3m_drift([[0.3, 0.4]], [1.0], 1.0)
    assert np.abs(f).max() < 1e-12 and np.isinf(dmin[0])
    x, b = _cloud(500, 6)
    x[7] = x[3]
    fd, dd = coulomb_drift(x, b, 1.0)
    fp, dp = p3m_drift(x, b, 1.0)
    assert _rel(fp, fd) < P3M_BOUND
    assert dp[3] == dp[7] == 0.0 and np.array_equal(dp, dd)


def test_p3m_is_translation_invariant():
    """The mesh is laid on the cloud's bounding box, so a shifted cloud gives the same forces up to the
    round-off of the shifted coordinates."""
    x, b = _cloud(1500, 7)
    f0, d0 = p3m_drift(x, b, 1.0)
    f1, d1 = p3m_drift(x + np.array([12.5, -3.25]), b, 1.0)
    assert _rel(f1, f0) < 1e-11
    np.testing.assert_allclose(d1, d0, rtol=1e-12)


def test_p3m_conserves_momentum_to_round_off():
    """Equal charges: sum_i f_i = 0 (pairwise antisymmetry). Near pairs are added to both particles
    (exactly antisymmetric); the mesh part cancels up to the FFT's round-off."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((4000, 2))
    f, _ = p3m_drift(x, np.ones(4000), 1.0)
    assert np.abs(f.sum(axis=0)).max() < 1e-12 * np.abs(f).sum()


def test_p3m_far_particle_uses_the_tree_for_its_nearest_distance():
    x, b = _cloud(400, 9)
    x = np.vstack([x, [[40.0, 40.0]]])
    b = np.r_[b, 1.0]
    fd, dd = coulomb_drift(x, b, 1.0)
    fp, dp = p3m_drift(x, b, 1.0)
    assert _rel(fp, fd) < P3M_BOUND
    np.testing.assert_allclose(dp, dd, rtol=1e-15)


def test_sde_with_p3m_forces_follows_direct_run():
    m = SignedCoulomb2D(sigma=1.0, gamma_bar=0.4, width=0.5)
    x0 = m.sample_particles(300, rng=1)
    a = m.simulate_particles(x0, 0.02, rng=4, force="direct")
    p = m.simulate_particles(x0, 0.02, rng=4, force="p3m")
    assert p.info["force"] == "p3m" and a.info["steps"] == p.info["steps"]
    assert np.abs(a.positions[-1] - p.positions[-1]).max() < 1e-8


def test_p3m_refuses_regularised_and_custom_kernels():
    """P3M's split is the Coulomb kernel's (K * G_alpha in closed form): K_eps (4.5) and custom kernels
    go to force="direct" or "pm"."""
    x, b = _cloud(10)
    with pytest.raises(ValueError, match="epsilon"):
        particle_drift(x, b, 0.1, epsilon=0.1, force="p3m")
    with pytest.raises(ValueError, match="custom kernel"):
        particle_drift(x, b, 0.1, force="p3m", kernel=lambda r: 1.0 / r**2)
    m = SignedCoulomb2D(sigma=1.0, gamma_bar=0.4, epsilon=0.1)
    with pytest.raises(ValueError, match="epsilon"):
        m.simulate_particles(m.sample_particles(10, rng=0), 0.01, force="p3m")


@pytest.mark.parametrize("call, err, match", [
    (lambda x, b: p3m_drift(x, b, 0.1, tol="1e-8"), TypeError, "tol"),
    (lambda x, b: p3m_drift(x, b, 0.1, tol=np.nan), ValueError, "tol"),
    (lambda x, b: p3m_drift(x, b, 0.1, tol=0.0), ValueError, "tol"),
    (lambda x, b: p3m_drift(x, b, 0.1, tol=0.5), ValueError, "tol"),
    (lambda x, b: p3m_drift(x, b, 0.1, h=-1.0), ValueError, "h must"),
    (lambda x, b: p3m_drift(x, b, 0.1, h=np.inf), ValueError, "h must"),
    (lambda x, b: p3m_drift(x, b, 0.1, h=1e-9), ValueError, "GiB"),
    (lambda x, b: p3m_drift(x, b, 1j), TypeError, "gamma"),
    (lambda x, b: p3m_drift(x[:, :1], b, 0.1), ValueError, r"x must have shape \(n, 2\)"),
    (lambda x, b: p3m_drift(x, b[:-1], 0.1), ValueError, r"b must have shape"),
    (lambda x, b: p3m_drift(np.r_[x[:-1], [[np.nan, 0]]], b, 0.1), ValueError, "x must be finite"),
    (lambda x, b: p3m_drift(np.empty((0, 2)), np.empty(0), 0.1), ValueError, "empty"),
    (lambda x, b: particle_drift(x, b, 0.1, force="p3m", p3m_tol=2.0), ValueError, "p3m_tol"),
])
def test_p3m_refuses_bad_input(call, err, match):
    x, b = _cloud(10)
    with pytest.raises(err, match=match):
        call(x, b)


def test_auto_force_chooses_p3m_only_where_measured_faster(monkeypatch):
    """force="auto" for the exact kernel: direct below FMM_CROSSOVER_N, the FMM up to P3M_CROSSOVER_N,
    P3M from there (where benchmarks/coulomb2d_forces.py --part p3m measured it faster than the FMM at
    equal or better accuracy); K_eps and custom kernels stay on the direct sum."""
    from meanfield.particles import coulomb_forces as cf

    assert cf.P3M_CROSSOVER_N is not None and cf.P3M_CROSSOVER_N > cf.FMM_CROSSOVER_N
    monkeypatch.setattr(cf, "fmm_available", lambda: True)
    assert cf.resolve_force("auto", cf.FMM_CROSSOVER_N - 1) == "direct"
    assert cf.resolve_force("auto", cf.P3M_CROSSOVER_N - 1) == "fmm"
    assert cf.resolve_force("auto", cf.P3M_CROSSOVER_N) == "p3m"
    assert cf.resolve_force("auto", 10 * cf.P3M_CROSSOVER_N, epsilon=0.1) == "direct"
    assert cf.resolve_force("auto", 10 * cf.P3M_CROSSOVER_N, kernel=lambda r: 1 / r**2) == "direct"
    monkeypatch.setattr(cf, "fmm_available", lambda: False)  # P3M measured faster than direct from 8192
    assert cf.resolve_force("auto", cf.FMM_CROSSOVER_N - 1) == "direct"
    assert cf.resolve_force("auto", cf.FMM_CROSSOVER_N) == "p3m"
