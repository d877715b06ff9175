"""Standard figures: continuum densities, particle clouds/histograms, convergence rates.

Figures are built with :class:`matplotlib.figure.Figure` directly (no pyplot state), so they work
under any backend and in worker processes; save them atomically with ``meanfield.io.save_figure(fig, path)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from meanfield.measures import EmpiricalMeasure, GridDensity, IntervalDensity1D
from meanfield.models.base import Trajectory, _time_index

__all__ = ["draw_measure", "plot_continuum", "plot_output", "plot_rate", "plot_trajectory"]


def _as_dict(m):
    return m if isinstance(m, dict) else {"": m}


def draw_measure(ax, measure, label="", bins=40, **kw):
    """Draw a 1-D measure on ``ax``: densities as step/line plots, empirical measures as histograms
    (weights kept, so masses are comparable); a 2-D measure as an image or a scatter."""
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


def plot_continuum(ds, times=None) -> Figure:
    """The densities of a continuum dataset, one panel per species.

    1-D runs (grid or Lagrangian intervals): one panel per species (shared axes), the chosen times
    drawn in it. 2-D and 3-D runs: a row per time and one panel per species, images on one colour scale
    shared by all panels, with a colorbar labelled by the density's ``long_name`` and ``units``
    (3-D densities are shown integrated over z). Titles name the model, the species and the time.
    ``fig.panels`` lists the species panels as ``(species, time)`` pairs (time None in 1-D, where
    all times share a panel). Raises ValueError for a dataset that is not a meanfield continuum
    output or a time that is not an output time.
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


def plot_trajectory(traj, times=None, bins=40) -> Figure:
    """Particles of a saved run, one panel per species.

    1-D: histograms weighted by particle mass and divided by the bin width (so they compare with
    densities), the chosen times in one panel per species. 2-D and 3-D: particle clouds on the
    (x, y) plane, a row per time and a panel per species, axes limited to the periodic cell when
    the domain has one. ``fig.panels`` as in :func:`plot_continuum`. Raises ValueError for a time
    that is not an output time.
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
                if traj.domain.period:
                    (x0, y0), (lx, ly) = traj.domain.origin[:2], traj.domain.period[:2]
                    ax.set_xlim(x0, x0 + lx)
                    ax.set_ylim(y0, y0 + ly)
                ax.set_aspect("equal")
                ax.set(xlabel="x [1]", ylabel="y [1]" + (" (projection)" if dim > 2 else ""))
                ax.set_title(f"{model} particles: {names[j]}".rstrip(": ") + f"\nt = {t:g}", fontsize="medium")
                panels.append((s, t))
    fig.panels = panels  # type: ignore[attr-defined]  # documented extra attribute: (species, time) per panel
    return fig


def plot_output(path, times=None) -> Figure:
    """The figure of a file written by meanfield: a particle run (``.npz``, :func:`plot_trajectory`)
    or a continuum run (netCDF, :func:`plot_continuum`). Raises ValueError naming the file when it is
    not such an output, or for a time that is not one of its output times."""
    from meanfield import io

    path = Path(path)
    run = io.load_trajectory(path) if path.suffix == ".npz" else io.load_dataset(path)
    try:
        if isinstance(run, Trajectory):
            return plot_trajectory(run, times=times)
        return plot_continuum(run, times=times)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


# line style of each floor drawn by plot_rate (both dashed; see meanfield.floors)
FLOOR_STYLES = {"sampling floor": (0, (5, 3)), "discretisation floor": (0, (7, 2, 1.5, 2))}


def plot_rate(ax, h, errors, fit=None, label="", xlabel="N", floors=None, color=None, ylabel="error"):
    """Log-log convergence plot: the points and the fitted line in one colour, the slope (with its
    confidence interval) in the legend (placed where it hides the fewest points); minor tick labels
    are dropped on an axis whose data span a power of ten (its label suffices; minor ones overlap).

    ``floors``: ``{"sampling floor": (h, values), "discretisation floor": (h, values)}`` (e.g. from
    :func:`meanfield.study.floor_curves`), drawn as dashed lines in the series' colour (see
    :data:`FLOOR_STYLES`), labelled once per axes.
    ``color``: the series' colour (default: the axes' next one); the fit and the floors share it."""
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
