"""Tests of atmp_analysis.outlook, and the demo's outlook checked end to end against further
waves that the demo generator simulates with known rates (atmp_analysis.demo.further_waves).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from atmp_analysis import forecast as fc
from atmp_analysis import waves
from atmp_analysis.config import demo_exports
from atmp_analysis.demo import further_waves, load_spec, spec_stages
from atmp_analysis.outlook import forecast_of
from atmp_analysis.pipeline import read_surveys, to_projects
from atmp_analysis.pseudonym import load_key

TRIALS = 200
YEARS = 5
SIMULATIONS = 4000


@pytest.fixture(scope="module")
def demo_projects(tmp_path_factory) -> pd.DataFrame:
    key = load_key(tmp_path_factory.mktemp("key") / "k.key")
    return to_projects(read_surveys(demo_exports(fmt="redcap"), key))


@pytest.fixture(scope="module")
def demo_outlook(demo_projects):
    return forecast_of(demo_projects, years=YEARS, simulations=SIMULATIONS, seed=7)


# -- forecast_of -------------------------------------------------------------------------------
def test_forecast_of_uses_the_latest_wave_and_the_transitions_before_it(demo_outlook):
    assert demo_outlook.wave == 2024
    assert len(demo_outlook.projects) == 25
    assert demo_outlook.forecast.base_year == 2024
    assert demo_outlook.forecast.projects == 25
    observed = demo_outlook.observed.set_index("state")
    # 2023 -> 2024: 22 projects seen twice; 4 advanced (one of them within phase1: 7 -> 8)
    assert observed[["stay", "advance"]].to_numpy().sum() == 22
    assert observed["advance"].sum() == 3
    assert observed.loc["preclinical", "advance"] == 2
    assert observed.loc["discovery", "advance"] == 1
    assert observed["stop"].sum() == 0  # a project not reported is not taken to have stopped


def test_forecast_of_an_earlier_wave_ignores_later_ones(demo_projects):
    first = forecast_of(demo_projects, wave=2023, years=2, simulations=100)
    assert first.wave == 2023 and len(first.projects) == 23
    assert first.transitions.empty


def test_forecast_of_refuses_a_wave_not_in_the_data(demo_projects):
    with pytest.raises(ValueError, match="wave 2019 is not in the data"):
        forecast_of(demo_projects, wave=2019)


# -- the generator's further waves ---------------------------------------------------------
def test_further_waves_carry_the_generators_stages_through_the_exports(tmp_path, demo_projects):
    """End to end: the simulated waves, read back through the pipeline, show exactly the
    stages, first-in-human and Phase II starts, and stops the generator made."""
    made = further_waves(tmp_path, 3, seed=11)
    exports = [p for p in made.paths if p.name.endswith("_redcap_raw.csv")]
    assert [p.name for p in exports] == [f"demo_{w}_redcap_raw.csv" for w in (2025, 2026, 2027)]
    key = load_key(tmp_path / "k.key")
    projects = to_projects(read_surveys([*demo_exports(fmt="redcap"), *exports], key))
    # every project keeps its id: the ids of 2024 are those seen later, nothing new appears
    counts = waves.presence_counts(projects)
    assert counts.loc[2025:, "new"].sum() == 0
    truth = made.truth.stages
    running = truth[truth["stage_code"].notna() & (truth["year"] > 0)]
    assert counts.loc[2025:, "reported"].tolist() == running.groupby("year").size().tolist()
    # stages: the multiset per wave is the generator's
    for year in (1, 2, 3):
        seen = projects.loc[projects["wave"] == 2024 + year, "stage_code"].astype(int)
        made_ = running.loc[running["year"] == year, "stage_code"].astype(int)
        assert sorted(seen) == sorted(made_)
    moves = waves.transitions(projects)
    later = moves[moves["wave_from"] >= 2024]
    fih = later[(later["stage_from"] < 7) & (later["stage_to"] >= 7)].groupby("wave_to").size()
    phase2 = later[(later["stage_from"] < 9) & (later["stage_to"] >= 9)].groupby("wave_to").size()
    events = made.events().set_index("wave")
    assert fih.reindex(events.index, fill_value=0).tolist() == events["fih"].tolist()
    assert phase2.reindex(events.index, fill_value=0).tolist() == events["phase2"].tolist()
    written = pd.read_csv(tmp_path / "demo_truth_events.csv")
    assert written["wave"].tolist() == [2025, 2026, 2027]


def test_further_waves_known_rates_are_used(tmp_path):
    certain = np.zeros((len(fc.STATES), 3))
    certain[:, 1] = 1.0  # every project advances every year
    made = further_waves(None, 2, probabilities=certain)
    spec = spec_stages(load_spec())
    in_cta = spec[(spec["wave"] == 2024) & (spec["stage_code"] == 6)]
    assert made.truth.events["fih"].iloc[0] == len(in_cta)
    assert made.paths == []


def test_further_waves_are_seeded(tmp_path):
    one = further_waves(None, 4, seed=5).truth.stages
    two = further_waves(None, 4, seed=5).truth.stages
    other = further_waves(None, 4, seed=6).truth.stages
    pd.testing.assert_frame_equal(one, two)
    assert not one.equals(other)


# -- calibration end to end ----------------------------------------------------------------
def test_demo_outlook_intervals_cover_the_generators_truth_as_often_as_they_claim(demo_outlook):
    """The demo's outlook, made by the pipeline from the two waves' exports, against the
    futures the demo generator simulates.

    In each of 200 seeded trials (seeds fixed in advance), the generator draws known
    per-state rates from the forecast's posterior given the demo's own 2023 -> 2024
    transitions and moves the 2024 projects five years on. A calibrated forecast holds the
    realised five-year count of first-in-human and of Phase II starts in its central 80%
    in 80% of trials. As in test_forecast, the exact check is the randomised PIT (counts
    are whole numbers): coverage within [0.70, 0.90] (+-3.5 sd at 200 trials) and each
    tail within [0.035, 0.165]; the reported whole-number interval [low, high] covers at
    least as often.
    """
    forecast = demo_outlook.forecast
    reported = forecast.summary().query(f"year == {YEARS}").set_index("event")
    rng = np.random.default_rng(2024)
    rows = []
    for trial in range(TRIALS):
        realised = further_waves(None, YEARS, seed=1000 + trial).truth.events.sum()
        for event in ("fih", "phase2"):
            simulated = forecast.cumulative(event)
            x = realised[event]
            below, at_most = np.mean(simulated < x), np.mean(simulated <= x)
            pit = below + rng.random() * (at_most - below)
            inside = (
                reported.loc[event, "cumulative_low"] <= x <= reported.loc[event, "cumulative_high"]
            )
            rows.append((event, pit, inside))
    results = pd.DataFrame(rows, columns=["event", "pit", "inside"])
    for event, part in results.groupby("event"):
        pit = part["pit"].to_numpy()
        coverage = np.mean((pit > 0.1) & (pit < 0.9))
        below, above = np.mean(pit <= 0.1), np.mean(pit >= 0.9)
        print(
            f"{event}: PIT coverage {coverage:.3f}, below q10 {below:.3f}, above q90 "
            f"{above:.3f}, reported [low, high] coverage {part['inside'].mean():.3f}"
        )
        assert 0.70 <= coverage <= 0.90, (event, coverage)
        assert 0.035 <= below <= 0.165, (event, below)
        assert 0.035 <= above <= 0.165, (event, above)
        assert part["inside"].mean() >= coverage
