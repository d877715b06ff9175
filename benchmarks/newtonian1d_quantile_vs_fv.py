"""Benchmark (model 002): the two continuum solvers at equal accuracy.

Ours: the quantile (Lagrangian) flow, second order; the reference it is timed against ("peer"): the
upwind finite-volume scheme, first order, both through ``Newtonian1D.solve_continuum`` (NumPy, one
thread, warm). Reference solution: quantile flow with M = 8192 at t = 0.5 (overlapping uniform data).
Each solver is refined (M doubled) until W1(solution, reference), summed over species, is below
``tol``; both errors are printed. Those two runs are then timed with the calls interleaved round by
round (``repeats`` rounds, CPU time of this process; the machine is shared), median and [range] of
the ratio quantile ÷ finite volume. Ends with the peak RSS of the run.

    PYTHONPATH=. python benchmarks/newtonian1d_quantile_vs_fv.py [tol] [repeats]
"""

import sys
import time

from _timing import interleaved_times, load_average, print_peak_rss, ratio_summary, times_summary

from meanfield.metrics import wasserstein
from meanfield.models.newtonian1d import Newtonian1D


def w1(sol, ref, t):
    """W1 (exact in 1-D) between the two solutions, summed over species."""
    return sum(float(wasserstein(sol.measure(t, species=sp), ref.measure(t, species=sp), p=1)) for sp in ("rho", "eta"))


def main():
    tol = float(sys.argv[1]) if len(sys.argv) > 1 else 1e-3
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    m = Newtonian1D()
    T = 0.5
    ref = m.solve_continuum(T, [T], resolution=8192, scheme="quantile")
    res = {}
    for scheme in ("quantile", "finite_volume"):
        M = 16
        while True:
            t0 = time.process_time()
            sol = m.solve_continuum(T, [T], resolution=M, scheme=scheme)
            cpu = time.process_time() - t0
            err = w1(sol, ref, T)
            print(f"{scheme:14s} M={M:6d}: W1 = {err:.3e}, {cpu:.4f} s CPU (first call)")
            if err <= tol or M >= 8192:
                res[scheme] = (M, err)
                break
            M *= 2
    (mq, eq), (mf, ef) = res["quantile"], res["finite_volume"]
    ours, peer = interleaved_times([lambda: m.solve_continuum(T, [T], resolution=mq, scheme="quantile"),
                                    lambda: m.solve_continuum(T, [T], resolution=mf, scheme="finite_volume")],
                                   repeats, clock=time.process_time)
    print(f"tol {tol:g}, {repeats} interleaved rounds, CPU; load average {load_average():.1f}")
    print(f"ours quantile M={mq} (W1 {eq:.2e}): {times_summary(ours)}; finite volume M={mf} (W1 {ef:.2e}): "
          f"{times_summary(peer)}")
    print(f"ratio quantile ÷ finite_volume = {ratio_summary(ours, peer)}")
    print_peak_rss("all runs")


if __name__ == "__main__":
    main()
