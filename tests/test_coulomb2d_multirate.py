"""Model 000 particles under the multirate close-pair rule (meanfield/particles/multirate_step.py, issue 17).

Exact facts of theory page 000 under ``step="multirate"``: the isolated +- pair's separation law (paper
(2.6), reflecting squared Bessel), the squared Bessel spread process (4.26), the centre of mass (no drift:
conservation to round-off in a step with close groups); agreement in law with the global rule at small N;
the cell list against brute force; the defaults; bad input.
"""

import numpy as np
import pytest
from scipy import stats

from meanfield.models.coulomb2d import SignedCoulomb2D
from meanfield.particles.coulomb_sde import MULTIRATE_MIN_N
from meanfield.particles.multirate_step import MultirateEulerMaruyama, close_radius, pairs_within

MEANFIELD = dict(sigma=1.0, gamma_bar=0.4, mass_plus=0.5, mass_minus=0.5, centre_plus=(-0.4, 0.0),
                 centre_minus=(0.4, 0.0), width=0.4)


# --- the close-pair search -----------------------------------------------------------------------------
@pytest.mark.parametrize("radius", [1e-3, 0.03, 0.3, 5.0])
def test_pairs_within_is_the_brute_force_pair_list(radius):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((700, 2)) * [1.0, 0.2]
    x[10] = x[11]  # coincident points are a pair at distance 0
    x[20] = x[21] + [radius * (1 - 1e-9), 0.0]
    i, j, d = pairs_within(x, radius)
    dist = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    a, b = np.triu_indices(len(x), 1)
    sel = dist[a, b] < radius
    assert set(zip(i.tolist(), j.tolist(), strict=True)) == set(zip(a[sel].tolist(), b[sel].tolist(), strict=True))
    assert np.all(i < j) and (10, 11) in set(zip(i.tolist(), j.tolist(), strict=True))
    assert np.allclose(d, dist[i, j], rtol=1e-15, atol=0)


def test_pairs_within_without_pairs_or_radius():
    x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0]])
    assert pairs_within(x, 0.5)[0].size == 0
    assert pairs_within(x, 0.0)[0].size == 0
    assert pairs_within(x[:1], 1.0)[0].size == 0
    assert pairs_within(x, 1e-300)[0].size == 0  # a radius far below the span: cells capped, still correct
    with pytest.raises(ValueError, match="radius"):
        pairs_within(x, np.nan)
    with pytest.raises(ValueError, match="shape"):
        pairs_within(np.zeros((3, 3)), 1.0)


# --- exact laws under the multirate rule -----------------------------------------------------------------
def test_opposite_pair_separation_follows_bessel_law_multirate():
    """(2.6): |D_t|^2 / (2 sigma^2 t) is noncentral chi^2, 2 (1 - gamma/sigma^2) degrees of freedom,
    noncentrality |D_0|^2 / (2 sigma^2 t) (as tests/test_coulomb2d.py for the global rule); KS and mean."""
    sigma, gamma, t, runs = 1.0, 0.25, 0.25, 150
    m = SignedCoulomb2D(sigma=sigma, gamma=gamma, gamma_bar=0.1)
    x0 = (np.array([[0.0, 0.0], [0.5, 0.0]]), np.array([1.0, -1.0]))
    d2, substeps = [], 0
    for s in range(runs):
        tr = m.simulate_particles(x0, t, rng=s, dt=2.5e-3, step="multirate")
        assert tr.info["step_rule"] == "multirate"
        substeps += tr.info["substeps"]
        p = tr.positions[-1]
        d2.append(((p[0] - p[1]) ** 2).sum())
    d2 = np.array(d2)
    assert substeps > 0  # the pair was resolved by substeps
    law = stats.ncx2(2 * (1 - gamma / sigma**2), 0.25 / (2 * sigma**2 * t), scale=2 * sigma**2 * t)
    assert stats.kstest(d2, law.cdf).pvalue > 1e-3
    se = d2.std(ddof=1) / np.sqrt(runs)
    assert abs(d2.mean() - (0.25 + 4 * (sigma**2 - gamma) * t)) < 4 * se


@pytest.mark.parametrize("signs, gamma", [((1, 1, 1, 1, 1), 0.2), ((1, 1, -1, -1), 0.05)])
def test_spread_process_mean_grows_at_bessel_rate_multirate(signs, gamma):
    """(4.26): R = sigma^-2 sum |X - Xbar|^2 is BESQ of dimension 2(N-1) + gamma((N+ - N-)^2 - N)/sigma^2."""
    m = SignedCoulomb2D(sigma=1.0, gamma=gamma, gamma_bar=0.1)
    b = np.array(signs, float)
    dim = m.spread_dimension(int((b > 0).sum()), int((b < 0).sum()))
    t, runs = 0.2, 400
    rng = np.random.default_rng(11)
    inc = []
    for s in range(runs):
        x = 1.5 * rng.standard_normal((b.size, 2))
        y = m.simulate_particles((x, b), t, rng=s, dt=0.002, step="multirate").positions[-1]
        inc.append(((y - y.mean(0)) ** 2).sum() - ((x - x.mean(0)) ** 2).sum())
    inc = np.array(inc)
    se = inc.std(ddof=1) / np.sqrt(runs)
    assert abs(inc.mean() - dim * t) < 4 * se, (inc.mean(), dim * t, se)


def _clustered(n=300, seed=2):
    """Random charges with planted close pairs and a close triple."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2))
    b = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    x[1] = x[0] + [2e-3, 0.0]
    x[3] = x[2] + [0.0, -1e-3]
    x[5] = x[4] + [1e-3, 1e-3]
    x[6] = x[4] + [-1.5e-3, 0.0]
    return x, b


@pytest.mark.parametrize("max_group", [64, 2])
def test_a_step_with_close_groups_conserves_the_centre_of_mass(max_group):
    """The drift sums to zero at every substep: without noise the centre of mass does not move (round-off);
    ``max_group=2`` forces the halving of the step (the close triple)."""
    from meanfield.particles.coulomb_forces import coulomb_drift

    x, b = _clustered()
    gamma = 0.05
    stepper = MultirateEulerMaruyama(lambda y: coulomb_drift(y, b, gamma)[0], b, gamma, 0.0, 0.0, 1e-7, 0.25,
                                     rng=np.random.default_rng(0), max_group=max_group)
    h = 1e-3
    assert close_radius(h, gamma, 0.25) > 2.5e-3  # the planted pairs are close
    y = stepper.step(None, 0.0, x, h, np.zeros_like(x))
    assert stepper.grouped >= 7 and stepper.substeps > 0 and stepper.capped > 0
    assert (stepper.halvings > 0) == (max_group == 2)
    move = y - x
    assert np.abs(move.sum(axis=0)).max() < 1e-13 * np.abs(move).sum()
    # the particles in no close pair move by one Euler step of the full drift, the others do not
    f = coulomb_drift(x, b, gamma)[0]
    i, j, _ = pairs_within(x, close_radius(h, gamma, 0.25))
    far = np.setdiff1d(np.arange(x.shape[0]), np.concatenate([i, j]))
    assert far.size > 250 and 7 <= x.shape[0] - far.size <= stepper.grouped
    if max_group == 64:
        assert np.array_equal(y[far], x[far] + h * f[far])
        assert not np.allclose(y[:7], x[:7] + h * f[:7], rtol=0, atol=1e-6)


def test_multirate_and_global_agree_in_law_at_small_n():
    """Two independent step rules for the same SDE: the spread and the closest distance at t_end have
    the same law (two-sample KS), N = 24 mean-field charges with strong interaction."""
    m = SignedCoulomb2D(sigma=1.0, gamma_bar=0.45, width=0.3)
    n, t, runs = 24, 0.05, 150
    stats_by_rule = {}
    for rule in ("global", "multirate"):
        r, dmin = [], []
        for s in range(runs):
            x0 = m.sample_particles(n, rng=s)
            y = m.simulate_particles(x0, t, rng=10_000 + s, dt=2e-3, step=rule).positions[-1]
            r.append(((y - y.mean(0)) ** 2).sum())
            dmin.append(pairs_within(y, 10.0)[2].min())
        stats_by_rule[rule] = np.array(r), np.array(dmin)
    for k in range(2):
        assert stats.ks_2samp(stats_by_rule["global"][k], stats_by_rule["multirate"][k]).pvalue > 1e-3


# --- defaults, determinism, counters ----------------------------------------------------------------------
def test_auto_is_the_global_rule_below_the_threshold_bit_for_bit():
    m = SignedCoulomb2D(**MEANFIELD)
    x0 = m.sample_particles(40, rng=3)
    a = m.simulate_particles(x0, 0.02, rng=5)
    b = m.simulate_particles(x0, 0.02, rng=5, step="global")
    assert a.info["step_rule"] == "close_pair" and np.array_equal(a.positions[-1], b.positions[-1])


def test_auto_is_multirate_from_the_threshold_and_seeded():
    m = SignedCoulomb2D(**MEANFIELD)
    x0 = m.sample_particles(MULTIRATE_MIN_N, rng=3)
    a = m.simulate_particles(x0, 0.005, [0.002, 0.005], rng=5, force="direct")
    b = m.simulate_particles(x0, 0.005, [0.002, 0.005], rng=5, force="direct", step="multirate")
    assert a.info["step_rule"] == "multirate" and np.array_equal(a.positions[-1], b.positions[-1])
    # output times cut the global step; one force evaluation per global step
    assert a.info["steps"] == a.info["drift_evaluations"] == 4
    mu = a.measure(0.005)
    assert mu["+"].mass == pytest.approx(0.5) and mu["-"].mass == pytest.approx(0.5)
    # heun, a custom kernel or particle-mesh forces keep the global rule under "auto"
    assert m.simulate_particles(x0, 0.002, rng=5, scheme="stochastic_heun", force="direct").info["step_rule"] \
        == "close_pair"


def test_collision_time_recorded_by_the_substeps():
    m = SignedCoulomb2D(sigma=1.0, gamma=0.4, gamma_bar=0.1)
    x0 = (np.array([[0.0, 0.0], [0.3, 0.0]]), np.array([1.0, -1.0]))
    seen = [m.simulate_particles(x0, 0.25, rng=s, dt=5e-3, dt_min_fraction=1e-4, resolve_noise=True,
                                 collision_radius=0.02, step="multirate").info["first_collision_time"]
            for s in range(20)]
    hits = [v for v in seen if np.isfinite(v)]
    assert hits and all(0 < v <= 0.25 for v in hits)
    assert any(v % 5e-3 > 1e-9 for v in hits)  # seen at a substep inside a global step


# --- bad input -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw, match", [
    (dict(step="bogus"), "step must be one of"),
    (dict(step=None), "step must be one of"),
    (dict(step=1), "step must be one of"),
    (dict(step="multirate", scheme="stochastic_heun"), "euler_maruyama"),
    (dict(step="multirate", force="pm"), "force='direct', 'fmm' or 'p3m'"),
])
def test_bad_step_refused_naming_it(kw, match):
    m = SignedCoulomb2D(**MEANFIELD)
    with pytest.raises(ValueError, match=match):
        m.simulate_particles(m.sample_particles(8, rng=0), 0.01, rng=0, **kw)


def test_multirate_refuses_a_custom_kernel():
    with pytest.warns(UserWarning):
        m = SignedCoulomb2D(**MEANFIELD, kernel=lambda r: 1.0 / (r**2 + 0.01))
    with pytest.raises(ValueError, match="paper's kernel"):
        m.simulate_particles(m.sample_particles(8, rng=0), 0.01, rng=0, step="multirate")


def test_multirate_refuses_steps_that_cannot_finish_before_any_work():
    m = SignedCoulomb2D(**MEANFIELD)
    x0 = m.sample_particles(8, rng=0)
    with pytest.raises(ValueError, match="max_steps"):
        m.simulate_particles(x0, 1.0, rng=0, dt=1e-3, max_steps=10, step="multirate")
    with pytest.raises(ValueError, match="dt_min_fraction"):
        m.simulate_particles(x0, 1.0, rng=0, dt=1e-3, dt_min_fraction=1e-14, step="multirate")


def test_stepper_refuses_bad_values():
    with pytest.raises(TypeError, match="force"):
        MultirateEulerMaruyama(None, [1.0], 0.1, 0.0, 1.0, 1e-6, 0.25, rng=np.random.default_rng())
    with pytest.raises(TypeError, match="rng"):
        MultirateEulerMaruyama(lambda y: y, [1.0], 0.1, 0.0, 1.0, 1e-6, 0.25, rng=3)


def test_multirate_with_p3m_forces_follows_the_direct_sum_run():
    """P3M gives the exact kernel to its tolerance (1e-8), so the multirate rule applies to it: with the same
    noise a short run agrees with the direct-sum run to far below the particles' spacing, and step="auto"
    takes the multirate rule when force="auto" picks P3M (N >= 10^5 with pyfmmlib)."""
    from meanfield.particles.coulomb_sde import resolve_step

    assert resolve_step("auto", 10**5, "euler", "p3m", False) == "multirate"
    m = SignedCoulomb2D(**MEANFIELD)
    x0 = m.sample_particles(1500, rng=3)
    runs = [m.simulate_particles(x0, 0.002, rng=7, step="multirate", force=f, dt=5e-4) for f in ("direct", "p3m")]
    a, b = (r.positions[-1] for r in runs)
    assert runs[1].info["force"] == "p3m"
    assert np.max(np.abs(a - b)) < 1e-6
