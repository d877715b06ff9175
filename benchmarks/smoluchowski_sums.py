"""Coagulation sums of the homogeneous Smoluchowski system: the O(M log M) FFT evaluation for
separable kernels (constant, additive, multiplicative) against the compiled O(M²) loop, on the same
densities, in the same run.

Peer: ``coagulation_operator(f, matrix, "direct")``, the compiled (numba) O(M²) double loop over the
dense kernel matrix built beforehand, warm, one thread (the FFT side: scipy.fft on the separable
factors, warm, one thread). Prints, per M, the ratio ours (fft) ÷ peer (direct) from calls interleaved
round by round (7 repeats, median and [range]; CPU time of this process: both sides are single-threaded,
and on a loaded machine the wall time of a call longer than a scheduler slice counts the waiting), the
agreement of the two (max |difference| / max |rhs|),
the fitted growth exponents of both medians, and the peak RSS of the run.

Run: PYTHONPATH=. python benchmarks/smoluchowski_sums.py [points] [repeats]
(``points`` > 1 evaluates the sums at that many spatial points at once, as the coagulation–diffusion
solver does; default 1, the homogeneous system.)
"""

import sys
import time

import numpy as np
from _timing import interleaved_times, load_average, print_peak_rss, ratio_summary

from meanfield.models.coagulation_sums import SeparableKernel, coagulation_operator
from meanfield.rates import fit_rate


def main(points=1, repeats=7):
    rng = np.random.default_rng(0)
    sizes = [64, 128, 256, 512, 1024, 2048, 4096] if points == 1 else [32, 64, 128, 256, 512]
    print(f"ours: sums='fft'; peer: sums='direct' (compiled O(M²) loop, warm); {repeats} interleaved "
          f"repeats, CPU time; load average {load_average():.1f}")
    for name in ("constant", "additive", "multiplicative"):
        t_direct, t_fft = [], []
        for big_m in sizes:
            sep = getattr(SeparableKernel, name)(big_m)
            mat = sep.matrix()
            f = np.exp(-np.arange(big_m) / (big_m / 8))[:, None] * rng.random((big_m, points))
            d = coagulation_operator(f, mat, "direct")  # also the warm-up of both
            g = coagulation_operator(f, sep, "fft")
            agree = np.abs(d - g).max() / np.abs(d).max()
            ours, peer = interleaved_times([lambda f=f, sep=sep: coagulation_operator(f, sep, "fft"),
                                            lambda f=f, mat=mat: coagulation_operator(f, mat, "direct")], repeats,
                                           clock=time.process_time)
            t_fft.append(float(np.median(ours)))
            t_direct.append(float(np.median(peer)))
            print(f"{name:14s} M={big_m:5d} P={points}: fft {t_fft[-1] * 1e3:8.3f} ms, "
                  f"direct {t_direct[-1] * 1e3:9.3f} ms (medians); "
                  f"ours ÷ peer {ratio_summary(ours, peer)}; agreement {agree:.1e}")
        half = len(sizes) // 2
        slope_direct = fit_rate(sizes[half:], t_direct[half:]).slope
        slope_fft = fit_rate(sizes[half:], t_fft[half:]).slope
        print(f"{name:14s} growth exponent (upper half of M): fft {slope_fft:.2f}, direct {slope_direct:.2f}")
    print_peak_rss("all runs (the dense M×M matrices of the peer included)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1, int(sys.argv[2]) if len(sys.argv) > 2 else 7)
