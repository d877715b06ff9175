"""Model 000: fast force methods against the compiled direct sum of eq. (1.1), and the exact
collision law of an isolated +- pair (paper (2.6); theory page 000).

* FMM (pyfmmlib, 2-D Laplace): relative error below its requested tolerance, and a full SDE run
  with force="fmm" follows the direct-sum run with the same seed path by path.
* Particle-mesh: for particles separated by many cells its error against the direct sum is second
  order in the cell size (measured slope); it drops the near field, so for random clouds it is a
  grid-scale regularisation (numbers in benchmarks/coulomb2d_forces.py).
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
