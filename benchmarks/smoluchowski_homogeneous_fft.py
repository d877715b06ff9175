"""Homogeneous Smoluchowski system at M = 10^4 mass classes, constant kernel K = 1, monodisperse
start f_n(0) = δ_{n1}, to t = 10, at error ≤ 1e-8 against the exact solution
f_n(t) = τ^{n-1} / (1 + τ)^{n+1}, τ = t/2 (standard form; the truncation at M changes it by far
less than round-off at t = 10).

* ours: ``solve_homogeneous(SeparableKernel.constant(M), ...)`` — Dormand–Prince 5(4) with error
  control through the time-stepping driver, FFT coagulation sums from the kernel's separable form
  (no M × M matrix), at the loosest ``rtol`` of 1e-5, 1e-6, ... whose error is ≤ 1e-8;
* peer: a plain FFT-convolution RK4 written here (fixed steps, one real FFT and one inverse per
  evaluation, the same conservative truncation), at the fewest steps whose error is ≤ 1e-8.

Both are timed interleaved call by call (warm: one untimed call each first), ≥ 5 repeats; printed:
each configuration and its error, the median and range of each time and of the ratio ours / peer
(call by call), the peak memory of each solve (tracemalloc, NumPy's allocations) and the peak RSS of
the process, and the peak memory of ours at 2M and 4M classes (O(M) expected).

Run: PYTHONPATH=. python benchmarks/smoluchowski_homogeneous_fft.py [repeats]
"""

import resource
import sys
import time
import tracemalloc

import numpy as np
from scipy import fft as sfft

from meanfield.models.smoluchowski import SeparableKernel, solve_homogeneous

M, T_END, TARGET = 10**4, 10.0, 1e-8


def initial(big_m):
    f0 = np.zeros(big_m)
    f0[0] = 1.0
    return f0


def exact(big_m, t=T_END):
    tau = t / 2
    n = np.arange(1, big_m + 1)
    return np.exp((n - 1) * np.log(tau) - (n + 1) * np.log1p(tau))


def ours(rtol, big_m=M):
    return solve_homogeneous(SeparableKernel.constant(big_m), initial(big_m), T_END, rtol=rtol)[1][-1]


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
    # the accuracy both are compared at: the loosest setting of each with error <= TARGET
    rtol = next(r for r in (1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10) if error(ours(r)) <= TARGET)
    lo, hi = 10, 1000  # smallest RK4 step count with error <= TARGET (error decreases with steps)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if error(peer(mid)) <= TARGET else (mid, hi)
    steps = hi
    err_ours, err_peer = error(ours(rtol)), error(peer(steps))
    print(f"M = {M}, constant kernel, t = {T_END}, target max|f - exact| <= {TARGET:g}")
    print(f"ours: solve_homogeneous(SeparableKernel.constant(M), rtol={rtol:g}, atol=1e-14) (DP5(4), FFT sums), "
          f"error {err_ours:.2e}")
    print(f"peer: plain FFT-convolution RK4 (scipy.fft, next_fast_len), {steps} fixed steps, error {err_peer:.2e}")
    t_ours, t_peer = [], []
    for _ in range(repeats):  # interleaved, call by call
        t0 = time.perf_counter()
        ours(rtol)
        t_ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        peer(steps)
        t_peer.append(time.perf_counter() - t0)
    ratio = np.array(t_ours) / np.array(t_peer)
    print(f"ours {np.median(t_ours):.3f} s [{min(t_ours):.3f}, {max(t_ours):.3f}], "
          f"peer {np.median(t_peer):.3f} s [{min(t_peer):.3f}, {max(t_peer):.3f}] ({repeats} repeats)")
    print(f"ratio ours / peer: median {np.median(ratio):.2f}, range [{ratio.min():.2f}, {ratio.max():.2f}]")
    print(f"peak memory of one solve (tracemalloc): ours {peak_bytes(lambda: ours(rtol)) / 2**20:.1f} MiB, "
          f"peer {peak_bytes(lambda: peer(steps)) / 2**20:.1f} MiB (an M x M matrix would be "
          f"{M * M * 8 / 2**20:.0f} MiB)")
    for big_m in (2 * M, 4 * M):
        print(f"  ours at M = {big_m}: {peak_bytes(lambda big_m=big_m: ours(rtol, big_m)) / 2**20:.1f} MiB")
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10:.0f} MiB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
