"""findiff's finite-difference Laplacian against ``meanfield.solvers.finite_volume.laplacian`` (flux form).

Prints, for periodic and walled grids in 1-D and 2-D, the time ratio findiff / finite_volume of one
application (the findiff operator built once beforehand, as a solver would), interleaved call batch by
call batch, 7 repeats, median and range; and, at walls, the integral of each operator applied to
e^{x+y} (zero for a conservative no-flux operator). Run: python benchmarks/findiff_vs_laplacian.py
"""

import time

import findiff
import numpy as np

from meanfield.solvers.finite_volume import laplacian
from meanfield.solvers.grids import UniformGrid


def findiff_laplacian(grid, acc=2):
    op = None
    for a in range(grid.ndim):
        d2 = findiff.Diff(a, grid.spacing[a], periodic=grid.periodic[a], acc=acc) ** 2
        op = d2 if op is None else op + d2
    return op


def interleaved_ratio(f_new, f_ref, batch, repeats=7):
    ratios = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(batch):
            f_ref()
        t1 = time.perf_counter()
        for _ in range(batch):
            f_new()
        t2 = time.perf_counter()
        ratios.append((t2 - t1) / (t1 - t0))
    return float(np.median(ratios)), min(ratios), max(ratios)


print(f"findiff {findiff.__version__}")
print(f"{'grid':>12} {'walls':>6} {'findiff/fv median':>18} {'range':>16}")
for shape in ((400,), (256, 256), (512, 512)):
    for periodic in (True, False):
        grid = UniformGrid(0, 1, shape, periodic=periodic)
        f = np.random.default_rng(0).random(shape)
        op = findiff_laplacian(grid)
        op(f), laplacian(f, grid)  # warm up
        med, lo, hi = interleaved_ratio(lambda op=op, f=f: op(f), lambda f=f, grid=grid: laplacian(f, grid),
                                        200 if len(shape) == 1 else 10)
        print(f"{'x'.join(map(str, shape)):>12} {not periodic!s:>6} {med:18.2f} {f'[{lo:.2f}, {hi:.2f}]':>16}")
grid = UniformGrid((0, 0), (1, 1), (128, 128), periodic=False)
x, y = grid.mesh()
f = np.exp(x + y)
ours, theirs = grid.integrate(laplacian(f, grid)), grid.integrate(findiff_laplacian(grid)(f))
print(f"walls, integral of the Laplacian of e^(x+y) on 128^2: findiff {theirs:+.3e}, finite_volume {ours:+.3e}")
