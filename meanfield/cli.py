"""Command line: ``meanfield validate | run | plot``.

    meanfield validate [PAPER ...] [--full] --out DIR     pass/fail report of the papers' claims
    meanfield run MODEL particles|continuum [...] --out FILE
    meanfield study STUDY.toml --out DIR [--workers K | --scheduler ADDRESS]
    meanfield plot FILE --out PNG

``meanfield <command> --help`` explains every option.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

__all__ = ["main", "build_parser"]


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
    parser = argparse.ArgumentParser(
        prog="meanfield",
        description="Particle systems, their mean-field limits, and the distances between them.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    val = sub.add_parser(
        "validate",
        help="check the papers' claims and write a report folder",
        description="Run validation/<paper>.py for the chosen papers (all by default) and write "
        "DIR/report.md (pass/fail table per claim), DIR/summary.json, and per paper the figures and data. "
        "Exit status 1 if any claim failed.",
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

    run = sub.add_parser(
        "run",
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
    run.add_argument("--n", type=int, help="particles: number of particles (per species where the model says so)")
    run.add_argument("--seed", type=int, default=0, help="particles: random seed (default 0)")
    run.add_argument("--resolution", type=int, help="continuum: passed to solve_continuum as resolution=")
    run.add_argument("--method", help="continuum: solver name passed as method=")
    run.add_argument("--solver-arg", type=_key_value, action="append", default=[], metavar="KEY=VALUE",
                     help="extra keyword for simulate_particles / solve_continuum (repeatable)")
    run.add_argument("--out", type=Path, required=True, help="output file (.npz for particles, .nc for continuum)")

    study = sub.add_parser(
        "study",
        help="run a convergence study described in a TOML file",
        description="Run the sweep x seeds of STUDY.toml (see meanfield.study.load_study_file for the format) "
        "and write DIR/results.csv (one row per parameter set, seed, time, species, metric), DIR/rates.csv "
        "(fitted slopes with confidence intervals) and DIR/rates.png. Finished tasks are kept in DIR/tasks, "
        "so rerunning an interrupted study resumes it.",
    )
    study.add_argument("file", type=Path, help="study description (TOML)")
    study.add_argument("--out", type=Path, required=True, help="output folder")
    where = study.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, help="run on this many local processes (default: in-process)")
    where.add_argument("--scheduler", help="address of a dask.distributed scheduler, e.g. tcp://host:8786")
    study.add_argument("--x", default="n", help="swept parameter the rates are fitted against (default: n)")

    plot = sub.add_parser(
        "plot",
        help="plot a saved continuum run (.nc) or particle run (.npz)",
        description="Densities per species at the chosen times (continuum) or particle histograms / clouds "
        "(particles), written as a PNG.",
    )
    plot.add_argument("file", type=Path, help="a file written by 'meanfield run'")
    plot.add_argument("--times", type=float, nargs="+", help="times to show (default: all output times)")
    plot.add_argument("--out", type=Path, required=True, help="PNG file to write")
    return parser


def _cmd_validate(args) -> int:
    from tqdm import tqdm

    from validation.runner import resolve_papers, run_validation

    modules = resolve_papers(args.papers)
    with tqdm(total=len(modules), unit="paper", file=sys.stderr) as bar:
        results = run_validation(
            modules, args.out, quick=args.quick,
            on_start=lambda m: bar.set_description(m),
            on_done=lambda m, rep: bar.update(1),
        )
    failed = [f"{m}" for m, rep, _ in results if not rep.passed]
    print(f"report: {args.out / 'report.md'}")
    if failed:
        print(f"claims failed in: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _cmd_run(args) -> int:
    from meanfield import io, models

    model_cls = getattr(models, args.model, None)
    if model_cls is None:
        raise SystemExit(f"meanfield run: unknown model {args.model!r}; available: {', '.join(models.__all__)}")
    model = model_cls(**dict(args.param))
    extra = dict(args.solver_arg)
    times = args.times or [args.t_end]
    if args.side == "particles":
        if args.n is None:
            raise SystemExit("meanfield run particles: --n is required")
        state = model.sample_particles(args.n, rng=args.seed)
        traj = model.simulate_particles(state, t_end=args.t_end, times=times, **extra)
        io.save_trajectory(traj, args.out)
    else:
        if args.resolution is not None:
            extra["resolution"] = args.resolution
        if args.method is not None:
            extra["method"] = args.method
        sol = model.solve_continuum(t_end=args.t_end, times=times, **extra)
        io.save_dataset(sol, args.out)
    print(f"wrote {args.out}")
    return 0


def _cmd_study(args) -> int:
    from meanfield import io
    from meanfield.study import fit_rates, load_study_file, plot_rates

    study = load_study_file(args.file)
    table = study.run(workers=args.workers, executor=args.scheduler, store=args.out / "tasks", progress=True)
    rates, fig = fit_rates(table, x=args.x), plot_rates(table, x=args.x)
    io.save_table(table, args.out / "results.csv")
    io.save_table(rates, args.out / "rates.csv")
    io.save_figure(fig, args.out / "rates.png", dpi=120)
    print(f"wrote {args.out / 'results.csv'}, {args.out / 'rates.csv'}, {args.out / 'rates.png'}")
    return 0


def _cmd_plot(args) -> int:
    from meanfield import io, plot

    if args.file.suffix == ".npz":
        fig = plot.plot_trajectory(io.load_trajectory(args.file), times=args.times)
    else:
        fig = plot.plot_continuum(io.load_dataset(args.file), times=args.times)
    io.save_figure(fig, args.out, dpi=120)
    print(f"wrote {args.out}")
    return 0


def _output_folder(args) -> Path | None:
    """The folder a command writes into (its stale temporary files are removed before it starts)."""
    if args.command in ("run", "plot"):
        return args.out.parent
    if args.command == "study":
        return args.out
    return None


def main(argv=None) -> int:
    from meanfield.io import Terminated, clean_stale_temporaries, terminate_as_interrupt

    args = build_parser().parse_args(argv)
    commands = {"validate": _cmd_validate, "run": _cmd_run, "study": _cmd_study, "plot": _cmd_plot}
    try:
        with terminate_as_interrupt():
            folder = _output_folder(args)
            if folder is not None:
                clean_stale_temporaries(folder)
            return commands[args.command](args)
    except ValueError as exc:  # bad parameters: one clear line, no traceback
        print(f"meanfield {args.command}: {exc}", file=sys.stderr)
        return 2
    except Terminated as exc:
        print(f"meanfield: {exc}; partial files removed", file=sys.stderr)
        return 128 + int(exc.signum)
    except KeyboardInterrupt:
        print("meanfield: interrupted; partial files removed", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
