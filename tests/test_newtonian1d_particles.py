"""Particle system of paper 002: exact cases (theory page 002), invariants (§5.2), bad input."""

import itertools
from fractions import Fraction

import numpy as np
import pytest

from meanfield.models.newtonian1d import Newtonian1D

MODEL = Newtonian1D()


def _sign(a):
    return (a > 0) - (a < 0)


def _exact_reference(x, y, t_out):
    """Brute-force rational simulator: tie-rule velocities (theory page 002) recomputed from scratch,
    jump to the earliest meeting of any approaching x-y pair. O(N^2) per event; tests only."""
    x = [Fraction(v) for v in x]
    y = [Fraction(v) for v in y]
    n = len(x)
    t = Fraction(0)
    out = []

    def vel():
        vx, vy = [], []
        for i in range(n):
            s = sum(_sign(i - k) for k in range(n))
            s -= sum(_sign(x[i] - y[j]) if x[i] != y[j] else _sign(i - j) for j in range(n))
            vx.append(Fraction(s, n))
        for j in range(n):
            s = sum(_sign(j - k) for k in range(n))
            s -= sum(_sign(y[j] - x[i]) if x[i] != y[j] else _sign(j - i) for i in range(n))
            vy.append(Fraction(s, n))
        return vx, vy

    for tt in t_out:
        tt = Fraction(tt)
        while True:
            vx, vy = vel()
            dt_next = None
            for i in range(n):
                for j in range(n):
                    g, c = y[j] - x[i], vx[i] - vy[j]
                    if g != 0 and g * c > 0:
                        d = g / c
                        dt_next = d if dt_next is None else min(dt_next, d)
            step = tt - t if dt_next is None or t + dt_next > tt else dt_next
            x = [a + v * step for a, v in zip(x, vx, strict=True)]
            y = [a + v * step for a, v in zip(y, vy, strict=True)]
            t += step
            if t == tt:
                break
        out.append((list(x), list(y)))
    return out


def _run(x, y, times):
    return MODEL.simulate_particles((np.array(x, float), np.array(y, float)), t_end=max(times), times=times)


def test_example_A_two_particles_exact():
    tr = _run([0, 1], [3, 4], [2 / 3, 7 / 3, 5.0])
    X, Y = tr.info["x"], tr.info["y"]
    np.testing.assert_allclose(X[0], [1 / 3, 2], atol=1e-14)
    np.testing.assert_allclose(Y[0], [2, 11 / 3], atol=1e-14)
    np.testing.assert_allclose(X[1], [7 / 6, 17 / 6], atol=1e-14)
    np.testing.assert_allclose(Y[1], [7 / 6, 17 / 6], atol=1e-14)
    np.testing.assert_array_equal(X[2], X[1])  # stuck forever, at rest
    ev = list(tr.events)
    assert [e[1] for e in ev] == ["cross", "stick", "stick"]
    assert ev[0][2] == (1, 0) and ev[0][0] == pytest.approx(2 / 3, abs=1e-14)
    np.testing.assert_allclose(tr.info["energy"], [5 / 6, 0, 0], atol=1e-13)


def test_example_A_mirror_two_collisions_for_index_one():
    tr = _run([5, 6], [0, 1], [4.0])
    ev = list(tr.events)
    assert ev[0][1] == "cross" and ev[0][2] == (0, 1) and ev[0][0] == pytest.approx(4 / 3, abs=1e-13)
    assert {e[2] for e in ev[1:]} == {(0, 0), (1, 1)} and all(e[0] == pytest.approx(11 / 3) for e in ev[1:])
    np.testing.assert_allclose(tr.info["x"][0], [11 / 6, 25 / 6], atol=1e-13)


def test_example_B_single_pair_meets_at_midpoint():
    tr = _run([0.0], [3.0], [1.0, 1.5, 4.0])
    np.testing.assert_allclose(tr.info["x"][:, 0], [1.0, 1.5, 1.5], atol=1e-15)
    np.testing.assert_allclose(tr.info["y"][:, 0], [2.0, 1.5, 1.5], atol=1e-15)


def test_example_D_E_F_cluster_velocities():
    tr = _run([0, 0, 0, 0], [1, 1, 1, 1], [0.01])
    np.testing.assert_allclose(4 * tr.info["velocity_x"], [1, 3, 5, 7])
    np.testing.assert_allclose(4 * tr.info["velocity_y"], [-7, -5, -3, -1])
    tr = _run([-3, 0, 0, 0, 5, 6], [-5, -4, 0, 0, 0, 7], [0.1])
    np.testing.assert_allclose(6 * tr.info["velocity_x"], [-3, -1, 0, 0, -1, 1])
    np.testing.assert_allclose(6 * tr.info["velocity_y"], [1, 3, 0, 0, 1, -1])
    tr = _run([0, 0, 0], [0, 5, 6], [0.1])
    np.testing.assert_allclose(3 * tr.info["velocity_x"], [0, 1, 3])
    np.testing.assert_allclose(3 * tr.info["velocity_y"], [0, -3, -1])
    tr = _run([2, 2, 2], [2, 2, 2], [1.0])
    np.testing.assert_array_equal(tr.info["x"][0], [2, 2, 2])


def test_example_C_separated_supports_until_contact():
    n = 8
    x0, y0 = np.arange(n) / n, 3 + np.arange(n) / n
    t_contact = n * (y0[0] - x0[-1]) / (2 * (2 * n - 1))
    ts = [0.5 * t_contact, 0.9 * t_contact]
    tr = _run(x0, y0, ts)
    i = np.arange(1, n + 1)
    for k, t in enumerate(ts):
        np.testing.assert_allclose(tr.info["x"][k], x0 + (2 * i - 1) * t / n, atol=1e-13)
        np.testing.assert_allclose(tr.info["y"][k], y0 - (2 * (n - i) + 1) * t / n, atol=1e-13)
    slope = np.diff(tr.info["energy"]) / np.diff(ts)
    assert slope[0] == pytest.approx(-(8 / 3 - 2 / (3 * n**2)), rel=1e-11)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_matches_rational_reference_with_clusters(seed):
    g = np.random.default_rng(seed)
    n = 5
    x = np.sort(g.integers(0, 6, n)).astype(float)  # integer data: clusters and ties are likely
    y = np.sort(g.integers(0, 6, n)).astype(float)
    times = [0.5, 1.7, 4.0, 9.0]
    tr = _run(x, y, times)
    ref = _exact_reference(x, y, times)
    for k in range(len(times)):
        np.testing.assert_allclose(tr.info["x"][k], [float(v) for v in ref[k][0]], atol=1e-12)
        np.testing.assert_allclose(tr.info["y"][k], [float(v) for v in ref[k][1]], atol=1e-12)


def _random_state(g, n):
    return np.sort(g.random(n)), np.sort(0.5 + g.random(n))


@pytest.mark.parametrize("seed", [0, 1])
def test_invariants_on_random_data(seed):
    g = np.random.default_rng(seed)
    n = 200
    x, y = _random_state(g, n)
    times = np.linspace(0, 0.6, 61)
    tr = MODEL.simulate_particles((x, y), t_end=0.6, times=times)
    X, Y = tr.info["x"], tr.info["y"]
    assert np.all(np.diff(X, axis=1) > 0) and np.all(np.diff(Y, axis=1) > 0)  # strict order (Thm 4.2)
    com = X.sum(1) + Y.sum(1)
    np.testing.assert_allclose(com, com[0], rtol=0, atol=1e-11 * n)  # total CoM exact
    lo, hi = min(x[0], y[0]), max(x[-1], y[-1])
    assert X.min() >= lo - 1e-14 and Y.min() >= lo - 1e-14 and X.max() <= hi + 1e-14 and Y.max() <= hi + 1e-14
    e = tr.info["energy"]
    assert np.all(np.diff(e) <= 1e-14)  # non-increasing
    # energy equals the double-sum form (24)
    k = 30
    dsum = (-0.5 * np.abs(X[k][:, None] - X[k][None]).sum() - 0.5 * np.abs(Y[k][:, None] - Y[k][None]).sum()
            + np.abs(X[k][:, None] - Y[k][None]).sum()) / n**2
    assert e[k] == pytest.approx(dsum, rel=1e-11)
    # between events the energy is linear with slope -|Z'|_w^2: check on an event-free window
    # each pair collides at most once; stuck pairs have equal indices
    pairs = np.stack([tr.info["event_i"], tr.info["event_j"]], 1)
    assert np.unique(pairs, axis=0).shape[0] == pairs.shape[0]
    stick = tr.info["event_kind"] == 1
    assert np.all(tr.info["event_i"][stick] == tr.info["event_j"][stick])
    cross = ~stick
    assert np.all(tr.info["event_i"][cross] != tr.info["event_j"][cross])


def test_energy_piecewise_linear_with_dissipation_slope():
    g = np.random.default_rng(5)
    n = 12
    x, y = _random_state(g, n)
    tr = MODEL.simulate_particles((x, y), t_end=2.0, times=[2.0])
    ev = np.concatenate([[0.0], tr.info["event_time"], [2.0]])
    for a, b in itertools.pairwise(ev):
        if b - a < 1e-6:
            continue
        ts = [a + 0.25 * (b - a), a + 0.75 * (b - a)]
        tr2 = MODEL.simulate_particles((x, y), t_end=ts[-1], times=ts)
        e = tr2.info["energy"]
        tm = a + 0.5 * (b - a)
        tr3 = MODEL.simulate_particles((x, y), t_end=tm, times=[tm])
        assert e[0] + e[1] == pytest.approx(2 * tr3.info["energy"][0], abs=1e-12)  # linear
        v = np.concatenate([tr2.info["velocity_x"], tr2.info["velocity_y"]])
        # velocity after the last event before ts[-1] is the one on this window
        slope = (e[1] - e[0]) / (ts[1] - ts[0])
        assert slope == pytest.approx(-np.sum(v**2) / n, abs=1e-10)


def test_w2_contraction_between_two_runs():
    g = np.random.default_rng(11)
    n = 100
    z1, z2 = _random_state(g, n), _random_state(g, n)
    times = np.linspace(0, 1.0, 21)
    t1 = MODEL.simulate_particles(z1, t_end=1.0, times=times)
    t2 = MODEL.simulate_particles(z2, t_end=1.0, times=times)
    d = np.sqrt(((t1.info["x"] - t2.info["x"]) ** 2).sum(1) / n + ((t1.info["y"] - t2.info["y"]) ** 2).sum(1) / n)
    assert np.all(np.diff(d) <= 1e-13)


def test_symmetries_translation_and_scaling():
    g = np.random.default_rng(3)
    x, y = _random_state(g, 50)
    a = MODEL.simulate_particles((x, y), t_end=0.8, times=[0.8])
    b = MODEL.simulate_particles((x + 3.0, y + 3.0), t_end=0.8, times=[0.8])
    np.testing.assert_allclose(b.info["x"], a.info["x"] + 3.0, atol=1e-12)
    c = MODEL.simulate_particles((2 * x, 2 * y), t_end=1.6, times=[1.6])
    np.testing.assert_allclose(c.info["x"], 2 * a.info["x"], atol=1e-12)


def test_same_seed_same_result_and_measures():
    x, y = MODEL.sample_particles(64, rng=7, sampling="random")
    x2, _y2 = MODEL.sample_particles(64, rng=7, sampling="random")
    np.testing.assert_array_equal(x, x2)
    tr = MODEL.simulate_particles((x, y), t_end=0.5, times=[0.25, 0.5])
    m = tr.measure(0.5)
    assert set(m) == {"rho", "eta"} and m["rho"].mass == pytest.approx(1.0)


@pytest.mark.parametrize(
    "x, y, kw, match",
    [
        ([1.0, 0.0], [0.0, 1.0], {}, "x must be sorted"),
        ([0.0, np.nan], [0.0, 1.0], {}, "x must be finite"),
        ([0.0, 1.0], [0.0, np.inf], {}, "y must be finite"),
        ([0.0, 1.0], [0.0, 1.0], {"masses": ([1.5, -0.5], [0.5, 0.5])}, "mx must be positive"),
        ([0.0, 1.0], [0.0, 1.0], {"masses": ([0.5, 0.5], [1.0])}, "my must have shape"),
        ([0.0, 1.0], [0.0, 1.0], {"masses": ([0.5, 0.6], [0.5, 0.5])}, "mx must sum to 1"),
    ],
)
def test_bad_input_raises_before_work(x, y, kw, match):
    with pytest.raises(ValueError, match=match):
        MODEL.simulate_particles((np.array(x), np.array(y)), t_end=1.0, **kw)


def test_general_masses_stick_rule_remark_4_1_then_three_particle_cluster():
    # x=(0) mass 1, y=(1, 2) masses 1/2: v_x = 1, v_y1 = -1.5, meet at t=0.4 at 0.4.
    # Remark 4.1: cross iff 4|Mbar - Nbar| > m + n; here 4(0.5 - 0.25) = 1 < 1.5 -> stick, and the
    # pair moves with the mass-weighted free velocity (1*0.5 + 0.5*(-0.5))/1.5 = 1/6.
    # y_2 (velocity -1/2) reaches the moving pair at t=2.5 at 0.75; the three-particle cluster has
    # targets a_x = 0, b = (-1/2, 1/2) and the subgradient s = (1/2, -1/2) keeps it together at
    # rest: the equilibrium x = y, energy 0.
    st = (np.array([0.0]), np.array([1.0, 2.0]))
    ms = (np.array([1.0]), np.array([0.5, 0.5]))
    tr = MODEL.simulate_particles(st, t_end=3.0, times=[1.0, 2.5, 3.0], masses=ms)
    ev = list(tr.events)
    assert ev[0][1] == "stick" and ev[0][0] == pytest.approx(0.4) and ev[0][2] == (0, 0)
    assert ev[1][1] == "stick" and ev[1][0] == pytest.approx(2.5) and ev[1][2] == (0, 1)
    assert ev[2][1] == "y-cluster" and ev[2][2] == (0, 1)
    np.testing.assert_allclose(tr.info["x"][0], [0.4 + 0.6 / 6], atol=1e-14)
    np.testing.assert_allclose(tr.info["x"][1:, 0], [0.75, 0.75], atol=1e-14)
    np.testing.assert_allclose(tr.info["y"][1:], [[0.75, 0.75]] * 2, atol=1e-14)
    assert tr.info["energy"][-1] == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize("support, seed", [(((0.0, 1.0), (0.5, 1.5)), 0), (((0.0, 1.0), (0.2, 0.7)), 1),
                                           (((0.0, 1.0), (1.2, 2.0)), 2)])
def test_lm_norms_of_ghost_reconstruction_non_increasing(support, seed):
    # Props 5.2-5.3: Phi_m = ||rho~||_m^m + ||eta~||_m^m and max ||.||_inf are non-increasing, with
    # the "ghost" x_0, y_0 (theory page 002); Prop 5.1: Phi_m(0) <= ||rho_0||_m^m + ||eta_0||_m^m.
    from meanfield.models.newtonian1d import reconstruction_lm_power as lm

    m = Newtonian1D(*support, profile="bump" if seed == 1 else "uniform")
    n = 96
    x, y = m.sample_particles(n, sampling="paper")
    times = np.linspace(0, 2.0, 201)
    tr = m.simulate_particles((x, y), t_end=2.0, times=times, ghosts="support")
    X = np.concatenate([tr.info["x_ghost"][:, None], tr.info["x"]], 1)
    Y = np.concatenate([tr.info["y_ghost"][:, None], tr.info["y"]], 1)
    assert np.all(np.diff(X, axis=1) > 0) and np.all(np.diff(Y, axis=1) > 0)  # x_0 < x_1 always
    for p in (2.0, 3.0, np.inf):
        phi = np.array([(lm(X[k], p) + lm(Y[k], p)) if np.isfinite(p) else max(lm(X[k], p), lm(Y[k], p))
                        for k in range(times.size)])
        assert np.all(np.diff(phi) <= 1e-12 * phi[:-1]), (p, np.max(np.diff(phi)))
    if seed != 1:
        exact2 = 1 / (support[0][1] - support[0][0]) + 1 / (support[1][1] - support[1][0])
        assert lm(X[0], 2.0) + lm(Y[0], 2.0) <= exact2 * (1 + 1e-12)


def test_ghost_does_not_change_real_particles():
    x, y = MODEL.sample_particles(50, sampling="paper")
    a = MODEL.simulate_particles((x, y), t_end=1.0, times=[0.5, 1.0])
    b = MODEL.simulate_particles((x, y), t_end=1.0, times=[0.5, 1.0], ghosts="support")
    # equal to round-off: meeting times of pairs that become adjacent when a ghost passes are
    # computed at a different instant than without ghosts (last-bit differences only)
    np.testing.assert_allclose(a.info["x"], b.info["x"], rtol=0, atol=1e-14)
    np.testing.assert_allclose(a.info["y"], b.info["y"], rtol=0, atol=1e-14)
    assert len(a.events) == len(b.events)
    # a leftmost ghost moves left at speed 1/N (theory page 002)
    c = MODEL.simulate_particles((x, y), t_end=0.01, times=[0.01], ghosts="support")
    assert c.info["x_ghost"][0] == pytest.approx(0.0 - 0.01 / 50, abs=1e-15)


def _exact_event_list(x, y, t_end):
    """Rational event list: every time at which an x-y pair that was apart becomes coincident,
    with the set of such pairs (0-based ranks) and the exact state at that time. Brute force with
    the tie-rule velocities of theory page 002 recomputed from scratch after every jump (independent of
    the engine's adjacency bookkeeping and heap)."""
    x = [Fraction(v) for v in x]
    y = [Fraction(v) for v in y]
    n = len(x)
    t, t_end = Fraction(0), Fraction(t_end)
    out = []
    while True:
        vx = [Fraction(sum(_sign(i - k) for k in range(n))
                       - sum(_sign(x[i] - y[j]) if x[i] != y[j] else _sign(i - j) for j in range(n)), n)
              for i in range(n)]
        vy = [Fraction(sum(_sign(j - k) for k in range(n))
                       - sum(_sign(y[j] - x[i]) if x[i] != y[j] else _sign(j - i) for i in range(n)), n)
              for j in range(n)]
        dts = [(y[j] - x[i]) / (vx[i] - vy[j]) for i in range(n) for j in range(n)
               if x[i] != y[j] and (y[j] - x[i]) * (vx[i] - vy[j]) > 0]
        if not dts or t + min(dts) > t_end:
            return out
        d = min(dts)
        apart = {(i, j) for i in range(n) for j in range(n) if x[i] != y[j]}
        x = [a + v * d for a, v in zip(x, vx, strict=True)]
        y = [a + v * d for a, v in zip(y, vy, strict=True)]
        t += d
        met = {(i, j) for (i, j) in apart if x[i] == y[j]}
        out.append((t, met, list(x), list(y)))


@pytest.mark.parametrize("seed", range(6))
def test_event_list_matches_rational_event_times_pairs_and_positions(seed):
    # every event of the compiled engine (time, pair, cross/stick) against exact rational
    # arithmetic; kinds follow Thm 4.1: stick iff i == j; positions at each event time exact
    g = np.random.default_rng(100 + seed)
    n = 6
    if seed % 2:
        x = np.sort(g.integers(0, 8, n)) / 4.0  # dyadic data with initial clusters and ties
        y = np.sort(g.integers(0, 8, n)) / 4.0
    else:
        x = np.sort(g.integers(0, 64, n)) / 16.0
        y = np.sort(g.integers(16, 80, n)) / 16.0
    t_end = 20.0
    ref = _exact_event_list(x, y, t_end)
    assert ref, "no events: the case tests nothing"
    tr = _run(x, y, [t_end])
    got = {}
    for t, kind, (i, j) in tr.events:
        got.setdefault(round(t, 9), set()).add((i, j, kind))
    want = {round(float(t), 9): {(i, j, "stick" if i == j else "cross") for i, j in met} for t, met, _, _ in ref}
    assert got == want
    for t, _kind, _ in tr.events:  # times exact to round-off, not just to 1e-9
        assert min(abs(t - float(r[0])) for r in ref) <= 1e-13 * max(1.0, t)
    times = [float(r[0]) for r in ref]
    tr2 = _run(x, y, times)
    for k, (_, _, xr, yr) in enumerate(ref):
        np.testing.assert_allclose(tr2.info["x"][k], [float(v) for v in xr], rtol=0, atol=1e-13)
        np.testing.assert_allclose(tr2.info["y"][k], [float(v) for v in yr], rtol=0, atol=1e-13)


_GOOD = dict(x0=[0.0, 1.0], y0=[0.5, 2.0], mx=[0.5, 0.5], my=[0.5, 0.5], out_times=[0.5], t_end=1.0)


@pytest.mark.parametrize("engine", ["rank", "cluster"])
@pytest.mark.parametrize(
    "bad, match",
    [
        ({"y0": [2.0, 0.5]}, r"y must be sorted .* y\[0\]=2.0 > y\[1\]=0.5"),
        ({"x0": [0.0, np.inf]}, r"x must be finite; x\[1\] = inf"),
        ({"x0": []}, "x must be a non-empty 1-D array"),
        ({"my": [1.5, -0.5]}, "my must be positive; entry 1 is -0.5"),
        ({"mx": [0.5, np.nan]}, r"mx must be finite; mx\[1\] = nan"),
        ({"mx": [1.0]}, r"mx must have shape \(2,\) to match the positions, got \(1,\)"),
        ({"my": [0.5, 0.6]}, "my must sum to 1"),
        ({"out_times": [1.5]}, r"out_times must be finite and lie in \[0, t_end=1.0\]"),
        ({"out_times": [0.5, 0.2]}, "out_times must be non-decreasing"),
        ({"t_end": np.nan}, "t_end must be a finite number >= 0"),
    ],
)
def test_engines_reject_bad_input_with_named_parameter(engine, bad, match):
    # the engines are public too: they check their inputs before compiling or running anything
    from meanfield.particles.sticky_clusters1d import simulate_general_masses
    from meanfield.particles.sticky_events1d import simulate_two_species_events

    f = simulate_two_species_events if engine == "rank" else simulate_general_masses
    with pytest.raises(ValueError, match=match):
        f(**{**_GOOD, **bad})
