"""The shared model plumbing: trajectories, continuum datasets and their netCDF round trip."""

import numpy as np
import pytest
import xarray as xr

from meanfield.measures import Domain
from meanfield.models.base import Trajectory, check_in_range, check_times, continuum_dataset, interval_dataset
from meanfield.solvers.grids import UniformGrid


def test_trajectory_measures_by_species():
    tr = Trajectory(
        times=np.array([0.0, 1.0]),
        positions=[np.array([0.0, 1.0, 2.0]), np.array([0.5, 1.5])],
        domain=Domain(1),
        species=[np.array(["+", "-", "+"]), np.array(["+", "-"])],
    )
    m = tr.measure(0.0)
    assert set(m) == {"+", "-"}
    np.testing.assert_allclose(m["+"].x, [0.0, 2.0])
    assert tr.measure(1.0, species="-").n == 1
    with pytest.raises(ValueError, match="output time"):
        tr.measure(0.5)


def test_continuum_dataset_roundtrip_and_measure(tmp_path):
    grid = UniformGrid((0, 0), (1, 2), (4, 6), periodic=(True, True))
    rho = np.random.default_rng(0).random((3, 2, 4, 6))
    ds = continuum_dataset([0, 0.5, 1], rho, grid, species=["+", "-"], params={"sigma": 1.5, "flag": True},
                           solver={"name": "spectral", "dt": 0.01}, mass=(("time", "species"), rho.sum(axis=(2, 3))))
    path = tmp_path / "run.nc"
    ds.to_netcdf(path)
    back = xr.load_dataset(path)
    assert back.identical(ds)
    g = back.measure(0.5, species="-")
    np.testing.assert_array_equal(g.values, rho[1, 1])
    assert g.grid == grid
    assert back.attrs["param_sigma"] == 1.5


def test_interval_dataset_measure():
    edges = np.array([[0.0, 0.5, 1.0], [0.0, 1.0, 2.0]])
    ds = interval_dataset([0.0, 1.0], edges, [0.5, 0.5])
    d = ds.measure(1.0)
    np.testing.assert_allclose(d.density(), [0.5, 0.5])


def test_checks_name_the_parameter():
    with pytest.raises(ValueError, match=r"beta must lie in \[0, 1\)"):
        check_in_range("beta", 1.0, 0, 1, high_open=True)
    with pytest.raises(ValueError, match="times"):
        check_times(1.0, [0.5, 0.2])
    with pytest.raises(ValueError, match="t_end"):
        check_times(-1.0)


@pytest.mark.parametrize("value", ["1.0", None, 1 + 2j, True, [1.0]])
def test_numbers_are_checked_with_the_argument_named(value):
    from meanfield.models.base import check_integer, check_positive

    with pytest.raises(TypeError, match="sigma must be a real number"):
        check_positive("sigma", value)
    with pytest.raises(TypeError, match="n must be an integer"):
        check_integer("n", value)


def test_counts_and_memory_are_bounded_before_allocation():
    from meanfield.models.base import check_integer, check_memory

    with pytest.raises(ValueError, match="n must be an integer <="):
        check_integer("n", 2**63)
    with pytest.raises(ValueError, match="n must be an integer"):
        check_integer("n", float("nan"))
    assert check_integer("n", 16.0) == 16
    with pytest.raises(ValueError, match=r"cost matrix would need about 2\.13e\+04 GiB"):
        check_memory(8 * 2**41 * 1.3, "cost matrix")
    check_memory(1024, "small array")
