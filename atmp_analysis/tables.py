"""The processed tables users get: ``responses.csv`` and ``projects.csv`` (OUTPUTS.md).

Columns of the contract come first, in its order, then extra columns. Personal data (names,
e-mail addresses, project leads, research groups, the survey tool's name and e-mail columns)
is never written. Bit masks of checkbox answers are written as ``;``-joined codes. Files are
written to a temporary name and renamed, so a failed run leaves the previous tables intact.

Free text that a spreadsheet would run as a formula (``=…``, ``+…``, ``-…``, ``@…``) is written
with a ``'`` in front (:mod:`atmp_analysis.spreadsheet`); :func:`read_tables` takes it off
again, so analyses see the text as typed.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pandera.errors

from atmp_analysis import spreadsheet
from atmp_analysis.choices import mask_to_codes
from atmp_analysis.derive import unrecognised_values
from atmp_analysis.instrument import Instrument
from atmp_analysis.schemas import projects_schema, responses_schema
from atmp_analysis.summary import missing_answers

PROJECT_COLUMNS = [
    "project_id",
    "wave",
    "acronym",
    "n_responses",
    "atmp_class",
    "atmp_class_reason",
    "platforms",
    "cell_origin",
    "ther_area",
    "rare_disease",
    "stage_code",
    "stage",
    "trl",
    "fih_year",
    "support_needs",
    "support_horizon",
    "bottleneck_themes",
    "conflicts",
]
RESPONSE_LEAD_COLUMNS = [
    "respondent_id",
    "project_id",
    "status",
    "wave",
    "source_file",
    "source_row",
    "source_format",
    "record_id",
    "submitted",
    "complete",
]
#: Never written to any output.
PERSONAL_COLUMNS = ["resp_name", "resp_email", "proj_lead", "resp_group", "tool_name", "tool_email"]


def _codes_for_checkboxes(
    frame: pd.DataFrame, instrument: Instrument, suffix: str = ""
) -> pd.DataFrame:
    out = frame.copy()
    for field in instrument.checkbox_fields:
        column = field.name + suffix
        if column in out and not pd.api.types.is_string_dtype(out[column]):
            out[column] = mask_to_codes(out[column], field)
    return out


def responses_table(responses: pd.DataFrame, instrument: Instrument | None = None) -> pd.DataFrame:
    """Responses as written to ``responses.csv``: no personal data, checkboxes as codes."""
    instrument = instrument or Instrument.default()
    out = responses.drop(columns=[c for c in PERSONAL_COLUMNS if c in responses])
    out = _codes_for_checkboxes(out, instrument)
    lead = [c for c in RESPONSE_LEAD_COLUMNS if c in out]
    return out[lead + [c for c in out.columns if c not in lead]]


def projects_table(projects: pd.DataFrame, instrument: Instrument | None = None) -> pd.DataFrame:
    """Projects as written to ``projects.csv``: the contract's columns first, then extras."""
    instrument = instrument or Instrument.default()
    out = projects.drop(columns=[c for c in PERSONAL_COLUMNS if c in projects])
    for column in PROJECT_COLUMNS:
        if column not in out:
            out[column] = pd.Series(pd.NA, index=out.index, dtype="string")
    out = _codes_for_checkboxes(out, instrument)
    out = _codes_for_checkboxes(out, instrument, suffix="_code")
    return out[PROJECT_COLUMNS + [c for c in out.columns if c not in PROJECT_COLUMNS]]


def validate(table: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Check a table against its schema, lazily; raise ``ValueError`` listing every failure."""
    schema = {"projects": projects_schema, "responses": responses_schema}[kind]()
    try:
        return schema.validate(table, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases[["column", "check", "failure_case", "index"]]
        raise ValueError(f"the {kind} table breaks its contract:\n{cases.to_string()}") from None


def write_csv_atomic(table: pd.DataFrame, path: Path) -> Path:
    """Write a CSV next to ``path`` and rename it into place (never a half-written file).

    Text cells that a spreadsheet would read as a formula get a leading ``'``
    (:func:`atmp_analysis.spreadsheet.write_csv`).
    """
    return spreadsheet.write_csv(table, path, index=False)


def write_tables(
    responses: pd.DataFrame,
    projects: pd.DataFrame,
    quality: pd.DataFrame,
    out_dir: Path,
    instrument: Instrument | None = None,
) -> dict[str, Path]:
    """Validate and write the processed tables into ``out_dir``.

    ``responses.csv``, ``projects.csv``, ``data_quality.csv`` (problems found while
    reading), ``unrecognised_values.csv`` (free-text answers in which no vocabulary
    term was recognised, with what the project was counted as instead) and
    ``missing_answers.csv`` (per wave and question: forms shown it, left empty, unsure).
    """
    instrument = instrument or Instrument.default()
    tables = {
        "responses": validate(responses_table(responses, instrument), "responses"),
        "projects": validate(projects_table(projects, instrument), "projects"),
        "data_quality": quality,
        "unrecognised_values": unrecognised_values(projects),
        "missing_answers": missing_answers(responses, instrument),
    }
    return {
        name: write_csv_atomic(table, Path(out_dir) / f"{name}.csv")
        for name, table in tables.items()
    }


#: The tables :func:`write_tables` writes, in order.
TABLE_NAMES = ("responses", "projects", "data_quality", "unrecognised_values", "missing_answers")


def read_tables(folder: Path) -> dict[str, pd.DataFrame]:
    """Read the processed tables :func:`write_tables` wrote, with the text as typed.

    The ``'`` that :func:`write_tables` put in front of formula-like text is taken off
    (:func:`atmp_analysis.spreadsheet.restore`).

    Raises
    ------
    FileNotFoundError
        Naming the first table that is missing from ``folder``.
    """
    folder = Path(folder)
    out = {}
    for name in TABLE_NAMES:
        path = folder / f"{name}.csv"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: processed table not found (run atmp-report classify)")
        table = pd.read_csv(path, keep_default_na=False, na_values=[""])
        out[name] = spreadsheet.restore(table)
    return out
