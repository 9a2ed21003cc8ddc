"""Recognising terms in free text: vectors, cell types, devices, diseases, needs, themes.

A vocabulary is a CSV table shipped in ``data/vocab/``: one row per term, with the language
it is written in (``en``, ``sv`` or ``any`` for acronyms and product names), the canonical
value it stands for, and whether case matters. A term is matched as a whole word or
phrase, written in the table as people write it:

- letters are matched without regard to case unless ``case_sensitive`` is ``yes``
  (acronyms such as ``LV``, ``NK`` or ``ESC``, which are ordinary words in lower case);
- a space or hyphen in a term matches any run of spaces and hyphens, or none:
  ``CAR-T`` matches "CAR T", "CAR-T" and "CART";
- a trailing ``*`` matches any ending: ``lentivir*`` matches "lentiviral" and
  "lentivirus", ``kondrocyt*`` matches "kondrocyter".

Matching runs once per distinct text (a regular expression per canonical value), so a
column of 100,000 answers with a few hundred distinct texts costs a few hundred matches.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from atmp_analysis.config import VOCAB_DIR

LANGUAGES = ("en", "sv", "any")
#: Words that negate a term up to three words after them (data/vocab/negation_words.csv).
NEGATION_WORDS = VOCAB_DIR / "negation_words.csv"
_BEFORE = r"((?:\w+\W+){0,3}?)"  # up to three words before a term
_FLEX = r"[\s\-‐‑–_/]*"  # spaces, hyphens (ASCII and typographic), underscores, slashes


@cache
def negation_pattern() -> str:
    """One case-insensitive pattern of the negation words, each a whole word."""
    words = pd.read_csv(NEGATION_WORDS, dtype=str, keep_default_na=False)["word"]
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return rf"(?i)(?<!\w)(?:{alternatives})(?!\w)"


def term_pattern(term: str, case_sensitive: bool = False) -> str:
    """The regular expression of one vocabulary term (see the module docstring).

    >>> bool(re.search(term_pattern("CAR-T"), "autologous CAR T cells"))
    True
    >>> bool(re.search(term_pattern("implant"), "implanted in the omentum"))
    False
    """
    stem = term.endswith("*")
    words = re.split(r"[\s\-‐‑–]+", term.rstrip("*").strip())
    body = _FLEX.join(re.escape(w) for w in words if w)
    if not case_sensitive:
        body = f"(?i:{body})"
    return r"(?<!\w)" + body + (r"\w*" if stem else r"(?!\w)")


@dataclass(frozen=True)
class Vocabulary:
    """Terms that stand for canonical values, matched in free text.

    Attributes
    ----------
    name
        The vocabulary's file name, for messages.
    table
        ``term, language, value, case_sensitive`` (and any note columns of the file).
    values
        The canonical values in output order.
    """

    name: str
    table: pd.DataFrame
    values: tuple[str, ...]

    @classmethod
    def from_csv(
        cls,
        path: Path,
        value: str | Sequence[str],
        *,
        allowed: Iterable[str] | None = None,
    ) -> Vocabulary:
        """Load a vocabulary table and check it.

        Parameters
        ----------
        path
            The CSV file: ``term, language, <value>, case_sensitive`` (more columns are
            kept as notes).
        value
            The column holding the canonical value, or several columns that together name
            it (joined with ``=``, e.g. ``fact=value``).
        allowed
            The canonical values the vocabulary may use, in output order; a value outside
            them is an error naming the file and row. Default: the values in file order.

        Raises
        ------
        ValueError
            Naming the file, row and column of an unknown language or value, or an empty
            term.
        """
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        return cls.from_table(table, path.name, value, allowed)

    @classmethod
    def from_table(
        cls,
        table: pd.DataFrame,
        name: str,
        value: str | Sequence[str],
        allowed: Iterable[str] | None = None,
    ) -> Vocabulary:
        """A vocabulary from a table already read (rows keep their file row numbers).

        See :meth:`from_csv`; ``name`` names the file in messages, and the table's index
        is its row position in the file (row number = index + 2, the header being row 1).
        """
        columns = [value] if isinstance(value, str) else list(value)
        missing = {"term", "language", "case_sensitive", *columns} - set(table.columns)
        if missing:
            raise ValueError(f"{name}: missing column(s) {', '.join(sorted(missing))}")
        canonical = table[columns].agg("=".join, axis=1) if len(columns) > 1 else table[value]
        table = table.assign(value=canonical, term=table["term"].fillna("").str.strip())
        rows = table.index.to_numpy() + 2  # the header is row 1
        empty = ~table["term"].str.contains(r"\w", regex=True)  # no letter or digit: matches all
        problems = [f"row {row}, column term: empty term" for row in rows[empty.to_numpy()]]
        bad_lang = ~table["language"].isin(LANGUAGES)
        for row, lang in zip(
            rows[bad_lang.to_numpy()], table.loc[bad_lang, "language"], strict=True
        ):
            problems.append(f"row {row}, column language: {lang!r} is not one of {LANGUAGES}")
        bad_case = ~table["case_sensitive"].isin(["yes", "no", ""])
        for row, flag in zip(
            rows[bad_case.to_numpy()], table.loc[bad_case, "case_sensitive"], strict=True
        ):
            problems.append(f"row {row}, column case_sensitive: {flag!r} is not yes or no")
        if allowed is not None:
            order = tuple(allowed)
            unknown = ~table["value"].isin(order)
            for row, val in zip(rows[unknown.to_numpy()], table.loc[unknown, "value"], strict=True):
                where = "column " + "/".join(columns)
                problems.append(f"row {row}, {where}: {val!r} is not a known value")
        else:
            order = tuple(dict.fromkeys(table["value"]))
        if problems:
            raise ValueError(f"vocabulary {name}:\n  " + "\n  ".join(problems))
        return cls(name, table, order)

    def _patterns(self) -> dict[str, re.Pattern[str]]:
        cached = self.__dict__.get("_compiled")
        if cached is None:
            cached = {}
            for value, terms in self.table.groupby("value", sort=False):
                # longest first, so the match quoted is the most specific one
                terms = terms.assign(n=terms["term"].str.len()).sort_values("n", ascending=False)
                alternatives = [
                    term_pattern(t, c == "yes")
                    for t, c in zip(terms["term"], terms["case_sensitive"], strict=True)
                ]
                cached[value] = re.compile("|".join(alternatives))
            object.__setattr__(self, "_compiled", cached)
        return cached

    def find(self, texts: pd.Series, *, negation: bool = False) -> pd.DataFrame:
        """The first text matched for each canonical value, row by row.

        Parameters
        ----------
        texts
            Free text (missing allowed).
        negation
            Ignore a term when one of the three words before it negates it ("not
            genetically modified", "utan ställning"): for evidence of a fact, not for
            needs ("no GMP capacity" is a need). The first mention that is not negated
            counts.

        Returns
        -------
        pandas.DataFrame
            One string column per canonical value (in :attr:`values` order), holding the
            words matched (as written in the text) or missing; same index as ``texts``.
        """
        codes, uniques = pd.factorize(texts.astype("string"))
        distinct = pd.Series(np.asarray(uniques, dtype=object), dtype="string")
        patterns = self._patterns()
        negation_re = negation_pattern() if negation else ""
        negated = distinct.str.contains(negation_re, regex=True).fillna(False) if negation else None
        found = {}
        for value in self.values:  # a few dozen values; the texts are matched vectorised
            if value not in patterns:  # an allowed value no term stands for
                found[value] = pd.array([None] * len(texts), dtype="string")
                continue
            hits = distinct.str.extract(f"({patterns[value].pattern})", expand=False)
            look = (hits.notna() & negated).to_numpy(dtype=bool) if negation else []
            if np.any(look):  # every mention with the words before it; the first not negated
                parts = distinct[look].str.extractall(f"{_BEFORE}({patterns[value].pattern})")
                kept = ~parts[0].str.contains(negation_re, regex=True).fillna(False).to_numpy(bool)
                first = parts.loc[kept, 1].groupby(level=0).first()
                hits[look] = first.reindex(distinct.index[look])
            hits = np.append(hits.to_numpy(dtype=object, na_value=None), None)
            found[value] = pd.array(hits[codes], dtype="string")  # code -1 (missing) → None
        return pd.DataFrame(found, index=texts.index, columns=list(self.values))

    def recognise(self, texts: pd.Series, sep: str = ";") -> pd.Series:
        """The ``sep``-joined canonical values found in each text (missing when none)."""
        return join_flags(self.find(texts).notna(), sep)


def join_flags(flags: pd.DataFrame, sep: str = ";") -> pd.Series:
    """``sep``-join the names of the columns that are true in each row; none → missing."""
    if flags.shape[1] == 0:
        return pd.Series(pd.NA, index=flags.index, dtype="string")
    names = np.array([name + sep for name in flags.columns], dtype=object)
    parts = np.where(flags.to_numpy(dtype=bool), names, "")
    joined = pd.Series(parts.sum(axis=1), index=flags.index, dtype=object)
    joined = joined.astype("string").str.removesuffix(sep)
    return joined.mask(joined == "")


def _missing(index: pd.Index) -> pd.Series:
    return pd.Series(pd.NA, index=index, dtype="string")


def join_present(parts: list[pd.Series], sep: str) -> pd.Series:
    """Join the present parts of each row with ``sep``; missing parts are skipped.

    >>> a = pd.Series(["x", None, None], dtype="string")
    >>> b = pd.Series(["y", "z", None], dtype="string")
    >>> join_present([a, b], ", ").tolist()
    ['x, y', 'z', <NA>]
    """
    out = parts[0] if parts else pd.Series(dtype="string")
    for part in parts[1:]:
        out = (out + sep + part).fillna(out).fillna(part)
    return out


def first_found(found: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """For each row, the first column (in column order) with a match, and the match.

    Returns
    -------
    (value, matched)
        Two string Series: the column name and the matched words; missing where no
        column matched.
    """
    if found.shape[1] == 0:
        return _missing(found.index), _missing(found.index)
    hit = found.notna().to_numpy()
    any_hit = hit.any(axis=1)
    first = hit.argmax(axis=1)
    names = np.array(found.columns, dtype=object)[first]
    matched = found.to_numpy(dtype=object)[np.arange(len(found)), first] if len(found) else []
    value = pd.Series(np.where(any_hit, names, None), index=found.index, dtype="string")
    words = pd.Series(np.where(any_hit, matched, None), index=found.index, dtype="string")
    return value, words
