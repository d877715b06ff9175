"""The dual bounded-Lipschitz norm of ``mu - nu`` for signed measures of any masses.

Two normalisations (DESIGN.md, notes/003.md §7):

* ``convention="max"``: ``sup{∫ f d(mu - nu) : ‖f‖∞ ≤ 1, Lip f ≤ 1}``;
* ``convention="sum"``: ``sup{∫ f d(mu - nu) : ‖f‖∞ + Lip f ≤ 1}``, the dual W^{1,∞} norm of paper 003.

Exact evaluation. With a ground point g at distance ``a`` from every point, ``|f| ≤ a`` is the
Lipschitz condition between each point and g (f(g) = 0), so
``S(a, b) = sup{∫ f dσ : ‖f‖∞ ≤ a, Lip f ≤ b}`` is a Kantorovich–Rubinstein dual on the augmented
space and equals the transport problem of notes/003.md §7: cost ``b·d(x, y)`` between real points,
``a`` between a real point and a dummy, 0 between dummies, after the positive part of σ gets a dummy
of the negative part's mass and vice versa.

* "max" is ``S(1, 1)``;  "sum" is ``max_{a ∈ [0, 1]} S(a, 1 - a)``, concave in ``a``.
* In 1-D the supremum is a linear programme over the values of f at the merged support points with
  the Lipschitz condition between neighbours only (a chain, closed into a cycle on a circle); "sum"
  is the same programme with the Lipschitz bound ``L`` as one more variable. Solved with HiGHS.
* In 2-D/3-D the transport problem is solved exactly with POT; "sum" by a bounded scalar search.

Densities enter as atoms at (sub-)cell centres (``subcells`` per axis), which moves each unit of
mass by at most half a sub-cell diagonal: the returned value is within ``|ρ|·|h|/(2·subcells)``
of the density's own value (``|ρ|·h/(4·subcells)`` in 1-D), per density argument.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, sparse

from ._inputs import atoms, check_int, check_measure, check_memory, check_pair
from .wasserstein import pairwise_distance

__all__ = ["bounded_lipschitz", "bounded_lipschitz_1d", "bounded_lipschitz_ot"]

CONVENTIONS = ("max", "sum")
BYTES_PER_PAIR = 96  # peak memory of one augmented transport per (positive, negative) atom pair


def bounded_lipschitz(mu, nu, convention: str = "max", *, subcells: int = 1) -> float:
    """Dual bounded-Lipschitz norm ``‖mu - nu‖`` (see the module docstring).

    ``mu`` and ``nu`` are EmpiricalMeasure, GridDensity or IntervalDensity1D on the same domain;
    weights may be signed and the masses may differ. ``nu`` may be ``None`` (the norm of ``mu``).
    """
    _check_convention(convention)
    subcells = check_int("subcells", subcells)
    if nu is None:
        check_measure("mu", mu)
        domain = mu.domain
    else:
        domain = check_pair(mu, nu)
    x, sigma = _signed_atoms(mu, nu, subcells)
    if domain.dim == 1:
        return bounded_lipschitz_1d(x[:, 0], sigma, convention, period=domain.period and domain.period[0])
    return bounded_lipschitz_ot(x, sigma, domain, convention)


def _check_convention(convention):
    if not isinstance(convention, str) or convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")


def _signed_atoms(mu, nu, subcells):
    x, w = atoms(mu, subcells)
    if nu is not None:
        y, v = atoms(nu, subcells)
        x, w = np.concatenate((x, y)), np.concatenate((w, -v))
    return x, w


def bounded_lipschitz_1d(x, sigma, convention="max", period=None) -> float:
    """Exact dual BL norm of the signed atomic measure ``Σ sigma_i δ_{x_i}`` on R or a circle."""
    _check_convention(convention)
    x = np.asarray(x, dtype=float)
    sigma = np.asarray(sigma, dtype=float)
    if not (np.all(np.isfinite(x)) and np.isfinite(np.sum(np.abs(sigma)))):
        raise ValueError("x must be finite and sigma's total variation a finite double")
    if period:
        x = np.mod(x, period)
    pts, inverse = np.unique(x, return_inverse=True)
    s = np.bincount(inverse, weights=sigma, minlength=pts.size)
    n = pts.size
    if n == 1:
        return float(abs(s[0]))
    gaps = np.diff(pts)
    rows_i, rows_j = np.arange(n - 1), np.arange(1, n)
    if period:
        rows_i = np.append(rows_i, n - 1)
        rows_j = np.append(rows_j, 0)
        gaps = np.append(gaps, period - (pts[-1] - pts[0]))
    m = rows_i.size
    r = np.arange(m)
    # f_j - f_i <= gap and f_i - f_j <= gap
    diff = sparse.csr_matrix(
        (np.concatenate((np.ones(m), -np.ones(m))), (np.concatenate((r, r)), np.concatenate((rows_j, rows_i)))),
        shape=(m, n),
    )
    if convention == "max":
        a_ub = sparse.vstack([diff, -diff]).tocsr()
        b_ub = np.concatenate((gaps, gaps))
        res = optimize.linprog(-s, A_ub=a_ub, b_ub=b_ub, bounds=(-1.0, 1.0), method="highs")
    else:
        # variables (f, L): f_j - f_i - gap L <= 0, ±f_i + L <= 1, 0 <= L <= 1
        gap_col = sparse.csr_matrix(-gaps[:, None])
        eye = sparse.identity(n, format="csr")
        ones = sparse.csr_matrix(np.ones((n, 1)))
        a_ub = sparse.vstack(
            [sparse.hstack([diff, gap_col]), sparse.hstack([-diff, gap_col]), sparse.hstack([eye, ones]),
             sparse.hstack([-eye, ones])]
        ).tocsr()
        b_ub = np.concatenate((np.zeros(2 * m), np.ones(2 * n)))
        bounds = [(-1.0, 1.0)] * n + [(0.0, 1.0)]
        res = optimize.linprog(np.append(-s, 0.0), A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")
    if res.status != 0:
        raise RuntimeError(f"the bounded-Lipschitz linear programme failed: {res.message}")
    return float(-res.fun)


def _augmented_transport(xp, wp, xn, wn, domain, a, b, num_iter_max):
    """``S(a, b)`` of the module docstring by exact OT with one dummy per side."""
    import ot

    mp, mn = wp.sum(), wn.sum()
    cost = np.empty((wp.size + 1, wn.size + 1))
    cost[:-1, :-1] = np.minimum(b * pairwise_distance(xp, xn, domain), 2 * a)
    cost[:-1, -1] = a
    cost[-1, :-1] = a
    cost[-1, -1] = 0.0
    src = np.append(wp, mn)
    dst = np.append(wn, mp)
    value, log = ot.emd2(src, dst, cost, numItermax=num_iter_max, log=True)
    if log.get("warning"):
        raise RuntimeError(f"POT's network simplex did not converge: {log['warning']}")
    return float(value)


def bounded_lipschitz_ot(x, sigma, domain, convention="max", num_iter_max=None) -> float:
    """Exact dual BL norm of ``Σ sigma_i δ_{x_i}`` in d >= 1 through augmented transport."""
    _check_convention(convention)
    num_iter_max = check_int("num_iter_max", num_iter_max, allow_none=True)
    pos, neg = sigma > 0, sigma < 0
    if not pos.any() and not neg.any():
        return 0.0
    xp, wp = x[pos], sigma[pos]
    xn, wn = x[neg], -sigma[neg]
    if xp.shape[0] == 0 or xn.shape[0] == 0:
        # one-signed: f = ±1 is optimal for "max"; for "sum" the best is a constant 1 as well
        return float(abs(sigma.sum()))
    check_memory(BYTES_PER_PAIR * (wp.size + 1) * (wn.size + 1),
                 f"exact augmented transport between {wp.size} positive and {wn.size} negative atoms")
    iters = num_iter_max or max(10**6, 50 * (wp.size + wn.size + 2) ** 2)
    if convention == "max":
        return _augmented_transport(xp, wp, xn, wn, domain, 1.0, 1.0, iters)
    return _golden_max(lambda a: _augmented_transport(xp, wp, xn, wn, domain, a, 1.0 - a, iters), 0.0, 1.0)


def _golden_max(func, lo, hi, iterations=64):
    """Maximum of a concave function on [lo, hi] by golden-section search (interval 0.618^64 ≈ 4e-14);
    the end points are evaluated too, since the maximiser may sit there."""
    invphi = (np.sqrt(5.0) - 1.0) / 2.0
    ends = (func(lo), func(hi))
    c, d = hi - invphi * (hi - lo), lo + invphi * (hi - lo)
    fc, fd = func(c), func(d)
    for _ in range(iterations):
        if fc >= fd:
            hi, d, fd = d, c, fc
            c = hi - invphi * (hi - lo)
            fc = func(c)
        else:
            lo, c, fc = c, d, fd
            d = lo + invphi * (hi - lo)
            fd = func(d)
    best = max(fc, fd, *ends)
    return float(best)
