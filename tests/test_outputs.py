"""Self-describing outputs (issue 19): every saved run of every model carries CF attributes, its
provenance (version, git revision, creation time, seed) and parameters that rebuild the model; and
``meanfield plot`` draws one panel per species for every model's output."""

import json
import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from meanfield import __version__, io, models
from meanfield.cli import main
from meanfield.measures import Domain
from meanfield.models.base import REFERENCES, Trajectory, continuum_dataset, git_revision, model_from, params_from
from meanfield.models.contract import same_params
from meanfield.solvers.grids import UniformGrid

ROOT = Path(__file__).resolve().parents[1]

# non-default parameters of every kind the models take (floats, ints, None, tuples, lists, strings)
MODELS = {
    "SignedCoulomb2D": (dict(sigma=1.2, gamma_bar=0.3, epsilon=0.05, centre_plus=(0.25, -0.125), width=0.4),
                        ["--n", "16"], ["--resolution", "8"], 1e-3),
    "Annihilation1D": (dict(delta=0.25, centres=(-1.0, 1.25), radii=(0.5, 0.375), mass_plus=0.4),
                       ["--n", "16"], ["--resolution", "32"], 1e-3),
    "Newtonian1D": (dict(rho_support=(0.0, 0.75), eta_support=[0.5, 1.5], profile="bump"),
                    ["--n", "16"], ["--resolution", "16"], 1e-2),
    "Dislocations2D": (dict(delta=0.2, amplitude=0.3, beta=2.0), ["--n", "8"], ["--resolution", "8"], 1e-3),
    "CoagulationDiffusion": (dict(max_mass=3, alpha=30.0, initial_mass_fractions=(0.5, 0.25, 0.25),
                                  initial_profile="gaussian"), ["--n", "64"], ["--resolution", "4"], 1e-4),
}


def _params_args(params):
    return [a for k, v in params.items() for a in ("--param", f"{k}={v!r}")]


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """One tiny particle (.npz) and continuum (.nc) output of every model, written by ``meanfield run``."""
    folder = tmp_path_factory.mktemp("outputs")
    files = {}
    for name, (params, part, cont, t_end) in MODELS.items():
        for side, extra, ext in (("particles", part, "npz"), ("continuum", cont, "nc")):
            path = folder / f"{name}.{ext}"
            assert main(["run", name, side, *_params_args(params), *extra, "--t-end", str(t_end),
                         "--seed", "7", "--out", str(path)]) == 0
            files[name, side] = path
    path = folder / "Newtonian1D-quantile.nc"  # 002's Lagrangian (interval) dataset
    assert main(["run", "Newtonian1D", "continuum", "--resolution", "16", "--solver-arg", "scheme='quantile'",
                 "--t-end", "0.01", "--times", "0.005", "0.01", "--out", str(path)]) == 0
    files["Newtonian1D", "quantile"] = path
    return files


@pytest.mark.parametrize("name", list(MODELS))
def test_saved_runs_rebuild_the_model(outputs, name):
    """``type(m)(**params_from(out)).params`` equals ``m.params`` after a netCDF / npz round trip."""
    model = getattr(models, name)(**MODELS[name][0])
    sol = io.load_dataset(outputs[name, "continuum"])
    traj = io.load_trajectory(outputs[name, "particles"])
    for out in (sol, traj):
        rebuilt = type(model)(**params_from(out))
        assert same_params(rebuilt.params, model.params)
        assert same_params(model_from(out).params, model.params)
        assert out.attrs["meanfield_model"] == name
    # native types, not their strings: tuples stay tuples, None stays None
    back = params_from(sol)
    for key, value in model.params.items():
        assert type(back[key]) is type(value), (key, back[key], value)


@pytest.mark.parametrize("name", list(MODELS))
def test_outputs_carry_provenance_and_cf_attributes(outputs, name):
    sol = io.load_dataset(outputs[name, "continuum"])
    traj = io.load_trajectory(outputs[name, "particles"])
    bib = (ROOT / "references.bib").read_text()
    assert sol.attrs["Conventions"] == "CF-1.10"
    assert re.search(r"@\w+\{" + re.escape(sol.attrs["references"]) + ",", bib)
    assert sol.attrs["references"] == REFERENCES[name]
    assert name in sol.attrs["title"] and sol.attrs["history"].endswith(f"created by meanfield {__version__}")
    for var in [*sol.data_vars, "time", *(c for c in ("x", "y", "z") if c in sol.coords)]:
        assert sol[var].attrs["long_name"] and sol[var].attrs["units"] == "1", var
    assert sol["time"].attrs["axis"] == "T"
    for attrs in (sol.attrs, traj.attrs):
        assert attrs["meanfield_version"] == __version__
        created = datetime.strptime(attrs["date_created"], "%Y-%m-%dT%H:%M:%SZ")
        assert abs((datetime.utcnow() - created).total_seconds()) < 3600
        if git_revision() is not None:
            assert attrs["git_revision"] == git_revision()
    deterministic = getattr(getattr(models, name)(), "deterministic", False)
    assert traj.attrs.get("seed") == (None if deterministic else 7)
    assert "seed" not in sol.attrs  # the continuum solvers are deterministic: no seed to record


# Entries of the CF standard-name table (version 93, cfconventions.org; the copy shipped with
# compliance-checker 6.1.0) for the names a meanfield output could use, with their canonical units.
# The table has no "projection_z_coordinate".
CF_STANDARD_NAMES = {"time": "s", "projection_x_coordinate": "m", "projection_y_coordinate": "m"}


@pytest.mark.parametrize("name", list(MODELS))
def test_coordinates_carry_their_cf_axis_and_the_density_no_standard_name(outputs, name):
    sol = io.load_dataset(outputs[name, "continuum"])
    for c in ("time", "x", "y", "z"):
        if c in sol.coords:
            assert sol[c].attrs["axis"] == ("T" if c == "time" else c.upper()), c
    for var in ("density", "edges", "cell_mass"):  # none in the table fits (meanfield.io's docstring)
        if var in sol:
            assert "standard_name" not in sol[var].attrs, var


@pytest.mark.parametrize("name", ["Dislocations2D", "CoagulationDiffusion"])
def test_every_standard_name_is_in_the_cf_table_with_matching_units(outputs, name):
    """CF-1.10 §3.3: a standard name comes from the table and the variable's units must be
    convertible to its canonical units (units '1' are not convertible to s or m)."""
    sol = io.load_dataset(outputs[name, "continuum"])
    for var in [*sol.data_vars, *sol.coords]:
        standard = sol[var].attrs.get("standard_name")
        if standard is not None:
            assert standard in CF_STANDARD_NAMES, (var, standard)
            assert sol[var].attrs["units"] == CF_STANDARD_NAMES[standard], (var, standard)


def test_git_revision_outside_a_checkout_is_none(tmp_path):
    assert git_revision(tmp_path) is None
    rev = git_revision(ROOT)
    assert rev is None or re.fullmatch(r"[0-9a-f]{40}(-dirty)?", rev)


def test_parameter_record_round_trips_every_native_type(tmp_path):
    params = {"f": 0.1, "i": 3, "b": True, "none": None, "s": "log", "t": (1.0, 2), "l": [1, 2.5],
              "a": np.array([[1.0, 2.0], [3.0, 4.0]]), "ai": np.arange(3), "np": np.float64(0.3),
              "d": {"k": (1, 2), "names": ["a", "b"]}, "inf": float("inf"),
              "labels": np.array(["+", "-"])}
    grid = UniformGrid((0.0,), (1.0,), (4,), (True,))
    ds = continuum_dataset([0.0], np.ones((1, 4)), grid, params=params, seed=11)
    io.save_dataset(ds, tmp_path / "p.nc")
    back = params_from(io.load_dataset(tmp_path / "p.nc"))
    assert same_params(back, params)
    for k in params:
        assert type(back[k]) is type(params[k]), k
    assert back["a"].shape == (2, 2) and back["ai"].dtype == params["ai"].dtype
    assert io.load_dataset(tmp_path / "p.nc").attrs["seed"] == 11
    # the per-parameter attributes are readable numbers, not 8-digit strings
    arr = np.array([-1.123456789012, 1.0])
    ds = continuum_dataset([0.0], np.ones((1, 4)), grid, params={"c": arr})
    np.testing.assert_array_equal(ds.attrs["param_c"], arr)


def test_a_user_callable_cannot_be_rebuilt_and_is_named(tmp_path):
    def diffusivity(m):
        return 1.0 / m

    model = models.CoagulationDiffusion(max_mass=2, diffusivity=diffusivity)
    sol = model.solve_continuum(1e-4, resolution=2)
    io.save_dataset(sol, tmp_path / "c.nc")
    back = io.load_dataset(tmp_path / "c.nc")
    assert "diffusivity" in json.loads(back.attrs["meanfield_params"])
    with pytest.raises(ValueError, match=r"parameter 'diffusivity' was a user callable .*diffusivity"):
        params_from(back)
    rebuilt = models.CoagulationDiffusion(**params_from(back, diffusivity=diffusivity))
    assert same_params(rebuilt.params, model.params)
    with pytest.raises(ValueError, match="does not record"):
        params_from(back, nonsense=1)


def test_params_from_refuses_foreign_data():
    import xarray as xr

    with pytest.raises(ValueError, match="meanfield_params"):
        params_from(xr.Dataset())
    with pytest.raises(ValueError, match="not a valid parameter record"):
        params_from({"meanfield_params": "{not json"})
    with pytest.raises(TypeError, match="expected a dataset"):
        params_from(3.0)


def test_trajectory_round_trip_keeps_labels_and_attrs(tmp_path):
    traj = Trajectory(np.array([0.0, 1.0]), [np.array([0.1, 0.2, 0.3])] * 2, Domain(1),
                      species=[np.array(["b", "a", "b"])] * 2, labels=("b", "a"), attrs={"note": "x"})
    io.save_trajectory(traj, tmp_path / "t.npz", model=models.Newtonian1D(), seed=5)
    back = io.load_trajectory(tmp_path / "t.npz")
    assert back.labels == ("b", "a") and list(back.measure(0.0)) == ["b", "a"]
    assert back.attrs["note"] == "x" and back.attrs["seed"] == 5
    assert same_params(params_from(back), models.Newtonian1D().params)
    with pytest.raises(TypeError, match="seed must be an integer"):
        io.save_trajectory(traj, tmp_path / "u.npz", seed=np.random.default_rng(0))


# --- meanfield plot ------------------------------------------------------------------------------
def _capture_figures(monkeypatch):
    figures = []
    save = io.save_figure

    def capture(fig, path, **kw):
        figures.append(fig)
        return save(fig, path, **kw)

    monkeypatch.setattr(io, "save_figure", capture)
    return figures


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("side", ["continuum", "particles"])
def test_plot_draws_one_panel_per_species(outputs, name, side, tmp_path, monkeypatch):
    figures = _capture_figures(monkeypatch)
    png = tmp_path / "f.png"
    assert main(["plot", str(outputs[name, side]), "--out", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert oct(png.stat().st_mode & 0o777) == oct(io.default_file_mode())
    (fig,) = figures
    species = getattr(models, name)(**MODELS[name][0]).species
    assert [s for s, _ in fig.panels] == list(species)  # one output time: one panel per species
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == len(species)
    assert all(name in ax.get_title() for ax in panels)
    colorbars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    if side == "continuum" and name in ("SignedCoulomb2D", "Dislocations2D", "CoagulationDiffusion"):
        (cbar,) = colorbars  # one shared colour scale for all species
        assert cbar.get_ylabel().startswith("density of each species [1]")
        limits = {ax.images[0].get_clim() for ax in panels}
        assert len(limits) == 1
    else:
        assert not colorbars
        for ax in panels:
            assert ax.get_xlabel() and ax.get_ylabel()


def test_plot_of_a_lagrangian_run_with_several_times(outputs, tmp_path, monkeypatch):
    figures = _capture_figures(monkeypatch)
    assert main(["plot", str(outputs["Newtonian1D", "quantile"]), "--out", str(tmp_path / "q.png")]) == 0
    (fig,) = figures
    assert fig.panels == [("rho", None), ("eta", None)]
    assert [len(ax.patches) for ax in fig.axes] == [2, 2]  # both times drawn in each species' panel


def test_plot_several_times_of_a_2d_run_shares_one_colour_scale(tmp_path, monkeypatch):
    path = tmp_path / "c.nc"
    io.save_dataset(models.Dislocations2D().solve_continuum(2e-3, times=[1e-3, 2e-3], resolution=8), path)
    figures = _capture_figures(monkeypatch)
    assert main(["plot", str(path), "--times", "0.002", "0.001", "--out", str(tmp_path / "c.png")]) == 0
    (fig,) = figures
    assert fig.panels == [("+", 0.002), ("-", 0.002), ("+", 0.001), ("-", 0.001)]
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len({ax.images[0].get_clim() for ax in panels}) == 1
    assert "t = 0.002" in panels[0].get_title() and "t = 0.001" in panels[2].get_title()


@pytest.mark.parametrize("side", ["continuum", "particles"])
def test_plot_refuses_a_time_not_in_the_file(outputs, side, tmp_path, capsys):
    out = tmp_path / "x.png"
    assert main(["plot", str(outputs["SignedCoulomb2D", side]), "--times", "0.5", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "t=0.5 is not an output time" in err[0]
    assert not out.exists()


def test_plot_refuses_a_netcdf_file_not_written_by_meanfield(tmp_path, capsys):
    import xarray as xr

    nc = tmp_path / "foreign.nc"
    xr.Dataset({"temperature": ("x", np.arange(3.0))}).to_netcdf(nc)
    assert main(["plot", str(nc), "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "foreign.nc: not a meanfield continuum output" in err[0]
    text = tmp_path / "notes.nc"
    text.write_text("hello")
    assert main(["plot", str(text), "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a netCDF dataset" in err[0]
    assert not (tmp_path / "x.png").exists()


def test_a_dataset_made_by_hand_gets_its_provenance_in_the_file(tmp_path):
    import xarray as xr

    ds = xr.Dataset({"v": ("x", np.arange(3.0))})
    io.save_dataset(ds, tmp_path / "h.nc", seed=4)
    back = io.load_dataset(tmp_path / "h.nc")
    assert back.attrs["meanfield_version"] == __version__ and back.attrs["seed"] == 4
    assert "date_created" in back.attrs and not ds.attrs  # the caller's dataset is unchanged


def test_rate_plot_points_and_fit_share_a_colour_and_minor_labels_do_not_overlap():
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    from meanfield.plot import plot_rate
    from meanfield.rates import fit_rate

    h = np.array([0.008, 0.016, 0.032, 0.064])
    e = 3.0 * h**2 * (1 + 0.01 * np.array([1, -1, 1, -1]))
    fig = Figure()
    ax = fig.subplots()
    plot_rate(ax, h, e, fit_rate(h, e), label="series", xlabel="h", ylabel="error")
    points, line = ax.lines
    assert points.get_color() == line.get_color()
    assert ax.get_xlabel() == "h" and ax.get_ylabel() == "error"
    assert isinstance(ax.xaxis.get_minor_formatter(), NullFormatter)  # 0.01 is in view
    assert next(t.get_text() for t in ax.get_legend().get_texts()) == "series"


@pytest.mark.parametrize("name", list(MODELS))
def test_plot_compare_draws_particles_over_the_continuum(outputs, name, tmp_path, monkeypatch):
    """``meanfield plot PARTICLES --compare CONTINUUM``: a panel (or a pair of panels) per species, and
    each plotted particle histogram integrates to the particles' mass of that species."""
    figures = _capture_figures(monkeypatch)
    png = tmp_path / "cmp.png"
    assert main(["plot", str(outputs[name, "continuum"]), "--compare", str(outputs[name, "particles"]),
                 "--out", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (fig,) = figures
    species = getattr(models, name)(**MODELS[name][0]).species
    assert [s for s in dict.fromkeys(s for s, _ in fig.panels) if s is not None] == list(species)
    traj = io.load_trajectory(outputs[name, "particles"])
    t = float(traj.times[-1])
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    for ax, (s, role) in zip(axes, fig.panels, strict=True):
        present = s is not None and s in set(np.asarray(traj.species[-1]).astype(str).tolist())
        mass = traj.measure(t, species=s).mass if present else 0.0
        if role == "overlay":
            (patch,) = [p for p in ax.patches if p.get_gid() == "particles"]
            values, edges, _ = patch.get_data()
            label = patch.get_label()
            outside = float(label.split("mass ")[1].split()[0]) if "outside" in label else 0.0
            assert float(np.sum(values * np.diff(edges))) + outside == pytest.approx(mass, rel=1e-3, abs=1e-12)
        elif role == "particles":
            (image,) = ax.images
            x0, x1, y0, y1 = image.get_extent()
            values = np.asarray(image.get_array())
            assert "outside" not in ax.get_title()
            assert values.sum() * (x1 - x0) * (y1 - y0) / values.size == pytest.approx(mass, rel=1e-12)


def test_plot_compare_refuses_two_files_of_one_side(outputs, tmp_path, capsys):
    out = tmp_path / "x.png"
    path = str(outputs["Annihilation1D", "continuum"])
    assert main(["plot", path, "--compare", path, "--out", str(out)]) == 2
    assert "give one particle run (.npz) and one continuum run" in capsys.readouterr().err
    assert main(["plot", path, "--compare", str(outputs["Annihilation1D", "particles"]), "--times", "0.1", "0.2",
                 "--out", str(out)]) == 2
    assert "--times takes one time" in capsys.readouterr().err
    assert main(["plot", path, "--compare", str(outputs["Newtonian1D", "particles"]), "--out", str(out)]) == 2
    assert "model Newtonian1D but the continuum run from Annihilation1D" in capsys.readouterr().err
    assert not out.exists()
