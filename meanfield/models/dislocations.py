"""Model 003: screw dislocations on the torus — lattice mean field MF^ε and continuum MF.

Hudson, van Meurs, Peletier, *Atomistic derivation of continuum dislocation dynamics*
(2020); reading notes ``notes/003.md``. What is here (the lattice random walks RW are not yet):

* The smoothed periodic interaction ``V_δ`` on the unit torus T² from its Fourier series
  ``V̂_δ(k) = φ̂_δ(k) / (4π²|k|²)``, ``V̂_δ(0) = 0`` (notes §2: the paper prints ``-4π²/|k|²``, a
  typo: ``-ΔV = δ_0 - 1`` gives the sign and power used here), with the Gaussian mollifier
  ``φ̂_δ(k) = exp(-2π²δ²|k|²)`` (notes §2, "our choice"). Lattice values of ``∇V_δ`` include the
  aliased Fourier modes so they are the exact point values of the series.
* (MF^ε), eq. (10)–(11): the lattice master equation for the densities ``f^±`` on
  ``Λ_ε = εZ²/Z²``,  ``∂_t f(ℓ) = Σ_h [R_h(ℓ-h) f(ℓ-h) - R_h(ℓ) f(ℓ)]``,
  ``R_h = exp(½ β h·F) / (β ε²)``, ``F(·, ±) = ∓ ∇V_δ * (f^+ - f^-)`` (lattice sum, by FFT).
  Split as ``R_h = (1 + (e^{½βh·F} - 1)) / (βε²)``: the first part is the lattice Laplacian
  ``β^{-1} Δ_ε``, integrated exactly (ETDRK4, exponential in Fourier space), so the step is not
  limited by ε²; the rest is a conservative flux difference, so each species' mass is conserved to
  round-off.
* (MF), eq. (12): ``∂_t f^± = -div(f^± F(·, ±)) + β^{-1} Δ f^±`` by a Fourier pseudo-spectral
  ETDRK4 with 2/3 dealiasing of the product.
* (SDE_n), eq. (9): ``dX_i = F_i dt + sqrt(2/β) dB_i`` on T² with (6)
  ``F_i = -(b_i/n) Σ_j b_j ∇V_δ(X_i - X_j)``, evaluated exactly (to the series truncation
  ``e^{-2π²δ²|k|²} < 1e-13``) as a Fourier sum ``-b_i Σ_k 2πik V̂_k e^{2πik·X_i} S_k``,
  ``S_k = (1/n) Σ_j b_j e^{-2πik·X_j}``: O(n K²) work, no table, and ``∇V_δ(0) = 0`` makes the
  self-term vanish; Euler–Maruyama with a stated step.

Theorem 1.3: ``‖f_ε - f‖_{L²(ν_ε)} = O(ε²)``, measured in the tests and in the validation.
"""

from __future__ import annotations

import numpy as np

from meanfield.measures import Domain, as_generator
from meanfield.models.base import Trajectory, check_integer, check_positive, check_times, continuum_dataset
from solvers import fft
from solvers.grids import UniformGrid
from solvers.timestepping import ETDRK4

__all__ = ["Dislocations2D", "potential_hat"]


def potential_hat(k1, k2, delta):
    """``V̂_δ(k)`` at integer wavevectors (Gaussian mollifier), 0 at ``k = 0``."""
    k2sum = np.asarray(k1, float) ** 2 + np.asarray(k2, float) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.exp(-2 * np.pi**2 * delta**2 * k2sum) / (4 * np.pi**2 * k2sum)
    return np.where(k2sum == 0, 0.0, out)


class Dislocations2D:
    """Positive and negative screw dislocations on T² (notes §3).

    Parameters
    ----------
    delta : float
        Core size δ of ``V_δ`` (the results need ε ≪ δ).
    beta : float
        Inverse temperature β > 0.
    amplitude : float
        Initial data ``f^± = ½(1 + amplitude·g_±)`` with smooth zero-mean ``g_±`` (|amplitude| < 1/2
        keeps them positive): ``ρ = (f⁺, f⁻)`` is a probability measure on ``T²_±`` (mass ½ per
        species), the normalisation of (10)–(12) and of the particles' weights 1/n.
    """

    def __init__(self, delta=0.1, beta=1.0, amplitude=0.4):
        self.delta = check_positive("delta", delta)
        self.beta = check_positive("beta", beta)
        if not abs(amplitude) < 0.5:
            raise ValueError(f"amplitude must lie in (-0.5, 0.5) to keep the densities positive, got {amplitude!r}")
        self.amplitude = float(amplitude)

    @property
    def params(self):
        return {"delta": self.delta, "beta": self.beta, "amplitude": self.amplitude}

    # -- data ----------------------------------------------------------------------------------
    def initial_density(self, x, y):
        """``(f^+, f^-)`` at points ``x, y`` (densities w.r.t. Lebesgue measure on T²)."""
        a = self.amplitude
        g_plus = np.cos(2 * np.pi * x) * np.sin(2 * np.pi * y) + 0.5 * np.sin(4 * np.pi * x)
        g_minus = np.sin(2 * np.pi * (x + y)) - 0.5 * np.cos(2 * np.pi * y)
        return 0.5 * np.stack([1 + a * g_plus / 1.5, 1 - a * g_minus / 1.5])

    def _grid(self, n):
        return UniformGrid(0.0, 1.0, (n, n), periodic=True)

    def lattice(self, eps):
        """The lattice ``Λ_ε`` (1/ε sites per axis, at ``εZ²``) as a grid whose *lower corners* are the
        sites; returns ``(n, x, y)``."""
        n = 1.0 / check_positive("eps", eps)
        if abs(n - round(n)) > 1e-9 * n:
            raise ValueError(f"1/eps must be an integer, got eps={eps!r} (1/eps = {n})")
        n = int(round(n))
        if self.delta < 1.0 / n:
            raise ValueError(f"delta={self.delta} < eps={1 / n}: the theory needs eps << delta")
        s = np.arange(n) / n
        x, y = np.meshgrid(s, s, indexing="ij")
        return n, x, y

    def grad_potential_hat(self, n):
        """Fourier coefficients (rfft layout, n×n grid) of ``∇V_δ`` sampled at the n×n lattice: the
        series folded over its aliases ``k + n m`` (|m| ≤ 2), so the samples are exact."""
        kx = np.fft.fftfreq(n, 1.0 / n)
        ky = np.fft.rfftfreq(n, 1.0 / n)
        out = [np.zeros((n, ky.size), complex), np.zeros((n, ky.size), complex)]
        for m1 in range(-2, 3):
            for m2 in range(-2, 3):
                k1 = (kx + n * m1)[:, None]
                k2 = (ky + n * m2)[None, :]
                v = potential_hat(k1, k2, self.delta)
                out[0] += 2j * np.pi * k1 * v
                out[1] += 2j * np.pi * k2 * v
        return out

    # -- MF^ε -----------------------------------------------------------------------------------
    def solve_lattice(self, eps, t_end, times=None, dt=None):
        """(MF^ε) on ``Λ_ε``; returns the standard dataset (species "+", "-", densities at the sites)."""
        n, x, y = self.lattice(eps)
        ts = check_times(t_end, times)
        f0 = self.initial_density(x, y)
        ghat = self.grad_potential_hat(n)
        beta, h = self.beta, 1.0 / n
        kx = np.fft.fftfreq(n, 1.0 / n)[:, None]
        ky = np.fft.rfftfreq(n, 1.0 / n)[None, :]
        lap = -(4 / (beta * h * h)) * (np.sin(np.pi * kx * h) ** 2 + np.sin(np.pi * ky * h) ** 2)
        sign = np.array([1.0, -1.0])[:, None, None]

        def nonlinear(u_hat):
            f = fft.irfftn(u_hat, (n, n), ndim=2)
            sigma_hat = fft.rfftn(f[0] - f[1])
            # lattice sum ε² Σ ∇V_δ(ℓ - ℓ') σ(ℓ'): the DFT of the samples is n² ĝ (ĝ the folded series
            # coefficients), so ε² · circular convolution = irfft(ĝ σ̂)
            grad = np.stack([fft.irfftn(g * sigma_hat, (n, n)) for g in ghat])
            force = -sign[:, None] * grad[None]  # (species, axis, n, n)
            out = np.zeros_like(f)
            for axis in range(2):
                for direction in (1.0, -1.0):
                    e = np.expm1(0.5 * beta * direction * h * force[:, axis]) / (beta * h * h)
                    flux = e * f  # rate (minus the Laplacian part) times density at the departure site
                    out += np.roll(flux, int(direction), axis=1 + axis) - flux
            return fft.rfftn(out, ndim=2)

        if dt is None:
            dt = self._step(f0, ghat, n, h)
        stepper = ETDRK4(np.broadcast_to(lap, (2,) + lap.shape), nonlinear, dt)
        states = stepper.integrate(fft.rfftn(f0, ndim=2), t_end, ts)
        dens = np.array([fft.irfftn(s, (n, n), ndim=2) for s in states])
        grid = UniformGrid(-0.5 * h, 1.0 - 0.5 * h, (n, n), periodic=True)  # cells centred on the sites
        return continuum_dataset(ts, dens, grid, species=["+", "-"], params=self.params,
                                 solver={"method": "lattice_etdrk4", "eps": h, "dt": dt})

    def _step(self, f0, ghat, n, h):
        """``dt = min(0.5 h / max|F|, h)`` at t = 0: a drift CFL (diffusion is exact) and ``dt ≤ h`` so
        that the ETDRK4 error O(dt⁴) stays O(h⁴), far below the O(ε²) of Theorem 1.3 (measured: at
        ε = 1/64 the time error is 3% of the space error)."""
        sigma_hat = fft.rfftn(f0[0] - f0[1])
        fmax = max(float(np.abs(fft.irfftn(g * sigma_hat, (n, n))).max()) for g in ghat)
        return min(0.5 * h / max(fmax, 1e-12), h)

    # -- MF -------------------------------------------------------------------------------------
    def solve_continuum(self, resolution=64, t_end=None, times=None, dt=None):
        """(MF) by pseudo-spectral ETDRK4 on a ``resolution²`` grid whose points are ``j/resolution``."""
        if t_end is None:
            raise ValueError("t_end is required")
        n = check_integer("resolution", resolution, minimum=8)
        ts = check_times(t_end, times)
        s = np.arange(n) / n
        x, y = np.meshgrid(s, s, indexing="ij")
        f0 = self.initial_density(x, y)
        kx = np.fft.fftfreq(n, 1.0 / n)[:, None]
        ky = np.fft.rfftfreq(n, 1.0 / n)[None, :]
        vhat = potential_hat(kx, ky, self.delta)
        ghat = [2j * np.pi * kx * vhat, 2j * np.pi * ky * vhat]
        lap = -4 * np.pi**2 * (kx**2 + ky**2) / self.beta
        keep = (np.abs(kx) < n / 3) & (np.abs(ky) < n / 3)  # 2/3 dealiasing of the product
        sign = np.array([1.0, -1.0])[:, None, None]

        def nonlinear(u_hat):
            f = fft.irfftn(u_hat, (n, n), ndim=2)
            sigma_hat = u_hat[0] - u_hat[1]
            force = [-sign * fft.irfftn(g * sigma_hat, (n, n)) for g in ghat]  # (2, n, n) per axis
            flux_hat = [fft.rfftn(f * fk, ndim=2) for fk in force]
            div = 2j * np.pi * (kx * flux_hat[0] + ky * flux_hat[1])
            return -div * keep

        if dt is None:
            dt = self._step(f0, ghat, n, 1.0 / n)
        stepper = ETDRK4(np.broadcast_to(lap, (2,) + lap.shape), nonlinear, dt)
        states = stepper.integrate(fft.rfftn(f0, ndim=2), t_end, ts)
        dens = np.array([fft.irfftn(st, (n, n), ndim=2) for st in states])
        grid = UniformGrid(-0.5 / n, 1.0 - 0.5 / n, (n, n), periodic=True)
        return continuum_dataset(ts, dens, grid, species=["+", "-"], params=self.params,
                                 solver={"method": "spectral_etdrk4", "resolution": n, "dt": dt})

    # -- SDE_n -----------------------------------------------------------------------------------
    def _modes(self, tol=1e-13):
        kmax = int(np.ceil(np.sqrt(-np.log(tol) / (2 * np.pi**2 * self.delta**2)))) + 1
        k = np.arange(-kmax, kmax + 1)
        k1, k2 = np.meshgrid(k, k, indexing="ij")
        keep = (k1**2 + k2**2 > 0) & (potential_hat(k1, k2, self.delta) * 4 * np.pi**2 * (k1**2 + k2**2) > tol)
        return k1[keep].astype(float), k2[keep].astype(float), potential_hat(k1[keep], k2[keep], self.delta)

    def particle_force(self, x, b, modes=None):
        """(6): ``F_i = -(b_i/n) Σ_j b_j ∇V_δ(x_i - x_j)`` by the Fourier sum (class docstring)."""
        k1, k2, v = self._modes() if modes is None else modes
        phase = np.exp(2j * np.pi * (np.outer(x[:, 0], k1) + np.outer(x[:, 1], k2)))  # (n, K)
        s = (b[:, None] * phase.conj()).mean(axis=0)  # S_k
        common = phase * (v * s)[None, :]
        return -b[:, None] * np.stack([np.real(common @ (2j * np.pi * k1)), np.real(common @ (2j * np.pi * k2))], 1)

    def sample_particles(self, n, rng=None):
        """``n`` i.i.d. particles from ρ° on T²_± (rejection sampling); returns ``(x (n, 2), b (n,))``."""
        n = check_integer("n", n, minimum=2)
        g = as_generator(rng)
        xs, bs = [], []
        bound = 0.5 * (1 + 1.5 * abs(self.amplitude) / 1.5) * 2
        while sum(len(v) for v in xs) < n:
            cand = g.random((2 * n, 2))
            sp = g.integers(0, 2, 2 * n)
            dens = self.initial_density(cand[:, 0], cand[:, 1])[sp, np.arange(2 * n)]
            ok = g.random(2 * n) * bound < dens
            xs.append(cand[ok])
            bs.append(np.where(sp[ok] == 0, 1, -1))
        return np.concatenate(xs)[:n], np.concatenate(bs)[:n]

    def simulate_particles(self, state, t_end, times=None, rng=None, dt=None):
        """(SDE_n) by Euler–Maruyama; ``dt`` defaults to ``min(δ²β/20, δ/(10 max|F|))`` so that a step's
        drift and noise move a particle a small fraction of the core size δ. Species "+"/"-", weight 1/n."""
        x0, b0 = state
        x = np.mod(np.array(x0, dtype=float), 1.0)
        b = np.asarray(b0, dtype=float)
        if x.ndim != 2 or x.shape[1] != 2 or b.shape != (x.shape[0],) or not np.all(np.isin(b, (-1, 1))):
            raise ValueError("state must be (positions (n, 2), charges ±1 of shape (n,))")
        if not np.all(np.isfinite(x)):
            raise ValueError("positions must be finite")
        ts = check_times(t_end, times)
        g = as_generator(rng)
        modes = self._modes()
        if dt is None:
            fmax = float(np.abs(self.particle_force(x, b, modes)).max())
            dt = min(self.delta**2 * self.beta / 20, self.delta / (10 * max(fmax, 1e-12)))
        dt = check_positive("dt", dt)
        out, t, n = [], 0.0, x.shape[0]
        noise = np.sqrt(2 / self.beta)
        for t_out in ts:
            while t_out - t > 1e-12 * max(1.0, t_out):
                h = min(dt, t_out - t)
                x = np.mod(x + h * self.particle_force(x, b, modes) + noise * np.sqrt(h) * g.normal(size=x.shape), 1.0)
                t = t_out if h == t_out - t else t + h
            out.append(x.copy())
        labels = np.where(b > 0, "+", "-")
        return Trajectory(ts, out, Domain.torus(2, 1.0), [np.full(n, 1.0 / n)] * len(ts), [labels] * len(ts),
                          info={"dt": dt, "modes": modes[0].size})
