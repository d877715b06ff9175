"""Model 001: our event-driven solver (Dormand–Prince 5(4) on the active particles, annihilations located
on the continuous extension, compiled pair-symmetric forces)
against scipy.integrate.solve_ivp(method="Radau", events=...) restarted at each annihilation, on the
same system (V = -log, W = 0, semicircles; n particles to t = 1). Accuracy = max error of the
annihilation times against a tight reference (ours at rtol 1e-12). Radau's configurations: scipy's
implicit Radau IIA (order 5) with its finite-difference Jacobian, and with the exact Jacobian of (4.1)
(dense, ``(1/n)/(x_i - x_j)²`` between active particles of equal charge, minus the row sum on the
diagonal: its strongest configuration), atol = rtol · 1e-3 like ours, a terminal falling event on the
smallest ± gap, forces from ``Annihilation1D.velocity`` (compiled). Threads: one for both (our engine
runs on one thread; the BLAS of Radau's LU factorisations is held to one thread through
``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS``/``MKL_NUM_THREADS``, set before NumPy is imported unless
already set: on a loaded machine OpenBLAS threads spinning on 200 × 200 factorisations inflated
Radau's CPU time about tenfold).
Every configuration is run once untimed (compilation, scipy's first call: a cold Radau call is what
made an earlier table's 131–207×), then all are timed interleaved call by call
(``_timing.interleaved_times``, ``repeats`` rounds, default 5, CPU time recorded beside); the ratio is
ours ÷ Radau at equal accuracy (our cheapest run at least as accurate), median and range over the
rounds (the ratio of each round's pair of calls).

Run: PYTHONPATH=. python benchmarks/annihilation1d_vs_radau.py [n [repeats]]
"""

import os
import sys
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # same threads as our (single-threaded) engine; before NumPy loads BLAS

import numpy as np  # noqa: E402
from _timing import interleaved_times  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

from meanfield.models.annihilation1d import Annihilation1D  # noqa: E402


def log_jacobian(y, b, n):
    """Exact Jacobian of (4.1) for V = -log, W = 0: ∂ẋ_i/∂x_j = (1/n)/(x_i - x_j)² for active i ≠ j of equal
    charge, the diagonal minus the row sum; rows and columns of ghosts (b = 0) are zero."""
    d = y[:, None] - y[None, :]
    same = (b[:, None] == b[None, :]) & (b[:, None] != 0) & ~np.eye(y.size, dtype=bool)
    with np.errstate(divide="ignore"):
        jac = np.where(same, 1.0 / np.where(same, d, 1.0) ** 2, 0.0) / n
    jac[np.diag_indices_from(jac)] = -jac.sum(axis=1)
    return jac


def radau_events(model, x, b, t_end, rtol, atol, exact_jacobian=False):
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
        jac = (lambda s, y, bb=bb: log_jacobian(y, bb, n)) if exact_jacobian else None
        sol = solve_ivp(lambda s, y, bb=bb: model.velocity(y, bb, n), (t, t_end), x, method="Radau",
                        rtol=rtol, atol=atol, events=gap, jac=jac)
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


def main(n=200, repeats=5):
    model = Annihilation1D()
    x, b = model.sample_particles(n)
    ref = np.array([e[0] for e in model.simulate_particles((x, b), 1.0, rtol=1e-12, atol=1e-14).events])
    print(f"n = {n}: {ref.size} annihilations to t = 1; reference: ours at rtol 1e-12")
    print("Radau: scipy.integrate.solve_ivp(method='Radau'), finite-difference Jacobian (Radau+J: the exact "
          "Jacobian), atol = rtol·1e-3, terminal "
          "event on the smallest ± gap, restarted at each annihilation, forces Annihilation1D.velocity (compiled); "
          f"every configuration called once before the timing (warm); {repeats} interleaved rounds; "
          f"BLAS threads {os.environ['OPENBLAS_NUM_THREADS']}")
    configs = [("ours", r, lambda r=r: np.array([e[0] for e in model.simulate_particles(
        (x, b), 1.0, rtol=r, atol=r * 1e-3).events])) for r in (1e-6, 1e-8, 1e-10)]
    configs += [(who, r, lambda r=r, ex=ex: radau_events(model, x, b, 1.0, r, r * 1e-3, ex))
                for who, ex in (("Radau", False), ("Radau+J", True)) for r in (1e-6, 1e-8)]
    errors, cpu = [], [[] for _ in configs]
    for _, _, f in configs:  # warm (compiled code, scipy's first call) and accuracy
        ev = f()
        errors.append(np.max(np.abs(ev - ref)) if ev.size == ref.size else np.inf)

    def timed(k, f):
        def call():
            c0 = time.process_time()
            f()
            cpu[k].append(time.process_time() - c0)
        return call

    wall = interleaved_times([timed(k, f) for k, (_, _, f) in enumerate(configs)], repeats)
    for k, (who, r, _) in enumerate(configs):
        print(f"{who:7s} rtol {r:g}: CPU median {np.median(cpu[k]):.3f} s [{min(cpu[k]):.3f}, {max(cpu[k]):.3f}], "
              f"wall median {np.median(wall[k]):.3f} s [{min(wall[k]):.3f}, {max(wall[k]):.3f}], "
              f"event-time error {errors[k]:.1e}", flush=True)
    ours = [k for k, c in enumerate(configs) if c[0] == "ours"]
    for k, (who, r, _) in enumerate(configs):  # equal accuracy: our cheapest run at least as accurate as Radau's
        ok = [o for o in ours if errors[o] <= errors[k]]
        if who == "ours" or not ok:
            continue
        o = min(ok, key=lambda o: np.median(cpu[o]))
        ratio = np.array(cpu[o]) / np.array(cpu[k])
        wr = np.array(wall[o]) / np.array(wall[k])
        print(f"equal accuracy (error <= {errors[k]:.1e}): ours (rtol {configs[o][1]:g}) / {who} (rtol {r:g}) CPU "
              f"{np.median(ratio):.3f} (range {ratio.min():.3f}-{ratio.max():.3f}), wall {np.median(wr):.3f} "
              f"(range {wr.min():.3f}-{wr.max():.3f}); {repeats} interleaved rounds, both warm")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
