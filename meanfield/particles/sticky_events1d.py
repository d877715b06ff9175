"""Exact event-driven integration of two ordered species on R with rank-dependent velocities.

This is the engine behind :class:`meanfield.models.newtonian1d.Newtonian1D` (paper 002, Di
Francesco-Esposito-Schmidtchen, ODE system (6); theory page 002). It is written for any
1-D two-species system whose velocity field is the *gradient-flow right-derivative*

    v(x_i) = (M_{i-1} - (1 - M_i)) + (1 - 2 N_{J_i})        J_i = #{y in merged order below x_i}
    v(y_j) = (N_{j-1} - (1 - N_j)) + (1 - 2 M_{I_j})        I_j = #{x below y_j}

(M, N the cumulative masses of each species; same-species signs by index, opposite species at a
common point ordered by the tie rule sign(x_i - y_j) := sign(i - j), theory page 002). Velocities are
constant between x-y meetings, so trajectories are piecewise linear and we jump from meeting to
meeting exactly:

* the state is the merged order of all particles; only *adjacent* pairs in that order can meet;
* an indexed binary min-heap holds the meeting times of the adjacent pairs that approach
  (separating pairs are not in it), so one event costs O(log N) and a run costs
  O((N + events) log N);
* at a meeting of x_i and y_j we try the swap: if after the swap the two particles separate they
  *cross* (Thm 4.1, cases i != j; Remark 4.1 for general masses), otherwise they *stick*: the pair
  moves with the mass-weighted average of its free velocities (zero for equal masses, Thm 4.1(3))
  forever;
* positions at a meeting are snapped to one common value (no chattering, no overshoot).

The loop is compiled (numba) and allocates nothing per event. Measured with
``benchmarks/newtonian1d_engines.py 10000`` (overlapping uniform data, N = 10^4 per species, to
t = 1: 3.57e7 events): about 6 s of CPU time, 5.5-5.9e6 events per CPU second on one core of the
2-core development machine (6.5e6 at N = 10^3: the log N of the heap).

Unsupported situations are detected, never silently mis-integrated: a same-species meeting (it
cannot happen for equal masses, Thm 4.2, but can for general masses when m_i + m_{i+1} < 2 n_j)
and a third particle reaching a stuck pair (impossible for equal masses: a stuck pair decouples
the system, Thm 4.3 consequence 4) stop the run with error code 2 or 3.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit
from numpy.typing import ArrayLike

__all__ = [
    "EVENT_CROSS",
    "EVENT_STICK",
    "check_event_times",
    "check_two_species_state",
    "simulate_two_species_events",
]

EVENT_CROSS = 0
EVENT_STICK = 1
_INF = np.inf


# --- input checks (shared with the model and the general-mass engine) ----------------------
def _floats(name: str, v: Any) -> np.ndarray:
    """``v`` as a float array; TypeError naming ``name`` for strings, None, complex or objects."""
    try:
        a = np.asarray(v, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of real numbers, got {v!r}") from None
    if v is None or np.iscomplexobj(v):
        raise TypeError(f"{name} must be an array of real numbers, got {v!r}")
    return a


def _positions(name: str, v: object) -> np.ndarray:
    a = _floats(name, v)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        k = int(np.argmax(~np.isfinite(a)))
        raise ValueError(f"{name} must be finite; {name}[{k}] = {float(a[k])!r}")
    d = np.diff(a)
    if np.any(d < 0):
        k = int(np.argmax(d < 0))
        raise ValueError(f"{name} must be sorted (non-decreasing: labels are ranks); "
                         f"{name}[{k}]={float(a[k])!r} > {name}[{k + 1}]={float(a[k + 1])!r}")
    return np.ascontiguousarray(a)


def _masses(name: str, m: object, n: int) -> np.ndarray:
    if m is None:
        return np.full(n, 1.0 / n)
    m = _floats(name, m)
    if m.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) to match the positions, got {m.shape}")
    if not np.all(np.isfinite(m)):
        k = int(np.argmax(~np.isfinite(m)))
        raise ValueError(f"{name} must be finite; {name}[{k}] = {float(m[k])!r}")
    if np.any(m <= 0):
        k = int(np.argmin(m))
        raise ValueError(f"{name} must be positive; entry {k} is {float(m[k])!r}")
    if abs(m.sum() - 1.0) > 1e-12 * n:
        raise ValueError(f"{name} must sum to 1 (probability measure), got {float(m.sum())!r}")
    return np.ascontiguousarray(m)


def check_two_species_state(
    x: ArrayLike, y: ArrayLike, mx: ArrayLike | None = None, my: ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validate a two-species particle state before any work.

    Parameters
    ----------
    x, y : array_like
        Positions: finite, non-empty, non-decreasing (the cone C^N x C^N of Section 3: labels are ranks).
    mx, my : array_like or None, optional
        Masses (default 1/N each): of the same length as their positions, finite, positive, summing to 1.

    Returns
    -------
    x, y, mx, my : numpy.ndarray
        Contiguous float arrays.

    Raises
    ------
    TypeError
        For strings, None, complex or object entries (naming the offender).
    ValueError
        For any other violation (naming the offender).

    References
    ----------
    :cite:`DiFrancescoEspositoSchmidtchen`, Section 3; theory page ``docs/theory/002-newtonian.md``.

    Examples
    --------
    >>> check_two_species_state([0.0, 0.5], [0.25, 1.0])
    (array([0. , 0.5]), array([0.25, 1.  ]), array([0.5, 0.5]), array([0.5, 0.5]))
    >>> check_two_species_state([0.5, 0.0], [0.25, 1.0])
    Traceback (most recent call last):
    ...
    ValueError: x must be sorted (non-decreasing: labels are ranks); x[0]=0.5 > x[1]=0.0
    """
    x = _positions("x", x)
    y = _positions("y", y)
    return x, y, _masses("mx", mx, x.size), _masses("my", my, y.size)


def check_event_times(out_times: ArrayLike, t_end: float) -> tuple[np.ndarray, float]:
    """Check the output times of an event-driven run.

    Parameters
    ----------
    out_times : array_like
        Finite, non-decreasing, in [0, t_end] (up to a relative 1e-12, the tolerance of
        ``meanfield.models.base.check_times``).
    t_end : float
        Finite and >= 0.

    Returns
    -------
    times : numpy.ndarray
        The output times as a contiguous float array.
    t_end : float
        The end of the run, ``max(t_end, out_times[-1])``, so that every output is written.

    Raises
    ------
    ValueError
        If a condition above fails.

    Examples
    --------
    >>> check_event_times([0.0, 0.5], 1.0)
    (array([0. , 0.5]), 1.0)
    """
    t_end = float(t_end)
    if not (np.isfinite(t_end) and t_end >= 0):
        raise ValueError(f"t_end must be a finite number >= 0, got {t_end!r}")
    ts = np.ascontiguousarray(np.atleast_1d(np.asarray(out_times, dtype=float)))
    if ts.ndim != 1 or not np.all(np.isfinite(ts)) or np.any(ts < 0) or np.any(ts > t_end * (1 + 1e-12)):
        raise ValueError(f"out_times must be finite and lie in [0, t_end={t_end}], got {out_times!r}")
    if np.any(np.diff(ts) < 0):
        raise ValueError(f"out_times must be non-decreasing, got {out_times!r}")
    return ts, max(t_end, float(ts[-1])) if ts.size else t_end


# --- indexed binary min-heap over adjacent-pair slots -------------------------------------
# The heap holds only the slots with a finite meeting time (approaching pairs). Keys are stored
# inline (hk[p], hs[p]) so that sifting reads contiguous memory; ``where[slot]`` is the heap
# position of a slot, or -1. Sifting moves a hole and writes the element once. Ties in time are
# broken by slot index, so simultaneous events are processed in a deterministic order.
@njit(cache=True, inline="always")
def _less(ka, sa, kb, sb):
    return ka < kb or (ka == kb and sa < sb)


@njit(cache=True)
def _sift_up(hk, hs, where, p, k, sl):
    """Place (k, sl) at hole p, moving larger parents down."""
    while p > 0:
        parent = (p - 1) >> 1
        kp = hk[parent]
        sp = hs[parent]
        if _less(k, sl, kp, sp):
            hk[p] = kp
            hs[p] = sp
            where[sp] = p
            p = parent
        else:
            break
    hk[p] = k
    hs[p] = sl
    where[sl] = p


@njit(cache=True)
def _sift_down(hk, hs, where, hn, p, k, sl):
    """Place (k, sl) at hole p of a heap of size hn, moving smaller children up."""
    while True:
        c = 2 * p + 1
        if c >= hn:
            break
        kc = hk[c]
        sc = hs[c]
        r = c + 1
        if r < hn:
            kr = hk[r]
            sr = hs[r]
            if _less(kr, sr, kc, sc):
                c = r
                kc = kr
                sc = sr
        if _less(kc, sc, k, sl):
            hk[p] = kc
            hs[p] = sc
            where[sc] = p
            p = c
        else:
            break
    hk[p] = k
    hs[p] = sl
    where[sl] = p


@njit(cache=True)
def _set_key(hk, hs, where, hn, slot, value):
    """Set the meeting time of ``slot`` (inf removes it from the heap); returns the new size."""
    p = where[slot]
    if value == _INF:
        if p < 0:
            return hn
        where[slot] = -1
        hn -= 1
        if p == hn:
            return hn
        k = hk[hn]
        sl = hs[hn]
        q = (p - 1) >> 1
        if p > 0 and _less(k, sl, hk[q], hs[q]):
            _sift_up(hk, hs, where, p, k, sl)
        else:
            _sift_down(hk, hs, where, hn, p, k, sl)
        return hn
    if p < 0:
        _sift_up(hk, hs, where, hn, value, slot)
        return hn + 1
    if value < hk[p]:
        _sift_up(hk, hs, where, p, value, slot)
    else:
        _sift_down(hk, hs, where, hn, p, value, slot)
    return hn


# --- velocities -----------------------------------------------------------------------------
@njit(cache=True)
def _free_velocity(pid, nxa, nreal, equal, idx, cnt, cum_x, cum_y):
    """Velocity of particle ``pid`` from its rank and the count of (real) other-species particles
    below it. Ghosts have rank -1 (i = 0 in the paper's 1-based labels; equal masses only)."""
    i = idx[pid]
    c = cnt[pid]
    if equal:
        return (2.0 * (i + 1 - c) - 1.0) / nreal
    if pid < nxa:
        return (cum_x[i] - (1.0 - cum_x[i + 1])) + (1.0 - 2.0 * cum_y[c])
    return (cum_y[i] - (1.0 - cum_y[i + 1])) + (1.0 - 2.0 * cum_x[c])


@njit(cache=True)
def _meet_time(a, b, tnow, pref, tref, vel):
    """Time at which left particle ``a`` reaches right particle ``b`` (inf if not approaching)."""
    closing = vel[a] - vel[b]
    if closing <= 0.0:
        return _INF
    gap = (pref[b] + vel[b] * (tnow - tref[b])) - (pref[a] + vel[a] * (tnow - tref[a]))
    if gap < 0.0:
        gap = 0.0
    return tnow + gap / closing


@njit(cache=True)
def _slot_time(s, tnow, order, stuck, pref, tref, vel):
    a = order[s]
    b = order[s + 1]
    if stuck[a] == b:
        return _INF
    return _meet_time(a, b, tnow, pref, tref, vel)


@njit(cache=True)
def _event_loop(x0, y0, mx, my, equal, out_times, t_end, record_events, gx, gy):
    nx = x0.size  # x list, including a leading ghost if gx == 1
    ny = y0.size
    n = nx + ny
    nreal = mx.size
    cum_x = np.zeros(mx.size + 1)
    cum_y = np.zeros(my.size + 1)
    for i in range(mx.size):
        cum_x[i + 1] = cum_x[i] + mx[i]
    for j in range(my.size):
        cum_y[j + 1] = cum_y[j] + my[j]
    mass = np.zeros(n)
    mass[gx:nx] = mx
    mass[nx + gy:] = my
    ghost = np.zeros(n, np.bool_)
    if gx == 1:
        ghost[0] = True
    if gy == 1:
        ghost[nx] = True
    idx = np.empty(n, np.int64)
    pref = np.empty(n)
    for i in range(nx):
        idx[i] = i - gx
        pref[i] = x0[i]
    for j in range(ny):
        idx[nx + j] = j - gy
        pref[nx + j] = y0[j]
    tref = np.zeros(n)
    # merged order: by position, ties by index, x before y at equal index (tie rule, theory page 002)
    keys_sp = np.zeros(n, np.int64)
    keys_sp[nx:] = 1
    order = np.empty(n, np.int64)
    # merge the two sorted lists
    i = 0
    j = 0
    k = 0
    while k < n:
        take_x = False
        if j >= ny:
            take_x = True
        elif i < nx:
            if x0[i] < y0[j]:
                take_x = True
            elif x0[i] == y0[j] and i - gx <= j - gy:
                take_x = True
        if take_x:
            order[k] = i
            i += 1
        else:
            order[k] = nx + j
            j += 1
        k += 1
    slot = np.empty(n, np.int64)
    cnt = np.empty(n, np.int64)
    seen_x = 0
    seen_y = 0
    for k in range(n):
        p = order[k]
        slot[p] = k
        if p < nx:
            cnt[p] = seen_y
            if not ghost[p]:
                seen_x += 1
        else:
            cnt[p] = seen_x
            if not ghost[p]:
                seen_y += 1
    stuck = -np.ones(n, np.int64)
    vel = np.empty(n)
    for p in range(n):
        vel[p] = _free_velocity(p, nx, nreal, equal, idx, cnt, cum_x, cum_y)
    # initial equal-index coincident pairs are stuck from t = 0 (Thm 4.3)
    for k in range(n - 1):
        a = order[k]
        b = order[k + 1]
        if a < nx and b >= nx and idx[a] == idx[b] and idx[a] >= 0 and pref[a] == pref[b] and equal:
            stuck[a] = b
            stuck[b] = a
            vel[a] = 0.0
            vel[b] = 0.0
    nslot = max(n - 1, 1)
    hk = np.empty(nslot)
    hs = np.empty(nslot, np.int64)
    where = -np.ones(nslot, np.int64)
    hn = 0
    for s in range(n - 1):
        hn = _set_key(hk, hs, where, hn, s, _slot_time(s, 0.0, order, stuck, pref, tref, vel))

    nout = out_times.size
    out_x = np.empty((nout, nx))
    out_y = np.empty((nout, ny))
    cap = 1024
    ev_t = np.empty(cap)
    ev_kind = np.empty(cap, np.int8)
    ev_i = np.empty(cap, np.int32)
    ev_j = np.empty(cap, np.int32)
    nev = 0
    n_cross = 0
    n_stick = 0
    err = 0
    err_time = 0.0
    o = 0
    tnow = 0.0
    while True:
        s = hs[0] if hn > 0 else 0
        te = hk[0] if hn > 0 else _INF
        # outputs strictly before the next event (an output at an event time sees the
        # pre-event positions, which equal the post-event ones: trajectories are continuous)
        while o < nout and out_times[o] <= te:
            t = out_times[o]
            for p in range(n):
                val = pref[p] + vel[p] * (t - tref[p])
                if p < nx:
                    out_x[o, idx[p] + gx] = val
                else:
                    out_y[o, idx[p] + gy] = val
            o += 1
        if te > t_end:
            break
        tnow = te
        a = order[s]
        b = order[s + 1]
        if ghost[a] or ghost[b]:
            if (a < nx) == (b < nx) and not (ghost[a] and ghost[b]):
                err = 2
                err_time = te
                break
            # a massless ghost passes anything; only its own reference point, count and velocity
            # change (the real particle's trajectory is untouched, bit for bit)
            if ghost[a]:
                pref[a] = pref[b] + vel[b] * (te - tref[b])
                tref[a] = te
            if ghost[b]:
                pref[b] = pref[a] + vel[a] * (te - tref[a])
                tref[b] = te
            order[s] = b
            order[s + 1] = a
            slot[a] = s + 1
            slot[b] = s
            if (a < nx) != (b < nx):
                if ghost[a] and not ghost[b]:
                    cnt[a] += 1
                if ghost[b] and not ghost[a]:
                    cnt[b] -= 1
            if ghost[a]:
                vel[a] = _free_velocity(a, nx, nreal, equal, idx, cnt, cum_x, cum_y)
            if ghost[b]:
                vel[b] = _free_velocity(b, nx, nreal, equal, idx, cnt, cum_x, cum_y)
            for s2 in (s - 1, s, s + 1):
                if 0 <= s2 < n - 1:
                    hn = _set_key(hk, hs, where, hn, s2, _slot_time(s2, tnow, order, stuck, pref, tref, vel))
            continue
        if stuck[a] >= 0 or stuck[b] >= 0:
            err = 3
            err_time = te
            break
        if (a < nx) == (b < nx):
            err = 2
            err_time = te
            break
        pm = pref[a] + vel[a] * (te - tref[a])
        pref[a] = pm
        pref[b] = pm
        tref[a] = te
        tref[b] = te
        # trial swap: a passes b
        cnt[a] += 1
        cnt[b] -= 1
        va = _free_velocity(a, nx, nreal, equal, idx, cnt, cum_x, cum_y)
        vb = _free_velocity(b, nx, nreal, equal, idx, cnt, cum_x, cum_y)
        if va > vb:
            kind = EVENT_CROSS
            order[s] = b
            order[s + 1] = a
            slot[a] = s + 1
            slot[b] = s
            vel[a] = va
            vel[b] = vb
            n_cross += 1
        else:
            kind = EVENT_STICK
            cnt[a] -= 1
            cnt[b] += 1
            stuck[a] = b
            stuck[b] = a
            if equal:
                vs = 0.0
            else:
                # free velocities without the partner: b is above a (contributed +m_b to a),
                # a is below b (contributed -m_a to b); the pair moves with the weighted mean
                ea = vel[a] - mass[b]
                eb = vel[b] + mass[a]
                vs = (mass[a] * ea + mass[b] * eb) / (mass[a] + mass[b])
            vel[a] = vs
            vel[b] = vs
            n_stick += 1
        if record_events:
            if nev == cap:
                cap *= 2
                t2 = np.empty(cap)
                k2 = np.empty(cap, np.int8)
                i2 = np.empty(cap, np.int32)
                j2 = np.empty(cap, np.int32)
                t2[:nev] = ev_t[:nev]
                k2[:nev] = ev_kind[:nev]
                i2[:nev] = ev_i[:nev]
                j2[:nev] = ev_j[:nev]
                ev_t, ev_kind, ev_i, ev_j = t2, k2, i2, j2
            px = a if a < nx else b
            py = b if a < nx else a
            ev_t[nev] = te
            ev_kind[nev] = kind
            ev_i[nev] = idx[px]
            ev_j[nev] = idx[py]
            nev += 1
        # slot s (at the root) now separates or is stuck: its key becomes inf. If a neighbour slot
        # enters the heap, it takes the root's place with a single sift-down (instead of a
        # removal plus an insertion); otherwise the root is removed.
        km = _slot_time(s - 1, tnow, order, stuck, pref, tref, vel) if s >= 1 else _INF
        kp = _slot_time(s + 1, tnow, order, stuck, pref, tref, vel) if s + 1 < n - 1 else _INF
        if s >= 1 and km < _INF and where[s - 1] < 0:
            where[s] = -1
            _sift_down(hk, hs, where, hn, 0, km, s - 1)
            if s + 1 < n - 1:
                hn = _set_key(hk, hs, where, hn, s + 1, kp)
        elif s + 1 < n - 1 and kp < _INF and where[s + 1] < 0:
            where[s] = -1
            _sift_down(hk, hs, where, hn, 0, kp, s + 1)
            if s >= 1:
                hn = _set_key(hk, hs, where, hn, s - 1, km)
        else:
            hn = _set_key(hk, hs, where, hn, s, _INF)
            if s >= 1:
                hn = _set_key(hk, hs, where, hn, s - 1, km)
            if s + 1 < n - 1:
                hn = _set_key(hk, hs, where, hn, s + 1, kp)
    final_vx = np.empty(nx)
    final_vy = np.empty(ny)
    for p in range(n):
        if p < nx:
            final_vx[idx[p] + gx] = vel[p]
        else:
            final_vy[idx[p] + gy] = vel[p]
    return (out_x, out_y, o, ev_t[:nev], ev_kind[:nev], ev_i[:nev], ev_j[:nev], n_cross, n_stick,
            err, err_time, final_vx, final_vy)


def simulate_two_species_events(
    x0: ArrayLike, y0: ArrayLike, mx: ArrayLike | None, my: ArrayLike | None, out_times: ArrayLike, t_end: float,
    record_events: bool = True, ghosts: tuple | None = None,
) -> dict:
    """Run the exact event loop from sorted ``x0``, ``y0`` with masses ``mx``, ``my``.

    Inputs are checked first (:func:`check_two_species_state`, :func:`check_event_times`).

    Parameters
    ----------
    x0, y0 : array_like
        Sorted positions of the two species.
    mx, my : array_like or None
        Their masses (None: 1/N each).
    out_times : array_like
        Output times in [0, t_end].
    t_end : float
        The end of the run.
    record_events : bool, optional
        Whether to record the event arrays.
    ghosts : tuple or None, optional
        ``(x_0, y_0)`` (equal masses only) adds the massless "ghost" particles of rank 0 that close the
        piecewise-constant reconstructions (66)-(67) (theory page 002): they move with the index formula
        at i = 0, i.e. x_0' = -(2 J_0 + 1)/N, pass through everything, and are returned as column 0 of
        ``x`` and ``y`` (then ``velocity_x[0]`` is the ghost's too).

    Returns
    -------
    dict
        ``x`` (n_out, Nx), ``y`` (n_out, Ny) at ``out_times``, the event arrays ``event_time``,
        ``event_kind`` (0 cross, 1 stick), ``event_i``, ``event_j`` (int32 0-based ranks of the x and y
        particle), the counts ``n_cross``, ``n_stick``, the velocities ``velocity_x``, ``velocity_y``
        after the last processed event and ``equal_masses``.

    Raises
    ------
    ValueError
        Before any work: unsorted or non-finite positions, non-positive masses, masses not matching the
        positions, output times outside [0, t_end], ghosts with unequal masses or right of their species.
    RuntimeError
        For the unsupported situations described in the module docstring.

    References
    ----------
    :cite:`DiFrancescoEspositoSchmidtchen`, ODE (6), Thm 4.1; theory page ``docs/theory/002-newtonian.md``.

    Examples
    --------
    Two pairs x_i, y_i meet at t = 0.25 and stick at rest (equal masses, i = j: Thm 4.1(3)):

    >>> r = simulate_two_species_events([0.0, 0.5], [0.25, 0.75], None, None, [0.0, 1.0], 1.0)
    >>> r["x"][-1], r["event_time"], r["event_kind"], r["n_stick"]
    (array([0.125, 0.625]), array([0.25, 0.25]), array([1, 1]...), 2)
    """
    x0, y0, mx, my = check_two_species_state(x0, y0, mx, my)
    out_times, t_end = check_event_times(out_times, t_end)
    equal = bool(x0.size == y0.size and np.all(mx == mx[0]) and np.all(my == mx[0]))
    g = 0
    if ghosts is not None:
        if not equal:
            raise ValueError("ghosts are defined for equal masses 1/N only (theory page 002)")
        gx0, gy0 = float(ghosts[0]), float(ghosts[1])
        if not (gx0 <= x0[0] and gy0 <= y0[0]):
            raise ValueError(f"ghosts must lie left of their species: x_0={gx0} <= x_1={x0[0]}, "
                             f"y_0={gy0} <= y_1={y0[0]}")
        x0 = np.concatenate([[gx0], x0])
        y0 = np.concatenate([[gy0], y0])
        g = 1
    (ox, oy, _o, et, ek, ei, ej, ncross, nstick, err, err_time, vx, vy) = _event_loop(
        x0, y0, mx, my, equal, out_times, float(t_end), bool(record_events), g, g
    )
    if err == 2:
        raise RuntimeError(
            f"same-species particles met at t={err_time!r}; this happens only for unequal masses "
            "(m_i + m_{i+1} < 2 n_j, theory page 002) and needs cluster dynamics not implemented"
        )
    if err == 3:
        raise RuntimeError(
            f"a particle reached a stuck pair at t={err_time!r}; with unequal masses stuck pairs move "
            "and multi-particle clusters form, which is not implemented"
        )
    return {
        "x": ox, "y": oy, "event_time": et, "event_kind": ek, "event_i": ei, "event_j": ej,
        "n_cross": int(ncross), "n_stick": int(nstick), "velocity_x": vx, "velocity_y": vy,
        "equal_masses": equal,
    }
