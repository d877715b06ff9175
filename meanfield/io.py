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
a coordinate's direction without a standard name. No variable or coordinate carries a
``standard_name``: ``time`` (canonical units s) and ``projection_x/y_coordinate`` (m) do not admit
units ``"1"``, and the table has no ``projection_z_coordinate``. For ``density``: the CF standard-
name table (version 93) names physical fields of the Earth system (``*_number_concentration``,
``mass_concentration_of_*_in_air`` and the like, with SI canonical units such as ``m-3`` or ``kg
m-3``), and none of its entries describes a nondimensional density of model particles, so CF's rule
that a standard name's canonical units must match the variable's units leaves none to use; its
``long_name`` ("density of each species") describes it.
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
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from meanfield.measures import Domain
from meanfield.models.base import MODEL_ATTR, PARAMS_ATTR, Trajectory, params_json, provenance

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

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
    """The permission bits ``open(path, "w")`` gives a new file: ``0o666`` minus the umask.

    Returns
    -------
    int

    Examples
    --------
    >>> import os
    >>> old = os.umask(0o022)
    >>> oct(default_file_mode())
    '0o644'
    >>> _ = os.umask(old)
    """
    return 0o666 & ~_umask()


class atomic_path:
    """Context manager yielding a temporary path next to ``path``, moved onto it on success.

    On an exception (``KeyboardInterrupt`` included) the temporary file is removed and ``path`` is
    left as it was. The folder is created when missing.

    Parameters
    ----------
    path : str or pathlib.Path
        The final file name.
    suffix : str, default ""
        Appended to the temporary name when given and different from the final name's (for writers
        that choose a format from the extension).
    exclusive : bool, default False
        Keep an existing ``path`` and drop the new content (creation by hard link, so of two
        concurrent writers exactly one wins).

    Raises
    ------
    NotADirectoryError
        If the parent of ``path`` is a file.
    IsADirectoryError
        If ``path`` is a folder.

    Examples
    --------
    >>> with atomic_path("result.txt") as tmp:
    ...     _ = tmp.write_text("done")
    ...     tmp.name.startswith(TEMP_PREFIX), Path("result.txt").exists()
    (True, False)
    >>> Path("result.txt").read_text()
    'done'
    """

    def __init__(self, path: str | os.PathLike, suffix: str = "", exclusive: bool = False):
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


def clean_stale_temporaries(folder: str | os.PathLike, max_age: float = 86400.0) -> list[Path]:
    """Remove the temporary files of :class:`atomic_path` in ``folder`` left by dead writers.

    A temporary file is stale when it was written on this host by a process that no longer exists,
    or, whatever its host, when it is older than ``max_age`` seconds. Files that do not match the
    temporary-name pattern are never touched.

    Parameters
    ----------
    folder : str or pathlib.Path
        The folder (nothing happens when it does not exist).
    max_age : float, default 86400.0
        Seconds (one day) after which a temporary file of any host is stale.

    Returns
    -------
    list of pathlib.Path
        The removed files.

    Examples
    --------
    >>> import os, socket
    >>> dead = 2**22 + 1  # above Linux's largest process id: no such process
    >>> host = "".join(c for c in socket.gethostname() if c.isalnum())[:32]
    >>> _ = Path(f"{TEMP_PREFIX}{host}-{dead}-x1-run.nc").write_text("half")
    >>> _ = Path("run.nc").write_text("kept")
    >>> [p.name for p in clean_stale_temporaries(".")] == [f"{TEMP_PREFIX}{host}-{dead}-x1-run.nc"]
    True
    >>> sorted(os.listdir("."))
    ['run.nc']
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


def check_writable(folder: str | os.PathLike) -> None:
    """Check that a file can be created in the existing ``folder`` (one is created, then removed).

    Parameters
    ----------
    folder : str or pathlib.Path
        The folder.

    Raises
    ------
    OSError
        If the folder does not exist or does not let the user create files.

    Examples
    --------
    >>> check_writable(".")
    >>> check_writable("no-such-folder")
    Traceback (most recent call last):
    ...
    FileNotFoundError: ...
    """
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f"{TEMP_PREFIX}{_host()}-{os.getpid()}-", suffix="-probe")
    os.close(fd)
    os.unlink(tmp)


class Terminated(KeyboardInterrupt):
    """Raised by :func:`terminate_as_interrupt` when the process receives SIGTERM.

    Parameters
    ----------
    signum : int, default signal.SIGTERM
        The signal received.

    Examples
    --------
    >>> err = Terminated()
    >>> isinstance(err, KeyboardInterrupt), str(err)
    (True, 'terminated by signal 15')
    """

    def __init__(self, signum: int = signal.SIGTERM):
        super().__init__(f"terminated by signal {signum}")
        self.signum = signum


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """A block within which a SIGTERM raises :class:`Terminated`.

    So ``finally`` blocks and :class:`atomic_path` clean up as on Ctrl-C. Does nothing outside the
    main thread or when a SIGTERM handler other than the default is already installed; child
    processes forked inside the block keep the default behaviour (they die at once).

    Yields
    ------
    None

    Examples
    --------
    >>> import signal
    >>> try:
    ...     with terminate_as_interrupt():
    ...         handler = signal.getsignal(signal.SIGTERM)
    ...         handler(signal.SIGTERM, None)  # what a SIGTERM to this process would run
    ... except Terminated as err:
    ...     print(err)
    terminated by signal 15
    >>> signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    True
    """
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


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (:class:`atomic_path`).

    Parameters
    ----------
    path : str or pathlib.Path
        The file.
    text : str
        Its content.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> write_text("notes.txt", "hello").read_text()
    'hello'
    """
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def save_table(table: pd.DataFrame, path: str | os.PathLike, **kwargs: Any) -> Path:
    """Write a pandas DataFrame as CSV atomically.

    Parameters
    ----------
    table : pandas.DataFrame
        The table.
    path : str or pathlib.Path
        The file.
    **kwargs
        Passed to ``DataFrame.to_csv`` (``index=False`` unless given).

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import pandas as pd
    >>> print(save_table(pd.DataFrame({"n": [10, 20], "error": [0.5, 0.25]}), "t.csv").read_text(), end="")
    n,error
    10,0.5
    20,0.25
    """
    kwargs.setdefault("index", False)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, **kwargs)
    return Path(path)


def save_figure(fig: Figure, path: str | os.PathLike, **kwargs: Any) -> Path:
    """``fig.savefig(path, **kwargs)`` atomically.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    path : str or pathlib.Path
        The file; its extension gives the format unless ``format`` is passed.
    **kwargs
        Passed to ``Figure.savefig`` (e.g. ``dpi``).

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> fig = Figure()
    >>> _ = fig.subplots().plot([0, 1], [1, 0])
    >>> save_figure(fig, "f.png", dpi=50).read_bytes()[:4]
    b'\x89PNG'
    """
    path = Path(path)
    kwargs.setdefault("format", path.suffix.lstrip(".") or None)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, **kwargs)
    return path


def save_dataset(ds: xr.Dataset, path: str | os.PathLike, *, seed: int | None = None) -> Path:
    """Write a continuum dataset to netCDF (atomically); it reloads unchanged with :func:`load_dataset`.

    Parameters
    ----------
    ds : xarray.Dataset
        The dataset. One built by :func:`meanfield.models.base.continuum_dataset` already records
        its provenance; one that does not (a dataset made by hand) gets the missing entries of
        :func:`meanfield.models.base.provenance` (version, git revision, creation time, ``seed``
        when given) in the file; ``ds`` itself is not changed.
    path : str or pathlib.Path
        The file (netCDF-4).
    seed : int, optional
        The seed to record when ``ds`` records none.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    TypeError
        If ``seed`` is not an integer.

    Examples
    --------
    >>> from meanfield.models import Dislocations2D
    >>> sol = Dislocations2D().solve_continuum(1e-3, resolution=8)
    >>> back = load_dataset(save_dataset(sol, "sol.nc"))
    >>> back.attrs["meanfield_model"], back["density"].attrs["units"], back.equals(sol)
    ('Dislocations2D', '1', True)
    """
    missing = {k: v for k, v in provenance(seed).items() if k not in ds.attrs}
    if missing:
        ds = ds.copy(deep=False)
        ds.attrs = {**ds.attrs, **missing}
    with atomic_path(path, ".nc") as tmp:
        ds.to_netcdf(tmp, engine="netcdf4")
    return Path(path)


_READ_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)


def load_dataset(path: str | os.PathLike) -> xr.Dataset:
    """Read a dataset written by :func:`save_dataset` fully into memory (the file is closed).

    Parameters
    ----------
    path : str or pathlib.Path
        The file.

    Returns
    -------
    xarray.Dataset
        With the ``sol.measure(t)`` accessor of :mod:`meanfield.models.base`.

    Raises
    ------
    OSError
        When the file cannot be opened.
    ValueError
        Naming the file when it is not a netCDF dataset.

    Examples
    --------
    >>> _ = write_text("notes.nc", "not netCDF")
    >>> load_dataset("notes.nc")
    Traceback (most recent call last):
    ...
    ValueError: notes.nc: not a netCDF dataset (...)
    """
    try:
        with xr.open_dataset(path, engine="netcdf4") as ds:
            return ds.load()
    except _READ_ERRORS:
        raise
    except Exception as exc:
        raise ValueError(f"{path}: not a netCDF dataset ({type(exc).__name__}: {exc})") from exc


def save_trajectory(traj: Trajectory, path: str | os.PathLike, *, model: Any = None, seed: int | None = None) -> Path:
    """Write a particle trajectory to ``.npz``: one array per output time, plus domain, events, info and attrs.

    Parameters
    ----------
    traj : meanfield.models.base.Trajectory
        The trajectory.
    path : str or pathlib.Path
        The file (compressed ``.npz``, read without pickles).
    model : object, optional
        The model that ran; its class name and ``params`` are recorded, so that
        ``params_from(load_trajectory(path))`` rebuilds it.
    seed : int, optional
        The seed of the run (default: ``traj.attrs["seed"]`` when present).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    TypeError
        If ``seed`` is not an integer.

    Notes
    -----
    The attrs (``traj.attrs`` after :func:`load_trajectory`) record the provenance
    (:func:`meanfield.models.base.provenance`: version, git revision, creation time, seed).

    Examples
    --------
    >>> from meanfield.models import Dislocations2D
    >>> from meanfield.models.base import params_from
    >>> model = Dislocations2D(delta=0.2)
    >>> traj = model.simulate_particles(model.sample_particles(20, rng=1), 1e-3, rng=2)
    >>> back = load_trajectory(save_trajectory(traj, "p.npz", model=model, seed=1))
    >>> back.attrs["seed"], params_from(back)["delta"], back.measure(1e-3)["+"].mass == traj.measure(1e-3)["+"].mass
    (1, 0.2, True)
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


def load_trajectory(path: str | os.PathLike) -> Trajectory:
    """Read a trajectory written by :func:`save_trajectory`.

    Parameters
    ----------
    path : str or pathlib.Path
        The ``.npz`` file.

    Returns
    -------
    meanfield.models.base.Trajectory

    Raises
    ------
    OSError
        When the file cannot be opened.
    ValueError
        Naming the file when it is not a trajectory file.

    Examples
    --------
    >>> _ = write_text("notes.npz", "not a trajectory")
    >>> load_trajectory("notes.npz")
    Traceback (most recent call last):
    ...
    ValueError: notes.npz: not a particle trajectory written by meanfield (...)
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
