"""``import meanfield`` stays light (issue 17: <= 0.2 s): it loads NumPy and the measures, and none of the
heavy dependencies (SciPy, pyFFTW, xarray, POT, numba, dask, matplotlib, pandas) until a subpackage is used."""

import os
import subprocess
import sys

HEAVY = ("scipy", "pyfftw", "xarray", "ot", "numba", "dask", "distributed", "matplotlib", "pandas", "netCDF4", "tqdm")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _modules_after(code):
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", code + "; import sys; print(' '.join(sorted(sys.modules)))"],
                         check=True, env=env, capture_output=True, text=True).stdout.split()
    return {m.split(".")[0] for m in out}


def test_import_meanfield_loads_no_heavy_dependency():
    loaded = _modules_after("import meanfield")
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_subpackages_load_on_first_attribute_access():
    loaded = _modules_after("import meanfield; meanfield.metrics.wasserstein")
    assert "scipy" in loaded
    code = "import meanfield\ntry:\n    meanfield.nonexistent\nexcept AttributeError as e:\n    print(e)"
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True, text=True).stdout
    assert "nonexistent" in out
