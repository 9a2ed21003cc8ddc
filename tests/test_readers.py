"""Tests of atmp_analysis.readers: tiny REDCap CSV and Microsoft Forms xlsx exports."""

from __future__ import annotations

import csv
import datetime as dt
import os
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from atmp_analysis.errors import SurveyError
from atmp_analysis.instrument import Instrument
from atmp_analysis.readers import META_COLUMNS, detect_format, read_export

INSTRUMENT = Instrument.default()

RAW_HEADER = [
    "record_id",
    "atmp_pipeline_survey_timestamp",
    "atmp_project",
    "resp_name",
    "proj_acronym",
    "proj_lead",
    "stage",
    "cell_type___1",
    "cell_type___5",
    "cell_type___11",
    "cell_type_other",
    "fte",
    "atmp_pipeline_survey_complete",
]
RAW_ROWS = [
    [
        *("1", "2023-03-01 10:00:00", "1", "Anna Andersson", "CARX", "Anna Andersson", "7"),
        *("0", "1", "1", "Treg cells", "2,5", "2"),
    ],
    ["2", "2023-03-02 11:30:00", "0", "", "", "", "", "0", "0", "0", "", "", "0"],
    ["3", "", "1", "Bo Berg", "GENE-1", "Bo Berg", "3", "1", "0", "0", "", "3", "1"],
]


def label(name: str) -> str:
    return INSTRUMENT[name].label


def choice_header(name: str, code: int) -> str:
    return f"{label(name)} (choice={INSTRUMENT[name].choices[code]})"


LABEL_HEADER = [
    "Record ID",
    "Survey Timestamp",
    label("atmp_project"),
    label("resp_name"),
    label("proj_acronym"),
    label("proj_lead"),
    label("stage"),
    choice_header("cell_type", 1),
    choice_header("cell_type", 5),
    choice_header("cell_type", 11),
    label("cell_type_other"),
    label("fte"),
    "Complete?",
]
LABEL_ROWS = [
    [
        *("1", "2023-03-01 10:00", "Yes", "Anna Andersson", "CARX", "Anna Andersson", "Phase I"),
        *("Unchecked", "Checked", "Checked", "Treg cells", "2,5", "Complete"),
    ],
    [
        *("2", "2023-03-02 11:30", "No", "", "", "", "", "Unchecked", "Unchecked", "Unchecked"),
        *("", "", "Incomplete"),
    ],
    [
        *("3", "[not completed]", "Yes", "Bo Berg", "GENE-1", "Bo Berg"),
        *("In vivo proof of concept", "Checked", "Unchecked", "Unchecked", "", "3", "Unverified"),
    ],
]

FORMS_TOOL = ["ID", "Start time", "Completion time", "Email", "Name"]
FORMS_QUESTIONS = ["atmp_project", "resp_name", "proj_acronym", "proj_lead", "stage", "cell_type"]
FORMS_QUESTIONS += ["fte"]


def write_csv(
    path: Path,
    header: list[str],
    rows: list[list[str]],
    *,
    delimiter: str = ",",
    blank_after: int | None = None,
    encoding: str = "utf-8",
) -> Path:
    """Write a CSV; ``blank_after`` puts an empty line after that many data rows."""
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow(header)
        for i, row in enumerate(rows):
            if blank_after is not None and i == blank_after:
                handle.write("\r\n")
            writer.writerow(row)
    return path


def write_raw(tmp_path: Path, delimiter: str = ",", name: str = "export.csv") -> Path:
    return write_csv(tmp_path / name, RAW_HEADER, RAW_ROWS, delimiter=delimiter, blank_after=1)


def write_labels(tmp_path: Path, name: str = "labels.csv") -> Path:
    return write_csv(tmp_path / name, LABEL_HEADER, LABEL_ROWS)


def write_forms(tmp_path: Path, name: str = "forms.xlsx", headers: list[str] | None = None) -> Path:
    """A Microsoft Forms response workbook: tool columns, question texts, a blank row."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Sheet1"
    sheet.append(headers or FORMS_TOOL + [label(n) for n in FORMS_QUESTIONS])
    sheet.append(
        [
            *(1, dt.datetime(2024, 2, 1, 9, 0), dt.datetime(2024, 2, 1, 9, 12, 30)),
            *("anonymous", "anonymous", "Yes", "Anna Andersson", "CARX", "Anna Andersson"),
            *("Phase I", "T cells;NK cells;", 2.5),
        ]
    )
    sheet.append([None] * 11)
    sheet.append(
        [
            *(2, dt.datetime(2024, 2, 3, 14, 0), dt.datetime(2024, 2, 3, 14, 5)),
            *("bo.berg@uni.example", "Bo Berg", "No", None, None, None, None, None, None),
        ]
    )
    workbook.save(tmp_path / name)
    return tmp_path / name


# -- detect_format ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("writer", "expected"),
    [
        (lambda p: write_raw(p, ","), "redcap"),
        (lambda p: write_raw(p, ";"), "redcap"),
        (lambda p: write_raw(p, "\t"), "redcap"),
        (write_labels, "redcap"),
        (write_forms, "msforms"),
    ],
    ids=["redcap-comma", "redcap-semicolon", "redcap-tab", "redcap-labels", "msforms"],
)
def test_detect_format(tmp_path, writer, expected):
    assert detect_format(writer(tmp_path)) == expected


def test_detect_format_goes_by_content_not_name(tmp_path):
    assert detect_format(write_raw(tmp_path, name="responses.txt")) == "redcap"
    assert detect_format(write_raw(tmp_path, name="no_suffix")) == "redcap"
    assert detect_format(write_forms(tmp_path, name="Survey Responses.XLSX")) == "msforms"


def test_detect_format_of_a_workbook_without_its_suffix(tmp_path):
    forms = write_forms(tmp_path)
    renamed = forms.rename(tmp_path / "survey_download")
    assert detect_format(renamed) == "msforms"


@pytest.mark.parametrize("name", ["notes.docx", "exports.zip"])
def test_a_zip_that_is_not_a_workbook_is_a_survey_error(tmp_path, name):
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    with pytest.raises(SurveyError) as info:
        read_export(path)
    assert str(info.value).startswith(str(path))


def test_detect_format_of_an_unrelated_file(tmp_path):
    path = write_csv(tmp_path / "other.csv", ["a", "b", "c"], [["1", "2", "3"]])
    with pytest.raises(SurveyError, match="not a recognised export") as info:
        detect_format(path)
    assert str(path) in str(info.value)


# -- REDCap raw export ------------------------------------------------------------------------


def test_redcap_raw_layout(tmp_path):
    path = write_raw(tmp_path)
    raw = read_export(path)
    assert list(raw.columns[: len(META_COLUMNS)]) == META_COLUMNS
    assert list(raw.columns[len(META_COLUMNS) :]) == [
        c for c in RAW_HEADER if c in INSTRUMENT.export_columns() and c != "record_id"
    ]
    assert raw["source_file"].tolist() == ["export.csv"] * 3
    # header = row 1, the blank line after the first response is row 3
    assert raw["source_row"].tolist() == [2, 4, 5]
    assert raw["source_row"].dtype == "int64"
    assert raw["source_format"].tolist() == ["redcap"] * 3
    assert raw["record_id"].tolist() == ["1", "2", "3"]
    assert raw["submitted"].iloc[0] == pd.Timestamp("2023-03-01 10:00:00")
    assert raw["submitted"].iloc[1] == pd.Timestamp("2023-03-02 11:30:00")
    assert pd.isna(raw["submitted"].iloc[2])
    assert raw["complete"].dtype == "Int64"
    assert raw["complete"].tolist() == [2, 0, 1]
    assert raw["tool_name"].isna().all()
    assert raw["tool_email"].isna().all()


def test_redcap_raw_answers_are_text_as_exported(tmp_path):
    raw = read_export(write_raw(tmp_path))
    assert raw["atmp_project"].tolist() == ["1", "0", "1"]
    assert raw["stage"].iloc[0] == "7"
    assert pd.isna(raw["stage"].iloc[1])  # blank cells are missing, not ""
    assert raw["cell_type___5"].tolist() == ["1", "0", "0"]
    assert raw["fte"].iloc[0] == "2,5"
    assert raw["cell_type_other"].iloc[0] == "Treg cells"
    for column in ["atmp_project", "stage", "cell_type___5", "fte", "proj_acronym"]:
        assert pd.api.types.is_string_dtype(raw[column])


def test_redcap_raw_attrs(tmp_path):
    path = write_raw(tmp_path)
    raw = read_export(path)
    assert raw.attrs["path"] == str(path)
    assert raw.attrs["multiselect_sep"] is None
    assert list(raw.attrs["unknown_columns"]) == []
    headers = raw.attrs["headers"]
    assert headers["stage"] == "stage"
    assert headers["cell_type___5"] == "cell_type___5"
    assert headers["atmp_pipeline_survey_complete"] == "atmp_pipeline_survey_complete"


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_redcap_raw_other_delimiters_read_the_same(tmp_path, delimiter):
    comma = read_export(write_raw(tmp_path, ",", name="comma.csv"))
    other = read_export(write_raw(tmp_path, delimiter, name="other.csv"))
    assert other["source_file"].tolist() == ["other.csv"] * 3
    pd.testing.assert_frame_equal(
        other.drop(columns="source_file"), comma.drop(columns="source_file")
    )


def test_redcap_raw_with_trailing_delimiters_and_unknown_columns(tmp_path):
    path = tmp_path / "extra.csv"
    path.write_text(
        "record_id,atmp_project,proj_acronym,proj_lead,stage,my_note,\n"
        "1,1,CARX,Anna Andersson,7,hello,\n"
        "2,0,,,,,\n",
        encoding="utf-8",
    )
    raw = read_export(path)
    assert list(raw.attrs["unknown_columns"]) == ["my_note"]
    assert "my_note" not in raw.columns
    assert not any(str(c).startswith("Unnamed") for c in raw.columns)
    assert raw["source_row"].tolist() == [2, 3]
    assert raw["submitted"].isna().all()
    assert raw["complete"].isna().all()


def test_redcap_raw_with_bom_and_windows_encoding(tmp_path):
    header = ["record_id", "atmp_project", "proj_acronym", "proj_lead", "stage", "disease"]
    row = ["1", "1", "LÄK-1", "Åsa Öberg", "2", "Läkemedel ’x’"]
    bom = write_csv(tmp_path / "bom.csv", header, [row], encoding="utf-8-sig")
    cp1252 = write_csv(tmp_path / "ansi.csv", header, [row], encoding="cp1252")
    for path in (bom, cp1252):
        raw = read_export(path)
        assert raw["record_id"].tolist() == ["1"]
        assert raw["proj_lead"].tolist() == ["Åsa Öberg"]
        assert raw["disease"].tolist() == ["Läkemedel ’x’"]


# -- REDCap label export ----------------------------------------------------------------------


def test_redcap_label_export_layout(tmp_path):
    path = write_labels(tmp_path)
    raw = read_export(path)
    assert list(raw.columns[: len(META_COLUMNS)]) == META_COLUMNS
    assert raw["source_format"].tolist() == ["redcap-labels"] * 3
    assert raw["source_row"].tolist() == [2, 3, 4]
    assert raw["record_id"].tolist() == ["1", "2", "3"]
    assert raw["submitted"].iloc[0] == pd.Timestamp("2023-03-01 10:00")
    assert pd.isna(raw["submitted"].iloc[2])  # "[not completed]"
    assert raw["complete"].tolist() == [2, 0, 1]
    assert raw["atmp_project"].tolist() == ["Yes", "No", "Yes"]
    assert raw["stage"].iloc[0] == "Phase I"
    assert raw["cell_type___5"].tolist() == ["Checked", "Unchecked", "Unchecked"]
    assert raw["cell_type___11"].tolist() == ["Checked", "Unchecked", "Unchecked"]
    assert raw["cell_type_other"].iloc[0] == "Treg cells"
    assert list(raw.attrs["unknown_columns"]) == []


def test_redcap_label_export_headers(tmp_path):
    raw = read_export(write_labels(tmp_path))
    headers = raw.attrs["headers"]
    assert headers["record_id"] == "Record ID"
    assert headers["atmp_pipeline_survey_timestamp"] == "Survey Timestamp"
    assert headers["atmp_pipeline_survey_complete"] == "Complete?"
    assert headers["stage"] == "Current stage of development"
    assert headers["cell_type___5"] == "Which cell types are used? (choice=T cells)"
    assert headers["atmp_project"] == label("atmp_project")


def test_redcap_label_headers_match_whatever_the_case_and_spacing(tmp_path):
    header = [
        "Record ID",
        label("atmp_project").upper(),
        "  project acronym  or short name ",
        "Name of the project lead (PI)",
        "current stage of development",
        "Which cell types are used? (choice=t cells)",
    ]
    path = write_csv(
        tmp_path / "odd.csv", header, [["7", "Yes", "CARX", "Anna", "Phase I", "Checked"]]
    )
    raw = read_export(path)
    assert raw["proj_acronym"].tolist() == ["CARX"]
    assert raw["stage"].tolist() == ["Phase I"]
    assert raw["cell_type___5"].tolist() == ["Checked"]


def test_redcap_label_export_with_semicolons_and_commas_in_question_texts(tmp_path):
    header = [
        "Record ID",
        label("atmp_project"),
        label("proj_acronym"),
        label("proj_lead"),
        label("stage"),
        label("rna_dna"),
        choice_header("manipulation", 1),
        choice_header("manipulation", 2),
    ]
    row = ["1", "Yes", "CARX", "Anna", "Phase I", "Yes", "Unchecked", "Checked"]
    path = write_csv(tmp_path / "semi.csv", header, [row], delimiter=";")
    raw = read_export(path)
    assert raw["manipulation___2"].tolist() == ["Checked"]


# -- Microsoft Forms --------------------------------------------------------------------------


def test_msforms_layout(tmp_path):
    path = write_forms(tmp_path)
    raw = read_export(path)
    assert list(raw.columns[: len(META_COLUMNS)]) == META_COLUMNS
    assert list(raw.columns[len(META_COLUMNS) :]) == FORMS_QUESTIONS
    assert raw["source_file"].tolist() == ["forms.xlsx"] * 2
    assert raw["source_row"].tolist() == [2, 4]  # the blank row 3 is counted
    assert raw["source_format"].tolist() == ["msforms"] * 2
    assert raw["record_id"].tolist() == ["1", "2"]
    assert raw["submitted"].tolist() == [
        pd.Timestamp("2024-02-01 09:12:30"),
        pd.Timestamp("2024-02-03 14:05"),
    ]
    assert raw["complete"].isna().all()
    assert raw["complete"].dtype == "Int64"


def test_msforms_tool_identity_columns(tmp_path):
    raw = read_export(write_forms(tmp_path))
    # Forms writes "anonymous" when the respondent did not sign in
    assert pd.isna(raw["tool_name"].iloc[0])
    assert pd.isna(raw["tool_email"].iloc[0])
    assert raw["tool_name"].iloc[1] == "Bo Berg"
    assert raw["tool_email"].iloc[1] == "bo.berg@uni.example"


def test_msforms_answers_as_text(tmp_path):
    raw = read_export(write_forms(tmp_path))
    assert raw["atmp_project"].tolist() == ["Yes", "No"]
    assert raw["cell_type"].iloc[0] == "T cells;NK cells;"
    assert raw["fte"].iloc[0] == "2.5"
    assert pd.isna(raw["stage"].iloc[1])
    assert "cell_type___5" not in raw.columns


def test_msforms_attrs(tmp_path):
    path = write_forms(tmp_path)
    raw = read_export(path)
    assert raw.attrs["path"] == str(path)
    assert raw.attrs["multiselect_sep"] == ";"
    assert list(raw.attrs["unknown_columns"]) == []
    headers = raw.attrs["headers"]
    assert headers["record_id"] == "ID"
    assert headers["submitted"] == "Completion time"
    assert headers["cell_type"] == "Which cell types are used?"
    assert headers["stage"] == "Current stage of development"


def test_msforms_question_headers_match_whatever_the_case(tmp_path):
    headers = FORMS_TOOL + [label(n).upper() for n in FORMS_QUESTIONS[:-1]] + ["My own question"]
    raw = read_export(write_forms(tmp_path, headers=headers))
    assert raw["proj_acronym"].iloc[0] == "CARX"
    assert raw.attrs["headers"]["proj_acronym"] == label("proj_acronym").upper()
    assert list(raw.attrs["unknown_columns"]) == ["My own question"]
    assert "fte" not in raw.columns


# -- errors -----------------------------------------------------------------------------------


def _missing(tmp_path: Path) -> Path:
    return tmp_path / "missing.csv"


def _empty(tmp_path: Path) -> Path:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    return path


def _blank_lines(tmp_path: Path) -> Path:
    path = tmp_path / "blank.csv"
    path.write_text("\n\n  \n", encoding="utf-8")
    return path


def _header_only(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "header.csv", RAW_HEADER, [])


def _header_and_blank_lines(tmp_path: Path) -> Path:
    path = write_csv(tmp_path / "header_blank.csv", RAW_HEADER, [])
    with path.open("a", encoding="utf-8") as handle:
        handle.write("\n\n" + "," * (len(RAW_HEADER) - 1) + "\n")
    return path


def _forms_header_only(tmp_path: Path) -> Path:
    workbook = openpyxl.Workbook()
    workbook.active.append(FORMS_TOOL + [label(n) for n in FORMS_QUESTIONS])
    workbook.save(tmp_path / "header.xlsx")
    return tmp_path / "header.xlsx"


def _unrelated(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "budget.csv", ["year", "amount"], [["2023", "100"]])


def _folder(tmp_path: Path) -> Path:
    path = tmp_path / "exports.csv"
    path.mkdir()
    return path


def _corrupt_xlsx(tmp_path: Path) -> Path:
    path = tmp_path / "corrupt.xlsx"
    path.write_bytes(b"PK" + os.urandom(2000))
    return path


def _old_xls(tmp_path: Path) -> Path:
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + os.urandom(500))
    return path


def _duplicated_header(tmp_path: Path) -> Path:
    header = [*RAW_HEADER[:6], "proj_acronym", *RAW_HEADER[7:]]
    return write_csv(tmp_path / "dup.csv", header, RAW_ROWS)


def _duplicated_forms_header(tmp_path: Path) -> Path:
    headers = FORMS_TOOL + [label(n) for n in FORMS_QUESTIONS[:-1]] + [label("stage")]
    return write_forms(tmp_path, name="dup.xlsx", headers=headers)


def _missing_required(tmp_path: Path) -> Path:
    header = ["record_id", "atmp_project", "resp_name", "proj_acronym"]
    return write_csv(tmp_path / "partial.csv", header, [["1", "1", "Anna", "CARX"]])


def _forms_missing_required(tmp_path: Path) -> Path:
    headers = FORMS_TOOL + [label(n) for n in ["atmp_project", "resp_name", "proj_acronym"]]
    return write_forms(tmp_path, name="partial.xlsx", headers=headers)


def _redcap_as_xlsx(tmp_path: Path) -> Path:
    workbook = openpyxl.Workbook()
    workbook.active.append(RAW_HEADER)
    workbook.active.append(RAW_ROWS[0])
    workbook.save(tmp_path / "redcap.xlsx")
    return tmp_path / "redcap.xlsx"


def test_a_redcap_export_saved_as_a_workbook_is_read(tmp_path):
    raw = read_export(_redcap_as_xlsx(tmp_path))
    assert raw["source_format"].tolist() == ["redcap"]
    assert raw["source_row"].tolist() == [2]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_missing, "file not found"),
        (_empty, "the file is empty"),
        (_blank_lines, "the file is empty"),
        (_header_only, "there are no responses"),
        (_header_and_blank_lines, "there are no responses"),
        (_forms_header_only, "there are no responses"),
        (_unrelated, "not a recognised export"),
        (_folder, "is a folder"),
        (_corrupt_xlsx, "not a readable .xlsx workbook"),
        (_old_xls, "old-style .xls"),
        (_duplicated_header, "the header 'proj_acronym' appears more than once"),
        (_duplicated_forms_header, "the header 'Current stage of development' appears more"),
        (_missing_required, "required question\\(s\\) proj_lead, stage are not in the file"),
        (_forms_missing_required, "required question\\(s\\) proj_lead, stage are not in"),
    ],
    ids=lambda value: value.__name__.strip("_") if callable(value) else None,
)
def test_read_export_errors_name_the_file(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(SurveyError, match=message) as info:
        read_export(path)
    assert str(info.value).startswith(str(path))


def test_read_export_does_not_leave_the_workbook_locked(tmp_path):
    path = write_forms(tmp_path)
    read_export(path)
    path.unlink()  # would fail on Windows if a handle were left open
    assert not path.exists()
