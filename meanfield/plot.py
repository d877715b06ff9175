"""Standard figures: continuum densities, particle clouds/histograms, particles against the
continuum, convergence rates.

Figures are built with :class:`matplotlib.figure.Figure` directly (no pyplot state), so they work
under any backend and in worker processes; save them atomically with ``meanfield.io.save_figure(fig, path)``.
The command line draws them with ``meanfield plot FILE [--compare OTHER]`` (``docs/user-guide/cli.md``).
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter
from numpy.typing import ArrayLike

from meanfield.measures import EmpiricalMeasure, GridDensity, IntervalDensity1D
from meanfield.models.base import Trajectory, _time_index, check_integer, check_real

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.axes import Axes

    from meanfield.rates import RateFit

Measure = GridDensity | IntervalDensity1D | EmpiricalMeasure

__all__ = [
    "MAX_BINS",
    "compare_outputs",
    "draw_measure",
    "plot_comparison",
    "plot_continuum",
    "plot_output",
    "plot_rate",
    "plot_trajectory",
]


def _as_dict(m):
    return m if isinstance(m, dict) else {"": m}


def draw_measure(ax: Axes, measure: Measure, label: str = "", bins: int = 40, **kw: Any) -> None:
    """Draw a measure on ``ax``.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The axes.
    measure : GridDensity, IntervalDensity1D or EmpiricalMeasure
        1-D densities are drawn as steps, 1-D empirical measures as histograms of their weights (per
        bin, not per unit length); a 2-D density as an image, 2-D particles as a scatter.
    label : str, default ""
        The legend entry (the title for a 2-D density).
    bins : int, default 40
        Histogram bins of a 1-D empirical measure.
    **kw
        Passed to the matplotlib call (``stairs``, ``hist`` or ``scatter``).

    Raises
    ------
    ValueError
        For another kind of object.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> from meanfield.solvers.grids import UniformGrid
    >>> ax = Figure().subplots()
    >>> draw_measure(ax, GridDensity([1.0, 3.0], UniformGrid(0.0, 1.0, 2, periodic=False)), label="rho")
    >>> ax.patches[0].get_data().values
    array([1., 3.])
    """
    if isinstance(measure, IntervalDensity1D):
        e, d = measure.edges, measure.density()
        ax.stairs(np.where(np.isfinite(d), d, 0.0), e, label=label, **kw)
    elif isinstance(measure, GridDensity) and measure.dim == 1:
        ax.stairs(measure.values, measure.grid.edges[0], label=label, **kw)
    elif isinstance(measure, GridDensity):
        (x0, y0), (x1, y1) = measure.grid.lower, measure.grid.upper
        ax.imshow(measure.values.T, origin="lower", extent=(x0, x1, y0, y1), aspect="auto")
        ax.set_title(label)
    elif isinstance(measure, EmpiricalMeasure) and measure.dim == 1:
        ax.hist(measure.x, bins=bins, weights=measure.weights / (1.0), density=False, histtype="step",
                label=label, **kw)
    elif isinstance(measure, EmpiricalMeasure):
        ax.scatter(measure.positions[:, 0], measure.positions[:, 1], s=2, label=label, **kw)
    else:
        raise ValueError(f"cannot draw {type(measure).__name__}")


def _model_name(attrs) -> str:
    return str(attrs.get("meanfield_model", "")) or "meanfield"


def _label(var) -> str:
    """``long_name [units]`` of a dataset variable (CF attributes), for axis and colorbar labels."""
    name = var.attrs.get("long_name", var.name)
    units = var.attrs.get("units")
    return f"{name} [{units}]" if units else str(name)


def _times(available, times) -> list:
    """The requested output times, each checked to be one of ``available`` (ValueError otherwise)."""
    available = np.asarray(available, dtype=float)
    if times is None:
        return [float(t) for t in available]
    out = []
    for t in np.atleast_1d(np.asarray(times, dtype=float)):
        _time_index(available, float(t))
        out.append(float(t))
    return out


def _planar(measure):
    """Values and extent of a ≥2-D grid density on the (x, y) plane: the density itself in 2-D, its
    integral over the remaining axes (a marginal, same mass) in 3-D."""
    vals = measure.values
    if measure.dim > 2:
        widths = np.asarray(measure.grid.spacing)[2:]
        vals = vals.sum(axis=tuple(range(2, measure.dim))) * float(np.prod(widths))
    (x0, y0), (x1, y1) = measure.grid.lower[:2], measure.grid.upper[:2]
    return vals, (x0, x1, y0, y1)


def plot_continuum(ds: xr.Dataset, times: ArrayLike | None = None) -> Figure:
    """The densities of a continuum dataset, one panel per species.

    Parameters
    ----------
    ds : xarray.Dataset
        A continuum run (``model.solve_continuum(...)`` or :func:`meanfield.io.load_dataset`).
    times : float or sequence of float, optional
        Output times to show (default all).

    Returns
    -------
    matplotlib.figure.Figure
        1-D runs (grid or Lagrangian intervals): one panel per species (shared axes), the chosen
        times drawn in it. 2-D and 3-D runs: a row per time and one panel per species, images on one
        colour scale shared by all panels, with a colorbar labelled by the density's ``long_name``
        and ``units`` (3-D densities are shown integrated over z). Titles name the model, the
        species and the time. ``fig.panels`` lists the species panels as ``(species, time)`` pairs
        (time None in 1-D, where all times share a panel).

    Raises
    ------
    ValueError
        For a dataset that is not a meanfield continuum output or a time that is not an output time.

    Examples
    --------
    >>> from meanfield.models import Dislocations2D
    >>> sol = Dislocations2D().solve_continuum(2e-3, times=[1e-3, 2e-3], resolution=8)
    >>> plot_continuum(sol, times=[2e-3]).panels
    [('+', 0.002), ('-', 0.002)]
    """
    kind = ds.attrs.get("measure_kind")
    if kind not in ("grid", "interval") or ("density" if kind == "grid" else "edges") not in ds:
        raise ValueError("not a meanfield continuum output (no 'measure_kind' attribute with a 'density' or "
                         "'edges' variable)")
    times = _times(ds["time"].values, times)
    labels = [str(s) for s in ds["species"].values] if "species" in ds.dims else [None]
    model = _model_name(ds.attrs)
    var = ds["density"] if kind == "grid" else ds["edges"]
    dim = int(np.size(ds.attrs["grid_shape"])) if kind == "grid" else 1
    names = [("" if s is None else f"species {s}") for s in labels]
    panels = []
    if dim == 1:
        fig = Figure(figsize=(4 * len(labels), 3.2), layout="constrained")
        axes = fig.subplots(1, len(labels), squeeze=False, sharex=True, sharey=True)[0]
        ylabel = _label(ds["density"]) if kind == "grid" else "density of each species [1]"
        for ax, s, name in zip(axes, labels, names, strict=True):
            for t in times:
                m = ds.measure(t) if s is None else ds.measure(t, species=s)
                draw_measure(ax, m, label=f"t = {t:g}")
            ax.set(xlabel=_label(ds["x"]) if kind == "grid" else "x [1]", ylabel=ylabel,
                   title=f"{model}: {name}".rstrip(": ") if name else model)
            ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
            panels.append((s, None))
    else:
        fig = Figure(figsize=(3.6 * len(labels) + 1.2, 3.2 * len(times)), layout="constrained")
        axes = fig.subplots(len(times), len(labels), squeeze=False, sharex=True, sharey=True)
        images = {}
        for i, t in enumerate(times):
            for j, s in enumerate(labels):
                m = ds.measure(t) if s is None else ds.measure(t, species=s)
                images[i, j] = _planar(m)
        vmin = min(float(v.min()) for v, _ in images.values())
        vmax = max(float(v.max()) for v, _ in images.values())
        norm = Normalize(vmin=vmin, vmax=vmax if vmax > vmin else vmin + 1.0)
        for (i, j), (vals, extent) in images.items():
            ax = axes[i, j]
            im = ax.imshow(vals.T, origin="lower", extent=extent, aspect="equal", norm=norm, cmap="viridis")
            ax.set_title(f"{model}: {names[j]}".rstrip(": ") + f"\nt = {times[i]:g}", fontsize="medium")
            ax.set_xlabel(_label(ds["x"]))
            ax.set_ylabel(_label(ds["y"]))
            panels.append((labels[j], times[i]))
        cbar = fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.9)
        cbar.set_label(_label(var) + ("\n(integrated over z)" if dim > 2 else ""))
    fig.panels = panels  # type: ignore[attr-defined]  # documented extra attribute: (species, time) per panel
    return fig


def plot_trajectory(traj: Trajectory, times: ArrayLike | None = None, bins: int = 40) -> Figure:
    """Particles of a run, one panel per species.

    Parameters
    ----------
    traj : meanfield.models.base.Trajectory
        A particle run (``model.simulate_particles(...)`` or :func:`meanfield.io.load_trajectory`).
    times : float or sequence of float, optional
        Output times to show (default all).
    bins : int, default 40
        Histogram bins (1-D runs).

    Returns
    -------
    matplotlib.figure.Figure
        1-D: histograms weighted by particle mass and divided by the bin width (so they compare with
        densities), the chosen times in one panel per species. 2-D and 3-D: particle clouds on the
        (x, y) plane, a row per time and a panel per species, axes limited to the periodic cell when
        the domain has one. ``fig.panels`` as in :func:`plot_continuum`.

    Raises
    ------
    ValueError
        For a time that is not an output time.

    Examples
    --------
    >>> from meanfield.models import Dislocations2D
    >>> model = Dislocations2D()
    >>> traj = model.simulate_particles(model.sample_particles(30, rng=1), 1e-3, rng=2)
    >>> plot_trajectory(traj).panels
    [('+', 0.001), ('-', 0.001)]
    """
    times = _times(traj.times, times)
    labels = list(traj.labels) if traj.labels is not None else None
    if traj.species is None:
        labels = [None]
    elif labels is None:
        labels = sorted({str(s) for k in range(len(traj.times)) for s in np.asarray(traj.species[k]).tolist()})
    model = _model_name(traj.attrs)
    names = [("" if s is None else f"species {s}") for s in labels]
    dim = traj.domain.dim
    panels = []

    def measure(t, s):
        if s is None:
            return traj.measure(t)
        present = set(np.asarray(traj.species[_time_index(traj.times, t)]).astype(str).tolist())
        return traj.measure(t, species=s) if s in present else None

    if dim == 1:
        fig = Figure(figsize=(4 * len(labels), 3.2), layout="constrained")
        axes = fig.subplots(1, len(labels), squeeze=False, sharex=True, sharey=True)[0]
        for ax, s, name in zip(axes, labels, names, strict=True):
            for t in times:
                m = measure(t, s)
                if m is None:
                    continue
                edges = np.histogram_bin_edges(m.x, bins=bins)
                counts, _ = np.histogram(m.x, bins=edges, weights=m.weights)
                ax.stairs(counts / np.diff(edges), edges, label=f"t = {t:g}")
            ax.set(xlabel="x [1]", ylabel="particle density (mass per unit length) [1]",
                   title=f"{model} particles: {name}".rstrip(": "))
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
            panels.append((s, None))
    else:
        fig = Figure(figsize=(3.4 * len(labels), 3.2 * len(times)), layout="constrained")
        axes = fig.subplots(len(times), len(labels), squeeze=False, sharex=True, sharey=True)
        for i, t in enumerate(times):
            for j, s in enumerate(labels):
                ax, m = axes[i, j], measure(t, s)
                if m is not None:
                    ax.scatter(m.positions[:, 0], m.positions[:, 1], s=4, color=f"C{j % 10}")
                if traj.domain.period is not None and traj.domain.origin is not None:
                    (x0, y0), (lx, ly) = traj.domain.origin[:2], traj.domain.period[:2]
                    ax.set_xlim(x0, x0 + lx)
                    ax.set_ylim(y0, y0 + ly)
                ax.set_aspect("equal")
                ax.set(xlabel="x [1]", ylabel="y [1]" + (" (projection)" if dim > 2 else ""))
                ax.set_title(f"{model} particles: {names[j]}".rstrip(": ") + f"\nt = {t:g}", fontsize="medium")
                panels.append((s, t))
    fig.panels = panels  # type: ignore[attr-defined]  # documented extra attribute: (species, time) per panel
    return fig


def plot_output(path: str | PathLike, times: ArrayLike | None = None) -> Figure:
    """The figure of a file written by meanfield, as ``meanfield plot FILE`` draws it.

    Parameters
    ----------
    path : str or pathlib.Path
        A particle run (``.npz``, drawn by :func:`plot_trajectory`) or a continuum run (netCDF,
        drawn by :func:`plot_continuum`).
    times : float or sequence of float, optional
        Output times to show (default all).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        Naming the file when it is not such an output, or for a time that is not one of its output
        times.
    OSError
        When the file cannot be read.

    Examples
    --------
    >>> from meanfield import io
    >>> from meanfield.models import Annihilation1D
    >>> _ = io.save_dataset(Annihilation1D().solve_continuum(1e-3, resolution=64), "sol.nc")
    >>> plot_output("sol.nc").panels
    [('+', None), ('-', None)]
    """
    from meanfield import io

    path = Path(path)
    run = io.load_trajectory(path) if path.suffix == ".npz" else io.load_dataset(path)
    try:
        if isinstance(run, Trajectory):
            return plot_trajectory(run, times=times)
        return plot_continuum(run, times=times)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def compare_outputs(
    first: str | PathLike, second: str | PathLike, t: float | None = None, *, bins: int | None = None
) -> Figure:
    """:func:`plot_comparison` of two saved runs of one model, in either order: a particle run (``.npz``)
    and a continuum run (netCDF), as ``meanfield plot FILE --compare OTHER`` draws them.

    Parameters
    ----------
    first, second : str or pathlib.Path
        The two files (one ``.npz``, the other netCDF).
    t : float, optional
        An output time of both; default the last one they share.
    bins : int, optional
        As in :func:`plot_comparison`.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        Naming the files when they are not one particle and one continuum output of meanfield, or
        when :func:`plot_comparison` refuses them.
    OSError
        When a file cannot be read.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from meanfield import io
    >>> from meanfield.models import Dislocations2D
    >>> model = Dislocations2D()
    >>> traj = model.simulate_particles(model.sample_particles(40, rng=1), 1e-3, rng=2)
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = io.save_trajectory(traj, folder / "p.npz", model=model, seed=1)
    >>> _ = io.save_dataset(model.solve_continuum(1e-3, resolution=8), folder / "c.nc")
    >>> compare_outputs(folder / "c.nc", folder / "p.npz").panels
    [('+', 'continuum'), ('+', 'particles'), ('-', 'continuum'), ('-', 'particles')]
    """
    from meanfield import io

    paths = [Path(first), Path(second)]
    npz = [p for p in paths if p.suffix == ".npz"]
    if len(npz) != 1:
        raise ValueError(f"expected one particle run (.npz) and one continuum run (netCDF), got {paths[0]} and "
                         f"{paths[1]}")
    (nc,) = [p for p in paths if p.suffix != ".npz"]
    traj, sol = io.load_trajectory(npz[0]), io.load_dataset(nc)
    try:
        return plot_comparison(traj, sol, t, bins=bins)
    except ValueError as err:
        raise ValueError(f"{npz[0]} against {nc}: {err}") from None


#: most histogram bins per axis :func:`plot_comparison` accepts (a 2-D histogram holds MAX_BINS² cells)
MAX_BINS = 4096


# --- particles against the continuum ------------------------------------------------------------
def _common_time(traj, ds, t) -> float:
    """``t`` checked to be an output time of both runs; None: the last time they share."""
    sol_times = np.asarray(ds["time"].values, dtype=float)
    if t is None:
        shared = [float(s) for s in traj.times if np.any(np.isclose(sol_times, s, rtol=1e-9, atol=1e-12))]
        if not shared:
            raise ValueError(f"the particle run (times {np.asarray(traj.times).tolist()}) and the continuum run "
                             f"(times {sol_times.tolist()}) share no output time; pass t")
        return shared[-1]
    t = float(check_real("t", t))
    _time_index(traj.times, t)
    _time_index(sol_times, t)
    return t


def _particles_of(traj, t, s):
    """The particles of species ``s`` at ``t`` (positions (n, d), weights (n,)); empty arrays when the
    species has none left (annihilated, coagulated)."""
    if s is None or traj.species is None:
        m = traj.measure(t)
        if isinstance(m, dict):
            raise ValueError("the particle run has several species but the continuum run has one")
        return m.positions, m.weights
    k = _time_index(traj.times, t)
    if not np.any(np.asarray(traj.species[k]).astype(str) == s):
        return np.zeros((0, traj.domain.dim)), np.zeros(0)
    m = traj.measure(t, species=s)
    return m.positions, m.weights


def _bin_count(bins, n, cap) -> int:
    """Bins per axis: ``bins`` when given, else about ``sqrt(n)`` (5 to ``cap``), n the particles per species."""
    if bins is not None:
        return check_integer("bins", bins, minimum=1, maximum=MAX_BINS)
    return int(np.clip(round(np.sqrt(max(n, 1))), 5, max(cap, 5)))


def _histogram(positions, weights, edges, period=None, lower=None):
    """Mass of the particles in each bin (positions wrapped into the box on periodic axes) and the
    mass of those outside the bins."""
    pos = np.asarray(positions, dtype=float)
    if period is not None:
        pos = lower + np.mod(pos - lower, period)
    inside = np.ones(pos.shape[0], dtype=bool)
    for a, e in enumerate(edges):
        inside &= (pos[:, a] >= e[0]) & (pos[:, a] <= e[-1])
    counts, _ = np.histogramdd(pos[inside], bins=edges, weights=np.asarray(weights)[inside])
    return counts, float(np.sum(np.asarray(weights)[~inside]))


def _add_particle_stairs(ax, counts, edges, n, outside):
    label = f"particles (n = {n})" + (f", mass {outside:.3g} outside" if outside != 0 else "")
    patch = ax.stairs(counts / np.diff(edges), edges, color="C1", lw=1.4, label=label)
    patch.set_gid("particles")  # tests and users find the histogram by this id
    return patch


def plot_comparison(traj: Trajectory, sol: xr.Dataset, t: float | None = None, *, bins: int | None = None) -> Figure:
    """Particles against the continuum at one output time, one panel per species.

    Parameters
    ----------
    traj : Trajectory
        A particle run (``model.simulate_particles(...)``, ``model.simulate_walkers(...)[0]`` or
        :func:`meanfield.io.load_trajectory`).
    sol : xarray.Dataset
        The continuum run of the same model (``model.solve_continuum(...)``, ``solve_lattice(...)`` or
        :func:`meanfield.io.load_dataset`); its species labels name the panels.
    t : float, optional
        An output time of both runs; default the last time they share.
    bins : int, optional
        Histogram bins per axis; default about the square root of the particles per species (at most
        the continuum grid's cells). Ignored for a lattice run (one bin per site).

    Returns
    -------
    matplotlib.figure.Figure
        1-D runs (001, 002): per species the continuum density (steps) with the particles' histogram
        over it, in mass per unit length, so both integrate to the species mass. 2-D runs (000, 003):
        per species the density image and, beside it, the particles' 2-D histogram (mass per unit area)
        on one colour scale shared by all panels; a lattice run of 003 (``solve_lattice``) shows
        masses per site of the MF^ε field and of the walkers (histogram on the sites) instead. 3-D runs
        (004): a first panel with each mass class's share of the total mass, particles beside PDE,
        then per class the x-marginal (density integrated over y and z) with the particles'
        histogram in x. ``fig.panels`` lists ``(species, role)`` per panel, role one of
        ``"overlay"``, ``"continuum"``, ``"particles"``, ``"class masses"``; the particle histograms
        carry the artist id (gid) ``"particles"``. Particles on a torus are wrapped into the
        continuum's box; particle mass outside the box (free space, e.g. 004 with ``domain="free"``
        solved on a periodic box standing for R^3) is left out of the histograms and stated in the
        legend or title.

    Raises
    ------
    TypeError
        If ``traj`` is not a Trajectory or ``sol`` not a dataset.
    ValueError
        If ``sol`` is not a meanfield continuum output, the runs differ in model, dimension or species, ``t``
        is not an output time of both, or ``bins`` is not a positive integer.

    References
    ----------
    The empirical measures and densities compared are those of the theory pages (``docs/theory/``)
    of each model: ``traj.measure(t)`` against ``sol.measure(t)``.

    Examples
    --------
    >>> from meanfield.models import Newtonian1D
    >>> model = Newtonian1D()
    >>> traj = model.simulate_particles(model.sample_particles(50), 0.01)
    >>> sol = model.solve_continuum(0.01, resolution=50)
    >>> fig = plot_comparison(traj, sol)
    >>> fig.panels
    [('rho', 'overlay'), ('eta', 'overlay')]
    """
    import xarray as xr

    if not isinstance(traj, Trajectory):
        raise TypeError(f"traj must be a meanfield Trajectory, got {type(traj).__name__}")
    if not isinstance(sol, xr.Dataset):
        raise TypeError(f"sol must be an xarray.Dataset written by a continuum solver, got {type(sol).__name__}")
    kind = sol.attrs.get("measure_kind")
    if kind not in ("grid", "interval"):
        raise ValueError("sol is not a meanfield continuum output (no 'measure_kind' attribute)")
    if bins is not None:
        check_integer("bins", bins, minimum=1, maximum=MAX_BINS)
    names_ = (traj.attrs.get("meanfield_model"), sol.attrs.get("meanfield_model"))
    if None not in names_ and names_[0] != names_[1]:
        raise ValueError(f"the particles come from model {names_[0]} but the continuum run from {names_[1]}")
    dim = int(np.size(sol.attrs["grid_shape"])) if kind == "grid" else 1
    if traj.domain.dim != dim:
        raise ValueError(f"the particles are {traj.domain.dim}-D but the continuum run is {dim}-D")
    t = _common_time(traj, sol, t)
    labels = [str(s) for s in sol["species"].values] if "species" in sol.dims else [None]
    if traj.species is not None and labels != [None]:
        extra = sorted({str(s) for k in range(len(traj.times)) for s in np.asarray(traj.species[k]).tolist()}
                       - set(labels))
        if extra:
            raise ValueError(f"the particles have species {extra} that the continuum run {labels} does not")
    model = _model_name(sol.attrs)
    cont = {s: (sol.measure(t) if s is None else sol.measure(t, species=s)) for s in labels}
    parts = {s: _particles_of(traj, t, s) for s in labels}
    names = {s: (model if s is None else f"{model}: species {s}") for s in labels}
    if dim == 1:
        fig = _compare_1d(cont, parts, names, bins, sol)
    elif dim == 2:
        fig = _compare_2d(cont, parts, names, bins, sol, traj.domain.periodic)
    else:
        fig = _compare_3d(cont, parts, names, bins, sol, traj.domain.periodic)
    fig.suptitle(f"particles against the continuum, t = {t:g}")
    return fig


def _compare_1d(cont, parts, names, bins, sol):
    labels = list(cont)
    fig = Figure(figsize=(4.2 * len(labels) + 1.6, 3.4), layout="constrained")
    axes = fig.subplots(1, len(labels), squeeze=False, sharex=True)[0]
    panels = []
    for ax, s in zip(axes, labels, strict=True):
        c, (pos, w) = cont[s], parts[s]
        if isinstance(c, GridDensity):  # bins over the support of the density and the particles, in the box
            e, mass = c.grid.edges[0], c.values != 0
            box = (e[0], e[-1])
        else:
            e, mass = c.edges, c.masses != 0
            box = (-np.inf, np.inf)
        used = e[np.concatenate([mass, [False]]) | np.concatenate([[False], mass])]
        lo, hi = (float(used.min()), float(used.max())) if used.size else (float(e[0]), float(e[-1]))
        if pos.size:
            lo, hi = max(min(lo, float(pos.min())), box[0]), min(max(hi, float(pos.max())), box[1])
        cap = int(np.count_nonzero((e[:-1] < hi) & (e[1:] > lo))) if isinstance(c, GridDensity) else 200
        edges = np.linspace(lo, hi, _bin_count(bins, pos.shape[0], cap) + 1)
        counts, outside = _histogram(pos, w, [edges])
        draw_measure(ax, c, label="continuum", color="C0", lw=1.4)
        _add_particle_stairs(ax, counts, edges, pos.shape[0], outside)
        ax.set(xlabel=_label(sol["x"]) if "x" in sol.coords else "x [1]",
               ylabel="density (mass per unit length) [1]", title=names[s])
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
        panels.append((s, "overlay"))
    fig.panels = panels  # documented extra attribute
    return fig


def _compare_2d(cont, parts, names, bins, sol, torus):
    labels = list(cont)
    grid = next(iter(cont.values())).grid
    lattice = str(sol.attrs.get("solver_method", "")).startswith("lattice")
    if lattice:
        edges = list(grid.edges)
    else:
        n_per = max(p[0].shape[0] for p in parts.values())
        nb = _bin_count(bins, n_per // 2, min(grid.shape))
        edges = [np.linspace(grid.lower[a], grid.upper[a], nb + 1) for a in range(2)]
    period = grid.lengths if torus and all(grid.periodic) else None  # particles on a torus: wrapped into the box
    lower = np.asarray(grid.lower)
    images, outside = {}, {}
    for s in labels:
        counts, outside[s] = _histogram(*parts[s], edges, period, lower)
        area = np.diff(edges[0])[:, None] * np.diff(edges[1])[None, :]
        if lattice:  # masses per site: the MF^ε density times ε², the walkers' weights per site
            images[s] = (cont[s].cell_masses, counts)
        else:
            images[s] = (cont[s].values, counts / area)
    vmin = min(min(float(a.min()), float(b.min())) for a, b in images.values())
    vmax = max(max(float(a.max()), float(b.max())) for a, b in images.values())
    norm = Normalize(vmin=vmin, vmax=vmax if vmax > vmin else vmin + 1.0)
    extent = (grid.lower[0], grid.upper[0], grid.lower[1], grid.upper[1])
    fig = Figure(figsize=(6.6 * len(labels) + 1.2, 3.4), layout="constrained")
    axes = fig.subplots(1, 2 * len(labels), squeeze=False, sharex=True, sharey=True)[0]
    panels = []
    what = "MF^ε field" if lattice else "continuum"
    for j, s in enumerate(labels):
        for i, (role, vals) in enumerate(zip(("continuum", "particles"), images[s], strict=True)):
            ax = axes[2 * j + i]
            im = ax.imshow(vals.T, origin="lower", extent=extent, aspect="equal", norm=norm, cmap="viridis")
            title = f"{names[s]}\n{what if role == 'continuum' else f'particles (n = {parts[s][0].shape[0]})'}"
            if role == "particles":
                im.set_gid("particles")
                if outside[s] != 0:
                    title += f", mass {outside[s]:.3g} outside"
            ax.set_title(title, fontsize="medium")
            ax.set_xlabel(_label(sol["x"]))
            ax.set_ylabel(_label(sol["y"]))
            panels.append((s, role))
    cbar = fig.colorbar(im, ax=axes.tolist(), shrink=0.9)
    cbar.set_label("mass per site [1]" if lattice else "density (mass per unit area) [1]")
    fig.panels = panels  # documented extra attribute
    return fig


def _compare_3d(cont, parts, names, bins, sol, torus):
    labels = list(cont)
    grid = next(iter(cont.values())).grid
    ncols = min(4, len(labels))
    nrows = 1 + -(-len(labels) // ncols)
    fig = Figure(figsize=(3.4 * ncols + 1.6, 2.8 * nrows), layout="constrained")
    gs = fig.add_gridspec(nrows, ncols)
    summary = fig.add_subplot(gs[0, :])
    panels = [(None, "class masses")]
    coag = str(sol.attrs.get("meanfield_model", "")) == "CoagulationDiffusion"
    size = np.array([float(s) if coag else 1.0 for s in labels])  # 004: the label is the cluster mass
    cont_mass = size * np.array([cont[s].mass for s in labels])
    part_mass = size * np.array([float(np.sum(parts[s][1])) for s in labels])
    x = np.arange(len(labels))
    summary.bar(x - 0.2, cont_mass / cont_mass.sum(), width=0.4, color="C0", label="continuum")
    bars = summary.bar(x + 0.2, part_mass / max(part_mass.sum(), 1e-300), width=0.4, color="C1", label="particles")
    for bar in bars:
        bar.set_gid("particles")
    summary.set_xticks(x, [str(s) for s in labels])
    summary.set(xlabel="mass class" if coag else "species",
                ylabel="share of the total mass" if coag else "share of the total", yscale="linear")
    summary.set_title(f"{_model_name(sol.attrs)}: " + ("mass fraction n·∫f_n / Σ m·∫f_m of each class" if coag else
                                                       "mass of each species / total"), fontsize="medium")
    summary.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0),
                   title="(also in the panels below)", title_fontsize="x-small")
    period = grid.lengths[0] if torus and grid.periodic[0] else None
    for j, s in enumerate(labels):
        ax = fig.add_subplot(gs[1 + j // ncols, j % ncols])
        marginal = cont[s].values.sum(axis=(1, 2)) * float(grid.spacing[1] * grid.spacing[2])
        ax.stairs(marginal, grid.edges[0], color="C0", lw=1.4, label="continuum")
        pos, w = parts[s]
        edges = np.linspace(grid.lower[0], grid.upper[0], _bin_count(bins, pos.shape[0], grid.shape[0]) + 1)
        counts, outside = _histogram(pos[:, :1], w, [edges], period, grid.lower[0])
        _add_particle_stairs(ax, counts, edges, pos.shape[0], outside)
        ax.set_title(f"class {s}" if coag else names[s], fontsize="medium")
        ax.set(xlabel=_label(sol["x"]), ylabel="x-marginal [1]")
        if outside != 0:
            ax.legend(fontsize="x-small", loc="best")
        panels.append((s, "overlay"))
    fig.panels = panels  # documented extra attribute
    return fig


# line style of each floor drawn by plot_rate (both dashed; see meanfield.floors)
FLOOR_STYLES = {"sampling floor": (0, (5, 3)), "discretisation floor": (0, (7, 2, 1.5, 2))}


def plot_rate(
    ax: Axes,
    h: ArrayLike,
    errors: ArrayLike,
    fit: RateFit | None = None,
    label: str = "",
    xlabel: str = "N",
    floors: dict | None = None,
    color: Any = None,
    ylabel: str = "error",
) -> Axes:
    """Log-log convergence plot of errors against a refinement parameter.

    The points and the fitted line share one colour, the slope (with its confidence interval) is in
    the legend (placed where it hides the fewest points); minor tick labels are dropped on an axis
    whose data span a power of ten (its label suffices; minor ones overlap).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The axes.
    h, errors : array_like
        The points.
    fit : meanfield.rates.RateFit, optional
        A fitted rate, drawn as a line over the range of ``h``.
    label : str, default ""
        The series' legend entry.
    xlabel : str, default "N"
        The x-axis label.
    floors : dict, optional
        ``{"sampling floor": (h, values), "discretisation floor": (h, values)}`` (e.g. from
        :func:`meanfield.study.floor_curves`), drawn as dashed lines in the series' colour (see
        :data:`FLOOR_STYLES`), labelled once per axes.
    color : matplotlib colour, optional
        The series' colour (default: the axes' next one); the fit and the floors share it.
    ylabel : str, default "error"
        The y-axis label.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``.

    Examples
    --------
    >>> import numpy as np
    >>> from matplotlib.figure import Figure
    >>> from meanfield.rates import fit_rate
    >>> n = np.array([100, 200, 400, 800])
    >>> err = n**-0.5 * np.array([1.1, 0.9, 1.1, 0.9])
    >>> ax = plot_rate(Figure().subplots(), n, err, fit_rate(n, err), label="W1")
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['W1', 'slope -0.558 [-0.910, -0.206]']
    >>> ax.lines[0].get_color() == ax.lines[1].get_color()
    True
    """
    h, errors = np.asarray(h, dtype=float), np.asarray(errors, dtype=float)
    (points,) = ax.loglog(h, errors, "o", label=label or None, color=color)
    color = points.get_color()
    if fit is not None:
        xs = np.geomspace(h.min(), h.max(), 50)
        ax.loglog(xs, fit.prefactor() * xs**fit.slope, "-", color=color,
                  label=f"slope {fit.slope:.3f} [{fit.ci[0]:.3f}, {fit.ci[1]:.3f}]")
    shown = ax.get_legend_handles_labels()[1]
    values = [errors]
    for name, (fh, fv) in (floors or {}).items():  # the colour names the series: one legend entry per floor
        fv = np.asarray(fv, dtype=float)
        values.append(fv)
        ax.loglog(np.asarray(fh, dtype=float), fv, linestyle=FLOOR_STYLES.get(name, "--"),
                  color=color, lw=1.2, label="_nolegend_" if name in shown else name)
    for axis, vals in ((ax.xaxis, h), (ax.yaxis, np.concatenate(values))):
        pos = vals[np.isfinite(vals) & (vals > 0)]
        if pos.size and np.floor(np.log10(pos.max())) >= np.ceil(np.log10(pos.min())):
            axis.set_minor_formatter(NullFormatter())  # a labelled power of ten is in view
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize="small", loc="best")
    return ax
