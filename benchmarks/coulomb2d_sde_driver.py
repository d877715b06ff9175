"""Model 000 particle runs through the time-stepping driver against the former inline loop.

``SignedCoulomb2D.simulate_particles`` now advances the SDE with ``integrate`` (Euler-Maruyama, the
close-pair rule :class:`~meanfield.particles.close_pair_step.ClosePairStep` as a value); the peer is
the loop it replaced, written out below with the same step rule, forces and noise draws (the two
give the same numbers bit for bit, checked here). For small N a step costs a few tens of
microseconds, so this measures the per-step cost of the layer (rule object, drift cache, driver
checks). Runs interleaved call by call, ``REPEATS`` times; prints the median and range of the ratio
driver / inline loop. Run: python benchmarks/coulomb2d_sde_driver.py
"""

import numpy as np
from _timing import best_time

from meanfield.models.coulomb2d import SignedCoulomb2D, coulomb_drift

REPEATS = 7


def inline_loop(model, x0, t_end, seed, dt, theta=0.25, dt_min_fraction=1e-3, resolve_noise=False):
    """The former loop of ``simulate_particles`` (direct forces, Euler-Maruyama, one output time)."""
    pos, b = x0
    rng = np.random.default_rng(seed)
    n = pos.shape[0]
    gamma = model.particle_gamma(n)
    dt_min = dt * dt_min_fraction
    x, t, steps = pos.copy(), 0.0, 0
    while t < t_end - 1e-14 * max(1.0, t_end):
        h = min(dt, t_end - t)
        f, dmin = coulomb_drift(x, b, gamma, model.epsilon)
        speed = np.sqrt(f[:, 0] ** 2 + f[:, 1] ** 2)
        with np.errstate(divide="ignore"):
            h_cap = np.min(np.where(speed > 0, theta * dmin / speed, np.inf))
        if resolve_noise:
            h_cap = min(h_cap, (theta * dmin.min()) ** 2 / (2 * model.sigma**2))
        if h_cap < h:
            h = max(h_cap, min(dt_min, h))
        x = x + h * f + model.sigma * np.sqrt(h) * rng.standard_normal((n, 2))
        t += h
        steps += 1
    return x, steps


def case(label, model, x0, t_end, dt, seeds, **kw):
    def driver():
        return [model.simulate_particles(x0, t_end, rng=s, dt=dt, force="direct", **kw) for s in seeds]

    def inline():
        return [inline_loop(model, x0, t_end, s, dt, **kw) for s in seeds]

    a, b = driver(), inline()
    for tr, (x, steps) in zip(a, b, strict=True):
        if not (np.array_equal(tr.positions[-1], x) and tr.info["steps"] == steps):
            raise RuntimeError(f"{label}: the driver and the inline loop differ")
    n_steps = sum(steps for _, steps in b)
    ratios = []
    for r in range(REPEATS):
        if r % 2:
            t_i, t_d = best_time(inline, repeats=1), best_time(driver, repeats=1)
        else:
            t_d, t_i = best_time(driver, repeats=1), best_time(inline, repeats=1)
        ratios.append(t_d / t_i)
    ratios = np.array(ratios)
    print(f"{label:34s} {n_steps:7d} {1e6 * t_i / n_steps:9.1f} {1e6 * (t_d - t_i) / n_steps:9.1f} "
          f"{np.median(ratios):7.3f} [{ratios.min():.3f}, {ratios.max():.3f}]", flush=True)


print(f"{'case':34s} {'steps':>7s} {'us/step':>9s} {'extra us':>9s} {'median':>7s} range (driver / inline, "
      f"{REPEATS} interleaved repeats)")
pair = SignedCoulomb2D(sigma=1.0, gamma=0.4, gamma_bar=0.1)
x_pair = (np.array([[0.0, 0.0], [1.0, 0.0]]), np.array([1.0, -1.0]))
case("N=2 pair, resolve_noise", pair, x_pair, 0.25, 5e-3, range(20), dt_min_fraction=1e-4, resolve_noise=True)
m = SignedCoulomb2D(sigma=1.0, gamma_bar=0.4, mass_plus=0.5, mass_minus=0.5, centre_plus=(-0.4, 0.0),
                    centre_minus=(0.4, 0.0), width=0.4)
for n, t_end in ((32, 1.0), (512, 0.1)):
    dt = 0.01 * m.width**2 / m.sigma**2
    case(f"N={n} mean-field, default dt", m, m.sample_particles(n, rng=0), t_end, dt, range(3))
