"""Every user error of the command line is one line on stderr, ``meanfield: error: ...``, exit status 2,
no traceback (unless --debug), and nothing written."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from meanfield.cli import main

_STUDY = ('model = "Newtonian1D"\nt_end = 0.1\n[sample]\nsampling = "random"\n[continuum]\nresolution = 64\n'
          "[sweep]\nn = [4, 8]\n")


@pytest.fixture
def place(tmp_path):
    """A folder with a regular file, a sub-folder, a good study file and garbage files."""
    (tmp_path / "afile").write_text("x")
    (tmp_path / "adir").mkdir()
    (tmp_path / "s.toml").write_text(_STUDY)
    (tmp_path / "garbage.npz").write_bytes(os.urandom(200))
    (tmp_path / "garbage.nc").write_bytes(os.urandom(200))
    (tmp_path / "garbage.toml").write_bytes(b"\x00\x01 not = = toml")
    np.savez(tmp_path / "other.npz", a=np.arange(3))  # a valid .npz, but not a trajectory
    (tmp_path / "float_n.toml").write_text(_STUDY.replace("n = [4, 8]", "n = [16.5]"))
    (tmp_path / "bool_n.toml").write_text(_STUDY.replace("n = [4, 8]", "n = [true]"))
    (tmp_path / "float_seed.toml").write_text("seeds = [1, 1.7]\n" + _STUDY)
    (tmp_path / "bad_key.toml").write_text(_STUDY.replace("resolution = 64", "resolution = 64\nbogus = 2"))
    return tmp_path


_RUN_P = ["run", "Newtonian1D", "particles", "--n", "8", "--t-end", "0.1"]
_RUN_C = ["run", "Newtonian1D", "continuum", "--resolution", "32", "--t-end", "0.1"]

CASES = [
    # bad arguments
    ([], "the following arguments are required: COMMAND"),
    (["frob"], "invalid choice: 'frob'"),
    (["run", "Newtonian1D", "particles", "--t-end", "1"], "run: the following arguments are required: --out"),
    (["run", "Newtonian1D", "sideways", "--t-end", "1", "--out", "{d}/p.npz"], "run: argument side: invalid choice"),
    ([*_RUN_P[:4], "x", *_RUN_P[5:], "--out", "{d}/p.npz"], "run: argument --n: expected a positive integer, got 'x'"),
    ([*_RUN_P[:4], "0", *_RUN_P[5:], "--out", "{d}/p.npz"], "expected a positive integer, got '0'"),
    ([*_RUN_P, "--seed", "-1", "--out", "{d}/p.npz"], "argument --seed: expected a non-negative integer"),
    ([*_RUN_P, "--bogus", "--out", "{d}/p.npz"], "unrecognized arguments: --bogus"),
    ([*_RUN_P, "--t-end", "soon", "--out", "{d}/p.npz"], "argument --t-end: invalid float value: 'soon'"),
    (["run", "Nope", "particles", "--n", "8", "--t-end", "1", "--out", "{d}/p.npz"],
     "unknown model 'Nope'; available: SignedCoulomb2D, Annihilation1D, Newtonian1D"),
    (["run", "Newtonian1D", "particles", "--t-end", "1", "--out", "{d}/p.npz"], "run particles: --n is required"),
    ([*_RUN_P, "--resolution", "8", "--out", "{d}/p.npz"], "--resolution is an option of the continuum side"),
    ([*_RUN_P, "--t-end", "-1", "--out", "{d}/p.npz"], "t_end"),
    # unknown --param / --solver-arg keys, bad values
    ([*_RUN_P, "--param", "bogus=1", "--out", "{d}/p.npz"],
     "--param bogus: not a parameter of Newtonian1D; valid: eta_support, profile, rho_support"),
    ([*_RUN_P, "--param", "profile", "--out", "{d}/p.npz"], "expected key=value, got 'profile'"),
    ([*_RUN_P, "--param", "profile=bump", "--param", "profile=uniform", "--out", "{d}/p.npz"],
     "--param profile: given twice ('bump' and 'uniform')"),
    ([*_RUN_P, "--param", "profile='zz'", "--out", "{d}/p.npz"], "profile"),
    ([*_RUN_P, "--solver-arg", "bogus=1", "--out", "{d}/p.npz"],
     "--solver-arg bogus: not a keyword of Newtonian1D.simulate_particles; valid: ghosts, masses, record_events"),
    ([*_RUN_P, "--solver-arg", "rng=3", "--out", "{d}/p.npz"], "--solver-arg rng: set by the command itself"),
    ([*_RUN_C, "--solver-arg", "bogus=1", "--out", "{d}/c.nc"],
     "--solver-arg bogus: not a keyword of Newtonian1D.solve_continuum; "
     "valid: cfl, dt_max, flux, initial, method, resolution, scheme, stepper"),
    (["run", "Newtonian1D", "continuum", "--t-end", "0.1", "--out", "{d}/c.nc"],
     "Newtonian1D.solve_continuum needs 'resolution'; give it with --resolution or --solver-arg resolution=VALUE"),
    (["run", "Newtonian1D", "particles", "--n", "8", "--scheme", "quantile", "--t-end", "0.1", "--out", "{d}/p.npz"],
     "run particles: --scheme is an option of the continuum side"),
    (["run", "Annihilation1D", "continuum", "--method", "fv", "--t-end", "0.1", "--out", "{d}/c.nc"],
     "--method: not a keyword of Annihilation1D.solve_continuum; valid: cfl, initial, resolution, scheme, window"),
    # missing / unreadable / garbage input files
    (["plot", "{d}/missing.npz", "--out", "{d}/x.png"], "{d}/missing.npz: no such file"),
    (["plot", "{d}/adir", "--out", "{d}/x.png"], "{d}/adir: is a folder, expected a file"),
    (["plot", "{d}/garbage.npz", "--out", "{d}/x.png"],
     "{d}/garbage.npz: not a particle trajectory written by meanfield"),
    (["plot", "{d}/other.npz", "--out", "{d}/x.png"], "{d}/other.npz: not a particle trajectory written by meanfield"),
    (["plot", "{d}/garbage.nc", "--out", "{d}/x.png"], "{d}/garbage.nc: not a netCDF dataset"),
    (["study", "{d}/missing.toml", "--out", "{d}/o"], "{d}/missing.toml: no such file"),
    (["study", "{d}/adir", "--out", "{d}/o"], "{d}/adir: is a folder, expected a file"),
    (["study", "{d}/garbage.toml", "--out", "{d}/o"], "{d}/garbage.toml: not valid TOML"),
    (["study", "{d}/float_n.toml", "--out", "{d}/o"],
     "float_n.toml: line 8, key 'sweep.n': sweep['n'][0] = 16.5 is a float"),
    (["study", "{d}/bool_n.toml", "--out", "{d}/o"],
     "bool_n.toml: line 8, key 'sweep.n': sweep['n'][0] = True is a bool"),
    (["study", "{d}/float_seed.toml", "--out", "{d}/o"],
     "float_seed.toml: line 1, key 'seeds': seeds[1] = 1.7 is a float"),
    (["study", "{d}/bad_key.toml", "--out", "{d}/o"], "bad_key.toml: line 7, key 'continuum.bogus'"),
    (["study", "{d}/s.toml", "--out", "{d}/o", "--x", "m"], "study: --x 'm' is not swept in {d}/s.toml; swept: n"),
    (["study", "{d}/s.toml", "--out", "{d}/o", "--workers", "0"], "argument --workers: expected a positive integer"),
    (["validate", "007", "--out", "{d}/o"], "unknown paper '007'"),
    # outputs under a regular file, existing folders where a file is expected
    ([*_RUN_P, "--out", "{d}/afile/p.npz"], "--out {d}/afile/p.npz: {d}/afile is a file, not a folder"),
    ([*_RUN_P, "--out", "{d}/afile/deeper/p.npz"], "{d}/afile is a file, not a folder"),
    ([*_RUN_C, "--out", "{d}/adir"], "--out {d}/adir: is an existing folder; give a file name"),
    (["study", "{d}/s.toml", "--out", "{d}/afile"], "--out {d}/afile: {d}/afile is a file, not a folder"),
    (["study", "{d}/s.toml", "--out", "{d}/afile/o"], "{d}/afile is a file, not a folder"),
    (["plot", "{d}/garbage.npz", "--out", "{d}/adir"], "--out {d}/adir: is an existing folder"),
    (["validate", "002", "--out", "{d}/afile"], "--out {d}/afile: {d}/afile is a file, not a folder"),
]


def _listing(folder):
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*"))


@pytest.mark.parametrize("argv, expected", CASES, ids=[" ".join(c[0])[:60] for c in CASES])
def test_user_error_is_one_line_and_status_2(place, capsys, argv, expected):
    before = _listing(place)
    code = main([a.format(d=place) for a in argv])
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert code == 2, captured.err
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("meanfield: error: ")
    assert expected.format(d=place) in lines[0]
    assert captured.out == ""
    assert _listing(place) == before  # nothing written (and no folder created)


def _read_only_folder(tmp_path):
    """A folder no file can be created in: a 0o500 folder for a normal user, /sys for root."""
    if os.geteuid() != 0:
        folder = tmp_path / "ro"
        folder.mkdir(mode=0o500)
        return folder
    try:
        fd, probe = tempfile.mkstemp(dir="/sys")
    except OSError:
        return Path("/sys")
    os.close(fd)
    os.unlink(probe)
    pytest.skip("no unwritable folder available")


def test_unwritable_output(tmp_path, capsys):
    folder = _read_only_folder(tmp_path)
    for argv in ([*_RUN_P, "--out", str(folder / "p.npz")],
                 ["study", str(tmp_path / "s.toml"), "--out", str(folder / "o")]):
        (tmp_path / "s.toml").write_text(_STUDY)
        assert main(argv) == 2
        lines = capsys.readouterr().err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("meanfield: error: --out ")
        assert f"cannot write in {folder}" in lines[0] or "Permission denied" in lines[0]


def test_study_into_the_store_of_another_study(tmp_path, capsys):
    (tmp_path / "s.toml").write_text(_STUDY)
    assert main(["study", str(tmp_path / "s.toml"), "--out", str(tmp_path / "o")]) == 0
    capsys.readouterr()
    (tmp_path / "s.toml").write_text(_STUDY.replace("t_end = 0.1", "t_end = 0.2"))
    assert main(["study", str(tmp_path / "s.toml"), "--out", str(tmp_path / "o")]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines == [(f"meanfield: error: store {tmp_path / 'o' / 'tasks'} was made by a different study: t_end is "
                      "0.1 there but 0.2 now; use another store or delete this one")]


def test_debug_shows_the_traceback(tmp_path, capsys):
    argv = [*_RUN_P, "--param", "bogus=1", "--out", str(tmp_path / "p.npz")]
    assert main(argv) == 2
    assert "Traceback" not in capsys.readouterr().err
    for debug_argv in (["--debug", *argv], [*argv, "--debug"]):
        assert main(debug_argv) == 2
        err = capsys.readouterr().err
        assert "Traceback (most recent call last)" in err and "UsageError" in err
        assert err.splitlines()[-1].startswith("meanfield: error: --param bogus")


def test_console_entry_point_exit_status_and_single_line(tmp_path):
    """Through a real process: exit status 2 and exactly one stderr line."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    for argv in (["run", "Newtonian1D", "particles", "--n", "8", "--t-end", "1", "--solver-arg", "bogus=1",
                  "--out", str(tmp_path / "p.npz")],
                 ["plot", str(tmp_path / "missing.nc"), "--out", str(tmp_path / "x.png")]):
        proc = subprocess.run([sys.executable, "-m", "meanfield.cli", *argv], capture_output=True, text=True,
                              timeout=120, env=env, check=False)
        assert proc.returncode == 2
        assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith("meanfield: error: ")
