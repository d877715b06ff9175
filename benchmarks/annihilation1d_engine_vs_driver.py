"""Model 001: the compiled event engine against the same run through the time-stepping driver.

Both integrate the particles of (4.1) (V = -log, W = 0, two semicircle blocks, n particles to t = 1)
with the same scheme (Dormand–Prince 5(4)), the same PI controller (``default_controller``: rtol
1e-8, atol 1e-11, β = 0.08) and the same forces (``velocity(..., "auto")``):

* engine — :func:`meanfield.particles.annihilation_events1d.integrate_annihilation`: FSAL (6 new
  forces per step), annihilation times as roots of the gap on the step's quartic continuous
  extension (no force evaluation), step size carried across annihilations;
* driver — :func:`meanfield.solvers.timestepping.integrate` with ``DormandPrince54()``, a ``PIController`` and
  one terminal ``Event`` per adjacent ± pair (the gap, falling), restarted after each annihilation
  (at the located state, with the previous mean step as ``h0``). The driver locates an event by
  Brent iterations on whole DP steps (7 forces each) and its stepper evaluates 7 stages per step.

Timed interleaved call by call (engine, driver, engine, …; ``_timing.interleaved_times``), ``repeats``
rounds; prints the ratio
driver ÷ engine of wall time and of this process's CPU time (the machine is shared: under load the
CPU time is the steadier measure), median and range, and the largest difference of the event times.

    python benchmarks/annihilation1d_engine_vs_driver.py [repeats] [n ...]     (default 5; 200 1000)
"""

import sys
import time

import numpy as np
from _timing import interleaved_times

from meanfield.models.annihilation1d import Annihilation1D
from meanfield.particles.annihilation_events1d import (
    default_controller,
    integrate_annihilation,
)
from meanfield.particles.annihilation_forces1d import fmm_order, velocity
from meanfield.solvers.timestepping import (
    DormandPrince54,
    Event,
    ODEProblem,
    PIController,
    integrate,
)

RTOL, ATOL = 1e-8, 1e-11


def engine_events(x, b, t_end):
    run = integrate_annihilation(x, b, [t_end], 0, 0, 0.0, controller=default_controller(RTOL, ATOL))
    return np.array([e[0] for e in run.events])


def driver_events(x, b, t_end):
    """Annihilation times through ``integrate``: one run per inter-annihilation interval."""
    n = x.size
    xa, ba = x.astype(float), b.astype(np.int64)
    order = fmm_order(RTOL)
    t, h0, times = 0.0, None, []
    while t < t_end and xa.size > 1:
        opp = np.flatnonzero(ba[1:] != ba[:-1])
        events = [Event(lambda s, y, i=i: y[i + 1] - y[i], terminal=True, direction=-1, name=str(i)) for i in opp]
        problem = ODEProblem(lambda s, y, bb=ba: velocity(y, bb, n, 0, 0, 0.0, "auto", order))
        rule = PIController(RTOL, ATOL, h0=h0, beta=default_controller().beta)
        sol = integrate(DormandPrince54(), problem, xa, t_end, dt=rule, t0=t, events=events)
        if sol.stopped_at is None:
            break
        h0 = (sol.stopped_at - t) / max(sol.steps, 1)
        t, y = sol.stopped_at, sol.states[-1]
        i = int(sol.events[-1][2])
        times.append(t)
        keep = np.ones(y.size, bool)
        keep[[i, i + 1]] = False
        xa, ba = y[keep], ba[keep]
    return np.array(times)


def main(repeats=5, ns=(200, 1000)):
    model = Annihilation1D()
    x, b = model.sample_particles(40)
    engine_events(x, b, 0.1), driver_events(x, b, 0.1)  # compile
    print(f"V = -log, W = 0, two blocks, to t = 1; DP5(4), PI controller rtol {RTOL:g}, atol {ATOL:g}, β = 0.08; "
          f"{repeats} interleaved rounds")
    for n in ns:
        x, b = model.sample_particles(n)
        engine_events(x, b, 1.0), driver_events(x, b, 1.0)  # warm (FMM operators of this size)
        cpu, events = ([], []), [None, None]

        def timed(k, f, x=x, b=b, cpu=cpu, events=events):
            def call():
                c0 = time.process_time()
                events[k] = f(x, b, 1.0)
                cpu[k].append(time.process_time() - c0)
            return call

        walls = interleaved_times([timed(0, engine_events), timed(1, driver_events)], repeats)
        wall = np.array(walls[1]) / np.array(walls[0])
        cpu_ratio = np.array(cpu[1]) / np.array(cpu[0])
        ev_e, ev_d = events
        diff = np.max(np.abs(ev_e - ev_d)) if ev_e.size == ev_d.size else np.inf
        print(f"n = {n:5d}: {ev_e.size} annihilations (driver {ev_d.size}), max |Δ event time| {diff:.1e}; "
              f"engine {np.median(cpu[0]):.3f} s CPU, driver {np.median(cpu[1]):.3f} s CPU; driver / engine: "
              f"wall median "
              f"{np.median(wall):.2f} (range {wall.min():.2f}-{wall.max():.2f}), CPU median {np.median(cpu_ratio):.2f} "
              f"(range {cpu_ratio.min():.2f}-{cpu_ratio.max():.2f})", flush=True)


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    main(args[0] if args else 5, tuple(args[1:]) or (200, 1000))
