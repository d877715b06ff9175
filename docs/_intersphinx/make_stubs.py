"""Write the offline fall-back intersphinx inventories of docs/conf.py (run from the repository root).

``python docs/_intersphinx/make_stubs.py`` rewrites ``docs/_intersphinx/<project>-stub.inv``.

Sphinx tries each project's inventory locations in order. The first is the project's published
``objects.inv``; the second is the stub written here. With network access the published inventory
is used (full cross-references); without it Sphinx falls back to the stub, logs that the remote
one was not reachable, and the build still passes with ``-W``. A stub lists only the handful of
objects this documentation refers to most, at their stable addresses.
"""

from __future__ import annotations

import os
import tempfile
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent

# project -> (display name, [(object name, domain:role, path relative to the project's base URL)])
STUBS = {
    "python": (
        "Python",
        [
            ("pathlib.Path", "py:class", "library/pathlib.html#$"),
        ],
    ),
    "numpy": (
        "NumPy",
        [
            ("numpy.ndarray", "py:class", "reference/generated/numpy.ndarray.html#$"),
            ("numpy.random.Generator", "py:class", "reference/random/generator.html#$"),
            (
                "numpy.random.SeedSequence",
                "py:class",
                "reference/random/bit_generators/generated/numpy.random.SeedSequence.html#$",
            ),
        ],
    ),
    "scipy": (
        "SciPy",
        [
            ("scipy.fft", "py:module", "reference/fft.html#module-scipy.fft"),
        ],
    ),
    "xarray": (
        "xarray",
        [
            ("xarray.Dataset", "py:class", "generated/xarray.Dataset.html#$"),
            ("xarray.DataArray", "py:class", "generated/xarray.DataArray.html#$"),
        ],
    ),
    "pot": ("POT", []),
}


def inventory_bytes(project: str, entries: list) -> bytes:
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {project}\n"
        "# Version: stub\n"
        "# The remainder of this file is compressed using zlib.\n"
    ).encode()
    body = "".join(f"{name} {role} 1 {uri} -\n" for name, role, uri in entries).encode()
    return header + zlib.compress(body, 9)


def write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".tmp-{path.name}-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main() -> None:
    for key, (project, entries) in STUBS.items():
        write_atomic(HERE / f"{key}-stub.inv", inventory_bytes(project, entries))


if __name__ == "__main__":
    main()
