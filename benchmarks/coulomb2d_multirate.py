"""Model 000 particles at large N: the multirate close-pair rule against the global one (issue 17).

Three parts (``python benchmarks/coulomb2d_multirate.py [steps] [run] [fmm]``, all three by default):

* ``steps``: global steps (= force evaluations) per unit time of ``simulate_particles`` with
  ``step="global"`` and ``step="multirate"`` on the validation's mean-field model (sigma = 1,
  gamma_bar = 0.4, width 0.4, default dt = 0.0016) for N = 10^3 ... 10^5, over ``t = T_STEPS``; the global
  rule's count at N >= 3*10^4 is measured over a shorter span and projected (printed as such). The
  multirate count is t/dt whatever N, plus its close-group substeps (printed).
* ``run``: N = 10^5 to t = 0.1 with the default rule (multirate, FMM forces): wall time, process CPU
  time, peak RSS, and the machine's load (``os.getloadavg``) beside them.
* ``fmm``: the cost of one force evaluation as the step uses it (``fmm_drift`` plus the close-pair search
  :func:`~meanfield.particles.multirate_step.pairs_within` of the multirate rule; and, for the global
  rule, ``fmm_drift`` plus the k-d tree nearest-neighbour query) divided by one raw
  ``pyfmmlib.lfmm2dparttarg`` call (its strongest configuration here: the same precision flag 2,
  arrays prepared outside the timing, warm), at N = 10^6 (``FMM_N``; ``fmm 200000`` for another N),
  calls interleaved, ``REPEATS`` repeats, median [range] of the wall and of the process CPU time.

The machine is shared (2 cores, several agents): ratios are measured interleaved; absolute times are
printed with the load average.
"""

import os
import resource
import sys
import time

import numpy as np

from meanfield.models.coulomb2d import SignedCoulomb2D
from meanfield.particles.coulomb_forces import fmm_drift, nearest_distances
from meanfield.particles.multirate_step import close_radius, pairs_within

MODEL = dict(sigma=1.0, gamma_bar=0.4, mass_plus=0.5, mass_minus=0.5, centre_plus=(-0.4, 0.0),
             centre_minus=(0.4, 0.0), width=0.4)
T_STEPS = 0.01
REPEATS = 5
FMM_N = 10**6


def load():
    return "load average " + ", ".join(f"{v:.1f}" for v in os.getloadavg())


def steps():
    m = SignedCoulomb2D(**MODEL)
    print(f"steps per unit time (t = {T_STEPS}, default dt = {0.01 * m.width**2:.4g}); {load()}")
    print(f"{'N':>7s} {'global':>10s} {'':9s} {'multirate':>10s} {'substeps':>9s} {'grouped/step':>12s}")
    for n in (1000, 3000, 10000, 30000, 100000):
        x0 = m.sample_particles(n, rng=0)
        t_glob = T_STEPS if n <= 10000 else T_STEPS / 10
        g = m.simulate_particles(x0, t_glob, rng=1, step="global")
        r = m.simulate_particles(x0, T_STEPS, rng=1, step="multirate")
        note = "measured" if t_glob == T_STEPS else f"projected from t={t_glob:g}"
        print(f"{n:7d} {g.info['steps'] / t_glob:10.0f} {note:9s} {r.info['steps'] / T_STEPS:10.0f} "
              f"{r.info['substeps']:9d} {r.info['grouped'] / r.info['steps']:12.1f}", flush=True)


def run():
    m = SignedCoulomb2D(**MODEL)
    x0 = m.sample_particles(100_000, rng=0)
    before = load()
    w0, c0 = time.perf_counter(), time.process_time()
    tr = m.simulate_particles(x0, 0.1, rng=1)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    info = {k: tr.info[k] for k in ("step_rule", "force", "steps", "substeps", "grouped", "largest_group",
                                    "halvings", "drift_evaluations")}
    print(f"N = 10^5 to t = 0.1: wall {wall:.1f} s, CPU {cpu:.1f} s, peak RSS {rss:.2f} GiB; {info}; "
          f"{before} before, {load()} after", flush=True)


def fmm(n=FMM_N):
    import pyfmmlib

    rng = np.random.default_rng(0)
    x = 0.4 * rng.standard_normal((n, 2))
    b = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    gamma = 0.4 / n
    radius = close_radius(0.0016, gamma, 0.25)
    src, charge = np.asfortranarray(x.T), b.astype(complex)
    zc, z2, z1 = np.zeros(n, complex), np.zeros((2, n)), np.zeros((2, 1))

    def raw():
        pyfmmlib.lfmm2dparttarg(2, src, 1, charge, 0, zc, z2, 0, 1, 0, 0, z1, 0, np.zeros(1, complex), 0,
                                np.zeros((2, 1), complex), 0, np.zeros((3, 1), complex))

    def multirate():
        fmm_drift(x, b, gamma, 2)
        pairs_within(x, radius)

    def global_rule():
        fmm_drift(x, b, gamma, 2)
        nearest_distances(x)

    pairs_within(x[:1000], radius)  # compile outside the timing
    configs = [("multirate step (FMM + cell-list close pairs)", multirate), ("raw pyfmmlib", raw),
               ("global step (FMM + k-d tree nearest neighbours)", global_rule)]
    times = {name: [] for name, _ in configs}
    cpu = {name: [] for name, _ in configs}
    print(f"FMM at N = {n}, precision flag 2, {REPEATS} interleaved repeats; {load()}", flush=True)
    for r in range(REPEATS):
        for name, fn in configs if r % 2 == 0 else configs[::-1]:
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    print(f"{'':48s} {'wall':>8s}  {'wall ratio to raw, median [range]':34s} {'CPU':>7s}  CPU ratio")
    for name, _ in configs:
        t, c = np.array(times[name]), np.array(cpu[name])
        ratio, c_ratio = t / np.array(times["raw pyfmmlib"]), c / np.array(cpu["raw pyfmmlib"])
        print(f"{name:48s} {np.median(t):7.2f}s  {np.median(ratio):.3f} [{ratio.min():.3f}, {ratio.max():.3f}]"
              f"{'':15s} {np.median(c):6.2f}s  {np.median(c_ratio):.3f} [{c_ratio.min():.3f}, {c_ratio.max():.3f}]")
    print(f"{load()}; peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    parts = sys.argv[1:] or ["steps", "run", "fmm"]
    for k, part in enumerate(parts):
        if part == "fmm" and k + 1 < len(parts) and parts[k + 1].isdigit():
            fmm(int(parts[k + 1]))
        elif not part.isdigit():
            {"steps": steps, "run": run, "fmm": fmm}[part]()
