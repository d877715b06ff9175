"""The quick validation of paper 002 (its studies) in-process, on 2 local processes and on a dask
LocalCluster (2 worker processes, 1 thread each), interleaved round by round; ratios to in-process.

    PYTHONPATH=$PWD python benchmarks/validation_executors.py [repeats]

The cluster is started once before the rounds (its start-up time is printed apart). The machine has
2 cores: ratios, not absolute times, are the result.
"""

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _timing import interleaved_times

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
    base = np.array(times["in-process"])
    for name, ts in times.items():
        ts = np.array(ts)
        ratio = ts / base
        print(f"{name:11s} median {np.median(ts):6.1f} s (range {ts.min():.1f}-{ts.max():.1f}); "
              f"ratio to in-process median {np.median(ratio):.2f} (range {ratio.min():.2f}-{ratio.max():.2f})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
