"""Qualtrics exports (CSV, or the Excel download): three header rows, metadata, questions.

Row 1 holds the export tags (the instrument's variable names, when the survey was built
from the question list), row 2 the question texts, row 3 ``{"ImportId":"QID1"}`` (older
exports have no third row); responses start at row 4, and row numbers in messages count
all three header rows. Answers are choice texts or numeric values (the instrument's codes,
as the question list asks for its recode values); a multi-select answer is one cell of
choices joined by ``,`` whose texts may themselves hold commas, so they are matched against
the known labels. ``Status`` "Survey Preview" or "Survey Test" (1 or 2 in a numeric export)
marks a test response; ``Finished`` gives the completion flag. The respondent's IP address
and location are personal data and are not read.
"""

from __future__ import annotations

import pandas as pd

from atmp_analysis.codebook import fold
from atmp_analysis.errors import FrozenDict
from atmp_analysis.instrument import Instrument
from atmp_analysis.readers.base import (
    Sniffed,
    layout,
    map_question_headers,
    open_workbook,
    parse_timestamp,
    read_table,
)

#: Metadata columns of every Qualtrics response export.
METADATA = (
    "StartDate",
    "EndDate",
    "Status",
    "IPAddress",
    "Progress",
    "Duration (in seconds)",
    "Finished",
    "RecordedDate",
    "ResponseId",
    "RecipientLastName",
    "RecipientFirstName",
    "RecipientEmail",
    "ExternalReference",
    "LocationLatitude",
    "LocationLongitude",
    "DistributionChannel",
    "UserLanguage",
)
#: Statuses of preview and test responses, as text and as numeric values.
TEST_STATUSES = {"survey preview", "survey test", "offline survey preview", "1", "2", "17"}
TRUE = {"true", "1", "yes"}


class QualtricsReader:
    """Qualtrics response export, choice text or numeric values."""

    name = "qualtrics"

    def recognises(self, sniffed: Sniffed, instrument: Instrument) -> bool:
        header = set(sniffed.header)
        return {"StartDate", "Status", "Finished"} <= header and bool(
            header & {"ResponseId", "ResponseID"}
        )

    def read(self, sniffed: Sniffed, instrument: Instrument) -> pd.DataFrame:
        table = read_table(sniffed, header_rows=_header_rows(sniffed))
        headers = [c for c in table.columns if c != "source_row"]
        texts = table.attrs.get("header_rows", [{}])[0]
        # a tag that is not a variable name (Q1, Q2 ...) is matched by its question text
        by_tag, _ = map_question_headers(
            [h for h in headers if h not in METADATA], instrument, tool={}
        )
        by_text, _ = map_question_headers(
            [texts.get(h, "") for h in headers if h not in METADATA and h not in by_tag],
            instrument,
            tool={},
        )
        taken = set(by_tag.values())
        rename = dict(by_tag)
        for header in headers:
            if header in METADATA or header in rename:
                continue
            target = by_text.get(texts.get(header, ""))
            if target and target not in taken:
                rename[header] = target
                taken.add(target)
        unknown = [h for h in headers if h not in rename and h not in METADATA]
        rename["ResponseId" if "ResponseId" in table else "ResponseID"] = "record_id"
        stamp = table["RecordedDate"] if "RecordedDate" in table else table.get("EndDate")
        submitted = parse_timestamp(stamp) if stamp is not None else None
        finished = table["Finished"].astype("string").str.strip().str.casefold()
        complete = pd.Series(
            finished.isin(TRUE).map({True: 2, False: 0}), index=table.index, dtype="Int64"
        ).where(finished.notna())
        status = table["Status"].astype("string").str.strip().map(fold, na_action="ignore")
        test = status.isin(TEST_STATUSES).fillna(False).astype(bool)
        first = _column(table, "RecipientFirstName")
        last = _column(table, "RecipientLastName")
        name = (first.fillna("") + " " + last.fillna("")).str.strip()
        table = table.assign(
            _tool_name=name.mask(name == ""), _tool_email=_column(table, "RecipientEmail")
        )
        rename |= {"_tool_name": "tool_name", "_tool_email": "tool_email"}
        raw = layout(
            table,
            sniffed,
            self.name,
            rename,
            submitted=submitted,
            complete=complete,
            test=test,
            multiselect_sep=",",
            unknown=unknown,
            instrument=instrument,
        )
        # the headers as written in the file, for messages
        named = {"tool_name": "RecipientFirstName, RecipientLastName"}
        named["tool_email"] = "RecipientEmail"
        raw.attrs["headers"] = FrozenDict(dict(raw.attrs["headers"]) | named)
        return raw


def _column(table: pd.DataFrame, name: str) -> pd.Series:
    if name in table:
        return table[name].astype("string").str.strip()
    return pd.Series(pd.NA, index=table.index, dtype="string")


def _header_rows(sniffed: Sniffed) -> int:
    """How many rows after the first are header rows: the question texts, and the import
    ids when the export has them (new exports: 2; legacy exports: 1)."""
    import csv
    import itertools

    if sniffed.kind == "xlsx":  # Qualtrics' Excel download has the same header rows
        workbook = open_workbook(sniffed.path)
        try:
            sheet = workbook[sniffed.sheet]
            rows = [
                ["" if v is None else str(v) for v in row]
                for row in sheet.iter_rows(min_row=1, max_row=3, values_only=True)
            ]
        finally:
            workbook.close()
    else:
        with sniffed.path.open(encoding=sniffed.encoding, errors="replace", newline="") as f:
            rows = list(itertools.islice(csv.reader(f, delimiter=sniffed.delimiter), 3))
    if len(rows) >= 3 and rows[2] and rows[2][0].lstrip().startswith("{"):
        return 2
    return 1
