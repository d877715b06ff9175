"""Homogeneous Smoluchowski, constant kernel, monodisperse start: meanfield's deterministic solver
(`solve_homogeneous`, Dormand–Prince on masses 1..M) against PySDM's super-droplet Monte Carlo
(Shima et al. 2009), both compared with the exact solution c_n = N0 τ^{n-1}/(1+τ)^{n+1},
τ = K N0 t / 2 (standard form). Accuracy and wall time side by side, same run.

Run: pip install PySDM; PYTHONPATH=. python benchmarks/smoluchowski_vs_pysdm.py
"""

import time

import numpy as np

from meanfield.models.smoluchowski import solve_homogeneous

N0, K, T = 2.0**20, 2.0**-20, 2.0  # per m^3, m^3/s: K N0 T = 2; N0 / n_sd integral for n_sd = 2^k <= 2^20
CLASSES = 8


def exact():
    tau = K * N0 * T / 2
    n = np.arange(1, CLASSES + 1)
    return N0 * tau ** (n - 1) / (1 + tau) ** (n + 1)


def ours(big_m=64):
    f0 = np.zeros(big_m)
    f0[0] = N0
    _, f = solve_homogeneous(np.full((big_m, big_m), K), f0, T)
    return f[-1][:CLASSES]


def pysdm(n_sd, seed, dt=0.1):
    from PySDM import Formulae, Particulator
    from PySDM.backends import CPU
    from PySDM.dynamics import Coalescence
    from PySDM.dynamics.collisions.collision_kernels import ConstantK
    from PySDM.environments import Box

    m0 = 1e-12
    env = Box(dt=dt, dv=1.0, backend=CPU(formulae=Formulae(seed=seed)))
    attrs = {"multiplicity": np.full(n_sd, N0 / n_sd), "water mass": np.full(n_sd, m0)}
    p = Particulator(n_sd, environment=env, attributes=attrs,
                     dynamics=[Coalescence(collision_kernel=ConstantK(a=K), adaptive=False)])
    p.advance(round(T / dt))
    xi = p.attributes["multiplicity"].to_ndarray()
    cls = np.rint(p.attributes["water mass"].to_ndarray() / m0).astype(int)
    return np.array([xi[cls == n].sum() for n in range(1, CLASSES + 1)])


def rel_error(c):
    ref = exact()
    return float(np.abs(c - ref).sum() / ref.sum())


def main():
    ours()  # compile
    t0 = time.perf_counter()
    c = ours()
    t_ours = time.perf_counter() - t0
    print(f"meanfield solve_homogeneous (M=64): L1 relative error on n<=8 {rel_error(c):.2e}, {t_ours * 1e3:.1f} ms")
    for seed in range(3):
        pysdm(2**10, seed)  # PySDM compiles one backend per random seed: warm them all up first
    for n_sd in (2**10, 2**13, 2**16):
        errs, times = [], []
        for seed in range(3):
            t0 = time.perf_counter()
            errs.append(rel_error(pysdm(n_sd, seed)))
            times.append(time.perf_counter() - t0)
        print(f"PySDM n_sd={n_sd:6d} (dt = 0.1 s): L1 relative error {np.mean(errs):.2e} (3 seeds), "
              f"{np.median(times) * 1e3:.1f} ms; time ratio PySDM/meanfield = {np.median(times) / t_ours:.2f}")


if __name__ == "__main__":
    main()
