"""Benchmark (model 002): the two exact event engines on the same equal-mass problem, and the
general-mass engine on perturbed masses. Prints events, wall times, events per second and ratios.

* rank engine (:mod:`meanfield.particles.sticky_events1d`): equal masses only, velocities from
  ranks, indexed heap over adjacent pairs;
* cluster engine (:mod:`meanfield.particles.sticky_clusters1d`): any masses, minimal-norm
  subgradient per cluster, lazy heap over adjacent blocks.

Data: the default overlapping supports of ``Newtonian1D`` (uniform on [0, 1] and [0.5, 1.5]),
midpoint quantiles, to t = 1; general masses are 1/N times i.i.d. U(0.5, 1.5), renormalised.

    python benchmarks/newtonian1d_engines.py [N]
"""

import sys
import time

import numpy as np

from meanfield.models.newtonian1d import Newtonian1D
from meanfield.particles.sticky_clusters1d import simulate_general_masses
from meanfield.particles.sticky_events1d import simulate_two_species_events


def timed(f, *a, **k):
    """Result, wall time and CPU time of this process (the machine is shared: under load the
    wall time overstates the cost, the CPU time does not)."""
    t0, c0 = time.perf_counter(), time.process_time()
    r = f(*a, **k)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    timed.cpu = cpu
    return r, wall


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    x, y = Newtonian1D().sample_particles(n)
    m = np.full(n, 1.0 / n)
    simulate_two_species_events(x[:8], y[:8], m[:8] * n / 8, m[:8] * n / 8, [0.1], 0.1)  # compile
    simulate_general_masses(x[:8], y[:8], m[:8] * n / 8, m[:8] * n / 8, [0.1], 0.1)
    a, ta = timed(simulate_two_species_events, x, y, m, m, [1.0], 1.0, record_events=False)
    ca = timed.cpu
    b, tb = timed(simulate_general_masses, x, y, m, m, [1.0], 1.0, record_events=False)
    cb = timed.cpu
    ev = a["n_cross"] + a["n_stick"]
    diff = max(np.abs(a["x"] - b["x"]).max(), np.abs(a["y"] - b["y"]).max())
    print(f"N={n} per species, equal masses, t=1: {ev} events (crossings + stickings)")
    print(f"rank engine    : wall {ta:.3f} s, CPU {ca:.3f} s ({ev / ca:.3g} events per CPU second)")
    print(f"cluster engine : wall {tb:.3f} s, CPU {cb:.3f} s ({b['n_meetings'] / cb:.3g} meetings per CPU second); "
          f"max |difference| = {diff:.1e}")
    print(f"ratio cluster/rank = {tb / ta:.2f} (wall), {cb / ca:.2f} (CPU)")
    rng = np.random.default_rng(0)
    mx, my = rng.uniform(0.5, 1.5, n), rng.uniform(0.5, 1.5, n)
    c, tc = timed(simulate_general_masses, x, y, mx / mx.sum(), my / my.sum(), [1.0], 1.0, record_events=False)
    cc = timed.cpu
    print(f"cluster engine, general masses: {c['n_meetings']} meetings, wall {tc:.3f} s, CPU {cc:.3f} s "
          f"({c['n_meetings'] / cc:.3g} meetings per CPU second)")


if __name__ == "__main__":
    main()
