"""Shared fixtures: a fixed key, the shipped instrument, and small cleaned responses.

``make_responses`` builds a frame in the layout :func:`atmp_analysis.cleaning.clean`
produces (meta columns, ``wave``, every question with its cleaned dtype, the ``_text``
columns of the numbers, ``status``) from a list of dicts, so a test only states the answers
that matter to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd
import pytest

from atmp_analysis.choices import codes_to_mask
from atmp_analysis.cleaning import NUMERIC_TEXT
from atmp_analysis.config import KEY_ENV
from atmp_analysis.instrument import Instrument

KEY_HEX = "3f1c9a5e7b2d4f608192a3b4c5d6e7f80112233445566778899aabbccddeeff0"
OTHER_KEY_HEX = "c0ffee00112233445566778899aabbccddeeff00112233445566778899aabbcc"

#: Meta columns of a cleaned frame with their dtypes, in the order clean() gives them.
META_DTYPES = {
    "source_file": "str",
    "source_row": "int64",
    "source_format": "str",
    "wave": "int64",
    "record_id": "str",
    "submitted": "datetime64[ns]",
    "complete": "Int64",
    "tool_name": "string",
    "tool_email": "string",
}
#: Number fields parsed from free text, and their dtypes.
NUMBER_DTYPES = {"fih_year": "Int64", "budget_ksek": "Float64", "fte": "Float64"}
#: Text questions that clean() parses into numbers.
PARSED_TEXT_DTYPES = {"proj_start_year": "Int64"}

BASE_TIME = pd.Timestamp("2023-03-01 09:00:00")


@pytest.fixture(scope="session", autouse=True)
def _isolated_key_file(tmp_path_factory: pytest.TempPathFactory) -> Iterable[None]:
    """Point ``ATMP_ANALYSIS_KEY_FILE`` at a throwaway file for the whole session."""
    path = tmp_path_factory.mktemp("key") / "pseudonym.key"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_ENV, str(path))
        yield


@pytest.fixture(scope="session")
def key() -> bytes:
    """A fixed 32-byte pseudonymisation key."""
    return bytes.fromhex(KEY_HEX)


@pytest.fixture(scope="session")
def other_key() -> bytes:
    """Another fixed 32-byte key, for "ids differ under another key"."""
    return bytes.fromhex(OTHER_KEY_HEX)


@pytest.fixture(scope="session")
def instrument() -> Instrument:
    """The instrument the package ships."""
    return Instrument.default()


def response_columns(instrument: Instrument) -> dict[str, str]:
    """Every column of a cleaned responses frame, in order, with its dtype."""
    columns = dict(META_DTYPES)
    for field in instrument.questions:
        if field.name in NUMBER_DTYPES:
            columns[field.name] = NUMBER_DTYPES[field.name]
            columns[f"{field.name}_text"] = "string"
        elif field.name in PARSED_TEXT_DTYPES:
            columns[field.name] = PARSED_TEXT_DTYPES[field.name]
        elif field.is_choice:
            columns[field.name] = "Int64"
        else:
            columns[field.name] = "string"
    columns["status"] = "string"
    return columns


def _defaults(i: int, row: Mapping[str, Any]) -> dict[str, Any]:
    """Values of row ``i`` that a test does not state."""
    wave = row.get("wave", 2023)
    return {
        "source_file": f"survey_{wave}.csv",
        "source_row": i + 2,
        "source_format": "redcap",
        "wave": wave,
        "record_id": str(i + 1),
        "submitted": BASE_TIME.replace(year=int(wave)) + pd.Timedelta(hours=i),
        "complete": 2,
        "atmp_project": 1,
        "resp_name": f"Respondent Number{i}",
        "resp_email": f"respondent{i}@uni.example",
        "resp_role": 2,
    }


def _status(row: Mapping[str, Any]) -> str:
    if row.get("atmp_project") == 0:
        return "no ATMP project"
    return "project"


def build_responses(
    rows: list[Mapping[str, Any]], instrument: Instrument | None = None
) -> pd.DataFrame:
    """A cleaned responses frame from ``rows``; unstated columns get defaults or missing.

    Checkbox answers may be given as a bit mask or as a list of choice codes. ``<field>_text``
    of a number defaults to the number as text. ``status`` defaults to ``project`` (``no ATMP
    project`` when ``atmp_project`` is 0). A key that is not a column raises ``KeyError``.
    """
    instrument = instrument or Instrument.default()
    columns = response_columns(instrument)
    records = []
    for i, given in enumerate(rows):
        unknown = set(given) - set(columns)
        if unknown:
            raise KeyError(f"not columns of cleaned responses: {sorted(unknown)}")
        row = {**_defaults(i, given), **given}
        for field in instrument.checkbox_fields:
            value = row.get(field.name)
            if isinstance(value, (list, tuple, set)):
                row[field.name] = codes_to_mask(list(value)) if value else None
        for name in NUMERIC_TEXT:
            if f"{name}_text" not in row and row.get(name) is not None:
                value = row[name]
                row[f"{name}_text"] = str(int(value) if float(value).is_integer() else value)
        row.setdefault("status", _status(row))
        records.append(row)
    data = {
        name: pd.Series([r.get(name) for r in records], dtype=object).astype(dtype)
        for name, dtype in columns.items()
    }
    return pd.DataFrame(data, index=pd.RangeIndex(len(records)))


@pytest.fixture
def make_responses(instrument: Instrument) -> Callable[..., pd.DataFrame]:
    """Build cleaned responses from a list of dicts: ``make_responses([{...}, {...}])``."""

    def make(rows: list[Mapping[str, Any]]) -> pd.DataFrame:
        return build_responses(rows, instrument)

    return make
