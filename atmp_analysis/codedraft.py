"""Draft a codebook for a survey file whose wording the package does not know.

``atmp-report codebook SURVEY --out FILE`` reads the file's header and answers and guesses
which header is which question of the instrument, and which answer is which choice, by
fuzzy matching against every wording the package knows: the instrument's question texts
and choice labels, the headers and labels of every codebook (the shipped English and
Swedish ones and any given), and the variable names. The draft is YAML in the format of
:mod:`atmp_analysis.codebook`, with comments that give each match's score and the best
alternative.

A guess that is not clearly right is marked ``sure: false`` under its variable; the codebook
loader refuses such a variable, so the analyst has to look at each one and delete the mark.
Headers that match no question well enough are listed under ``unmapped`` (which the loader
ignores), and so are the survey tool's own columns that a codebook cannot name.

Personal data: only the answers of choice questions are ever copied into the draft, never
one that looks like an e-mail address, and none of a column whose answers do not look like
choices at all (a free-text column matched to the wrong question); names, e-mail addresses
and free text are not.

Scoring
-------
Header and label texts are folded (:func:`atmp_analysis.codebook.fold`), then reduced to
lower-case words (``rapidfuzz.utils.default_process``). The score of two texts is the larger
of their edit-distance similarity (``fuzz.ratio``, which forgives typos) and the mean of the
word-set and sorted-word similarities (``fuzz.token_set_ratio``, ``fuzz.token_sort_ratio``):
the word-set score alone is 100 whenever one text's words are a subset of the other's
("Disease" and "Is the product a vaccine against an infectious disease?"); averaging it with
the sorted-word score keeps reordered and shortened wordings high ("Development stage
(current)") while a short header inside a long question scores low.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process, utils

from atmp_analysis.choices import label_lookup, mask_from_joined
from atmp_analysis.codebook import FORMAT_VERSION, TOOL_COLUMNS, dump, fold
from atmp_analysis.instrument import Field, Instrument, resolve_instrument
from atmp_analysis.readers.base import read_table, sniff

#: A match scoring at least this, and clearly ahead of the next best, is sure.
SURE = 90
#: How far ahead of the next best (another variable, another choice) a sure match must be.
MARGIN = 5
#: A header scoring below this against every question is not mapped.
MIN_HEADER = 60
#: A choice answer scoring below this against every label is reported as unmatched.
MIN_VALUE = 60
#: Headers are shortened to this many characters in comments.
SHOWN = 60

#: Tool columns besides those the codebooks name (folded header → codebook key, ``None``
#: for the tool's columns that a codebook cannot name): Microsoft Forms, Google Forms and
#: REDCap's own columns.
TOOL_HEADERS: dict[str, str | None] = {
    "timestamp": "submitted",
    "submitted": "submitted",
    "submission date": "submitted",
    "completion time": "submitted",
    "id": "record_id",
    "response id": "record_id",
    "record_id": "record_id",
    "name": "name",
    "email": "email",
    "email address": "email",
    "e-mail": "email",
    "start time": None,
    "starttid": None,
    "last modified time": None,
    "senast ändrad": None,
    "score": None,
    "poäng": None,
    "redcap_survey_identifier": None,
    "record id": "record_id",  # REDCap's label export
    "survey timestamp": "submitted",
    "survey identifier": None,
    "complete?": None,
}

#: Qualtrics' metadata columns that a codebook can name (the others are the tool's own).
QUALTRICS_TOOL_HEADERS = {
    "recordeddate": "submitted",
    "responseid": "record_id",
    "recipientemail": "email",
}

_SELECTED = re.compile(r"\s+-\s+selected choice$", re.IGNORECASE)
_KEY_OF_COLUMN = {column: key for key, column in TOOL_COLUMNS.items()}
_REDCAP_CHECKBOX = re.compile(r"^([a-z][a-z0-9_]*)___\d+$")
#: REDCap's label export heads checkbox columns "Question text (choice=Label)".
_REDCAP_CHOICE = re.compile(r"^(.*\S)\s*\(choice=.*\)$", re.DOTALL)


# -- scoring --------------------------------------------------------------------------------
def similarity(queries: list[str], choices: list[str]) -> np.ndarray:
    """Score every query against every choice, 0–100 (see the module's notes).

    Parameters
    ----------
    queries, choices
        Texts, already folded.

    Returns
    -------
    numpy.ndarray
        ``len(queries) × len(choices)`` scores, rounded to whole numbers.
    """
    if not queries or not choices:
        return np.zeros((len(queries), len(choices)), dtype=np.int64)

    def matrix(scorer) -> np.ndarray:
        return process.cdist(
            queries, choices, scorer=scorer, processor=utils.default_process, dtype=np.float64
        )

    words = (matrix(fuzz.token_set_ratio) + matrix(fuzz.token_sort_ratio)) / 2
    return np.rint(np.maximum(matrix(fuzz.ratio), words)).astype(np.int64)


# -- what the draft found -------------------------------------------------------------------
@dataclass
class _Match:
    """One header matched to a variable, and what its answers say."""

    header: str
    column: str  # the column of the table (the header as read)
    score: int
    exact: bool
    next_name: str | None
    next_score: int
    choices: dict[int, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    sure_values: bool = True

    @property
    def sure_header(self) -> bool:
        return self.exact or (self.score >= SURE and self.score - self.next_score >= MARGIN)

    @property
    def sure(self) -> bool:
        return self.sure_header and self.sure_values


def draft_codebook(path: str | Path, instrument: Instrument | None = None) -> str:
    """Draft a codebook (YAML text) for a survey file, for an analyst to check.

    Parameters
    ----------
    path
        A CSV or xlsx survey export with question texts as headers.
    instrument
        The instrument and the codebooks whose wordings are known (default: the shipped
        instrument with the shipped codebooks).

    Returns
    -------
    str
        The draft: a comment block saying what was found and what to check, then the
        codebook (``codebook``, ``name``, ``tool_columns``, ``multiselect_separator``,
        ``variables`` in the instrument's order, ``unmapped``). Variables whose header or
        answers were matched unsurely carry ``sure: false``, which the codebook loader
        refuses until the analyst deletes it. The same file always gives the same text.

    Raises
    ------
    SurveyError
        When the file is missing, empty or unreadable (from the readers).
    """
    path = Path(path)
    instrument = instrument or resolve_instrument()
    sniffed = sniff(path, instrument)
    header_rows = _qualtrics_header_rows(sniffed, instrument)
    table = read_table(sniffed, header_rows=header_rows)
    # a Qualtrics export's headers are export tags; its question texts are matched too
    texts = table.attrs["header_rows"][0] if header_rows else {}
    columns = [c for c in table.columns if c != "source_row"]

    tools: dict[str, list[str]] = {}
    unmapped: list[tuple[str, str]] = []  # header, why
    candidates: list[tuple[str, str]] = []  # column, header as written
    tool_keys = _tool_headers(instrument, qualtrics=bool(header_rows))
    questions = instrument.header_map
    seen: set[str] = set()
    for column in columns:
        header = str(column).strip()
        folded = fold(header)
        if folded in tool_keys and folded not in questions:
            if tool_keys[folded]:
                tools.setdefault(tool_keys[folded], []).append(header)
            else:
                unmapped.append((header, "a column of the survey tool, not an answer"))
        elif _redcap_checkbox(header, instrument):
            unmapped.append((header, "a REDCap checkbox column, read without a codebook"))
        elif not folded or folded in seen:
            unmapped.append((header, "blank, or the same header as another column"))
        else:
            seen.add(folded)
            candidates.append((column, header))

    matches, rejected = _match_headers(candidates, texts, instrument)
    order = {str(column).strip(): k for k, column in enumerate(columns)}
    unmapped = sorted(unmapped + rejected, key=lambda item: order.get(item[0], len(order)))
    by_column = {m.column: name for name, m in matches.items()}
    sep = _separator(table, by_column, instrument)
    for name, match in matches.items():
        if instrument[name].is_choice:
            _match_values(table[match.column], instrument[name], match, sep)

    return _write(path.name, instrument, tools, sep, matches, unmapped, len(columns))


def _tool_headers(instrument: Instrument, *, qualtrics: bool) -> dict[str, str | None]:
    """Folded tool headers → codebook key (``None``: the tool's, not nameable); a Qualtrics
    export's metadata columns too when ``qualtrics``."""
    from atmp_analysis.readers.googleforms import TOOL_COLUMNS as GOOGLE
    from atmp_analysis.readers.msforms import TOOL_COLUMNS as MSFORMS
    from atmp_analysis.readers.qualtrics import METADATA

    known: dict[str, str | None] = {}
    for mapping in (GOOGLE, MSFORMS):
        known.update({h: _KEY_OF_COLUMN.get(column) for h, column in mapping.items()})
    known.update(TOOL_HEADERS)
    if qualtrics:
        known.update({fold(h): QUALTRICS_TOOL_HEADERS.get(fold(h)) for h in METADATA})
    known[fold(instrument.timestamp_column)] = "submitted"
    known[fold(instrument.complete_column)] = None
    # the codebooks' own tool columns last: a centre's codebook has the last word
    known.update({h: _KEY_OF_COLUMN.get(c) for h, c in instrument.tool_header_map.items()})
    return known


def _redcap_checkbox(header: str, instrument: Instrument) -> bool:
    """Whether a header is one of REDCap's columns of one checkbox choice
    (``variable___code`` in a raw export, ``Question (choice=Label)`` in a label export)."""
    found = _REDCAP_CHECKBOX.match(header)
    if found:
        name = found[1]
    else:
        found = _REDCAP_CHOICE.match(header)
        name = instrument.header_map.get(fold(found[1])) if found else None
    return name is not None and name in instrument and instrument[name].is_checkbox


def _qualtrics_header_rows(sniffed, instrument: Instrument) -> int:
    """How many header rows follow the first: a Qualtrics export's question texts and import
    ids (0 for any other file)."""
    from atmp_analysis.readers.qualtrics import QualtricsReader, _header_rows

    return _header_rows(sniffed) if QualtricsReader().recognises(sniffed, instrument) else 0


def _match_headers(
    candidates: list[tuple[str, str]], texts: dict[str, str], instrument: Instrument
) -> tuple[dict[str, _Match], list[tuple[str, str]]]:
    """Match headers to variables, each variable at most once, best scores first.

    Parameters
    ----------
    candidates
        The table's column and its header as written, for each header to match.
    texts
        Column → question text, for a Qualtrics export (its headers are export tags).
    instrument
        Whose question texts, codebook headers and variable names are the known wordings.

    Returns
    -------
    matches : dict
        Variable → its match, in the instrument's order.
    rejected : list
        Headers left unmapped, each with the reason.
    """
    variables = [f.name for f in instrument.questions]
    position = {name: j for j, name in enumerate(variables)}
    wordings: list[str] = []
    owners: list[int] = []
    for f in instrument.questions:
        wordings += [fold(f.label), fold(f.name)]
        owners += [position[f.name]] * 2
    for book in instrument.codebooks:
        for header, name in book.headers.items():
            if name in position:
                wordings.append(fold(header))
                owners.append(position[name])
    owner = np.asarray(owners, dtype=np.int64)
    header_map = instrument.header_map

    # a column is known by its header and, in a Qualtrics export, by its question text
    queries: list[tuple[int, str]] = []
    for i, (column, header) in enumerate(candidates):
        queries.append((i, header))
        # Qualtrics: "Which cell types are used? - Selected Choice" (the reader drops the end)
        text = _SELECTED.sub("", str(texts.get(column, "")).strip())
        if text and fold(text) != fold(header):
            queries.append((i, text))
    raw = similarity([fold(text) for _, text in queries], wordings)
    scores = np.zeros((len(candidates), len(variables)), dtype=np.int64)
    exact = np.zeros(scores.shape, dtype=bool)
    written = [[header] * len(variables) for _, header in candidates]  # header to write
    for q, (i, text) in enumerate(queries):
        best = np.zeros(len(variables), dtype=np.int64)
        np.maximum.at(best, owner, raw[q])  # the best of each variable's wordings
        folded = fold(text)
        name = header_map.get(folded) or (folded if folded in position else None)
        if name is not None and name in position:
            best[position[name]] = 100
        for j in np.flatnonzero(best > scores[i]):
            written[i][j] = text
        scores[i] = np.maximum(scores[i], best)
        if name is not None and name in position:
            exact[i, position[name]] = True

    # greedy: exact matches first, then by score; ties by column, then instrument order
    order = sorted(
        ((int(i), int(j)) for i, j in np.argwhere(scores >= MIN_HEADER)),
        key=lambda p: (not exact[p], -scores[p], p[0], p[1]),
    )
    taken_columns: set[int] = set()
    taken_variables: set[int] = set()
    matches: dict[str, _Match] = {}
    for i, j in order:
        if i in taken_columns or j in taken_variables:
            continue
        taken_columns.add(i)
        taken_variables.add(j)
        others = scores[i].copy()
        others[j] = -1
        k = int(np.argmax(others))
        matches[variables[j]] = _Match(
            header=written[i][j],
            column=candidates[i][0],
            score=int(scores[i, j]),
            exact=bool(exact[i, j]),
            next_name=variables[k] if others[k] >= 0 else None,
            next_score=max(int(others[k]), 0),
        )
    rejected = []
    for i, (_, header) in enumerate(candidates):
        if i in taken_columns:
            continue
        j = int(np.argmax(scores[i])) if variables else -1
        if j < 0:
            why = "the instrument has no questions"
        elif scores[i, j] >= MIN_HEADER:
            why = f"its best question, {variables[j]} (score {scores[i, j]}), fits another column"
        else:
            why = f"no question scores {MIN_HEADER} or more; best: {variables[j]} {scores[i, j]}"
        rejected.append((header, why))
    return {name: matches[name] for name in variables if name in matches}, rejected


def _separator(
    table: pd.DataFrame, by_column: dict[str, str], instrument: Instrument
) -> str | None:
    """``;`` when a matched multi-select column holds one, else ``,``; ``None`` without any."""
    columns = [c for c, name in by_column.items() if instrument[name].is_checkbox]
    if not columns:
        return None
    for column in columns:
        if table[column].astype("string").str.contains(";", regex=False).any():
            return ";"
    return ","


def _answers(values: pd.Series, field_: Field, sep: str | None) -> pd.DataFrame:
    """The distinct answers of a choice column that are not a known label or code.

    Multi-select cells are first stripped of every known label (longest first, whole, so
    labels holding the separator stay whole), and only the rest is split at ``sep``.

    Returns
    -------
    pandas.DataFrame
        ``value`` (as written, the first spelling of each folded form), ``folded`` and
        ``rows`` (how many rows hold it), sorted by ``folded``.
    """
    text = values.astype("string").str.strip()
    counts = text[text.notna() & text.ne("")].value_counts(sort=False)
    if counts.empty:
        return pd.DataFrame({"value": [], "folded": [], "rows": []})
    distinct = pd.Series(counts.index, dtype="string")
    rows = counts.to_numpy(dtype=np.int64)
    if field_.is_checkbox and sep:
        _, leftover = mask_from_joined(distinct, field_, sep)
        parts = pd.DataFrame({"cell": np.arange(len(distinct)), "value": leftover.str.split(sep)})
        parts = parts.explode("value").dropna(subset=["value"])
        parts["value"] = parts["value"].astype("string").str.strip()
        parts = parts[parts["value"].ne("")].drop_duplicates()
        found = pd.DataFrame(
            {"value": parts["value"].to_numpy(), "rows": rows[parts["cell"].to_numpy(dtype=int)]}
        )
    else:
        found = pd.DataFrame({"value": distinct.to_numpy(), "rows": rows})
    found["folded"] = found["value"].map(fold)
    found = found[~found["folded"].isin(set(label_lookup(field_)))]
    found = found.sort_values(["folded", "value"], kind="stable")
    return (
        found.groupby("folded", sort=True)
        .agg(value=("value", "first"), rows=("rows", "sum"))
        .reset_index()[["value", "folded", "rows"]]
    )


def _match_values(values: pd.Series, field_: Field, match: _Match, sep: str | None) -> None:
    """Match a choice column's unknown answers to the field's labels; note what is unsure.

    An answer scoring at least :data:`MIN_VALUE` against a label becomes a ``choices``
    entry of that label's code; the others are listed as unmatched. When the unknown answers
    do not look like answers to a choice question at all (more distinct ones than twice the
    choices, or mostly matching no label), the column is probably a free-text one matched
    to the wrong question, and none of its answers is copied (they may be names).
    """
    found = _answers(values, field_, sep)
    if found.empty:
        return
    match.sure_values = False  # set back below when every answer is a sure match
    labels = [(code, label) for code, label in field_.choices.items()]
    labels += [(code, alias) for code, aliases in field_.aliases.items() for alias in aliases]
    codes = np.asarray([code for code, _ in labels])
    scores = similarity(list(found["folded"]), [fold(label) for _, label in labels])
    best = scores.argmax(axis=1)
    best_score = scores.max(axis=1)
    email = found["value"].str.contains("@", regex=False).to_numpy(dtype=bool)
    unmatched = email | (best_score < MIN_VALUE)
    if len(found) > 2 * len(field_.choices) or (
        unmatched.sum() >= 3 and 2 * unmatched.sum() > len(found)
    ):
        match.notes.append(
            f"{len(found)} distinct answers are no label of {field_.name}, "
            f"{unmatched.sum()} of them like none: they do not look like answers to its "
            f"{len(field_.choices)} choices, so none is copied; is this the right column?"
        )
        return
    sure = True
    for row, (value, rows) in enumerate(zip(found["value"], found["rows"], strict=True)):
        count = f"{rows} row{'' if rows == 1 else 's'}"
        if email[row]:
            match.notes.append(f"an answer that looks like an e-mail address ({count}; not copied)")
            sure = False
            continue
        if unmatched[row]:
            match.notes.append(f"unmatched value {_quote(value)} ({count})")
            sure = False
            continue
        code, score = int(codes[best[row]]), int(best_score[row])
        others = np.where(codes != code, scores[row], -1)
        nxt = int(np.argmax(others))
        alternative = (
            f"; next: {codes[nxt]} {_quote(labels[nxt][1])} {others[nxt]}"
            if others[nxt] >= 0
            else ""
        )
        match.notes.append(
            f"value {_quote(value)} ({count}) taken as {code} {_quote(field_.choices[code])} "
            f"(score {score}{alternative})"
        )
        match.choices.setdefault(code, []).append(value)
        if score < SURE or score - max(int(others[nxt]), 0) < MARGIN:
            sure = False
    match.sure_values = sure


# -- writing --------------------------------------------------------------------------------
def _quote(text: str, limit: int = SHOWN) -> str:
    """Text for a comment: on one line, shortened, quoted."""
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[: limit - 3].rstrip() + "..."
    return repr(text)


def _indent(text: str, spaces: int) -> list[str]:
    return [" " * spaces + line if line else line for line in text.splitlines()]


def _write(
    file_name: str,
    instrument: Instrument,
    tools: dict[str, list[str]],
    sep: str | None,
    matches: dict[str, _Match],
    unmapped: list[tuple[str, str]],
    n_columns: int,
) -> str:
    unsure = sum(not m.sure for m in matches.values())
    n_tools = sum(len(v) for v in tools.values())
    paragraphs = [
        f"Draft codebook for {file_name}, written by 'atmp-report codebook' from the file's "
        f"headers and answers. Of its {n_columns} columns, {_count(len(matches), 'was', 'were')} "
        f"matched to questions of the instrument ({unsure} of them unsurely), "
        f"{_count(n_tools, 'is', 'are')} the survey tool's own (tool_columns) and "
        f"{_count(len(unmapped), 'is', 'are')} not mapped (listed under unmapped, at the end).",
        "Check every variable whose 'sure' is false against the file (its header, and its "
        "choices: code -> the file's label), correct it, then delete its 'sure' line: the "
        "codebook is refused while any remains. Check the other matches too: the comments give "
        "each match's score (out of 100) and the next best. Answers of free-text questions are "
        "never copied here.",
    ]
    lines = [
        f"# {line}"
        for paragraph in paragraphs
        for line in textwrap.wrap(" ".join(paragraph.split()), 88)
    ]
    lines += dump(
        {"codebook": FORMAT_VERSION, "name": f"Draft codebook for {file_name}"}
    ).splitlines()
    if tools:
        lines += dump(
            {"tool_columns": {k: _one_or_list(tools[k]) for k in TOOL_COLUMNS if k in tools}}
        ).splitlines()
    if sep:
        lines += dump({"multiselect_separator": sep}).splitlines()
    if matches:
        lines.append("variables:")
    else:
        lines.append("variables: {}")
    for name, match in matches.items():
        field_ = instrument[name]
        entry: dict = {"header": match.header}
        if not match.sure:
            entry["sure"] = False
        if match.choices:
            entry["choices"] = {
                code: _one_or_list(match.choices[code])
                for code in field_.choices
                if code in match.choices
            }
        alternative = (
            f"; next: {match.next_name} {match.next_score}" if match.next_name is not None else ""
        )
        how = "a known wording" if match.exact else f"score {match.score}"
        lines.append(f"  # matched {_quote(match.header)} to {name} ({how}{alternative})")
        block = _indent(dump({name: entry}), 2)
        lines.append(block[0])
        lines += [f"    # {note}" for note in match.notes]
        lines += block[1:]
    if unmapped:
        lines.append("unmapped:")
        previous = None
        for header, why in unmapped:
            if why != previous:
                lines.append(f"# {why}")
            previous = why
            lines += dump([header]).splitlines()
    else:
        lines.append("unmapped: []")
    return "\n".join(lines) + "\n"


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _one_or_list(values: list[str]) -> str | list[str]:
    return values[0] if len(values) == 1 else list(values)
