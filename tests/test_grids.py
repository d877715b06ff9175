"""Uniform grids: geometry, wavenumbers, cell lookup, bad input."""

import numpy as np
import pytest

from meanfield.solvers.grids import UniformGrid


def test_geometry_1d_2d_3d():
    g = UniformGrid((0, -1, 2), (1, 1, 5), (4, 8, 3), periodic=(True, False, True))
    np.testing.assert_allclose(g.spacing, [0.25, 0.25, 1.0])
    assert g.cell_volume == pytest.approx(0.0625)
    np.testing.assert_allclose(g.centres[0], [0.125, 0.375, 0.625, 0.875])
    np.testing.assert_allclose(g.edges[1][[0, -1]], [-1, 1])
    assert g.points().shape == (96, 3)
    assert g.integrate(np.ones(g.shape)) == pytest.approx(2 * 3)  # box volume
    assert g.refine(2).shape == (8, 16, 6)


def test_wavenumbers_differentiate_fourier_modes():
    g = UniformGrid(0, 2 * np.pi, 16)
    (k,) = g.wavenumbers()
    x = g.centres[0]
    f = np.exp(3j * x)
    np.testing.assert_allclose(np.fft.ifft(1j * k * np.fft.fft(f)), 3j * f, atol=1e-12)
    (kr,) = g.wavenumbers(real=True)
    np.testing.assert_allclose(kr, np.arange(9))


def test_cell_index_wraps_periodic_and_rejects_outside_walls():
    g = UniformGrid((0, 0), (1, 1), (4, 4), periodic=(True, False))
    idx = g.cell_index(np.array([[1.1, 0.3], [-0.1, 1.0], [0.0, 0.0]]))
    np.testing.assert_array_equal(idx, [[0, 1], [3, 3], [0, 0]])
    with pytest.raises(ValueError, match="outside the grid on axis 1"):
        g.cell_index(np.array([[0.5, 1.2]]))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(lower=0, upper=1, shape=0), "positive integers"),
        (dict(lower=0, upper=1, shape=(2, 2, 2, 2)), "1, 2 or 3"),
        (dict(lower=1, upper=0, shape=4), "upper must exceed lower"),
        (dict(lower=0, upper=np.inf, shape=4), "finite"),
        (dict(lower=(0, 0), upper=1, shape=4), "entries"),
    ],
)
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        UniformGrid(**kwargs)


def test_dealias_mask_is_the_two_thirds_rule():
    from meanfield.solvers.grids import UniformGrid

    n = 12
    mask = UniformGrid(0.0, 1.0, (n, n), periodic=True).dealias_mask(real=True)
    m1 = np.fft.fftfreq(n, 1.0 / n)[:, None]
    m2 = np.fft.rfftfreq(n, 1.0 / n)[None, :]
    np.testing.assert_array_equal(mask, (np.abs(m1) < n / 3) & (np.abs(m2) < n / 3))
    assert mask.shape == (n, n // 2 + 1) and mask.sum() == 7 * 4  # |m| <= 3: 7 values, 4 non-negative
