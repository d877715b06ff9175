"""Saving and loading results: continuum runs as netCDF, particle trajectories as ``.npz``, tables,
figures and text.

Every write is atomic: the content goes to a temporary file in the same folder, named
``.tmp-<host>-<pid>-<random>-<final name>``, which is then renamed onto the final name
(``os.replace``), so an interrupted run never leaves a half-written file under the final name. On an
exception, ``KeyboardInterrupt`` (SIGINT) included, the temporary file is removed; inside
:func:`terminate_as_interrupt` a SIGTERM is turned into :class:`Terminated` (a ``KeyboardInterrupt``)
so that it cleans up the same way. A temporary file that survives anyway (SIGKILL, power loss) is
never read, and :func:`clean_stale_temporaries` removes it on the next run once the process that
wrote it is gone. A finished file gets the permissions a plain ``open(path, "w")`` would give it
(``0o666`` minus the user's umask), not the private ``0o600`` of the temporary file.

Every file of results records where it came from: the package version, the git revision when the
code runs from a checkout, the creation time (UTC, ISO 8601), the seed when the run had one, and the
model's name and parameters (:func:`meanfield.models.base.params_from` rebuilds them).

CF attributes of a continuum dataset (CF-1.10, written by
:func:`meanfield.models.base.continuum_dataset`): every variable and coordinate has ``long_name`` and
``units`` (``"1"``: every quantity is nondimensional, in the scaling of the paper), the coordinates
``time``, ``x``, ``y``, ``z`` also ``axis`` (``T``, ``X``, ``Y``, ``Z``), which is how CF identifies
a coordinate's direction without a standard name. The ``density`` variable has no
``standard_name``: the CF standard-name table (version 93) names physical fields of the Earth
system (``*_number_concentration``, ``mass_concentration_of_*_in_air`` and the like, with SI
canonical units such as ``m-3`` or ``kg m-3``), and none of its entries describes a nondimensional
density of model particles, so CF's rule that a standard name's canonical units must match the
variable's units leaves none to use; its ``long_name`` ("density of each species") describes it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from meanfield.measures import Domain
from meanfield.models.base import MODEL_ATTR, PARAMS_ATTR, Trajectory, params_json, provenance

__all__ = [
    "TEMP_PREFIX",
    "Terminated",
    "atomic_path",
    "check_writable",
    "clean_stale_temporaries",
    "default_file_mode",
    "load_dataset",
    "load_trajectory",
    "save_dataset",
    "save_figure",
    "save_table",
    "save_trajectory",
    "terminate_as_interrupt",
    "write_text",
]

TEMP_PREFIX = ".tmp-"
_TEMP_NAME = re.compile(r"^\.tmp-(?P<host>[A-Za-z0-9]*)-(?P<pid>\d+)-[A-Za-z0-9_]+-.+$")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:32]


def _umask() -> int:
    """The process umask, read without changing it where the system allows (Linux ``/proc``)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: read by setting and restoring it
    os.umask(mask)
    return mask


def default_file_mode() -> int:
    """The permission bits ``open(path, "w")`` gives a new file: ``0o666`` minus the umask."""
    return 0o666 & ~_umask()


class atomic_path:
    """Context manager yielding a temporary path next to ``path``, moved onto it on success.

    On an exception (``KeyboardInterrupt`` included) the temporary file is removed and ``path`` is
    left as it was. With ``exclusive=True`` an existing ``path`` is kept and the new content dropped
    (creation by hard link, so of two concurrent writers exactly one wins). ``suffix``, when given
    and different from the final name's, is appended to the temporary name (for writers that choose
    a format from the extension).
    """

    def __init__(self, path, suffix="", exclusive=False):
        self.path = Path(path)
        self.suffix = "" if not suffix or self.path.name.endswith(suffix) else suffix
        self.exclusive = exclusive

    def __enter__(self) -> Path:
        folder = self.path.parent
        if folder.exists() and not folder.is_dir():
            raise NotADirectoryError(20, "not a folder", str(folder))
        folder.mkdir(parents=True, exist_ok=True)
        if self.path.is_dir():
            raise IsADirectoryError(21, "is a folder, expected a file name", str(self.path))
        self.tmp = None
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f"{TEMP_PREFIX}{_host()}-{os.getpid()}-",
                                   suffix=f"-{self.path.name}{self.suffix}")
        self.tmp = Path(tmp)
        os.close(fd)
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                os.chmod(self.tmp, default_file_mode())  # mkstemp made it 0o600
                if not self.exclusive:
                    os.replace(self.tmp, self.path)
                else:
                    try:
                        os.link(self.tmp, self.path)
                    except FileExistsError:
                        pass
                    except OSError:  # no hard links on this file system
                        if not self.path.exists():
                            os.replace(self.tmp, self.path)
        finally:
            if self.tmp is not None:
                self.tmp.unlink(missing_ok=True)
        return False


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process (or not a valid pid at all)
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def clean_stale_temporaries(folder, max_age: float = 86400.0) -> list[Path]:
    """Remove the temporary files of :class:`atomic_path` in ``folder`` left by dead writers.

    A temporary file is stale when it was written on this host by a process that no longer exists,
    or, whatever its host, when it is older than ``max_age`` seconds (default one day). Files that
    do not match the temporary-name pattern are never touched. Returns the removed paths.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed, host, now = [], _host(), time.time()
    for path in folder.glob(f"{TEMP_PREFIX}*"):
        m = _TEMP_NAME.match(path.name)
        if m is None or not path.is_file():
            continue
        try:
            old = now - path.stat().st_mtime > max_age
        except FileNotFoundError:
            continue
        if old or (m["host"] == host and not _alive(int(m["pid"]))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def check_writable(folder) -> None:
    """Raise ``OSError`` unless a file can be created in the existing ``folder`` (tried, then removed)."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f"{TEMP_PREFIX}{_host()}-{os.getpid()}-", suffix="-probe")
    os.close(fd)
    os.unlink(tmp)


class Terminated(KeyboardInterrupt):
    """Raised by :func:`terminate_as_interrupt` when the process receives SIGTERM."""

    def __init__(self, signum=signal.SIGTERM):
        super().__init__(f"terminated by signal {signum}")
        self.signum = signum


@contextlib.contextmanager
def terminate_as_interrupt():
    """Within this block a SIGTERM raises :class:`Terminated`, so ``finally`` blocks and
    :class:`atomic_path` clean up as on Ctrl-C. Does nothing outside the main thread or when a
    SIGTERM handler other than the default is already installed; child processes forked inside the
    block keep the default behaviour (they die at once)."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return
    owner = os.getpid()

    def handler(signum, frame):
        if os.getpid() != owner:  # a forked worker: behave as if no handler were installed
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise Terminated(signum)

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def write_text(path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def save_table(table, path, **kwargs) -> Path:
    """Write a pandas DataFrame as CSV atomically (``index=False`` unless given)."""
    kwargs.setdefault("index", False)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, **kwargs)
    return Path(path)


def save_figure(fig, path, **kwargs) -> Path:
    """``fig.savefig(path, **kwargs)`` atomically; the format is taken from ``path``'s extension."""
    path = Path(path)
    kwargs.setdefault("format", path.suffix.lstrip(".") or None)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, **kwargs)
    return path


def save_dataset(ds: xr.Dataset, path, *, seed=None) -> Path:
    """Write a continuum dataset to netCDF (atomically); it reloads unchanged with :func:`load_dataset`.

    A dataset built by :func:`meanfield.models.base.continuum_dataset` already records its
    provenance; one that does not (a dataset made by hand) gets the missing entries of
    :func:`meanfield.models.base.provenance` (version, git revision, creation time, ``seed`` when
    given) in the file; ``ds`` itself is not changed.
    """
    missing = {k: v for k, v in provenance(seed).items() if k not in ds.attrs}
    if missing:
        ds = ds.copy(deep=False)
        ds.attrs = {**ds.attrs, **missing}
    with atomic_path(path, ".nc") as tmp:
        ds.to_netcdf(tmp, engine="netcdf4")
    return Path(path)


_READ_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)


def load_dataset(path) -> xr.Dataset:
    """Read a dataset written by :func:`save_dataset` fully into memory (the file is closed).

    Raises ``OSError`` when the file cannot be opened and ``ValueError`` naming it when it is not a
    netCDF dataset.
    """
    try:
        with xr.open_dataset(path, engine="netcdf4") as ds:
            return ds.load()
    except _READ_ERRORS:
        raise
    except Exception as exc:
        raise ValueError(f"{path}: not a netCDF dataset ({type(exc).__name__}: {exc})") from exc


def save_trajectory(traj: Trajectory, path, *, model=None, seed=None) -> Path:
    """Write a trajectory to ``.npz``: one array per output time, plus domain, events, info and attrs.

    The attrs (``traj.attrs`` after :func:`load_trajectory`) record the provenance
    (:func:`meanfield.models.base.provenance`: version, git revision, creation time, ``seed`` when
    given) and, when ``model`` is given, its class name and parameters, so that
    ``params_from(load_trajectory(path))`` rebuilds it.
    """
    attrs = {k: _jsonable(v) for k, v in traj.attrs.items()}
    if seed is None and "seed" in attrs:
        seed = attrs["seed"]
    attrs.update(provenance(seed))
    if model is not None:
        attrs[MODEL_ATTR] = type(model).__name__
        attrs[PARAMS_ATTR] = params_json(model.params)
    arrays: dict[str, Any] = {"times": np.asarray(traj.times, dtype=float)}
    for k, pos in enumerate(traj.positions):
        arrays[f"positions_{k}"] = np.asarray(pos)
        if traj.weights is not None:
            arrays[f"weights_{k}"] = np.asarray(traj.weights[k])
        if traj.species is not None:
            arrays[f"species_{k}"] = np.asarray(traj.species[k]).astype(str)
    meta = {
        "dim": traj.domain.dim,
        "period": traj.domain.period,
        "origin": traj.domain.origin,
        "has_weights": traj.weights is not None,
        "has_species": traj.species is not None,
        "events": [list(map(_jsonable, ev)) if isinstance(ev, (tuple, list)) else _jsonable(ev) for ev in traj.events],
        "info": {k: _jsonable(v) for k, v in traj.info.items()},
        "labels": None if traj.labels is None else [str(s) for s in traj.labels],
        "attrs": attrs,
    }
    arrays["meta"] = np.array(json.dumps(meta))
    with atomic_path(path, ".npz") as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    return Path(path)


def _jsonable(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (tuple, list)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (int, float, str, bool)) or v is None:
        return v
    return repr(v)


def load_trajectory(path) -> Trajectory:
    """Read a trajectory written by :func:`save_trajectory`.

    Raises ``OSError`` when the file cannot be opened and ``ValueError`` naming it when it is not a
    trajectory file.
    """
    try:
        return _load_trajectory(path)
    except _READ_ERRORS:
        raise
    except Exception as exc:
        raise ValueError(f"{path}: not a particle trajectory written by meanfield "
                         f"({type(exc).__name__}: {exc})") from exc


def _load_trajectory(path) -> Trajectory:
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        times = data["times"]
        n = times.size
        positions = [data[f"positions_{k}"] for k in range(n)]
        weights = [data[f"weights_{k}"] for k in range(n)] if meta["has_weights"] else None
        species = [data[f"species_{k}"] for k in range(n)] if meta["has_species"] else None
    if meta["period"]:
        domain = Domain(meta["dim"], period=meta["period"], origin=meta["origin"])
    else:
        domain = Domain(meta["dim"])
    events = [tuple(ev) if isinstance(ev, list) else ev for ev in meta["events"]]
    labels = meta.get("labels")
    return Trajectory(times, positions, domain, weights, species, events, meta["info"],
                      None if labels is None else tuple(labels), meta.get("attrs", {}))
