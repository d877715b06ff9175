"""The two floors beside a particle-vs-continuum distance: sampling and discretisation.

A study (:mod:`meanfield.study`) measures ``d(μ_n(t), ρ_h(t))`` between the particles' empirical
measure and the continuum solution at resolution ``h``. Two numbers tell a reader what limits it:

* the **sampling floor** ``d(ρ̂_k(t), ρ_h(t))``, where ``ρ̂_k(t)`` is the empirical measure of ``k``
  i.i.d. points drawn from ``ρ_h(t)`` (each of weight ``ρ_h(t)(R^d)/k``), and ``k`` is the number of
  atoms of the particle measure of the same label at the same time (so the same ``n`` and species
  masses as the particle run; for a label that lost its particles, ``k = 0`` and the floor is the
  distance to the zero measure). A particle system started from i.i.d. samples and propagating
  chaos cannot beat it (up to noise), and its rate in ``n`` is the i.i.d. rate: ``n^{-1/2}`` for W1
  in 1-D (``E W1 ≈ sqrt(2/(π k)) ∫ sqrt(F(1-F)) dx``, del Barrio–Giné–Matrán 1999), for the dual
  bounded-Lipschitz distance in any dimension up to log factors (Dudley 1969; Fournier–Guillin
  2015 for W_p). Deterministic atomisations (002's midpoint placement, 001's quantile placement)
  do beat it: their floor is the discretisation of the initial data, not sampling. See
  docs/theory/distances.md (floors of a convergence study).
* the **discretisation floor** ``d(ρ_h(t), ρ_{h/2}(t))``: the same continuum run at the study's
  resolution against one at ``REFINEMENT`` times the resolution (the time step, when given as
  ``dt`` or ``dt_max``, divided by the same factor). For a scheme of order ``p`` it is
  ``(1 - 2^{-p}) C h^p`` to leading order, i.e. the reference's own error up to the factor
  ``1 - 2^{-p}``: where it is comparable with the particle distance, the continuum, not the
  particles, limits what is measured. A finer grid density that refines the reference's grid (same
  box, an integer factor per axis) is first averaged onto the reference's cells
  (:func:`on_coarse_grid`): both are then atoms at the same cell centres, so the floor is the
  continuum's error and not the cell-centre atomisation's ``O(h)`` (which the particle distance
  carries as well), and its transport problem is no larger than the reference's own.

The discretisation floor is the same for every seed and particle number of one reference setting:
:func:`discretisation_memo` keeps it per process (a worker computes it once, not once per task).

The random numbers of a sampling floor come from the task's seed sequence (``SeedSequence([seed,
crc32(parameters)])``, :meth:`meanfield.study.Study.rng`) with a spawn key naming the floor, the time
and the label (:func:`floor_seed`): they do not depend on the executor, on the order of the tasks,
and they leave the particle run's own stream untouched.
"""

from __future__ import annotations

import inspect
import json
import zlib

import numpy as np

from meanfield.measures import EmpiricalMeasure, GridDensity, IntervalDensity1D, as_generator
from meanfield.solvers.grids import UniformGrid

__all__ = ["COLUMNS", "FLOORS", "REFINEMENT", "atoms", "discretisation_memo", "floor_seed", "on_coarse_grid",
           "refinable", "refined_continuum", "resolve_floors", "sample_like", "sampling_floor"]

FLOORS = ("sampling", "discretisation")
# the table column of each floor (beside ``value`` on every distance row)
COLUMNS = {"sampling": "sampling_floor", "discretisation": "discretisation_floor"}
REFINEMENT = 2
_SAMPLING_KEY = zlib.crc32(b"sampling floor")


# --- which floors a study shows -------------------------------------------------------------------------
def _reasons(pairing) -> dict:
    """``{floor: None if it applies to the pairing else the reason it does not}``."""
    name = type(pairing).__name__
    compares = getattr(pairing, "compares", True)
    particles = getattr(pairing, "needs_n", True)
    continuum = getattr(pairing, "sections", {}).get("continuum") == "solve_continuum"
    sampling = None if (compares and particles) else f"the pairing {name} compares no particle measure"
    if not compares:
        discretisation = f"the pairing {name} compares no measures"
    elif not continuum:
        discretisation = f"the pairing {name} has no solve_continuum reference to refine"
    elif not particles:
        discretisation = f"the pairing {name} compares two continuum runs already"
    else:
        discretisation = None
    return {"sampling": sampling, "discretisation": discretisation}


def refinable(model_cls) -> bool:
    """Does ``model_cls.solve_continuum`` take a ``resolution`` keyword (the one the finer run doubles)?"""
    try:
        params = inspect.signature(model_cls.solve_continuum).parameters
    except (TypeError, ValueError, AttributeError):
        return False
    return "resolution" in params


def resolve_floors(floors, pairing, continuum_keys=(), model_cls=None) -> tuple:
    """The floors a study shows, in :data:`FLOORS` order.

    ``floors="auto"`` (the default of a study): both floors for pairings of particles against a
    ``solve_continuum`` reference (ParticleVsContinuum, SDEVsContinuum, ActiveParts, MassClasses), the
    discretisation floor left out when the continuum is given on a ``grid`` (``continuum_keys``:
    the study's continuum keyword names, fixed or swept) or ``model_cls.solve_continuum`` takes no
    ``resolution`` (:func:`refinable`), none for the other pairings. Otherwise a
    list of names from :data:`FLOORS` (``()`` for none); a floor the pairing cannot have is refused
    (ValueError naming it and why).
    """
    reasons = _reasons(pairing)
    if isinstance(floors, str) and floors == "auto":
        if reasons["discretisation"] is not None:  # not particles against solve_continuum
            return ()
        coarse_only = "grid" in continuum_keys or (model_cls is not None and not refinable(model_cls))
        return ("sampling",) if coarse_only else FLOORS
    if isinstance(floors, (str, bytes)) or not isinstance(floors, (list, tuple)):
        raise ValueError(f"floors must be 'auto' or a list of names from {FLOORS}, got {floors!r}")
    for f in floors:
        if f not in FLOORS:
            raise ValueError(f"floors: unknown floor {f!r}; choose from {FLOORS}")
        if reasons[f] is not None:
            raise ValueError(f"floors: no {f} floor: {reasons[f]}")
    if len(set(floors)) != len(floors):
        raise ValueError(f"floors has a repeated name: {list(floors)!r}")
    if "discretisation" in floors and "grid" in continuum_keys:
        raise ValueError("floors: the discretisation floor refines continuum 'resolution'; the study gives a 'grid'")
    return tuple(f for f in FLOORS if f in floors)


# --- the discretisation floor's finer run ---------------------------------------------------------------
def _default(model_cls, method, name):
    try:
        par = inspect.signature(getattr(model_cls, method)).parameters.get(name)
    except (TypeError, ValueError, AttributeError):
        return None
    return None if par is None or par.default is inspect.Parameter.empty else par.default


def refined_continuum(model_cls, continuum: dict, factor: int = REFINEMENT) -> dict:
    """``continuum`` keywords of the finer run: ``resolution`` (given, or the default of
    ``model_cls.solve_continuum``) times ``factor``; a given ``dt`` or ``dt_max`` divided by ``factor``.
    ValueError when the resolution is unknown or not a positive integer (or tuple of them)."""
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 2:
        raise ValueError(f"factor must be an integer >= 2, got {factor!r}")
    if continuum.get("grid") is not None:
        raise ValueError("the discretisation floor refines 'resolution'; this continuum run is given a 'grid'")
    res = continuum.get("resolution", _default(model_cls, "solve_continuum", "resolution"))

    def ok(r):
        return isinstance(r, (int, np.integer)) and not isinstance(r, bool) and r >= 1

    fine: int | list[int] | tuple[int, ...]
    if ok(res):
        fine = int(factor) * int(res)
    elif isinstance(res, (list, tuple)) and res and all(ok(r) for r in res):
        fine = type(res)(int(factor) * int(r) for r in res)
    else:
        raise ValueError(f"the discretisation floor needs an integer continuum 'resolution' to refine, got {res!r}")
    out = {**continuum, "resolution": fine}
    for key in ("dt", "dt_max"):
        value = continuum.get(key)
        if isinstance(value, (int, float, np.floating)) and not isinstance(value, bool):
            out[key] = float(value) / int(factor)
    return out


def on_coarse_grid(fine, coarse):
    """``fine`` averaged onto the cells of ``coarse`` (a :class:`GridDensity` or its grid) when ``fine`` is
    a :class:`GridDensity` on the same box whose grid refines ``coarse``'s by an integer factor on every
    axis (block means of the cell averages: the same mass in each coarse cell); otherwise ``fine``
    unchanged."""
    gc = coarse.grid if isinstance(coarse, GridDensity) else coarse
    if not (isinstance(fine, GridDensity) and isinstance(gc, UniformGrid)):
        return fine
    gf = fine.grid
    if len(gf.shape) != len(gc.shape) or not (np.allclose(gf.lower, gc.lower) and np.allclose(gf.upper, gc.upper)):
        return fine
    if any(f % c for f, c in zip(gf.shape, gc.shape, strict=True)) or gf.shape == gc.shape:
        return fine
    blocks = []
    for c, f in zip(gc.shape, gf.shape, strict=True):
        blocks += [c, f // c]
    values = fine.values.reshape(blocks).mean(axis=tuple(range(1, 2 * len(gc.shape), 2)))
    return GridDensity(values, gc)


# --- the discretisation floor, once per process and reference ------------------------------------------
_MEMO: dict = {}
_MEMO_SIZE = 4096


def discretisation_memo(key, compute):
    """``compute()`` the first time ``key`` is seen in this process, the kept number afterwards.

    ``key`` must name everything the floor depends on (a study uses its model, reference setting,
    ``t_end``, output times, the time, the label and the metric); the values are plain floats, the last
    :data:`_MEMO_SIZE` kept. Tasks of one study that share a reference — every seed and ``n`` — run on
    the same worker process reuse the distance instead of solving the transport problem again."""
    if key in _MEMO:
        return _MEMO[key]
    value = float(compute())
    while len(_MEMO) >= _MEMO_SIZE:
        _MEMO.pop(next(iter(_MEMO)))
    _MEMO[key] = value
    return value


# --- the sampling floor ---------------------------------------------------------------------------------
def atoms(measure) -> int:
    """Number of atoms of nonzero weight of an empirical measure (0 for ``None``)."""
    if measure is None:
        return 0
    if not isinstance(measure, EmpiricalMeasure):
        raise TypeError(f"the sampling floor needs an empirical (particle) measure, got {type(measure).__name__}")
    return int(np.count_nonzero(measure.weights))


def sample_like(measure, k: int, rng=None) -> EmpiricalMeasure | None:
    """``k`` i.i.d. points from the normalised non-negative ``measure``, each of weight ``mass/k``
    (the same total mass); ``None`` for ``k = 0`` (the zero measure).

    GridDensity: :meth:`~meanfield.measures.GridDensity.sample` (exact law of the piecewise-constant
    density); IntervalDensity1D: a cell by its mass, then a uniform point in it (an atom for a
    zero-width cell); EmpiricalMeasure: an atom by its weight.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"k must be a nonnegative integer, got {k!r}")
    if k == 0:
        return None
    if not isinstance(measure, (GridDensity, IntervalDensity1D, EmpiricalMeasure)):
        raise TypeError(f"measure must be a GridDensity, IntervalDensity1D or EmpiricalMeasure, "
                        f"got {type(measure).__name__}")
    if not measure.is_nonnegative or not measure.mass > 0:
        raise ValueError(f"cannot sample from a measure that is signed or of zero mass (mass {measure.mass!r})")
    rng = as_generator(rng)
    if isinstance(measure, GridDensity):
        return measure.sample(int(k), rng)
    mass = measure.mass
    if isinstance(measure, IntervalDensity1D):
        p = measure.masses / measure.masses.sum()
        cells = rng.choice(p.size, size=int(k), p=p)
        lo, hi = measure.edges[cells], measure.edges[cells + 1]
        x = lo + rng.random(int(k)) * (hi - lo)
        return EmpiricalMeasure(x, np.full(int(k), mass / k))
    p = measure.weights / measure.weights.sum()
    picks = rng.choice(p.size, size=int(k), p=p)
    return EmpiricalMeasure(measure.positions[picks], np.full(int(k), mass / k), measure.domain)


def floor_seed(seed, params: dict, t, label) -> np.random.SeedSequence:
    """The sampling floor's seed for one task, time and label: the task's entropy ``[seed,
    crc32(parameters)]`` (as :meth:`meanfield.study.Study.rng`) with the spawn key ``(crc32("sampling
    floor"), crc32([t, label]))``, a stream independent of the task's own."""
    crc = zlib.crc32(json.dumps(params, sort_keys=True, default=lambda v: np.asarray(v).tolist()).encode())
    where = zlib.crc32(json.dumps([float(t), str(label)]).encode())
    return np.random.SeedSequence([int(seed), crc], spawn_key=(_SAMPLING_KEY, where))


def sampling_floor(reference, k: int, distance, rng=None) -> float:
    """``distance(ρ̂_k, reference)`` for ``ρ̂_k = sample_like(reference, k, rng)`` (one sample).

    ``distance(a, b)`` is the study's distance with its conventions (``a = None`` the zero measure).
    A reference of no mass (``None``) has floor 0: its samples are the zero measure too."""
    if reference is None:
        return 0.0
    return float(distance(sample_like(reference, k, rng), reference))
