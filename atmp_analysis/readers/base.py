"""What every reader shares: the raw layout it produces, sniffing, and reading cells as text.

A reader turns one export file into the *raw layout*: one row per response, with

- ``source_file`` (the file's name), ``source_row`` (the row number as the user sees it in
  that file: the header is row 1), ``source_format``;
- ``record_id``, ``submitted`` (timestamp, may be missing) and ``complete`` (REDCap's
  0/1/2, missing when the tool has no such flag);
- ``tool_name`` and ``tool_email`` where the survey tool adds its own (personal data);
- one column per instrument variable holding the answer as text, as exported: codes or
  labels for single choices; for checkboxes either REDCap's ``variable___code`` indicator
  columns, or one ``variable`` column of labels joined by ``frame.attrs["multiselect_sep"]``.

``frame.attrs["headers"]`` maps each column to its header as written in the file, and
``frame.attrs["path"]`` names the file, so that messages can point at the cell.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from atmp_analysis.errors import SurveyError
from atmp_analysis.instrument import Instrument

META_COLUMNS = [
    "source_file",
    "source_row",
    "source_format",
    "record_id",
    "submitted",
    "complete",
    "tool_name",
    "tool_email",
]


@dataclass(frozen=True)
class Sniffed:
    """What a quick look at a file found: its kind and its header cells."""

    path: Path
    kind: str  # "csv" or "xlsx"
    header: list[str]
    delimiter: str = ","
    encoding: str = "utf-8-sig"
    sheet: str | None = None


class Reader(Protocol):
    """A survey tool's export format."""

    name: str

    def recognises(self, sniffed: Sniffed, instrument: Instrument) -> bool:
        """Whether the header says the file is this tool's export."""

    def read(self, sniffed: Sniffed, instrument: Instrument) -> pd.DataFrame:
        """Read the file into the raw layout."""


def sniff(path: Path) -> Sniffed:
    """Open a file far enough to see its kind and header; refuse what cannot be a survey."""
    if not path.exists():
        raise SurveyError(f"{path}: file not found")
    if path.is_dir():
        raise SurveyError(f"{path}: is a folder, not a survey export")
    if path.stat().st_size == 0:
        raise SurveyError(f"{path}: the file is empty")
    with path.open("rb") as handle:
        head = handle.read(65536)
    if head.startswith(b"PK"):
        return _sniff_xlsx(path)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise SurveyError(
            f"{path}: an old-style .xls or a password-protected workbook; save it as .xlsx "
            "without a password"
        )
    encoding = "utf-8-sig"
    try:
        text = head.decode(encoding)
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the 64 KiB boundary
            encoding = "cp1252"
        text = head.decode(encoding, errors="replace")
    first_line = text.splitlines()[0] if text.strip() else ""
    if not first_line.strip():
        raise SurveyError(f"{path}: the file is empty")
    delimiter = _delimiter(text)
    header = next(csv.reader(io.StringIO(first_line), delimiter=delimiter))
    return Sniffed(path, "csv", [h.strip() for h in header], delimiter, encoding)


def _delimiter(text: str) -> str:
    """Pick ``,``, ``;`` or tab: the one that splits the first records into equally many
    fields (quotes respected), and into the most; commas inside question texts of a
    ``;``-delimited export do not fool it."""

    def score(delimiter: str) -> tuple[bool, int]:
        records = list(itertools.islice(csv.reader(io.StringIO(text), delimiter=delimiter), 6))
        if len(records) == 6:  # the last one may be cut at the end of what was read
            records = records[:-1]
        widths = [len(r) for r in records if any(cell.strip() for cell in r)]
        return (len(widths) > 1 and len(set(widths)) == 1 and widths[0] > 1, widths[0])

    return max([",", ";", "\t"], key=score)


def _sniff_xlsx(path: Path) -> Sniffed:
    workbook = _open_workbook(path)
    try:
        best: tuple[int, str, list[str]] | None = None
        for sheet in workbook.worksheets:
            first = next(sheet.iter_rows(min_row=1, max_row=1, values_only=True), ())
            header = [str(v).strip() if v is not None else "" for v in first]
            filled = sum(1 for h in header if h)
            if best is None or filled > best[0]:
                best = (filled, sheet.title, header)
    finally:
        workbook.close()
    if best is None or best[0] == 0:
        raise SurveyError(f"{path}: the workbook has no header row")
    return Sniffed(path, "xlsx", _trim(best[2]), sheet=best[1])


def _open_workbook(path: Path):
    """Open a workbook read-only, whatever its file name (the format is in the content)."""
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        # a file object, not the name: openpyxl refuses names without an Excel suffix
        return openpyxl.load_workbook(io.BytesIO(path.read_bytes()), read_only=True, data_only=True)
    except (
        zipfile.BadZipFile,
        InvalidFileException,
        KeyError,
        OSError,
        ValueError,
        TypeError,
    ) as exc:
        raise SurveyError(
            f"{path}: not a readable .xlsx workbook (a zip file without a worksheet, or a "
            f"damaged file: {type(exc).__name__})"
        ) from None


def _trim(header: list[str]) -> list[str]:
    while header and not header[-1]:
        header.pop()
    return header


def read_table(sniffed: Sniffed) -> pd.DataFrame:
    """Read every cell of a CSV or xlsx sheet as text, keeping the user's row numbers.

    The returned frame has the file's header as columns and a ``source_row`` column (the
    header is row 1). Wholly blank rows and empty trailing columns are left out; nothing
    else is. A CSV's cells are Python strings exactly as written (object columns, a blank
    cell missing); the readers turn the columns they keep into a text dtype.
    """
    if sniffed.kind == "xlsx":
        frame = _read_xlsx(sniffed)
    else:
        try:
            # object columns: the parser's own strings, without a string-array conversion
            # of columns that no reader keeps; in one thread (see _one_thread)
            with _one_thread():
                frame = pd.read_csv(
                    sniffed.path,
                    sep=sniffed.delimiter,
                    dtype=object,
                    keep_default_na=False,
                    na_values=[""],
                    skip_blank_lines=False,
                    encoding=sniffed.encoding,
                    engine="c",
                )
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
            raise SurveyError(f"{sniffed.path}: cannot read it as CSV ({exc})") from None
        if "source_row" in frame.columns:
            raise ValueError("cannot insert source_row, already exists")  # as insert says
        # one block per column: concat rather than insert, which would warn about that
        rows = pd.DataFrame({"source_row": pd.RangeIndex(2, len(frame) + 2)})
        frame = pd.concat([rows, frame], axis=1)
    empty = [c for c in frame.columns if str(c).startswith("Unnamed: ") and frame[c].isna().all()]
    if empty:
        frame = frame.drop(columns=empty)
    _check_duplicate_headers(sniffed, [c for c in frame.columns if c != "source_row"])
    blank = _blank_rows(frame, [i for i, c in enumerate(frame.columns) if c != "source_row"])
    if blank.any():
        frame = frame.loc[~blank].reset_index(drop=True)
    if frame.empty:
        raise SurveyError(f"{sniffed.path}: the header is there but there are no responses")
    return frame


def _one_thread() -> contextlib.AbstractContextManager:
    """Have ``pandas.read_csv`` parse in one thread, where pandas reads files in parallel.

    Turning text into Python strings holds the GIL, so parallel parsing of a file read as
    text only adds the cost of joining the pieces: at a million rows the single thread
    takes about half the time. pandas without parallel reading has no such option.
    """
    try:
        pd.get_option("mode.max_threads")
    except KeyError:  # pandas' OptionError is a KeyError
        return contextlib.nullcontext()
    return pd.option_context("mode.max_threads", 1)


def _blank_rows(frame: pd.DataFrame, columns: list[int]) -> np.ndarray:
    """Whether each row is missing in all the columns at the positions ``columns``.

    Column by column, only the rows still blank so far are looked at; in a survey export
    that is usually none after the first column.
    """
    rows = np.arange(len(frame))
    for column in columns:
        if len(rows) == 0:
            break
        rows = rows[pd.isna(frame.iloc[:, column].to_numpy()[rows])]
    blank = np.zeros(len(frame), dtype=bool)
    blank[rows] = True
    return blank


def _check_duplicate_headers(sniffed: Sniffed, columns: list[str]) -> None:
    seen: dict[str, int] = {}
    for column in columns:
        base = str(column)
        # pandas renames a repeated header "x" to "x.1"
        if "." in base and base.rsplit(".", 1)[1].isdigit() and base.rsplit(".", 1)[0] in seen:
            raise SurveyError(
                f"{sniffed.path}: the header {base.rsplit('.', 1)[0]!r} appears more than once"
            )
        seen[base] = 1


def _read_xlsx(sniffed: Sniffed) -> pd.DataFrame:
    workbook = _open_workbook(sniffed.path)
    try:
        sheet = workbook[sniffed.sheet]
        rows = sheet.iter_rows(values_only=True)
        header = _trim([str(v).strip() if v is not None else "" for v in next(rows)])
        if len(set(header)) != len(header):
            dupes = sorted({h for h in header if header.count(h) > 1})
            raise SurveyError(f"{sniffed.path}: the header {dupes[0]!r} appears more than once")
        width = len(header)
        records = [row[:width] for row in rows]
    finally:
        workbook.close()
    frame = (
        pd.DataFrame.from_records(records, columns=header)
        if records
        else pd.DataFrame(columns=header)
    )
    frame.insert(0, "source_row", pd.RangeIndex(2, len(frame) + 2))
    # keep timestamps as timestamps; everything else as text, as a CSV would give it
    for column in header:
        values = frame[column]
        kinds = values.map(type, na_action="ignore")
        if kinds.map(lambda t: hasattr(t, "isoformat"), na_action="ignore").any():
            frame[column] = pd.to_datetime(values, errors="coerce")
            continue
        text = values.astype("string")
        whole = kinds.eq(float) & text.str.endswith(".0", na=False)
        frame[column] = text.mask(whole, text.str[:-2]).replace("", pd.NA)
    return frame


def parse_timestamp(values: pd.Series) -> pd.Series:
    """Parse export timestamps (ISO, ``dd/mm/yyyy HH:MM`` or Excel datetimes); else missing."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.astype("datetime64[ns]")
    text = values.astype("string").str.strip()
    parsed = pd.to_datetime(text, errors="coerce", format="ISO8601")
    rest = parsed.isna() & text.notna()
    if rest.any():
        parsed = parsed.where(
            ~rest, pd.to_datetime(text, errors="coerce", dayfirst=True, format="mixed")
        )
    return parsed.astype("datetime64[ns]")
