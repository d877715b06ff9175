"""Timers shared by the benchmark scripts (run as ``python benchmarks/<name>.py``, so this module
is importable as ``_timing``)."""

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
    """Wall times (or times of ``clock``, e.g. ``time.process_time`` for CPU time) of ``repeats`` rounds,
    each calling every function of ``funcs`` once in turn (interleaved, so a change in machine load hits
    all of them alike); one list per function."""
    times = [[] for _ in funcs]
    for _ in range(repeats):
        for k, func in enumerate(funcs):
            t0 = clock()
            func()
            times[k].append(clock() - t0)
    return times
