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


def interleaved_times(funcs, repeats=5, warmup=True):
    """Wall times of ``repeats`` rounds, each calling every ``funcs[name]()`` once in turn (so a change
    in the machine's load hits all of them alike); returns ``{name: [seconds, ...]}``. One untimed
    round first if ``warmup``."""
    if warmup:
        for func in funcs.values():
            func()
    times = {name: [] for name in funcs}
    for _ in range(repeats):
        for name, func in funcs.items():
            t0 = time.perf_counter()
            func()
            times[name].append(time.perf_counter() - t0)
    return times
