"""Model 001 forces: the 1-D fast multipole method against the direct pair sum (two independent
methods), its measured convergence in the Chebyshev order, close opposite pairs, stage states."""

import numpy as np
import pytest

from meanfield.models.annihilation1d import Annihilation1D
from meanfield.particles.annihilation_forces1d import (
    FMM_CROSSOVER,
    active_velocity,
    fmm_levels,
    fmm_order,
    fmm_velocity,
    velocity,
)

RHO = 3 + np.sqrt(8)  # the Bernstein-ellipse parameter of the interaction-list geometry
KINDS = [{}, {"W": "regularised"}, {"W": "-V"}, {"V": "wall"}, {"V": "wall", "W": "regularised"},
         {"V": "wall", "W": "-V"}]


def four_blocks(n, **kw):
    """Four alternating blocks with gaps between them (empty leaves, three interfaces)."""
    m = Annihilation1D(centres=(-2.4, -0.8, 0.8, 2.4), radii=(0.5,) * 4, delta=0.3, **kw)
    x, b = m.sample_particles(n)
    return m, x, b.astype(np.int64)


def scale(x, n):
    """(1/n) Σ_j 1/|x_i - x_j|: bounds (1/n) Σ_j |K(x_i - x_j)| for every kernel (|r V'|, |r W'| ≤ 1)."""
    d = np.abs(x[:, None] - x[None, :])
    np.fill_diagonal(d, np.inf)
    return (1.0 / d).sum(axis=1) / n


@pytest.mark.parametrize("kw", KINDS, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()) or "log-none")
def test_fmm_matches_direct_sum_to_round_off(kw):
    m, x, b = four_blocks(3000, **kw)
    vk, wk = m._kinds()
    ref = active_velocity(x, b, x.size, vk, wk, 0.3)
    err = np.abs(fmm_velocity(x, b, x.size, vk, wk, 0.3, order=20) - ref) / scale(x, x.size)
    assert err.max() < 1e-13
    assert fmm_levels(x.size) >= 6  # a deep tree: every M2L level is exercised


@pytest.mark.parametrize("kw", [{}, {"W": "regularised"}, {"V": "wall", "W": "-V"}], ids=["log", "reg", "wall-V"])
def test_fmm_error_decays_like_the_bernstein_ellipse(kw):
    """Measured: error ≤ 0.3 ρ^-p with ρ = 3 + √8 (fmm_order relies on it), log-slope near -log ρ."""
    m, x, b = four_blocks(2000, **kw)
    vk, wk = m._kinds()
    ref = active_velocity(x, b, x.size, vk, wk, 0.3)
    s = scale(x, x.size)
    ps = np.arange(6, 17, 2)
    errs = np.array([np.max(np.abs(fmm_velocity(x, b, x.size, vk, wk, 0.3, order=p) - ref) / s) for p in ps])
    assert np.all(errs <= 0.3 * RHO ** (-ps.astype(float)))
    slope = np.polyfit(ps, np.log(errs), 1)[0]
    assert -np.log(RHO) - 0.35 < slope < -np.log(RHO) + 0.25


def test_fmm_order_from_tolerance():
    assert fmm_order(1e-8) == 15 and fmm_order(1e-6) == 12 and fmm_order(1e-12) == 20
    assert fmm_order(1e-2) == 10 and fmm_order(1e-30) == 24
    for rtol in (1e-6, 1e-8, 1e-10, 1e-12):
        assert 0.3 * RHO ** -fmm_order(rtol) <= 3e-4 * rtol


def test_close_opposite_pair_has_no_cancellation():
    """An opposite pair 1e-13 apart (about to annihilate) with W = 0 does not interact: the FMM keeps it
    in the near field with the exact rule, so its 1/gap never enters the split sums (F)."""
    _, x, b = four_blocks(2000)
    k = int(np.flatnonzero(b[1:] != b[:-1])[0])
    x = x.copy()
    x[k + 1] = x[k] + 1e-13
    ref = active_velocity(x, b, x.size, 0, 0, 0.3)
    err = np.abs(fmm_velocity(x, b, x.size, 0, 0, 0.3, order=20) - ref) / scale(x, x.size)
    assert err.max() < 1e-13


def test_stage_states_out_of_order_or_not_finite():
    """A Runge–Kutta stage may swap an annihilating pair or be non-finite: finite forces close to the
    direct sum, or NaN (the step is then rejected) — never a crash."""
    _, x, b = four_blocks(1000)
    k = int(np.flatnonzero(b[1:] != b[:-1])[0])
    y = x.copy()
    y[k], y[k + 1] = x[k] + 2e-9, x[k] - 2e-9  # the pair crossed by 4e-9
    ref = active_velocity(y, b, y.size, 0, 0, 0.3)
    got = fmm_velocity(y, b, y.size, 0, 0, 0.3, order=20)
    assert np.all(np.isfinite(got)) and np.max(np.abs(got - ref) / scale(y, y.size)) < 1e-12
    z = x.copy()
    z[0] = x[1] + 1e-3  # the first particle beyond the second: the tree origin is no longer the minimum
    got = fmm_velocity(z, b, z.size, 0, 0, 0.3, order=20)
    assert np.max(np.abs(got - active_velocity(z, b, z.size, 0, 0, 0.3)) / scale(z, z.size)) < 1e-12
    for bad in (np.nan, np.inf):
        w = x.copy()
        w[5] = bad
        assert np.all(np.isnan(fmm_velocity(w, b, w.size, 0, 0, 0.3)))


def test_auto_is_the_direct_sum_below_the_crossover():
    _, x, b = four_blocks(FMM_CROSSOVER - 2)
    np.testing.assert_array_equal(velocity(x, b, x.size, 0, 1, 0.3), active_velocity(x, b, x.size, 0, 1, 0.3))
    _, x, b = four_blocks(FMM_CROSSOVER + 2)
    np.testing.assert_array_equal(velocity(x, b, x.size, 0, 1, 0.3, order=15),
                                  fmm_velocity(x, b, x.size, 0, 1, 0.3, order=15))


def test_fmm_run_matches_direct_run_event_by_event():
    """The whole event-driven run with FMM forces against the direct sum (same tolerance): same events,
    same pairs, times within 1e-9 (the tolerance is 1e-8)."""
    m = Annihilation1D()
    state = m.sample_particles(600)
    runs = [m.simulate_particles(state, 1.0, force=f) for f in ("direct", "fmm")]
    assert runs[1].info["solver"]["forces"] == "fmm" and runs[1].info["solver"]["fmm_order"] == 15
    (ed, ef) = ([e for e in r.events] for r in runs)
    assert len(ed) == len(ef) > 30
    assert [e[2] for e in ed] == [e[2] for e in ef]
    np.testing.assert_allclose([e[0] for e in ef], [e[0] for e in ed], rtol=0, atol=1e-9)
    np.testing.assert_allclose(runs[1].positions[-1], runs[0].positions[-1], rtol=0, atol=1e-9)


def random_configuration(rng, m):
    """m sorted distinct points with random ±1 charges and spacings over six decades (log-uniform in
    [1e-6, 1]): clusters, empty stretches and close opposite pairs in one configuration."""
    x = np.cumsum(10.0 ** rng.uniform(-6.0, 0.0, m))
    return x - x.mean(), rng.choice(np.array([-1, 1], dtype=np.int64), m)


@pytest.mark.filterwarnings("ignore::meanfield.particles.annihilation_potentials1d.OutsideTheoremWarning")
@pytest.mark.parametrize("rtol", [1e-6, 1e-8, 1e-10])
@pytest.mark.parametrize("kw", KINDS, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()) or "log-none")
def test_fmm_at_the_run_order_matches_direct_on_random_configurations(kw, rtol):
    """Random configurations (seeded): the FMM at the order a run at ``rtol`` uses (:func:`fmm_order`)
    is within 0.3 ρ^-p ≤ 3e-4 rtol of the direct sum, relative to (1/n) Σ_j 1/|x_i - x_j| (the bound
    fmm_order is built on)."""
    m = Annihilation1D(delta=0.3, **kw)
    vk, wk = m._kinds()
    rng = np.random.default_rng([17, round(-np.log10(rtol)), KINDS.index(kw)])
    p = fmm_order(rtol)
    for size in (400, 1500):
        x, b = random_configuration(rng, size)
        ref = active_velocity(x, b, x.size, vk, wk, 0.3)
        err = np.abs(fmm_velocity(x, b, x.size, vk, wk, 0.3, order=p) - ref) / scale(x, x.size)
        assert err.max() <= 0.3 * RHO**-p <= 3e-4 * rtol


def test_auto_run_below_the_crossover_is_the_direct_run_bit_for_bit():
    """force="auto" with fewer active particles than FMM_CROSSOVER from the start is the direct engine:
    the same positions, events and counters, bit for bit."""
    m = Annihilation1D()
    state = m.sample_particles(FMM_CROSSOVER - 1)
    auto, direct = (m.simulate_particles(state, 1.0, force=f) for f in ("auto", "direct"))
    for a, d in zip(auto.positions, direct.positions, strict=True):
        np.testing.assert_array_equal(a, d)
    assert auto.events == direct.events and auto.info["stats"] == direct.info["stats"]


@pytest.mark.parametrize("kw", [{"W": "regularised"}, {"V": "wall"}], ids=["log-reg", "wall-none"])
def test_fmm_run_matches_direct_run_on_a_random_configuration(kw):
    """A whole run from a random configuration (random charges: many adjacent opposite pairs, so
    annihilations from the start) with FMM forces against the direct sum at rtol 1e-8: the same
    annihilating pairs in the same order, event times and final positions within 1e-9 (the tolerance
    is 1e-8)."""
    m = Annihilation1D(**kw)
    rng = np.random.default_rng(1701)
    x = np.sort(rng.uniform(-1.0, 1.0, 500))
    b = rng.choice(np.array([-1, 1]), x.size)
    runs = [m.simulate_particles((x, b), 0.25, force=f) for f in ("direct", "fmm")]
    ed, ef = runs[0].events, runs[1].events
    assert len(ed) == len(ef) > 100
    assert [e[2] for e in ed] == [e[2] for e in ef]
    np.testing.assert_allclose([e[0] for e in ef], [e[0] for e in ed], rtol=0, atol=1e-9)
    np.testing.assert_allclose(runs[1].positions[-1], runs[0].positions[-1], rtol=0, atol=1e-9)
