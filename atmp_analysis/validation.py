"""Validation of an export as read: every bad cell at once, where the user can find it.

The raw layout a reader produces (:mod:`atmp_analysis.readers.base`) is the first stage
boundary. :func:`raw_schema` builds a pandera schema of it from the instrument: each choice
answer must be a code or label (the instrument's or a codebook's), each checkbox indicator
ticked or not, each joined multi-select made of known labels (or have an "Other" to take the
rest), and each year possible. :func:`validate_raw` runs it lazily, so the result lists
every failing cell, and says for each the file, the row number as the user sees it in that
file (the header is row 1; Qualtrics' three header rows count), the column header as written
in the file, the bad value and what was expected. The processed tables are checked again on
the way out (:mod:`atmp_analysis.schemas`).

>>> import pandas as pd
>>> from atmp_analysis.instrument import resolve_instrument
>>> raw = pd.DataFrame({"source_row": [2, 3], "stage": pd.Series(["4", "Phase IV"])})
>>> raw.attrs = {"path": "export.csv", "headers": {"stage": "Current stage"}}
>>> [(p.file, p.row, p.column, p.value) for p in validate_raw(raw, resolve_instrument())]
[('export.csv', 3, 'Current stage', 'Phase IV')]
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.errors
import pandera.pandas as pa

from atmp_analysis.choices import (
    CHECKED,
    UNCHECKED,
    decode_single,
    factorize_text,
    mask_from_joined,
)
from atmp_analysis.errors import Problem
from atmp_analysis.instrument import Field, Instrument

#: Years the instrument accepts wherever it asks for one (``proj_start_year``, ``fih_year``).
YEARS = (1990, 2100)
#: Free-text year questions whose answer, when it is a bare number, must be a possible year.
YEAR_TEXT = ("fih_year",)


def _expected(field: Field) -> str:
    return " · ".join(f"{code} {label}" for code, label in field.choices.items())


def _single_check(field: Field) -> pa.Check:
    def valid(values: pd.Series) -> pd.Series:
        _, invalid = decode_single(values, field)
        return ~invalid

    return pa.Check(
        valid,
        error=f"not a choice of this question: expected one of {_expected(field)}",
        ignore_na=False,
    )


def _indicator_check() -> pa.Check:
    accepted = CHECKED | UNCHECKED

    def valid(values: pd.Series) -> pd.Series:
        positions, uniques = factorize_text(values)
        ok = uniques.str.strip().str.casefold().isin(accepted).to_numpy(dtype=bool)
        return pd.Series(np.append(ok, True)[positions], index=values.index)

    return pa.Check(valid, error="expected Checked/Unchecked or 1/0", ignore_na=False)


def _joined_check(field: Field, sep: str) -> pa.Check:
    def valid(values: pd.Series) -> pd.Series:
        positions, uniques = factorize_text(values)
        _, leftover = mask_from_joined(uniques, field, sep)
        ok = leftover.isna().to_numpy(dtype=bool)
        return pd.Series(np.append(ok, True)[positions], index=values.index)

    return pa.Check(
        valid,
        error=f"not a choice of this question: expected {sep!r}-joined choices of "
        f"{'; '.join(field.choices.values())}",
        ignore_na=False,
    )


def _year_check(field: Field, bare_only: bool) -> pa.Check:
    low = int(field.vmin) if field.vmin.strip().isdigit() else YEARS[0]
    high = int(field.vmax) if field.vmax.strip().isdigit() else YEARS[1]

    def valid(values: pd.Series) -> pd.Series:
        positions, uniques = factorize_text(values)
        text = uniques.str.strip()
        number = pd.to_numeric(text.where(text.str.fullmatch(r"-?\d+(?:\.0+)?")), errors="coerce")
        in_range = number.between(low, high).fillna(False).to_numpy(dtype=bool)
        if bare_only:  # free text ("in 3 years", "vet ej") is the parser's to read
            ok = number.isna().to_numpy(dtype=bool) | in_range
        else:
            ok = in_range | (text == "").to_numpy(dtype=bool)
        return pd.Series(np.append(ok, True)[positions], index=values.index)

    return pa.Check(
        valid, error=f"impossible year: expected a whole year {low}–{high}", ignore_na=False
    )


def raw_schema(raw: pd.DataFrame, instrument: Instrument) -> pa.DataFrameSchema:
    """The pandera schema of one export in the raw layout (columns it has, only).

    Parameters
    ----------
    raw
        A reader's output; its ``attrs["multiselect_sep"]`` tells how joined multi-select
        answers are separated.
    instrument
        The instrument with its codebooks (labels they add are valid answers).
    """
    sep = raw.attrs.get("multiselect_sep") or ";"
    columns: dict[str, pa.Column] = {}

    def column(name: str, check: pa.Check) -> None:
        columns[name] = pa.Column(checks=[check], nullable=True, required=False)

    for field in instrument.questions:
        if field.is_checkbox:
            for name in field.checkbox_columns():
                if name in raw.columns:
                    column(name, _indicator_check())
            has_other = any(label.casefold() == "other" for label in field.choices.values())
            if field.name in raw.columns and not has_other:
                column(field.name, _joined_check(field, sep))
        elif field.is_choice:
            if field.name in raw.columns:
                column(field.name, _single_check(field))
        elif field.name in raw.columns and field.validation == "integer" and "year" in field.name:
            column(field.name, _year_check(field, bare_only=False))
        elif field.name in raw.columns and field.name in YEAR_TEXT:
            column(field.name, _year_check(field, bare_only=True))
    return pa.DataFrameSchema(columns, strict=False, name="Survey export")


def validate_raw(raw: pd.DataFrame, instrument: Instrument) -> list[Problem]:
    """Every cell of one export that breaks the instrument, as problems (severity error).

    The list is in file order: by row, then by the column's place in the file.
    """
    schema = raw_schema(raw, instrument)
    try:
        schema.validate(raw, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        failures = exc.failure_cases
    else:
        return []
    failures = failures[failures["index"].notna()]
    path = raw.attrs.get("path", "survey")
    headers = raw.attrs.get("headers", {})
    order = {name: position for position, name in enumerate(raw.columns)}
    rows = raw["source_row"].to_numpy()
    index = pd.Index(raw.index)
    problems = []
    for column, check, value, label in zip(
        failures["column"],
        failures["check"],
        failures["failure_case"],
        failures["index"],
        strict=True,
    ):
        row = int(rows[index.get_loc(label)])
        problems.append(
            Problem(
                path,
                row,
                headers.get(column, column),
                None if pd.isna(value) else str(value),
                check,
                "error",
            )
        )
    by_header = {header: column for column, header in headers.items()}
    return sorted(problems, key=lambda p: (p.row, order.get(by_header.get(p.column, p.column), 0)))


def blank_invalid(raw: pd.DataFrame, problems: list[Problem]) -> pd.DataFrame:
    """``raw`` with the cells of ``problems`` blanked (``--allow-invalid``)."""
    if not problems:
        return raw
    headers = raw.attrs.get("headers", {})
    by_header = {header: column for column, header in headers.items()}
    out = raw.copy()
    positions = pd.Index(raw["source_row"].to_numpy())
    for column, group in pd.DataFrame(
        {
            "column": [by_header.get(p.column, p.column) for p in problems],
            "row": [p.row for p in problems],
        }
    ).groupby("column"):
        bad = positions.isin(group["row"])
        out[column] = out[column].mask(bad)
    out.attrs = dict(raw.attrs)
    return out


def as_blanked(problems: list[Problem]) -> list[Problem]:
    """The problems of cells that ``--allow-invalid`` blanked, as warnings that say so."""
    return [
        Problem(p.file, p.row, p.column, p.value, f"{p.problem}; blanked", "warning")
        for p in problems
    ]


__all__ = ["YEARS", "as_blanked", "blank_invalid", "raw_schema", "validate_raw"]
