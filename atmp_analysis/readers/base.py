"""What every reader shares: the raw layout it produces, sniffing, and reading cells as text.

A reader turns one export file into the *raw layout*: one row per response, with

- ``source_file`` (the file's name), ``source_row`` (the row number as the user sees it in
  that file: the header is row 1), ``source_format``;
- ``record_id``, ``submitted`` (timestamp, may be missing) and ``complete`` (REDCap's
  0/1/2, missing when the tool has no such flag);
- ``tool_name`` and ``tool_email`` where the survey tool adds its own (personal data);
- ``tool_test``: ``True`` where the tool itself marks a test (Qualtrics' survey previews);
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
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from atmp_analysis.errors import FrozenDict, SurveyError
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
    "tool_test",
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


def sniff(path: Path, instrument: Instrument | None = None) -> Sniffed:
    """Open a file far enough to see its kind and header; refuse what cannot be a survey.

    In a workbook of several sheets the response sheet is the one whose header names the
    most questions of ``instrument`` (then: the most filled header cells).
    """
    if not path.exists():
        raise SurveyError(f"{path}: file not found")
    if path.is_dir():
        raise SurveyError(f"{path}: is a folder, not a survey export")
    if path.stat().st_size == 0:
        raise SurveyError(f"{path}: the file is empty")
    with path.open("rb") as handle:
        head = handle.read(65536)
    if head.startswith(b"PK"):
        return _sniff_xlsx(path, instrument)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise SurveyError(
            f"{path}: an old-style .xls or a password-protected workbook; save it as .xlsx "
            "without a password"
        )
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text"
        encoding = "utf-16"
        text = head.decode(encoding, errors="replace")
    elif b"\x00" in head:
        raise SurveyError(
            f"{path}: a binary file (or text in UTF-16 without its byte-order mark), not a "
            "CSV or xlsx export; save it as CSV UTF-8"
        )
    else:
        encoding = "utf-8-sig"
        try:
            text = head.decode(encoding)
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # not just a character cut at the 64 KiB boundary
                encoding = "cp1252"
            text = head.removeprefix(UTF8_BOM).decode(encoding, errors="replace")
    first_line = text.splitlines()[0] if text.strip() else ""
    if not first_line.strip():
        raise SurveyError(f"{path}: the file is empty")
    delimiter = _delimiter(text)
    try:
        header = next(csv.reader(io.StringIO(first_line), delimiter=delimiter))
    except csv.Error as exc:
        raise SurveyError(f"{path}: cannot read its header row as CSV ({exc})") from None
    return Sniffed(path, "csv", [h.strip() for h in header], delimiter, encoding)


UTF8_BOM = b"\xef\xbb\xbf"
#: A UTF-8 byte-order mark read as cp1252 text.
_BOM_AS_CP1252 = UTF8_BOM.decode("cp1252")


def _delimiter(text: str) -> str:
    """Pick ``,``, ``;`` or tab: the one that splits the first records into equally many
    fields (quotes respected), and into the most; commas inside question texts of a
    ``;``-delimited export do not fool it."""

    def score(delimiter: str) -> tuple[bool, int]:
        try:
            records = list(itertools.islice(csv.reader(io.StringIO(text), delimiter=delimiter), 6))
        except csv.Error:  # a lone carriage return in a quoted cell, say
            return (False, 0)
        if not records:
            return (False, 0)
        if len(records) == 6:  # the last one may be cut at the end of what was read
            records = records[:-1]
        widths = [len(r) for r in records if any(cell.strip() for cell in r)]
        if not widths:  # nothing but separators
            return (False, 0)
        return (len(widths) > 1 and len(set(widths)) == 1 and widths[0] > 1, widths[0])

    return max([",", ";", "\t"], key=score)


def known_headers(instrument: Instrument | None) -> set[str]:
    """Folded headers that name a question or a tool column of ``instrument``."""
    if instrument is None:
        return set()
    from atmp_analysis.codebook import fold

    known = set(instrument.header_map) | set(instrument.tool_header_map)
    known |= {fold(c) for c in instrument.export_columns()}
    return known


def _sniff_xlsx(path: Path, instrument: Instrument | None = None) -> Sniffed:
    from atmp_analysis.codebook import fold

    known = known_headers(instrument)
    workbook = open_workbook(path)
    try:
        best: tuple[tuple[int, int], str, list[str]] | None = None
        for sheet in workbook.worksheets:
            first = next(sheet.iter_rows(min_row=1, max_row=1, values_only=True), ())
            header = [str(v).strip() if v is not None else "" for v in first]
            score = (sum(fold(h) in known for h in header if h), sum(1 for h in header if h))
            if best is None or score > best[0]:
                best = (score, sheet.title, header)
    finally:
        workbook.close()
    if best is None or best[0][1] == 0:
        raise SurveyError(f"{path}: the workbook has no header row")
    return Sniffed(path, "xlsx", _trim(best[2]), sheet=best[1])


def open_workbook(path: Path):
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


def _refuse_reserved(sniffed: Sniffed, columns) -> None:
    if "source_row" in [str(c).strip() for c in columns]:
        raise SurveyError(
            f"{sniffed.path}: a column is headed 'source_row', a name the package gives the "
            "row numbers; rename that column"
        )


def read_table(sniffed: Sniffed, *, header_rows: int = 0) -> pd.DataFrame:
    """Read every cell of a CSV or xlsx sheet as text, keeping the user's row numbers.

    The returned frame has the file's header as columns and a ``source_row`` column (the
    header is row 1). ``header_rows`` more header rows follow the first (Qualtrics' question
    texts and import ids): they are kept in ``attrs["header_rows"]`` as one ``{header:
    text}`` mapping each, and the responses after them keep their row numbers. Wholly blank
    rows and empty trailing columns are left out; nothing else is. A CSV's cells are Python
    strings exactly as written (object columns, a blank cell missing); the readers turn the
    columns they keep into a text dtype.
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
                    # cp1252 leaves five bytes undefined; they never stop a file being read
                    encoding_errors="replace" if sniffed.encoding == "cp1252" else "strict",
                    engine="c",
                )
        except (pd.errors.ParserError, UnicodeError, ValueError, csv.Error) as exc:
            reason = " ".join(str(exc).split())
            raise SurveyError(f"{sniffed.path}: cannot read it as CSV ({reason})") from None
        if not isinstance(frame.index, pd.RangeIndex):
            # pandas takes the surplus cells of rows longer than the header as an index
            raise SurveyError(
                f"{sniffed.path}, row 2: the row has more cells than the header "
                f"({len(frame.columns)} columns); check the delimiter and the quotes"
            )
        if len(frame.columns) and str(frame.columns[0]).startswith(_BOM_AS_CP1252):
            # a UTF-8 byte-order mark before cp1252 text
            first = frame.columns[0]
            frame = frame.rename(columns={first: first.removeprefix(_BOM_AS_CP1252)})
        _refuse_reserved(sniffed, frame.columns)
        # one block per column: concat rather than insert, which would warn about that
        rows = pd.DataFrame({"source_row": pd.RangeIndex(2, len(frame) + 2)})
        frame = pd.concat([rows, frame], axis=1)
    extra: list[dict[str, str]] = []
    if header_rows:
        top = frame.iloc[:header_rows]
        extra = [
            {c: ("" if pd.isna(v) else str(v)) for c, v in row.items() if c != "source_row"}
            for _, row in top.iterrows()
        ]
        frame = frame.iloc[header_rows:].reset_index(drop=True)
    empty = [c for c in frame.columns if str(c).startswith("Unnamed: ") and frame[c].isna().all()]
    if empty:
        frame = frame.drop(columns=empty)
    _check_duplicate_headers(sniffed, [c for c in frame.columns if c != "source_row"])
    blank = _blank_rows(frame, [i for i, c in enumerate(frame.columns) if c != "source_row"])
    if blank.any():
        frame = frame.loc[~blank].reset_index(drop=True)
    if frame.empty:
        raise SurveyError(f"{sniffed.path}: the header is there but there are no responses")
    frame.attrs["header_rows"] = extra
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
    workbook = open_workbook(sniffed.path)
    try:
        sheet = workbook[sniffed.sheet]
        rows = sheet.iter_rows(values_only=True)
        header = _trim([str(v).strip() if v is not None else "" for v in next(rows)])
        # an unheaded column gets pandas' CSV name, so an empty one is dropped as in a CSV
        header = [h or f"Unnamed: {i}" for i, h in enumerate(header)]
        _refuse_reserved(sniffed, header)
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
    # a column of timestamps stays timestamps; everything else is text, as a CSV gives it
    # (a date cell among other answers becomes its ISO text, never a lost answer)
    for column in header:
        values = frame[column]
        kinds = values.map(type, na_action="ignore")
        is_time = kinds.map(lambda t: hasattr(t, "isoformat"), na_action="ignore")
        is_time = is_time.fillna(False).astype(bool)
        if is_time.any():
            if is_time.sum() == values.notna().sum():
                frame[column] = pd.to_datetime(values, errors="coerce")
                continue
            values = values.where(~is_time, values[is_time].map(str))
        text = values.astype("string")
        whole = kinds.eq(float) & text.str.endswith(".0", na=False)
        frame[column] = text.mask(whole, text.str[:-2]).replace("", pd.NA)
    return frame


#: Excel's day 0 (with its 1900 leap-year bug), and the serials that are plausible survey dates
EXCEL_EPOCH = pd.Timestamp("1899-12-30")
EXCEL_SERIALS = (32874, 73051)  # 1990-01-01 .. 2100-01-01


def parse_timestamp(values: pd.Series, *, dayfirst: bool = True) -> pd.Series:
    """Parse export timestamps into ``datetime64[ns]``; missing where unreadable.

    Reads ISO (``2023-03-01 10:15:32``), ``dd/mm/yyyy HH:MM`` (``mm/dd/yyyy`` when not
    ``dayfirst``), Google's ``2023/03/01 10:15:32 AM GMT+1`` (the zone dropped: local
    time), Excel datetimes and Excel date serials (``44986.43``) of 1990–2100.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        return _plausible(values)
    text = values.astype("string").str.strip()
    # an ISO offset ("Z", "+01:00"), a time zone name or offset at the end ("GMT+1", "CET",
    # "UTC+01:00"): the local time as written is kept
    text = text.str.replace(r"(?<=\d)\s?(?:Z|[+-]\d{2}:?\d{2})$", "", regex=True)
    text = text.str.replace(r"\s+(?:GMT|UTC)(?:[+-]\d{1,2}(?::?\d{2})?)?$", "", regex=True)
    text = text.str.replace(r"\s+[A-Z]{3,4}$", "", regex=True)
    serial = pd.to_numeric(text.where(text.str.fullmatch(r"\d{5}(?:\.\d+)?")), errors="coerce")
    serial = serial.where(serial.between(*EXCEL_SERIALS))
    text = _year_first_to_iso(text)
    parsed = _to_datetime(text, format="ISO8601")
    rest = parsed.isna() & text.notna()
    if rest.any():
        parsed = parsed.where(~rest, _to_datetime(text, dayfirst=dayfirst, format="mixed"))
    if serial.notna().any():
        days = pd.to_timedelta(serial.astype("float64"), unit="D").dt.round("s")
        parsed = parsed.where(serial.isna(), EXCEL_EPOCH + days)
    return _plausible(parsed)


#: Submission times outside these years are no submission times (and would not fit
#: ``datetime64[ns]``, which ends in 2262).
PLAUSIBLE = (pd.Timestamp("1900-01-01"), pd.Timestamp("2200-01-01"))


def _plausible(stamps: pd.Series) -> pd.Series:
    """Times in ``datetime64[ns]``; those outside 1900–2200 missing."""
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_localize(None)
    inside = (stamps >= PLAUSIBLE[0]) & (stamps < PLAUSIBLE[1])
    return stamps.where(inside).astype("datetime64[ns]")


_YEAR_FIRST = (
    r"^(?P<y>\d{4})[/.](?P<m>\d{1,2})[/.](?P<d>\d{1,2})"
    r"(?:[ T](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?\s*(?P<p>[AaPp][Mm])?)?$"
)


def _year_first_to_iso(text: pd.Series) -> pd.Series:
    """Rewrite ``2023/03/01 1:05:09 PM`` (Google Forms) as ISO ``2023-03-01 13:05:09``."""
    parts = text.str.extract(_YEAR_FIRST)
    found = parts["y"].notna()
    if not found.any():
        return text
    hour = pd.to_numeric(parts["H"], errors="coerce").fillna(0).astype("int64")
    pm = parts["p"].str.casefold().eq("pm").fillna(False).astype(bool)
    am = parts["p"].str.casefold().eq("am").fillna(False).astype(bool)
    hour = hour.where(~(pm | am), hour % 12 + pm.astype("int64") * 12)
    iso = (
        parts["y"]
        + "-"
        + parts["m"].str.zfill(2)
        + "-"
        + parts["d"].str.zfill(2)
        + " "
        + hour.astype("string").str.zfill(2)
        + ":"
        + parts["M"].fillna("00")
        + ":"
        + parts["S"].fillna("00")
    )
    return text.where(~found, iso)


def _to_datetime(text: pd.Series, **options) -> pd.Series:
    """``pandas.to_datetime`` with ``errors="coerce"``, made total: what it still refuses
    (time zones mixed in one column, say) is parsed per distinct value, else missing."""
    try:
        return _plausible(pd.to_datetime(text, errors="coerce", **options))
    except (TypeError, ValueError, OverflowError):
        codes, uniques = pd.factorize(text)
        parsed = []
        for value in uniques:  # once per distinct text, only on this rare path
            try:
                stamp = pd.to_datetime(value, errors="coerce", **options)
                stamp = stamp.tz_localize(None) if getattr(stamp, "tzinfo", None) else stamp
            except (TypeError, ValueError, OverflowError):
                stamp = pd.NaT
            inside = not pd.isna(stamp) and PLAUSIBLE[0] <= stamp < PLAUSIBLE[1]
            parsed.append(stamp if inside else pd.NaT)
        per_unique = pd.Series(parsed, dtype="datetime64[ns]")
        return pd.Series(per_unique.array.take(codes, allow_fill=True), index=text.index)


def day_first(values: pd.Series) -> bool:
    """Whether ``a/b/yyyy`` dates in ``values`` are day first: only when some ``b`` exceeds 12
    are they read month first (an American locale); otherwise day first, as in Europe."""
    parts = values.astype("string").str.extract(r"^\s*(\d{1,2})[/.](\d{1,2})[/.]\d{2,4}")
    first = pd.to_numeric(parts[0], errors="coerce")
    second = pd.to_numeric(parts[1], errors="coerce")
    return not ((second > 12).any() and not (first > 12).any())


def map_question_headers(
    headers: list[str], instrument: Instrument, *, tool: dict[str, str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """Map headers that are question texts (the instrument's or a codebook's) or variable
    names onto variables; ``tool`` maps folded tool headers to raw-layout columns.

    Returns the renaming (header as written → column) and the headers left unknown. A header
    that maps to a column already taken is left unknown, not read twice.
    """
    from atmp_analysis.codebook import fold

    questions = instrument.header_map
    names = {f.name: f.name for f in instrument.questions}
    tool = {**instrument.tool_header_map, **(tool or {})}
    rename: dict[str, str] = {}
    taken: set[str] = set()
    unknown: list[str] = []
    for header in headers:
        folded = fold(header)
        # Qualtrics: "Which cell types are used? - Selected Choice"
        folded = re.sub(r" - selected choice$", "", folded)
        target = names.get(header) or questions.get(folded) or tool.get(folded)
        if target is None or target in taken:
            unknown.append(header)
            continue
        rename[header] = target
        taken.add(target)
    return rename, unknown


def read_question_texts(
    sniffed: Sniffed,
    instrument: Instrument,
    fmt: str,
    *,
    tool: dict[str, str],
    multiselect_sep: str,
) -> pd.DataFrame:
    """Read an export whose headers are question texts (Microsoft Forms, Google Forms).

    ``tool`` maps the tool's own folded headers to raw-layout columns; those mapped to a
    name starting with ``_`` (start times, quiz scores) are neither read nor unknown.
    """
    table = read_table(sniffed)
    headers = [c for c in table.columns if c != "source_row"]
    rename, unknown = map_question_headers(headers, instrument, tool=tool)
    rename = {h: c for h, c in rename.items() if not c.startswith("_")}
    return layout(
        table,
        sniffed,
        fmt,
        rename,
        multiselect_sep=multiselect_sep,
        unknown=unknown,
        instrument=instrument,
    )


def layout(
    table: pd.DataFrame,
    sniffed: Sniffed,
    fmt: str,
    rename: dict[str, str],
    *,
    submitted: pd.Series | None = None,
    complete: pd.Series | None = None,
    test: pd.Series | None = None,
    multiselect_sep: str | None,
    unknown: list[str],
    instrument: Instrument,
) -> pd.DataFrame:
    """Assemble the raw layout from a table whose headers ``rename`` maps onto columns.

    ``rename`` may map headers to ``record_id``, ``submitted``, ``tool_name`` and
    ``tool_email`` as well as to questions; ``submitted``, ``complete`` and ``test`` give
    those columns when the tool has them elsewhere.
    """
    index = table.index
    # only the columns read: a left-over header may carry a variable's name already taken
    frame = table[["source_row", *[h for h in table.columns if h in rename]]].rename(columns=rename)

    def text(column: str) -> pd.Series:
        if column in frame.columns:
            return frame[column].astype("string")
        return pd.Series(pd.NA, index=index, dtype="string")

    raw = pd.DataFrame(index=index)
    raw["source_file"] = sniffed.path.name
    raw["source_row"] = table["source_row"].astype("int64")
    raw["source_format"] = fmt
    raw["record_id"] = text("record_id")
    if submitted is None:
        submitted = (
            parse_timestamp(frame["submitted"], dayfirst=day_first(frame["submitted"]))
            if "submitted" in frame.columns
            else pd.Series(pd.NaT, index=index, dtype="datetime64[ns]")
        )
    raw["submitted"] = submitted
    raw["complete"] = (
        complete if complete is not None else pd.Series(pd.NA, index=index, dtype="Int64")
    )
    for column in ("tool_name", "tool_email"):
        values = text(column).str.strip()
        # Microsoft Forms writes "anonymous" when respondents did not sign in
        raw[column] = values.mask(values.str.casefold().isin(["anonymous", ""]))
    raw["tool_test"] = test if test is not None else pd.Series(False, index=index)
    questions = [c for c in frame.columns if c in instrument and c != instrument.record_id]
    raw = pd.concat([raw, frame[questions].astype("string")], axis=1)
    raw.attrs.update(
        path=str(sniffed.path),
        headers=FrozenDict({new: old for old, new in rename.items()}),
        multiselect_sep=multiselect_sep,
        unknown_columns=tuple(unknown),
    )
    return raw
