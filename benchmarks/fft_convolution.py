"""2-D periodic 512² FFT convolution: meanfield.solvers.fft (pyFFTW, cached plans) against numpy.fft.

Run: PYTHONPATH=. python benchmarks/fft_convolution.py
Prints the median time of each over repeats and the ratio numpy / meanfield.solvers.fft; planning (paid
once per shape) is timed separately and excluded from the ratio.
"""

import time

import numpy as np
from _timing import median_time

from meanfield.solvers import fft


def main(n=512):
    rng = np.random.default_rng(0)
    f, g = rng.normal(size=(n, n)), rng.normal(size=(n, n))
    t0 = time.perf_counter()
    ours = fft.convolve_periodic(f, g)  # first call plans
    planning = time.perf_counter() - t0
    ref = np.fft.irfftn(np.fft.rfftn(f) * np.fft.rfftn(g), f.shape, axes=(0, 1))
    assert np.allclose(ours, ref, atol=1e-9)
    t_ours = median_time(lambda: fft.convolve_periodic(f, g))
    t_numpy = median_time(lambda: np.fft.irfftn(np.fft.rfftn(f) * np.fft.rfftn(g), f.shape, axes=(0, 1)))
    print(f"{n}x{n} periodic convolution (backend {fft.BACKEND}): meanfield.solvers.fft {t_ours * 1e3:.2f} ms, "
          f"numpy.fft {t_numpy * 1e3:.2f} ms, ratio numpy/solvers.fft = {t_numpy / t_ours:.2f} "
          f"(planning once: {planning:.2f} s)")


if __name__ == "__main__":
    main()
