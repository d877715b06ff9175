"""A periodic aggregation–diffusion problem (the periodic counterpart of model 000's PDE, one species):
    ∂_t ρ = D Δρ − χ ∇·(ρ ∇c),   −Δc = ρ − ⟨ρ⟩   on the unit torus,
solved (a) by meanfield's pseudo-spectral ETDRK4 (meanfield.solvers.timestepping.ETDRK4, meanfield.solvers.fft, 2/3
dealiasing) and (b) by py-pde (finite differences, its explicit/adaptive Runge–Kutta; the Poisson
solve by numpy FFT inside its evolution rate, since py-pde has no nonlocal operator). Error = max
norm against a fine spectral reference at t = T. Reports each method's cost to reach a target error
and the ratio.

Run: pip install py-pde; PYTHONPATH=. python benchmarks/coulomb2d_vs_pypde.py
"""

import time

import numpy as np

from meanfield.solvers import fft
from meanfield.solvers.timestepping import ETDRK4, SemilinearProblem, integrate

D, CHI, T = 0.05, 1.0, 0.5


def initial(n):
    x = np.arange(n) / n
    X, Y = np.meshgrid(x, x, indexing="ij")
    return 1.0 + 0.5 * np.cos(2 * np.pi * X) * np.cos(2 * np.pi * Y) + 0.3 * np.sin(4 * np.pi * Y)


def spectral(n, dt):
    k = np.fft.fftfreq(n, 1.0 / n)[:, None] * 2 * np.pi
    q = np.fft.rfftfreq(n, 1.0 / n)[None, :] * 2 * np.pi
    k2 = k**2 + q**2
    keep = (np.abs(k) < 2 * np.pi * n / 3) & (np.abs(q) < 2 * np.pi * n / 3)
    inv = np.where(k2 > 0, 1.0 / np.where(k2 > 0, k2, 1.0), 0.0)

    def nonlinear(_t, u_hat):
        rho = fft.irfftn(u_hat, (n, n))
        c_hat = u_hat * inv
        cx, cy = fft.irfftn(1j * k * c_hat, (n, n)), fft.irfftn(1j * q * c_hat, (n, n))
        div = 1j * k * fft.rfftn(rho * cx) + 1j * q * fft.rfftn(rho * cy)
        return -CHI * div * keep

    (u,) = integrate(ETDRK4(), SemilinearProblem(-D * k2, nonlinear), fft.rfftn(initial(n)), T, None, dt).states
    return fft.irfftn(u, (n, n))


def pypde(n, dt):
    import pde

    grid = pde.CartesianGrid([(0, 1), (0, 1)], [n, n], periodic=True)
    kk = np.fft.fftfreq(n, 1.0 / n)[:, None] * 2 * np.pi
    qq = np.fft.fftfreq(n, 1.0 / n)[None, :] * 2 * np.pi
    k2 = kk**2 + qq**2
    inv = np.where(k2 > 0, 1.0 / np.where(k2 > 0, k2, 1.0), 0.0)

    class AggregationDiffusion(pde.PDEBase):
        def evolution_rate(self, state, t=0):
            c = pde.ScalarField(grid, np.real(np.fft.ifft2(np.fft.fft2(state.data) * inv)))
            flux = state * c.gradient(bc="periodic")
            return D * state.laplace(bc="periodic") - CHI * flux.divergence(bc="periodic")

    # py-pde's cell centres are (j + 1/2)/n: sample the initial data there and shift back for the error
    field = pde.ScalarField(grid, initial_shifted(n))
    out = AggregationDiffusion().solve(field, t_range=T, dt=dt, solver="euler", tracker=None, backend="numpy")
    return out.data


def initial_shifted(n):
    x = (np.arange(n) + 0.5) / n
    X, Y = np.meshgrid(x, x, indexing="ij")
    return 1.0 + 0.5 * np.cos(2 * np.pi * X) * np.cos(2 * np.pi * Y) + 0.3 * np.sin(4 * np.pi * Y)


def reference_at(ref, n, shifted):
    """Spectral interpolation of the 256² reference to n² points (shifted by half a cell or not)."""
    big = ref.shape[0]
    r_hat = np.fft.fft2(ref) / big**2
    m = np.fft.fftfreq(big, 1.0 / big)
    x = (np.arange(n) + (0.5 if shifted else 0.0)) / n
    ex = np.exp(2j * np.pi * np.outer(x, m))
    return np.real(ex @ r_hat @ ex.T)


def timed(func, *args):
    t0 = time.perf_counter()
    out = func(*args)
    return out, time.perf_counter() - t0


def main():
    ref = spectral(256, T / 400)
    ours = []
    print("meanfield spectral ETDRK4:")
    for n, steps in ((16, 2), (16, 4), (32, 8), (32, 20)):
        spectral(n, T / steps)  # warm the FFT plans
        out, secs = timed(spectral, n, T / steps)
        err = np.abs(out - reference_at(ref, n, False)).max()
        ours.append((err, secs))
        print(f"  n={n:4d}, dt=T/{steps}: max error {err:.1e}, {secs:.3f} s")
    print("py-pde finite differences, explicit Euler (dt = 0.2 h²/D, stable):")
    for n in (32, 64, 128):
        dt = 0.2 / n**2 / D
        out, secs = timed(pypde, n, dt)
        err = np.abs(out - reference_at(ref, n, True)).max()
        best = min((s for e, s in ours if e <= err), default=None)
        ratio = (f"time ratio py-pde/meanfield at equal error = {secs / best:.0f}" if best
                 else "no meanfield run as coarse")
        print(f"  n={n:4d}, dt={dt:.1e}: max error {err:.1e}, {secs:.2f} s; {ratio}")


if __name__ == "__main__":
    main()
