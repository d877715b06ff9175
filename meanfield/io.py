"""Saving and loading results: continuum runs as netCDF, particle trajectories as ``.npz``.

Writes are atomic (temporary file in the same folder, then ``os.replace``), so an interrupted run
never leaves a half-written file under the final name.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import xarray as xr

from meanfield.measures import Domain
from meanfield.models.base import Trajectory

__all__ = ["save_dataset", "load_dataset", "save_trajectory", "load_trajectory", "atomic_path"]


class atomic_path:
    """Context manager yielding a temporary path next to ``path``, moved onto it on success.

    On an exception (``KeyboardInterrupt`` included) the temporary file is removed and ``path`` is
    left as it was. With ``exclusive=True`` an existing ``path`` is kept and the new content dropped
    (creation by hard link, so of two concurrent writers exactly one wins).
    """

    def __init__(self, path, suffix="", exclusive=False):
        self.path = Path(path)
        self.suffix = suffix or self.path.suffix
        self.exclusive = exclusive

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=self.suffix)
        os.close(fd)
        self.tmp = Path(tmp)
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
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
            self.tmp.unlink(missing_ok=True)
        return False


def save_dataset(ds: xr.Dataset, path) -> Path:
    """Write a continuum dataset to netCDF (atomically); it reloads unchanged with :func:`load_dataset`."""
    with atomic_path(path, ".nc") as tmp:
        ds.to_netcdf(tmp, engine="netcdf4")
    return Path(path)


def load_dataset(path) -> xr.Dataset:
    """Read a dataset written by :func:`save_dataset` fully into memory (the file is closed)."""
    with xr.open_dataset(path, engine="netcdf4") as ds:
        return ds.load()


def save_trajectory(traj: Trajectory, path) -> Path:
    """Write a trajectory to ``.npz``: one array per output time, plus domain, events and info."""
    arrays = {"times": np.asarray(traj.times, dtype=float)}
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
    }
    arrays["meta"] = np.array(json.dumps(meta))
    with atomic_path(path, ".npz") as tmp:
        with open(tmp, "wb") as fh:
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
    """Read a trajectory written by :func:`save_trajectory`."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        times = data["times"]
        n = times.size
        positions = [data[f"positions_{k}"] for k in range(n)]
        weights = [data[f"weights_{k}"] for k in range(n)] if meta["has_weights"] else None
        species = [data[f"species_{k}"] for k in range(n)] if meta["has_species"] else None
    domain = Domain(meta["dim"], period=meta["period"], origin=meta["origin"]) if meta["period"] else Domain(meta["dim"])
    events = [tuple(ev) if isinstance(ev, list) else ev for ev in meta["events"]]
    return Trajectory(times, positions, domain, weights, species, events, meta["info"])
