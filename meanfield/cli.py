"""Command line: ``meanfield validate | run | plot``.

    meanfield validate [PAPER ...] [--quick | --full] [--workers K | --executor ADDRESS] [--store DIR] --out DIR
    meanfield run MODEL particles|continuum [...] --out FILE
    meanfield study STUDY.toml --out DIR [--workers K | --scheduler ADDRESS]
    meanfield plot FILE [--compare OTHER] --out PNG

``meanfield <command> --help`` explains every option.

A user error (bad or unknown option, unknown model parameter or solver keyword, missing, unreadable
or malformed input file, an output path that cannot be written) prints one line
``meanfield: error: ...`` on stderr and exits with status 2, before any work is done where it can be
checked beforehand; ``--debug`` adds the traceback. Ctrl-C exits with 130 and SIGTERM with 143,
leaving no partial file behind.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import sys
from pathlib import Path

__all__ = ["build_parser", "main"]


class UsageError(Exception):
    """A command-line mistake; reported as one line and exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises :class:`UsageError` instead of printing usage and exiting."""

    def error(self, message):
        command = self.prog.split(" ", 1)[1] if " " in self.prog else ""
        raise UsageError(f"{command}: {message}" if command else message)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def _key_value(text: str):
    """``key=value`` with ``value`` a Python literal (number, string, tuple, list, bool)."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key.isidentifier():
        raise argparse.ArgumentTypeError(f"{key!r} is not a valid parameter name (in {text!r})")
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw  # a bare word is a string
    return key, value


def build_parser() -> argparse.ArgumentParser:
    """The parser of the command line (``meanfield --help``; ``docs/user-guide/cli.md``).

    Returns
    -------
    argparse.ArgumentParser
        Subcommands ``validate``, ``run``, ``study`` and ``plot``; a bad option raises
        ``UsageError`` (reported by :func:`main` as one line, exit status 2).

    Examples
    --------
    >>> args = build_parser().parse_args(["plot", "sol.nc", "--compare", "particles.npz", "--out", "cmp.png"])
    >>> args.command, str(args.file), str(args.compare), args.times
    ('plot', 'sol.nc', 'particles.npz', None)
    """
    parser = _Parser(
        prog="meanfield",
        description="Particle systems, their mean-field limits, and the distances between them. "
        "User errors give one line on stderr and exit status 2.",
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    val = sub.add_parser(
        "validate",
        parents=[common],
        help="check the papers' claims and write a report folder",
        description="Run validation/<paper>.py for the chosen papers (all by default) and write "
        "DIR/report.md (pass/fail table per claim), DIR/summary.json, DIR/timings.json, and per paper the "
        "figures and data. Papers declared as studies run on --workers local processes or on a dask cluster "
        "(--executor) and keep finished tasks in --store, so an interrupted run resumes when repeated with "
        "the same --store; the report does not depend on how it was executed. Exit status 1 if any claim failed.",
    )
    val.add_argument("papers", nargs="*", metavar="PAPER",
                     help="paper numbers (000-004) or module names (coulomb2d, annihilation1d, newtonian1d, "
                     "dislocations, smoluchowski); default: all")
    mode = val.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="quick", action="store_true", default=True,
                      help="small sizes, about a minute per paper on 2 cores (default)")
    mode.add_argument("--full", dest="quick", action="store_false",
                      help="the full studies the issues ask for (minutes to hours)")
    val.add_argument("--out", type=Path, default=Path("validation-report"),
                     help="report folder, created if missing (default: ./validation-report)")
    val_where = val.add_mutually_exclusive_group()
    val_where.add_argument("--workers", type=_positive_int,
                           help="run the studies on this many local processes (default: in-process)")
    val_where.add_argument("--executor", metavar="ADDRESS",
                           help="address of a dask.distributed scheduler, e.g. tcp://host:8786 (the workers must "
                           "be able to import meanfield and validation)")
    val.add_argument("--store", type=Path, metavar="DIR",
                     help="folder keeping every finished study task (DIR/<paper module>/<study>); rerunning with the "
                     "same --store skips them, so a killed run resumes (a store made by other settings is refused)")

    run = sub.add_parser(
        "run",
        parents=[common],
        help="run one model's particle system or continuum solver to a file",
        description="Build models.MODEL(**params), then either sample and simulate particles (saved as .npz) "
        "or solve the continuum equation (saved as netCDF).",
    )
    run.add_argument("model", help="model class name, e.g. Newtonian1D")
    run.add_argument("side", choices=["particles", "continuum"], help="which side to run")
    run.add_argument("--param", type=_key_value, action="append", default=[], metavar="KEY=VALUE",
                     help="model parameter (repeatable); VALUE is a Python literal, e.g. rho_support=(0,1)")
    run.add_argument("--t-end", type=float, required=True, help="final time")
    run.add_argument("--times", type=float, nargs="+", help="output times (default: t-end only)")
    run.add_argument("--n", type=_positive_int,
                     help="particles: number of particles (per species where the model says so)")
    run.add_argument("--seed", type=_nonnegative_int, default=0, help="particles: random seed (default 0)")
    run.add_argument("--resolution", type=_positive_int, help="continuum: passed to solve_continuum as resolution=")
    run.add_argument("--scheme", help="continuum: the numerical scheme, passed as scheme= (e.g. spectral, "
                     "finite_volume, quantile)")
    run.add_argument("--method", help="deprecated spelling of --scheme for models that still accept method=")
    run.add_argument("--solver-arg", type=_key_value, action="append", default=[], metavar="KEY=VALUE",
                     help="extra keyword for simulate_particles / solve_continuum (repeatable)")
    run.add_argument("--out", type=Path, required=True, help="output file (.npz for particles, .nc for continuum)")

    study = sub.add_parser(
        "study",
        parents=[common],
        help="run a convergence study described in a TOML file",
        description="Run the sweep x seeds of STUDY.toml (see meanfield.study.load_study_file for the format) "
        "and write DIR/results.csv (one row per parameter set, seed, time, species, metric), DIR/rates.csv "
        "(fitted slopes with confidence intervals) and DIR/rates.png. Finished tasks are kept in DIR/tasks, "
        "so rerunning an interrupted study resumes it; DIR/tasks/study.json records every setting of the study, "
        "and a rerun after any change to the study file is refused (give a new --out).",
    )
    study.add_argument("file", type=Path, help="study description (TOML)")
    study.add_argument("--out", type=Path, required=True, help="output folder")
    where = study.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_positive_int, help="run on this many local processes (default: in-process)")
    where.add_argument("--scheduler", help="address of a dask.distributed scheduler, e.g. tcp://host:8786")
    study.add_argument("--x", default="n", help="swept parameter the rates are fitted against (default: n)")

    plot = sub.add_parser(
        "plot",
        parents=[common],
        help="plot a saved continuum run (.nc) or particle run (.npz)",
        description="Densities per species at the chosen times (continuum) or particle histograms / clouds "
        "(particles), written as a PNG.",
    )
    plot.add_argument("file", type=Path, help="a file written by 'meanfield run'")
    plot.add_argument("--compare", type=Path, metavar="OTHER",
                      help="the other side of the same model (a .npz particle run for a .nc continuum run, or the "
                      "reverse): draw the particles' histograms against the densities at one time (the last "
                      "shared output time unless --times gives one)")
    plot.add_argument("--times", type=float, nargs="+", help="times to show (default: all output times)")
    plot.add_argument("--out", type=Path, required=True, help="PNG file to write")
    return parser


# --- checks made before any work --------------------------------------------------------------
def _input_file(path: Path) -> None:
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if path.is_dir():
        raise UsageError(f"{path}: is a folder, expected a file")
    if not os.access(path, os.R_OK):
        raise UsageError(f"{path}: not readable (permission denied)")


def _writable_folder(folder: Path, option: str = "--out", shown: Path | None = None) -> None:
    """Create ``folder`` when missing and check that a file can be written in it (``shown``: the
    path the user gave, when it is a file in ``folder``)."""
    from meanfield import io

    shown = folder if shown is None else shown
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{option} {shown}: {existing} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        io.check_writable(folder)
    except OSError as exc:
        raise UsageError(f"{option} {shown}: cannot write in {folder} ({exc.strerror or exc})") from exc


def _output_file(path: Path, option: str = "--out") -> None:
    if path.is_dir():
        raise UsageError(f"{option} {path}: is an existing folder; give a file name")
    _writable_folder(path.parent, option, shown=path)


def _unique(option: str, pairs) -> dict:
    out: dict[str, object] = {}
    for key, value in pairs:
        if key in out:
            raise UsageError(f"{option} {key}: given twice ({out[key]!r} and {value!r})")
        out[key] = value
    return out


def _check_keywords(cls, owner: str, method: str, given: dict, options: dict) -> None:
    """Each key of ``given`` must be accepted by ``cls.method``; ``options[key]`` names its option."""
    from meanfield.study_inputs import method_parameters

    accepted, _, reserved = method_parameters(cls, method, owner)
    target = owner if method == "__init__" else f"{owner}.{method}"
    what = "a parameter of" if method == "__init__" else "a keyword of"
    for key in given:
        label = f"{options[key]} {key}" if options[key] in ("--param", "--solver-arg") else options[key]
        if key in reserved:
            raise UsageError(f"{label}: set by the command itself (--n, --seed, --t-end, --times)")
        if accepted is not None and key not in accepted:
            raise UsageError(f"{label}: not {what} {target}; valid: {', '.join(sorted(accepted)) or '(none)'}")


def _check_required(cls, owner: str, method: str, given: dict, hint: str) -> None:
    from meanfield.study_inputs import method_parameters

    _, required, _ = method_parameters(cls, method, owner)
    missing = sorted(required - set(given))
    if missing:
        raise UsageError(f"{owner}.{method} needs {missing[0]!r}; {hint.format(name=missing[0])}")


# --- commands --------------------------------------------------------------------------------
def _cmd_validate(args) -> int:
    from tqdm import tqdm

    from meanfield.validation.runner import resolve_papers, run_validation

    modules = resolve_papers(args.papers)
    _writable_folder(args.out)
    if args.store is not None:
        _writable_folder(args.store, "--store")
    executor = _connect(args.executor) if args.executor is not None else None
    try:
        with tqdm(total=len(modules), unit="paper", file=sys.stderr) as bar:
            results = run_validation(
                modules, args.out, quick=args.quick,
                on_start=lambda m: bar.set_description(m),
                on_done=lambda m, rep: bar.update(1),
                workers=args.workers, executor=executor, store=args.store,
            )
    finally:
        if executor is not None:
            executor.close()
    failed = [f"{m}" for m, rep, _ in results if not rep.passed]
    print(f"report: {args.out / 'report.md'}")
    if failed:
        print(f"claims failed in: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _connect(address: str):
    """A dask client for ``address``; an unreachable scheduler is a user error (one line, exit 2)."""
    try:
        from dask.distributed import Client
    except ImportError as exc:
        raise UsageError(f"--executor {address}: dask.distributed is not installed ({exc})") from None
    try:
        return Client(address, timeout=10)
    except (OSError, TimeoutError, ValueError) as exc:
        raise UsageError(f"--executor {address}: cannot connect to a dask scheduler ({type(exc).__name__}: "
                         f"{exc})") from None


def _cmd_run(args) -> int:
    import numpy as np

    from meanfield import io, models

    if args.model not in models.__all__:
        raise UsageError(f"unknown model {args.model!r}; available: {', '.join(models.__all__)}")
    cls = getattr(models, args.model)
    params = _unique("--param", args.param)
    _check_keywords(cls, args.model, "__init__", params, dict.fromkeys(params, "--param"))
    model = cls(**params)  # checks the values (cheap: no run yet)
    extra = _unique("--solver-arg", args.solver_arg)
    options = dict.fromkeys(extra, "--solver-arg")
    if args.side == "particles":
        if args.n is None:
            raise UsageError("run particles: --n is required")
        for flag, value in (("--resolution", args.resolution), ("--scheme", args.scheme), ("--method", args.method)):
            if value is not None:
                raise UsageError(f"run particles: {flag} is an option of the continuum side")
        method = "simulate_particles"
    else:
        for flag, key in (("--resolution", "resolution"), ("--scheme", "scheme"), ("--method", "method")):
            value = getattr(args, key)
            if value is not None:
                if key in extra:
                    raise UsageError(f"run continuum: {key} given by both {flag} and --solver-arg")
                extra[key], options[key] = value, flag
        method = "solve_continuum"
        _check_required(cls, args.model, method, {**extra, "t_end": 0, "times": 0},
                        "give it with --{name} or --solver-arg {name}=VALUE")
    _check_keywords(cls, args.model, method, extra, options)
    _output_file(args.out)

    times = args.times or [args.t_end]
    if args.side == "particles":
        from meanfield.pairings import dynamics_rng

        rng = None if getattr(model, "deterministic", False) else np.random.default_rng(args.seed)
        state = model.sample_particles(args.n, rng=rng)
        traj = model.simulate_particles(state, t_end=args.t_end, times=times, rng=dynamics_rng(model, rng), **extra)
        io.save_trajectory(traj, args.out, model=model, seed=None if rng is None else args.seed)
    else:
        sol = model.solve_continuum(t_end=args.t_end, times=times, **extra)
        io.save_dataset(sol, args.out)
    print(f"wrote {args.out}")
    return 0


_STUDY_OUTPUTS = ("results.csv", "rates.csv", "rates.png")


def _cmd_study(args) -> int:
    from meanfield import io
    from meanfield.study import fit_rates, load_study_file, plot_rates

    _input_file(args.file)
    study = load_study_file(args.file)
    if args.x not in study.sweep:
        raise UsageError(f"study: --x {args.x!r} is not swept in {args.file}; swept: {', '.join(study.sweep)}")
    _writable_folder(args.out)
    for name in _STUDY_OUTPUTS:
        if (args.out / name).is_dir():
            raise UsageError(f"--out {args.out}: {args.out / name} is a folder, where the study writes a file")
    table = study.run(workers=args.workers, executor=args.scheduler, store=args.out / "tasks", progress=True)
    rates, fig = fit_rates(table, x=args.x), plot_rates(table, x=args.x)
    io.save_table(table, args.out / "results.csv")
    io.save_table(rates, args.out / "rates.csv")
    io.save_figure(fig, args.out / "rates.png", dpi=120)
    print(f"wrote {', '.join(str(args.out / name) for name in _STUDY_OUTPUTS)}")
    return 0


def _cmd_plot(args) -> int:
    from meanfield import io, plot

    _input_file(args.file)
    if args.compare is not None:
        _input_file(args.compare)
        suffixes = sorted(p.suffix == ".npz" for p in (args.file, args.compare))
        if suffixes != [False, True]:
            raise UsageError("plot --compare: give one particle run (.npz) and one continuum run (.nc), got "
                             f"{args.file} and {args.compare}")
        if args.times is not None and len(args.times) != 1:
            raise UsageError(f"plot --compare: --times takes one time, got {len(args.times)}")
    _output_file(args.out)
    if args.compare is not None:
        fig = plot.compare_outputs(args.file, args.compare, t=None if args.times is None else args.times[0])
    else:
        fig = plot.plot_output(args.file, times=args.times)
    io.save_figure(fig, args.out, dpi=120)
    print(f"wrote {args.out}")
    return 0


# --- entry point -----------------------------------------------------------------------------
def _output_folder(args) -> Path | None:
    """The folder a command writes into (its stale temporary files are removed before it starts)."""
    if args.command in ("run", "plot"):
        return args.out.parent
    if args.command in ("study", "validate"):
        return args.out
    return None


_USER_ERRORS = (UsageError, ValueError, TypeError, OSError)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}"
        if exc.filename2 is not None:
            text += f" (-> {exc.filename2})"
    else:
        text = str(exc) or type(exc).__name__
    return re.sub(r"\s*\n\s*", " ", text.strip())


def main(argv: list[str] | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 done, 1 a validation claim failed, 2 a user error (one line
        ``meanfield: error: ...`` on stderr), 130 interrupted, 128 + the signal number when
        terminated by a signal.

    Examples
    --------
    >>> from meanfield import io
    >>> from meanfield.models import Annihilation1D
    >>> model = Annihilation1D()
    >>> _ = io.save_dataset(model.solve_continuum(1e-3, resolution=64), "sol.nc")
    >>> _ = io.save_trajectory(model.simulate_particles(model.sample_particles(32), 1e-3), "p.npz", model=model)
    >>> main(["plot", "sol.nc", "--compare", "p.npz", "--out", "cmp.png"])
    wrote cmp.png
    0
    >>> main(["plot", "missing.nc", "--out", "x.png"])  # the error line goes to stderr
    2
    """
    import traceback

    from meanfield.io import Terminated, clean_stale_temporaries, terminate_as_interrupt

    debug = False
    try:
        args = build_parser().parse_args(argv)
        debug = args.debug
        commands = {"validate": _cmd_validate, "run": _cmd_run, "study": _cmd_study, "plot": _cmd_plot}
        with terminate_as_interrupt():
            folder = _output_folder(args)
            if folder is not None:
                clean_stale_temporaries(folder)
            return commands[args.command](args)
    except Terminated as exc:
        print(f"meanfield: {exc}; partial files removed", file=sys.stderr)
        return 128 + int(exc.signum)
    except KeyboardInterrupt:
        print("meanfield: interrupted; partial files removed", file=sys.stderr)
        return 130
    except _USER_ERRORS as exc:
        if debug:
            traceback.print_exc()
        print(f"meanfield: error: {_one_line(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
