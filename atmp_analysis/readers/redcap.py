"""REDCap records exports: raw codes or labels, variable names or field labels as headers.

REDCap writes one column per field (``record_id`` first), one per checkbox choice
(``variable___code``; with label headers ``Field Label (choice=Choice Label)``), optionally
``redcap_survey_identifier`` and ``<form>_timestamp``, and ``<form>_complete``. Values are
codes (raw) or labels; checkboxes 0/1 or Unchecked/Checked. The delimiter may be ``,``, ``;``
or tab.
"""

from __future__ import annotations

import pandas as pd

from atmp_analysis.choices import factorize_text, normalise_label, spread
from atmp_analysis.errors import FrozenDict, SurveyError
from atmp_analysis.instrument import Instrument
from atmp_analysis.readers.base import Sniffed, parse_timestamp, read_table

COMPLETE_LABELS = {"Complete?", "Complete"}
TIMESTAMP_LABELS = {"Survey Timestamp"}
IDENTIFIER_LABELS = {"Survey Identifier"}
COMPLETE_CODES = {"incomplete": "0", "unverified": "1", "complete": "2"}


def _label_header_map(instrument: Instrument) -> dict[str, str]:
    """Map REDCap label headers (field labels, checkbox ``(choice=...)``) to columns."""
    labels = [f.label for f in instrument.questions]
    labels += [label for f in instrument.questions if f.is_checkbox for label in f.choices.values()]
    folded = dict(zip(labels, normalise_label(pd.Series(labels, dtype="string")), strict=True))
    mapping = {"record id": instrument.record_id}
    for field in instrument.questions:
        base = folded[field.label]
        if field.is_checkbox:
            for code, label in field.choices.items():
                mapping[f"{base} (choice={folded[label]})"] = f"{field.name}___{code}"
        else:
            mapping[base] = field.name
    return mapping


def _complete_codes(values: pd.Series) -> pd.Series:
    """REDCap's completion flag (``0``-``2`` or its label) as ``Int64``, per distinct value."""
    codes, uniques = pd.factorize(values)
    folded = pd.Series(uniques, dtype="string").str.strip().str.casefold()
    numbers = pd.to_numeric(folded.replace(COMPLETE_CODES), errors="coerce").astype("Int64")
    return pd.Series(numbers.array.take(codes, allow_fill=True), index=values.index)


class RedcapReader:
    """REDCap records export (CSV, or the same saved as a workbook)."""

    name = "redcap"

    def recognises(self, sniffed: Sniffed, instrument: Instrument) -> bool:
        if not sniffed.header:  # a CSV, or one opened in Excel and saved as a workbook
            return False
        known = set(instrument.export_columns()) | {instrument.complete_column}
        if sniffed.header[0] == instrument.record_id:
            return True
        if sum(h in known for h in sniffed.header) >= max(3, len(known) // 3):
            return True
        labels = _label_header_map(instrument)
        folded = normalise_label(pd.Series(sniffed.header)).tolist()
        return folded[0] == "record id" and sum(h in labels for h in folded) >= 3

    def read(self, sniffed: Sniffed, instrument: Instrument) -> pd.DataFrame:
        table = read_table(sniffed)
        headers = [c for c in table.columns if c != "source_row"]
        by_label = normalise_label(pd.Series(headers)).tolist()
        label_map = _label_header_map(instrument)
        exported = set(instrument.export_columns())
        rename: dict[str, str] = {}
        for header, folded in zip(headers, by_label, strict=True):
            if header in exported or header in (
                instrument.complete_column,
                instrument.timestamp_column,
                "redcap_survey_identifier",
            ):
                rename[header] = header
            elif header in COMPLETE_LABELS:
                rename[header] = instrument.complete_column
            elif header in TIMESTAMP_LABELS:
                rename[header] = instrument.timestamp_column
            elif header in IDENTIFIER_LABELS:
                rename[header] = "redcap_survey_identifier"
            elif folded in label_map:
                rename[header] = label_map[folded]
        # one column per variable: a second header naming a variable already read is unknown
        taken: set[str] = set()
        for header in list(rename):
            if rename[header] in taken:
                del rename[header]
            else:
                taken.add(rename[header])
        unknown = [h for h in headers if h not in rename]
        table = table[["source_row", *[h for h in headers if h in rename]]]
        frame = table.rename(columns=rename)
        label_headers = any(rename.get(h) != h for h in headers if h in rename)
        raw = pd.DataFrame(index=frame.index)
        raw["source_file"] = sniffed.path.name
        raw["source_row"] = frame["source_row"].astype("int64")
        raw["source_format"] = "redcap-labels" if label_headers else "redcap"
        if instrument.record_id in frame:
            raw["record_id"] = frame[instrument.record_id].astype("str")
        else:
            raw["record_id"] = pd.Series(pd.NA, index=frame.index)
        if instrument.timestamp_column in frame:
            # per distinct time stamp; "[not completed]" and the like are no time
            codes, stamps = factorize_text(frame[instrument.timestamp_column])
            parsed = parse_timestamp(stamps.mask(stamps.str.startswith("[")))
            raw["submitted"] = spread(parsed, codes, frame.index)
        else:
            raw["submitted"] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
        if instrument.complete_column in frame:
            raw["complete"] = _complete_codes(frame[instrument.complete_column])
        else:
            raw["complete"] = pd.Series(pd.NA, index=frame.index, dtype="Int64")
        raw["tool_name"] = pd.Series(pd.NA, index=frame.index, dtype="string")
        raw["tool_email"] = pd.Series(pd.NA, index=frame.index, dtype="string")
        raw["tool_test"] = pd.Series(False, index=frame.index)
        answer_columns = [c for c in frame.columns if c in exported and c != instrument.record_id]
        raw = pd.concat([raw, frame[answer_columns].astype("string")], axis=1)
        raw.attrs.update(
            path=str(sniffed.path),
            headers=FrozenDict({new: old for old, new in rename.items()}),
            multiselect_sep=None,
            unknown_columns=tuple(unknown),
        )
        return raw


def require_columns(raw: pd.DataFrame, instrument: Instrument) -> None:
    """Refuse a file that lacks the instrument's required questions."""
    present = set(raw.columns)
    missing = [f.name for f in instrument.questions if f.required and f.name not in present]
    if missing:
        raise SurveyError(
            f"{raw.attrs.get('path', 'survey')}: the required question(s) "
            f"{', '.join(missing)} are not in the file; is it an export of the ATMP pipeline "
            "survey? (a centre's own wording needs its data dictionary: --dictionary)"
        )
