"""`meanfield validate` for a paper declared as studies: the report is the same in-process, on two
local processes and on a dask cluster, and a run killed mid-way resumes from its store to the same
report without recomputing the tasks it had finished (tiny sizes: MEANFIELD_VALIDATION_SIZE=tiny)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from meanfield.cli import main

ROOT = Path(__file__).resolve().parents[1]
FILES = ("report.md", "summary.json", "newtonian1d/newtonian1d_distances.csv", "newtonian1d/newtonian1d_studies.csv")


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setenv("MEANFIELD_VALIDATION_SIZE", "tiny")


def _report(folder: Path) -> dict:
    return {name: (folder / name).read_text() for name in FILES}


def _validate(out: Path, *extra) -> int:
    return main(["validate", "--full", "newtonian1d", "--out", str(out), *extra])


def test_report_is_the_same_whatever_executes_it(tmp_path, tiny):
    assert _validate(tmp_path / "local") in (0, 1)
    reference = _report(tmp_path / "local")
    claims = json.loads(reference["summary.json"])["papers"][0]["claims"]
    assert len(claims) == 33 and all(c["value"] is not None for c in claims)
    assert _validate(tmp_path / "procs", "--workers", "2") in (0, 1)
    assert _report(tmp_path / "procs") == reference
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cl:
        code = _validate(tmp_path / "dask", "--executor", cl.scheduler_address, "--store", str(tmp_path / "s"))
    assert code in (0, 1)
    assert _report(tmp_path / "dask") == reference
    timings = json.loads((tmp_path / "dask" / "timings.json").read_text())
    assert timings["execution"].startswith("dask tcp://") and "newtonian1d" in timings["seconds"]


def test_killed_full_run_resumes_to_the_same_report(tmp_path, tiny):
    assert _validate(tmp_path / "whole", "--store", str(tmp_path / "whole-store")) in (0, 1)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    store = tmp_path / "store"
    cmd = [sys.executable, "-m", "meanfield.cli", "validate", "--full", "newtonian1d", "--out", str(tmp_path / "cut"),
           "--store", str(store)]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    try:
        while not list(store.glob("newtonian1d/*/task-*.json")):
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no task finished within 300 s"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    finished = {p: p.stat().st_mtime_ns for p in store.glob("newtonian1d/*/task-*.json")}
    assert finished and not (tmp_path / "cut" / "summary.json").exists()
    assert _validate(tmp_path / "cut", "--store", str(store)) in (0, 1)
    assert {p: p.stat().st_mtime_ns for p in finished} == finished  # resumed, not recomputed
    assert _report(tmp_path / "cut") == _report(tmp_path / "whole")
    assert not list(store.rglob(".tmp-*"))  # a killed writer's temporaries are cleaned on the next run


def test_annihilation_report_same_on_two_processes(tmp_path, tiny):
    assert main(["validate", "001", "--out", str(tmp_path / "a")]) in (0, 1)
    assert main(["validate", "001", "--workers", "2", "--out", str(tmp_path / "b")]) in (0, 1)
    names = ("report.md", "summary.json", "annihilation1d/annihilation1d_distances.csv",
             "annihilation1d/annihilation1d_studies.csv")
    first = {n: (tmp_path / "a" / n).read_text() for n in names}
    assert first == {n: (tmp_path / "b" / n).read_text() for n in names}
    claims = json.loads(first["summary.json"])["papers"][0]["claims"]
    assert len(claims) == 34 and claims[0]["claim"] == "fv_structure_2 blocks, W=0"
