"""Benchmark (model 002): the two exact event engines on the same equal-mass problem, and the
general-mass engine on perturbed masses.

* rank engine (:mod:`meanfield.particles.sticky_events1d`): equal masses only, velocities from
  ranks, indexed heap over adjacent pairs — the reference ("peer") here;
* cluster engine (:mod:`meanfield.particles.sticky_clusters1d`): any masses, minimal-norm
  subgradient per cluster, lazy heap over adjacent blocks — the one timed against it.

Both compiled (numba), warm, one thread, exact up to round-off (the max difference of their final
positions is printed). Data: the default overlapping supports of ``Newtonian1D`` (uniform on [0, 1]
and [0.5, 1.5]), midpoint quantiles, to t = 1; general masses are 1/N times i.i.d. U(0.5, 1.5),
renormalised. Prints CPU times of this process (the machine is shared) from calls interleaved round
by round, ``repeats`` rounds, median and [range], the ratio cluster ÷ rank, events per CPU second, and
the peak RSS of the run.

    PYTHONPATH=. python benchmarks/newtonian1d_engines.py [N] [repeats]
"""

import sys
import time

import numpy as np
from _timing import interleaved_times, load_average, print_peak_rss, ratio_summary, times_summary

from meanfield.models.newtonian1d import Newtonian1D
from meanfield.particles.sticky_clusters1d import simulate_general_masses
from meanfield.particles.sticky_events1d import simulate_two_species_events


def main(n=2000, repeats=5):
    x, y = Newtonian1D().sample_particles(n)
    m = np.full(n, 1.0 / n)
    simulate_two_species_events(x[:8], y[:8], m[:8] * n / 8, m[:8] * n / 8, [0.1], 0.1)  # compile
    simulate_general_masses(x[:8], y[:8], m[:8] * n / 8, m[:8] * n / 8, [0.1], 0.1)
    rng = np.random.default_rng(0)
    mx, my = rng.uniform(0.5, 1.5, n), rng.uniform(0.5, 1.5, n)
    mx, my = mx / mx.sum(), my / my.sum()
    out = {}

    def rank():
        out["a"] = simulate_two_species_events(x, y, m, m, [1.0], 1.0, record_events=False)

    def cluster():
        out["b"] = simulate_general_masses(x, y, m, m, [1.0], 1.0, record_events=False)

    def general():
        out["c"] = simulate_general_masses(x, y, mx, my, [1.0], 1.0, record_events=False)

    ta, tb, tc = interleaved_times([rank, cluster, general], repeats, clock=time.process_time)
    a, b, c = out["a"], out["b"], out["c"]
    ev = a["n_cross"] + a["n_stick"]
    diff = max(np.abs(a["x"] - b["x"]).max(), np.abs(a["y"] - b["y"]).max())
    print(f"N={n} per species, equal masses, t=1: {ev} events (crossings + stickings); {repeats} interleaved "
          f"rounds, CPU time; load average {load_average():.1f}")
    print(f"rank engine (peer) : CPU {times_summary(ta)} ({ev / np.median(ta):.3g} events per CPU second)")
    print(f"cluster engine     : CPU {times_summary(tb)} ({b['n_meetings'] / np.median(tb):.3g} meetings per CPU "
          f"second); max |difference| to the rank engine = {diff:.1e}")
    print(f"ratio cluster ÷ rank (CPU) = {ratio_summary(tb, ta)}")
    print(f"cluster engine, general masses: {c['n_meetings']} meetings, CPU {times_summary(tc)} "
          f"({c['n_meetings'] / np.median(tc):.3g} meetings per CPU second)")
    print_peak_rss("all runs")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000, int(sys.argv[2]) if len(sys.argv) > 2 else 5)
