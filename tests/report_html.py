"""Read the report's HTML blocks back in tests: their text, their tables and small counts."""

from __future__ import annotations

import re
from html.parser import HTMLParser

#: The disclosure threshold the tests' public reports use.
MIN_CELL = 3


def html_of(blocks: list) -> str:
    return "".join(b.bundle["text/html"] for b in blocks)


class _Tables(HTMLParser):
    """Tables as (columns, rows); a row is (row header, [(cell class, cell text), ...])."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self._cell: list | None = None
        self._in_head = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.tables.append({"columns": [], "rows": []})
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr" and not self._in_head and self.tables:
            self.tables[-1]["rows"].append(["", []])
        elif tag == "th":
            self._cell = ["th", ""]
        elif tag == "td":
            self._cell = [attrs.get("class") or "", ""]

    def handle_endtag(self, tag):
        if tag == "thead":
            self._in_head = False
        elif tag == "th" and self._cell is not None:
            if self._in_head:
                self.tables[-1]["columns"].append(self._cell[1])
            else:
                self.tables[-1]["rows"][-1][0] = self._cell[1]
            self._cell = None
        elif tag == "td" and self._cell is not None:
            self.tables[-1]["rows"][-1][1].append((self._cell[0], self._cell[1]))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[1] += data


def parse_tables(html: str) -> list[dict]:
    parser = _Tables()
    parser.feed(html)
    parser.close()
    return parser.tables


def small_counts(html: str) -> list[tuple[str, str, str]]:
    """(row, column, text) of numeric cells showing a whole number below MIN_CELL.

    The TRL column is a level, not a count; shares ("45%") and versions are not whole numbers.
    """
    found = []
    for table in parse_tables(html):
        columns = table["columns"][1:]
        for row, cells in table["rows"]:
            for column, (cls, text) in zip(columns, cells, strict=True):
                if "n" not in cls.split() or column == "TRL":
                    continue
                if re.fullmatch(r"\d+", text) and int(text) < MIN_CELL:
                    found.append((row, column, text))
    return found
