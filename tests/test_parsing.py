"""Tests of :mod:`atmp_analysis.parsing`: free-text numbers, budgets, FTEs and years."""

from __future__ import annotations

import csv
import importlib.resources
import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atmp_analysis.parsing import (
    is_missing_token,
    parse_fte,
    parse_ksek,
    parse_number,
    parse_year,
    unparsed,
)

NBSP = "\u00a0"
NNBSP = "\u202f"  # narrow no-break space
EN_DASH = "\u2013"
WAVE = 2023


def one(value: object, dtype: str | None = None) -> pd.Series:
    """A one-row object Series (or of ``dtype``) holding ``value``."""
    return pd.Series([value], dtype=dtype if dtype is not None else object)


def first(result: pd.Series) -> object:
    return result.iloc[0]


def assert_value(result: pd.Series, expected: float | None) -> None:
    got = first(result)
    if expected is None:
        assert got is pd.NA, f"expected NA, got {got!r}"
    else:
        assert got is not pd.NA, f"expected {expected!r}, got NA"
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-12)


def vocab_rows(name: str) -> list[dict[str, str]]:
    resource = importlib.resources.files("atmp_analysis") / "data" / "vocab" / name
    return list(csv.DictReader(io.StringIO(resource.read_text(encoding="utf-8"))))


# --------------------------------------------------------------------------
# parse_ksek
# --------------------------------------------------------------------------

KSEK_CASES = [
    # units (en/sv), case-insensitive, with or without a space
    ("1,5 MSEK", 1500.0),
    ("1.5 MSEK", 1500.0),
    ("1,5MSEK", 1500.0),
    ("2 Mkr", 2000.0),
    ("2 mkr", 2000.0),
    ("2 miljoner", 2000.0),
    ("2 miljoner kronor", 2000.0),
    ("2 milj. kr", 2000.0),
    ("2 million SEK", 2000.0),
    ("1.5M", 1500.0),
    ("2 m", 2000.0),
    ("800 tkr", 800.0),
    ("800 TKR", 800.0),
    ("800 tkr.", 800.0),
    ("800 tSEK", 800.0),
    ("1500 kSEK", 1500.0),
    ("200k", 200.0),
    ("1 500 000 SEK", 1500.0),
    ("1 500 000 kr", 1500.0),
    ("1500000 kronor", 1500.0),
    ("1500:-", 1.5),
    ("≈ 3 000 kr", 3.0),
    # a bare number is already kSEK
    ("1500", 1500.0),
    ("0", 0.0),
    ("2,5", 2.5),
    ("2.5", 2.5),
    # thousands separators
    ("1 500", 1500.0),
    (f"1{NBSP}500", 1500.0),
    (f"1{NNBSP}500", 1500.0),
    ("1'500", 1500.0),
    ("1 500,5", 1500.5),
    ("1,500,000 SEK", 1500.0),
    ("1.500.000 kr", 1500.0),
    ("1,250.5 kSEK", 1250.5),
    ("1.250,5 tkr", 1250.5),
    # budget rule: d{1,3},ddd is thousands unless the unit is a million-unit
    ("1,500", 1500.0),
    ("1,500 kSEK", 1500.0),
    ("1,500 SEK", 1.5),
    ("1,500 MSEK", 1500.0),
    ("12,500", 12500.0),
    ("1,50", 1.5),
    ("1,5000", 1.5),
    ("1234,567", 1234.567),
    ("1.500", 1.5),
    # approximations are ignored
    ("ca 2000", 2000.0),
    ("ca. 2000", 2000.0),
    ("c:a 2000", 2000.0),
    ("cirka 1 000 tkr", 1000.0),
    ("approx 2 MSEK", 2000.0),
    ("approx. 2 MSEK", 2000.0),
    ("about 500", 500.0),
    ("around 500", 500.0),
    ("~500", 500.0),
    ("~ 500", 500.0),
    ("≈500", 500.0),
    ("ungefär 800 tkr", 800.0),
    ("omkring 2 mkr", 2000.0),
    ("  CA  2 MKR  ", 2000.0),
    # ranges give the midpoint; one unit applies to both ends
    ("1,5-2 MSEK", 1750.0),
    (f"1,5{EN_DASH}2 MSEK", 1750.0),
    ("1,5 - 2 MSEK", 1750.0),
    ("3 to 4 MSEK", 3500.0),
    ("3 till 4 mkr", 3500.0),
    ("3 à 4 Mkr", 3500.0),
    ("1 000-2 000 tkr", 1500.0),
    ("500 tkr - 1 MSEK", 750.0),
    ("ca 1-2 MSEK", 1500.0),
    ("between 1 and 2 MSEK", 1500.0),
    ("mellan 1 och 2 mkr", 1500.0),
    ("3-4", 3.5),
    # trailing per-year words are ignored
    ("2 MSEK per year", 2000.0),
    ("2 MSEK/year", 2000.0),
    ("2 mkr/år", 2000.0),
    ("2 mkr / år", 2000.0),
    ("2 mkr per år", 2000.0),
    ("ca. 1,5 mkr per år", 1500.0),
    ("approx 2 MSEK annually", 2000.0),
    ("2 MSEK p.a.", 2000.0),
    ("2 mkr om året", 2000.0),
    ("2 MSEK.", 2000.0),
]


@pytest.mark.parametrize(("text", "expected"), KSEK_CASES)
def test_parse_ksek(text: str, expected: float) -> None:
    series = one(text)
    result = parse_ksek(series)
    assert_value(result, expected)
    assert not unparsed(series, result).iloc[0]


KSEK_UNPARSED = [
    "2 or more",
    "up to 2 MSEK",
    "max 2 mkr",
    "2 MSEK totalt",
    "2 EUR",
    "depends on funding",
    "beror på finansiering",
    "-5",
    "2 månader",
    "1,2,3",
    "1 50",
]


@pytest.mark.parametrize("text", KSEK_UNPARSED)
def test_parse_ksek_unparsed(text: str) -> None:
    series = one(text)
    result = parse_ksek(series)
    assert_value(result, None)
    assert unparsed(series, result).iloc[0]


# --------------------------------------------------------------------------
# parse_fte and parse_number
# --------------------------------------------------------------------------

FTE_CASES = [
    ("3", 3.0),
    ("2,5", 2.5),
    ("2.5", 2.5),
    ("0,5", 0.5),
    (",5", 0.5),
    ("2,500", 2.5),  # a comma is a decimal mark for FTE
    ("3-4", 3.5),
    (f"3{EN_DASH}4", 3.5),
    ("3 - 4", 3.5),
    ("3 to 4", 3.5),
    ("3 till 4", 3.5),
    ("3 à 4", 3.5),
    ("3 or 4", 3.5),
    ("3 eller 4", 3.5),
    ("2 FTE", 2.0),
    ("2FTE", 2.0),
    ("2 fte", 2.0),
    ("2 heltid", 2.0),
    ("2 heltider", 2.0),
    ("1,5 heltidstjänster", 1.5),
    ("ca 2 personer", 2.0),
    ("ca. 2 personer", 2.0),
    ("about 2 people", 2.0),
    ("cirka 2 pers.", 2.0),
    ("2-3 FTE", 2.5),
    ("2 FTE - 3 FTE", 2.5),
    ("ungefär 4 årsarbetare", 4.0),
    ("approx 1.5 FTE per year", 1.5),
    ("mellan 2 och 3 personer", 2.5),
]


@pytest.mark.parametrize(("text", "expected"), FTE_CASES)
def test_parse_fte(text: str, expected: float) -> None:
    series = one(text)
    result = parse_fte(series)
    assert_value(result, expected)
    assert not unparsed(series, result).iloc[0]


@pytest.mark.parametrize(
    "text", ["a few", "några stycken", "50 %", "2 MSEK", "2-3 or more", "3 and 4"]
)
def test_parse_fte_unparsed(text: str) -> None:
    series = one(text)
    result = parse_fte(series)
    assert_value(result, None)
    assert unparsed(series, result).iloc[0]


NUMBER_CASES = [
    ("2,5", 2.5),
    ("2.5", 2.5),
    ("1 500", 1500.0),
    (f"1{NBSP}500", 1500.0),
    (f"1{NNBSP}500", 1500.0),
    ("1'500", 1500.0),
    ("1,500", 1.5),  # a comma is a decimal mark outside budgets
    ("1,500,000", 1_500_000.0),
    ("1.500,25", 1500.25),
    ("1,500.25", 1500.25),
    ("1e3", 1000.0),
    ("ca 12", 12.0),
    ("ungefär 12", 12.0),
    ("3-4", 3.5),
    ("3 to 4", 3.5),
    ("12 per år", 12.0),
]


@pytest.mark.parametrize(("text", "expected"), NUMBER_CASES)
def test_parse_number(text: str, expected: float) -> None:
    assert_value(parse_number(one(text)), expected)


@pytest.mark.parametrize("text", ["2 MSEK", "2 FTE", "twelve", "12 or more", "-3", "1e400"])
def test_parse_number_takes_no_units_or_words(text: str) -> None:
    series = one(text)
    result = parse_number(series)
    assert_value(result, None)
    assert unparsed(series, result).iloc[0]


# --------------------------------------------------------------------------
# parse_year
# --------------------------------------------------------------------------

YEAR_CASES = [
    # a 4-digit year anywhere
    ("2027", 2027),
    ("2025 (planned)", 2025),
    ("2025 (planerat)", 2025),
    ("Q3 2026", 2026),
    ("HT 2026", 2026),
    ("VT 2027", 2027),
    ("ht2026", 2026),
    ("already treated (2023)", 2023),
    ("redan behandlad 2023", 2023),
    ("1990", 1990),
    ("2100", 2100),
    ("2026-05-01", 2026),
    ("2003-05-01", 2003),
    ("05/2026", 2026),
    # terms with a two-digit year
    ("HT26", 2026),
    ("VT 27", 2027),
    ("Q3-26", 2026),
    # year ranges: midpoint rounded half up
    ("2026/27", 2027),
    ("2026-2027", 2027),
    (f"2026{EN_DASH}27", 2027),
    ("2026 - 2027", 2027),
    ("2026 to 2027", 2027),
    ("2026 till 2027", 2027),
    ("mellan 2026 och 2027", 2027),
    ("between 2026 and 2028", 2027),
    ("2026-2029", 2028),
    ("2029/30", 2030),
    ("2026/2025", 2026),
    # relative to the wave
    ("in 3 years", 2026),
    ("In 3 years", 2026),
    ("in 3-4 years", 2027),
    (f"in 3{EN_DASH}4 years", 2027),
    ("within 5 years", 2028),
    ("in 3 years' time", 2026),
    ("about 2 years", 2025),
    ("om 3 år", 2026),
    ("om 3-4 år", 2027),
    ("om 3 - 4 år", 2027),
    ("inom 5 år", 2028),
    ("3-4 years", 2027),
    ("3 years", 2026),
    ("3 år", 2026),
    ("ca 2 år", 2025),
    ("om tre år", 2026),
    ("in two years", 2025),
    ("in a year", 2024),
    ("om ett år", 2024),
    ("om 1,5 år", 2025),
    ("next year", 2024),
    ("Next year.", 2024),
    ("nästa år", 2024),
    ("this year", 2023),
    ("i år", 2023),
    ("I år", 2023),
    # an xlsx reader may hand over numbers
    (2027, 2027),
    (2027.0, 2027),
    (np.int64(2026), 2026),
]


@pytest.mark.parametrize(("text", "expected"), YEAR_CASES)
def test_parse_year(text: object, expected: int) -> None:
    series = one(text)
    result = parse_year(series, WAVE)
    assert result.dtype == "Int64"
    assert first(result) == expected
    assert not unparsed(series, result).iloc[0]


YEAR_UNPARSED = [
    "when funding allows",
    "efter finansiering",
    "when we have GMP",
    "1850",
    "3023",
    "1989",
    "2101",
    "3",
    "27",
    "3 år efter finansiering",
    "in 200 years",
    "already treated",
    20270,
]


@pytest.mark.parametrize("text", YEAR_UNPARSED)
def test_parse_year_unparsed(text: object) -> None:
    series = one(text)
    result = parse_year(series, WAVE)
    assert first(result) is pd.NA
    assert unparsed(series, result).iloc[0]


def test_parse_year_wave_series_aligned_by_label() -> None:
    text = pd.Series(["om 3 år", "2030", "next year", "i år"], index=[10, 11, 12, 13])
    wave = pd.Series([2024, 2022, 2023, 2020], index=[13, 10, 12, 11])
    result = parse_year(text, wave)
    expected = pd.Series([2025, 2030, 2024, 2024], index=[10, 11, 12, 13], dtype="Int64")
    pd.testing.assert_series_equal(result, expected)


def test_parse_year_wave_series_same_index() -> None:
    text = pd.Series(["om 3-4 år", "in 3 years", "HT 2026", None])
    wave = pd.Series([2023, 2024, 2020, 2023])
    result = parse_year(text, wave)
    assert result.tolist() == [2027, 2027, 2026, pd.NA]


def test_parse_year_missing_wave_gives_na_only_for_relative_answers() -> None:
    text = pd.Series(["om 3 år", "2026"])
    wave = pd.Series([np.nan, np.nan])
    assert parse_year(text, wave).tolist() == [pd.NA, 2026]


@pytest.mark.parametrize("wave", [2023.0, "2023", True, None])
def test_parse_year_rejects_a_non_integer_scalar_wave(wave: object) -> None:
    with pytest.raises(TypeError):
        parse_year(one("2026"), wave)  # type: ignore[arg-type]


def test_parse_year_accepts_numpy_integer_wave() -> None:
    assert first(parse_year(one("om 2 år"), np.int64(2024))) == 2026


# --------------------------------------------------------------------------
# Missing tokens
# --------------------------------------------------------------------------

MISSING = [
    "don't know",
    "Don't know",
    "Don\u2019t know",
    "dont know",
    "DONT KNOW",
    "do not know",
    "unknown",
    "Unknown.",
    "(unknown)",
    "unclear",
    "not applicable",
    "tbd",
    "TBD",
    "n/a",
    "N/A",
    "na",
    "NA",
    "-",
    "--",
    EN_DASH,
    "?",
    "???",
    "vet ej",
    "Vet ej",
    "VET EJ",
    "Vet ej.",
    "vet  ej",
    f"vet{NBSP}ej",
    " vet inte ",
    "okänt",
    "Okänt",
    "OKÄNT",
    "osäkert",
    "oklart",
    "ej aktuellt",
    "Ej aktuellt",
    "inte bestämt",
    "",
    "   ",
    "\t",
    None,
    np.nan,
    pd.NA,
]


@pytest.mark.parametrize("text", MISSING)
def test_is_missing_token(text: object) -> None:
    series = one(text)
    assert is_missing_token(series).iloc[0]


@pytest.mark.parametrize("text", MISSING)
@pytest.mark.parametrize("parser", [parse_number, parse_ksek, parse_fte])
def test_missing_tokens_parse_to_na_and_are_not_unparsed(text: object, parser) -> None:
    series = one(text)
    result = parser(series)
    assert first(result) is pd.NA
    assert not unparsed(series, result).iloc[0]


@pytest.mark.parametrize("text", MISSING)
def test_missing_tokens_give_no_year_and_are_not_unparsed(text: object) -> None:
    series = one(text)
    result = parse_year(series, WAVE)
    assert first(result) is pd.NA
    assert not unparsed(series, result).iloc[0]


@pytest.mark.parametrize(
    "text", ["0", "2027", "none", "when funding allows", "vet ej riktigt när", "unknown 2027", 0]
)
def test_is_missing_token_false_for_answers(text: object) -> None:
    assert not is_missing_token(one(text)).iloc[0]


def test_missing_token_vocabulary_file() -> None:
    rows = vocab_rows("missing_tokens.csv")
    assert list(rows[0]) == ["term", "language", "meaning"]
    assert {row["language"] for row in rows} <= {"en", "sv"}
    terms = {row["term"] for row in rows}
    required = {
        "don't know",
        "dont know",
        "do not know",
        "unknown",
        "vet ej",
        "vet inte",
        "okänt",
        "osäkert",
        "oklart",
        "n/a",
        "na",
        "-",
        "?",
        "ej aktuellt",
        "not applicable",
        "unclear",
        "tbd",
        "inte bestämt",
    }
    assert required <= terms
    assert all(row["meaning"] for row in rows)
    # every term is recognised, however it is typed
    for variant in (str.lower, str.upper, lambda t: f"  {t}  "):
        typed = pd.Series([variant(t) for t in sorted(terms)])
        assert is_missing_token(typed).all()


def test_money_unit_vocabulary_file() -> None:
    rows = vocab_rows("money_units.csv")
    assert list(rows[0]) == ["term", "language", "factor_to_ksek"]
    assert {row["language"] for row in rows} <= {"en", "sv"}
    factors = {row["term"]: float(row["factor_to_ksek"]) for row in rows}
    expected = {
        "msek": 1000,
        "mkr": 1000,
        "miljoner": 1000,
        "million sek": 1000,
        "m": 1000,
        "ksek": 1,
        "tkr": 1,
        "tsek": 1,
        "k": 1,
        "sek": 0.001,
        "kr": 0.001,
    }
    for term, factor in expected.items():
        assert factors[term] == factor, term
    # every unit in the file works after a number
    typed = pd.Series([f"2 {term}" for term in factors])
    result = parse_ksek(typed)
    assert result.tolist() == [2 * factor for factor in factors.values()]


# --------------------------------------------------------------------------
# unparsed
# --------------------------------------------------------------------------


def test_unparsed_semantics() -> None:
    text = pd.Series(["2027", "vet ej", None, "", "when funding allows", "1850", "  "])
    parsed = parse_year(text, WAVE)
    assert unparsed(text, parsed).tolist() == [False, False, False, False, True, True, False]


def test_unparsed_with_a_given_parsed_series() -> None:
    text = pd.Series(["a", "b", "n/a", None], index=list("wxyz"), name="q")
    parsed = pd.Series([1.0, np.nan, np.nan, np.nan], index=list("wxyz"))
    result = unparsed(text, parsed)
    expected = pd.Series([False, True, False, False], index=list("wxyz"), name="q")
    pd.testing.assert_series_equal(result, expected)


def test_unparsed_requires_the_same_index() -> None:
    text = pd.Series(["a", "b"])
    with pytest.raises(ValueError, match="index"):
        unparsed(text, pd.Series([1.0, 2.0], index=[5, 6]))


# --------------------------------------------------------------------------
# Whole columns: dtypes, index, purity, mixed input
# --------------------------------------------------------------------------

PARSERS = {
    "number": parse_number,
    "ksek": parse_ksek,
    "fte": parse_fte,
    "year": lambda s: parse_year(s, WAVE),
    "missing": is_missing_token,
}
DTYPES = {"number": "Float64", "ksek": "Float64", "fte": "Float64", "year": "Int64"}


@pytest.mark.parametrize("kind", list(PARSERS))
@pytest.mark.parametrize("dtype", [object, "str", "string"])
def test_index_name_and_dtype_are_kept(kind: str, dtype: object) -> None:
    index = pd.Index(["r9", "r2", "r5", "r2b", "r0"], name="respondent")
    text = pd.Series(["2 FTE", "vet ej", None, "2026", "1,5 MSEK"], index=index, name="answer")
    text = text.astype(dtype)
    result = PARSERS[kind](text)
    assert result.index.equals(index)
    assert result.name == "answer"
    assert str(result.dtype) == DTYPES.get(kind, "bool")
    assert len(result) == len(text)


@pytest.mark.parametrize("kind", list(PARSERS))
@pytest.mark.parametrize("dtype", [object, "str", "string"])
def test_input_is_not_mutated(kind: str, dtype: object) -> None:
    text = pd.Series(
        ["  CA 2 MKR ", f"1{NBSP}500", "Vet ej", None, "om 3–4 år", "HT 2026"],
        index=[5, 3, 1, 4, 2, 0],
    ).astype(dtype)
    before = text.copy(deep=True)
    PARSERS[kind](text)
    pd.testing.assert_series_equal(text, before)


def test_wave_series_is_not_mutated() -> None:
    text = pd.Series(["om 3 år", "2026"], index=[1, 0])
    wave = pd.Series([2023, 2024], index=[0, 1])
    before = wave.copy(deep=True)
    parse_year(text, wave)
    pd.testing.assert_series_equal(wave, before)


def test_duplicate_index_labels_are_kept() -> None:
    text = pd.Series(["2 FTE", "3", "x"], index=[7, 7, 7])
    result = parse_fte(text)
    assert result.index.tolist() == [7, 7, 7]
    assert result.tolist() == [2.0, 3.0, pd.NA]


def test_mixed_type_input_from_excel() -> None:
    text = pd.Series([2027, 2.5, "2026/27", None, np.nan, 1500, "vet ej", 3])
    assert parse_year(text, WAVE).tolist() == [2027, pd.NA, 2027, pd.NA, pd.NA, pd.NA, pd.NA, pd.NA]
    assert parse_ksek(text).tolist() == [2027.0, 2.5, pd.NA, pd.NA, pd.NA, 1500.0, pd.NA, 3.0]
    assert parse_fte(text).tolist() == [2027.0, 2.5, pd.NA, pd.NA, pd.NA, 1500.0, pd.NA, 3.0]
    assert is_missing_token(text).tolist() == [False, False, False, True, True, False, True, False]
    assert unparsed(text, parse_year(text, WAVE)).tolist() == [
        False,
        True,
        False,
        False,
        False,
        True,
        False,
        True,
    ]


@pytest.mark.parametrize("dtype", ["float64", "Float64", "Int64", "int64"])
def test_numeric_dtype_input(dtype: str) -> None:
    values = [2027, 3, 2027] if dtype == "int64" else [2027, 3, None]
    text = pd.Series(values, dtype=dtype, index=[3, 2, 1])
    fte = parse_fte(text)
    assert fte.index.tolist() == [3, 2, 1]
    assert fte.iloc[:2].tolist() == [2027.0, 3.0]
    assert parse_year(text, WAVE).iloc[:2].tolist() == [2027, pd.NA]
    if dtype != "int64":
        assert fte.iloc[2] is pd.NA
        assert is_missing_token(text).tolist() == [False, False, True]


def test_repeated_answers_get_the_same_value() -> None:
    text = pd.Series(["1,5 MSEK", "800 tkr", "1,5 MSEK", None, "800 tkr"] * 3)
    assert parse_ksek(text).tolist() == [1500.0, 800.0, 1500.0, pd.NA, 800.0] * 3


@pytest.mark.parametrize("kind", list(PARSERS))
def test_empty_and_all_na(kind: str) -> None:
    for text in (pd.Series([], dtype=object), pd.Series([None, np.nan], dtype=object)):
        result = PARSERS[kind](text)
        assert len(result) == len(text)
        assert str(result.dtype) == DTYPES.get(kind, "bool")
        if kind == "missing":
            assert result.all()
        else:
            assert result.isna().all()


def test_non_series_input_is_rejected() -> None:
    with pytest.raises(TypeError):
        parse_ksek(["1,5 MSEK"])  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------

ANSWER = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.text(alphabet="0123456789 ,.-–/'~≈kKmMsSeEtTrRåÅrRhHvVqQ?", max_size=20),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([c[0] for c in KSEK_CASES + FTE_CASES] + [str(c[0]) for c in YEAR_CASES]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ANSWER, max_size=12), st.integers(min_value=1900, max_value=2200))
def test_parsers_never_raise_and_keep_shape(values: list[object], wave: int) -> None:
    text = pd.Series(values, dtype=object, index=pd.RangeIndex(100, 100 + len(values)))
    before = text.copy(deep=True)
    for kind, parser in {
        "number": parse_number,
        "ksek": parse_ksek,
        "fte": parse_fte,
        "year": lambda s: parse_year(s, wave),
    }.items():
        result = parser(text)
        assert str(result.dtype) == DTYPES[kind]
        assert len(result) == len(text)
        assert result.index.equals(text.index)
        flags = unparsed(text, result)
        assert flags.dtype == bool
        # a value and "unparsed" exclude each other
        assert not (flags & result.notna()).any()
    missing = is_missing_token(text)
    assert missing.dtype == bool
    assert (missing | text.astype("string").str.strip().ne("")).fillna(True).all()
    pd.testing.assert_series_equal(text, before)


@settings(max_examples=200, deadline=None)
@given(
    st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False),
    st.sampled_from([" ", NBSP, NNBSP, "'"]),
    st.sampled_from([",", "."]),
)
def test_grouped_numbers_round_trip(value, group: str, decimal: str) -> None:
    whole, frac = f"{value:.2f}".split(".")
    grouped = f"{int(whole):,}".replace(",", group)
    text = pd.Series([f"{grouped}{decimal}{frac}", f"ca {grouped}{decimal}{frac} tkr"])
    expected = float(value)
    assert parse_number(text.iloc[:1]).iloc[0] == pytest.approx(expected)
    assert parse_ksek(text).tolist() == pytest.approx([expected, expected])


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1990, max_value=2100), st.integers(min_value=1990, max_value=2100))
def test_year_anywhere_and_ranges(year: int, wave: int) -> None:
    later = min(year + 1, 2100)
    text = pd.Series(
        [f"{year}", f"planned {year} (prel.)", f"HT {year}", f"{year}-{later}", f"{year}/{later}"]
    )
    expected = [year, year, year, (year + later + 1) // 2, (year + later + 1) // 2]
    assert parse_year(text, wave).tolist() == expected


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=50), st.integers(min_value=0, max_value=5))
def test_relative_years(n: int, extra: int) -> None:
    m = n + extra
    text = pd.Series([f"om {n} år", f"in {n} years", f"om {n}-{m} år", f"within {n} to {m} years"])
    mid = WAVE + (n + m + 1) // 2
    assert parse_year(text, WAVE).tolist() == [WAVE + n, WAVE + n, mid, mid]
