"""MF^ε lattice ETDRK4 step of model 003 against its minimal FFT count (the FFT-bound limit), for the
Gaussian mollifier and the paper's compactly supported bump.

Minimal FFT count (the denominator): ETDRK4 has 4 stages, each one evaluation of the flux part, which needs
6 real 2-D transforms of size N² = (1/ε)²: the densities f^± back on the lattice (one batched inverse of
2), the two components of ∇V_δ * σ (2 inverse; σ̂ = f̂⁺ − f̂⁻ is read off the state, which is in Fourier
space), the flux difference of both species forward (one batched forward of 2) — 4 × 6 = 24 transforms
(``Dislocations2D.lattice_problem``). They are timed as raw FFTW calls (``fft_raw_plans.raw_transforms``:
``plan.execute()`` on aligned buffers, same shapes, planner effort and threads as ``meanfield.solvers.fft``).
The kernel enters only through the precomputed lattice coefficients of ∇V_δ, so a step costs the same for
both mollifiers; what differs is the set-up: the bump's series (|k| < R ≈ 63/δ) is summed by one inverse
FFT on a fine grid of M ≥ 2R points per axis, the Gaussian's by folding 25 alias images.

Per 1/ε, interleaved call by call (``_timing.interleaved_times``, ``--rounds`` rounds): the Gaussian step,
the bump step and the 24 raw transforms; printed: median times and the ratios step/FFTs (1 = FFT bound)
and bump/Gaussian, each as median [min, max] over the rounds, for wall time and for CPU time
(``time.process_time``, the measure that survives a loaded machine when the FFTs run on one thread:
``MEANFIELD_FFT_THREADS=1``). Then the kernel set-up (``grad_potential_hat``, its cache cleared before
each call; FFT plans already made), bump against Gaussian. Only the ratios are the claim.
Run: MEANFIELD_FFT_THREADS=1 PYTHONPATH=. python benchmarks/dislocations_mfeps_step.py [--sizes 64 128 256 512]
"""

import argparse
import time

import numpy as np
from _timing import interleaved_times
from fft_raw_plans import raw_transforms

from meanfield.models import dislocations
from meanfield.models.dislocations import Dislocations2D
from meanfield.solvers import fft
from meanfield.solvers.timestepping import ETDRK4


def _ratio(num, den):
    r = np.asarray(num) / np.asarray(den)
    return f"{np.median(r):6.2f} [{r.min():.2f}, {r.max():.2f}]"


def main(sizes, delta, rounds=7, setup_table=True):
    models = {name: Dislocations2D(delta=delta, beta=1.0, amplitude=0.4, mollifier=name)
              for name in ("gaussian", "bump")}
    print(f"FFT backend: {fft.BACKEND}, {fft._THREADS} thread(s) (planner {fft.planner_effort(2**20)} for "
          f"large grids); δ = {delta}; bump series radius R = {models['bump'].kernel_radius:.0f}; {rounds} "
          "interleaved rounds, median [min, max]; denominator: 24 raw FFTW transforms (4 stages x 6)")
    for label, clock in (("wall", time.perf_counter), ("CPU", time.process_time)):
        rows = []
        for n in sizes:
            steps = {}
            for name, m in models.items():
                problem, u0, _, dt = m.lattice_problem(1 / n)
                stepper = ETDRK4()
                stepper.step(problem, 0.0, u0, dt)  # coefficients, plans, compiled kernel
                steps[name] = (lambda s=stepper, p=problem, u=u0, h=dt: s.step(p, 0.0, u, h))
            stage = [("irfftn", (2, n, n), 2), ("irfftn", (n, n), 2), ("irfftn", (n, n), 2),
                     ("rfftn", (2, n, n), 2)]
            ffts = raw_transforms(stage * 4)
            ffts()
            tg, tb, tf = interleaved_times([steps["gaussian"], steps["bump"], ffts], repeats=rounds, clock=clock)
            rows.append(f"{n:6d} {1e3 * np.median(tg):9.2f} {1e3 * np.median(tb):9.2f} {1e3 * np.median(tf):9.2f} "
                        f"{_ratio(tg, tf):>20} {_ratio(tb, tf):>20} {_ratio(tb, tg):>20}")
        print(f"\n{label} time:")
        print(f"{'1/eps':>6} {'gauss ms':>9} {'bump ms':>9} {'FFTs ms':>9} {'gauss/FFTs':>20} {'bump/FFTs':>20} "
              f"{'bump/gauss':>20}")
        print("\n".join(rows), flush=True)
    if not setup_table:
        return
    print("\nkernel set-up, grad_potential_hat(1/eps) (cache cleared before each call):")
    print(f"{'1/eps':>6} {'gauss ms':>9} {'bump ms':>9} {'bump/gauss':>20}")
    for n in sizes:
        def setup(name, n=n):
            dislocations._grad_grid.cache_clear()
            models[name].grad_potential_hat(n)

        setup("bump")  # FFT plans of the fine grid
        tg, tb = interleaved_times([lambda: setup("gaussian"), lambda: setup("bump")], repeats=rounds)
        print(f"{n:6d} {1e3 * np.median(tg):9.2f} {1e3 * np.median(tb):9.2f} {_ratio(tb, tg):>20}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256, 512], help="values of 1/eps")
    parser.add_argument("--delta", type=float, default=0.1, help="core size δ (ε ≤ δ is required)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (at least 5)")
    parser.add_argument("--no-setup", action="store_true", help="skip the kernel set-up table")
    args = parser.parse_args()
    if args.rounds < 5:
        parser.error(f"--rounds must be at least 5, got {args.rounds}")
    main(args.sizes, args.delta, args.rounds, not args.no_setup)
