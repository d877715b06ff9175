"""Model 001: is the stiff particle system (4.1) cheaper with an explicit or an implicit integrator?

For the notes' reference case (V = -log, W = 0, two semicircle blocks) and n particles to t = 1,
prints for our explicit event-driven solver (Dormand–Prince 5(4), PI control): wall time, accepted /
rejected steps, force evaluations, annihilations, the largest Jacobian eigenvalue |λ|max at t = 0
(dense eigen-solve) and |λ|max · (mean step). Then the peer it has to beat: any one-step method must
restart at every annihilation (the right-hand side jumps), so an implicit method needs at least one
dense O(n³) factorisation of the Jacobian per annihilation (the Jacobian couples all same-sign pairs);
the script times scipy.linalg.lu_factor at that n and prints

    ratio = (annihilations × one LU) / (our whole run)

a LOWER bound on the implicit method's cost relative to ours (it ignores its force and Jacobian
evaluations and Newton iterations). Step counts and event counts both grow ∝ n.

Run: PYTHONPATH=. python benchmarks/annihilation1d_scaling.py [n ...]     (default 250 500 1000 2000)
"""

import sys
import time

import numpy as np
from scipy.linalg import lu_factor

from meanfield.models.annihilation1d import Annihilation1D


def jacobian_log(x, b, n):
    """∂ẋ_i/∂x_j for V = -log, W = 0: (1/n) V''(x_i - x_j) = (1/n) / (x_i - x_j)² off the diagonal
    (same sign), minus the row sum on the diagonal."""
    d = x[:, None] - x[None, :]
    same = (b[:, None] == b[None, :]) & ~np.eye(x.size, dtype=bool)
    with np.errstate(divide="ignore"):
        jac = np.where(same, 1.0 / np.where(same, d, 1.0) ** 2, 0.0) / n
    jac[np.diag_indices_from(jac)] = -jac.sum(axis=1)
    return jac


def main(ns):
    model = Annihilation1D()
    model.simulate_particles(model.sample_particles(20), 0.1)  # compile
    print(f"{'n':>6} {'time s':>8} {'accepted':>9} {'rejected':>9} {'forces':>8} {'events':>7} {'|λ|max':>9} "
          f"{'|λ|max·h̄':>9} {'1 LU s':>8} {'ratio':>7}")
    for n in ns:
        x, b = model.sample_particles(n)
        t0 = time.perf_counter()
        tr = model.simulate_particles((x, b), 1.0, rtol=1e-6, atol=1e-9)
        t_ours = time.perf_counter() - t0
        st = tr.info["stats"]
        jac = jacobian_log(x, b, n)
        lam = float(np.max(np.abs(np.linalg.eigvalsh(jac))))
        mean_h = 1.0 / st["accepted"]
        t0 = time.perf_counter()
        for _ in range(3):
            lu_factor(np.eye(n) - 0.01 * jac)
        t_lu = (time.perf_counter() - t0) / 3
        events = len(tr.events)
        print(f"{n:6d} {t_ours:8.2f} {st['accepted']:9d} {st['rejected']:9d} {st['force_evaluations']:8d} {events:7d} "
              f"{lam:9.3g} {lam * mean_h:9.2f} {t_lu:8.4f} {events * t_lu / t_ours:7.2f}", flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [250, 500, 1000, 2000])
