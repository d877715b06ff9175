"""The FFT wrappers never modify their arguments (FFTW's c2r transforms destroy their input)."""

import numpy as np

from meanfield.solvers import fft


def test_transforms_leave_input_unchanged_and_round_trip():
    rng = np.random.default_rng(0)
    for shape in [(64,), (32, 48), (8, 8, 8)]:
        f = rng.normal(size=shape)
        f_copy = f.copy()
        f_hat = fft.rfftn(f)
        f_hat_copy = f_hat.copy()
        back = fft.irfftn(f_hat, shape)
        np.testing.assert_array_equal(f, f_copy)
        np.testing.assert_array_equal(f_hat, f_hat_copy)
        np.testing.assert_allclose(back, f, rtol=0, atol=1e-12)
        again = fft.irfftn(f_hat, shape)  # the same input a second time gives the same answer
        np.testing.assert_array_equal(again, back)
