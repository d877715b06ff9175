"""Metrics against independent references: scipy, POT, closed forms, a brute-force LP."""

import bisect
import itertools
from fractions import Fraction

import numpy as np
import ot
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize

from meanfield.measures import Domain, EmpiricalMeasure, GridDensity, IntervalDensity1D
from meanfield.metrics import bounded_lipschitz, wasserstein, wasserstein_1d
from meanfield.solvers.grids import UniformGrid

rng = np.random.default_rng(20261123)


# --- Wasserstein, 1-D -------------------------------------------------------------------------
def test_w1_matches_scipy_weighted():
    x, y = rng.normal(size=500), rng.normal(0.3, 2.0, size=333)
    wx, wy = rng.random(500), rng.random(333)
    mu, nu = EmpiricalMeasure(x, wx / wx.sum()), EmpiricalMeasure(y, wy / wy.sum())
    assert wasserstein(mu, nu, 1) == pytest.approx(scipy.stats.wasserstein_distance(x, y, wx, wy), rel=1e-12)


@pytest.mark.parametrize("p", [1.0, 2.0, 3.5])
def test_wp_1d_matches_pot(p):
    x, y = rng.random(80) * 4, rng.random(60) * 3 + 1
    a, b = rng.random(80), rng.random(60)
    a, b = a / a.sum(), b / b.sum()
    ref = ot.emd2(a, b, np.abs(x[:, None] - y[None, :]) ** p, numItermax=10**7) ** (1 / p)
    assert wasserstein(EmpiricalMeasure(x, a), EmpiricalMeasure(y, b), p) == pytest.approx(ref, rel=1e-10)


@pytest.mark.parametrize("n", [1, 7, 64])
def test_uniform_density_vs_midpoint_lattice(n):
    """W1(U[0,1], (1/n) Σ δ_{(i-1/2)/n}) = 1/(4n) and W2 = 1/(sqrt(12) n), exactly."""
    lattice = EmpiricalMeasure((np.arange(n) + 0.5) / n)
    grid = UniformGrid(0, 1, 40, periodic=False)
    uniform = (GridDensity(np.ones(40), grid), IntervalDensity1D([0, 0.3, 1], [0.3, 0.7]))
    for dens in uniform:
        assert wasserstein(dens, lattice, 1) == pytest.approx(1 / (4 * n), rel=1e-12)
        assert wasserstein(dens, lattice, 2) == pytest.approx(1 / (np.sqrt(12) * n), rel=1e-12)


def test_w2_between_1d_gaussians_closed_form():
    """Quantile-discretised Gaussians: W2 -> sqrt((m1-m2)^2 + (s1-s2)^2)."""
    q = scipy.stats.norm.ppf((np.arange(4000) + 0.5) / 4000)
    mu, nu = EmpiricalMeasure(1.0 + 2.0 * q), EmpiricalMeasure(-0.5 + 0.5 * q)
    exact = np.hypot(1.5, 1.5 * np.std(q))  # same discretisation on both sides: exact for it
    assert wasserstein(mu, nu, 2) == pytest.approx(exact, rel=1e-12)


def test_point_masses_and_translation():
    assert wasserstein(EmpiricalMeasure([0.0]), EmpiricalMeasure([2.5]), 3) == pytest.approx(2.5)
    x = rng.normal(size=(40, 2))
    shift = np.array([0.3, -0.4])
    assert wasserstein(EmpiricalMeasure(x), EmpiricalMeasure(x + shift), 2) == pytest.approx(0.5, rel=1e-10)


def _exact_wp_pow(first, second, p):
    """W_p^p of two sorted quantile-piece lists ``(mass, left, right)`` in exact rational arithmetic
    (integer p): merged breakpoints, then ∫_0^1 |a + (b - a)t|^p dt in closed form per interval."""
    F = Fraction
    pieces = []
    for mass, left, right in (first, second):
        cum = [F(0)]
        for m in mass:
            cum.append(cum[-1] + F(float(m)))
        pieces.append((cum, [F(float(v)) for v in left], [F(float(v)) for v in right]))
    total = min(pieces[0][0][-1], pieces[1][0][-1])
    bps = sorted({c for cum, _, _ in pieces for c in cum if c <= total})

    def quantile(k, s, upper):
        cum, left, right = pieces[k]
        i = bisect.bisect_left(cum, s) - 1 if upper else bisect.bisect_right(cum, s) - 1
        i = min(max(i, 0), len(left) - 1)
        frac = (s - cum[i]) / (cum[i + 1] - cum[i])
        return left[i] + (right[i] - left[i]) * frac

    acc = F(0)
    for lo, hi in itertools.pairwise(bps):
        a = quantile(0, lo, False) - quantile(1, lo, False)
        b = quantile(0, hi, True) - quantile(1, hi, True)
        if a == b:
            mean = abs(a) ** p
        elif (a < 0) != (b < 0) and a != 0 and b != 0:
            mean = (abs(a) ** (p + 1) + abs(b) ** (p + 1)) / ((p + 1) * (abs(a) + abs(b)))
        else:
            u, v = max(abs(a), abs(b)), min(abs(a), abs(b))
            mean = (u ** (p + 1) - v ** (p + 1)) / ((p + 1) * (u - v))
        acc += (hi - lo) * mean
    return acc


@pytest.mark.parametrize("p", [1, 2, 3])
def test_wp_1d_against_exact_rational_arithmetic(p):
    """Atoms with general weights against atoms, and a density with uneven cells against atoms:
    the compiled merge agrees with exact rational arithmetic to a few ulps."""
    x, y = rng.normal(size=150), rng.normal(0.2, 1.5, size=110)
    wx, wy = rng.random(150), rng.random(110)
    wy *= wx.sum() / wy.sum()
    edges = np.concatenate(([-1.0], np.sort(rng.uniform(-1, 2, 30)), [2.0]))
    cells = rng.random(31) * (rng.random(31) > 0.2)  # some empty cells
    cells *= wx.sum() / cells.sum()
    mu, nu, rho = EmpiricalMeasure(x, wx), EmpiricalMeasure(y, wy), IntervalDensity1D(edges, cells)
    o, q = np.argsort(x), np.argsort(y)
    atoms_x, atoms_y = (wx[o], x[o], x[o]), (wy[q], y[q], y[q])
    pieces_rho = (cells, edges[:-1], edges[1:])
    for (a, b), (ref_a, ref_b) in (((mu, nu), (atoms_x, atoms_y)), ((rho, nu), (pieces_rho, atoms_y))):
        exact = float(_exact_wp_pow(ref_a, ref_b, p)) ** (1 / p)
        assert wasserstein_1d(a, b, p) == pytest.approx(exact, rel=1e-14)


def test_radix_sort_carries_weights_and_is_stable():
    from meanfield.metrics._quantile1d import sort_with_weights

    x = np.concatenate((rng.normal(size=5000) * 10.0 ** rng.integers(-300, 300, 5000), [0.0, -0.0, 3.0, 3.0, -1e-320]))
    x = np.concatenate((x, x[:100]))  # ties
    w = rng.random(x.size)
    xs, ws = sort_with_weights(x, w)
    order = np.argsort(x, kind="stable")
    assert np.array_equal(xs, x[order]) and np.array_equal(ws[xs != 0], w[order][xs != 0])


def test_w1_1d_large_matches_scipy():
    n = 100_000
    x, y = rng.normal(size=n), rng.standard_cauchy(size=n - 7)
    wx, wy = rng.random(n), rng.random(n - 7)
    mu, nu = EmpiricalMeasure(x, wx / wx.sum()), EmpiricalMeasure(y, wy / wy.sum())
    assert wasserstein_1d(mu, nu, 1) == pytest.approx(scipy.stats.wasserstein_distance(x, y, wx, wy), rel=1e-12)
    same = EmpiricalMeasure(np.sort(x)), EmpiricalMeasure(np.sort(x)[::-1].copy())
    assert wasserstein_1d(*same, 2) == 0.0


def test_circle_w1_matches_pot_with_periodic_cost():
    D = Domain.torus(1, 2.0, -1.0)
    x, y = rng.random(50) * 2 - 1, rng.random(70) * 2 - 1
    c = np.abs(x[:, None] - y[None, :])
    c = np.minimum(c, 2.0 - c)
    ref = ot.emd2(np.full(50, 1 / 50), np.full(70, 1 / 70), c, numItermax=10**7)
    assert wasserstein(EmpiricalMeasure(x, domain=D), EmpiricalMeasure(y, domain=D)) == pytest.approx(ref, rel=1e-10)


def test_circle_density_vs_lattice():
    D = Domain.torus(1, 1.0)
    g = UniformGrid(0, 1, 30, periodic=True)
    lattice = EmpiricalMeasure(np.arange(10) / 10, domain=D)  # points on cell edges of the lattice
    assert wasserstein(GridDensity(np.ones(30), g), lattice) == pytest.approx(1 / 40, rel=1e-10)


# --- Wasserstein, 2-D -------------------------------------------------------------------------
def test_w2_2d_matches_pot_and_periodic_minimal_image():
    x, y = rng.random((60, 2)), rng.random((45, 2))
    ref = ot.emd2(np.full(60, 1 / 60), np.full(45, 1 / 45), ot.dist(x, y), numItermax=10**7) ** 0.5
    assert wasserstein(EmpiricalMeasure(x), EmpiricalMeasure(y), 2) == pytest.approx(ref, rel=1e-10)
    T = Domain.torus(2, 1.0)
    a, b = EmpiricalMeasure([[0.05, 0.5]], domain=T), EmpiricalMeasure([[0.95, 0.5]], domain=T)
    assert wasserstein(a, b, 1) == pytest.approx(0.1)


def test_torus_uniform_vs_lattice_constant_within_discretisation_bound():
    """The lattice constant: W1(ν_ε, uniform on T²) = c ε with c = (√2 + ln(1+√2))/6; the density
    enters at sub-cell centres, which moves it by at most |h|/2."""
    eps, k = 0.25, 16
    lat = (np.arange(4) + 0.0) * eps
    points = np.stack(np.meshgrid(lat, lat, indexing="ij"), -1).reshape(-1, 2)
    lattice = EmpiricalMeasure(points, domain=Domain.torus(2))
    grid = UniformGrid(0, 1, (8, 8), periodic=True)
    dens = GridDensity(np.ones((8, 8)), grid)
    value = wasserstein(dens, lattice, 1, subcells=k)
    exact = (np.sqrt(2) + np.log(1 + np.sqrt(2))) / 6 * eps
    assert abs(value - exact) <= np.sqrt(2) * (1 / 8 / k) / 2


# --- large p: scaled form ---------------------------------------------------------------------
def test_large_p_1d_exact():
    """W_2000 in 1-D: no power underflows or overflows (scaled by the largest displacement)."""
    p = 2000
    assert wasserstein(EmpiricalMeasure([0.0]), EmpiricalMeasure([0.5]), p) == pytest.approx(0.5, rel=1e-15)
    two = wasserstein(EmpiricalMeasure([0.0, 1.0]), EmpiricalMeasure([0.25, 1.5]), p)
    assert two == pytest.approx(0.5 * 0.5 ** (1 / p), rel=1e-14)  # (½·0.25^p + ½·0.5^p)^(1/p)
    # uniform on [0, 1] against δ_{1/2}: ∫|x - ½|^p dx = 2^-p / (p + 1)
    uniform = IntervalDensity1D([0.0, 0.25, 1.0], [0.25, 0.75])
    assert wasserstein(uniform, EmpiricalMeasure([0.5]), p) == pytest.approx(0.5 * (p + 1) ** (-1 / p), rel=1e-14)
    assert wasserstein(EmpiricalMeasure([0.0]), EmpiricalMeasure([1e200]), 2) == pytest.approx(1e200, rel=1e-15)
    assert wasserstein(EmpiricalMeasure([0.0]), EmpiricalMeasure([1e-200]), 2) == pytest.approx(1e-200, rel=1e-15)
    x = rng.random(50)
    assert wasserstein(EmpiricalMeasure(x), EmpiricalMeasure(x[::-1].copy()), p) == 0.0


def test_large_p_2d_exact_or_refused():
    p = 2000
    a, b = EmpiricalMeasure([[0.0, 0.0]]), EmpiricalMeasure([[0.5, 0.0]])
    assert wasserstein(a, b, p) == pytest.approx(0.5, rel=1e-14)
    # forced plan: one atom against three, W_p^p = Σ b_j d_j^p with d = 0.5, 0.5, 0.1
    cloud = EmpiricalMeasure([[0.3, 0.4], [-0.5, 0.0], [0.0, 0.1]], [0.25, 0.25, 0.5])
    assert wasserstein(a, cloud, p) == pytest.approx(0.5 * 0.5 ** (1 / p), rel=1e-14)
    # two atoms each, optimal moves at the largest pairwise distance: vertical 1, diagonal 1
    top, bottom = EmpiricalMeasure([[0.0, 1.0], [1.0, 0.0]]), EmpiricalMeasure([[0.0, 0.0], [1.0, 1.0]])
    assert wasserstein(top, bottom, p) == pytest.approx(1.0, rel=1e-14)
    x = rng.random((12, 2))
    cloud, moved = EmpiricalMeasure(x), EmpiricalMeasure(x + np.array([0.3, 0.4]))
    # a translated cloud: W_p = 0.5 for every p, but far below the largest distance at p = 2000,
    # where the network simplex cannot resolve the optimum: refused, not a wrong number
    assert wasserstein(cloud, moved, 8) == pytest.approx(0.5, rel=1e-12)
    with pytest.raises(ValueError, match="p=2000"):
        wasserstein(cloud, moved, p)


# --- bounded Lipschitz ------------------------------------------------------------------------
def _bl_brute_force(x, s, conv, dom):
    """LP over f at all support points with every pairwise Lipschitz constraint."""
    n = len(s)
    dist = np.linalg.norm(dom.displacement(x[:, None, :], x[None, :, :]), axis=-1)
    rows, rhs = [], []
    for i in range(n):
        for j in range(n):
            if i != j:
                r = np.zeros(n + 1)
                r[i], r[j] = 1, -1
                if conv == "max":
                    rhs.append(dist[i, j])
                else:
                    r[n] = -dist[i, j]
                    rhs.append(0.0)
                rows.append(r)
        for sign in (1, -1):
            r = np.zeros(n + 1)
            r[i] = sign
            r[n] = 1.0 if conv == "sum" else 0.0
            rows.append(r)
            rhs.append(1.0)
    bounds = [(None, None)] * n + ([(0, 0)] if conv == "max" else [(0, 1)])
    res = optimize.linprog(np.append(-s, 0), A_ub=np.array(rows), b_ub=rhs, bounds=bounds, method="highs")
    return -res.fun


@pytest.mark.parametrize("dim", [1, 2])
@pytest.mark.parametrize("periodic", [False, True])
@pytest.mark.parametrize("conv", ["max", "sum"])
def test_bl_matches_brute_force_lp(dim, periodic, conv):
    dom = Domain.torus(dim, 1.0) if periodic else Domain(dim)
    scale = 1.0 if periodic else 3.0
    for _ in range(3):
        x, y = rng.random((7, dim)) * scale, rng.random((5, dim)) * scale
        wx, wy = rng.normal(size=7), rng.random(5)
        mu, nu = EmpiricalMeasure(x, wx, dom), EmpiricalMeasure(y, wy, dom)
        ref = _bl_brute_force(np.concatenate((mu.positions, nu.positions)), np.concatenate((wx, -wy)), conv, dom)
        assert bounded_lipschitz(mu, nu, conv) == pytest.approx(ref, rel=1e-8, abs=1e-10)


@pytest.mark.parametrize("periodic", [False, True])
def test_bl_sum_2d_medium_matches_brute_force_lp(periodic):
    """The cutting-plane search for "sum" on sets big enough for it to take many solves."""
    dom = Domain.torus(2, 1.0) if periodic else Domain(2)
    x, y = rng.random((30, 2)), rng.random((24, 2))
    wx, wy = np.full(30, 1 / 30), rng.random(24)
    wy /= wy.sum() * 1.1
    mu, nu = EmpiricalMeasure(x, wx, dom), EmpiricalMeasure(y, wy, dom)
    ref = _bl_brute_force(np.concatenate((mu.positions, nu.positions)), np.concatenate((wx, -wy)), "sum", dom)
    assert bounded_lipschitz(mu, nu, "sum") == pytest.approx(ref, rel=1e-8)


def _bl_sum_parts(seed, dim, periodic, n, m, signed):
    r = np.random.default_rng(seed)
    dom = Domain.torus(dim, 1.0) if periodic else Domain(dim)
    x, y = r.random((n, dim)), r.random((m, dim)) * (1.0 if periodic else 2.0)
    wx = r.normal(size=n) if signed else np.full(n, 1.0 / n)
    wy = r.random(m) / m * r.uniform(0.5, 1.5)
    return dom, EmpiricalMeasure(x, wx, dom), EmpiricalMeasure(y, wy, dom)


@pytest.mark.parametrize("periodic", [False, True])
@pytest.mark.parametrize("signed", [False, True])
def test_bl_sum_sparse_search_1d_matches_chain_lp(periodic, signed):
    """The transport route (sparse solves, secant/Hermite/Kelley search) on 1-D atoms against the
    independent chain LP of bounded_lipschitz_1d, on random signed measures of unequal masses."""
    from meanfield.metrics import bounded_lipschitz_1d, bounded_lipschitz_ot

    for seed in range(4):
        dom, mu, nu = _bl_sum_parts(seed, 1, periodic, 40, 30, signed)
        x = np.concatenate((mu.positions, nu.positions))
        s = np.concatenate((mu.weights, -nu.weights))
        ref = bounded_lipschitz_1d(x[:, 0], s, "sum", period=1.0 if periodic else None)
        assert bounded_lipschitz_ot(x, s, dom, "sum") == pytest.approx(ref, rel=1e-10, abs=1e-14)


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("periodic", [False, True])
@pytest.mark.parametrize("signed", [False, True])
def test_bl_sum_sparse_search_matches_brute_force_lp(dim, periodic, signed):
    dom, mu, nu = _bl_sum_parts(dim * 10 + periodic + 2 * signed, dim, periodic, 26, 20, signed)
    x = np.concatenate((mu.positions, nu.positions))
    s = np.concatenate((mu.weights, -nu.weights))
    assert bounded_lipschitz(mu, nu, "sum") == pytest.approx(_bl_brute_force(x, s, "sum", dom), rel=1e-9)


@pytest.mark.parametrize("periodic", [False, True])
def test_bl_sparse_solve_equals_dense_solve(periodic):
    """The sparse augmented problem (pairs within 2a/b and the dummies) has the dense problem's
    optimal value, to round-off, at every (a, b)."""
    import sys

    module = sys.modules["meanfield.metrics.bounded_lipschitz"]
    dom, mu, nu = _bl_sum_parts(5, 2, periodic, 120, 90, False)
    t = module._AugmentedTransport(mu.positions, mu.weights, nu.positions, nu.weights, dom, 10**7)
    for a in (1e-3, 0.02, 0.1, 0.3, 0.5, 0.9):
        dense, sparse = t.solve(a, 1 - a), t.solve_sparse(a, 1 - a)
        assert sparse[0] == pytest.approx(dense[0], rel=1e-12)
        # both plans are optimal: each one's line touches S at a
        for value, through, moved in (dense, sparse):
            assert a * through + (1 - a) * moved == pytest.approx(value, rel=1e-12)


def test_bl_sum_search_takes_few_solves():
    """800 particles against a 32^2 density on T^2 (the benchmark's case): the sparse search closes
    its certificate in at most 10 transports (14 dense ones before)."""
    import sys

    module = sys.modules["meanfield.metrics.bounded_lipschitz"]
    r = np.random.default_rng(2)
    parts = EmpiricalMeasure(r.random((800, 2)), np.full(800, 1 / 800), Domain.torus(2))
    grid = UniformGrid(0, 1, (32, 32), periodic=True)
    x, y = grid.mesh()
    dens = GridDensity(1 + 0.3 * np.sin(2 * np.pi * x) * np.cos(2 * np.pi * y), grid)
    calls = []
    original = module._AugmentedTransport.solve_sparse

    def counted(self, a, b):
        calls.append(a)
        return original(self, a, b)

    module._AugmentedTransport.solve_sparse = counted
    try:
        value = bounded_lipschitz(parts, dens, "sum")
    finally:
        module._AugmentedTransport.solve_sparse = original
    assert len(calls) <= 10
    # the value of the dense cutting-plane search this replaced (commit b1fdc54), to round-off
    assert value == pytest.approx(0.02467961225562044, rel=1e-12)


def test_bl_closed_forms():
    a, b = EmpiricalMeasure([0.0]), EmpiricalMeasure([0.3])
    assert bounded_lipschitz(a, b) == pytest.approx(0.3)  # f = x - 0.15 clipped
    assert bounded_lipschitz(EmpiricalMeasure([0.0]), EmpiricalMeasure([5.0])) == pytest.approx(2.0)
    # "sum": sup over L of (1 - L)*... for two unit masses at distance d: max(2(1-L), L d) with L <= 1 -> 2d/(2+d)
    d = 0.7
    assert bounded_lipschitz(EmpiricalMeasure([0.0]), EmpiricalMeasure([d]), "sum") == pytest.approx(2 * d / (2 + d))
    # different masses: a positive measure alone has norm = its mass
    assert bounded_lipschitz(EmpiricalMeasure([0.0, 1.0], [0.2, 0.5]), None) == pytest.approx(0.7)


def test_bl_density_within_stated_discretisation_bound():
    """A density enters at sub-cell centres: error ≤ |ρ| h / (4 k) in 1-D."""
    grid = UniformGrid(0, 2, 10, periodic=False)
    dens = GridDensity(np.full(10, 0.5), grid)
    lattice = EmpiricalMeasure(np.linspace(0.05, 1.95, 20), np.full(20, 0.05))
    fine = bounded_lipschitz(dens, lattice, subcells=64)
    for k in (1, 2, 4):
        coarse = bounded_lipschitz(dens, lattice, subcells=k)
        assert abs(coarse - fine) <= 0.2 / (4 * k) + 0.2 / (4 * 64)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from(["max", "sum"]))
def test_bl_is_a_norm_of_the_difference(seed, conv):
    r = np.random.default_rng(seed)
    mus = [EmpiricalMeasure(r.random((4, 2)), r.normal(size=4)) for _ in range(3)]
    d01 = bounded_lipschitz(mus[0], mus[1], conv)
    assert d01 == pytest.approx(bounded_lipschitz(mus[1], mus[0], conv), rel=1e-9, abs=1e-12)
    assert d01 <= bounded_lipschitz(mus[0], mus[2], conv) + bounded_lipschitz(mus[2], mus[1], conv) + 1e-9
    assert bounded_lipschitz(mus[0], mus[0], conv) == pytest.approx(0.0, abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 2))
def test_bl_below_w1_for_probability_measures(seed, dim):
    r = np.random.default_rng(seed)
    mu, nu = EmpiricalMeasure(r.random((6, dim)) * 4), EmpiricalMeasure(r.random((9, dim)) * 4)
    w1 = wasserstein(mu, nu, 1)
    assert bounded_lipschitz(mu, nu, "sum") <= bounded_lipschitz(mu, nu, "max") <= w1 + 1e-9


# --- bad input --------------------------------------------------------------------------------
def test_bad_input_named():
    mu = EmpiricalMeasure([0.0, 1.0])
    with pytest.raises(ValueError, match="equal masses"):
        wasserstein(mu, EmpiricalMeasure([0.5], [2.0]))
    with pytest.raises(ValueError, match="nu has negative mass"):
        wasserstein(mu, EmpiricalMeasure([0.5, 1.0], [1.5, -0.5]))
    with pytest.raises(ValueError, match="dimensional"):
        wasserstein(mu, EmpiricalMeasure([[0.5, 1.0]]))
    with pytest.raises(ValueError, match="torus"):
        bounded_lipschitz(mu, EmpiricalMeasure([0.5], domain=Domain.torus(1)))
    with pytest.raises(ValueError, match="p must be"):
        wasserstein(mu, mu, p=0.5)
    with pytest.raises(ValueError, match="convention"):
        bounded_lipschitz(mu, mu, convention="l2")
    with pytest.raises(ValueError, match="finite"):
        EmpiricalMeasure([0.0, np.nan])
    with pytest.raises(ValueError, match="empty"):
        EmpiricalMeasure(np.zeros((0, 1)))
    with pytest.raises(ValueError, match="mu must be"):
        wasserstein(np.zeros(3), mu)


def test_bad_numbers_named_before_work():
    mu = EmpiricalMeasure([0.0, 1.0])
    dens = GridDensity(np.ones((4, 4)), UniformGrid(0, 1, (4, 4), periodic=False))
    pts = EmpiricalMeasure(rng.random((16, 2)))
    for bad, exc in (("2", TypeError), (None, TypeError), (1j, TypeError), (True, TypeError), (np.nan, ValueError),
                     (np.inf, ValueError), (0.5, ValueError)):
        for func in (wasserstein, wasserstein_1d):
            with pytest.raises(exc, match="p must"):
                func(mu, mu, bad)
    for kwargs, exc, name in (({"subcells": "3"}, TypeError, "subcells"), ({"subcells": 2.5}, ValueError, "subcells"),
                              ({"subcells": 0}, ValueError, "subcells"), ({"subcells": None}, TypeError, "subcells"),
                              ({"num_iter_max": "many"}, TypeError, "num_iter_max"),
                              ({"num_iter_max": np.nan}, ValueError, "num_iter_max"),
                              ({"num_iter_max": 0}, ValueError, "num_iter_max")):
        with pytest.raises(exc, match=name):
            wasserstein(dens, pts, 1, **kwargs)
    with pytest.raises(TypeError, match="subcells"):
        bounded_lipschitz(dens, pts, subcells=None)
    with pytest.raises(ValueError, match="convention"):
        bounded_lipschitz(dens, pts, convention=None)
    assert wasserstein(dens, pts, 2.0, subcells=np.int64(2), num_iter_max=10.0**7) > 0  # integral values accepted


def test_overflowing_weights_and_positions_refused():
    big = EmpiricalMeasure([0.0, 1.0], [1e308, 1e308])
    for func in (wasserstein, wasserstein_1d, bounded_lipschitz):
        with pytest.raises(ValueError, match="mu has total mass inf"):
            func(big, big)
    with pytest.raises(ValueError, match="nu has total mass inf"):
        bounded_lipschitz(EmpiricalMeasure([0.0]), EmpiricalMeasure([0.0, 1.0], [1e308, -1e308]))
    with pytest.raises(ValueError, match="overflow"):
        wasserstein(EmpiricalMeasure([-1e308]), EmpiricalMeasure([1e308]))


def test_wasserstein_1d_checks_like_wasserstein():
    mu = EmpiricalMeasure([0.0, 1.0])
    with pytest.raises(ValueError, match="equal masses"):
        wasserstein_1d(mu, EmpiricalMeasure([0.5], [2.0]))
    with pytest.raises(ValueError, match="negative mass"):
        wasserstein_1d(mu, EmpiricalMeasure([0.5, 1.0], [1.5, -0.5]))
    with pytest.raises(ValueError, match="circle"):
        wasserstein_1d(EmpiricalMeasure([0.1], domain=Domain.torus(1)), EmpiricalMeasure([0.2], domain=Domain.torus(1)))
    with pytest.raises(ValueError, match="dimensional"):
        wasserstein_1d(mu, EmpiricalMeasure([[0.5, 1.0]]))


def test_sizes_beyond_memory_refused_before_allocation():
    from meanfield.metrics._inputs import physical_memory

    total = physical_memory()
    if not total:
        pytest.skip("the OS does not report its physical memory")
    n = int(np.sqrt(total / 48)) + 1000  # 48 bytes per pair > 100 % of memory; arrays of n points are small
    mu, nu = EmpiricalMeasure(rng.random((n, 2))), EmpiricalMeasure(rng.random((n, 2)))
    for func in (wasserstein, bounded_lipschitz):
        with pytest.raises(ValueError, match=r"GiB.*refused before allocating"):
            func(mu, nu)
    dens = GridDensity(np.ones((8, 8)), UniformGrid(0, 1, (8, 8), periodic=True))
    with pytest.raises(ValueError, match=r"sub-cells.*GiB"):
        wasserstein(dens, EmpiricalMeasure(rng.random((5, 2)), domain=Domain.torus(2)), subcells=10**5)


# --- negative round-off parts -----------------------------------------------------------------
def test_round_off_negative_part_dropped_and_reported():
    """A density with tiny negative values (spectral round-off): the negative part is dropped, the
    positive part rescaled to the density's total mass, the dropped mass reported on the result;
    the same in 1-D (wasserstein and wasserstein_1d) and in 2-D (wasserstein and wasserstein_ot)."""
    import pickle

    from meanfield.metrics import wasserstein_ot

    for shape, funcs in (((64,), (wasserstein, wasserstein_1d)), ((8, 8), (wasserstein, wasserstein_ot))):
        grid = UniformGrid(0, 1, shape, periodic=False)
        values = 1.0 + 0.5 * rng.random(shape)
        values.ravel()[[3, 17]] = -3.7e-10
        signed = GridDensity(values, grid)
        clean = GridDensity(np.clip(values, 0, None) * signed.mass / grid.integrate(np.clip(values, 0, None)), grid)
        pts = EmpiricalMeasure(rng.random((40, len(shape))), np.full(40, signed.mass / 40))
        dropped = 2 * 3.7e-10 * grid.cell_volume
        for func in funcs:
            value = func(signed, pts, 1)
            assert value == pytest.approx(float(func(clean, pts, 1)), rel=1e-12)
            assert value.dropped_negative_mass == pytest.approx((dropped, 0.0), rel=1e-12)
            swapped = func(pts, signed, 1)
            assert swapped.dropped_negative_mass == pytest.approx((0.0, dropped), rel=1e-12)
        assert func(clean, pts, 1).dropped_negative_mass == (0.0, 0.0)
    again = pickle.loads(pickle.dumps(value))
    assert again == value and again.dropped_negative_mass == value.dropped_negative_mass
    assert isinstance(value, float) and type(value + 1.0) is float


def test_negative_part_above_tolerance_raises_with_its_mass():
    grid = UniformGrid(0, 1, 10, periodic=False)
    values = np.ones(10)
    values[4] = -1e-4  # negative mass 1e-5, 1e-5 of the positive mass > 1e-6
    pts = EmpiricalMeasure(rng.random(10), np.full(10, GridDensity(values, grid).mass / 10))
    with pytest.raises(ValueError, match=r"nu has negative mass 1e-05"):
        wasserstein(pts, GridDensity(values, grid))
    with pytest.raises(ValueError, match=r"mu has negative mass 0.5"):
        wasserstein(EmpiricalMeasure([0.0, 1.0], [1.5, -0.5]), EmpiricalMeasure([0.5]))


def test_w2_3d_translation_and_pot():
    x = rng.normal(size=(30, 3))
    shift = np.array([0.1, -0.2, 0.2])
    assert wasserstein(EmpiricalMeasure(x), EmpiricalMeasure(x + shift), 2) == pytest.approx(0.3, rel=1e-10)
    y = rng.normal(size=(25, 3))
    ref = ot.emd2(np.full(30, 1 / 30), np.full(25, 1 / 25), ot.dist(x, y), numItermax=10**7) ** 0.5
    assert wasserstein(EmpiricalMeasure(x), EmpiricalMeasure(y), 2) == pytest.approx(ref, rel=1e-10)
