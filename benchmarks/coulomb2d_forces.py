"""Particle forces of model 000 across N: compiled direct O(N^2) sum vs the fast methods.

Part "direct" (the crossover of force="auto"), per N in 1024 ... 65536:
* direct: numba-parallel pair sum (exact up to round-off), the reference;
* FMM: pyfmmlib's 2-D Laplace fast multipole method (precision flag 2, requested tolerance 5e-7);
* PM: particle-mesh, 256^2 cells, free-space FFT convolution (grid-scale regularisation);
* naive NumPy broadcasting (small N only).
Prints times, the ratios direct/FMM and direct/PM, the relative errors against the direct sum
(rms over particles of |f - f_direct| / rms |f_direct|) and the crossover N where FMM overtakes
the direct sum (log-linear interpolation of the ratio).

Part "p3m" (issue 18: is P3M accurate to the FMM's level and faster than it somewhere?), per N in
10^4 ... 10^6 on a standard Gaussian cloud of +-1 charges: P3M at its default tolerance and the FMM at
its default precision 2, timed interleaved (FMM, P3M, FMM, P3M, ...; ``--reps`` pairs, after one
warm-up call of each, which for P3M builds the mesh kernel's transform; that cold call is printed too),
the ratio P3M time / FMM time per pair as median [min, max], and both relative errors against the
exact sum at ``--targets`` random particles (compiled sum over all N sources, same rms definition).

Part "p3m-direct" (force="auto" without pyfmmlib): P3M against the compiled direct sum, interleaved the
same way (P3M time / direct time), at N = 8192 ... 32768 by default, with P3M's error against the direct sum.

Run: python benchmarks/coulomb2d_forces.py [--part direct|p3m|p3m-direct|both] [--ns 10000 100000 ...] [--reps 5]
"""
import argparse
import time

import numpy as np
from numba import njit, prange

from meanfield.models.coulomb2d import coulomb_drift, fmm_available, fmm_drift, particle_mesh_drift
from meanfield.particles.coulomb_p3m import P3M_TOLERANCE, p3m_drift


def best(f, reps=3):
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        r = f()
        ts.append(time.perf_counter() - t)
    return min(ts), r


def naive(x, b, gamma):
    d = x[:, None, :] - x[None, :, :]
    r2 = (d**2).sum(-1)
    np.fill_diagonal(r2, np.inf)
    return gamma * b[:, None] * np.einsum("j,ijk->ik", b, d / r2[..., None])


def rel(f, ref):
    return np.sqrt(((f - ref) ** 2).sum(1).mean() / (ref**2).sum(1).mean())


@njit(parallel=True, cache=True)
def exact_at(x, b, gamma, idx):
    """Drift of eq. (1.1) at the particles ``idx`` only (exact kernel, all sources, K(0) := 0)."""
    out = np.zeros((idx.size, 2))
    for t in prange(idx.size):
        i = idx[t]
        fx = 0.0
        fy = 0.0
        for j in range(x.shape[0]):
            dx = x[i, 0] - x[j, 0]
            dy = x[i, 1] - x[j, 1]
            r2 = dx * dx + dy * dy
            if j != i and r2 > 0.0:
                fx += b[j] * dx / r2
                fy += b[j] * dy / r2
        out[t, 0] = gamma * b[i] * fx
        out[t, 1] = gamma * b[i] * fy
    return out


def cloud(n, rng):
    return rng.standard_normal((n, 2)), np.where(rng.random(n) < 0.5, 1.0, -1.0)


def part_direct(rng):
    coulomb_drift(rng.standard_normal((8, 2)), np.ones(8), 1.0)  # compile
    coulomb_drift(rng.standard_normal((1024, 2)), np.ones(1024), 1.0)
    has_fmm = fmm_available()
    print(f"{'N':>7} {'direct s':>9} {'FMM s':>8} {'PM s':>8} {'direct/FMM':>10} {'direct/PM':>9} "
          f"{'FMM relerr':>10} {'PM relerr':>9} {'naive/direct':>12}")
    ns, ratios = [], []
    for n in (1024, 2048, 4096, 8192, 16384, 32768, 65536):
        x, b = cloud(n, rng)
        reps = 3 if n <= 16384 else 1
        td, (fd, _) = best(lambda x=x, b=b, n=n: coulomb_drift(x, b, 1.0 / n), reps)
        tp, fp = best(lambda x=x, b=b, n=n: particle_mesh_drift(x, b, 1.0 / n, n_grid=256), reps)
        if has_fmm:
            tf, ff = best(lambda x=x, b=b, n=n: fmm_drift(x, b, 1.0 / n, precision=2), reps)
            ef = rel(ff, fd)
        else:
            tf, ef = float("nan"), float("nan")
        tn = best(lambda x=x, b=b, n=n: naive(x, b, 1.0 / n), 1)[0] if n <= 4096 else float("nan")
        ns.append(n)
        ratios.append(td / tf)
        print(f"{n:7d} {td:9.4f} {tf:8.4f} {tp:8.4f} {td / tf:10.2f} {td / tp:9.2f} {ef:10.1e} {rel(fp, fd):9.1e} "
              f"{tn / td:12.1f}", flush=True)
    if has_fmm:
        lr = np.log(np.array(ratios))
        k = np.nonzero((lr[:-1] < 0) & (lr[1:] >= 0))[0]
        if k.size:
            i = k[0]
            w = -lr[i] / (lr[i + 1] - lr[i])
            n_cross = np.exp((1 - w) * np.log(ns[i]) + w * np.log(ns[i + 1]))
            print(f"crossover (FMM faster than direct) at N ~ {n_cross:.0f}")
        else:
            print("no crossover in the measured range")


def part_p3m(rng, ns, reps, targets):
    if not fmm_available():
        raise SystemExit("part p3m compares with the FMM: install pyfmmlib")
    p3m_drift(rng.standard_normal((64, 2)), np.ones(64), 1.0)  # compile
    exact_at(np.zeros((2, 2)), np.ones(2), 1.0, np.arange(2))
    print(f"P3M tolerance {P3M_TOLERANCE:g}, FMM precision 2; {reps} interleaved pairs per N after one warm-up each")
    print(f"{'N':>8} {'FMM s med':>9} {'P3M s med':>9} {'P3M cold s':>10} {'P3M/FMM median [min, max]':>27} "
          f"{'FMM relerr':>10} {'P3M relerr':>10}")
    for n in ns:
        x, b = cloud(n, rng)
        gamma = 1.0 / n
        t = time.perf_counter()
        fp, _ = p3m_drift(x, b, gamma)
        cold = time.perf_counter() - t
        ff = fmm_drift(x, b, gamma)
        tf, tp = [], []
        for _ in range(reps):
            t = time.perf_counter()
            fmm_drift(x, b, gamma)
            tf.append(time.perf_counter() - t)
            t = time.perf_counter()
            p3m_drift(x, b, gamma)
            tp.append(time.perf_counter() - t)
        ratio = np.array(tp) / np.array(tf)
        idx = np.sort(rng.choice(n, min(n, targets), replace=False))
        fe = exact_at(x, b, gamma, idx)
        print(f"{n:8d} {np.median(tf):9.3f} {np.median(tp):9.3f} {cold:10.3f} "
              f"{np.median(ratio):9.2f} [{ratio.min():.2f}, {ratio.max():.2f}]{'':6} "
              f"{rel(ff[idx], fe):10.1e} {rel(fp[idx], fe):10.1e}", flush=True)


def part_p3m_direct(rng, ns, reps):
    coulomb_drift(rng.standard_normal((1024, 2)), np.ones(1024), 1.0)  # compile
    p3m_drift(rng.standard_normal((64, 2)), np.ones(64), 1.0)
    print(f"P3M tolerance {P3M_TOLERANCE:g} against the direct sum; {reps} interleaved pairs per N after a warm-up")
    print(f"{'N':>8} {'direct s med':>12} {'P3M s med':>9} {'P3M/direct median [min, max]':>30} {'P3M relerr':>10}")
    for n in ns:
        x, b = cloud(n, rng)
        fd, _ = coulomb_drift(x, b, 1.0 / n)
        fp, _ = p3m_drift(x, b, 1.0 / n)
        td, tp = [], []
        for _ in range(reps):
            t = time.perf_counter()
            coulomb_drift(x, b, 1.0 / n)
            td.append(time.perf_counter() - t)
            t = time.perf_counter()
            p3m_drift(x, b, 1.0 / n)
            tp.append(time.perf_counter() - t)
        ratio = np.array(tp) / np.array(td)
        print(f"{n:8d} {np.median(td):12.3f} {np.median(tp):9.3f} {np.median(ratio):12.2f} "
              f"[{ratio.min():.2f}, {ratio.max():.2f}]{'':6} {rel(fp, fd):10.1e}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("direct", "p3m", "p3m-direct", "both"), default="both")
    ap.add_argument("--ns", type=int, nargs="+", default=None)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--targets", type=int, default=1000)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    if args.part in ("direct", "both"):
        part_direct(rng)
    if args.part in ("p3m", "both"):
        part_p3m(rng, args.ns or [10_000, 30_000, 100_000, 300_000, 1_000_000], args.reps, args.targets)
    if args.part == "p3m-direct":
        part_p3m_direct(rng, args.ns or [8192, 16384, 32768], args.reps)


if __name__ == "__main__":
    main()
