"""Tests of the survey-tool readers (Qualtrics, Google Forms, Microsoft Forms CSV, codebook-
mapped files) and the helpers they share in :mod:`atmp_analysis.readers.base`.

Every export is a few lines written to ``tmp_path`` in the layout the tool writes (see
``atmp_analysis/demo.py`` for the full-size writers).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from atmp_analysis.choices import codes_to_mask
from atmp_analysis.cleaning import clean
from atmp_analysis.errors import SurveyError
from atmp_analysis.instrument import resolve_instrument
from atmp_analysis.readers import META_COLUMNS, detect_format, read_export
from atmp_analysis.readers.base import day_first, map_question_headers, parse_timestamp, sniff
from atmp_analysis.readers.qualtrics import METADATA

READING = resolve_instrument()  # the shipped instrument with the English and Swedish codebooks

#: The questions every small export below answers (the required ones and a checkbox).
QUESTIONS = ["atmp_project", "proj_acronym", "proj_lead", "stage", "manipulation"]
CENTRIFUGATION = "Centrifugation, separation, concentration, purification or filtering"
CENTRIFUGERING = "Centrifugering, separation, koncentrering, rening eller filtrering"


def label(name: str) -> str:
    return READING[name].label


def sv(name: str) -> str:
    """The Swedish question text of ``name`` (the shipped sv.yaml)."""
    book = next(b for b in READING.codebooks if b.language == "sv")
    return next(h for h, n in book.headers.items() if n == name)


def write_csv(
    path: Path,
    rows: list[list[object]],
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
) -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        csv.writer(handle, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return path


def write_xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


# -- Qualtrics --------------------------------------------------------------------------------


def qualtrics_meta(**given: object) -> list[object]:
    """One response's metadata columns, as a Qualtrics choice-text export writes them."""
    meta: dict[str, object] = {
        "StartDate": "2023-03-01 10:00:00",
        "EndDate": "2023-03-01 10:12:00",
        "Status": "IP Address",
        "IPAddress": "192.0.2.17",
        "Progress": "100",
        "Duration (in seconds)": "720",
        "Finished": "True",
        "RecordedDate": "2023-03-01 10:12:30",
        "ResponseId": "R_1aBcDeFgHiJkLmN",
        "RecipientLastName": "",
        "RecipientFirstName": "",
        "RecipientEmail": "",
        "ExternalReference": "",
        "LocationLatitude": "55.7047",
        "LocationLongitude": "13.1910",
        "DistributionChannel": "anonymous",
        "UserLanguage": "EN",
    }
    meta.update(given)
    return [meta[m] for m in METADATA]


def qrow(answers: list[object], **meta: object) -> list[object]:
    """One response row: the metadata (``meta`` overriding the defaults), then ``answers``."""
    return [*qualtrics_meta(**meta), *answers]


def qualtrics_texts(names: list[str]) -> list[str]:
    return [f"{label(n)} - Selected Choice" if READING[n].is_checkbox else label(n) for n in names]


ANSWERS = ["Yes", "CARX", "Anna Andersson", "Phase I", f"{CENTRIFUGATION},Culture expansion"]
NO_PROJECT = ["No", "", "", "", ""]


def write_qualtrics(
    path: Path,
    rows: list[list[object]],
    *,
    tags: list[str] | None = None,
    texts: list[str] | None = None,
    import_ids: bool = True,
    encoding: str = "utf-8-sig",
) -> Path:
    """A Qualtrics export: tags, question texts, (import ids), then ``rows``."""
    tags = tags or QUESTIONS
    texts = texts or qualtrics_texts(QUESTIONS)
    header = [
        [*METADATA, *tags],
        [*(m.replace("Id", " ID") for m in METADATA), *texts],
    ]
    if import_ids:
        ids = [json.dumps({"ImportId": m[0].lower() + m[1:]}) for m in METADATA]
        header.append(ids + [json.dumps({"ImportId": f"QID{i}"}) for i in range(1, len(tags) + 1)])
    return write_csv(path, header + rows, encoding=encoding)


def qualtrics_two(tmp_path: Path, **kwargs: object) -> Path:
    rows = [
        qrow(ANSWERS),
        qrow(NO_PROJECT, ResponseId="R_2", Finished="False", Progress="40"),
    ]
    return write_qualtrics(tmp_path / "qualtrics.csv", rows, **kwargs)


def test_qualtrics_is_detected_and_laid_out(tmp_path):
    path = qualtrics_two(tmp_path)
    assert detect_format(path) == "qualtrics"
    raw = read_export(path)
    assert list(raw.columns[: len(META_COLUMNS)]) == META_COLUMNS
    assert list(raw.columns[len(META_COLUMNS) :]) == QUESTIONS
    assert raw["source_format"].tolist() == ["qualtrics"] * 2
    assert raw["source_file"].tolist() == ["qualtrics.csv"] * 2
    assert raw["proj_acronym"].tolist() == ["CARX", pd.NA]
    assert raw.attrs["multiselect_sep"] == ","


def test_qualtrics_rows_count_the_three_header_rows(tmp_path):
    raw = read_export(qualtrics_two(tmp_path))
    assert raw["source_row"].tolist() == [4, 5]
    assert raw["record_id"].tolist() == ["R_1aBcDeFgHiJkLmN", "R_2"]


def test_qualtrics_legacy_export_with_two_header_rows(tmp_path):
    raw = read_export(qualtrics_two(tmp_path, import_ids=False))
    assert raw["source_row"].tolist() == [3, 4]
    # the first response is a response, not taken for a header row
    assert raw["atmp_project"].tolist() == ["Yes", "No"]


def test_qualtrics_legacy_export_with_a_blank_line_keeps_row_numbers(tmp_path):
    path = qualtrics_two(tmp_path, import_ids=False)
    lines = path.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    path.write_text("".join([*lines[:3], "\r\n", *lines[3:]]), encoding="utf-8-sig")
    assert read_export(path)["source_row"].tolist() == [3, 5]


@pytest.mark.parametrize(
    ("status", "test"),
    [
        ("Survey Preview", True),
        ("Survey Test", True),
        ("survey preview", True),
        ("1", True),
        ("IP Address", False),
        ("Spam", False),
        ("0", False),
    ],
)
def test_qualtrics_status_marks_test_responses(tmp_path, status, test):
    rows = [qrow(ANSWERS, Status=status), qrow(ANSWERS, ResponseId="R_2")]
    raw = read_export(write_qualtrics(tmp_path / "q.csv", rows))
    assert raw["tool_test"].tolist() == [test, False]
    assert raw["tool_test"].dtype == bool


@pytest.mark.parametrize(
    ("finished", "complete"),
    [("True", 2), ("False", 0), ("TRUE", 2), ("1", 2), ("0", 0), ("", None)],
)
def test_qualtrics_finished_gives_the_completion_flag(tmp_path, finished, complete):
    rows = [qrow(ANSWERS, Finished=finished)]
    raw = read_export(write_qualtrics(tmp_path / "q.csv", rows))
    assert raw["complete"].dtype == "Int64"
    if complete is None:
        assert pd.isna(raw["complete"].iloc[0])
    else:
        assert raw["complete"].iloc[0] == complete


def test_qualtrics_submitted_is_the_recorded_date(tmp_path):
    rows = [qrow(ANSWERS, EndDate="2023-03-01 10:12:00", RecordedDate="2023-03-02 08:00:01")]
    raw = read_export(write_qualtrics(tmp_path / "q.csv", rows))
    assert raw["submitted"].tolist() == [pd.Timestamp("2023-03-02 08:00:01")]
    assert raw["submitted"].dtype == "datetime64[ns]"


def test_qualtrics_recipient_columns_are_the_tool_identity(tmp_path):
    rows = [
        qrow(
            ANSWERS,
            RecipientFirstName="Åsa",
            RecipientLastName="Öberg",
            RecipientEmail="asa.oberg@uni.example",
        ),
        qrow(ANSWERS, ResponseId="R_2", RecipientFirstName="Bo"),
        qrow(ANSWERS, ResponseId="R_3"),
    ]
    raw = read_export(write_qualtrics(tmp_path / "q.csv", rows))
    assert raw["tool_name"].tolist() == ["Åsa Öberg", "Bo", pd.NA]
    assert raw["tool_email"].tolist() == ["asa.oberg@uni.example", pd.NA, pd.NA]


def test_qualtrics_ip_address_and_location_are_not_read(tmp_path):
    raw = read_export(qualtrics_two(tmp_path))
    for column in ["IPAddress", "LocationLatitude", "LocationLongitude"]:
        assert column not in raw.columns
        assert column not in raw.attrs["headers"].values()
    assert not raw.astype("string").isin(["192.0.2.17", "55.7047", "13.1910"]).any().any()
    # metadata is the tool's, not an unknown question
    assert list(raw.attrs["unknown_columns"]) == []


def test_qualtrics_tags_that_are_not_variable_names_are_matched_by_question_text(tmp_path):
    tags = ["Q1", "Q2", "Q3", "Q4", "Q5", "Q6"]
    texts = [*qualtrics_texts(QUESTIONS), "Favourite colour"]
    rows = [qrow([*ANSWERS, "blue"])]
    raw = read_export(write_qualtrics(tmp_path / "q.csv", rows, tags=tags, texts=texts))
    assert list(raw.columns[len(META_COLUMNS) :]) == QUESTIONS
    assert raw["proj_acronym"].tolist() == ["CARX"]
    assert raw["manipulation"].tolist() == [ANSWERS[-1]]
    headers = raw.attrs["headers"]
    assert headers["proj_acronym"] == "Q2"
    assert headers["manipulation"] == "Q5"  # the " - Selected Choice" text was matched
    assert list(raw.attrs["unknown_columns"]) == ["Q6"]


def test_qualtrics_a_question_text_already_taken_by_a_tag_is_not_read_twice(tmp_path):
    tags = [*QUESTIONS, "Q9"]
    texts = [*qualtrics_texts(QUESTIONS), label("stage")]
    rows = [qrow([*ANSWERS, "Phase III"])]
    raw = read_export(write_qualtrics(tmp_path / "q.csv", rows, tags=tags, texts=texts))
    assert raw["stage"].tolist() == ["Phase I"]
    assert raw.attrs["headers"]["stage"] == "stage"
    assert list(raw.attrs["unknown_columns"]) == ["Q9"]


def test_qualtrics_choice_text_with_commas_inside_labels_decodes(tmp_path):
    rows = [
        qrow(ANSWERS),
        qrow([*ANSWERS[:-1], f"Culture expansion,{CENTRIFUGATION}"], ResponseId="R_2"),
        qrow([*ANSWERS[:-1], "Cutting, grinding or shaping"], ResponseId="R_3"),
    ]
    raw = read_export(write_qualtrics(tmp_path / "q.csv", rows))
    cleaned = clean(raw, wave=2023)
    assert cleaned["manipulation"].tolist() == [
        codes_to_mask([2, 5]),
        codes_to_mask([2, 5]),
        codes_to_mask([1]),
    ]
    assert cleaned["stage"].tolist() == [7, 7, 7]


def test_qualtrics_numeric_export_decodes_codes(tmp_path):
    rows = [
        qrow(["1", "CARX", "Anna Andersson", "7", "1,5"], Status="0", Finished="1"),
        qrow(["0", "", "", "", ""], ResponseId="R_2", Status="1", Finished="0"),
    ]
    raw = read_export(write_qualtrics(tmp_path / "q.csv", rows))
    assert raw["tool_test"].tolist() == [False, True]
    assert raw["complete"].tolist() == [2, 0]
    cleaned = clean(raw, wave=2023)
    assert cleaned["manipulation"].iloc[0] == codes_to_mask([1, 5])
    assert cleaned["stage"].iloc[0] == 7
    assert cleaned["atmp_project"].tolist() == [1, 0]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8"])
def test_qualtrics_with_and_without_a_byte_order_mark(tmp_path, encoding):
    path = qualtrics_two(tmp_path, encoding=encoding)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf") == (encoding == "utf-8-sig")
    assert detect_format(path) == "qualtrics"
    raw = read_export(path)
    assert raw["source_row"].tolist() == [4, 5]
    assert raw["submitted"].notna().all()


def test_qualtrics_survey_preview_is_a_test_response_after_cleaning(tmp_path):
    rows = [
        qrow(ANSWERS),
        qrow(ANSWERS, ResponseId="R_2", Status="Survey Preview"),
    ]
    raw = read_export(write_qualtrics(tmp_path / "q.csv", rows))
    assert raw["tool_test"].tolist() == [False, True]
    cleaned = clean(raw, wave=2023)
    assert cleaned["status"].tolist() == ["project", "test response"]


def test_qualtrics_excel_download_is_read(tmp_path):
    texts = qualtrics_texts(QUESTIONS)
    ids = [json.dumps({"ImportId": m}) for m in METADATA]
    ids += [json.dumps({"ImportId": f"QID{i}"}) for i in range(1, 6)]
    meta = [v if v != "" else None for v in qualtrics_meta()]
    path = write_xlsx(
        tmp_path / "qualtrics.xlsx",
        {
            "Sheet0": [
                [*METADATA, *QUESTIONS],
                [*METADATA, *texts],
                ids,
                [*meta, *ANSWERS],
            ]
        },
    )
    raw = read_export(path)
    assert raw["source_format"].tolist() == ["qualtrics"]
    assert raw["source_row"].tolist() == [4]
    assert raw.attrs["unknown_columns"] == ()


# -- Google Forms -----------------------------------------------------------------------------

FORMS_HEADER = ["Timestamp", "Email Address", *(label(n) for n in QUESTIONS)]


def googleforms(tmp_path: Path, stamps: list[str], header: list[str] | None = None) -> Path:
    rows: list[list[object]] = [header or FORMS_HEADER]
    answers = [
        ["Yes", "CARX", "Anna Andersson", "Phase I", f"{CENTRIFUGATION}, Culture expansion"],
        ["No", "", "", "", ""],
        ["Yes", "GENE-1", "Bo Berg", "Phase II", "Cutting, grinding or shaping, Differentiation"],
    ]
    emails = ["anna@uni.example", "", "bo@uni.example"]
    for stamp, email, answer in zip(stamps, emails, answers, strict=False):
        rows.append([stamp, email, *answer])
    return write_csv(tmp_path / "google.csv", rows)


def test_googleforms_download(tmp_path):
    stamps = ["2023/03/01 1:05:09 PM GMT+1", "2023/03/02 9:30:00 AM GMT+1"]
    stamps.append("2023/03/03 12:00:00 PM GMT+1")
    path = googleforms(tmp_path, stamps)
    assert detect_format(path) == "googleforms"
    raw = read_export(path)
    assert raw["source_format"].tolist() == ["googleforms"] * 3
    assert raw["source_row"].tolist() == [2, 3, 4]
    assert raw["submitted"].tolist() == [
        pd.Timestamp("2023-03-01 13:05:09"),
        pd.Timestamp("2023-03-02 09:30:00"),
        pd.Timestamp("2023-03-03 12:00:00"),
    ]
    assert raw["tool_email"].tolist() == ["anna@uni.example", pd.NA, "bo@uni.example"]
    assert raw["tool_name"].isna().all()
    assert raw["record_id"].isna().all()
    assert raw["complete"].isna().all()
    headers = raw.attrs["headers"]
    assert headers["submitted"] == "Timestamp"
    assert headers["tool_email"] == "Email Address"
    assert list(raw.attrs["unknown_columns"]) == []


def test_googleforms_checkbox_labels_joined_by_comma_space(tmp_path):
    raw = read_export(googleforms(tmp_path, ["2023/03/01 1:05:09 PM GMT+1"] * 3))
    assert raw.attrs["multiselect_sep"] == ","
    cleaned = clean(raw, wave=2023)
    assert cleaned["manipulation"].tolist() == [
        codes_to_mask([2, 5]),
        pd.NA,
        codes_to_mask([1, 6]),
    ]


@pytest.mark.parametrize(
    ("stamps", "expected"),
    [
        # a US sheet: month first, seen from the 14th
        (
            ["3/14/2023 10:15:32", "3/1/2023 9:00:00", "4/2/2023 17:45:00"],
            ["2023-03-14 10:15:32", "2023-03-01 09:00:00", "2023-04-02 17:45:00"],
        ),
        # a European sheet: day first
        (
            ["14/03/2023 10:15:32", "01/03/2023 09:00:00", "2/4/2023 17:45:00"],
            ["2023-03-14 10:15:32", "2023-03-01 09:00:00", "2023-04-02 17:45:00"],
        ),
        # nothing tells: day first, as in Europe
        (
            ["01/03/2023 10:15:32", "02/03/2023 09:00:00", "2/4/2023 17:45:00"],
            ["2023-03-01 10:15:32", "2023-03-02 09:00:00", "2023-04-02 17:45:00"],
        ),
    ],
    ids=["us", "european", "ambiguous"],
)
def test_googleforms_sheet_timestamps(tmp_path, stamps, expected):
    raw = read_export(googleforms(tmp_path, stamps))
    assert raw["submitted"].tolist() == [pd.Timestamp(e) for e in expected]


def test_googleforms_in_swedish(tmp_path):
    header = ["Tidstämpel", "E-postadress", *(sv(n) for n in QUESTIONS)]
    rows = [
        header,
        [
            *("2023-03-01 13:05:09", "anna@uni.example", "Ja", "CARX", "Anna", "Fas I"),
            f"{CENTRIFUGERING}, Expansion genom odling",
        ],
        ["14/03/2023 10:15:32", "", "Ja", "GENE-1", "Bo", "Fas II", "Differentiering"],
    ]
    path = write_csv(tmp_path / "svar.csv", rows)
    assert detect_format(path) == "googleforms"
    raw = read_export(path)
    assert raw["submitted"].tolist() == [
        pd.Timestamp("2023-03-01 13:05:09"),
        pd.Timestamp("2023-03-14 10:15:32"),
    ]
    assert raw["tool_email"].tolist() == ["anna@uni.example", pd.NA]
    assert raw.attrs["headers"]["submitted"] == "Tidstämpel"
    assert raw.attrs["headers"]["proj_acronym"] == sv("proj_acronym")
    assert list(raw.attrs["unknown_columns"]) == []
    cleaned = clean(raw, wave=2023)
    assert cleaned["atmp_project"].tolist() == [1, 1]
    assert cleaned["stage"].tolist() == [7, 9]
    assert cleaned["manipulation"].tolist() == [codes_to_mask([2, 5]), codes_to_mask([6])]


def test_googleforms_quiz_score_is_neither_read_nor_unknown(tmp_path):
    header = ["Timestamp", "Score", *(label(n) for n in QUESTIONS), "Favourite colour"]
    rows = [header, ["3/1/2023 9:00:00", "0 / 0", "Yes", "CARX", "Anna", "Phase I", "", "red"]]
    raw = read_export(write_csv(tmp_path / "quiz.csv", rows))
    assert "Score" not in raw.attrs["headers"].values()
    assert not raw.astype("string").isin(["0 / 0"]).any().any()
    assert list(raw.attrs["unknown_columns"]) == ["Favourite colour"]


def test_googleforms_needs_timestamp_first(tmp_path):
    # the same columns with Timestamp later are still read (generic), not as Google Forms
    header = [label("atmp_project"), "Timestamp", *(label(n) for n in QUESTIONS[1:])]
    rows = [header, ["Yes", "3/1/2023 9:00:00", "CARX", "Anna", "Phase I", ""]]
    path = write_csv(tmp_path / "moved.csv", rows)
    assert detect_format(path) == "generic"


# -- Microsoft Forms saved as CSV, and in Swedish ---------------------------------------------


def test_msforms_csv_with_bom(tmp_path):
    header = ["ID", "Start time", "Completion time", "Email", "Name", "Last modified time"]
    header += [label(n) for n in QUESTIONS]
    rows = [
        header,
        [
            *("1", "01/03/2023 09:50:00", "01/03/2023 10:05:30", "anonymous", "anonymous", ""),
            *("Yes", "CARX", "Anna Andersson", "Phase I", f"{CENTRIFUGATION};Culture expansion;"),
        ],
        [
            *("2", "13/03/2023 13:00:00", "14/03/2023 08:00:00", "bo@uni.example", "Bo Berg"),
            *("14/03/2023 09:00:00", "No", "", "", "", ""),
        ],
    ]
    path = write_csv(tmp_path / "forms.csv", rows, encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert detect_format(path) == "msforms"
    raw = read_export(path)
    assert raw["source_format"].tolist() == ["msforms"] * 2
    assert raw["record_id"].tolist() == ["1", "2"]
    assert raw["submitted"].tolist() == [
        pd.Timestamp("2023-03-01 10:05:30"),
        pd.Timestamp("2023-03-14 08:00:00"),
    ]
    assert raw["tool_name"].tolist() == [pd.NA, "Bo Berg"]
    assert raw["tool_email"].tolist() == [pd.NA, "bo@uni.example"]
    # the start and modification times are neither answers nor unknown
    assert list(raw.columns[len(META_COLUMNS) :]) == QUESTIONS
    assert list(raw.attrs["unknown_columns"]) == []
    for header_ in ["Start time", "Last modified time"]:
        assert header_ not in raw.attrs["headers"].values()
    assert raw.attrs["multiselect_sep"] == ";"
    cleaned = clean(raw, wave=2023)
    assert cleaned["manipulation"].iloc[0] == codes_to_mask([2, 5])


def test_msforms_csv_saved_by_a_swedish_excel_with_semicolons(tmp_path):
    header = ["ID", "Start time", "Completion time", "Email", "Name"]
    header += [label(n) for n in QUESTIONS]
    rows = [
        header,
        [
            *("1", "2023-03-01 09:50", "2023-03-01 10:05", "anonymous", "anonymous"),
            *("Yes", "CARX", "Anna", "Phase I", f"{CENTRIFUGATION};"),
        ],
    ]
    raw = read_export(write_csv(tmp_path / "forms.csv", rows, delimiter=";"))
    assert raw["source_format"].tolist() == ["msforms"]
    assert raw["manipulation"].tolist() == [f"{CENTRIFUGATION};"]
    assert raw["submitted"].tolist() == [pd.Timestamp("2023-03-01 10:05")]


def test_msforms_in_swedish(tmp_path):
    header = ["ID", "Starttid", "Sluttid", "E-post", "Namn", "Senast ändrad"]
    header += [sv(n) for n in QUESTIONS]
    rows = [
        header,
        [
            1,
            dt.datetime(2023, 3, 1, 9, 50),
            dt.datetime(2023, 3, 1, 10, 5, 30),
            "anna@uni.example",
            "Anna Andersson",
            None,
            *("Ja", "CARX", "Anna Andersson", "Fas I", f"{CENTRIFUGERING};Differentiering;"),
        ],
    ]
    path = write_xlsx(tmp_path / "svar.xlsx", {"Blad1": rows})
    assert detect_format(path) == "msforms"
    raw = read_export(path)
    assert raw["record_id"].tolist() == ["1"]
    assert raw["submitted"].tolist() == [pd.Timestamp("2023-03-01 10:05:30")]
    assert raw["tool_email"].tolist() == ["anna@uni.example"]
    assert raw["tool_name"].tolist() == ["Anna Andersson"]
    assert list(raw.columns[len(META_COLUMNS) :]) == QUESTIONS
    assert list(raw.attrs["unknown_columns"]) == []
    headers = raw.attrs["headers"]
    assert headers["submitted"] == "Sluttid"
    assert headers["tool_email"] == "E-post"
    assert "Starttid" not in headers.values()
    cleaned = clean(raw, wave=2023)
    assert cleaned["atmp_project"].tolist() == [1]
    assert cleaned["manipulation"].tolist() == [codes_to_mask([2, 6])]


# -- generic: typed spreadsheets and codebooks ------------------------------------------------


def swedish_workbook(tmp_path: Path, *, first: str = "Instruktioner") -> Path:
    """A typed Swedish workbook: instructions first, then the responses with an Excel serial
    submission time, a blank row, and formatted empty columns after the last question."""
    header = ["Inskickad", "E-post", "Namn", *(sv(n) for n in QUESTIONS)]
    workbook = openpyxl.Workbook()
    notes = workbook.active
    notes.title = first
    # a wider first row than the response sheet's, two of its cells known headers
    words = "Svar på kartläggningen: ändra inte rubrikerna på fliken Svar".split()
    notes.append([*words, "Tidstämpel", sv("stage"), "Exempel"])
    notes.append(["Inskickad", "E-post", "Namn"])
    sheet = workbook.create_sheet("Svar")
    sheet.append(header)
    sheet.append(
        [44986.4375, "anna@uni.example", "Anna", "Ja", "CARX", "Anna", "Fas I", "Differentiering"]
    )
    sheet.append([None])
    sheet.append([45000.5, None, None, "Nej", None, None, None, None])
    width = sheet.max_column
    for extra in (1, 2):
        sheet.cell(row=1, column=width + extra).number_format = "@"
    path = tmp_path / "svar.xlsx"
    workbook.save(path)
    return path


def test_sniff_picks_the_response_sheet_of_a_workbook(tmp_path):
    path = swedish_workbook(tmp_path)
    sniffed = sniff(path, READING)
    assert sniffed.kind == "xlsx"
    assert sniffed.sheet == "Svar"
    assert sniffed.header[0] == "Inskickad"
    assert sniffed.header[-1] == sv("manipulation")  # the empty formatted columns trimmed


def test_swedish_typed_workbook(tmp_path):
    path = swedish_workbook(tmp_path)
    assert detect_format(path) == "generic"
    raw = read_export(path)
    assert raw["source_format"].tolist() == ["generic"] * 2
    assert raw["source_row"].tolist() == [2, 4]  # the blank row 3 is skipped, not renumbered
    assert raw["submitted"].tolist() == [
        pd.Timestamp("2023-03-01 10:30:00"),
        pd.Timestamp("2023-03-15 12:00:00"),
    ]
    assert raw["tool_email"].tolist() == ["anna@uni.example", pd.NA]
    assert raw["tool_name"].tolist() == ["Anna", pd.NA]
    assert list(raw.columns[len(META_COLUMNS) :]) == QUESTIONS
    assert list(raw.attrs["unknown_columns"]) == []
    assert raw.attrs["headers"]["submitted"] == "Inskickad"
    cleaned = clean(raw, wave=2023)
    assert cleaned["atmp_project"].tolist() == [1, 0]
    assert cleaned["stage"].tolist() == [7, pd.NA]
    assert cleaned["manipulation"].tolist() == [codes_to_mask([6]), pd.NA]


def test_a_typed_csv_without_time_stamps(tmp_path):
    header = [label(n) for n in QUESTIONS]
    rows = [header, ["Yes", "CARX", "Anna", "Phase I", ""], ["", "", "", "", ""]]
    rows.append(["No", "", "", "", ""])
    raw = read_export(write_csv(tmp_path / "typed.csv", rows))
    assert raw["source_format"].tolist() == ["generic"] * 2
    assert raw["source_row"].tolist() == [2, 4]
    assert raw["submitted"].isna().all()
    assert raw["submitted"].dtype == "datetime64[ns]"
    assert raw["record_id"].isna().all()


@pytest.mark.parametrize(
    ("cells", "sep"),
    [
        (["Differentiation; Culture expansion", "Differentiation"], ";"),
        (["Differentiation", "Culture expansion;"], ";"),
        ([f"{CENTRIFUGATION}, Differentiation", "Differentiation"], ","),
        (["Differentiation", ""], ","),
    ],
)
def test_generic_multiselect_separator_is_found_in_the_file(tmp_path, cells, sep):
    header = ["Submitted", *(label(n) for n in QUESTIONS)]
    rows = [header]
    for i, cell in enumerate(cells):
        rows.append([f"2023-03-0{i + 1} 10:00", "Yes", "CARX", "Anna", "Phase I", cell])
    raw = read_export(write_csv(tmp_path / "typed.csv", rows))
    assert raw["source_format"].iloc[0] == "generic"
    assert raw.attrs["multiselect_sep"] == sep


def test_generic_separator_ignores_semicolons_in_free_text(tmp_path):
    header = [*(label(n) for n in QUESTIONS), label("bottleneck")]
    rows = [header, ["Yes", "CARX", "Anna", "Phase I", f"{CENTRIFUGATION}", "money; staff"]]
    raw = read_export(write_csv(tmp_path / "typed.csv", rows))
    assert raw.attrs["multiselect_sep"] == ","
    cleaned = clean(raw, wave=2023)
    assert cleaned["manipulation"].tolist() == [codes_to_mask([2])]


CENTRE_CODEBOOK = """\
codebook: 1
name: Centre X
tool_columns:
  submitted: [When]
  record_id: Form no.
variables:
  atmp_project:
    header: ATMP project?
    choices:
      1: Y
      0: N
  proj_acronym: Project name
  proj_lead:
    header: [Lead, PI]
  stage:
    header: Phase
    choices:
      7: Ph 1
      8: [Ph 1/2, Phase 1-2]
  manipulation:
    header: Steps
    choices:
      5: Expansion
"""


def centre_files(tmp_path: Path) -> tuple[Path, Path]:
    book = tmp_path / "centre.yaml"
    book.write_text(CENTRE_CODEBOOK, encoding="utf-8")
    rows = [
        ["Form no.", "When", "ATMP project?", "Project name", "PI", "Phase", "Steps", "Notes"],
        ["A-1", "2023-03-01 10:00", "Y", "CARX", "Anna", "Ph 1", "Expansion; Differentiation", ""],
        ["A-2", "2023-03-02 11:00", "Y", "GENE", "Bo", "Phase 1-2", "", "x"],
        ["A-3", "2023-03-03 12:00", "N", "", "", "", "", ""],
    ]
    return book, write_csv(tmp_path / "centre.csv", rows)


def test_a_centre_codebook_maps_renamed_headers_and_labels(tmp_path):
    book, path = centre_files(tmp_path)
    instrument = resolve_instrument(codebooks=[book])
    assert detect_format(path, instrument) == "generic"
    raw = read_export(path, instrument)
    assert raw["record_id"].tolist() == ["A-1", "A-2", "A-3"]
    assert raw["submitted"].iloc[2] == pd.Timestamp("2023-03-03 12:00")
    assert raw["proj_acronym"].tolist() == ["CARX", "GENE", pd.NA]
    assert raw["proj_lead"].tolist() == ["Anna", "Bo", pd.NA]
    headers = raw.attrs["headers"]
    assert headers["proj_acronym"] == "Project name"
    assert headers["proj_lead"] == "PI"
    assert headers["record_id"] == "Form no."
    assert list(raw.attrs["unknown_columns"]) == ["Notes"]
    assert raw.attrs["multiselect_sep"] == ";"
    cleaned = clean(raw, instrument=instrument, wave=2023)
    assert cleaned["atmp_project"].tolist() == [1, 1, 0]
    assert cleaned["stage"].tolist() == [7, 8, pd.NA]
    assert cleaned["manipulation"].tolist() == [codes_to_mask([5, 6]), pd.NA, pd.NA]


def test_without_its_codebook_a_centre_file_is_not_recognised(tmp_path):
    _, path = centre_files(tmp_path)
    with pytest.raises(SurveyError, match="not a recognised export") as info:
        read_export(path)
    assert str(info.value).startswith(str(path))
    assert "codebook" in str(info.value)


def test_a_codebook_multiselect_separator_wins(tmp_path):
    book = tmp_path / "pipe.yaml"
    book.write_text(
        CENTRE_CODEBOOK.replace("variables:", 'multiselect_separator: "|"\nvariables:'),
        encoding="utf-8",
    )
    _, path = centre_files(tmp_path)
    raw = read_export(path, resolve_instrument(codebooks=[book]))
    assert raw.attrs["multiselect_sep"] == "|"


@pytest.mark.parametrize(
    ("questions", "recognised"),
    [
        (["atmp_project", "proj_acronym"], False),
        (["atmp_project", "proj_acronym", "disease"], True),
    ],
)
def test_generic_needs_three_question_headers(tmp_path, questions, recognised):
    header = ["Name", "Email", "Timestamp", *(label(n) for n in questions), "Colour", "Size"]
    rows = [header, ["Anna", "a@x.example", "2023-03-01", *(["x"] * len(questions)), "1", "2"]]
    path = write_csv(tmp_path / "few.csv", rows)
    if recognised:
        assert detect_format(path) == "generic"
    else:
        with pytest.raises(SurveyError, match="not a recognised export"):
            detect_format(path)


# -- wrong delimiter --------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", ["|", "^"])
def test_a_redcap_export_with_an_unusual_delimiter_names_it(tmp_path, delimiter):
    header = ["record_id", "atmp_project", "proj_acronym", "proj_lead", "stage", "fte"]
    rows = [header, ["1", "1", "CARX", "Anna", "7", "2,5"], ["2", "0", "", "", "", ""]]
    path = write_csv(tmp_path / "odd.csv", rows, delimiter=delimiter)
    with pytest.raises(SurveyError) as info:
        read_export(path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert f"separated by {delimiter!r}" in message
    assert "not a recognised export" not in message


# -- parse_timestamp and day_first ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-03-01 10:15:32", "2023-03-01 10:15:32"),
        ("2023-03-01T10:15:32", "2023-03-01 10:15:32"),
        ("2023-03-01", "2023-03-01 00:00:00"),
        ("2023/03/01 1:05:09 PM GMT+1", "2023-03-01 13:05:09"),
        ("2023/03/01 1:05:09 PM GMT+01:00", "2023-03-01 13:05:09"),
        ("2023/03/01 10:15:32 AM GMT+1", "2023-03-01 10:15:32"),
        ("2023/03/01 12:05:09 AM GMT+1", "2023-03-01 00:05:09"),
        ("2023/03/01 12:05:09 PM GMT+1", "2023-03-01 12:05:09"),
        ("2023/3/1 9:00:00 pm", "2023-03-01 21:00:00"),
        ("2023-03-01 10:15:32 CET", "2023-03-01 10:15:32"),
        ("2023-03-01 10:15:32 UTC", "2023-03-01 10:15:32"),
        ("44986.4375", "2023-03-01 10:30:00"),
        ("44986", "2023-03-01 00:00:00"),
        (" 44986.5 ", "2023-03-01 12:00:00"),
        ("32874", "1990-01-01 00:00:00"),
        ("73050.5", "2099-12-31 12:00:00"),
        ("32873.5", None),  # before 1990: not a survey date
        ("73051.5", None),  # after 2100
        ("12345", None),
        ("99999", None),
        ("banana", None),
        ("", None),
        ("[not completed]", None),
        ("31/02/2023 10:00", None),
    ],
)
def test_parse_timestamp(text, expected):
    parsed = parse_timestamp(pd.Series([text, "2023-01-02 03:04:05"], dtype="string"))
    assert parsed.dtype == "datetime64[ns]"
    assert parsed.iloc[1] == pd.Timestamp("2023-01-02 03:04:05")
    if expected is None:
        assert pd.isna(parsed.iloc[0])
    else:
        assert parsed.iloc[0] == pd.Timestamp(expected)


@pytest.mark.parametrize(
    ("dayfirst", "expected"),
    [(True, "2023-03-01 10:15"), (False, "2023-01-03 10:15")],
)
def test_parse_timestamp_day_first_or_month_first(dayfirst, expected):
    parsed = parse_timestamp(pd.Series(["01/03/2023 10:15", "2023-05-06"]), dayfirst=dayfirst)
    assert parsed.tolist() == [pd.Timestamp(expected), pd.Timestamp("2023-05-06")]


def test_parse_timestamp_keeps_datetimes_and_missing_values():
    values = pd.Series([pd.Timestamp("2023-03-01 10:00"), pd.NaT])
    assert parse_timestamp(values).tolist()[0] == pd.Timestamp("2023-03-01 10:00")
    assert parse_timestamp(pd.Series([None, pd.NA], dtype=object)).isna().all()


@pytest.mark.parametrize(
    "values",
    [
        ["2023-03-01T10:15:32Z"],
        ["2023-03-01 10:15:32+01:00"],
        ["2023-03-01T10:15:32Z", "2023-03-01 10:00:00"],
    ],
    ids=["zulu", "offset", "mixed"],
)
def test_parse_timestamp_with_a_utc_offset(values):
    parsed = parse_timestamp(pd.Series(values, dtype="string"))
    assert parsed.dtype == "datetime64[ns]"
    assert parsed.iloc[0].date() == dt.date(2023, 3, 1)


def test_read_export_with_utc_time_stamps(tmp_path):
    header = ["Submitted", *(label(n) for n in QUESTIONS)]
    rows = [header, ["2023-03-01T10:15:32Z", "Yes", "CARX", "Anna", "Phase I", ""]]
    raw = read_export(write_csv(tmp_path / "utc.csv", rows))
    assert raw["submitted"].iloc[0].date() == dt.date(2023, 3, 1)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["3/14/2023 10:15:32", "4/1/2023 9:00"], False),
        (["14/03/2023 10:15:32", "1/4/2023 9:00"], True),
        (["01/03/2023", "02/03/2023"], True),
        (["3.14.2023"], False),
        (["3/14/2023", "14/3/2023"], True),  # contradictory: the European default
        (["2023-03-14 10:00", "44986.5"], True),
        ([None, "3/14/2023"], False),
    ],
)
def test_day_first(values, expected):
    assert day_first(pd.Series(values, dtype="string")) is expected


# -- map_question_headers ---------------------------------------------------------------------


def test_map_question_headers_reads_a_variable_once():
    headers = [label("stage"), "stage", label("stage").upper(), label("proj_acronym")]
    rename, unknown = map_question_headers(headers, READING)
    assert rename == {label("stage"): "stage", label("proj_acronym"): "proj_acronym"}
    assert unknown == ["stage", label("stage").upper()]


def test_map_question_headers_ignores_case_spaces_quotes_and_dashes(tmp_path):
    book = tmp_path / "quotes.yaml"
    book.write_text(
        'codebook: 1\nvariables:\n  proj_acronym: "Project\'s short name"\n', encoding="utf-8"
    )
    instrument = resolve_instrument(codebooks=[book])
    headers = [
        "  CURRENT   stage\tof development ",
        "Your e\u2013mail address",  # an en dash
        "PROJECT\u2019S  short NAME",  # a typographic apostrophe
        "Which cell types are used? - Selected Choice",
        "stage_of_development",
    ]
    rename, unknown = map_question_headers(headers, instrument)
    assert list(rename.values()) == ["stage", "resp_email", "proj_acronym", "cell_type"]
    assert unknown == ["stage_of_development"]


def test_map_question_headers_variable_names_and_tool_columns():
    rename, unknown = map_question_headers(
        ["proj_lead", "Started", "Tidstämpel", "cell_type___5"],
        READING,
        tool={"started": "_started"},
    )
    assert rename == {"proj_lead": "proj_lead", "Started": "_started", "Tidstämpel": "submitted"}
    assert unknown == ["cell_type___5"]


# -- xlsx cells -------------------------------------------------------------------------------


def test_a_date_cell_in_a_text_column_keeps_the_other_answers(tmp_path):
    header = ["Submitted", *(label(n) for n in QUESTIONS[:4]), label("fih_year")]
    stamp = dt.datetime(2023, 3, 1, 10)
    rows = [
        header,
        [stamp, "Yes", "CARX", "Anna", "Phase I", 2027],
        [stamp, "Yes", "GENE", "Bo", "Phase I", "in 3-4 years"],
        [stamp, "Yes", "GEN2", "Cy", "Phase I", dt.datetime(2023, 4, 3)],  # Excel took "3-4"
    ]
    raw = read_export(write_xlsx(tmp_path / "typed.xlsx", {"Svar": rows}))
    assert raw["fih_year"].tolist()[:2] == ["2027", "in 3-4 years"]


def test_empty_unheaded_columns_inside_a_workbook(tmp_path):
    header = ["Submitted", label("atmp_project"), None, None, *(label(n) for n in QUESTIONS[1:])]
    row = [dt.datetime(2023, 3, 1, 10), "Yes", None, None, "CARX", "Anna", "Phase I", None]
    csv_path = write_csv(tmp_path / "gaps.csv", [[h or "" for h in header], [c or "" for c in row]])
    assert read_export(csv_path)["proj_acronym"].tolist() == ["CARX"]
    raw = read_export(write_xlsx(tmp_path / "gaps.xlsx", {"Svar": [header, row]}))
    assert raw["proj_acronym"].tolist() == ["CARX"]
