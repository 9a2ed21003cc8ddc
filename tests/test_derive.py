"""Tests of atmp_analysis.derive: the derived project columns of OUTPUTS.md."""

from __future__ import annotations

import pandas as pd
import pytest

from atmp_analysis.config import REFERENCE_DIR
from atmp_analysis.derive import derive_columns

# NIH/HHS TRL for therapeutics, as data/reference/stage_trl.csv gives them
STAGE_TRL = {1: 2, 2: 3, 3: 3, 4: 4, 5: 5, 6: 5, 7: 6, 8: 6, 9: 7, 10: 8, 11: 9}


@pytest.fixture
def derive(make_responses, instrument):
    """derive_columns over rows that carry the merged answers (one row per project)."""

    def run(rows: list[dict]) -> pd.DataFrame:
        return derive_columns(make_responses(rows), instrument)

    return run


def _one(derive, **answers) -> pd.Series:
    return derive([answers]).iloc[0]


# -- platforms -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({"gene_tech": [2, 1]}, "AAV;lentiviral"),
        ({"gene_tech": [9, 10, 11]}, "CRISPR;base/prime editing;transposon"),
        ({"cell_type": [1, 2]}, "pluripotent stem cell"),
        ({"cell_type": [2]}, "pluripotent stem cell"),
        ({"cell_type": [5, 3]}, "MSC;T cell"),
        ({"device": 1}, "scaffold/device"),
        ({"device": 0, "cell_type": [8]}, "chondrocyte"),
        (
            {"gene_tech": [1], "cell_type": [4, 1], "device": 1},
            "AAV;pluripotent stem cell;HSC;scaffold/device",
        ),
        ({"gene_tech": [12]}, None),  # "Other" gene technology is no platform of the list
        ({}, None),
    ],
)
def test_platforms_in_vocabulary_order(derive, answers, expected):
    value = _one(derive, **answers)["platforms"]
    if expected is None:
        assert pd.isna(value)
    else:
        assert value == expected


def test_platforms_one_row_each(derive):
    out = derive([{"gene_tech": [7]}, {"cell_type": [11]}, {"device": 1, "gene_tech": [8]}])
    assert out["platforms"].tolist() == ["mRNA", "other cell", "plasmid;scaffold/device"]


# -- cell origin, rare disease, support horizon, therapeutic area ----------------------------
@pytest.mark.parametrize(
    ("code", "label"),
    [(1, "autologous"), (2, "allogeneic"), (3, "xenogeneic"), (4, "allogeneic"), (None, None)],
)
def test_cell_origin(derive, code, label):
    row = _one(derive, cell_origin=code)
    if label is None:
        assert pd.isna(row["cell_origin"])
        assert pd.isna(row["cell_origin_code"])
    else:
        assert row["cell_origin"] == label
        assert row["cell_origin_code"] == code


@pytest.mark.parametrize(("code", "label"), [(1, "yes"), (0, "no"), (99, None), (None, None)])
def test_rare_disease(derive, code, label):
    row = _one(derive, rare_disease=code)
    assert row["rare_disease"] == label if label else pd.isna(row["rare_disease"])


@pytest.mark.parametrize(
    ("code", "label"),
    [(1, "1-2 years"), (2, "3-5 years"), (3, "5-10 years"), (99, None), (None, None)],
)
def test_support_horizon(derive, code, label):
    row = _one(derive, support_horizon=code)
    assert row["support_horizon"] == label if label else pd.isna(row["support_horizon"])


def test_support_horizon_code_kept(derive):
    out = derive([{"support_horizon": 99}, {"support_horizon": 2}])
    assert out["support_horizon_code"].tolist() == [99, 2]


@pytest.mark.parametrize(
    ("code", "label"), [(1, "Oncology"), (3, "Neurology"), (14, "Other"), (None, None)]
)
def test_ther_area_label(derive, code, label):
    row = _one(derive, ther_area=code)
    assert row["ther_area"] == label if label else pd.isna(row["ther_area"])


# -- stage and TRL ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("stage", "label", "trl"),
    [
        (1, "Discovery or idea", 2),
        (4, "Preclinical development (efficacy and safety studies, non-GLP)", 4),
        (7, "Phase I", 6),
        (9, "Phase II", 7),
        (11, "Marketing authorisation applied for or granted", 9),
    ],
)
def test_stage_label_and_trl(derive, stage, label, trl):
    row = _one(derive, stage=stage)
    assert row["stage_code"] == stage
    assert row["stage"] == label
    assert row["trl"] == trl


def test_trl_follows_the_reference_table(derive):
    table = pd.read_csv(REFERENCE_DIR / "stage_trl.csv")
    assert dict(zip(table["stage_code"], table["trl"], strict=True)) == STAGE_TRL
    out = derive([{"stage": stage} for stage in STAGE_TRL])
    assert out["stage_code"].tolist() == list(STAGE_TRL)
    assert out["trl"].tolist() == list(STAGE_TRL.values())


def test_stage_missing_gives_no_trl(derive):
    row = _one(derive, stage=None)
    assert pd.isna(row["stage_code"])
    assert pd.isna(row["stage"])
    assert pd.isna(row["trl"])


def test_stage_and_trl_dtypes(derive):
    out = derive([{"stage": 9}, {"stage": None}])
    assert out["stage_code"].dtype == "Int64"
    assert out["trl"].dtype == "Int64"


# -- support needs ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ([5, 1], "Regulatory strategy and advice;Viral vector production"),
        ([2], "GMP manufacturing"),
        ([12, 13], "Training and staff competence;Other"),
        (None, None),
    ],
)
def test_support_needs_labels(derive, codes, expected):
    row = _one(derive, support_needs=codes)
    if expected is None:
        assert pd.isna(row["support_needs"])
    else:
        assert row["support_needs"] == expected


def test_support_needs_mask_kept_as_code(derive):
    row = _one(derive, support_needs=[1, 5])
    assert row["support_needs_code"] == (1 << 1) | (1 << 5)


def test_derive_does_not_change_its_input(make_responses, instrument):
    frame = make_responses([{"stage": 9, "cell_origin": 4, "support_needs": [1]}])
    before = frame.copy()
    derive_columns(frame, instrument)
    pd.testing.assert_frame_equal(frame, before)
