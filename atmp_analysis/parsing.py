"""Vectorised parsers for free-text survey answers (English and Swedish).

Respondents of the annual ATMP research-pipeline survey type numbers, budgets,
staffing (FTE) and years as free text, e.g. ``"ca 1,5 MSEK/år"``, ``"3-4"``,
``"HT 2026"``, ``"om 3-4 år"`` or ``"vet ej"``. The functions in this module
turn such columns into nullable numeric columns:

========================  ===========  ==========================================
function                  dtype        meaning
========================  ===========  ==========================================
:func:`parse_number`      ``Float64``  a plain number (or midpoint of a range)
:func:`parse_ksek`        ``Float64``  an amount of money in kSEK
:func:`parse_fte`         ``Float64``  full-time equivalents
:func:`parse_year`        ``Int64``    a calendar year, absolute or relative
:func:`is_missing_token`  ``bool``     blank, NA or a "no answer" token
:func:`unparsed`          ``bool``     an answer was given but did not parse
========================  ===========  ==========================================

Design
------
* **Pure and vectorised.** No function mutates its input, and no Python code
  runs per row: each parser factorises the column (``pandas.factorize``),
  parses the distinct answers once with pandas ``.str`` methods and regular
  expressions, and broadcasts the result back with numpy indexing. Survey
  columns repeat the same few answers many times, so the regular expressions
  run on a small fraction of the rows.
* **Strict grammar for amounts.** :func:`parse_number`, :func:`parse_ksek` and
  :func:`parse_fte` accept an answer only if *all* of it fits the grammar
  ``[approximation] number [unit] [range-separator [approximation] number
  [unit]] [per-year filler]``. Anything else (``"2 or more"``, ``"up to 2
  MSEK"``, ``"2 MSEK totalt"``) becomes NA, and :func:`unparsed` reports it,
  rather than being guessed at.
* **Lenient grammar for years.** :func:`parse_year` takes a 4-digit year in
  1990–2100 anywhere in the answer, as the survey question asks for a year.
* Text is normalised before matching: Unicode case folding, trimming, all
  whitespace (including non-breaking and narrow no-break spaces) folded to
  one space, Unicode dashes (en dash, em dash, minus sign, ...) to ``-`` and
  typographic apostrophes to ``'``. Abbreviation dots (``"ca."``, ``"tkr."``,
  ``"milj. kr"``) are allowed by the grammars.
* Regular expressions run on Python-storage strings (``re`` semantics
  whether or not pyarrow is installed); number tokens are converted with
  numpy ``np.strings`` ufuncs.
* Input may be of object, ``str``/``string`` or numeric dtype, e.g. an xlsx
  reader handing over ``2027`` as an int or ``2.5`` as a float; values are
  converted with ``astype("string")`` first, so ``2.5`` and ``"2.5"`` parse
  alike (a float year ``2027.0`` is read as 2027).
* Vocabularies live in ``atmp_analysis/data/vocab/`` (``missing_tokens.csv``,
  ``money_units.csv``) and are read once per process.
"""

from __future__ import annotations

import csv
import functools
import importlib.resources
import io
import re
from collections.abc import Callable

import numpy as np
import pandas as pd

__all__ = [
    "is_missing_token",
    "parse_fte",
    "parse_ksek",
    "parse_number",
    "parse_year",
    "unparsed",
]

# All regular expressions run on Python-storage strings, so that ``re``
# semantics (look-around, named groups) hold whether or not pyarrow is
# installed. Digits are spelt ``[0-9]``: ``\d`` would also accept other
# scripts' digits.
_STRING = pd.StringDtype("python")
_NP_STRING = np.dtypes.StringDType()

#: Years are accepted in 1990–2100 (``_Y4`` below spells the same range).
_YEAR_MAX = 2100
#: Largest accepted relative offset, in years ("om 3 år"): larger is NA.
_MAX_RELATIVE_YEARS = 100

# --------------------------------------------------------------------------
# Text normalisation
# --------------------------------------------------------------------------

_TRANSLATE = {
    **{ord(c): "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"},
    **{ord(c): "'" for c in "\u2018\u2019\u201b\u02bc\u00b4\u2032`"},
    **{ord(c): None for c in "\u200b\u200c\u200d\u2060\ufeff\u00ad"},
}
#: Characters dropped from both ends before looking an answer up in the
#: missing-token vocabulary ("Vet ej.", "(unknown)", "- n/a -", "???").
_KEY_STRIP = " .!?()[]{}\"'*-_/\u2026"


def _as_string(text: pd.Series) -> pd.Series:
    """Return ``text`` as a Python-storage nullable string Series (a copy)."""
    if not isinstance(text, pd.Series):
        raise TypeError(f"expected a pandas Series, got {type(text).__name__}")
    return text.astype("string").astype(_STRING)


def _normalise(s: pd.Series) -> pd.Series:
    """Case-fold and fold whitespace, dashes and apostrophes (no NA expected).

    Only the answers that need it (non-ASCII characters, tabs or line breaks,
    repeated spaces) go through the slower character translation and
    whitespace folding.
    """
    s = s.str.casefold()
    odd = ~s.str.isascii().to_numpy(dtype=bool)
    odd |= s.str.contains(r"\s\s|[^\S ]", regex=True).to_numpy(dtype=bool)
    if odd.any():
        fixed = s[odd].str.translate(_TRANSLATE).str.replace(r"\s+", " ", regex=True)
        s = s.copy()
        s[odd] = fixed
    return s.str.strip()


def _factorize(text: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Factorise ``text`` into codes (``-1`` for NA) and its distinct answers.

    Numeric columns are factorised before they are turned into text (cheaper);
    everything else is turned into text first, so that ``2027`` and
    ``"2027"`` are one answer.
    """
    if not isinstance(text, pd.Series):
        raise TypeError(f"expected a pandas Series, got {type(text).__name__}")
    if pd.api.types.is_numeric_dtype(text.dtype) and not pd.api.types.is_bool_dtype(text.dtype):
        codes, uniques = pd.factorize(text)
        return codes, _as_string(pd.Series(uniques))
    # the strings' object array: pandas factorises it faster than the string array
    codes, uniques = pd.factorize(np.asarray(_as_string(text).array, dtype=object))
    return codes, pd.Series(uniques, dtype=_STRING)


def _broadcast(codes: np.ndarray, values: np.ndarray, fill: object) -> np.ndarray:
    """Return ``values[codes]`` with ``fill`` where ``codes == -1``."""
    if len(values) == 0:
        return np.full(len(codes), fill, dtype=values.dtype)
    out = values[np.maximum(codes, 0)]
    out[codes < 0] = fill
    return out


def _per_unique(text: pd.Series, func: Callable[[pd.Series], np.ndarray]) -> pd.Series:
    """Run ``func`` on the distinct normalised answers; broadcast to ``Float64``.

    ``func`` gets one normalised string per distinct non-NA answer and returns
    a float array (NaN = no value). Missing tokens are forced to NA.
    """
    codes, uniques = _factorize(text)
    norm = _normalise(uniques)
    values = np.asarray(func(norm), dtype=float)
    values[~np.isfinite(values) | _missing_mask(norm)] = np.nan
    out = _broadcast(codes, values, np.nan)
    return pd.Series(pd.array(out, dtype="Float64"), index=text.index, name=text.name, copy=False)


# --------------------------------------------------------------------------
# Vocabularies
# --------------------------------------------------------------------------


def _read_vocab(name: str) -> list[dict[str, str]]:
    resource = importlib.resources.files("atmp_analysis") / "data" / "vocab" / name
    with io.StringIO(resource.read_text(encoding="utf-8")) as handle:
        return list(csv.DictReader(handle))


def _missing_key(norm: pd.Series) -> pd.Series:
    return norm.str.strip(_KEY_STRIP)


@functools.cache
def _missing_tokens() -> frozenset[str]:
    """Normalised lookup keys of ``missing_tokens.csv`` (read once)."""
    rows = _read_vocab("missing_tokens.csv")
    terms = pd.Series([row["term"] for row in rows], dtype=_STRING)
    return frozenset(_missing_key(_normalise(terms)).tolist()) | {""}


@functools.cache
def _money_units() -> dict[str, float]:
    """``{normalised term: factor to kSEK}`` from ``money_units.csv`` (read once)."""
    rows = _read_vocab("money_units.csv")
    terms = _normalise(pd.Series([row["term"] for row in rows], dtype=_STRING))
    units: dict[str, float] = {}
    seen: dict[str, float] = {}
    for term, row in zip(terms.tolist(), rows, strict=True):
        factor = float(row["factor_to_ksek"])
        if not term or not np.isfinite(factor) or factor <= 0:
            raise ValueError(f"bad row in money_units.csv: {row!r}")
        compact = term.replace(" ", "").replace(".", "")
        if seen.setdefault(compact, factor) != factor:
            raise ValueError(f"conflicting factors for {term!r} in money_units.csv")
        units[term] = factor
    return units


def _missing_mask(norm: pd.Series) -> np.ndarray:
    """Boolean array: the normalised answer is blank or a missing token."""
    return _missing_key(norm).isin(_missing_tokens()).to_numpy(dtype=bool)


def _alternation(terms: list[str] | dict[str, float]) -> str:
    """Regex alternation of ``terms``, longest first.

    A space in a term also matches no space or an abbreviation dot, so
    ``"milj kr"`` matches ``"milj. kr"`` and ``"miljkr"``.
    """
    ordered = sorted(terms, key=lambda t: (-len(t), t))
    return "|".join(re.escape(t).replace(r"\ ", r"\.?\s?") for t in ordered)


# --------------------------------------------------------------------------
# Amount grammar (numbers, money, FTE)
# --------------------------------------------------------------------------

_D = "[0-9]"
#: One number: thousands grouped by space/apostrophe ("1 500", "1'500,5"),
#: English or Swedish/German full grouping ("1,500.5", "1.500,5",
#: "1,500,000", "1.500.000"), or plain with one decimal mark and an optional
#: exponent ("1500", "2,5", "2.5", ".5", "1e6").
_NUM = (
    rf"{_D}{{1,3}}(?:[ ']{_D}{{3}})+(?:[.,]{_D}+)?"
    rf"|{_D}{{1,3}}(?:,{_D}{{3}})+\.{_D}+"
    rf"|{_D}{{1,3}}(?:\.{_D}{{3}})+,{_D}+"
    rf"|{_D}{{1,3}}(?:,{_D}{{3}}){{2,}}"
    rf"|{_D}{{1,3}}(?:\.{_D}{{3}}){{2,}}"
    rf"|{_D}+(?:[.,]{_D}+)?(?:e[-+]?{_D}+)?"
    rf"|[.,]{_D}+"
)
_NUM_RE = re.compile(_NUM)
#: Words that mark an approximation (or the start of a range) and are ignored.
_APPROX_WORDS = (
    "approximately|approx|appr|about|around|roughly|circa|cirka|ca|c:a|c"
    "|ungefär|ungef|omkring|runt|estimated|est|from|från|~|≈"
)
_APPROX = rf"(?:(?:{_APPROX_WORDS})\.?\s?)*"
#: Optional "between"/"mellan" opening a range; it makes "and"/"och" the
#: range separator (a conditional group in the regexes below).
_BETWEEN = r"(?:(?P<between>between|mellan)\s)?"
#: Range separators: "3-4", "3 - 4", "3 to 4", "3 till 4", "3 à 4", "3 or 4",
#: and after "between"/"mellan": "3 and 4", "3 och 4".
_RANGE_SEP = r"(?(between)\s(?:and|och)\s|\s?(?:-|to|till|à|or|eller)\s?)"
#: Trailing words that are ignored: "per year", "/år", "per år", "annually".
_PER_YEAR = (
    r"(?:(?:per|/|a|an|each|every|varje|om|i)\s?(?:year|yr|y|år|året|annum)"
    r"|p\.?\s?a\.?|annually|yearly|årligen|årsvis)"
)
_END = r"[\s.!?]*"

_FTE_UNITS = [
    "fte",
    "ftes",
    "fte's",
    "full-time equivalents",
    "full-time equivalent",
    "full time equivalents",
    "full time equivalent",
    "full-time",
    "full time",
    "heltid",
    "heltider",
    "heltidstjänst",
    "heltidstjänster",
    "heltidsekvivalent",
    "heltidsekvivalenter",
    "årsarbetare",
    "årsarbetskrafter",
    "åa",
    "tjänst",
    "tjänster",
    "personer",
    "person",
    "persons",
    "people",
    "pers",
    "st",
    "stycken",
    "anställda",
    "employees",
    "staff",
]


@functools.cache
def _amount_regex(units: str | None) -> re.Pattern[str]:
    """Full-match grammar of an amount, with an optional unit alternation."""
    unit = "" if units is None else rf"(?:\s?(?P<{{g}}>{units})\.?)?"
    return re.compile(
        rf"^{_BETWEEN}{_APPROX}(?P<a>{_NUM}){unit.format(g='ua')}"
        rf"(?:{_RANGE_SEP}{_APPROX}(?P<b>{_NUM}){unit.format(g='ub')})?"
        rf"(?:\s?{_PER_YEAR})?{_END}$"
    )


def _to_float(token: pd.Series, comma_thousands: np.ndarray) -> np.ndarray:
    """Convert number tokens matched by ``_NUM`` to floats (NaN for NA).

    Spaces and apostrophes are thousands separators. A separator character
    that occurs more than once is a thousands separator; when both ``,`` and
    ``.`` occur, the last one is the decimal mark. A single ``,`` is a decimal
    mark, except that where ``comma_thousands`` is set a token of the form
    ``d{1,3},ddd`` has a thousands comma.

    ``token`` has already been validated by ``_NUM``, so plain string
    operations suffice; they run as numpy ``np.strings`` ufuncs.
    """
    out = np.full(len(token), np.nan)
    present = token.notna().to_numpy(dtype=bool)
    if not present.any():
        return out
    strings = np.strings
    raw = np.array(token[present].to_numpy(dtype=object), dtype=_NP_STRING)
    t = strings.replace(strings.replace(raw, " ", ""), "'", "")
    first_comma, last_comma = strings.find(t, ","), strings.rfind(t, ",")
    first_dot, last_dot = strings.find(t, "."), strings.rfind(t, ".")
    length = strings.str_len(t)
    grouped = length != strings.str_len(raw)
    one_comma = (last_comma >= 0) & (first_comma == last_comma)
    thousands = (
        comma_thousands[present]
        & one_comma
        & (last_dot < 0)
        & ~grouped
        & (last_comma <= 3)
        & (length == last_comma + 4)
    )
    comma_decimal = one_comma & (last_comma > last_dot) & ~thousands
    dot_decimal = (last_dot >= 0) & (first_dot == last_dot) & (last_dot > last_comma)
    no_comma = strings.replace(t, ",", "")
    canonical = np.where(
        comma_decimal,
        strings.replace(strings.replace(t, ".", ""), ",", "."),
        np.where(dot_decimal, no_comma, strings.replace(no_comma, ".", "")),
    )
    try:
        out[present] = canonical.astype(float)
    except ValueError:  # pragma: no cover - tokens are validated by _NUM
        out[present] = pd.to_numeric(pd.Series(canonical.astype(object)), errors="coerce").to_numpy(
            dtype=float, na_value=np.nan
        )
    return out


def _compact_unit(unit: pd.Series) -> pd.Series:
    """A unit with its spaces and abbreviation dots removed ("milj. kr")."""
    return unit.str.replace(" ", "", regex=False).str.replace(".", "", regex=False)


def _amount(
    norm: pd.Series,
    units: dict[str, float] | None,
    *,
    budget_thousands: bool = False,
) -> np.ndarray:
    """Parse normalised answers with the amount grammar; NaN where it fails.

    ``units`` maps unit terms to multiplicative factors (``None``: no unit
    allowed). A range's unit applies to both ends unless each end has its
    own ("1,5-2 MSEK", "500 tkr - 1 MSEK"). With ``budget_thousands`` a token
    ``d{1,3},ddd`` is read as thousands unless its unit is a million-unit.
    """
    # Fast path: a bare number ("1500", "2,5", "1 500") needs no grammar.
    out = np.full(len(norm), np.nan)
    bare = norm.str.fullmatch(_NUM_RE).to_numpy(dtype=bool, na_value=False)
    if bare.any():
        out[bare] = _to_float(norm[bare], np.full(bare.sum(), budget_thousands))
    rest = np.flatnonzero(~bare)
    if len(rest):
        out[rest] = _amount_grammar(norm.iloc[rest], units, budget_thousands)
    return out


def _amount_grammar(
    norm: pd.Series, units: dict[str, float] | None, budget_thousands: bool
) -> np.ndarray:
    """The full amount grammar of :func:`_amount`, with ranges and units."""
    pattern = _amount_regex(None if units is None else _alternation(units))
    parts = norm.str.extract(pattern)
    n = len(norm)
    if units is None:
        fa = fb = np.ones(n)
    else:
        keys_series = _compact_unit(pd.Series(list(units), dtype=_STRING))
        compact = dict(zip(keys_series.tolist(), units.values(), strict=True))
        keys = pd.Index(list(compact), dtype=_STRING)
        factors = np.append(np.fromiter(compact.values(), dtype=float), np.nan)

        def factor(col: str) -> tuple[np.ndarray, np.ndarray]:
            unit = parts[col]
            given = unit.notna().to_numpy(dtype=bool)
            f = np.full(n, np.nan)
            if given.any():
                f[given] = factors[keys.get_indexer(_compact_unit(unit[given]))]
            return f, given

        (ua, has_a), (ub, has_b) = factor("ua"), factor("ub")
        # A unit given but not found (cannot happen with the regex) gives NaN.
        fa = np.where(has_a, ua, np.where(has_b, ub, 1.0))
        fb = np.where(has_b, ub, np.where(has_a, ua, 1.0))

    def value(col: str, f: np.ndarray) -> np.ndarray:
        thousands = np.full(n, budget_thousands) & (f < 1000)
        return _to_float(parts[col], thousands) * f

    a = value("a", fa)
    b = value("b", fb)
    return np.where(np.isnan(b), a, (a + b) / 2)


# --------------------------------------------------------------------------
# Public API: amounts
# --------------------------------------------------------------------------


def parse_number(text: pd.Series) -> pd.Series:
    """Parse free-text numbers (English/Swedish) into ``Float64``.

    Parameters
    ----------
    text : pandas.Series
        Answers of any dtype (object, ``str``, numeric).

    Returns
    -------
    pandas.Series
        ``Float64`` with ``text``'s index and name; NA for blank, NA,
        missing-token (see :func:`is_missing_token`) and unparsable answers.

    Notes
    -----
    The whole answer must fit ``[approximation] number [range-separator
    [approximation] number] [per-year words]``:

    * Decimal mark ``,`` or ``.``: ``"2,5"`` and ``"2.5"`` are 2.5. **A single
      comma is always a decimal mark here**, so ``"1,500"`` is 1.5 (only
      :func:`parse_ksek` reads it as 1500).
    * Thousands separators: space, non-breaking space, narrow no-break space
      or apostrophe (``"1 500"``, ``"1'500"`` are 1500); a separator that
      repeats (``"1,500,000"``, ``"1.500.000"``); with both ``,`` and ``.``
      the last one is the decimal mark (``"1,500.5"``, ``"1.500,5"``).
    * Approximation words are ignored: ``ca``, ``ca.``, ``c:a``, ``cirka``,
      ``circa``, ``approx``, ``approx.``, ``approximately``, ``about``,
      ``around``, ``roughly``, ``~``, ``≈``, ``ungefär``, ``omkring``,
      ``runt``.
    * Ranges give their midpoint: ``"3-4"``, ``"3–4"``, ``"3 - 4"``,
      ``"3 to 4"``, ``"3 till 4"``, ``"3 à 4"``, ``"3 or 4"``, ``"3 eller
      4"``, ``"between 3 and 4"``, ``"mellan 3 och 4"`` are 3.5.
    * Trailing ``"per year"``, ``"/år"``, ``"per år"``, ``"annually"``,
      ``"om året"`` ... and trailing ``.``/``!``/``?`` are ignored.
    * Negative numbers are not accepted (``"-"`` is a missing token and
      ``"3-4"`` a range); they are NA and reported by :func:`unparsed`.

    Examples
    --------
    >>> parse_number(pd.Series(["2,5", "ca 1 500", "3-4", "vet ej"])).tolist()
    [2.5, 1500.0, 3.5, <NA>]
    """
    return _per_unique(text, lambda norm: _amount(norm, None))


def parse_ksek(text: pd.Series) -> pd.Series:
    """Parse free-text budgets into kSEK (``Float64``).

    Parameters
    ----------
    text : pandas.Series
        Answers to "Approximate annual project budget (kSEK)", any dtype.

    Returns
    -------
    pandas.Series
        ``Float64`` amounts in kSEK with ``text``'s index and name; NA for
        blank, NA, missing-token and unparsable answers.

    Notes
    -----
    Same grammar as :func:`parse_number`, plus an optional money unit after
    each number, case-insensitive, with or without a space, from
    ``data/vocab/money_units.csv``: e.g. ``MSEK``, ``Mkr``, ``miljoner``,
    ``M`` (x1000); ``kSEK``, ``tkr``, ``tSEK``, ``k`` (x1); ``SEK``, ``kr``,
    ``:-`` (x0.001). **A bare number is already kSEK** (the unit of the
    question). In a range one unit applies to both ends unless each end has
    its own: ``"1,5-2 MSEK"`` is 1750 and ``"500 tkr - 1 MSEK"`` is 750.

    Thousands rule for budgets: a number of the form ``d{1,3},ddd`` (one
    comma followed by exactly three digits and nothing more) is read with the
    comma as a **thousands separator** (``"1,500"`` is 1500 kSEK, ``"1,500
    SEK"`` is 1.5 kSEK), *except* when its unit is a million-unit, where the
    comma is a decimal mark (``"1,500 MSEK"`` is 1500 kSEK, not 1.5 billion
    SEK). Every other single comma is a decimal mark (``"2,5"``, ``"1,50"``).
    A single dot is always a decimal mark (``"1.500"`` is 1.5).

    Examples
    --------
    >>> parse_ksek(pd.Series(["1,5 MSEK", "800 tkr", "1 500 000 SEK", "1500"])).tolist()
    [1500.0, 800.0, 1500.0, 1500.0]
    """
    units = _money_units()
    return _per_unique(text, lambda norm: _amount(norm, units, budget_thousands=True))


def parse_fte(text: pd.Series) -> pd.Series:
    """Parse free-text staffing answers into full-time equivalents (``Float64``).

    Parameters
    ----------
    text : pandas.Series
        Answers of any dtype.

    Returns
    -------
    pandas.Series
        ``Float64`` FTE with ``text``'s index and name; NA for blank, NA,
        missing-token and unparsable answers.

    Notes
    -----
    Same grammar as :func:`parse_number` (a comma is always a decimal mark:
    ``"2,500"`` is 2.5), plus an optional, ignored unit after each number:
    ``FTE``, ``heltid(er)``, ``heltidstjänst(er)``, ``årsarbetare``,
    ``tjänst(er)``, ``person(er)``, ``persons``, ``people``, ``st``,
    ``anställda``, ``employees``. Head counts are taken as FTE, as the survey
    does. Percentages (``"50 %"``) are not accepted.

    Examples
    --------
    >>> parse_fte(pd.Series(["3", "2,5", "3-4", "ca 2 personer", "2 heltid"])).tolist()
    [3.0, 2.5, 3.5, 2.0, 2.0]
    """
    units = dict.fromkeys(_FTE_UNITS, 1.0)
    return _per_unique(text, lambda norm: _amount(norm, units))


# --------------------------------------------------------------------------
# Years
# --------------------------------------------------------------------------

_Y4 = r"(?:199[0-9]|20[0-9]{2}|2100)"
#: The first year, year range or term in an answer: "2027", "Q3 2026",
#: "2026/27", "2026-2027", "2026–27", "mellan 2026 och 2027" (but
#: "2026-05-01" is a date, not a range), "HT26", "vt-27", "Q3 26".
_YEAR_ANY = re.compile(
    rf"(?:(?P<between>between|mellan)\s)?(?<![0-9])(?P<y1>{_Y4})"
    r"(?:(?(between)\s(?:and|och)\s|\s?(?:/|-|to|till|à|or|eller)\s?)"
    r"(?P<y2>[0-9]{4}|[0-9]{2})(?![0-9]|-[0-9]))?(?![0-9])"
    r"|(?<![^\W\d_])(?:ht|vt|q[1-4]|h[12])\s?[-/']?\s?(?P<yy>[0-9]{2})(?![0-9])"
)
_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "en": 1,
    "ett": 1,
    "två": 2,
    "tre": 3,
    "fyra": 4,
    "fem": 5,
    "sex": 6,
    "sju": 7,
    "åtta": 8,
    "nio": 9,
    "tio": 10,
}
_YEAR_PREFIX = (
    r"(?:(?:in|within|om|inom|after|efter|"
    rf"{_APPROX_WORDS}|probably|likely|hopefully|expected|planned|maybe|perhaps|"
    r"troligen|troligtvis|förmodligen|förhoppningsvis|kanske|planerat|"
    r"beräknat|preliminärt)\.?\s?)*"
)
_REL_N = rf"[0-9]+(?:[.,][0-9]+)?|{'|'.join(sorted(_NUMBER_WORDS, key=len)[::-1])}"
_YEAR_RELATIVE = re.compile(
    rf"^{_YEAR_PREFIX}{_BETWEEN}(?:"
    rf"(?P<n>{_REL_N})(?:{_RANGE_SEP}(?P<m>{_REL_N}))?\s?"
    r"(?:years?'?|yrs?|år|åren|års tid)"
    r"(?:\s(?:from now|time|framåt|fram|från nu|härifrån))?"
    r"|(?P<next>next year|the next year|the following year|following year|"
    r"nästa år|nästa året|kommande år|året som kommer)"
    r"|(?P<this>this year|the current year|current year|i år|detta år|"
    r"innevarande år|under året)"
    rf"){_END}$"
)


def _relative_number(token: pd.Series) -> np.ndarray:
    words = pd.Index(list(_NUMBER_WORDS), dtype=_STRING)
    from_word = np.append(np.fromiter(_NUMBER_WORDS.values(), dtype=float), np.nan)
    numeric = pd.to_numeric(token.str.replace(",", ".", regex=False), errors="coerce")
    out = numeric.to_numpy(dtype=float, na_value=np.nan)
    word = from_word[words.get_indexer(token)]
    return np.where(np.isnan(out), word, out)


def _year_parts(norm: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Absolute year (float, midpoint for ranges) and relative offset in years."""
    found = norm.str.extract(_YEAR_ANY)

    def number(col: str) -> np.ndarray:
        return pd.to_numeric(found[col]).to_numpy(dtype=float, na_value=np.nan)

    y1, y2, yy = number("y1"), number("y2"), number("yy")
    short = found["y2"].str.len().to_numpy(dtype=float, na_value=np.nan) == 2
    y2 = np.where(short, y1 // 100 * 100 + y2, y2)
    # An impossible range ("2026/2025", "2026-05") counts as its first year.
    ranged = (y2 >= y1) & (y2 <= _YEAR_MAX)
    absolute = np.where(ranged, (y1 + y2) / 2, y1)
    absolute = np.where(np.isnan(yy), absolute, 2000 + yy)

    offset = np.full(len(norm), np.nan)
    todo = np.flatnonzero(np.isnan(absolute))
    if len(todo) == 0:
        return absolute, offset
    rel = norm.iloc[todo].str.extract(_YEAR_RELATIVE)
    n = _relative_number(rel["n"])
    m = _relative_number(rel["m"])
    rel_offset = np.where(np.isnan(m), n, (n + m) / 2)
    rel_offset[rel["next"].notna().to_numpy(dtype=bool)] = 1.0
    rel_offset[rel["this"].notna().to_numpy(dtype=bool)] = 0.0
    rel_offset[~((rel_offset >= 0) & (rel_offset <= _MAX_RELATIVE_YEARS))] = np.nan
    offset[todo] = rel_offset
    return absolute, offset


def _wave_array(wave: int | pd.Series, index: pd.Index) -> np.ndarray:
    if isinstance(wave, pd.Series):
        if not wave.index.equals(index):
            wave = wave.reindex(index)
        values = pd.to_numeric(wave, errors="coerce")
        return values.to_numpy(dtype=float, na_value=np.nan)
    if isinstance(wave, (bool, np.bool_)) or not isinstance(wave, (int, np.integer)):
        raise TypeError(f"wave must be an int or a Series, got {type(wave).__name__}")
    return np.full(len(index), float(wave))


def parse_year(text: pd.Series, wave: int | pd.Series) -> pd.Series:
    """Parse free-text years, absolute or relative to the survey wave (``Int64``).

    Parameters
    ----------
    text : pandas.Series
        Answers of any dtype ("2027", "HT 2026", "om 3-4 år", 2027 as int).
    wave : int or pandas.Series
        The survey year, as one int or as a Series aligned with ``text`` by
        index label (a label missing from ``wave`` gives NA for relative
        answers on that row).

    Returns
    -------
    pandas.Series
        ``Int64`` years with ``text``'s index and name; NA for blank, NA,
        missing-token and unparsable answers.

    Notes
    -----
    Rules:

    1. **Absolute.** The first year, year range or term anywhere in the
       answer counts:

       * a 4-digit year in 1990–2100: ``"2027"``, ``"2025 (planned)"``,
         ``"Q3 2026"``, ``"HT 2026"``, ``"VT 2027"``, ``"already treated
         (2023)"``, ``"redan behandlad 2023"``;
       * a year range, ``"2026/27"``, ``"2026-2027"``, ``"2026–27"``, ``"2026
         to 2027"``, ``"2026 till 2027"``, ``"2026 or 2027"``, ``"mellan 2026
         och 2027"``: the midpoint, **rounded half up** (all of these give
         2027, the later of two adjacent years). A range whose second year
         is before the first (``"2026/2025"``, the year-month ``"2026-05"``)
         counts as its first year, and ``"2026-05-01"`` is a date (2026);
       * a term, half or quarter with a two-digit year: ``"HT26"``, ``"VT
         27"``, ``"Q3-26"``, ``"H2 26"`` are 20yy.

    2. **Relative to** ``wave``, only when there is no absolute year and the
       whole answer fits: ``"in 3 years"``, ``"within 5 years"``, ``"om 3
       år"``, ``"inom 5 år"``, ``"3 år"``, ``"3-4 years"``, ``"in 3-4
       years"``, ``"om tre år"``, ``"in a year"``, ``"ca 2 år"`` give ``wave
       + n`` (ranges: midpoint, rounded half up, so ``"om 3-4 år"`` in wave
       2023 is 2027); ``"next year"``, ``"nästa år"`` give ``wave + 1``;
       ``"this year"``, ``"i år"`` give ``wave``. Offsets above 100 years
       are NA.

    A 4-digit number outside 1990–2100 (``"1850"``, ``"3023"``), a bare
    number (``"3"``) and other text (``"when funding allows"``, ``"efter
    finansiering"``) are NA and reported by :func:`unparsed`.

    Examples
    --------
    >>> parse_year(pd.Series(["HT 2026", "2026/27", "om 3-4 år", "vet ej"]), 2023).tolist()
    [2026, 2027, 2027, <NA>]
    """
    waves = _wave_array(wave, text.index)
    codes, uniques = _factorize(text)
    norm = _normalise(uniques)
    absolute, offset = _year_parts(norm)
    missing = _missing_mask(norm)
    absolute[missing] = np.nan
    offset[missing] = np.nan
    row_absolute = _broadcast(codes, absolute, np.nan)
    row_offset = _broadcast(codes, offset, np.nan)
    year = np.where(np.isnan(row_absolute), waves + row_offset, row_absolute)
    year = np.floor(year + 0.5)
    year[~np.isfinite(year) | (np.abs(year) > 1e9)] = np.nan
    return pd.Series(
        pd.array(year, dtype="Float64").astype("Int64"),
        index=text.index,
        name=text.name,
        copy=False,
    )


# --------------------------------------------------------------------------
# Missing answers
# --------------------------------------------------------------------------


def is_missing_token(text: pd.Series) -> pd.Series:
    """Flag answers that mean "no answer".

    Parameters
    ----------
    text : pandas.Series
        Answers of any dtype.

    Returns
    -------
    pandas.Series
        ``bool`` with ``text``'s index and name: True for NA, blank or
        whitespace-only answers, answers made only of punctuation (``"-"``,
        ``"?"``, ``"..."``), and tokens of ``data/vocab/missing_tokens.csv``
        ("don't know", "unknown", "n/a", "vet ej", "okänt", "ej aktuellt",
        "tbd", "inte bestämt", ...).

    Notes
    -----
    Matching is case-insensitive after trimming and folding whitespace
    (including non-breaking spaces) and typographic apostrophes; leading and
    trailing punctuation is ignored, so ``"Vet ej."`` and ``"(unknown)"``
    are missing tokens too.
    """
    codes, uniques = _factorize(text)
    flags = _missing_mask(_normalise(uniques))
    return pd.Series(_broadcast(codes, flags, True), index=text.index, name=text.name, copy=False)


def unparsed(text: pd.Series, parsed: pd.Series) -> pd.Series:
    """Flag answers that were given but could not be parsed.

    Parameters
    ----------
    text : pandas.Series
        The raw answers.
    parsed : pandas.Series
        The result of a parser on ``text``, with the same index.

    Returns
    -------
    pandas.Series
        ``bool`` with ``text``'s index and name: True where ``text`` is not
        blank, NA or a missing token (see :func:`is_missing_token`) but
        ``parsed`` is NA, so that callers can report such answers instead of
        silently dropping them.

    Raises
    ------
    ValueError
        If ``parsed`` does not have ``text``'s index.
    """
    if not isinstance(parsed, pd.Series) or not parsed.index.equals(text.index):
        raise ValueError("parsed must be a Series with the same index as text")
    answered = ~is_missing_token(text).to_numpy(dtype=bool)
    flags = answered & parsed.isna().to_numpy(dtype=bool)
    return pd.Series(flags, index=text.index, name=text.name, copy=False)
