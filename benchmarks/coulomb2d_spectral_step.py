"""Spectral ETD2RK step of model 000 against the cost of its FFTs alone (the hardware-bound limit).

One step does, per stage: 2 forward 2-D FFTs (state), 2 padded forward + 2 padded inverse FFTs
(free-space K * q, two components; the padded forward of q is repeated per component, a
known saving left on the table), 4 forward FFTs (fluxes), 2 inverse (back to space) -> the
script times one step of ``ETD2RK()`` on ``SignedCoulomb2D.continuum_problem`` and exactly that
FFT sequence, and reports step_time / fft_time (1 = FFT bound).
Run: python benchmarks/coulomb2d_spectral_step.py
"""

import numpy as np
from _timing import best_time

from meanfield.models.coulomb2d import SignedCoulomb2D
from solvers import fft
from solvers.timestepping import ETD2RK

m = SignedCoulomb2D(sigma=1.0, gamma_bar=0.4, mass_plus=0.7, mass_minus=0.3, centre_plus=(-0.4, 0), centre_minus=(0.4, 0))
print(f"{'n':>5} {'step ms':>9} {'FFTs ms':>9} {'ratio':>7}")
for n in (128, 256, 512):
    g = m.default_grid(n, 0.2)
    rho = m.initial_density(g)
    problem, _ = m.continuum_problem(g)
    st = ETD2RK()
    st.step(problem, 0.0, rho, 1e-3)
    t_step = best_time(lambda: st.step(problem, 0.0, rho, 1e-3))
    a = rho[0]
    big = np.zeros((2 * n, 2 * n))
    ah = fft.rfftn(a)
    bh = fft.rfftn(big)

    def ffts():
        for _stage in range(2):
            for _ in range(2):
                fft.rfftn(a)
            for _ in range(2):  # convolve_free_space transforms q once per component
                fft.rfftn(big)
            for _ in range(2):
                fft.irfftn(bh.copy(), (2 * n, 2 * n))
            for _ in range(4):
                fft.rfftn(a)
            for _ in range(2):
                fft.irfftn(ah.copy(), (n, n))

    t_fft = best_time(ffts)
    print(f"{n:5d} {1e3 * t_step:9.2f} {1e3 * t_fft:9.2f} {t_step / t_fft:7.2f}")
