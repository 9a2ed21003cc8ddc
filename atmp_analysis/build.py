"""The build: data steps, notebooks under papermill, HTML, figures, tables and a manifest.

    process the surveys → data/processed/*.csv
    run the notebooks (independent ones in parallel) → DIR/notebooks/*.ipynb and *.html
    the report notebook as HTML → DIR/atmp_pipeline_report.html
    every figure of the notebooks → DIR/figures/*.png and *.svg
    the report's tables → DIR/tables/*.csv and DIR/tables/atmp_pipeline_tables.xlsx
    inputs, parameters, versions, outputs with sha256 → DIR/manifest.json
    one line for the run → DIR/runs.jsonl

Everything is written into new folders (one beside ``DIR``, one inside the processed folder)
and published only at the end: the report folder in one rename, then the tables file by
file, with SIGTERM, SIGHUP and Ctrl-C held back meanwhile. A failed build leaves the last
good report and tables as they were. Each notebook runs in a process of its own
(:mod:`atmp_analysis.runner`) and gets its parameters from a JSON file, never as code; a
failed one is kept in ``DIR.failed/``. The command line adds the lock, the up-to-date
check and the run record of failed runs (:mod:`atmp_analysis.refresh`).
"""

from __future__ import annotations

import base64
import ctypes
import errno
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pandas as pd

from atmp_analysis.atomic import umask
from atmp_analysis.config import REPORT_FILE, SOURCE_ROOT
from atmp_analysis.errors import SurveyError
from atmp_analysis.progress import Progress
from atmp_analysis.provenance import describe_files, now, record
from atmp_analysis.refresh import (
    RUNS_FILE,
    Terminated,
    append_run,
    run_entry,
    signals_deferred,
)
from atmp_analysis.runner import CELL_TIMEOUT, START_TIMEOUT, NotebookProcess, Outcome

log = logging.getLogger("atmp_analysis")

NOTEBOOK_DIR = SOURCE_ROOT / "notebooks"
WORKBOOK = "atmp_pipeline_tables.xlsx"


@dataclass(frozen=True)
class Notebook:
    """A notebook the build runs: its file stem, title and the audiences it is built for."""

    stem: str
    title: str
    audiences: tuple[str, ...] = ("internal", "public")
    source: Path | None = None  # a notebook elsewhere than notebooks/ (an analyst's own)

    @property
    def path(self) -> Path:
        """The notebook to run (committed without outputs)."""
        return self.source or NOTEBOOK_DIR / f"{self.stem}.ipynb"


#: The notebooks the build runs; they are independent of each other.
NOTEBOOKS = (
    Notebook("10_report", "ATMP pipeline report"),
    Notebook("01_data_quality", "Data quality", ("internal",)),
    Notebook("02_pipeline_overview", "Pipeline overview"),
    Notebook("03_needs_and_bottlenecks", "Needs and bottlenecks"),
    Notebook("04_progress_and_outlook", "Progress and outlook"),
)
REPORT_NOTEBOOK = "10_report"


class NotebookFailed(RuntimeError):
    """A notebook failed while the build ran it: which, in which cell, and where the executed
    notebook is kept (``kept``), when it could be."""

    def __init__(
        self, message: str, *, executed: Path | None = None, summary: str | None = None
    ) -> None:
        super().__init__(message)
        self.executed = executed  # the executed notebook while the build runs
        self.kept: Path | None = None  # where it was kept afterwards
        #: the message without the error's text (which may quote the data), for the record
        self.summary = summary or message


@dataclass
class BuildResult:
    """What a build wrote, and how long it took."""

    out: Path
    report: Path
    manifest: dict
    seconds: float
    outputs: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class Limits:
    """Time limits of the notebooks, in seconds: one cell, and a kernel's start."""

    cell: int = CELL_TIMEOUT
    start: int = START_TIMEOUT


#: The steps of a build as the command line shows them.
STEPS = (
    "reading the surveys",
    "writing the processed tables",
    "running the notebooks",
    "exporting the report",
    "publishing",
)
#: Where a notebook finds the build's parameters: a file in the folder it runs in. The build
#: hands papermill only this fixed name, so nothing from the data is ever written as code.
PARAMETERS_FILE = ".run/parameters.json"
#: Failed runs whose executed notebooks are kept beside the output folder.
KEEP_FAILED = 5


def run_notebooks(
    notebooks: Sequence[Notebook],
    folder: Path,
    *,
    jobs: int | None = None,
    limits: Limits = Limits(),
    progress: Progress | None = None,
) -> dict[str, nbformat.NotebookNode]:
    """Run ``notebooks`` (each in a process of its own, ``jobs`` at a time) in ``folder``.

    The executed notebooks are written to ``folder/notebooks/``. The first failure ends the
    others and raises :class:`NotebookFailed` (or ``OSError`` when a notebook could not be
    written); no process or kernel outlives the call, however it ends.
    """
    work = folder / ".run"
    work.mkdir(exist_ok=True)
    (folder / "notebooks").mkdir(exist_ok=True)
    workers = max(1, min(jobs or os.cpu_count() or 1, len(notebooks)))
    step = STEPS[2]
    log.debug("running %d notebooks, %d at a time", len(notebooks), workers)
    waiting = list(notebooks)
    running: dict[str, tuple[Notebook, NotebookProcess]] = {}
    done = 0
    try:
        while waiting or running:
            while waiting and len(running) < workers:
                notebook = waiting.pop(0)
                spec = {
                    "source": str(notebook.path),
                    "target": str(folder / "notebooks" / f"{notebook.stem}.ipynb"),
                    "parameters": {"parameters_file": PARAMETERS_FILE},
                    "cwd": str(folder),
                    "cell_timeout": limits.cell,
                    "start_timeout": limits.start,
                }
                running[notebook.stem] = (notebook, NotebookProcess(spec, work))
                if progress:
                    progress.event("notebook %s started", notebook.stem)
            for stem, (notebook, process) in list(running.items()):
                outcome = process.poll()
                if outcome is None:
                    continue
                del running[stem]
                if not outcome.ok:
                    raise _failure(notebook, outcome, folder)
                done += 1
                if progress:
                    progress.event("notebook %s ran in %.1f s", stem, process.seconds)
            if progress:
                times = {stem: p.seconds for stem, (_, p) in running.items()}
                progress.tasks(step, times, done, len(notebooks))
            time.sleep(0.1)
    finally:
        for _, process in running.values():
            process.stop()
    return {
        n.stem: nbformat.read(folder / "notebooks" / f"{n.stem}.ipynb", as_version=4)
        for n in notebooks
    }


def _failure(notebook: Notebook, outcome: Outcome, folder: Path) -> BaseException:
    if outcome.kind == "io":
        return OSError(
            outcome.errno or errno.EIO, f"cannot write notebook {notebook.stem}: {outcome.message}"
        )
    where = ""
    if outcome.cell is not None:
        where = f" in cell {outcome.cell}" + (f" ({outcome.source})" if outcome.source else "")
    what = outcome.message.split(":", 1)[0] if outcome.kind == "cell-error" else outcome.message
    return NotebookFailed(
        f"notebook {notebook.stem} failed{where}: {outcome.message}",
        executed=folder / "notebooks" / f"{notebook.stem}.ipynb",
        summary=f"notebook {notebook.stem} failed{where}: {what}",
    )


def _keep_failed(error: NotebookFailed, out: Path, run_id: str) -> None:
    """Move the failed executed notebook beside the output; keep the last few runs."""
    executed = error.executed
    if executed is None or not executed.is_file():
        return
    failed = out.parent / f"{out.name}.failed"
    target = failed / run_id / executed.name
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(executed, target)
    except OSError as exc:
        log.warning("could not keep the failed notebook %s: %s", executed.name, exc)
        return
    error.kept = target
    runs = sorted(p for p in failed.iterdir() if p.is_dir())
    for old in runs[:-KEEP_FAILED]:
        shutil.rmtree(old, ignore_errors=True)


def save_figures(nb: nbformat.NotebookNode, folder: Path) -> list[Path]:
    """Write the PNG and SVG of every report figure in an executed notebook."""
    written = []
    folder.mkdir(parents=True, exist_ok=True)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            meta = output.get("metadata", {}).get("atmp", {})
            name = meta.get("figure")
            data = output.get("data", {})
            if not name or "image/png" not in data:
                continue
            png = folder / f"{name}.png"
            png.write_bytes(base64.b64decode(data["image/png"]))
            written.append(png)
            if "image/svg+xml" in data:
                svg = folder / f"{name}.svg"
                svg.write_text(data["image/svg+xml"], encoding="utf-8")
                written.append(svg)
    return written


def write_exhibit_tables(report, folder: Path, extra: dict[str, pd.DataFrame]) -> list[Path]:
    """The report's tables as CSV files and one workbook with a sheet per table.

    Text that a spreadsheet would take for a formula is neutralised in both
    (:mod:`atmp_analysis.spreadsheet`). ``extra``: the analysts' sheets (internal builds),
    written as CSV too.
    """
    from atmp_analysis.sections import exhibit_tables
    from atmp_analysis.spreadsheet import write_csv, write_workbook

    folder.mkdir(parents=True, exist_ok=True)
    tables = {name: table for name, (table, _) in exhibit_tables(report).items()}
    written = [write_csv(t, folder / f"{name}.csv", index=True) for name, t in tables.items()]
    written += [write_csv(table, folder / f"{name}.csv") for name, table in extra.items()]
    sheets = {**tables, **extra}
    written.append(write_workbook(sheets, folder / WORKBOOK, index=set(tables)))
    return written


def exchange(staging: Path, out: Path) -> None:
    """Put ``staging`` in the place of ``out`` in one step; the old report ends up at
    ``staging``. Where the system cannot swap two folders atomically (``renameat2``), the
    old one is moved aside first, and back when the second rename fails."""
    if out.exists() and _renameat2_exchange(staging, out):
        return
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
    try:
        staging.rename(out)
    except BaseException:
        if old is not None:
            old.rename(out)
        raise
    if old is not None:
        old.rename(staging)


def _renameat2_exchange(a: Path, b: Path) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    renameat2.argtypes += [ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def check_folders(out: Path, processed: Path) -> None:
    """Refuse an output the build must not replace: the build swaps the whole ``out`` folder,
    so it must be new, empty, or a report folder a build wrote (it has ``manifest.json``).

    Raises
    ------
    SurveyError
        Naming the folder and what is wrong with it (exit 2 on the command line).
    """
    out, processed = Path(out).resolve(), Path(processed).resolve()
    if out.exists() and not out.is_dir():
        raise SurveyError(f"{out}: --out must be a folder for the report, and this is a file")
    if out.is_dir() and not (out / "manifest.json").is_file():
        others = sorted(p.name for p in out.iterdir() if p.name != RUNS_FILE)
        if others:
            raise SurveyError(
                f"{out}: not a report folder (it holds {', '.join(others[:3])}"
                f"{', ...' if len(others) > 3 else ''} but no manifest.json of a build); the "
                "build replaces the whole folder, so give a new or empty one"
            )
    if out == processed or out in processed.parents or processed in out.parents:
        raise SurveyError(
            f"--out {out} and --processed {processed}: give two separate folders, "
            "neither inside the other"
        )


def remove_stale_work(out: Path, processed: Path) -> list[Path]:
    """Remove the working folders of builds of ``out`` that were killed outright (SIGKILL,
    power loss). Call it only while holding the locks of ``out`` and ``processed``."""
    out, processed = Path(out).resolve(), Path(processed).resolve()
    stale = [p for p in out.parent.glob(f".{out.name}.build-*") if p.is_dir()]
    if processed.is_dir():
        stale += [p for p in processed.glob(".build-*") if p.is_dir()]
    for folder in stale:
        log.info("removing %s, left by a build that was killed", folder)
        shutil.rmtree(folder, ignore_errors=True)
    return stale


def _publish_processed(staged: Path, processed: Path) -> None:
    for path in sorted(staged.iterdir()):
        os.replace(path, processed / path.name)


def _staging(beside: Path, prefix: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=beside))
    os.chmod(folder, 0o777 & ~umask())  # mkdtemp makes 0700; the report is shared
    return folder


def build_report(
    responses: pd.DataFrame,
    projects: pd.DataFrame,
    quality: pd.DataFrame,
    *,
    inputs: list[Path],
    out: Path,
    processed: Path,
    wave: int | None = None,
    centre: str = "ATMP centre",
    audience: str = "internal",
    min_cell: int = 3,
    jobs: int | None = None,
    limits: Limits = Limits(),
    fingerprint: str | None = None,
    request: dict | None = None,
    started: str | None = None,
    clock: float | None = None,
    progress: Progress | None = None,
    notebooks: Sequence[Notebook] | None = None,
) -> BuildResult:
    """Build the report from processed data; see the module's docstring for the outputs.

    Everything is written into folders beside ``out`` and ``processed`` and published at the
    end: the report folder in one rename, the processed tables file by file, and a line
    appended to ``out/runs.jsonl``. ``started`` and ``clock`` (``time.perf_counter()``) are
    when the run began, for its record; ``fingerprint`` is the request's digest
    (:func:`atmp_analysis.refresh.fingerprint`), kept in the manifest; ``request`` the
    options as given, for the run record (the wave as reported wins).

    Raises
    ------
    SurveyError
        When ``wave`` is not in the data.
    NotebookFailed
        When a notebook fails; the failed executed notebook is kept beside ``out``.
    OSError
        When an output cannot be written.
    In every case the last good report and tables stay as they were.
    """
    from atmp_analysis.report import Report, ReportData
    from atmp_analysis.tables import read_tables, write_tables

    clock = time.perf_counter() if clock is None else clock
    started = started or now()
    progress = progress or Progress(STEPS, live=False)
    waves = sorted(int(w) for w in projects["wave"].unique())
    if not waves:
        raise SurveyError("the surveys hold no ATMP projects: there is nothing to report")
    wave = waves[-1] if wave is None else int(wave)
    if wave not in waves:
        raise SurveyError(f"wave {wave} is not in the surveys (waves: {waves})")
    parameters = {"wave": wave, "centre": centre, "audience": audience, "min_cell": min_cell}
    out = Path(out).resolve()
    processed = Path(processed).resolve()
    check_folders(out, processed)
    out.parent.mkdir(parents=True, exist_ok=True)
    processed.mkdir(parents=True, exist_ok=True)
    if notebooks is None:
        notebooks = [n for n in NOTEBOOKS if audience in n.audiences]
    staging = _staging(out.parent, f".{out.name}.build-")
    staged_tables = _staging(processed, ".build-")
    try:
        with progress.step(STEPS[1]):
            write_tables(responses, projects, quality, staged_tables)
        provenance = record(inputs, parameters, started=started)
        run = staging / ".run"
        run.mkdir()
        (run / "provenance.json").write_text(json.dumps(provenance, indent=2), "utf-8")
        notebook_parameters = {
            **parameters,
            "tables": str(staged_tables),
            "provenance": str(run / "provenance.json"),
        }
        (staging / PARAMETERS_FILE).write_text(json.dumps(notebook_parameters), "utf-8")
        try:
            with progress.step(STEPS[2]):
                executed = run_notebooks(
                    notebooks, staging, jobs=jobs, limits=limits, progress=progress
                )
            with progress.step(STEPS[3]):
                _export(executed, notebooks, staging, wave, centre, audience, started)
                tables = read_tables(staged_tables)
                report = Report(
                    ReportData.from_tables(tables),
                    wave=wave,
                    centre=centre,
                    audience=audience,
                    min_cell=min_cell,
                )
                extra = {} if report.public else _analyst_sheets(tables, wave)
                write_exhibit_tables(report, staging / "tables", extra)
        except NotebookFailed as error:
            run_id = started.replace(":", "").replace("+0000", "Z") + f"-{os.getpid()}"
            _keep_failed(error, out, run_id)
            raise
        shutil.rmtree(run)
        manifest = {
            **provenance,
            "fingerprint": fingerprint,
            "finished": now(),
            "outputs": describe_files(
                sorted(p for p in staging.rglob("*") if p.is_file()), staging
            ),
            "processed": describe_files(sorted(staged_tables.iterdir()), staged_tables),
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2), "utf-8")
        entry = run_entry(
            started=started,
            seconds=time.perf_counter() - clock,
            outcome="built",
            exit_code=0,
            inputs=inputs,
            parameters={**(request or {}), **parameters},
            fingerprint=fingerprint,
            report=str(out / REPORT_FILE),
        )
        with progress.step(STEPS[4]):
            _publish(staging, out, staged_tables, processed, entry)
    finally:
        with signals_deferred(discard=True):  # a second signal does not cut the clean-up
            shutil.rmtree(staging, ignore_errors=True)
            shutil.rmtree(staged_tables, ignore_errors=True)
    outputs = sorted(p for p in out.rglob("*") if p.is_file())
    return BuildResult(out, out / REPORT_FILE, manifest, time.perf_counter() - clock, outputs)


def _export(executed, notebooks, staging: Path, wave, centre, audience, started) -> None:
    """The report page, a page per notebook, and the figures, from the executed notebooks."""
    from atmp_analysis.export import ReportExportError, export_html, write_html

    title = f"{centre}: ATMP pipeline {wave}"
    subtitle = _subtitle(wave, audience, started)
    for n in notebooks:
        nb = executed[n.stem]
        save_figures(nb, staging / "figures")
        try:
            if n.stem == REPORT_NOTEBOOK:
                page = export_html(nb, title=title, subtitle=subtitle)
                write_html(page, staging / REPORT_FILE)
            page = export_html(nb, title=f"{title}: {n.title}", subtitle=subtitle)
            write_html(page, staging / "notebooks" / f"{n.stem}.html")
        except ReportExportError as exc:  # an output would load or run something
            raise NotebookFailed(
                f"notebook {n.stem} cannot be exported: {exc}",
                executed=staging / "notebooks" / f"{n.stem}.ipynb",
            ) from None


def _publish(staging: Path, out: Path, staged_tables: Path, processed: Path, entry: dict) -> None:
    """Put the finished build in place, with every signal held back until it is done.

    The report folder is swapped in first (the step that can fail: the old report stays
    when it does), then the tables are renamed into place. The run's line joins the run
    record copied into the new folder; lines another process appended to the old record
    meanwhile are carried over after the swap. A signal that came while publishing ends
    nothing: the build is complete, and it says so.
    """
    try:
        with signals_deferred():
            runs, copied = out / RUNS_FILE, 0
            if runs.is_file():
                shutil.copyfile(runs, staging / RUNS_FILE)
                copied = (staging / RUNS_FILE).stat().st_size
            append_run(staging / RUNS_FILE, entry)
            exchange(staging, out)
            old_runs = staging / RUNS_FILE  # the old folder is at ``staging`` now
            if old_runs.is_file() and old_runs.stat().st_size > copied:
                with old_runs.open("rb") as handle:
                    handle.seek(copied)
                    late = handle.read()
                with (out / RUNS_FILE).open("ab") as handle:
                    handle.write(late)
            _publish_processed(staged_tables, processed)
    except (Terminated, KeyboardInterrupt) as exc:
        name = getattr(exc, "name", "SIGINT")
        log.warning("%s came while the report was being published; it is published", name)


def _subtitle(wave: int, audience: str, started: str) -> str:
    kind = "Public report (small counts hidden)" if audience == "public" else "Internal report"
    return f"Survey {wave} · {kind} · built {started.replace('T', ' ')[:16]} UTC"


def _analyst_sheets(tables: dict[str, pd.DataFrame], wave: int) -> dict[str, pd.DataFrame]:
    """The processed tables of the wave for analysts (internal builds only)."""
    out = {}
    for name in ("projects", "responses", "data_quality", "unrecognised_values", "missing_answers"):
        table = tables[name]
        if "wave" in table:
            table = table[table["wave"] == wave]
        out[name] = table
    return out
