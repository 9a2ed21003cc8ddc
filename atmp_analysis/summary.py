"""The report's count tables, computed from the processed tables of one survey wave.

Every function takes the tables as users get them (``projects.csv`` and ``responses.csv``,
see OUTPUTS.md: labels, ``;``-joined multi-select answers, instrument codes) and returns
integer counts in display order: categories in the instrument's or vocabulary's order,
with "Not answered" as a category of its own, so that nothing read is dropped. Disclosure
control (:mod:`atmp_analysis.disclosure`) and drawing (:mod:`atmp_analysis.figures`) come
after; nothing here hides or formats a number.

    >>> p = pd.DataFrame({"atmp_class": ["GTMP", "TEP", "GTMP"]})
    >>> by_class(p)["Projects"].to_dict()
    {'GTMP': 2, 'TEP': 1}
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np
import pandas as pd

from atmp_analysis.classify import CLASSES
from atmp_analysis.derive import bottleneck_themes, platform_table, stage_trl
from atmp_analysis.instrument import Instrument

NOT_ANSWERED = "Not answered"
PROJECTS = "Projects"
HORIZONS = ("1-2 years", "3-5 years", "5-10 years")


@cache
def stages() -> pd.DataFrame:
    """The stages: code, TRL, the instrument's label, a short label and the stage group."""
    table = stage_trl().copy()
    labels = Instrument.default()["stage"].choices
    table["label"] = table["stage_code"].map(labels)
    return table


def stage_groups() -> list[str]:
    """The four stage groups the cross tables use, in pipeline order."""
    return list(dict.fromkeys(stages()["group"]))


def of_wave(table: pd.DataFrame, wave: int) -> pd.DataFrame:
    """The rows of one survey wave."""
    return table[table["wave"].astype("int64") == int(wave)]


def _counts(values: pd.Series, order: Sequence[str], name: str) -> pd.DataFrame:
    """Counts of a single-valued column in ``order``, then other values, then not answered."""
    filled = values.astype("string").fillna(NOT_ANSWERED)
    counts = filled.value_counts()
    extra = sorted(set(counts.index) - set(order) - {NOT_ANSWERED})
    index = [c for c in [*order, *extra, NOT_ANSWERED] if c in counts.index]
    out = counts.reindex(index).astype("int64").to_frame(PROJECTS)
    out.index.name = name
    return out


def _exploded(values: pd.Series) -> pd.Series:
    """One row per item of a ``;``-joined answer, keeping the project's index."""
    return values.astype("string").str.split(";").explode().str.strip().replace("", pd.NA)


def _multi_counts(values: pd.Series, order: Sequence[str], name: str) -> pd.DataFrame:
    """Projects per item of a multi-select column; projects without any item count once."""
    items = _exploded(values).dropna()
    counts = items.value_counts()
    extra = sorted(set(counts.index) - set(order))
    index = [c for c in [*order, *extra] if c in counts.index]
    out = counts.reindex(index).astype("int64")
    none = int(values.isna().sum())
    if none:
        out.loc[NOT_ANSWERED] = none
    out = out.to_frame(PROJECTS)
    out.index.name = name
    return out


def _labels(field: str) -> dict[int, str]:
    return Instrument.default()[field].choices


def _coded_labels(values: pd.Series, field: str) -> pd.Series:
    """Instrument codes (``;``-joined for checkboxes) as their labels, ``;``-joined."""
    labels = {str(k): v for k, v in _labels(field).items()}
    items = _exploded(values)
    codes = items.str.replace(r"\.0$", "", regex=True)
    named = codes.map(labels).where(codes.notna())
    joined = named.dropna().groupby(level=0).agg(";".join)
    return joined.reindex(values.index).astype("string")


# -- one-way tables ------------------------------------------------------------------------


def by_class(projects: pd.DataFrame) -> pd.DataFrame:
    """Projects by EU legal class (advice from the answers, see ``atmp_class_reason``)."""
    return _counts(projects["atmp_class"], CLASSES, "ATMP class")


def by_platform(projects: pd.DataFrame) -> pd.DataFrame:
    """Projects by technology platform; a project may use several."""
    order = list(dict.fromkeys(platform_table()["platform"]))
    return _multi_counts(projects["platforms"], order, "Platform")


def by_stage(projects: pd.DataFrame) -> pd.DataFrame:
    """Projects by development stage (short labels, stage order), with the TRL of each."""
    table = stages()
    short = projects["stage_code"].astype("Int64").map(dict(table[["stage_code", "short"]].values))
    out = _counts(short, list(table["short"]), "Stage")
    trl = dict(table[["short", "trl"]].values)
    out.insert(0, "TRL", pd.array([trl.get(s, pd.NA) for s in out.index], dtype="Int64"))
    return out


def by_trl(projects: pd.DataFrame) -> pd.DataFrame:
    """Projects by technology readiness level (TRL 1–9)."""
    trl = projects["trl"].astype("Int64").map(lambda t: f"TRL {t}", na_action="ignore")
    return _counts(trl, [f"TRL {t}" for t in range(1, 10)], "TRL")


def by_area(projects: pd.DataFrame) -> pd.DataFrame:
    """Projects by therapeutic area, in the instrument's order."""
    return _counts(projects["ther_area"], list(_labels("ther_area").values()), "Therapeutic area")


def by_origin(projects: pd.DataFrame) -> pd.DataFrame:
    """Projects by cell origin; products without cells are a category of their own."""
    origin = projects["cell_origin"].astype("string")
    no_cells = projects["contains_cells"].astype("string").str.replace(".0", "") == "0"
    origin = origin.mask((origin.isna() & no_cells).fillna(False), "no cells")
    order = ["autologous", "allogeneic", "xenogeneic", "no cells"]
    return _counts(origin, order, "Cell origin")


def by_rare(projects: pd.DataFrame) -> pd.DataFrame:
    """Projects for a rare (orphan) disease."""
    return _counts(projects["rare_disease"], ["yes", "no"], "Rare disease")


def funnel(projects: pd.DataFrame) -> pd.DataFrame:
    """Projects that have reached at least each stage, from discovery to the furthest stage.

    The funnel ends with the first stage no project has reached (or marketing
    authorisation), so the reader sees where the pipeline stops.
    """
    table = stages()
    code = projects["stage_code"].astype("Int64").dropna().to_numpy(dtype="int64")
    reached = (code[:, None] >= table["stage_code"].to_numpy()[None, :]).sum(axis=0)
    last = int(np.argmax(reached == 0)) if (reached == 0).any() else len(reached) - 1
    out = pd.DataFrame({PROJECTS: reached[: last + 1].astype("int64")})
    out.index = pd.Index(table["short"].iloc[: last + 1], name="Reached at least")
    return out


def by_support_need(projects: pd.DataFrame) -> pd.DataFrame:
    """Projects per support need (ticked, or named in the free text)."""
    return _multi_counts(projects["support_needs"], list(_labels("support_needs").values()), "Need")


def by_theme(projects: pd.DataFrame) -> pd.DataFrame:
    """Projects per theme of their biggest bottleneck (recognised in the free text)."""
    order = list(dict.fromkeys(bottleneck_themes()["theme"]))
    return _multi_counts(projects["bottleneck_themes"], order, "Bottleneck theme")


def by_regulatory(projects: pd.DataFrame) -> pd.DataFrame:
    """Projects per regulatory interaction they have had."""
    labels = _coded_labels(projects["reg_contact"], "reg_contact")
    return _multi_counts(labels, list(_labels("reg_contact").values()), "Regulatory interaction")


def by_manufacturing(projects: pd.DataFrame) -> pd.DataFrame:
    """Projects by manufacturing status."""
    labels = _coded_labels(projects["gmp_status"], "gmp_status")
    return _counts(labels, list(_labels("gmp_status").values()), "Manufacturing status")


def by_manufacturer(projects: pd.DataFrame) -> pd.DataFrame:
    """Projects by where they plan to manufacture for clinical trials."""
    labels = _coded_labels(projects["manufacturer"], "manufacturer")
    return _counts(labels, list(_labels("manufacturer").values()), "Planned manufacturer")


# -- cross tables --------------------------------------------------------------------------


def _stage_group(projects: pd.DataFrame) -> pd.Series:
    table = stages()
    group = projects["stage_code"].astype("Int64").map(dict(table[["stage_code", "group"]].values))
    return group.astype("string").fillna(NOT_ANSWERED)


def _cross(rows: pd.Series, columns: pd.Series, row_order, column_order, names) -> pd.DataFrame:
    rows = rows.astype("string").fillna(NOT_ANSWERED)
    columns = columns.astype("string").fillna(NOT_ANSWERED)
    table = pd.crosstab(rows.to_numpy(), columns.to_numpy())
    r = [c for c in [*row_order, NOT_ANSWERED] if c in table.index]
    r += sorted(set(table.index) - set(r))
    c = [c for c in [*column_order, NOT_ANSWERED] if c in table.columns]
    c += sorted(set(table.columns) - set(c))
    out = table.reindex(index=r, columns=c, fill_value=0).astype("int64")
    out.index.name, out.columns.name = names
    return out


def class_by_stage(projects: pd.DataFrame) -> pd.DataFrame:
    """Projects by class (rows) and stage group (columns)."""
    return _cross(
        projects["atmp_class"],
        _stage_group(projects),
        CLASSES,
        stage_groups(),
        ("ATMP class", "Stage"),
    )


def area_by_stage(projects: pd.DataFrame) -> pd.DataFrame:
    """Projects by therapeutic area (rows) and stage group (columns)."""
    return _cross(
        projects["ther_area"],
        _stage_group(projects),
        list(_labels("ther_area").values()),
        stage_groups(),
        ("Therapeutic area", "Stage"),
    )


def needs_by_stage(projects: pd.DataFrame) -> pd.DataFrame:
    """Projects per support need (rows) by stage group (columns)."""
    return _needs_by(projects, _stage_group(projects), stage_groups(), "Stage")


def needs_by_class(projects: pd.DataFrame) -> pd.DataFrame:
    """Projects per support need (rows) by ATMP class (columns)."""
    return _needs_by(projects, projects["atmp_class"], CLASSES, "ATMP class")


def needs_by_horizon(projects: pd.DataFrame) -> pd.DataFrame:
    """Projects per support need (rows) by when they need it (columns): the planning table."""
    horizon = projects["support_horizon"].astype("string").fillna("not known")
    return _needs_by(projects, horizon, [*HORIZONS, "not known"], "Needed within")


def _needs_by(projects: pd.DataFrame, columns: pd.Series, order, name: str) -> pd.DataFrame:
    needs = list(_labels("support_needs").values())
    exploded = _exploded(projects["support_needs"]).dropna()
    table = _cross(exploded, columns.reindex(exploded.index), needs, order, ("Need", name))
    return table


def fih_by_class(projects: pd.DataFrame, wave: int, *, years: int = 10) -> pd.DataFrame:
    """Projects by expected year of first treatment of a patient (rows) and class (columns).

    Years before the wave (already treating) are "by {wave}"; years beyond ``wave + years``
    are "later"; no year given is "not given".
    """
    year = projects["fih_year"].astype("Float64").astype("Int64")
    label = year.astype("string")
    label = label.mask((year <= wave).fillna(False), f"by {wave}")
    label = label.mask((year > wave + years).fillna(False), "later")
    label = label.fillna("not given")
    order = [f"by {wave}", *(str(y) for y in range(wave + 1, wave + years + 1))]
    order += ["later", "not given"]
    table = _cross(label, projects["atmp_class"], order, CLASSES, ("Expected first patient", ""))
    table.columns.name = "ATMP class"
    return table


# -- responses -----------------------------------------------------------------------------


def response_flow(responses: pd.DataFrame) -> pd.DataFrame:
    """From forms read to projects: forms per status, respondents, projects (one wave).

    People who answered "no ATMP project" have no pseudonym (they give no identifiers), so
    each such form counts as one respondent.
    """
    status = responses["status"].astype("string")
    real = responses[status != "test response"]
    screened = (real["status"] == "no ATMP project") & real["respondent_id"].isna()
    rows = {
        "Forms read": len(responses),
        "Test responses set aside": int((status == "test response").sum()),
        "Duplicate submissions set aside": int((status == "duplicate submission").sum()),
        "Respondents": int(real["respondent_id"].nunique() + screened.sum()),
        "Respondents on no ATMP project": int((real["status"] == "no ATMP project").sum()),
        "Forms describing a project": int((status == "project").sum()),
        "Projects": int(responses.loc[status == "project", "project_id"].nunique()),
    }
    out = pd.Series(rows, name="Count").to_frame()
    out.index.name = "Step"
    return out


def missing_answers(responses: pd.DataFrame, instrument: Instrument | None = None) -> pd.DataFrame:
    """Per wave and question: project forms that were shown it and left it empty or unsure.

    ``responses`` is the in-memory cleaned frame (radio codes, checkbox bit masks), because
    the branching logic decides which questions each form showed. "Don't know" is the
    instrument's code 99.
    """
    instrument = instrument or Instrument.default()
    forms = responses[responses["status"] == "project"]
    shown = instrument.shown(forms)
    questions = [f for f in instrument.questions if f.name in forms and f.name in shown]
    names = [f.name for f in questions]
    shown = shown[names]
    answers = forms[names]
    unsure = pd.DataFrame(
        {f.name: answers[f.name].isin([99]) if 99 in f.choices else False for f in questions},
        index=forms.index,
    )
    parts = {
        "shown": shown,
        "not answered": answers.isna() & shown,
        "don't know": unsure & shown,
    }
    wave = forms["wave"].astype("int64")
    counts = pd.concat(
        {k: v.astype("int64").groupby(wave).sum().stack() for k, v in parts.items()}, axis=1
    )
    counts.index.names = ["wave", "variable"]
    counts = counts.reset_index()
    counts.insert(2, "question", counts["variable"].map({f.name: f.label for f in questions}))
    answered = counts["shown"] - counts["not answered"] - counts["don't know"]
    counts["answered (%)"] = (100 * answered / counts["shown"].where(counts["shown"] > 0)).round(0)
    order = {name: i for i, name in enumerate(names)}
    return counts.sort_values(
        ["wave", "variable"],
        key=lambda c: c.map(order) if c.name == "variable" else c,
        kind="stable",
    ).reset_index(drop=True)
