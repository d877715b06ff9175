"""Pairings: which two runs a study compares, and through which measures.

A convergence study measures, at output times ``t``, distances between the measures of a *sample*
run (made once per parameter set and seed) and those of a *reference* run (made once per distinct
reference setting and reused across seeds and particle numbers). A pairing is a small immutable
value saying

* which model method each keyword section of a study feeds (``sections``: ``sample``,
  ``particles``, ``continuum``), so that a study checks every keyword before any work;
* how to make the reference run from the study's settings (:meth:`Pairing.reference`) and which
  settings it depends on (:meth:`Pairing.reference_parts`);
* how to make the sample run for a particle number ``n`` and a random generator
  (:meth:`Pairing.sample`);
* which measures to compare at time ``t`` (:meth:`Pairing.measures`: a mapping from a label — a
  species, a mass class, an active part — to the pair ``(sample measure, reference measure)``, either
  of which may be ``None`` when it has no mass).

Pairings are frozen dataclasses of plain values (picklable, so studies run on local processes and
on dask clusters) and part of a study's identity (:meth:`Pairing.identity`). A sweep key
``pairing.<field>`` sets a field per parameter set (e.g. ``pairing.eps`` for the lattice spacing).

The pairings here:

========================== =========================================== =======================================
pairing                    sample run                                  reference run
========================== =========================================== =======================================
:class:`ParticleVsContinuum` ``sample_particles`` → ``simulate_particles`` ``solve_continuum`` (species by species)
:class:`SDEVsContinuum`    the same with ``scheme=<SDE scheme>``        ``solve_continuum``
:class:`ActiveParts`       particles; their active parts                the continuum's ``[ρ⁺ − ρ⁻]_±``
:class:`LatticeVsLattice`  lattice walkers ``simulate_random_walks``    the lattice ODE ``solve_lattice(eps)``
:class:`MassClasses`       particles grouped into mass classes          the continuum's classes
:class:`ParticleVsExact`   particles                                    an exact solution (a function)
:class:`ContinuumVsContinuum` ``solve_continuum`` with other settings   ``solve_continuum``
:class:`ParticlesOnly`     particles (observers only, no distances)     none
:class:`ParticlesFrom`     particles from ``initial(model, n, rng)``    none
:class:`CoupledSDEMeanField` (SDE_n) coupled to McKean–Vlasov copies      the copies (same Brownian increments)
:class:`CoupledWalkersMeanField` (RW_n^ε) coupled to MF^ε walkers         the walkers (same Poisson processes)
========================== =========================================== =======================================

Random generators: a study hands each task a generator; the pairing passes it to
``sample_particles`` unless the model is ``deterministic`` (no random numbers anywhere; the study
then hands None), and to ``simulate_particles`` unless the model also declares
``deterministic_dynamics = True`` (its particle dynamics draws no random numbers, e.g. 002's event-driven
dynamics, while its sampling may: see :mod:`meanfield.models.contract`), so that a model may refuse a
generator it would ignore (:func:`sample_rng`, :func:`dynamics_rng`).

Coupled pairings (:class:`CoupledPairing`) compare two particle systems built in *one* run from the
same noise: the reference is not shared across seeds but made with each sample (``reference_per_seed``),
so :meth:`Pairing.reference` returns None and the sample run (:class:`CoupledRun`) carries both sides;
the measures compared at ``t`` are the two empirical measures per species, and the pathwise distance
``(1/n) Σ_i |X_i − X̄_i|`` is recorded by the observer :class:`PathwiseDistance`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from meanfield.metrics._inputs import NEGATIVE_MASS_RTOL
from meanfield.metrics._inputs import positive_part as _metrics_positive_part
from meanfield.observers import Observer

__all__ = [
    "NEGATIVE_MASS_TOLERANCE",
    "ActiveParts",
    "ContinuumVsContinuum",
    "CoupledPairing",
    "CoupledRun",
    "CoupledSDEMeanField",
    "CoupledWalkersMeanField",
    "LatticeVsLattice",
    "MassClasses",
    "Pairing",
    "ParticleVsContinuum",
    "ParticleVsExact",
    "ParticlesFrom",
    "ParticlesOnly",
    "PathwiseDistance",
    "SDEVsContinuum",
    "dynamics_rng",
    "positive_part",
    "sample_rng",
]

# One tolerance for the package: negative round-off parts of a density up to this fraction of its
# positive mass are dropped (metrics do the same on a direct call); larger ones raise.
NEGATIVE_MASS_TOLERANCE = NEGATIVE_MASS_RTOL


def positive_part(measure, tol=NEGATIVE_MASS_TOLERANCE):
    """The measure without its round-off negative part (:func:`meanfield.metrics._inputs.positive_part`:
    the positive part rescaled to the signed total mass when the negative mass is at most ``tol`` of
    the positive one; a ValueError above). Replacing a signed density of negative mass ``m⁻`` by this
    changes a BL distance by at most ``2 m⁻`` and a W1 distance by at most ``2 m⁻`` times the diameter."""
    return _metrics_positive_part("the reference density", measure, tol)[0]


def as_labelled(measure) -> dict:
    """``run.measure(t)``'s result as ``{label: measure}`` (``""`` for a single species)."""
    return measure if isinstance(measure, dict) else {"": measure}


def species_order(label):
    """Sort key of labels: integer labels (mass classes) numerically first, then the others by name."""
    return (0, int(label), "") if str(label).lstrip("-").isdigit() else (1, 0, str(label))


def sample_rng(model, rng):
    """The generator for the model's sampling: None for a ``deterministic`` model (module docstring)."""
    return None if getattr(model, "deterministic", False) else rng


def dynamics_rng(model, rng):
    """The generator for the model's particle dynamics: None when the model is ``deterministic`` or
    declares ``deterministic_dynamics`` (its ``simulate_particles`` draws no random numbers)."""
    if getattr(model, "deterministic", False) or getattr(model, "deterministic_dynamics", False):
        return None
    return rng


def _pairs(sample: dict, reference: dict, labels=None) -> dict:
    labels = sorted(set(sample) | set(reference), key=species_order) if labels is None else labels
    return {label: (sample.get(label), reference.get(label)) for label in labels}


@dataclass(frozen=True)
class Pairing:
    """Base class; see the module docstring. Subclasses override the hooks they change."""

    # model method fed by each keyword section of a study (None: the section is not used)
    sections: ClassVar[dict] = {"sample": "sample_particles", "particles": "simulate_particles",
                                "continuum": "solve_continuum"}
    # keyword names the pairing sets itself, per section (refused as study keywords)
    reserved: ClassVar[dict] = {}
    # does the sample run take a particle number (sweep key ``n``)?
    needs_n: ClassVar[bool] = True
    # does the pairing compare measures (False: a study of observers only)?
    compares: ClassVar[bool] = True
    # names of the fields the reference run depends on (None: all fields)
    reference_fields: ClassVar[tuple | None] = None
    # may the two measures of a label have different masses (Wasserstein distances are then NaN)?
    unequal_masses: ClassVar[bool] = False

    # --- identity ----------------------------------------------------------------------------------
    def identity(self) -> dict:
        """Plain description (class and fields) for a study's identity."""
        from meanfield.store import native

        cls = type(self)
        out = {"pairing": f"{cls.__module__}.{cls.__qualname__}"}
        for f in dataclasses.fields(self):
            out[f.name] = native(getattr(self, f.name), f"pairing.{f.name}")
        return out

    def reference_parts(self, settings: dict) -> list:
        """What the reference run depends on: the model, the continuum keywords, the pairing's fields."""
        from meanfield.store import native

        names = [f.name for f in dataclasses.fields(self)] if self.reference_fields is None else self.reference_fields
        fields = {n: native(getattr(self, n), f"pairing.{n}") for n in names}
        return [type(self).__qualname__, settings["model"], settings["continuum"], fields]

    # --- the two runs ------------------------------------------------------------------------------
    def reference(self, model, settings: dict, t_end: float, times: list):
        return model.solve_continuum(t_end=t_end, times=times, **settings["continuum"])

    def sample(self, model, settings: dict, t_end: float, times: list, rng):
        state = model.sample_particles(settings["n"], rng=sample_rng(model, rng), **settings["sample"])
        return model.simulate_particles(state, t_end=t_end, times=times, rng=dynamics_rng(model, rng),
                                        **settings["particles"])

    # --- the measure map ---------------------------------------------------------------------------
    def measures(self, model, sample, reference, t) -> dict:
        """``{label: (sample measure or None, reference measure or None)}`` at time ``t``."""
        ref = {k: positive_part(v) for k, v in as_labelled(reference.measure(t)).items()}
        return _pairs(as_labelled(sample.measure(t)), ref)

    def metrics_for(self, label, metrics: list) -> list:
        """The study's metrics to measure for ``label`` (default: all of them)."""
        return list(metrics)

    def check(self, model_cls, owner: str) -> None:
        """Check the pairing's own fields against the model (before any work); raise ValueError."""


@dataclass(frozen=True)
class ParticleVsContinuum(Pairing):
    """Particles (``sample_particles`` then ``simulate_particles``) against ``solve_continuum``, species
    by species through ``.measure(t)``; a species with no particles left is the zero measure. The
    default pairing of a study."""


@dataclass(frozen=True)
class SDEVsContinuum(Pairing):
    """A particle system integrated as an SDE, ``simulate_particles(..., scheme=scheme)``, against
    ``solve_continuum``: e.g. ``SDEVsContinuum("euler_maruyama")`` for the dislocations' (SDE_n) or
    ``SDEVsContinuum("stochastic_heun")`` for the signed charges' stochastic Heun scheme. The scheme
    names are the models' ``scheme=`` spellings."""

    scheme: str = "euler_maruyama"
    reserved: ClassVar[dict] = {"particles": {"scheme"}}
    reference_fields: ClassVar[tuple] = ()

    def sample(self, model, settings, t_end, times, rng):
        state = model.sample_particles(settings["n"], rng=sample_rng(model, rng), **settings["sample"])
        return model.simulate_particles(state, t_end=t_end, times=times, rng=dynamics_rng(model, rng),
                                        scheme=self.scheme, **settings["particles"])

    def check(self, model_cls, owner):
        if not isinstance(self.scheme, str):
            raise ValueError(f"SDEVsContinuum.scheme must be a scheme name string, got {self.scheme!r}")


@dataclass(frozen=True)
class ActiveParts(Pairing):
    """The active (not yet annihilated) particles against the continuum's active parts.

    Sample side: ``model.active_measures(traj, t)`` (``{plus: measure or None, minus: ...}``); reference
    side: the positive and negative parts of ``κ = ρ^{plus} − ρ^{minus}`` of the continuum densities
    (grid densities on one grid), ``[κ]_+`` under label ``plus`` and ``[κ]_-`` under ``minus``. With
    ``full=True`` the whole measures (annihilated particles included) are compared too, under their
    species labels, and the active parts are labelled ``"active" + label``. The masses of the two
    active parts differ in general, so a Wasserstein distance between them is NaN (undefined); use a
    bounded-Lipschitz metric. ``full_metrics`` / ``active_metrics`` (default: all the study's metrics)
    choose the metrics measured on the whole measures and on the active parts.
    """

    plus: str = "+"
    minus: str = "-"
    full: bool = False
    full_metrics: tuple | None = None
    active_metrics: tuple | None = None
    reference_fields: ClassVar[tuple] = ()
    unequal_masses: ClassVar[bool] = True

    def check(self, model_cls, owner):
        from meanfield.study import METRICS

        for name in ("full_metrics", "active_metrics"):
            chosen = getattr(self, name)
            if chosen is None:
                continue
            listed = isinstance(chosen, (list, tuple)) and not isinstance(chosen, str)
            if not listed or any(m not in METRICS for m in chosen):
                raise ValueError(f"ActiveParts.{name} must be a list of metric names from {METRICS}, got {chosen!r}")

    def metrics_for(self, label, metrics):
        active = str(label).startswith("active") if self.full else True
        chosen = self.active_metrics if active else self.full_metrics
        return list(metrics) if chosen is None else [m for m in metrics if m in chosen]

    def measures(self, model, sample, reference, t):
        from meanfield.measures import GridDensity

        dens = as_labelled(reference.measure(t))
        for label in (self.plus, self.minus):
            if label not in dens or not isinstance(dens[label], GridDensity):
                raise ValueError(f"ActiveParts needs grid densities labelled {self.plus!r} and {self.minus!r} on "
                                 f"the reference side, got {sorted(dens)}")
        kappa = dens[self.plus].values - dens[self.minus].values
        grid = dens[self.plus].grid
        cont = {self.plus: GridDensity(np.clip(kappa, 0.0, None), grid),
                self.minus: GridDensity(np.clip(-kappa, 0.0, None), grid)}
        active = model.active_measures(sample, t)
        parts = {k: v for k, v in active.items() if v is not None}
        prefix = "active" if self.full else ""
        out = {f"{prefix}{k}": pair for k, pair in _pairs(parts, cont, [self.plus, self.minus]).items()}
        if self.full:
            ref = {k: positive_part(v) for k, v in dens.items()}
            out = {**_pairs(as_labelled(sample.measure(t)), ref), **out}
        return out


@dataclass(frozen=True)
class LatticeVsLattice(Pairing):
    """Random walkers on the lattice ``εZ²`` against the lattice ODE on the same lattice.

    Sample: ``model.sample_lattice_particles(n, eps, rng=rng, **sample)`` then
    ``model.simulate_random_walks(state, eps, t_end, times, rng, **particles)`` (exact kinetic Monte
    Carlo); reference: ``model.solve_lattice(eps, t_end, times, **continuum)``. Sweep the spacing with
    ``pairing.eps``. ``balanced=True`` fixes the signs, ``n // 2`` positive walkers and the rest
    negative (``n_plus = n // 2``: mass discrepancy κ = 0 for the preset data, as in Theorem 1.6);
    default: i.i.d. signs.
    """

    eps: float = 1.0 / 16
    balanced: bool = False
    sections: ClassVar[dict] = {"sample": "sample_lattice_particles", "particles": "simulate_random_walks",
                                "continuum": "solve_lattice"}
    # simulate_random_walks(state, eps, t_end, times, rng, ...): all but its keywords are set here
    reserved: ClassVar[dict] = {"sample": {"eps", "n_plus"}, "particles": {"state", "eps", "t_end", "times", "rng"},
                                "continuum": {"eps"}}

    def reference(self, model, settings, t_end, times):
        return model.solve_lattice(self.eps, t_end=t_end, times=times, **settings["continuum"])

    def sample(self, model, settings, t_end, times, rng):
        n = settings["n"]
        extra = {"n_plus": n // 2} if self.balanced else {}
        state = model.sample_lattice_particles(n, self.eps, rng=rng, **extra, **settings["sample"])
        return model.simulate_random_walks(state, self.eps, t_end=t_end, times=times, rng=rng,
                                           **settings["particles"])

    def check(self, model_cls, owner):
        eps = self.eps
        if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating)) or not 0 < float(eps) <= 1:
            raise ValueError(f"{type(self).__name__}.eps must be a lattice spacing in (0, 1], got {eps!r}")
        if not isinstance(self.balanced, bool):
            raise ValueError(f"{type(self).__name__}.balanced must be True or False, got {self.balanced!r}")


@dataclass(frozen=True)
class MassClasses(Pairing):
    """Particles with integer masses (species labelled by the mass, ``"1"``, ``"2"``, ...) against the
    continuum densities ``f_m``, grouped into mass classes.

    ``classes``: ``{class name: [mass labels]}``; default: every mass its own class plus ``"all"``.
    ``weight="number"`` compares number densities; ``"mass"`` weights class ``m`` by ``m`` (the mass
    density ``Σ m f_m``, conserved by coagulation). A class with no particles left is the zero measure.
    """

    classes: dict | None = None
    weight: str = "number"
    reference_fields: ClassVar[tuple] = ()

    def check(self, model_cls, owner):
        if self.weight not in ("number", "mass"):
            raise ValueError(f"MassClasses.weight must be 'number' or 'mass', got {self.weight!r}")
        if self.classes is not None:
            if not isinstance(self.classes, dict) or not self.classes:
                raise ValueError(f"MassClasses.classes must be a non-empty mapping name -> mass labels, "
                                 f"got {self.classes!r}")
            for name, labels in self.classes.items():
                if isinstance(labels, (str, bytes)) or not isinstance(labels, (list, tuple)) or not labels:
                    raise ValueError(f"MassClasses.classes[{name!r}] must be a non-empty list of mass labels, "
                                     f"got {labels!r}")

    def _scale(self, label) -> float:
        if self.weight == "number":
            return 1.0
        try:
            return float(int(str(label)))
        except ValueError:
            raise ValueError(f"MassClasses(weight='mass') needs integer mass labels, got {label!r}") from None

    def _merge(self, parts: list):
        """One measure from ``[(label, measure)]`` of one kind (empirical or grid), weights scaled."""
        from meanfield.measures import EmpiricalMeasure, GridDensity

        parts = [(lab, m) for lab, m in parts if m is not None]
        if not parts:
            return None
        first = parts[0][1]
        if isinstance(first, EmpiricalMeasure):
            pos = np.concatenate([m.positions for _, m in parts])
            w = np.concatenate([m.weights * self._scale(lab) for lab, m in parts])
            return EmpiricalMeasure(pos, w, first.domain)
        if isinstance(first, GridDensity):
            return GridDensity(sum(m.values * self._scale(lab) for lab, m in parts), first.grid)
        raise ValueError(f"MassClasses merges empirical measures or grid densities, got {type(first).__name__}")

    def measures(self, model, sample, reference, t):
        emp = as_labelled(sample.measure(t))
        cont = {k: positive_part(v) for k, v in as_labelled(reference.measure(t)).items()}
        if self.classes is None:
            labels = sorted(set(emp) | set(cont), key=species_order)
            classes = {**{str(lab): [lab] for lab in labels}, "all": labels}
        else:
            classes = {str(k): [str(v) for v in vs] for k, vs in self.classes.items()}
        return {name: (self._merge([(lab, emp.get(lab)) for lab in labs]),
                       self._merge([(lab, cont.get(lab)) for lab in labs])) for name, labs in classes.items()}


class _ExactRun:
    """A reference 'run' given by a function: ``.measure(t) = solution(model, t)``."""

    def __init__(self, solution, model):
        self.solution, self.model = solution, model

    def measure(self, t):
        return self.solution(self.model, t)


@dataclass(frozen=True)
class ParticleVsExact(Pairing):
    """Particles against an exact solution ``solution(model, t) -> {label: measure}`` (or one measure).

    Only the labels the solution gives are compared. ``solution`` must be a module-level function for
    local processes and dask (it is pickled by reference); its identity in a study is its qualified
    name and a hash of its source text.
    """

    solution: object = None
    sections: ClassVar[dict] = {"sample": "sample_particles", "particles": "simulate_particles", "continuum": None}

    def check(self, model_cls, owner):
        if not callable(self.solution):
            raise ValueError(f"ParticleVsExact.solution must be a function (model, t) -> measures, "
                             f"got {self.solution!r}")

    def reference(self, model, settings, t_end, times):
        return _ExactRun(self.solution, model)

    def measures(self, model, sample, reference, t):
        exact = as_labelled(reference.measure(t))
        return _pairs(as_labelled(sample.measure(t)), exact, sorted(exact, key=species_order))


@dataclass(frozen=True)
class ContinuumVsContinuum(Pairing):
    """Two continuum runs of one model: the sample ``solve_continuum(**{**continuum, **other})`` against
    the reference ``solve_continuum(**{**continuum, **reference_kwargs})``: e.g. ``other={"method":
    "finite_volume"}`` (a solver cross-check), or a sweep of ``continuum.resolution`` against
    ``reference_kwargs={"resolution": 6400}`` (a refinement study: the reference is computed once). No
    particles, so the sweep needs no ``n``; both runs are deterministic, so one seed suffices."""

    other: dict = field(default_factory=dict)
    reference_kwargs: dict = field(default_factory=dict)
    sections: ClassVar[dict] = {"sample": None, "particles": None, "continuum": "solve_continuum"}
    needs_n: ClassVar[bool] = False

    def check(self, model_cls, owner):
        from meanfield.study_inputs import method_parameters

        accepted, _, reserved = method_parameters(model_cls, "solve_continuum", owner)
        for name in ("other", "reference_kwargs"):
            given = getattr(self, name)
            if not isinstance(given, dict) or not all(isinstance(k, str) for k in given):
                raise ValueError(f"ContinuumVsContinuum.{name} must be a mapping of keyword names, got {given!r}")
            for key in given:
                if key in reserved or (accepted is not None and key not in accepted):
                    raise ValueError(f"ContinuumVsContinuum.{name} key {key!r} is not a keyword of "
                                     f"{owner}.solve_continuum; valid: {', '.join(sorted(accepted or ()))}")

    def reference_parts(self, settings):
        from meanfield.store import native

        kwargs = native({**settings["continuum"], **self.reference_kwargs}, "continuum")
        return [type(self).__qualname__, settings["model"], kwargs]

    def reference(self, model, settings, t_end, times):
        return model.solve_continuum(t_end=t_end, times=times, **{**settings["continuum"], **self.reference_kwargs})

    def sample(self, model, settings, t_end, times, rng):
        return model.solve_continuum(t_end=t_end, times=times, **{**settings["continuum"], **self.other})

    def measures(self, model, sample, reference, t):
        ref = {k: positive_part(v) for k, v in as_labelled(reference.measure(t)).items()}
        other = {k: positive_part(v) for k, v in as_labelled(sample.measure(t)).items()}
        return _pairs(other, ref)


@dataclass(frozen=True)
class ParticlesFrom(Pairing):
    """Particles started from a given state, ``initial(model, n, rng) -> state`` (instead of
    ``sample_particles``), without a reference: a study of observers only (``metrics=[]``), e.g. for
    hand-made configurations. ``initial`` must be a module-level function for worker processes."""

    initial: object = None
    sections: ClassVar[dict] = {"sample": None, "particles": "simulate_particles", "continuum": None}
    compares: ClassVar[bool] = False

    def check(self, model_cls, owner):
        if not callable(self.initial):
            raise ValueError(f"ParticlesFrom.initial must be a function (model, n, rng) -> state, got {self.initial!r}")

    def reference(self, model, settings, t_end, times):
        return None

    def sample(self, model, settings, t_end, times, rng):
        state = self.initial(model, settings["n"], rng)
        return model.simulate_particles(state, t_end=t_end, times=times, rng=dynamics_rng(model, rng),
                                        **settings["particles"])

    def measures(self, model, sample, reference, t):
        return {}


@dataclass(frozen=True)
class ParticlesOnly(Pairing):
    """Particle runs without a reference: a study of observers only (no distances, ``metrics=[]``)."""

    sections: ClassVar[dict] = {"sample": "sample_particles", "particles": "simulate_particles", "continuum": None}
    compares: ClassVar[bool] = False

    def reference(self, model, settings, t_end, times):
        return None

    def measures(self, model, sample, reference, t):
        return {}


# --- coupled particle systems (one run, two sides, shared noise) --------------------------------------------
class CoupledRun:
    """The two sides of a coupled run at its output times: ``paths`` (e.g. a
    :class:`~meanfield.particles.dislocation_couplings.CoupledPaths`: lifts ``x``, ``x_bar`` of shape
    ``(n, 2)``, signs ``signs``, ``times``, ``info``) and the model's species labels, sign +1 the first.
    ``measure(t)`` / ``reference_measure(t)``: the empirical measures (weight ``1/n`` each, positions
    wrapped onto the unit torus) of ``X`` and of ``X̄``, per species; ``mean_distance(t)``: the
    pathwise distance ``(1/n) Σ_i |X_i − X̄_i|`` of the lifts."""

    def __init__(self, paths, labels):
        self.paths, self.labels = paths, tuple(labels)
        self.times = np.asarray(paths.times, dtype=float)
        self.info = paths.info

    def index(self, t) -> int:
        k = int(np.argmin(np.abs(self.times - t)))
        if not np.isclose(self.times[k], t, rtol=0.0, atol=1e-12 * max(1.0, abs(t))):
            raise ValueError(f"t={t!r} is not an output time of this coupled run ({self.times.tolist()})")
        return k

    def _measures(self, side, t) -> dict:
        from meanfield.measures import Domain, EmpiricalMeasure

        k = self.index(t)
        pos = np.mod(np.asarray(side[k], dtype=float), 1.0)
        b = np.asarray(self.paths.signs)
        w = np.full(b.size, 1.0 / b.size)
        torus = Domain.torus(pos.shape[1], 1.0)
        return {label: EmpiricalMeasure(pos[b == sign], w[b == sign], torus)
                for label, sign in zip(self.labels, (1, -1), strict=True) if np.any(b == sign)}

    def measure(self, t) -> dict:
        return self._measures(self.paths.x, t)

    def reference_measure(self, t) -> dict:
        return self._measures(self.paths.x_bar, t)

    def mean_distance(self, t) -> float:
        return self.paths.mean_distance(self.index(t))


@dataclass(frozen=True)
class CoupledPairing(Pairing):
    """Base of the coupled pairings: the sample run makes both sides from one noise (module docstring),
    so there is no shared reference (``reference_per_seed``); :meth:`measures` pairs the empirical
    measures of ``X`` and ``X̄`` species by species. Subclasses implement :meth:`couple`."""

    balanced: bool = True
    distances: bool = True
    reference_per_seed: ClassVar[bool] = True
    reference_fields: ClassVar[tuple] = ()

    @property
    def compares(self) -> bool:  # type: ignore[override]  # a class constant elsewhere; here set by `distances`
        """``distances=False``: no distances between the two sides' empirical measures (``metrics=[]``),
        only the observers (e.g. :class:`PathwiseDistance`): for lattice walkers the two sides often
        coincide up to a few walkers, where an optimal-transport plan cannot be resolved."""
        return self.distances

    def reference(self, model, settings, t_end, times):
        return None

    def couple(self, model, settings, t_end, times, rng):
        raise NotImplementedError

    def sample(self, model, settings, t_end, times, rng):
        return CoupledRun(self.couple(model, settings, t_end, times, rng), model.species)

    def measures(self, model, sample, reference, t):
        return _pairs(sample.measure(t), sample.reference_measure(t), list(model.species))

    def check(self, model_cls, owner):
        for name in ("balanced", "distances"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{type(self).__name__}.{name} must be True or False, got {getattr(self, name)!r}")
        if not hasattr(model_cls, self.method):
            raise ValueError(f"{type(self).__name__} needs a model with {self.method}; {owner} has none")


@dataclass(frozen=True)
class CoupledSDEMeanField(CoupledPairing):
    """(SDE_n) coupled to ``n`` McKean–Vlasov copies driven by the same Brownian increments (paper 003,
    Lemma 4.2; ``model.couple_sde_mean_field``). Initial state: ``n // 2`` particles of each sign with
    i.i.d. positions (``balanced``, κ = 0; :func:`~meanfield.particles.dislocation_couplings.sample_fixed_signs`)
    or ``model.sample_particles`` (i.i.d. signs); the same generator then drives the increments.
    Keywords: ``particles.*`` go to ``couple_sde_mean_field`` (``dt``, ``resolution``)."""

    method: ClassVar[str] = "couple_sde_mean_field"
    sections: ClassVar[dict] = {"sample": None, "particles": "couple_sde_mean_field", "continuum": None}
    reserved: ClassVar[dict] = {"particles": {"state", "t_end", "times", "rng", "initial"}}

    def couple(self, model, settings, t_end, times, rng):
        from meanfield.particles.dislocation_couplings import sample_fixed_signs

        n = settings["n"]
        state = sample_fixed_signs(model, n, rng=rng) if self.balanced else model.sample_particles(n, rng=rng)
        return model.couple_sde_mean_field(state, t_end, times, rng=rng, **settings["particles"])


@dataclass(frozen=True)
class CoupledWalkersMeanField(CoupledPairing):
    """(RW_n^ε) coupled to ``n`` independent walkers with the MF^ε rates, random time changes of the same
    unit Poisson processes (paper 003, Lemma 5.2; ``model.couple_walkers_mean_field``). Initial state:
    ``model.sample_lattice_particles(n, eps, n_plus=n // 2 if balanced)``; sweep the spacing with
    ``pairing.eps``. Keywords: ``particles.*`` go to ``couple_walkers_mean_field`` (``cell_dt``)."""

    eps: float = 1.0 / 16
    method: ClassVar[str] = "couple_walkers_mean_field"
    sections: ClassVar[dict] = {"sample": None, "particles": "couple_walkers_mean_field", "continuum": None}
    reserved: ClassVar[dict] = {"particles": {"states", "eps", "t_end", "times", "rng", "initial"}}

    def couple(self, model, settings, t_end, times, rng):
        n = settings["n"]
        extra = {"n_plus": n // 2} if self.balanced else {}
        state = model.sample_lattice_particles(n, self.eps, rng=rng, **extra)
        return model.couple_walkers_mean_field([state], self.eps, t_end, times, rng=rng, **settings["particles"])[0]

    def check(self, model_cls, owner):
        super().check(model_cls, owner)
        LatticeVsLattice.check(self, model_cls, owner)


@dataclass(frozen=True)
class PathwiseDistance(Observer):
    """Observer of a :class:`CoupledRun`: ``(1/n) Σ_i |X_i − X̄_i|(t)`` (the quantity of 003's Lemmas 4.2
    and 5.2), recorded on the sample side under ``pathwise_distance``."""

    name: str = "pathwise_distance"
    on: str = "sample"

    def observe(self, model, run, t):
        if not isinstance(run, CoupledRun):
            raise ValueError(f"PathwiseDistance observes coupled runs, got {type(run).__name__}")
        return run.mean_distance(t)
