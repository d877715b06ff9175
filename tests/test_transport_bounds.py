"""Certified brackets (meanfield.metrics.transport_bounds) against exact transport and closed forms."""

import numpy as np
import pytest

from meanfield.measures import Domain, EmpiricalMeasure, GridDensity
from meanfield.metrics import bounded_lipschitz, wasserstein
from meanfield.metrics.transport_bounds import (
    Bracket,
    bounded_lipschitz_bracket,
    wasserstein_bracket,
)
from meanfield.solvers.grids import UniformGrid

rng = np.random.default_rng(20261202)
DOMAINS = [Domain(2), Domain.torus(2, 1.0), Domain(3), Domain.torus(3, (1.0, 2.0, 1.5), (0.0, -1.0, 0.5))]


def _cloud(n, domain, shift=0.0, scale=1.0):
    lo = np.zeros(domain.dim) if not domain.periodic else np.asarray(domain.origin)
    ext = np.ones(domain.dim) if not domain.periodic else np.asarray(domain.period)
    return lo + ext * (shift + scale * rng.random((n, domain.dim)))


# --- exact route equals the exact functions; binned route contains them ----------------------
@pytest.mark.parametrize("domain", DOMAINS, ids=lambda d: d.describe())
@pytest.mark.parametrize("p", [1, 2])
def test_wasserstein_brackets_contain_exact_value(domain, p):
    a, b = rng.random(150) + 0.2, rng.random(120) + 0.2
    mu = EmpiricalMeasure(_cloud(150, domain), a / a.sum(), domain)
    nu = EmpiricalMeasure(_cloud(120, domain, 0.2, 0.7), b / b.sum(), domain)
    exact = wasserstein(mu, nu, p)
    direct = wasserstein_bracket(mu, nu, p)
    assert direct.method == "exact" and direct.is_exact
    assert direct.value == pytest.approx(exact, rel=1e-12)
    for cells in (8, 64, 512):
        br = wasserstein_bracket(mu, nu, p, cells=cells)
        assert br.method == "binned"
        assert br.lower <= exact <= br.upper
        assert br.lower >= 0
    # the binning bound shrinks with the cell: the finer grid's bracket is narrower
    assert wasserstein_bracket(mu, nu, p, cells=512).width < wasserstein_bracket(mu, nu, p, cells=8).width


@pytest.mark.parametrize("domain", DOMAINS, ids=lambda d: d.describe())
@pytest.mark.parametrize("convention", ["max", "sum"])
def test_bl_brackets_contain_exact_value(domain, convention):
    mu = EmpiricalMeasure(_cloud(60, domain), rng.normal(size=60) / 40, domain)
    nu = EmpiricalMeasure(_cloud(50, domain, 0.3, 0.5), rng.random(50) / 50, domain)
    exact = bounded_lipschitz(mu, nu, convention)
    direct = bounded_lipschitz_bracket(mu, nu, convention)
    assert direct.method == "exact"
    assert direct.lower * (1 - 1e-9) <= exact <= direct.upper * (1 + 1e-9)
    assert direct.width <= 1e-3 * direct.upper + 1e-12
    if convention == "max":
        assert direct.is_exact and direct.value == pytest.approx(exact, rel=1e-12)
    for cells in (8, 64, 512):
        br = bounded_lipschitz_bracket(mu, nu, convention, cells=cells)
        assert br.lower <= exact <= br.upper


def test_bl_sum_cutting_planes_are_few_and_certified():
    """Kelley's planes on the concave, piecewise-linear a -> S(a, 1-a) stop within a few solves,
    with the golden-section value of bounded_lipschitz inside; a tighter rtol still holds it."""
    D = Domain(2)
    x, y = rng.random((80, 2)), rng.random((70, 2)) * 0.5 + 0.4
    mu, nu = EmpiricalMeasure(x, rng.random(80) / 80, D), EmpiricalMeasure(y, rng.random(70) / 60, D)
    exact = bounded_lipschitz(mu, nu, "sum")
    for rtol in (1e-2, 1e-6):
        br = bounded_lipschitz_bracket(mu, nu, "sum", rtol=rtol)
        assert br.lower * (1 - 1e-9) <= exact <= br.upper * (1 + 1e-9)
        assert br.width <= rtol * br.upper
        assert br.details["transport_solves"] <= 12
    # "sum" never exceeds "max" (its admissible set is smaller)
    assert br.lower <= bounded_lipschitz_bracket(mu, nu, "max").upper


# --- densities: a closed form and the refined exact route -------------------------------------
@pytest.mark.parametrize("p", [1, 2])
def test_translated_density_closed_form(p):
    """On R^2, W_p(rho, rho(. - s)) = |s| m^{1/p}: the translation is a coupling of cost |s|^p per
    unit mass, and the first moment (a 1-Lipschitz test) gives W_p >= W_1 >= |s| m."""
    g = UniformGrid((0.0, 0.0), (4.0, 1.0), (256, 64), periodic=False)
    vals = np.zeros(g.shape)
    vals[4:20, 6:20] = rng.random((16, 14)) + 0.5
    shifted = np.zeros(g.shape)
    shifted[4 + 150 : 20 + 150, 6 + 5 : 20 + 5] = vals[4:20, 6:20]
    rho, tau = GridDensity(vals, g), GridDensity(shifted, g)
    s = np.hypot(150 * g.spacing[0], 5 * g.spacing[1])
    exact = s * rho.mass ** (1 / p)
    for cells in (None, 64, 512):
        br = wasserstein_bracket(rho, tau, p, cells=cells, max_pairs=2**18)
        assert br.lower <= exact <= br.upper
    fine = wasserstein_bracket(rho, tau, p, max_pairs=2**18)
    assert fine.method == "exact"
    # cells of 1/64: width 2 * 2 * sqrt(2/12)/64 per unit mass (eq. 1-2) against s = 2.35: 1.1 %
    assert fine.relative_width <= 0.02


@pytest.mark.parametrize("domain_kind", ["R2", "T2", "T3"])
def test_density_vs_particles_agrees_with_subcell_exact_route(domain_kind):
    """The bracket of the density's own distance must meet [V_k - e_k, V_k + e_k], where V_k is the
    exact distance with k^d sub-cell atoms per cell and e_k their binning bound (both hold it)."""
    d = 3 if domain_kind == "T3" else 2
    n, k = (4, 2) if d == 3 else (8, 3)
    g = UniformGrid(0, 1, (n,) * d, periodic=domain_kind != "R2")
    vals = rng.random(g.shape) + 0.3
    rho = GridDensity(vals / vals.sum() / g.cell_volume, g)
    mu = EmpiricalMeasure(rng.random((90, d)) ** 2, domain=rho.domain)
    h = g.spacing / k
    e4 = np.sqrt(np.sum(h**2) / 12)  # eq. 1 per unit mass (Jensen for p = 1)
    for p in (1, 2):
        ref = wasserstein(mu, rho, p, subcells=k)
        for cells in (None, 27, 343):
            br = wasserstein_bracket(mu, rho, p, cells=cells)
            assert br.lower <= ref + e4 and br.upper >= ref - e4
    for convention in ("max", "sum"):
        ref = bounded_lipschitz(mu, rho, convention, subcells=k)
        for cells in (None, 27, 343):
            br = bounded_lipschitz_bracket(mu, rho, convention, cells=cells)
            assert br.lower <= ref + e4 and br.upper >= ref - e4


def test_binned_route_is_two_percent_when_the_distance_spans_many_cells():
    """Two clouds about 1 apart on R^2, about 140 cells of the common 128^2 grid: the binned
    bracket's width 2 (e_mu + e_nu) is about 4 * 0.38 |h| per unit mass, under 2 % of the value."""
    D = Domain(2)
    x = rng.normal(0.15, 0.03, size=(3000, 2))
    y = rng.normal(0.85, 0.03, size=(3000, 2))
    mu, nu = EmpiricalMeasure(x, domain=D), EmpiricalMeasure(y, domain=D)
    exact_mean_gap = np.linalg.norm(x.mean(0) - y.mean(0))  # W1 >= |difference of means|
    br = wasserstein_bracket(mu, nu, 1, cells=2**14)
    assert br.method == "binned"
    assert br.upper >= exact_mean_gap
    assert br.relative_width <= 0.02


def test_one_signed_bl_is_total_mass():
    D = Domain.torus(2, 1.0)
    mu = EmpiricalMeasure(rng.random((30, 2)), rng.random(30), D)
    nu = EmpiricalMeasure(rng.random((20, 2)), -rng.random(20), D)
    for conv in ("max", "sum"):
        br = bounded_lipschitz_bracket(mu, nu, conv)
        assert br.is_exact and br.value == pytest.approx(mu.mass - nu.mass, rel=1e-12)


def test_bracket_object():
    b = Bracket(1.0, 1.5, "binned", "W1")
    assert b.value == 1.25 and b.width == 0.5 and 1.2 in b and 2.0 not in b
    assert b.relative_width == pytest.approx(1 / 3) and not b.is_exact
    assert "W1" in repr(b)


# --- bad input refused before any work --------------------------------------------------------
def test_bad_input_refused():
    D = Domain(2)
    mu = EmpiricalMeasure(rng.random((10, 2)), domain=D)
    nu = EmpiricalMeasure(rng.random((12, 2)), domain=D)
    for p in (0.5, np.nan, np.inf, -1):
        with pytest.raises(ValueError, match="p must"):
            wasserstein_bracket(mu, nu, p)
    with pytest.raises(TypeError, match="p must"):
        wasserstein_bracket(mu, nu, True)
    for mp in (0, -3, 2.5, True, 2**40):
        with pytest.raises(ValueError, match="max_pairs"):
            wasserstein_bracket(mu, nu, 1, max_pairs=mp)
    for cells in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="cells"):
            wasserstein_bracket(mu, nu, 1, cells=cells)
    with pytest.raises(ValueError, match="cells must be at most"):
        wasserstein_bracket(mu, nu, 1, cells=10**9)
    # refused from the occupied cells' count, before the cost matrix is built
    big = EmpiricalMeasure(rng.random((12000, 2)), domain=D)
    big2 = EmpiricalMeasure(rng.random((12000, 2)), domain=D)
    with pytest.raises(ValueError, match="GiB"):
        wasserstein_bracket(big, big2, 1, cells=2**22)
    with pytest.raises(ValueError, match="GiB"):
        bounded_lipschitz_bracket(big, big2, "max", cells=2**22)
    with pytest.raises(ValueError, match="2-D and 3-D"):
        wasserstein_bracket(EmpiricalMeasure([0.0, 1.0]), EmpiricalMeasure([0.5]), 1)
    with pytest.raises(ValueError, match="equal masses"):
        wasserstein_bracket(mu, EmpiricalMeasure(rng.random((12, 2)), 0.1, D), 1)
    with pytest.raises(ValueError, match="negative"):
        wasserstein_bracket(EmpiricalMeasure(rng.random((10, 2)), -0.1, D), nu, 1)
    with pytest.raises(ValueError, match="nu must be"):
        wasserstein_bracket(mu, np.zeros((3, 2)), 1)
    with pytest.raises(ValueError, match="lives on"):
        wasserstein_bracket(mu, EmpiricalMeasure(rng.random((12, 2)), domain=Domain.torus(2)), 1)
    with pytest.raises(ValueError, match="convention"):
        bounded_lipschitz_bracket(mu, nu, "min")
    for rtol in (0, 1, -0.1, np.nan, "x"):
        with pytest.raises(ValueError, match="rtol"):
            bounded_lipschitz_bracket(mu, nu, "sum", rtol=rtol)
    with pytest.raises(ValueError, match="max_solves"):
        bounded_lipschitz_bracket(mu, nu, "sum", max_solves=1)


# --- semi-discrete brackets: particles against the piecewise-constant density itself ----------
def _semidiscrete_case(n_cells, n_parts, periodic, dim=2, seed=0):
    grid = UniformGrid(0, 1, (n_cells,) * dim, periodic=periodic)
    bump = GridDensity.from_function(lambda *x: 1 + 0.6 * np.cos(2 * np.pi * x[0]) * np.sin(2 * np.pi * x[1]), grid, 2)
    rho = GridDensity(bump.values / bump.mass, grid)
    return rho, rho.sample(n_parts, rng=seed)


@pytest.mark.parametrize("periodic", [False, True])
@pytest.mark.parametrize("p", [1, 2])
def test_semidiscrete_bracket_one_particle_closed_form(periodic, p):
    """One particle against a density: the plan is forced, ``W_p^p = ∫ |x - y|^p ρ(y) dy``, here by a
    64^2-point midpoint rule per cell (exact for p = 2 in free space; on the torus and for p = 1
    its error is far below 1e-4 of the value)."""
    from meanfield.metrics.semidiscrete import semidiscrete_bracket

    rho, _ = _semidiscrete_case(8, 1, periodic)
    x = np.array([[0.31, 0.77]])
    mu = EmpiricalMeasure(x, np.ones(1), rho.domain)
    h = rho.grid.spacing
    k = 64
    off = (np.arange(k) + 0.5) / k - 0.5
    sub = np.stack(np.meshgrid(off * h[0], off * h[1], indexing="ij"), axis=-1).reshape(-1, 2)
    dist = np.linalg.norm(rho.domain.displacement(x[:, None, :], rho.grid.points()[:, None, :] + sub[None]), axis=-1)
    exact = float(np.sum(rho.cell_masses.ravel() * (dist**p).mean(axis=1))) ** (1 / p)
    br = semidiscrete_bracket(mu, rho, p, subcells=4)
    assert br.method == "semidiscrete"
    assert br.lower <= exact * (1 + 1e-4) and exact * (1 - 1e-4) <= br.upper
    assert br.relative_width < 0.02


@pytest.mark.parametrize("periodic", [False, True])
@pytest.mark.parametrize("p", [1, 2])
def test_semidiscrete_bracket_contains_and_converges(periodic, p):
    """Against exact network simplex on sub-cell centres: ``V_k`` (k sub-cells per axis) is within
    ``e_k = (Σ s^2/12)^{1/2}`` (s = h/k) of the true value, so the bracket meets [V_k - e_k, V_k + e_k]
    for every k, and holds V_8 up to e_8; its width shrinks as the sub-cells are refined."""
    from meanfield.metrics.semidiscrete import semidiscrete_bracket

    rho, mu = _semidiscrete_case(8, 120, periodic, seed=3)
    h = rho.grid.spacing
    widths = []
    for q in (1, 2, 4):
        br = semidiscrete_bracket(mu, rho, p, subcells=q)
        widths.append(br.width)
        for k in (2, 8):
            exact = float(wasserstein(mu, rho, p, subcells=k))
            e = float(np.sqrt(np.sum((h / k) ** 2) / 12))
            assert br.lower <= exact + e and exact - e <= br.upper
    assert widths[2] < widths[1] < widths[0]
    assert widths[2] < 0.1 * br.upper


def test_semidiscrete_bracket_checks_input():
    from meanfield.metrics.semidiscrete import semidiscrete_bracket

    rho, mu = _semidiscrete_case(4, 10, True)
    with pytest.raises(ValueError, match="p must be 1 or 2"):
        semidiscrete_bracket(mu, rho, 3)
    with pytest.raises(ValueError, match="one EmpiricalMeasure and one GridDensity"):
        semidiscrete_bracket(mu, mu, 2)
    with pytest.raises(ValueError, match="equal masses"):
        semidiscrete_bracket(EmpiricalMeasure(mu.positions, mu.weights * 2, mu.domain), rho, 2)
    with pytest.raises(TypeError, match="subcells"):
        semidiscrete_bracket(mu, rho, 2, subcells="4")


def test_wasserstein_bracket_routes_particles_vs_density_to_semidiscrete():
    """Above max_pairs, particles against a density take the semi-discrete route (either order);
    forcing ``cells`` keeps the binned one; both contain the exact sub-cell value up to its bound."""
    rho, mu = _semidiscrete_case(8, 100, True, seed=5)
    exact = float(wasserstein(mu, rho, 2, subcells=8))
    e = float(np.sqrt(np.sum((rho.grid.spacing / 8) ** 2) / 12))
    for first, second in ((mu, rho), (rho, mu)):
        br = wasserstein_bracket(first, second, 2, max_pairs=1000)
        assert br.method == "semidiscrete"
        assert br.lower <= exact + e and exact - e <= br.upper
    binned = wasserstein_bracket(mu, rho, 2, max_pairs=1000, cells=16)
    assert binned.method == "binned" and binned.width > br.width
