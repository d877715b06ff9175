"""Standard figures: continuum densities, particle clouds/histograms, convergence rates.

Figures are built with :class:`matplotlib.figure.Figure` directly (no pyplot state), so they work
under any backend and in worker processes; save them atomically with ``meanfield.io.save_figure(fig, path)``.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from meanfield.measures import EmpiricalMeasure, GridDensity, IntervalDensity1D

__all__ = ["plot_continuum", "plot_trajectory", "plot_rate", "draw_measure"]


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


def plot_continuum(ds, times=None) -> Figure:
    """One panel per output time, every species drawn in it (1-D), or one per species (2-D)."""
    times = list(ds["time"].values) if times is None else list(times)
    fig = Figure(figsize=(4 * len(times), 3.2), layout="constrained")
    axes = fig.subplots(1, len(times), squeeze=False)[0]
    for ax, t in zip(axes, times):
        for name, m in _as_dict(ds.measure(t)).items():
            draw_measure(ax, m, label=str(name))
        ax.set_title(f"t = {t:g}")
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    return fig


def plot_trajectory(traj, times=None, bins=40) -> Figure:
    """Particle histograms (1-D, weighted by particle mass and divided by the bin width, so they
    compare with densities) or particle clouds (2-D), one panel per output time."""
    times = list(traj.times) if times is None else list(times)
    fig = Figure(figsize=(4 * len(times), 3.2), layout="constrained")
    axes = fig.subplots(1, len(times), squeeze=False)[0]
    for ax, t in zip(axes, times):
        for name, m in _as_dict(traj.measure(t)).items():
            if m.dim == 1:
                edges = np.histogram_bin_edges(m.x, bins=bins)
                counts, _ = np.histogram(m.x, bins=edges, weights=m.weights)
                ax.stairs(counts / np.diff(edges), edges, label=str(name))
            else:
                draw_measure(ax, m, label=str(name))
        ax.set_title(f"t = {t:g}")
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    return fig


# line style of each floor drawn by plot_rate (both dashed; see meanfield.floors)
FLOOR_STYLES = {"sampling floor": (0, (5, 3)), "discretisation floor": (0, (7, 2, 1.5, 2))}


def plot_rate(ax, h, errors, fit=None, label="", xlabel="N", floors=None, color=None):
    """Log-log convergence plot with the fitted line and its slope (with CI) in the legend.

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
    for name, (fh, fv) in (floors or {}).items():  # the colour names the series: one legend entry per floor
        ax.loglog(np.asarray(fh, dtype=float), np.asarray(fv, dtype=float), linestyle=FLOOR_STYLES.get(name, "--"),
                  color=color, lw=1.2, label="_nolegend_" if name in shown else name)
    ax.set_xlabel(xlabel)
    ax.legend(fontsize="small" if floors else None)
    return ax
