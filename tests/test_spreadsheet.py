"""Spreadsheet outputs (atmp_analysis.spreadsheet): no text cell can start a formula.

OWASP's rule for CSV injection, made invertible: text starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return (perhaps after quotes) gets one more ``'`` in front; ``restore``
takes one off. Numbers stay numbers. Files are written atomically.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atmp_analysis.spreadsheet import (
    FORMULA_START,
    neutralise,
    restore,
    write_csv,
    write_workbook,
)

PAYLOADS = [
    '=HYPERLINK("http://example.invalid","x")',
    "@SUM(1+1)",
    "+1+1",
    "-1+1",
    "\t=1+1",
    "\r=1+1",
    "=cmd|'/c calc'!A0",
]


def starts_a_formula(value: object) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_START)


# -- neutralise and restore ------------------------------------------------------------------


@pytest.mark.parametrize("trigger", FORMULA_START)
def test_each_trigger_gets_a_quote(trigger):
    table = pd.DataFrame({"answer": [f"{trigger}1+1", f"a{trigger}b", trigger]})
    assert neutralise(table)["answer"].tolist() == [f"'{trigger}1+1", f"a{trigger}b", f"'{trigger}"]


def test_text_that_starts_with_quotes_and_a_trigger_gets_one_more():
    table = pd.DataFrame({"answer": ["'=1", "''@x", "'plain", "'", "''", "a'=b", " =1", ""]})
    assert neutralise(table)["answer"].tolist() == [
        "''=1",
        "'''@x",
        "'plain",
        "'",
        "''",
        "a'=b",
        " =1",
        "",
    ]


def test_payloads_are_neutralised_and_restored():
    table = pd.DataFrame({"answer": PAYLOADS})
    safe = neutralise(table)
    assert safe["answer"].tolist() == ["'" + p for p in PAYLOADS]
    assert restore(safe).equals(table)


def test_numbers_dates_and_missing_values_are_untouched():
    table = pd.DataFrame(
        {
            "float": [-1.5, np.nan, 2.0],
            "int": [-1, 0, 1],
            "nullable": pd.array([-3, None, 4], dtype="Int64"),
            "flag": [True, False, True],
            "when": pd.to_datetime(["2023-01-01", None, "2024-06-30"]),
            "mixed": pd.Series([-2, "-2", None], dtype=object),
            "text": pd.array(["-5", pd.NA, "ok"], dtype="string"),
            "str": ["-x", None, "y"],
        }
    )
    safe = neutralise(table)
    assert safe.dtypes.equals(table.dtypes)
    for column in ("float", "int", "nullable", "flag", "when"):
        pd.testing.assert_series_equal(safe[column], table[column])
    assert safe["mixed"].tolist() == [-2, "'-2", None]  # the number stays a number
    assert safe["text"].tolist() == ["'-5", pd.NA, "ok"]
    assert safe["str"].iloc[0] == "'-x" and pd.isna(safe["str"].iloc[1])
    pd.testing.assert_frame_equal(restore(safe), table)


def test_categorical_text_is_neutralised():
    table = pd.DataFrame({"c": pd.Categorical(["=a", "b", "=a", None])})
    safe = neutralise(table)
    assert safe["c"].tolist()[:3] == ["'=a", "b", "'=a"] and pd.isna(safe["c"].iloc[3])
    pd.testing.assert_frame_equal(restore(safe), table)


def test_column_labels_always_index_labels_on_request():
    table = pd.DataFrame(
        {"=sum": [1, 2], "plain": ["a", "b"]}, index=pd.Index(["@row", "ok"], name="-name")
    )
    without = neutralise(table)
    assert without.columns.tolist() == ["'=sum", "plain"]
    assert without.index.tolist() == ["@row", "ok"] and without.index.name == "-name"
    with_index = neutralise(table, index=True)
    assert with_index.index.tolist() == ["'@row", "ok"]
    assert with_index.index.name == "'-name"
    pd.testing.assert_frame_equal(restore(with_index, index=True), table)
    pd.testing.assert_frame_equal(restore(without), table)


def test_multiindex_labels_and_duplicate_columns():
    columns = pd.MultiIndex.from_tuples([("=a", "x"), ("b", "+y")])
    table = pd.DataFrame([["=1", 2]], columns=columns)
    safe = neutralise(table)
    assert safe.columns.tolist() == [("'=a", "x"), ("b", "'+y")]
    assert safe.iloc[0, 0] == "'=1"
    pd.testing.assert_frame_equal(restore(safe), table)
    twice = pd.DataFrame([["=1", "=2"]], columns=["a", "a"])
    assert neutralise(twice).iloc[0].tolist() == ["'=1", "'=2"]


def test_the_input_is_not_changed_and_a_copy_is_returned():
    table = pd.DataFrame({"a": ["=1"], "b": ["ok"]})
    before = table.copy()
    assert neutralise(table) is not table
    pd.testing.assert_frame_equal(table, before)
    clean = pd.DataFrame({"a": ["ok"]})
    assert neutralise(clean) is not clean and restore(clean) is not clean


_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(["'", "=", "+", "-", "@", "\t", "\r", "a", " "]),
        st.characters(codec="utf-8"),
    ),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.one_of(_TEXT, st.none()), min_size=1, max_size=6), label=_TEXT)
def test_round_trip_of_any_text(values, label):
    table = pd.DataFrame({label: pd.Series(values, dtype=object)})
    table.index = pd.Index([f"{i}{v or ''}" for i, v in enumerate(values)], name=label)
    safe = neutralise(table, index=True)
    cells = [*safe.iloc[:, 0].tolist(), *safe.index.tolist(), *safe.columns, safe.index.name]
    assert not any(starts_a_formula(v) for v in cells)
    pd.testing.assert_frame_equal(restore(safe, index=True), table)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(_TEXT, min_size=1, max_size=6))
def test_round_trip_through_a_csv_file(values, tmp_path_factory):
    path = tmp_path_factory.mktemp("csv") / "t.csv"
    table = pd.DataFrame({"answer": values, "n": range(len(values))})
    write_csv(table, path)
    back = restore(pd.read_csv(path, dtype={"answer": str}, keep_default_na=False))
    # the csv module keeps a lone carriage return, as it keeps every character
    assert back["answer"].tolist() == values


# -- CSV -------------------------------------------------------------------------------------


def test_csv_read_back_plainly_shows_the_quote(tmp_path):
    table = pd.DataFrame({"answer": PAYLOADS, "budget": [-1.5] * len(PAYLOADS)})
    path = write_csv(table, tmp_path / "out.csv")
    assert path == tmp_path / "out.csv"
    plain = pd.read_csv(path)
    assert plain["answer"].tolist() == ["'" + p for p in PAYLOADS]
    assert plain["budget"].tolist() == [-1.5] * len(PAYLOADS)  # a negative number, not text
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert [row[0] for row in rows[1:]] == ["'" + p for p in PAYLOADS]
    assert not any(starts_a_formula(cell) for row in rows for cell in row[:1])


def test_a_carriage_return_inside_text_cannot_start_a_row(tmp_path):
    """A bare CR ends a row in a spreadsheet: the text after it would be a cell of its own."""
    table = pd.DataFrame({"answer": ['Funding\r=HYPERLINK("http://example.invalid")', "b"]})
    path = write_csv(table, tmp_path / "out.csv")
    text = path.read_bytes()
    assert b'"Funding\r=HYPERLINK(""http://example.invalid"")"\r\n' in text
    # a spreadsheet splits lines at any CR or LF outside quotes: no line starts a formula
    unquoted = text.split(b'"')[::2]
    lines = [line for part in unquoted for line in part.replace(b"\r", b"\n").split(b"\n")]
    assert not [line for line in lines if line[:1] in (b"=", b"+", b"-", b"@")]
    with path.open(encoding="utf-8", newline="") as handle:
        assert [row[0] for row in csv.reader(handle)] == ["answer", *table["answer"]]
    assert restore(pd.read_csv(path)).equals(table)


def test_csv_with_its_index_and_formula_like_headers(tmp_path):
    table = pd.DataFrame({"=Projects": ["-3"]}, index=pd.Index(["+GTMP"], name="@Class"))
    path = write_csv(table, tmp_path / "classes.csv", index=True)
    assert path.read_text(encoding="utf-8") == "'@Class,'=Projects\n'+GTMP,'-3\n"


def test_a_table_without_formula_text_is_written_as_pandas_writes_it(tmp_path):
    table = pd.DataFrame({"a": [1, -2], "b": ["x", None], "c": [-0.5, 1e-9]})
    path = write_csv(table, tmp_path / "t.csv")
    assert path.read_text(encoding="utf-8") == table.to_csv(index=False, lineterminator="\n")


def test_a_failed_csv_write_leaves_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "projects.csv"
    path.write_bytes(b"previous\n")

    def fail(self, handle, *args, **kwargs):
        handle.write("half,")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", fail)
    with pytest.raises(OSError, match="disk full"):
        write_csv(pd.DataFrame({"a": ["=1"]}), path)
    assert path.read_bytes() == b"previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["projects.csv"]


# -- workbooks -------------------------------------------------------------------------------


def _cells(path):
    book = openpyxl.load_workbook(path)
    return {
        sheet.title: [[cell for cell in row] for row in sheet.iter_rows()]
        for sheet in book.worksheets
    }


def test_workbook_cells_are_text_never_formulas(tmp_path):
    answers = pd.DataFrame({"answer": [*PAYLOADS, "#N/A"], "budget": [-1.5] * (len(PAYLOADS) + 1)})
    counts = pd.DataFrame({"Projects": [13, 2]}, index=pd.Index(["=GTMP", "TEP"], name="Class"))
    path = write_workbook(
        {"answers": answers, "classes": counts}, tmp_path / "t.xlsx", index={"classes"}
    )
    assert path == tmp_path / "t.xlsx"
    sheets = _cells(path)
    assert list(sheets) == ["answers", "classes"]
    every = [cell for rows in sheets.values() for row in rows for cell in row]
    assert [c.coordinate for c in every if c.data_type == "f"] == []
    assert not [c.value for c in every if starts_a_formula(c.value)]
    texts = [row[0].value for row in sheets["answers"][1:]]
    # XML reads a carriage return back as a line feed
    assert texts == [*("'" + p.replace("\r", "\n") for p in PAYLOADS), "#N/A"]
    assert all(row[0].data_type == "s" for row in sheets["answers"][1:])  # #N/A is no error
    budgets = [row[1] for row in sheets["answers"][1:]]
    assert {c.value for c in budgets} == {-1.5} and {c.data_type for c in budgets} == {"n"}
    classes = [[c.value for c in row] for row in sheets["classes"]]
    assert classes == [["Class", "Projects"], ["'=GTMP", 13], ["TEP", 2]]


def test_workbook_control_characters_are_replaced_not_dropped(tmp_path):
    table = pd.DataFrame({"\x01=h": ["\x0b=1+1", "a\x00b", "tab\tand\nlines\r"]})
    path = write_workbook({"t": table}, tmp_path / "t.xlsx")
    rows = [[c.value for c in row] for row in openpyxl.load_workbook(path).active.iter_rows()]
    assert rows == [["\ufffd=h"], ["\ufffd=1+1"], ["a\ufffdb"], ["tab\tand\nlines\n"]]


def test_workbook_sheet_names_are_cut_and_must_stay_distinct(tmp_path):
    long = "a" * 40
    path = write_workbook({long: pd.DataFrame({"x": [1]})}, tmp_path / "t.xlsx")
    assert openpyxl.load_workbook(path).sheetnames == ["a" * 31]
    with pytest.raises(ValueError, match="share the sheet name"):
        write_workbook(
            {long: pd.DataFrame({"x": [1]}), long + "b": pd.DataFrame({"x": [2]})},
            tmp_path / "u.xlsx",
        )
    with pytest.raises(ValueError, match="at least one"):
        write_workbook({}, tmp_path / "v.xlsx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.xlsx"]


def test_a_failed_workbook_write_leaves_the_previous_file_byte_identical(tmp_path, monkeypatch):
    path = write_workbook({"first": pd.DataFrame({"a": ["=1"]})}, tmp_path / "tables.xlsx")
    before = path.read_bytes()

    def fail(self, target):
        (target.write if hasattr(target, "write") else open(target, "wb").write)(b"PK\x03\x04")
        raise OSError("disk full")

    monkeypatch.setattr(openpyxl.Workbook, "save", fail)
    with pytest.raises(OSError, match="disk full"):
        write_workbook({"second": pd.DataFrame({"b": [2]})}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["tables.xlsx"]  # no temporary file left
    monkeypatch.undo()
    assert openpyxl.load_workbook(io.BytesIO(before)).sheetnames == ["first"]
