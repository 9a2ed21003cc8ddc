"""A user's mistakes: each bad file gives one clear message naming it, no traceback, a
non-zero exit (1 invalid answers, 2 unreadable or unrecognised input) and no output.

The files are in ``tests/data/bad/`` (``make_fixtures.py`` there says how each was made).
"""

from __future__ import annotations

import logging
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from atmp_analysis.cli import main
from atmp_analysis.errors import SurveyError
from atmp_analysis.readers import detect_format, read_export

BAD = Path(__file__).parent / "data" / "bad"
KEY_HEX = "3f1c9a5e7b2d4f608192a3b4c5d6e7f80112233445566778899aabbccddeeff0"

STAGE = "Current stage of development"
RNA_DNA = (
    "Does the active substance contain or consist of a recombinant nucleic acid (for example "
    "a viral vector, plasmid, mRNA or gene-editing construct)?"
)


@dataclass(frozen=True)
class Bad:
    """A bad input and what the command line must say about it."""

    file: str
    code: int
    fragments: tuple[str, ...]
    #: (row as the user sees it, column header as written, value) of every bad cell
    cells: tuple[tuple[int, str, str], ...] = field(default=())


CASES = {
    "empty": Bad("empty.csv", 2, ("the file is empty",)),
    "header only": Bad("header_only.csv", 2, ("no responses",)),
    "bank statement": Bad("bank_statement.csv", 2, ("not a recognised export", "'Booking date'")),
    "corrupt xlsx": Bad("corrupt.xlsx", 2, ("not a readable .xlsx workbook",)),
    "password xlsx": Bad("password.xlsx", 2, ("password",)),
    "empty sheet xlsx": Bad("empty_sheet.xlsx", 2, ("no header row",)),
    "unknown choices, REDCap labels": Bad(
        "unknown_choices_redcap_labels.csv",
        1,
        ("2 answer(s)", "--allow-invalid"),
        ((3, RNA_DNA, "Maybe"), (4, STAGE, "Phase IV")),
    ),
    "unknown choices, MS Forms csv": Bad(
        "unknown_choices_msforms.csv",
        1,
        ("4 answer(s)", "--allow-invalid"),
        (
            (2, STAGE, "Phase IV"),
            (3, RNA_DNA, "Maybe"),
            (4, RNA_DNA, "Maybe"),
            (4, STAGE, "Phase IV"),
        ),
    ),
    "impossible years": Bad(
        "impossible_years_redcap_raw.csv",
        1,
        ("2 answer(s)", "1990", "2100"),
        ((3, "proj_start_year", "2230"), (4, "proj_start_year", "1850")),
    ),
    "pipe delimiter": Bad("pipe_delimited_redcap_raw.csv", 2, ("separated by '|'",)),
    "duplicated header": Bad(
        "duplicate_header_redcap_raw.csv", 2, ("'stage' appears more than once",)
    ),
    "missing file": Bad("does_not_exist.csv", 2, ("file not found",)),
}
#: Files that cannot be read at all: ``read_export`` refuses them already.
UNREADABLE = [name for name, case in CASES.items() if case.code == 2]


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("key") / "pseudonym.key"
    path.write_text(KEY_HEX + "\n", encoding="ascii")
    return path


def classify(path: Path, out: Path, key_file: Path, *extra: str) -> int:
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        return main(["classify", str(path), "--out", str(out), "--key-file", str(key_file), *extra])
    finally:
        # without pytest's logging plugin, main's basicConfig would leave a handler on the
        # captured stderr, which is closed after the test
        for handler in [h for h in root.handlers if h not in before]:
            root.removeHandler(handler)


def test_fixtures_are_there_and_small():
    for case in CASES.values():
        path = BAD / case.file
        if case.file == "does_not_exist.csv":
            assert not path.exists()
        else:
            assert path.is_file(), path
            assert path.stat().st_size < 16_000, path
    assert (BAD / "empty.csv").stat().st_size == 0
    # an encrypted workbook is an OLE2 compound file, not a zip
    assert (BAD / "password.xlsx").read_bytes()[:8] == bytes.fromhex("d0cf11e0a1b11ae1")
    assert (BAD / "corrupt.xlsx").read_bytes()[:2] == b"PK"


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_gives_one_clear_message(name, tmp_path, key_file, capsys):
    case = CASES[name]
    path = BAD / case.file
    out = tmp_path / "out"

    code = classify(path, out, key_file)

    captured = capsys.readouterr()
    err = captured.err
    assert code == case.code, err
    assert "Traceback" not in err and "Traceback" not in captured.out
    lines = err.splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, err
    first = errors[0]
    assert str(path) in first, f"the message does not name the file: {first}"
    for fragment in case.fragments:
        assert fragment in err, f"{fragment!r} not in {err!r}"
    # nothing but the message and, for invalid answers, one line per bad cell
    rest = [line for line in lines if line != first]
    assert all(line.startswith("  - ") for line in rest), err
    assert len(rest) == len(case.cells), err
    written = sorted(p.relative_to(out) for p in out.rglob("*")) if out.exists() else []
    assert written == [], f"half-written output left in --out: {written}"


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.cells])
def test_every_bad_cell_is_listed_with_its_row_and_header(name, tmp_path, key_file, capsys):
    case = CASES[name]
    path = BAD / case.file

    assert classify(path, tmp_path / "out", key_file) == 1

    listed = [line[4:] for line in capsys.readouterr().err.splitlines() if line.startswith("  - ")]
    for row, header, value in case.cells:
        wanted = f"{path}, row {row}, column {header!r}: {value!r}"
        assert [line for line in listed if line.startswith(wanted)], (wanted, listed)
    assert len(listed) == len(case.cells)


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.cells])
def test_allow_invalid_blanks_the_bad_cells_and_writes_the_tables(name, tmp_path, key_file):
    case = CASES[name]
    out = tmp_path / "out"

    assert classify(BAD / case.file, out, key_file, "--allow-invalid") == 0

    assert (out / "projects.csv").is_file()
    quality = (out / "data_quality.csv").read_text(encoding="utf-8")
    for row, _, value in case.cells:
        assert re.search(rf",{row},[^\n]*{re.escape(value)}", quality), (row, value, quality)


@pytest.mark.parametrize("name", UNREADABLE)
def test_read_export_raises_survey_error(name):
    path = BAD / CASES[name].file
    with pytest.raises(SurveyError) as raised:
        read_export(path)
    assert str(path) in str(raised.value)
    assert not raised.value.problems


def test_missing_file_in_a_missing_folder(tmp_path, key_file, capsys):
    path = tmp_path / "no such folder" / "export.csv"
    assert classify(path, tmp_path / "out", key_file) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: file not found")
    assert "Traceback" not in err


# -- UTF-16 (Excel's "Unicode text": UTF-16 with a BOM, tab-separated) ------------------------

UTF16 = BAD / "utf16_redcap_raw.csv"


def test_utf16_export_is_read(tmp_path, key_file, capsys):
    # once a crash: _delimiter() let csv.Error ("new-line character seen in unquoted
    # field") escape on UTF-16 text read as cp1252
    assert UTF16.read_bytes()[:2] == b"\xff\xfe"
    out = tmp_path / "out"

    code = classify(UTF16, out, key_file)

    err = capsys.readouterr().err
    assert code == 0, err
    assert "Traceback" not in err
    raw = read_export(UTF16)
    assert raw["record_id"].tolist() == ["1", "2"]
    assert raw["resp_name"].tolist() == ["Anna Berg", "Bo Ek"]
    assert raw["submitted"].notna().all()
    assert (out / "projects.csv").is_file()


# -- good input: a UTF-8 byte-order mark before cp1252 text ----------------------------------

BOM_CP1252 = BAD / "bom_cp1252_redcap_raw.csv"


def test_bom_cp1252_fixture_is_what_it_claims():
    data = BOM_CP1252.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert "å ä ö".encode("cp1252") in data
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8-sig")


def test_cp1252_text_after_a_bom_survives_into_the_raw_layout():
    raw = read_export(BOM_CP1252)
    assert raw["proj_acronym"].tolist() == ["å ä ö", "CAR-2"]
    assert raw["resp_name"].tolist() == ["Åsa Öberg", "Bo Ek"]
    assert raw["source_row"].tolist() == [2, 3]


def test_bom_before_cp1252_text_is_not_part_of_the_first_header(tmp_path, key_file, capsys):
    # once the BOM was decoded as cp1252 'ï»¿' and glued to 'record_id': the export was
    # read by the generic reader, without record ids or submission times
    raw = read_export(BOM_CP1252)
    assert not any("ï»¿" in h for h in raw.attrs["unknown_columns"])
    assert detect_format(BOM_CP1252) == "redcap"
    assert raw["record_id"].tolist() == ["1", "2"]
    assert raw["submitted"].notna().all()
    out = tmp_path / "out"
    assert classify(BOM_CP1252, out, key_file) == 0, capsys.readouterr().err
    assert "å ä ö" in (out / "projects.csv").read_text(encoding="utf-8")


# -- a row with more cells than the header (an unquoted comma in a cell) ---------------------

EXTRA_CELL = BAD / "extra_cell_redcap_raw.csv"


def test_extra_cell_fixture_is_what_it_claims():
    header, *rows = EXTRA_CELL.read_text(encoding="utf-8").splitlines()
    assert [len(r.split(",")) - len(header.split(",")) for r in rows] == [1, 0]


def test_a_row_longer_than_its_header_is_refused_naming_the_row(tmp_path, key_file, capsys):
    out = tmp_path / "out"

    code = classify(EXTRA_CELL, out, key_file)

    err = capsys.readouterr().err
    assert code in (1, 2), err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(EXTRA_CELL) in errors[0], err
    # a cell-by-cell list (", row 2, column ...") or the CSV parser's "line 2"
    assert f"{EXTRA_CELL}, row 2" in err or "line 2" in errors[0], err
    assert not (out / "projects.csv").exists()


def test_a_row_longer_than_its_header_is_reported_as_such(tmp_path, key_file, capsys):
    # once read with a ParserWarning shown to the user, its cells shifted one column: the
    # message blamed ' B.' as a start year and --allow-invalid wrote the shifted row
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = classify(EXTRA_CELL, tmp_path / "out", key_file)
    err = capsys.readouterr().err
    assert [str(w.message) for w in caught] == []
    assert code in (1, 2), err
    assert "' B.'" not in err, "the message blames a cell read into the wrong column"
    out = tmp_path / "allowed"
    assert classify(EXTRA_CELL, out, key_file, "--allow-invalid") in (1, 2)
    assert not (out / "projects.csv").exists()
