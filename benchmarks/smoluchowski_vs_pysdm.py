"""Homogeneous Smoluchowski, constant kernel, monodisperse start: meanfield's deterministic solver
(`solve_homogeneous`, Dormand–Prince 5(4) on masses 1..M, FFT sums from the separable kernel) against
PySDM's super-droplet Monte Carlo (Shima et al. 2009), both compared with the exact solution
c_n = N0 τ^{n-1}/(1+τ)^{n+1}, τ = K N0 t / 2 (standard form), on the classes n ≤ 8.

Peer configuration (printed): PySDM's CPU backend (numba-compiled), warm (one call per seed before the
timing: PySDM compiles per seed), its default adaptive coalescence time-stepping inside 0.1 s outer
steps, the same number of threads as ours (``NUMBA_NUM_THREADS``, default 1 here; set it in the
environment to change both). Equal accuracy: ours is tuned to each PySDM configuration (n_sd = 2^10,
2^13, 2^16 at outer dt = 0.1 s, and 2^16 at 0.01 s) by taking the loosest tolerance of a ladder whose
error is at most the peer's (first run); both errors are printed. Timing: ours and PySDM interleaved
call by call (the seed changes with the call),
``repeats`` rounds, CPU time of this process, median and [range] of the ratio ours ÷ PySDM.
Ends with the peak RSS of the run.

Run: pip install "meanfield[bench]"; PYTHONPATH=. python benchmarks/smoluchowski_vs_pysdm.py [repeats]
"""

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # same threads as ours (before numba is imported)

import sys
import time

import numpy as np
from _timing import interleaved_times, load_average, print_peak_rss, ratio_summary, times_summary

from meanfield.models.coagulation_sums import SeparableKernel
from meanfield.models.smoluchowski import solve_homogeneous

N0, K, T = 2.0**20, 2.0**-20, 2.0  # per m^3, m^3/s: K N0 T = 2; N0 / n_sd integral for n_sd = 2^k <= 2^20
CLASSES = 8
BIG_M = 64  # classes kept by ours: the mass beyond n = 64 at τ = 1 is below 2^-64
SIZES = (2**10, 2**13, 2**16)


def exact():
    tau = K * N0 * T / 2
    n = np.arange(1, CLASSES + 1)
    return N0 * tau ** (n - 1) / (1 + tau) ** (n + 1)


RTOLS = (1e-2, 1e-3, 1e-4, 1e-6, 1e-8, 1e-10)  # ours, loosest first: tuned to the peer's error


def ours(rtol=1e-10):
    f0 = np.zeros(BIG_M)
    f0[0] = N0
    _, f = solve_homogeneous(SeparableKernel.constant(BIG_M, K), f0, T, rtol=rtol, atol=1e-14 * N0, sums="auto")
    return f[-1][:CLASSES]


def pysdm(n_sd, seed, dt=0.1):
    from PySDM import Particulator
    from PySDM.dynamics import Coalescence
    from PySDM.dynamics.collisions.collision_kernels import ConstantK
    from PySDM.environments import Box

    m0 = 1e-12
    env = Box(dt=dt, dv=1.0, backend=_backend(seed))
    attrs = {"multiplicity": np.full(n_sd, N0 / n_sd), "water mass": np.full(n_sd, m0)}
    p = Particulator(n_sd, environment=env, attributes=attrs,
                     dynamics=[Coalescence(collision_kernel=ConstantK(a=K), dt_coal_range=(min(0.1, dt), 100.0))])
    # adaptive=True (PySDM's default); the smallest adaptive substep is its default 0.1 s, or dt if shorter
    p.advance(round(T / dt))
    xi = p.attributes["multiplicity"].to_ndarray()
    cls = np.rint(p.attributes["water mass"].to_ndarray() / m0).astype(int)
    return np.array([xi[cls == n].sum() for n in range(1, CLASSES + 1)])


_BACKENDS = {}


def _backend(seed):
    """One CPU (numba) backend per seed, made once: PySDM compiles per backend (warm-up outside the timing)."""
    if seed not in _BACKENDS:
        from PySDM import Formulae
        from PySDM.backends import CPU

        _BACKENDS[seed] = CPU(formulae=Formulae(seed=seed))
    return _BACKENDS[seed]


def rel_error(c):
    ref = exact()
    return float(np.abs(c - ref).sum() / ref.sum())


def main(repeats=5):
    import numba
    import PySDM

    errs_ours = {rtol: rel_error(ours(rtol)) for rtol in RTOLS}  # also compiles
    for seed in range(repeats):
        pysdm(SIZES[0], seed)  # PySDM compiles one backend per random seed: warm them all up first
    print(f"PySDM {PySDM.__version__}, CPU backend (numba {numba.__version__}), NUMBA_NUM_THREADS="
          f"{numba.config.NUMBA_NUM_THREADS}, ConstantK, adaptive coalescence steps inside outer steps dt; "
          f"{repeats} interleaved rounds, CPU time; load average {load_average():.1f}")
    print(f"ours: solve_homogeneous, M={BIG_M}, SeparableKernel.constant, sums='auto', DP5(4) errors (L1 relative, "
          "n<=8): " + ", ".join(f"rtol {r:g}: {e:.1e}" for r, e in errs_ours.items()))
    for n_sd, dt in [(n, 0.1) for n in SIZES] + [(SIZES[-1], 0.01)]:
        errs = []
        rnd = {"k": 0}

        def peer(n_sd=n_sd, dt=dt, errs=errs, rnd=rnd):
            errs.append(rel_error(pysdm(n_sd, rnd["k"] % repeats, dt)))
            rnd["k"] += 1

        peer()  # its error first (one seed), to tune ours
        rtol = next((r for r in RTOLS if errs_ours[r] <= errs[0]), RTOLS[-1])
        t_ours, t_peer = interleaved_times([lambda rtol=rtol: ours(rtol), peer], repeats, clock=time.process_time)
        print(f"PySDM n_sd={n_sd:6d} dt={dt:g} s: L1 relative error {np.mean(errs):.2e} (mean of {len(errs)} runs), "
              f"{times_summary(t_peer)} | ours rtol {rtol:g}: error {errs_ours[rtol]:.1e}, {times_summary(t_ours)} | "
              f"ours ÷ PySDM {ratio_summary(t_ours, t_peer)}")
    print_peak_rss("all runs")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
