"""Tests of atmp_analysis.codedraft: drafting a codebook for a file of unknown wording."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from atmp_analysis.cleaning import decode_answers
from atmp_analysis.codebook import Codebook
from atmp_analysis.codedraft import MIN_HEADER, SURE, draft_codebook, similarity
from atmp_analysis.errors import SurveyError
from atmp_analysis.instrument import Instrument, resolve_instrument
from atmp_analysis.readers import read_export

DEMO = Path(__file__).resolve().parent.parent / "data" / "raw" / "demo"
GOOGLE = DEMO / "demo_2023_googleforms.csv"
MSFORMS = DEMO / "demo_2023_msforms.xlsx"
SWEDISH = DEMO / "demo_2023_swedish.xlsx"
SURE_LINE = re.compile(r"^[ \t]*sure: false[ \t]*\n", re.MULTILINE)


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


def parsed(text: str) -> dict:
    """The draft as YAML (it must be valid YAML, comments and all)."""
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


def unmarked(text: str) -> str:
    """The draft after the analyst deleted every ``sure: false`` line."""
    return SURE_LINE.sub("", text)


def variables(text: str) -> dict[str, dict]:
    return parsed(text)["variables"] or {}


def unsure(text: str) -> set[str]:
    return {name for name, entry in variables(text).items() if entry.get("sure") is False}


def block(text: str, name: str) -> str:
    """The lines of one variable (its comment above it, its entries and comments below)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line == f"  {name}:")
    end = start + 1
    while end < len(lines) and (lines[end].startswith("    ") or lines[end] == ""):
        end += 1
    return "\n".join(lines[start - 1 : end])


@pytest.fixture(scope="module")
def instrument() -> Instrument:
    return resolve_instrument()


@pytest.fixture(scope="module")
def google_draft() -> str:
    return draft_codebook(GOOGLE)


@pytest.fixture(scope="module")
def swedish_draft() -> str:
    return draft_codebook(SWEDISH)


# -- the instrument's own wording --------------------------------------------------------------
def test_english_google_forms_export_is_all_mapped_and_sure(google_draft, instrument):
    data = parsed(google_draft)
    assert data["codebook"] == 1
    assert data["name"] == "Draft codebook for demo_2023_googleforms.csv"
    assert list(data["variables"]) == [f.name for f in instrument.questions]
    for f in instrument.questions:
        assert data["variables"][f.name] == {"header": f.label}, f.name
    assert data["tool_columns"] == {"submitted": "Timestamp", "email": "Email Address"}
    assert data["multiselect_separator"] == ","
    assert data["unmapped"] == []
    assert "sure: false" not in google_draft
    assert "\n    choices:" not in google_draft


def test_english_ms_forms_workbook_is_all_mapped_and_sure(instrument):
    text = draft_codebook(MSFORMS)
    data = parsed(text)
    assert set(data["variables"]) == {f.name for f in instrument.questions}
    assert "sure: false" not in text and "\n    choices:" not in text
    assert data["tool_columns"] == {
        "submitted": "Completion time",
        "record_id": "ID",
        "name": "Name",
        "email": "Email",
    }
    assert data["multiselect_separator"] == ";"
    assert data["unmapped"] == ["Start time"]  # the tool's, which a codebook cannot name


def test_small_english_file_needs_no_marks_or_choices(tmp_path, instrument):
    fields = [instrument[n] for n in ("atmp_project", "proj_acronym", "stage", "cell_type")]
    rows = [
        ["Timestamp", *[f.label for f in fields]],
        ["2023-03-01 10:00", "Yes", "ALPHA", "Phase I", "T cells, NK cells"],
        ["2023-03-02 10:00", "No", "", "", ""],
        ["2023-03-03 10:00", "yes", "BETA", "phase i", "Other"],  # case is folded
    ]
    text = draft_codebook(write_csv(tmp_path / "english.csv", rows))
    assert variables(text) == {f.name: {"header": f.label} for f in fields}
    assert "sure: false" not in text
    assert "# matched 'Current stage of development' to stage (a known wording; next:" in text


# -- other wording -----------------------------------------------------------------------------
REWORDED = [
    [
        "Timestamp",
        "Development stage (current)",
        "Project acronym",
        "Tillverknings status",  # Swedish with a typo: "Tillverkningsstatus"
        "Terapiomrde",  # Swedish with a typo: "Terapiområde"
        "Är sjukdomen sällsynt?",  # Swedish, reworded
        "Do you work on an ATMP project?",
        "Favourite colour",
    ],
    ["2023-03-01", "Phase I", "ALPHA", "GMP-process etablerad", "Onkologi", "Ja", "Yes", "blue"],
    ["2023-03-02", "Phase II", "BETA", "Vet ej", "Neurologi", "Nej", "No", "green"],
]


def test_reworded_headers_are_mapped_and_the_doubtful_ones_marked(tmp_path):
    text = draft_codebook(write_csv(tmp_path / "reworded.csv", REWORDED))
    headers = {name: entry["header"] for name, entry in variables(text).items()}
    assert headers == {
        "atmp_project": "Do you work on an ATMP project?",
        "proj_acronym": "Project acronym",
        "ther_area": "Terapiomrde",
        "rare_disease": "Är sjukdomen sällsynt?",
        "stage": "Development stage (current)",
        "gmp_status": "Tillverknings status",
    }
    # close rewordings and typos are sure; shortened or reworded questions are not
    assert unsure(text) == {"atmp_project", "proj_acronym", "rare_disease"}
    assert re.search(
        r"# matched 'Är sjukdomen sällsynt\?' to rare_disease \(score (\d+); next: \w+ \d+\)",
        text,
    )
    score = int(re.search(r"'Project acronym' to proj_acronym \(score (\d+)", text)[1])
    assert MIN_HEADER <= score < SURE
    assert "Favourite colour" in parsed(text)["unmapped"]


def test_a_column_of_something_else_is_unmapped_with_its_best_guess(tmp_path):
    rows = [
        ["Project acronym or short name", "Shoe size", "Favourite colour"],
        ["ALPHA", "42", "blue"],
    ]
    text = draft_codebook(write_csv(tmp_path / "other.csv", rows))
    assert list(variables(text)) == ["proj_acronym"]
    assert parsed(text)["unmapped"] == ["Shoe size", "Favourite colour"]
    assert re.search(r"# no question scores 60 or more; best: \w+ \d+\n- Shoe size", text)
    assert "blue" not in text and "42" not in text


def test_a_tool_name_is_a_tool_column_only_in_that_tool_export(tmp_path):
    # "Status" is Qualtrics' metadata column, but in any other file it may be a question
    rows = [["Status", "Start time", "Project acronym or short name"], ["GMP", "9:00", "A"]]
    text = draft_codebook(write_csv(tmp_path / "status.csv", rows))
    assert variables(text)["gmp_status"]["header"] == "Status"
    assert "gmp_status" in unsure(text)
    assert parsed(text)["unmapped"] == ["Start time"]
    qualtrics = draft_codebook(DEMO / "demo_2023_qualtrics_text.csv")
    assert "Status" in parsed(qualtrics)["unmapped"]


def test_each_variable_is_matched_once_best_score_first(tmp_path):
    rows = [
        ["Project acronym (short)", "Project acronym or short name"],
        ["A", "B"],
    ]
    text = draft_codebook(write_csv(tmp_path / "twice.csv", rows))
    entries = variables(text)
    # the exact wording wins the variable; the other header goes to its next best or nowhere
    assert entries["proj_acronym"] == {"header": "Project acronym or short name"}
    others = [name for name, e in entries.items() if e["header"] == "Project acronym (short)"]
    assert others == [] or (others != ["proj_acronym"] and set(others) <= unsure(text))
    if not others:
        assert parsed(text)["unmapped"] == ["Project acronym (short)"]


def test_choice_labels_in_other_wording_get_choices_entries(tmp_path):
    rows = [
        ["Are you currently working on an ATMP project?", "Project acronym or short name"],
        ["Yes, absolutely", "A"],
        ["Nope", ""],
        ["Yes", "B"],  # the instrument's own label: no entry
        ["Ja", "C"],  # a label of the shipped Swedish codebook: no entry
    ]
    text = draft_codebook(write_csv(tmp_path / "labels.csv", rows))
    entry = variables(text)["atmp_project"]
    assert entry["choices"] == {1: "Yes, absolutely", 0: "Nope"}
    assert entry["sure"] is False  # fuzzy labels are guesses
    assert "# value 'Nope' (1 row) taken as 0 'No' (score" in block(text, "atmp_project")


def test_unknown_choice_values_are_flagged_not_guessed(tmp_path):
    rows = [
        ["Current stage of development", "Project acronym or short name"],
        ["Phase I", "A"],
        ["Maybe later", "B"],
        ["Maybe later", "C"],
    ]
    text = draft_codebook(write_csv(tmp_path / "unknown.csv", rows))
    entry = variables(text)["stage"]
    assert entry == {"header": "Current stage of development", "sure": False}
    assert "    # unmatched value 'Maybe later' (2 rows)" in block(text, "stage")


def test_multiselect_labels_with_commas_are_not_split(tmp_path):
    header = "Which manufacturing steps are applied to the cells or tissue?"
    rows = [
        [header, "Project acronym or short name"],
        ["Freezing, cryopreservation or lyophilisation, Culture expansion", "A"],
        ["Centrifugation, separation, concentration, purification or filtering", "B"],
        ["Cutting, grinding or shaping, Magic dust, Differentiation", "C"],
        # a label of the shipped Swedish codebook, whole
        ["Centrifugering, separation, koncentrering, rening eller filtrering", "D"],
    ]
    text = draft_codebook(write_csv(tmp_path / "multi.csv", rows))
    data = parsed(text)
    assert data["multiselect_separator"] == ","
    entry = data["variables"]["manipulation"]
    assert "choices" not in entry
    notes = re.findall(r"# unmatched value (.*)", text)
    assert notes == ["'Magic dust' (1 row)"]
    assert "cryopreservation or lyophilisation'" not in text


def test_multiselect_joined_by_semicolons_and_reworded_labels(tmp_path):
    header = "Which cell types are used?"
    rows = [
        [header, "Project acronym or short name"],
        ["T-cells;NK cells;", "A"],
        ["Mesenchymal stromal or stem cells (MSC);T-cells;", "B"],
    ]
    text = draft_codebook(write_csv(tmp_path / "semicolons.csv", rows))
    data = parsed(text)
    assert data["multiselect_separator"] == ";"
    assert data["variables"]["cell_type"]["choices"] == {5: "T-cells"}
    assert "# value 'T-cells' (2 rows) taken as 5 'T cells'" in text


# -- the draft is a codebook -------------------------------------------------------------------
def test_draft_of_the_swedish_workbook_loads_and_reads_the_file(tmp_path, swedish_draft):
    path = tmp_path / "draft.yaml"
    path.write_text(unmarked(swedish_draft), encoding="utf-8")
    book = Codebook.load(path, strict=True)
    assert len(book.headers) == 42
    assert book.tool_columns == {
        "submitted": ("Inskickad",),
        "name": ("Namn",),
        "email": ("E-post",),
    }
    raw = read_export(SWEDISH, resolve_instrument(codebooks=[path]))
    base = Instrument.default()
    assert {f.name for f in base.questions if f.required} <= set(raw.columns)
    # the draft alone, without the shipped Swedish codebook, maps every question
    alone = base.with_codebooks([book])
    raw_alone = read_export(SWEDISH, alone)
    assert {f.name for f in base.questions} <= set(raw_alone.columns)
    assert raw_alone["tool_email"].notna().all()


def test_draft_with_marks_removed_loads_and_decodes_the_file(tmp_path):
    rows = [
        [
            "Timestamp",
            "Are you currently working on an ATMP project?",
            "Project acronym",
            "Name of the project lead",
            "Development stage (current)",
        ],
        ["2023-03-01 10:00", "Yes, absolutely", "ALPHA", "A. Lead", "Phase 1"],
        ["2023-03-02 10:00", "Nope", "", "", ""],
        ["2023-03-03 10:00", "Yes", "BETA", "B. Lead", "In vitro proof of concept"],
    ]
    survey = write_csv(tmp_path / "centre.csv", rows)
    text = draft_codebook(survey)
    assert unsure(text)
    marked = tmp_path / "marked.yaml"
    marked.write_text(text, encoding="utf-8")
    with pytest.raises(SurveyError, match="sure: false"):
        Codebook.load(marked, strict=True)  # the loader refuses a guess nobody checked
    path = tmp_path / "draft.yaml"
    path.write_text(unmarked(text), encoding="utf-8")
    Codebook.load(path, strict=True)
    instrument = resolve_instrument(codebooks=[path])
    decoded = decode_answers(read_export(survey, instrument), instrument)
    assert decoded["atmp_project"].tolist() == [1, 0, 1]
    assert decoded["stage"].tolist()[0::2] == [7, 2]


# -- personal data, determinism, errors ---------------------------------------------------------
def test_no_personal_data_is_copied(google_draft, swedish_draft):
    google = pd.read_csv(GOOGLE, dtype=str)
    swedish = pd.read_excel(SWEDISH, sheet_name="Svar", dtype=str)
    assert "@" not in google_draft and "@" not in swedish_draft
    for draft, frame, columns in [
        (google_draft, google, ["Your name", "Name of the project lead (PI)"]),
        (swedish_draft, swedish, ["Namn", "Ditt namn", "Namn på projektledaren (PI)"]),
    ]:
        names = set(frame[columns].stack().dropna().str.strip())
        assert len(names) > 10
        assert not [name for name in names if name in draft]


def test_answers_that_are_not_choices_are_never_copied(tmp_path):
    people = ["Anna Svensson", "Bo Ek", "Cecilia Berg", "Dan Holm"]
    rows = [["Your role in the project", "Project acronym or short name"]]
    rows += [[person, "A"] for person in people]
    rows += [["someone@example.org", "B"]]
    text = draft_codebook(write_csv(tmp_path / "names.csv", rows))
    assert not [person for person in people if person in text]
    assert "@" not in text
    assert "resp_role" in unsure(text)
    assert "5 distinct answers are no label of resp_role, 5 of them like none" in text
    assert "so none is copied" in block(text, "resp_role")
    # a few odd answers are listed, but never one that looks like an e-mail address
    few = [rows[0], ["Co-investigator", "A"], ["someone@example.org", "B"]]
    text = draft_codebook(write_csv(tmp_path / "few.csv", few))
    assert "@" not in text
    assert "an answer that looks like an e-mail address (1 row; not copied)" in text


def test_the_draft_is_deterministic(tmp_path, swedish_draft):
    copy = tmp_path / "elsewhere" / SWEDISH.name
    copy.parent.mkdir()
    shutil.copyfile(SWEDISH, copy)
    assert draft_codebook(copy) == swedish_draft == draft_codebook(SWEDISH)
    survey = write_csv(tmp_path / "reworded.csv", REWORDED)
    assert draft_codebook(survey) == draft_codebook(survey)


def test_only_the_marks_say_sure_false(tmp_path):
    # the command counts "sure: false" in the text: comments must not say it
    text = draft_codebook(write_csv(tmp_path / "reworded.csv", REWORDED))
    assert text.count("sure: false") == len(SURE_LINE.findall(text)) == len(unsure(text)) > 0
    assert re.search(r"^# .*delete its 'sure' line", text, re.MULTILINE)


@pytest.mark.parametrize("kind", ["missing", "empty"])
def test_missing_or_empty_file_is_a_survey_error(tmp_path, kind):
    path = tmp_path / f"{kind}.csv"
    if kind == "empty":
        path.write_bytes(b"")
    with pytest.raises(SurveyError, match=re.escape(str(path))):
        draft_codebook(path)


# -- other tools' exports ------------------------------------------------------------------------
def test_qualtrics_header_rows_are_not_answers():
    text = draft_codebook(DEMO / "demo_2023_qualtrics_text.csv")
    data = parsed(text)
    assert len(data["variables"]) == 42
    assert "sure: false" not in text and "unmatched" not in text
    assert data["tool_columns"]["record_id"] == "ResponseId"
    assert "IPAddress" in data["unmapped"]


def test_redcap_checkbox_columns_are_not_matched_to_questions():
    text = draft_codebook(DEMO / "demo_2023_redcap_raw.csv")
    data = parsed(text)
    assert "cell_type" not in data["variables"]
    assert "cell_type___1" in data["unmapped"]
    assert data["tool_columns"]["record_id"] == "record_id"
    assert not unsure(text)


# -- the scorer --------------------------------------------------------------------------------
def test_similarity_forgives_typos_and_order_but_not_a_word_in_a_long_question():
    scores = similarity(
        ["tillverknings status", "development stage (current)", "disease"],
        [
            "tillverkningsstatus",
            "current stage of development",
            "is the product a vaccine against an infectious disease?",
        ],
    )
    assert scores[0, 0] >= SURE and scores[1, 1] >= SURE
    assert scores[2, 2] < 70
    assert similarity([], ["x"]).shape == (0, 1)
