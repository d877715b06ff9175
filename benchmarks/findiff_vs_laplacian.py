"""Our ``meanfield.solvers.finite_volume.laplacian`` (flux form) against findiff's finite-difference Laplacian.

Peer configuration: findiff with the same second-order stencil (``acc=2``), its operator built once
beforehand (as a solver would) and warm; both on NumPy, one thread each. Prints, for periodic and walled
grids in 1-D and 2-D, the time ratio ours ÷ findiff of one application (batches of calls, interleaved batch
by batch, 7 repeats, median and [range]; CPU time of this process, both sides single-threaded: on a loaded
machine wall time counts the waiting); the accuracy both are compared at: the max difference of the two
results on the same data (round-off on periodic grids, where the stencils coincide) and their max error
against the exact Laplacian of a smooth periodic function; and, at walls, the integral of each operator
applied to e^{x+y} (zero for a conservative no-flux operator). Ends with the peak RSS of the run.

    PYTHONPATH=. python benchmarks/findiff_vs_laplacian.py
"""

import time

import findiff
import numpy as np
from _timing import interleaved_times, load_average, print_peak_rss, ratio_summary

from meanfield.solvers.finite_volume import laplacian
from meanfield.solvers.grids import UniformGrid


def findiff_laplacian(grid, acc=2):
    op = None
    for a in range(grid.ndim):
        d2 = findiff.Diff(a, grid.spacing[a], periodic=grid.periodic[a], acc=acc) ** 2
        op = d2 if op is None else op + d2
    return op


def batched(func, batch):
    def run():
        for _ in range(batch):
            func()
    return run


def smooth(grid):
    """sin(2πx)·cos(2πy)… on the cell centres, and its exact Laplacian."""
    f = np.ones(grid.shape)
    for a, x in enumerate(grid.mesh()):
        f = f * (np.sin(2 * np.pi * x) if a == 0 else np.cos(2 * np.pi * x))
    return f, -4 * np.pi**2 * grid.ndim * f


def main():
    print(f"findiff {findiff.__version__}, acc=2, operator built once, warm; CPU time; "
          f"load average {load_average():.1f}")
    print(f"{'grid':>9} {'walls':>6} {'ours ÷ findiff':>24} {'max |ours − findiff|':>21} "
          f"{'max error ours / findiff':>26}")
    for shape in ((400,), (256, 256), (512, 512)):
        for periodic in (True, False):
            grid = UniformGrid(0, 1, shape, periodic=periodic)
            f = np.random.default_rng(0).random(shape)
            op = findiff_laplacian(grid)
            diff = np.abs(op(f) - laplacian(f, grid)).max() if periodic else float("nan")
            g, exact = smooth(grid)
            e_ours = np.abs(laplacian(g, grid) - exact).max() if periodic else float("nan")
            e_fd = np.abs(op(g) - exact).max() if periodic else float("nan")
            batch = 200 if len(shape) == 1 else 10
            ours, peer = interleaved_times([batched(lambda f=f, grid=grid: laplacian(f, grid), batch),
                                            batched(lambda op=op, f=f: op(f), batch)], repeats=7,
                                           clock=time.process_time)
            print(f"{'x'.join(map(str, shape)):>9} {not periodic!s:>6} {ratio_summary(ours, peer):>24} "
                  f"{diff:21.1e} {f'{e_ours:.2e} / {e_fd:.2e}':>26}")
    grid = UniformGrid((0, 0), (1, 1), (128, 128), periodic=False)
    x, y = grid.mesh()
    f = np.exp(x + y)
    ours, theirs = grid.integrate(laplacian(f, grid)), grid.integrate(findiff_laplacian(grid)(f))
    print(f"walls, integral of the Laplacian of e^(x+y) on 128^2: finite_volume {ours:+.3e}, findiff {theirs:+.3e}")
    print("(at walls the two operators differ by construction: no-flux flux form vs one-sided stencils)")
    print_peak_rss("all runs")


if __name__ == "__main__":
    main()
