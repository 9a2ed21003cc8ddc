"""``atmp-report build`` end to end on the demo: every notebook under papermill, the HTML a
reviewer opens (offline, no code, numbered figures, readable tables, provenance, escaping),
the figures, tables, workbook and manifest, disclosure control, and a real browser."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from chromium import check_page, find_chromium

from atmp_analysis.build import NOTEBOOKS, REPORT_FILE, WORKBOOK
from atmp_analysis.cli import main
from atmp_analysis.config import SOURCE_ROOT, demo_exports
from atmp_analysis.demo import load_spec, spec_stages

HOSTILE = "<script>alert('bottleneck')</script>"
ARTIFACTS = Path(os.environ.get("ATMP_TEST_ARTIFACTS", SOURCE_ROOT / "test-artifacts"))


def _build(folder: Path, key: Path, surveys: list[Path], *extra: str) -> Path:
    out = folder / "report"
    code = main(
        [
            "-q",
            "build",
            *map(str, surveys),
            "--out",
            str(out),
            "--processed",
            str(folder / "processed"),
            "--key-file",
            str(key),
            "--centre",
            "Nordvik Centre for Regenerative Medicine (synthetic demo)",
            *extra,
        ]
    )
    assert code == 0
    return out


@pytest.fixture(scope="module")
def surveys(tmp_path_factory) -> list[Path]:
    """The demo exports, with a script typed into the bottleneck answers of 2023."""
    folder = tmp_path_factory.mktemp("surveys")
    paths = []
    for path in demo_exports(fmt="redcap"):
        target = folder / path.name
        shutil.copyfile(path, target)
        paths.append(target)
    first = paths[0]
    table = pd.read_csv(first, dtype=str, keep_default_na=False)
    typed = table["bottleneck"].str.len() > 0
    table.loc[typed, "bottleneck"] += " " + HOSTILE
    table.to_csv(first, index=False)
    return paths


@pytest.fixture(scope="module")
def internal(tmp_path_factory, surveys) -> Path:
    folder = tmp_path_factory.mktemp("internal")
    return _build(folder, folder / "k.key", surveys, "--wave", "2023")


@pytest.fixture(scope="module")
def public(tmp_path_factory, surveys) -> Path:
    folder = tmp_path_factory.mktemp("public")
    return _build(folder, folder / "k.key", surveys, "--wave", "2023", "--audience", "public")


def _page(out: Path) -> str:
    return (out / REPORT_FILE).read_text(encoding="utf-8")


def _text(page: str) -> str:
    body = re.sub(r"<style>.*?</style>", "", page, flags=re.S)
    body = re.sub(r"<[^>]+>", " ", body)
    return re.sub(r"\s+", " ", body)


# -- the published figures -------------------------------------------------------------------


def test_the_2023_report_states_the_published_figures(internal):
    text = _text(_page(internal))
    for phrase in (
        "44 researchers answered",
        "23 ongoing ATMP projects",
        "13 GTMP, 7 TEP and 3 sCTMP",
        "7 projects build on AAV, 4 on lentiviral vectors and 10 on pluripotent stem cells",
        "1 in Phase I: STEM-PD, a TEP in neurology",
        "8 projects are in preclinical development: 5 GTMP and 3 TEP",
    ):
        assert phrase in text, phrase


def test_the_class_table_holds_the_counts(internal):
    table = pd.read_csv(internal / "tables" / "classes.csv", index_col=0, dtype=str)
    assert table["Projects"].to_dict() == {"GTMP": "13", "sCTMP": "3", "TEP": "7", "Total": "23"}


# -- what the build writes -------------------------------------------------------------------


def test_every_notebook_ran_and_was_exported(internal):
    for notebook in NOTEBOOKS:
        executed = internal / "notebooks" / f"{notebook.stem}.ipynb"
        cells = json.loads(executed.read_text(encoding="utf-8"))["cells"]
        assert any(c.get("outputs") for c in cells), notebook.stem
        assert not any(o.get("output_type") == "error" for c in cells for o in c.get("outputs", []))
        assert (internal / "notebooks" / f"{notebook.stem}.html").is_file()


def test_each_figure_is_saved_as_png_and_svg(internal):
    page = _page(internal)
    names = re.findall(r'<figure id="figure-([\w-]+)"', page)
    assert len(names) >= 15
    for name in names:
        png = internal / "figures" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (
            (internal / "figures" / f"{name}.svg").read_text(encoding="utf-8").startswith("<?xml")
        )


def test_tables_and_workbook(internal):
    tables = internal / "tables"
    for name in ("classes", "platforms", "stages", "planning", "projects", "data_quality"):
        assert (tables / f"{name}.csv").is_file(), name
    book = openpyxl.load_workbook(tables / WORKBOOK, read_only=True)
    assert {"classes", "class_stage", "planning", "projects"} <= set(book.sheetnames)


def test_the_manifest_records_inputs_parameters_versions_and_outputs(internal, surveys):
    manifest = json.loads((internal / "manifest.json").read_text(encoding="utf-8"))
    digests = {i["name"]: i["sha256"] for i in manifest["inputs"]}
    for path in surveys:
        assert digests[path.name] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert manifest["parameters"] == {
        "wave": 2023,
        "centre": "Nordvik Centre for Regenerative Medicine (synthetic demo)",
        "audience": "internal",
        "min_cell": 3,
    }
    assert {"pandas", "papermill", "nbconvert", "atmp-analysis"} <= set(manifest["versions"])
    assert manifest["started"] <= manifest["finished"]
    outputs = {o["name"]: o["sha256"] for o in manifest["outputs"]}
    assert REPORT_FILE in outputs and "figures/classes.png" in outputs
    for name, digest in outputs.items():
        assert hashlib.sha256((internal / name).read_bytes()).hexdigest() == digest, name
    assert "manifest.json" not in outputs


# -- the HTML: point by point ----------------------------------------------------------------


@pytest.mark.parametrize("which", ["internal", "public", "latest"])
def test_the_page_is_self_contained(which, request):
    page = _page(request.getfixturevalue(which))
    assert "<script" not in page and "<link" not in page
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", page)
    assert "@import" not in page and "mathjax" not in page.lower()


def test_no_code_prompts_parameters_or_errors(internal):
    page = _page(internal)
    for leaked in ("report.show(", "open_report", "key_file", "In&nbsp;[", "In [", "Out["):
        assert leaked not in page, leaked
    for banner in ("Traceback", "jp-RenderedText", "output_error", "stderr", "WARNING"):
        assert banner not in page, banner


def test_a_table_of_contents_links_to_every_section(internal):
    page = _page(internal)
    nav = re.search(r'<nav aria-label="Contents">(.*?)</nav>', page, flags=re.S).group(1)
    targets = re.findall(r'href="#([^"]+)"', nav)
    assert len(targets) >= 20
    ids = set(re.findall(r'<h[23][^>]* id="([^"]+)"', page))
    assert set(targets) <= ids
    for heading in ("Summary", "EU legal class", "What to plan for, and when", "Provenance"):
        assert f">{heading}</a>" in nav, heading


def test_figures_are_numbered_with_captions_and_alt_text(internal):
    page = _page(internal)
    figures = re.findall(r"<figure.*?</figure>", page, flags=re.S)
    numbers = [int(n) for n in re.findall(r"<strong>Figure (\d+)\.</strong>", page)]
    assert numbers == list(range(1, len(figures) + 1))
    for figure in figures:
        alt = re.search(r'alt="([^"]*)"', figure).group(1)
        assert len(alt) > 20
        assert "<figcaption>" in figure
    assert 'alt="Bar chart of projects by ATMP class' in page


def test_tables_are_numbered_and_readable(internal):
    page = _page(internal)
    tables = re.findall(r"<table.*?</table>", page, flags=re.S)
    numbers = [int(n) for n in re.findall(r"<caption><strong>Table (\d+)\.</strong>", page)]
    assert numbers == list(range(1, len(tables) + 1))
    for table in tables:
        header = re.search(r"<thead>(.*?)</thead>", table, flags=re.S).group(1)
        assert header.count("<th") <= 8  # no 40-column dumps
    assert '<td class="n">13</td>' in page


def test_the_appendix_gives_provenance_rules_and_glossary(internal, surveys):
    text = _text(_page(internal))
    digest = hashlib.sha256(surveys[0].read_bytes()).hexdigest()
    assert surveys[0].name in text and digest[:16] in text
    assert "Reg. (EC) 1394/2007 Art. 2(5)" in text  # the GTMP priority rule's reference
    assert "Dir. 2001/83/EC Annex I Part IV 2.1" in text
    assert "Glossary" in text and "Tissue-engineered product" in text
    assert "papermill" in text


def test_respondents_text_is_escaped(internal):
    page = _page(internal)
    assert "&lt;script&gt;alert(&#x27;bottleneck&#x27;)&lt;/script&gt;" in page
    assert HOSTILE not in page


# -- audiences -------------------------------------------------------------------------------


def _shown_counts(page: str) -> list[str]:
    cells = re.findall(r'<td class="n[^"]*">([^<]*)</td>', page)
    alts = re.findall(r'alt="([^"]*)"', page)
    # numbers in alt text, leaving out ranges ("1-2 years") and the figure's shape
    alts = [re.sub(r"\d+[-–]\d+|\d+ (?:rows|columns)", "", alt) for alt in alts]
    return cells + [n for alt in alts for n in re.findall(r"(?<![<\w.])\d+(?![\w.%])", alt)]


def test_a_public_report_shows_no_count_below_three(public):
    page = _page(public)
    counts = _shown_counts(page)
    assert "&lt;3" in counts and "x" in counts  # primary and secondary suppression happened
    numbers = [int(c) for c in counts if c.isdigit()]
    assert numbers and min(numbers) >= 3
    for csv in (public / "tables").glob("*.csv"):
        values = pd.read_csv(csv, index_col=0, dtype=str).drop(columns="TRL", errors="ignore")
        digits = values.stack().loc[lambda s: s.str.fullmatch(r"\d+")].astype(int)
        assert digits.empty or digits.min() >= 3, csv.name
    assert "Counts below 3" in _text(page)


def test_a_public_report_leaves_out_free_text_and_listings(public):
    page = _page(public)
    assert "STEM-PD" not in page and "bottleneck&#x27;)" not in page
    assert "In the respondents&#x27; words" not in page
    assert not (public / "tables" / "projects.csv").exists()
    assert not (public / "notebooks" / "01_data_quality.ipynb").exists()
    assert "Per-project listings are left out" in page


def test_the_public_funnel_reveals_no_hidden_stage_count(public):
    stages = pd.read_csv(public / "tables" / "stages.csv", index_col=0, dtype=str)["Projects"]
    funnel = pd.read_csv(public / "tables" / "funnel.csv", index_col=0, dtype=str)["Projects"]
    assert stages["Discovery"] == "<3"  # so 23 - "reached in vitro" must not be shown
    assert funnel["In vitro proof of concept"] in {"x", "<3"}


def test_a_public_report_leaves_out_cross_tables_its_totals_would_reveal(public):
    # the class table publishes 3 sCTMP; in class x stage they all sit in one stage group
    text = _text(_page(public))
    assert "Projects by class and stage: left out of the public report" in text
    assert not (public / "tables" / "class_stage.csv").exists()
    assert (public / "tables" / "classes.csv").exists()


@pytest.mark.parametrize("which", ["internal", "public", "latest"])
def test_no_personal_data_in_any_output(which, request):
    out = request.getfixturevalue(which)
    spec = load_spec()
    personal = {p["name"] for p in spec["person"]} | {p["email"] for p in spec["person"]}
    for path in out.rglob("*"):
        if path.suffix in {".html", ".ipynb", ".csv", ".svg", ".json"}:
            text = path.read_text(encoding="utf-8")
        elif path.suffix == ".xlsx":
            book = openpyxl.load_workbook(path, read_only=True)
            text = " ".join(
                str(v) for s in book.worksheets for r in s.iter_rows(values_only=True) for v in r
            )
        else:
            continue
        leaked = sorted(v for v in personal if v in text)
        assert not leaked, (path.name, leaked[:3])


# -- a real browser --------------------------------------------------------------------------


@pytest.mark.skipif(
    find_chromium() is None, reason="headless Chromium not installed (apt-get install chromium)"
)
@pytest.mark.parametrize("which", ["internal", "public", "latest"])
def test_the_report_in_headless_chromium(which, request):
    out = request.getfixturevalue(which)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"report_{which}.png"
    check = check_page(out / REPORT_FILE, screenshot=shot, timeout=120)
    assert check.console_errors == []
    assert check.requests == []
    assert check.broken_images == []
    assert check.dialogs == []
    assert check.n_images == _page(out).count("<figure")
    assert check.title.endswith("ATMP pipeline 2024" if which == "latest" else "ATMP pipeline 2023")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- year over year: the latest wave's report ------------------------------------------------


@pytest.fixture(scope="module")
def latest(tmp_path_factory, surveys) -> Path:
    folder = tmp_path_factory.mktemp("latest")
    return _build(folder, folder / "k.key", surveys)


def test_the_latest_report_tables_the_transitions_the_generator_made(latest):
    """The demo generator's spec moves p01 7->8, p09 and p16 4->5 and p11 3->4 between
    2023 and 2024; the build's transition table holds exactly those moves."""
    stages = spec_stages(load_spec())
    pairs = stages.pivot_table(index="project_id", columns="wave", values="stage_code")
    pairs = pairs.dropna().astype(int)
    expected = pd.crosstab(pairs[2023], pairs[2024])
    table = pd.read_csv(latest / "tables" / "transitions.csv", index_col=0, dtype=str)
    table = table.drop(index="Total", columns="Total").astype(int)
    table.index = table.index.astype(int)
    table.columns = table.columns.astype(int)
    pd.testing.assert_frame_equal(table, expected, check_names=False)
    moved = {(a, b): n for (a, b), n in expected.stack().items() if a != b and n}
    assert moved == {(3, 4): 1, (4, 5): 2, (7, 8): 1}
    presence = pd.read_csv(latest / "tables" / "presence.csv", index_col=0)
    assert presence.loc[2024].to_dict() == {
        "new": 3,
        "continuing": 22,
        "re-appearing": 0,
        "not reported": 1,
    }


def test_the_latest_report_gives_the_outlook_and_its_assumptions(latest):
    text = _text(_page(latest))
    for heading in (
        "Progress since the last survey",
        "The next five to ten years",
        "What the infrastructure must plan for",
        "Forecast assumptions",
    ):
        assert heading in text
    assert "4 projects advanced at least one stage, 18 stayed" in text
    assert "BIO" in text and "Elsallab" in text  # the cited sources, in the appendix
    outlook = pd.read_csv(latest / "tables" / "outlook.csv", index_col=0, dtype=str)
    assert list(outlook.index[:10]) == [str(y) for y in range(2025, 2035)]
    assert list(outlook.index[10:]) == ["2025–2029", "2025–2034"]
    parts = outlook.stack().str.extract(r"^([\d.]+) \(([\d.]+)–([\d.]+)\)$").astype(float)
    assert parts.notna().all().all()
    # the interval is the 10th to 90th percentile: it holds the mean unless fewer than one
    # simulation in ten sees any event (approvals: "0.1 (0.0–0.0)")
    assert (parts[1] <= parts[2]).all()
    rare = parts[2] == 0
    assert ((parts[1] <= parts[0]) & (parts[0] <= parts[2]) | rare).all()
    for name in ("transitions", "outlook", "sensitivity", "demand"):
        assert (latest / "figures" / f"{name}.png").is_file()
    executed = json.loads(
        (latest / "notebooks" / "04_progress_and_outlook.ipynb").read_text(encoding="utf-8")
    )
    errors = [
        o
        for c in executed["cells"]
        for o in c.get("outputs", [])
        if o.get("output_type") == "error" or o.get("name") == "stderr"
    ]
    assert errors == []
