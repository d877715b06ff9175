"""Overhead of the time-stepping driver per step (issue 14): ``integrate`` against the hand-written
loop doing the same steps with the same stepper,

    t = 0.0
    while t < t_end:
        y = stepper.step(problem, t, y, h)
        t += h

on model 000's pseudo-spectral solver (ETD2RK, ``SignedCoulomb2D.continuum_problem``) at 256² and
512², and on model 003's MF^ε lattice equation at 1/ε = 256 (ETDRK4,
``Dislocations2D.lattice_problem``). The step ``h`` is a power of two, so both loops take exactly
``steps`` steps (checked). The two loops are timed call by call, interleaved (their order
alternating), ``REPEATS`` times; the script prints the median and the range of the ratio
driver / hand loop (target ≤ 1.05), in wall time and in process CPU time (all threads; less
disturbed by other jobs). Only ratios mean anything on a loaded machine.

On a loaded machine the spread of that ratio is far wider than the overhead itself, so the script also
isolates the overhead: the same runs with a stepper of the same class whose step returns the state
unchanged (no work), driver against hand loop, ``NULL_REPEATS`` interleaved rounds; the difference of
the medians is the driver's own cost per run (state copies, finiteness checks at the output times and
its per-step bookkeeping), and ``1 + that / (hand-loop time of the real run)`` is the overhead ratio it
implies.
Run: python benchmarks/timestepping_driver_overhead.py
"""

import time

import numpy as np
from _timing import best_time, interleaved_times

from meanfield.models.coulomb2d import SignedCoulomb2D
from meanfield.models.dislocations import Dislocations2D
from meanfield.solvers.timestepping import ETD2RK, ETDRK4, integrate

REPEATS = 15
NULL_REPEATS = 201


def hand_loop(stepper, problem, y0, t_end, h):
    t = 0.0
    y = y0
    steps = 0
    while t < t_end:
        y = stepper.step(problem, t, y, h)
        t += h
        steps += 1
    return y, steps


def compare(label, stepper, problem, y0, h, steps):
    t_end = steps * h  # exact: h is a power of two
    y_hand, n_hand = hand_loop(stepper, problem, y0, t_end, h)  # warm-up: plans, coefficients
    sol = integrate(stepper, problem, y0, t_end, None, h)
    if n_hand != steps or sol.steps != steps:
        raise RuntimeError(f"{label}: step counts differ (hand {n_hand}, driver {sol.steps}, wanted {steps})")
    if not np.array_equal(sol.states[-1], y_hand):
        raise RuntimeError(f"{label}: the driver and the hand loop end in different states")
    ratios, hand_times = [], []
    for r in range(REPEATS):
        def drive():
            integrate(stepper, problem, y0, t_end, None, h)

        def hand():
            hand_loop(stepper, problem, y0, t_end, h)

        if r % 2:
            (t_h, c_h), (t_d, c_d) = timed(hand), timed(drive)
        else:
            (t_d, c_d), (t_h, c_h) = timed(drive), timed(hand)
        ratios.append((t_d / t_h, c_d / c_h))
        hand_times.append(t_h)
    wall, cpu = np.array(ratios).T
    t_hand = float(np.median(hand_times))
    null = _null_stepper(stepper)
    d_null, h_null = interleaved_times([lambda: integrate(null, problem, y0, t_end, None, h),
                                        lambda: hand_loop(null, problem, y0, t_end, h)], repeats=NULL_REPEATS)
    extra = float(np.median(d_null) - np.median(h_null))
    print(f"{label:28s} {steps:6d} {1e3 * t_hand / steps:9.1f}  {np.median(wall):6.3f} "
          f"[{wall.min():.3f}, {wall.max():.3f}]  {np.median(cpu):6.3f} [{cpu.min():.3f}, {cpu.max():.3f}]"
          f"  {1e3 * extra:8.3f} {1 + extra / t_hand:8.4f}", flush=True)


def _null_stepper(stepper):
    """An instance of a subclass of ``type(stepper)`` whose step returns the state unchanged."""
    cls = type(f"Null{type(stepper).__name__}", (type(stepper),), {"step": lambda self, problem, t, y, h: y})
    return cls()


def timed(func):
    """``(wall time, process CPU time)`` of one call: CPU time is less disturbed by a loaded machine."""
    c0 = time.process_time()
    wall = best_time(func, repeats=1)
    return wall, time.process_time() - c0


def pow2_below(x):
    return 2.0 ** np.floor(np.log2(x))


print(f"ratio driver / hand loop, median [range] of {REPEATS} interleaved repeats, in wall time and in CPU time")
print(f"{'case':28s} {'steps':>6s} {'ms/step':>9s}  {'wall':>6s} {'range':16s}  {'cpu':>6s} {'range':16s}"
      f"  {'extra ms':>8s} {'implied':>8s}  (driver's own cost per run, no-work stepper, {NULL_REPEATS} rounds)")
m = SignedCoulomb2D(sigma=1.0, gamma_bar=0.4, mass_plus=0.7, mass_minus=0.3, centre_plus=(-0.4, 0),
                    centre_minus=(0.4, 0))
for n, steps in ((256, 6), (512, 3)):
    g = m.default_grid(n, 0.2)
    problem, _ = m.continuum_problem(g)
    compare(f"000 spectral ETD2RK {n}^2", ETD2RK(), problem, m.initial_array(g), 2.0**-12, steps)

d = Dislocations2D(delta=0.1, beta=1.0, amplitude=0.4)
problem, u0_hat, n, dt = d.lattice_problem(1 / 256)
compare(f"003 MF^eps ETDRK4 1/eps={n}", ETDRK4(), problem, u0_hat, pow2_below(dt), 5)
