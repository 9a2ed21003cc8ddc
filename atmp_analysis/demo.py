"""A seeded generator of the synthetic demo survey: messy exports of a fictional centre.

The centre, its people and projects are specified in ``data/demo/demo_centre.toml`` (all
invented; e-mail domains end in ``.example``). Each project has its true answers per wave;
each response applies that respondent's own spellings and deviations (``overrides``); test,
screened-out and duplicate submissions are listed too. The generator only adds what a survey
tool adds: record ids in order of submission, submission times drawn from a seeded random
generator, and the tool's own layout:

- REDCap records export, raw codes (``demo_<wave>_redcap_raw.csv``);
- REDCap records export with labels, ``;``-delimited as REDCap writes it in regions
  whose decimal mark is a comma (``demo_<wave>_redcap_labels.csv``);
- Microsoft Forms workbook (``demo_<wave>_msforms.xlsx``) and the same saved as CSV
  (``demo_<wave>_msforms.csv``);
- Qualtrics CSV with choice texts and with numeric values
  (``demo_<wave>_qualtrics_text.csv``, ``demo_<wave>_qualtrics_numeric.csv``);
- Google Forms CSV (``demo_<wave>_googleforms.csv``);
- a typed workbook in Swedish, read through the shipped Swedish codebook: an instructions
  sheet before the responses, submission times as Excel date serials, a blank row
  (``demo_<wave>_swedish.xlsx``).

Every export of a wave holds the same answers, so they must all give identical projects.

:func:`further_waves` goes on where the specification ends: it moves the projects of the
last wave through the next years with known per-state probabilities (one draw of the
forecast's posterior given the demo's own transitions, :mod:`atmp_analysis.forecast`) and
writes each later wave as a REDCap export (``demo_<wave>_redcap_raw.csv``), with the
realised events beside them (``demo_truth_events.csv``, ``demo_truth_rates.csv``). A
stopped project is simply no longer answered for, as in a real survey. The forecast's
calibration is tested end to end against these waves.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from atmp_analysis.config import DEMO_SPEC
from atmp_analysis.instrument import Instrument

DEFAULT_SEED = 20230301
#: Survey window per wave: responses arrive between these days of the wave year.
WINDOW = ((2, 6), (4, 28))


@dataclass
class DemoResponse:
    """One submitted form: answers by variable (codes, lists of codes, or text)."""

    wave: int
    answers: dict[str, Any]
    tool_name: str | None = None
    tool_email: str | None = None
    complete: int = 2
    submitted: dt.datetime | None = None
    order_hint: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)


def load_spec(path: Path = DEMO_SPEC) -> dict[str, Any]:
    """Read the demo centre's specification."""
    with Path(path).open("rb") as handle:
        return tomllib.load(handle)


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == []


def responses_for_wave(spec: dict[str, Any], wave: int) -> list[DemoResponse]:
    """Every submission of one wave, before the survey tool's layout is applied."""
    people = {p["name"]: p for p in spec["person"]}
    instrument = Instrument.default()
    question_names = set(instrument.names)
    out: list[DemoResponse] = []
    for entry in spec.get("screened_out", []):
        if entry["wave"] != wave:
            continue
        person = people[entry["person"]]
        out.append(
            DemoResponse(
                wave,
                {"atmp_project": 0},
                person["name"],
                person["email"],
                meta={"kind": "screened out"},
            )
        )
    for entry in spec.get("test_response", []):
        if entry["wave"] != wave:
            continue
        answers = {
            "atmp_project": 1,
            "resp_name": entry["name"],
            "resp_email": entry["email"],
            "resp_role": entry.get("role", 7),
            "proj_acronym": entry["acronym"],
            "proj_lead": entry["lead"],
            "stage": entry.get("stage", 1),
        }
        out.append(
            DemoResponse(wave, answers, entry["name"], entry["email"], meta={"kind": "test"})
        )
    for project in spec["project"]:
        if wave not in project["waves"]:
            continue
        truth = {k: v for k, v in project.items() if k in question_names}
        truth.update(project.get("changes", {}).get(str(wave), {}))
        truth["proj_start_year"] = project.get("start_year")
        for response in project.get("response", []):
            if response["wave"] != wave:
                continue
            person = people[response["person"]]
            answers = dict(truth)
            answers.update(
                atmp_project=1,
                resp_name=person["name"],
                resp_email=person["email"],
                resp_role=response["role"],
                resp_group=person.get("group", ""),
                proj_acronym=project["acronym_spellings"][response.get("acronym_spelling", 0)],
                proj_lead=project["lead_spellings"][response.get("lead_spelling", 0)],
                proj_title=(
                    project["title_spellings"][response["title_spelling"]]
                    if response.get("title_spelling", 0) >= 0
                    else ""
                ),
                proj_description=project.get("description", ""),
            )
            answers.update(response.get("overrides", {}))
            meta = {"kind": "project", "project": project["key"]}
            final = DemoResponse(wave, answers, person["name"], person["email"], meta=meta)
            if response.get("duplicate_of_earlier"):
                earlier_answers = dict(answers)
                earlier_answers.update(response.get("earlier_overrides", {}))
                earlier = DemoResponse(
                    wave,
                    earlier_answers,
                    person["name"],
                    person["email"],
                    complete=0,
                    meta={**meta, "kind": "duplicate"},
                )
                final.meta["resubmits"] = True
                out.append(earlier)
                earlier.order_hint = -1.0  # submitted before its resubmission
            out.append(final)
    return out


def _stamp(responses: list[DemoResponse], wave: int, rng: np.random.Generator) -> None:
    """Draw submission times, keep each resubmission after its earlier copy, order them."""
    start = dt.datetime(wave, *WINDOW[0], 8, 0)
    end = dt.datetime(wave, *WINDOW[1], 18, 0)
    span = (end - start).total_seconds()
    offsets = np.sort(rng.uniform(0, span, size=len(responses)))
    order = rng.permutation(len(responses))
    for rank, index in enumerate(order):
        responses[index].submitted = start + dt.timedelta(seconds=int(offsets[rank]))
    # a resubmission comes after its earlier copy: the copy is just before it in the list
    for position, response in enumerate(responses):
        if response.meta.get("resubmits"):
            earlier = responses[position - 1]
            if earlier.submitted >= response.submitted:
                earlier.submitted, response.submitted = response.submitted, earlier.submitted
            if earlier.submitted == response.submitted:
                earlier.submitted -= dt.timedelta(hours=2)
    responses.sort(key=lambda r: r.submitted)


def _visible(answers: dict[str, Any], instrument: Instrument) -> dict[str, Any]:
    """Blank the answers that the instrument's branching hides (as the survey tool does)."""
    import pandas as pd

    from atmp_analysis.choices import codes_to_mask

    row = {}
    for f in instrument.questions:
        value = answers.get(f.name)
        if f.is_checkbox:
            row[f.name] = codes_to_mask(value) if isinstance(value, list) and value else pd.NA
        elif f.is_choice:
            row[f.name] = value if not _blank(value) else pd.NA
    frame = pd.DataFrame([row]).astype("Int64")
    shown = instrument.shown(frame).iloc[0]
    return {k: (v if shown.get(k, True) else None) for k, v in answers.items()}


def write_redcap_raw(responses: list[DemoResponse], instrument: Instrument, path: Path) -> Path:
    """Write a REDCap records export (raw codes, checkbox columns 0/1) as REDCap does."""
    columns = [instrument.record_id, "redcap_survey_identifier", instrument.timestamp_column]
    columns += [*instrument.export_columns()[1:], instrument.complete_column]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for number, response in enumerate(responses, start=1):
            answers = _visible(response.answers, instrument)
            row = {
                instrument.record_id: number,
                "redcap_survey_identifier": "",
                instrument.timestamp_column: (
                    response.submitted.strftime("%Y-%m-%d %H:%M:%S")
                    if response.complete == 2
                    else "[not completed]"
                ),
                instrument.complete_column: response.complete,
            }
            for f in instrument.questions:
                value = answers.get(f.name)
                if f.is_checkbox:
                    ticked = set(value) if isinstance(value, list) else set()
                    for code in f.choices:
                        row[f"{f.name}___{code}"] = int(code in ticked)
                else:
                    row[f.name] = "" if _blank(value) else value
            writer.writerow([row.get(c, "") for c in columns])
    return path


def write_msforms(
    responses: list[DemoResponse], instrument: Instrument, path: Path, rng: np.random.Generator
) -> Path:
    """Write a Microsoft Forms response workbook: labels, ``;``-joined multi-select."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Sheet1"
    tool = ["ID", "Start time", "Completion time", "Email", "Name"]
    sheet.append(tool + [f.label for f in instrument.questions])
    for number, response in enumerate(responses, start=1):
        answers = _visible(response.answers, instrument)
        completed = response.submitted
        started = completed - dt.timedelta(seconds=int(rng.integers(240, 2400)))
        row: list[Any] = [number, started, completed, response.tool_email, response.tool_name]
        for f in instrument.questions:
            text = _choice_text(answers.get(f.name), f)
            # Forms ends a multi-select answer with its separator
            row.append(text + ";" if text is not None and f.is_checkbox else text)
        sheet.append(row)
    return _save_workbook(workbook, path)


def _save_workbook(workbook, path: Path) -> Path:
    """Save a demo workbook with fixed times, so the same workbook is the same bytes."""
    fixed = dt.datetime(2024, 12, 1)
    workbook.properties.created = fixed
    workbook.properties.modified = fixed
    workbook.save(path)
    _freeze_zip_times(path, fixed)
    return path


def _freeze_zip_times(path: Path, when: dt.datetime) -> None:
    """Fix a workbook's zip and document times, so the same workbook is the same bytes."""
    import io
    import re
    import zipfile

    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(path) as source:
        members = [(info, source.read(info)) for info in source.infolist()]
    # openpyxl stamps the time of saving as "modified" in the document properties
    members = [
        (
            info,
            re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + stamp, data)
            if info.filename == "docProps/core.xml"
            else data,
        )
        for info, data in members
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info, data in members:
            fixed = zipfile.ZipInfo(info.filename, date_time=when.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(fixed, data)
    path.write_bytes(buffer.getvalue())


def _choice_text(value: Any, f, labels: dict[int, str] | None = None, sep: str = ";") -> Any:
    """An answer as a tool writes it with labels: one label, or labels joined by ``sep``."""
    labels = labels or f.choices
    if _blank(value):
        return None
    if f.is_checkbox:
        return sep.join(labels[int(c)] for c in value)
    if f.is_choice:
        return labels[int(value)]
    return value


def write_redcap_labels(
    responses: list[DemoResponse],
    instrument: Instrument,
    path: Path,
    *,
    delimiter: str = ";",
    encoding: str = "utf-8-sig",
) -> Path:
    """Write a REDCap records export with labels: field labels as headers, checkbox
    columns ``Label (choice=Choice)`` holding Checked/Unchecked, completion as words."""
    columns = ["Record ID", "Survey Identifier", "Survey Timestamp"]
    for f in instrument.questions:
        if f.is_checkbox:
            columns += [f"{f.label} (choice={label})" for label in f.choices.values()]
        else:
            columns.append(f.label)
    columns.append("Complete?")
    words = {0: "Incomplete", 1: "Unverified", 2: "Complete"}
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(columns)
        for number, response in enumerate(responses, start=1):
            answers = _visible(response.answers, instrument)
            row: list[Any] = [
                number,
                "",
                response.submitted.strftime("%Y-%m-%d %H:%M")
                if response.complete == 2
                else "[not completed]",
            ]
            for f in instrument.questions:
                value = answers.get(f.name)
                if f.is_checkbox:
                    ticked = set(value) if isinstance(value, list) else set()
                    row += ["Checked" if code in ticked else "Unchecked" for code in f.choices]
                else:
                    row.append(_choice_text(value, f) or "")
            row.append(words[response.complete])
            writer.writerow(row)
    return path


def write_msforms_csv(
    responses: list[DemoResponse], instrument: Instrument, path: Path, rng: np.random.Generator
) -> Path:
    """Write a Microsoft Forms response sheet saved as CSV (UTF-8 with BOM, as Excel does)."""
    tool = ["ID", "Start time", "Completion time", "Email", "Name"]
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(tool + [f.label for f in instrument.questions])
        for number, response in enumerate(responses, start=1):
            answers = _visible(response.answers, instrument)
            completed = response.submitted
            started = completed - dt.timedelta(seconds=int(rng.integers(240, 2400)))
            row: list[Any] = [
                number,
                started.strftime("%d/%m/%Y %H:%M:%S"),
                completed.strftime("%d/%m/%Y %H:%M:%S"),
                response.tool_email or "anonymous",
                response.tool_name or "anonymous",
            ]
            for f in instrument.questions:
                text = _choice_text(answers.get(f.name), f)
                row.append("" if text is None else f"{text}{';' if f.is_checkbox else ''}")
            writer.writerow(row)
    return path


def write_qualtrics(
    responses: list[DemoResponse],
    instrument: Instrument,
    path: Path,
    rng: np.random.Generator,
    *,
    numeric: bool = False,
) -> Path:
    """Write a Qualtrics export: three header rows, metadata, choice texts or numeric values
    (the instrument's codes as recode values); test submissions as survey previews."""
    from atmp_analysis.readers.qualtrics import METADATA

    tags = [f.name for f in instrument.questions]
    texts = [
        f"{f.label} - Selected Choice" if f.is_checkbox else f.label for f in instrument.questions
    ]
    alphabet = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"))
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*METADATA, *tags])
        writer.writerow([_qualtrics_label(m) for m in METADATA] + texts)
        import_ids = [f'{{"ImportId":"{m[0].lower() + m[1:]}"}}' for m in METADATA]
        import_ids += [f'{{"ImportId":"QID{n}"}}' for n in range(1, len(tags) + 1)]
        writer.writerow(import_ids)
        for response in responses:
            answers = _visible(response.answers, instrument)
            end = response.submitted
            start = end - dt.timedelta(seconds=int(rng.integers(240, 2400)))
            test = response.meta.get("kind") == "test"
            finished = response.complete == 2
            first, _, last = (response.tool_name or "").partition(" ")
            stamp = "%Y-%m-%d %H:%M:%S"
            meta = {
                "StartDate": start.strftime(stamp),
                "EndDate": end.strftime(stamp),
                "Status": (1 if test else 0)
                if numeric
                else ("Survey Preview" if test else "IP Address"),
                "IPAddress": "" if test else f"192.0.2.{int(rng.integers(1, 255))}",
                "Progress": 100 if finished else int(rng.integers(40, 95)),
                "Duration (in seconds)": int((end - start).total_seconds()),
                "Finished": int(finished) if numeric else str(finished),
                "RecordedDate": end.strftime(stamp),
                "ResponseId": "R_" + "".join(rng.choice(alphabet, 15)),
                "RecipientLastName": last,
                "RecipientFirstName": first,
                "RecipientEmail": response.tool_email or "",
                "ExternalReference": "",
                "LocationLatitude": "" if test else "55.7047",
                "LocationLongitude": "" if test else "13.1910",
                "DistributionChannel": "preview" if test else "email",
                "UserLanguage": "EN",
            }
            row: list[Any] = [meta[m] for m in METADATA]
            for f in instrument.questions:
                value = answers.get(f.name)
                if numeric and f.is_choice and not _blank(value):
                    row.append(",".join(map(str, value)) if f.is_checkbox else value)
                else:
                    text = _choice_text(value, f, sep=",")
                    row.append("" if text is None else text)
            writer.writerow(row)
    return path


def _qualtrics_label(column: str) -> str:
    """The question-text row's entry of a metadata column ("Start Date", "Response ID")."""
    import re

    special = {"IPAddress": "IP Address", "ResponseId": "Response ID"}
    return special.get(column) or re.sub(r"(?<=[a-z])(?=[A-Z])", " ", column)


def write_googleforms(responses: list[DemoResponse], instrument: Instrument, path: Path) -> Path:
    """Write a Google Forms CSV download: ``Timestamp``, ``Email Address``, question texts,
    checkbox labels joined by ``, ``."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Timestamp", "Email Address", *(f.label for f in instrument.questions)])
        for response in responses:
            answers = _visible(response.answers, instrument)
            when = response.submitted
            hour = when.hour % 12 or 12
            stamp = when.strftime(f"%Y/%m/%d {hour}:%M:%S ") + ("AM" if when.hour < 12 else "PM")
            row: list[Any] = [stamp + " GMT+1", response.tool_email or ""]
            for f in instrument.questions:
                text = _choice_text(answers.get(f.name), f, sep=", ")
                row.append("" if text is None else text)
            writer.writerow(row)
    return path


def write_swedish_xlsx(responses: list[DemoResponse], instrument: Instrument, path: Path) -> Path:
    """Write a typed workbook in Swedish, mapped by the shipped Swedish codebook.

    An instructions sheet comes first; the responses sheet has the Swedish question texts
    and labels, the submission time as an Excel date serial (a plain number), a blank row,
    and empty columns after the last question.
    """
    import openpyxl

    from atmp_analysis.codebook import Codebook
    from atmp_analysis.config import CODEBOOK_DIR

    book = Codebook.load(CODEBOOK_DIR / "sv.yaml", instrument)
    header_of = {}
    for header, name in book.headers.items():
        header_of.setdefault(name, header)
    labels = {
        name: {code: names[0] for code, names in by_code.items()}
        for name, by_code in book.labels.items()
    }
    workbook = openpyxl.Workbook()
    notes = workbook.active
    notes.title = "Instruktioner"
    notes.append(["Svar på kartläggningen av ATMP-projekt. Ändra inte rubrikerna på fliken Svar."])
    sheet = workbook.create_sheet("Svar")
    sheet.append(
        ["Inskickad", "E-post", "Namn", *(header_of[f.name] for f in instrument.questions)]
    )
    epoch = dt.datetime(1899, 12, 30)
    for number, response in enumerate(responses):
        if number == 3:
            sheet.append([None])  # a blank row left between responses
        answers = _visible(response.answers, instrument)
        serial = round((response.submitted - epoch).total_seconds() / 86400, 6)
        row: list[Any] = [serial, response.tool_email, response.tool_name]
        for f in instrument.questions:
            row.append(_choice_text(answers.get(f.name), f, labels.get(f.name), sep="; "))
        sheet.append(row)
    width = sheet.max_column
    for extra in (1, 2):  # formatted but empty columns after the data, as spreadsheets keep
        sheet.cell(row=1, column=width + extra).number_format = "@"
    return _save_workbook(workbook, path)


#: Every format the demo is written in: file suffix → what writes it.
FORMATS = (
    "redcap_raw.csv",
    "redcap_labels.csv",
    "msforms.xlsx",
    "msforms.csv",
    "qualtrics_text.csv",
    "qualtrics_numeric.csv",
    "googleforms.csv",
    "swedish.xlsx",
)


def generate(out_dir: Path, *, seed: int = DEFAULT_SEED, spec_path: Path = DEMO_SPEC) -> list[Path]:
    """Write every wave of the demo survey in every format of :data:`FORMATS`.

    Returns the paths written. The same seed always gives the same answers and times.
    """
    spec = load_spec(spec_path)
    instrument = Instrument.default()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for wave in spec["centre"]["waves"]:
        rng = np.random.default_rng([seed, wave])
        responses = responses_for_wave(spec, wave)
        _stamp(responses, wave, rng)

        def path(fmt: str, wave: int = wave) -> Path:
            return out_dir / f"demo_{wave}_{fmt}"

        written.append(write_redcap_raw(responses, instrument, path("redcap_raw.csv")))
        written.append(write_msforms(responses, instrument, path("msforms.xlsx"), rng))
        # the later formats draw from their own generators: adding one changes no other file
        extra = np.random.default_rng([seed, wave, 1])
        written.append(write_redcap_labels(responses, instrument, path("redcap_labels.csv")))
        written.append(write_msforms_csv(responses, instrument, path("msforms.csv"), extra))
        written.append(write_qualtrics(responses, instrument, path("qualtrics_text.csv"), extra))
        written.append(
            write_qualtrics(
                responses, instrument, path("qualtrics_numeric.csv"), extra, numeric=True
            )
        )
        written.append(write_googleforms(responses, instrument, path("googleforms.csv")))
        written.append(write_swedish_xlsx(responses, instrument, path("swedish.xlsx")))
    return written


# ------------------------------------------------------------------------- further waves


@dataclass(frozen=True)
class FurtherWaves:
    """What :func:`further_waves` simulated and wrote.

    Attributes
    ----------
    paths
        The REDCap exports of the simulated waves, oldest first (empty when nothing was
        written), then the truth files.
    truth
        The realised future (:class:`atmp_analysis.forecast.Realisation`); its
        ``project_id`` is the specification's project key (``p01`` …).
    probabilities
        The known per-state probabilities, ``(2, len(STATES), 3)``: other and
        rare-disease projects, per state (stay, advance, stop).
    base_year
        The last wave of the specification; simulated year ``k`` is wave
        ``base_year + k``.
    """

    paths: list[Path]
    truth: Any
    probabilities: np.ndarray
    base_year: int

    def events(self) -> Any:
        """Realised events per calendar year: ``wave``, ``fih``, ``phase2``, ``approval``."""
        events = self.truth.events.reset_index()
        events.insert(0, "wave", events.pop("year") + self.base_year)
        return events


def spec_stages(spec: dict[str, Any]) -> Any:
    """The specification's true stage of every project in every wave it answers in:
    ``project_id`` (the project's key), ``wave``, ``stage_code`` and ``rare_disease``."""
    import pandas as pd

    rows = []
    for project in spec["project"]:
        for wave in project["waves"]:
            truth = {**project, **project.get("changes", {}).get(str(wave), {})}
            rare = {1: "yes", 0: "no"}.get(truth.get("rare_disease"))
            rows.append((project["key"], wave, truth.get("stage"), rare))
    frame = pd.DataFrame(rows, columns=["project_id", "wave", "stage_code", "rare_disease"])
    return frame.astype({"stage_code": "Int64", "rare_disease": "string"})


def further_waves(
    out_dir: Path | None,
    years: int,
    *,
    seed: int = DEFAULT_SEED,
    spec_path: Path = DEMO_SPEC,
    probabilities: np.ndarray | None = None,
    assumptions: Any = None,
) -> FurtherWaves:
    """Simulate the demo centre's next ``years`` survey waves with known rates.

    The projects of the specification's last wave move on with per-state probabilities
    (``probabilities``, else one draw of the forecast's posterior given the
    specification's own transitions, seeded by ``seed``), through the same yearly steps
    as :func:`atmp_analysis.forecast.simulate_truth`. A project still running in a later
    wave is answered for by the same people as in the last wave, at its new stage; a
    stopped one is no longer answered for; the screened-out and test submissions of the
    last wave recur.

    Parameters
    ----------
    out_dir
        Where to write ``demo_<wave>_redcap_raw.csv`` per simulated wave and the truth
        (``demo_truth_events.csv``: events per wave; ``demo_truth_rates.csv``: the
        probabilities); ``None`` writes nothing (the truth alone, fast).
    years
        How many waves to simulate.
    seed
        Seeds the rates (when drawn), the realised paths and the submission times.
    probabilities
        Known per-state probabilities, as for
        :func:`atmp_analysis.forecast.simulate_truth`.
    assumptions
        The forecast's assumptions (default: the shipped ones).
    """
    from atmp_analysis import forecast

    spec = load_spec(spec_path)
    assumptions = assumptions or forecast.load_assumptions()
    base = max(spec["centre"]["waves"])
    stages = spec_stages(spec)
    if probabilities is None:
        transitions = forecast.observed_transitions(stages, assumptions)
        probabilities = forecast.draw_probabilities(
            assumptions, transitions=transitions, simulations=1, seed=seed
        )[0]
    now = stages[stages["wave"] == base]
    truth = forecast.simulate_truth(
        now, probabilities, assumptions=assumptions, years=years, seed=seed + 1
    )
    probabilities = np.asarray(probabilities, dtype=float)
    if probabilities.ndim == 2:
        probabilities = np.stack([probabilities, probabilities])
    result = FurtherWaves([], truth, probabilities, base)
    if out_dir is None:
        return result
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    instrument = Instrument.default()
    later = _later_spec(spec, truth, base, years)
    for wave in range(base + 1, base + years + 1):
        responses = responses_for_wave(later, wave)
        _stamp(responses, wave, np.random.default_rng([seed, wave]))
        path = out_dir / f"demo_{wave}_redcap_raw.csv"
        result.paths.append(write_redcap_raw(responses, instrument, path))
    events = result.events()
    result.paths.append(out_dir / "demo_truth_events.csv")
    events.to_csv(result.paths[-1], index=False)
    rates = [
        {"rare": bool(group), "state": state, **dict(zip(forecast.OUTCOMES, row, strict=True))}
        for group in (0, 1)
        for state, row in zip(forecast.STATES, probabilities[group], strict=True)
    ]
    result.paths.append(out_dir / "demo_truth_rates.csv")
    with result.paths[-1].open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rates[0]))
        writer.writeheader()
        writer.writerows(rates)
    return result


def _later_spec(spec: dict[str, Any], truth: Any, base: int, years: int) -> dict[str, Any]:
    """The specification extended with the simulated waves: who answers, at which stage."""
    import pandas as pd

    later = copy.deepcopy(spec)
    stages = truth.stages.set_index(["project_id", "year"])["stage_code"]
    for project in later["project"]:
        if base not in project["waves"]:
            continue
        last = project.get("changes", {}).get(str(base), {})
        replies = [r for r in project.get("response", []) if r["wave"] == base]
        for year in range(1, years + 1):
            stage = stages.get((project["key"], year))
            if stage is None or pd.isna(stage):  # stopped: nobody answers for it
                continue
            wave = base + year
            project["waves"].append(wave)
            project.setdefault("changes", {})[str(wave)] = {**last, "stage": int(stage)}
            project["response"] += [{**r, "wave": wave} for r in replies]
    for kind in ("screened_out", "test_response"):
        entries = [e for e in later.get(kind, []) if e["wave"] == base]
        later[kind] = later.get(kind, []) + [
            {**e, "wave": base + year} for year in range(1, years + 1) for e in entries
        ]
    later["centre"]["waves"] = [*spec["centre"]["waves"], *range(base + 1, base + years + 1)]
    return later
