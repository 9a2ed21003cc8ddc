"""Projects across waves: presence, stage transitions, stalls, time in stage, first patient.

Small inline tables for each rule; the demo's two waves for what the generator made (four
projects moved forward, one stopped answering, three are new)."""

from __future__ import annotations

from collections import Counter

import pandas as pd
import pytest

from atmp_analysis import waves
from atmp_analysis.demo import load_spec
from atmp_analysis.tables import read_tables


def _table(rows: list[tuple]) -> pd.DataFrame:
    """Rows of (project_id, wave, stage_code, fih_year)."""
    frame = pd.DataFrame(rows, columns=["project_id", "wave", "stage_code", "fih_year"])
    return frame.astype({"stage_code": "Int64", "fih_year": "Int64"})


def test_presence_names_new_continuing_reappearing_and_not_reported():
    table = _table(
        [
            ("A", 2021, 2, None),
            ("A", 2022, 3, None),
            ("A", 2023, 3, None),
            ("B", 2022, 4, None),
            ("C", 2021, 5, None),
            ("C", 2023, 6, None),
            ("D", 2021, 1, None),
        ]
    )
    got = waves.presence(table).set_index(["project_id", "wave"])["presence"]
    assert got[("A", 2021)] == "new" and got[("A", 2022)] == "continuing"
    assert got[("B", 2022)] == "new" and got[("B", 2023)] == "not reported"
    assert got[("C", 2022)] == "not reported" and got[("C", 2023)] == "re-appearing"
    assert got[("D", 2022)] == "not reported" and got[("D", 2023)] == "not reported"
    assert ("B", 2021) not in got.index  # nothing before a project's first wave
    counts = waves.presence_counts(table)
    assert counts.loc[2023].to_dict() == {
        "new": 0,
        "continuing": 1,
        "re-appearing": 1,
        "not reported": 2,
        "reported": 2,
    }
    assert counts.loc[2021, "new"] == 3


def test_transitions_between_consecutive_reports():
    table = _table(
        [
            ("A", 2021, 3, None),
            ("A", 2022, 5, None),
            ("B", 2021, 7, None),
            ("B", 2022, 7, None),
            ("C", 2021, 6, None),
            ("C", 2022, 5, None),
            ("D", 2021, None, None),
            ("D", 2022, 4, None),
            ("E", 2021, 2, None),
            ("E", 2023, 3, None),
        ]
    )
    pairs = waves.transitions(table).set_index("project_id")
    assert pairs.loc["A", "move"] == "advanced" and pairs.loc["A", "steps"] == 2
    assert pairs.loc["B", "move"] == "stayed"
    assert pairs.loc["C", "move"] == "back" and pairs.loc["C", "steps"] == -1
    assert "D" not in pairs.index  # no stage in 2021: no transition
    assert pairs.loc["E", "years"] == 2  # a wave missed: the pair spans two years
    table_2122 = waves.transition_table(table, 2021, 2022)
    assert table_2122.loc[3, 5] == 1 and table_2122.loc[7, 7] == 1
    assert int(table_2122.to_numpy().sum()) == 3


def test_transition_table_needs_two_waves():
    with pytest.raises(ValueError, match="no wave before 2021"):
        waves.transition_table(_table([("A", 2021, 3, None)]))


def test_stalled_counts_the_latest_run_at_one_stage():
    table = _table(
        [
            ("A", 2021, 4, None),
            ("A", 2022, 4, None),
            ("A", 2023, 4, None),
            ("B", 2021, 4, None),
            ("B", 2022, 5, None),
            ("B", 2023, 5, None),
            ("C", 2021, 3, None),
            ("C", 2022, 3, None),
            ("C", 2023, 4, None),  # moved on: its earlier run no longer counts
            ("D", 2021, 2, None),
            ("D", 2023, 2, None),  # a gap: not seen in 2022
        ]
    )
    got = waves.stalled(table).set_index("project_id")
    assert got.loc["A", "waves"] == 3 and got.loc["A", "since"] == 2021
    assert got.loc["B", "waves"] == 2 and got.loc["B", "stage_code"] == 5
    assert set(got.index) == {"A", "B"}
    assert list(waves.stalled(table, waves_in_a_row=3)["project_id"]) == ["A"]


def test_time_in_stage_counts_waves_per_project():
    table = _table(
        [("A", 2021, 4, None), ("A", 2022, 4, None), ("B", 2021, 4, None), ("B", 2022, 5, None)]
    )
    got = waves.time_in_stage(table)
    assert got.loc[4].to_dict() == {"projects": 2, "waves": 3, "mean": 1.5}
    assert got.loc[5, "projects"] == 1


def test_first_patient_on_time_late_early_and_slip():
    table = _table(
        [
            ("ontime", 2023, 6, 2024),
            ("ontime", 2024, 7, 2024),
            ("late", 2023, 5, 2024),
            ("late", 2024, 5, 2026),
            ("early", 2023, 6, 2027),
            ("early", 2024, 7, 2024),
            ("later", 2023, 3, 2030),
            ("later", 2024, 4, 2030),
            ("clinic", 2023, 8, 2021),
            ("clinic", 2024, 9, 2021),
        ]
    )
    got = waves.first_patient_check(table).set_index("project_id")
    assert got["outcome"].to_dict() == {
        "ontime": "on time",
        "late": "late",
        "early": "early",
        "later": "not yet due",
        "clinic": "already in the clinic",
    }
    assert got.loc["late", "slip"] == 2 and got.loc["early", "slip"] == -3


# -- the demo's two waves ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_projects(tmp_path_factory) -> pd.DataFrame:
    from atmp_analysis.cli import main

    folder = tmp_path_factory.mktemp("waves")
    assert main(["-q", "classify", "--out", str(folder), "--key-file", str(folder / "k")]) == 0
    return read_tables(folder)["projects"]


def _spec_stages() -> dict[str, dict[int, int]]:
    """The generator's true stage of each project in each wave it answers."""
    out = {}
    for project in load_spec()["project"]:
        by_wave = {}
        for wave in project["waves"]:
            change = project.get("changes", {}).get(str(wave), {})
            by_wave[wave] = int(change.get("stage", project["stage"]))
        out[project["key"]] = by_wave
    return out


def test_the_demo_transitions_are_those_the_generator_made(demo_projects):
    truth = _spec_stages()
    made = Counter((s[2023], s[2024]) for s in truth.values() if 2023 in s and 2024 in s)
    pairs = waves.transitions(demo_projects)
    found = Counter(zip(pairs["stage_from"], pairs["stage_to"], strict=True))
    assert found == made
    moved = Counter((a, b) for (a, b), n in made.items() for _ in range(n) if b != a)
    assert moved == Counter({(7, 8): 1, (4, 5): 2, (3, 4): 1})  # the spec's header says so
    assert (pairs["move"] == "advanced").sum() == 4


def test_the_demo_counts_new_continuing_and_not_reported(demo_projects):
    truth = _spec_stages()
    only_2023 = sum(1 for s in truth.values() if list(s) == [2023])
    only_2024 = sum(1 for s in truth.values() if list(s) == [2024])
    both = sum(1 for s in truth.values() if 2023 in s and 2024 in s)
    counts = waves.presence_counts(demo_projects)
    assert counts.loc[2024, "new"] == only_2024 == 3
    assert counts.loc[2024, "continuing"] == both
    assert counts.loc[2024, "not reported"] == only_2023 == 1
    assert counts.loc[2023, "new"] == 23
