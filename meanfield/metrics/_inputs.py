"""Checks and conversions shared by the metrics: what a measure argument may be, how numeric
arguments are validated, how round-off negative parts are dropped, and how a measure is turned into
the representation a given distance needs (1-D quantile pieces, or weighted atoms)."""

from __future__ import annotations

import numbers
import os

import numpy as np

from ..measures import Domain, EmpiricalMeasure, GridDensity, IntervalDensity1D

MEASURE_TYPES = (EmpiricalMeasure, GridDensity, IntervalDensity1D)

NEGATIVE_MASS_RTOL = 1e-6
"""Largest negative mass, relative to the positive part's mass, that a Wasserstein distance drops
from a measure as round-off (see :func:`positive_part`). Pseudo-spectral densities carry such
undershoot: 1.6e-8 of the mass for model 000's reference solution at 48² cells and t = 0.05,
1e-17 at 96²; a larger negative part is an error, not round-off."""

MEMORY_FRACTION = 0.5
"""Largest share of the machine's physical memory one metric call may plan to allocate."""


class Distance(float):
    """A distance (a plain ``float`` in every arithmetic use) that also reports what was dropped.

    Attributes
    ----------
    dropped_negative_mass : tuple of two floats
        Negative mass removed from ``mu`` and from ``nu`` as round-off before the distance was
        computed (0.0 when the measure was non-negative); see :func:`positive_part`.
    """

    def __new__(cls, value, dropped_negative_mass=(0.0, 0.0)):
        obj = super().__new__(cls, value)
        obj.dropped_negative_mass = tuple(float(m) for m in dropped_negative_mass)
        return obj

    def __reduce__(self):
        return (Distance, (float(self), self.dropped_negative_mass))


def check_real(name, value, minimum=None):
    """``value`` as a finite float (bools, strings, None, complex and NaN refused, naming ``name``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} of type {type(value).__name__}")
    out = float(value)
    if not np.isfinite(out):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if minimum is not None and out < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return out


def check_int(name, value, minimum=1, allow_none=False):
    """``value`` as an int >= ``minimum`` (an integral float is accepted; bools, strings, None unless
    ``allow_none``, fractions and NaN are refused, naming ``name``)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be an integer, got {value!r} of type {type(value).__name__}")
    if not isinstance(value, numbers.Integral) and not (np.isfinite(value) and float(value).is_integer()):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    out = int(value)
    if out < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return out


def _abs_masses(mu):
    if isinstance(mu, EmpiricalMeasure):
        return mu.weights
    if isinstance(mu, IntervalDensity1D):
        return mu.masses
    return mu.cell_masses


def _extent(mu):
    """Lower and upper corner of a box holding the measure's support."""
    if isinstance(mu, EmpiricalMeasure):
        return mu.positions.min(axis=0), mu.positions.max(axis=0)
    if isinstance(mu, IntervalDensity1D):
        return mu.edges[:1], mu.edges[-1:]
    return np.asarray(mu.grid.lower, dtype=float), np.asarray(mu.grid.upper, dtype=float)


def check_measure(name, mu):
    """A supported measure whose total variation (sum of |weights|) is a finite double."""
    if not isinstance(mu, MEASURE_TYPES):
        raise ValueError(
            f"{name} must be an EmpiricalMeasure, GridDensity or IntervalDensity1D, got {type(mu).__name__}"
        )
    if isinstance(mu, EmpiricalMeasure) and mu.n == 0:
        raise ValueError(f"{name} is empty")
    with np.errstate(over="ignore"):
        variation = float(np.sum(np.abs(_abs_masses(mu))))
    if not np.isfinite(variation):
        raise ValueError(
            f"{name} has total mass {variation} (its weights overflow when summed, largest "
            f"|weight| {np.max(np.abs(_abs_masses(mu))):.3g}); rescale the measure"
        )
    lo, hi = _extent(mu)
    with np.errstate(over="ignore", invalid="ignore"):
        if not np.all(np.isfinite(hi - lo)):
            raise ValueError(f"{name} spans {lo} to {hi}: distances between its points overflow")
    return mu


def check_pair(mu, nu):
    """Both arguments are measures on the same domain; returns that domain."""
    check_measure("mu", mu)
    check_measure("nu", nu)
    if mu.domain.dim != nu.domain.dim:
        raise ValueError(f"mu is {mu.domain.dim}-dimensional but nu is {nu.domain.dim}-dimensional")
    same = mu.domain.period == nu.domain.period  # a torus's origin only picks the fundamental box
    if not same:
        raise ValueError(f"mu lives on {mu.domain.describe()} but nu on {nu.domain.describe()}")
    (lo1, hi1), (lo2, hi2) = _extent(mu), _extent(nu)
    with np.errstate(over="ignore", invalid="ignore"):
        span = np.maximum(hi1, hi2) - np.minimum(lo1, lo2)
    if not np.all(np.isfinite(span)):
        raise ValueError(f"mu and nu together span {np.minimum(lo1, lo2)} to {np.maximum(hi1, hi2)}: "
                         f"distances between their points overflow")
    return mu.domain


def check_nonnegative(name, mu):
    if not mu.is_nonnegative:
        raise ValueError(f"{name} has negative weights; this distance is defined for non-negative measures")


def positive_part(name, mu, rtol=NEGATIVE_MASS_RTOL):
    """``(measure, dropped)``: ``mu`` itself when it is non-negative (``dropped = 0``); otherwise,
    when its negative mass ``m⁻`` is at most ``rtol`` times its positive mass ``m⁺``, its positive
    part rescaled to the signed total mass ``m⁺ - m⁻`` (the mass a conservative solver keeps), with
    ``dropped = m⁻``. The replacement differs from ``mu`` by at most ``2 m⁻`` in total variation.
    A larger negative part raises a ValueError naming the argument and its negative mass.
    """
    if mu.is_nonnegative:
        return mu, 0.0
    w = _abs_masses(mu)
    positive = np.clip(w, 0.0, None)
    m_plus, m_minus = float(positive.sum()), float(-np.sum(w[w < 0]))
    if not m_minus <= rtol * m_plus:
        raise ValueError(
            f"{name} has negative mass {m_minus:.3g} ({m_minus / m_plus if m_plus > 0 else np.inf:.3g} of its "
            f"positive mass {m_plus:.3g}), above the round-off tolerance {rtol:g}; this distance is defined "
            f"for non-negative measures"
        )
    factor = (m_plus - m_minus) / m_plus
    if isinstance(mu, EmpiricalMeasure):
        keep = w > 0
        out = EmpiricalMeasure(mu.positions[keep], w[keep] * factor, mu.domain)
    elif isinstance(mu, IntervalDensity1D):
        out = IntervalDensity1D(mu.edges, positive * factor)
    else:
        out = GridDensity(np.clip(mu.values, 0.0, None) * factor, mu.grid)
    return out, m_minus


def check_equal_mass(mu, nu, rtol=1e-9):
    a, b = mu.mass, nu.mass
    if a <= 0 or b <= 0:
        raise ValueError(f"Wasserstein distances need positive masses, got mu.mass={a!r}, nu.mass={b!r}")
    if abs(a - b) > rtol * max(a, b):
        raise ValueError(
            f"Wasserstein distances need equal masses, got mu.mass={a!r} and nu.mass={b!r} "
            f"(relative difference {abs(a - b) / max(a, b):.3g} > {rtol}); use bounded_lipschitz instead"
        )


def physical_memory() -> int:
    """Bytes of physical memory of this machine (0 if the OS does not say)."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return 0


def check_memory(nbytes, what):
    """Refuse, before allocating, work whose arrays would take more than ``MEMORY_FRACTION`` of the
    physical memory; the message gives the estimate."""
    total = physical_memory()
    if total and nbytes > MEMORY_FRACTION * total:
        raise ValueError(
            f"{what} would need about {nbytes / 2**30:.3g} GiB ({nbytes:.3g} bytes), more than "
            f"{MEMORY_FRACTION:.0%} of the {total / 2**30:.3g} GiB of physical memory; refused before allocating"
        )


def quantile_pieces(mu):
    """A 1-D non-negative measure as pieces of its quantile function.

    Returns ``(mass, left, right)`` sorted by position: piece ``k`` carries mass ``mass[k]`` and its
    quantile function runs linearly from ``left[k]`` to ``right[k]`` (an atom has ``left == right``,
    a cell of uniform density has its two edges). Every measure type is represented exactly.
    """
    if isinstance(mu, EmpiricalMeasure):
        x, w = sorted_atoms_1d(mu.x, mu.weights)
        return w, x, x
    if isinstance(mu, IntervalDensity1D):
        return mu.masses, mu.edges[:-1], mu.edges[1:]
    (edges,) = mu.grid.edges
    return mu.cell_masses, edges[:-1], edges[1:]


def sorted_atoms_1d(x, w):
    """``(x, w)`` reordered by increasing ``x``: one sort, no per-point Python work.

    Already sorted input is returned as it is; with equal weights only the positions are sorted;
    otherwise a compiled radix sort carries the weights along (stable, about half the time of
    ``np.argsort`` followed by two gathers).
    """
    if x.size < 2 or bool(np.all(x[1:] >= x[:-1])):
        return x, w
    if bool(np.all(w == w[0])):
        return np.sort(x), w
    from ._quantile1d import sort_with_weights

    return sort_with_weights(np.ascontiguousarray(x, dtype=float), np.ascontiguousarray(w, dtype=float))


def atoms(mu, subcells: int = 1):
    """A measure as weighted atoms ``(positions (n, d), weights (n,))``.

    Empirical measures are returned as they are. A density's cell is split into ``subcells`` equal
    sub-cells per axis, each sub-cell's mass placed at its centre: every atom moves by at most half
    a sub-cell diagonal, so for a 1-Lipschitz f the error in ``∫ f dmu`` is at most
    ``|mu| * |h| / (2 * subcells)`` (|h| the cell diagonal); in 1-D the mean displacement is
    ``h / (4 * subcells)``, the sharper bound.
    """
    if isinstance(mu, EmpiricalMeasure):
        return mu.positions, mu.weights
    k = check_int("subcells", subcells, minimum=1)
    cells = mu.masses.size if isinstance(mu, IntervalDensity1D) else mu.values.size
    count = cells * k**mu.dim
    # positions, their sum with the offsets, the wrapped copy and the weights: about 4 (d + 1) doubles
    check_memory(count * 4 * (mu.dim + 1) * 8, f"splitting {cells} cells into {k}^{mu.dim} sub-cells each")
    if isinstance(mu, IntervalDensity1D):
        e, m = mu.edges, mu.masses
        frac = (np.arange(k) + 0.5) / k
        pos = e[:-1, None] + (e[1:] - e[:-1])[:, None] * frac[None, :]
        w = np.repeat(m[:, None] / k, k, axis=1)
        keep = w.ravel() != 0
        return pos.ravel()[keep, None], w.ravel()[keep]
    grid = mu.grid
    h = grid.spacing
    base = grid.points()
    masses = mu.cell_masses.ravel()
    offsets = np.stack(
        np.meshgrid(*[(np.arange(k) + 0.5) / k - 0.5 for _ in range(grid.ndim)], indexing="ij"), axis=-1
    ).reshape(-1, grid.ndim) * h
    pos = (base[:, None, :] + offsets[None, :, :]).reshape(-1, grid.ndim)
    w = np.repeat(masses / k**grid.ndim, k**grid.ndim)
    keep = w != 0
    return mu.domain.wrap(pos[keep]), w[keep]


def is_periodic_1d(domain: Domain) -> bool:
    return domain.dim == 1 and domain.periodic
