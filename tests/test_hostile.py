"""Hostile free text end to end: markup and formulas typed into the survey stay inert.

The demo REDCap exports are copied with script tags, event handlers and spreadsheet formulas
(``=HYPERLINK``, ``@SUM``, ``+``, ``-``, a leading tab) typed into the free-text answers
(acronym, title, description, the "other" fields, disease, bottleneck) of several projects,
and the internal report is built through the command line. Then: no HTML page the build
wrote holds a live element or attribute (and the report loads in headless Chromium without
a dialog, an error or a request), no CSV cell or workbook cell can start a formula, and the
pseudonymisation key appears in no output and no log.

One build (about half a minute) serves every test of the module.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from chromium import check_page, find_chromium

from atmp_analysis.cli import main
from atmp_analysis.config import demo_exports
from atmp_analysis.report import esc
from atmp_analysis.spreadsheet import FORMULA_START

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"
HYPERLINK = '=HYPERLINK("http://example.invalid","x")'
SUM = "@SUM(1+1)"
PLUS = "+1+1"
MINUS = "-1+1"
TAB = "\t=1+1"
MARKUP = (SCRIPT, IMG)
FORMULAS = (HYPERLINK, SUM, PLUS, MINUS, TAB)
#: A key of the module's own, so that its hex can be looked for in every output.
KEY_HEX = "5a17e0c3b9d24f6e8a0b1c2d3e4f5061728394a5b6c7d8e9fa0b1c2d3e4f5061"
REPORT_FILE = "atmp_pipeline_report.html"

#: Per project form (the n-th ATMP project of each export): free-text answers to replace.
#: The other-fields get their "Other" ticked, so the forms stay valid.
HOSTILE_ANSWERS = [
    {"bottleneck": SCRIPT, "proj_title": HYPERLINK, "proj_description": IMG},
    {"bottleneck": IMG, "proj_acronym": SUM, "disease": SCRIPT},
    {"bottleneck": HYPERLINK, "support_other": PLUS, "support_needs___13": "1"},
    {"bottleneck": SUM, "disease": MINUS, "proj_title": TAB},
    {"bottleneck": TAB, "proj_acronym": SCRIPT, "ther_area": "14", "ther_area_other": IMG},
    {"bottleneck": PLUS, "proj_acronym": IMG, "proj_description": SUM},
    {"bottleneck": MINUS, "proj_acronym": HYPERLINK},
]


def _hostile_copy(source: Path, target: Path) -> None:
    """``source`` with the hostile answers typed into its first project forms."""
    table = pd.read_csv(source, dtype=str, keep_default_na=False)
    projects = table.index[table["atmp_project"] == "1"]
    for row, answers in zip(projects, HOSTILE_ANSWERS, strict=False):
        for column, value in answers.items():
            table.loc[row, column] = value
    cells = table["contains_cells"].isin(["1", "2"])
    row = table.index[cells & (table["atmp_project"] == "1")][-1]
    table.loc[row, ["cell_type___11", "cell_type_other"]] = ["1", MINUS]
    genes = (table["rna_dna"] == "1") | table["therapy_type"].isin(["1", "2"])
    row = table.index[genes & (table["atmp_project"] == "1")][-1]
    table.loc[row, ["gene_tech___12", "gene_tech_other"]] = ["1", TAB]
    table.to_csv(target, index=False)


@dataclass
class Build:
    """The folders one build wrote, its exit code and everything it printed or logged."""

    out: Path
    processed: Path
    key: Path
    code: int
    printed: str


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> Build:
    folder = tmp_path_factory.mktemp("hostile")
    surveys = []
    for path in demo_exports(fmt="redcap"):
        _hostile_copy(path, folder / path.name)
        surveys.append(folder / path.name)
    key = folder / "pseudonym.key"
    key.write_text(KEY_HEX + "\n", encoding="ascii")
    out, processed = folder / "report", folder / "processed"
    printed = io.StringIO()
    handler = logging.StreamHandler(printed)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            code = main(
                [
                    "--verbose",
                    "build",
                    *map(str, surveys),
                    "--out",
                    str(out),
                    "--processed",
                    str(processed),
                    "--key-file",
                    str(key),
                ]
            )
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    return Build(out, processed, key, code, printed.getvalue())


def test_the_build_succeeds(build):
    assert build.code == 0, build.printed[-3000:]


# -- HTML: the text is shown, escaped, and nothing in it runs -------------------------------


class _Elements(HTMLParser):
    """Every start tag with its attribute names."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, list[str]]] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, [name for name, _ in attrs]))


def _pages(build: Build) -> list[Path]:
    pages = sorted(build.out.rglob("*.html"))
    assert build.out / REPORT_FILE in pages
    assert len(pages) >= 2  # the report and the notebooks
    return pages


def test_no_page_holds_a_script_or_an_event_handler(build):
    for page in _pages(build):
        text = page.read_text(encoding="utf-8")
        parser = _Elements()
        parser.feed(text)
        parser.close()
        assert [t for t, _ in parser.elements if t == "script"] == [], page.name
        handlers = [(t, a) for t, names in parser.elements for a in names if a.startswith("on")]
        assert handlers == [], page.name
        assert "<script" not in text.lower(), page.name
        assert IMG not in text and SCRIPT not in text, page.name


def test_the_internal_report_shows_the_answers_as_text(build):
    page = (build.out / REPORT_FILE).read_text(encoding="utf-8")
    assert esc(SCRIPT) in page  # a bottleneck quote, and an acronym
    assert esc(IMG) in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.skipif(
    find_chromium() is None, reason="headless Chromium not installed (apt-get install chromium)"
)
def test_the_report_in_headless_chromium_runs_nothing(build):
    for page in [build.out / REPORT_FILE, *sorted((build.out / "notebooks").glob("*.html"))]:
        check = check_page(page, timeout=120)
        assert check.dialogs == [], page.name
        assert check.console_errors == [], page.name
        assert check.requests == [], page.name


# -- spreadsheets: no cell can start a formula -----------------------------------------------


def _csv_cells(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [cell for row in csv.reader(handle) for cell in row]


def _formula_cells(cells) -> list[str]:
    return [c for c in cells if isinstance(c, str) and c.startswith(FORMULA_START)]


def test_processed_tables_hold_no_formula_and_quote_the_answers(build):
    paths = sorted(build.processed.glob("*.csv"))
    assert {p.name for p in paths} >= {"responses.csv", "projects.csv", "data_quality.csv"}
    for path in paths:
        assert _formula_cells(_csv_cells(path)) == [], path.name
    responses = _csv_cells(build.processed / "responses.csv")
    for payload in (HYPERLINK, SUM, PLUS, MINUS):
        assert "'" + payload in responses, payload
    assert "'" + TAB in responses or "'" + TAB.strip() in responses  # stripped when read


def test_processed_tables_read_back_give_the_text_as_typed(build):
    from atmp_analysis.tables import read_tables

    responses = read_tables(build.processed)["responses"]
    assert {SCRIPT, IMG, HYPERLINK, SUM} <= set(responses["proj_acronym"].dropna())
    assert {SCRIPT, IMG, HYPERLINK, SUM, PLUS, MINUS} <= set(responses["bottleneck"].dropna())
    assert HYPERLINK in set(responses["proj_title"].dropna())


def test_report_tables_hold_no_formula(build):
    """The report's CSV files (written by the build with atmp_analysis.spreadsheet)."""
    paths = sorted((build.out / "tables").glob("*.csv"))
    assert paths
    for path in paths:
        assert _formula_cells(_csv_cells(path)) == [], path.name


def test_workbooks_hold_no_formula(build):
    books = sorted(build.out.rglob("*.xlsx"))
    assert books
    for path in books:
        book = openpyxl.load_workbook(path)
        cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row]
        assert [c.coordinate for c in cells if c.data_type == "f"] == [], path.name
        assert _formula_cells(c.value for c in cells) == [], path.name


# -- the pseudonymisation key ----------------------------------------------------------------


def test_the_key_is_in_no_output_notebook_or_log(build):
    secret = bytes.fromhex(KEY_HEX)
    needles = [KEY_HEX.encode(), KEY_HEX.upper().encode(), secret]
    files = [p for folder in (build.out, build.processed) for p in folder.rglob("*")]
    files = [p for p in files if p.is_file()]
    assert any(p.suffix == ".ipynb" for p in files)
    for path in files:
        data = path.read_bytes()
        assert not [n for n in needles if n in data], path
    assert KEY_HEX not in build.printed and KEY_HEX.upper() not in build.printed
    assert build.printed.strip()  # something was logged, and looked at
