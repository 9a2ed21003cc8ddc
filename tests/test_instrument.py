"""Tests of atmp_analysis.instrument: the data dictionary, choices, branching, question list."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from atmp_analysis.config import DATA_DICTIONARY, QUESTION_LIST
from atmp_analysis.errors import SurveyError
from atmp_analysis.instrument import (
    DD_COLUMNS,
    DONT_KNOW,
    Instrument,
    describe_branching,
    evaluate_branching,
    parse_choices,
)

#: The header of a REDCap data dictionary, as REDCap writes it.
DD_HEADER = [
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
]


def write_dictionary(path: Path, rows: list[dict[str, str]]) -> Path:
    """Write a small data dictionary; each row gives only the columns that matter."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=DD_HEADER)
        writer.writeheader()
        for row in rows:
            writer.writerow({DD_COLUMNS[k]: v for k, v in row.items()})
    return path


SMALL_DICTIONARY = [
    {"name": "rec", "form": "mini_form", "type": "text", "label": "Record ID"},
    {
        "name": "q1",
        "form": "mini_form",
        "section": "A. First",
        "type": "radio",
        "label": "Question one",
        "choices": "1, Yes | 0, No, not at all",
        "required": "y",
    },
    {"name": "q2", "form": "mini_form", "type": "yesno", "label": "Question two"},
    {
        "name": "q3",
        "form": "mini_form",
        "section": "B. Second",
        "type": "checkbox",
        "label": "Question three",
        "choices": "1, A | 2, B | 0, None",
        "identifier": "Y",
        "branching": "[q1] = '1'",
    },
    {"name": "q4", "form": "mini_form", "type": "notes", "label": "Question four"},
]


# -- the shipped dictionary ------------------------------------------------------------------


def test_shipped_dictionary_has_42_questions_after_the_record_id(instrument):
    assert instrument.fields[0].name == "record_id"
    assert instrument.record_id == "record_id"
    assert len(instrument.questions) == 42
    assert instrument.names[0] == "atmp_project"
    assert instrument.names[-1] == "industry_partner"
    assert "record_id" not in instrument.names
    assert len(set(instrument.names)) == 42


def test_shipped_dictionary_form_and_redcap_columns(instrument):
    assert instrument.form == "atmp_pipeline_survey"
    assert instrument.complete_column == "atmp_pipeline_survey_complete"
    assert instrument.timestamp_column == "atmp_pipeline_survey_timestamp"
    assert instrument.source == str(DATA_DICTIONARY)


def test_default_is_cached():
    assert Instrument.default() is Instrument.default()


@pytest.mark.parametrize(
    ("name", "code", "label"),
    [
        ("atmp_project", 1, "Yes"),
        ("atmp_project", 0, "No"),
        ("contains_cells", 1, "Yes, viable cells"),
        ("contains_cells", 2, "Yes, non-viable cells or tissue"),
        (
            "gene_effect",
            0,
            "No, the genetic modification has another purpose (for example a safety switch, "
            "a marker or a manufacturing aid)",
        ),
        ("manipulation", 1, "Cutting, grinding or shaping"),
        (
            "manipulation",
            2,
            "Centrifugation, separation, concentration, purification or filtering",
        ),
        ("cell_type", 4, "Haematopoietic stem or progenitor cells (HSC, CD34+)"),
        (
            "intended_action",
            2,
            "Through a pharmacological, immunological or metabolic action (treating, "
            "preventing or diagnosing a disease)",
        ),
        ("reg_contact", 0, "None yet"),
        ("support_horizon", 1, "Within 1–2 years"),
        ("manufacturer", 99, "Not decided"),
    ],
)
def test_shipped_choices_with_commas_in_labels(instrument, name, code, label):
    assert instrument[name].choices[code] == label


def test_shipped_choice_counts_and_order(instrument):
    assert list(instrument["contains_cells"].choices) == [1, 2, 0]
    assert list(instrument["reg_contact"].choices) == [1, 2, 3, 4, 5, 0]
    assert len(instrument["stage"].choices) == 11
    assert len(instrument["gene_tech"].choices) == 12
    assert len(instrument["cell_type"].choices) == 11


def test_dont_know_is_code_99_wherever_offered(instrument):
    offering = [f.name for f in instrument.questions if "Don't know" in f.choices.values()]
    assert offering == [
        "therapy_type",
        "rna_dna",
        "gene_effect",
        "same_function",
        "intended_action",
        "rare_disease",
        "gmp_status",
        "support_horizon",
    ]
    for name in offering:
        assert instrument[name].choices[DONT_KNOW] == "Don't know"
    assert DONT_KNOW == 99


def test_identifiers_and_required_fields(instrument):
    assert instrument.identifiers == ["resp_name", "resp_email", "proj_lead"]
    required = [f.name for f in instrument.questions if f.required]
    assert required == ["atmp_project", "proj_acronym", "proj_lead", "stage"]


def test_field_kinds(instrument):
    checkbox = [f.name for f in instrument.checkbox_fields]
    assert checkbox == [
        "cell_type",
        "manipulation",
        "gene_tech",
        "reg_contact",
        "support_needs",
        "funding",
    ]
    assert instrument["atmp_project"] in instrument.radio_fields
    assert instrument["bottleneck"] in instrument.text_fields
    assert instrument["bottleneck"].type == "notes"
    assert [f.name for f in instrument.of_type("notes")] == ["proj_description", "bottleneck"]
    assert instrument["proj_start_year"].validation == "integer"
    assert (instrument["proj_start_year"].vmin, instrument["proj_start_year"].vmax) == (
        "1990",
        "2100",
    )
    assert instrument["resp_email"].validation == "email"
    n_kinds = len(instrument.radio_fields) + len(checkbox) + len(instrument.text_fields)
    assert n_kinds == 42


def test_sections_carry_down_to_following_fields(instrument):
    assert instrument["atmp_project"].section == "A. Screening"
    assert instrument["resp_name"].section == "B. Respondent"
    assert instrument["resp_email"].section == "B. Respondent"  # blank in the file
    assert instrument["industry_partner"].section == "H. Resources"


def test_contains_and_getitem(instrument):
    assert "stage" in instrument
    assert "record_id" in instrument
    assert "no_such_field" not in instrument
    with pytest.raises(KeyError):
        instrument["no_such_field"]


def test_shipped_branching(instrument):
    assert instrument["atmp_project"].branching == ""
    assert instrument["gene_effect"].branching == "[atmp_project] = '1' and [rna_dna] = '1'"
    assert instrument["cell_type_other"].branching == (
        "[atmp_project] = '1' and [cell_type(11)] = '1'"
    )


# -- parse_choices ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1, Yes | 0, No", {1: "Yes", 0: "No"}),
        ("1,Yes|0,No", {1: "Yes", 0: "No"}),
        ("  1 ,  Yes  |  99 , Don't know ", {1: "Yes", 99: "Don't know"}),
        (
            "0, No, the modification has another purpose",
            {0: "No, the modification has another purpose"},
        ),
        (
            "2, Centrifugation, separation, or filtering",
            {2: "Centrifugation, separation, or filtering"},
        ),
        ("-1, Minus one | 10, Ten", {-1: "Minus one", 10: "Ten"}),
        ("", {}),
        ("   ", {}),
    ],
)
def test_parse_choices(text, expected):
    assert parse_choices(text) == expected


def test_parse_choices_keeps_the_written_order():
    assert list(parse_choices("1, A | 2, B | 0, None")) == [1, 2, 0]


@pytest.mark.parametrize("text", ["Yes | No", "a, Apple | b, Banana", "1 Yes", "1, Yes || 0, No"])
def test_parse_choices_refuses_non_integer_codes(text):
    with pytest.raises(ValueError):
        parse_choices(text)


# -- export_columns ---------------------------------------------------------------------------


def test_export_columns(instrument):
    cols = instrument.export_columns()
    assert cols[0] == "record_id"
    assert cols[1] == "atmp_project"
    assert len(cols) == len(set(cols))
    for field in instrument.checkbox_fields:
        assert field.name not in cols
    start = cols.index("cell_type___1")
    assert cols[start : start + 12] == [f"cell_type___{c}" for c in range(1, 12)] + [
        "cell_type_other"
    ]
    start = cols.index("reg_contact___1")
    assert cols[start : start + 6] == [f"reg_contact___{c}" for c in (1, 2, 3, 4, 5, 0)]
    assert "atmp_pipeline_survey_complete" not in cols
    n_single = len(instrument.questions) - len(instrument.checkbox_fields)
    n_boxes = sum(len(f.choices) for f in instrument.checkbox_fields)
    assert len(cols) == 1 + n_single + n_boxes == 97


def test_checkbox_columns_of_a_field(instrument):
    assert instrument["funding"].checkbox_columns() == [f"funding___{c}" for c in range(1, 10)]
    assert instrument["funding"].is_checkbox
    assert instrument["funding"].is_choice
    assert not instrument["stage"].is_checkbox
    assert not instrument["disease"].is_choice


# -- evaluate_branching -----------------------------------------------------------------------


@pytest.fixture
def frame() -> pd.DataFrame:
    """Cleaned-style answers: Int64 codes and an Int64 checkbox bit mask."""
    return pd.DataFrame(
        {
            "a": pd.array([1, 0, None, 2, 1], dtype="Int64"),
            "b": pd.array([1, 1, 1, None, 0], dtype="Int64"),
            "box": pd.array([1 << 11, None, (1 << 11) | (1 << 2), 1 << 2, 1], dtype="Int64"),
        },
        index=pd.Index([10, 11, 12, 13, 14]),
    )


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("[a] = '1'", [True, False, False, False, True]),
        ('[a] = "1"', [True, False, False, False, True]),
        ("[a] = 1", [True, False, False, False, True]),
        ("[a] = '0'", [False, True, False, False, False]),
        # a blank under "<>" is tested on its own below
        ("[a] <> '1' and [a] <> ''", [False, True, False, True, False]),
        ("[a] != '1' and [a] <> ''", [False, True, False, True, False]),
        ("[a] > '0'", [True, False, False, True, True]),
        ("[a] >= '1'", [True, False, False, True, True]),
        ("[a] < '2'", [True, True, False, False, True]),
        ("[a] <= '0'", [False, True, False, False, False]),
        ("[a] = ''", [False, False, True, False, False]),
        ("[a] <> ''", [True, True, False, True, True]),
        ("[a] = '1' and [b] = '1'", [True, False, False, False, False]),
        ("[a] = '1' AND [b] = '1'", [True, False, False, False, False]),
        ("[a] = '0' or [b] = '0'", [False, True, False, False, True]),
        ("[a] = '0' OR [b] = '0'", [False, True, False, False, True]),
        # "and" binds tighter than "or"
        ("[a] = '2' or [a] = '1' and [b] = '0'", [False, False, False, True, True]),
        ("([a] = '2' or [a] = '1') and [b] = '0'", [False, False, False, False, True]),
        ("[b] = '1' and ([a] = '0' or [a] = '')", [False, True, True, False, False]),
        ("(([a] = '1'))", [True, False, False, False, True]),
        ("[box(11)] = '1'", [True, False, True, False, False]),
        ("[box(2)] = '1'", [False, False, True, True, False]),
        ("[box(0)] = '1'", [False, False, False, False, True]),
        ("[box(11)] = '0'", [False, True, False, True, True]),
        ("[a] = '1' and [box(11)] = '1'", [True, False, False, False, False]),
        ("[missing_column] = '1'", [False] * 5),
    ],
)
def test_evaluate_branching(frame, expr, expected):
    result = evaluate_branching(expr, frame)
    assert result.dtype == bool
    assert result.index.equals(frame.index)
    assert result.tolist() == expected


@pytest.mark.parametrize("op", ["=", ">", "<", ">=", "<="])
@pytest.mark.parametrize("dtype", ["Int64", "float64", "str"])
def test_blank_never_equals_or_compares_to_a_value(op, dtype):
    data = pd.DataFrame({"x": pd.Series([None, None], dtype=dtype)})
    assert evaluate_branching(f"[x] {op} '1'", data).tolist() == [False, False]


@pytest.mark.parametrize("dtype", ["float64", "str"])
def test_blank_is_not_equal_to_a_value(dtype):
    data = pd.DataFrame({"x": pd.Series([np.nan, 1], dtype=dtype)})
    assert evaluate_branching("[x] <> '1'", data).tolist() == [True, False]


def test_blank_is_not_equal_to_a_value_on_cleaned_int64_codes():
    data = pd.DataFrame({"x": pd.array([None, 1], dtype="Int64")})
    assert evaluate_branching("[x] <> '1'", data).tolist() == [True, False]


def test_evaluate_branching_reads_text_codes_as_numbers():
    data = pd.DataFrame({"x": pd.Series(["1", "1.0", "2", None, "Yes"], dtype="str")})
    assert evaluate_branching("[x] = '1'", data).tolist() == [True, True, False, False, False]


def test_evaluate_branching_does_not_change_its_input(frame):
    before = frame.copy(deep=True)
    evaluate_branching("[a] = '1' or [box(11)] = '1'", frame)
    pd.testing.assert_frame_equal(frame, before)


@pytest.mark.parametrize(
    "expr",
    [
        "[a] = ",
        "[a] '1'",
        "[a] = '1' and",
        "([a] = '1'",
        "[a] = '1')",
        "a = '1'",
        "[a] == '1' ; drop",
        "[a] = '1' xor [b] = '1'",
    ],
)
def test_evaluate_branching_refuses_unreadable_logic(frame, expr):
    with pytest.raises(SurveyError, match="branching logic"):
        evaluate_branching(expr, frame)


# -- Instrument.shown -------------------------------------------------------------------------


def test_shown_follows_the_shipped_branching(instrument):
    data = pd.DataFrame(
        {
            "atmp_project": pd.array([1, 0, 1, 1], dtype="Int64"),
            "rna_dna": pd.array([1, None, 0, None], dtype="Int64"),
            "therapy_type": pd.array([None, None, 2, 3], dtype="Int64"),
            "contains_cells": pd.array([0, None, 1, 2], dtype="Int64"),
            "cell_type": pd.array([None, None, 1 << 11, 1 << 5], dtype="Int64"),
            "ther_area": pd.array([14, None, 1, None], dtype="Int64"),
        },
        index=pd.Index(["r1", "r2", "r3", "r4"]),
    )
    shown = instrument.shown(data)
    assert list(shown.columns) == instrument.names
    assert shown.index.equals(data.index)
    assert all(dtype == np.dtype(bool) for dtype in shown.dtypes)
    assert shown["atmp_project"].tolist() == [True, True, True, True]
    assert shown["resp_name"].tolist() == [True, False, True, True]
    assert shown["gene_effect"].tolist() == [True, False, False, False]
    assert shown["gene_tech"].tolist() == [True, False, True, False]
    assert shown["cell_origin"].tolist() == [False, False, True, True]
    assert shown["cell_type_other"].tolist() == [False, False, True, False]
    assert shown["ther_area_other"].tolist() == [True, False, False, False]
    # the screened-out respondent saw nothing but the screening question
    assert shown.loc["r2"].sum() == 1


# -- question_list ----------------------------------------------------------------------------


def test_question_list_equals_the_committed_file(instrument):
    committed = QUESTION_LIST.read_text(encoding="utf-8")
    assert instrument.question_list() == committed, (
        "atmp_analysis/data/instrument/question_list.md is out of date: regenerate it from "
        "the data dictionary (atmp-report instrument)"
    )


def test_question_list_content(instrument):
    text = instrument.question_list()
    assert text.startswith("# ATMP pipeline survey: question list\n")
    assert text.endswith("\n") and not text.endswith("\n\n")
    for section in ("## A. Screening", "## D. Product", "## H. Resources"):
        assert section in text
    assert "42. **Does the project have an industry partner?** [`industry_partner`]" in text
    assert "43. " not in text
    assert "[`proj_lead`] (free text; required, personal data)" in text
    assert "[`proj_start_year`] (free text; a whole number 1990–2100)" in text
    assert "[`cell_type`] (tick all that apply)" in text
    assert (
        "   - Centrifugation, separation, concentration, purification or filtering (code 2)" in text
    )
    assert "   - Don't know (code 99)" in text
    assert "“Other” is ticked in `cell_type`" in text
    assert '   - Note: kSEK per year, e.g. 1500 or "1,5 MSEK"' in text


def test_describe_branching_uses_choice_labels(instrument):
    assert describe_branching("[atmp_project] = '1'", instrument) == "`atmp_project` is “Yes”"
    assert (
        describe_branching("[contains_cells] <> '0'", instrument) == "`contains_cells` is not “No”"
    )
    assert describe_branching("[gene_tech(12)] = '0'", instrument) == (
        "“Other” is not ticked in `gene_tech`"
    )


def test_describe_branching_keeps_grouping(instrument):
    grouped_or = describe_branching(
        "[atmp_project] = '1' and ([rna_dna] = '1' or [therapy_type] = '1')", instrument
    )
    grouped_and = describe_branching(
        "([atmp_project] = '1' and [rna_dna] = '1') or [therapy_type] = '1'", instrument
    )
    assert grouped_or != grouped_and


# -- from_dictionary --------------------------------------------------------------------------


def test_from_dictionary_reads_a_small_dictionary(tmp_path):
    path = write_dictionary(tmp_path / "dd.csv", SMALL_DICTIONARY)
    inst = Instrument.from_dictionary(path)
    assert inst.source == str(path)
    assert inst.record_id == "rec"
    assert inst.form == "mini_form"
    assert inst.complete_column == "mini_form_complete"
    assert inst.names == ["q1", "q2", "q3", "q4"]
    assert inst["q1"].choices == {1: "Yes", 0: "No, not at all"}
    assert inst["q1"].required
    assert inst["q2"].choices == {1: "Yes", 0: "No"}  # yesno gets REDCap's fixed choices
    assert inst["q2"].section == "A. First"
    assert inst["q3"].section == "B. Second"
    assert inst["q3"].identifier  # "Y" counts as yes
    assert inst.identifiers == ["q3"]
    assert inst["q3"].branching == "[q1] = '1'"
    assert inst["q4"].choices == {}
    assert inst.export_columns() == ["rec", "q1", "q2", "q3___1", "q3___2", "q3___0", "q4"]


def test_from_dictionary_reads_a_bom(tmp_path):
    path = write_dictionary(tmp_path / "dd.csv", SMALL_DICTIONARY)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert Instrument.from_dictionary(path).record_id == "rec"


def test_from_dictionary_round_trips_the_shipped_file(tmp_path, instrument):
    copy = tmp_path / "copy.csv"
    copy.write_bytes(DATA_DICTIONARY.read_bytes())
    assert Instrument.from_dictionary(copy).fields == instrument.fields


def test_from_dictionary_missing_file(tmp_path):
    path = tmp_path / "nowhere" / "dd.csv"
    with pytest.raises(SurveyError, match="data dictionary not found") as info:
        Instrument.from_dictionary(path)
    assert str(path) in str(info.value)


def test_from_dictionary_folder(tmp_path):
    with pytest.raises(SurveyError) as info:
        Instrument.from_dictionary(tmp_path)
    assert str(tmp_path) in str(info.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"a,b,c\n1,2,3\n", "not a REDCap data dictionary"),
        (b"", "not a REDCap data dictionary"),
        (
            b"Variable / Field Name,Field Label\nrecord_id,Record ID\n",
            "not a REDCap data dictionary",
        ),
        (b"\xff\xfe\x00b\x00a\x00d", "cannot read the data dictionary"),
    ],
)
def test_from_dictionary_not_a_dictionary(tmp_path, content, message):
    path = tmp_path / "mine.csv"
    path.write_bytes(content)
    with pytest.raises(SurveyError, match=message) as info:
        Instrument.from_dictionary(path)
    assert str(path) in str(info.value)


def test_from_dictionary_bad_choices_names_file_row_and_column(tmp_path):
    rows = [dict(r) for r in SMALL_DICTIONARY]
    rows[2] = {**rows[1], "name": "q_bad", "choices": "Yes | No"}
    path = write_dictionary(tmp_path / "dd.csv", rows)
    with pytest.raises(SurveyError) as info:
        Instrument.from_dictionary(path)
    message = str(info.value)
    assert message.startswith(f"{path}, row 4, ")
    assert "'Choices, Calculations, OR Slider Labels'" in message
    assert "'Yes | No'" in message


def test_from_dictionary_ignores_choices_of_text_fields(tmp_path):
    rows = [dict(r) for r in SMALL_DICTIONARY]
    rows[4] = {**rows[4], "choices": "not, parsed | at all"}
    inst = Instrument.from_dictionary(write_dictionary(tmp_path / "dd.csv", rows))
    assert inst["q4"].choices == {}


def test_from_dictionary_skips_rows_of_empty_cells(tmp_path):
    path = write_dictionary(tmp_path / "dd.csv", SMALL_DICTIONARY)
    with path.open("a", encoding="utf-8", newline="") as handle:
        handle.write("," * (len(DD_HEADER) - 1) + "\r\n")
    assert Instrument.from_dictionary(path).names == ["q1", "q2", "q3", "q4"]
