"""Wasserstein benchmarks against peers, measured in the same run, interleaved call by call.

1. 1-D W_p between two empirical measures of 10^6 points each (unsorted input, every call sorts),
   equal weights and general weights, p = 1 and 2: ``meanfield.metrics.wasserstein_1d`` against
   POT's ``ot.wasserstein_1d`` (NumPy backend, ``require_sort=True``) and, for p = 1, against
   ``scipy.stats.wasserstein_distance``. Accuracy: each value against an exact-summation reference.
2. 2-D W2 between two 2,000-point clouds: ``meanfield.metrics.wasserstein`` against ``ot.emd2``
   called directly on ``ot.dist`` (the overhead of our wrapper around the same network simplex).
3. Dual bounded-Lipschitz norm on the torus T², 800 particles against a 32² grid density (the size
   of a dislocation study's species): the "sum" convention against the "max" one (one transport),
   and the number of transports "sum" needs.

Every ratio is our time ÷ the peer's time (below 1: we are faster); median and range over the
repeats, each repeat timing every contender once, in turn. All contenders run on one thread.

Run: PYTHONPATH=. python benchmarks/metrics_wasserstein.py [--repeats 7]
"""

import argparse
import math

import numpy as np
import ot
import scipy
import scipy.stats
from _timing import interleaved_times

from meanfield.measures import Domain, EmpiricalMeasure, GridDensity
from meanfield.metrics import bounded_lipschitz, wasserstein, wasserstein_1d
from meanfield.solvers.grids import UniformGrid


def interleaved(funcs: dict, repeats: int) -> tuple[dict, dict]:
    """``_timing.interleaved_times`` over the named contenders, after one untimed warm-up call of
    each (whose value is kept); returns ``(times, values)`` keyed by name."""
    values = {name: f() for name, f in funcs.items()}
    times = interleaved_times(list(funcs.values()), repeats)
    return {name: np.asarray(t) for name, t in zip(funcs, times, strict=True)}, values


def ratio_text(ours, peer) -> str:
    """Median and range of the per-repeat ratios ours / peer."""
    r = ours / peer
    return f"{np.median(r):.3f} (range {r.min():.3f}–{r.max():.3f})"


def exact_1d(x, wx, y, wy, p):
    """W_p by the quantile formula in extended precision (np.longdouble cumulative masses and
    terms; exact fsum for equal weights), for a reference value."""
    if wx is None:
        return (math.fsum(np.abs(np.sort(x) - np.sort(y)) ** p) / x.size) ** (1 / p)
    ld = np.longdouble
    ox, oy = np.argsort(x), np.argsort(y)
    xs, ys = x[ox].astype(ld), y[oy].astype(ld)
    cx, cy = np.cumsum(wx[ox].astype(ld)), np.cumsum(wy[oy].astype(ld))
    s = np.unique(np.concatenate((np.zeros(1, ld), cx, cy)))
    s = s[s <= min(cx[-1], cy[-1])]
    mid = (s[:-1] + s[1:]) / 2
    qx = xs[np.minimum(np.searchsorted(cx, mid), x.size - 1)]
    qy = ys[np.minimum(np.searchsorted(cy, mid), y.size - 1)]
    return float(np.sum(np.diff(s) * np.abs(qx - qy) ** p) ** (ld(1) / p))


def bench_1d(repeats):
    n = 10**6
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=n), rng.normal(0.1, 1.2, size=n)
    wx, wy = rng.random(n), rng.random(n)
    wx, wy = wx / wx.sum(), wy / wy.sum()
    print(f"1-D W_p, {n:,} vs {n:,} unsorted points, {repeats} repeats, interleaved")
    print(f"  peers: POT {ot.__version__} ot.wasserstein_1d(x, y, [wx, wy], p=p) (NumPy backend, "
          f"require_sort=True, warm); scipy {scipy.__version__} stats.wasserstein_distance (p = 1)")
    for weights in ("equal", "general"):
        a, b = (None, None) if weights == "equal" else (wx, wy)
        mu, nu = EmpiricalMeasure(x, a), EmpiricalMeasure(y, b)
        for p in (1, 2):
            funcs = {
                "ours": lambda mu=mu, nu=nu, p=p: wasserstein_1d(mu, nu, p),
                "POT": lambda a=a, b=b, p=p: ot.wasserstein_1d(x, y, a, b, p=p) ** (1 / p),
            }
            if p == 1:
                funcs["scipy"] = lambda a=a, b=b: scipy.stats.wasserstein_distance(x, y, a, b)
            times, values = interleaved(funcs, repeats)
            ref = exact_1d(x, a, y, b, p)
            errors = ", ".join(f"{k} {abs(v - ref) / ref:.1e}" for k, v in values.items())
            print(f"  {weights} weights, p = {p}: ours {np.median(times['ours']):.3f} s; "
                  f"ours/POT = {ratio_text(times['ours'], times['POT'])}", end="")
            if "scipy" in times:
                print(f"; ours/scipy = {ratio_text(times['ours'], times['scipy'])}", end="")
            print(f"\n      relative error vs exact-sum reference: {errors}")


def bench_2d(repeats):
    n = 2000
    rng = np.random.default_rng(1)
    p_, q_ = rng.random((n, 2)), rng.random((n, 2)) + 0.1
    a = np.full(n, 1 / n)
    m_p, m_q = EmpiricalMeasure(p_), EmpiricalMeasure(q_)
    funcs = {
        "ours": lambda: wasserstein(m_p, m_q, 2),
        "POT": lambda: ot.emd2(a, a, ot.dist(p_, q_), numItermax=10**7) ** 0.5,
    }
    times, values = interleaved(funcs, repeats)
    print(f"2-D W2, {n:,} vs {n:,} points, {repeats} repeats, interleaved; peer: POT {ot.__version__} "
          f"ot.emd2(a, b, ot.dist(x, y), numItermax=1e7) on a precomputed cost")
    print(f"  ours {np.median(times['ours']):.3f} s; ours/POT = {ratio_text(times['ours'], times['POT'])}; "
          f"|difference| = {abs(values['ours'] - values['POT']):.1e}")


def bench_bl(repeats):
    import sys

    bl_module = sys.modules["meanfield.metrics.bounded_lipschitz"]
    n, k = 800, 32
    rng = np.random.default_rng(2)
    torus = Domain.torus(2)
    parts = EmpiricalMeasure(rng.random((n, 2)), np.full(n, 1.0 / n), torus)
    grid = UniformGrid(0, 1, (k, k), periodic=True)
    x, y = grid.mesh()
    dens = GridDensity(1 + 0.3 * np.sin(2 * np.pi * x) * np.cos(2 * np.pi * y), grid)
    solve, solves = bl_module._AugmentedTransport.solve_sparse, []

    def counted(self, a, b):
        solves.append(a)
        return solve(self, a, b)

    bl_module._AugmentedTransport.solve_sparse = counted
    try:
        bounded_lipschitz(parts, dens, "sum")
        per_call = len(solves)
        funcs = {conv: (lambda conv=conv: bounded_lipschitz(parts, dens, conv)) for conv in ("max", "sum")}
        times, values = interleaved(funcs, repeats)
    finally:
        bl_module._AugmentedTransport.solve_sparse = solve
    print(f"dual BL on T², {n} particles vs a {k}² density, {repeats} repeats, interleaved")
    print(f"  max {np.median(times['max']):.3f} s (value {values['max']:.6g}); sum {np.median(times['sum']):.3f} s "
          f"(value {values['sum']:.6g}, {per_call} sparse transports); "
          f"sum/max = {ratio_text(times['sum'], times['max'])}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    bench_1d(args.repeats)
    bench_2d(max(5, args.repeats // 2))
    bench_bl(5)


if __name__ == "__main__":
    main()
