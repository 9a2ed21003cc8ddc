"""Tables for spreadsheets: text typed into a survey form never becomes a formula.

A respondent may type ``=HYPERLINK("http://…","click")`` or ``@SUM(1+1)`` into a free-text
answer. Excel, LibreOffice and Google Sheets run such a cell as a formula when a CSV file is
opened (CSV injection). Following OWASP, every text cell (and every text label written as a
header) that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a single
quote ``'`` in front, which makes the spreadsheet show it as text. Numbers stay numbers.

The rule is invertible: text that already starts with quotes followed by one of those
characters gets one more quote, so :func:`restore` gives back exactly what was typed. The
package reads its own CSV files back through :func:`restore`
(:func:`atmp_analysis.tables.read_tables`).

    >>> table = pd.DataFrame({"answer": ["=1+1", "'@x", "plain"], "budget": [-1.5, 2.0, 3.0]})
    >>> safe = neutralise(table)
    >>> safe["answer"].tolist(), safe["budget"].tolist()
    (["'=1+1", "''@x", 'plain'], [-1.5, 2.0, 3.0])
    >>> restore(safe).equals(table)
    True

:func:`write_csv` and :func:`write_workbook` neutralise and write atomically: a failed write
leaves the previous file as it was.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

import pandas as pd

from atmp_analysis.atomic import atomic_write, umask

#: Characters that make a spreadsheet read a cell as a formula when they come first.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: The quote put in front of such a cell.
QUOTE = "'"
#: Excel's longest sheet name.
SHEET_NAME_MAX = 31

#: :data:`FORMULA_START` as a character class (written out: the pattern also suits RE2).
_TRIGGER = r"[=+\-@\t\r]"
#: Text that gets a quote: any number of quotes (perhaps none), then a trigger.
_NEEDS_QUOTE = f"^{QUOTE}*{_TRIGGER}"
#: Text that :func:`neutralise` quoted: at least one quote, then a trigger.
_QUOTED = f"^{QUOTE}+{_TRIGGER}"
#: Control characters an ``.xlsx`` file cannot hold (openpyxl refuses the whole workbook).
_NOT_IN_XLSX = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"
#: What such a character is shown as in a workbook (replaced, never dropped: dropping it
#: could bring a trigger to the front of the text).
REPLACEMENT = "\ufffd"
#: What ``infer_dtype`` says of an object column that holds at least one ``str``.
_TEXTUAL = frozenset({"string", "mixed", "mixed-integer"})

_Edit = Callable[[pd.Series], pd.Series]


def _add_quote(text: pd.Series) -> pd.Series:
    return QUOTE + text


def _drop_quote(text: pd.Series) -> pd.Series:
    return text.str.slice(1)


def _holds_text(values: pd.Series) -> bool:
    """Whether ``values`` may hold ``str`` cells (string dtype, or object with some text)."""
    if isinstance(values.dtype, pd.StringDtype):
        return True
    if values.dtype != object:
        return False
    return pd.api.types.infer_dtype(values, skipna=True) in _TEXTUAL


def _edited(values: pd.Series, pattern: str, edit: _Edit) -> pd.Series | None:
    """``values`` with ``edit`` applied to the text cells matching ``pattern``.

    Returns ``None`` when no cell matches. Cells that are not text (numbers, dates, missing
    values in an object column) are never touched.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = _edited(pd.Series(values.cat.categories), pattern, edit)
        if categories is None:
            return None
        return values.cat.rename_categories(pd.Index(categories))
    if not _holds_text(values):
        return None
    hit = values.str.contains(pattern, regex=True, na=False).astype(bool)
    if not hit.any():
        return None
    text = values.where(hit, "")  # only text cells are hit
    return values.where(~hit, edit(text))


def _edited_label(label: object, pattern: str, edit: _Edit) -> object:
    """One axis name (a header cell) edited like a text cell."""
    if isinstance(label, str) and re.search(pattern, label):
        return edit(pd.Series([label])).iloc[0]
    return label


def _edited_axis(axis: pd.Index, pattern: str, edit: _Edit) -> pd.Index | None:
    """Labels (and the axis names) edited like text cells; ``None`` when none matches."""
    names = [_edited_label(name, pattern, edit) for name in axis.names]
    renamed = names != list(axis.names)
    if isinstance(axis, pd.MultiIndex):
        levels = [_edited_axis(level, pattern, edit) for level in axis.levels]
        if all(level is None for level in levels) and not renamed:
            return None
        levels = [
            new if new is not None else old for new, old in zip(levels, axis.levels, strict=True)
        ]
        return axis.set_levels(levels).set_names(names)
    values = _edited(pd.Series(axis, dtype=axis.dtype), pattern, edit)
    if values is None and not renamed:
        return None
    labels = axis if values is None else pd.Index(values, dtype=values.dtype)
    return labels.set_names(names)


def _edit_frame(frame: pd.DataFrame, pattern: str, edit: _Edit, index: bool) -> pd.DataFrame:
    """The frame with ``edit`` applied wherever ``pattern`` matches; ``frame`` itself when
    nothing matches (callers that return it copy it)."""
    out = None
    for position in range(frame.shape[1]):
        values = _edited(frame.iloc[:, position], pattern, edit)
        if values is not None:
            if out is None:
                out = frame.copy(deep=False)  # copy-on-write: untouched columns are shared
            out.isetitem(position, values)
    columns = _edited_axis(frame.columns, pattern, edit)
    rows = _edited_axis(frame.index, pattern, edit) if index else None
    if columns is None and rows is None:
        return frame if out is None else out
    out = frame.copy(deep=False) if out is None else out
    if columns is not None:
        out.columns = columns
    if rows is not None:
        out.index = rows
    return out


def neutralise(frame: pd.DataFrame, *, index: bool = False) -> pd.DataFrame:
    """Return a copy in which no text cell can start a spreadsheet formula.

    Every text cell (of an object, string or categorical column) and every column label
    that starts with one of :data:`FORMULA_START`, perhaps after leading single quotes, gets
    one more ``'`` in front (the OWASP rule for CSV injection, made invertible by
    :func:`restore`). Numbers, dates and missing values are left as they are.

    Parameters
    ----------
    frame
        The table as it is to be written; it is not changed.
    index
        Treat the index labels (and their names) too, for a table written with its index.

    Returns
    -------
    pandas.DataFrame
        A copy with the same dtypes, index and column order.

    Examples
    --------
    >>> table = pd.DataFrame({"+ note": ["-1+1", "\\tx", "ok"], "n": [-1, 0, 1]})
    >>> safe = neutralise(table)
    >>> safe.columns.tolist()
    ["'+ note", 'n']
    >>> safe["'+ note"].tolist(), safe["n"].tolist()
    (["'-1+1", "'\\tx", 'ok'], [-1, 0, 1])
    """
    out = _edit_frame(frame, _NEEDS_QUOTE, _add_quote, index)
    return frame.copy() if out is frame else out


def restore(frame: pd.DataFrame, *, index: bool = False) -> pd.DataFrame:
    """Undo :func:`neutralise`: drop one leading ``'`` where quotes precede a trigger.

    Used when the package reads back the CSV files it wrote, so that analyses see the text
    as the respondent typed it. ``restore(neutralise(t))`` equals ``t`` for any table.

    Parameters
    ----------
    frame
        A table read from a file :func:`write_csv` wrote.
    index
        Treat the index labels (and their names) too.

    Examples
    --------
    >>> restore(pd.DataFrame({"a": ["'=1", "''+2", "'ok", "x"]}))["a"].tolist()
    ['=1', "'+2", "'ok", 'x']
    """
    out = _edit_frame(frame, _QUOTED, _drop_quote, index)
    return frame.copy() if out is frame else out


def _any_text_matches(frame: pd.DataFrame, pattern: str, index: bool) -> bool:
    """Whether a text cell or label of ``frame`` (as written) matches ``pattern``."""
    return _edit_frame(frame, pattern, lambda text: text, index) is not frame


def write_csv(table: pd.DataFrame, path: str | Path, *, index: bool = False) -> Path:
    """Write ``table`` as CSV (UTF-8), neutralised, atomically; return the path.

    The file is written under a temporary name beside ``path`` and renamed into place, so a
    failed write leaves the previous file intact. A table with nothing to neutralise is
    written as it is, without a copy.

    Lines end in ``\\n``; when a text cell holds a carriage return they end in ``\\r\\n``
    (RFC 4180), which makes the writer quote that cell. A bare carriage return outside
    quotes would end the row in a spreadsheet, and the text after it (``=HYPERLINK(…)``)
    would start a row of its own, unneutralised.

    Examples
    --------
    >>> write_csv(pd.DataFrame({"bottleneck": ["=cmd|'/c calc'!A0"]}), "out.csv")  # doctest: +SKIP
    PosixPath('out.csv')
    """
    path = Path(path)
    safe = _edit_frame(table, _NEEDS_QUOTE, _add_quote, index)
    end = "\r\n" if _any_text_matches(safe, "\r", index) else "\n"
    with atomic_write(path, newline="") as handle:
        safe.to_csv(handle, index=index, lineterminator=end)
    return path


def _replace_control_characters(text: pd.Series) -> pd.Series:
    return text.str.replace(_NOT_IN_XLSX, REPLACEMENT, regex=True)


def _sheet_names(names: Collection[str]) -> dict[str, str]:
    """Each table's sheet name (cut to Excel's 31 characters); two the same are an error."""
    sheets = {name: str(name)[:SHEET_NAME_MAX] for name in names}
    taken: dict[str, str] = {}
    for name, sheet in sheets.items():
        key = sheet.casefold()  # Excel's sheet names are case-insensitive
        if key in taken:
            msg = f"tables {taken[key]!r} and {name!r} would share the sheet name {sheet!r}"
            raise ValueError(msg)
        taken[key] = name
    return sheets


def _cells_as_text(workbook) -> None:
    """Store every text cell as text: never a formula (``=``) or an error value (``#N/A``)."""
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    cell.data_type = "s"


def write_workbook(
    sheets: Mapping[str, pd.DataFrame],
    path: str | Path,
    *,
    index: Collection[str] = frozenset(),
) -> Path:
    """Write one worksheet per table into an ``.xlsx`` workbook, neutralised; return the path.

    Parameters
    ----------
    sheets
        Table name → table, in sheet order. A name is cut to 31 characters (Excel's limit);
        names that would then be the same (ignoring case) raise ``ValueError``.
    path
        The workbook. It is written under a temporary name beside it and renamed into place,
        so a failed write leaves the previous workbook byte for byte as it was.
    index
        Names of the tables written with their index (row labels) as the first columns.

    Notes
    -----
    Text cells are neutralised (:func:`neutralise`) and stored with the string data type:
    openpyxl would otherwise store text starting with ``=`` as a formula and ``#N/A`` as an
    error value. Control characters that a workbook cannot hold (all below U+0020 but tab,
    line feed and carriage return) are shown as U+FFFD rather than failing the write.

    Examples
    --------
    >>> write_workbook({"classes": counts, "projects": projects}, "tables.xlsx",
    ...                index={"classes"})  # doctest: +SKIP
    PosixPath('tables.xlsx')
    """
    if not sheets:
        raise ValueError("a workbook needs at least one table")
    path = Path(path)
    names = _sheet_names(list(sheets))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".xlsx", dir=path.parent)
    os.close(fd)
    try:
        with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
            for name, table in sheets.items():
                with_index = name in index
                safe = _edit_frame(
                    neutralise(table, index=with_index),
                    _NOT_IN_XLSX,
                    _replace_control_characters,
                    with_index,
                )
                safe.to_excel(writer, sheet_name=names[name], index=with_index)
            _cells_as_text(writer.book)
        os.chmod(tmp, 0o666 & ~umask())  # mkstemp makes 0600; outputs are shared tables
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
