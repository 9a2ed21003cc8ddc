"""Google Forms exports (CSV, or the response sheet as .xlsx): ``Timestamp`` first.

The tool adds ``Timestamp`` (``Tidstämpel`` in Swedish) and, when e-mail addresses are
collected, ``Email Address`` (``E-postadress``), then one column per question headed by its
text. A checkbox answer is one cell of labels joined by ``, `` whose labels may themselves
hold commas, so they are matched against the known labels. The time stamp is written as
``2023/03/01 10:15:32 AM GMT+1`` by Forms' own download and in the sheet's locale
(``3/1/2023 10:15:32`` or ``01/03/2023 10:15:32``) by a spreadsheet.
"""

from __future__ import annotations

import pandas as pd

from atmp_analysis.codebook import fold
from atmp_analysis.instrument import Instrument
from atmp_analysis.readers.base import Sniffed, map_question_headers, read_question_texts

TOOL_COLUMNS = {
    "timestamp": "submitted",
    "tidstämpel": "submitted",
    "email address": "tool_email",
    "e-postadress": "tool_email",
    "score": "_score",
    "poäng": "_score",
}


class GoogleFormsReader:
    """Google Forms responses."""

    name = "googleforms"

    def recognises(self, sniffed: Sniffed, instrument: Instrument) -> bool:
        if not sniffed.header or fold(sniffed.header[0]) not in ("timestamp", "tidstämpel"):
            return False
        rename, _ = map_question_headers(sniffed.header, instrument, tool=TOOL_COLUMNS)
        return sum(c in instrument for c in rename.values()) >= 3

    def read(self, sniffed: Sniffed, instrument: Instrument) -> pd.DataFrame:
        return read_question_texts(
            sniffed, instrument, self.name, tool=TOOL_COLUMNS, multiselect_sep=","
        )
