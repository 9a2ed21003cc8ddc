"""Readers for survey exports, chosen by what the file contains (not its name).

Each reader produces the raw layout described in :mod:`atmp_analysis.readers.base`. To add a
tool, write a class with ``name``, ``recognises(sniffed, instrument)`` and
``read(sniffed, instrument)`` and add it to :data:`READERS`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from atmp_analysis.errors import SurveyError
from atmp_analysis.instrument import Instrument, resolve_instrument
from atmp_analysis.readers.base import META_COLUMNS, Reader, Sniffed, sniff
from atmp_analysis.readers.generic import GenericReader
from atmp_analysis.readers.googleforms import GoogleFormsReader
from atmp_analysis.readers.msforms import MsFormsReader
from atmp_analysis.readers.qualtrics import QualtricsReader
from atmp_analysis.readers.redcap import RedcapReader, require_columns

#: The readers tried in order; the first that recognises a file reads it. The generic
#: reader, which takes any file whose headers name enough questions, comes last.
READERS: list[Reader] = [
    QualtricsReader(),
    MsFormsReader(),
    GoogleFormsReader(),
    RedcapReader(),
    GenericReader(),
]
#: What the package reads, for messages.
SUPPORTED = (
    "REDCap records CSV (raw or labels; , ; or tab), Microsoft Forms .xlsx or .csv, "
    "Qualtrics CSV (choice text or numeric values), Google Forms CSV, or any CSV/xlsx "
    "whose headers a codebook maps (--codebook)"
)

__all__ = ["META_COLUMNS", "READERS", "Sniffed", "detect_format", "read_export"]


def detect_format(path: str | Path, instrument: Instrument | None = None) -> str:
    """Name the export format of a file from its content (``"redcap"``, ``"msforms"``,
    ``"qualtrics"``, ``"googleforms"`` or ``"generic"``)."""
    instrument = instrument or resolve_instrument()
    return _reader_for(sniff(Path(path), instrument), instrument).name


def _reader_for(sniffed: Sniffed, instrument: Instrument) -> Reader:
    for reader in READERS:
        if reader.recognises(sniffed, instrument):
            return reader
    if sniffed.kind == "csv" and len(sniffed.header) == 1:
        line = sniffed.header[0]
        other = max("|:^~", key=line.count)
        if line.count(other) >= 2:
            raise SurveyError(
                f"{sniffed.path}: the columns are separated by {other!r}; the package reads "
                "CSV separated by ',', ';' or tab: export the file again with one of those"
            )
    shown = ", ".join(repr(h[:60]) for h in sniffed.header[:4])
    raise SurveyError(
        f"{sniffed.path}: not a recognised export of the ATMP pipeline survey (its header "
        f"starts {shown}); supported: {SUPPORTED}. A file with the centre's own wording "
        "needs a codebook: draft one with 'atmp-report codebook FILE --out codebook.yaml'"
    )


def read_export(path: str | Path, instrument: Instrument | None = None) -> pd.DataFrame:
    """Read one survey export into the raw layout, whatever tool wrote it.

    Raises
    ------
    SurveyError
        When the file is missing, empty, unreadable, of an unknown format, or lacks the
        instrument's required questions.
    """
    instrument = instrument or resolve_instrument()
    sniffed = sniff(Path(path), instrument)
    raw = _reader_for(sniffed, instrument).read(sniffed, instrument)
    require_columns(raw, instrument)
    # cleaning decodes the answers with the same codebooks (see atmp_analysis.cleaning.clean)
    raw.attrs["instrument"] = instrument
    return raw
