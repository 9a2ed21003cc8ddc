"""Any other CSV or workbook whose headers a codebook maps onto the instrument.

A spreadsheet someone typed, a tool the package has no reader for, the instrument's
questions in Swedish: the headers are matched against the question texts of the instrument
and of every codebook (the shipped English and Swedish ones, and ``--codebook FILE``), and
the tool columns a codebook names (``tool_columns``) give the submission time, record id,
name and e-mail. Multi-select answers are labels joined by the codebook's
``multiselect_separator``, else by ``;`` when any such cell holds one, else by ``,``.
"""

from __future__ import annotations

import pandas as pd

from atmp_analysis.instrument import Instrument
from atmp_analysis.readers.base import Sniffed, layout, map_question_headers, read_table

#: At least this many headers must be questions of the instrument.
MIN_QUESTIONS = 3


class GenericReader:
    """A CSV or xlsx file mapped by codebooks."""

    name = "generic"

    def recognises(self, sniffed: Sniffed, instrument: Instrument) -> bool:
        rename, _ = map_question_headers(sniffed.header, instrument)
        return sum(c in instrument for c in rename.values()) >= MIN_QUESTIONS

    def read(self, sniffed: Sniffed, instrument: Instrument) -> pd.DataFrame:
        table = read_table(sniffed)
        headers = [c for c in table.columns if c != "source_row"]
        rename, unknown = map_question_headers(headers, instrument)
        return layout(
            table,
            sniffed,
            self.name,
            rename,
            multiselect_sep=instrument.multiselect_separator
            or _separator(table, rename, instrument),
            unknown=unknown,
            instrument=instrument,
        )


def _separator(table: pd.DataFrame, rename: dict[str, str], instrument: Instrument) -> str:
    """``;`` when a multi-select cell holds one, else ``,``."""
    for header, column in rename.items():
        if column in instrument and instrument[column].is_checkbox:
            if table[header].astype("string").str.contains(";", regex=False).any():
                return ";"
    return ","
