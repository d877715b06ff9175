"""Dual bounded-Lipschitz norm, "sum" convention against "max" at equal size (issue 17).

``bounded_lipschitz(mu, nu, "sum")`` (sparse augmented transports, the search of
``meanfield.metrics.bounded_lipschitz._sum_convention``) ÷ ``bounded_lipschitz(mu, nu, "max")`` (one
dense augmented transport), and ÷ the dense cutting-plane search it replaced (the module as of commit
b1fdc54, loaded from git for this comparison), on three cases:

* 800 particles against a 32² density on T² (a dislocation study's species);
* the same particles shifted by (0.3, 0.3), signed weights (a far and a near case);
* 1,500 against 1,200 particles in the unit square (free space).

Each repeat times every contender once, in turn (interleaved); median and range of the per-repeat
ratios over ``--repeats`` (default 7, at least 5). Accuracy: the "sum" values of the new and the old
search (both certified to a relative 1e-12 by their envelope bound) and their relative difference;
the number of transports each takes. One thread; timings are only meaningful on an idle machine.

Run: PYTHONPATH=. python benchmarks/metrics_bl_sum.py [--repeats 7]
"""

import argparse
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
from _timing import interleaved_times

from meanfield.measures import Domain, EmpiricalMeasure, GridDensity
from meanfield.metrics import bounded_lipschitz
from meanfield.solvers.grids import UniformGrid

OLD_COMMIT = "b1fdc549b28312dc244f71fc55d1c5da473cf0a2"


def old_module():
    """meanfield/metrics/bounded_lipschitz.py at OLD_COMMIT, as a module of this package."""
    root = Path(__file__).resolve().parents[1]
    src = subprocess.run(["git", "show", f"{OLD_COMMIT}:meanfield/metrics/bounded_lipschitz.py"], cwd=root,
                         check=True, capture_output=True, text=True).stdout
    mod = types.ModuleType("meanfield.metrics._bounded_lipschitz_b1fdc54")
    mod.__package__ = "meanfield.metrics"
    exec(compile(src, "bounded_lipschitz@b1fdc54", "exec"), mod.__dict__)
    return mod


def cases():
    rng = np.random.default_rng(2)
    torus = Domain.torus(2)
    pts = rng.random((800, 2))
    grid = UniformGrid(0, 1, (32, 32), periodic=True)
    x, y = grid.mesh()
    dens = GridDensity(1 + 0.3 * np.sin(2 * np.pi * x) * np.cos(2 * np.pi * y), grid)
    yield "800 particles vs 32² density, T²", EmpiricalMeasure(pts, np.full(800, 1 / 800), torus), dens
    shifted = EmpiricalMeasure(np.mod(pts + 0.3, 1.0), rng.normal(1.0, 0.3, 800) / 800, torus)
    yield "shifted, signed weights, T²", shifted, dens
    square = Domain(2)
    yield ("1,500 vs 1,200 particles, unit square",
           EmpiricalMeasure(rng.random((1500, 2)), None, square),
           EmpiricalMeasure(rng.random((1200, 2)) ** 1.2, np.full(1200, 1.1 / 1200), square))


def count_calls(cls, name, func):
    """``(func(), number of calls of cls.name during it)``."""
    original, calls = getattr(cls, name), []

    def counted(self, *args):
        calls.append(args)
        return original(self, *args)

    setattr(cls, name, counted)
    try:
        return func(), len(calls)
    finally:
        setattr(cls, name, original)


def ratio_text(num, den):
    r = np.asarray(num) / np.asarray(den)
    return f"{np.median(r):.2f} (range {r.min():.2f}–{r.max():.2f})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    repeats = max(5, args.repeats)
    new = sys.modules["meanfield.metrics.bounded_lipschitz"]
    old = old_module()
    print(f"dual BL, 'sum' vs 'max', {repeats} repeats interleaved; old = dense cutting planes at {OLD_COMMIT[:7]}")
    for name, mu, nu in cases():
        def ours_sum(mu=mu, nu=nu):
            return bounded_lipschitz(mu, nu, "sum")

        def ours_max(mu=mu, nu=nu):
            return bounded_lipschitz(mu, nu, "max")

        def old_sum(mu=mu, nu=nu):
            return old.bounded_lipschitz(mu, nu, "sum")

        v_sum, n_new = count_calls(new._AugmentedTransport, "solve_sparse", ours_sum)
        v_old, n_old = count_calls(old._AugmentedTransport, "solve", old_sum)
        v_max = ours_max()
        t_sum, t_max, t_old = interleaved_times([ours_sum, ours_max, old_sum], repeats)
        print(f"  {name}: max {np.median(t_max):.3f} s, sum {np.median(t_sum):.3f} s ({n_new} sparse transports), "
              f"old sum {np.median(t_old):.3f} s ({n_old} dense transports)")
        print(f"      sum/max = {ratio_text(t_sum, t_max)};  old sum/max = {ratio_text(t_old, t_max)};  "
              f"sum/old sum = {ratio_text(t_sum, t_old)}")
        print(f"      values: max {v_max:.12g}, sum {v_sum!r}, old sum {v_old!r}, "
              f"relative difference {abs(v_sum - v_old) / abs(v_old):.1e}")


if __name__ == "__main__":
    main()
