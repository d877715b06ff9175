"""Spectral ETD2RK step of model 000 against the cost of its FFTs alone (the hardware-bound limit).

One step does, per stage: 2 forward 2-D FFTs (state), 2 padded forward + 2 padded inverse FFTs
(free-space K * q, two components; the padded forward of q is repeated per component, a
known saving left on the table), 4 forward FFTs (fluxes), 2 inverse (back to space) -> the
script times one step of ``ETD2RK()`` on ``SignedCoulomb2D.continuum_problem`` and exactly that
FFT sequence, interleaved, ``REPEATS`` times, and prints the median and range of
step_time / fft_time (1 = FFT bound). Run: python benchmarks/coulomb2d_spectral_step.py
"""

import numpy as np
from _timing import interleaved_times

from meanfield.models.coulomb2d import SignedCoulomb2D
from meanfield.solvers import fft
from meanfield.solvers.timestepping import ETD2RK

REPEATS = 7


def fft_sequence(a, big, ah, bh):
    """The FFTs of one ETD2RK step (module docstring) on arrays of the step's shapes."""
    n = a.shape[0]
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


def measure(model, n):
    g = model.default_grid(n, 0.2)
    rho = model.initial_array(g)
    problem, _ = model.continuum_problem(g)
    stepper = ETD2RK()
    a = rho[0]
    big = np.zeros((2 * n, 2 * n))
    ah, bh = fft.rfftn(a), fft.rfftn(big)

    def step():
        stepper.step(problem, 0.0, rho, 1e-3)

    def ffts():
        fft_sequence(a, big, ah, bh)

    step()
    ffts()
    t_step, t_fft = (np.array(t) for t in interleaved_times([step, ffts], repeats=REPEATS))
    r = t_step / t_fft
    print(f"{n:5d} {1e3 * np.median(t_step):9.2f} {1e3 * np.median(t_fft):9.2f} {np.median(r):7.2f} "
          f"[{r.min():.2f}, {r.max():.2f}]", flush=True)


m = SignedCoulomb2D(sigma=1.0, gamma_bar=0.4, mass_plus=0.7, mass_minus=0.3, centre_plus=(-0.4, 0),
                    centre_minus=(0.4, 0))
print(f"{'n':>5} {'step ms':>9} {'FFTs ms':>9} {'ratio':>7} range ({REPEATS} interleaved repeats)")
for size in (128, 256, 512):
    measure(m, size)
