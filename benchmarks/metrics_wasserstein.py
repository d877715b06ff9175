"""Wasserstein benchmarks against peers, measured in the same run (issue 2).

1. 1-D W1 between two empirical measures of 10^6 points: meanfield.metrics.wasserstein vs
   scipy.stats.wasserstein_distance.
2. 2-D W2 between two 2,000-point clouds: meanfield.metrics.wasserstein vs calling POT's
   ot.emd2 directly on a precomputed cost matrix (the overhead of our wrapper).

Run: PYTHONPATH=. python benchmarks/metrics_wasserstein.py
"""

import time

import numpy as np
import ot
import scipy.stats

from meanfield.measures import EmpiricalMeasure
from meanfield.metrics import wasserstein


def median_time(func, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        value = func()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), value


def main():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=10**6), rng.normal(0.1, 1.2, size=10**6)
    mu, nu = EmpiricalMeasure(x), EmpiricalMeasure(y)
    t_ours, v_ours = median_time(lambda: wasserstein(mu, nu, 1), 5)
    t_scipy, v_scipy = median_time(lambda: scipy.stats.wasserstein_distance(x, y), 5)
    print(f"1-D W1, 10^6 points: meanfield {t_ours:.3f} s, scipy {t_scipy:.3f} s, "
          f"ratio scipy/meanfield = {t_scipy / t_ours:.2f}, |difference| = {abs(v_ours - v_scipy):.2e}")

    n = 2000
    p, q = rng.random((n, 2)), rng.random((n, 2)) + 0.1
    a = np.full(n, 1 / n)

    def pot_direct():
        return ot.emd2(a, a, ot.dist(p, q), numItermax=10**7) ** 0.5

    m_p, m_q = EmpiricalMeasure(p), EmpiricalMeasure(q)
    t_ours, v_ours = median_time(lambda: wasserstein(m_p, m_q, 2), 3)
    t_pot, v_pot = median_time(pot_direct, 3)
    print(f"2-D W2, {n} points: meanfield {t_ours:.3f} s, POT direct {t_pot:.3f} s, "
          f"overhead ratio meanfield/POT = {t_ours / t_pot:.2f}, |difference| = {abs(v_ours - v_pot):.2e}")


if __name__ == "__main__":
    main()
