"""Homogeneous Smoluchowski system at M = 10^4 mass classes, constant kernel K = 1, monodisperse
start f_n(0) = δ_{n1}, to t = 10, at error ≤ 1e-8 against the exact solution
f_n(t) = τ^{n-1} / (1 + τ)^{n+1}, τ = t/2 (standard form; the truncation at M changes it by far
less than round-off at t = 10). Issue 17's goal: ours ≤ 1.2x the peer at equal error, O(M) memory.

* ours: the model's solve, ``CoagulationDiffusion(max_mass=M, kernel=SeparableKernel.constant(M))
  .solve_homogeneous(10, initial=δ, sums="fft", rtol=...)`` (model built inside the timed call) —
  Dormand–Prince 5(4) with error control through the time-stepping driver, FFT coagulation sums
  from the kernel's separable form (no M × M matrix), at the loosest ``rtol`` of 1e-5, 1e-6, ...
  whose error is ≤ 1e-8;
* ours, paper's kernel: ``CoagulationDiffusion(max_mass=M)`` with its own kernel, which is constant
  (``K = c = 2d F(κ/2d)`` for the default constant d and α) and is summed through its separable
  form, to ``t = 10/c`` (the same exact solution, time scaled by c), at its own loosest rtol;
* peer: a plain FFT-convolution RK4 written here (fixed steps, one real FFT and one inverse per
  evaluation, the same conservative truncation), at the fewest steps whose error is ≤ 1e-8.

All are timed interleaved call by call (warm: one untimed call each first), ≥ 5 repeats; printed:
each configuration and its error, the median and range of each time and of the ratio ours / peer
(call by call), the peak memory of each solve (tracemalloc, NumPy's allocations) and the peak RSS of
the process, the peak memory of ours at 2M and 4M classes (O(M) expected), and the load average
(the machine is shared: the ratio, not the absolute times, is the result).

Run: PYTHONPATH=. python benchmarks/smoluchowski_homogeneous_fft.py [repeats]
"""

import os
import resource
import sys
import time
import tracemalloc

import numpy as np
from scipy import fft as sfft

from meanfield.models.smoluchowski import CoagulationDiffusion, SeparableKernel

M, T_END, TARGET, GOAL = 10**4, 10.0, 1e-8, 1.2
RTOLS = (1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10)


def initial(big_m):
    f0 = np.zeros(big_m)
    f0[0] = 1.0
    return f0


def exact(big_m, t=T_END):
    tau = t / 2
    n = np.arange(1, big_m + 1)
    return np.exp((n - 1) * np.log(tau) - (n + 1) * np.log1p(tau))


def ours(rtol, big_m=M):
    model = CoagulationDiffusion(max_mass=big_m, kernel=SeparableKernel.constant(big_m))
    return model.solve_homogeneous(T_END, initial=initial(big_m), sums="fft", rtol=rtol)[1][-1]


def paper_constant():
    """``c``, the paper's kernel of the default model (constant d and α: a constant)."""
    return float(CoagulationDiffusion(max_mass=2).coagulation_kernel().a[0, 0])


def ours_paper(rtol, big_m=M):
    model = CoagulationDiffusion(max_mass=big_m)
    c = model.coagulation_kernel().a[0, 0]
    return model.solve_homogeneous(T_END / c, initial=initial(big_m), sums="fft", rtol=rtol)[1][-1]


def peer(steps, big_m=M):
    """Fixed-step classical RK4 on ``df/dt = ½ f*f − f Σ_{m ≤ M-n} f_m`` with the convolution by
    one real FFT pair of length ≥ 2M − 1."""
    length = sfft.next_fast_len(2 * big_m - 1, real=True)

    def rhs(f):
        spec = sfft.rfft(f, length)
        conv = sfft.irfft(spec * spec, length)
        out = np.empty(big_m)
        out[0] = 0.0
        out[1:] = 0.5 * conv[: big_m - 1]
        out[: big_m - 1] -= f[: big_m - 1] * np.cumsum(f)[big_m - 2 :: -1]
        out[big_m - 1] = 0.0
        return out

    h = T_END / steps
    y = initial(big_m)
    for _ in range(steps):
        k1 = rhs(y)
        k2 = rhs(y + 0.5 * h * k1)
        k3 = rhs(y + 0.5 * h * k2)
        k4 = rhs(y + h * k3)
        y = y + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)
    return y


def error(f, big_m=M):
    return float(np.abs(f - exact(big_m)).max())


def peak_bytes(func):
    tracemalloc.start()
    func()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main(repeats=7):
    # the accuracy all are compared at: the loosest setting of each with error <= TARGET
    rtol = next(r for r in RTOLS if error(ours(r)) <= TARGET)
    rtol_paper = next(r for r in RTOLS if error(ours_paper(r)) <= TARGET)
    lo, hi = 10, 1000  # smallest RK4 step count with error <= TARGET (error decreases with steps)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if error(peer(mid)) <= TARGET else (mid, hi)
    steps = hi
    print(f"M = {M}, constant kernel, t = {T_END}, target max|f - exact| <= {TARGET:g}; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the start")
    print(f"ours: CoagulationDiffusion(max_mass=M, kernel=SeparableKernel.constant(M)).solve_homogeneous(sums='fft', "
          f"rtol={rtol:g}, atol=1e-14) (DP5(4), FFT sums), error {error(ours(rtol)):.2e}")
    print(f"ours, paper's kernel: CoagulationDiffusion(max_mass=M) (constant K = c = {paper_constant():.6g}) to t = "
          f"{T_END}/c, rtol={rtol_paper:g}, error {error(ours_paper(rtol_paper)):.2e}")
    print(f"peer: plain FFT-convolution RK4 (scipy.fft, next_fast_len), {steps} fixed steps, error "
          f"{error(peer(steps)):.2e}")
    runs = {"ours": lambda: ours(rtol), "paper": lambda: ours_paper(rtol_paper), "peer": lambda: peer(steps)}
    times = {k: [] for k in runs}
    for _ in range(repeats):  # interleaved, call by call
        for k, run in runs.items():
            t0 = time.perf_counter()
            run()
            times[k].append(time.perf_counter() - t0)
    times = {k: np.array(v) for k, v in times.items()}
    print(", ".join(f"{k} {np.median(v):.3f} s [{v.min():.3f}, {v.max():.3f}]" for k, v in times.items())
          + f" ({repeats} repeats)")
    for k in ("ours", "paper"):
        ratio = times[k] / times["peer"]
        verdict = "met" if np.median(ratio) <= GOAL else "NOT met"
        print(f"ratio {k} / peer: median {np.median(ratio):.2f}, range [{ratio.min():.2f}, {ratio.max():.2f}] "
              f"(goal <= {GOAL}: {verdict})")
    print(f"peak memory of one solve (tracemalloc): ours {peak_bytes(runs['ours']) / 2**20:.1f} MiB, paper's kernel "
          f"{peak_bytes(runs['paper']) / 2**20:.1f} MiB, peer {peak_bytes(runs['peer']) / 2**20:.1f} MiB (an M x M "
          f"matrix would be {M * M * 8 / 2**20:.0f} MiB; bound of tests/test_smoluchowski_separable.py: 50*M*8 B = "
          f"{50 * M * 8 / 2**20:.1f} MiB)")
    for big_m in (2 * M, 4 * M):
        print(f"  ours at M = {big_m}: {peak_bytes(lambda big_m=big_m: ours(rtol, big_m)) / 2**20:.1f} MiB")
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10:.0f} MiB; load "
          f"average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
