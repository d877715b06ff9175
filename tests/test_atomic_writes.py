"""Every write is atomic: a kill mid-write leaves neither a partial file nor a temporary one, and
temporary files left by a dead process are ignored and removed on the next run."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from meanfield import io
from meanfield.cli import main
from meanfield.study import Study


def _temporaries(folder):
    return sorted(p.name for p in Path(folder).rglob(".tmp-*"))


def test_interrupted_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a.txt"
    io.write_text(target, "complete\n")
    with pytest.raises(KeyboardInterrupt), io.atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".tmp-") and tmp.name.endswith("-a.txt")
        tmp.write_text("half")
        raise KeyboardInterrupt
    assert target.read_text() == "complete\n"
    with pytest.raises(RuntimeError), io.atomic_path(tmp_path / "new.txt") as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert not (tmp_path / "new.txt").exists()
    assert _temporaries(tmp_path) == []


def test_table_figure_trajectory_dataset_writers_are_atomic(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from meanfield.models import Newtonian1D

    model = Newtonian1D()
    traj = model.simulate_particles(model.sample_particles(8, rng=0), t_end=0.1)
    sol = model.solve_continuum(0.1, resolution=32, scheme="finite_volume")
    table = pd.DataFrame({"n": [1, 2], "value": [0.5, 0.25]})

    def half_then_kill(self, target, *a, **kw):
        Path(target).write_bytes(b"partial")
        raise KeyboardInterrupt

    def savez_then_kill(fh, **arrays):
        fh.write(b"partial")
        raise KeyboardInterrupt

    cases = [
        (pd.DataFrame, "to_csv", lambda p: io.save_table(table, p), "t.csv"),
        (Figure, "savefig", lambda p: io.save_figure(Figure(), p), "f.png"),
        (type(sol), "to_netcdf", lambda p: io.save_dataset(sol, p), "s.nc"),
    ]
    for owner, name, write, filename in cases:
        with monkeypatch.context() as m:
            m.setattr(owner, name, half_then_kill)
            with pytest.raises(KeyboardInterrupt):
                write(tmp_path / filename)
        assert not (tmp_path / filename).exists(), filename
        write(tmp_path / filename)  # and the real writer leaves a complete file
        assert (tmp_path / filename).stat().st_size > len(b"partial")
    with monkeypatch.context() as m:
        m.setattr(np, "savez_compressed", savez_then_kill)
        with pytest.raises(KeyboardInterrupt):
            io.save_trajectory(traj, tmp_path / "p.npz")
    assert not (tmp_path / "p.npz").exists()
    assert _temporaries(tmp_path) == []
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "t.csv"), table)


def test_kill_while_writing_a_task_file_leaves_nothing_and_resumes(tmp_path, monkeypatch):
    study = Study(model="Newtonian1D", sweep={"n": [4, 8]}, t_end=0.1, seeds=[0, 1],
                  sample_kwargs={"sampling": "random"}, continuum_kwargs={"resolution": 64})
    writes = {"n": 0}
    original = Path.write_text

    def killed_on_third_task(self, text, *a, **kw):
        if self.name.startswith(".tmp-") and self.name.endswith(".json") and "-task-" in self.name:
            writes["n"] += 1
            if writes["n"] == 3:
                original(self, text[: len(text) // 2])
                raise KeyboardInterrupt("simulated kill")
        return original(self, text, *a, **kw)

    monkeypatch.setattr(Path, "write_text", killed_on_third_task)
    with pytest.raises(KeyboardInterrupt):
        study.run(store=tmp_path)
    assert len(list(tmp_path.glob("task-*.json"))) == 2
    assert _temporaries(tmp_path) == []
    monkeypatch.setattr(Path, "write_text", original)
    pd.testing.assert_frame_equal(study.run(store=tmp_path), study.run())


def test_stale_temporaries_are_ignored_and_cleaned(tmp_path):
    study = Study(model="Newtonian1D", sweep={"n": [4, 8]}, t_end=0.1, sample_kwargs={"sampling": "random"},
                  continuum_kwargs={"resolution": 64})
    study.run(store=tmp_path)
    name = study.task_key({"n": 4}, 0) + ".json"
    host = io._host()
    dead = tmp_path / f".tmp-{host}-{2**31 - 1}-abc_123-{name}"  # no such process
    live = tmp_path / f".tmp-{host}-{os.getpid()}-abc_123-{name}"  # this process: still writing
    remote = tmp_path / f".tmp-otherhost-1-abc_123-{name}"  # another machine, old
    unrelated = tmp_path / ".tmp-notes.txt"  # not our pattern: never touched
    for p in (dead, live, remote, unrelated):
        p.write_text("{garbage")
    os.utime(remote, (0, 0))
    table = study.run(store=tmp_path)  # the garbage is not read
    pd.testing.assert_frame_equal(table, study.run())
    assert not dead.exists() and not remote.exists()
    assert live.exists() and unrelated.exists()


def test_cli_study_killed_while_writing_outputs(tmp_path, monkeypatch, capsys):
    from matplotlib.figure import Figure

    toml = tmp_path / "s.toml"
    toml.write_text('model = "Newtonian1D"\nt_end = 0.1\n[sample]\nsampling = "random"\n'
                    '[continuum]\nresolution = 64\n[sweep]\nn = [4, 8]\n')
    out = tmp_path / "out"

    def killed(self, fname, **kw):
        Path(fname).write_bytes(b"partial")
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(Figure, "savefig", killed)
        assert main(["study", str(toml), "--out", str(out)]) == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == "meanfield: interrupted; partial files removed"
    assert not (out / "rates.png").exists() and _temporaries(out) == []
    assert len(pd.read_csv(out / "results.csv")) == 2 * 2  # complete, not truncated
    assert main(["study", str(toml), "--out", str(out)]) == 0
    assert (out / "rates.png").read_bytes()[:4] == b"\x89PNG"


def test_sigterm_removes_the_temporary_file(tmp_path):
    """A real SIGTERM mid-write, in a child process running the CLI: exit 143, nothing partial left."""
    toml = tmp_path / "s.toml"
    toml.write_text('model = "Newtonian1D"\nt_end = 0.1\n[sample]\nsampling = "random"\n'
                    '[continuum]\nresolution = 64\n[sweep]\nn = [4, 8]\n')
    out = tmp_path / "out"
    script = textwrap.dedent(f"""
        import os, signal, sys, time
        from pathlib import Path
        from matplotlib.figure import Figure

        def savefig(self, fname, **kw):
            Path(fname).write_bytes(b"partial")
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)

        Figure.savefig = savefig
        from meanfield.cli import main
        sys.exit(main(["study", {str(toml)!r}, "--out", {str(out)!r}]))
    """)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env,
                          check=False)
    assert proc.returncode == 143, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "meanfield: terminated by signal 15; partial files removed"
    assert not (out / "rates.png").exists() and _temporaries(out) == []


class _SlowMarkedStudy(Study):
    """A study whose tasks leave a mark file in ``self.marks`` and take a second (but n = 4): defined at
    module level so that worker processes (started by a fork server, not forked) unpickle it by name."""

    def run_task(self, params, seed, reference):
        import time

        (Path(self.marks) / f"{params['n']}-{seed}").write_text("")
        if params["n"] != 4:
            time.sleep(1.0)
        return super().run_task(params, seed, reference)


def test_interrupted_parallel_study_does_not_run_the_remaining_tasks(tmp_path, monkeypatch):
    """An interruption cancels the queued tasks instead of waiting for the whole study to finish."""
    from meanfield.store import StudyStore

    settings = {"model": "Newtonian1D", "t_end": 0.1, "sample_kwargs": {"sampling": "random"},
                "continuum_kwargs": {"resolution": 32}}
    study = _SlowMarkedStudy(sweep={"n": list(range(4, 16))}, **settings)
    marks = tmp_path / "marks"
    marks.mkdir()
    study.marks = str(marks)

    def killed(self, *a):
        raise KeyboardInterrupt

    monkeypatch.setattr(StudyStore, "write", killed)  # the first finished task (n = 4) is interrupted
    with pytest.raises(KeyboardInterrupt):
        study.run(workers=2, store=tmp_path / "store")
    started = len(list(marks.iterdir()))
    # n = 4, the one running on the other worker and the few already handed to the pool (3); not all 12
    assert 1 <= started <= 8, started


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_written_files_get_the_mode_the_umask_gives_open(tmp_path, umask):
    """Not mkstemp's private 0o600: a plain open() under the same umask is the reference."""
    import xarray as xr
    from matplotlib.figure import Figure

    from meanfield.measures import Domain
    from meanfield.models.base import Trajectory

    old = os.umask(umask)
    try:
        reference = tmp_path / "plain.txt"
        with open(reference, "w") as fh:
            fh.write("x")
        expected = reference.stat().st_mode & 0o777
        assert expected == 0o666 & ~umask and io.default_file_mode() == expected
        paths = [
            io.write_text(tmp_path / "a.txt", "text"),
            io.save_table(pd.DataFrame({"a": [1]}), tmp_path / "a.csv"),
            io.save_figure(Figure(), tmp_path / "a.png"),
            io.save_dataset(xr.Dataset({"v": ("x", np.arange(3.0))}), tmp_path / "a.nc"),
            io.save_trajectory(Trajectory(np.array([0.0]), [np.zeros(2)], Domain(1)), tmp_path / "a.npz"),
        ]
        with io.atomic_path(tmp_path / "b.txt", exclusive=True) as tmp:
            tmp.write_text("b")
        paths.append(tmp_path / "b.txt")
    finally:
        os.umask(old)
    for path in paths:
        assert oct(path.stat().st_mode & 0o777) == oct(expected), path
