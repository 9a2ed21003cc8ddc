"""The report's sections: per section the computed prose, the figure and the table.

Each section is a function ``(report) -> list[Block]`` registered in :data:`SECTIONS`, so a
notebook shows it with one call, ``report.show("classes")``, and the build lists the same
tables for ``tables/`` (:func:`exhibit_tables`). Every number in a sentence comes from the
table the reader sees beside it; for a public report that is the protected table, so prose
never reveals a hidden count. Respondents' text is escaped wherever it appears.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import pandas as pd

from atmp_analysis import figures, summary
from atmp_analysis.classify import CLASSES, rules
from atmp_analysis.config import REFERENCE_DIR
from atmp_analysis.disclosure import Suppressed, safe_with_known_margins
from atmp_analysis.report import Block, Report, esc
from atmp_analysis.summary import NOT_ANSWERED, PROJECTS

SECTIONS: dict[str, Callable[[Report], list[Block]]] = {}


def _section(name: str):
    def register(func):
        SECTIONS[name] = func
        return func

    return register


def section(report: Report, name: str) -> list[Block]:
    """The blocks of one section; ``KeyError`` names the sections there are."""
    if name not in SECTIONS:
        raise KeyError(f"no section {name!r}; sections: {', '.join(SECTIONS)}")
    return SECTIONS[name](report)


# -- the exhibits: one protected table each --------------------------------------------------


#: Exhibit name → (caption, additive: whether its totals are shown and protected).
EXHIBITS: dict[str, tuple[str, bool]] = {
    "classes": ("Projects by likely EU legal class", True),
    "platforms": ("Projects by technology platform (a project may use several)", False),
    "stages": ("Projects by development stage, with the technology readiness level", True),
    "funnel": ("Projects that have reached at least each stage", False),
    "trl": ("Projects by technology readiness level", True),
    "areas": ("Projects by therapeutic area", True),
    "origin": ("Projects by origin of the cells", True),
    "rare": ("Projects for a rare (orphan) disease", True),
    "class_stage": ("Projects by class and stage", True),
    "area_stage": ("Projects by therapeutic area and stage group", True),
    "first_patient": ("Projects by expected year of the first patient treated", True),
    "needs": ("Projects per support need (ticked, or named in the free text)", False),
    "needs_stage": ("Projects per support need and stage group", True),
    "needs_class": ("Projects per support need and class", True),
    "planning": ("Projects per support need and when they need it", True),
    "themes": ("Projects per theme of their biggest bottleneck", False),
    "regulatory": ("Projects per regulatory interaction so far", False),
    "manufacturing": ("Projects by manufacturing status", True),
    "manufacturer": ("Projects by planned manufacturer for clinical trials", True),
}


def _raw_counts(report: Report, name: str) -> pd.DataFrame:
    p = report.projects
    if name == "class_stage":
        if report.public:
            return summary.class_by_stage(p)
        return _class_by_short_stage(p)
    if name == "first_patient":
        return _first_patient(p, report.wave, banded=report.public)
    simple = {
        "classes": summary.by_class,
        "platforms": summary.by_platform,
        "stages": summary.by_stage,
        "funnel": summary.funnel,
        "trl": summary.by_trl,
        "areas": summary.by_area,
        "origin": summary.by_origin,
        "rare": summary.by_rare,
        "area_stage": summary.area_by_stage,
        "needs": summary.by_support_need,
        "needs_stage": summary.needs_by_stage,
        "needs_class": summary.needs_by_class,
        "planning": summary.needs_by_horizon,
        "themes": summary.by_theme,
        "regulatory": summary.by_regulatory,
        "manufacturing": summary.by_manufacturing,
        "manufacturer": summary.by_manufacturer,
    }
    return simple[name](p)


def _class_by_short_stage(projects: pd.DataFrame) -> pd.DataFrame:
    stages = summary.stages()
    short = projects["stage_code"].astype("Int64").map(dict(stages[["stage_code", "short"]].values))
    table = pd.crosstab(
        projects["atmp_class"].astype("string").to_numpy(),
        short.astype("string").fillna(NOT_ANSWERED).to_numpy(),
    )
    rows = [c for c in [*CLASSES, NOT_ANSWERED] if c in table.index]
    columns = [c for c in [*stages["short"], NOT_ANSWERED] if c in table.columns]
    table = table.reindex(index=rows, columns=columns).astype("int64")
    table.index.name, table.columns.name = "ATMP class", "Stage"
    return table


def _first_patient(projects: pd.DataFrame, wave: int, *, banded: bool) -> pd.DataFrame:
    """Expected year of the first patient by class; public reports use planning bands."""
    table = summary.fih_by_class(projects, wave)
    if not banded:
        return table
    index = pd.Series(table.index, index=table.index)
    years = pd.to_numeric(index, errors="coerce")
    band = index.where(years.isna(), "")
    band = band.mask(years <= wave + 2, f"{wave + 1}–{wave + 2}")
    band = band.mask((years > wave + 2) & (years <= wave + 5), f"{wave + 3}–{wave + 5}")
    band = band.mask((years > wave + 5) & (years <= wave + 10), f"{wave + 6}–{wave + 10}")
    out = table.groupby(band.to_numpy(), sort=False).sum()
    out.index.name = table.index.name
    return out


def protected(report: Report, name: str) -> Suppressed:
    """The table of one exhibit as the report's audience may see it."""
    if name == "funnel":
        return _funnel(report, protected(report, "stages"))
    shown = _protect(report, name)
    if name not in MULTI_ROWS:
        return shown
    # a project counts in several rows: the column sums count mentions, not projects
    return Suppressed(
        counts=shown.counts.drop(index="Total"),
        labels=shown.labels.drop(index="Total"),
        min_cell=shown.min_cell,
        n_primary=shown.n_primary,
        n_secondary=shown.n_secondary,
    )


#: Cross tables of a multi-select answer (rows) by a single answer (columns): each row adds
#: up (to the projects with that need, as the one-way table shows), the columns do not.
MULTI_ROWS = ("needs_stage", "needs_class", "planning")


def _protect(report: Report, name: str) -> Suppressed:
    return report.protect(_counts(report, name), margins=EXHIBITS[name][1])


def _counts(report: Report, name: str) -> pd.DataFrame:
    """The true counts of an exhibit (never shown as they are in a public report)."""
    counts = _raw_counts(report, name)
    return counts[[PROJECTS]] if name == "stages" else counts


def withheld(report: Report, name: str) -> bool:
    """Whether a public report leaves out a cross table as too sparse to publish.

    The one-way tables publish the row and column totals of a cross table; when, with those
    known, a hidden count could still be worked out, no suppression pattern of the cross
    table protects it, and the table (and its figure) is left out.
    """
    if not report.public or not EXHIBITS[name][1]:
        return False
    counts = _counts(report, name)
    if counts.shape[1] < 2:
        return False
    return not safe_with_known_margins(counts, _protect(report, name))


def exhibit_tables(report: Report) -> dict[str, tuple[pd.DataFrame, str]]:
    """Every exhibit's table as shown (text cells), with its caption: for ``tables/``."""
    out = {}
    for name, (caption, _) in EXHIBITS.items():
        if withheld(report, name):
            continue
        table = protected(report, name).labels
        if name == "stages":
            table = pd.concat([_trl_labels(report).reindex(table.index), table], axis=1)
        out[name] = (table, f"{caption}, {report.wave}")
    from atmp_analysis.sections_outlook import outlook_tables

    out.update(outlook_tables(report))
    return out


def _caption(report: Report, name: str) -> str:
    return f"{EXHIBITS[name][0]}, {report.centre}, {report.wave} survey."


def _table(report: Report, name: str, table: Suppressed | None = None, **kw) -> Block:
    table = table if table is not None else protected(report, name)
    return report.table_block(table, _caption(report, name), name, **kw)


def _figure(
    report: Report,
    name: str,
    table: Suppressed,
    draw,
    what: str,
    height: float = 3.5,
    kind: str | None = None,
) -> Block:
    alt = figures.describe(table.counts, table.labels, what=what, kind=kind)
    return report.figure_block(draw, _caption(report, name), name, alt, height=height)


def _height(table: Suppressed, per_row: float = 0.32, minimum: float = 2.2) -> float:
    rows = len([r for r in table.counts.index if r != "Total"])
    return max(minimum, 0.8 + per_row * rows)


# -- words -----------------------------------------------------------------------------------


def _n(label: str, min_cell: int | None) -> str:
    """A count for a sentence, as HTML: "13", or "fewer than 3" for a hidden one.

    >>> _n("<3", 3), _n("x", 3), _n("13", None)
    ('fewer than 3', 'an undisclosed number of', '13')
    """
    label = str(label)
    if label.startswith("<"):
        return f"fewer than {esc(label[1:])}"
    if label == "x":
        return "an undisclosed number of"
    return esc(label)


def listing(parts: list[str]) -> str:
    """Join phrases as English: "a, b and c".

    >>> listing(["13 GTMP", "7 TEP", "3 sCTMP"])
    '13 GTMP, 7 TEP and 3 sCTMP'
    """
    if not parts:
        return ""
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _visible_rows(table: Suppressed, column: str = PROJECTS, top: int | None = None):
    """(category, label) of a one-way table, largest visible first, hidden last; no total."""
    counts = table.counts[column].drop("Total", errors="ignore")
    counts = counts.drop(NOT_ANSWERED, errors="ignore")
    order = counts.astype("Float64").fillna(-1).sort_values(ascending=False, kind="stable")
    rows = [(k, str(table.labels.loc[k, column])) for k in order.index]
    return rows[:top] if top else rows


def _count(n: int, one: str, many: str) -> str:
    """A count with its noun: "1 cell was", "4 cells were"."""
    return f"{n} {one if n == 1 else many}"


def _plural(label: str, one: str, many: str) -> str:
    return one if label == "1" else many


# -- sections --------------------------------------------------------------------------------


@_section("summary")
def summary_section(report: Report) -> list[Block]:
    """The headline paragraph: respondents, projects, classes, platforms, stages, timing."""
    flow = summary.response_flow(report.responses)["Count"]
    classes = protected(report, "classes")
    platforms = protected(report, "platforms")
    stages = protected(report, "stages")
    mc = report.min_cell
    n_projects = classes.labels.loc["Total", PROJECTS]
    respondents = int(flow["Respondents"])
    none = int(flow["Respondents on no ATMP project"])
    people = (
        f"In the {report.wave} survey of {esc(report.centre)}, {respondents} researchers "
        f"answered; {respondents - none} of them work on an ATMP project and {none} on none. "
        if not report.public
        else f"In the {report.wave} survey of {esc(report.centre)}, {respondents} researchers "
        "answered. "
    )
    class_words = listing([f"{_n(v, mc)} {esc(k)}" for k, v in _visible_rows(classes)])
    first = (
        f"{people}Their answers describe <strong>{_n(n_projects, mc)} ongoing ATMP projects"
        "</strong>. "
        f"By EU legal class the answers point to {class_words}."
    )
    named = {
        "AAV": "AAV",
        "lentiviral": "lentiviral vectors",
        "pluripotent stem cell": "pluripotent stem cells",
    }
    platform_words = [
        f"{_n(platforms.labels.loc[k, PROJECTS], mc)} on {words}"
        for k, words in named.items()
        if k in platforms.labels.index
    ]
    others = [
        f"{esc(k)} ({_n(v, mc)})"
        for k, v in _visible_rows(platforms, top=8)
        if k not in named and not str(v).startswith("<") and v != "x"
    ]
    second = ""
    if platform_words:
        head, *rest = platform_words
        count, words = head.split(" on ", 1)
        noun = _plural(count, "project builds", "projects build")
        second = "By platform, " + listing([f"{count} {noun} on {words}", *rest]) + "."
    if others:
        second += f" Other platforms: {listing(others)}."
    third = _stage_sentence(report, stages)
    fourth = _timing_sentence(report)
    return [report.prose(first, second, third, fourth)]


def _stage_sentence(report: Report, stages: Suppressed) -> str:
    mc = report.min_cell
    table = summary.stages()
    clinical = table.loc[table["stage_code"] >= 7, "short"].tolist()
    shown = [s for s in clinical if s in stages.labels.index]
    cross = protected(report, "class_stage")
    parts = []
    if shown:
        words = listing([f"{_n(stages.labels.loc[s, PROJECTS], mc)} in {esc(s)}" for s in shown])
        parts.append(f"In the clinic: {words}")
        if not report.public:
            p = report.projects
            codes = p["stage_code"].astype("Int64")
            clinic = p[codes >= 7]
            named = listing(
                [
                    f"{esc(a)}, a {esc(c)} in {esc(str(area).lower())}"
                    for a, c, area in clinic[["acronym", "atmp_class", "ther_area"]].to_numpy()
                ]
            )
            parts[-1] += f": {named}"
    else:
        parts.append("No project is in clinical trials yet")
    column = "Preclinical and CTA-enabling" if report.public else "Preclinical development"
    if withheld(report, "class_stage"):
        column = None
    if column in cross.labels.columns and cross.counts.loc["Total", column] is not pd.NA:
        col = cross.labels[column].drop(["Total", NOT_ANSWERED], errors="ignore")
        by_class = [f"{esc(v)} {esc(k)}" for k, v in col.items() if str(v).isdigit() and v != "0"]
        stage_words = (
            "in preclinical or CTA-enabling studies"
            if report.public
            else "in preclinical development"
        )
        total = cross.labels.loc["Total", column]
        words = f": {listing(by_class)}" if by_class else ""
        parts.append(f"{esc(total)} projects are {stage_words}{words}")
    return "; ".join(parts) + "."


def _timing_sentence(report: Report) -> str:
    fp = protected(report, "first_patient")
    mc = report.min_cell
    labels = fp.labels["Total"] if "Total" in fp.labels.columns else fp.labels.iloc[:, 0]
    wave = report.wave
    if report.public:
        band = f"{wave + 3}–{wave + 5}"
        soon = [f"{wave + 1}–{wave + 2}", band]
        got = [f"{_n(labels[b], mc)} in {b}" for b in soon if b in labels.index]
        if not got:
            return "No project expects to treat a patient within five years."
        return (
            "Expected first patient treated: " + listing(got) + " (the researchers' own estimates)."
        )
    years = pd.to_numeric(pd.Series(labels.index, index=labels.index), errors="coerce")
    counts = pd.to_numeric(labels, errors="coerce")
    within5 = int(counts[(years > wave) & (years <= wave + 5)].sum())
    within2 = int(counts[(years > wave) & (years <= wave + 2)].sum())
    already = int(counts.get(f"by {wave}", 0))
    return (
        f"By the researchers' own estimates, {within2} "
        f"{_plural(str(within2), 'project', 'projects')} will treat a first patient by "
        f"{wave + 2} and {within5} by {wave + 5}"
        + (f"; {already} already {_plural(str(already), 'has', 'have')}." if already else ".")
    )


@_section("classes")
def classes_section(report: Report) -> list[Block]:
    """Projects by EU legal class: figure, table, and what the class is."""
    table = protected(report, "classes")
    colours = figures.palette("atmp_class")
    undetermined = report.count(table, "undetermined")
    note = (
        "The class is the one the answers point to under Regulation (EC) No 1394/2007 Art. 2 "
        "and Directive 2001/83/EC Annex I Part IV, by the rules in the appendix. It is advice, "
        "not a verdict: the EMA's Committee for Advanced Therapies classifies products. "
        f"Projects whose answers do not settle the class are counted as undetermined "
        f"({_n(undetermined, report.min_cell)} this year)."
    )
    return [
        _figure(
            report,
            "classes",
            table,
            lambda ax: figures.bar_counts(
                table.counts, ax=ax, labels=table.labels, colours=colours
            ),
            "projects by ATMP class",
            height=_height(table),
        ),
        _table(report, "classes", table),
        report.prose(note, note=True),
    ]


@cache
def benchmarks() -> pd.DataFrame:
    """Published shares other mappings report (``data/reference/benchmarks.csv``)."""
    return pd.read_csv(REFERENCE_DIR / "benchmarks.csv")


@_section("benchmark")
def benchmark_section(report: Report) -> list[Block]:
    """This centre's class and oncology shares beside the UK Catapult's clinical trials."""
    classes = protected(report, "classes")
    areas = protected(report, "areas")
    bench = benchmarks()
    rows = []
    for measure, table in (("atmp_class", classes), ("ther_area", areas)):
        total = table.counts.loc["Total", PROJECTS]
        for category in bench.loc[bench["measure"] == measure, "category"]:
            value = table.counts[PROJECTS].get(category, 0)
            share = (
                float("nan")
                if pd.isna(value) or pd.isna(total)
                else round(100 * int(value) / int(total), 0)
            )
            rows.append((category, share))
    ours = pd.Series(dict(rows), name=f"This centre {report.wave} (all stages)")
    theirs = bench.set_index("category")["share_percent"].astype(float)
    source = bench["source"].iloc[0]
    label = f"{source} {bench['year'].iloc[0]} (clinical trials)"
    data = pd.DataFrame({ours.name: ours, label: theirs.reindex(ours.index)})
    data.index.name = "Category"
    text = data.map(lambda v: "n/a" if pd.isna(v) else f"{v:.0f}%")
    caption = (
        f"Share of projects by class and in oncology: {report.centre} {report.wave} beside "
        f"the {source}'s UK ATMP clinical trials {bench['year'].iloc[0]}."
    )
    figure = report.figure_block(
        lambda ax: figures.grouped_shares(data, ax=ax),
        caption,
        "benchmark",
        "Grouped bars of shares (%): "
        + "; ".join(f"{k}: " + ", ".join(text.loc[k]) for k in text.index),
        height=2.8,
    )
    table = report.table_block(text, caption, "benchmark")
    note = report.prose(
        "The UK figures count clinical trials (mostly commercial, 81%), while this survey "
        "counts academic projects at every stage, most of them before the clinic; the "
        "comparison shows the mix, not performance. Source: "
        + esc(bench["citation"].iloc[0])
        + ".",
        note=True,
    )
    return [figure, table, note]


def _one_way(report: Report, name: str, what: str, *, colours=None) -> list[Block]:
    """A bar chart and its table; one neutral colour unless the categories have a palette
    (class and stage colours mean class and stage only, in every figure)."""
    table = protected(report, name)
    colour = None if colours else figures.palette("series")["1"]
    return [
        _figure(
            report,
            name,
            table,
            lambda ax: figures.bar_counts(
                table.counts, ax=ax, labels=table.labels, colours=colours, colour=colour
            ),
            what,
            height=_height(table),
        ),
        _table(report, name, table),
    ]


@_section("platforms")
def platforms_section(report: Report) -> list[Block]:
    """Technology platforms (vectors, editing tools, cell types, devices)."""
    return _one_way(report, "platforms", "projects by platform")


def _stage_colours() -> dict[str, str]:
    stages = summary.stages()
    codes = figures.palette("stage")
    return {short: codes[str(code)] for code, short in stages[["stage_code", "short"]].values}


@_section("stages")
def stages_section(report: Report) -> list[Block]:
    """Development stages with TRL, and the stage funnel."""
    table = protected(report, "stages")
    funnel = protected(report, "funnel")
    colours = _stage_colours()
    return [
        _figure(
            report,
            "stages",
            table,
            lambda ax: figures.bar_counts(
                table.counts, ax=ax, labels=table.labels, colours=colours
            ),
            "projects by development stage",
            height=_height(table),
        ),
        _table(report, "stages", table, extra=_trl_labels(report).to_frame()),
        _figure(
            report,
            "funnel",
            funnel,
            lambda ax: figures.funnel(funnel.counts, ax=ax, labels=funnel.labels, colours=colours),
            "stage funnel, projects that reached at least each stage",
            height=_height(funnel),
        ),
        report.prose(
            "Stages map to technology readiness levels for therapeutics (NIH/HHS scale, as "
            "used by NHLBI Catalyze; sources differ on TRL 7). The funnel counts every "
            "project at or beyond each stage.",
            note=True,
        ),
    ]


def _trl_labels(report: Report) -> pd.Series:
    """The readiness level of each stage row as text ("TRL 4"): a level, not a count."""
    trl = summary.by_stage(report.projects)["TRL"]
    return trl.map(lambda t: f"TRL {t}", na_action="ignore").astype("string").rename("TRL")


def _funnel(report: Report, stages: Suppressed) -> Suppressed:
    """The funnel from the stage table as shown: a cumulative count is shown only where it
    can be worked out from the visible stage counts, so it reveals no hidden one."""
    raw = summary.funnel(report.projects)
    if not report.public:
        return report.protect(raw, margins=False)
    shown = stages.counts[PROJECTS].drop(["Total", NOT_ANSWERED], errors="ignore")
    order = list(raw.index)
    per_stage = shown.reindex(order)  # absent stages: zero, known to the reader
    per_stage = per_stage.where(per_stage.index.isin(shown.index), 0)
    total = stages.counts.loc["Total", PROJECTS]
    from_top = per_stage[::-1].cumsum(skipna=False)[::-1]
    below = per_stage.cumsum(skipna=False).shift(1, fill_value=0)
    from_bottom = total - below if not pd.isna(total) else below * pd.NA
    value = from_top.fillna(from_bottom).astype("Int64")
    small = value < report.min_cell
    counts = value.mask(small.fillna(False)).to_frame(PROJECTS)
    labels = counts[PROJECTS].astype("string").fillna("x")
    labels = labels.mask(small.fillna(False), f"<{report.min_cell}").to_frame(PROJECTS)
    return Suppressed(
        counts=counts,
        labels=labels,
        min_cell=report.min_cell,
        n_primary=int(small.fillna(False).sum()),
        n_secondary=int(value.isna().sum()),
    )


@_section("trl")
def trl_section(report: Report) -> list[Block]:
    """Projects by technology readiness level (table only)."""
    return [_table(report, "trl")]


@_section("areas")
def areas_section(report: Report) -> list[Block]:
    """Therapeutic areas."""
    return _one_way(report, "areas", "projects by therapeutic area")


@_section("origin")
def origin_section(report: Report) -> list[Block]:
    """Where the cells come from, and rare diseases."""
    return [
        *_one_way(report, "origin", "projects by origin of the cells"),
        _table(report, "rare"),
    ]


def _withheld_note(report: Report, name: str) -> list[Block]:
    return [
        report.prose(
            f"{esc(EXHIBITS[name][0])}: left out of the public report. With the "
            "totals shown in the other tables, too few projects fall in each cell to "
            "show it without the risk of identifying a project.",
            note=True,
        )
    ]


def _stacked(table: Suppressed, colours: dict[str, str], legend_title: str):
    """Draw a protected table as stacked bars (columns stacked, in the given colours)."""
    return lambda ax: figures.stacked_bars(
        table.counts, ax=ax, colours=colours, labels=table.labels, legend_title=legend_title
    )


def _heatmap(report: Report, name: str, what: str, xlabel: str, ylabel: str) -> list[Block]:
    if withheld(report, name):
        return _withheld_note(report, name)
    table = protected(report, name)
    rows = len(table.counts.index)
    return [
        _figure(
            report,
            name,
            table,
            lambda ax: figures.heatmap(
                table.counts, ax=ax, labels=table.labels, xlabel=xlabel, ylabel=ylabel
            ),
            what,
            height=max(2.6, 1.4 + 0.36 * rows),
        ),
        _table(report, name, table),
    ]


@_section("class_stage")
def class_stage_section(report: Report) -> list[Block]:
    """Class × stage heatmap."""
    return _heatmap(report, "class_stage", "projects by class and stage", "Stage", "")


@_section("area_stage")
def area_stage_section(report: Report) -> list[Block]:
    """Therapeutic area × stage group heatmap."""
    return _heatmap(report, "area_stage", "projects by therapeutic area and stage", "Stage", "")


@_section("first_patient")
def first_patient_section(report: Report) -> list[Block]:
    """When the projects expect to treat their first patient, by class."""
    table = protected(report, "first_patient")
    colours = figures.palette("atmp_class")
    return [
        report.prose(_timing_sentence(report)),
        _figure(
            report,
            "first_patient",
            table,
            _stacked(table, colours, "ATMP class"),
            "projects by expected year of first patient, stacked by class",
            height=3.2,
            kind="Stacked bar chart",
        ),
        _table(report, "first_patient", table),
    ]


@_section("needs")
def needs_section(report: Report) -> list[Block]:
    """Support needs: what the projects ask the centre for."""
    table = protected(report, "needs")
    top = _visible_rows(table, top=3)
    words = listing([f"{esc(k.lower())} ({_n(v, report.min_cell)})" for k, v in top])
    return [
        report.prose(f"The needs named most often are {words}." if top else ""),
        *_one_way(report, "needs", "projects per support need"),
    ]


@_section("needs_stage")
def needs_stage_section(report: Report) -> list[Block]:
    """Support needs by stage group."""
    return _heatmap(report, "needs_stage", "support needs by stage", "Stage", "")


@_section("needs_class")
def needs_class_section(report: Report) -> list[Block]:
    """Support needs by class."""
    return _heatmap(report, "needs_class", "support needs by class", "Class", "")


@_section("planning")
def planning_section(report: Report) -> list[Block]:
    """What the facility must plan for within 1–2, 3–5 and 5–10 years."""
    if withheld(report, "planning"):
        return _withheld_note(report, "planning")
    table = protected(report, "planning")
    colours = dict(figures.palette("horizon"))
    colours.setdefault("not known", figures.palette("series")["3"])
    sentences = []
    for horizon in summary.HORIZONS:
        if horizon not in table.labels.columns:
            continue
        column = table.counts[horizon].drop(["Total"], errors="ignore")
        top = column.astype("Float64").fillna(-1).sort_values(ascending=False).head(3)
        items = [
            f"{esc(k.lower())} ({_n(table.labels.loc[k, horizon], report.min_cell)})"
            for k, v in top.items()
            if v != 0
        ]
        if items:
            sentences.append(f"Within {esc(horizon)}: {listing(items)}.")
    lead = (
        "What the facility must plan for, by when the projects say they need the support "
        "(projects per need; the three largest per horizon): " + " ".join(sentences)
    )
    return [
        report.prose(lead),
        _figure(
            report,
            "planning",
            table,
            _stacked(table, colours, "Needed within"),
            "support needs stacked by when they are needed",
            height=_height(table, 0.34),
            kind="Stacked bar chart",
        ),
        _table(report, "planning", table),
    ]


@_section("bottlenecks")
def bottlenecks_section(report: Report) -> list[Block]:
    """Themes of the biggest bottleneck; internal reports quote the answers."""
    blocks = _one_way(report, "themes", "projects per bottleneck theme")
    if report.public:
        return blocks
    p = report.projects[["acronym", "bottleneck_themes", "bottleneck"]].dropna(
        subset=["bottleneck"]
    )
    quotes = pd.DataFrame(
        {
            "Themes": p["bottleneck_themes"].fillna("—").str.replace(";", "; ").to_numpy(),
            "In the respondents' words": p["bottleneck"].to_numpy(),
        },
        index=pd.Index(p["acronym"].to_numpy(), name="Project"),
    )
    caption = f"The biggest bottleneck in the respondents' words, {report.wave} (internal)."
    return [*blocks, report.table_block(quotes, caption, "bottleneck_quotes")]


@_section("regulatory")
def regulatory_section(report: Report) -> list[Block]:
    """Regulatory interactions so far."""
    return _one_way(report, "regulatory", "projects per regulatory interaction")


@_section("manufacturing")
def manufacturing_section(report: Report) -> list[Block]:
    """Manufacturing status and the planned manufacturer."""
    return [
        *_one_way(report, "manufacturing", "projects by manufacturing status"),
        *_one_way(report, "manufacturer", "projects by planned manufacturer"),
    ]


@_section("projects")
def projects_section(report: Report) -> list[Block]:
    """Every project in one line (internal reports only: a listing identifies projects)."""
    if report.public:
        return [report.prose("Per-project listings are left out of the public report.", note=True)]
    p = report.projects.sort_values(["stage_code", "acronym"], ascending=[False, True])
    short = (
        p["stage_code"].astype("Int64").map(dict(summary.stages()[["stage_code", "short"]].values))
    )
    listing_table = pd.DataFrame(
        {
            "Class": p["atmp_class"].to_numpy(),
            "Stage": short.to_numpy(),
            "Platforms": p["platforms"].fillna("—").str.replace(";", "; ").to_numpy(),
            "Therapeutic area": p["ther_area"].fillna("—").to_numpy(),
            "First patient": p["fih_year"]
            .astype("Float64")
            .astype("Int64")
            .astype("string")
            .fillna("—")
            .to_numpy(),
        },
        index=pd.Index(p["acronym"].to_numpy(), name="Project"),
    )
    caption = f"The {len(p)} projects of the {report.wave} survey, furthest stage first."
    return [report.table_block(listing_table, caption, "projects")]


@_section("quality")
def quality_section(report: Report) -> list[Block]:
    """How the answers became projects, and what needed attention."""
    flow = summary.response_flow(report.responses)
    conflicts = int(report.projects["conflicts"].notna().sum())
    quality = report.data.quality
    files = set(report.responses["source_file"].astype("string").dropna())
    flagged = quality[
        quality["file"].astype("string").str.replace(r".*[\\/]", "", regex=True).isin(files)
    ]
    unrecognised = report.data.unrecognised
    if "wave" in unrecognised:
        unrecognised = unrecognised[unrecognised["wave"] == report.wave]
    undetermined = int((report.projects["atmp_class"] == "undetermined").sum())
    text = (
        f"{conflicts} of {len(report.projects)} projects had respondents who disagreed on at "
        "least one answer; the lead's answer, else the most common one, was used. "
        f"{_count(len(flagged), 'cell was', 'cells were')} flagged while reading this wave's "
        f"exports; {_count(len(unrecognised), 'free-text answer', 'free-text answers')} "
        f"matched no vocabulary term; {_count(undetermined, 'project', 'projects')} could "
        "not be classified from the answers."
    )
    if report.public:
        text = (
            "Several people may answer for one project; their answers are merged, the "
            "lead's answer taking precedence. Test and duplicate submissions are set aside."
        )
    shown = report.protect(flow, margins=False)
    caption = f"From forms to projects, {report.wave} survey."
    return [report.table_block(shown, caption, "response_flow"), report.prose(text)]


# -- appendix --------------------------------------------------------------------------------


@_section("method")
def method_section(report: Report) -> list[Block]:
    """How the numbers were made, and the disclosure rule."""
    return [
        report.prose(
            "Each form is read from the survey tool's export, cleaned to the instrument's "
            "codes, pseudonymised with a keyed hash (names and e-mail addresses never leave "
            "the data step) and merged into projects. The EU legal class, the platforms and "
            "the needs are derived from the answers, with free text used only where an "
            'answer is missing or "Don\'t know".',
            esc(report.disclosure_rule)
            + (
                " Free-text quotes and per-project listings are left out."
                if report.public
                else " This report is internal: it shows every count but no personal data."
            ),
        )
    ]


@_section("rules")
def rules_section(report: Report) -> list[Block]:
    """The classification rules in their order, with their legal references."""
    table = rules().table
    shown = pd.DataFrame(
        {
            "Class": table["atmp_class"].to_numpy(),
            "When": table["conclusion"].to_numpy(),
            "Legal reference": table["citation"].to_numpy(),
        },
        index=pd.Index(table["rule"].to_numpy(), name="Rule"),
    )
    caption = "The classification rules, applied in this order (the first that fits decides)."
    return [report.table_block(shown, caption, "rules")]


@_section("glossary")
def glossary_section(report: Report) -> list[Block]:
    """The categories the report uses."""
    terms = {
        "GTMP": "Gene therapy medicinal product: a recombinant nucleic acid whose effect comes "
        "directly from its sequence or product (Reg. 1394/2007; Dir. 2001/83/EC Annex I "
        "Part IV 2.1). Vaccines against infectious diseases are excluded.",
        "sCTMP": "Somatic cell therapy medicinal product: substantially manipulated cells, or "
        "cells used for another essential function, acting pharmacologically, "
        "immunologically or metabolically (Annex I Part IV 2.2).",
        "TEP": "Tissue-engineered product: engineered cells or tissues that regenerate, repair "
        "or replace a human tissue (Reg. 1394/2007 Art. 2(1)(b)).",
        "cATMP": "Combined ATMP: an ATMP with a medical device as an integral part (Art. 2(1)(d)).",
        "not ATMP": "Minimally manipulated cells for the same essential function, or no "
        "cells, genes or tissues.",
        "undetermined": "The answers fit more than one class; the reason names the questions "
        "that would settle it.",
        "TRL": "Technology readiness level for therapeutics (NIH/HHS scale): 2 discovery, "
        "3 proof of concept, 4 preclinical, 5 CTA-enabling, 6 Phase I, 7 Phase II, "
        "8 Phase III, 9 authorised.",
        "Stage group": "Discovery and proof of concept (stages 1–3); preclinical and "
        "CTA-enabling (4–5); clinical trial application and Phase I (6–8); Phase II and "
        "later (9–11).",
        "Support horizon": "When the project expects to need the support: within 1–2, "
        "3–5 or 5–10 years.",
    }
    table = pd.DataFrame(
        {"Meaning": list(terms.values())}, index=pd.Index(list(terms), name="Term")
    )
    return [report.table_block(table, "Glossary of the categories.", "glossary")]


@_section("provenance")
def provenance_section(report: Report) -> list[Block]:
    """Sources, parameters and versions (from the build's provenance record)."""
    record = report.provenance or {}
    inputs = record.get("inputs", [])
    sources = pd.DataFrame(
        {
            "sha256": [i["sha256"][:16] + "…" for i in inputs],
            "bytes": [str(i["bytes"]) for i in inputs],
        },
        index=pd.Index([i["name"] for i in inputs], name="Input file"),
    )
    params = record.get("parameters", {})
    versions = record.get("versions", {})
    settings = pd.DataFrame(
        {"Value": [str(v) for v in {**params, **versions}.values()]},
        index=pd.Index([*params, *versions], name="Setting"),
    )
    blocks = []
    if len(sources):
        blocks.append(report.table_block(sources, "Survey exports read.", "sources"))
    if len(settings):
        blocks.append(report.table_block(settings, "Parameters and software versions.", "settings"))
    commit = record.get("git_commit")
    blocks.append(
        report.prose(
            f"Built {esc(record.get('started', ''))} by atmp-analysis"
            + (f" at commit {esc(commit[:12])}" if commit else "")
            + ". The manifest.json beside this report lists every output with its sha256.",
            note=True,
        )
    )
    return blocks


# -- the analyst's data-quality notebook (internal) -----------------------------------------


def _internal_only(report: Report) -> list[Block] | None:
    if report.public:
        return [report.prose("Shown in internal reports only.", note=True)]
    return None


@_section("flagged_cells")
def flagged_cells_section(report: Report) -> list[Block]:
    """Every cell flagged while reading the exports: file, row, column, value, problem."""
    if (hidden := _internal_only(report)) is not None:
        return hidden
    q = report.data.quality
    if q.empty:
        return [report.prose("No cell was flagged while reading the exports.")]
    counts = q.groupby(["severity", "problem"]).size().rename("Cells").reset_index()
    counts.index = pd.Index(counts.pop("severity").to_numpy(), name="Severity")
    counts["Cells"] = counts["Cells"].astype("string")
    listing_table = q.set_index("file")
    listing_table.index.name = "File"
    return [
        report.table_block(counts, "Flagged cells by problem.", "flagged_by_problem"),
        report.table_block(
            listing_table.astype("string").fillna(""),
            "Every flagged cell, with the row as the file shows it.",
            "flagged_cells",
        ),
    ]


@_section("unrecognised")
def unrecognised_section(report: Report) -> list[Block]:
    """Free-text answers in which no vocabulary term was recognised."""
    if (hidden := _internal_only(report)) is not None:
        return hidden
    u = report.data.unrecognised
    if "wave" in u:
        u = u[u["wave"] == report.wave]
    if u.empty:
        return [report.prose("Every free-text answer matched a vocabulary term.")]
    table = u.drop(columns=[c for c in ("wave", "project_id") if c in u]).astype("string")
    table = table.set_index(table.columns[0])
    caption = "Free-text answers no vocabulary recognised (add terms to data/vocab/)."
    return [report.table_block(table.fillna(""), caption, "unrecognised")]


@_section("missing")
def missing_section(report: Report) -> list[Block]:
    """Per question: project forms that were shown it and left it empty or "Don't know"."""
    if (hidden := _internal_only(report)) is not None:
        return hidden
    m = report.data.missing
    m = m[(m["wave"] == report.wave) & (m["shown"] > 0)]
    m = m[(m["not answered"] > 0) | (m["don't know"] > 0)]
    if m.empty:
        return [report.prose("Every question shown was answered.")]
    table = m.set_index("variable")[
        ["question", "shown", "not answered", "don't know", "answered (%)"]
    ].astype("string")
    table.index.name = "Question"
    caption = (
        'Questions left unanswered or answered "Don\'t know" (project forms that showed them).'
    )
    return [report.table_block(table.fillna(""), caption, "missing_answers")]


@_section("conflicts")
def conflicts_section(report: Report) -> list[Block]:
    """On which answers the respondents of one project disagreed."""
    if (hidden := _internal_only(report)) is not None:
        return hidden
    fields = summary._exploded(report.projects["conflicts"]).dropna().value_counts()
    if fields.empty:
        return [report.prose("The respondents of each project agreed on every answer.")]
    table = fields.astype("string").to_frame("Projects")
    table.index.name = "Answer"
    caption = "Answers on which a project's respondents disagreed (the lead's answer was used)."
    return [report.table_block(table, caption, "conflicts")]


# the progress-and-outlook sections register themselves in SECTIONS
from atmp_analysis import sections_outlook  # noqa: E402, F401
