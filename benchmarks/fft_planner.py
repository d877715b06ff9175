"""What FFTW_ESTIMATE plans (the default of ``meanfield.solvers.fft``, for reproducibility) cost against
FFTW_MEASURE plans (``MEANFIELD_FFTW_PLANNER=measure``), at the transform sizes the validation uses.

Sizes: 000 continuum grids 64²-128² (validation/coulomb2d.py; their zero-padded velocity transforms are
128²-256²) and 512² in the step benchmark; 003 MF^ε and MF grids up to 128² (quick) and 512² (full),
single and batched pairs (2 × n²), and the bump kernel's fine grid (about 1280² at δ = 0.1). For each
real 2-D transform (forward ``rfftn``, inverse ``irfftn``) both plans are made on the same aligned buffers
with the module's thread count; printed: the planning time of MEASURE, then the execution time of one
transform with each plan, interleaved (each round: 10 executions with the ESTIMATE plan, 10 with the
MEASURE plan), median [min, max] of ESTIMATE / MEASURE over the rounds (above 1: MEASURE is faster), in
CPU time (``time.process_time``; run with ``MEANFIELD_FFT_THREADS=1`` on a loaded machine) and wall time.
Run: MEANFIELD_FFT_THREADS=1 PYTHONPATH=. python benchmarks/fft_planner.py [--rounds 7]
"""

import argparse
import time

import numpy as np
import pyfftw
from _timing import interleaved_times

from meanfield.solvers import fft

SIZES = [((64, 64), "000 grid"), ((128, 128), "000 grid / padded 64², 003 quick"),
         ((256, 256), "000 padded 128²"), ((2, 128, 128), "003 pair, quick"), ((512, 512), "003 full, 000 bench"),
         ((2, 512, 512), "003 pair, full"), ((1280, 1280), "003 bump fine grid")]


def _plans(kind, shape, effort):
    threads = fft._THREADS if int(np.prod(shape)) >= fft._MEASURE_MIN_SIZE else 1
    axes = (len(shape) - 2, len(shape) - 1)
    if kind == "rfftn":
        buf = pyfftw.empty_aligned(shape, dtype="float64")
        t0 = time.perf_counter()
        plan = pyfftw.builders.rfftn(buf, axes=axes, threads=threads, planner_effort=effort)
    else:
        buf = pyfftw.empty_aligned((*shape[:-1], shape[-1] // 2 + 1), dtype="complex128")
        t0 = time.perf_counter()
        plan = pyfftw.builders.irfftn(buf, s=shape[-2:], axes=axes, threads=threads, planner_effort=effort)
    planning = time.perf_counter() - t0
    plan.input_array[...] = np.random.default_rng(0).random(plan.input_array.shape)
    return plan, planning


def main(rounds):
    if fft.BACKEND != "pyfftw":
        raise SystemExit("pyFFTW is not installed: there is no planner to compare")
    print(f"{fft._THREADS} thread(s) above {fft._MEASURE_MIN_SIZE} points; {rounds} interleaved rounds of 10 "
          "executions each; ratio ESTIMATE / MEASURE, median [min, max]")
    print(f"{'shape':>14} {'kind':>7} {'plan MEASURE ms':>16} {'ESTIMATE ms':>12} {'MEASURE ms':>11} "
          f"{'CPU ratio':>20} {'wall ratio':>20}  use")
    for shape, use in SIZES:
        for kind in ("rfftn", "irfftn"):
            est, _ = _plans(kind, shape, "FFTW_ESTIMATE")
            mea, planning = _plans(kind, shape, "FFTW_MEASURE")

            def run(plan):
                def go():
                    for _ in range(10):
                        plan.execute()
                return go

            row = []
            for clock in (time.process_time, time.perf_counter):
                te, tm = (np.asarray(t) / 10 for t in interleaved_times([run(est), run(mea)], rounds, clock))
                r = te / tm
                row.append((te, tm, f"{np.median(r):6.2f} [{r.min():.2f}, {r.max():.2f}]"))
            (te, tm, cpu), (_, _, wall) = row
            print(f"{'x'.join(map(str, shape)):>14} {kind:>7} {1e3 * planning:16.1f} {1e3 * np.median(te):12.3f} "
                  f"{1e3 * np.median(tm):11.3f} {cpu:>20} {wall:>20}  {use}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (at least 5)")
    args = parser.parse_args()
    if args.rounds < 5:
        parser.error(f"--rounds must be at least 5, got {args.rounds}")
    main(args.rounds)
