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
import inspect
import json
import zlib
from collections.abc import Callable
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["StudyStore", "callable_identity", "canonical", "first_difference", "identity_hash", "native"]

RECORD = "study.json"


def native(value: Any, where: str) -> Any:
    """``value`` as plain JSON types (numpy scalars and arrays, tuples and paths converted).

    Parameters
    ----------
    value : object
        A setting. Objects with an ``identity()`` method (pairings, observers) give that
        description, dataclasses their fields, a function its :func:`callable_identity`.
    where : str
        The setting's name, for the error message.

    Returns
    -------
    object
        None, bool, int, float, str, list or dict (string keys) of those.

    Raises
    ------
    ValueError
        Naming ``where`` for a value without a faithful plain form (a grid object, an arbitrary
        instance, a dict with non-string keys): a store could not tell whether such a setting changed.

    Examples
    --------
    >>> import numpy as np
    >>> native({"n": np.int64(8), "box": (0.0, np.float32(0.5)), "a": np.arange(2)}, "sweep")
    {'n': 8, 'box': [0.0, 0.5], 'a': [0, 1]}
    >>> native(object(), "model.kernel")
    Traceback (most recent call last):
    ...
    ValueError: model.kernel = <object object at ...> has no plain (JSON) form, ...
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
    if hasattr(value, "identity") and callable(value.identity) and not isinstance(value, type):
        return native(value.identity(), where)  # pairings, observers: their own canonical description
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: native(getattr(value, f.name), f"{where}.{f.name}") for f in dataclasses.fields(value)}
        return {"__class__": type(value).__qualname__, **fields}
    if inspect.isfunction(value) or inspect.isbuiltin(value):
        return callable_identity(value)
    raise ValueError(
        f"{where} = {value!r} has no plain (JSON) form, so a store cannot tell whether it changed; "
        "pass numbers, strings, lists or dicts, or run without a store"
    )


def callable_identity(func: Callable) -> str:
    """The identity of a function in a study: its qualified name and a hash of its source.

    Parameters
    ----------
    func : callable
        The function.

    Returns
    -------
    str
        ``"module.qualname#<hash>"``, the hash the first 12 hex digits of the SHA-256 of its source
        text, so an edited function body is a changed setting. A function without available source
        (built-in, defined in an interactive session) is identified by its name only.

    Examples
    --------
    >>> callable_identity(len)
    'builtins.len'
    >>> callable_identity(native)
    'meanfield.store.native#...'
    """
    name = f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', repr(func))}"
    try:
        source = inspect.getsource(func)
    except (OSError, TypeError):
        return name
    return f"{name}#{hashlib.sha256(source.encode()).hexdigest()[:12]}"


def canonical(obj: Any) -> str:
    """Sorted-key compact JSON of an already :func:`native` object.

    Parameters
    ----------
    obj : object
        Plain JSON types.

    Returns
    -------
    str

    Examples
    --------
    >>> canonical({"b": [1, 2.5], "a": None})
    '{"a":null,"b":[1,2.5]}'
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True)


def identity_hash(identity: dict) -> str:
    """First 16 hex digits of the SHA-256 of the canonical identity.

    Parameters
    ----------
    identity : dict
        A study's identity (plain JSON types).

    Returns
    -------
    str

    Examples
    --------
    >>> identity_hash({"a": 1, "b": 2}) == identity_hash({"b": 2, "a": 1})
    True
    >>> len(identity_hash({}))
    16
    """
    return hashlib.sha256(canonical(identity).encode()).hexdigest()[:16]


_ABSENT = object()


def first_difference(old: Any, new: Any, path: str = "") -> tuple | None:
    """The first difference of two identities in sorted-key order.

    Dictionaries are compared key by key; anything else (lists included) as a whole.

    Parameters
    ----------
    old, new : object
        Plain JSON types.
    path : str, default ""
        The name of ``old`` and ``new`` (prefix of the settings' dotted names).

    Returns
    -------
    tuple or None
        ``(setting, old value, new value)`` (a missing key's value is an internal marker), or None
        when they are equal.

    Examples
    --------
    >>> first_difference({"t_end": 1.0, "sweep": {"n": [8, 16]}}, {"t_end": 1.0, "sweep": {"n": [8, 32]}})
    ('sweep.n', [8, 16], [8, 32])
    >>> first_difference({"a": 1}, {"a": 1}) is None
    True
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
    """The folder of one study: ``study.json`` (its identity) and ``task-<hash>-<params>-<seed>.json``.

    Parameters
    ----------
    folder : str or pathlib.Path
        The folder (created by :meth:`open`).
    identity : dict
        The study's identity, plain JSON types (:func:`native`).

    Examples
    --------
    >>> store = StudyStore("store", {"model": "Newtonian1D", "seeds": [0, 1]}).open()
    >>> store.has({"n": 8}, 0)
    False
    >>> store.write({"n": 8}, 0, [{"metric": "W1", "value": 0.1}])
    >>> store.has({"n": 8}, 0), store.read({"n": 8}, 0)
    (True, [{'metric': 'W1', 'value': 0.1}])
    >>> StudyStore("store", {"model": "Newtonian1D", "seeds": [0, 2]}).open()
    Traceback (most recent call last):
    ...
    ValueError: store store was made by a different study: seeds is [0, 1] there but [0, 2] now; ...
    """

    def __init__(self, folder: str | PathLike, identity: dict):
        self.folder = Path(folder)
        self.identity = identity
        self.hash = identity_hash(identity)

    # --- opening ---------------------------------------------------------------------------
    def open(self) -> StudyStore:
        """Create the folder or check that it belongs to this study; clean stale temporaries.

        Returns
        -------
        StudyStore
            This store.

        Raises
        ------
        ValueError
            Naming the folder and the first differing setting (both values) when the folder was made
            by another study, and when it holds task files but no identity record.
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
        """The file name of a task: the study's hash, a checksum of the parameters and the seed.

        Parameters
        ----------
        params : dict
            The task's swept parameters.
        seed : int
            Its seed.

        Returns
        -------
        str
        """
        crc = zlib.crc32(canonical(native(params, "sweep")).encode())
        return f"task-{self.hash}-{crc:08x}-{int(seed)}.json"

    def has(self, params: dict, seed: int) -> bool:
        """Whether the task's file exists.

        Parameters
        ----------
        params : dict
            The task's swept parameters.
        seed : int
            Its seed.

        Returns
        -------
        bool
        """
        return (self.folder / self.task_name(params, seed)).is_file()

    def write(self, params: dict, seed: int, rows: list) -> None:
        """Write a finished task's rows (atomically).

        Parameters
        ----------
        params : dict
            The task's swept parameters.
        seed : int
            Its seed.
        rows : list of dict
            Its table rows (plain JSON types).
        """
        from meanfield.io import atomic_path

        body = {"study": self.hash, "params": native(params, "sweep"), "seed": int(seed), "rows": rows}
        with atomic_path(self.folder / self.task_name(params, seed)) as tmp:
            tmp.write_text(json.dumps(body))

    def read(self, params: dict, seed: int) -> list:
        """The rows of a finished task.

        Parameters
        ----------
        params : dict
            The task's swept parameters.
        seed : int
            Its seed.

        Returns
        -------
        list of dict

        Raises
        ------
        ValueError
            When the file is not a task file of this study or its content does not match its name.
        OSError
            When it cannot be read.
        """
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
