"""Tests of atmp_analysis.derive: the derived project columns of OUTPUTS.md."""

from __future__ import annotations

import pandas as pd
import pytest

from atmp_analysis.config import REFERENCE_DIR
from atmp_analysis.derive import derive_columns, unrecognised_values

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


# -- helpers for the text-derived columns ----------------------------------------------------
def _value(row: pd.Series, column: str) -> object:
    """A cell, missing as None (so a test can compare exactly)."""
    value = row[column]
    return None if pd.isna(value) else value


def _listed(out: pd.DataFrame) -> list[tuple]:
    """unrecognised_values of derived rows, as (acronym, field, value, outcome) tuples."""
    ids = out.assign(
        project_id=[f"P{i}" for i in range(len(out))],
        acronym=[f"proj{i}" for i in range(len(out))],
    )
    table = unrecognised_values(ids)
    return list(table[["acronym", "field", "value", "outcome"]].itertuples(index=False, name=None))


# -- therapeutic area from text --------------------------------------------------------------
@pytest.mark.parametrize(
    ("answers", "area", "evidence"),
    [
        (
            {"disease": "Parkinson's disease"},
            "Neurology",
            'ther_area: Neurology (the disease ("Parkinson"))',
        ),
        (
            {"disease": "wet AMD", "ther_area": 14},
            "Ophthalmology",
            'ther_area: Ophthalmology (the disease ("AMD"))',
        ),
        (
            {"disease": "Kronisk hjärtsvikt", "ther_area": 14},
            "Cardiovascular",
            'ther_area: Cardiovascular (the disease ("hjärtsvikt"))',
        ),
        (
            {"ther_area": 14, "ther_area_other": "retina", "disease": "Parkinson's disease"},
            "Ophthalmology",  # the other area comes before the disease
            'ther_area: Ophthalmology (the other area ("retina"))',
        ),
        (
            {"ther_area_other": "Neurodegeneration"},
            "Neurology",
            'ther_area: Neurology (the other area ("Neurodegeneration"))',
        ),
        (
            {"ther_area": 14, "ther_area_other": "vet ej", "disease": "Crohns sjukdom"},
            "Gastroenterology and hepatology",
            'ther_area: Gastroenterology and hepatology (the disease ("Crohns"))',
        ),
    ],
)
def test_ther_area_recognised_in_text_when_other_or_empty(derive, answers, area, evidence):
    row = _one(derive, **answers)
    assert row["ther_area"] == area
    assert _value(row, "ther_area_code") == answers.get("ther_area")
    assert row["text_evidence"] == evidence
    assert pd.isna(row["unrecognised"])


@pytest.mark.parametrize(
    ("answers", "area"),
    [
        ({"ther_area": 1, "disease": "Parkinson's disease"}, "Oncology"),
        ({"ther_area": 3, "disease": "wet AMD"}, "Neurology"),
        (
            {"ther_area": 2, "ther_area_other": "retina", "disease": "glioma"},
            "Haematology (non-malignant)",
        ),
        ({"ther_area": 13, "disease": "Mystery syndrome"}, "Infectious disease"),
    ],
)
def test_explicit_area_never_overridden_by_text(derive, answers, area):
    row = _one(derive, **answers)
    assert row["ther_area"] == area
    assert row["ther_area_code"] == answers["ther_area"]
    assert pd.isna(row["text_evidence"])
    assert pd.isna(row["unrecognised"])  # the text was not read, so nothing is unrecognised


def test_acronym_in_lower_case_is_no_area(derive):
    row = _one(derive, ther_area=14, disease="amd")
    assert row["ther_area"] == "Other"
    assert row["unrecognised"] == "disease"


@pytest.mark.parametrize(
    ("answers", "area", "listed"),
    [
        (
            {"ther_area": 14, "disease": "Mystery syndrome"},
            "Other",
            [
                (
                    "proj0",
                    "disease",
                    "Mystery syndrome",
                    "no therapeutic area recognised in the disease: area left as answered",
                )
            ],
        ),
        (
            {"disease": "Mystery syndrome"},
            None,
            [
                (
                    "proj0",
                    "disease",
                    "Mystery syndrome",
                    "no therapeutic area recognised in the disease: area left as answered",
                )
            ],
        ),
        (
            {"ther_area": 14, "ther_area_other": "vet ej"},
            "Other",
            [
                (
                    "proj0",
                    "ther_area_other",
                    "vet ej",
                    "no therapeutic area recognised: left as 'Other'",
                )
            ],
        ),
        (
            {"ther_area": 14, "ther_area_other": "vet ej", "disease": "Mystery syndrome"},
            "Other",
            [
                (
                    "proj0",
                    "ther_area_other",
                    "vet ej",
                    "no therapeutic area recognised: left as 'Other'",
                ),
                (
                    "proj0",
                    "disease",
                    "Mystery syndrome",
                    "no therapeutic area recognised in the disease: area left as answered",
                ),
            ],
        ),
    ],
)
def test_unrecognised_area_text_is_listed(derive, answers, area, listed):
    out = derive([answers])
    assert _value(out.iloc[0], "ther_area") == area
    assert pd.isna(out.iloc[0]["text_evidence"])
    assert out.iloc[0]["unrecognised"] == ";".join(field for _, field, _, _ in listed)
    assert _listed(out) == listed


# -- support needs and bottleneck themes from text -------------------------------------------
@pytest.mark.parametrize(
    ("answers", "needs", "added"),
    [
        ({"support_other": "vi behöver GMP-kapacitet"}, "GMP manufacturing", "GMP manufacturing"),
        (
            {"support_needs": [13], "support_other": "vi behöver GMP-kapacitet"},
            "GMP manufacturing",  # "Other" is counted as what it names
            "GMP manufacturing",
        ),
        (
            {"support_needs": [2], "support_other": "GMP-kapacitet"},
            "GMP manufacturing",
            None,  # ticked already: nothing added from text
        ),
        (
            {
                "support_needs": [13],
                "support_other": "hjälp med regulatoriska frågor och etikansökan",
            },
            "Regulatory strategy and advice;Clinical trial design and applications",
            "Regulatory strategy and advice, Clinical trial design and applications",
        ),
        (
            {"support_other": "vektorproduktion och uppskalning"},
            "Process development and scale-up;Viral vector production",
            "Process development and scale-up, Viral vector production",
        ),
        (
            {"support_needs": [1], "bottleneck": "Vi saknar finansiering och personal"},
            "Regulatory strategy and advice;Funding applications;Training and staff competence",
            "Funding applications, Training and staff competence",
        ),
        (
            {"support_needs": [13], "support_other": "patent", "bottleneck": "GLP tox"},
            "Preclinical efficacy and toxicology studies;"
            "Intellectual property and commercialisation",
            "Preclinical efficacy and toxicology studies, "
            "Intellectual property and commercialisation",
        ),
    ],
)
def test_support_needs_recognised_in_text(derive, answers, needs, added):
    row = _one(derive, **answers)
    assert row["support_needs"] == needs
    expected = None if added is None else f"support_needs: {added} (support_other or bottleneck)"
    assert _value(row, "text_evidence") == expected
    assert pd.isna(row["unrecognised"])


def test_unrecognised_support_other_keeps_other(derive):
    out = derive([{"support_needs": [13, 2], "support_other": "juridisk hjälp"}])
    row = out.iloc[0]
    assert row["support_needs"] == "GMP manufacturing;Other"
    assert pd.isna(row["text_evidence"])
    assert row["unrecognised"] == "support_other"
    assert _listed(out) == [
        (
            "proj0",
            "support_other",
            "juridisk hjälp",
            "no support need recognised: counted as 'Other'",
        )
    ]


def test_support_needs_code_unchanged_by_text(derive):
    row = _one(derive, support_needs=[13], support_other="GMP-kapacitet")
    assert row["support_needs_code"] == 1 << 13


@pytest.mark.parametrize(
    ("bottleneck", "themes"),
    [
        ("Lack of clean room time and GLP tox studies", "GMP capacity;toxicology"),
        ("Funding, and the regulatory path (ATMP classification)", "funding;regulatory"),
        ("Recruiting patients and follow-up", "hospital capacity"),
        ("Too expensive", "funding"),
        ("Vi saknar finansiering och personal", "funding;staff and competence"),
        ("Brist på renrum och vektortillverkning", "GMP capacity;vector supply"),
        ("Kontakt med Läkemedelsverket", "regulatory"),
        ("Kvalitetskontroll och patentfrågor", "QC/analytics;IP and partnering"),
    ],
)
def test_bottleneck_themes_in_english_and_swedish(derive, bottleneck, themes):
    row = _one(derive, bottleneck=bottleneck)
    assert row["bottleneck_themes"] == themes
    assert pd.isna(row["unrecognised"])


def test_unrecognised_bottleneck_is_listed(derive):
    out = derive([{"bottleneck": "nothing in particular"}, {"bottleneck": None}])
    assert pd.isna(out.iloc[0]["bottleneck_themes"])
    assert out["unrecognised"].tolist()[0] == "bottleneck"
    assert pd.isna(out.iloc[1]["unrecognised"])
    assert _listed(out) == [
        ("proj0", "bottleneck", "nothing in particular", "no bottleneck theme recognised")
    ]


def test_need_without_theme_still_lists_the_bottleneck(derive):
    row = _one(derive, bottleneck="trial design")
    assert row["support_needs"] == "Clinical trial design and applications"
    assert pd.isna(row["bottleneck_themes"])
    assert row["unrecognised"] == "bottleneck"


# -- platforms from text ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("answers", "platforms", "evidence"),
    [
        (
            {"gene_tech": [12], "gene_tech_other": "Sleeping Beauty transposon"},
            "transposon",
            "platforms: transposon",
        ),
        (
            {"gene_tech": [12, 9], "gene_tech_other": "piggyBac"},
            "CRISPR;transposon",
            "platforms: transposon",
        ),
        ({"gene_tech": [1, 12], "gene_tech_other": "AAV-like capsid"}, "AAV", None),
        (
            {"cell_type": [11], "cell_type_other": "regulatory T cells"},
            "T cell",  # replaces "other cell"
            "platforms: T cell",
        ),
        ({"cell_type": [11, 3], "cell_type_other": "Tregs"}, "MSC;T cell", "platforms: T cell"),
        (
            {"cell_type": [11], "cell_type_other": "odlade kondrocyter"},
            "chondrocyte",
            "platforms: chondrocyte",
        ),
        ({"cell_type": [11, 5], "cell_type_other": "CAR-T"}, "T cell", None),
    ],
)
def test_platforms_from_other_answers(derive, answers, platforms, evidence):
    row = _one(derive, **answers)
    assert row["platforms"] == platforms
    assert _value(row, "text_evidence") == evidence
    assert pd.isna(row["unrecognised"])


@pytest.mark.parametrize(
    ("answers", "platforms", "field", "outcome"),
    [
        (
            {"gene_tech": [12], "gene_tech_other": "zinc finger nuclease"},
            None,
            "gene_tech_other",
            "no gene technology recognised: no platform counted for it",
        ),
        (
            {"gene_tech": [12], "gene_tech_other": "CAR-T"},  # a cell type, not a gene technology
            None,
            "gene_tech_other",
            "no gene technology recognised: no platform counted for it",
        ),
        (
            {"gene_tech": [12, 7], "gene_tech_other": "zinc finger nuclease"},
            "mRNA",
            "gene_tech_other",
            "no gene technology recognised: no platform counted for it",
        ),
        (
            {"cell_type": [11], "cell_type_other": "blob cells"},
            "other cell",
            "cell_type_other",
            "no cell type recognised: counted as 'other cell'",
        ),
        (
            {"cell_type": [11, 8], "cell_type_other": "blob cells"},
            "chondrocyte;other cell",
            "cell_type_other",
            "no cell type recognised: counted as 'other cell'",
        ),
    ],
)
def test_unrecognised_other_answers_are_listed(derive, answers, platforms, field, outcome):
    out = derive([answers])
    row = out.iloc[0]
    assert _value(row, "platforms") == platforms
    assert pd.isna(row["text_evidence"])
    assert row["unrecognised"] == field
    assert _listed(out) == [("proj0", field, answers[field], outcome)]


def test_other_cell_term_in_cell_type_other_is_not_unrecognised(derive):
    row = _one(derive, cell_type=[11], cell_type_other="hepatocytes")
    assert row["platforms"] == "other cell"
    assert pd.isna(row["unrecognised"])


@pytest.mark.parametrize(
    ("answers", "platforms"),
    [
        # the question was not answered and nothing rules it out: the description counts
        ({"proj_description": "An AAV9 vector delivering GDNF"}, "AAV"),
        ({"proj_description": "An AAV9 vector", "rna_dna": 1}, "AAV"),
        ({"proj_description": "An AAV9 vector", "rna_dna": 99}, "AAV"),
        (
            {"proj_description": "iPSC-derived neurons", "contains_cells": 1},
            "pluripotent stem cell",
        ),
        (
            {"proj_description": "iPSC-derived dopamine neurons in a hydrogel"},
            "pluripotent stem cell;scaffold/device",
        ),
        ({"proj_description": "Lentiviral vector", "therapy_type": 1}, "lentiviral"),
        # answered: the description adds nothing
        ({"proj_description": "An AAV9 vector", "gene_tech": [2]}, "lentiviral"),
        ({"proj_description": "iPSC-derived neurons", "cell_type": [3]}, "MSC"),
        # ruled out
        ({"proj_description": "An AAV9 vector", "rna_dna": 0}, None),
        ({"proj_description": "iPSC-derived neurons", "contains_cells": 0}, None),
        ({"proj_description": "a hydrogel scaffold", "device": 0}, None),
        # generic cell words are no evidence of a platform
        ({"proj_description": "hepatocytes from donor livers"}, None),
        ({"proj_description": "cells implanted under the skin"}, None),
    ],
)
def test_platforms_from_description_only_when_unanswered(derive, answers, platforms):
    row = _one(derive, **answers)
    assert _value(row, "platforms") == platforms
    assert pd.isna(row["unrecognised"])  # the description is never listed


def test_platforms_from_description_are_evidence(derive):
    row = _one(derive, proj_description="iPSC-derived dopamine neurons in a hydrogel")
    assert row["text_evidence"] == "platforms: pluripotent stem cell, scaffold/device"
    row = _one(derive, proj_description="An AAV9 vector", gene_tech=[1])
    assert row["platforms"] == "AAV"
    assert pd.isna(row["text_evidence"])  # the answer already said so


def test_description_ruled_out_per_question(derive):
    row = _one(
        derive,
        proj_description="AAV-transduced MSC on a collagen scaffold",
        rna_dna=0,
        contains_cells=1,
    )
    assert row["platforms"] == "MSC;scaffold/device"


def test_cartilage_in_description_is_no_t_cell(derive):
    row = _one(
        derive, proj_description="Autologous chondrocytes on a membrane for cartilage repair"
    )
    assert row["platforms"] == "chondrocyte;scaffold/device"


# -- text evidence, unrecognised, idempotency ------------------------------------------------
def test_text_evidence_joins_every_source(derive):
    row = _one(
        derive,
        proj_description="An AAV9 vector",
        disease="Parkinson's disease",
        bottleneck="funding",
    )
    assert row["text_evidence"] == (
        "platforms: AAV; "
        'ther_area: Neurology (the disease ("Parkinson")); '
        "support_needs: Funding applications (support_other or bottleneck)"
    )


def test_unrecognised_fields_in_outcome_order(derive):
    row = _one(
        derive,
        gene_tech=[12],
        gene_tech_other="zinc finger nuclease",
        cell_type=[11],
        cell_type_other="blob cells",
        ther_area=14,
        ther_area_other="vet ej",
        disease="Mystery syndrome",
        support_other="juridisk hjälp",
        bottleneck="nothing in particular",
    )
    assert row["unrecognised"] == (
        "gene_tech_other;cell_type_other;ther_area_other;disease;support_other;bottleneck"
    )


def test_unrecognised_values_sorted_by_wave_acronym_and_field(derive):
    out = derive(
        [
            {"wave": 2024, "bottleneck": "nothing", "disease": "X syndrome"},
            {"wave": 2023, "bottleneck": "nada"},
            {"wave": 2023, "gene_tech": [12], "gene_tech_other": "ZFN", "bottleneck": "hmm"},
            {"wave": 2023, "bottleneck": "GLP tox"},
        ]
    ).assign(project_id=["P1", "P2", "P3", "P4"], acronym=["alpha", "beta", "Alpha2", "gamma"])
    table = unrecognised_values(out)
    assert list(table.columns) == ["project_id", "wave", "acronym", "field", "value", "outcome"]
    assert list(
        table[["project_id", "wave", "acronym", "field", "value"]].itertuples(
            index=False, name=None
        )
    ) == [
        ("P3", 2023, "Alpha2", "gene_tech_other", "ZFN"),
        ("P3", 2023, "Alpha2", "bottleneck", "hmm"),
        ("P2", 2023, "beta", "bottleneck", "nada"),
        ("P1", 2024, "alpha", "disease", "X syndrome"),
        ("P1", 2024, "alpha", "bottleneck", "nothing"),
    ]


def test_unrecognised_values_when_nothing_is_unrecognised(derive):
    out = derive([{"disease": "glioma"}, {}]).assign(project_id=["P1", "P2"], acronym=["a", "b"])
    assert out["unrecognised"].isna().all()
    table = unrecognised_values(out)
    assert table.empty
    assert list(table.columns) == ["project_id", "wave", "acronym", "field", "value", "outcome"]
    assert unrecognised_values(out.drop(columns="unrecognised")).empty


IDEMPOTENCY_ROWS = [
    {"disease": "Parkinson's disease", "stage": 3, "cell_origin": 4},
    {"disease": "wet AMD", "ther_area": 14, "rare_disease": 1, "support_horizon": 2},
    {"ther_area": 1, "disease": "Parkinson's disease", "stage": 9},
    {"ther_area": 14, "ther_area_other": "vet ej", "disease": "Mystery syndrome"},
    {"support_needs": [13], "support_other": "vi behöver GMP-kapacitet"},
    {"support_needs": [13, 2], "support_other": "juridisk hjälp", "bottleneck": "nada"},
    {"support_needs": [1], "bottleneck": "Vi saknar finansiering och personal"},
    {"gene_tech": [12], "gene_tech_other": "Sleeping Beauty transposon"},
    {"gene_tech": [12], "gene_tech_other": "zinc finger nuclease"},
    {"cell_type": [11], "cell_type_other": "regulatory T cells"},
    {"cell_type": [11], "cell_type_other": "blob cells"},
    {"proj_description": "iPSC-derived dopamine neurons in a hydrogel"},
    {"proj_description": "An AAV9 vector", "rna_dna": 0, "device": 1},
    {},
]


def test_derive_is_idempotent(derive, instrument):
    once = derive(IDEMPOTENCY_ROWS)
    twice = derive_columns(once, instrument)
    pd.testing.assert_frame_equal(twice, once)
    assert derive_columns(twice, instrument).equals(once)


def test_derive_keeps_the_derived_values(derive, instrument):
    once = derive(IDEMPOTENCY_ROWS)
    twice = derive_columns(once, instrument)
    assert twice["ther_area"].tolist()[:2] == ["Neurology", "Ophthalmology"]
    assert twice["ther_area_code"].tolist()[1] == 14
    assert twice["support_needs"].tolist()[4] == "GMP manufacturing"
    assert twice["platforms"].tolist()[9] == "T cell"
    assert twice["stage"].tolist()[0] == "In vivo proof of concept"


def test_derive_no_rows(make_responses, instrument):
    out = derive_columns(make_responses([]), instrument)
    assert len(out) == 0
    for column in ("platforms", "ther_area", "support_needs", "bottleneck_themes"):
        assert column in out
    assert "text_evidence" in out
    assert "unrecognised" in out
