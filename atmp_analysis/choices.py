"""Canonical choice codes: single answers as integer codes, multiple answers as bit masks.

Every reader hands over choice answers as the export wrote them: REDCap raw codes, REDCap
labels, ``variable___code`` indicator columns, or one cell of labels joined by ``;`` or
``,``. These functions turn them into the instrument's codes, vectorised, and say which cells
they could not read.

A checkbox answer is stored as an ``Int64`` bit mask: choice code *c* ticked sets bit *c*
(``reg_contact``'s code 0 is bit 0). A mask with no bit set means "nothing ticked" and is
stored as missing.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from atmp_analysis.instrument import Field

#: Values of a checkbox indicator column that mean ticked / not ticked (raw and label exports).
CHECKED = {"1", "1.0", "checked", "true", "yes", "x"}
UNCHECKED = {"0", "0.0", "unchecked", "false", "no", ""}

_QUOTES = str.maketrans({"’": "'", "‘": "'", "´": "'", "`": "'", "–": "-", "—": "-"})


def factorize_text(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Factorise answers as text, for work once per distinct answer.

    Parameters
    ----------
    values
        Answers of any dtype; they are compared as text (``astype("string")``).

    Returns
    -------
    codes : numpy.ndarray
        Position of each answer in ``uniques``, ``-1`` where missing.
    uniques : pandas.Series
        The distinct non-missing answers in order of appearance, ``string`` dtype, on a
        ``RangeIndex``.

    Notes
    -----
    The text's object array is factorised rather than the string array, which takes a
    slower path through pandas' hash table for the same result.
    """
    text = np.asarray(values.astype("string").array, dtype=object)
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    return codes, pd.Series(uniques, dtype="string")


def spread(per_unique: pd.Series, codes: np.ndarray, index: pd.Index) -> pd.Series:
    """Give each row the value of ``per_unique`` at its code (missing where ``-1``).

    The inverse of :func:`factorize_text`: ``spread(uniques, *factorize_text(v), v.index)``
    gives ``v`` back as ``string``. ``per_unique`` needs a dtype that holds missing values
    (a nullable or datetime dtype).
    """
    return pd.Series(per_unique.array.take(codes, allow_fill=True), index=index, copy=False)


def normalise_label(text: pd.Series) -> pd.Series:
    """Fold a choice label for matching: case, white space, quotes and dashes."""
    s = text.astype("string").str.translate(_QUOTES).str.casefold()
    return s.str.replace(r"\s+", " ", regex=True).str.strip()


def _spaces(label: str) -> str:
    return re.sub(r"\s+", " ", label.translate(_QUOTES)).strip()


def _norm(label: str) -> str:
    return re.sub(r"\s+", " ", label.translate(_QUOTES).casefold()).strip()


def label_lookup(field: Field) -> dict[str, int]:
    """Map every accepted spelling of a field's answers (code or folded label) to its code."""
    lookup: dict[str, int] = {}
    for code, label in field.choices.items():
        lookup[str(code)] = code
        lookup[f"{code}.0"] = code
        lookup[_norm(label)] = code
    for code, labels in field.aliases.items():
        for label in labels:
            lookup.setdefault(_norm(label), code)
    return lookup


def decode_single(values: pd.Series, field: Field) -> tuple[pd.Series, pd.Series]:
    """Decode single-choice answers (codes or labels) into integer codes.

    Returns
    -------
    codes : pandas.Series
        ``Int64`` codes, missing where blank or unreadable.
    invalid : pandas.Series
        ``True`` where a non-blank answer is neither a code nor a label of ``field``.
    """
    # work on the distinct answers only (a column holds a handful), then spread them back
    positions, uniques = factorize_text(values)
    folded = normalise_label(uniques)
    folded = folded.mask(folded == "")
    unique_codes = folded.map(label_lookup(field)).astype("Int64")
    # one more entry, for the missing answers (position -1)
    unique_invalid = np.append((folded.notna() & unique_codes.isna()).to_numpy(dtype=bool), False)
    codes = spread(unique_codes, positions, values.index)
    invalid = pd.Series(unique_invalid[positions], index=values.index)
    return codes, invalid


def mask_from_indicators(frame: pd.DataFrame, field: Field) -> tuple[pd.Series, pd.DataFrame]:
    """Combine REDCap ``name___code`` indicator columns into one bit mask.

    Columns of choices missing from ``frame`` count as not ticked.

    Returns
    -------
    mask : pandas.Series
        ``Int64`` bit mask, missing when nothing is ticked.
    invalid : pandas.DataFrame
        Per indicator column, ``True`` where the value is neither ticked nor unticked.
    """
    mask = np.zeros(len(frame), dtype=np.int64)
    invalid = {}
    for code in field.choices:
        column = f"{field.name}___{code}"
        if column not in frame.columns:
            continue
        positions, uniques = factorize_text(frame[column])
        folded = uniques.str.strip().str.casefold()
        ticked = folded.isin(CHECKED).to_numpy(dtype=bool)
        bad = ~(ticked | folded.isin(UNCHECKED).to_numpy(dtype=bool))
        # one more entry, for the missing cells (position -1): neither ticked nor bad
        invalid[column] = pd.Series(np.append(bad, False)[positions], index=frame.index)
        mask |= np.append(ticked, False)[positions].astype(np.int64) << code
    result = pd.Series(mask, index=frame.index, dtype="Int64").mask(mask == 0)
    return result, pd.DataFrame(invalid, index=frame.index)


def mask_from_joined(values: pd.Series, field: Field, sep: str) -> tuple[pd.Series, pd.Series]:
    """Read multi-select cells of labels joined by ``sep`` into a bit mask.

    Labels are matched whole against the field's known labels, longest first, so labels that
    themselves contain the separator (``"Centrifugation, separation, ..."``) are read right
    rather than split blindly.

    Returns
    -------
    mask : pandas.Series
        ``Int64`` bit mask, missing when nothing is ticked.
    leftover : pandas.Series
        The text that matched no label (``sep``-joined, as typed), missing where everything
        matched.
    """
    sep_pattern = rf"\s*{re.escape(sep)}\s*"
    text = values.astype("string").str.translate(_QUOTES).str.replace(r"\s+", " ", regex=True)
    text = text.str.strip().fillna("")
    remaining = sep + text.str.replace(sep_pattern, sep, regex=True).str.strip(sep) + sep
    mask = np.zeros(len(values), dtype=np.int64)
    edge = re.escape(sep)
    labels = [(code, label) for code, label in field.choices.items()]
    labels += [(code, alias) for code, aliases in field.aliases.items() for alias in aliases]
    tokens = [
        (code, re.sub(sep_pattern, sep, _spaces(label)))
        for code, label in sorted(labels, key=lambda item: -len(item[1]))
    ]
    tokens += [(code, str(code)) for code in field.choices]  # codes typed instead of labels
    for code, token in tokens:
        # lookarounds do not consume the separators, so repeated labels ("A;A;") all match
        pattern = f"(?<={edge}){re.escape(token)}(?={edge})"
        hit = remaining.str.contains(pattern, case=False, regex=True)
        mask |= hit.to_numpy(dtype=bool).astype(np.int64) << code
        remaining = remaining.str.replace(pattern, "", case=False, regex=True)
    leftover = remaining.str.replace(f"(?:{edge})+", sep, regex=True).str.strip(sep).str.strip()
    leftover = leftover.mask(leftover == "")
    result = pd.Series(mask, index=values.index, dtype="Int64").mask(mask == 0)
    return result, leftover


def mask_to_codes(mask: pd.Series, field: Field, sep: str = ";") -> pd.Series:
    """Write bit masks as ``sep``-joined codes in choice order (``"1;5"``), for output."""
    return _mask_to_text(mask, field, sep, labels=False)


def mask_to_labels(mask: pd.Series, field: Field, sep: str = ";") -> pd.Series:
    """Write bit masks as ``sep``-joined labels in choice order, for output."""
    return _mask_to_text(mask, field, sep, labels=True)


def _mask_to_text(mask: pd.Series, field: Field, sep: str, labels: bool) -> pd.Series:
    uniques = mask.dropna().unique()
    text = {}
    for value in uniques:  # one entry per distinct combination, not per row
        parts = [
            (label if labels else str(code))
            for code, label in field.choices.items()
            if (int(value) >> code) & 1
        ]
        text[value] = sep.join(parts)
    return mask.map(text).astype("string")


def mask_has(mask: pd.Series, code: int) -> pd.Series:
    """Whether choice ``code`` is ticked in each bit mask (missing counts as not ticked)."""
    values = mask.astype("Int64").fillna(0).to_numpy(dtype=np.int64)
    return pd.Series(((values >> code) & 1).astype(bool), index=mask.index)


def codes_to_mask(codes: list[int]) -> int:
    """The bit mask of a list of choice codes."""
    mask = 0
    for code in codes:
        mask |= 1 << int(code)
    return mask
