"""Model 001 particles at scale: cost of a run against n, the forces against their peers, and the
event-time accuracy of the fast path against the direct engine.

Reference case: V = -log, W = 0, two semicircle blocks (Annihilation1D()), n particles to t = 1,
rtol 1e-8, atol 1e-11 (the defaults). Goal (issue 17): n = 10^4 in ≤ 30 s with the same event accuracy.

1. Forces at m particles (CPU time per evaluation, interleaved call by call, ``repeats`` rounds,
   median and range): the 1-D FMM at the order the default tolerance uses (p = 15) against the
   compiled direct pair sum (ours too: the engine below the crossover) and against pyfmmlib's 2-D
   Laplace FMM on the real axis (``lfmm2dparttarg``, iprec 3, requested 0.5e-9, and 4; complex charges
   1 + i b give both sums of (F) in one call — its strongest configuration for this job). Errors are
   max |v - v_direct| / ((1/n) Σ_j 1/|x_i - x_j|).
   Also the crossover of force="auto": direct ÷ FMM per evaluation at m = 100 … 600 (above 1: the FMM
   is cheaper).
2. Whole runs with the default forces ("auto": FMM above 300 active particles) and, up to
   ``--direct-max`` (default 10^4), with force="direct" (the engine as it was before the FMM): wall and
   CPU time, accepted / rejected steps, force evaluations, annihilations, the fitted exponent of CPU
   time in n for each force path. Where the time goes: CPU in the force evaluations (a timer around
   the engine's force call), in the event location (Brent on the continuous extension) and the rest
   (the Runge–Kutta linear combinations, error norm, gap checks: Python/NumPy); the evaluations split
   into 6 per attempted step (FSAL) and one restart after each step cut at an annihilation.
   For n ≤ 2000 also the largest Jacobian eigenvalue at t = 0 and |λ|max · (mean step), with the lower
   bound of an implicit method's cost (one dense LU per annihilation ÷ our run; the explicit method
   is stability-limited, an implicit one would still restart at every annihilation).
3. What sets the step, at n = 1000 and 2000: accepted / rejected steps at rtol 1e-10 … 1e-4 (atol =
   rtol · 1e-3), and the same particles all with charge +1 (no annihilation at all). Steps that do
   not shrink as the tolerance is loosened are set by stability (λ ~ n), not by accuracy or events.
4. Event times at n ∈ ``accuracy_ns`` against a tight reference (direct forces, rtol 1e-12, atol 1e-15):
   max error of the default run with FMM forces and with direct forces.

The machine is shared: CPU time is the steadier measure (numba code runs on one thread), wall time
is printed beside it. Peak RSS at the end.

Run: PYTHONPATH=. python benchmarks/annihilation1d_scaling.py [--direct-max N] [n ...]
(default n = 1000 2000 4000 10000; the direct-sum run at n = 10^4 alone takes about 10 minutes of CPU)
"""

import argparse
import resource
import time

import numpy as np
from _timing import interleaved_times
from scipy.linalg import lu_factor

import meanfield.particles.annihilation_events1d as engine
from meanfield.models.annihilation1d import Annihilation1D
from meanfield.particles.annihilation_forces1d import (
    FMM_CROSSOVER,
    active_velocity,
    fmm_order,
    fmm_velocity,
)

REPEATS = 7
DIRECT_MAX = 10000
CROSSOVER_MS = (100, 200, 300, 400, 600)
ACCURACY_NS = (1000, 2000)


def cpu_timed(f):
    t0, c0 = time.perf_counter(), time.process_time()
    out = f()
    return out, time.process_time() - c0, time.perf_counter() - t0


def pyfmmlib_velocity(x, b, n, iprec):
    """(4.1) with V = -log, W = 0 by pyfmmlib: the field Σ_j q_j (x_i - x_j)/|x_i - x_j|² on the real axis with
    q = 1 + i b; same-sign sum = ½(Re + b Im) (Σ over all j ≠ i, no near-field special case)."""
    import pyfmmlib

    m = x.size
    src = np.asfortranarray(np.vstack([x, np.zeros(m)]))
    ier, _, fld, *_ = pyfmmlib.lfmm2dparttarg(
        iprec, src, 1, (1 + 1j * b).astype(complex), 0, np.zeros(m, complex), np.zeros((2, m)), 0, 1, 0, 0,
        np.zeros((2, 1)), 0, np.zeros(1, complex), 0, np.zeros((2, 1), complex), 0, np.zeros((3, 1), complex))
    if ier != 0:
        raise RuntimeError(f"pyfmmlib failed with ier={ier}")
    fx = fld[0]
    return 0.5 * (fx.real + b * fx.imag) / n  # -(1/n) Σ V'(x_i - x_j) = (1/n) Σ 1/(x_i - x_j)


def force_table(model, ms, repeats=REPEATS):
    p = fmm_order(1e-8)
    print(f"1. forces (CPU per evaluation; FMM order p = {p}; {repeats} interleaved rounds)")
    for m in ms:
        x, b = model.sample_particles(m)
        b = b.astype(np.int64)
        fns = {"fmm": lambda x=x, b=b, m=m: fmm_velocity(x, b, m, 0, 0, 0.0, order=p),
               "pyfmmlib-3": lambda x=x, b=b, m=m: pyfmmlib_velocity(x, b, m, 3),
               "pyfmmlib-4": lambda x=x, b=b, m=m: pyfmmlib_velocity(x, b, m, 4)}
        if m <= 20000:
            fns["direct"] = lambda x=x, b=b, m=m: active_velocity(x, b, m, 0, 0, 0.0)
        out = {k: f() for k, f in fns.items()}  # warm
        times = {k: [] for k in fns}

        def timed(k, f, times=times):
            def call():
                times[k].append(cpu_timed(f)[1])
            return call

        interleaved_times([timed(k, f) for k, f in fns.items()], repeats)
        line = [f"m = {m:7d}: FMM {np.median(times['fmm']) * 1e3:8.3f} ms"]
        if m <= 20000:
            scale = kernel_scale(x)
            for k in fns:
                if k != "direct":
                    line.append(f"err {k} {np.max(np.abs(out[k] - out['direct']) / scale):.1e}")
        for k in fns:
            if k != "fmm":
                r = np.array(times["fmm"]) / np.array(times[k])
                line.append(f"FMM/{k} {np.median(r):.3g} ({r.min():.3g}-{r.max():.3g})")
        print("  " + "; ".join(line), flush=True)


def crossover_table(model, ms=CROSSOVER_MS, repeats=REPEATS):
    """direct ÷ FMM CPU time per evaluation (interleaved, repeats × 20 calls each): the crossover of "auto"."""
    p = fmm_order(1e-8)
    print(f"   crossover (direct ÷ FMM per evaluation, p = {p}; above 1 the FMM is cheaper; "
          f"force='auto' switches at {FMM_CROSSOVER})")
    for m in ms:
        x, b = model.sample_particles(m)
        b = b.astype(np.int64)
        fns = [lambda x=x, b=b, m=m: active_velocity(x, b, m, 0, 0, 0.0),
               lambda x=x, b=b, m=m: fmm_velocity(x, b, m, 0, 0, 0.0, order=p)]
        for f in fns:
            f()
        cpu = [[], []]

        def timed(k, f, cpu=cpu):
            def call():
                c0 = time.process_time()
                for _ in range(20):
                    f()
                cpu[k].append(time.process_time() - c0)
            return call

        interleaved_times([timed(k, f) for k, f in enumerate(fns)], repeats)
        r = np.array(cpu[0]) / np.maximum(np.array(cpu[1]), 1e-9)
        ms_direct, ms_fmm = np.median(cpu[0]) / 20 * 1e3, np.median(cpu[1]) / 20 * 1e3
        print(f"   m = {m:4d}: direct {ms_direct:.3f} ms, FMM {ms_fmm:.3f} ms, "
              f"direct/FMM {np.median(r):.2f} ({r.min():.2f}-{r.max():.2f})", flush=True)


class Profiled:
    """CPU time spent in the engine's force evaluations and in its event location (Brent), by wrapping the
    two functions the engine calls (:mod:`meanfield.particles.annihilation_events1d` ``velocity`` and
    ``brentq``) for the duration of a ``with`` block."""

    def __enter__(self):
        self.force = self.events = 0.0
        self._saved = engine.velocity, engine.brentq

        def velocity(*a, **k):
            c0 = time.process_time()
            try:
                return self._saved[0](*a, **k)
            finally:
                self.force += time.process_time() - c0

        def brentq(*a, **k):
            c0 = time.process_time()
            try:
                return self._saved[1](*a, **k)
            finally:
                self.events += time.process_time() - c0

        engine.velocity, engine.brentq = velocity, brentq
        return self

    def __exit__(self, *exc):
        engine.velocity, engine.brentq = self._saved


def kernel_scale(x, rows=500):
    """(1/m) Σ_j 1/|x_i - x_j| (bounds the kernel sums the errors are measured against), by row blocks."""
    out = np.empty(x.size)
    for a in range(0, x.size, rows):
        d = np.abs(x[a:a + rows, None] - x[None, :])
        d[d == 0] = np.inf
        out[a:a + rows] = (1.0 / d).sum(axis=1) / x.size
    return out


def jacobian_log(x, b, n):
    """∂ẋ_i/∂x_j for V = -log, W = 0: (1/n)/(x_i - x_j)² off the diagonal (same sign), minus the row sum on
    the diagonal."""
    d = x[:, None] - x[None, :]
    same = (b[:, None] == b[None, :]) & ~np.eye(x.size, dtype=bool)
    with np.errstate(divide="ignore"):
        jac = np.where(same, 1.0 / np.where(same, d, 1.0) ** 2, 0.0) / n
    jac[np.diag_indices_from(jac)] = -jac.sum(axis=1)
    return jac


def run_table(model, ns, direct_max=DIRECT_MAX):
    print("2. runs to t = 1 (rtol 1e-8): forces, n, CPU s, wall s, accepted, rejected, force evaluations "
          "(6/step + restarts), annihilations, CPU share: forces / event location / rest"
          "[, |λ|max, |λ|max·h̄, implicit lower bound ÷ ours]")
    cost = {"auto": [], "direct": []}
    for n in ns:
        state = model.sample_particles(n)
        for forces in ("auto", "direct"):
            if forces == "direct" and n > direct_max:
                continue
            with Profiled() as prof:
                tr, cpu, wall = cpu_timed(lambda s=state, f=forces: model.simulate_particles(s, 1.0, force=f))
            st = tr.info["stats"]
            restarts = st["force_evaluations"] - 1 - 6 * (st["accepted"] + st["rejected"])
            cost[forces].append((n, cpu))
            extra = ""
            if n <= 2000 and forces == "auto":
                jac = jacobian_log(*state, n)
                lam = float(np.max(np.abs(np.linalg.eigvalsh(jac))))
                _, t_lu, _ = cpu_timed(lambda n=n, jac=jac: lu_factor(np.eye(n) - 0.01 * jac))
                extra = f" {lam:9.3g} {lam / st['accepted']:6.2f} {len(tr.events) * t_lu / cpu:7.2f}"
            share = f"{prof.force / cpu:5.1%} / {prof.events / cpu:5.1%} / {1 - (prof.force + prof.events) / cpu:5.1%}"
            print(f"  {forces:6s} {n:6d} {cpu:8.2f} {wall:8.2f} {st['accepted']:8d} {st['rejected']:6d} "
                  f"{st['force_evaluations']:8d} ({restarts} restarts) {len(tr.events):6d}  {share}{extra}", flush=True)
    for forces, rows in cost.items():
        if len(rows) >= 2:
            nn, cc = np.array(rows).T
            print(f"  CPU time ∝ n^{np.polyfit(np.log(nn), np.log(cc), 1)[0]:.2f} with force={forces} "
                  f"(n = {int(nn[0])}…{int(nn[-1])})")
    for forces, rows in cost.items():
        big = [c for n, c in rows if n == 10000]
        if big:
            print(f"  goal n = 10^4 to t = 1 in ≤ 30 s, force={forces}: {big[0]:.1f} s CPU "
                  f"({'met' if big[0] <= 30 else 'not met'})")


def step_table(model, ns=ACCURACY_NS):
    print("3. what sets the step (accepted / rejected steps, annihilations)")
    for n in ns:
        x, b = model.sample_particles(n)
        row = []
        for rtol in (1e-10, 1e-8, 1e-6, 1e-4):
            st = (tr := model.simulate_particles((x, b), 1.0, rtol=rtol, atol=rtol * 1e-3)).info["stats"]
            row.append(f"rtol {rtol:g}: {st['accepted']} / {st['rejected']} ({len(tr.events)})")
        st = model.simulate_particles((x, np.ones_like(b)), 1.0).info["stats"]
        row.append(f"all charges +1, rtol 1e-8: {st['accepted']} / {st['rejected']} (0)")
        print(f"  n = {n}: " + "; ".join(row), flush=True)


def accuracy_table(model, ns):
    print("4. event times against direct forces at rtol 1e-12 (max |error|, default rtol 1e-8)")
    for n in ns:
        state = model.sample_particles(n)
        ref = np.array([e[0] for e in model.simulate_particles(state, 1.0, rtol=1e-12, atol=1e-15,
                                                               force="direct").events])
        row = [f"n = {n}: {ref.size} annihilations"]
        for forces in ("fmm", "direct"):
            ev = np.array([e[0] for e in model.simulate_particles(state, 1.0, force=forces).events])
            err = np.max(np.abs(ev - ref)) if ev.size == ref.size else np.inf
            row.append(f"{forces} {err:.2e}")
        print("  " + "; ".join(row), flush=True)


def main(ns, direct_max=DIRECT_MAX):
    model = Annihilation1D()
    model.simulate_particles(model.sample_particles(400), 0.05, force="fmm")  # compile
    model.simulate_particles(model.sample_particles(40), 0.05)
    force_table(model, [1000, 10000, 100000])
    crossover_table(model)
    run_table(model, ns, direct_max)
    step_table(model)
    accuracy_table(model, ACCURACY_NS)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="*", type=int, default=[1000, 2000, 4000, 10000])
    parser.add_argument("--direct-max", type=int, default=DIRECT_MAX, help="largest n run with force='direct'")
    args = parser.parse_args()
    main(args.n, args.direct_max)
