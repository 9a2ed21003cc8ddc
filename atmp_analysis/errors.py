"""Errors a user can act on, and the list of problems found in a survey file.

A :class:`SurveyError` is a user's mistake (a file that is not there, an export the package
does not recognise, answers that are not choices of the instrument). The command line prints
its message and exits non-zero without a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

PROBLEM_COLUMNS = ["file", "row", "column", "value", "problem", "severity"]


@dataclass(frozen=True)
class Problem:
    """One bad or doubtful cell: where it is, what it holds and what was expected."""

    file: str
    row: int | None
    column: str | None
    value: str | None
    problem: str
    severity: str = "error"

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column:
            where += f", column {self.column!r}"
        value = f": {self.value!r}" if self.value not in (None, "") else ""
        return f"{where}{value}: {self.problem}"


class SurveyError(Exception):
    """A problem with the user's input, reported without a traceback.

    Parameters
    ----------
    message
        One line naming the file and what is wrong.
    problems
        Every bad cell found, when there are several (lazy validation).
    """

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])

    def __str__(self) -> str:
        text = super().__str__()
        if not self.problems:
            return text
        shown = self.problems[:30]
        lines = [text, *(f"  - {p}" for p in shown)]
        if len(self.problems) > len(shown):
            lines.append(f"  ... and {len(self.problems) - len(shown)} more")
        return "\n".join(lines)


class ProblemList(tuple):
    """An immutable list of problems, kept in ``DataFrame.attrs``.

    pandas deep-copies ``attrs`` into nearly every frame an operation makes; an immutable
    value can be shared instead of copied, which keeps a long list from slowing every step.
    """

    def __deepcopy__(self, memo: dict) -> ProblemList:
        return self


class FrozenDict(dict):
    """A mapping kept in ``DataFrame.attrs`` and shared, not copied (see :class:`ProblemList`).

    Treat it as read-only.
    """

    def __deepcopy__(self, memo: dict) -> FrozenDict:
        return self


def problems_frame(problems: list[Problem]) -> pd.DataFrame:
    """Return problems as a table: ``file, row, column, value, problem, severity``."""
    if not problems:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in PROBLEM_COLUMNS})
    frame = pd.DataFrame([p.__dict__ for p in problems], columns=PROBLEM_COLUMNS)
    frame["row"] = frame["row"].astype("Int64")
    return frame


def read_yaml(path, what: str, error: type[SurveyError] = SurveyError):
    """The content of a user's YAML file (a codebook, forecast assumptions), or one clear
    ``error`` naming the file, the line where it can, and ``what`` it should have been.

    Raises
    ------
    SurveyError
        (or ``error``) when the file is missing, not UTF-8 text or not valid YAML.
    """
    from pathlib import Path

    import yaml

    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: {what} not found")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        raise error(f"{path}: a {what} must be UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise error(f"{path}{where}: not a readable {what} ({problem})") from None
