"""Particle forces of model 000: compiled direct O(N^2) sum vs particle-mesh (PM) vs naive NumPy.

Prints, per N: time of each, speed ratios, and the PM relative error against the direct sum
(median over particles of |f_pm - f_direct| / rms|f_direct|). Run: python benchmarks/coulomb2d_forces.py
"""
import time

import numpy as np

from meanfield.models.coulomb2d import coulomb_drift, particle_mesh_drift


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


rng = np.random.default_rng(0)
coulomb_drift(rng.standard_normal((8, 2)), np.ones(8), 1.0)  # compile
print(f"{'N':>7} {'direct s':>10} {'PM s':>9} {'direct/PM':>9} {'naive/direct':>12} {'PM rel err':>10}")
for n in (1024, 4096, 16384, 65536):
    x = rng.standard_normal((n, 2))
    b = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    td, (fd, _) = best(lambda: coulomb_drift(x, b, 1.0 / n))
    tp, fp = best(lambda: particle_mesh_drift(x, b, 1.0 / n, n_grid=256))
    tn = best(lambda: naive(x, b, 1.0 / n), 1)[0] if n <= 4096 else float("nan")
    err = np.median(np.linalg.norm(fp - fd, axis=1)) / np.sqrt(np.mean((fd**2).sum(1)))
    print(f"{n:7d} {td:10.4f} {tp:9.4f} {td / tp:9.2f} {tn / td:12.1f} {err:10.2e}")
