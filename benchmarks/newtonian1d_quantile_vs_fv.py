"""Benchmark (model 002): the two continuum solvers at equal accuracy. Prints CPU times and ratio.

Reference: quantile flow with M = 8192 at t = 0.5 (overlapping uniform data). Each solver is
refined (M doubled) until W1(solution, reference), summed over species, is below ``tol``; the
CPU time of that run (this process, best of 5 repeats; the machine is shared) is compared. The
quantile flow is second order, the upwind FV first order.

    python benchmarks/newtonian1d_quantile_vs_fv.py [tol]
"""

import sys
import time

from meanfield.metrics import wasserstein
from meanfield.models.newtonian1d import Newtonian1D


def w1(sol, ref, t):
    """W1 (exact in 1-D) between the two solutions, summed over species."""
    return sum(float(wasserstein(sol.measure(t, species=sp), ref.measure(t, species=sp), p=1)) for sp in ("rho", "eta"))


def main():
    tol = float(sys.argv[1]) if len(sys.argv) > 1 else 1e-3
    m = Newtonian1D()
    T = 0.5
    ref = m.solve_continuum(T, [T], resolution=8192, scheme="quantile")
    res = {}
    for method in ("quantile", "finite_volume"):
        M = 16
        while True:
            t0 = time.process_time()
            sol = m.solve_continuum(T, [T], resolution=M, scheme=method)
            wall = time.process_time() - t0
            err = w1(sol, ref, T)
            print(f"{method:14s} M={M:6d}: W1 = {err:.3e}, {wall:.4f} s")
            if err <= tol or M >= 8192:
                for _ in range(5):
                    t0 = time.process_time()
                    m.solve_continuum(T, [T], resolution=M, scheme=method)
                    wall = min(wall, time.process_time() - t0)
                res[method] = (M, err, wall)
                break
            M *= 2
    (mq, _, wq), (mf, _, wf) = res["quantile"], res["finite_volume"]
    print(f"tol {tol:g}: quantile M={mq} {wq:.4f} s CPU; finite volume M={mf} {wf:.4f} s CPU (best of 5)")
    print(f"ratio finite_volume/quantile = {wf / wq:.1f}")


if __name__ == "__main__":
    main()
