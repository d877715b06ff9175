"""The particles-vs-continuum figure (issue 19): one panel per species, and the plotted histograms carry
exactly the particles' mass (asserted on the artists' data, not on pixels)."""

import numpy as np
import pytest

from meanfield.measures import Domain
from meanfield.models.base import Trajectory, continuum_dataset
from meanfield.plot import MAX_BINS, plot_comparison
from meanfield.solvers.grids import UniformGrid


def _stairs_mass(ax):
    """Mass of the particle histogram drawn on ``ax`` (a StepPatch of density values over its edges)."""
    (patch,) = [p for p in ax.patches if p.get_gid() == "particles"]
    values, edges, _ = patch.get_data()
    return float(np.sum(values * np.diff(edges)))


def _image_mass(ax, cell=None):
    """Mass of the particle image on ``ax``: density times cell area, or masses per site (``cell`` None)."""
    (image,) = [im for im in ax.images if im.get_gid() == "particles"]
    values = np.asarray(image.get_array())
    if cell is None:
        return float(values.sum())
    x0, x1, y0, y1 = image.get_extent()
    return float(values.sum() * (x1 - x0) * (y1 - y0) / values.size)


def _two_species_1d(rng, n=(300, 200), masses=(0.6, 0.4), box=(-2.0, 2.0)):
    pos = np.concatenate([rng.normal(-0.5, 0.3, n[0]), rng.normal(0.5, 0.3, n[1])])
    w = np.concatenate([np.full(n[0], masses[0] / n[0]), np.full(n[1], masses[1] / n[1])])
    lab = np.array(["+"] * n[0] + ["-"] * n[1])
    traj = Trajectory(np.array([0.0, 0.5]), [pos, pos], Domain(1), [w, w], [lab, lab], labels=("+", "-"))
    grid = UniformGrid(box[0], box[1], 64, periodic=False)
    x = grid.centres[0]
    dens = np.stack([masses[0] * np.exp(-((x + 0.5) ** 2) / 0.18), masses[1] * np.exp(-((x - 0.5) ** 2) / 0.18)])
    dens /= np.sqrt(0.18 * np.pi)
    sol = continuum_dataset([0.0, 0.5], np.stack([dens, dens]), grid, species=["+", "-"])
    return traj, sol


def test_1d_one_panel_per_species_and_histograms_carry_the_species_mass():
    traj, sol = _two_species_1d(np.random.default_rng(0))
    fig = plot_comparison(traj, sol)
    assert fig.panels == [("+", "overlay"), ("-", "overlay")]
    axes = fig.axes
    assert len(axes) == 2
    assert "t = 0.5" in fig.get_suptitle()  # the last shared time by default
    for ax, mass in zip(axes, (0.6, 0.4), strict=True):
        assert _stairs_mass(ax) == pytest.approx(mass, rel=1e-12)
        continuum = [p for p in ax.patches if p.get_gid() != "particles"]
        assert len(continuum) == 1  # the density, drawn as steps on the same axes


def test_1d_particles_outside_the_box_are_stated_and_not_binned():
    traj, sol = _two_species_1d(np.random.default_rng(1), box=(-0.5, 2.0))
    fig = plot_comparison(traj, sol, t=0.0, bins=20)
    ax = fig.axes[0]
    pos, w = traj.positions[0][:300], traj.weights[0][:300]
    outside = float(w[pos < -0.5].sum())
    assert outside > 0.1
    assert _stairs_mass(ax) == pytest.approx(0.6 - outside, rel=1e-12)
    (patch,) = [p for p in ax.patches if p.get_gid() == "particles"]
    assert patch.get_data()[0].size == 20 and f"mass {outside:.3g} outside" in patch.get_label()


def _two_species_2d(rng, n=400, periodic=True, shift=0.0):
    lower = -0.5 / 16 if shift else 0.0
    grid = UniformGrid(lower, lower + 1.0, (16, 16), periodic=periodic)
    pos = rng.random((n, 2))
    lab = np.where(np.arange(n) < n // 4, "+", "-")
    w = np.where(lab == "+", 0.25 / (n // 4), 0.75 / (n - n // 4))
    domain = Domain.torus(2) if periodic else Domain(2)
    traj = Trajectory(np.array([1.0]), [pos], domain, [w], [lab], labels=("+", "-"))
    dens = np.stack([np.full(grid.shape, 0.25), np.full(grid.shape, 0.75)])[None]
    return traj, grid, dens


@pytest.mark.parametrize("shift", [0.0, 1.0])
def test_2d_density_and_histogram_side_by_side_on_one_colour_scale(shift):
    traj, grid, dens = _two_species_2d(np.random.default_rng(2), shift=shift)
    sol = continuum_dataset([1.0], dens, grid, species=["+", "-"])
    fig = plot_comparison(traj, sol, bins=8)
    assert fig.panels == [("+", "continuum"), ("+", "particles"), ("-", "continuum"), ("-", "particles")]
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 4 and len({ax.images[0].get_clim() for ax in panels}) == 1
    # on the torus every particle lands in a bin (positions wrapped into a grid shifted by half a cell)
    assert _image_mass(panels[1], cell=True) == pytest.approx(0.25, rel=1e-12)
    assert _image_mass(panels[3], cell=True) == pytest.approx(0.75, rel=1e-12)
    assert np.asarray(panels[1].images[0].get_array()).shape == (8, 8)


def test_2d_lattice_run_shows_masses_per_site():
    traj, grid, dens = _two_species_2d(np.random.default_rng(3), shift=1.0)
    n = 16
    sites = np.random.default_rng(4).integers(0, n, size=(400, 2)) / n  # walkers sit on the sites of eps Z^2
    traj.positions = [sites]
    sol = continuum_dataset([1.0], dens, grid, species=["+", "-"], solver={"method": "lattice_etdrk4", "eps": 1 / n})
    fig = plot_comparison(traj, sol)
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert "MF^ε field" in panels[0].get_title()
    assert np.asarray(panels[1].images[0].get_array()).shape == (n, n)  # one bin per site
    assert _image_mass(panels[1]) == pytest.approx(0.25, rel=1e-12)  # masses per site sum to the species mass
    assert float(np.asarray(panels[0].images[0].get_array()).sum()) == pytest.approx(0.25, rel=1e-12)
    cbar = next(ax for ax in fig.axes if ax.get_label() == "<colorbar>")
    assert cbar.get_ylabel() == "mass per site [1]"


def test_3d_class_masses_and_marginals():
    grid = UniformGrid(0.0, 1.0, (4, 4, 4), periodic=True)
    rng = np.random.default_rng(5)
    pos = rng.random((60, 3))
    lab = np.array(["1"] * 40 + ["2"] * 20)
    w = np.full(60, 0.05)
    traj = Trajectory(np.array([0.1]), [pos], Domain.torus(3), [w], [lab], labels=("1", "2", "3"),
                      attrs={"meanfield_model": "CoagulationDiffusion"})
    dens = np.stack([np.full(grid.shape, 2.0), np.full(grid.shape, 1.0), np.zeros(grid.shape)])[None]
    sol = continuum_dataset([0.1], dens, grid, species=["1", "2", "3"])
    sol.attrs["meanfield_model"] = "CoagulationDiffusion"
    fig = plot_comparison(traj, sol)
    assert fig.panels == [(None, "class masses"), ("1", "overlay"), ("2", "overlay"), ("3", "overlay")]
    summary, *panels = fig.axes
    bars = [b for b in summary.patches if b.get_gid() == "particles"]
    # mass fractions n * mass_n / total: particles 1*2.0 : 2*1.0 : 0 and the PDE 1*2 : 2*1 : 0
    np.testing.assert_allclose([b.get_height() for b in bars], [0.5, 0.5, 0.0], rtol=1e-12)
    for ax, mass in zip(panels, (2.0, 1.0, 0.0), strict=True):
        assert _stairs_mass(ax) == pytest.approx(mass, abs=1e-12)


def test_comparison_refuses_mismatched_runs_and_bad_input():
    traj, sol = _two_species_1d(np.random.default_rng(6))
    with pytest.raises(TypeError, match="traj must be a meanfield Trajectory"):
        plot_comparison(sol, sol)
    with pytest.raises(TypeError, match=r"sol must be an xarray\.Dataset"):
        plot_comparison(traj, traj)
    with pytest.raises(ValueError, match=r"t=0\.25 is not an output time"):
        plot_comparison(traj, sol, t=0.25)
    with pytest.raises(TypeError, match="t must be a real number"):
        plot_comparison(traj, sol, t="0.5")
    for bad, err in ((0, ValueError), (MAX_BINS + 1, ValueError), (2.5, ValueError), ("8", TypeError)):
        with pytest.raises(err, match="bins must be an integer"):
            plot_comparison(traj, sol, bins=bad)
    other = Trajectory(np.array([0.5]), [np.zeros((3, 2))], Domain(2))
    with pytest.raises(ValueError, match="particles are 2-D but the continuum run is 1-D"):
        plot_comparison(other, sol)
    late = Trajectory(np.array([0.7]), [traj.positions[0]], Domain(1), [traj.weights[0]], [traj.species[0]])
    with pytest.raises(ValueError, match="share no output time"):
        plot_comparison(late, sol)
    odd = Trajectory(traj.times, traj.positions, Domain(1), traj.weights, [np.array(["a"] * 500)] * 2)
    with pytest.raises(ValueError, match=r"species \['a'\]"):
        plot_comparison(odd, sol)
    traj.attrs["meanfield_model"], sol.attrs["meanfield_model"] = "Newtonian1D", "Annihilation1D"
    with pytest.raises(ValueError, match="model Newtonian1D but the continuum run from Annihilation1D"):
        plot_comparison(traj, sol)


def test_a_species_without_particles_left_draws_an_empty_histogram():
    traj, sol = _two_species_1d(np.random.default_rng(7))
    traj.species = [traj.species[0], np.array(["+"] * 500)]  # every "-" particle annihilated by t = 0.5
    traj.weights = [traj.weights[0], np.full(500, 0.001)]
    fig = plot_comparison(traj, sol, t=0.5)
    assert _stairs_mass(fig.axes[0]) == pytest.approx(0.5, rel=1e-12)
    assert _stairs_mass(fig.axes[1]) == 0.0
