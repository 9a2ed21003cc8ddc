"""Microsoft Forms exports (.xlsx, or saved as .csv): question texts as headers.

The tool adds ``ID``, ``Start time``, ``Completion time``, ``Email``, ``Name`` and sometimes
``Last modified time`` before the questions (``Starttid``, ``Sluttid``, ``E-post``, ``Namn``
in a Swedish Forms). A multi-select answer is one cell of labels joined by ``;``, usually
with a trailing ``;``. Question texts may be the instrument's or a codebook's.
"""

from __future__ import annotations

import pandas as pd

from atmp_analysis.codebook import fold
from atmp_analysis.instrument import Instrument
from atmp_analysis.readers.base import Sniffed, read_question_texts

#: The tool's own columns, folded, in English and Swedish, and what each becomes.
TOOL_COLUMNS = {
    "id": "record_id",
    "start time": "_started",
    "starttid": "_started",
    "completion time": "submitted",
    "sluttid": "submitted",
    "email": "tool_email",
    "e-post": "tool_email",
    "name": "tool_name",
    "namn": "tool_name",
    "last modified time": "_modified",
    "senast ändrad": "_modified",
}


class MsFormsReader:
    """Microsoft Forms response workbook (or the same saved as CSV)."""

    name = "msforms"

    def recognises(self, sniffed: Sniffed, instrument: Instrument) -> bool:
        folded = {fold(h) for h in sniffed.header}
        return (
            "id" in folded
            and bool(folded & {"start time", "starttid"})
            and bool(folded & {"completion time", "sluttid"})
        )

    def read(self, sniffed: Sniffed, instrument: Instrument) -> pd.DataFrame:
        return read_question_texts(
            sniffed, instrument, self.name, tool=TOOL_COLUMNS, multiselect_sep=";"
        )
