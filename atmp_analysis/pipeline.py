"""The data steps, one call each, for notebooks and the command line.

    raw = load_survey("export.csv")              # any supported export
    responses = clean(raw, wave=2023)            # canonical codes, numbers, statuses
    responses = identify(responses, key)         # pseudonyms, projects, duplicates
    projects = to_projects(responses)            # one row per project and wave, classified

:func:`read_surveys` does the first three for several files at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from atmp_analysis.classify import classify_projects
from atmp_analysis.cleaning import clean, problems_of
from atmp_analysis.derive import unrecognised_values
from atmp_analysis.errors import Problem, ProblemList, SurveyError, problems_frame
from atmp_analysis.instrument import Instrument, resolve_instrument
from atmp_analysis.projects import assign_projects, merge_projects
from atmp_analysis.readers import read_export
from atmp_analysis.validation import blank_invalid, validate_raw

__all__ = [
    "check_surveys",
    "clean",
    "data_quality",
    "identify",
    "load_survey",
    "read_surveys",
    "to_projects",
    "unrecognised_values",
]


def load_survey(
    path: str | Path,
    *,
    dictionary: str | Path | None = None,
    codebooks: Iterable[str | Path] = (),
) -> pd.DataFrame:
    """Read one survey export (REDCap, Microsoft Forms, Qualtrics, Google Forms, or a file
    a codebook maps) into the raw layout.

    Parameters
    ----------
    path
        The export file; its format is recognised from its content.
    dictionary
        A centre's own REDCap data dictionary; default: the instrument the package ships.
    codebooks
        The centre's codebooks (YAML), besides the shipped English and Swedish ones.

    Raises
    ------
    SurveyError
        With a message naming the file when it cannot be read as a survey export.
    """
    return read_export(path, resolve_instrument(dictionary, tuple(codebooks)))


def identify(responses: pd.DataFrame, key: bytes) -> pd.DataFrame:
    """Add pseudonymous ``respondent_id`` and ``project_id``; mark duplicate submissions."""
    return assign_projects(responses, key)


def to_projects(responses: pd.DataFrame, *, dictionary: str | Path | None = None) -> pd.DataFrame:
    """Merge identified responses into one row per project and wave, and classify them.

    The result has the columns of OUTPUTS.md (``atmp_class`` with its reason, platforms,
    areas, needs, themes …) and the extras of
    :func:`atmp_analysis.classify.classify_projects`.
    """
    instrument = Instrument.from_dictionary(dictionary) if dictionary else Instrument.default()
    return classify_projects(merge_projects(responses, instrument), instrument)


def read_surveys(
    paths: Iterable[str | Path],
    key: bytes,
    *,
    dictionary: str | Path | None = None,
    wave: int | None = None,
    allow_invalid: bool = False,
    default_wave: int | None = None,
    codebooks: Iterable[str | Path] = (),
    file_waves: Mapping[str | Path, int] | None = None,
) -> pd.DataFrame:
    """Read, clean and identify several exports; problems of all files in ``attrs``.

    ``file_waves`` sets the survey year of the files it names (several years at once:
    ``{"survey_2023.csv": 2023, "survey_2024.csv": 2024}``); ``wave`` sets that of every
    other file; without either, a file's year is the most common year of submission, or
    ``default_wave`` for a file without submission times.

    Every file is read before any error is raised, so the message lists the problems of
    all files at once.
    """
    instrument = resolve_instrument(dictionary, tuple(codebooks))
    paths = list(paths)
    years = wave_of_files(paths, file_waves or {})
    frames: list[pd.DataFrame] = []
    problems: list[Problem] = []
    failures: list[SurveyError] = []
    for path, year in zip(paths, years, strict=True):
        try:
            raw = read_export(path, instrument)
            cleaned = clean(
                raw,
                instrument=instrument,
                wave=year if year is not None else wave,
                allow_invalid=allow_invalid,
                default_wave=default_wave,
            )
        except SurveyError as exc:
            failures.append(exc)
            continue
        problems += problems_of(cleaned)
        problems += _unknown_columns(raw)
        frames.append(cleaned)
    if failures:
        if len(failures) == 1:
            raise failures[0]
        raise SurveyError(
            f"{len(failures)} files could not be read:\n" + "\n".join(str(f) for f in failures),
            [p for f in failures for p in f.problems],
        )
    if not frames:
        raise SurveyError("no survey files given")
    responses = pd.concat(frames, ignore_index=True)
    responses.attrs = {"problems": ProblemList(problems)}
    identified = identify(responses, key)
    identified.attrs = {"problems": ProblemList(problems)}
    return identified


def wave_of_files(
    paths: Sequence[str | Path], file_waves: Mapping[str | Path, int]
) -> list[int | None]:
    """The survey year ``file_waves`` gives each of ``paths`` (``None`` where it gives none).

    Files are compared by their resolved paths, so ``./a.csv`` and ``a.csv`` are one file.

    Raises
    ------
    SurveyError
        When ``file_waves`` names a file that is not among ``paths``.
    """
    given = {Path(f).resolve(): int(y) for f, y in file_waves.items()}
    resolved = [Path(p).resolve() for p in paths]
    unknown = [str(f) for f in file_waves if Path(f).resolve() not in set(resolved)]
    if unknown:
        raise SurveyError(
            f"--wave {unknown[0]}=YEAR: {unknown[0]} is not one of the survey files given"
        )
    return [given.get(p) for p in resolved]


def _unknown_columns(raw: pd.DataFrame) -> list[Problem]:
    """A warning per column of the file that the instrument does not have (row 1: headers)."""
    return [
        Problem(
            raw.attrs["path"], 1, column, None, "column not in the instrument; ignored", "warning"
        )
        for column in raw.attrs.get("unknown_columns", [])
    ]


def data_quality(responses: pd.DataFrame) -> pd.DataFrame:
    """Every problem found while reading and cleaning: file, row, column, value, problem."""
    return problems_frame(problems_of(responses))


def check_surveys(
    paths: Iterable[str | Path],
    *,
    dictionary: str | Path | None = None,
    codebooks: Iterable[str | Path] = (),
    wave: int | None = None,
    file_waves: Mapping[str | Path, int] | None = None,
) -> tuple[pd.DataFrame, int]:
    """Check exports without processing them: every problem of every file at once.

    Each file is read and validated; what breaks the instrument is an error, what the
    cleaning would only note (free text that is not a number, an unknown column, an "other"
    answer) a warning. A file that cannot be read at all is one error naming it.

    Returns
    -------
    problems : pandas.DataFrame
        ``file, row, column, value, problem, severity``, in file order.
    unreadable : int
        How many files could not be read at all.
    """
    import datetime as dt

    instrument = resolve_instrument(dictionary, tuple(codebooks))
    paths = list(paths)
    years = wave_of_files(paths, file_waves or {})
    problems: list[Problem] = []
    unreadable = 0
    for path, year in zip(paths, years, strict=True):
        try:
            raw = read_export(path, instrument)
        except SurveyError as exc:
            unreadable += 1
            problems += exc.problems or [_file_problem(exc, path)]
            continue
        problems += _unknown_columns(raw)
        invalid = validate_raw(raw, instrument)
        problems += invalid
        try:
            cleaned = clean(
                blank_invalid(raw, invalid),
                instrument=instrument,
                wave=year if year is not None else wave,
                default_wave=dt.date.today().year,
            )
        except SurveyError as exc:
            problems += exc.problems or [_file_problem(exc, path)]
            continue
        problems += problems_of(cleaned)
    return problems_frame(problems), unreadable


def _file_problem(exc: SurveyError, path: str | Path) -> Problem:
    """A file-level error as a problem: the message without the file name (and the row,
    when it names one) it starts with."""
    import re

    text = str(exc.args[0]) if exc.args else str(exc)
    match = re.match(rf"^{re.escape(str(path))}(?:, row (\d+))?: (.*)$", text, re.DOTALL)
    if not match:
        return Problem(str(path), None, None, None, text)
    row = int(match.group(1)) if match.group(1) else None
    return Problem(str(path), row, None, None, match.group(2))
