"""Validation of exports as read: every bad cell, where the user finds it, in every format."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from atmp_analysis.cli import main
from atmp_analysis.demo import FORMATS, generate
from atmp_analysis.errors import Problem
from atmp_analysis.instrument import resolve_instrument
from atmp_analysis.readers import read_export
from atmp_analysis.readers.base import sniff
from atmp_analysis.validation import as_blanked, blank_invalid, raw_schema, validate_raw

INSTRUMENT = resolve_instrument()


def raw_frame(columns: dict[str, list], rows: list[int] | None = None, **attrs) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    frame = pd.DataFrame({"source_row": rows or list(range(2, n + 2))})
    for name, values in columns.items():
        frame[name] = pd.Series(values, dtype="string")
    frame.attrs = {"path": "export.csv", "headers": {}, **attrs}
    return frame


# -- the checks ---------------------------------------------------------------------------------


def test_valid_answers_pass():
    raw = raw_frame(
        {
            "stage": ["4", "Phase I", "phase i/ii", None],
            "rna_dna": ["Ja", "0", "Don’t know", None],  # Swedish via the shipped codebook
            "gene_tech___1": ["1", "Unchecked", "checked", None],
            "reg_contact": ["None yet", "Ethics approval for a clinical trial;", None, "0"],
            "proj_start_year": ["2019", "1990", "2100", None],
            "fih_year": ["2027", "om 3-4 år", "vet ej", None],
        }
    )
    assert validate_raw(raw, INSTRUMENT) == []


def test_every_bad_cell_is_listed_with_row_header_value_and_what_was_expected():
    raw = raw_frame(
        {
            "stage": ["Phase IV", "4", "12"],
            "gene_tech___1": ["1", "maybe", "0"],
            "proj_start_year": ["2019", "2230", "abc"],
        },
        rows=[2, 5, 9],
        headers={"stage": "Current stage of development"},
    )
    problems = validate_raw(raw, INSTRUMENT)
    assert [(p.row, p.column, p.value) for p in problems] == [
        (2, "Current stage of development", "Phase IV"),
        (5, "gene_tech___1", "maybe"),
        (5, "proj_start_year", "2230"),
        (9, "Current stage of development", "12"),
        (9, "proj_start_year", "abc"),
    ]
    assert all(p.file == "export.csv" and p.severity == "error" for p in problems)
    by_column = {p.column: p.problem for p in problems}
    assert "expected one of 1 Discovery or idea" in by_column["Current stage of development"]
    assert by_column["gene_tech___1"] == "expected Checked/Unchecked or 1/0"
    assert by_column["proj_start_year"] == "impossible year: expected a whole year 1990–2100"


def test_a_bare_first_patient_year_must_be_possible_free_text_is_left_to_the_parser():
    raw = raw_frame({"fih_year": ["1850", "2230", "2027", "soon", "in 2 years"]})
    problems = validate_raw(raw, INSTRUMENT)
    assert [(p.row, p.value) for p in problems] == [(2, "1850"), (3, "2230")]


def test_joined_multiselect_without_other_must_be_known_labels():
    raw = raw_frame(
        {"reg_contact": ["Scientific advice from the EMA, Talked to the FDA", "None yet"]},
        multiselect_sep=",",
    )
    [problem] = validate_raw(raw, INSTRUMENT)
    assert problem.row == 2 and "Talked to the FDA" in problem.value
    # a question with an "Other" takes the rest as other text: no error
    raw = raw_frame({"cell_type": ["T cells;Tissue macrophages"]})
    assert validate_raw(raw, INSTRUMENT) == []


def test_schema_covers_only_the_columns_the_export_has():
    raw = raw_frame({"stage": ["4"], "proj_acronym": ["X"]})
    schema = raw_schema(raw, INSTRUMENT)
    assert list(schema.columns) == ["stage"]


def test_blank_invalid_blanks_only_the_bad_cells_and_says_which():
    raw = raw_frame(
        {"stage": ["Phase IV", "4"], "rna_dna": ["1", "Maybe"]},
        headers={"stage": "Current stage"},
    )
    problems = validate_raw(raw, INSTRUMENT)
    blanked = blank_invalid(raw, problems)
    assert blanked["stage"].isna().tolist() == [True, False]
    assert blanked["rna_dna"].isna().tolist() == [False, True]
    assert raw["stage"].notna().all()  # the input is left as it was
    warnings = as_blanked(problems)
    assert [w.severity for w in warnings] == ["warning", "warning"]
    assert all(w.problem.endswith("; blanked") for w in warnings)
    assert blanked.attrs["path"] == "export.csv"


# -- three planted errors, in every format ----------------------------------------------------

PLANTED = {"stage": "Phase IV", "rna_dna": "Maybe", "proj_start_year": "2230"}


def _plant(path: Path, cells: dict[tuple[int, str], str]) -> None:
    """Write ``value`` into the cells (row as the user sees it, header as written)."""
    sniffed = sniff(path, INSTRUMENT)
    if sniffed.kind == "xlsx":
        workbook = openpyxl.load_workbook(path)
        sheet = workbook[sniffed.sheet]
        header = [c.value for c in sheet[1]]
        for (row, column), value in cells.items():
            sheet.cell(row=row, column=header.index(column) + 1).value = value
        workbook.save(path)
        return
    text = path.read_bytes().decode(sniffed.encoding)
    rows = list(csv.reader(io.StringIO(text), delimiter=sniffed.delimiter))
    for (row, column), value in cells.items():
        rows[row - 1][rows[0].index(column)] = value
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=sniffed.delimiter, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode(sniffed.encoding))


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("formats")
    return {p.name.split("_", 2)[2]: p for p in generate(folder) if "_2023_" in p.name}


@pytest.mark.parametrize("fmt", FORMATS)
def test_check_lists_exactly_three_planted_errors_with_their_rows(
    fmt, demo_files, tmp_path, capsys
):
    path = tmp_path / demo_files[fmt].name
    path.write_bytes(demo_files[fmt].read_bytes())
    raw = read_export(path)
    headers = raw.attrs["headers"]
    rows = raw["source_row"].tolist()
    # three responses far apart; in files with several header rows, rows count them
    planted = {
        (rows[2], headers.get("stage", "stage")): PLANTED["stage"],
        (rows[12], headers.get("rna_dna", "rna_dna")): PLANTED["rna_dna"],
        (rows[30], headers.get("proj_start_year", "proj_start_year")): PLANTED["proj_start_year"],
    }
    _plant(path, planted)
    out = tmp_path / "problems.csv"
    assert main(["check", str(path), "--out", str(out)]) == 1
    printed = capsys.readouterr().out.splitlines()
    errors = [line for line in printed if line.startswith("error:")]
    assert len(errors) == 3
    table = pd.read_csv(out, dtype={"value": "string"})
    found = table[table["severity"] == "error"]
    cells = zip(found["row"], found["column"], found["value"], strict=True)
    assert {(int(r), c, v) for r, c, v in cells} == {
        (row, column, value) for (row, column), value in planted.items()
    }
    assert all(str(path) == f for f in found["file"])
    if fmt.startswith("qualtrics"):
        assert min(rows) == 4  # the export tag, question text and import id rows


def test_check_on_clean_files_exits_zero_with_warnings(demo_files, capsys):
    assert main(["check", str(demo_files["redcap_raw.csv"])]) == 0
    out = capsys.readouterr().out
    assert out.startswith("warning:") and "error:" not in out


def test_check_lists_an_unreadable_file_and_exits_2(demo_files, tmp_path, capsys):
    missing = tmp_path / "nowhere.csv"
    assert main(["check", str(demo_files["googleforms.csv"]), str(missing)]) == 2
    out = capsys.readouterr().out
    assert f"error: {missing}: file not found" in out


def test_check_needs_a_file(capsys):
    with pytest.raises(SystemExit) as info:
        main(["check"])
    assert info.value.code == 2
    assert "give at least one SURVEY" in capsys.readouterr().err


def test_classify_refuses_with_the_same_list_and_allow_invalid_blanks(
    demo_files, tmp_path, capsys, caplog
):
    path = tmp_path / "export.csv"
    path.write_bytes(demo_files["redcap_raw.csv"].read_bytes())
    _plant(path, {(5, "stage"): "Phase IV", (9, "proj_start_year"): "1850"})
    key = tmp_path / "key"
    out = tmp_path / "out"
    assert main(["classify", str(path), "--out", str(out), "--key-file", str(key)]) == 1
    err = capsys.readouterr().err
    assert f"{path}, row 5, column 'stage': 'Phase IV'" in err
    assert f"{path}, row 9, column 'proj_start_year': '1850': impossible year" in err
    assert not out.exists()
    args = ["classify", str(path), "--out", str(out), "--key-file", str(key), "--allow-invalid"]
    assert main(args) == 0
    logged = capsys.readouterr().err + caplog.text
    assert "--allow-invalid blanked 2 cell(s)" in logged
    quality = pd.read_csv(out / "data_quality.csv")
    blanked = quality[quality["problem"].str.endswith("; blanked")]
    assert sorted(blanked["row"]) == [5, 9]


def test_problem_strings_name_file_row_and_column():
    problem = Problem("a.csv", 4, "Stage", "x", "bad")
    assert str(problem) == "a.csv, row 4, column 'Stage': 'x': bad"
