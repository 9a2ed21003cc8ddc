"""Write the small bad (and awkward) survey exports that ``tests/test_bad_input.py`` reads.

Run from the repository root: ``python tests/data/bad/make_fixtures.py``. The files are
committed; this script only documents how each was made. ``password.xlsx`` needs
``msoffcrypto-tool`` (not a dependency of the package): without it the committed file is
kept as it is.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl

HERE = Path(__file__).parent

#: A REDCap raw export of a few fields (REDCap exports may hold a subset of the fields).
RAW_HEADER = [
    "record_id",
    "atmp_pipeline_survey_timestamp",
    "atmp_project",
    "resp_name",
    "resp_email",
    "proj_acronym",
    "proj_lead",
    "proj_start_year",
    "rna_dna",
    "stage",
    "atmp_pipeline_survey_complete",
]
RAW_ROWS = [
    row.split(",")
    for row in [
        "1,2023-02-07 18:15:11,1,Anna Berg,anna@uni.example,MSC-1,A. Berg,2017,0,4,2",
        "2,2023-02-08 09:01:40,1,Bo Ek,bo@uni.example,CAR-2,B. Ek,2230,1,7,2",
        "3,2023-02-09 11:30:02,1,Cai Lind,cai@uni.example,GT-3,C. Lind,1850,1,2,2",
    ]
]

#: A REDCap label export (; delimited, with a BOM, as REDCap writes it in Swedish settings).
LABEL_HEADER = [
    "Record ID",
    "Survey Timestamp",
    "Are you currently working on a project that aims to develop an advanced therapy "
    "medicinal product (cell therapy, gene therapy or tissue-engineered product)?",
    "Your name",
    "Project acronym or short name",
    "Name of the project lead (PI)",
    "Does the active substance contain or consist of a recombinant nucleic acid (for example "
    "a viral vector, plasmid, mRNA or gene-editing construct)?",
    "Current stage of development",
    "Complete?",
]
LABEL_ROWS = [
    row.split(",")
    for row in [
        "1,2023-02-07 18:15,Yes,Anna Berg,MSC-1,A. Berg,No,Phase I,Complete",
        "2,2023-02-08 09:01,Yes,Bo Ek,CAR-2,B. Ek,Maybe,Phase II,Complete",
        "3,2023-02-09 11:30,Yes,Cai Lind,GT-3,C. Lind,Yes,Phase IV,Complete",
    ]
]

#: A Microsoft Forms export saved as CSV.
FORMS_HEADER = [
    "ID",
    "Start time",
    "Completion time",
    "Email",
    "Name",
    LABEL_HEADER[2],
    "Your name",
    "Project acronym or short name",
    "Name of the project lead (PI)",
    LABEL_HEADER[6],
    "Current stage of development",
]
FORMS_ROWS = [
    row.split(",")
    for row in [
        "1,07/02/2023 17:47:37,07/02/2023 18:15:11,anna@uni.example,Anna Berg,"
        "Yes,Anna Berg,MSC-1,A. Berg,No,Phase IV",
        "2,08/02/2023 08:40:00,08/02/2023 09:01:40,bo@uni.example,Bo Ek,"
        "Yes,Bo Ek,CAR-2,B. Ek,Maybe,Phase II",
        "3,09/02/2023 11:00:00,09/02/2023 11:30:02,cai@uni.example,Cai Lind,"
        "Yes,Cai Lind,GT-3,C. Lind,Maybe,Phase IV",
    ]
]


def csv_text(rows: list[list[str]], delimiter: str = ",") -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def small_workbook(rows: list[list[str]] | None) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Sheet1"
    for row in rows or []:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def main() -> None:
    valid = [RAW_ROWS[0], [*RAW_ROWS[1][:7], "2019", *RAW_ROWS[1][8:]]]
    (HERE / "empty.csv").write_bytes(b"")
    (HERE / "header_only.csv").write_text(csv_text([RAW_HEADER]), encoding="utf-8")
    (HERE / "bank_statement.csv").write_text(
        csv_text(
            [
                ["Booking date", "Value date", "Text", "Amount", "Balance"],
                ["2023-03-01", "2023-03-01", "ICA Kvantum Lund", "-412.50", "10 233.10"],
                ["2023-03-02", "2023-03-02", "Salary", "31 200.00", "41 433.10"],
                ["2023-03-03", "2023-03-03", "Swish to 0701234567", "-150.00", "41 283.10"],
            ]
        ),
        encoding="utf-8",
    )
    workbook = small_workbook([FORMS_HEADER, *FORMS_ROWS])
    (HERE / "corrupt.xlsx").write_bytes(workbook[: len(workbook) // 2])
    (HERE / "empty_sheet.xlsx").write_bytes(small_workbook(None))
    (HERE / "unknown_choices_redcap_labels.csv").write_text(
        csv_text([LABEL_HEADER, *LABEL_ROWS], delimiter=";"), encoding="utf-8-sig"
    )
    (HERE / "unknown_choices_msforms.csv").write_text(
        csv_text([FORMS_HEADER, *FORMS_ROWS]), encoding="utf-8-sig"
    )
    (HERE / "impossible_years_redcap_raw.csv").write_text(
        csv_text([RAW_HEADER, *RAW_ROWS]), encoding="utf-8"
    )
    (HERE / "pipe_delimited_redcap_raw.csv").write_text(
        csv_text([RAW_HEADER, *valid], delimiter="|"), encoding="utf-8"
    )
    duplicated = [*RAW_HEADER, "stage"]
    (HERE / "duplicate_header_redcap_raw.csv").write_text(
        csv_text([duplicated, *[[*r, r[9]] for r in valid]]), encoding="utf-8"
    )
    # a comma typed into a cell that was not quoted: row 2 has a cell more than the header
    long_row = ",".join([*valid[1][:6], "Ek, B.", *valid[1][7:]])
    (HERE / "extra_cell_redcap_raw.csv").write_text(
        csv_text([RAW_HEADER]) + long_row + "\r\n" + csv_text([valid[0]]), encoding="utf-8"
    )
    # Excel's "Unicode text": UTF-16 with a BOM, tab-separated
    (HERE / "utf16_redcap_raw.csv").write_text(
        csv_text([RAW_HEADER, *valid], delimiter="\t"), encoding="utf-16"
    )
    # a UTF-8 byte-order mark in front of text saved as cp1252 (an editor that mixed the two)
    swedish = [list(r) for r in valid]
    swedish[0][3] = "Åsa Öberg"
    swedish[0][5] = "å ä ö"
    (HERE / "bom_cp1252_redcap_raw.csv").write_bytes(
        b"\xef\xbb\xbf" + csv_text([RAW_HEADER, *swedish]).encode("cp1252")
    )
    try:
        import msoffcrypto.format.ooxml
    except ImportError:
        print("msoffcrypto-tool is not installed: password.xlsx left as it is")
    else:
        plain = small_workbook([FORMS_HEADER, *FORMS_ROWS[:1]])
        encrypted = io.BytesIO()
        msoffcrypto.format.ooxml.OOXMLFile(io.BytesIO(plain)).encrypt("secret", encrypted)
        (HERE / "password.xlsx").write_bytes(encrypted.getvalue())


if __name__ == "__main__":
    main()
