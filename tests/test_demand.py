"""The demand on the centre's infrastructure (atmp_analysis.demand): its assumptions, the
projects that need each resource, patients and beds, the summaries, and an end-to-end run
on the demo survey.

Deterministic paths come from forecast priors so strong that the outcome is certain:
every state lasting one year with p = 1 (each project advances one state a year), or
lasting a billion years (each project stays where it is).
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from atmp_analysis import demand as dm
from atmp_analysis import forecast as fc

FIXED = {"phase1": 3.0, "phase2": 10.0, "phase3": 20.0}  # patients per project-year
DAYS = {"immune_cell": 21.0, "other": 2.0}  # inpatient days per patient
OCCUPANCY = 0.8


def shipped_yaml() -> dict:
    return yaml.safe_load(dm.DEMAND_ASSUMPTIONS_FILE.read_text(encoding="utf-8"))


def forecast_assumptions(*, years: float, p: float = 1.0) -> fc.Assumptions:
    """Forecast priors of strength 10^6 with every state lasting ``years`` on average."""
    data = yaml.safe_load(fc.ASSUMPTIONS_FILE.read_text(encoding="utf-8"))
    data.pop("cgt_adjustment")
    data.pop("check")
    for state in data["states"].values():
        state.update(years=years, p=p, strength=1_000_000)
        state.pop("p_rare", None)
    return fc.assumptions_from_dict(data)


@pytest.fixture(scope="module")
def advancing() -> fc.Assumptions:
    """Every project advances exactly one state a year."""
    return forecast_assumptions(years=1.0)


@pytest.fixture(scope="module")
def staying() -> fc.Assumptions:
    """Every project stays in its state."""
    return forecast_assumptions(years=1e9, p=0.5)


@pytest.fixture(scope="module")
def fixed() -> dm.DemandAssumptions:
    """The shipped demand assumptions with fixed patients, days and occupancy."""
    data = shipped_yaml()
    for state, value in FIXED.items():
        data["patients"]["per_project_year"][state].update(low=value, mode=value, high=value)
    for group, value in DAYS.items():
        data["beds"]["days_per_patient"][group].update(low=value, mode=value, high=value)
    data["beds"]["occupancy"] = OCCUPANCY
    return dm.demand_assumptions_from_dict(data)


def projects(stages, **columns) -> pd.DataFrame:
    """One wave (2024) of projects p0, p1, ... at the given stages."""
    n = len(stages)
    base = {
        "platforms": ["AAV"] * n,
        "support_needs": [pd.NA] * n,
        "support_horizon": [pd.NA] * n,
        "manufacturer": [1] * n,
    }
    base.update(columns)
    return pd.DataFrame(
        {
            "project_id": [f"p{i}" for i in range(n)],
            "wave": 2024,
            "stage_code": pd.array(stages, dtype="Int64"),
            **base,
        }
    )


def run(now, assumptions, demand_assumptions=None, *, years=6, simulations=50, seed=3):
    forecast = fc.simulate(
        now, assumptions, years=years, simulations=simulations, seed=seed, keep_states=True
    )
    return forecast, dm.demand(now, forecast, demand_assumptions)


# -- resources ----------------------------------------------------------------------------


def test_a_project_certain_to_advance_needs_each_resource_in_the_expected_years(advancing, fixed):
    # CTA-enabling now: cta, phase1, phase2, phase3, filing, approved in years 1..6
    now = projects(
        [5],
        platforms=["AAV"],
        support_needs=["Regulatory strategy and advice"],
        manufacturer=[2],
    )
    forecast, d = run(now, advancing, fixed)
    path = [fc.ALL_STATES[s] for s in forecast.states[:, 0, 0]]
    assert path == ["cta", "phase1", "phase2", "phase3", "filing", "approved"]
    expected = {
        "gmp_manufacturing": [1, 1, 1, 1, 0, 0],
        "viral_vector": [1, 1, 1, 1, 0, 0],
        "quality_control": [1, 1, 1, 1, 1, 0],
        "regulatory_support": [1, 1, 1, 1, 1, 0],
        "patients": [0, 3, 10, 20, 0, 0],
        "bed_days": [0, 6, 20, 40, 0, 0],
    }
    for resource, per_year in expected.items():
        values = d.values[resource]
        assert values.shape == (50, 6)
        assert (values == np.array(per_year)).all(), resource
    np.testing.assert_allclose(d.values["beds"], d.values["bed_days"] / 365 / OCCUPANCY)
    table = d.per_year()
    gmp = table[table["resource"] == "gmp_manufacturing"]
    assert gmp["mean"].tolist() == [1, 1, 1, 1, 0, 0]
    assert gmp["calendar_year"].tolist() == list(range(2025, 2031))
    assert set(table["unit"]) == {"projects", "patients", "bed-days", "beds"}


def test_filters_by_stated_need_platform_and_manufacturer(staying, fixed):
    now = projects(
        [7] * 6,
        platforms=["AAV", "pluripotent stem cell", "lentiviral;T cell", "MSC", "AAV", "AAV"],
        support_needs=[
            "GMP manufacturing",
            "Regulatory strategy and advice;GMP manufacturing",
            pd.NA,
            "Funding applications; Regulatory strategy and advice",
            pd.NA,
            pd.NA,
        ],
        # own GMP facility as a code in text, a CDMO, unanswered, the hospital unit as a
        # label, an industry partner, not decided
        manufacturer=pd.array(["1", "3", pd.NA, "Hospital GMP unit", "4", "99.0"], dtype=object),
    )
    _, d = run(now, staying, fixed, years=3)
    eligible = {name: mask.tolist() for name, mask in d.eligible.items()}
    assert eligible == {
        "gmp_manufacturing": [True, False, True, True, False, True],
        "viral_vector": [True, False, True, False, False, True],
        "quality_control": [True, False, True, True, False, True],
        "regulatory_support": [False, True, False, True, False, False],
    }
    for name, mask in d.eligible.items():
        assert (d.values[name] == mask.sum()).all(), name  # all in Phase I, every year
    # bed-days: one T-cell project with 21 days, five others with 2, at 3 patients a year
    assert (d.values["patients"] == 6 * 3).all()
    assert (d.values["bed_days"] == 3 * 21 + 5 * 3 * 2).all()


def test_a_missing_manufacturer_column_counts_as_not_answered(staying, fixed):
    now = projects([7, 7]).drop(columns="manufacturer")
    _, d = run(now, staying, fixed, years=2)
    assert d.eligible["gmp_manufacturing"].tolist() == [True, True]


def test_an_unknown_manufacturer_or_a_missing_column_is_an_error(staying, fixed):
    now = projects([7, 7], manufacturer=["1", "our lab"])
    forecast = fc.simulate(now, staying, years=2, simulations=5, keep_states=True)
    with pytest.raises(ValueError, match="our lab"):
        dm.demand(now, forecast, fixed)
    no_platforms = projects([7]).drop(columns="platforms")
    forecast = fc.simulate(no_platforms, staying, years=2, simulations=5, keep_states=True)
    with pytest.raises(ValueError, match="'platforms'"):
        dm.demand(no_platforms, forecast, fixed)


def test_projects_are_aligned_to_the_forecast_by_id(staying, fixed):
    now = projects(
        [7, 2], platforms=["AAV", "MSC"], manufacturer=[1, 3], support_horizon=[pd.NA, pd.NA]
    )
    forecast = fc.simulate(now, staying, years=2, simulations=5, keep_states=True)
    shuffled = now.iloc[::-1]
    d = dm.demand(shuffled, forecast, fixed)
    assert d.eligible["viral_vector"].tolist() == [True, False]
    with pytest.raises(ValueError, match="p1 of the forecast is missing"):
        dm.demand(now.iloc[:1], forecast, fixed)
    with pytest.raises(ValueError, match="more than once"):
        dm.demand(pd.concat([now, now]), forecast, fixed)


# -- patients and beds --------------------------------------------------------------------


def test_patients_and_bed_days_scale_with_the_triangular_means(staying):
    assumptions = dm.load_demand_assumptions()
    rate = assumptions.patients["phase2"]
    days = assumptions.stays[-1].days
    assert rate.mean == pytest.approx((rate.low + rate.mode + rate.high) / 3)
    n = 5
    now = projects([9] * n, platforms=["MSC"] * n)
    _, d = run(now, staying, assumptions, years=2, simulations=2000)
    patients = d.values["patients"]
    assert patients.shape == (2000, 2)
    assert (patients[:, 0] == patients[:, 1]).all()  # one rate per simulation
    assert patients.min() >= n * rate.low and patients.max() <= n * rate.high
    assert patients.mean() == pytest.approx(n * rate.mean, rel=0.03)
    # days are drawn independently of the rate: the mean bed-days is the product of means
    assert d.values["bed_days"].mean() == pytest.approx(n * rate.mean * days.mean, rel=0.05)
    # one draw of days per patient per simulation, within the triangle
    per_patient = d.values["bed_days"] / d.values["patients"]
    assert per_patient.std() > 1  # the triangle (0, 2, 10) has a standard deviation of 2.2
    assert per_patient.min() >= days.low and per_patient.max() <= days.high
    beds = d.values["bed_days"] / 365 / assumptions.occupancy
    np.testing.assert_allclose(d.values["beds"], beds)


def test_immune_cell_products_take_their_own_longer_stay(staying):
    assumptions = dm.load_demand_assumptions()
    immune, other = assumptions.stays
    assert immune.platforms == ("T cell", "NK cell") and other.platforms == ()
    assert immune.days.mean > other.days.mean
    now = projects([7, 7], platforms=["NK cell", "AAV"])
    _, d = run(now, staying, assumptions, years=1, simulations=2000)
    per_patient = d.values["bed_days"].mean() / d.values["patients"].mean()
    assert per_patient == pytest.approx((immune.days.mean + other.days.mean) / 2, rel=0.05)


def test_a_project_takes_the_first_stay_group_whose_platforms_it_uses(staying):
    data = shipped_yaml()
    groups = data["beds"]["days_per_patient"]
    groups["immune_cell"].update(low=20, mode=20, high=20)
    groups["other"].update(low=1, mode=1, high=1)
    hsc = {"label": "HSC", "platforms": ["HSC", "T cell"], "low": 40, "mode": 40, "high": 40}
    hsc["source"] = "test"
    data["beds"]["days_per_patient"] = {
        "immune_cell": groups["immune_cell"],
        "hsc": hsc,
        "other": groups["other"],
    }
    for rate in data["patients"]["per_project_year"].values():
        rate.update(low=1, mode=1, high=1)
    assumptions = dm.demand_assumptions_from_dict(data)
    now = projects([7, 7, 7, 7], platforms=["HSC;T cell", "HSC", "NK cell", "AAV"])
    _, d = run(now, staying, assumptions, years=1, simulations=5)
    assert (d.values["bed_days"] == 20 + 40 + 20 + 1).all()


# -- summaries ----------------------------------------------------------------------------


def test_horizons_peak_covers_the_mean_and_bands_beyond_the_forecast_are_left_out(
    advancing, staying
):
    now = projects(
        [4, 5, 7, 2, 9],
        platforms=["AAV", "T cell", "lentiviral", "MSC", "HSC"],
        support_needs=[
            "GMP manufacturing",
            "GMP manufacturing;Hospital capacity (beds, clinic staff, patient recruitment)",
            "Viral vector production",
            "GMP manufacturing",
            pd.NA,
        ],
        support_horizon=["1-2 years", "1-2 years", "3-5 years", "5-10 years", pd.NA],
    )
    forecast = fc.simulate(
        now, fc.load_assumptions(), years=6, simulations=500, seed=5, keep_states=True
    )
    d = dm.demand(now, forecast)
    h = d.horizons()
    assert h["horizon"].unique().tolist() == ["1-2 years", "3-5 years"]  # 5-10 needs 10 years
    assert (h["peak_mean"] >= h["mean_per_year"] - 1e-12).all()
    assert (h["peak_high"] >= h["peak_low"]).all()
    gmp = h[h["resource"] == "gmp_manufacturing"].set_index("horizon")
    assert gmp["stated"].tolist() == [2, 0]
    assert h.set_index(["resource", "horizon"]).loc[("viral_vector", "3-5 years"), "stated"] == 1
    beds = h[h["resource"] == "beds"]
    assert beds["stated"].tolist() == [1, 0]  # hospital capacity
    # the band's mean per year is the mean of per_year's means over its years
    per_year = d.per_year()
    means = per_year[per_year["resource"] == "patients"]["mean"].to_numpy()
    band = h[(h["resource"] == "patients") & (h["horizon"] == "3-5 years")]
    assert band["mean_per_year"].item() == pytest.approx(means[2:5].mean())
    # a certain path: the peak is exact
    certain = projects([5], manufacturer=[1])
    _, sure = run(certain, advancing, years=10)
    sure_h = sure.horizons().set_index(["resource", "horizon"])
    assert sure_h.loc[("gmp_manufacturing", "5-10 years"), "peak_mean"] == 0
    assert sure_h.loc[("gmp_manufacturing", "3-5 years"), "mean_per_year"] == pytest.approx(2 / 3)
    assert sure_h.loc[("gmp_manufacturing", "3-5 years"), "peak_low"] == 1


def test_stated_counts_projects_the_forecast_left_out(staying, fixed):
    now = projects(
        [7, None],
        support_needs=["GMP manufacturing", "GMP manufacturing"],
        support_horizon=["1-2 years", "1-2 years"],
    )
    _, d = run(now, staying, fixed, years=2)
    assert d.project_ids.tolist() == ["p0"]
    h = d.horizons().set_index(["resource", "horizon"])
    assert h.loc[("gmp_manufacturing", "1-2 years"), "stated"] == 2


def test_a_forecast_without_states_is_refused(fixed):
    now = projects([7])
    forecast = fc.simulate(now, fc.load_assumptions(), years=2, simulations=5)
    with pytest.raises(ValueError, match="keep_states=True"):
        dm.demand(now, forecast, fixed)


def test_the_same_seed_gives_the_same_demand():
    now = projects([7, 9, 10, 5], platforms=["AAV", "T cell", "MSC", "lentiviral"])
    forecast = fc.simulate(
        now, fc.load_assumptions(), years=4, simulations=300, seed=11, keep_states=True
    )
    first = dm.demand(now, forecast)
    again = dm.demand(now, forecast)
    assert first.seed == forecast.seed
    pd.testing.assert_frame_equal(first.per_year(), again.per_year())
    pd.testing.assert_frame_equal(first.horizons(), again.horizons())
    other = dm.demand(now, forecast, seed=12)
    assert (other.values["gmp_manufacturing"] == first.values["gmp_manufacturing"]).all()
    assert not np.allclose(other.values["patients"], first.values["patients"])
    # a new forecast with the same seed gives the same numbers too
    refit = fc.simulate(
        now, fc.load_assumptions(), years=4, simulations=300, seed=11, keep_states=True
    )
    pd.testing.assert_frame_equal(dm.demand(now, refit).per_year(), first.per_year())


# -- assumptions --------------------------------------------------------------------------


def test_the_shipped_assumptions_load_and_every_row_of_their_table_has_a_source():
    a = dm.load_demand_assumptions()
    assert [r.name for r in a.resources] == [
        "gmp_manufacturing",
        "viral_vector",
        "quality_control",
        "regulatory_support",
    ]
    gmp, vector, qc, regulatory = a.resources
    assert gmp.states == ("cta_enabling", "cta", "phase1", "phase2", "phase3")
    assert vector.states == gmp.states and vector.manufacturers == gmp.manufacturers
    assert set(vector.platforms) == {
        "AAV",
        "lentiviral",
        "gamma-retroviral",
        "adenoviral",
        "oncolytic virus",
        "other viral",
    }
    assert qc.states[-1] == "filing" and regulatory.states[0] == "preclinical"
    assert "Contract manufacturer (CDMO)" not in gmp.manufacturers
    assert regulatory.projects == "stated"
    assert list(a.patients) == ["phase1", "phase2", "phase3"]
    assert dict(a.horizons) == {"1-2 years": (1, 2), "3-5 years": (3, 5), "5-10 years": (5, 10)}
    table = a.table()
    assert list(table.columns) == ["what", "value", "source"]
    assert len(table) == 4 + 1 + 3 + 2 + 1 + 3
    assert table["source"].map(lambda s: isinstance(s, str) and len(s.strip()) > 20).all()
    assert table["value"].map(lambda s: isinstance(s, str) and bool(s.strip())).all()


def mutate(path: str, value) -> dict:
    """The shipped YAML with the key at ``path`` (dots; ``None`` value: deleted) changed."""
    data = copy.deepcopy(shipped_yaml())
    *parents, last = path.split(".")
    node = data
    for part in parents:
        node = node[part]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "key"),
    [
        ("demand", 2, "demand"),
        ("budget", 1, "budget"),
        ("resources.gmp_manufacturing.states", ["phase9"], "resources.gmp_manufacturing.states"),
        ("resources.gmp_manufacturing.states", ["approved"], "resources.gmp_manufacturing.states"),
        ("resources.viral_vector.platforms", ["AAV9"], "resources.viral_vector.platforms"),
        (
            "resources.quality_control.manufacturers",
            ["CDMO"],
            "resources.quality_control.manufacturers",
        ),
        ("resources.quality_control.projects", "some", "resources.quality_control.projects"),
        ("resources.regulatory_support.need", "Regulation", "resources.regulatory_support.need"),
        ("resources.regulatory_support.why", None, "resources.regulatory_support.why"),
        ("resources.gmp_manufacturing.colour", "red", "resources.gmp_manufacturing.colour"),
        ("resources.beds", {}, "resources.beds"),
        ("patients.per_project_year.phase1.mode", 1, "patients.per_project_year.phase1.mode"),
        ("patients.per_project_year.phase2.low", -1, "patients.per_project_year.phase2.low"),
        ("patients.per_project_year.phase3.high", "many", "patients.per_project_year.phase3.high"),
        (
            "patients.per_project_year.phase1.source",
            None,
            "patients.per_project_year.phase1.source",
        ),
        ("patients.per_project_year.phase4", {}, "patients.per_project_year.phase4"),
        ("beds.occupancy", 1.5, "beds.occupancy"),
        ("beds.days_per_patient.immune_cell.platforms", None, "immune_cell.platforms"),
        ("beds.days_per_patient.other.platforms", ["MSC"], "other.platforms"),
        ("beds.days_per_patient.immune_cell.platforms", ["B cell"], "immune_cell.platforms"),
        ("horizons.bands.1-2 years", [2, 1], "horizons.bands.1-2 years"),
        ("horizons.bands.3-5 years", [0, 5], "horizons.bands.3-5 years"),
        ("horizons.source", None, "horizons.source"),
    ],
)
def test_a_bad_value_is_an_error_naming_the_file_and_key(tmp_path: Path, path, value, key):
    file = tmp_path / "demand.yaml"
    file.write_text(yaml.safe_dump(mutate(path, value), sort_keys=False), encoding="utf-8")
    with pytest.raises(dm.DemandAssumptionsError) as caught:
        dm.load_demand_assumptions(file)
    message = str(caught.value)
    assert str(file) in message
    assert key in message
    assert isinstance(caught.value, ValueError)


def test_a_missing_or_unreadable_file_is_an_error(tmp_path: Path):
    with pytest.raises(dm.DemandAssumptionsError, match="not found"):
        dm.load_demand_assumptions(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("resources: [unclosed\n", encoding="utf-8")
    with pytest.raises(dm.DemandAssumptionsError, match=r"bad\.yaml"):
        dm.load_demand_assumptions(bad)
    other = tmp_path / "forecast.yaml"
    other.write_text(fc.ASSUMPTIONS_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(dm.DemandAssumptionsError, match="not demand assumptions"):
        dm.load_demand_assumptions(other)


def test_a_fixed_triangular_value_and_an_extra_band_are_allowed():
    data = mutate("horizons.bands.10+ years", [10, 12])
    data["patients"]["per_project_year"]["phase1"].update(low=4, mode=4, high=4)
    a = dm.demand_assumptions_from_dict(data)
    assert a.patients["phase1"].draw(np.random.default_rng(0), 3).tolist() == [4.0, 4.0, 4.0]
    assert a.horizons["10+ years"] == (10, 12)


# -- the demo -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_projects() -> pd.DataFrame:
    from atmp_analysis.report import load_report_data

    p = load_report_data().projects
    return p[p["wave"] == p["wave"].max()].reset_index(drop=True)


def test_the_demo_survey_end_to_end(demo_projects):
    now = demo_projects
    forecast = fc.simulate(now, fc.load_assumptions(), years=10, simulations=2000, keep_states=True)
    d = dm.demand(now, forecast)
    per_year = d.per_year()
    resources = ["gmp_manufacturing", "viral_vector", "quality_control", "regulatory_support"]
    assert per_year["resource"].unique().tolist() == [*resources, *dm.HOSPITAL]
    assert len(per_year) == 7 * 10
    assert (per_year["calendar_year"] == per_year["year"] + int(now["wave"].iloc[0])).all()
    assert (per_year[["mean", "low", "high"]] >= 0).all().all()
    assert (per_year["low"] <= per_year["mean"]).all() and (
        per_year["mean"] <= per_year["high"]
    ).all()
    # projects made by a CDMO or an industry partner never load the centre's GMP facility
    ids = pd.Series(d.project_ids)
    made = now.set_index("project_id").loc[ids, "manufacturer"].to_numpy()
    assert not d.eligible["gmp_manufacturing"][np.isin(made, [3, 4])].any()
    assert d.eligible["gmp_manufacturing"][~np.isin(made, [3, 4])].all()
    for name in resources:
        assert d.values[name].max() <= d.eligible[name].sum()
    # someone in the demo is in a trial or about to be: patients and beds are positive
    assert d.values["patients"].mean() > 0
    np.testing.assert_allclose(d.values["beds"], d.values["bed_days"] / 365 / 0.85)
    h = d.horizons()
    assert len(h) == 7 * 3
    assert (h["peak_mean"] >= h["mean_per_year"] - 1e-12).all()
    needs = now["support_needs"].astype("string").fillna("")
    named = needs.str.contains("GMP manufacturing", regex=False)
    soon = (now["support_horizon"] == "1-2 years").fillna(False)
    gmp_soon = h[(h["resource"] == "gmp_manufacturing") & (h["horizon"] == "1-2 years")]
    assert gmp_soon["stated"].item() == int((named & soon).sum())
