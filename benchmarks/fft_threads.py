"""pyFFTW real transforms on one thread vs two, across sizes: where a second thread pays.

Run: ``python benchmarks/fft_threads.py``. Prints best-of-5 times and the two-thread speed-up
(> 1: two threads faster). ``meanfield.solvers.fft`` uses one thread below 2**14 points from this.
"""

import time

import numpy as np
import pyfftw
import pyfftw.builders as builders


def best_time(plan, a, repeats=5, window=0.1):
    plan(a)
    best = np.inf
    for _ in range(repeats):
        start, k = time.perf_counter(), 0
        while time.perf_counter() - start < window:
            plan(a)
            k += 1
        best = min(best, (time.perf_counter() - start) / k)
    return best


def main():
    cases = [((3200,), (0,)), ((2, 3200), (1,)), ((64, 64), (0, 1)), ((128, 128), (0, 1)),
             ((2, 128, 128), (1, 2)), ((256, 256), (0, 1)), ((512, 512), (0, 1)),
             ((64, 64, 64), (0, 1, 2)), ((128, 128, 128), (0, 1, 2))]
    print(f"{'shape':>16} {'points':>8} {'1 thread ms':>12} {'2 threads ms':>13} {'speed-up':>9}")
    for shape, axes in cases:
        a = pyfftw.empty_aligned(shape, dtype="float64")
        a[:] = np.random.default_rng(0).random(shape)
        effort = "FFTW_MEASURE" if a.size >= 2**14 else "FFTW_ESTIMATE"
        t1, t2 = (best_time(builders.rfftn(a, axes=axes, threads=th, planner_effort=effort), a) for th in (1, 2))
        print(f"{shape!s:>16} {a.size:>8} {1e3 * t1:12.4f} {1e3 * t2:13.4f} {t1 / t2:9.2f}")


if __name__ == "__main__":
    main()
