"""Spectral ETD2RK step of model 000 against its minimal FFT count, and the free-space solve against the
periodic one.

1. Minimal FFT count (the denominator) of one ETD2RK step on an n² grid (``continuum_problem``; the state
   is on the grid): the state forward (2 rfft n²); per stage (2 stages) the velocity ``K * (ρ⁺ − ρ⁻)`` by
   zero padding — 1 rfft of the padded q and 2 irfft (both components) of size (2n)² — and the 4 flux
   products forward (4 rfft n²); the stage state and the result back on the grid (2 + 2 irfft n²). Total
   14 transforms of n² and 6 of (2n)². They are timed as raw FFTW calls (``fft_raw_plans.raw_transforms``:
   ``plan.execute()`` on aligned buffers, same shapes, planner effort and threads as
   ``meanfield.solvers.fft``), interleaved call by call with ``ETD2RK().step``; printed: median [min, max]
   of step / FFTs over the rounds, wall and CPU time (``MEANFIELD_FFT_THREADS=1`` makes CPU time the
   measure that survives a loaded machine).
2. The free-space solve through the public API, ``solve_continuum(t_end, resolution=n)`` (default CFL
   rule, ETD2RK), against the periodic one: the same equation, grid, stepper and CFL rule with the
   velocity of the periodic box, ``v̂ = −2πi k q̂/|k|²`` (``K = ∇ log|x|``, ``Δ log|x| = 2π δ``: 1 rfft + 2
   irfft of n² per stage instead of the padded 1 + 2 of (2n)²), advanced by the same driver. Interleaved,
   median [min, max] of the time ratio free / periodic per run and per step.
Run: MEANFIELD_FFT_THREADS=1 PYTHONPATH=. python benchmarks/coulomb2d_spectral_step.py [--sizes 128 256 512]
"""

import argparse
import time

import numpy as np
from _timing import interleaved_times
from fft_raw_plans import raw_transforms

from meanfield.models import coulomb2d
from meanfield.models.coulomb2d import SignedCoulomb2D
from meanfield.particles.close_pair_step import LastStateCache
from meanfield.solvers import fft
from meanfield.solvers.timestepping import ETD2RK, StepFunction, integrate

MODEL = SignedCoulomb2D(sigma=1.0, gamma_bar=0.4, mass_plus=0.7, mass_minus=0.3, centre_plus=(-0.4, 0),
                        centre_minus=(0.4, 0))


def _ratio(num, den):
    r = np.asarray(num) / np.asarray(den)
    return f"{np.median(r):6.2f} [{r.min():.2f}, {r.max():.2f}]"


def step_table(sizes, rounds):
    print(f"1. one ETD2RK step against its 14 n^2 + 6 (2n)^2 raw FFTW transforms; FFT backend {fft.BACKEND}, "
          f"{fft._THREADS} thread(s), planner {fft.planner_effort(2**20)}; {rounds} interleaved rounds")
    for label, clock in (("wall", time.perf_counter), ("CPU", time.process_time)):
        print(f"{label:>5} {'n':>5} {'step ms':>9} {'FFTs ms':>9} {'step/FFTs':>20}")
        for n in sizes:
            g = MODEL.default_grid(n, 0.2)
            rho = MODEL.initial_array(g)
            problem, _ = MODEL.continuum_problem(g)
            stepper = ETD2RK()
            small, big = (n, n), (2 * n, 2 * n)
            stage = [("rfftn", big, 2), ("irfftn", big, 2), ("irfftn", big, 2)] + [("rfftn", small, 2)] * 4
            ffts = raw_transforms([("rfftn", small, 2)] * 2 + stage + [("irfftn", small, 2)] * 2 + stage
                                  + [("irfftn", small, 2)] * 2)

            def step(stepper=stepper, problem=problem, rho=rho):
                stepper.step(problem, 0.0, rho, 1e-3)

            step()
            ffts()
            ts, tf = interleaved_times([step, ffts], repeats=rounds, clock=clock)
            print(f"{'':>5} {n:5d} {1e3 * np.median(ts):9.2f} {1e3 * np.median(tf):9.2f} {_ratio(ts, tf):>20}",
                  flush=True)


def periodic_solve(model, grid, t_end, cfl=0.5):
    """The periodic counterpart of ``solve_continuum`` (module docstring, part 2); returns the solution."""
    n = grid.shape[0]
    kx, ky = grid.wavenumber_mesh(real=True)
    k2 = kx**2 + ky**2
    inv = np.where(k2 > 0, -2 * np.pi / np.where(k2 > 0, k2, 1.0), 0.0)
    mult = [1j * kx * inv, 1j * ky * inv]

    def vel(rho):
        q_hat = fft.rfftn(rho[0] - rho[1])
        return np.array([fft.irfftn(m * q_hat, (n, n), overwrite_input=True) for m in mult])

    velocity = LastStateCache(vel)
    D = model.sigma**2 / 2
    problem = coulomb2d._spectral_problem(grid, D, model.gamma_bar, velocity)
    h = float(np.min(grid.spacing))

    def rule(_t, rho):
        return cfl * h / (model.gamma_bar * float(np.max(np.abs(velocity(rho)))) + 1e-300)

    return integrate(ETD2RK(), problem, model.initial_array(grid), t_end, None, StepFunction(rule, "drift_cfl"))


def free_vs_periodic(sizes, rounds, t_end):
    print(f"\n2. solve to t = {t_end}: public free-space solve_continuum (default CFL rule, ETD2RK) against the "
          f"periodic one (same grid, stepper, rule); {rounds} interleaved rounds")
    for label, clock in (("wall", time.perf_counter), ("CPU", time.process_time)):
        print(f"{label:>5} {'n':>5} {'free ms':>9} {'per. ms':>9} {'steps':>9} {'free/periodic':>20} "
              f"{'per step':>20}")
        for n in sizes:
            grid = MODEL.default_grid(n, t_end)
            steps = {}

            def free(n=n, steps=steps):
                steps["free"] = int(MODEL.solve_continuum(t_end, resolution=n).attrs["solver_steps"])

            def periodic(grid=grid, steps=steps):
                steps["periodic"] = periodic_solve(MODEL, grid, t_end).steps

            free()
            periodic()
            tf, tp = interleaved_times([free, periodic], repeats=rounds, clock=clock)
            per_step = (np.asarray(tf) / steps["free"]) / (np.asarray(tp) / steps["periodic"])
            print(f"{'':>5} {n:5d} {1e3 * np.median(tf):9.2f} {1e3 * np.median(tp):9.2f} "
                  f"{steps['free']:>4}/{steps['periodic']:<4} {_ratio(tf, tp):>20} "
                  f"{np.median(per_step):6.2f} [{per_step.min():.2f}, {per_step.max():.2f}]", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512], help="grid sizes n (n x n)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (at least 5)")
    parser.add_argument("--t-end", type=float, default=0.05, help="final time of the solves of part 2")
    parser.add_argument("--part", type=int, choices=(0, 1, 2), default=0, help="1 or 2 only; 0 both")
    args = parser.parse_args()
    if args.rounds < 5:
        parser.error(f"--rounds must be at least 5, got {args.rounds}")
    if args.part in (0, 1):
        step_table(args.sizes, args.rounds)
    if args.part in (0, 2):
        free_vs_periodic(args.sizes, args.rounds, args.t_end)
