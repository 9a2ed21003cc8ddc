"""Codebooks: a centre's own wording of the survey mapped onto the instrument.

Survey tools that export question texts as headers (Microsoft Forms, Google Forms, a typed
spreadsheet) carry whatever wording the centre used: a rephrased question, a Swedish
translation, a renamed column, other choice labels. A codebook is a small YAML file that
says which header is which instrument variable and which label is which choice code::

    codebook: 1                      # format version
    name: Swedish question texts
    language: sv
    tool_columns:                    # the tool's own columns (all optional)
      submitted: [Tidstämpel]        # submission time
      record_id: [Svars-ID]
      name: [Namn]                   # personal data: read, never written
      email: [E-post]
    multiselect_separator: ";"       # optional; default: found in the file
    variables:
      atmp_project:
        header: Arbetar du för närvarande ...   # one header, or a list of headers
        choices:
          1: Ja                       # one label, or a list of labels
          0: Nej

Only the variables a file uses need to be listed, and only the choices whose labels differ
from the instrument's. Headers and labels are matched after folding case, white space,
quotes and dashes. The package ships ``en.yaml`` (the instrument's own English, written
from the data dictionary) and ``sv.yaml`` (a Swedish translation); both are always applied,
so Swedish exports are read without a flag. ``atmp-report codebook SURVEY --out FILE``
drafts a codebook for an unknown file (see :mod:`atmp_analysis.codedraft`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from atmp_analysis.config import CODEBOOK_DIR
from atmp_analysis.errors import SurveyError

FORMAT_VERSION = 1
#: The tool columns a codebook may name, and the raw-layout column each becomes.
TOOL_COLUMNS = {
    "submitted": "submitted",
    "record_id": "record_id",
    "name": "tool_name",
    "email": "tool_email",
}
SHIPPED = ("en.yaml", "sv.yaml")

_QUOTES = str.maketrans({"’": "'", "‘": "'", "´": "'", "`": "'", "–": "-", "—": "-"})


def fold(text: str) -> str:
    """Fold a header or label for matching: case, white space, quotes and dashes.

    >>> fold("  Don’t   KNOW ")
    "don't know"
    """
    return re.sub(r"\s+", " ", str(text).translate(_QUOTES).casefold()).strip()


@dataclass(frozen=True)
class Codebook:
    """A mapping of one wording of the survey onto the instrument.

    Attributes
    ----------
    name, language, source
        What it is and the file it came from (for messages).
    headers
        Header as written → instrument variable.
    labels
        Variable → choice code → the labels that mean it.
    tool_columns
        ``submitted``/``record_id``/``name``/``email`` → headers as written.
    multiselect_separator
        How multi-select answers are joined, when the codebook says so.
    """

    name: str
    language: str = ""
    source: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    labels: dict[str, dict[int, tuple[str, ...]]] = field(default_factory=dict)
    tool_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    multiselect_separator: str | None = None

    # -- reading ----------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path, instrument=None, *, strict: bool = True) -> Codebook:
        """Read and check a codebook file.

        Parameters
        ----------
        path
            The YAML file.
        instrument
            Variables and codes are checked against it (default: the shipped instrument).
        strict
            Refuse variables and codes the instrument does not have; when ``False`` (the
            shipped codebooks over a centre's own data dictionary) they are skipped.

        Raises
        ------
        SurveyError
            Naming the file and the entry that is wrong.
        """
        from atmp_analysis.errors import read_yaml
        from atmp_analysis.instrument import Instrument

        path = Path(path)
        instrument = instrument or Instrument.default()
        data = read_yaml(path, "codebook")
        return cls.from_dict(data, instrument, source=str(path), strict=strict)

    @classmethod
    def from_dict(
        cls, data: Any, instrument, *, source: str = "codebook", strict: bool = True
    ) -> Codebook:
        """Check and build a codebook from its parsed YAML (see :meth:`load`)."""

        def fail(message: str) -> SurveyError:
            return SurveyError(f"{source}: {message}")

        if not isinstance(data, dict) or "variables" not in data:
            raise fail("not a codebook: expected a mapping with 'codebook: 1' and 'variables:'")
        version = data.get("codebook", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise fail(f"codebook format {version!r} is not known; this package reads 1")
        unknown_keys = set(data) - {
            "codebook",
            "name",
            "language",
            "tool_columns",
            "multiselect_separator",
            "variables",
            "unmapped",
        }
        if unknown_keys:
            raise fail(
                f"unknown entr{'y' if len(unknown_keys) == 1 else 'ies'} "
                f"{', '.join(sorted(map(str, unknown_keys)))}"
            )
        sep = data.get("multiselect_separator")
        if sep is not None and sep not in (",", ";", "|"):
            raise fail(f"multiselect_separator must be ',', ';' or '|', not {sep!r}")
        tools: dict[str, tuple[str, ...]] = {}
        tool_entries = data.get("tool_columns") or {}
        if not isinstance(tool_entries, dict):
            raise fail("tool_columns: expected a mapping such as 'submitted: [Timestamp]'")
        for key, value in tool_entries.items():
            if key not in TOOL_COLUMNS:
                raise fail(f"tool_columns: {key!r} is not one of {', '.join(TOOL_COLUMNS)}")
            tools[key] = _strings(value, f"{source}: tool_columns.{key}")
        headers: dict[str, str] = {}
        folded_headers: dict[str, str] = {}
        labels: dict[str, dict[int, tuple[str, ...]]] = {}
        variables = data.get("variables") or {}
        if not isinstance(variables, dict):
            raise fail("variables: expected a mapping of variable names")
        for name, entry in variables.items():
            where = f"variables.{name}"
            if name not in instrument or name == instrument.record_id:
                if strict:
                    raise fail(f"{where}: {name!r} is not a variable of the instrument")
                continue
            if entry is None:
                continue
            if isinstance(entry, str):  # the short form: just the header
                entry = {"header": entry}
            if not isinstance(entry, dict):
                raise fail(f"{where}: expected 'header:' and 'choices:'")
            if entry.get("sure") is False:
                raise fail(
                    f"{where} is marked 'sure: false' (a drafted guess): check its header "
                    "and choices against the file, then delete the mark"
                )
            extra = set(entry) - {"header", "choices", "sure", "note"}
            if extra:
                raise fail(
                    f"{where}: unknown entr{'y' if len(extra) == 1 else 'ies'} "
                    f"{', '.join(sorted(map(str, extra)))}"
                )
            for header in _strings(entry.get("header"), f"{source}: {where}.header"):
                previous = folded_headers.get(fold(header))
                if previous is not None and previous != name:
                    raise fail(f"{where}.header: {header!r} is also the header of {previous}")
                folded_headers[fold(header)] = name
                headers[header] = name
            field_ = instrument[name]
            choices = entry.get("choices") or {}
            if choices and not field_.is_choice:
                raise fail(f"{where}.choices: {name} is a free-text question, without choices")
            if not isinstance(choices, dict):
                raise fail(f"{where}.choices: expected code: label entries")
            by_code: dict[int, tuple[str, ...]] = {}
            for code, value in choices.items():
                try:
                    number = int(str(code).strip())
                except ValueError:
                    raise fail(f"{where}.choices: {code!r} is not a choice code") from None
                if number not in field_.choices:
                    if strict:
                        raise fail(
                            f"{where}.choices: {name} has no choice {number} (its codes: "
                            f"{', '.join(map(str, field_.choices))})"
                        )
                    continue
                if value is None:
                    raise fail(f"{where}.choices.{code}: no label given")
                by_code[number] = _strings(value, f"{source}: {where}.choices.{code}")
            # one label means one code: the codebook's own labels, and the instrument's
            owner = {fold(label): code for code, label in field_.choices.items()}
            for number, names in by_code.items():
                for label in names:
                    other = owner.setdefault(fold(label), number)
                    if other != number:
                        raise fail(
                            f"{where}.choices.{number}: the label {label!r} already means "
                            f"choice {other}"
                        )
            if by_code:
                labels[name] = by_code
        return cls(
            name=str(data.get("name") or Path(source).stem),
            language=str(data.get("language") or ""),
            source=source,
            headers=headers,
            labels=labels,
            tool_columns=tools,
            multiselect_separator=sep,
        )

    @classmethod
    def from_instrument(cls, instrument) -> Codebook:
        """The instrument's own wording as a codebook (what ``en.yaml`` holds)."""
        return cls(
            name="The instrument's English question texts and labels",
            language="en",
            source=getattr(instrument, "source", ""),
            headers={f.label: f.name for f in instrument.questions},
            labels={
                f.name: {code: (label,) for code, label in f.choices.items()}
                for f in instrument.questions
                if f.is_choice
            },
            tool_columns=dict(ENGLISH_TOOL_COLUMNS),
        )

    # -- writing ----------------------------------------------------------------------------
    def to_dict(self, instrument) -> dict[str, Any]:
        """The codebook as the YAML structure :meth:`load` reads."""
        out: dict[str, Any] = {"codebook": FORMAT_VERSION, "name": self.name}
        if self.language:
            out["language"] = self.language
        if self.tool_columns:
            out["tool_columns"] = {k: _one_or_list(v) for k, v in self.tool_columns.items()}
        if self.multiselect_separator:
            out["multiselect_separator"] = self.multiselect_separator
        variables: dict[str, Any] = {}
        for f in instrument.questions:
            headers = [h for h, name in self.headers.items() if name == f.name]
            choices = self.labels.get(f.name, {})
            if not headers and not choices:
                continue
            entry: dict[str, Any] = {}
            if headers:
                entry["header"] = _one_or_list(headers)
            if choices:
                entry["choices"] = {
                    code: _one_or_list(choices[code]) for code in f.choices if code in choices
                }
            variables[f.name] = entry
        out["variables"] = variables
        return out


#: The tool columns the English codebook knows besides those of the tools' own readers.
ENGLISH_TOOL_COLUMNS = {
    "submitted": ("Timestamp", "Submitted", "Submission date", "Completion time"),
    "record_id": ("Response ID", "ID"),
    "name": ("Name",),
    "email": ("Email", "Email Address", "E-mail"),
}


def _strings(value: Any, where: str) -> tuple[str, ...]:
    """A header or label entry: one string or a list of strings, none blank."""
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, bool) or item is None or isinstance(item, dict | list):
            raise SurveyError(f"{where}: expected text, got {item!r}")
        text = str(item).strip()
        if not text:
            raise SurveyError(f"{where}: a blank header or label")
        out.append(text)
    return tuple(out)


def _one_or_list(values: Iterable[str]) -> str | list[str]:
    values = list(values)
    return values[0] if len(values) == 1 else values


def dump(data: dict[str, Any]) -> str:
    """YAML text of a codebook structure: readable, key order kept, Unicode as is."""
    import yaml

    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)


@cache
def _shipped_paths() -> tuple[Path, ...]:
    return tuple(CODEBOOK_DIR / name for name in SHIPPED)


def load_codebooks(
    paths: Iterable[str | Path] = (), instrument=None, *, shipped: bool = True
) -> list[Codebook]:
    """The shipped codebooks (leniently, for a centre's own dictionary) and the given ones."""
    from atmp_analysis.instrument import Instrument

    instrument = instrument or Instrument.default()
    books = []
    if shipped:
        books += [Codebook.load(p, instrument, strict=False) for p in _shipped_paths()]
    books += [Codebook.load(p, instrument) for p in paths]
    return books
