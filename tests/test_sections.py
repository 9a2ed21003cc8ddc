"""The report's sections (atmp_analysis.sections) on a small inline wave, internal and public.

Eight projects in 2023 and two in 2022, in the layout of ``projects.csv`` (labels,
``;``-joined answers, codes for the coded questions), and their responses with every status.
One project's acronym and bottleneck text carry a script tag. The public report must show no
count below 3 in any table, no acronym and no quote; the internal one shows them, escaped.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pandas as pd
import pytest
from report_html import html_of, parse_tables, small_counts

from atmp_analysis.report import Report, ReportData, esc, open_report
from atmp_analysis.sections import SECTIONS, exhibit_tables, listing, protected, section
from atmp_analysis.sections_outlook import OUTLOOK_TABLES
from atmp_analysis.summary import stages

EVIL = "<script>alert(1)</script>"
MIN_CELL = 3
WAVE = 2023

PROJECT_COLUMNS = [
    "project_id",
    "wave",
    "acronym",
    "atmp_class",
    "platforms",
    "stage_code",
    "ther_area",
    "fih_year",
    "support_needs",
    "support_horizon",
    "bottleneck_themes",
    "bottleneck",
    "contains_cells",
    "cell_origin",
    "rare_disease",
    "reg_contact",
    "gmp_status",
    "manufacturer",
    "conflicts",
]
# fmt: off
PROJECT_ROWS = [
    ("P01", 2023, "AAV-RET", "GTMP", "AAV", 4, "Ophthalmology", 2027.0,
     "GMP manufacturing;Viral vector production", "1-2 years", "vector supply",
     "No AAV vector capacity at the centre", 0, None, "yes", "1", 2, 3, None),
    ("P02", 2023, f"CAR{EVIL}", "GTMP", "AAV;CRISPR", 4, "Neurology", 2028.0,
     "Regulatory strategy and advice;GMP manufacturing", "3-5 years", "regulatory",
     f"Waiting for the CAT {EVIL}", 0, None, "yes", "1;3", 1, 99, "stage"),
    ("P03", 2023, "HSC-GENE", "GTMP", "lentiviral;HSC", 7, "Haematology (non-malignant)",
     2022.0, "GMP manufacturing;Clinical trial design and applications", "1-2 years",
     "GMP capacity", "Clean room time for the next batch", 1, "autologous", "yes", "1;3;5", 4,
     2, None),
    ("P04", 2023, "T-GENE", "GTMP", "lentiviral;T cell", 2, "Oncology", 2030.0,
     "Funding applications", None, "funding", "Money for the GLP toxicology study", 1,
     "autologous", "no", "0", 1, 99, None),
    ("P05", 2023, "SKIN-TE", "TEP", "skin cell;scaffold/device", 5,
     "Dermatology and wound healing", 2026.0,
     "GMP manufacturing;Process development and scale-up", "1-2 years", "GMP capacity",
     "Scaffold supplier without GMP certificate", 1, "autologous", "yes", "3", 2, 1, None),
    ("P06", 2023, "CARDIO-PSC", "TEP", "pluripotent stem cell", 3, "Cardiovascular", None,
     "Funding applications;Preclinical efficacy and toxicology studies", "5-10 years",
     "funding;toxicology", "Large-animal study costs", 1, "allogeneic", "no", "0", 1, 99, None),
    ("P07", 2023, "CART-JOINT", "TEP", "chondrocyte;scaffold/device", 4, "Musculoskeletal",
     2045.0, "Process development and scale-up", "3-5 years", None, None, 1, "autologous", None,
     "0", 1, 1, None),
    ("P08", 2023, "MSC-GVHD", "sCTMP", "MSC", 1, "Immunology and inflammation", 2029.0,
     "GMP manufacturing", "1-2 years", "GMP capacity", "Potency assay missing", 1, "allogeneic",
     "no", "0", 1, 2, None),
    ("P01", 2022, "AAV-RET", "GTMP", "AAV", 3, "Ophthalmology", 2027.0,
     "Viral vector production", "3-5 years", "vector supply", "Vector supply from abroad", 0,
     None, "yes", "0", 1, 3, None),
    ("P09", 2022, "OLD-TE", "TEP", "chondrocyte", 2, "Musculoskeletal", None,
     "Funding applications", None, "funding", "Bridging funding", 1, "autologous", "no", "0", 1,
     99, None),
]
# respondent_id, project_id, status, wave
RESPONSE_ROWS = [
    ("R01", "P01", "project", 2023), ("R02", "P01", "project", 2023),
    ("R03", "P02", "project", 2023), ("R03", "P04", "project", 2023),
    ("R04", "P03", "project", 2023), ("R05", "P03", "project", 2023),
    ("R06", "P05", "project", 2023), ("R07", "P06", "project", 2023),
    ("R08", "P07", "project", 2023), ("R09", "P08", "project", 2023),
    (None, None, "no ATMP project", 2023), (None, None, "no ATMP project", 2023),
    ("R99", None, "test response", 2023), ("R01", None, "duplicate submission", 2023),
    ("R01", "P01", "project", 2022), ("R10", "P09", "project", 2022),
]
# fmt: on
ACRONYMS_2023 = [row[2] for row in PROJECT_ROWS if row[1] == WAVE]
QUOTES_2023 = [row[11] for row in PROJECT_ROWS if row[1] == WAVE and row[11]]
PROVENANCE = {
    "started": "2024-02-01T10:00:00+00:00",
    "inputs": [{"name": "survey_2023.csv", "bytes": 48213, "sha256": "0123456789abcdef" * 4}],
    "parameters": {"wave": WAVE, "min_cell": MIN_CELL},
    "versions": {"python": "3.11.9", "atmp-analysis": "0.1.0", "pandas": "3.1.1"},
    "git_commit": "abcdef0123456789" * 2 + "01234567",
}


def report_data() -> ReportData:
    projects = pd.DataFrame(PROJECT_ROWS, columns=PROJECT_COLUMNS)
    table = stages()
    projects["stage"] = projects["stage_code"].map(dict(table[["stage_code", "label"]].values))
    projects["trl"] = projects["stage_code"].map(dict(table[["stage_code", "trl"]].values))
    projects["n_responses"] = 1
    responses = pd.DataFrame(
        RESPONSE_ROWS, columns=["respondent_id", "project_id", "status", "wave"]
    )
    responses["source_file"] = "survey_" + responses["wave"].astype(str) + ".csv"
    responses["source_row"] = range(2, len(responses) + 2)
    return ReportData(
        responses=responses,
        projects=projects,
        quality=pd.DataFrame(
            {
                "file": ["survey_2023.csv"],
                "row": [5],
                "column": ["fih_year"],
                "value": ["when the grant comes"],
                "problem": ["not a year (1990–2100) or a time from now"],
                "severity": ["warning"],
            }
        ),
        unrecognised=pd.DataFrame(
            {
                "project_id": ["P06"],
                "wave": [2023],
                "acronym": ["CARDIO-PSC"],
                "field": ["support_other"],
                "value": ["a pig facility"],
                "outcome": ["no support need recognised: counted as 'Other'"],
            }
        ),
        missing=pd.DataFrame(
            {
                "wave": [2023, 2023, 2022],
                "variable": ["fih_year", "stage", "fih_year"],
                "question": ["When do you expect the first patient?", "Current stage", "x"],
                "shown": [10, 10, 2],
                "not answered": [1, 0, 1],
                "don't know": [0, 0, 0],
                "answered (%)": [90.0, 100.0, 50.0],
            }
        ),
    )


def make_report(audience: str) -> Report:
    return Report(
        report_data(),
        centre="Test centre",
        audience=audience,
        min_cell=MIN_CELL,
        provenance=PROVENANCE,
    )


@pytest.fixture(scope="module")
def blocks() -> dict[str, dict[str, list]]:
    """Every section's blocks, per audience (drawn once for the module)."""
    out = {}
    for audience in ("internal", "public"):
        report = make_report(audience)
        out[audience] = {name: section(report, name) for name in SECTIONS}
    return out


def test_parse_tables_reads_cells_and_classes():
    html = (
        '<table class="counts"><caption>c</caption><thead><tr><th scope="col">Class</th>'
        '<th scope="col">TRL</th><th scope="col">Projects</th></tr></thead><tbody>'
        '<tr><th scope="row">A &amp; B</th><td>2</td><td class="n">1</td></tr>'
        '<tr class=total><th scope="row">Total</th><td class="n">2</td>'
        '<td class="n suppressed">&lt;3</td></tr></tbody></table>'
    )
    [table] = parse_tables(html)
    assert table["columns"] == ["Class", "TRL", "Projects"]
    assert table["rows"] == [
        ["A & B", [("", "2"), ("n", "1")]],
        ["Total", [("n", "2"), ("n suppressed", "<3")]],
    ]
    assert small_counts(html) == [("A & B", "Projects", "1")]


# -- every section ---------------------------------------------------------------------------


@pytest.mark.parametrize("audience", ["internal", "public"])
@pytest.mark.parametrize("name", list(SECTIONS))
def test_every_section_gives_html_blocks(blocks, audience, name):
    out = blocks[audience][name]
    assert isinstance(out, list) and out
    for block in out:
        assert isinstance(block.bundle["text/html"], str)
        assert block.bundle["text/html"].strip()


@pytest.mark.parametrize("name", list(SECTIONS))
def test_public_tables_show_no_count_below_min_cell(blocks, name):
    assert small_counts(html_of(blocks["public"][name])) == []


def test_internal_tables_do_show_small_counts(blocks):
    """The check above can fail: the same tables, internal, show the 1s and 2s."""
    assert ("sCTMP", "Projects", "1") in small_counts(html_of(blocks["internal"]["classes"]))
    assert small_counts(html_of(blocks["internal"]["platforms"]))


def test_no_section_lets_markup_through(blocks):
    for audience, by_name in blocks.items():
        for name, out in by_name.items():
            assert "<script" not in html_of(out), (audience, name)


def test_public_report_names_no_project(blocks):
    for name, out in blocks["public"].items():
        text = html_of(out) + "".join(b.bundle.get("image/svg+xml", "") for b in out)
        for acronym in ACRONYMS_2023:
            assert esc(acronym) not in text, (name, acronym)
            assert acronym not in text, (name, acronym)


def test_public_projects_section_is_only_a_note(blocks):
    html = html_of(blocks["public"]["projects"])
    assert "<table" not in html
    assert "left out of the public report" in html


def test_public_report_quotes_no_bottleneck(blocks):
    bottlenecks = html_of(blocks["public"]["bottlenecks"])
    assert "respondents&#x27; words" not in bottlenecks
    assert "In the respondents" not in bottlenecks
    for name, out in blocks["public"].items():
        html = html_of(out)
        for quote in QUOTES_2023:
            assert esc(quote) not in html, (name, quote)


def test_internal_bottlenecks_quote_the_answers_escaped(blocks):
    html = html_of(blocks["internal"]["bottlenecks"])
    assert f'<th scope="row">CAR{esc(EVIL)}</th>' in html
    assert "CAR&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Waiting for the CAT &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Potency assay missing" in html
    # the 2022 answers belong to another wave
    assert "Vector supply from abroad" not in html
    quotes = [t for t in parse_tables(html) if "In the respondents' words" in t["columns"]]
    assert [row for row, _ in quotes[0]["rows"]] == [
        "AAV-RET",
        f"CAR{EVIL}",
        "HSC-GENE",
        "T-GENE",
        "SKIN-TE",
        "CARDIO-PSC",
        "MSC-GVHD",  # CART-JOINT gave no bottleneck
    ]


def test_internal_projects_listing_furthest_stage_first(blocks):
    html = html_of(blocks["internal"]["projects"])
    [table] = parse_tables(html)
    assert table["columns"] == [
        "Project",
        "Class",
        "Stage",
        "Platforms",
        "Therapeutic area",
        "First patient",
    ]
    assert [row for row, _ in table["rows"]] == [
        "HSC-GENE",
        "SKIN-TE",
        "AAV-RET",
        f"CAR{EVIL}",
        "CART-JOINT",
        "CARDIO-PSC",
        "T-GENE",
        "MSC-GVHD",
    ]
    rows = {row: [text for _, text in cells] for row, cells in table["rows"]}
    assert rows["HSC-GENE"] == [
        "GTMP",
        "Phase I",
        "lentiviral; HSC",
        "Haematology (non-malignant)",
        "2022",
    ]
    assert rows["CARDIO-PSC"][-1] == "—"
    assert "The 8 projects of the 2023 survey" in html
    assert "OLD-TE" not in html


def test_sections_only_count_the_report_s_wave(blocks):
    classes = parse_tables(html_of(blocks["internal"]["classes"]))[0]
    assert dict((row, cells[0][1]) for row, cells in classes["rows"]) == {
        "GTMP": "4",
        "sCTMP": "1",
        "TEP": "3",
        "Total": "8",
    }


# -- the summary -----------------------------------------------------------------------------


def test_internal_summary_sentence(blocks):
    html = html_of(blocks["internal"]["summary"])
    assert (
        "In the 2023 survey of Test centre, 11 researchers answered; 9 of them work on an "
        "ATMP project and 2 on none." in html
    )
    assert "<strong>8 ongoing ATMP projects</strong>" in html
    assert "the answers point to 4 GTMP, 3 TEP and 1 sCTMP." in html
    assert (
        "By platform, 2 projects build on AAV, 2 on lentiviral vectors and 1 on pluripotent "
        "stem cells." in html
    )
    assert "1 in Phase I: HSC-GENE, a GTMP in haematology (non-malignant)" in html
    assert "3 projects are in preclinical development: 2 GTMP and 1 TEP" in html
    assert "3 by 2028; 1 already has." in html


def test_public_summary_sentence_reveals_no_hidden_count(blocks):
    html = html_of(blocks["public"]["summary"])
    assert "In the 2023 survey of Test centre, 11 researchers answered." in html
    assert "on none" not in html  # the 2 screened-out researchers
    assert "<strong>8 ongoing ATMP projects</strong>" in html
    assert "4 GTMP, fewer than 3 sCTMP and an undisclosed number of TEP" in html
    assert "1 sCTMP" not in html and "3 TEP" not in html
    assert "fewer than 3 projects build on AAV" in html
    assert "fewer than 3 in Phase I" in html
    assert "HSC-GENE" not in html
    assert "1 in Phase I" not in html
    # every number in the public headline is at least the threshold (years included)
    numbers = [int(n) for n in re.findall(r"\d+", re.sub(r"<[^>]+>", "", html))]
    assert numbers and min(numbers) >= MIN_CELL


def test_public_summary_uses_the_protected_tables():
    report = make_report("public")
    internal = make_report("internal")
    html = html_of(section(report, "summary"))
    for name, phrase in (("classes", "{n} {k}"), ("stages", "{n} in {k}")):
        shown = protected(report, name)
        true = protected(internal, name).labels
        for key in shown.labels.index[shown.hidden.iloc[:, 0].to_numpy()]:
            assert phrase.format(n=true.loc[key].iloc[-1], k=esc(key)) not in html, key


def test_public_classes_figure_alt_text_shows_labels_not_counts(blocks):
    figure = blocks["public"]["classes"][0].bundle["text/html"]
    alt = re.search(r'alt="([^"]*)"', figure).group(1)
    assert alt == "Bar chart of projects by ATMP class: GTMP 4, sCTMP &lt;3, TEP x."


# -- registry and helpers --------------------------------------------------------------------


def test_section_unknown_name_lists_the_sections():
    with pytest.raises(KeyError, match="no section 'nope'; sections: summary, classes"):
        section(make_report("internal"), "nope")


def test_listing():
    assert listing([]) == ""
    assert listing(["13 GTMP"]) == "13 GTMP"
    assert listing(["13 GTMP", "7 TEP"]) == "13 GTMP and 7 TEP"
    assert listing(["13 GTMP", "7 TEP", "3 sCTMP"]) == "13 GTMP, 7 TEP and 3 sCTMP"


def test_protected_classes_per_audience():
    public = protected(make_report("public"), "classes")
    assert public.labels["Projects"].tolist() == ["4", "<3", "x", "8"]
    internal = protected(make_report("internal"), "classes")
    assert internal.labels["Projects"].tolist() == ["4", "1", "3", "8"]
    # multi-select exhibits have no total
    platforms = protected(make_report("internal"), "platforms")
    assert "Total" not in platforms.labels.index
    assert platforms.labels.loc["AAV", "Projects"] == "2"


EXHIBITS = [
    "classes",
    "platforms",
    "stages",
    "funnel",
    "trl",
    "areas",
    "origin",
    "rare",
    "class_stage",
    "area_stage",
    "first_patient",
    "needs",
    "needs_stage",
    "needs_class",
    "planning",
    "themes",
    "regulatory",
    "manufacturing",
    "manufacturer",
]


@pytest.mark.parametrize("audience", ["internal", "public"])
def test_exhibit_tables_give_a_table_and_caption_per_exhibit(audience):
    tables = exhibit_tables(make_report(audience))
    assert list(tables) == EXHIBITS + [t for t in OUTLOOK_TABLES if t in tables]
    assert {"outlook", "outlook_class", "sensitivity", "demand"} <= set(tables)
    for name, (table, caption) in tables.items():
        assert isinstance(table, pd.DataFrame) and not table.empty, name
        assert caption.endswith(", 2023") and len(caption) > len(", 2023"), name
    stage_table = tables["stages"][0]
    assert list(stage_table.columns) == ["TRL", "Projects"]
    assert stage_table.loc["Phase I", "TRL"] == "TRL 6"


def test_public_exhibit_tables_show_only_hidden_marks_or_large_counts():
    tables = exhibit_tables(make_report("public"))
    hidden = 0
    for name, (table, _) in tables.items():
        counts = table.drop(columns=["TRL"], errors="ignore")
        for value in counts.to_numpy().ravel():
            value = str(value)
            if name in OUTLOOK_TABLES and not re.fullmatch(r"\d+|<\d+|x", value):
                continue  # an expectation with its interval, or a label: not a count
            assert value in ("<3", "x") or (value.isdigit() and int(value) >= MIN_CELL), (
                name,
                value,
            )
            hidden += value in ("<3", "x")
    assert hidden > 0


def test_internal_exhibit_tables_show_the_counts():
    tables = exhibit_tables(make_report("internal"))
    assert tables["classes"][0]["Projects"].tolist() == ["4", "1", "3", "8"]
    assert tables["classes"][1] == "Projects by likely EU legal class, 2023"
    platforms = tables["platforms"][0]["Projects"]
    assert platforms["AAV"] == "2" and platforms["scaffold/device"] == "2"


# -- the demo survey's headline --------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_summary(tmp_path_factory) -> str:
    key = tmp_path_factory.mktemp("sections-key") / "k.key"
    report = open_report(tables=None, surveys=(), wave=2023, key_file=key)
    return html_of(section(report, "summary"))


@pytest.mark.parametrize(
    "phrase",
    [
        "44 researchers answered",
        "<strong>23 ongoing ATMP projects</strong>",
        "13 GTMP, 7 TEP and 3 sCTMP",
        "7 projects build on AAV, 4 on lentiviral vectors and 10 on pluripotent stem cells",
        "8 projects are in preclinical development: 5 GTMP and 3 TEP",
        "1 in Phase I",
    ],
)
def test_demo_headline(demo_summary, phrase):
    assert phrase in demo_summary


# -- escaping: no text of the data or the counts becomes markup --------------------------------

IMG = "<img src=x onerror=alert(2)>"


class _Markup(HTMLParser):
    """Every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def live_markup(html: str) -> list[str]:
    """Elements or attributes in ``html`` that would run something, described."""
    parser = _Markup()
    parser.feed(html)
    parser.close()
    found = []
    for tag, attrs in parser.tags:
        if tag in ("script", "iframe", "object", "embed"):
            found.append(tag)
        found += [f"{tag} {name}" for name in attrs if name.startswith("on")]
        if tag == "img" and not (attrs.get("src") or "").startswith("data:image/png;base64,"):
            found.append(f"img src={attrs.get('src')!r}")
    return found


def hostile_data() -> ReportData:
    """The inline wave with markup in every free-text column the sections show."""
    data = report_data()
    projects = data.projects.assign(
        acronym=data.projects["acronym"] + IMG,
        bottleneck=data.projects["bottleneck"] + f" {IMG} {EVIL}",
    )
    return ReportData(
        responses=data.responses.assign(source_file=data.responses["source_file"]),
        projects=projects,
        quality=data.quality.assign(value=IMG, problem=EVIL, file=f"survey_2023.csv{IMG}"),
        unrecognised=data.unrecognised.assign(value=IMG, acronym=EVIL),
        missing=data.missing.assign(question=IMG),
    )


@pytest.mark.parametrize("audience", ["internal", "public"])
def test_no_section_turns_free_text_into_markup(audience):
    report = Report(
        hostile_data(),
        centre=f"Centre {IMG}",
        audience=audience,
        min_cell=MIN_CELL,
        provenance={**PROVENANCE, "started": IMG, "git_commit": EVIL},
    )
    shown = ""
    for name in SECTIONS:
        html = html_of(section(report, name))
        assert live_markup(html) == [], (audience, name)
        shown += html
    assert esc(IMG) in shown  # the text is there, as text
    if audience == "internal":
        assert esc(f"Waiting for the CAT {EVIL} {IMG} {EVIL}") in shown
        assert f"CAR{esc(EVIL)}{esc(IMG)}" in shown


def test_live_markup_finds_what_it_looks_for():
    assert live_markup(f"<p>{IMG}{EVIL}</p>") == ["img onerror", "img src='x'", "script"]
    assert live_markup(f"<p>{esc(IMG)}{esc(EVIL)}</p>") == []


@pytest.mark.parametrize("min_cell", [MIN_CELL, 9, 20])
def test_hidden_counts_in_sentences_are_words_never_a_bare_angle_bracket(min_cell):
    """With every count hidden, "<9" must not reach the HTML as it is (not even the total)."""
    report = Report(
        report_data(),
        centre="Test centre",
        audience="public",
        min_cell=min_cell,
        provenance=PROVENANCE,
    )
    for name in SECTIONS:
        html = html_of(section(report, name))
        stray = re.findall(r"<(?![a-zA-Z/!]).{0,12}", html)
        assert stray == [], (name, stray)
    summary = html_of(section(report, "summary"))
    if min_cell > 8:
        assert f"<strong>fewer than {min_cell} ongoing ATMP projects</strong>" in summary


def test_count_words_are_escaped():
    from atmp_analysis.sections import _n

    assert _n("<3", 3) == "fewer than 3"
    assert _n("<&3", 3) == "fewer than &amp;3"
    assert _n("1<b>", None) == "1&lt;b&gt;"
    assert _n("x", 3) == "an undisclosed number of"
