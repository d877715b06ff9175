"""Particle forces of model 000 across N: compiled direct O(N^2) sum vs the fast methods.

Peers measured in the same run, per N:
* direct: numba-parallel pair sum (exact up to round-off), the reference;
* FMM: pyfmmlib's 2-D Laplace fast multipole method (precision flag 2, requested tolerance 5e-7);
* PM: particle-mesh, 256^2 cells, free-space FFT convolution (grid-scale regularisation);
* naive NumPy broadcasting (small N only).
Prints times, the ratios direct/FMM and direct/PM, the relative errors against the direct sum
(rms over particles of |f - f_direct| / rms |f_direct|) and the crossover N where FMM overtakes
the direct sum (log-linear interpolation of the ratio). Run: python benchmarks/coulomb2d_forces.py
"""
import time

import numpy as np

from meanfield.models.coulomb2d import coulomb_drift, fmm_available, fmm_drift, particle_mesh_drift


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


rng = np.random.default_rng(0)
coulomb_drift(rng.standard_normal((8, 2)), np.ones(8), 1.0)  # compile
coulomb_drift(rng.standard_normal((1024, 2)), np.ones(1024), 1.0)
has_fmm = fmm_available()
print(f"{'N':>7} {'direct s':>9} {'FMM s':>8} {'PM s':>8} {'direct/FMM':>10} {'direct/PM':>9} "
      f"{'FMM relerr':>10} {'PM relerr':>9} {'naive/direct':>12}")
ns, ratios = [], []
for n in (1024, 2048, 4096, 8192, 16384, 32768, 65536):
    x = rng.standard_normal((n, 2))
    b = np.where(rng.random(n) < 0.5, 1.0, -1.0)
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
