"""The pipeline forecast (atmp_analysis.forecast): assumptions, observed transitions, the
posterior, the simulation, its summary and sensitivity, and its calibration against a known
truth.

The calibration test is the one that matters: it draws "true" per-state probabilities from
the prior, lets them generate a second survey wave and a future, and checks that the
forecast made from the two waves covers the realised future as often as it claims.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from atmp_analysis import forecast as fc
from atmp_analysis.forecast import EVENTS, STATES


@pytest.fixture(scope="module")
def assumptions() -> fc.Assumptions:
    return fc.load_assumptions()


def projects_now(stages, **columns) -> pd.DataFrame:
    """One wave (2024) of projects p0, p1, ... at the given stages."""
    n = len(stages)
    return pd.DataFrame(
        {
            "project_id": [f"p{i}" for i in range(n)],
            "wave": 2024,
            "stage_code": pd.array(stages, dtype="Int64"),
            **columns,
        }
    )


# -- assumptions --------------------------------------------------------------------------


def shipped_yaml() -> dict:
    return yaml.safe_load(fc.ASSUMPTIONS_FILE.read_text(encoding="utf-8"))


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "assumptions.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_shipped_assumptions_map_every_stage_code_once_and_cite_every_state(assumptions):
    mapping = assumptions.stage_to_state()
    assert sorted(mapping) == list(range(1, 12))
    assert [mapping[c] for c in (1, 3, 4, 5, 6, 7, 8, 9, 10, 11)] == [
        "discovery",
        "discovery",
        "preclinical",
        "cta_enabling",
        "cta",
        "phase1",
        "phase1",
        "phase2",
        "phase3",
        "filing",
    ]
    assert assumptions.horizon_years == 5
    assert assumptions.interval == 0.8
    assert assumptions.simulations == 10_000
    for state in assumptions.states:
        assert state.source
        assert state.years >= 1
        assert state.elicited == (state.name in STATES[:4])
    # the cited all-drug figures stay as cited; the CGT adjustment is applied on use
    assert assumptions.state("phase2").p == 0.307
    assert assumptions.state("phase2").p_rare == 0.50
    assert assumptions.p_effective("phase2") < 0.307
    assert assumptions.p_effective("cta") == assumptions.state("cta").p  # not adjusted
    table = assumptions.table()
    assert list(table["state"]) == list(STATES)


def test_implied_likelihood_of_approval_matches_elsallab_within_the_yaml_tolerance(assumptions):
    published = assumptions.check["likelihood_of_approval_from_phase1"]
    tolerance = published["tolerance"]
    overall = fc.implied_likelihood_of_approval(assumptions)
    orphan = fc.implied_likelihood_of_approval(assumptions, rare=True)
    assert abs(overall - published["overall"]) <= tolerance
    assert abs(orphan - published["orphan"]) <= tolerance
    # cell and gene therapies are below all drugs (BIO: 0.632 x 0.307 x 0.581 x 0.853)
    assert overall < 0.632 * 0.307 * 0.581 * 0.853
    check = fc.likelihood_of_approval_check(assumptions)
    compared = check[check["within"].notna()]
    assert len(compared) == 2
    assert compared["within"].all()
    assert check["source"].str.contains("Elsallab").any()


@pytest.mark.parametrize(
    ("edit", "key", "message"),
    [
        (lambda d: d["states"]["phase1"].update(p=1.3), "states.phase1.p", "between 0 and 1"),
        (lambda d: d["states"]["phase2"].update(p_rare=-0.1), "states.phase2.p_rare", "0 and 1"),
        (lambda d: d["states"]["preclinical"].update(years=0.5), "states.preclinical.years", "1"),
        (lambda d: d["states"]["cta"].update(strength=0), "states.cta.strength", "positive"),
        (lambda d: d["states"]["cta"].update(strength="high"), "states.cta.strength", "number"),
        (
            lambda d: d["states"].update(phase4=dict(d["states"]["phase3"])),
            "states.phase4",
            "unknown state",
        ),
        (lambda d: d["states"].pop("phase3"), "states.phase3", "missing"),
        (
            lambda d: d["states"]["preclinical"].update(stage_codes=[4, 5]),
            "states.cta_enabling.stage_codes",
            "stage code 5 is already in state preclinical",
        ),
        (
            lambda d: d["states"]["phase1"].update(stage_codes=[7]),
            "states",
            "stage code 8 is in no state",
        ),
        (
            lambda d: d["states"]["phase1"].update(stage_codes=[7, 12]),
            "states.phase1.stage_codes",
            "12 is not a stage code",
        ),
        (lambda d: d.update(forecast=2), "forecast", "not known"),
        (lambda d: d.update(interval=80), "interval", "between 0 and 1"),
        (lambda d: d.update(horizon=5), "horizon", "unknown key"),
        (lambda d: d["states"]["filing"].pop("source"), "states.filing.source", "missing"),
        (
            lambda d: d["cgt_adjustment"].update(factor=1.5),
            "cgt_adjustment.factor",
            "above 1",
        ),
    ],
)
def test_a_bad_assumption_is_a_value_error_naming_the_file_and_key(tmp_path, edit, key, message):
    data = shipped_yaml()
    edit(data)
    path = write(tmp_path, data)
    with pytest.raises(ValueError, match=re.escape(message)) as caught:
        fc.load_assumptions(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: {key}:"), text


def test_an_unreadable_or_missing_file_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        fc.load_assumptions(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("states: [unclosed\n", encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(str(bad))):
        fc.load_assumptions(bad)


def test_an_edited_copy_changes_the_prior(tmp_path, assumptions):
    data = shipped_yaml()
    data["states"]["discovery"]["p"] = 0.9
    changed = fc.load_assumptions(write(tmp_path, data))
    assert changed.state("discovery").p == 0.9
    assert fc.posterior(changed)["discovery"][1] > fc.posterior(assumptions)["discovery"][1]


# -- observed transitions and the posterior -----------------------------------------------


@pytest.fixture
def two_waves() -> pd.DataFrame:
    """a stays (2 -> 3, both discovery), b advances two states, c goes back, d is missing,
    e has no stage in 2024; f is new in 2024; g was only in 2022 (no 2023 survey row)."""
    rows = [
        ("g", 2022, 4, "no"),
        ("a", 2023, 2, "yes"),
        ("b", 2023, 4, "no"),
        ("c", 2023, 7, "no"),
        ("d", 2023, 5, "yes"),
        ("e", 2023, 6, "no"),
        ("a", 2024, 3, "yes"),
        ("b", 2024, 6, "no"),
        ("c", 2024, 6, "no"),
        ("e", 2024, None, "no"),
        ("f", 2024, 1, "no"),
    ]
    frame = pd.DataFrame(rows, columns=["project_id", "wave", "stage_code", "rare_disease"])
    frame["stage_code"] = frame["stage_code"].astype("Int64")
    return frame


def test_observed_transitions_classifies_stay_advance_back_missing(two_waves, assumptions):
    t = fc.observed_transitions(two_waves, assumptions).set_index("project_id")
    # g: 2022 -> 2023 ran, so g is missing in 2023; f is new and has no earlier wave
    assert sorted(t.index) == ["a", "b", "c", "d", "e", "g"]
    assert t.loc["a", ["state_from", "state_to", "outcome", "counted_as"]].tolist() == [
        "discovery",
        "discovery",
        "stay",
        "stay",
    ]
    assert t.loc["b", ["state_from", "state_to", "outcome", "counted_as"]].tolist() == [
        "preclinical",
        "cta",
        "advance",
        "advance",
    ]
    assert t.loc["c", ["outcome", "counted_as"]].tolist() == ["back", "stay"]
    assert t.loc["d", "outcome"] == "missing"
    assert pd.isna(t.loc["d", "counted_as"])  # non-response is not stopping
    assert t.loc["e", "outcome"] == "unknown"
    assert pd.isna(t.loc["e", "counted_as"])
    assert t.loc["g", "wave"] == 2022 and t.loc["g", "outcome"] == "missing"
    assert bool(t.loc["a", "rare"]) and not bool(t.loc["b", "rare"])
    assert not t["stops_observed"].any()

    counted = fc.observed_transitions(two_waves, assumptions, count_missing_as_stopped=True)
    counted = counted.set_index("project_id")
    assert counted.loc["d", "counted_as"] == "stop"
    assert counted.loc["g", "counted_as"] == "stop"
    assert counted.loc["e", "counted_as"] == "continue"  # present, so not stopped
    assert counted["stops_observed"].all()


def test_waves_further_apart_than_a_year_give_no_transitions(assumptions):
    table = pd.DataFrame(
        {"project_id": ["a", "a"], "wave": [2022, 2024], "stage_code": pd.array([1, 2])}
    )
    assert fc.observed_transitions(table, assumptions).empty


def test_observed_transitions_refuses_a_project_twice_in_a_wave(assumptions):
    table = pd.DataFrame({"project_id": ["a", "a"], "wave": [2023, 2023], "stage_code": [1, 2]})
    with pytest.raises(ValueError, match="appears twice in wave 2023"):
        fc.observed_transitions(table, assumptions)


def test_posterior_adds_the_counts_to_the_prior(two_waves, assumptions):
    prior = fc.posterior(assumptions)
    for part in prior.values():
        assert part.shape == (4,)
        assert part[3] == pytest.approx(part[0] + part[1])  # the prior is a Dirichlet

    # stops unobserved: stays and advances add to the split; the stop Beta stays the prior's
    t = fc.observed_transitions(two_waves, assumptions)
    post = fc.posterior(assumptions, t)
    assert post["discovery"] - prior["discovery"] == pytest.approx([1, 0, 0, 0])  # a
    assert post["preclinical"] - prior["preclinical"] == pytest.approx([0, 1, 0, 0])  # b
    assert post["cta_enabling"] == pytest.approx(prior["cta_enabling"])  # d: missing
    # phase1 has p_rare: c (not rare) counts for other projects only
    assert post["phase1"] - prior["phase1"] == pytest.approx([1, 0, 0, 0])
    rare = fc.posterior(assumptions, t, rare=True)
    assert rare["phase1"] == pytest.approx(fc.posterior(assumptions, rare=True)["phase1"])
    # discovery has no p_rare: one parameter, everyone's counts (a is rare)
    assert rare["discovery"] == pytest.approx(post["discovery"])

    # every outcome observed: the Dirichlet update, continue = stay + advance
    t = fc.observed_transitions(two_waves, assumptions, count_missing_as_stopped=True)
    post = fc.posterior(assumptions, t)
    assert post["discovery"] - prior["discovery"] == pytest.approx([1, 0, 0, 1])  # a
    assert post["preclinical"] - prior["preclinical"] == pytest.approx([0, 1, 1, 1])  # b, g
    assert post["cta_enabling"] - prior["cta_enabling"] == pytest.approx([0, 0, 1, 0])  # d
    for name in ("discovery", "preclinical", "cta_enabling", "phase1"):
        assert post[name][3] == pytest.approx(post[name][0] + post[name][1])
    # e was present without a stage: it did not stop, but did it stay or advance?
    assert post["cta"] - prior["cta"] == pytest.approx([0, 0, 0, 1])


def test_drawn_probabilities_have_the_prior_means(assumptions):
    probs = fc.draw_probabilities(assumptions, simulations=40_000, seed=3)
    for k, name in enumerate(STATES):
        s = assumptions.state(name)
        for group, rare in enumerate((False, True)):
            p = assumptions.p_effective(name, rare=rare)
            mean = probs[:, group, k].mean(axis=0)
            expected = [1 - 1 / s.years, p / s.years, (1 - p) / s.years]
            assert mean == pytest.approx(expected, abs=0.01), name
    # states without p_rare share one parameter between rare and other projects
    assert np.array_equal(probs[:, 0, 0], probs[:, 1, 0])
    assert not np.array_equal(probs[:, 0, 4], probs[:, 1, 4])


# -- the simulation -----------------------------------------------------------------------


def test_same_seed_same_numbers_other_seed_other_numbers(assumptions):
    now = projects_now([1, 3, 4, 5, 5, 6, 7, 8, 10], rare_disease=["yes", "no"] * 4 + ["no"])
    one = fc.simulate(now, assumptions, simulations=3000, seed=11).summary()
    two = fc.simulate(now, assumptions, simulations=3000, seed=11).summary()
    other = fc.simulate(now, assumptions, simulations=3000, seed=12).summary()
    pd.testing.assert_frame_equal(one, two)
    assert not one["mean"].equals(other["mean"])


def test_summary_columns_calendar_years_and_monotone_cumulative_counts(assumptions):
    now = projects_now([2, 4, 5, 5, 6, 7, 9, 10, 11])
    f = fc.simulate(now, assumptions, years=10, simulations=4000, seed=5)
    table = f.summary()
    assert list(table.columns) == [
        "event",
        "year",
        "calendar_year",
        "mean",
        "low",
        "high",
        "cumulative_mean",
        "cumulative_low",
        "cumulative_high",
        "p_any",
    ]
    assert len(table) == len(EVENTS) * 10
    assert list(table["event"].unique()) == list(EVENTS)
    assert (table["calendar_year"] == table["year"] + 2024).all()
    assert table.attrs["interval"] == 0.8
    for _, rows in table.groupby("event"):
        for column in ("cumulative_mean", "cumulative_low", "cumulative_high", "p_any"):
            assert rows[column].is_monotonic_increasing, column
        # (the mean of a skewed count can lie above its 90th percentile: mostly zeros)
        assert (rows["low"] <= rows["high"]).all()
        assert (rows["cumulative_low"] <= rows["cumulative_high"]).all()
        assert rows["cumulative_mean"].to_numpy() == pytest.approx(rows["mean"].cumsum())
    # a forecast with no base year has no calendar years
    assert (
        "calendar_year"
        not in fc.simulate(now.drop(columns="wave"), assumptions, simulations=100).summary()
    )


def test_a_project_in_cta_reaches_the_clinic_with_the_prior_probability(assumptions):
    f = fc.simulate(projects_now([6]), assumptions, years=1, simulations=20_000, seed=2)
    s = assumptions.state("cta")
    expected = assumptions.p_effective("cta") / s.years  # prior mean of P(advance)
    se = np.sqrt(expected * (1 - expected) / 20_000)
    assert f.summary()["p_any"].iloc[0] == pytest.approx(expected, abs=4 * se)


def test_phase3_can_be_approved_within_five_years_discovery_never(assumptions):
    f = fc.simulate(projects_now([10]), assumptions, years=5, simulations=5000, seed=1)
    assert 0.05 < f.cumulative("approval").mean() < 0.6
    assert f.cumulative("fih").max() == 0  # already past first-in-human
    # discovery -> approval takes eight steps of at least a year each
    f = fc.simulate(projects_now([1, 2, 3]), assumptions, years=5, simulations=5000, seed=1)
    assert f.cumulative("approval").max() == 0
    assert f.cumulative("fih").max() > 0  # four steps: possible, if rare
    assert f.counts["fih"][:, :3].max() == 0  # but never in the first three years


def test_projects_without_a_stage_are_left_out_and_counted(assumptions):
    now = projects_now([4, None, 6, None])
    f = fc.simulate(now, assumptions, simulations=200, seed=1)
    assert (f.projects, f.left_out) == (2, 2)
    empty = fc.simulate(projects_now([None]), assumptions, simulations=50, seed=1)
    assert empty.left_out == 1
    assert (empty.summary()["cumulative_mean"] == 0).all()


def test_simulate_refuses_a_project_twice_or_an_unknown_stage(assumptions):
    with pytest.raises(ValueError, match="appears more than once"):
        fc.simulate(projects_now([1, 2]).assign(project_id="x"), assumptions, simulations=10)
    with pytest.raises(ValueError, match="12 is not a stage code"):
        fc.simulate(projects_now([1, 12]), assumptions, simulations=10)


def test_groups_by_class_add_up_to_the_total_and_platforms_count_once_each(assumptions):
    now = projects_now(
        [5, 6, 6, 7, 4, 8, 10],
        atmp_class=["GTMP", "TEP", "GTMP", "sCTMP", None, "GTMP", "TEP"],
        platforms=["AAV;CRISPR", "pluripotent stem cell", "AAV", "T cell", None, "AAV", "MSC"],
        rare_disease=["yes", "no", "no", "yes", "no", "yes", None],
    )
    f = fc.simulate(now, assumptions, years=5, simulations=4000, seed=9)
    total = f.summary().set_index(["event", "year"])
    by_class = f.summary(by="atmp_class")
    assert set(by_class["atmp_class"]) == {"GTMP", "TEP", "sCTMP", "Not answered"}
    summed = by_class.groupby(["event", "year"])["mean"].sum()
    assert summed.to_numpy() == pytest.approx(total.loc[summed.index, "mean"].to_numpy())
    labels, arrays = f.groups["atmp_class"]
    for event in EVENTS:
        assert np.array_equal(arrays[event].sum(axis=2), f.counts[event])

    labels, arrays = f.groups["platforms"]
    assert set(labels) == {
        "AAV",
        "CRISPR",
        "MSC",
        "T cell",
        "pluripotent stem cell",
        "Not answered",
    }
    fih = {label: arrays["fih"][..., i] for i, label in enumerate(labels)}
    # project p0 (AAV;CRISPR, the only CRISPR one) counts in both: CRISPR's events are AAV's too
    assert (fih["CRISPR"] <= fih["AAV"]).all()
    assert fih["CRISPR"].sum() > 0
    # per simulation, the platforms' counts add up to the total plus the second platforms
    assert (sum(fih.values()) == f.counts["fih"] + fih["CRISPR"]).all()
    by_platform = f.summary(by="platforms")
    assert set(by_platform["platforms"]) == set(labels)
    with pytest.raises(ValueError, match="unknown grouping"):
        f.summary(by="ther_area")


def test_transitions_move_the_forecast(assumptions):
    """A centre whose preclinical projects all advanced expects more first-in-human."""
    now = projects_now([5] * 6 + [4] * 6)
    advanced = pd.concat(
        [
            projects_now([4] * 10, wave=[2023] * 10),
            projects_now([5] * 10, wave=[2024] * 10),
        ]
    )
    stayed = pd.concat(
        [
            projects_now([4] * 10, wave=[2023] * 10),
            projects_now([4] * 10, wave=[2024] * 10),
        ]
    )
    run = dict(years=5, simulations=4000, seed=4)
    fast = fc.simulate(
        now, assumptions, transitions=fc.observed_transitions(advanced, assumptions), **run
    )
    slow = fc.simulate(
        now, assumptions, transitions=fc.observed_transitions(stayed, assumptions), **run
    )
    prior = fc.simulate(now, assumptions, **run)
    assert (
        fast.cumulative("fih").mean()
        > prior.cumulative("fih").mean()
        > slow.cumulative("fih").mean()
    )


def test_simulate_truth_with_known_probabilities(assumptions):
    sure = {s: (0.0, 1.0, 0.0) for s in STATES}  # every project advances every year
    now = projects_now([3, 5, 7, 11], rare_disease=["no", "yes", "no", "no"])
    real = fc.simulate_truth(now, sure, years=3, seed=0)
    assert real.events.loc[1].tolist() == [0, 1, 1]  # 5 -> cta, 7 -> phase2, 11 approved
    assert real.events.loc[2].tolist() == [1, 0, 0]  # cta -> phase1
    assert real.events["phase2"].sum() == 2
    after_one = real.wave(1, 2025).set_index("project_id")
    assert after_one["stage_code"].tolist() == [4, 6, 9, 11]  # approved answers 11
    assert after_one["rare_disease"].tolist() == ["no", "yes", "no", "no"]
    stop = {s: (0.0, 0.0, 1.0) for s in STATES}
    gone = fc.simulate_truth(now, stop, years=1, seed=0)
    assert gone.wave(1, 2025).empty
    assert gone.wave(0, 2024)["stage_code"].tolist() == [3, 5, 7, 11]
    with pytest.raises(ValueError, match="sum to 1"):
        fc.simulate_truth(now, {s: (0.5, 0.5, 0.5) for s in STATES}, years=1, seed=0)


# -- sensitivity --------------------------------------------------------------------------


def test_sensitivity_is_sorted_by_swing_and_moves_as_it_should(assumptions):
    now = projects_now([2, 4, 4, 5, 5, 6, 7, 8, 9, 10, 11])
    table = fc.sensitivity(now, assumptions, years=5, simulations=2000, seed=3)
    assert len(table) == 2 * len(STATES)
    assert set(zip(table["state"], table["assumption"], strict=True)) == {
        (s, a) for s in STATES for a in ("p", "years")
    }
    swing = table["fih_swing"].abs().to_numpy()
    assert (np.diff(swing) <= 1e-12).all()
    assert table["fih_swing"].to_numpy() == pytest.approx(table["fih_high"] - table["fih_low"])
    rows = table.set_index(["state", "assumption"])
    for clinical in ("phase1", "phase2", "phase3", "filing"):
        row = rows.loc[(clinical, "p")]
        assert row["approval_high"] > row["approval_low"], clinical
        # common random numbers: a clinical p cannot change first-in-human, and does not
        assert row["fih_high"] == row["fih_low"]
        assert row["low"] == pytest.approx(0.5 * assumptions.p_effective(clinical))
    assert rows.loc[("cta_enabling", "p"), "high"] == 0.99  # 0.7 x 1.5, clipped
    assert rows.loc[("cta", "years"), "low"] == 1.0  # floored at a year
    assert rows.loc[("cta", "years"), "fih_swing"] < 0  # slower CTA, fewer first-in-human
    assert set(table.attrs["baseline"]) == {"fih", "approval"}


# -- calibration --------------------------------------------------------------------------

#: A realistic start, like the demo's: mostly discovery to CTA-enabling, a few in Phase I.
START_STAGES = np.arange(1, 9)
START_WEIGHTS = np.array([6, 6, 6, 7, 6, 3, 2, 1.0]) / 37
TRIALS = 200
PROJECTS = 40
SIMULATIONS = 2000


def calibration_trial(trial: int, assumptions: fc.Assumptions, *, missing_as_stopped: bool):
    """One seeded world: truth from the prior, two waves, a forecast, the realised future.

    Returns, for first-in-human and Phase II over the five years after wave 2: the
    randomised PIT of the realised count under the forecast, and whether the count lies
    in the forecast's reported 80% interval [cumulative_low, cumulative_high].
    """
    rng = np.random.default_rng([2024, trial])
    wave1 = projects_now(
        rng.choice(START_STAGES, PROJECTS, p=START_WEIGHTS),
        rare_disease=rng.choice(["yes", "no"], PROJECTS, p=[0.4, 0.6]),
    ).assign(wave=2023)
    # the seeds of the truth, the observed year, the forecast and the future all differ
    truth = fc.draw_probabilities(assumptions, simulations=1, seed=10 * trial + 1)[0]
    wave2 = fc.simulate_truth(wave1, truth, years=1, seed=10 * trial + 2).wave(1, 2024)
    transitions = fc.observed_transitions(
        pd.concat([wave1, wave2]), assumptions, count_missing_as_stopped=missing_as_stopped
    )
    forecast = fc.simulate(
        wave2,
        assumptions,
        transitions=transitions,
        years=5,
        simulations=SIMULATIONS,
        seed=10 * trial + 3,
    )
    future = fc.simulate_truth(wave2, truth, years=5, seed=10 * trial + 4)
    reported = forecast.summary().query("year == 5").set_index("event")
    result = {}
    for event in ("fih", "phase2"):
        realised = future.events[event].sum()
        simulated = forecast.cumulative(event)
        below, at_most = np.mean(simulated < realised), np.mean(simulated <= realised)
        pit = below + rng.random() * (at_most - below)
        inside = (
            reported.loc[event, "cumulative_low"]
            <= realised
            <= reported.loc[event, "cumulative_high"]
        )
        result[event] = (pit, inside)
    return result


@pytest.mark.parametrize("missing_as_stopped", [True, False], ids=["stops-seen", "stops-unseen"])
def test_forecast_intervals_cover_a_known_truth_as_often_as_they_claim(
    assumptions, missing_as_stopped
):
    """Truth drawn from the prior: a correct Bayesian forecast is calibrated by construction.

    In each of 200 seeded trials (seeds fixed in advance, not chosen), the true per-state
    probabilities are one draw of the prior; they move 40 projects through one observed
    year (wave 2023 -> 2024, stopped projects vanish from the 2024 survey) and then five
    more years. The forecast is made from the two waves alone.

    Counts are whole numbers, so the reported interval [q10, q90] holds the truth in
    *at least* 80% of trials (more when a few values carry the probability: 0 Phase II
    starts, say). The exact check uses the randomised PIT u = F(x-1) + V (F(x) - F(x-1)),
    V uniform, which is uniform on (0, 1) for a calibrated forecast: the truth lies in the
    central 80% (0.1 < u < 0.9) with probability 0.8 exactly.

    Binomial reasoning: with 200 trials the coverage has standard deviation
    sqrt(0.8 x 0.2 / 200) = 0.028, so [0.70, 0.90] is +-3.5 sd (a calibrated model fails
    with probability about 5e-4); each tail (0.1 expected) has sd 0.021 and [0.035, 0.165]
    is about +-3 sd. With stops seen (missing counted as stopped, which is what missing
    means in these worlds) the update is the conjugate Dirichlet one and the forecast is
    calibrated by construction. With stops unseen (the default) it learns nothing about
    stopping and keeps the prior's stop probability: valid, though it leaves out what the
    number of vanished projects says about stopping, so it is calibrated up to that (in
    1,500 trials outside this test: coverage 0.80 for first-in-human, 0.79 for Phase II,
    as with stops seen). Adding the stays and advances to a Dirichlet while stops go
    unseen would be biased: in those 1,500 trials 22% of the realised first-in-human
    counts fell below the forecast's 10th percentile, which the tail check would catch.
    """
    trials = [
        calibration_trial(t, assumptions, missing_as_stopped=missing_as_stopped)
        for t in range(TRIALS)
    ]
    for event in ("fih", "phase2"):
        pit = np.array([trial[event][0] for trial in trials])
        inside = np.array([trial[event][1] for trial in trials])
        coverage = np.mean((pit > 0.1) & (pit < 0.9))
        below, above = np.mean(pit <= 0.1), np.mean(pit >= 0.9)
        reported = inside.mean()
        print(
            f"{event} (missing as stopped: {missing_as_stopped}): PIT coverage {coverage:.3f}, "
            f"below q10 {below:.3f}, above q90 {above:.3f}, "
            f"reported [low, high] coverage {reported:.3f}"
        )
        assert 0.70 <= coverage <= 0.90, (event, coverage)
        assert 0.035 <= below <= 0.165, (event, below)
        assert 0.035 <= above <= 0.165, (event, above)
        # the whole-number interval covers at least what the exact one does
        assert reported >= coverage
