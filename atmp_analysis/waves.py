"""Year over year: each project across the survey waves.

A centre repeats its mapping every year "to track progress and judge how well the
infrastructure works". From ``projects.csv`` of several waves (one row per project and wave,
``project_id`` stable across waves) this module tells, vectorised over the whole table:

- :func:`presence`: per wave, each project known so far as ``new``, ``continuing``,
  ``re-appearing`` or ``not reported`` (seen before, absent now: stopped, or its people did
  not answer; a survey cannot tell the two apart), and :func:`presence_counts` per wave;
- :func:`transitions`: per project and pair of consecutive waves in which it was reported,
  the stage then and now and whether it ``advanced``, ``stayed`` or went ``back``;
  :func:`transition_table` crosses stage then with stage now;
- :func:`stalled`: projects reported at the same stage in two or more waves in a row;
- :func:`time_in_stage`: per stage, how many waves the projects were seen at it;
- :func:`first_patient_check`: whether projects that expected their first patient by the
  next wave got there, and how far their expected year moved.

Waves are the survey years that hold any project; a wave with no project at all is not a
wave. Stage codes are the instrument's 1–11 (``stage_trl.csv``); a project without a stage
in one of two waves has no transition between them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: The first stage code of clinical development (Phase I): reaching it is first in human.
FIRST_IN_HUMAN_STAGE = 7
#: Outcomes of :func:`presence`, in report order.
PRESENCE = ("new", "continuing", "re-appearing", "not reported")
#: Outcomes of :func:`transitions`.
MOVES = ("advanced", "stayed", "back")


def waves(projects: pd.DataFrame) -> list[int]:
    """The survey waves of the table, oldest first."""
    return sorted(int(w) for w in projects["wave"].dropna().unique())


def presence(projects: pd.DataFrame) -> pd.DataFrame:
    """Every project known by each wave, and how it stands in that wave.

    Returns
    -------
    DataFrame
        ``project_id``, ``wave``, ``presence`` (one of :data:`PRESENCE`) and
        ``first_wave``: one row per project and wave from its first wave on.

    Examples
    --------
    >>> table = pd.DataFrame({"project_id": ["A", "A", "B", "C", "C"],
    ...                       "wave": [2021, 2022, 2022, 2021, 2023]})
    >>> presence(table).pivot(index="project_id", columns="wave", values="presence")
    ... # doctest: +NORMALIZE_WHITESPACE
    wave       2021          2022          2023
    project_id
    A           new    continuing  not reported
    B           NaN           new  not reported
    C           new  not reported  re-appearing
    """
    all_waves = waves(projects)
    seen = projects[["project_id", "wave"]].dropna().drop_duplicates()
    seen = seen.assign(wave=seen["wave"].astype(int), reported=True)
    first = seen.groupby("project_id")["wave"].min().rename("first_wave")
    grid = pd.MultiIndex.from_product(
        [first.index, all_waves], names=["project_id", "wave"]
    ).to_frame(index=False)
    grid = grid.merge(first, on="project_id").query("wave >= first_wave")
    grid = grid.merge(seen, on=["project_id", "wave"], how="left")
    reported = grid["reported"].fillna(False).astype(bool)
    grid = grid.sort_values(["project_id", "wave"], kind="stable")
    before = reported.groupby(grid["project_id"]).shift(1, fill_value=False).astype(bool)
    label = np.select(
        [
            grid["wave"] == grid["first_wave"],
            reported & before,
            reported & ~before,
        ],
        ["new", "continuing", "re-appearing"],
        default="not reported",
    )
    out = grid.assign(presence=pd.Categorical(label, categories=PRESENCE))
    return out[["project_id", "wave", "presence", "first_wave"]].reset_index(drop=True)


def presence_counts(projects: pd.DataFrame) -> pd.DataFrame:
    """Projects per wave that are new, continuing, re-appearing or not reported.

    One row per wave, a column per outcome, and ``reported`` (projects in that wave's
    answers). The first wave's projects are all new.
    """
    table = presence(projects)
    counts = pd.crosstab(table["wave"], table["presence"]).reindex(
        columns=list(PRESENCE), fill_value=0
    )
    counts["reported"] = counts[["new", "continuing", "re-appearing"]].sum(axis=1)
    counts.columns.name = None
    return counts


def transitions(projects: pd.DataFrame) -> pd.DataFrame:
    """Each project's stage in consecutive waves it was reported in, and the move.

    Returns
    -------
    DataFrame
        ``project_id``, ``wave_from``, ``wave_to``, ``years`` (between the two),
        ``stage_from``, ``stage_to`` (codes), ``steps`` (stages advanced, negative when
        back) and ``move`` (one of :data:`MOVES`). Pairs where either stage is unknown are
        left out.

    Examples
    --------
    >>> table = pd.DataFrame({"project_id": ["A", "A", "B", "B"], "wave": [2023, 2024] * 2,
    ...                       "stage_code": [4, 5, 7, 7]})
    >>> transitions(table)[["project_id", "stage_from", "stage_to", "move"]]
      project_id  stage_from  stage_to      move
    0          A           4         5  advanced
    1          B           7         7    stayed
    """
    cols = ["project_id", "wave", "stage_code"]
    table = projects[cols].dropna(subset=["project_id", "wave"])
    table = table.assign(wave=table["wave"].astype(int))
    table = table.sort_values(["project_id", "wave"], kind="stable").reset_index(drop=True)
    nxt = table.groupby("project_id")[["wave", "stage_code"]].shift(-1)
    pairs = pd.DataFrame(
        {
            "project_id": table["project_id"],
            "wave_from": table["wave"],
            "wave_to": nxt["wave"].astype("Int64"),
            "stage_from": table["stage_code"].astype("Int64"),
            "stage_to": nxt["stage_code"].astype("Int64"),
        }
    )
    pairs = pairs.dropna(subset=["wave_to", "stage_from", "stage_to"]).reset_index(drop=True)
    pairs.insert(3, "years", (pairs["wave_to"] - pairs["wave_from"]).astype(int))
    pairs["steps"] = (pairs["stage_to"] - pairs["stage_from"]).astype(int)
    move = np.select([pairs["steps"] > 0, pairs["steps"] < 0], ["advanced", "back"], "stayed")
    pairs["move"] = pd.Categorical(move, categories=MOVES)
    for col in ("wave_to", "stage_from", "stage_to"):
        pairs[col] = pairs[col].astype(int)
    return pairs


def transition_table(
    projects: pd.DataFrame, wave_from: int | None = None, wave_to: int | None = None
) -> pd.DataFrame:
    """Projects by stage in ``wave_from`` (rows) and in ``wave_to`` (columns).

    Defaults: the last two waves. Only projects reported with a stage in both waves count;
    stages no project held in either wave are left out.
    """
    all_waves = waves(projects)
    if wave_to is None:
        wave_to = all_waves[-1]
    if wave_from is None:
        earlier = [w for w in all_waves if w < wave_to]
        if not earlier:
            raise ValueError(f"no wave before {wave_to}: there is no transition to show")
        wave_from = earlier[-1]
    pairs = transitions(projects)
    pairs = pairs[(pairs["wave_from"] == wave_from) & (pairs["wave_to"] == wave_to)]
    table = pd.crosstab(pairs["stage_from"], pairs["stage_to"])
    table.index.name, table.columns.name = f"stage in {wave_from}", f"stage in {wave_to}"
    return table


def stalled(projects: pd.DataFrame, *, waves_in_a_row: int = 2) -> pd.DataFrame:
    """Projects whose latest reports put them at one stage ``waves_in_a_row`` times or more.

    Counted back from each project's last report, over waves it was reported in one after
    the other (a gap of a wave breaks the run: the project was not seen then). Returns
    ``project_id``, ``stage_code``, ``since`` (the first wave of the run), ``last_wave``
    and ``waves`` (the run's length), longest first.
    """
    table = projects[["project_id", "wave", "stage_code"]].dropna()
    table = table.assign(wave=table["wave"].astype(int), stage_code=table["stage_code"].astype(int))
    all_waves = waves(projects)
    position = pd.Series(range(len(all_waves)), index=all_waves)
    table = table.assign(position=table["wave"].map(position).to_numpy())
    table = table.sort_values(["project_id", "wave"], kind="stable").reset_index(drop=True)
    previous = table.groupby("project_id")[["position", "stage_code"]].shift(1)
    same_run = (previous["position"] == table["position"] - 1) & (
        previous["stage_code"] == table["stage_code"]
    )
    run_id = (~same_run).cumsum()
    runs = (
        table.assign(run=run_id)
        .groupby("run")
        .agg(
            project_id=("project_id", "first"),
            stage_code=("stage_code", "first"),
            since=("wave", "min"),
            last_wave=("wave", "max"),
            waves=("wave", "size"),
        )
    )
    last = table.groupby("project_id")["wave"].max()
    runs = runs[runs["last_wave"].to_numpy() == last.reindex(runs["project_id"]).to_numpy()]
    runs = runs[runs["waves"] >= waves_in_a_row]
    return runs.sort_values(["waves", "stage_code"], ascending=[False, True]).reset_index(drop=True)


def time_in_stage(projects: pd.DataFrame) -> pd.DataFrame:
    """Per stage code: projects seen at it, waves seen at it in all, and the mean per project.

    Waves are counted, not years: with a survey a year they are the years a project was
    seen at a stage, a lower bound of its time there (it may have got there earlier and stay
    on after the last wave).
    """
    table = projects[["project_id", "stage_code"]].dropna()
    per = table.groupby(["stage_code", "project_id"]).size().rename("waves").reset_index()
    out = per.groupby("stage_code")["waves"].agg(projects="size", waves="sum", mean="mean")
    out.index = out.index.astype(int)
    return out


def first_patient_check(projects: pd.DataFrame) -> pd.DataFrame:
    """For each project and pair of consecutive waves: what it expected, and what happened.

    ``expected_by_then``: in ``wave_from`` the project expected its first patient no later
    than ``wave_to`` (``fih_year`` ≤ ``wave_to``); ``reached``: in ``wave_to`` it was in
    clinical development (stage ≥ 7); ``outcome``: ``on time`` (expected and reached),
    ``late`` (expected, not reached), ``early`` (reached though expected later), ``not yet
    due`` or ``already in the clinic`` (stage ≥ 7 in ``wave_from``); ``slip``: how many years
    its expected year moved between the two waves (positive: later).
    """
    cols = ["project_id", "wave", "stage_code", "fih_year"]
    table = projects[cols].dropna(subset=["project_id", "wave"])
    table = table.assign(wave=table["wave"].astype(int))
    table = table.sort_values(["project_id", "wave"], kind="stable").reset_index(drop=True)
    nxt = table.groupby("project_id")[["wave", "stage_code", "fih_year"]].shift(-1)
    keep = nxt["wave"].notna()
    table, nxt = table[keep], nxt[keep]
    expected = table["fih_year"].astype("Float64") <= nxt["wave"].astype("Float64")
    in_clinic_before = table["stage_code"].astype("Float64") >= FIRST_IN_HUMAN_STAGE
    reached = nxt["stage_code"].astype("Float64") >= FIRST_IN_HUMAN_STAGE
    exp, was, now = (s.fillna(False).astype(bool) for s in (expected, in_clinic_before, reached))
    outcome = np.select(
        [was, exp & now, exp & ~now, ~exp & now],
        ["already in the clinic", "on time", "late", "early"],
        "not yet due",
    )
    known = table["stage_code"].notna() & nxt["stage_code"].notna()
    outcome = np.where(known.to_numpy(), outcome, "stage unknown")
    return pd.DataFrame(
        {
            "project_id": table["project_id"].to_numpy(),
            "wave_from": table["wave"].to_numpy(),
            "wave_to": nxt["wave"].astype(int).to_numpy(),
            "fih_year_then": table["fih_year"].astype("Int64").to_numpy(),
            "fih_year_now": nxt["fih_year"].astype("Int64").to_numpy(),
            "slip": (nxt["fih_year"].astype("Int64") - table["fih_year"].astype("Int64")).array,
            "expected_by_then": exp.to_numpy(),
            "reached": now.to_numpy(),
            "outcome": outcome,
        }
    )
