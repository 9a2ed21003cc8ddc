"""The report's building blocks (atmp_analysis.report): escaping, tables, figures, numbering.

``ReportData`` is built inline from tiny frames with the columns the sections read.
"""

from __future__ import annotations

import base64
import re

import matplotlib
import pandas as pd
import pytest

from atmp_analysis.disclosure import Suppressed
from atmp_analysis.report import (
    Block,
    Report,
    ReportData,
    esc,
    html_table,
    load_report_data,
)

matplotlib.use("Agg")
import matplotlib.pyplot as plt

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def make_data(waves=(2022, 2023, 2023, 2023, 2023)) -> ReportData:
    n = len(waves)
    projects = pd.DataFrame(
        {
            "project_id": [f"P{i}" for i in range(n)],
            "wave": list(waves),
            "acronym": [f"PRJ-{i}" for i in range(n)],
            "atmp_class": (["GTMP", "TEP", "GTMP", "sCTMP", "GTMP"] * n)[:n],
            "stage_code": ([1, 4, 4, 7, 2] * n)[:n],
        }
    )
    responses = pd.DataFrame(
        {
            "respondent_id": [f"R{i}" for i in range(n)],
            "project_id": projects["project_id"],
            "status": ["project"] * n,
            "wave": list(waves),
        }
    )
    return ReportData(
        responses=responses,
        projects=projects,
        quality=pd.DataFrame(columns=["file", "row", "column", "value", "problem", "severity"]),
        unrecognised=pd.DataFrame(columns=["project_id", "wave", "acronym", "field", "value"]),
        missing=pd.DataFrame(columns=["wave", "variable", "question", "shown"]),
    )


@pytest.fixture
def data() -> ReportData:
    return make_data()


# -- esc and html_table ----------------------------------------------------------------------


def test_esc_escapes_markup_and_quotes():
    assert esc("<script>alert('x')</script>") == "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"
    assert esc('a "b" & c') == "a &quot;b&quot; &amp; c"
    assert esc(13) == "13"


def test_esc_of_missing_values_is_empty():
    assert esc(None) == ""
    assert esc(pd.NA) == ""


def test_html_table_escapes_cells_index_header_and_caption():
    labels = pd.DataFrame(
        {"<i>Projects</i>": ["13", "<script>cell</script>"]},
        index=pd.Index(["GTMP", "<script>row</script>"], name="<b>Class</b>"),
    )
    out = html_table(labels, "Caption <script>alert(1)</script>", number="Table 2.")
    assert "<script>" not in out
    assert "<i>" not in out and "<b>" not in out
    assert "<td>&lt;script&gt;cell&lt;/script&gt;</td>" in out
    assert '<th scope="row">&lt;script&gt;row&lt;/script&gt;</th>' in out
    assert '<th scope="col">&lt;i&gt;Projects&lt;/i&gt;</th>' in out
    assert '<th scope="col">&lt;b&gt;Class&lt;/b&gt;</th>' in out
    assert (
        "<caption><strong>Table 2.</strong> Caption &lt;script&gt;alert(1)&lt;/script&gt;"
        "</caption>" in out
    )


def test_html_table_marks_numbers_hidden_cells_and_the_total_row():
    labels = pd.DataFrame(
        {"Projects": ["13", "<3", "x", "n/a", "45%", "text", "16"]},
        index=pd.Index(["a", "b", "c", "d", "e", "f", "Total"], name="Class"),
    )
    hidden = pd.DataFrame({"Projects": [False, True, True, False, False, False, False]})
    hidden.index = labels.index
    out = html_table(labels, "Caption", hidden=hidden)
    assert '<th scope="row">a</th><td class="n">13</td>' in out
    assert '<th scope="row">b</th><td class="n suppressed">&lt;3</td>' in out
    assert '<th scope="row">c</th><td class="n suppressed">x</td>' in out
    assert '<th scope="row">d</th><td class="n">n/a</td>' in out
    assert '<th scope="row">e</th><td class="n">45%</td>' in out
    assert '<th scope="row">f</th><td>text</td>' in out
    assert '<tr class=total><th scope="row">Total</th><td class="n">16</td></tr>' in out
    assert out.count("class=total") == 1
    assert out.count("suppressed") == 2
    # no number given: no <strong> label
    assert "<caption>Caption</caption>" in out


def test_html_table_missing_cells_are_empty_and_unclassed():
    labels = pd.DataFrame({"A": pd.array(["1", pd.NA], dtype="string")}, index=["x", "y"])
    out = html_table(labels, "c")
    assert '<th scope="row">y</th><td></td>' in out
    # an unnamed index gives an empty corner cell
    assert '<thead><tr><th scope="col"></th><th scope="col">A</th></tr></thead>' in out


def test_html_table_hidden_mask_is_aligned_by_label():
    labels = pd.DataFrame({"P": ["5", "1"]}, index=["a", "b"])
    hidden = pd.DataFrame({"P": [True]}, index=["b"])  # only "b" given, "a" defaults to shown
    out = html_table(labels, "c", hidden=hidden)
    assert '<th scope="row">a</th><td class="n">5</td>' in out
    assert '<th scope="row">b</th><td class="n suppressed">1</td>' in out


# -- Report: validation, wave, numbering -----------------------------------------------------


def test_report_rejects_unknown_audience(data):
    with pytest.raises(ValueError, match=r"audience must be one of.*'press'"):
        Report(data, audience="press")


def test_report_rejects_min_cell_below_two(data):
    with pytest.raises(ValueError, match="min_cell must be at least 2"):
        Report(data, audience="public", min_cell=0)


def test_public_report_rejects_min_cell_one_when_made(data):
    with pytest.raises(ValueError, match="min_cell"):
        Report(data, audience="public", min_cell=1)


def test_report_rejects_a_wave_not_in_the_data_and_names_the_waves(data):
    with pytest.raises(ValueError, match=r"wave 2019 is not in the data \(waves: \[2022, 2023\]\)"):
        Report(data, wave=2019)


def test_report_rejects_data_without_projects():
    empty = make_data(waves=())
    with pytest.raises(ValueError, match="no projects"):
        Report(empty)


def test_report_defaults_to_the_latest_wave_and_filters_by_it(data):
    report = Report(data)
    assert report.wave == 2023
    assert report.waves == [2022, 2023]
    assert len(report.projects) == 4
    assert set(report.responses["wave"]) == {2023}
    old = Report(data, wave=2022)
    assert old.wave == 2022
    assert old.projects["project_id"].tolist() == ["P0"]


def test_report_accepts_waves_as_text(data):
    assert Report(data, wave="2022").wave == 2022


def test_audience_sets_public_and_min_cell(data):
    internal = Report(data, audience="internal", min_cell=5)
    public = Report(data, audience="public", min_cell=5)
    assert not internal.public and internal.min_cell is None
    assert public.public and public.min_cell == 5
    assert "internal report" in internal.disclosure_rule
    assert "Counts below 5" in public.disclosure_rule


def test_numbering_keeps_a_name_s_number_and_counts_kinds_separately(data):
    report = Report(data)
    assert report.number("figure", "classes") == 1
    assert report.number("table", "classes") == 1
    assert report.number("figure", "stages") == 2
    assert report.number("figure", "classes") == 1
    assert report.number("table", "rules") == 2
    assert report.number("figure", "funnel") == 3
    assert report.number("table", "classes") == 1


def test_table_blocks_are_numbered_in_order(data):
    report = Report(data)
    counts = pd.DataFrame({"Projects": [3, 4]}, index=["a", "b"])
    first = report.table_block(counts, "First", "one")
    second = report.table_block(counts, "Second", "two")
    again = report.table_block(counts, "First again", "one")
    assert "<strong>Table 1.</strong> First" in first.html
    assert "<strong>Table 2.</strong> Second" in second.html
    assert "<strong>Table 1.</strong> First again" in again.html
    assert second.metadata == {"atmp": {"table": "two", "number": 2}}


# -- protect and count -----------------------------------------------------------------------


COUNTS = pd.DataFrame({"Projects": [10, 2, 5]}, index=pd.Index(["GTMP", "sCTMP", "TEP"]))


def test_protect_internal_shows_every_count(data):
    table = Report(data, audience="internal").protect(COUNTS)
    assert isinstance(table, Suppressed)
    assert table.labels["Projects"].tolist() == ["10", "2", "5", "17"]
    assert not table.hidden.to_numpy().any()


def test_protect_public_hides_small_counts_and_what_would_reveal_them(data):
    report = Report(data, audience="public", min_cell=3)
    table = report.protect(COUNTS)
    assert table.labels["Projects"].tolist() == ["10", "<3", "x", "17"]
    assert table.hidden["Projects"].tolist() == [False, True, True, False]
    # without margins nothing adds up, so only the small count is hidden
    plain = report.protect(COUNTS, margins=False)
    assert plain.labels["Projects"].tolist() == ["10", "<3", "5"]


def test_count_as_text_for_a_sentence(data):
    public = Report(data, audience="public")
    table = public.protect(COUNTS)
    assert public.count(table, "GTMP") == "10"
    assert public.count(table, "sCTMP") == "<3"
    assert public.count(table, "cATMP") == "<3"  # absent row: zero, hidden too
    internal = Report(data)
    assert internal.count(internal.protect(COUNTS), "cATMP") == "0"
    assert internal.count(internal.protect(COUNTS), "sCTMP") == "2"


def test_table_block_of_a_protected_table_marks_hidden_cells(data):
    report = Report(data, audience="public")
    block = report.table_block(report.protect(COUNTS), "Classes <b>", "classes")
    assert isinstance(block, Block)
    assert '<td class="n suppressed">&lt;3</td>' in block.html
    assert '<td class="n suppressed">x</td>' in block.html
    assert '<td class="n">10</td>' in block.html
    assert "Classes &lt;b&gt;" in block.html
    assert ">2<" not in block.html and ">5<" not in block.html


def test_table_block_puts_extra_columns_first(data):
    report = Report(data)
    extra = pd.DataFrame({"TRL": pd.array([2, 4, 6], dtype="Int64")}, index=COUNTS.index)
    html = report.table_block(report.protect(COUNTS), "c", "stages", extra=extra).html
    assert '<th scope="col">TRL</th><th scope="col">Projects</th>' in html
    assert '<th scope="row">GTMP</th><td class="n">2</td><td class="n">10</td>' in html
    assert '<th scope="row">Total</th><td></td><td class="n">17</td>' in html


# -- figures ---------------------------------------------------------------------------------


def test_figure_block_bundle(data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    plt.close("all")
    report = Report(data)
    report.number("figure", "earlier")

    def draw(ax):
        ax.bar(["GTMP", "TEP"], [3, 4])

    block = report.figure_block(draw, "Projects <by> class", "classes", 'Bars: "GTMP" <3')
    html = block.html
    assert html.startswith('<figure id="figure-classes">')
    assert html.endswith("</figure>")
    assert re.search(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]+" ', html)
    assert 'alt="Bars: &quot;GTMP&quot; &lt;3"' in html
    assert "<figcaption><strong>Figure 2.</strong> Projects &lt;by&gt; class</figcaption>" in html
    png = base64.b64decode(block.bundle["image/png"], validate=True)
    assert png.startswith(PNG_SIGNATURE)
    assert block.bundle["image/png"] in html
    svg = block.bundle["image/svg+xml"]
    assert "<svg" in svg and svg.rstrip().endswith("</svg>")
    assert block.metadata["atmp"] == {
        "figure": "classes",
        "number": 2,
        "caption": "Projects <by> class",
        "alt": 'Bars: "GTMP" <3',
    }
    assert block._repr_mimebundle_() == (block.bundle, block.metadata)
    assert list(tmp_path.iterdir()) == []
    assert plt.get_fignums() == []


def test_figure_block_svg_is_reproducible(data):
    report = Report(data)

    def draw(ax):
        ax.plot([1, 2, 3], [3, 1, 2])

    first = report.figure_block(draw, "c", "line", "alt")
    second = report.figure_block(draw, "c", "line", "alt")
    assert first.bundle["image/svg+xml"] == second.bundle["image/svg+xml"]
    assert first.bundle["image/png"] == second.bundle["image/png"]


def test_figure_block_closes_the_figure_when_drawing_fails(data):
    plt.close("all")

    def draw(ax):
        raise RuntimeError("drawing failed")

    with pytest.raises(RuntimeError, match="drawing failed"):
        Report(data).figure_block(draw, "c", "broken", "alt")
    assert plt.get_fignums() == []


# -- prose -----------------------------------------------------------------------------------


def test_prose_escapes_the_heading_and_keeps_paragraph_markup(data):
    block = Report(data).prose("<strong>23</strong> projects", "second", heading="<Why> & how")
    assert block.html == (
        "<h2>&lt;Why&gt; &amp; how</h2><p><strong>23</strong> projects</p><p>second</p>"
    )
    assert list(block.bundle) == ["text/html"]


def test_prose_note_class(data):
    assert Report(data).prose("a", note=True).html == '<p class="note">a</p>'


# -- loading processed tables ----------------------------------------------------------------


def test_load_report_data_reads_a_tables_folder(tmp_path):
    data = make_data()
    data.responses.to_csv(tmp_path / "responses.csv", index=False)
    data.projects.to_csv(tmp_path / "projects.csv", index=False)
    pd.DataFrame({"file": ["a.csv"], "problem": ["bad"]}).to_csv(
        tmp_path / "data_quality.csv", index=False
    )
    data.unrecognised.to_csv(tmp_path / "unrecognised_values.csv", index=False)
    data.missing.to_csv(tmp_path / "missing_answers.csv", index=False)
    loaded = load_report_data(tmp_path)
    assert loaded.projects["acronym"].tolist() == data.projects["acronym"].tolist()
    assert loaded.projects["wave"].tolist() == [2022, 2023, 2023, 2023, 2023]
    assert loaded.quality["problem"].tolist() == ["bad"]
    assert loaded.sources == ()
    assert Report(loaded).wave == 2023


def test_load_report_data_names_a_missing_table(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"responses\.csv"):
        load_report_data(tmp_path)


# -- respondents' text: inert in HTML, exact after a round trip through the CSV files ----------

FORMULAS = [
    '=HYPERLINK("http://example.invalid","x")',
    "@SUM(1+1)",
    "+1+1",
    "-1+1",
    "\t=1+1",
    "'=typed with a quote",
    "<img src=x onerror=alert(2)>",
]


def test_load_report_data_gives_back_the_text_as_typed(tmp_path):
    from atmp_analysis.spreadsheet import write_csv

    data = make_data()
    n = len(data.projects)
    projects = data.projects.assign(
        acronym=(FORMULAS * n)[:n], fih_year=[-1.5, 2027.0, 2028.0, None, 2030.0]
    )
    write_csv(data.responses, tmp_path / "responses.csv")
    write_csv(projects, tmp_path / "projects.csv")
    quality = pd.DataFrame({"file": ["a.csv"] * 2, "value": ["=1+1", "@x"], "problem": ["p"] * 2})
    write_csv(quality, tmp_path / "data_quality.csv")
    write_csv(data.unrecognised, tmp_path / "unrecognised_values.csv")
    write_csv(data.missing, tmp_path / "missing_answers.csv")
    # the files hold no formula ...
    raw = pd.read_csv(tmp_path / "projects.csv", dtype=str, keep_default_na=False)
    assert raw["acronym"].str.startswith("'").sum() == 5
    # ... and the report sees what was typed
    loaded = load_report_data(tmp_path)
    assert loaded.projects["acronym"].tolist() == projects["acronym"].tolist()
    assert loaded.projects["fih_year"].tolist()[:3] == [-1.5, 2027.0, 2028.0]
    assert loaded.quality["value"].tolist() == ["=1+1", "@x"]


def test_html_table_and_figure_keep_markup_in_the_data_as_text(data):
    from html.parser import HTMLParser

    class Tags(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags = []

        def handle_starttag(self, tag, attrs):
            self.tags.append((tag, [name for name, _ in attrs]))

    evil = "<img src=x onerror=alert(2)><script>alert(1)</script>"
    labels = pd.DataFrame({evil: [evil]}, index=pd.Index([evil], name=evil))
    report = Report(data)
    html = html_table(labels, evil, number=evil)
    html += report.prose(f"{esc(evil)}", heading=evil).html
    html += report.figure_block(lambda ax: ax.plot([1, 2]), evil, evil, evil).html
    parser = Tags()
    parser.feed(html)
    assert not [t for t, _ in parser.tags if t == "script"]
    assert not [(t, a) for t, names in parser.tags for a in names if a.startswith("on")]
    assert [t for t, _ in parser.tags].count("img") == 1  # the figure's own PNG
    plt.close("all")
