"""Count tables of the report (atmp_analysis.summary) on tiny frames in the processed layout.

Projects carry labels and ``;``-joined multi-select answers as in ``projects.csv``; the
responses carry ``respondent_id``, ``project_id`` and ``status`` as in ``responses.csv``.
The missing-answers table needs the in-memory cleaned frame (codes and bit masks), built
with ``make_responses`` or, for one consistency check, by reading the demo survey.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from atmp_analysis import summary
from atmp_analysis.summary import NOT_ANSWERED, PROJECTS


def projects(**columns) -> pd.DataFrame:
    """Projects of one wave with the given columns (None = not answered)."""
    n = len(next(iter(columns.values())))
    return pd.DataFrame({"wave": [2023] * n, **columns})


def counts(table: pd.DataFrame, column: str = PROJECTS) -> dict:
    return {k: int(v) for k, v in table[column].items()}


# -- one-way tables ------------------------------------------------------------------------


def test_by_class_in_class_order_with_not_answered_last():
    p = projects(atmp_class=["TEP", "undetermined", None, "GTMP", "TEP", "sCTMP", "GTMP", None])
    table = summary.by_class(p)
    assert list(table.index) == ["GTMP", "sCTMP", "TEP", "undetermined", NOT_ANSWERED]
    assert counts(table) == {
        "GTMP": 2,
        "sCTMP": 1,
        "TEP": 2,
        "undetermined": 1,
        NOT_ANSWERED: 2,
    }
    assert table.index.name == "ATMP class"
    assert table[PROJECTS].dtype == "int64"
    assert table[PROJECTS].sum() == len(p)


def test_by_class_leaves_out_classes_nobody_has_and_not_answered_when_all_answered():
    table = summary.by_class(projects(atmp_class=["not ATMP", "cATMP", "cATMP"]))
    assert counts(table) == {"cATMP": 2, "not ATMP": 1}
    assert list(table.index) == ["cATMP", "not ATMP"]


def test_by_platform_counts_a_multi_platform_project_once_per_platform():
    p = projects(platforms=["AAV;CRISPR", "CRISPR", "MSC;AAV", None, "AAV"])
    table = summary.by_platform(p)
    assert counts(table) == {"AAV": 3, "CRISPR": 2, "MSC": 1, NOT_ANSWERED: 1}
    # vocabulary order (AAV before CRISPR before MSC), not order of frequency or the alphabet
    assert list(table.index) == ["AAV", "CRISPR", "MSC", NOT_ANSWERED]
    assert table.index.name == "Platform"


def test_by_platform_appends_unknown_labels_after_the_known_ones():
    p = projects(platforms=["zinc finger;T cell", "AAV", "bacteriophage", None, None])
    table = summary.by_platform(p)
    assert list(table.index) == ["AAV", "T cell", "bacteriophage", "zinc finger", NOT_ANSWERED]
    assert counts(table) == {
        "AAV": 1,
        "T cell": 1,
        "bacteriophage": 1,
        "zinc finger": 1,
        NOT_ANSWERED: 2,
    }


def test_by_platform_strips_blanks_around_items():
    table = summary.by_platform(projects(platforms=["AAV; CRISPR", " AAV"]))
    assert counts(table) == {"AAV": 2, "CRISPR": 1}


def test_by_stage_uses_short_labels_in_stage_order_with_trl():
    p = projects(stage_code=[7, 1, 4, 4, None, 11])
    table = summary.by_stage(p)
    assert list(table.columns) == ["TRL", PROJECTS]
    assert list(table.index) == [
        "Discovery",
        "Preclinical development",
        "Phase I",
        "Marketing authorisation",
        NOT_ANSWERED,
    ]
    assert counts(table) == {
        "Discovery": 1,
        "Preclinical development": 2,
        "Phase I": 1,
        "Marketing authorisation": 1,
        NOT_ANSWERED: 1,
    }
    assert table["TRL"].tolist()[:4] == [2, 4, 6, 9]
    assert table["TRL"].isna().tolist() == [False, False, False, False, True]
    assert table.index.name == "Stage"


def test_by_stage_accepts_codes_read_as_floats():
    """A stage_code column with a missing value is float64 when read from CSV."""
    p = projects(stage_code=np.array([2.0, 3.0, np.nan]))
    assert counts(summary.by_stage(p)) == {
        "In vitro proof of concept": 1,
        "In vivo proof of concept": 1,
        NOT_ANSWERED: 1,
    }


def test_by_trl_labels_and_order():
    table = summary.by_trl(projects(trl=[6, 2, 2, None]))
    assert counts(table) == {"TRL 2": 2, "TRL 6": 1, NOT_ANSWERED: 1}
    assert list(table.index) == ["TRL 2", "TRL 6", NOT_ANSWERED]


def test_by_area_in_instrument_order():
    table = summary.by_area(projects(ther_area=["Neurology", "Oncology", "Neurology", None]))
    assert list(table.index) == ["Oncology", "Neurology", NOT_ANSWERED]
    assert counts(table) == {"Oncology": 1, "Neurology": 2, NOT_ANSWERED: 1}


def test_by_origin_counts_products_without_cells_as_their_own_category():
    p = projects(
        cell_origin=["autologous", None, "allogeneic", "autologous"],
        contains_cells=[1, 0, 2, 1],
    )
    table = summary.by_origin(p)
    assert counts(table) == {"autologous": 2, "allogeneic": 1, "no cells": 1}
    assert list(table.index) == ["autologous", "allogeneic", "no cells"]


def test_by_origin_project_without_any_cell_answer_is_not_answered():
    p = projects(cell_origin=[None, None, "autologous"], contains_cells=[None, 0, 1])
    assert counts(summary.by_origin(p)) == {"autologous": 1, "no cells": 1, NOT_ANSWERED: 1}


def test_by_rare():
    table = summary.by_rare(projects(rare_disease=["no", "yes", None, "yes"]))
    assert list(table.index) == ["yes", "no", NOT_ANSWERED]
    assert counts(table) == {"yes": 2, "no": 1, NOT_ANSWERED: 1}


def test_coded_answers_become_instrument_labels():
    """projects.csv holds codes for these questions: ``;``-joined checkbox codes, radio codes."""
    p = projects(
        reg_contact=["1;3", "0", None, "3"],
        gmp_status=[1.0, 99.0, 1.0, None],
        manufacturer=[2, 99, 2, 2],
    )
    reg = summary.by_regulatory(p)
    assert counts(reg) == {
        "ATMP classification by the EMA CAT": 1,
        "Advice from the national competent authority (Läkemedelsverket)": 2,
        "None yet": 1,
        NOT_ANSWERED: 1,
    }
    assert counts(summary.by_manufacturing(p)) == {
        "Research-grade process only": 2,
        "Don't know": 1,
        NOT_ANSWERED: 1,
    }
    assert counts(summary.by_manufacturer(p)) == {"Hospital GMP unit": 3, "Not decided": 1}


# -- funnel ----------------------------------------------------------------------------------


def test_funnel_counts_projects_that_reached_at_least_each_stage():
    p = projects(stage_code=[1, 4, 4, 7, None])
    table = summary.funnel(p)
    assert table.index.name == "Reached at least"
    assert counts(table) == {
        "Discovery": 4,
        "In vitro proof of concept": 3,
        "In vivo proof of concept": 3,
        "Preclinical development": 3,
        "CTA-enabling studies": 1,
        "CTA submitted or approved": 1,
        "Phase I": 1,
        "Phase I/II": 0,
    }
    # the funnel stops with the first stage nobody reached
    assert list(table.index)[-1] == "Phase I/II"
    assert table[PROJECTS].is_monotonic_decreasing


def test_funnel_runs_to_marketing_authorisation_when_a_project_got_there():
    table = summary.funnel(projects(stage_code=[11, 2]))
    assert len(table) == 11
    assert table[PROJECTS].tolist() == [2, 2] + [1] * 9


def test_funnel_of_early_projects_stops_at_the_second_stage():
    table = summary.funnel(projects(stage_code=[1, 1]))
    assert counts(table) == {"Discovery": 2, "In vitro proof of concept": 0}


# -- cross tables ----------------------------------------------------------------------------


def test_class_by_stage_orders_rows_and_columns_and_fills_zeros():
    p = projects(
        atmp_class=["TEP", "GTMP", None, "GTMP", "undetermined", "GTMP"],
        stage_code=[1, 4, 4, 7, None, 5],
    )
    table = summary.class_by_stage(p)
    assert list(table.index) == ["GTMP", "TEP", "undetermined", NOT_ANSWERED]
    assert list(table.columns) == [
        "Discovery and proof of concept",
        "Preclinical and CTA-enabling",
        "Clinical trial application and Phase I",
        NOT_ANSWERED,
    ]
    assert table.index.name == "ATMP class"
    assert table.columns.name == "Stage"
    assert table.to_numpy().tolist() == [
        [0, 2, 1, 0],
        [1, 0, 0, 0],
        [0, 0, 0, 1],
        [0, 1, 0, 0],
    ]
    assert table.dtypes.eq("int64").all()
    assert table.to_numpy().sum() == len(p)


def test_area_by_stage():
    p = projects(
        ther_area=["Neurology", "Oncology", "Oncology", None],
        stage_code=[10, 2, 6, 1],
    )
    table = summary.area_by_stage(p)
    assert list(table.index) == ["Oncology", "Neurology", NOT_ANSWERED]
    assert list(table.columns) == [
        "Discovery and proof of concept",
        "Clinical trial application and Phase I",
        "Phase II and later",
    ]
    assert table.to_numpy().tolist() == [[1, 1, 0], [0, 0, 1], [1, 0, 0]]
    assert table.index.name == "Therapeutic area"


def test_needs_by_horizon_has_a_not_known_column():
    p = projects(
        support_needs=[
            "GMP manufacturing;Funding applications",
            "Funding applications",
            None,
            "GMP manufacturing",
            "Other",
        ],
        support_horizon=["1-2 years", None, "3-5 years", "1-2 years", "5-10 years"],
    )
    table = summary.needs_by_horizon(p)
    assert list(table.index) == ["GMP manufacturing", "Funding applications", "Other"]
    # 3-5 years belongs to a project without needs: no column for it
    assert list(table.columns) == ["1-2 years", "5-10 years", "not known"]
    assert table.columns.name == "Needed within"
    assert table.loc["GMP manufacturing"].tolist() == [2, 0, 0]
    assert table.loc["Funding applications"].tolist() == [1, 0, 1]
    assert table.loc["Other"].tolist() == [0, 1, 0]


def test_needs_by_class_counts_each_need_of_a_project():
    p = projects(
        support_needs=["GMP manufacturing;Viral vector production", "GMP manufacturing"],
        atmp_class=["GTMP", "TEP"],
    )
    table = summary.needs_by_class(p)
    assert table.loc["GMP manufacturing"].tolist() == [1, 1]
    assert table.loc["Viral vector production"].tolist() == [1, 0]
    assert list(table.columns) == ["GTMP", "TEP"]


def test_fih_by_class_labels_years_by_wave_later():
    p = projects(
        atmp_class=["GTMP", "GTMP", "TEP", "TEP", "GTMP", "sCTMP"],
        fih_year=[2021.0, 2023.0, 2025.0, 2033.0, 2034.0, 2025.0],
    )
    table = summary.fih_by_class(p, 2023)
    assert list(table.index) == ["by 2023", "2025", "2033", "later"]
    assert list(table.columns) == ["GTMP", "sCTMP", "TEP"]
    assert table.columns.name == "ATMP class"
    assert table.index.name == "Expected first patient"
    assert table.to_numpy().tolist() == [[2, 0, 0], [0, 1, 1], [0, 0, 1], [1, 0, 0]]


def test_fih_by_class_years_parameter_moves_the_later_boundary():
    p = projects(atmp_class=["GTMP", "GTMP"], fih_year=[2026.0, 2027.0])
    table = summary.fih_by_class(p, 2023, years=3)
    assert list(table.index) == ["2026", "later"]


def test_fih_by_class_project_without_a_year_is_not_given():
    p = projects(atmp_class=["GTMP", "GTMP", "TEP"], fih_year=[None, 2025.0, None])
    table = summary.fih_by_class(p, 2023)
    assert list(table.index) == ["2025", "not given"]
    assert table.loc["not given"].tolist() == [1, 1]


# -- responses -------------------------------------------------------------------------------


def test_response_flow_counts_forms_respondents_and_projects():
    r = pd.DataFrame(
        {
            "respondent_id": [
                "R1",
                "R2",
                "R1",  # R1 answers for a second project
                "R3",
                None,  # screened out: no identifiers, counts as one respondent
                None,  # another screened-out form
                "R9",  # test response: not a respondent
                "R2",  # duplicate submission of R2
                "R4",  # said "no ATMP project" but has a pseudonym
            ],
            "project_id": ["PA", "PA", "PB", "PC", None, None, None, None, None],
            "status": [
                "project",
                "project",
                "project",
                "project",
                "no ATMP project",
                "no ATMP project",
                "test response",
                "duplicate submission",
                "no ATMP project",
            ],
            "wave": [2023] * 9,
        }
    )
    flow = summary.response_flow(r)
    assert flow.index.name == "Step"
    assert flow["Count"].to_dict() == {
        "Forms read": 9,
        "Test responses set aside": 1,
        "Duplicate submissions set aside": 1,
        "Respondents": 6,  # R1, R2, R3, R4 and the two anonymous screened-out forms
        "Respondents on no ATMP project": 3,
        "Forms describing a project": 4,
        "Projects": 3,
    }


def test_response_flow_excludes_test_responses_from_respondents():
    r = pd.DataFrame(
        {
            "respondent_id": ["R1", "R8", "R9"],
            "project_id": ["PA", None, None],
            "status": ["project", "test response", "test response"],
        }
    )
    flow = summary.response_flow(r)["Count"]
    assert flow["Respondents"] == 1
    assert flow["Test responses set aside"] == 2
    assert flow["Projects"] == 1


def test_missing_answers_follows_the_branching_logic(make_responses):
    responses = make_responses(
        [
            # recombinant nucleic acid: gene_effect shown and answered
            {"rna_dna": 1, "gene_effect": 1, "stage": 4, "rare_disease": 1},
            # gene_effect shown and left empty; rare disease: don't know
            {"rna_dna": 1, "stage": 2, "rare_disease": 99},
            # no nucleic acid: gene_effect not shown; stage left empty
            {"rna_dna": 0, "rare_disease": 0},
            # screened out: not a project form
            {"atmp_project": 0},
            # another wave
            {"wave": 2024, "rna_dna": 0, "stage": 1},
        ]
    )
    table = summary.missing_answers(responses)
    assert list(table.columns) == [
        "wave",
        "variable",
        "question",
        "shown",
        "not answered",
        "don't know",
        "answered (%)",
    ]
    rows = table.set_index(["wave", "variable"])
    assert rows.loc[(2023, "gene_effect"), ["shown", "not answered", "don't know"]].tolist() == [
        2,
        1,
        0,
    ]
    assert rows.loc[(2023, "gene_effect"), "answered (%)"] == 50.0
    assert rows.loc[(2023, "stage"), ["shown", "not answered", "don't know"]].tolist() == [3, 1, 0]
    assert rows.loc[(2023, "rare_disease"), ["shown", "not answered", "don't know"]].tolist() == [
        3,
        0,
        1,
    ]
    assert rows.loc[(2023, "rare_disease"), "answered (%)"] == 67.0
    assert rows.loc[(2024, "gene_effect"), "shown"] == 0
    assert np.isnan(rows.loc[(2024, "gene_effect"), "answered (%)"])
    assert rows.loc[(2024, "stage"), ["shown", "not answered"]].tolist() == [1, 0]
    # waves first, then questions in instrument order
    assert table["wave"].tolist() == sorted(table["wave"])
    first = table[table["wave"] == 2023]["variable"].tolist()
    assert first.index("rna_dna") < first.index("gene_effect") < first.index("stage")
    assert rows.loc[(2023, "stage"), "question"] == "Current stage of development"


# -- the demo survey, read once --------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_responses(tmp_path_factory) -> pd.DataFrame:
    from atmp_analysis import load_key, read_surveys
    from atmp_analysis.config import demo_exports

    key = load_key(str(tmp_path_factory.mktemp("summary-key") / "k.key"))
    return read_surveys(demo_exports(), key)


def test_demo_missing_answers_are_consistent(demo_responses):
    table = summary.missing_answers(demo_responses)
    assert sorted(table["wave"].unique()) == [2023, 2024]
    rows = table.set_index(["wave", "variable"])
    for wave in (2023, 2024):
        forms = int(
            ((demo_responses["wave"] == wave) & (demo_responses["status"] == "project")).sum()
        )
        # unconditional questions are shown on every project form ...
        assert rows.loc[(wave, "stage"), "shown"] == forms
        assert rows.loc[(wave, "atmp_project"), "shown"] == forms
        # ... branching ones only on some
        assert 0 < rows.loc[(wave, "gene_effect"), "shown"] < rows.loc[(wave, "stage"), "shown"]
        assert rows.loc[(wave, "cell_origin"), "shown"] < forms
    assert (table["not answered"] + table["don't know"] <= table["shown"]).all()
    assert (table[["shown", "not answered", "don't know"]] >= 0).all().all()
    shown = table[table["shown"] > 0]
    expected = (
        100 * (shown["shown"] - shown["not answered"] - shown["don't know"]) / shown["shown"]
    ).round(0)
    assert shown["answered (%)"].tolist() == expected.tolist()
    assert table.loc[table["shown"] == 0, "answered (%)"].isna().all()
    # questions without a "Don't know" choice never count one
    assert (table.loc[table["variable"] == "stage", "don't know"] == 0).all()


def test_demo_response_flow_2023(demo_responses):
    flow = summary.response_flow(summary.of_wave(demo_responses, 2023))["Count"]
    assert flow["Respondents"] == 44
    assert flow["Projects"] == 23
    assert flow["Forms read"] == (
        flow["Test responses set aside"]
        + flow["Duplicate submissions set aside"]
        + flow["Respondents on no ATMP project"]
        + flow["Forms describing a project"]
    )


def test_stage_groups_in_pipeline_order():
    assert summary.stage_groups() == [
        "Discovery and proof of concept",
        "Preclinical and CTA-enabling",
        "Clinical trial application and Phase I",
        "Phase II and later",
    ]


def test_of_wave_accepts_waves_read_as_text():
    table = pd.DataFrame({"wave": ["2022", "2023", "2023"], "x": [1, 2, 3]})
    assert summary.of_wave(table, 2023)["x"].tolist() == [2, 3]
