"""The HTML page a reviewer opens: a first, minimal report from the processed tables.

Self-contained (no script, style or font fetched), every value escaped. The full report with
notebooks and figures is built on these tables.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

import pandas as pd

from atmp_analysis.atomic import atomic_write
from atmp_analysis.classify import CLASSES
from atmp_analysis.derive import unrecognised_values

STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:60rem;margin:2rem auto;
padding:0 1rem;color:#1b1b1b;line-height:1.5}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0 1rem}caption{text-align:left;font-weight:600;
padding:.25rem 0}th,td{padding:.25rem .75rem;border-bottom:1px solid #e5e5e5;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}.note{color:#555;font-size:.9rem}
"""


def _table(counts: pd.Series, caption: str, label: str) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td class='n'>{int(v)}</td></tr>"
        for k, v in counts.items()
    )
    return (
        f"<table><caption>{html.escape(caption)}</caption><thead><tr><th scope='col'>"
        f"{html.escape(label)}</th><th scope='col'>Projects</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _cells(n: int) -> str:
    return "1 cell was" if n == 1 else f"{n} cells were"


def _answers(n: int) -> str:
    return "1 answer" if n == 1 else f"{n} answers"


def _explode(column: pd.Series) -> pd.Series:
    return column.dropna().str.split(";").explode().value_counts()


def render(
    responses: pd.DataFrame,
    projects: pd.DataFrame,
    quality: pd.DataFrame,
    *,
    centre: str,
    generated: dt.datetime | None = None,
) -> str:
    """Render the summary page for the most recent wave, all numbers from the tables."""
    generated = generated or dt.datetime.now(dt.UTC)
    wave = int(projects["wave"].max()) if len(projects) else int(responses["wave"].max())
    p = projects[projects["wave"] == wave]
    r = responses[responses["wave"] == wave]
    statuses = r["status"].value_counts()
    real = r[r["status"] != "test response"]
    n_respondents = real["respondent_id"].nunique() + int(
        (real["respondent_id"].isna() & (real["status"] == "no ATMP project")).sum()
    )
    stage = p.groupby(["stage_code", "stage"]).size().reset_index(name="n")
    stage = pd.Series(stage["n"].to_numpy(), index=stage["stage"])
    summary = (
        f"In the {wave} survey, {n_respondents} people answered {len(r)} forms; "
        f"{statuses.get('project', 0)} of these describe an ongoing ATMP project, and they "
        f"merge into <strong>{len(p)} projects</strong>. "
        f"{statuses.get('no ATMP project', 0)} respondents work on no ATMP project; "
        f"{statuses.get('test response', 0)} test and {statuses.get('duplicate submission', 0)} "
        "duplicate submissions were set aside (they remain in responses.csv)."
    )
    conflicts = int(p["conflicts"].notna().sum())
    classes = p["atmp_class"].value_counts().reindex(list(CLASSES)).dropna().astype(int)
    waves = ", ".join(str(w) for w in sorted(projects["wave"].unique()))
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{html.escape(centre)}: ATMP pipeline {wave}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(centre)}: ATMP pipeline survey {wave}</h1>",
        f"<p>{summary}</p>",
        "<h2>EU legal class</h2>",
        _table(classes, f"Table 1. Projects by likely ATMP class, {wave}", "Class"),
        "<p class='note'>The class each project's answers point to under Regulation (EC) "
        "No 1394/2007 Art. 2 and Directive 2001/83/EC Annex I Part IV, with its rule path in "
        "projects.csv (atmp_class_reason). It is advice, not a verdict: the EMA's Committee "
        "for Advanced Therapies gives the classification.</p>",
        "<h2>Development stage</h2>",
        _table(stage, f"Table 2. Projects by development stage, {wave}", "Stage"),
        "<h2>Platforms</h2>",
        _table(
            _explode(p["platforms"]),
            f"Table 3. Projects by platform, {wave} (a project may use several)",
            "Platform",
        ),
        "<h2>Therapeutic area</h2>",
        _table(
            p["ther_area"].value_counts(), f"Table 4. Projects by therapeutic area, {wave}", "Area"
        ),
        "<h2>Support needs</h2>",
        _table(
            _explode(p["support_needs"]),
            f"Table 5. Support needs, {wave} (ticked, or named in the free text)",
            "Need",
        ),
        "<h2>Bottlenecks</h2>",
        _table(
            _explode(p["bottleneck_themes"]),
            f"Table 6. Themes of the biggest bottleneck, {wave}",
            "Theme",
        ),
        "<h2>Data quality</h2>",
        f"<p>{conflicts} of {len(p)} projects had respondents who disagreed on at least one "
        f"answer (the lead's answer, else the majority, was used). "
        f"{_cells(len(quality))} flagged while reading the exports (see data_quality.csv). "
        f"{_answers(len(unrecognised_values(p)))} of free text matched no vocabulary term "
        "(see unrecognised_values.csv).</p>",
        f"<p class='note'>Survey waves in the data: {html.escape(waves)}. Generated "
        f"{generated:%Y-%m-%d %H:%M} UTC by atmp-analysis. Respondents and projects are "
        "pseudonymised; no names or e-mail addresses are shown.</p>",
        "</body></html>",
    ]
    return "\n".join(parts)


def write_report(text: str, path: Path) -> Path:
    """Write the page atomically (a failed run leaves the previous report in place)."""
    with atomic_write(path) as handle:
        handle.write(text)
    return path
