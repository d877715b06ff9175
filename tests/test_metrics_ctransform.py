"""The exact c-transform by lifted nearest-neighbour search (meanfield.metrics._ctransform_tree)
against the direct loop over all particles (meanfield.metrics._ctransform), an independent method."""

import numpy as np
import pytest

from meanfield.metrics._ctransform import ctransform
from meanfield.metrics._ctransform_tree import ctransform_tree


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("period", [0.0, 1.0])
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("spread", [1e-4, 0.3])
def test_tree_ctransform_equals_direct_loop(dim, period, p, spread):
    """Same best particle, same second-best value; the best value lowered only by its round-off
    bound (so best <= the direct minimum, as certification needs). A large spread of the potentials
    makes the p = 1 search widen its neighbour count several times."""
    rng = np.random.default_rng(dim + 10 * p)
    n, m = 700, 900
    x = rng.random((n, dim))
    y = rng.random((m, dim)) * 1.4 - 0.2  # points outside the box too (wrapped on the torus)
    u = spread * rng.normal(size=n) + 0.2 * (x @ np.arange(1.0, dim + 1))
    per = np.full(dim, period)
    b0, s0, r0, a0 = ctransform(x, u, y, per, p)
    b1, s1, r1, a1 = ctransform_tree(x, u, y, per, p)
    np.testing.assert_array_equal(a1, a0)
    assert np.all(b1 <= b0)
    np.testing.assert_allclose(b1, b0, rtol=0, atol=1e-13)
    np.testing.assert_allclose(s1, s0, rtol=0, atol=1e-13)
    np.testing.assert_allclose(r1, r0, rtol=0, atol=1e-15)


@pytest.mark.parametrize("p", [1, 2])
def test_tree_ctransform_one_and_two_particles(p):
    y = np.array([[0.1, 0.2], [0.9, 0.4]])
    one = ctransform_tree(np.array([[0.5, 0.5]]), np.array([0.3]), y, np.zeros(2), p)
    d = np.hypot(y[:, 0] - 0.5, y[:, 1] - 0.5)
    assert np.all(one[0] <= d**p - 0.3)  # lowered by its round-off bound only
    np.testing.assert_allclose(one[0], d**p - 0.3, rtol=0, atol=1e-14)
    assert np.all(np.isinf(one[1])) and np.all(one[3] == 0)
    x2, u2 = np.array([[0.0, 0.0], [1.0, 0.0]]), np.array([0.0, 0.5])
    two = ctransform_tree(x2, u2, y, np.zeros(2), p)
    vals = np.stack([np.hypot(*(y - x2[i]).T) ** p - u2[i] for i in range(2)], axis=1)
    assert np.all(two[0] <= vals.min(axis=1))
    np.testing.assert_allclose(two[0], vals.min(axis=1), rtol=0, atol=1e-14)
    np.testing.assert_allclose(two[1], vals.max(axis=1), rtol=1e-14)
    np.testing.assert_array_equal(two[3], vals.argmin(axis=1))
