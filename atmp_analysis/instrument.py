"""The survey instrument, read from the REDCap data dictionary the package ships.

The data dictionary is the one source of truth for variable names, question texts, choice
codes and labels, identifiers and branching. Everything else (readers, cleaning, the plain
question list for Microsoft Forms, Qualtrics or Google Forms) is derived from it.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from atmp_analysis.config import DATA_DICTIONARY
from atmp_analysis.errors import SurveyError

DD_COLUMNS = {
    "name": "Variable / Field Name",
    "form": "Form Name",
    "section": "Section Header",
    "type": "Field Type",
    "label": "Field Label",
    "choices": "Choices, Calculations, OR Slider Labels",
    "note": "Field Note",
    "validation": "Text Validation Type OR Show Slider Number",
    "vmin": "Text Validation Min",
    "vmax": "Text Validation Max",
    "identifier": "Identifier?",
    "branching": "Branching Logic (Show field only if...)",
    "required": "Required Field?",
}
CHOICE_TYPES = ("radio", "dropdown", "checkbox", "yesno", "truefalse")
#: The code of "Don't know" (and "Not decided") wherever the instrument offers it.
DONT_KNOW = 99


@dataclass(frozen=True)
class Field:
    """One question (REDCap field) of the instrument."""

    name: str
    form: str
    section: str
    type: str
    label: str
    choices: dict[int, str] = field(default_factory=dict)
    note: str = ""
    validation: str = ""
    vmin: str = ""
    vmax: str = ""
    identifier: bool = False
    branching: str = ""
    required: bool = False
    #: Other labels of the choices (from codebooks): code -> labels.
    aliases: dict[int, tuple[str, ...]] = field(default_factory=dict)

    @property
    def is_choice(self) -> bool:
        """Whether the answer is one or more of a fixed list of choices."""
        return self.type in CHOICE_TYPES

    @property
    def is_checkbox(self) -> bool:
        """Whether several choices may be ticked (REDCap ``variable___code`` columns)."""
        return self.type == "checkbox"

    def checkbox_columns(self) -> list[str]:
        """The REDCap export columns of a checkbox field, ``name___code`` per choice."""
        return [f"{self.name}___{code}" for code in self.choices]


def parse_choices(text: str) -> dict[int, str]:
    """Parse REDCap's ``"1, Yes | 0, No"`` into ``{1: "Yes", 0: "No"}``.

    Only the first comma after the code separates code from label, so labels may contain
    commas.
    """
    choices: dict[int, str] = {}
    if not text or not text.strip():
        return choices
    for part in text.split("|"):
        code, _, label = part.strip().partition(",")
        choices[int(code.strip())] = label.strip()
    return choices


class Instrument:
    """The questionnaire: fields in order, with their choices and branching.

    Parameters
    ----------
    fields
        The fields, in the order of the data dictionary (the record id first).
    source
        The data dictionary file it was read from, for messages.
    """

    def __init__(self, fields: list[Field], source: str = "") -> None:
        self.fields: tuple[Field, ...] = tuple(fields)
        self.source = source
        self._by_name = {f.name: f for f in self.fields}
        self.record_id = self.fields[0].name
        self.form = self.fields[0].form
        self.codebooks: tuple = ()

    def __deepcopy__(self, memo: dict) -> Instrument:
        # never changed once built: shared, not copied, when pandas copies a frame's attrs
        return self

    # -- reading -------------------------------------------------------------------------
    @classmethod
    def from_dictionary(cls, path: str | Path) -> Instrument:
        """Read a REDCap data dictionary CSV (the shipped one or a centre's own).

        Raises
        ------
        SurveyError
            When the file is missing or is not a REDCap data dictionary.
        """
        path = Path(path)
        if not path.is_file():
            raise SurveyError(f"{path}: data dictionary not found")
        try:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                rows = list(csv.DictReader(handle))
        except (UnicodeDecodeError, csv.Error) as exc:
            raise SurveyError(f"{path}: cannot read the data dictionary ({exc})") from None
        if not rows or DD_COLUMNS["name"] not in rows[0] or DD_COLUMNS["type"] not in rows[0]:
            raise SurveyError(
                f"{path}: not a REDCap data dictionary (expected the columns "
                f"{DD_COLUMNS['name']!r} and {DD_COLUMNS['type']!r})"
            )
        fields = []
        section = ""
        for number, row in enumerate(rows, start=2):
            get = {key: (row.get(col) or "").strip() for key, col in DD_COLUMNS.items()}
            if not get["name"]:  # blank rows, as spreadsheets leave at the end
                if any(get.values()):
                    raise SurveyError(
                        f"{path}, row {number}: a field without a variable name "
                        f"({DD_COLUMNS['name']!r} is empty)"
                    )
                continue
            section = get["section"] or section
            try:
                choices = parse_choices(get["choices"]) if get["type"] in CHOICE_TYPES else {}
            except ValueError:
                raise SurveyError(
                    f"{path}, row {number}, column {DD_COLUMNS['choices']!r}: "
                    f"choices must read 'code, label | code, label', got {get['choices']!r}"
                ) from None
            if get["type"] == "yesno":
                choices = {1: "Yes", 0: "No"}
            fields.append(
                Field(
                    name=get["name"],
                    form=get["form"],
                    section=section,
                    type=get["type"],
                    label=get["label"],
                    choices=choices,
                    note=get["note"],
                    validation=get["validation"],
                    vmin=get["vmin"],
                    vmax=get["vmax"],
                    identifier=get["identifier"].lower() == "y",
                    branching=get["branching"],
                    required=get["required"].lower() == "y",
                )
            )
        return cls(fields, source=str(path))

    @classmethod
    def default(cls) -> Instrument:
        """The instrument the package ships (cached)."""
        return _default_instrument()

    def with_codebooks(self, codebooks) -> Instrument:
        """This instrument, also reading the headers and labels of ``codebooks``.

        Each field gains its codebook labels as ``aliases``; :attr:`header_map` and
        :attr:`tool_header_map` then know the codebooks' headers. Later codebooks win
        where two map one header differently (a centre's own over the shipped ones).
        """
        from atmp_analysis.codebook import fold

        fields = []
        for f in self.fields:
            # folded label -> (code, label as written); a later codebook takes a label over
            owner = {fold(a): (c, a) for c, labels in f.aliases.items() for a in labels}
            for book in codebooks:
                for code, labels in book.labels.get(f.name, {}).items():
                    owner.update({fold(label): (code, label) for label in labels})
            aliases: dict[int, list[str]] = {}
            for code, label in owner.values():
                aliases.setdefault(code, []).append(label)
            fields.append(replace(f, aliases={c: tuple(v) for c, v in aliases.items()}))
        out = Instrument(fields, self.source)
        out.codebooks = (*self.codebooks, *codebooks)
        return out

    @property
    def header_map(self) -> dict[str, str]:
        """Folded question text (the instrument's or a codebook's) → variable name."""
        from atmp_analysis.codebook import fold

        mapping = {fold(f.label): f.name for f in self.questions}
        for book in self.codebooks:
            mapping.update({fold(h): name for h, name in book.headers.items()})
        return mapping

    @property
    def tool_header_map(self) -> dict[str, str]:
        """Folded header of a tool column named by a codebook → raw-layout column."""
        from atmp_analysis.codebook import TOOL_COLUMNS, fold

        mapping: dict[str, str] = {}
        for book in self.codebooks:
            for key, headers in book.tool_columns.items():
                mapping.update({fold(h): TOOL_COLUMNS[key] for h in headers})
        return mapping

    @property
    def multiselect_separator(self) -> str | None:
        """The separator of multi-select answers a codebook sets (the last one that does)."""
        seps = [b.multiselect_separator for b in self.codebooks if b.multiselect_separator]
        return seps[-1] if seps else None

    # -- lookups -------------------------------------------------------------------------
    def __getitem__(self, name: str) -> Field:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    @property
    def names(self) -> list[str]:
        """Variable names in questionnaire order (without the record id)."""
        return [f.name for f in self.fields[1:]]

    @property
    def questions(self) -> list[Field]:
        """All fields but the record id."""
        return list(self.fields[1:])

    def of_type(self, *types: str) -> list[Field]:
        """Fields whose REDCap type is one of ``types``."""
        return [f for f in self.questions if f.type in types]

    @property
    def radio_fields(self) -> list[Field]:
        """Single-choice fields."""
        return [f for f in self.questions if f.is_choice and not f.is_checkbox]

    @property
    def checkbox_fields(self) -> list[Field]:
        """Multiple-choice fields."""
        return [f for f in self.questions if f.is_checkbox]

    @property
    def text_fields(self) -> list[Field]:
        """Free-text fields (text and notes)."""
        return [f for f in self.questions if not f.is_choice]

    @property
    def identifiers(self) -> list[str]:
        """Fields flagged as identifiers (personal data)."""
        return [f.name for f in self.questions if f.identifier]

    @property
    def complete_column(self) -> str:
        """REDCap's ``<form>_complete`` column (not in the data dictionary)."""
        return f"{self.form}_complete"

    @property
    def timestamp_column(self) -> str:
        """REDCap's ``<form>_timestamp`` column of survey exports."""
        return f"{self.form}_timestamp"

    def export_columns(self) -> list[str]:
        """The columns of a REDCap raw records export, in order."""
        cols = [self.record_id]
        for f in self.questions:
            cols.extend(f.checkbox_columns() if f.is_checkbox else [f.name])
        return cols

    # -- branching -----------------------------------------------------------------------
    def shown(self, data: pd.DataFrame) -> pd.DataFrame:
        """Whether each question was shown to each respondent, by its branching logic.

        Parameters
        ----------
        data
            Cleaned responses: radio answers as integer codes, checkbox answers as bit masks
            (see :mod:`atmp_analysis.choices`).

        Returns
        -------
        pandas.DataFrame
            One boolean column per question, aligned with ``data``.
        """
        out = {}
        for f in self.questions:
            if f.branching:
                out[f.name] = evaluate_branching(f.branching, data)
            else:
                out[f.name] = pd.Series(True, index=data.index)
        return pd.DataFrame(out, index=data.index)

    # -- the plain question list -----------------------------------------------------------
    def question_list(self) -> str:
        """The questionnaire as a plain Markdown list, for typing into other survey tools."""
        lines = [
            "# ATMP pipeline survey: question list",
            "",
            "Generated from the REDCap data dictionary shipped with atmp-analysis "
            "(`atmp-report instrument`); do not edit by hand.",
            "Type the questions and choices exactly as written here into Microsoft Forms, "
            "Qualtrics or Google Forms so that the package can read the export.",
            "Variable names are in brackets; in Qualtrics use them as the export tags.",
            "",
        ]
        section = None
        number = 0
        for f in self.questions:
            if f.section != section:
                section = f.section
                lines += [f"## {section}", ""]
            number += 1
            kind = {
                "radio": "one answer",
                "checkbox": "tick all that apply",
                "notes": "free text, several lines",
                "text": "free text",
            }.get(f.type, f.type)
            extras = []
            if f.required:
                extras.append("required")
            if f.identifier:
                extras.append("personal data")
            if f.validation == "integer" and f.vmin:
                extras.append(f"a whole number {f.vmin}–{f.vmax}")
            elif f.validation:
                extras.append(f.validation)
            extra = f"; {', '.join(extras)}" if extras else ""
            lines.append(f"{number}. **{f.label}** [`{f.name}`] ({kind}{extra})")
            if f.branching:
                lines.append(f"   - Show only if: {describe_branching(f.branching, self)}")
            if f.note:
                lines.append(f"   - Note: {f.note}")
            for code, label in f.choices.items():
                lines.append(f"   - {label} (code {code})")
            lines.append("")
        return "\n".join(lines).rstrip() + "\n"


@cache
def _default_instrument() -> Instrument:
    return Instrument.from_dictionary(DATA_DICTIONARY)


@cache
def _reading_instrument() -> Instrument:
    from atmp_analysis.codebook import load_codebooks

    return _default_instrument().with_codebooks(load_codebooks())


def resolve_instrument(
    dictionary: str | Path | None = None, codebooks: tuple[str | Path, ...] | list = ()
) -> Instrument:
    """The instrument to read exports with: the shipped one or a centre's data dictionary,
    with the shipped codebooks (English and Swedish) and the centre's own ``codebooks``.
    """
    from atmp_analysis.codebook import load_codebooks

    if dictionary is None and not codebooks:
        return _reading_instrument()
    base = Instrument.from_dictionary(dictionary) if dictionary else _default_instrument()
    return base.with_codebooks(load_codebooks(codebooks, base))


# -- branching logic: a small parser for REDCap's "show if" expressions ---------------------
_TOKEN = re.compile(
    r"\s*(?:(?P<var>\[(?P<name>[a-z0-9_]+)(?:\((?P<code>-?\d+)\))?\])"
    r"|(?P<op><>|!=|>=|<=|=|>|<)|'(?P<str>[^']*)'|\"(?P<dstr>[^\"]*)\"|(?P<num>-?\d+)"
    r"|(?P<kw>and|or)\b|(?P<paren>[()]))",
    re.IGNORECASE,
)


def _tokens(expr: str) -> list[tuple[str, object]]:
    tokens: list[tuple[str, object]] = []
    pos = 0
    expr = expr.strip()
    while pos < len(expr):
        match = _TOKEN.match(expr, pos)
        if not match or match.end() == pos:
            raise SurveyError(f"branching logic {expr!r}: cannot read it at {expr[pos:]!r}")
        pos = match.end()
        if match["var"]:
            code = int(match["code"]) if match["code"] is not None else None
            tokens.append(("var", (match["name"], code)))
        elif match["op"]:
            tokens.append(("op", match["op"]))
        elif match["str"] is not None or match["dstr"] is not None:
            tokens.append(("value", match["str"] if match["str"] is not None else match["dstr"]))
        elif match["num"] is not None:
            tokens.append(("value", match["num"]))
        elif match["kw"]:
            tokens.append(("kw", match["kw"].lower()))
        elif match["paren"]:
            tokens.append(("paren", match["paren"]))
    return tokens


class _BranchingParser:
    """Recursive descent over ``or`` / ``and`` / comparisons / parentheses."""

    def __init__(self, expr: str) -> None:
        self.expr = expr
        self.tokens = _tokens(expr)
        self.pos = 0

    def parse(self):
        result = self._or()
        if self.pos != len(self.tokens):
            raise SurveyError(f"branching logic {self.expr!r}: unexpected {self.tokens[self.pos]}")
        return result

    def _peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None)

    def _or(self):
        left = self._and()
        while self._peek() == ("kw", "or"):
            self.pos += 1
            left = ("or", left, self._and())
        return left

    def _and(self):
        left = self._atom()
        while self._peek() == ("kw", "and"):
            self.pos += 1
            left = ("and", left, self._atom())
        return left

    def _atom(self):
        kind, value = self._peek()
        if kind == "paren" and value == "(":
            self.pos += 1
            inner = self._or()
            if self._peek() != ("paren", ")"):
                raise SurveyError(f"branching logic {self.expr!r}: missing ')'")
            self.pos += 1
            return inner
        if kind == "var":
            try:
                (_, var), (k2, op), (k3, val) = self.tokens[self.pos : self.pos + 3]
            except ValueError:
                raise SurveyError(f"branching logic {self.expr!r}: incomplete comparison") from None
            if k2 != "op" or k3 != "value":
                raise SurveyError(f"branching logic {self.expr!r}: expected [field] op 'value'")
            self.pos += 3
            return ("cmp", var, op, val)
        raise SurveyError(f"branching logic {self.expr!r}: unexpected {value!r}")


def _evaluate(node, data: pd.DataFrame) -> pd.Series:
    if node[0] == "and":
        return _evaluate(node[1], data) & _evaluate(node[2], data)
    if node[0] == "or":
        return _evaluate(node[1], data) | _evaluate(node[2], data)
    _, (name, code), op, value = node
    if name not in data.columns:
        return pd.Series(False, index=data.index)
    column = data[name]
    if code is not None:  # checkbox choice: [var(code)] = '1'
        mask = column.astype("Int64").fillna(0).to_numpy(dtype=np.int64)
        ticked = pd.Series((mask >> code) & 1, index=data.index)
        left, right = ticked, int(value or 0)
    else:
        left = pd.to_numeric(column, errors="coerce")
        right = float(value) if value not in ("", None) else np.nan
    ops = {
        "=": lambda a, b: a == b,
        "<>": lambda a, b: a != b,
        "!=": lambda a, b: a != b,
        ">": lambda a, b: a > b,
        "<": lambda a, b: a < b,
        ">=": lambda a, b: a >= b,
        "<=": lambda a, b: a <= b,
    }
    if value == "" and code is None:  # [x] = '' tests for a blank answer
        blank = left.isna()
        return blank if op == "=" else ~blank
    result = pd.Series(ops[op](left, right), index=data.index)
    # as in REDCap, a blank answer equals no value, so it differs from every value
    return result.fillna(op in ("<>", "!=")).astype(bool)


def evaluate_branching(expr: str, data: pd.DataFrame) -> pd.Series:
    """Evaluate a REDCap branching expression over cleaned responses, vectorised.

    Supports ``[field] = 'v'``, ``<>``, ``<``, ``>``, ``<=``, ``>=``, checkbox choices
    ``[field(code)] = '1'``, ``and``, ``or`` and parentheses. A blank answer never equals a
    value, as in REDCap.
    """
    tree = _BranchingParser(expr).parse()
    return _evaluate(tree, data)


def describe_branching(expr: str, instrument: Instrument) -> str:
    """Say a branching expression in words, with the choice labels, for the question list."""

    def words(node) -> str:
        if node[0] in ("and", "or"):
            parts = [
                f"({words(child)})"
                if child[0] in ("and", "or") and child[0] != node[0]
                else words(child)
                for child in node[1:]
            ]
            return f" {node[0]} ".join(parts)
        _, (name, code), op, value = node
        f = instrument[name] if name in instrument else None
        question = f"`{name}`"
        if code is not None and f is not None:
            ticked = "is ticked" if str(value) == "1" else "is not ticked"
            return f"“{f.choices.get(code, code)}” {ticked} in {question}"
        label = (
            f.choices.get(int(value), value) if f and str(value).lstrip("-").isdigit() else value
        )
        verb = {"=": "is", "<>": "is not", "!=": "is not"}.get(op, op)
        return f"{question} {verb} “{label}”"

    return words(_BranchingParser(expr).parse())
