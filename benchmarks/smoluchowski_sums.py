"""Coagulation sums of the homogeneous Smoluchowski system: the O(M log M) FFT evaluation for
separable kernels (constant, additive, multiplicative) against the compiled O(M²) loop, on the same
densities, in the same run. Prints, per M, both times, their ratio, the agreement (max |difference|
/ max |rhs|), and the fitted growth exponents of both methods.

Run: PYTHONPATH=. python benchmarks/smoluchowski_sums.py [points]
(``points`` > 1 evaluates the sums at that many spatial points at once, as the coagulation–diffusion
solver does; default 1, the homogeneous system.)
"""

import sys

import numpy as np
from _timing import best_time

from meanfield.models.coagulation_sums import SeparableKernel, coagulation_operator
from meanfield.rates import fit_rate


def main(points=1):
    rng = np.random.default_rng(0)
    sizes = [64, 128, 256, 512, 1024, 2048, 4096] if points == 1 else [32, 64, 128, 256, 512]
    for name in ("constant", "additive", "multiplicative"):
        t_direct, t_fft = [], []
        for big_m in sizes:
            sep = getattr(SeparableKernel, name)(big_m)
            mat = sep.matrix()
            f = np.exp(-np.arange(big_m) / (big_m / 8))[:, None] * rng.random((big_m, points))
            d = coagulation_operator(f, mat, "direct")
            g = coagulation_operator(f, sep, "fft")
            agree = np.abs(d - g).max() / np.abs(d).max()
            t_direct.append(best_time(lambda f=f, mat=mat: coagulation_operator(f, mat, "direct"), warmup=True))
            t_fft.append(best_time(lambda f=f, sep=sep: coagulation_operator(f, sep, "fft"), warmup=True))
            print(f"{name:14s} M={big_m:5d} P={points}: direct {t_direct[-1] * 1e3:9.3f} ms, "
                  f"fft {t_fft[-1] * 1e3:8.3f} ms, ratio direct/fft = {t_direct[-1] / t_fft[-1]:7.2f}, "
                  f"agreement {agree:.1e}")
        half = len(sizes) // 2
        slope_direct = fit_rate(sizes[half:], t_direct[half:]).slope
        slope_fft = fit_rate(sizes[half:], t_fft[half:]).slope
        print(f"{name:14s} growth exponent (upper half of M): direct {slope_direct:.2f}, fft {slope_fft:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
