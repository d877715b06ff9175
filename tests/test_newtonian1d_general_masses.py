"""Paper 002 with general masses: the cluster engine (minimal-norm subgradient, Remark 3.6)."""

import itertools

import numpy as np
import pytest

from meanfield.models.newtonian1d import Newtonian1D, energy
from meanfield.particles.sticky_clusters1d import cluster_velocities, simulate_general_masses
from meanfield.particles.sticky_events1d import simulate_two_species_events

MODEL = Newtonian1D()


def _pav(target, weight):
    """Weighted isotonic regression (pool adjacent violators): argmin sum w (v - t)^2, v sorted."""
    blocks = []  # (value, weight, count)
    for t, w in zip(target, weight, strict=True):
        blocks.append([t, w, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, c2 = blocks.pop()
            v1, w1, c1 = blocks.pop()
            blocks.append([(w1 * v1 + w2 * v2) / (w1 + w2), w1 + w2, c1 + c2])
    return np.concatenate([[v] * c for v, _, c in blocks])


def _brute_force_cluster(mx, ax, my, by):
    """Independent solution of the cluster QP: for every interleaving of the two species the
    |v_i - v_j| terms are linear, the problem is an isotonic regression (PAV); keep the best."""
    A, B = len(mx), len(my)

    def objective(vx, vy):
        f = np.sum(mx * (vx ** 2 / 2 - ax * vx)) + np.sum(my * (vy ** 2 / 2 - by * vy))
        return f + sum(mx[i] * my[j] * abs(vx[i] - vy[j]) for i in range(A) for j in range(B))

    best = None
    for xs in itertools.combinations(range(A + B), A):  # positions of the x's in the merged order
        seq = []
        ix = iy = 0
        for k in range(A + B):
            if k in xs:
                seq.append(("x", ix))
                ix += 1
            else:
                seq.append(("y", iy))
                iy += 1
        pos = {s: k for k, s in enumerate(seq)}
        tgt, wts = [], []
        for sp, r in seq:
            if sp == "x":  # d/dv_i of sum_j m n sign(order) (v_i - v_j) = m * sum_j n * s_ij
                s = sum(my[j] * np.sign(pos[("x", r)] - pos[("y", j)]) for j in range(B))
                tgt.append(ax[r] - s)
                wts.append(mx[r])
            else:
                s = sum(mx[i] * np.sign(pos[("y", r)] - pos[("x", i)]) for i in range(A))
                tgt.append(by[r] - s)
                wts.append(my[r])
        v = _pav(tgt, wts)
        vx = np.array([v[pos[("x", i)]] for i in range(A)])
        vy = np.array([v[pos[("y", j)]] for j in range(B)])
        f = objective(vx, vy)
        if best is None or f < best[0] - 1e-14:
            best = (f, vx, vy)
    return best[1], best[2]


@pytest.mark.parametrize("seed", range(40))
def test_cluster_velocities_match_brute_force_over_interleavings(seed):
    rng = np.random.default_rng(seed)
    A, B = rng.integers(0, 4, size=2)
    if A + B == 0:
        A = 1
    mx, my = rng.uniform(0.05, 0.5, A), rng.uniform(0.05, 0.5, B)
    ax, by = rng.normal(0, 0.7, A), rng.normal(0, 0.7, B)
    vx, vy = cluster_velocities(mx, ax, my, by)
    rx, ry = _brute_force_cluster(mx, ax, my, by)
    np.testing.assert_allclose(vx, rx, atol=1e-12)
    np.testing.assert_allclose(vy, ry, atol=1e-12)


def _random_state(rng, nx, ny, clusters=True):
    x = np.sort(rng.uniform(0, 1, nx))
    y = np.sort(rng.uniform(0.2, 1.2, ny))
    if clusters:  # initial coincidences within and across species
        x[1] = x[0]
        y[-2:] = x[-1]
    mx = rng.uniform(0.2, 1.0, nx)
    my = rng.uniform(0.2, 1.0, ny)
    return np.sort(x), np.sort(y), mx / mx.sum(), my / my.sum()


@pytest.mark.parametrize("seed", range(4))
def test_general_engine_equals_equal_mass_engine(seed):
    rng = np.random.default_rng(seed)
    n = 60
    x, y, _, _ = _random_state(rng, n, n)
    m = np.full(n, 1.0 / n)
    ts = np.linspace(0, 1.5, 7)
    a = simulate_general_masses(x, y, m, m, ts, 1.5)
    b = simulate_two_species_events(x, y, m, m, ts, 1.5)
    np.testing.assert_allclose(a["x"], b["x"], atol=1e-13)
    np.testing.assert_allclose(a["y"], b["y"], atol=1e-13)
    assert (a["n_cross"], a["n_stick"]) == (b["n_cross"], b["n_stick"])


def test_same_species_collision_and_triple_cluster_exact():
    # x = (0, 2), masses 1/2; y = (1.2), mass 1 (m_1 + m_2 < 2 n: Thm 4.2 fails, theory page 002).
    # v = (1/2, -1/2 | 0): x_2 meets y at t=1.6 (at 1.2); a - b = 1 < m + n = 3/2 so they stick
    # with v = (1/2 * 1/2 + 1 * (-1/2)) / (3/2) = -1/6; x_1 reaches them at t=2.2 at 1.1; the
    # triple has targets (-1/2, 1/2 | 0) and rests there for ever (energy 0).
    st = (np.array([0.0, 2.0]), np.array([1.2]))
    ms = (np.array([0.5, 0.5]), np.array([1.0]))
    tr = MODEL.simulate_particles(st, t_end=3.0, times=[1.6, 2.0, 3.0], masses=ms)
    kinds = [(round(t, 12), k, ij) for t, k, ij in tr.events]
    assert kinds == [(1.6, "stick", (1, 0)), (2.2, "stick", (0, 0)), (2.2, "x-cluster", (0, 1))]
    np.testing.assert_allclose(tr.info["x"][1], [1.0, 1.2 - 0.4 / 6], atol=1e-14)
    np.testing.assert_allclose(tr.info["x"][2], [1.1, 1.1], atol=1e-14)
    np.testing.assert_allclose(tr.info["y"][2], [1.1], atol=1e-14)


@pytest.mark.parametrize("seed", range(5))
def test_invariants_general_masses(seed):
    """Ordering, total centre of mass (translation invariance, theory page 002), support hull (Prop
    4.1), energy non-increasing and piecewise linear between meetings."""
    rng = np.random.default_rng(100 + seed)
    nx, ny = rng.integers(20, 60, size=2)
    x, y, mx, my = _random_state(rng, nx, ny)
    ts = np.linspace(0, 2.0, 41)
    tr = MODEL.simulate_particles((x, y), t_end=2.0, times=ts, masses=(mx, my))
    X, Y = tr.info["x"], tr.info["y"]
    assert np.all(np.diff(X, axis=1) >= -1e-14) and np.all(np.diff(Y, axis=1) >= -1e-14)
    com = X @ mx + Y @ my
    np.testing.assert_allclose(com, com[0], atol=1e-13)
    lo, hi = min(x[0], y[0]), max(x[-1], y[-1])
    assert X.min() >= lo - 1e-14 and Y.min() >= lo - 1e-14 and X.max() <= hi + 1e-14 and Y.max() <= hi + 1e-14
    e = tr.info["energy"]
    assert np.all(np.diff(e) <= 1e-14)
    assert tr.info["n_meetings"] > 0


@pytest.mark.parametrize("seed", range(5))
def test_w2_contraction_weighted_norm_theorem_3_1(seed):
    """Thm 3.1: ||Z1(t) - Z2(t)||_w <= ||Z1(0) - Z2(0)||_w for the same masses (any masses)."""
    rng = np.random.default_rng(200 + seed)
    nx, ny = 30, 25
    x1, y1, mx, my = _random_state(rng, nx, ny)
    x2 = np.sort(x1 + rng.normal(0, 0.1, nx))
    y2 = np.sort(y1 + rng.normal(0, 0.1, ny))
    ts = np.linspace(0, 2.0, 21)
    a = simulate_general_masses(x1, y1, mx, my, ts, 2.0)
    b = simulate_general_masses(x2, y2, mx, my, ts, 2.0)
    d = np.sqrt(((a["x"] - b["x"]) ** 2) @ mx + ((a["y"] - b["y"]) ** 2) @ my)
    assert np.all(np.diff(d) <= 1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_final_velocity_is_a_subgradient(seed):
    """-v in dF(Z) (Def. 3.3 / (58)): F(Z') - F(Z) >= <-v, Z' - Z>_w for every Z' in the cone
    (F is convex, Lemma 3.3); checked on random cone points near and far from Z."""
    rng = np.random.default_rng(300 + seed)
    x, y, mx, my = _random_state(rng, 25, 18)
    r = simulate_general_masses(x, y, mx, my, [0.7], 0.7)
    X, Y, vx, vy = r["x"][0], r["y"][0], r["velocity_x"], r["velocity_y"]
    f0 = energy(X, Y, mx, my)
    for scale in (1e-6, 1e-3, 0.3):
        for _ in range(50):
            Xp = np.sort(X + scale * rng.normal(size=X.size))
            Yp = np.sort(Y + scale * rng.normal(size=Y.size))
            lin = -(mx @ (vx * (Xp - X)) + my @ (vy * (Yp - Y)))
            assert energy(Xp, Yp, mx, my) - f0 >= lin - 1e-13


def test_ghosts_refused_for_general_masses():
    st = (np.array([0.0, 1.0]), np.array([0.5]))
    with pytest.raises(ValueError, match="equal masses"):
        MODEL.simulate_particles(st, t_end=1.0, masses=(np.array([0.5, 0.5]), np.array([1.0])), ghosts=(-1.0, -1.0))
