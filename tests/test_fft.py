"""FFT module: transforms vs numpy, convolutions vs direct sums, spectral operators, backends agree."""

import os
import subprocess
import sys

import numpy as np
import pytest

from meanfield.solvers import fft

rng = np.random.default_rng(3)


def test_transforms_match_numpy():
    a = rng.normal(size=(12, 10))
    np.testing.assert_allclose(fft.rfftn(a), np.fft.rfftn(a), atol=1e-12)
    np.testing.assert_allclose(fft.fftn(a + 1j * a), np.fft.fftn(a + 1j * a), atol=1e-12)
    np.testing.assert_allclose(fft.ifftn(fft.fftn(a)).real, a, atol=1e-13)
    # transforms over the trailing axes only (a stack of fields)
    stack = rng.normal(size=(3, 8, 8))
    np.testing.assert_allclose(fft.rfftn(stack, ndim=2), np.fft.rfftn(stack, axes=(1, 2)), atol=1e-12)


def test_periodic_convolution_equals_direct_sum():
    n, h = 16, 0.1
    f, g = rng.normal(size=n), rng.normal(size=n)
    direct = np.array([sum(f[j] * g[(i - j) % n] for j in range(n)) for i in range(n)]) * h
    np.testing.assert_allclose(fft.convolve_periodic(f, g, h), direct, atol=1e-12)


def test_free_space_convolution_has_no_periodic_images():
    shape, spacing = (9, 7), (0.2, 0.3)
    f = rng.normal(size=shape)
    kernel = lambda x, y: np.exp(-(x**2) - 2 * y**2) + x  # noqa: E731 - asymmetric, not periodic
    k_hat = fft.free_space_kernel_hat(kernel, shape, spacing)
    out = fft.convolve_free_space(f, k_hat, cell_volume=0.06)
    ii, jj = np.meshgrid(np.arange(9), np.arange(7), indexing="ij")
    direct = np.zeros(shape)
    for i in range(9):
        for j in range(7):
            direct[i, j] = np.sum(f * kernel((i - ii) * 0.2, (j - jj) * 0.3)) * 0.06
    np.testing.assert_allclose(out, direct, atol=1e-12)


def test_spectral_derivative_exact_for_trigonometric_polynomials():
    n, L = 32, 3.0
    x = np.arange(n) * L / n
    f = np.sin(2 * np.pi * 3 * x / L) + np.cos(2 * np.pi * 5 * x / L)
    df = 2 * np.pi / L * (3 * np.cos(2 * np.pi * 3 * x / L) - 5 * np.sin(2 * np.pi * 5 * x / L))
    np.testing.assert_allclose(fft.spectral_derivative(f, L, 0), df, atol=1e-11)
    d2 = fft.spectral_derivative(f, L, 0, order=2)
    np.testing.assert_allclose(
        d2, -((2 * np.pi / L) ** 2) * (9 * np.sin(2 * np.pi * 3 * x / L) + 25 * np.cos(2 * np.pi * 5 * x / L)),
        atol=1e-9,
    )


def test_poisson_periodic_inverts_laplacian():
    n, L = 24, (1.0, 2.0)
    x, y = np.meshgrid(np.arange(n) / n, np.arange(n) * 2.0 / n, indexing="ij")
    u = np.sin(2 * np.pi * x) * np.cos(np.pi * y)
    f = (4 * np.pi**2 + np.pi**2) * u  # -Laplace u
    np.testing.assert_allclose(fft.poisson_periodic(f + 3.0, L), u, atol=1e-12)


@pytest.mark.skipif(fft.BACKEND != "pyfftw", reason="pyFFTW not installed: only one backend to compare")
def test_scipy_fallback_gives_the_same_numbers(tmp_path):
    code = (
        "import numpy as np; from meanfield.solvers import fft; assert fft.BACKEND == 'scipy';"
        "a = np.random.default_rng(1).normal(size=(16, 12));"
        "np.save('out.npy', fft.irfftn(fft.rfftn(a) * 1.5, a.shape))"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, MEANFIELD_FFT="scipy", PYTHONPATH=root)
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=tmp_path)
    theirs = np.load(tmp_path / "out.npy")
    a = np.random.default_rng(1).normal(size=(16, 12))
    np.testing.assert_allclose(fft.irfftn(fft.rfftn(a) * 1.5, a.shape), theirs, atol=1e-13)
