"""Readers for survey exports, chosen by what the file contains (not its name).

Each reader produces the raw layout described in :mod:`atmp_analysis.readers.base`. To add a
tool, write a class with ``name``, ``recognises(sniffed, instrument)`` and
``read(sniffed, instrument)`` and add it to :data:`READERS`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from atmp_analysis.errors import SurveyError
from atmp_analysis.instrument import Instrument
from atmp_analysis.readers.base import META_COLUMNS, Reader, Sniffed, sniff
from atmp_analysis.readers.msforms import MsFormsReader
from atmp_analysis.readers.redcap import RedcapReader, require_columns

#: The readers tried in order; the first that recognises a file reads it.
READERS: list[Reader] = [MsFormsReader(), RedcapReader()]

__all__ = ["META_COLUMNS", "READERS", "Sniffed", "detect_format", "read_export"]


def detect_format(path: str | Path, instrument: Instrument | None = None) -> str:
    """Name the export format of a file from its content (e.g. ``"redcap"``, ``"msforms"``)."""
    instrument = instrument or Instrument.default()
    return _reader_for(sniff(Path(path)), instrument).name


def _reader_for(sniffed: Sniffed, instrument: Instrument) -> Reader:
    for reader in READERS:
        if reader.recognises(sniffed, instrument):
            return reader
    shown = ", ".join(repr(h) for h in sniffed.header[:4])
    raise SurveyError(
        f"{sniffed.path}: not a recognised export of the ATMP pipeline survey (its header "
        f"starts {shown}); supported: REDCap records CSV, Microsoft Forms .xlsx"
    )


def read_export(path: str | Path, instrument: Instrument | None = None) -> pd.DataFrame:
    """Read one survey export into the raw layout, whatever tool wrote it.

    Raises
    ------
    SurveyError
        When the file is missing, empty, unreadable, of an unknown format, or lacks the
        instrument's required questions.
    """
    instrument = instrument or Instrument.default()
    sniffed = sniff(Path(path))
    raw = _reader_for(sniffed, instrument).read(sniffed, instrument)
    require_columns(raw, instrument)
    return raw
