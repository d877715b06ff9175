"""MF^ε lattice ETDRK4 step of model 003 against the cost of its FFTs alone (the FFT-bound limit).

One step = 4 evaluations of the flux part, each 7 real 2-D FFTs of size N² = (1/ε)²: one batched
inverse of (f⁺, f⁻) (2 transforms), one forward of σ = f⁺ − f⁻, two inverse for the two components of
∇V_δ * σ, one batched forward of the flux difference (2 transforms) (``Dislocations2D.lattice_problem``).
The script times one step and exactly that FFT sequence through ``solvers.fft`` in the same run and
prints step_time / fft_time (1 = FFT bound). Run: python benchmarks/dislocations_mfeps_step.py
"""

import numpy as np
from _timing import best_time

from meanfield.models.dislocations import Dislocations2D
from solvers import fft
from solvers.timestepping import ETDRK4


m = Dislocations2D(delta=0.1, beta=1.0, amplitude=0.4)
print(f"FFT backend: {fft.BACKEND}")
print(f"{'1/eps':>6} {'step ms':>9} {'FFTs ms':>9} {'ratio':>7}")
for n in (64, 128, 256, 512):
    problem, u0, _, dt = m.lattice_problem(1 / n)
    stepper = ETDRK4()
    stepper.step(problem, 0.0, u0, dt)  # coefficients and plans
    t_step = best_time(lambda: stepper.step(problem, 0.0, u0, dt), repeats=7)
    pair = np.random.default_rng(0).random((2, n, n))
    one = pair[0].copy()
    pair_hat = fft.rfftn(pair, ndim=2)
    one_hat = fft.rfftn(one)

    def ffts():
        for _stage in range(4):
            fft.irfftn(pair_hat, (n, n), ndim=2)
            fft.rfftn(one)
            fft.irfftn(one_hat, (n, n))
            fft.irfftn(one_hat, (n, n))
            fft.rfftn(pair, ndim=2)

    ffts()
    t_fft = best_time(ffts, repeats=7)
    print(f"{n:6d} {1e3 * t_step:9.2f} {1e3 * t_fft:9.2f} {t_step / t_fft:7.2f}")
