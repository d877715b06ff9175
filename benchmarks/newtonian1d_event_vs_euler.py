"""Benchmark (model 002): exact event-driven particles vs fixed-step explicit Euler of the same ODE,
at equal accuracy. Prints wall times and their ratio.

Accuracy target: the Euler run must be within ``frac`` (default 1 %) of the particle/continuum
W1 distance of its own exact solution: W1(Euler(T), exact(T)) <= frac * W1(exact(T), continuum(T)),
summed over both species. The event-driven solver is exact up to round-off, so its error is ~1e-15.
Euler: x_i' = (2(i - J_i) - 1)/N with J_i = #{y_j < x_i} (notes/002.md §1.3), vectorised numpy with
searchsorted, positions re-sorted each step so labels stay ranks; dt halved until the target holds.

    python benchmarks/newtonian1d_event_vs_euler.py [N] [frac]
"""

import sys
import time

import numpy as np

from meanfield.models.newtonian1d import Newtonian1D
from validation.newtonian1d import _quantile_distance


def euler(x, y, T, dt):
    n = x.size
    i = np.arange(1, n + 1)
    steps = int(round(T / dt))
    for _ in range(steps):
        vx = (2 * (i - np.searchsorted(y, x, side="left")) - 1) / n
        vy = (2 * (i - np.searchsorted(x, y, side="left")) - 1) / n
        x = np.sort(x + dt * vx)
        y = np.sort(y + dt * vy)
    return x, y


def w1_atoms(a, b):
    return float(np.mean(np.abs(np.sort(a) - np.sort(b))))  # equal-weight atoms: exact W1


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    frac = float(sys.argv[2]) if len(sys.argv) > 2 else 0.01
    T = 1.0
    m = Newtonian1D()
    x0, y0 = m.sample_particles(n)
    m.simulate_particles((x0[:8], y0[:8]), 0.1)  # compile outside the timing
    t0 = time.perf_counter()
    tr = m.simulate_particles((x0, y0), T, [T], record_events=False)
    t_event = time.perf_counter() - t0
    xe, ye = tr.info["x"][0], tr.info["y"][0]
    sol = m.solve_continuum(4096, T, [T], method="quantile")
    mf = _quantile_distance(xe, sol.measure(T, "rho").edges, 1) + _quantile_distance(ye, sol.measure(T, "eta").edges, 1)
    target = frac * mf
    dt = 2.0 ** -4
    while True:
        t0 = time.perf_counter()
        xu, yu = euler(x0.copy(), y0.copy(), T, dt)
        t_euler = time.perf_counter() - t0
        err = w1_atoms(xu, xe) + w1_atoms(yu, ye)
        print(f"euler dt=2^{int(np.log2(dt))}: W1 to exact = {err:.3e} (target {target:.3e}), {t_euler:.3f} s")
        if err <= target or dt < 2.0**-22:
            break
        dt /= 2
    print(f"N={n}, T={T}, events={tr.info['n_cross'] + tr.info['n_stick']}, mean-field W1={mf:.3e}")
    print(f"event-driven exact: {t_event:.4f} s; Euler at W1 <= {frac:g} x mean-field error: {t_euler:.3f} s")
    print(f"ratio euler/event = {t_euler / t_event:.1f}")


if __name__ == "__main__":
    main()
