"""Certified distance brackets at scale (issue 17): meanfield.metrics.transport_bounds.

A. N = 10^6 particles against a 256^2 (2-D) and a 64^3 (3-D) density on the unit torus, for W1, W2,
   BL "max" and BL "sum" with the default size budget (max_pairs = 2^22): time of one call, the
   bracket, its relative width (upper - lower) / upper, the common grid, and the peak RSS. Two
   cases: particles sampled from the density itself (distance of order N^{-1/2}) and particles
   sampled from a narrow Gaussian bump (standard deviation 0.05) at the centre of the box (a
   distance of order 0.4, many cells long).
B. Against the exact POT route (meanfield.metrics.wasserstein / bounded_lipschitz, network simplex
   over all atom pairs) at a size where it is feasible: 1,024 particles against a 32^2 density,
   the bracket forced onto a 16^2 common grid; interleaved call by call, 5 repeats, median and
   range of (bracket time / exact time), the exact value and whether the bracket holds it. The
   exact "sum" convention is the sparse search of bounded_lipschitz; the bracket's "sum"
   uses cutting planes, and its cost is also printed against its own "max" at equal size.

C. Semi-discrete brackets (meanfield.metrics.semidiscrete): N i.i.d. samples of a 96^2 density on
   the unit torus against that density (a distance of order N^{-1/2}), W1 and W2, N = 10^3, 10^4
   (and larger N given on the command line, e.g. ``C 100000``; ``q=4`` sets the sub-cells per axis,
   default: the bracket's own choice): time, bracket, relative width, sub-cells, column-generation
   rounds, peak RSS.

Run: PYTHONPATH=. python benchmarks/metrics_transport_brackets.py [A] [B] [C [N ...] [q=Q]]
"""

import resource
import time

import numpy as np
from _timing import interleaved_times

from meanfield.measures import GridDensity
from meanfield.metrics import bounded_lipschitz, wasserstein
from meanfield.metrics.transport_bounds import (
    DEFAULT_MAX_PAIRS,
    bounded_lipschitz_bracket,
    wasserstein_bracket,
)
from meanfield.solvers.grids import UniformGrid

DISTANCES = (("W1", wasserstein_bracket, 1), ("W2", wasserstein_bracket, 2),
             ("BL-max", bounded_lipschitz_bracket, "max"), ("BL-sum", bounded_lipschitz_bracket, "sum"))


def density(n, d):
    g = UniformGrid(0, 1, (n,) * d, periodic=True)
    def f2(x, y):
        return 1 + 0.5 * np.cos(2 * np.pi * x) * np.sin(2 * np.pi * y)

    def f3(x, y, z):
        return 1 + 0.5 * np.cos(2 * np.pi * x) * np.sin(2 * np.pi * y) * np.cos(2 * np.pi * z)

    rho = GridDensity.from_function(f2 if d == 2 else f3, g, 2)
    return GridDensity(rho.values / rho.mass, g)


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def part_a():
    print(f"A. N = 10^6 particles vs a grid density, unit torus, max_pairs = {DEFAULT_MAX_PAIRS}")
    for d, n in ((2, 256), (3, 64)):
        rho = density(n, d)
        bump = GridDensity.from_function(
            lambda *x: np.exp(-sum((xi - 0.5) ** 2 for xi in x) / (2 * 0.05**2)), rho.grid, 2)
        bump = GridDensity(bump.values / bump.mass, rho.grid)
        for case, source in (("sampled from rho", rho), ("sampled from a bump", bump)):
            mu = source.sample(10**6, rng=1)
            for name, func, arg in DISTANCES:
                t0 = time.perf_counter()
                br = func(mu, rho, arg)
                dt = time.perf_counter() - t0
                print(f"  {d}-D {n}^{d}, {case:32s} {name:6s} {dt:6.1f} s  [{br.lower:.4g}, {br.upper:.4g}]  "
                      f"relative width {br.relative_width:.3f}  grid {br.details['grid_shape']}  "
                      f"peak RSS {peak_rss_mib():.0f} MiB", flush=True)


def part_b():
    print("B. bracket (16^2 common grid) / exact POT route, 1,024 particles vs a 32^2 density, "
          "interleaved, 5 repeats")
    rho = density(32, 2)
    mu = GridDensity(np.roll(rho.values, 8, axis=0), rho.grid).sample(1024, rng=2)
    exact = {"W1": lambda: wasserstein(mu, rho, 1), "W2": lambda: wasserstein(mu, rho, 2),
             "BL-max": lambda: bounded_lipschitz(mu, rho, "max"), "BL-sum": lambda: bounded_lipschitz(mu, rho, "sum")}
    sum_times = {}
    for name, func, arg in DISTANCES:
        value = exact[name]()
        br = func(mu, rho, arg, cells=256)
        t_br, t_ex = interleaved_times([lambda f=func, a=arg: f(mu, rho, a, cells=256), exact[name]], repeats=5)
        ratio = np.asarray(t_br) / np.asarray(t_ex)
        sum_times[name] = t_br
        print(f"  {name:6s} exact {value:.5g} ({np.median(t_ex):.3f} s)  bracket [{br.lower:.5g}, {br.upper:.5g}] "
              f"holds it: {br.lower <= value <= br.upper}  bracket/exact time: median {np.median(ratio):.3g} "
              f"range [{ratio.min():.3g}, {ratio.max():.3g}]", flush=True)
    ratio = np.asarray(sum_times["BL-sum"]) / np.asarray(sum_times["BL-max"])
    print(f"  bracket BL-sum / BL-max time at equal size (not interleaved with each other): median "
          f"{np.median(ratio):.2f} range [{ratio.min():.2f}, {ratio.max():.2f}]")
    # cutting planes on the exact atoms (no binning) against the exact search of bounded_lipschitz
    t_kelley, t_golden = interleaved_times(
        [lambda: bounded_lipschitz_bracket(mu, rho, "sum"), exact["BL-sum"]], repeats=5)
    br = bounded_lipschitz_bracket(mu, rho, "sum")
    ratio = np.asarray(t_kelley) / np.asarray(t_golden)
    print(f"  BL-sum on the exact atoms: cutting planes ({br.details['transport_solves']} solves, gap "
          f"{br.details['grid_value'][1] - br.details['grid_value'][0]:.2g}) / exact search: median "
          f"{np.median(ratio):.3g} range [{ratio.min():.3g}, {ratio.max():.3g}]")
    print(f"  peak RSS {peak_rss_mib():.0f} MiB")


def part_c(sizes=(1000, 10000), subcells=None):
    from meanfield.metrics.semidiscrete import semidiscrete_bracket

    print("C. semi-discrete brackets, N samples of a 96^2 density on T^2 against the density")
    rho = density(96, 2)
    for n in sizes:
        mu = rho.sample(n, rng=1)
        for p in (1, 2):
            t0 = time.perf_counter()
            br = semidiscrete_bracket(mu, rho, p, subcells=subcells)
            dt = time.perf_counter() - t0
            d = br.details
            print(f"  N = {n:>7,} W{p}: {dt:6.1f} s  [{br.lower:.5g}, {br.upper:.5g}]  relative width "
                  f"{br.relative_width:.3f}  subcells {d['subcells']}  rounds {d['rounds']}  pairs {d['pairs']:,}  "
                  f"peak RSS {peak_rss_mib():.0f} MiB", flush=True)


if __name__ == "__main__":
    import sys

    args = sys.argv[1:] or ["B", "A", "C"]  # e.g. `python benchmarks/metrics_transport_brackets.py A`
    sizes = tuple(int(a) for a in args if a.isdigit())
    q = next((int(a[2:]) for a in args if a.startswith("q=")), None)
    for part in (a for a in args if not a.isdigit() and not a.startswith("q=")):
        if part == "C":
            part_c(sizes or (1000, 10000), q)
        else:
            {"A": part_a, "B": part_b}[part]()
