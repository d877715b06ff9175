"""User initial data normalised to the species' masses, with clear errors."""

import numpy as np
import pytest

from meanfield.measures import GridDensity
from meanfield.models.contract import density_on_grid, initial_densities
from meanfield.solvers.grids import UniformGrid

GRID = UniformGrid((-2.0, -2.0), (2.0, 2.0), (16, 16))


def test_callable_is_normalised_to_the_species_mass():
    d = density_on_grid(lambda x, y: np.exp(-(x**2 + y**2)), GRID, 0.6, "+")
    assert d.mass == pytest.approx(0.6, rel=1e-14)
    both = initial_densities({"+": lambda x, y: 1 + 0 * x, "-": lambda x, y: (x > 0) * 1.0}, ("+", "-"), GRID,
                             {"+": 0.3, "-": 0.7})
    assert both["+"].mass == pytest.approx(0.3) and both["-"].mass == pytest.approx(0.7)
    np.testing.assert_allclose(both["-"].values[:8], 0.0)


def test_grid_density_must_match_grid_and_mass():
    g = GridDensity(np.full(GRID.shape, 0.5 / 16.0), GRID)
    assert density_on_grid(g, GRID, g.mass) is g
    with pytest.raises(ValueError, match="has mass"):
        density_on_grid(g, GRID, 2 * g.mass, "+")
    with pytest.raises(ValueError, match="lives on"):
        density_on_grid(g, GRID.refine(2), g.mass)


@pytest.mark.parametrize("f, match", [(lambda x, y: 0 * x, "positive and finite"),
                                      (lambda x, y: x, "non-negative|positive"),
                                      (lambda x, y: np.nan * x, "unusable")])
def test_bad_callables_are_refused(f, match):
    with pytest.raises(ValueError, match=match):
        density_on_grid(f, GRID, 1.0)


def test_species_keys_and_types_are_checked():
    with pytest.raises(ValueError, match="species"):
        initial_densities({"+": lambda x, y: 1 + 0 * x}, ("+", "-"), GRID, {"+": 0.5, "-": 0.5})
    with pytest.raises(TypeError, match="dict keyed by species"):
        initial_densities(lambda x, y: 1 + 0 * x, ("+", "-"), GRID, {"+": 0.5, "-": 0.5})
    with pytest.raises(TypeError, match="callable density"):
        initial_densities({"a": 3.0}, ("a",), GRID, {"a": 1.0})
    assert initial_densities(None, ("a",), GRID, {"a": 1.0}) is None


def test_same_params_compares_arrays_by_value_and_callables_by_identity():
    from meanfield.models.contract import same_params

    def f(x):
        return x

    a = {"sigma": 1.0, "centres": (-1.0, 1.0), "w": np.ones(3), "kernel": f}
    assert same_params(a, dict(a, w=np.ones(3), centres=(-1.0, 1.0)))
    assert not same_params(a, dict(a, w=np.array([1.0, 1.0, 2.0])))
    assert not same_params(a, dict(a, kernel=lambda x: x))
    assert not same_params(a, dict(a, sigma=1))        # a type change is a change
    assert not same_params(a, {k: v for k, v in a.items() if k != "w"})
