"""KMC of model 003's lattice random walks (RW_n^ε, eq. (8)): events per second of the compiled
engine (meanfield.particles.lattice_kmc; thinning and direct method with a sum tree) against a
pure-NumPy direct method doing the same O(n) work per jump with the same lattice force table
(vectorised field update by fancy indexing, 4n rates, cumulative sum and a binary search).

Both simulate the same process from the same start for the same model time; the script prints
jumps per second and the ratio compiled / NumPy, measured in the same run.
Run: python benchmarks/dislocations_kmc.py
"""
import time

import numpy as np

from meanfield.models.dislocations import Dislocations2D
from meanfield.particles import lattice_kmc


def numpy_direct(idx, b, tables, beta, t_end, rng):
    """Gillespie's direct method in NumPy: returns the number of jumps up to t_end."""
    gx, gy = tables
    nsite = gx.shape[0]
    n = b.size
    eps = 1.0 / nsite
    coef, hb = 1.0 / (beta * eps * eps), 0.5 * beta * eps
    a, c = idx[:, 0] % nsite, idx[:, 1] % nsite
    da = (a[:, None] - a[None, :]) % nsite
    dc = (c[:, None] - c[None, :]) % nsite
    sx = (gx[da, dc] * b[None, :]).sum(1)
    sy = (gy[da, dc] * b[None, :]).sum(1)
    steps = np.array([[1, 0], [-1, 0], [0, 1], [0, -1]])
    t, jumps = 0.0, 0
    while True:
        fx, fy = -b / n * sx, -b / n * sy
        rates = coef * np.exp(hb * np.stack([fx, -fx, fy, -fy], 1)).ravel()
        cum = np.cumsum(rates)
        t += rng.standard_exponential() / cum[-1]
        if t > t_end:
            return jumps
        k = min(int(np.searchsorted(cum, rng.random() * cum[-1], side="right")), cum.size - 1)
        i, ch = divmod(k, 4)
        oa, oc = a[i], c[i]
        a[i] = (a[i] + steps[ch, 0]) % nsite
        c[i] = (c[i] + steps[ch, 1]) % nsite
        na, nc = (a - a[i]) % nsite, (c - c[i]) % nsite
        pa, pc = (a - oa) % nsite, (c - oc) % nsite
        sx += b[i] * (gx[na, nc] - gx[pa, pc])
        sy += b[i] * (gy[na, nc] - gy[pa, pc])
        sx[i] = -(b * gx[na, nc]).sum()
        sy[i] = -(b * gy[na, nc]).sum()
        jumps += 1


m = Dislocations2D(delta=0.1, beta=1.0)
eps = 1 / 64
tables = m.lattice_force_tables(eps)
print(f"{'n':>6} {'NumPy jumps/s':>14} {'thinning jumps/s':>17} {'direct jumps/s':>15} {'thin/NumPy':>11} {'direct/NumPy':>13}")
for n in (100, 1000, 4000):
    x, b = m.sample_lattice_particles(n, eps, rng=0, n_plus=n // 2)
    idx = np.rint(x / eps).astype(np.int64)
    bf = b.astype(float)
    t_np = 2e4 / (4 * n / (m.beta * eps**2))  # about 2*10^4 NumPy jumps
    t0 = time.perf_counter()
    j_np = numpy_direct(idx, bf, tables, m.beta, t_np, np.random.default_rng(1))
    rate_np = j_np / (time.perf_counter() - t0)
    lattice_kmc.run_kmc(idx[None, :2, 0], idx[None, :2, 1], bf[None, :2], tables, m.beta, [1e-3], np.random.default_rng(0))
    out = []
    for kmc in ("thinning", "direct"):
        t_c = 50 * t_np if n <= 1000 else 10 * t_np
        t0 = time.perf_counter()
        _, _, st = lattice_kmc.run_kmc(idx[None, :, 0], idx[None, :, 1], bf[None], tables, m.beta, [t_c],
                                       np.random.default_rng(1), kmc)
        out.append(st[0, 0] / (time.perf_counter() - t0))
    print(f"{n:6d} {rate_np:14.3g} {out[0]:17.3g} {out[1]:15.3g} {out[0] / rate_np:11.1f} {out[1] / rate_np:13.1f}")
