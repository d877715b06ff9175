"""Timers shared by the benchmark scripts (run as ``python benchmarks/<name>.py``, so this module
is importable as ``_timing``).

The project's standard for a benchmark row (issue 17): the peer in its strongest configuration, one
direction for every ratio (our time ÷ the peer's time), the calls interleaved, at least 5 repeats with
median and [range] (:func:`interleaved_times`, :func:`ratio_summary`), the accuracy of both sides
printed, and the peak RSS of the run printed (:func:`peak_rss`)."""

import os
import resource
import sys
import time

import numpy as np


def best_time(func, repeats=5, warmup=False):
    """Smallest wall time of ``repeats`` calls of ``func()`` (after one untimed call if ``warmup``)."""
    if warmup:
        func()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return min(times)


def median_time(func, repeats=30):
    """Median wall time of ``repeats`` calls of ``func()``."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def interleaved_times(funcs, repeats=5, clock=time.perf_counter):
    """Times of ``repeats`` rounds, each calling every function of ``funcs`` once in turn
    (interleaved, so a change in machine load hits all of them alike); one list per function.
    ``clock``: wall time by default; ``time.process_time`` for the CPU time of this process."""
    times = [[] for _ in funcs]
    for _ in range(repeats):
        for k, func in enumerate(funcs):
            t0 = clock()
            func()
            times[k].append(clock() - t0)
    return times


def ratio_summary(ours, peer):
    """Round-by-round ratios ``ours[i] / peer[i]`` of two interleaved time lists, as the string
    ``"median [min, max]"`` (one direction everywhere: below 1, ours is faster)."""
    r = np.asarray(ours, float) / np.asarray(peer, float)
    return f"{np.median(r):.3g} [{r.min():.3g}, {r.max():.3g}]"


def times_summary(ts):
    """``"median [min, max] s"`` of a list of times."""
    ts = np.asarray(ts, float)
    return f"{np.median(ts):.4g} s [{ts.min():.4g}, {ts.max():.4g}]"


def peak_rss(children=False):
    """Peak resident set size so far, in MiB, of this process (``resource.getrusage``'s ``ru_maxrss``;
    kibibytes on Linux, bytes on macOS), or with ``children=True`` of its largest terminated,
    waited-for child process."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    kib = resource.getrusage(who).ru_maxrss
    return kib / 2**20 if sys.platform == "darwin" else kib / 2**10


def print_peak_rss(what="this run"):
    """Print the peak RSS of this process (and of its largest finished child, if any) for ``what``."""
    child = peak_rss(children=True)
    extra = f"; largest finished child process {child:.0f} MiB" if child > 0 else ""
    print(f"peak RSS ({what}): {peak_rss():.0f} MiB{extra}")


def load_average():
    """The 1-minute load average (the machine is shared: printed beside every timing)."""
    try:
        return os.getloadavg()[0]
    except OSError:  # pragma: no cover - not available on this platform
        return float("nan")
