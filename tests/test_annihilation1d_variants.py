"""Model 001, second file: the potentials of §1.2 (wall V, W = -V), exact multi-event cases, event
records, several ± blocks, an independent integrator (scipy Radau), Assumption 2.2's negative case,
and bad input."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.special import roots_hermite

from meanfield.models.annihilation1d import Annihilation1D, potential
from meanfield.particles.annihilation_events1d import active_velocity


def test_singular_attraction_pair_collides_at_the_exact_time():
    """W = -V = log|r| (theory page 001): d² = d₀² - 4t/n, collision at t* = n d₀²/4 with unbounded
    speed; located as the sign change of the gap. n = 2, d₀ = 1: t* = 1/2 at the midpoint 0.3."""
    m = Annihilation1D(W="-V")
    tr = m.simulate_particles((np.array([-0.2, 0.8]), np.array([1, -1])), 1.0, times=[0.3, 1.0])
    ((t, place, pair),) = tr.info["annihilations"]
    assert t == pytest.approx(0.5, rel=1e-6) and place == pytest.approx(0.3, abs=1e-12) and pair == (0, 1)
    d = tr.positions[0][1] - tr.positions[0][0]
    assert d == pytest.approx(np.sqrt(1 - 4 * 0.3 / 2), rel=1e-7)
    np.testing.assert_array_equal(tr.info["active"][-1], [0, 0])


def test_wall_potential_pair_against_scalar_ode():
    """V = r coth r - log|2 sinh r|: two + particles, ḋ = -(2/n) V'(d) = (2/n) d / sinh² d, midpoint
    fixed; compared with scipy's LSODA on the scalar ODE (independent)."""
    n, d0 = 2, 0.4
    tr = Annihilation1D(V="wall").simulate_particles((np.array([-0.2, 0.2]), np.array([1, 1])), 2.0,
                                                     times=[0.5, 2.0], rtol=1e-10, atol=1e-13)
    ref = solve_ivp(lambda t, d: 2 / n * d / np.sinh(d) ** 2, (0, 2.0), [d0], t_eval=[0.5, 2.0], method="LSODA",
                    rtol=1e-12, atol=1e-14).y[0]
    for x, d in zip(tr.positions, ref, strict=True):
        assert x[1] - x[0] == pytest.approx(d, rel=1e-8) and x[0] + x[1] == pytest.approx(0.0, abs=1e-13)
    # V' of the compiled kernel against finite differences of the stable V (both ≈ -r/sinh² r)
    r = np.array([0.05, 0.7, 3.0])
    fd = (potential("wall", r + 1e-6) - potential("wall", r - 1e-6)) / 2e-6
    vel = [active_velocity(np.array([0.0, ri]), np.array([1, 1]), 1, 1, 0, 0.3)[1] for ri in r]
    np.testing.assert_allclose(vel, -fd, rtol=1e-6)  # ẋ_2 = -V'(x_2 - x_1)


def test_symmetric_hermite_blocks_all_annihilations_at_zero():
    """theory page 001 (N = 4, c = 1, c₀ = 0.3, W = 0): t₁ = N(c²/h_max² - c₀²), then t₂ ≈ 4.7039453,
    t₃ ≈ 33.1080274, every annihilation at x = 0; final state (-4, 0, …, 0, 4)."""
    h, _ = roots_hermite(4)
    x = np.concatenate([-1 + 0.3 * h, 1 + 0.3 * h])
    b = np.array([1] * 4 + [-1] * 4)
    tr = Annihilation1D().simulate_particles((x, b), 35.0, times=[35.0])
    ann = tr.info["annihilations"]
    assert len(ann) == 3 and len(tr.events) == 3
    t1 = 4 * (1 / h.max() ** 2 - 0.3**2)
    assert ann[0][0] == pytest.approx(t1, rel=1e-9)
    assert ann[1][0] == pytest.approx(4.7039453, abs=1e-6) and ann[2][0] == pytest.approx(33.1080274, abs=1e-6)
    for (t, place, (i, j)), ev in zip(ann, tr.events, strict=True):
        assert abs(place) < 1e-14 and b[i] == -b[j] and ev == (t, "annihilation", (i, j))
        assert tr.positions[-1][i] == place == tr.positions[-1][j]
    np.testing.assert_allclose(tr.positions[-1], [-4, 0, 0, 0, 0, 0, 0, 4], atol=1e-12)
    np.testing.assert_array_equal(tr.info["active"][-1], [1, 0, 0, 0, 0, 0, 0, -1])


def test_event_times_agree_with_scipy_radau():
    """Independent integrator: scipy Radau with terminal gap events, restarted at each annihilation."""
    m = Annihilation1D()
    x0, b0 = m.sample_particles(30)
    tr = m.simulate_particles((x0, b0), 1.5, rtol=1e-10, atol=1e-13)
    x, b, t, times = x0.copy(), b0.copy(), 0.0, []
    while True:
        act = np.flatnonzero(b)
        opp = [(act[k], act[k + 1]) for k in range(act.size - 1) if b[act[k]] != b[act[k + 1]]]
        ii, jj = np.array([p[0] for p in opp]), np.array([p[1] for p in opp])
        bb = b.copy()

        def gap(s, y, ii=ii, jj=jj):
            return float(np.min(y[jj] - y[ii]))

        gap.terminal, gap.direction = True, -1
        sol = solve_ivp(lambda s, y, bb=bb: m.velocity(y, bb), (t, 1.5), x, method="Radau", events=gap, rtol=1e-10,
                        atol=1e-13)
        if sol.status != 1:
            break
        t, x = float(sol.t_events[0][0]), sol.y_events[0][0].copy()
        k = int(np.argmin(x[jj] - x[ii]))
        x[ii[k]] = x[jj[k]] = 0.5 * (x[ii[k]] + x[jj[k]])
        b[ii[k]] = b[jj[k]] = 0
        times.append(t)
    ours = [e[0] for e in tr.events]
    assert len(ours) == len(times) >= 2
    np.testing.assert_allclose(ours, times, rtol=1e-7)


def test_several_blocks_particles_invariants_and_events():
    """Four alternating blocks (+ - + -, L = 4) with W_δ: total first moment conserved, N₊ - N₋ constant,
    ghosts are coincident ± pairs frozen at their recorded place, events increase in time."""
    m = Annihilation1D(W="regularised", centres=(-2.4, -0.8, 0.8, 2.4), radii=(0.5,) * 4)
    assert m.blocks == 4 and m.mass_plus == pytest.approx(0.5)
    x, b = m.sample_particles(160)
    times = np.linspace(0.5, 2.0, 4)
    tr = m.simulate_particles((x, b), 2.0, times=times)
    assert len(tr.events) > 10
    for xt, bt in zip(tr.positions, tr.info["active"], strict=True):
        assert xt.sum() == pytest.approx(x.sum(), abs=1e-9)  # V', W' odd
        assert (bt == 1).sum() - (bt == -1).sum() == (b == 1).sum() - (b == -1).sum()
        assert np.all(np.diff(xt[bt != 0]) > 0)
    ts = [a[0] for a in tr.info["annihilations"]]
    assert np.all(np.diff(ts) >= 0)
    for _, place, (i, j) in tr.info["annihilations"]:
        assert tr.positions[-1][i] == tr.positions[-1][j] == place and b[i] == -b[j]
    # three interfaces: annihilations happen near three distinct places (Lemma 3.4: ≤ 2L - 1 points)
    places = np.array([a[1] for a in tr.info["annihilations"]])
    assert {int(np.sign(p)) if abs(p) > 0.4 else 0 for p in places} == {-1, 0, 1}


def test_several_blocks_continuum_invariants_and_particles():
    """FV with four blocks: species masses to round-off, ρ^± ≥ 0, κ(R) conserved, [κ]_±(R) non-increasing;
    the annihilated mass of particles (n = 400) and FV agree."""
    m = Annihilation1D(centres=(-2.4, -0.8, 0.8, 2.4), radii=(0.5,) * 4)
    times = [0.5, 1.0, 1.5, 2.0]
    sol = m.solve_continuum(2.0, resolution=800, times=times)
    h = float(sol.x.values[1] - sol.x.values[0])
    np.testing.assert_allclose(sol.density.values.sum(axis=-1) * h, 0.5, rtol=1e-12)
    assert sol.density.values.min() >= 0
    np.testing.assert_allclose(sol.active_plus.values - sol.active_minus.values, 0.0, atol=1e-13)
    assert np.all(np.diff(sol.active_plus.values) < 0) and np.all(np.diff(sol.active_minus.values) < 0)
    tr = m.simulate_particles(m.sample_particles(400), 2.0, times=times)
    a_part = np.array([0.5 - (bt == 1).sum() / 400 for bt in tr.info["active"]])
    np.testing.assert_allclose(a_part, sol.annihilated_mass.values, atol=0.012)


def test_interleaved_data_never_annihilates():
    """theory page 001 (outside Assumption 2.2, L ~ n): + - + - … at the midpoints of a uniform grid on
    [-1, 1], W = 0: the two sublattices expand self-similarly with constant ± gaps, no annihilation."""
    for n in (40, 80):
        x = -1 + (np.arange(n) + 0.5) * 2 / n
        b = np.where(np.arange(n) % 2 == 0, 1, -1)
        tr = Annihilation1D().simulate_particles((x, b), 1.0)
        assert tr.events == []
        np.testing.assert_array_equal(tr.info["active"][-1], b)


def test_singular_and_wall_continuum_structure():
    """W = -V (two-species form of (1.4)) and the wall V with W_δ: masses to round-off, positivity,
    [κ]_± non-increasing; with W = -V annihilation starts earlier than with W = 0 (attraction)."""
    times = [0.25, 0.5, 1.0]
    res = {}
    for kw in ({"W": "-V"}, {"V": "wall", "W": "regularised"}, {}):
        sol = Annihilation1D(**kw).solve_continuum(1.0, resolution=300, times=times)
        h = float(sol.x.values[1] - sol.x.values[0])
        np.testing.assert_allclose(sol.density.values.sum(axis=-1) * h, 0.5, rtol=1e-12)
        assert sol.density.values.min() >= 0
        assert np.all(np.diff(sol.active_plus.values) <= 0)
        res[kw.get("W", "none") + kw.get("V", "")] = sol.annihilated_mass.values
    assert res["-V"][-1] > 1.5 * res["none"][-1]


def test_bad_input_names_the_argument():
    m = Annihilation1D()
    with pytest.raises(ValueError, match=r"state x .*strictly increasing.*x\[1\] = 0.0 and x\[2\] = 0.0 coincide"):
        m.simulate_particles((np.array([-1.0, 0.0, 0.0]), np.array([1, 1, -1])), 1.0)
    with pytest.raises(ValueError, match=r"state x .*finite.*x\[1\] = inf"):
        m.simulate_particles((np.array([0.0, np.inf]), np.array([1, -1])), 1.0)
    with pytest.raises(ValueError, match=r"state b .*\+1 or -1.*b\[0\] = 0"):
        m.simulate_particles((np.array([0.0, 1.0]), np.array([0, -1])), 1.0)
    with pytest.raises(ValueError, match=r"state b .*shape"):
        m.simulate_particles((np.array([0.0, 1.0]), np.array([1, -1, 1])), 1.0)
    with pytest.raises(ValueError, match="t_end"):
        m.simulate_particles(m.sample_particles(4), np.nan)
    with pytest.raises(ValueError, match="rtol"):
        m.simulate_particles(m.sample_particles(4), 1.0, rtol=-1)
    with pytest.raises(ValueError, match=r"V must be one of .*'gauss'"):
        Annihilation1D(V="gauss")  # a regular V violates (2.1c)
    with pytest.raises(ValueError, match=r"W must be one of .*'log'"):
        Annihilation1D(W="log")  # W' not Lipschitz: only as the named singular variant '-V'
    with pytest.raises(ValueError, match="delta"):
        Annihilation1D(W="regularised", delta=0.0)
    with pytest.raises(ValueError, match="masses"):
        Annihilation1D(masses=(0.3, 0.3))
    with pytest.raises(ValueError, match="signs"):
        Annihilation1D(signs=(1, 1))
    with pytest.raises(ValueError, match="disjoint"):
        Annihilation1D(centres=(-1.0, 0.0, 1.0), radii=(0.4, 0.7, 0.4))
    with pytest.raises(ValueError, match="cfl"):
        m.solve_continuum(1.0, resolution=64, cfl=1.5)
    with pytest.raises(ValueError, match="window"):
        m.solve_continuum(1.0, resolution=64, window=(1.0, -1.0))
    with pytest.raises(ValueError, match="resolution"):
        m.solve_continuum(1.0, resolution=8)


def test_weak_form_3_6_with_wall_v_and_regularised_w():
    """Lemma 4.6(iii) with both interaction terms of (3.6): V = wall, W = W_δ, four blocks (events inside
    the window). φ(t, x) = sin²(πt/T) exp(-x²/4); time integrals by the trapezoidal rule."""
    m = Annihilation1D(V="wall", W="regularised", delta=0.3, centres=(-2.4, -0.8, 0.8, 2.4), radii=(0.5,) * 4)
    n, T = 40, 1.5
    times = np.linspace(0.0, T, 3001)
    tr = m.simulate_particles(m.sample_particles(n), T, times=times)
    assert len(tr.events) > 0
    b0 = tr.info["charges"]

    def dv(r):  # V'(r) = -r / sinh² r, V'(0) := 0
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(r != 0, -r / np.sinh(r) ** 2, 0.0)

    def dw(r):
        return r / (r**2 + 0.09)

    for sign in (1, -1):
        term1, term2, term3 = [], [], []
        for t, x, b in zip(tr.times, tr.positions, tr.info["active"], strict=True):
            amp = np.sin(np.pi * t / T) ** 2
            term1.append(np.sum(np.pi / T * np.sin(2 * np.pi * t / T) * np.exp(-x[b0 == sign] ** 2 / 4)) / n)
            xa, xo = x[b == sign], x[b == -sign]
            g = amp * (-xa / 2) * np.exp(-xa**2 / 4)  # ∂_x φ on [κ_n]_±
            d = xa[:, None] - xa[None, :]
            term2.append(0.5 * np.sum((g[:, None] - g[None, :]) * dv(d)) / n**2)
            term3.append(np.sum(g * dw(xa[:, None] - xo[None, :]).sum(axis=1)) / n**2)
        lhs = np.trapezoid(term1, tr.times)
        rhs = np.trapezoid(term2, tr.times) + np.trapezoid(term3, tr.times)
        assert abs(term3[len(times) // 2]) > 1e-3 * abs(term2[len(times) // 2])  # the W term matters
        assert abs(lhs - rhs) < 1e-4 * (abs(lhs) + abs(rhs))
