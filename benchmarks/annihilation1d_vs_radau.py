"""Model 001: our event-driven solver (Dormand–Prince 5(4) on the active particles, annihilations located
on the continuous extension, compiled pair-symmetric forces)
against scipy.integrate.solve_ivp(method="Radau", events=...) restarted at each annihilation, on the
same system (V = -log, W = 0, semicircles; n particles to t = 1). Accuracy = max error of the
annihilation times against a tight reference (ours at rtol 1e-12); wall time side by side.

Run: PYTHONPATH=. python benchmarks/annihilation1d_vs_radau.py [n]
"""

import sys
import time

import numpy as np
from scipy.integrate import solve_ivp

from meanfield.models.annihilation1d import Annihilation1D


def radau_events(model, x, b, t_end, rtol, atol):
    x, b = x.copy(), b.copy()
    n, t, times = x.size, 0.0, []
    while t < t_end:
        act = np.flatnonzero(b)
        pairs = [(act[k], act[k + 1]) for k in range(act.size - 1) if b[act[k]] != b[act[k + 1]]]
        bb = b.copy()
        ii = np.array([p[0] for p in pairs], int)
        jj = np.array([p[1] for p in pairs], int)

        def gap(s, y, ii=ii, jj=jj, pairs=pairs):
            return float(np.min(y[jj] - y[ii])) if pairs else 1.0

        gap.terminal, gap.direction = True, -1
        sol = solve_ivp(lambda s, y, bb=bb: model.velocity(y, bb, n), (t, t_end), x, method="Radau",
                        rtol=rtol, atol=atol, events=gap)
        x = sol.y[:, -1].copy()
        if sol.status != 1:
            break
        t = float(sol.t_events[0][0])
        x = sol.y_events[0][0].copy()
        k = int(np.argmin(x[jj] - x[ii]))
        i, j = ii[k], jj[k]
        x[i] = x[j] = 0.5 * (x[i] + x[j])
        b[i] = b[j] = 0
        times.append(t)
    return np.array(times)


def main(n=200):
    model = Annihilation1D()
    x, b = model.sample_particles(n)
    model.simulate_particles(model.sample_particles(10), 0.1)  # compile
    ref = np.array([e[0] for e in model.simulate_particles((x, b), 1.0, rtol=1e-12, atol=1e-14).events])
    print(f"n = {n}: {ref.size} annihilations to t = 1")
    ours, theirs = [], []
    for rtol in (1e-6, 1e-8, 1e-10):
        t0 = time.perf_counter()
        ev = np.array([e[0] for e in model.simulate_particles((x, b), 1.0, rtol=rtol, atol=rtol * 1e-3).events])
        ours.append((rtol, time.perf_counter() - t0, np.max(np.abs(ev - ref)) if ev.size == ref.size else np.inf))
        print(f"ours  rtol {rtol:g}: {ours[-1][1]:.3f} s, event-time error {ours[-1][2]:.1e}", flush=True)
    for rtol in (1e-6, 1e-8):
        t0 = time.perf_counter()
        ev = radau_events(model, x, b, 1.0, rtol, rtol * 1e-3)
        theirs.append((rtol, time.perf_counter() - t0, np.max(np.abs(ev - ref)) if ev.size == ref.size else np.inf))
        print(f"Radau rtol {rtol:g}: {theirs[-1][1]:.3f} s, event-time error {theirs[-1][2]:.1e}", flush=True)
    for _, r_time, r_err in theirs:  # equal accuracy: our cheapest run at least as accurate as Radau's
        ok = [o for o in ours if o[2] <= r_err]
        if ok:
            o = min(ok, key=lambda o: o[1])
            print(f"equal accuracy (error <= {r_err:.1e}): Radau {r_time:.2f} s / ours {o[1]:.3f} s (rtol {o[0]:g}) "
                  f"= {r_time / o[1]:.0f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
