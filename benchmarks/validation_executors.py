"""The quick validation of paper 002 (its studies) in-process, on 2 local processes and on a dask
LocalCluster (2 worker processes, 1 thread each), interleaved round by round; ratios to in-process.

    PYTHONPATH=$PWD python benchmarks/validation_executors.py [repeats]

The cluster is started once before the rounds (its start-up time is printed apart). The machine has
2 cores: ratios (executor ÷ in-process, round by round, median [range]), not absolute times, are the
result. Prints the peak RSS of this process and of its largest finished child (the pool's and the
cluster's worker processes, once closed).
"""

import sys
import tempfile
import time
from pathlib import Path

from _timing import interleaved_times, load_average, print_peak_rss, ratio_summary, times_summary

from meanfield.validation.runner import run_validation


def main(repeats=5):
    from dask.distributed import Client, LocalCluster

    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    print(f"dask LocalCluster start-up: {time.perf_counter() - t0:.1f} s")
    root = Path(tempfile.mkdtemp(prefix="bench-validate-"))
    count = {"k": 0}

    def once(**kw):
        count["k"] += 1
        results = run_validation(["newtonian1d"], root / f"r{count['k']}", quick=True, **kw)
        assert results[0][1].passed

    funcs = {"in-process": lambda: once(), "workers=2": lambda: once(workers=2),
             "dask 2x1": lambda: once(executor=client)}
    for func in funcs.values():  # warm-up round: imports, compiled-code caches, worker start-up
        func()
    times = dict(zip(funcs, interleaved_times(list(funcs.values()), repeats), strict=True))
    client.close()
    cluster.close()
    print(f"{repeats} interleaved rounds after one warm-up round, wall time; load average {load_average():.1f}")
    for name, ts in times.items():
        print(f"{name:11s} {times_summary(ts)}; ratio to in-process {ratio_summary(ts, times['in-process'])}")
    print_peak_rss("all rounds")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
