"""The ``atmp-report`` command line.

Exit codes (:data:`EXIT_CODES`): 0 done or up to date; 1 invalid data (answers that are not
the instrument's, listed cell by cell); 2 usage error, or a file that cannot be read or
written; 3 a report notebook failed (kept, its cell named); 4 another build of the output is
running (``--no-wait``); 130, 143 and 129 interrupted (Ctrl-C), terminated (SIGTERM) or
hung up (SIGHUP); 70 an internal error. A build that fails leaves the previous report as
it was. An error is printed as one clear message naming the file, without a traceback;
``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from atmp_analysis import __version__
from atmp_analysis.config import (
    DEMO_DIR,
    PROCESSED_DIR,
    QUESTION_LIST,
    REPORT_FILE,
    REPORTS_DIR,
    default_key_path,
    demo_exports,
)
from atmp_analysis.errors import SurveyError
from atmp_analysis.runner import CELL_TIMEOUT, START_TIMEOUT

log = logging.getLogger("atmp_analysis")

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_NOTEBOOK, EXIT_BUSY = 0, 1, 2, 3, 4
EXIT_INTERNAL, EXIT_INTERRUPTED = 70, 130
EXIT_CODES = (
    "exit codes: 0 done (for build: built, or already up to date); 1 invalid data (every bad "
    "cell is listed); 2 usage error, or a file that cannot be read or written; 3 a report "
    "notebook failed or timed out (the executed notebook is kept and its cell named); "
    "4 another build of the same output is running and --no-wait was given; "
    "130 interrupted (Ctrl-C); 143 stopped by SIGTERM (129 by SIGHUP); "
    "70 an internal error (a bug: the traceback is printed). A build that does not exit 0 "
    "leaves the previous report and processed tables as they were."
)


def _survey_paths(surveys: list[Path]) -> list[Path]:
    if surveys:
        return surveys
    paths = demo_exports(fmt="redcap")
    if not paths:  # installed without the source tree: make the demo on the fly
        from atmp_analysis.demo import generate

        folder = Path(tempfile.mkdtemp(prefix="atmp-demo-"))
        paths = [p for p in generate(folder) if p.suffix == ".csv"]
    log.info("no survey given: reading the demo survey (%s)", ", ".join(p.name for p in paths))
    return paths


def _process(args: argparse.Namespace, paths: list[Path], *, report_wave: bool = False):
    """Read, clean, identify and merge; ``report_wave``: ``--wave`` picks the wave to report
    and is each file's year only when the file has no submission times."""
    from atmp_analysis.pipeline import data_quality, read_surveys, to_projects
    from atmp_analysis.pseudonym import load_key

    key = load_key(args.key_file or default_key_path())
    responses = read_surveys(
        paths,
        key,
        dictionary=args.dictionary,
        codebooks=args.codebook,
        wave=None if report_wave else args.wave,
        default_wave=args.wave if report_wave else None,
        allow_invalid=args.allow_invalid,
        file_waves=args.file_waves,
    )
    blanked = [p for p in responses.attrs.get("problems", ()) if p.problem.endswith("; blanked")]
    if blanked:
        log.warning(
            "--allow-invalid blanked %d cell(s):\n%s",
            len(blanked),
            "\n".join(f"  - {p}" for p in blanked),
        )
    projects = to_projects(responses, dictionary=args.dictionary)
    quality = data_quality(responses)
    return responses, projects, quality


def _summary(responses, projects, quality) -> str:
    by_wave = projects.groupby("wave").size()
    waves = ", ".join(f"{n} in {w}" for w, n in by_wave.items())
    return (
        f"{len(responses)} responses read, {len(projects)} project rows ({waves}); "
        f"{len(quality)} data-quality notes"
    )


def _class_counts(projects) -> str:
    """One line per wave: the projects by ATMP class, in the classes' order."""
    from atmp_analysis.classify import CLASSES

    counts = projects.groupby("wave")["atmp_class"].value_counts()
    lines = []
    for wave in sorted(projects["wave"].unique()):
        of_wave = counts.loc[wave]
        parts = [f"{of_wave[c]} {c}" for c in CLASSES if c in of_wave.index]
        lines.append(f"{wave}: {sum(of_wave)} projects: " + ", ".join(parts))
    return "\n".join(lines)


def cmd_classify(args: argparse.Namespace) -> int:
    from atmp_analysis.refresh import locked
    from atmp_analysis.tables import write_tables

    paths = _survey_paths(args.surveys)
    responses, projects, quality = _process(args, paths)
    with locked([args.out]):
        written = write_tables(responses, projects, quality, args.out)
    log.info("%s", _summary(responses, projects, quality))
    log.info(
        "ATMP classes (advice, not a verdict; see atmp_class_reason):\n%s", _class_counts(projects)
    )
    for path in written.values():
        print(path)
    return EXIT_OK


def _centre(args: argparse.Namespace) -> str:
    if args.centre is not None:
        return args.centre
    if not args.surveys:
        from atmp_analysis.demo import load_spec

        return load_spec()["centre"]["name"] + " (synthetic demo)"
    return "ATMP centre"


def cmd_build(args: argparse.Namespace) -> int:
    """Build the report under the output's lock, skipping when nothing changed, and record
    the run in ``OUT/runs.jsonl`` however it ends."""
    from atmp_analysis.build import (
        STEPS,
        Limits,
        build_report,
        check_folders,
        remove_stale_work,
    )
    from atmp_analysis.provenance import now
    from atmp_analysis.pseudonym import load_key
    from atmp_analysis.refresh import (
        RUNS_FILE,
        append_run,
        fingerprint,
        locked,
        run_entry,
        up_to_date,
    )

    started, clock = now(), time.perf_counter()
    out, processed = args.out.resolve(), args.processed.resolve()
    progress = args.progress
    progress.steps = list(STEPS)
    paths: list[Path] = []
    parameters: dict = {}

    def record(outcome: str, code: int, **extra) -> None:
        if not out.is_dir() and outcome == "busy":
            return  # the other build makes the folder; a busy run never does
        entry = run_entry(
            started=started,
            seconds=time.perf_counter() - clock,
            outcome=outcome,
            exit_code=code,
            inputs=paths,
            parameters=parameters,
            **extra,
        )
        try:
            append_run(out / RUNS_FILE, entry)
        except OSError as exc:
            log.warning("could not record the run in %s: %s", out / RUNS_FILE, exc.strerror)

    # an --out that is not a report folder is refused before anything, a record too, is
    # written into it
    check_folders(out, processed)
    stack = contextlib.ExitStack()
    try:
        stack.enter_context(locked([out, processed], wait=not args.no_wait))
    except BaseException as exc:
        code, outcome = _exit_code(exc)
        record(outcome, code, message=_first_line(exc))
        raise
    # the lock is held until the run is recorded: no other build of the same output can
    # swap the run record away in between
    with stack:
        try:
            remove_stale_work(out, processed)
            paths = _survey_paths(args.surveys)
            centre = _centre(args)
            parameters = {
                "wave": args.wave,
                "file_waves": {str(f): y for f, y in args.file_waves.items()},
                "centre": centre,
                "audience": args.audience,
                "min_cell": args.min_cell,
                "allow_invalid": args.allow_invalid,
                "processed": str(processed),
            }
            key = load_key(args.key_file or default_key_path())
            definitions = [p for p in [args.dictionary, *args.codebook] if p]
            # the processed folder is not part of the request: the check below finds the
            # tables there as the last build wrote them, or rebuilds
            request = {k: v for k, v in parameters.items() if k != "processed"}
            print_ = fingerprint(paths, definitions, request, key)
            del key
            last = None if args.force else up_to_date(out, processed, print_)
            if last is not None:
                log.info(
                    "%s is up to date: it was built at %s from the same inputs and "
                    "parameters, and its files are intact (--force builds it again)",
                    out,
                    last.get("finished", "?"),
                )
                parameters["wave"] = last.get("parameters", {}).get("wave", args.wave)
                record("up-to-date", EXIT_OK, report=str(out / REPORT_FILE))
                progress.close()
                print(out / REPORT_FILE)
                return EXIT_OK
            with progress.step(STEPS[0]):
                responses, projects, quality = _process(args, paths, report_wave=True)
            log.info("%s", _summary(responses, projects, quality))
            result = build_report(
                responses,
                projects,
                quality,
                inputs=paths,
                out=out,
                processed=processed,
                wave=args.wave,
                centre=centre,
                audience=args.audience,
                min_cell=args.min_cell,
                jobs=args.jobs,
                limits=Limits(cell=args.cell_timeout, start=args.kernel_timeout),
                fingerprint=print_,
                request=parameters,
                started=started,
                clock=clock,
                progress=progress,
            )
        except BaseException as exc:
            code, outcome = _exit_code(exc)
            kept = getattr(exc, "kept", None)
            message = getattr(exc, "summary", None) or _first_line(exc)
            record(outcome, code, message=message, failed_notebook=kept and str(kept))
            raise
    progress.close()  # the status line is done with; what follows are plain lines
    size = result.report.stat().st_size
    log.info(
        "built %s report for %s in %.1f s: %d files; the HTML is %.0f kB",
        args.audience,
        result.manifest["parameters"]["wave"],
        result.seconds,
        len(result.outputs),
        size / 1024,
    )
    print(result.report)
    return EXIT_OK


def _first_line(exc: BaseException) -> str:
    """The first line of an error's message, short: what a run record keeps of it."""
    text = _message(exc)
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if len(line) <= 300 else line[:297] + "..."


def cmd_check(args: argparse.Namespace) -> int:
    from atmp_analysis.pipeline import check_surveys
    from atmp_analysis.spreadsheet import write_csv

    problems, unreadable = check_surveys(
        args.surveys,
        dictionary=args.dictionary,
        codebooks=args.codebook,
        wave=args.wave,
        file_waves=args.file_waves,
    )
    errors = int((problems["severity"] == "error").sum())
    warnings = len(problems) - errors
    for record in problems.itertuples(index=False):
        where = str(record.file)
        if not _missing(record.row):
            where += f", row {int(record.row)}"
        if not _missing(record.column):
            where += f", column {record.column!r}"
        value = "" if _missing(record.value) or record.value == "" else f": {record.value!r}"
        print(f"{record.severity}: {where}{value}: {record.problem}")
    if args.out:  # the values are respondents' text: neutralised for spreadsheets
        write_csv(problems, args.out)
    files = len(args.surveys)
    log.info(
        "%d error(s) and %d warning(s) in %d file(s)%s",
        errors,
        warnings,
        files,
        f"; {unreadable} could not be read" if unreadable else "",
    )
    if unreadable:
        return EXIT_USAGE
    return EXIT_INVALID if errors else EXIT_OK


def _missing(value) -> bool:
    import pandas as pd

    return value is None or bool(pd.isna(value))


def cmd_codebook(args: argparse.Namespace) -> int:
    from atmp_analysis.atomic import atomic_write
    from atmp_analysis.codedraft import draft_codebook
    from atmp_analysis.instrument import resolve_instrument

    if args.out.exists() and not args.force:
        raise SurveyError(f"{args.out}: already exists; pass --force to replace it")
    instrument = resolve_instrument(args.dictionary, tuple(args.codebook))
    text = draft_codebook(args.survey, instrument)
    with atomic_write(args.out) as handle:
        handle.write(text)
    unsure = len(re.findall(r"(?m)^\s+sure: false\s*$", text))
    log.info(
        "drafted %s: %s",
        args.out,
        f"{unsure} entr{'y' if unsure == 1 else 'ies'} marked 'sure: false' to check"
        if unsure
        else "every header matched surely; check it before use",
    )
    print(args.out)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from atmp_analysis.demo import further_waves, generate

    for path in generate(args.out, seed=args.seed):
        print(path)
    if args.further_waves:
        made = further_waves(args.out, args.further_waves, seed=args.seed)
        events = made.events().set_index("wave")
        log.info(
            "simulated %d further wave(s) with known rates: %s",
            args.further_waves,
            "; ".join(
                f"{w}: {r.fih} first-in-human, {r.phase2} Phase II, {r.approval} approved"
                for w, r in events.iterrows()
            ),
        )
        for path in made.paths:
            print(path)
    return EXIT_OK


def cmd_instrument(args: argparse.Namespace) -> int:
    import shutil

    from atmp_analysis.config import DATA_DICTIONARY

    args.out.mkdir(parents=True, exist_ok=True)
    for source in (DATA_DICTIONARY, QUESTION_LIST):
        target = args.out / source.name
        shutil.copyfile(source, target)
        print(target)
    return EXIT_OK


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _wave_option(text: str) -> int | tuple[Path, int]:
    """``--wave YEAR`` or ``--wave FILE=YEAR``."""
    name, sep, year = text.rpartition("=")
    try:
        value = int(year)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a year or FILE=YEAR: {text!r}") from None
    if not 1990 <= value <= 2100:
        raise argparse.ArgumentTypeError(f"{value} is not a survey year (1990-2100)")
    if sep and not name:
        raise argparse.ArgumentTypeError(f"no file before '=': {text!r}")
    return (Path(name), value) if sep else value


def _split_waves(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """``args.wave``: the one ``--wave YEAR`` (or ``None``); ``args.file_waves``: the
    ``--wave FILE=YEAR`` pairs, each file once."""
    given = getattr(args, "wave", None)
    if not isinstance(given, list):
        return
    years = [w for w in given if isinstance(w, int)]
    pairs = [w for w in given if isinstance(w, tuple)]
    if len(set(years)) > 1:
        parser.error(f"{args.command}: --wave YEAR given more than once ({years[0]}, {years[1]})")
    files = [str(f.resolve()) for f, _ in pairs]
    if len(set(files)) < len(files):
        twice = next(f for f, _ in pairs if files.count(str(f.resolve())) > 1)
        parser.error(f"{args.command}: --wave gives {twice} more than one year")
    args.wave = years[0] if years else None
    args.file_waves = dict(pairs)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``atmp-report``."""
    parser = argparse.ArgumentParser(
        prog="atmp-report",
        description="Read an ATMP centre's pipeline survey exports, merge them into projects "
        "and build the report.",
        epilog=EXIT_CODES[0].upper() + EXIT_CODES[1:],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks"
    )
    verbosity = common.add_mutually_exclusive_group()
    verbosity.add_argument(
        "-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="only errors"
    )
    verbosity.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="more detail"
    )
    for action in common._actions:
        parser._add_action(action)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def instrument_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--dictionary",
            type=Path,
            metavar="FILE",
            help="the centre's own REDCap data dictionary (default: the shipped one)",
        )
        p.add_argument(
            "--codebook",
            type=Path,
            action="append",
            default=[],
            metavar="FILE",
            help="a codebook (YAML) mapping the centre's own headers and labels onto the "
            "instrument; repeatable (the English and Swedish ones are always applied)",
        )

    def data_options(
        p: argparse.ArgumentParser, wave_help: str | None = None, *, processing: bool = True
    ) -> None:
        p.add_argument(
            "surveys",
            nargs="*",
            type=Path,
            metavar="SURVEY",
            help="survey exports (REDCap, Microsoft Forms, Qualtrics, Google Forms, or any "
            "CSV/xlsx a codebook maps)"
            + ("; default: the bundled demo survey" if processing else ""),
        )
        instrument_options(p)
        p.add_argument(
            "--wave",
            type=_wave_option,
            action="append",
            default=[],
            metavar="YEAR|FILE=YEAR",
            help=(wave_help or "survey year of every file")
            + "; FILE=YEAR gives one file's survey year (repeat it for several years at "
            "once); default: each file's most common year of submission",
        )
        if not processing:  # check reads and validates, and writes no processed data
            return
        p.add_argument(
            "--allow-invalid",
            action="store_true",
            help="blank the cells that break the instrument (unknown choices, impossible "
            "years), listing each, instead of refusing the file",
        )
        p.add_argument(
            "--key-file",
            type=Path,
            metavar="FILE",
            help="pseudonymisation key (default: $ATMP_ANALYSIS_KEY_FILE or "
            f"{default_key_path()}; created on first use)",
        )

    p = sub.add_parser(
        "classify",
        parents=[common],
        help="classify the projects; write responses.csv, projects.csv, data_quality.csv, "
        "unrecognised_values.csv",
    )
    data_options(p)
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser(
        "build",
        parents=[common],
        help="process the survey, run the report notebooks and write the HTML report",
        description="Process the surveys, run the report notebooks with papermill and write "
        "DIR/atmp_pipeline_report.html, DIR/notebooks/, DIR/figures/, DIR/tables/ and "
        "DIR/manifest.json, and append a line to DIR/runs.jsonl. --wave picks the wave to "
        "report (default: the latest); each file's survey year comes from its submission "
        "times. The build works in a folder beside DIR and swaps it in only when everything "
        "succeeded; one build of DIR runs at a time; a build whose inputs and parameters have "
        "not changed says so and stops.",
        epilog=EXIT_CODES[0].upper() + EXIT_CODES[1:],
    )
    data_options(
        p,
        wave_help="the survey year to report (default: the latest in the data); "
        "also the year of a file without submission times",
    )
    p.add_argument("--centre", metavar="NAME", help="the centre's name in the report")
    p.add_argument(
        "--audience",
        choices=("internal", "public"),
        default="internal",
        help="internal: every count, free-text quotes and the project listing (never personal "
        "data); public: counts below --min-cell hidden with secondary suppression, no "
        "free text, no listing (default: internal)",
    )
    p.add_argument(
        "--min-cell",
        type=_positive,
        default=3,
        metavar="N",
        help="the smallest count a public report shows (default: 3)",
    )
    p.add_argument(
        "--jobs",
        type=_positive,
        metavar="N",
        help="notebooks run at once (default: the number of cores)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=REPORTS_DIR,
        metavar="DIR",
        help=f"report folder (default: {REPORTS_DIR})",
    )
    p.add_argument(
        "--processed",
        type=Path,
        default=PROCESSED_DIR,
        metavar="DIR",
        help=f"processed tables folder (default: {PROCESSED_DIR})",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="build even when the inputs, parameters and code are those of the last good "
        "build and its files are intact (default: say it is up to date and stop)",
    )
    p.add_argument(
        "--no-wait",
        action="store_true",
        help="when another build of the same output is running, stop at once (exit 4) "
        "instead of waiting for it",
    )
    p.add_argument(
        "--cell-timeout",
        type=_positive,
        default=CELL_TIMEOUT,
        metavar="SECONDS",
        help=f"longest a notebook cell may run (default: {CELL_TIMEOUT})",
    )
    p.add_argument(
        "--kernel-timeout",
        type=_positive,
        default=START_TIMEOUT,
        metavar="SECONDS",
        help=f"longest a notebook's kernel may take to start (default: {START_TIMEOUT})",
    )
    p.set_defaults(func=cmd_build)

    p = sub.add_parser(
        "check",
        parents=[common],
        help="list every problem of survey exports: file, row, column, value, what was "
        "expected (exit 1 on errors, 0 with only warnings)",
        description="Read and validate survey exports without processing them. Every "
        "problem is printed as one line: severity, file, row (as in the file: the header is "
        "row 1), column header as written, the value and what was expected. Exit codes: 0 "
        "no errors (warnings only), 1 errors, 2 a file could not be read.",
    )
    data_options(
        p,
        wave_help="survey year for times relative to it (default: the year of submission)",
        processing=False,
    )
    p.set_defaults(surveys_required=True)
    p.add_argument("--out", type=Path, metavar="FILE", help="also write the list as CSV")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser(
        "codebook",
        parents=[common],
        help="draft a codebook for an export with the centre's own wording",
        description="Match the headers and choice labels of SURVEY to the instrument's "
        "questions and choices and write a draft codebook (YAML). Entries it is unsure of "
        "are marked 'sure: false' and are refused until the analyst checks them and "
        "deletes the mark; headers it cannot match are listed under 'unmapped'.",
    )
    p.add_argument("survey", type=Path, metavar="SURVEY")
    p.add_argument("--out", type=Path, required=True, metavar="FILE")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
    instrument_options(p)
    p.set_defaults(func=cmd_codebook)

    p = sub.add_parser("demo", parents=[common], help="write the synthetic demo survey exports")
    p.add_argument("--out", type=Path, default=DEMO_DIR, metavar="DIR")
    p.add_argument("--seed", type=int, default=20230301)
    p.add_argument(
        "--further-waves",
        type=_positive,
        default=0,
        metavar="N",
        help="also simulate the next N survey waves with known rates (one draw of the "
        "forecast's posterior) as REDCap exports, with the realised events in "
        "demo_truth_events.csv and the rates in demo_truth_rates.csv",
    )
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "instrument",
        parents=[common],
        help="write the REDCap data dictionary and the plain question list",
    )
    p.add_argument("--out", type=Path, required=True, metavar="DIR")
    p.set_defaults(func=cmd_instrument)
    return parser


def _message(exc: BaseException) -> str:
    """What went wrong, in words (no traceback)."""
    from atmp_analysis.refresh import Terminated

    if isinstance(exc, Terminated):
        return f"stopped by {exc.name}"
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return where + (exc.strerror or str(exc))
    if isinstance(exc, SurveyError):
        return str(exc.args[0])
    return str(exc) or type(exc).__name__


def _exit_code(exc: BaseException) -> tuple[int, str]:
    """The exit code and the run record's outcome for an exception that ended a command."""
    from atmp_analysis.build import NotebookFailed
    from atmp_analysis.refresh import Busy, Terminated

    if isinstance(exc, SurveyError):
        return (EXIT_INVALID, "invalid-data") if exc.problems else (EXIT_USAGE, "unusable-input")
    if isinstance(exc, NotebookFailed):
        return EXIT_NOTEBOOK, "notebook-failed"
    if isinstance(exc, Busy):
        return EXIT_BUSY, "busy"
    if isinstance(exc, OSError):
        return EXIT_USAGE, "io-error"
    if isinstance(exc, Terminated):
        return 128 + exc.signum, "terminated"
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED, "interrupted"
    return EXIT_INTERNAL, "internal-error"


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``atmp-report``; return the exit code."""
    from atmp_analysis.progress import console
    from atmp_analysis.refresh import termination_as_exception

    parser = build_parser()
    args = parser.parse_args(argv)
    for flag in ("debug", "quiet", "verbose"):
        setattr(args, flag, getattr(args, flag, False))
    _split_waves(parser, args)
    if getattr(args, "surveys_required", False) and not args.surveys:
        parser.error(f"{args.command}: give at least one SURVEY file")
    level = logging.ERROR if args.quiet else logging.DEBUG if args.verbose else logging.INFO
    with console(level) as progress, termination_as_exception():
        args.progress = progress
        try:
            return args.func(args)
        except BaseException as exc:
            if args.debug or isinstance(exc, SystemExit):
                raise
            code, _ = _exit_code(exc)
            progress.close()
            _explain(exc, code, args)
            return code


def _explain(exc: BaseException, code: int, args: argparse.Namespace) -> None:
    """Print one clear message for the error that ended the command."""
    import traceback

    unchanged = ""
    if args.command == "build" and code != EXIT_BUSY and (args.out / REPORT_FILE).is_file():
        unchanged = f"; the previous report in {args.out} is unchanged"
    if code == EXIT_INTERNAL:
        traceback.print_exc()
        print(f"error: internal error (please report it): {_message(exc)}", file=sys.stderr)
        return
    print(f"error: {_message(exc)}{unchanged}", file=sys.stderr)
    kept = getattr(exc, "kept", None)
    if kept is not None:
        print(f"  the failed notebook, as executed: {kept}", file=sys.stderr)
    for problem in getattr(exc, "problems", ()):
        # every bad cell, not a sample: the user fixes the export from this list
        print(f"  - {problem}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
