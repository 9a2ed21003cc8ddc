"""The report's progress-and-outlook sections: the projects across waves, the forecast and
what it asks of the infrastructure.

Registered in :data:`atmp_analysis.sections.SECTIONS` like every other section, so a
notebook shows one with ``report.show("outlook")``. Counts of projects go through the
report's disclosure control; forecast figures are expectations over the whole pipeline and
are shown as they are, except the breakdowns by class and platform, which a public report
limits to groups of at least ``min_cell`` projects. The forecast is made once per report
(:func:`outlook`) with the assumptions' seed, so every section and ``tables/`` agree, and the
same data give the same numbers.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from atmp_analysis import figures, summary, waves
from atmp_analysis.demand import Demand, demand, load_demand_assumptions
from atmp_analysis.forecast import (
    EVENT_LABELS,
    EVENTS,
    likelihood_of_approval_check,
    sensitivity,
)
from atmp_analysis.outlook import Outlook, forecast_of
from atmp_analysis.report import Block, Report, esc
from atmp_analysis.sections import _count, _n, _plural, _section, listing
from atmp_analysis.summary import NOT_ANSWERED

#: Years the report's forecast runs: 10 for the 5-10-year planning band; tables show 5 too.
FORECAST_YEARS = 10
SHORT_YEARS = 5
#: Rows of the tornado chart.
TORNADO_ROWS = 8
#: Project resources drawn in the demand figure, in legend order.
#: Drawn in the demand figure (QC follows GMP closely: it is in the table).
DRAWN_RESOURCES = ("gmp_manufacturing", "viral_vector", "regulatory_support")


# -- the computations, once per report ---------------------------------------------------------


def outlook(report: Report) -> Outlook:
    """The report wave's forecast (10 years, the assumptions' simulations and seed)."""
    return report.memo(
        "outlook",
        lambda: forecast_of(
            report.data.projects, wave=report.wave, years=FORECAST_YEARS, keep_states=True
        ),
    )


def infrastructure(report: Report) -> Demand:
    """What the forecast asks of the infrastructure (:func:`atmp_analysis.demand.demand`)."""

    def compute() -> Demand:
        result = outlook(report)
        return demand(result.projects, result.forecast, load_demand_assumptions())

    return report.memo("demand", compute)


def _sensitivity(report: Report) -> pd.DataFrame:
    def compute() -> pd.DataFrame:
        result = outlook(report)
        return sensitivity(
            result.projects,
            result.assumptions,
            transitions=result.transitions,
            years=SHORT_YEARS,
        )

    return report.memo("sensitivity", compute)


def _history(report: Report) -> pd.DataFrame:
    """Projects of every wave up to the report's."""
    projects = report.data.projects
    return projects[projects["wave"].astype("int64") <= report.wave]


def _previous_wave(report: Report) -> int | None:
    earlier = [w for w in report.waves if w < report.wave]
    return earlier[-1] if earlier else None


def _one_wave(report: Report) -> list[Block]:
    return [
        report.prose(
            f"The {report.wave} survey is the first this report holds: progress between waves "
            "shows from the next survey on.",
            note=True,
        )
    ]


def _short_stage() -> dict[int, str]:
    stages = summary.stages()
    return dict(zip(stages["stage_code"].astype(int), stages["short"], strict=True))


def _band(mean: float, low: float, high: float, digits: int = 1) -> str:
    return f"{mean:.{digits}f} ({low:.{digits}f}–{high:.{digits}f})"


# -- progress ----------------------------------------------------------------------------------


def presence_table(report: Report) -> pd.DataFrame:
    """Projects per wave: new, continuing, re-appearing, not reported (true counts)."""
    counts = waves.presence_counts(_history(report))
    table = counts[list(waves.PRESENCE)].astype("int64")
    table.index = pd.Index([str(w) for w in table.index], name="Survey")
    table.columns.name = "Projects"
    return table


@_section("progress")
def progress_section(report: Report) -> list[Block]:
    """Which projects are new, continuing, back or no longer reported, wave by wave."""
    previous = _previous_wave(report)
    if previous is None:
        return _one_wave(report)
    shown = report.protect(presence_table(report), margins=False)
    row = shown.labels.loc[str(report.wave)]
    min_cell = report.min_cell
    text = (
        f"The {report.wave} survey reports {_n(row['continuing'], min_cell)} projects "
        f"continuing from {previous} or earlier, {_n(row['new'], min_cell)} new and "
        f"{_n(row['re-appearing'], min_cell)} back after a survey without them; "
        f"{_n(row['not reported'], min_cell)} "
        f"{_plural(row['not reported'], 'project', 'projects')} reported before "
        f"{_plural(row['not reported'], 'was', 'were')} not reported this time (stopped, or "
        "nobody answered for them: the survey cannot tell the two apart)."
    )
    blocks = [report.prose(text)]
    blocks.append(
        report.table_block(
            shown,
            f"Projects by survey, {report.centre}: new, continuing and not reported.",
            "presence",
        )
    )
    blocks += _links(report)
    return blocks


def _links(report: Report) -> list[Block]:
    """How surely each wave's projects were matched with the earlier ones."""
    projects = report.projects
    if "link_confidence" not in projects:
        return []
    linked = projects[projects["link_confidence"].notna()]
    unsure = linked[linked["link_confidence"] != "high"]
    counts = pd.DataFrame(
        {"Projects": [len(linked) - len(unsure), len(unsure)]}, index=["sure", "unsure"]
    )
    sure_n, unsure_n = report.protect(counts, margins=False).labels["Projects"]
    text = (
        f"Projects are matched across surveys by lead, acronym and title: "
        f"{_n(sure_n, report.min_cell)} {_plural(sure_n, 'project was', 'projects were')} "
        "matched surely (the same lead with the same or a similar acronym)"
    )
    if unsure.empty:
        return [report.prose(text + ".", note=True)]
    text += (
        f", {_n(unsure_n, report.min_cell)} {_plural(unsure_n, 'project', 'projects')} less "
        "surely (a new lead, acronym or title): check these."
    )
    if report.public:
        return [report.prose(text, note=True)]
    listing_table = pd.DataFrame(
        {
            "Matched to": unsure["linked_wave"].astype("Int64").astype("string").to_numpy(),
            "Confidence": unsure["link_confidence"].to_numpy(),
            "Because": unsure["link_basis"].to_numpy(),
        },
        index=pd.Index(unsure["acronym"].to_numpy(), name="Project"),
    )
    caption = f"Projects of {report.wave} matched to an earlier survey less surely (internal)."
    return [report.prose(text, note=True), report.table_block(listing_table, caption, "links")]


def _flows(report: Report) -> tuple[pd.DataFrame, list[str]]:
    """Projects between consecutive waves, by stage group, with new and not-reported ones,
    protected per pair of waves (a cross table with its margins)."""
    history = _history(report)
    groups = summary.stage_groups()
    group_of = dict(zip(summary.stages()["stage_code"], summary.stages()["group"], strict=True))
    all_waves = waves.waves(history)
    stage = history.assign(
        node=history["stage_code"].astype("Int64").map(group_of).astype("string")
    ).set_index(["project_id", "wave"])["node"]
    presence = waves.presence(history)
    frames = []
    for a, b in itertools.pairwise(all_waves):  # a loop over pairs of waves
        now = presence[presence["wave"] == b].set_index("project_id")["presence"]
        before = presence[presence["wave"] == a].set_index("project_id")["presence"]
        ids = now.index
        source = stage.reindex(pd.MultiIndex.from_arrays([ids, np.full(len(ids), a)]))
        target = stage.reindex(pd.MultiIndex.from_arrays([ids, np.full(len(ids), b)]))
        source = pd.Series(source.to_numpy(), index=ids, dtype="string")
        target = pd.Series(target.to_numpy(), index=ids, dtype="string")
        seen_before = before.reindex(ids).isin(["new", "continuing", "re-appearing"])
        source = source.where(seen_before, figures.NEW)
        source = source.fillna(figures.NOT_REPORTED)
        target = target.where(now != "not reported", figures.NOT_REPORTED)
        keep = ~((source == figures.NOT_REPORTED) & (target == figures.NOT_REPORTED))
        keep &= ~((source == figures.NEW) & (target == figures.NOT_REPORTED))
        table = pd.crosstab(
            source[keep].fillna("Stage not answered"), target[keep].fillna("Stage not answered")
        )
        shown = report.protect(table, margins=True)
        counts = shown.counts.drop(index="Total", columns="Total", errors="ignore")
        labels = shown.labels.reindex(index=counts.index, columns=counts.columns)
        long = counts.stack().rename("projects").reset_index()
        long.columns = ["source", "target", "projects"]
        long["label"] = labels.stack().to_numpy()
        long = long[(long["projects"].isna()) | (long["projects"] > 0)]
        long = long.assign(source_column=a, target_column=b)
        frames.append(long)
    flows = pd.concat(frames, ignore_index=True)
    flows["projects"] = flows["projects"].astype("Int64")
    order = [figures.NEW, *groups, "Stage not answered", figures.NOT_REPORTED]
    present = set(flows["source"]) | set(flows["target"])
    return flows, [c for c in order if c in present]


@_section("transitions")
def transitions_section(report: Report) -> list[Block]:
    """Stage then and now: the alluvial chart, the transition table, stalled projects."""
    previous = _previous_wave(report)
    if previous is None:
        return _one_wave(report)
    history = _history(report)
    moves = waves.transitions(history)
    moves = moves[(moves["wave_from"] == previous) & (moves["wave_to"] == report.wave)]
    counts = moves["move"].value_counts().reindex(list(waves.MOVES), fill_value=0)
    moved = report.protect(counts.rename("Projects").to_frame(), margins=True)
    min_cell = report.min_cell
    advanced, stayed, back = (moved.labels.loc[m, "Projects"] for m in waves.MOVES)
    text = (
        f"Of the projects reported in both {previous} and {report.wave}, "
        f"{_n(advanced, min_cell)} {_plural(advanced, 'project', 'projects')} advanced at "
        f"least one stage, {_n(stayed, min_cell)} stayed at their stage and "
        f"{_n(back, min_cell)} reported an earlier stage than before."
    )
    blocks = [report.prose(text)]
    flows, categories = _flows(report)
    if flows["projects"].isna().any():  # a hidden flow would still show that it exists
        blocks.append(
            report.prose(
                "The chart of the flows between stages is left out of the public report: "
                "too many of its flows are small enough to point at single projects.",
                note=True,
            )
        )
    else:
        blocks.append(_alluvial_block(report, flows, categories))
    blocks += _transition_table(report, history, previous)
    blocks += _stalled(report, history)
    return blocks


def _alluvial_block(report: Report, flows: pd.DataFrame, categories: list[str]) -> Block:
    colours = dict(figures.palette("stage_group"))
    grey = figures.palette("series")["2"]
    colours.update({figures.NEW: grey, figures.NOT_REPORTED: grey, "Stage not answered": grey})
    alt = figures.describe_flows(flows, categories=categories)
    return report.figure_block(
        lambda ax: figures.alluvial(
            flows,
            ax=ax,
            categories=categories,
            colours=colours,
            labels=flows["label"],
        ),
        f"Projects by stage group from survey to survey, {report.centre}.",
        "transitions",
        alt,
        height=4.2,
    )


def _transition_table(report: Report, history: pd.DataFrame, previous: int) -> list[Block]:
    table = waves.transition_table(history, previous, report.wave)
    short = _short_stage()
    table.index = pd.Index([short[int(s)] for s in table.index], name=f"Stage in {previous}")
    table.columns = pd.Index([short[int(s)] for s in table.columns], name=f"Stage in {report.wave}")
    shown = report.protect(table.astype("int64"), margins=True)
    return [
        report.table_block(
            shown,
            f"Projects by stage in {previous} (rows) and {report.wave} (columns): the diagonal "
            "stayed, right of it advanced.",
            "transition_table",
        )
    ]


def _stalled(report: Report, history: pd.DataFrame) -> list[Block]:
    stalled = waves.stalled(history)
    stalled = stalled[stalled["last_wave"] == report.wave]
    if stalled.empty:
        return [report.prose("No project has been reported at one stage in two surveys in a row.")]
    n = report.protect(pd.DataFrame({"Projects": [len(stalled)]}, index=["stalled"]), margins=False)
    label = n.labels.iloc[0, 0]
    text = (
        f"{_n(label, report.min_cell)} {_plural(label, 'project has', 'projects have')} been "
        "at the same stage in two or more surveys in a row; a stage can take years (the "
        "forecast's assumptions say how long), so this is a prompt to ask, not a verdict."
    )
    if report.public:
        return [report.prose(text)]
    acronyms = report.projects.set_index("project_id")["acronym"]
    short = _short_stage()
    table = pd.DataFrame(
        {
            "Stage": stalled["stage_code"].astype(int).map(short).to_numpy(),
            "Since": stalled["since"].astype(int).astype(str).to_numpy(),
            "Surveys": stalled["waves"].astype(int).astype(str).to_numpy(),
        },
        index=pd.Index(acronyms.reindex(stalled["project_id"]).to_numpy(), name="Project"),
    )
    caption = "Projects at the same stage in two or more surveys in a row (internal)."
    return [report.prose(text), report.table_block(table, caption, "stalled")]


@_section("time_in_stage")
def time_in_stage_section(report: Report) -> list[Block]:
    """Surveys the projects were seen at each stage."""
    if _previous_wave(report) is None:
        return _one_wave(report)
    raw = waves.time_in_stage(_history(report))
    short = _short_stage()
    counts = raw[["projects"]].astype("int64")
    counts.index = pd.Index([short[int(s)] for s in raw.index], name="Stage")
    counts.columns = pd.Index(["Projects"])
    shown = report.protect(counts, margins=False)
    mean = pd.Series(raw["mean"].to_numpy(), index=counts.index).map("{:.1f}".format)
    mean = mean.where(shown.counts["Projects"].notna(), "")
    caption = (
        "Projects seen at each stage, and the surveys they were seen at it on average (a "
        "lower bound of the years spent there)."
    )
    return [
        report.table_block(
            shown, caption, "time_in_stage", extra=mean.to_frame("Surveys at the stage")
        )
    ]


@_section("first_patient_check")
def first_patient_check_section(report: Report) -> list[Block]:
    """Did the projects that expected their first patient by now get there?"""
    previous = _previous_wave(report)
    if previous is None:
        return _one_wave(report)
    check = waves.first_patient_check(_history(report))
    check = check[(check["wave_from"] == previous) & (check["wave_to"] == report.wave)]
    order = ["on time", "late", "early", "not yet due", "already in the clinic", "stage unknown"]
    counts = check["outcome"].value_counts().reindex(order, fill_value=0)
    # every outcome is a row, zeros too: a hidden count is then any of 0 to min_cell - 1
    counts = counts.rename("Projects").to_frame().astype("int64")
    counts.index.name = f"First patient expected by {report.wave} (said in {previous})"
    shown = report.protect(counts, margins=True)
    slips = check["slip"].dropna()
    later = int((slips > 0).sum())

    def count(row: str) -> str:
        return _n(shown.labels.loc[row, "Projects"], report.min_cell)

    if counts["Projects"].reindex(["on time", "late", "early"]).fillna(0).sum() == 0:
        text = (
            f"No project expected in {previous} to treat its first patient by {report.wave}, "
            "and none did."
        )
    else:
        text = (
            f"Of the projects that in {previous} expected their first patient by "
            f"{report.wave}, {count('on time')} reached the clinic and {count('late')} did "
            f"not yet; {count('early')} got there earlier than they expected."
        )
    if len(slips) and not report.public:
        text += " " + (
            f"Between the two surveys {_count(later, 'project', 'projects')} moved the "
            f"expected year later (by {slips[slips > 0].mean():.1f} years on average)."
            if later
            else "No project moved its expected year later."
        )
    return [
        report.prose(text),
        report.table_block(
            shown,
            f"Projects by whether their first patient came when expected a survey earlier, "
            f"{report.wave}.",
            "first_patient_check",
        ),
    ]


# -- outlook -----------------------------------------------------------------------------------


def outlook_table(report: Report) -> pd.DataFrame:
    """Expected events per calendar year with the interval, as text: for the report."""
    result = outlook(report)
    summary_ = result.forecast.summary()
    pct = round(result.forecast.interval * 100)
    rows = {}
    for event in EVENTS:
        part = summary_[summary_["event"] == event].set_index("calendar_year")
        rows[EVENT_LABELS[event]] = [_band(r.mean, r.low, r.high) for r in part.itertuples()] + [
            _band(
                part["cumulative_mean"].iloc[SHORT_YEARS - 1],
                part["cumulative_low"].iloc[SHORT_YEARS - 1],
                part["cumulative_high"].iloc[SHORT_YEARS - 1],
            ),
            _band(
                part["cumulative_mean"].iloc[-1],
                part["cumulative_low"].iloc[-1],
                part["cumulative_high"].iloc[-1],
            ),
        ]
    years = [str(y) for y in summary_["calendar_year"].unique()]
    first, last = int(years[0]), int(years[-1])
    columns = [*years, f"{first}–{first + SHORT_YEARS - 1}", f"{first}–{last}"]
    table = pd.DataFrame(rows, index=pd.Index(columns, name="Year"))
    table.columns.name = f"Expected (and {pct}% interval)"
    return table


@_section("outlook")
def outlook_section(report: Report) -> list[Block]:
    """Expected first-in-human, Phase II and approvals per year for 10 years, with intervals."""
    result = outlook(report)
    forecast = result.forecast
    summary_ = forecast.summary()
    pct = round(forecast.interval * 100)
    five = summary_[summary_["year"] == SHORT_YEARS].set_index("event")
    ten = summary_[summary_["year"] == FORECAST_YEARS].set_index("event")
    first = report.wave + 1

    def cum(table: pd.DataFrame, event: str) -> str:
        r = table.loc[event]
        if r["cumulative_high"] == 0:  # fewer than one simulation in ten sees any
            chance = "under a 1%" if r["p_any"] < 0.005 else f"a {r['p_any']:.0%}"
            return f"{r['cumulative_mean']:.1f} ({chance} chance of any)"
        return _band(r["cumulative_mean"], r["cumulative_low"], r["cumulative_high"])

    observed = int(result.observed[["stay", "advance", "stop"]].to_numpy().sum())
    basis = (
        f"updated with the {_count(observed, 'project-year', 'project-years')} of progress "
        "observed between this centre's surveys"
        if observed
        else "not yet updated with this centre's own progress (that needs two surveys a year apart)"
    )
    text = [
        f"Over the next five years ({first}–{first + SHORT_YEARS - 1}) the model expects "
        f"{esc(cum(five, 'fih'))} projects to treat their first patient, "
        f"{esc(cum(five, 'phase2'))} to start Phase II and {esc(cum(five, 'approval'))} to be "
        f"approved (expected number, {pct}% interval in brackets); over ten years "
        f"({first}–{first + FORECAST_YEARS - 1}) {esc(cum(ten, 'fih'))} first-in-human, "
        f"{esc(cum(ten, 'phase2'))} Phase II starts and {esc(cum(ten, 'approval'))} "
        "approvals.",
        f"The forecast moves each of the {forecast.projects} projects of {report.wave} through "
        "the stages year by year in "
        f"{forecast.simulations:,} simulations, with the published transition rates and "
        f"durations of the appendix's assumptions, {basis}. The chance that at least one "
        f"project treats its first patient within five years is "
        f"{five.loc['fih', 'p_any']:.0%}.",
    ]
    if forecast.left_out:
        text.append(
            f"{_count(forecast.left_out, 'project', 'projects')} without a stage "
            f"{'is' if forecast.left_out == 1 else 'are'} left out."
        )
    per_year = summary_.assign(event=summary_["event"].astype(str))
    colours = figures.palette("event")
    names = {e: EVENT_LABELS[e] for e in EVENTS}
    caption = (
        f"Expected projects reaching each milestone per year, {report.centre}, forecast from "
        f"the {report.wave} survey; whiskers: {pct}% intervals."
    )
    alt = (
        f"Bar chart of expected first-in-human, Phase II starts and approvals per year "
        f"{first}–{first + FORECAST_YEARS - 1}; over five years {cum(five, 'fih')} "
        f"first-in-human."
    )
    return [
        report.prose(*text),
        report.figure_block(
            lambda ax: figures.interval_bars(
                per_year,
                ax=ax,
                order=list(EVENTS),
                names=names,
                colours=colours,
                ylabel="Projects per year",
            ),
            caption,
            "outlook",
            alt,
            height=3.6,
        ),
        report.table_block(
            outlook_table(report),
            f"Expected milestones per year and in total, forecast from {report.wave}.",
            "outlook",
        ),
    ]


def outlook_groups(report: Report, by: str) -> pd.DataFrame:
    """Five- and ten-year expected milestones per class or platform, as text."""
    result = outlook(report)
    table = result.forecast.summary(by=by)
    projects = result.projects
    if by == "platforms":
        sizes = summary._exploded(projects["platforms"]).fillna(NOT_ANSWERED).value_counts()
    else:
        sizes = projects[by].astype("string").fillna(NOT_ANSWERED).value_counts()
    five = table[table["year"] == SHORT_YEARS]
    five = five.assign(
        event=five["event"].map(EVENT_LABELS),
        value=[
            _band(m, lo, hi)
            for m, lo, hi in zip(
                five["cumulative_mean"],
                five["cumulative_low"],
                five["cumulative_high"],
                strict=True,
            )
        ],
    )
    wide = five.pivot_table(index=by, columns="event", values="value", aggfunc="first")
    wide = wide[[EVENT_LABELS[e] for e in EVENTS]]
    wide.insert(0, "Projects", sizes.reindex(wide.index).fillna(0).astype(int).astype(str))
    if report.public:  # a group of fewer than min_cell projects is about those projects
        wide = wide[sizes.reindex(wide.index).fillna(0).to_numpy() >= report.min_cell]
    wide.index.name = {"atmp_class": "Class", "platforms": "Platform"}[by]
    order = sizes.reindex(wide.index).fillna(0).sort_values(ascending=False, kind="stable")
    return wide.loc[order.index]


@_section("outlook_groups")
def outlook_groups_section(report: Report) -> list[Block]:
    """The five-year outlook by class and by platform."""
    pct = round(outlook(report).forecast.interval * 100)
    first = report.wave + 1
    note = " Groups of fewer than the disclosure threshold are left out." if report.public else ""
    blocks = []
    for by, name, what in (
        ("atmp_class", "outlook_class", "class"),
        ("platforms", "outlook_platform", "platform"),
    ):
        table = outlook_groups(report, by)
        if table.empty:
            blocks.append(
                report.prose(
                    f"No {what} has enough projects to show its outlook in a public report.",
                    note=True,
                )
            )
            continue
        extra = " (a project on several platforms counts in each)" if by == "platforms" else ""
        blocks.append(
            report.table_block(
                table,
                f"Expected milestones {first}–{first + SHORT_YEARS - 1} by {what} ({pct}% "
                f"interval){extra}.{note}",
                name,
            )
        )
    return blocks


def sensitivity_table(report: Report) -> pd.DataFrame:
    table = _sensitivity(report).head(TORNADO_ROWS)
    names = {"p": "chance of success", "years": "years in stage"}
    label = table["state"].str.replace("_", "-") + ": " + table["assumption"].map(names)
    out = pd.DataFrame(
        {
            "Default": table["default"].map("{:.2f}".format).to_numpy(),
            "Varied to": (
                table["low"].map("{:.2f}".format) + " / " + table["high"].map("{:.2f}".format)
            ).to_numpy(),
            "First-in-human": (
                table["fih_low"].map("{:.1f}".format)
                + " / "
                + table["fih_high"].map("{:.1f}".format)
            ).to_numpy(),
            "Approvals": (
                table["approval_low"].map("{:.2f}".format)
                + " / "
                + table["approval_high"].map("{:.2f}".format)
            ).to_numpy(),
            "Elicited": np.where(table["elicited"].to_numpy(dtype=bool), "yes", "no"),
        },
        index=pd.Index(label.to_numpy(), name="Assumption"),
    )
    return out


@_section("sensitivity")
def sensitivity_section(report: Report) -> list[Block]:
    """Which assumptions move the five-year first-in-human count most (a tornado chart)."""
    table = _sensitivity(report)
    baseline = table.attrs["baseline"]["fih"]
    top = table.head(TORNADO_ROWS)
    names = {"p": "chance of success", "years": "years in stage"}
    labelled = top.assign(
        label=top["state"].str.replace("_", "-") + ": " + top["assumption"].map(names)
    )
    lead = labelled.iloc[0]
    text = (
        f"With every assumption at its default the model expects {baseline:.1f} first-in-human "
        f"within five years. The assumption that moves this most is the "
        f"{esc(lead['label'])} ({lead['fih_low']:.1f} to {lead['fih_high']:.1f} when it is "
        "halved or raised); "
        + (
            "it is an elicited prior, not a published figure, so the centre's own progress "
            "over the next surveys will narrow it."
            if bool(lead["elicited"])
            else "it comes from the published rates."
        )
    )
    return [
        report.prose(text),
        report.figure_block(
            lambda ax: figures.tornado(
                labelled,
                ax=ax,
                baseline=baseline,
                low="fih_low",
                high="fih_high",
                names=("assumption lowered", "assumption raised"),
                xlabel="Expected first-in-human within five years",
            ),
            "How the five-year first-in-human forecast moves when one assumption is lowered "
            "or raised (chance of success x0.5 and x1.5; years in stage x0.5 and x2).",
            "sensitivity",
            f"Tornado chart; the largest swing comes from the {lead['label']}.",
            height=3.8,
        ),
        report.table_block(
            sensitivity_table(report),
            "The assumptions that move the forecast most: default, the values tried, and the "
            "expected first-in-human and approvals within five years with each.",
            "sensitivity",
        ),
    ]


# -- the infrastructure ------------------------------------------------------------------------


def demand_table(report: Report) -> pd.DataFrame:
    """Per resource and planning band: mean per year, the busiest year, and what the survey
    said; as text."""
    horizons = infrastructure(report).horizons()
    stated = horizons["stated"].astype("Int64").fillna(-1).astype("int64")
    if report.public:  # how many projects named a need: a count, protected as one
        shown = report.protect(stated.clip(lower=0).to_frame("stated"), margins=False)
        stated_text = shown.labels["stated"].where(stated >= 0, "")
    else:
        stated_text = stated.astype(str).where(stated >= 0, "")
    horizons = horizons.assign(stated_text=stated_text.to_numpy())
    rows = []
    for r in horizons.itertuples():
        digits = 0 if r.unit == "bed-days" else 1
        rows.append(
            {
                "What": f"{r.label} ({r.unit})",
                "Within": r.horizon,
                "Per year": f"{r.mean_per_year:.{digits}f}",
                "Busiest year": _band(r.peak_mean, r.peak_low, r.peak_high, digits),
                "Named in the survey": r.stated_text,
            }
        )
    table = pd.DataFrame(rows)
    wide = table.set_index(["What", "Within"])
    wide.index.names = ["What", "Within"]
    return wide.reset_index(level=1)


@_section("demand")
def demand_section(report: Report) -> list[Block]:
    """What the centre must plan for in 1-2 and 5-10 years: GMP, vectors, QC, regulatory
    support, trial patients and beds, each with its interval."""
    result = infrastructure(report)
    horizons = result.horizons().set_index(["resource", "horizon"])
    pct = round(outlook(report).forecast.interval * 100)

    def peak(resource: str, band: str, digits: int = 0) -> str:
        r = horizons.loc[(resource, band)]
        return _band(r["peak_mean"], r["peak_low"], r["peak_high"], digits)

    parts = []
    for band in ("1-2 years", "5-10 years"):
        if (("gmp_manufacturing", band)) not in horizons.index:
            continue
        items = [
            f"{peak('gmp_manufacturing', band, 1)} projects needing GMP manufacturing",
            f"{peak('viral_vector', band, 1)} needing viral vector",
            f"{peak('quality_control', band, 1)} needing QC",
            f"{peak('regulatory_support', band, 1)} needing regulatory support",
            f"{peak('patients', band, 0)} trial patients",
            f"{peak('beds', band, 1)} hospital beds",
        ]
        parts.append(f"Within {esc(band)}, in the busiest year: {listing(items)}.")
    text = [
        "What the outlook asks of the infrastructure (the busiest year of each planning "
        f"band; expected number, {pct}% interval in brackets). " + " ".join(parts),
        "A project counts for a resource in the years the forecast puts it in the stages "
        "that need it, and only if its product is made in-house or its manufacturer is not "
        "yet decided; patients and bed-days per trial are planning values. The appendix "
        "lists every assumption; the survey's own answers on when support is needed are "
        "beside the model's in the table.",
    ]
    per_year = result.per_year()
    lines = per_year[per_year["resource"].isin(DRAWN_RESOURCES)]
    colours = figures.palette("resource")
    labels = [result.labels[r] for r in DRAWN_RESOURCES]
    colour_of = {
        result.labels[r]: colours.get(result.assumptions.resource(r).need) for r in DRAWN_RESOURCES
    }
    return [
        report.prose(*text),
        report.figure_block(
            lambda ax: figures.interval_lines(
                lines,
                ax=ax,
                order=labels,
                colours={k: v for k, v in colour_of.items() if v},
                ylabel="Projects needing it",
            ),
            f"Projects needing each resource per year, forecast from the {report.wave} survey; "
            f"bands: {pct}% intervals.",
            "demand",
            "Line chart of the projects needing GMP manufacturing, viral vector and "
            "regulatory support per year, with intervals.",
            height=3.6,
        ),
        report.table_block(
            demand_table(report),
            "What to plan for per planning band: the mean per year, the busiest year "
            f"(expected, {pct}% interval) and the projects that named the need for that "
            "band in the survey.",
            "demand",
        ),
    ]


# -- appendix ----------------------------------------------------------------------------------


@_section("forecast_assumptions")
def forecast_assumptions_section(report: Report) -> list[Block]:
    """The forecast's and the demand model's assumptions, with their sources."""
    result = outlook(report)
    table = result.assumptions.table()
    states = pd.DataFrame(
        {
            "Stages": ("codes " + table["stage_codes"])
            .str.replace(r"^codes (\d+)$", r"code \1", regex=True)
            .to_numpy(),
            "Years": table["years"].map("{:.1f}".format).to_numpy(),
            "P(success)": table["p_used"].map("{:.3f}".format).to_numpy(),
            "P(success), rare": table["p_rare_used"].map("{:.3f}".format).to_numpy(),
            "Strength": table["strength"].map("{:.1f}".format).to_numpy(),
            "Source": table["source"].to_numpy(),
        },
        index=pd.Index(table["state"].str.replace("_", "-").to_numpy(), name="State"),
    )
    check = likelihood_of_approval_check(result.assumptions)
    checked = pd.DataFrame(
        {
            "Model": check["model"].map(lambda v: "" if pd.isna(v) else f"{v:.3f}").to_numpy(),
            "Published": check["published"].map("{:.3f}".format).to_numpy(),
            "Source": check["source"].to_numpy(),
        },
        index=pd.Index(check["measure"].to_numpy(), name="Measure"),
    )
    observed = result.observed.set_index("state")
    observed.index = observed.index.str.replace("_", "-")
    observed.index.name = "State"
    observed = report.protect(observed.astype("int64"), margins=False)
    demand_rows = load_demand_assumptions().table()
    demand_table_ = demand_rows.set_index(demand_rows.columns[0])
    demand_table_.index.name = "Assumption"
    return [
        report.prose(
            "The forecast's prior per state (a project stays, advances or stops each year; "
            "'Years' is the mean time in the state, 'P(success)' the chance it leaves the "
            "state by advancing, as used after the cell-and-gene-therapy adjustment, "
            "'Strength' how many project-years of the centre's own data outweigh it). The "
            "values are data (forecast_assumptions.yaml) that a centre may edit; the "
            "report's numbers change with them.",
        ),
        report.table_block(states, "Forecast assumptions per state, with sources.", "assumptions"),
        report.table_block(
            checked,
            "The model's implied likelihood of approval against the published figures.",
            "loa_check",
        ),
        report.table_block(
            observed,
            "The centre's own observed transitions that updated the prior (project-years).",
            "observed_transitions",
        ),
        report.table_block(
            demand_table_.astype("string"),
            "Demand assumptions (demand_assumptions.yaml), with sources.",
            "demand_assumptions",
        ),
    ]


def outlook_tables(report: Report) -> dict[str, tuple[pd.DataFrame, str]]:
    """The progress-and-outlook tables for ``tables/``, with captions (as shown)."""
    out: dict[str, tuple[pd.DataFrame, str]] = {}
    if _previous_wave(report) is not None:
        presence = report.protect(presence_table(report), margins=False).labels
        out["presence"] = (
            presence,
            f"Projects by survey: new, continuing, not reported, {report.wave}",
        )
        history = _history(report)
        table = waves.transition_table(history, _previous_wave(report), report.wave)
        out["transitions"] = (
            report.protect(table.astype("int64"), margins=True).labels,
            f"Projects by stage code then (rows) and now (columns), {report.wave}",
        )
    wave = report.wave
    out["outlook"] = (outlook_table(report), f"Expected milestones per year, {wave}")
    out["outlook_class"] = (outlook_groups(report, "atmp_class"), f"Milestones by class, {wave}")
    out["outlook_platform"] = (
        outlook_groups(report, "platforms"),
        f"Milestones by platform, {wave}",
    )
    out["sensitivity"] = (sensitivity_table(report), f"Sensitivity of the forecast, {wave}")
    out["demand"] = (demand_table(report), f"Demand on the infrastructure per band, {wave}")
    return {name: shown for name, shown in out.items() if not shown[0].empty}


#: The tables :func:`outlook_tables` may give, in order; the forecast's hold expectations
#: with intervals ("2.7 (1.0–4.0)"), not counts of projects.
OUTLOOK_TABLES = (
    "presence",
    "transitions",
    "outlook",
    "outlook_class",
    "outlook_platform",
    "sensitivity",
    "demand",
)
