"""Microsoft Forms exports (.xlsx): question texts as headers, ``;``-joined multi-select.

The tool adds ``ID``, ``Start time``, ``Completion time``, ``Email``, ``Name`` and sometimes
``Last modified time`` before the questions. A multi-select answer is one cell of labels
joined by ``;``, usually with a trailing ``;``.
"""

from __future__ import annotations

import pandas as pd

from atmp_analysis.choices import normalise_label
from atmp_analysis.errors import FrozenDict
from atmp_analysis.instrument import Instrument
from atmp_analysis.readers.base import Sniffed, parse_timestamp, read_table

TOOL_COLUMNS = {"ID", "Start time", "Completion time", "Email", "Name", "Last modified time"}


def question_header_map(instrument: Instrument) -> dict[str, str]:
    """Map folded question texts to variable names (one column per question)."""
    return {normalise_label(pd.Series([f.label])).iloc[0]: f.name for f in instrument.questions}


class MsFormsReader:
    """Microsoft Forms response workbook."""

    name = "msforms"

    def recognises(self, sniffed: Sniffed, instrument: Instrument) -> bool:
        return {"ID", "Start time", "Completion time"} <= set(sniffed.header)

    def read(self, sniffed: Sniffed, instrument: Instrument) -> pd.DataFrame:
        table = read_table(sniffed)
        headers = [c for c in table.columns if c != "source_row"]
        questions = question_header_map(instrument)
        folded = normalise_label(pd.Series(headers)).tolist()
        rename = {h: questions[f] for h, f in zip(headers, folded, strict=True) if f in questions}
        unknown = [h for h in headers if h not in rename and h not in TOOL_COLUMNS]
        raw = pd.DataFrame(index=table.index)
        raw["source_file"] = sniffed.path.name
        raw["source_row"] = table["source_row"].astype("int64")
        raw["source_format"] = "msforms"
        raw["record_id"] = table["ID"].astype("string") if "ID" in table else pd.NA
        raw["submitted"] = parse_timestamp(table["Completion time"])
        raw["complete"] = pd.Series(pd.NA, index=table.index, dtype="Int64")
        for tool, column in (("Name", "tool_name"), ("Email", "tool_email")):
            values = (
                table[tool].astype("string")
                if tool in table
                else pd.Series(pd.NA, index=table.index, dtype="string")
            )
            # Forms writes "anonymous" when respondents did not sign in
            raw[column] = values.mask(values.str.casefold().eq("anonymous"))
        answers = table[list(rename)].rename(columns=rename).astype("string")
        raw = pd.concat([raw, answers], axis=1)
        raw.attrs.update(
            path=str(sniffed.path),
            headers=FrozenDict(
                {v: k for k, v in rename.items()}
                | {"record_id": "ID", "submitted": "Completion time"}
            ),
            multiselect_sep=";",
            unknown_columns=tuple(unknown),
        )
        return raw
