"""MF^ε lattice ETDRK4 step of model 003 against the cost of its FFTs alone (the FFT-bound limit),
for the Gaussian mollifier and the paper's compactly supported bump.

One step = 4 evaluations of the flux part, each 7 real 2-D FFTs of size N² = (1/ε)²: one batched
inverse of (f⁺, f⁻) (2 transforms), one forward of σ = f⁺ − f⁻, two inverse for the two components of
∇V_δ * σ, one batched forward of the flux difference (2 transforms) (``Dislocations2D.lattice_problem``).
The kernel enters only through the precomputed lattice coefficients of ∇V_δ, so a step costs the same
for both mollifiers; what differs is the set-up: the bump's series (|k| < R ≈ 63/δ) is summed by one
inverse FFT on a fine grid of M ≥ 2R points per axis, the Gaussian's by folding 25 alias images.

Per 1/ε, interleaved call by call (``_timing.interleaved_times``, 7 rounds): the Gaussian step, the
bump step, and exactly that FFT sequence through ``meanfield.solvers.fft``; printed: median times and the ratios
step/FFTs (1 = FFT bound) and bump/Gaussian step, each as median [min, max] over the rounds. Then the
kernel set-up (``grad_potential_hat``, its cache cleared before each call; FFT plans already made),
bump against Gaussian, the same way. Only the ratios are the claim (the machine is shared).
Run: python benchmarks/dislocations_mfeps_step.py [--sizes 64 128 256 512] [--delta 0.1]
"""

import argparse

import numpy as np
from _timing import interleaved_times

from meanfield.models import dislocations
from meanfield.models.dislocations import Dislocations2D
from meanfield.solvers import fft
from meanfield.solvers.timestepping import ETDRK4


def _ratio(num, den):
    r = np.asarray(num) / np.asarray(den)
    return f"{np.median(r):6.2f} [{r.min():.2f}, {r.max():.2f}]"


def main(sizes, delta, rounds=7):
    models = {name: Dislocations2D(delta=delta, beta=1.0, amplitude=0.4, mollifier=name)
              for name in ("gaussian", "bump")}
    print(f"FFT backend: {fft.BACKEND}; δ = {delta}; bump series radius R = {models['bump'].kernel_radius:.0f}; "
          f"{rounds} interleaved rounds, median [min, max]")
    print(f"{'1/eps':>6} {'gauss ms':>9} {'bump ms':>9} {'FFTs ms':>9} {'gauss/FFTs':>20} {'bump/FFTs':>20} "
          f"{'bump/gauss':>20}")
    for n in sizes:
        steps = {}
        for name, m in models.items():
            problem, u0, _, dt = m.lattice_problem(1 / n)
            stepper = ETDRK4()
            stepper.step(problem, 0.0, u0, dt)  # coefficients and plans
            steps[name] = (lambda s=stepper, p=problem, u=u0, h=dt: s.step(p, 0.0, u, h))
        pair = np.random.default_rng(0).random((2, n, n))
        one = pair[0].copy()
        pair_hat = fft.rfftn(pair, ndim=2)
        one_hat = fft.rfftn(one)

        def ffts(n=n, pair=pair, one=one, pair_hat=pair_hat, one_hat=one_hat):
            for _stage in range(4):
                fft.irfftn(pair_hat, (n, n), ndim=2)
                fft.rfftn(one)
                fft.irfftn(one_hat, (n, n))
                fft.irfftn(one_hat, (n, n))
                fft.rfftn(pair, ndim=2)

        ffts()
        tg, tb, tf = interleaved_times([steps["gaussian"], steps["bump"], ffts], repeats=rounds)
        print(f"{n:6d} {1e3 * np.median(tg):9.2f} {1e3 * np.median(tb):9.2f} {1e3 * np.median(tf):9.2f} "
              f"{_ratio(tg, tf):>20} {_ratio(tb, tf):>20} {_ratio(tb, tg):>20}")
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
    args = parser.parse_args()
    if args.rounds < 5:
        parser.error(f"--rounds must be at least 5, got {args.rounds}")
    main(args.sizes, args.delta, args.rounds)
