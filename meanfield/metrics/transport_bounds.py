"""Certified brackets ``lower <= distance <= upper`` for W_p and the dual bounded-Lipschitz norm in
2-D and 3-D, at sizes where exact transport over all atom pairs no longer fits.

What is bracketed. An :class:`~meanfield.measures.EmpiricalMeasure` is its atoms; a
:class:`~meanfield.measures.GridDensity` is its piecewise-constant density (the measure itself, not
its cell centres). Both live on R^d or on a torus (minimal-image distance).

Three routes, chosen by the number of atom pairs an exact solve would need (and, above it, by the
kinds of measure: particles against a density, p = 1 or 2, go to ``"semidiscrete"``, see
:mod:`meanfield.metrics.semidiscrete`, whose bracket narrows with the sub-cells instead of
staying at a fraction of a cell; every other pair is binned):

* ``"exact"`` (``n_mu * n_nu <= max_pairs``): exact transport between the atoms with POT's network
  simplex, densities entering as their cells' masses at the cell centres. For two empirical
  measures the value is exact (``lower == upper``). A density's cells are moved to their centres by
  an explicit coupling whose cost ``e`` is known (below), so the density's own distance lies in
  ``[V - e, V + e]`` by the triangle inequality.

* ``"binned"``: both measures are moved to the centres of one common grid ``G`` of at most
  ``sqrt(max_pairs)`` cells (aligned with a density's grid, coarsened by an integer factor; or
  covering the particles' bounding box / the torus), and the grid-to-grid problem is solved exactly
  by the same network simplex.

Binning bound (eq. 1). Moving each unit of mass at ``x`` to the centre ``c(x)`` of its cell of
``G`` is a coupling of ``mu`` and its binned version ``mu_G``, so

    W_p(mu, mu_G)^p <= e_p(mu)^p = sum_i |w_i| |x_i - c(x_i)|^p                (particles)
                                 = sum_cells m_k E|X_k - c_k|^p                 (density cells)

with ``X_k`` uniform on density cell ``k`` and ``c_k`` the centre of the ``G``-cell that holds cell
``k``'s centre. For ``E|X - c|^p`` with ``X - c = o + U``, ``U`` uniform on the cell
``[-h/2, h/2]^d``: ``|o|^2 + sum h_a^2 / 12`` exactly for p = 2, its ``p/2`` power for p < 2
(Jensen), and ``(|o| + |h|/2)^p`` for p > 2. Then, W_p being a metric on measures of equal mass,

    |W_p(mu, nu) - W_p(mu_G, nu_G)| <= e_p(mu) + e_p(nu)                        (eq. 2)

and, every admissible test function being 1-Lipschitz in both conventions,

    |BL(mu - nu) - BL(mu_G - nu_G)| <= e_1(mu) + e_1(nu).                        (eq. 3)

The bound does not shrink with the number of particles: it is a fixed fraction of the common
grid's cell diagonal (about ``0.4 |h_G|`` per measure). The brackets are therefore narrow only
when the distance is many cell diagonals long; between ``N`` particles sampled from a density and
that density (a distance of order ``N^{-1/2}``) they are wide, and the result says how wide.

Dual bounded-Lipschitz norm, "sum" convention. ``S(a, b) = sup{∫ f dσ : |f| <= a, Lip f <= b}`` is
an exact augmented transport problem (see :mod:`meanfield.metrics.bounded_lipschitz`) and
``BL_sum = max_{a in [0, 1]} S(a, 1 - a)``, a concave function of ``a``. Every solve at ``a_k`` gives
a lower bound ``S(a_k)`` and, its optimal plan staying feasible for every ``a``, a supergradient
``s_k`` with ``S(a) <= S(a_k) + s_k (a - a_k)`` for all ``a`` (eq. 4). The maximum over ``a`` of
the smallest of these lines bounds ``BL_sum`` from above; the next ``a`` is where that maximum
sits (Kelley's cutting planes), until the gap is below ``rtol`` of the value: a handful of solves
instead of a golden-section search to round-off.

Round-off: every bound is widened by a relative ``1e-9`` (POT's network simplex returns its
optimum to round-off; masses equal to ``1e-9`` are rescaled to be equal, as the exact route does).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..measures import EmpiricalMeasure, GridDensity
from ._inputs import check_equal_mass, check_nonnegative, check_pair
from .wasserstein import pairwise_distance

__all__ = ["DEFAULT_MAX_PAIRS", "Bracket", "bounded_lipschitz_bracket", "wasserstein_bracket"]

#: Atom pairs of the largest exact problem solved: 2^22 pairs is 2,048 x 2,048 atoms, a few
#: seconds of POT's network simplex on 2 cores.
DEFAULT_MAX_PAIRS = 2**22
#: Hard ceiling on ``max_pairs``: building the cost matrix takes ``8 (d + 2)`` bytes a pair, so
#: 2^26 pairs is 2.5 GiB in 3-D.
MAX_PAIRS_CEILING = 2**26
#: Largest common grid (its cells' masses are one array of this length).
MAX_CELLS = 2**26
_ROUND = 1e-9
CONVENTIONS = ("max", "sum")


@dataclass(frozen=True)
class Bracket:
    """A certified bracket ``lower <= distance <= upper``.

    ``value`` is the midpoint (the exact value when ``lower == upper``); ``method`` is ``"exact"``
    or ``"binned"``; ``details`` records the common grid, the binning bounds, the grid-to-grid value
    and the number of transport solves.
    """

    lower: float
    upper: float
    method: str
    distance: str
    details: dict = field(default_factory=dict)

    @property
    def value(self) -> float:
        return 0.5 * (self.lower + self.upper)

    @property
    def width(self) -> float:
        return self.upper - self.lower

    @property
    def relative_width(self) -> float:
        """``(upper - lower) / upper`` (0 for an exact zero)."""
        return 0.0 if self.upper == 0 else self.width / self.upper

    @property
    def is_exact(self) -> bool:
        return self.lower == self.upper

    def __contains__(self, x) -> bool:
        return self.lower <= x <= self.upper

    def __repr__(self):
        return (f"Bracket({self.distance}: [{self.lower:.6g}, {self.upper:.6g}], "
                f"relative width {self.relative_width:.3g}, {self.method})")


# --- inputs ---------------------------------------------------------------------------------
def _check_common(mu, nu, max_pairs, cells):
    domain = check_pair(mu, nu)
    if domain.dim not in (2, 3):
        raise ValueError(
            f"brackets are for 2-D and 3-D measures, got {domain.dim}-D (use metrics.wasserstein / "
            "bounded_lipschitz, exact in 1-D)"
        )
    if isinstance(max_pairs, bool) or int(max_pairs) != max_pairs or not 1 <= max_pairs <= MAX_PAIRS_CEILING:
        raise ValueError(
            f"max_pairs must be an integer in [1, {MAX_PAIRS_CEILING}] (building the cost matrix takes "
            f"{8 * (domain.dim + 2)} bytes a pair: at most {_gib(MAX_PAIRS_CEILING, domain.dim):.1f} GiB), "
            f"got {max_pairs!r}"
        )
    if cells is not None and (isinstance(cells, bool) or int(cells) != cells or cells < 1):
        raise ValueError(f"cells must be a positive integer or None, got {cells!r}")
    if cells is not None and int(cells) > MAX_CELLS:
        raise ValueError(f"cells must be at most {MAX_CELLS} (a common grid of 8 bytes a cell), got {cells!r}")
    return domain


def _gib(pairs, dim):
    return 8.0 * (dim + 2) * pairs / 2**30


def _check_pairs(pairs, dim, what):
    """Refuse a transport problem whose cost matrix would pass the ceiling, before building it."""
    if pairs > MAX_PAIRS_CEILING:
        raise ValueError(
            f"{what} needs {pairs} atom pairs, about {_gib(pairs, dim):.1f} GiB to build the cost matrix, over "
            f"the {_gib(MAX_PAIRS_CEILING, dim):.1f} GiB ceiling: use fewer cells"
        )


def _n_atoms(mu) -> int:
    if isinstance(mu, EmpiricalMeasure):
        return mu.n
    return int(np.count_nonzero(mu.values))


def _n_signed(mu, sign):
    """Number of atoms of ``sign * mu`` with positive weight."""
    w = mu.weights if isinstance(mu, EmpiricalMeasure) else mu.values
    return int(np.count_nonzero(sign * w > 0))


def _check_p(p):
    if isinstance(p, bool):
        raise TypeError(f"p must be a number, got {p!r}")
    p = float(p)
    if not math.isfinite(p) or p < 1:
        raise ValueError(f"p must be a finite number >= 1, got {p!r}")
    return p


# --- the common grid and the binning bound (eq. 1) ------------------------------------------
@dataclass(frozen=True)
class _Grid:
    lower: np.ndarray
    spacing: np.ndarray
    shape: tuple
    periodic: bool

    @property
    def size(self):
        return int(np.prod(self.shape))

    def index(self, x):
        k = np.floor((x - self.lower) / self.spacing).astype(np.int64)
        n = np.asarray(self.shape)
        k = np.mod(k, n) if self.periodic else np.clip(k, 0, n - 1)
        return k

    def centres(self, k):
        return self.lower + (k + 0.5) * self.spacing

    def flat(self, k):
        return np.ravel_multi_index(tuple(k.T), self.shape)

    def centres_of(self, flat):
        return self.centres(np.stack(np.unravel_index(flat, self.shape), axis=1))


def _shape_for(extent, n_max):
    """Cells per axis, about cubic, with at most ``n_max`` cells in all: the smallest side ``s``
    with ``prod(max(1, floor(extent / s))) <= n_max``, by bisection (the product falls with s)."""

    def shape(side):
        return np.maximum(1, np.floor(extent / side)).astype(np.int64)

    lo, hi = 0.0, float(extent.max()) * 2.0  # shape(hi) is all ones
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if np.prod(shape(mid).astype(float)) <= n_max:
            hi = mid
        else:
            lo = mid
    return shape(hi)


def _common_grid(mu, nu, domain, n_max) -> _Grid:
    dens = [m for m in (mu, nu) if isinstance(m, GridDensity)]
    if dens:
        g = max(dens, key=lambda m: m.grid.size).grid
        n = np.asarray(g.shape)
        factor = 1
        while np.prod(-(-n // factor)) > n_max:  # bounded: factor reaches max(n) at one cell
            factor += 1
        shape = -(-n // factor)
        if domain.periodic:
            return _Grid(np.asarray(g.lower, float), g.lengths / shape, tuple(int(s) for s in shape), True)
        return _Grid(np.asarray(g.lower, float), g.spacing * factor, tuple(int(s) for s in shape), False)
    if domain.periodic:
        per = np.asarray(domain.period)
        shape = _shape_for(per, n_max)
        return _Grid(np.asarray(domain.origin), per / shape, tuple(int(s) for s in shape), True)
    pts = np.concatenate((mu.positions, nu.positions))
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    extent = np.maximum(hi - lo, 1e-12 * max(1.0, float(np.abs(pts).max())))
    shape = _shape_for(extent, n_max)
    spacing = extent / shape * (1 + 1e-12)
    return _Grid(lo - 1e-12 * extent, spacing, tuple(int(s) for s in shape), False)


def _moment_bound(offset_norm, half_sq, half_diag, p):
    """Upper bound of ``E|o + U|^p`` for ``U`` uniform on a box (see eq. 1)."""
    second = offset_norm**2 + half_sq
    if p == 2:
        return second
    if p < 2:
        return second ** (p / 2)
    return (offset_norm + half_diag) ** p


def _bin(mu, sign, grid: _Grid, domain, p):
    """``(flat cell index, signed mass, Σ|m| bound_p, Σ|m| bound_1)`` of ``mu`` moved to ``grid``."""
    if isinstance(mu, EmpiricalMeasure):
        x, w = mu.positions, mu.weights
        half_sq, half_diag = 0.0, 0.0
    else:
        x, w = mu.grid.points(), mu.cell_masses.ravel()
        keep = w != 0
        x, w = x[keep], w[keep]
        h = mu.grid.spacing
        half_sq, half_diag = float(np.sum(h**2) / 12.0), float(0.5 * np.linalg.norm(h))
    k = grid.index(x)
    off = np.linalg.norm(domain.displacement(x, grid.centres(k)), axis=1)
    aw = np.abs(w)
    err_p = float(np.dot(aw, _moment_bound(off, half_sq, half_diag, p)))
    err_1 = float(np.dot(aw, _moment_bound(off, half_sq, half_diag, 1.0)))
    return grid.flat(k), sign * w, err_p, err_1


def _binned(mu, nu, grid, domain, p):
    """Net binned masses of ``mu`` and ``nu`` on ``grid`` and their binning bounds."""
    out = []
    for m in (mu, nu):
        idx, w, ep, e1 = _bin(m, 1.0, grid, domain, p)
        out.append((np.bincount(idx, weights=w, minlength=grid.size), ep, e1))
    return out


# --- Wasserstein ----------------------------------------------------------------------------
def _emd(a, b, cost, num_iter_max):
    import ot

    iters = num_iter_max or max(10**6, 50 * (a.size + b.size) ** 2)
    plan, log = ot.emd(a, b, cost, numItermax=iters, log=True)
    if log.get("warning"):
        raise RuntimeError(f"POT's network simplex did not converge: {log['warning']}")
    return plan, float(log["cost"])


def wasserstein_bracket(mu, nu, p=1, *, max_pairs: int = DEFAULT_MAX_PAIRS, cells: int | None = None,
                        num_iter_max: int | None = None) -> Bracket:
    """Certified bracket of ``W_p(mu, nu)`` in 2-D or 3-D (see the module docstring).

    Parameters
    ----------
    mu, nu : EmpiricalMeasure or GridDensity
        Non-negative, equal masses (relative 1e-9), same domain.
    p : float >= 1
    max_pairs : int
        Largest number of atom pairs solved exactly; below it the atoms themselves are matched
        (route ``"exact"``), above it both measures are binned on a common grid of at most
        ``sqrt(max_pairs)`` cells (route ``"binned"``, eq. 2).
    cells : int, optional
        Force the binned route on a common grid of at most ``cells`` cells.

    Above ``max_pairs``, particles against a grid density (either order) with p = 1 or 2 take the
    route ``"semidiscrete"`` (:func:`meanfield.metrics.semidiscrete.semidiscrete_bracket`: a sparse
    transport and the c-transform of its potentials; the density as itself, not its centres),
    whose width does not stay at a fixed fraction of a cell; other pairs are binned.
    """
    p = _check_p(p)
    domain = _check_common(mu, nu, max_pairs, cells)
    check_nonnegative("mu", mu)
    check_nonnegative("nu", nu)
    check_equal_mass(mu, nu)
    t0 = time.perf_counter()
    name = f"W{p:g}"
    if cells is None and _n_atoms(mu) * _n_atoms(nu) <= max_pairs:
        from ._inputs import atoms

        x, a = atoms(mu)
        y, b = atoms(nu)
        b = b * (a.sum() / b.sum())
        _, cost = _emd(a, b, pairwise_distance(x, y, domain) ** p, num_iter_max)
        value = cost ** (1.0 / p)
        e: Sequence[float] = [_density_bound(m, p) for m in (mu, nu)]
        lower, upper = _widen(value - sum(e), value + sum(e))
        if not any(isinstance(m, GridDensity) for m in (mu, nu)):
            lower = upper = value
        return Bracket(lower, upper, "exact", name, {
            "atoms": (a.size, b.size), "atom_value": value, "binning_bounds": tuple(e),
            "seconds": time.perf_counter() - t0})
    if cells is None and p in (1.0, 2.0) and sorted(isinstance(m, EmpiricalMeasure) for m in (mu, nu)) == [False, True]:
        from .semidiscrete import semidiscrete_bracket

        return semidiscrete_bracket(mu, nu, int(p), num_iter_max=num_iter_max)
    n_max = int(cells) if cells is not None else max(1, math.isqrt(int(max_pairs)))
    grid = _common_grid(mu, nu, domain, n_max)
    (ma, ea, _), (mb, eb, _) = _binned(mu, nu, grid, domain, p)
    ia, ib = np.flatnonzero(ma > 0), np.flatnonzero(mb > 0)
    _check_pairs(ia.size * ib.size, domain.dim, f"the {grid.shape} common grid")
    a, b = ma[ia], mb[ib]
    b = b * (a.sum() / b.sum())
    _, cost = _emd(a, b, pairwise_distance(grid.centres_of(ia), grid.centres_of(ib), domain) ** p, num_iter_max)
    value = cost ** (1.0 / p)
    e = (ea ** (1.0 / p), eb ** (1.0 / p))
    lower, upper = _widen(value - sum(e), value + sum(e))
    return Bracket(lower, upper, "binned", name, {
        "grid_shape": grid.shape, "grid_spacing": tuple(grid.spacing), "grid_value": value,
        "binning_bounds": e, "atoms": (a.size, b.size), "seconds": time.perf_counter() - t0})


def _density_bound(mu, p):
    """``e_p`` of eq. 1 for a density moved to its own cell centres (0 for particles)."""
    if not isinstance(mu, GridDensity):
        return 0.0
    h = mu.grid.spacing
    per_mass = _moment_bound(0.0, float(np.sum(h**2) / 12.0), float(0.5 * np.linalg.norm(h)), p)
    return float((np.abs(mu.cell_masses).sum() * per_mass) ** (1.0 / p))


def _widen(lower, upper):
    scale = _ROUND * max(abs(lower), abs(upper))
    return max(0.0, lower - scale), upper + scale


# --- dual bounded-Lipschitz norm -----------------------------------------------------------
class _Augmented:
    """``S(a, b)`` (module docstring) for fixed signed atoms, with the distances computed once."""

    def __init__(self, xp, wp, xn, wn, domain, num_iter_max):
        self.dist = pairwise_distance(xp, xn, domain)
        self.src = np.append(wp, wn.sum())
        self.dst = np.append(wn, wp.sum())
        self.iters = num_iter_max or max(10**6, 50 * (self.src.size + self.dst.size) ** 2)
        self.solves = 0

    def _cost(self, a, b):
        n, m = self.dist.shape
        cost = np.empty((n + 1, m + 1))
        cost[:-1, :-1] = np.minimum(b * self.dist, 2 * a)
        cost[:-1, -1] = a
        cost[-1, :-1] = a
        cost[-1, -1] = 0.0
        return cost

    def solve(self, a, b):
        plan, value = _emd(self.src, self.dst, self._cost(a, b), self.iters)
        self.solves += 1
        return plan, value

    def sum_point(self, a):
        """``S(a, 1 - a)`` and a supergradient of ``a -> S(a, 1 - a)`` there (eq. 4)."""
        plan, value = self.solve(a, 1.0 - a)
        real = plan[:-1, :-1]
        slope_real = np.where((1.0 - a) * self.dist <= 2 * a, -self.dist, 2.0)
        slope = float(np.sum(real * slope_real) + plan[:-1, -1].sum() + plan[-1, :-1].sum())
        return value, slope


def _envelope_max(points):
    """``max_{a in [0,1]} min_k (v_k + s_k (a - a_k))`` and its maximiser (exact, few lines)."""
    cands = [0.0, 1.0]
    for i in range(len(points)):
        for j in range(i + 1, len(points)):
            (ai, vi, si), (aj, vj, sj) = points[i], points[j]
            if si != sj:
                t = ((vj - sj * aj) - (vi - si * ai)) / (si - sj)
                if 0.0 < t < 1.0:
                    cands.append(t)
    best, arg = -np.inf, 0.5
    for t in cands:
        val = min(v + s * (t - a) for a, v, s in points)
        if val > best:
            best, arg = val, t
    return best, arg


def _bl_sum_bracket(aug, total, rtol, max_solves):
    """Kelley's cutting planes on the concave ``a -> S(a, 1 - a)`` (eq. 4)."""
    lower = abs(total)  # S(1, 0): constants
    points = []
    a = 0.5
    upper = np.inf
    for _ in range(max_solves):
        value, slope = aug.sum_point(a)
        lower = max(lower, value)
        points.append((a, value, slope))
        if len(points) >= 2:
            upper, a_next = _envelope_max(points)
            if upper - lower <= rtol * lower or any(abs(a_next - q[0]) < 1e-12 for q in points):
                break
            a = a_next
        else:
            a = 0.25 if slope < 0 else 0.75
    if len(points) < 2:
        upper, _ = _envelope_max(points)
    return lower, max(upper, lower), points


def bounded_lipschitz_bracket(mu, nu, convention: str = "max", *, max_pairs: int = DEFAULT_MAX_PAIRS,
                              cells: int | None = None, rtol: float = 1e-3, max_solves: int = 12,
                              num_iter_max: int | None = None) -> Bracket:
    """Certified bracket of the dual bounded-Lipschitz norm ``‖mu - nu‖`` in 2-D or 3-D.

    ``mu``, ``nu``: EmpiricalMeasure or GridDensity on the same domain, signed weights and unequal
    masses allowed. ``convention``: ``"max"`` (‖f‖∞ ≤ 1, Lip f ≤ 1) or ``"sum"`` (‖f‖∞ + Lip f ≤ 1).
    ``max_pairs``, ``cells``: as in :func:`wasserstein_bracket`. ``rtol``, ``max_solves``: stopping
    rule of the cutting planes for ``"sum"`` (eq. 4); the bracket stays certified whichever stops it.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
    domain = _check_common(mu, nu, max_pairs, cells)
    if not (isinstance(rtol, (int, float)) and not isinstance(rtol, bool) and 0 < rtol < 1):
        raise ValueError(f"rtol must be a number in (0, 1), got {rtol!r}")
    if isinstance(max_solves, bool) or int(max_solves) != max_solves or max_solves < 2:
        raise ValueError(f"max_solves must be an integer >= 2, got {max_solves!r}")
    t0 = time.perf_counter()
    name = f"BL-{convention}"
    n_pos = _n_signed(mu, 1) + _n_signed(nu, -1)
    n_pairs = (n_pos + 1) * (_n_atoms(mu) + _n_atoms(nu) - n_pos + 1)
    if cells is None and n_pairs <= max_pairs:
        from ._inputs import atoms

        x, w = atoms(mu)
        y, v = atoms(nu)
        pts, sigma = np.concatenate((x, y)), np.concatenate((w, -v))
        e = sum(_density_bound(m, 1.0) for m in (mu, nu))
        method, extra = "exact", {}
    else:
        n_max = int(cells) if cells is not None else max(1, math.isqrt(int(max_pairs)))
        grid = _common_grid(mu, nu, domain, n_max)
        (ma, _, ea), (mb, _, eb) = _binned(mu, nu, grid, domain, 1.0)
        occupied = np.flatnonzero((ma != 0) | (mb != 0))
        sigma = (ma - mb)[occupied]
        pts = grid.centres_of(occupied)
        e = ea + eb
        method, extra = "binned", {"grid_shape": grid.shape, "grid_spacing": tuple(grid.spacing)}
    pos, neg = sigma > 0, sigma < 0
    _check_pairs((int(pos.sum()) + 1) * (int(neg.sum()) + 1), domain.dim, "the augmented problem")
    solves, points = 0, []
    if not pos.any() or not neg.any():
        lo = hi = float(abs(sigma.sum()))
    else:
        aug = _Augmented(pts[pos], sigma[pos], pts[neg], -sigma[neg], domain, num_iter_max)
        if convention == "max":
            _, lo = aug.solve(1.0, 1.0)
            hi = lo
        else:
            lo, hi, points = _bl_sum_bracket(aug, float(sigma.sum()), rtol, int(max_solves))
        solves = aug.solves
    lower, upper = _widen(lo - e, hi + e)
    exact_atoms = method == "exact" and e == 0 and lo == hi
    if exact_atoms:
        lower = upper = lo
    return Bracket(lower, upper, method, name, {
        **extra, "grid_value": (lo, hi), "binning_bound": e, "transport_solves": solves,
        "cutting_planes": [(a, v) for a, v, _ in points], "seconds": time.perf_counter() - t0})
