"""A periodic aggregation–diffusion problem (the periodic counterpart of model 000's PDE, one species):
    ∂_t ρ = D Δρ − χ ∇·(ρ ∇c),   −Δc = ρ − ⟨ρ⟩   on the unit torus,
solved (a) by meanfield's pseudo-spectral ETDRK4 (meanfield.solvers.timestepping.ETDRK4,
meanfield.solvers.fft, 2/3 dealiasing) and (b) by py-pde (second-order finite differences).

Peer configuration (its strongest we could build; printed): py-pde's numba backend — the right-hand
side (``make_evolution_rate``, checked by py-pde against the NumPy ``evolution_rate``) compiled with
numba from py-pde's compiled periodic Laplacian, gradient and divergence operators,
the Poisson solve (py-pde has no nonlocal operator) by NumPy FFT inside it through ``numba.objmode`` —
and its compiled explicit steppers: fixed-step Euler at dt = 0.2 h²/D (0.8 of its diffusive stability
limit) and adaptive Runge–Kutta (Dormand–Prince 5(4), tolerance 1e-6, so its time error is below its
space error); py-pde's implicit steppers are first order (or need a dense Jacobian) and were not
stronger at these errors. Both sides single-threaded; setup outside the timing on both sides: py-pde's
stepper is built and compiled once (``solver.make_stepper``) and only its calls are timed; our
wavenumbers and FFT plans are made once before, the ETDRK4 coefficients inside our timed call.

Accuracy: error = max norm at t = T against a fine spectral reference (256², dt = T/400), spectrally
interpolated to each grid (py-pde's cell centres are shifted by half a cell). For every py-pde run,
ours is tuned to the same error: the cheapest entry of a ladder of (n, steps) whose error is at most
the peer's; both errors are printed. Timing: the two calls interleaved round by round, ``repeats``
rounds, CPU time of this process (single-threaded work on a loaded machine), median and [range]
of the ratio ours ÷ py-pde. Ends with the peak RSS of the run.

Run: pip install "meanfield[bench]"; PYTHONPATH=. python benchmarks/coulomb2d_vs_pypde.py [repeats] [n ...]
"""

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # same threads for both (before numba is imported)

import sys
import time

import numpy as np
from _timing import interleaved_times, load_average, print_peak_rss, ratio_summary, times_summary

from meanfield.solvers import fft
from meanfield.solvers.timestepping import ETDRK4, SemilinearProblem, integrate

D, CHI, T = 0.05, 1.0, 0.5
LADDER = ((16, 2), (16, 4), (32, 8), (32, 20), (32, 40), (48, 40), (64, 40), (64, 80))  # ours: (n, steps)


def initial(n, shift=0.0):
    x = (np.arange(n) + shift) / n
    X, Y = np.meshgrid(x, x, indexing="ij")
    return 1.0 + 0.5 * np.cos(2 * np.pi * X) * np.cos(2 * np.pi * Y) + 0.3 * np.sin(4 * np.pi * Y)


def spectral(n, dt):
    """Our solver at n² and step dt, set up (wavenumbers, FFT plans warmed); returns the timed call."""
    k = np.fft.fftfreq(n, 1.0 / n)[:, None] * 2 * np.pi
    q = np.fft.rfftfreq(n, 1.0 / n)[None, :] * 2 * np.pi
    k2 = k**2 + q**2
    keep = (np.abs(k) < 2 * np.pi * n / 3) & (np.abs(q) < 2 * np.pi * n / 3)
    inv = np.where(k2 > 0, 1.0 / np.where(k2 > 0, k2, 1.0), 0.0)
    u0 = initial(n)

    def nonlinear(_t, u_hat):
        rho = fft.irfftn(u_hat, (n, n))
        c_hat = u_hat * inv
        cx, cy = fft.irfftn(1j * k * c_hat, (n, n)), fft.irfftn(1j * q * c_hat, (n, n))
        div = 1j * k * fft.rfftn(rho * cx) + 1j * q * fft.rfftn(rho * cy)
        return -CHI * div * keep

    def run():
        (u,) = integrate(ETDRK4(), SemilinearProblem(-D * k2, nonlinear), fft.rfftn(u0), T, None, dt).states
        return fft.irfftn(u, (n, n))

    run()  # FFT plans
    return run


_INV = {}  # n -> 1/|k|² on the full FFT grid (0 at k = 0), for the peer's Poisson solve


def _poisson(data):
    """−Δc = ρ − ⟨ρ⟩ by NumPy FFT (a module function: called from numba's object mode)."""
    return np.ascontiguousarray(np.real(np.fft.ifft2(np.fft.fft2(data) * _INV[data.shape[0]])))


def pypde(n, scheme):
    """py-pde at n², numba backend, ``scheme`` "euler" (dt = 0.2 h²/D) or "runge-kutta" (adaptive);
    the stepper compiled once; returns (timed call, description)."""
    import numba
    import pde

    grid = pde.CartesianGrid([(0, 1), (0, 1)], [n, n], periodic=True)
    kk = np.fft.fftfreq(n, 1.0 / n)[:, None] * 2 * np.pi
    qq = np.fft.fftfreq(n, 1.0 / n)[None, :] * 2 * np.pi
    k2 = kk**2 + qq**2
    _INV[n] = np.where(k2 > 0, 1.0 / np.where(k2 > 0, k2, 1.0), 0.0)

    class AggregationDiffusion(pde.PDEBase):
        def evolution_rate(self, state, t=0):
            c = pde.ScalarField(grid, _poisson(state.data))
            flux = state * c.gradient(bc="periodic")
            return D * state.laplace(bc="periodic") - CHI * flux.divergence(bc="periodic")

        def make_evolution_rate(self, state, backend):
            args = {"backend": backend, "dtype": state.dtype}
            laplace = state.grid.make_operator(operator="laplace", bc="periodic", **args)
            gradient = state.grid.make_operator(operator="gradient", bc="periodic", **args)
            divergence = state.grid.make_operator(operator="divergence", bc="periodic", **args)

            def pde_rhs(data, t=0):
                with numba.objmode(c="float64[:, :]"):
                    c = _poisson(data)
                g = gradient(c, args={"t": t})
                flux = np.empty_like(g)
                flux[0] = data * g[0]
                flux[1] = data * g[1]
                return D * laplace(data, args={"t": t}) - CHI * divergence(flux, args={"t": t})

            return pde_rhs

    eq = AggregationDiffusion()
    field = pde.ScalarField(grid, initial(n, 0.5))
    h = 1.0 / n
    if scheme == "euler":
        dt = 0.2 * h**2 / D
        solver = pde.EulerSolver(eq, backend="numba")
        what = f"explicit Euler dt=0.2h²/D={dt:.1e}"
    else:
        dt = 0.2 * h**2 / D
        solver = pde.RungeKuttaSolver(eq, backend="numba", adaptive=True, tolerance=1e-6)
        what = "adaptive RK 5(4), tol 1e-6"
    stepper = solver.make_stepper(field, dt)
    stepper(field.copy(), 0.0, min(T, 10 * dt))  # compile

    def run():
        state = field.copy()
        stepper(state, 0.0, T)
        return state.data

    return run, what


def reference_at(ref, n, shifted):
    """Spectral interpolation of the 256² reference to n² points (shifted by half a cell or not)."""
    big = ref.shape[0]
    r_hat = np.fft.fft2(ref) / big**2
    m = np.fft.fftfreq(big, 1.0 / big)
    x = (np.arange(n) + (0.5 if shifted else 0.0)) / n
    ex = np.exp(2j * np.pi * np.outer(x, m))
    return np.real(ex @ r_hat @ ex.T)


def main(repeats=5, sizes=(32, 64, 128)):
    import numba
    import pde

    ref = spectral(256, T / 400)()
    ours = []
    for n, steps in LADDER:
        run = spectral(n, T / steps)
        ours.append((n, steps, np.abs(run() - reference_at(ref, n, False)).max(), run))
    print(f"py-pde {pde.__version__} (numba {numba.__version__} backend, NUMBA_NUM_THREADS="
          f"{numba.config.NUMBA_NUM_THREADS}), steppers compiled once; ours: spectral ETDRK4, plans warm; "
          f"{repeats} interleaved rounds, CPU time; load average {load_average():.1f}")
    print("ours, errors of the ladder: " + ", ".join(f"n={n} T/{s}: {e:.1e}" for n, s, e, _ in ours))
    for n in sizes:
        for scheme in ("euler", "runge-kutta"):
            peer, what = pypde(n, scheme)
            err_p = np.abs(peer() - reference_at(ref, n, True)).max()
            match = next(((m, s, e, r) for m, s, e, r in ours if e <= err_p), None)
            if match is None:
                print(f"py-pde n={n:4d} {what}: max error {err_p:.1e}; no ladder entry of ours as accurate")
                continue
            m, s, e, run = match
            t_ours, t_peer = interleaved_times([run, peer], repeats, clock=time.process_time)
            print(f"py-pde n={n:4d} {what}: max error {err_p:.1e}, {times_summary(t_peer)} | ours n={m} dt=T/{s}: "
                  f"max error {e:.1e}, {times_summary(t_ours)} | ours ÷ py-pde {ratio_summary(t_ours, t_peer)}")
    print_peak_rss("all runs")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    main(args[0] if args else 5, tuple(args[1:]) or (32, 64, 128))
