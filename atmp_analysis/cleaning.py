"""Cleaning: from the raw layout of one export to canonical responses.

Each step is a pure ``DataFrame -> DataFrame`` function (it never changes its input),
vectorised, and chains with ``.pipe``. :func:`clean` runs them in order. Problems found on
the way are kept in ``frame.attrs["problems"]`` (see :func:`problems_of`): errors (answers
that are not choices of the instrument) stop :func:`clean` unless ``allow_invalid``;
warnings (free text that is not a number, a year outside 1990–2100) are reported, never
dropped.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

from atmp_analysis.choices import (
    decode_single,
    factorize_text,
    mask_from_indicators,
    mask_from_joined,
    spread,
)
from atmp_analysis.config import VOCAB_DIR
from atmp_analysis.errors import Problem, ProblemList, SurveyError
from atmp_analysis.instrument import Instrument, resolve_instrument
from atmp_analysis.parsing import parse_fte, parse_ksek, parse_year, unparsed
from atmp_analysis.readers.base import META_COLUMNS
from atmp_analysis.validation import as_blanked, blank_invalid, validate_raw

#: Response statuses (OUTPUTS.md), plus ``incomplete`` for a response that identifies no
#: project and does not answer the screening question.
STATUSES = ("project", "no ATMP project", "test response", "duplicate submission", "incomplete")

#: Free-text fields read as numbers or years, and the parser for each.
NUMERIC_TEXT = {
    "fih_year": "year",
    "budget_ksek": "ksek",
    "fte": "fte",
}
YEAR_RANGE = (1990, 2100)
#: How many answers of a free-text column tell whether it repeats (see :func:`_stripped`).
_SAMPLE = 1000


def problems_of(frame: pd.DataFrame) -> list[Problem]:
    """The problems recorded on a frame by the cleaning steps."""
    return list(frame.attrs.get("problems", []))


def _with_problems(frame: pd.DataFrame, new: list[Problem]) -> pd.DataFrame:
    frame.attrs = {**frame.attrs, "problems": ProblemList(problems_of(frame) + new)}
    return frame


def _cell_problems(
    raw: pd.DataFrame,
    bad: pd.Series,
    column: str,
    values: pd.Series,
    problem: str,
    severity: str = "error",
) -> list[Problem]:
    """One Problem per flagged cell (only the bad cells are visited)."""
    if not bad.any():
        return []
    path = raw.attrs.get("path", "survey")
    header = raw.attrs.get("headers", {}).get(column, column)
    rows = raw.loc[bad, "source_row"]
    vals = values[bad].astype("string")
    return [
        Problem(path, int(r), header, None if pd.isna(v) else str(v), problem, severity)
        for r, v in zip(rows, vals, strict=True)
    ]


def decode_answers(
    raw: pd.DataFrame, instrument: Instrument, *, allow_invalid: bool = False
) -> pd.DataFrame:
    """Turn every choice answer into the instrument's codes; strip free text.

    Single choices become ``Int64`` codes (raw codes and labels both accepted), checkboxes
    ``Int64`` bit masks (from ``variable___code`` columns or from ``;``/``,``-joined labels).
    In a joined multi-select, text that matches no label is taken as the "Other" choice with
    its text moved to the matching ``..._other`` question (a warning), or is an error when
    the question has no "Other".

    Raises
    ------
    SurveyError
        Listing every answer that is not a choice of its question, unless
        ``allow_invalid``, which blanks those cells and records a warning for each.
    """
    out = raw[[c for c in raw.columns if c in META_COLUMNS]].copy()
    out.attrs = dict(raw.attrs)
    problems: list[Problem] = []
    severity = "warning" if allow_invalid else "error"
    sep = raw.attrs.get("multiselect_sep")
    columns: dict[str, pd.Series] = {}
    for field in instrument.questions:
        if field.is_checkbox:
            indicator_cols = [c for c in field.checkbox_columns() if c in raw.columns]
            if indicator_cols:
                mask, invalid = mask_from_indicators(raw, field)
                for column in invalid.columns:
                    problems += _cell_problems(
                        raw,
                        invalid[column],
                        column,
                        raw[column],
                        "expected Checked/Unchecked or 1/0",
                        severity,
                    )
                columns[field.name] = mask
            elif field.name in raw.columns:
                mask, leftover = mask_from_joined(raw[field.name], field, sep or ";")
                other_code = _other_code(field)
                other_text = _other_field(field, instrument)
                has_left = leftover.notna()
                if other_code is not None:
                    bits = mask.fillna(0).to_numpy(dtype=np.int64)
                    bits |= has_left.to_numpy(dtype=np.int64) << other_code
                    mask = pd.Series(bits, index=raw.index, dtype="Int64").mask(bits == 0)
                    where = f" ({other_text})" if other_text else ""
                    problems += _cell_problems(
                        raw,
                        has_left,
                        field.name,
                        leftover,
                        f"not a choice of this question; read as 'Other'{where}",
                        "warning",
                    )
                    if other_text:
                        columns.setdefault(
                            other_text, pd.Series(pd.NA, index=raw.index, dtype="string")
                        )
                        columns[f"_{other_text}_from_multiselect"] = leftover
                else:
                    problems += _cell_problems(
                        raw,
                        has_left,
                        field.name,
                        leftover,
                        "not a choice of this question: expected "
                        + "; ".join(field.choices.values()),
                        severity,
                    )
                columns[field.name] = mask
            else:
                columns[field.name] = pd.Series(pd.NA, index=raw.index, dtype="Int64")
        elif field.is_choice:
            if field.name not in raw.columns:
                columns[field.name] = pd.Series(pd.NA, index=raw.index, dtype="Int64")
                continue
            codes, invalid = decode_single(raw[field.name], field)
            expected = " · ".join(f"{c} {label}" for c, label in field.choices.items())
            problems += _cell_problems(
                raw,
                invalid,
                field.name,
                raw[field.name],
                f"not a choice of this question: expected one of {expected}",
                severity,
            )
            columns[field.name] = codes
        else:
            if field.name in raw.columns:
                columns[field.name] = _stripped(raw[field.name])
            else:
                columns.setdefault(field.name, pd.Series(pd.NA, index=raw.index, dtype="string"))
    # "Other" text typed into a Forms multi-select fills the other-question when it is blank
    for key in [k for k in columns if k.startswith("_") and k.endswith("_from_multiselect")]:
        target = key[1 : -len("_from_multiselect")]
        columns[target] = columns[target].fillna(columns.pop(key))
    out = pd.concat([out, pd.DataFrame(columns, index=raw.index)], axis=1)
    out.attrs = dict(raw.attrs)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise SurveyError(
            f"{raw.attrs.get('path', 'survey')}: {len(errors)} answer(s) are not choices of "
            "the instrument (fix them in the export, or pass --allow-invalid to blank them)",
            errors,
        )
    return _with_problems(out, problems)


def _stripped(values: pd.Series) -> pd.Series:
    """Free text without surrounding white space, blank as missing.

    Text that repeats (titles, descriptions, typed numbers) is stripped once per distinct
    answer. Text that hardly repeats (names, e-mail addresses, as judged from the first
    answers) is stripped row by row, which is then cheaper than factorising it first.
    """
    text = values.astype("string")
    head = text.iloc[:_SAMPLE].dropna()
    if len(head) and head.nunique() > len(head) // 2:
        text = text.str.strip()
        return text.mask(text == "")
    codes, uniques = factorize_text(text)
    text = uniques.str.strip()
    return spread(text.mask(text == ""), codes, values.index)


def _other_code(field) -> int | None:
    codes = [c for c, label in field.choices.items() if label.casefold() == "other"]
    return codes[0] if codes else None


def _other_field(field, instrument: Instrument) -> str | None:
    for name in (f"{field.name}_other", f"{field.name.split('_')[0]}_other"):
        if name in instrument:
            return name
    return None


def assign_wave(
    responses: pd.DataFrame, wave: int | None = None, *, default: int | None = None
) -> pd.DataFrame:
    """Add the survey year, ``wave``: as given, else the most common year of submission,
    else ``default`` (for an export without submission times).

    Raises
    ------
    SurveyError
        When no wave is given and the export has no timestamps and no default.
    """
    out = responses.copy(deep=False)  # copy-on-write: the input stays as it is
    if wave is None:
        years = out["submitted"].dt.year.dropna()
        if years.empty and default is not None:
            years = pd.Series([default])
        if years.empty:
            raise SurveyError(
                f"{responses.attrs.get('path', 'survey')}: the export has no submission "
                "times, so its survey year is unknown: pass --wave YEAR (or --wave FILE=YEAR)"
            )
        wave = int(years.mode().iloc[0])
    out.insert(out.columns.get_loc("source_format") + 1, "wave", np.int64(wave))
    out["wave"] = out["wave"].astype("int64")
    return out


def parse_numbers(responses: pd.DataFrame) -> pd.DataFrame:
    """Read free-text years, budgets and FTEs (English and Swedish) into numbers.

    The text as typed is kept beside each, in ``<field>_text``; text that could not be read
    is reported as a warning. ``fih_year`` phrases relative to now ("om 3-4 år") count from
    the wave year. ``proj_start_year`` outside 1990–2100 is blanked with a warning.
    """
    out = responses.copy(deep=False)  # copy-on-write: the input stays as it is
    problems: list[Problem] = []
    parsers = {
        "year": lambda s: parse_year(s, out["wave"]),
        "ksek": parse_ksek,
        "fte": parse_fte,
    }
    for name, kind in NUMERIC_TEXT.items():
        text = out[name].astype("string")
        value = parsers[kind](text)
        position = out.columns.get_loc(name)
        out.insert(position + 1, f"{name}_text", text)
        out[name] = value
        problems += _cell_problems(
            responses,
            unparsed(text, value),
            name,
            text,
            {
                "year": "not a year (1990–2100) or a time from now",
                "ksek": "not an amount (kSEK, MSEK, tkr ...)",
                "fte": "not a number of full-time equivalents",
            }[kind],
            "warning",
        )
    codes, uniques = factorize_text(out["proj_start_year"])
    start = spread(pd.to_numeric(uniques, errors="coerce"), codes, out.index)
    # not a number ("abc") or out of range: blanked, with a warning
    bad = out["proj_start_year"].notna() & ~start.between(*YEAR_RANGE).fillna(False)
    problems += _cell_problems(
        responses,
        bad,
        "proj_start_year",
        out["proj_start_year"],
        "not a year between 1990 and 2100",
        "warning",
    )
    out["proj_start_year"] = start.where(~bad).round().astype("Int64")
    return _with_problems(out, problems)


@cache
def _test_patterns() -> dict[str, str]:
    table = pd.read_csv(VOCAB_DIR / "test_markers.csv", dtype=str)
    return {
        field: "|".join(f"(?:{p})" for p in group["pattern"])
        for field, group in table.groupby("field")
    }


def is_test_response(responses: pd.DataFrame) -> pd.Series:
    """Whether each response looks like a test submission (vocabulary ``test_markers.csv``).

    Looks at the respondent's name and e-mail (the question's and the tool's) and the
    project acronym; a whole-value match, case-insensitive.
    """
    patterns = _test_patterns()
    hit = pd.Series(False, index=responses.index)
    sources = {
        "name": ["resp_name", "tool_name"],
        "email": ["resp_email", "tool_email"],
        "acronym": ["proj_acronym"],
    }
    for kind, columns in sources.items():
        for column in columns:
            if column in responses:
                text = responses[column].astype("string").str.strip()
                hit |= text.str.fullmatch(patterns[kind], case=False).fillna(False).astype(bool)
    return hit


def screen(responses: pd.DataFrame) -> pd.DataFrame:
    """Give each response its first status: test, screened out, incomplete or project.

    Duplicate submissions are found later, when responses are grouped into projects
    (:func:`atmp_analysis.projects.assign_projects`).
    """
    out = responses.copy(deep=False)  # copy-on-write: the input stays as it is
    identifies = out[["proj_acronym", "proj_title", "proj_lead"]].notna().any(axis=1)
    # the tool's own mark (a Qualtrics survey preview) or the test markers of the vocabulary
    tool_test = out["tool_test"] if "tool_test" in out else pd.Series(False, index=out.index)
    test = is_test_response(out) | tool_test.fillna(False).astype(bool)
    status = np.select(
        [
            test.to_numpy(dtype=bool),
            (out["atmp_project"] == 0).fillna(False).to_numpy(dtype=bool),
            ~identifies.to_numpy(),
        ],
        ["test response", "no ATMP project", "incomplete"],
        default="project",
    )
    out["status"] = pd.Series(status, index=out.index, dtype="string")
    return out


def clean(
    raw: pd.DataFrame,
    *,
    instrument: Instrument | None = None,
    wave: int | None = None,
    allow_invalid: bool = False,
    default_wave: int | None = None,
) -> pd.DataFrame:
    """Clean one export in the raw layout into canonical responses.

    Parameters
    ----------
    raw
        The output of :func:`atmp_analysis.readers.read_export`.
    instrument
        The instrument (default: the one the export was read with, codebooks included).
    wave
        The survey year; default: the most common year of submission in the file.
    default_wave
        The survey year of an export without submission times, when ``wave`` is not given.
    allow_invalid
        Blank answers that are not choices of the instrument (with a warning each) instead
        of refusing the file.

    Returns
    -------
    pandas.DataFrame
        One row per response: the meta columns, ``wave``, every question (choice codes,
        bit masks, numbers, text; numbers' typed text in ``<field>_text``) and ``status``.
    """
    instrument = instrument or raw.attrs.get("instrument") or resolve_instrument()
    invalid = validate_raw(raw, instrument)
    if invalid and not allow_invalid:
        raise SurveyError(
            f"{raw.attrs.get('path', 'survey')}: {len(invalid)} answer(s) break the "
            "instrument (fix them in the export, or pass --allow-invalid to blank them)",
            invalid,
        )
    if invalid:
        raw = _with_problems(blank_invalid(raw, invalid), as_blanked(invalid))
    return (
        decode_answers(raw, instrument, allow_invalid=allow_invalid)
        .pipe(assign_wave, wave, default=default_wave)
        .pipe(parse_numbers)
        .pipe(screen)
    )
