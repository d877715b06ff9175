"""Model 000 particle runs through the time-stepping driver against the former inline loop.

``SignedCoulomb2D.simulate_particles`` now advances the SDE with ``integrate`` (Euler-Maruyama, the
close-pair rule :class:`~meanfield.particles.close_pair_step.ClosePairStep` as a value); the peer is
the loop it replaced (kept once, in tests/test_coulomb2d_timestepping.py, as the reference of the
bit-identity tests: same step rule, forces and noise draws; the two give the same numbers bit for
bit, checked here too). For small N a step costs a few tens of microseconds, so this measures the
per-step cost of the layer (rule object, drift cache, driver checks). Runs interleaved call by call,
``REPEATS`` times; prints the median and range of the ratio driver / inline loop in wall time and in
process CPU time. Run: python benchmarks/coulomb2d_sde_driver.py
"""

import pathlib
import sys
import time

import numpy as np
from _timing import best_time

from meanfield.models.coulomb2d import SignedCoulomb2D

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
from test_coulomb2d_timestepping import _reference_loop

REPEATS = 15


def inline_loop(model, x0, t_end, seed, dt, **kw):
    """The former loop (kept once, as the reference of the bit-identity tests): final positions, steps."""
    out, steps, _, _ = _reference_loop(model, x0, [t_end], seed, dt, False, **kw)
    return out[-1], steps


def case(label, model, x0, t_end, dt, seeds, **kw):
    def driver():
        return [model.simulate_particles(x0, t_end, rng=s, dt=dt, force="direct", step="global", **kw) for s in seeds]

    def inline():
        return [inline_loop(model, x0, t_end, s, dt, **kw) for s in seeds]

    a, b = driver(), inline()
    for tr, (x, steps) in zip(a, b, strict=True):
        if not (np.array_equal(tr.positions[-1], x) and tr.info["steps"] == steps):
            raise RuntimeError(f"{label}: the driver and the inline loop differ")
    n_steps = sum(steps for _, steps in b)
    rows = []
    for r in range(REPEATS):
        if r % 2:
            (t_i, c_i), (t_d, c_d) = timed(inline), timed(driver)
        else:
            (t_d, c_d), (t_i, c_i) = timed(driver), timed(inline)
        rows.append((t_d / t_i, c_d / c_i, c_i, c_d - c_i))
    wall, cpu, c_inline, c_extra = np.array(rows).T
    print(f"{label:34s} {n_steps:7d} {1e6 * np.median(c_inline) / n_steps:9.1f} "
          f"{1e6 * np.median(c_extra) / n_steps:9.1f}  {np.median(wall):6.3f} [{wall.min():.3f}, {wall.max():.3f}]  "
          f"{np.median(cpu):6.3f} [{cpu.min():.3f}, {cpu.max():.3f}]", flush=True)


def timed(func):
    """``(wall time, process CPU time)`` of one call (CPU time is less disturbed by a loaded machine)."""
    c0 = time.process_time()
    wall = best_time(func, repeats=1)
    return wall, time.process_time() - c0


print(f"ratio driver / inline loop, median [range] of {REPEATS} interleaved repeats, wall and CPU time; "
      "CPU us per step of the inline loop and the driver's extra (medians)")
print(f"{'case':34s} {'steps':>7s} {'cpu us':>9s} {'extra us':>9s}  {'wall':>6s} {'range':15s}  {'cpu':>6s} range")
pair = SignedCoulomb2D(sigma=1.0, gamma=0.4, gamma_bar=0.1)
x_pair = (np.array([[0.0, 0.0], [1.0, 0.0]]), np.array([1.0, -1.0]))
case("N=2 pair, resolve_noise", pair, x_pair, 0.25, 5e-3, range(20), dt_min_fraction=1e-4, resolve_noise=True)
m = SignedCoulomb2D(sigma=1.0, gamma_bar=0.4, mass_plus=0.5, mass_minus=0.5, centre_plus=(-0.4, 0.0),
                    centre_minus=(0.4, 0.0), width=0.4)
for n, t_end in ((32, 1.0), (512, 0.1)):
    dt = 0.01 * m.width**2 / m.sigma**2
    case(f"N={n} mean-field, default dt", m, m.sample_particles(n, rng=0), t_end, dt, range(3))
