"""Benchmark (model 002): exact event-driven particles vs fixed-step explicit Euler of the same ODE,
at a stated accuracy.

Peer (its strongest configuration here): explicit Euler compiled with numba (two-pointer merge count
+ insertion sort of the nearly sorted arrays, O(N) per step), warm, one thread. Euler:
x_i' = (2(i - J_i) - 1)/N with J_i = #{y_j < x_i} (theory page 002), positions re-sorted each step so
labels stay ranks. The velocity field is piecewise constant in the positions (it jumps at every
crossing), so a higher-order Runge–Kutta step gains no order over Euler; Euler is the peer.

Accuracy: Euler's dt is halved until its W1 distance to the exact event-driven solution, summed over
both species, is within ``frac`` (default 1 %) of the particle/continuum W1 distance at t = T; both
errors are printed (the event-driven solver is exact up to round-off, so it is compared at a
*higher* accuracy than Euler: the ratio favours the peer). Then both are timed, calls interleaved
round by round, ``repeats`` rounds, CPU time of this process (single-threaded work; the machine is
shared), median and [range] of the ratio event ÷ Euler (ours ÷ peer). Ends with the peak RSS.

    PYTHONPATH=. python benchmarks/newtonian1d_event_vs_euler.py [N] [frac] [repeats]
"""

import sys
import time

import numpy as np
from _timing import interleaved_times, load_average, print_peak_rss, ratio_summary, times_summary
from numba import njit

from meanfield.measures import EmpiricalMeasure
from meanfield.metrics import wasserstein
from meanfield.models.newtonian1d import Newtonian1D
from meanfield.particles.sticky_clusters1d import simulate_general_masses


@njit(cache=True)
def _insertion_sort(a):
    for k in range(1, a.size):
        v = a[k]
        m = k - 1
        while m >= 0 and a[m] > v:
            a[m + 1] = a[m]
            m -= 1
        a[m + 1] = v


@njit(cache=True)
def euler_numba(x, y, T, dt):
    n = x.size
    steps = round(T / dt)
    vx = np.empty(n)
    vy = np.empty(n)
    for _ in range(steps):
        j = 0
        for i in range(n):  # J_i = #{y < x_i}
            while j < n and y[j] < x[i]:
                j += 1
            vx[i] = (2.0 * (i + 1 - j) - 1.0) / n
        i = 0
        for j in range(n):  # I_j = #{x < y_j}
            while i < n and x[i] < y[j]:
                i += 1
            vy[j] = (2.0 * (j + 1 - i) - 1.0) / n
        for k in range(n):
            x[k] += dt * vx[k]
            y[k] += dt * vy[k]
        _insertion_sort(x)
        _insertion_sort(y)
    return x, y


def w1_atoms(a, b):
    return float(np.mean(np.abs(np.sort(a) - np.sort(b))))  # equal-weight atoms: exact W1


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    frac = float(sys.argv[2]) if len(sys.argv) > 2 else 0.01
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    T = 1.0
    m = Newtonian1D()
    x0, y0 = m.sample_particles(n)
    m.simulate_particles((x0[:8], y0[:8]), 0.1)  # compile outside the timing
    euler_numba(x0[:8].copy(), y0[:8].copy(), 0.1, 0.05)
    tr = m.simulate_particles((x0, y0), T, [T], record_events=False)
    xe, ye = tr.info["x"][0], tr.info["y"][0]
    sol = m.solve_continuum(T, [T], resolution=4096, scheme="quantile")
    mf = sum(float(wasserstein(EmpiricalMeasure(p), sol.measure(T, sp), p=1)) for p, sp in ((xe, "rho"), (ye, "eta")))
    target = frac * mf
    print(f"N={n}, T={T}, events={tr.info['n_cross'] + tr.info['n_stick']}, mean-field W1={mf:.3e}, "
          f"Euler target W1 <= {frac:g} x that = {target:.3e}; load average {load_average():.1f}")
    dt = 2.0 ** -4
    while True:
        xu, yu = euler_numba(x0.copy(), y0.copy(), T, dt)
        err = w1_atoms(xu, xe) + w1_atoms(yu, ye)
        if err <= target or dt < 2.0**-22:
            break
        dt /= 2
    # the event-driven error: W1 to a second exact engine (general masses, cluster engine) at round-off
    w = np.full(n, 1.0 / n)
    tg = simulate_general_masses(x0, y0, w, w, [T], T, record_events=False)
    err_event = w1_atoms(tg["x"], xe) + w1_atoms(tg["y"], ye)
    ours, peer = interleaved_times(
        [lambda: m.simulate_particles((x0, y0), T, [T], record_events=False),
         lambda: euler_numba(x0.copy(), y0.copy(), T, dt)], repeats, clock=time.process_time)
    print(f"peer: explicit Euler, numba-compiled O(N) per step, warm, dt=2^{int(np.log2(dt))}: "
          f"W1 to exact = {err:.3e}")
    print(f"ours: event-driven exact (compiled rank engine): W1 to the cluster engine's exact solution = "
          f"{err_event:.1e} (round-off)")
    print(f"{repeats} interleaved rounds, CPU: ours {times_summary(ours)}, peer {times_summary(peer)}")
    print(f"ratio event ÷ Euler (ours ÷ peer) = {ratio_summary(ours, peer)}")
    print_peak_rss("all runs")


if __name__ == "__main__":
    main()
