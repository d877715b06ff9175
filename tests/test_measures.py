"""Measures: construction checks, reconstructions and their stated orders of accuracy."""

import numpy as np
import pytest
from scipy import stats

from meanfield.measures import Domain, EmpiricalMeasure, GridDensity, IntervalDensity1D, deposit
from meanfield.rates import fit_rate
from meanfield.solvers.grids import UniformGrid


# --- Domain ---------------------------------------------------------------------------------
def test_domain_wrap_and_minimal_image():
    dom = Domain.torus(2, period=(1.0, 2.0), origin=(-0.5, 0.0))
    p = np.array([[0.75, -0.5], [-0.6, 4.25]])
    w = dom.wrap(p)
    np.testing.assert_allclose(w, [[-0.25, 1.5], [0.4, 0.25]])
    d = dom.displacement(np.array([0.45, 1.9]), np.array([-0.45, 0.1]))
    np.testing.assert_allclose(d, [-0.1, -0.2])


@pytest.mark.parametrize("kwargs", [dict(dim=0), dict(dim=2, period=(1.0, -1.0)), dict(dim=1, origin=0.0)])
def test_domain_rejects_bad_input(kwargs):
    with pytest.raises(ValueError):
        Domain(**kwargs)


# --- EmpiricalMeasure ---------------------------------------------------------------------------
def test_empirical_defaults_and_signed_weights():
    mu = EmpiricalMeasure([0.0, 1.0, 3.0])
    assert mu.dim == 1 and mu.n == 3
    assert mu.mass == pytest.approx(1.0, abs=1e-15)
    np.testing.assert_allclose(mu.moment(1), [4.0 / 3.0])
    nu = EmpiricalMeasure([[0, 0], [1, 1]], weights=[0.5, -0.25])
    assert not nu.is_nonnegative and nu.mass == pytest.approx(0.25)


@pytest.mark.parametrize(
    "positions, weights, domain, word",
    [
        ([0.0, np.nan], None, None, "positions"),
        ([0.0, np.inf], None, None, "positions"),
        (np.zeros((0, 2)), None, None, "empty"),
        ([0.0, 1.0], [1.0], None, "weights"),
        ([0.0, 1.0], [1.0, np.nan], None, "weights"),
        ([[0.0, 1.0]], None, Domain(3), "domain"),
    ],
)
def test_empirical_rejects_bad_input(positions, weights, domain, word):
    with pytest.raises(ValueError, match=word):
        EmpiricalMeasure(positions, weights, domain)


def test_empirical_wraps_on_torus():
    mu = EmpiricalMeasure([[1.25, -0.25]], domain=Domain.torus(2))
    np.testing.assert_allclose(mu.positions, [[0.25, 0.75]])


# --- GridDensity ----------------------------------------------------------------------------------
def test_from_function_gauss_rule_is_exact_for_cubics():
    grid = UniformGrid(0.0, 2.0, 10, periodic=False)
    d = GridDensity.from_function(lambda x: x**3 - x, grid, quadrature=2)
    edges = grid.edges[0]
    exact = (np.diff(edges**4 / 4 - edges**2 / 2)) / grid.spacing[0]
    np.testing.assert_allclose(d.values, exact, rtol=1e-13, atol=1e-13)
    assert d.mass == pytest.approx(2.0**4 / 4 - 2.0, rel=1e-13)


def test_grid_density_rejects_bad_input():
    grid = UniformGrid(0, 1, (4, 4))
    with pytest.raises(ValueError, match="shape"):
        GridDensity(np.ones(16), grid)
    with pytest.raises(ValueError, match="finite"):
        GridDensity(np.full((4, 4), np.nan), grid)


def test_midpoint_integration_is_second_order():
    phi = lambda x, y: np.exp(x) * np.cos(y)  # noqa: E731
    rho = lambda x, y: 1.0 + x * y  # noqa: E731
    # exact: int_0^1 int_0^1 e^x cos(y) (1 + x y) dx dy
    hs, errs = [], []
    exact = (np.e - 1) * np.sin(1.0) + 1.0 * (np.sin(1.0) + np.cos(1.0) - 1.0)
    for n in (8, 16, 32, 64):
        g = UniformGrid(0, 1, (n, n), periodic=False)
        d = GridDensity.from_function(rho, g, quadrature=3)
        hs.append(1.0 / n)
        errs.append(abs(d.to_empirical().integrate(lambda p: phi(p[:, 0], p[:, 1])) - exact))
    fit = fit_rate(hs, errs)
    assert 1.9 < fit.slope < 2.1, fit


def test_to_empirical_uniform_1d_is_the_lattice():
    grid = UniformGrid(0, 1, 8, periodic=False)
    mu = GridDensity(np.ones(8), grid).to_empirical()
    np.testing.assert_allclose(mu.x, (np.arange(8) + 0.5) / 8)
    np.testing.assert_allclose(mu.weights, 1 / 8)


def test_sample_follows_the_density_and_is_reproducible():
    grid = UniformGrid(0, 2, 16, periodic=False)
    d = GridDensity.from_function(lambda x: 3 * x**2 / 8, grid, quadrature=3)
    a = d.sample(20000, rng=5)
    b = d.sample(20000, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a.positions, b.positions)
    # exact law of the piecewise-constant density: its CDF is piecewise linear through the cell masses
    cdf_nodes = np.concatenate([[0.0], np.cumsum(d.cell_masses)]) / d.mass
    cdf = lambda x: np.interp(x, grid.edges[0], cdf_nodes)  # noqa: E731
    assert stats.kstest(a.x, cdf).pvalue > 1e-3
    assert a.mass == pytest.approx(d.mass)


def test_sample_rejects_negative_density():
    grid = UniformGrid(0, 1, 4, periodic=False)
    with pytest.raises(ValueError, match="negative"):
        GridDensity(np.array([1.0, -1.0, 1.0, 1.0]), grid).sample(10)


# --- deposit ------------------------------------------------------------------------------------
@pytest.mark.parametrize("order", [0, 1])
@pytest.mark.parametrize("periodic", [True, False])
def test_deposit_conserves_mass_exactly(order, periodic):
    rng = np.random.default_rng(1)
    grid = UniformGrid((0, 0), (1, 2), (13, 17), periodic=periodic)
    pts = rng.random((500, 2)) * [1, 2]
    w = rng.random(500)
    g = deposit(EmpiricalMeasure(pts, w, Domain.of_grid(grid)), grid, order)
    assert g.mass == pytest.approx(w.sum(), rel=1e-14)
    assert g.is_nonnegative


@pytest.mark.parametrize("order, band", [(0, (0.8, 1.25)), (1, (1.8, 2.2))])
def test_deposit_order_of_accuracy(order, band):
    """NGP is first order, CIC second order, for smooth test functions (midpoint rule on the grid):
    the worst error over many single Dirac masses scales like h (NGP) and h^2 (CIC)."""
    pts = np.random.default_rng(3).random(200)
    phi = lambda x: np.sin(2 * np.pi * x) + np.cos(6 * np.pi * x)  # noqa: E731
    hs, errs = [], []
    for n in (16, 32, 64, 128, 256, 512):
        grid = UniformGrid(0, 1, n)
        worst = max(
            abs(deposit(EmpiricalMeasure([p], domain=Domain.torus(1)), grid, order).integrate(phi) - phi(p))
            for p in pts
        )
        hs.append(1 / n)
        errs.append(worst)
    fit = fit_rate(hs, errs)
    assert band[0] < fit.slope < band[1], fit


def test_deposit_rejects_points_outside_a_walled_box():
    grid = UniformGrid(0, 1, 8, periodic=False)
    with pytest.raises(ValueError, match="outside"):
        deposit(EmpiricalMeasure([0.5, 1.5]), grid)


# --- IntervalDensity1D ---------------------------------------------------------------------------
def test_interval_density_integrates_piecewise_constant_exactly():
    d = IntervalDensity1D([0.0, 1.0, 1.0, 3.0], [0.5, 0.25, 0.25])  # an atom of 0.25 at x = 1
    assert d.integrate(lambda x: x**2) == pytest.approx(0.5 / 3 + 0.25 + 0.25 * (27 - 1) / 6, rel=1e-13)
    with pytest.raises(ValueError, match="non-decreasing"):
        IntervalDensity1D([0.0, 2.0, 1.0], [0.5, 0.5])
