"""Wasserstein distances W_p between non-negative measures of equal mass.

* 1-D, free space: exact, through quantile functions. Every supported measure has a piecewise
  linear quantile function (atoms: constant pieces; piecewise-constant densities: linear pieces),
  so on the merged mass breakpoints ``F^{-1} - G^{-1}`` is linear and
  ``W_p^p = ∫_0^m |F^{-1}(s) - G^{-1}(s)|^p ds`` is integrated in closed form; O(n log n).
* 1-D, periodic (circle of length L), p = 1: exact, ``W_1 = min_c ∫_0^L |F - G - c| dx`` with the
  minimising ``c`` a median of ``F - G`` (Rabin–Delon–Gousseau 2011, Thm 3.7).
* 2-D and 3-D: exact optimal transport between weighted point sets with POT's network simplex
  (``ot.emd2``), cost ``|x - y|^p`` with the minimal-image distance on a torus. A density enters as
  its cells' masses at the cell centres (``subcells`` > 1 refines that): each atom moves by at
  most half a (sub-)cell diagonal ``|h|/2``, so the distance returned is within ``|h|/2`` of the
  density's own distance, per density argument.
"""

from __future__ import annotations

import numpy as np

from ._inputs import (
    Distance,
    atoms,
    check_equal_mass,
    check_int,
    check_memory,
    check_pair,
    check_real,
    positive_part,
    quantile_pieces,
)

__all__ = ["wasserstein", "wasserstein_1d", "wasserstein_circle", "wasserstein_ot"]


def _check_args(p, subcells=1, num_iter_max=None):
    """The numeric arguments, validated before any work (each error names its argument)."""
    p = check_real("p", p)
    if p < 1:
        raise ValueError(f"p must be a finite number >= 1, got {p!r}")
    return p, check_int("subcells", subcells), check_int("num_iter_max", num_iter_max, allow_none=True)


def _prepare(mu, nu):
    """``(domain, mu, nu, dropped)``: the pair checked (same domain, finite masses), round-off
    negative parts dropped (``dropped``: the negative masses removed, see ``positive_part``), and
    equal masses (relative 1e-9) required."""
    domain = check_pair(mu, nu)
    mu, dropped_mu = positive_part("mu", mu)
    nu, dropped_nu = positive_part("nu", nu)
    check_equal_mass(mu, nu)
    return domain, mu, nu, (dropped_mu, dropped_nu)


def wasserstein(mu, nu, p=1, *, subcells: int = 1, num_iter_max: int | None = None) -> Distance:
    """W_p between ``mu`` and ``nu`` (EmpiricalMeasure, GridDensity, IntervalDensity1D, any mix).

    Parameters
    ----------
    mu, nu : measures on the same domain, non-negative, of equal total mass (relative 1e-9).
        A negative part of at most ``NEGATIVE_MASS_RTOL`` (1e-6) of a measure's positive mass is
        round-off (e.g. a pseudo-spectral density's undershoot): it is dropped and the positive
        part rescaled to the measure's total mass; the amount is reported on the result. A larger
        negative part raises a ValueError naming the argument.
    p : real >= 1
    subcells : int >= 1, densities in 2-D/3-D only (see the module docstring).
    num_iter_max : int or None, network-simplex iteration limit in 2-D/3-D.

    Returns
    -------
    Distance
        A float; its ``dropped_negative_mass`` is ``(negative mass dropped from mu, from nu)``.

    Exact in 1-D; in 2-D/3-D exact for point sets and within ``|h|/2`` per density argument
    (see the module docstring). On a circle only ``p = 1`` is offered.
    """
    p, subcells, num_iter_max = _check_args(p, subcells, num_iter_max)
    domain, mu, nu, dropped = _prepare(mu, nu)
    if domain.dim == 1 and domain.periodic:
        if p != 1:
            raise ValueError(f"on a periodic 1-D domain only p = 1 is available, got p={p!r}")
        value = _circle(mu, nu)
    elif domain.dim == 1:
        value = _wp_1d(mu, nu, p)
    else:
        value = wasserstein_ot(mu, nu, p, subcells=subcells, num_iter_max=num_iter_max)
    return Distance(value, dropped)


def _mean_abs_power(a, b, p):
    """``∫_0^1 |a + (b - a) s|^p ds`` elementwise for end values ``a``, ``b``, without cancellation."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    opposite = (a * b) < 0
    a, b = np.abs(a), np.abs(b)
    u, v = np.maximum(a, b), np.minimum(a, b)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # same sign: (u^{p+1} - v^{p+1}) / ((p+1)(u - v)); opposite: (a^{p+1} + b^{p+1}) / ((p+1)(a + b))
        if p == 1:
            same = 0.5 * (u + v)
        elif p == 2:
            same = (u * u + u * v + v * v) / 3.0
        else:
            log_r = np.log(np.where(u > 0, v / u, 1.0))
            ratio = np.where(log_r < 0, np.expm1((p + 1) * log_r) / np.expm1(log_r), p + 1)
            same = u**p * ratio / (p + 1)
        cross = (a ** (p + 1) + b ** (p + 1)) / ((p + 1) * (a + b))
    return np.where(opposite, cross, same)


def wasserstein_1d(mu, nu, p=1) -> Distance:
    """Exact W_p on R between two non-negative 1-D measures of equal mass (checked as in
    :func:`wasserstein`, whose result type it shares).

    One sort per empirical measure (densities are sorted already), then one compiled walk over
    the merged cumulative masses integrating ``|F^{-1} - G^{-1}|^p`` piece by piece in closed form,
    in the scaled form that neither overflows nor underflows for large ``p`` (see
    ``meanfield.metrics._quantile1d``). O(n log n) for the sorts, O(n) for the rest.
    """
    p = _check_args(p)[0]
    domain, mu, nu, dropped = _prepare(mu, nu)
    if domain.dim != 1 or domain.periodic:
        raise ValueError(f"wasserstein_1d needs measures on the line R, got {domain.describe()} "
                         f"(use wasserstein_circle on a circle, wasserstein_ot in 2-D/3-D)")
    return Distance(_wp_1d(mu, nu, p), dropped)


def _wp_1d(mu, nu, p):
    return _wp_pieces(quantile_pieces(mu), quantile_pieces(nu), p)


def _wp_pieces(first, second, p):
    """W_p between two sorted quantile-piece lists ``(mass, left, right)`` (formula (3) of
    ``_quantile1d``): a first merge pass for the largest displacement ``D`` (skipped for p = 1,
    where nothing can overflow), then the scaled sum."""
    from ._quantile1d import merge_pass

    total = min(float(first[0].sum()), float(second[0].sum()))
    args = []
    for m, left, right in (first, second):
        args += [np.ascontiguousarray(m, dtype=float), np.ascontiguousarray(left, dtype=float)]
        args += [args[-1] if right is left else np.ascontiguousarray(right, dtype=float), right is left]
    scale = 1.0 if p == 1 else merge_pass(*args, p, 0.0, 1.0)
    if scale == 0.0:
        return 0.0
    acc = merge_pass(*args, p, scale, 1.0 / total)
    return float(scale * total ** (1.0 / p) * acc ** (1.0 / p))


def _cdf_on(points, mass, left, right):
    """Right-continuous CDF at ``points`` of sorted, non-overlapping pieces (atoms step,
    intervals ramp linearly)."""
    cum = np.concatenate(([0.0], np.cumsum(mass)))
    k = np.searchsorted(left, points, side="right") - 1
    inside = k >= 0
    k = np.clip(k, 0, mass.size - 1)
    width = right[k] - left[k]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(width > 0, np.clip((points - left[k]) / width, 0.0, 1.0), 1.0)
    return np.where(inside, cum[k] + mass[k] * frac, 0.0)


def wasserstein_circle(mu, nu) -> Distance:
    """Exact W_1 on the circle ``[a, a + L)``: ``min_c ∫ |F - G - c| dx`` (median of F - G).

    F - G is piecewise linear between the merged breakpoints, so ``∫|F - G - c|`` is evaluated
    exactly and minimised over c by locating the median of the values of F - G under dx.
    Arguments are checked as in :func:`wasserstein`.
    """
    domain, mu, nu, dropped = _prepare(mu, nu)
    if domain.dim != 1 or not domain.periodic:
        raise ValueError(f"wasserstein_circle needs measures on a circle, got {domain.describe()}")
    return Distance(_circle(mu, nu), dropped)


def _circle(mu, nu):
    (period,), (origin,) = mu.domain.period, mu.domain.origin
    pieces = []
    for m in (mu, nu):
        mass, left, right = quantile_pieces(m)
        shifted = np.mod(left - origin, period)
        order = np.argsort(shifted, kind="stable")
        pieces.append((mass[order], shifted[order], shifted[order] + (right - left)[order]))
    pts = np.unique(np.concatenate([np.concatenate((pc[1], pc[2])) for pc in pieces] + [[0.0, period]]))
    pts = pts[(pts >= 0) & (pts <= period)]
    # cells of a periodic grid never straddle the seam, so no piece wraps; F - G is linear on each
    # segment: its value just right of the start (CDFs are right-continuous) and at the midpoint
    # fix the value just left of the end
    start = _cdf_on(pts[:-1], *pieces[0]) - _cdf_on(pts[:-1], *pieces[1])
    mid = 0.5 * (pts[:-1] + pts[1:])
    middle = _cdf_on(mid, *pieces[0]) - _cdf_on(mid, *pieces[1])
    end = 2 * middle - start
    length = np.diff(pts)

    def cost(c):
        return float(np.sum(length * _mean_abs_power(start - c, end - c, 1.0)))

    # convex in c, minimised at a median of F - G under dx: ternary search to round-off
    lo_c, hi_c = float(min(start.min(), end.min())), float(max(start.max(), end.max()))
    for _ in range(200):
        if hi_c - lo_c <= 1e-14 * max(1.0, abs(lo_c), abs(hi_c)):
            break
        c1, c2 = lo_c + (hi_c - lo_c) / 3, hi_c - (hi_c - lo_c) / 3
        if cost(c1) <= cost(c2):
            hi_c = c2
        else:
            lo_c = c1
    return cost(0.5 * (lo_c + hi_c))


def wasserstein_ot(mu, nu, p=1, *, subcells: int = 1, num_iter_max: int | None = None) -> float:
    """Exact W_p between weighted point sets in d >= 1 by POT's network simplex (see module doc)."""
    import ot

    p, subcells, num_iter_max = _check_args(p, subcells, num_iter_max)
    _, mu, nu, dropped = _prepare(mu, nu)
    x, a = atoms(mu, subcells)
    y, b = atoms(nu, subcells)
    b = b * (a.sum() / b.sum())
    iters = num_iter_max or max(10**6, 50 * (a.size + b.size) ** 2)
    return Distance(_emd_scaled(ot, a, b, x, y, mu.domain, p, iters), dropped)


# Resolution of the network simplex: it compares reduced costs to 2.2e-15 times the size of the node
# potentials, which are of the order of the largest cost, so optimal costs far below the largest are
# not resolved. Measured (translated point clouds, W_p known exactly, n = 5..200, p = 1..100): every
# case with optimal cost >= 6e-15 x (largest cost) x mass was exact to 1e-13; wrong plans appeared
# from 5e-17 down. Results are returned only above this bound (or when they are certain anyway).
SIMPLEX_RESOLUTION = 1e-10
# peak memory of one exact transport per (atom, atom) pair: the cost matrix, the plan and the
# network simplex's arc arrays (41 bytes measured at 1,000 and 3,000 atoms a side), rounded up
BYTES_PER_PAIR = 48


def _emd_scaled(ot, a, b, x, y, domain, p, iters):
    """W_p between the atoms ``(x, a)`` and ``(y, b)`` in the scaled form
    ``W_p = D · (Σ π_ij (d_ij / D)^p)^{1/p}``, ``D = max d_ij``, so that no power overflows and the
    largest costs never underflow, whatever ``p``.

    The optimum is returned when it can be trusted: its scaled cost is at least
    ``SIMPLEX_RESOLUTION`` times the mass, or the plan is forced (one side a single atom), or it
    moves nothing (all its pairs at distance 0: W_p = 0). Otherwise the network simplex cannot tell
    the optimal plan from others (for large p, whenever W_p is well below D) and a ValueError
    names ``p``.
    """
    check_memory(BYTES_PER_PAIR * a.size * b.size, f"exact transport between {a.size} and {b.size} atoms")
    cost = pairwise_distance(x, y, domain)
    scale = float(cost.max())
    if scale == 0.0:
        return 0.0
    cost /= scale
    if p != 1:
        with np.errstate(under="ignore"):
            np.power(cost, p, out=cost)
    value, log = ot.emd2(a, b, cost, numItermax=iters, log=True, return_matrix=True)
    if log.get("warning"):
        raise RuntimeError(f"POT's network simplex did not converge: {log['warning']}")
    mass = float(a.sum())
    ratio = float(value) / mass
    if ratio < SIMPLEX_RESOLUTION and a.size > 1 and b.size > 1:
        i, j = np.nonzero(log["G"] > 0)
        if np.any(domain.displacement(x[i], y[j]) != 0):
            raise ValueError(
                f"p={p!r} is too large for these measures: the optimal cost (W_p / max distance)^p = "
                f"{ratio:.3g} is below the network simplex's resolution {SIMPLEX_RESOLUTION:g} of the "
                f"largest cost, so its plan cannot be trusted; use a smaller p"
            )
        return 0.0
    return scale * mass ** (1.0 / p) * ratio ** (1.0 / p)


def pairwise_distance(x, y, domain):
    """Euclidean distances between the rows of ``x`` and ``y``, minimal image on a torus.

    Accumulated one axis at a time: at most three ``(len(x), len(y))`` float arrays are alive.
    """
    out = np.zeros((x.shape[0], y.shape[0]))
    per = np.asarray(domain.period, dtype=float) if domain.periodic else None
    for k in range(x.shape[1]):
        diff = np.subtract.outer(x[:, k], y[:, k])
        if per is not None:
            wrap = diff / per[k]
            np.round(wrap, out=wrap)
            wrap *= per[k]
            diff -= wrap
            del wrap
        np.multiply(diff, diff, out=diff)
        out += diff
        del diff
    return np.sqrt(out, out=out)
