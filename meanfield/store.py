"""A study's store: one folder holding the identity of the study that made it and one file per task.

A study's *identity* is the canonical form (JSON with sorted keys, numbers as Python ``int``/
``float``) of everything that determines its numbers: the model and its parameters, the sweep,
``t_end``, the output times, the seeds, the metrics, every keyword dictionary, the defaults of the
model's constructor and run methods, and the package version. The folder records it in
``study.json``; a run into a folder made by a different study is refused with the first setting
that differs, and every task file's name carries the identity's hash, so a row of one study can
never be read as a row of another. Task files also repeat the hash, parameters and seed, which are
checked when they are read.

All writes are atomic (:func:`meanfield.io.atomic_path`); temporary files left by a killed run are
removed when the store is opened again (:func:`meanfield.io.clean_stale_temporaries`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import zlib
from pathlib import Path

import numpy as np

__all__ = ["StudyStore", "canonical", "first_difference", "identity_hash", "native"]

RECORD = "study.json"


def native(value, where: str):
    """``value`` as plain JSON types (numpy scalars and arrays, tuples and paths converted).

    Raises ``ValueError`` naming ``where`` for a value without a faithful plain form (a function, a
    grid object, ...): a store could not tell whether such a setting changed.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, np.ndarray):
        return native(value.tolist(), where)
    if isinstance(value, (list, tuple)):
        return [native(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"{where} has a non-string key {k!r}; a study store needs string keys")
            out[k] = native(v, f"{where}.{k}")
        return out
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: native(getattr(value, f.name), f"{where}.{f.name}") for f in dataclasses.fields(value)}
        return {"__class__": type(value).__qualname__, **fields}
    raise ValueError(
        f"{where} = {value!r} has no plain (JSON) form, so a store cannot tell whether it changed; "
        "pass numbers, strings, lists or dicts, or run without a store"
    )


def canonical(obj) -> str:
    """Sorted-key compact JSON of an already :func:`native` object."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True)


def identity_hash(identity: dict) -> str:
    """First 16 hex digits of the SHA-256 of the canonical identity."""
    return hashlib.sha256(canonical(identity).encode()).hexdigest()[:16]


_ABSENT = object()


def first_difference(old, new, path: str = ""):
    """``(setting, old value, new value)`` for the first difference in sorted-key order, or ``None``.

    Dictionaries are compared key by key; anything else (lists included) as a whole.
    """
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            sub = f"{path}.{key}" if path else key
            a, b = old.get(key, _ABSENT), new.get(key, _ABSENT)
            if a is _ABSENT or b is _ABSENT:
                return sub, a, b
            found = first_difference(a, b, sub)
            if found is not None:
                return found
        return None
    return None if canonical(old) == canonical(new) else (path or "(whole identity)", old, new)


def _show(value) -> str:
    return "(not set)" if value is _ABSENT else json.dumps(value)


class StudyStore:
    """The folder of one study: ``study.json`` (its identity) and ``task-<hash>-<params>-<seed>.json``."""

    def __init__(self, folder, identity: dict):
        self.folder = Path(folder)
        self.identity = identity
        self.hash = identity_hash(identity)

    # --- opening ---------------------------------------------------------------------------
    def open(self) -> StudyStore:
        """Create the folder or check that it belongs to this study; clean stale temporaries.

        Raises ``ValueError`` naming the folder and the first differing setting (both values) when
        the folder was made by another study, and when it holds task files but no identity record.
        """
        from meanfield.io import atomic_path, clean_stale_temporaries

        if self.folder.exists() and not self.folder.is_dir():
            raise ValueError(f"store {self.folder} exists and is not a folder")
        self.folder.mkdir(parents=True, exist_ok=True)
        clean_stale_temporaries(self.folder)
        record = self.folder / RECORD
        if not record.exists():
            stray = sorted(p.name for p in self.folder.glob("task-*.json"))
            if stray:
                raise ValueError(
                    f"store {self.folder} holds task files ({stray[0]}, ...) but no {RECORD}: it was made by "
                    "another version or by hand; use an empty folder"
                )
            text = json.dumps({"hash": self.hash, "identity": self.identity}, sort_keys=True, indent=1) + "\n"
            # exclusive: of two runs creating the same store at once, the second one compares below
            with atomic_path(record, exclusive=True) as tmp:
                tmp.write_text(text)
        self._check_record(record)
        return self

    def _check_record(self, record: Path) -> None:
        try:
            stored = json.loads(record.read_text())
            stored_identity, stored_hash = stored["identity"], stored["hash"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"store {self.folder}: {RECORD} is not a study record ({exc})") from None
        if stored_hash == self.hash and canonical(stored_identity) == canonical(self.identity):
            return
        diff = first_difference(stored_identity, self.identity)
        if diff is None:  # same identity, different hash: a record written by another hash scheme
            raise ValueError(f"store {self.folder}: {RECORD} has hash {stored_hash}, expected {self.hash}")
        setting, old, new = diff
        raise ValueError(
            f"store {self.folder} was made by a different study: {setting} is {_show(old)} there but "
            f"{_show(new)} now; use another store or delete this one"
        )

    # --- tasks -----------------------------------------------------------------------------
    def task_name(self, params: dict, seed: int) -> str:
        crc = zlib.crc32(canonical(native(params, "sweep")).encode())
        return f"task-{self.hash}-{crc:08x}-{int(seed)}.json"

    def has(self, params: dict, seed: int) -> bool:
        return (self.folder / self.task_name(params, seed)).is_file()

    def write(self, params: dict, seed: int, rows: list) -> None:
        from meanfield.io import atomic_path

        body = {"study": self.hash, "params": native(params, "sweep"), "seed": int(seed), "rows": rows}
        with atomic_path(self.folder / self.task_name(params, seed)) as tmp:
            tmp.write_text(json.dumps(body))

    def read(self, params: dict, seed: int) -> list:
        path = self.folder / self.task_name(params, seed)
        try:
            body = json.loads(path.read_text())
            ok = (body["study"] == self.hash and body["params"] == native(params, "sweep")
                  and body["seed"] == int(seed))
            rows = body["rows"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not a task file of this study ({exc}); delete it to rerun the task") from None
        if not ok:
            raise ValueError(f"{path}: its study, parameters or seed do not match its name; "
                             "delete it to rerun the task")
        return rows
