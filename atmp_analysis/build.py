"""The build: data steps, notebooks under papermill, HTML, figures, tables and a manifest.

    process the surveys → data/processed/*.csv
    run the notebooks (independent ones in parallel) → DIR/notebooks/*.ipynb and *.html
    the report notebook as HTML → DIR/atmp_pipeline_report.html
    every figure of the notebooks → DIR/figures/*.png and *.svg
    the report's tables → DIR/tables/*.csv and DIR/tables/atmp_pipeline_tables.xlsx
    inputs, parameters, versions, outputs with sha256 → DIR/manifest.json

Everything is written into a new folder beside ``DIR`` and swapped into place at the end, so
a failed build leaves the last good report as it was.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pandas as pd

from atmp_analysis.atomic import umask
from atmp_analysis.config import SOURCE_ROOT
from atmp_analysis.errors import SurveyError
from atmp_analysis.provenance import describe_files, now, record

log = logging.getLogger("atmp_analysis")

NOTEBOOK_DIR = SOURCE_ROOT / "notebooks"
REPORT_FILE = "atmp_pipeline_report.html"
WORKBOOK = "atmp_pipeline_tables.xlsx"


@dataclass(frozen=True)
class Notebook:
    """A notebook the build runs: its file stem, title and the audiences it is built for."""

    stem: str
    title: str
    audiences: tuple[str, ...] = ("internal", "public")

    @property
    def path(self) -> Path:
        """The committed notebook (without outputs)."""
        return NOTEBOOK_DIR / f"{self.stem}.ipynb"


#: The notebooks the build runs; they are independent of each other.
NOTEBOOKS = (
    Notebook("10_report", "ATMP pipeline report"),
    Notebook("01_data_quality", "Data quality", ("internal",)),
    Notebook("02_pipeline_overview", "Pipeline overview"),
    Notebook("03_needs_and_bottlenecks", "Needs and bottlenecks"),
)
REPORT_NOTEBOOK = "10_report"


class NotebookFailed(RuntimeError):
    """A notebook raised while the build executed it; names the notebook and the cell."""


@dataclass
class BuildResult:
    """What a build wrote, and how long it took."""

    out: Path
    report: Path
    manifest: dict
    seconds: float
    outputs: list[Path] = field(default_factory=list)


def run_notebook(
    notebook: Notebook, target: Path, parameters: dict, *, cwd: Path, timeout: int = 600
) -> nbformat.NotebookNode:
    """Execute one notebook with papermill; raise :class:`NotebookFailed` naming the cell."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    started = time.perf_counter()
    try:
        pm.execute_notebook(
            str(notebook.path),
            str(target),
            parameters=parameters,
            kernel_name="python3",
            progress_bar=False,
            log_output=False,
            cwd=str(cwd),
            execution_timeout=timeout,
        )
    except PapermillExecutionError as exc:
        raise NotebookFailed(
            f"notebook {notebook.stem} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}"
        ) from None
    log.info("notebook %s ran in %.1f s", notebook.stem, time.perf_counter() - started)
    return nbformat.read(target, as_version=4)


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
    """The report's tables as CSV files and one workbook with a sheet per table."""
    from atmp_analysis.sections import exhibit_tables

    folder.mkdir(parents=True, exist_ok=True)
    tables = {name: table for name, (table, _) in exhibit_tables(report).items()}
    written = []
    for name, table in tables.items():
        path = folder / f"{name}.csv"
        table.to_csv(path)
        written.append(path)
    sheets = {**tables, **extra}
    workbook = folder / WORKBOOK
    with pd.ExcelWriter(workbook, engine="openpyxl") as writer:
        for name, table in sheets.items():
            index = name in tables
            table.to_excel(writer, sheet_name=name[:31], index=index)
    written.append(workbook)
    return written


def _publish(staging: Path, out: Path) -> None:
    """Swap the finished build into place; the old report is removed only afterwards."""
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
        shutil.rmtree(old, ignore_errors=True)


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
) -> BuildResult:
    """Build the report from processed data; see the module's docstring for the outputs.

    Raises
    ------
    SurveyError
        When ``wave`` is not in the data.
    NotebookFailed
        When a notebook raises; the last good report stays in place.
    """
    from atmp_analysis.export import ReportExportError, export_html, write_html
    from atmp_analysis.report import Report, ReportData
    from atmp_analysis.tables import read_tables, write_tables

    clock = time.perf_counter()
    started = now()
    waves = sorted(int(w) for w in projects["wave"].unique())
    if not waves:
        raise SurveyError("the surveys hold no ATMP projects: there is nothing to report")
    wave = waves[-1] if wave is None else int(wave)
    if wave not in waves:
        raise SurveyError(f"wave {wave} is not in the surveys (waves: {waves})")
    write_tables(responses, projects, quality, processed)
    parameters = {
        "wave": wave,
        "centre": centre,
        "audience": audience,
        "min_cell": min_cell,
    }
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.build-", dir=out.parent))
    os.chmod(staging, 0o777 & ~umask())  # mkdtemp makes 0700; the report is shared
    logging.getLogger("papermill").setLevel(logging.WARNING)
    try:
        provenance = record(inputs, parameters, started=started)
        (staging / "provenance.json").write_text(json.dumps(provenance, indent=2), "utf-8")
        notebooks = [n for n in NOTEBOOKS if audience in n.audiences]
        (staging / "notebooks").mkdir()
        nb_parameters = {
            **parameters,
            "tables": str(Path(processed).resolve()),
            "provenance": str(staging / "provenance.json"),
        }
        workers = max(1, min(jobs or os.cpu_count() or 1, len(notebooks)))
        log.info("running %d notebooks, %d at a time", len(notebooks), workers)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {
                n.stem: pool.submit(
                    run_notebook,
                    n,
                    staging / "notebooks" / f"{n.stem}.ipynb",
                    nb_parameters,
                    cwd=staging,
                )
                for n in notebooks
            }
            executed = {stem: future.result() for stem, future in futures.items()}
        title = f"{centre}: ATMP pipeline {wave}"
        for n in notebooks:
            nb = executed[n.stem]
            save_figures(nb, staging / "figures")
            subtitle = _subtitle(wave, audience, started)
            try:
                if n.stem == REPORT_NOTEBOOK:
                    page = export_html(nb, title=title, subtitle=subtitle)
                    write_html(page, staging / REPORT_FILE)
                page = export_html(nb, title=f"{title}: {n.title}", subtitle=subtitle)
                write_html(page, staging / "notebooks" / f"{n.stem}.html")
            except ReportExportError as exc:  # an output would load or run something
                raise NotebookFailed(f"notebook {n.stem} cannot be exported: {exc}") from None
        tables = read_tables(processed)
        report = Report(
            ReportData.from_tables(tables),
            wave=wave,
            centre=centre,
            audience=audience,
            min_cell=min_cell,
        )
        extra = {} if report.public else _analyst_sheets(tables, wave)
        write_exhibit_tables(report, staging / "tables", extra)
        if not report.public:
            for name, table in extra.items():
                table.to_csv(staging / "tables" / f"{name}.csv", index=False)
        (staging / "provenance.json").unlink()
        manifest = {
            **provenance,
            "finished": now(),
            "outputs": describe_files(
                sorted(p for p in staging.rglob("*") if p.is_file()), staging
            ),
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2), "utf-8")
        _publish(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    outputs = sorted(p for p in out.rglob("*") if p.is_file())
    return BuildResult(out, out / REPORT_FILE, manifest, time.perf_counter() - clock, outputs)


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
