"""Tests of atmp_analysis.projects: name keys, project matching, ids, merging."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from atmp_analysis.instrument import DONT_KNOW
from atmp_analysis.projects import (
    ACRONYM_SIMILARITY,
    SURNAME_SIMILARITY,
    TITLE_SIMILARITY,
    _connected_components,
    _preference_order,
    _words,
    acronym_key,
    assign_projects,
    conflicts,
    match_projects,
    merge_preferred,
    merge_projects,
    name_parts,
    title_key,
)

RESPONDENT_ID = r"^R[0-9a-f]{12}$"
PROJECT_ID = r"^P[0-9a-f]{12}$"
LEAD = 1  # resp_role code of the principal investigator


def _at(day: int, hour: int = 12) -> pd.Timestamp:
    return pd.Timestamp(2023, 3, day, hour)


# -- name_parts ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "Anna Berg",
        "A. Berg",
        "Berg, Anna",
        "Dr. Anna Berg",
        "anna berg",
        "Prof. Dr. Anna Berg",
        "  ANNA   BERG ",
        "Docent Anna Berg",
        "Anna Berg, PhD",
    ],
)
def test_name_parts_spellings_give_one_surname_and_initial(name):
    parts = name_parts(pd.Series([name], dtype="string"))
    assert parts.loc[0, "surname"] == "berg"
    assert parts.loc[0, "initial"] == "a"


def test_name_parts_folds_diacritics():
    parts = name_parts(pd.Series(["Åsa Öberg", "Asa Oberg"], dtype="string"))
    assert parts["surname"].tolist() == ["oberg", "oberg"]
    assert parts["initial"].tolist() == ["a", "a"]


def test_name_parts_surname_alone_has_no_initial():
    parts = name_parts(pd.Series(["Berg"], dtype="string"))
    assert parts.loc[0, "surname"] == "berg"
    assert pd.isna(parts.loc[0, "initial"])


def test_name_parts_missing_and_blank_stay_missing_and_keep_index():
    names = pd.Series([None, "   ", "Anna Berg"], index=[7, 3, 5], dtype="string")
    parts = name_parts(names)
    assert parts.index.tolist() == [7, 3, 5]
    assert parts["surname"].isna().tolist() == [True, True, False]
    assert parts["full"].isna().tolist() == [True, True, False]


# -- acronym_key -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("acronym", "expected"),
    [
        ("STEM-PD", "stempd"),
        ("StemPD", "stempd"),
        ("Stem PD project", "stempd"),
        ("The STEM-PD study", "stempd"),
        ("NEURO-1", "neuro1"),
        ("NEURO 2", "neuro2"),
        ("ÖGON-CELL", "ogoncell"),
    ],
)
def test_acronym_key(acronym, expected):
    assert acronym_key(pd.Series([acronym], dtype="string")).tolist() == [expected]


@pytest.mark.parametrize("acronym", [None, "", " - ", "project"])
def test_acronym_key_without_letters_is_missing(acronym):
    assert acronym_key(pd.Series([acronym], dtype="string")).isna().all()


# -- the keys against a plain reference -----------------------------------------------------
# name_parts, acronym_key and title_key work on distinct values and skip steps that cannot
# change a value; these references spell out the rules one step after the other, on every
# value, and the keys must agree with them exactly.
def _reference_fold(text: pd.Series) -> pd.Series:
    folded = text.astype("string").str.normalize("NFKD").str.encode("ascii", "ignore")
    return folded.str.decode("ascii").astype("string").str.casefold()


def _reference_name_parts(names: pd.Series) -> pd.DataFrame:
    s = _reference_fold(names).str.strip()
    swapped = s.str.extract(r"^([^,]+?)\s*,\s*(.+)$")
    s = s.where(swapped[0].isna(), swapped[1] + " " + swapped[0])
    s = s.str.replace(_words("name_titles.csv"), " ", regex=True)
    s = s.str.replace(r"[^a-z0-9\s-]", " ", regex=True).str.replace(r"\s+", " ", regex=True)
    s = s.str.strip()
    cited = s.str.extract(r"^([a-z0-9-]{2,})\s([a-z])$")
    s = s.where(cited[0].isna(), cited[1] + " " + cited[0])
    return pd.DataFrame(
        {
            "surname": s.str.extract(r"([a-z0-9-]+)$")[0].astype("string"),
            "initial": s.str.extract(r"^([a-z0-9])[a-z0-9-]*\s")[0].astype("string"),
            "full": s.mask(s == ""),
        },
        index=names.index,
    )


def _reference_acronym_key(acronyms: pd.Series) -> pd.Series:
    s = _reference_fold(acronyms).str.replace(_words("acronym_stopwords.csv"), " ", regex=True)
    s = s.str.replace(r"[^a-z0-9]", "", regex=True)
    return s.mask(s == "")


def _reference_title_key(titles: pd.Series) -> pd.Series:
    s = _reference_fold(titles).str.replace(r"[^a-z0-9]+", " ", regex=True).str.strip()
    return s.mask(s == "")


#: Pieces of messy names, acronyms and titles: titles and stop words, punctuation, white
#: space of all kinds, letters that fold (or vanish) in ASCII, digits.
_PIECES = [
    *["Anna", "anna", "A.", "a", "B", "Berg", "berg", "Öberg", "Åsa", "ß", "İ", "ﬁ", "é", "日本"],
    *["Dr.", "dr", "Prof", "professor", "PhD", "med.", "Docent", "assoc.", "överläkare"],
    *["project", "Projekt", "the", "study", "STEM-PD", "NEURO-1", "2", "9z", "x"],
    *[" ", "  ", "\t", "\n", "\xa0", "\x1c", ",", ", ", "-", "--", ".", "'", "’", "(", "/"],
]
_messy_text = st.lists(st.sampled_from(_PIECES), max_size=7).map("".join)
_messy_series = st.lists(st.one_of(st.none(), _messy_text, st.text(max_size=8)), max_size=30)


@settings(max_examples=300, deadline=None)
@given(_messy_series)
def test_name_parts_agrees_with_the_reference(values):
    names = pd.Series(values, index=range(10, 10 + len(values)), dtype="string")
    pd.testing.assert_frame_equal(name_parts(names), _reference_name_parts(names))


@settings(max_examples=300, deadline=None)
@given(_messy_series)
def test_acronym_and_title_keys_agree_with_the_reference(values):
    text = pd.Series(values, dtype="string", name="proj_acronym")
    pd.testing.assert_series_equal(acronym_key(text), _reference_acronym_key(text))
    pd.testing.assert_series_equal(title_key(text), _reference_title_key(text))


def test_keys_of_object_columns_agree_with_the_reference():
    values = pd.Series(["Berg, Anna", None, "Dr. A. Berg", "STEM-PD project"], dtype=object)
    pd.testing.assert_frame_equal(name_parts(values), _reference_name_parts(values))
    pd.testing.assert_series_equal(acronym_key(values), _reference_acronym_key(values))
    pd.testing.assert_series_equal(title_key(values), _reference_title_key(values))


# -- match_projects --------------------------------------------------------------------------
def _groups(make_responses, rows) -> list[int]:
    return match_projects(make_responses(rows)).tolist()


def test_match_variant_spellings_of_one_project_merge(make_responses):
    rows = [
        {"proj_acronym": "STEM-PD", "proj_lead": "Anna Berg"},
        {"proj_acronym": "StemPD", "proj_lead": "A. Berg"},
        {"proj_acronym": "Stem PD project", "proj_lead": "Berg, Anna"},
        {"proj_acronym": "stem-pd", "proj_lead": "Dr. Anna Berg"},
    ]
    assert len(set(_groups(make_responses, rows))) == 1


def test_match_same_lead_two_projects_stay_apart(make_responses):
    rows = [
        {
            "proj_acronym": "STEM-PD",
            "proj_lead": "Anna Berg",
            "proj_title": "Dopaminergic neurons from stem cells for Parkinson's disease",
        },
        {
            "proj_acronym": "CARDIOPATCH",
            "proj_lead": "Anna Berg",
            "proj_title": "Engineered heart muscle patches after infarction",
        },
    ]
    first, second = _groups(make_responses, rows)
    assert first != second


def test_match_acronyms_differing_in_a_number_stay_apart(make_responses):
    title = "Gene therapy for a neurodegenerative disease"
    rows = [
        {"proj_acronym": "NEURO-1", "proj_lead": "Anna Berg", "proj_title": title},
        {"proj_acronym": "NEURO-2", "proj_lead": "Anna Berg", "proj_title": title},
    ]
    first, second = _groups(make_responses, rows)
    assert first != second


@pytest.mark.parametrize(
    ("lead_a", "lead_b"),
    [("Anna Berg", "Anna Bergh"), ("Lars Petersson", "L. Peterson"), ("Åsa Öberg", "Asa Oberg")],
)
def test_match_misspelt_lead_with_same_acronym_merges(make_responses, lead_a, lead_b):
    rows = [
        {"proj_acronym": "CART-ALL", "proj_lead": lead_a},
        {"proj_acronym": "CARTALL", "proj_lead": lead_b},
    ]
    first, second = _groups(make_responses, rows)
    assert first == second


@pytest.mark.parametrize(
    ("lead_a", "lead_b"),
    [
        ("Anna Berg", "Karl Lindqvist"),
        ("Anna Berg", "Karin Berg"),  # same surname, another person
    ],
)
def test_match_same_acronym_different_leads_stay_apart(make_responses, lead_a, lead_b):
    rows = [
        {"proj_acronym": "STEM-PD", "proj_lead": lead_a},
        {"proj_acronym": "STEM-PD", "proj_lead": lead_b},
    ]
    first, second = _groups(make_responses, rows)
    assert first != second


def test_match_alike_titles_merge_different_acronyms_of_one_lead(make_responses):
    rows = [
        {
            "proj_acronym": "SPD",
            "proj_lead": "Anna Berg",
            "proj_title": "Dopaminergic neurons from stem cells for Parkinson disease",
        },
        {
            "proj_acronym": "DOPA-CELL",
            "proj_lead": "A. Berg",
            "proj_title": "Dopaminergic neurons from stem cells for Parkinson's disease",
        },
    ]
    first, second = _groups(make_responses, rows)
    assert first == second


def test_match_a_response_without_lead_joins_by_acronym(make_responses):
    rows = [
        {"proj_acronym": "STEM-PD", "proj_lead": "Anna Berg"},
        {"proj_acronym": "STEM-PD", "proj_lead": None},
    ]
    first, second = _groups(make_responses, rows)
    assert first == second


def test_match_never_merges_across_waves(make_responses):
    rows = [
        {"wave": 2023, "proj_acronym": "STEM-PD", "proj_lead": "Anna Berg"},
        {"wave": 2024, "proj_acronym": "STEM-PD", "proj_lead": "Anna Berg"},
        {"wave": 2024, "proj_acronym": "StemPD", "proj_lead": "A. Berg"},
    ]
    g2023, g2024, g2024b = _groups(make_responses, rows)
    assert g2023 != g2024
    assert g2024 == g2024b


def test_match_leadless_response_does_not_bridge_two_leads(make_responses):
    rows = [
        {"proj_acronym": "STEM-PD", "proj_lead": "Anna Berg"},
        {"proj_acronym": "STEM-PD", "proj_lead": None},
        {"proj_acronym": "STEM-PD", "proj_lead": "Karl Lindqvist"},
    ]
    berg, _, lindqvist = _groups(make_responses, rows)
    assert berg != lindqvist


def test_match_returns_groups_aligned_with_the_index(make_responses):
    responses = make_responses(
        [
            {"proj_acronym": "STEM-PD", "proj_lead": "Anna Berg"},
            {"proj_acronym": "CARDIOPATCH", "proj_lead": "Karl Lindqvist"},
            {"proj_acronym": "StemPD", "proj_lead": "A. Berg"},
        ]
    )
    responses.index = [30, 10, 20]
    group = match_projects(responses)
    assert group.index.tolist() == [30, 10, 20]
    assert group[30] == group[20] != group[10]


# -- assign_projects -------------------------------------------------------------------------
def _mixed_rows() -> list[dict]:
    return [
        {
            "proj_acronym": "STEM-PD",
            "proj_lead": "Anna Berg",
            "resp_role": LEAD,
            "resp_name": "Anna Berg",
            "resp_email": "anna.berg@uni.example",
        },
        {"proj_acronym": "StemPD", "proj_lead": "A. Berg", "resp_email": "karl@uni.example"},
        {"proj_acronym": "CART-ALL", "proj_lead": "Lars Petersson", "resp_email": "li@uni.example"},
        {"atmp_project": 0, "resp_email": "nils@uni.example"},
        {"status": "test response", "proj_acronym": "TEST", "resp_email": "test@test.example"},
        {"status": "incomplete", "atmp_project": None, "resp_email": "eva@uni.example"},
    ]


def test_assign_id_formats(make_responses, key):
    out = assign_projects(make_responses(_mixed_rows()), key)
    assert out["respondent_id"].str.fullmatch(RESPONDENT_ID).all()
    projects = out[out["status"] == "project"]
    assert len(projects) == 3
    assert projects["project_id"].str.fullmatch(PROJECT_ID).all()
    assert out["project_id"].nunique() == 2  # STEM-PD (two spellings) and CART-ALL


def test_assign_project_id_empty_for_other_statuses(make_responses, key):
    out = assign_projects(make_responses(_mixed_rows()), key)
    others = out[out["status"] != "project"]
    assert others["status"].tolist() == ["no ATMP project", "test response", "incomplete"]
    assert others["project_id"].isna().all()
    assert others["respondent_id"].notna().all()


def test_assign_does_not_change_its_input(make_responses, key):
    responses = make_responses(_mixed_rows())
    before = responses.copy()
    assign_projects(responses, key)
    pd.testing.assert_frame_equal(responses, before)


def test_assign_earlier_submission_of_same_project_is_a_duplicate(make_responses, key):
    rows = [
        # the later submission comes first in the file
        {
            "proj_acronym": "StemPD",
            "proj_lead": "A. Berg",
            "resp_email": "Karl@Uni.example",
            "submitted": _at(20),
        },
        {
            "proj_acronym": "STEM-PD",
            "proj_lead": "Anna Berg",
            "resp_email": "karl@uni.example",
            "submitted": _at(5),
        },
        {"proj_acronym": "STEM-PD", "proj_lead": "Anna Berg", "resp_email": "lisa@uni.example"},
    ]
    out = assign_projects(make_responses(rows), key)
    assert out["status"].tolist() == ["project", "duplicate submission", "project"]
    assert pd.isna(out.loc[1, "project_id"])
    assert out.loc[0, "project_id"] == out.loc[2, "project_id"]
    assert out.loc[0, "respondent_id"] == out.loc[1, "respondent_id"]


def test_assign_same_respondent_two_projects_are_not_duplicates(make_responses, key):
    rows = [
        {"proj_acronym": "STEM-PD", "proj_lead": "Anna Berg", "resp_email": "k@uni.example"},
        {"proj_acronym": "CART-ALL", "proj_lead": "L. Petersson", "resp_email": "k@uni.example"},
    ]
    out = assign_projects(make_responses(rows), key)
    assert out["status"].tolist() == ["project", "project"]
    assert out["project_id"].nunique() == 2


def test_assign_screening_no_twice_keeps_the_latest(make_responses, key):
    rows = [
        {"atmp_project": 0, "resp_email": "k@uni.example", "submitted": _at(9)},
        {"atmp_project": 0, "resp_email": "k@uni.example", "submitted": _at(2)},
    ]
    out = assign_projects(make_responses(rows), key)
    assert out["status"].tolist() == ["no ATMP project", "duplicate submission"]


def test_assign_later_incomplete_response_does_not_make_no_a_duplicate(make_responses, key):
    rows = [
        {"atmp_project": 0, "resp_email": "k@uni.example", "submitted": _at(2)},
        {
            "atmp_project": None,
            "status": "incomplete",
            "resp_email": "k@uni.example",
            "submitted": _at(9),
        },
    ]
    out = assign_projects(make_responses(rows), key)
    assert out["status"].tolist() == ["no ATMP project", "incomplete"]


def test_assign_ids_stable_when_rows_are_shuffled(make_responses, key):
    responses = make_responses(_mixed_rows())
    plain = assign_projects(responses, key).set_index("source_row")
    shuffled = responses.sample(frac=1, random_state=7).reset_index(drop=True)
    again = assign_projects(shuffled, key).set_index("source_row").loc[plain.index]
    columns = ["respondent_id", "project_id", "status"]
    pd.testing.assert_frame_equal(again[columns], plain[columns])


@pytest.mark.parametrize("spelling", ["Stem-PD project", "STEMPD", "stem pd"])
def test_assign_project_id_stable_when_a_non_lead_spells_the_acronym_otherwise(
    make_responses, key, spelling
):
    rows = _mixed_rows()
    before = assign_projects(make_responses(rows), key)
    rows[1]["proj_acronym"] = spelling
    after = assign_projects(make_responses(rows), key)
    assert after["project_id"].tolist()[:3] == before["project_id"].tolist()[:3]


def test_assign_project_id_same_across_waves_and_formats(make_responses, key):
    rows = [
        {
            "wave": 2023,
            "source_format": "redcap",
            "proj_acronym": "STEM-PD",
            "proj_lead": "A. Berg",
        },
        {
            "wave": 2024,
            "source_format": "msforms",
            "proj_acronym": "StemPD",
            "proj_lead": "Berg, A",
        },
    ]
    out = assign_projects(make_responses(rows), key)
    assert out["status"].tolist() == ["project", "project"]
    assert out.loc[0, "project_id"] == out.loc[1, "project_id"]


def _waves_rows(changes: list[dict]) -> list[dict]:
    """One project answered in 2023 and then in later waves with ``changes`` (one dict per
    later wave), besides an unrelated project in every wave."""
    base = {
        "proj_acronym": "STEM-PD",
        "proj_lead": "Anna Berg",
        "proj_title": "Stem cell based dopamine replacement for Parkinson's disease",
    }
    other = {
        "proj_acronym": "CART-ALL",
        "proj_lead": "Olof Ek",
        "proj_title": "CAR T cells for acute lymphoblastic leukaemia",
    }
    rows = [{"wave": 2023, **base}, {"wave": 2023, **other}]
    for k, change in enumerate(changes, start=1):
        rows += [{"wave": 2023 + k, **base, **change}, {"wave": 2023 + k, **other}]
    return rows


@pytest.mark.parametrize(
    ("change", "confidence", "basis"),
    [
        ({}, "high", "same lead and acronym"),
        ({"proj_acronym": "STEMPD-X"}, "high", "same lead, acronym spelt alike"),
        (
            {"proj_title": "Dopamine neurons from stem cells for Parkinson's disease"},
            "high",
            "same lead and acronym",
        ),
        ({"proj_acronym": "DOPA-CELL"}, "medium", "same lead and title, new acronym"),
        ({"proj_lead": "Karin Holm"}, "medium", "same acronym, new lead"),
        (
            {"proj_lead": "Karin Holm", "proj_acronym": "STEM-PDX"},
            "medium",
            "acronym and title alike, new lead",
        ),
        (
            {"proj_lead": "Karin Holm", "proj_acronym": "DOPA-CELL"},
            "low",
            "same title, new lead and acronym",
        ),
    ],
)
def test_assign_links_a_changed_project_across_waves(
    make_responses, key, change, confidence, basis
):
    out = assign_projects(make_responses(_waves_rows([change])), key)
    assert out["project_id"].nunique() == 2  # STEM-PD stays one project, CART-ALL another
    assert out.loc[0, "project_id"] == out.loc[2, "project_id"]
    assert out.loc[2, "link_confidence"] == confidence
    assert out.loc[2, "link_basis"] == basis
    assert out.loc[2, "linked_wave"] == 2023
    assert out.loc[[0, 1], ["linked_wave", "link_confidence", "link_basis"]].isna().all().all()


def test_assign_project_id_keeps_the_first_waves_spelling(make_responses, key):
    # the id of a project seen in 2023 does not change when a 2024 lead takes it over
    first = assign_projects(make_responses(_waves_rows([])), key)
    later = assign_projects(make_responses(_waves_rows([{"proj_lead": "Karin Holm"}])), key)
    assert first.loc[0, "project_id"] == later.loc[0, "project_id"] == later.loc[2, "project_id"]


def test_assign_does_not_link_a_different_project(make_responses, key):
    change = {
        "proj_lead": "Karin Holm",
        "proj_acronym": "ISLET-SC",
        "proj_title": "Stem cell derived islets for type 1 diabetes",
    }
    out = assign_projects(make_responses(_waves_rows([change])), key)
    assert out["project_id"].nunique() == 3
    assert pd.isna(out.loc[2, "link_confidence"])


def test_assign_never_links_acronyms_with_other_digits(make_responses, key):
    rows = _waves_rows([{"proj_acronym": "STEM-PD2"}])
    rows[0]["proj_acronym"] = "STEM-PD1"
    out = assign_projects(make_responses(rows), key)
    assert out.loc[0, "project_id"] != out.loc[2, "project_id"]


def test_assign_links_across_a_missing_wave_and_through_chains(make_responses, key):
    # 2024: a new lead; 2025: not reported; 2026: a new acronym under the 2024 lead
    title = "Stem cell based dopamine replacement for Parkinson's disease"
    rows = [
        {"wave": 2023, "proj_acronym": "STEM-PD", "proj_lead": "Anna Berg", "proj_title": title},
        {"wave": 2024, "proj_acronym": "STEM-PD", "proj_lead": "Karin Holm", "proj_title": title},
        {"wave": 2025, "proj_acronym": "CART-ALL", "proj_lead": "Olof Ek"},
        {"wave": 2026, "proj_acronym": "DOPA-CELL", "proj_lead": "Karin Holm", "proj_title": title},
    ]
    out = assign_projects(make_responses(rows), key)
    stem = out.loc[[0, 1, 3]]
    assert (stem["project_id"] == out.loc[0, "project_id"]).all()
    assert out.loc[2, "project_id"] != out.loc[0, "project_id"]
    assert stem["linked_wave"].tolist()[1:] == [2023, 2024]
    assert stem["link_basis"].tolist()[1:] == [
        "same acronym, new lead",
        "same lead and title, new acronym",
    ]


def test_assign_one_project_takes_one_group_per_wave(make_responses, key):
    # two 2024 projects both share the 2023 acronym: only the surer link is taken
    rows = [
        {"wave": 2023, "proj_acronym": "STEM-PD", "proj_lead": "Anna Berg"},
        {"wave": 2024, "proj_acronym": "STEM-PD", "proj_lead": "Anna Berg"},
        {"wave": 2024, "proj_acronym": "STEM-PD", "proj_lead": "Olof Ekström"},
    ]
    out = assign_projects(make_responses(rows), key)
    assert out.loc[0, "project_id"] == out.loc[1, "project_id"]
    assert out.loc[2, "project_id"] != out.loc[0, "project_id"]
    assert pd.isna(out.loc[2, "link_confidence"])


def test_merge_projects_carries_the_link(make_responses, key):
    responses = assign_projects(make_responses(_waves_rows([{"proj_lead": "Karin Holm"}])), key)
    merged = merge_projects(responses)
    stem = merged[merged["acronym"] == "STEM-PD"].set_index("wave")
    assert stem.loc[2024, "link_basis"] == "same acronym, new lead"
    assert stem.loc[2024, "linked_wave"] == 2023
    assert pd.isna(stem.loc[2023, "link_confidence"])


def test_assign_ids_differ_under_another_key(make_responses, key, other_key):
    responses = make_responses(_mixed_rows())
    one = assign_projects(responses, key)
    two = assign_projects(responses, other_key)
    assert one["status"].tolist() == two["status"].tolist()
    assert not (one["respondent_id"] == two["respondent_id"]).any()
    both = one["project_id"].notna()
    assert both.sum() == 3
    assert not (one.loc[both, "project_id"] == two.loc[both, "project_id"]).any()


# -- merge_projects --------------------------------------------------------------------------
def _merge(make_responses, key, rows, **common) -> pd.DataFrame:
    """Merge responses that all describe one project (unless a row says otherwise)."""
    base = {"proj_acronym": "STEM-PD", "proj_lead": "Anna Berg", **common}
    full = [{**base, "resp_email": f"person{i}@uni.example", **row} for i, row in enumerate(rows)]
    return merge_projects(assign_projects(make_responses(full), key))


def test_merge_lead_answer_wins_over_majority(make_responses, key):
    rows = [{"stage": 4, "resp_role": LEAD, "submitted": _at(1)}, {"stage": 7}, {"stage": 7}]
    merged = _merge(make_responses, key, rows)
    assert len(merged) == 1
    assert merged.loc[0, "stage"] == 4
    assert bool(merged.loc[0, "lead_responded"])


def test_merge_majority_when_the_lead_did_not_respond(make_responses, key):
    rows = [
        {"stage": 7, "submitted": _at(1)},
        {"stage": 7, "submitted": _at(2)},
        {"stage": 4, "submitted": _at(3)},  # the most recent, but alone
    ]
    merged = _merge(make_responses, key, rows)
    assert merged.loc[0, "stage"] == 7
    assert not bool(merged.loc[0, "lead_responded"])


def test_merge_majority_when_the_lead_left_the_question_blank(make_responses, key):
    rows = [
        {"stage": None, "rare_disease": 1, "resp_role": LEAD},
        {"stage": 7, "rare_disease": 0},
        {"stage": 7, "rare_disease": 0},
        {"stage": 4, "rare_disease": 0},
    ]
    merged = _merge(make_responses, key, rows)
    assert merged.loc[0, "stage"] == 7
    assert merged.loc[0, "rare_disease"] == 1


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ([(4, 10), (7, 20)], 7),
        ([(7, 20), (4, 10)], 7),
        ([(4, 20), (7, 10)], 4),
    ],
)
def test_merge_tie_goes_to_the_most_recent(make_responses, key, answers, expected):
    rows = [{"stage": stage, "submitted": _at(day)} for stage, day in answers]
    assert _merge(make_responses, key, rows).loc[0, "stage"] == expected


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ([(99, None), (1, None)], 1),
        ([(1, None), (99, None)], 1),
        ([(99, LEAD), (0, None)], 0),  # even the lead's "Don't know" loses
        ([(99, None), (99, None)], 99),
        ([(None, None), (99, None)], 99),
        ([(None, None), (None, None)], None),
    ],
)
def test_merge_dont_know_loses_to_a_real_answer(make_responses, key, answers, expected):
    rows = [
        {"rare_disease": value, "resp_role": role, "submitted": _at(i + 1)}
        for i, (value, role) in enumerate(answers)
    ]
    merged = _merge(make_responses, key, rows)
    if expected is None:
        assert pd.isna(merged.loc[0, "rare_disease"])
    else:
        assert merged.loc[0, "rare_disease"] == expected


def test_merge_conflicts_name_exactly_the_disagreeing_fields(make_responses, key):
    rows = [
        {
            "stage": 3,
            "rare_disease": 1,
            "fih_year": 2026,
            "cell_type": [1],
            "budget_ksek": 1500.0,
            "gmp_status": 2,
            "proj_title": "Stem cells for Parkinson's disease",
            "bottleneck": "No clean room",
        },
        {
            "stage": 4,  # disagrees
            "rare_disease": 99,  # "Don't know" is no disagreement
            "fih_year": None,  # missing is no disagreement
            "cell_type": [1, 2],  # disagrees
            "budget_ksek": 2000.0,  # disagrees
            "gmp_status": 2,
            "proj_title": "Dopaminergic cells for PD",  # narrative text is not a conflict
            "bottleneck": "Money",
        },
    ]
    merged = _merge(make_responses, key, rows)
    assert set(merged.loc[0, "conflicts"].split(";")) == {"cell_type", "stage", "budget_ksek"}


def test_merge_no_conflicts_when_the_responses_agree(make_responses, key):
    rows = [{"stage": 3, "rare_disease": 99}, {"stage": 3, "rare_disease": 1}, {"stage": None}]
    assert pd.isna(_merge(make_responses, key, rows).loc[0, "conflicts"])


def test_merge_narrative_text_is_the_leads_else_the_most_recent(make_responses, key):
    with_lead = [
        {"proj_title": "Title by the lead", "resp_role": LEAD, "submitted": _at(1)},
        {"proj_title": "Later title", "submitted": _at(9)},
    ]
    without_lead = [
        {"proj_title": "Later title", "submitted": _at(9)},
        {"proj_title": "Earlier title", "submitted": _at(1)},
    ]
    assert _merge(make_responses, key, with_lead).loc[0, "proj_title"] == "Title by the lead"
    assert _merge(make_responses, key, without_lead).loc[0, "proj_title"] == "Later title"


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (
            [
                {"proj_acronym": "StemPD"},
                {"proj_acronym": "STEM-PD", "resp_role": LEAD},
                {"proj_acronym": "StemPD"},
            ],
            "STEM-PD",
        ),
        (
            [
                {"proj_acronym": "StemPD", "submitted": _at(1)},
                {"proj_acronym": "STEM-PD", "submitted": _at(9)},
                {"proj_acronym": "StemPD", "submitted": _at(2)},
            ],
            "StemPD",
        ),
    ],
    ids=["lead", "most-common"],
)
def test_merge_acronym_is_the_leads_else_the_most_common(make_responses, key, rows, expected):
    assert _merge(make_responses, key, rows).loc[0, "acronym"] == expected


def test_merge_counts_responses_without_duplicates(make_responses, key):
    rows = [
        {"resp_email": "k@uni.example", "submitted": _at(1)},
        {"resp_email": "k@uni.example", "submitted": _at(2)},
        {"submitted": _at(3)},
        {"submitted": _at(4)},
    ]
    merged = _merge(make_responses, key, rows)
    assert merged["n_responses"].tolist() == [3]
    assert merged["n_respondents"].tolist() == [3]


def test_merge_one_row_per_project_and_wave(make_responses, key):
    rows = [
        {"wave": 2023},
        {"wave": 2024},
        {"wave": 2024},
        {"wave": 2024, "proj_acronym": "CART-ALL", "proj_lead": "Lars Petersson"},
        {"atmp_project": 0},
    ]
    merged = _merge(make_responses, key, rows)
    assert len(merged) == 3
    assert not merged.duplicated(["project_id", "wave"]).any()
    stem = merged[merged["acronym"] == "STEM-PD"]
    assert stem["wave"].tolist() == [2023, 2024]
    assert stem["n_responses"].tolist() == [1, 2]
    first, second = stem["project_id"].tolist()
    assert first == second
    assert merged["project_id"].str.fullmatch(PROJECT_ID).all()


def test_merge_leaves_out_personal_fields(make_responses, key):
    rows = [{"resp_name": "Ingrid Sjöholm", "resp_group": "Sjöholm lab", "resp_role": LEAD}]
    merged = _merge(make_responses, key, rows)
    personal = {"resp_name", "resp_email", "resp_group", "proj_lead", "tool_name", "tool_email"}
    assert personal.isdisjoint(merged.columns)
    text = merged.astype(str).to_csv(index=False).casefold()
    assert "sjöholm" not in text
    assert "berg" not in text


# -- merge_preferred and conflicts against a plain reference ----------------------------------
# Both reduce factorised columns over the runs of groups with numpy; these references spell
# the same rules with pandas groupby, and the results must agree exactly.
def _reference_merge_preferred(values, responses, group, *, majority, dont_know=()):
    order = _preference_order(responses, group)
    ordered = values.iloc[order].copy()
    g = group.to_numpy()[order]
    known = ordered.copy()
    for column in dont_know:
        known[column] = known[column].mask(known[column] == DONT_KNOW)
    result = known.groupby(g, sort=True).first()
    for column in dont_know:
        any_dk = (ordered[column] == DONT_KNOW).fillna(False).groupby(g, sort=True).any()
        result[column] = result[column].mask(result[column].isna() & any_dk, DONT_KNOW)
    is_lead = (responses["resp_role"] == LEAD).fillna(False).to_numpy(dtype=bool)[order]
    lead_answered = (known[majority].notna() & is_lead[:, None]).groupby(g, sort=True).any()
    for column in majority:
        codes, uniques = pd.factorize(known[column])
        frame = pd.DataFrame({"g": g, "code": codes, "pos": np.arange(len(g))})
        frame = frame[frame["code"] >= 0]
        frame = frame[(frame.groupby("g")["code"].transform("nunique") > 1).to_numpy()]
        frame = frame[~lead_answered[column].reindex(frame["g"]).to_numpy(dtype=bool)]
        if frame.empty:
            continue
        counts = frame.groupby(["g", "code"], sort=False).agg(
            n=("pos", "size"), first=("pos", "min")
        )
        counts = counts.reset_index().sort_values(
            ["g", "n", "first"], ascending=[True, False, True]
        )
        winners = counts.drop_duplicates("g")
        result.loc[winners["g"].to_numpy(), column] = uniques.take(winners["code"].to_numpy())
    return result


def _reference_conflicts(values, group, *, dont_know=()):
    parts = []
    g = group.to_numpy()
    for column in values.columns:
        col = values[column]
        if column in dont_know:
            col = col.mask(col == DONT_KNOW)
        codes = pd.Series(pd.factorize(col)[0], index=values.index).replace(-1, np.nan)
        stats = codes.groupby(g, sort=True).agg(["min", "max"])
        differ = (stats["min"] != stats["max"]) & stats["min"].notna()
        parts.append(np.where(differ.to_numpy(dtype=bool), column + ";", ""))
        index = stats.index
    joined = pd.Series(np.sum(np.vstack(parts).astype(object), axis=0), index=index)
    return joined.str.rstrip(";").astype("string").replace("", pd.NA)


_answer_rows = st.lists(
    st.tuples(
        st.sampled_from([0, 3, 4, 9]),  # group
        st.sampled_from([LEAD, 2, None]),  # resp_role
        st.sampled_from([None, 1, 2, 3]),  # day submitted (None: no time)
        st.sampled_from([1, 2, DONT_KNOW, None]),  # a choice with "Don't know"
        st.sampled_from([1, 2, 3, None]),  # a choice without
        st.sampled_from(["a", "b", "A", None]),  # text
        st.sampled_from([0.5, 2.0, None]),  # a number
    ),
    max_size=25,
)


def _answer_frames(rows):
    columns = ["g", "resp_role", "day", "stage", "gmp", "acronym", "fte"]
    frame = pd.DataFrame(rows, columns=columns)
    responses = pd.DataFrame(
        {
            "resp_role": pd.array(frame["resp_role"], dtype="Int64"),
            "submitted": [pd.NaT if pd.isna(d) else _at(int(d)) for d in frame["day"]],
            "source_row": np.arange(2, len(frame) + 2),
        },
        index=np.arange(len(frame)) * 2 + 5,
    )
    responses["submitted"] = responses["submitted"].astype("datetime64[ns]")
    values = pd.DataFrame(
        {
            "stage": pd.array(frame["stage"], dtype="Int64"),
            "gmp": pd.array(frame["gmp"], dtype="Int64"),
            "acronym": pd.array(frame["acronym"], dtype="string"),
            "fte": pd.array(frame["fte"], dtype="Float64"),
        },
        index=responses.index,
    )
    return values, responses, pd.Series(frame["g"].to_numpy(dtype=np.int64), index=values.index)


@settings(max_examples=150, deadline=None)
@given(_answer_rows, st.sets(st.sampled_from(["stage", "gmp", "acronym", "fte"])))
def test_merge_preferred_and_conflicts_agree_with_the_reference(rows, majority):
    values, responses, group = _answer_frames(rows)
    majority = sorted(majority)
    got = merge_preferred(values, responses, group, majority=majority, dont_know=["stage"])
    expected = _reference_merge_preferred(
        values, responses, group, majority=majority, dont_know=["stage"]
    )
    pd.testing.assert_frame_equal(got, expected)
    pd.testing.assert_series_equal(
        conflicts(values, group, dont_know=["stage"]),
        _reference_conflicts(values, group, dont_know=["stage"]),
    )


# -- match_projects against a plain reference ------------------------------------------------
def _reference_similar(a: pd.Series, b: pd.Series, scorer, scale: float = 1.0) -> np.ndarray:
    both = a.notna().to_numpy() & b.notna().to_numpy()
    out = np.zeros(len(a), dtype=float)
    if both.any():
        scores = process.cpdist(a[both].tolist(), b[both].tolist(), scorer=scorer, workers=1)
        out[both] = scores / scale if scale != 1.0 else scores
    return out


def _reference_initials_ok(pairs: pd.DataFrame) -> np.ndarray:
    left, right = pairs["initial_l"], pairs["initial_r"]
    return (left.isna() | right.isna() | (left == right)).fillna(False).to_numpy(dtype=bool)


def _reference_match(responses: pd.DataFrame) -> pd.Series:
    lead = _reference_name_parts(responses["proj_lead"])
    nodes = pd.DataFrame(
        {
            "wave": responses["wave"].to_numpy(),
            "surname": lead["surname"].to_numpy(),
            "initial": lead["initial"].to_numpy(),
            "acronym": _reference_acronym_key(responses["proj_acronym"]).to_numpy(),
            "title": _reference_title_key(responses["proj_title"]).to_numpy(),
        },
        index=responses.index,
    ).astype({c: "string" for c in ("surname", "initial", "acronym", "title")})
    nodes["digits"] = nodes["acronym"].str.replace(r"\D", "", regex=True).fillna("")
    node_of_row = nodes.groupby(list(nodes.columns), dropna=False, sort=False).ngroup()
    unique = nodes.assign(node=node_of_row.to_numpy()).drop_duplicates("node")
    unique = unique.set_index("node").sort_index()
    unique["node"] = unique.index.to_numpy()
    edges = []
    by_lead = unique.dropna(subset=["surname"])
    pairs = by_lead.merge(by_lead, on=["wave", "surname"], suffixes=("_l", "_r"))
    pairs = pairs[pairs["node_l"] < pairs["node_r"]]
    if len(pairs):
        digits_ok = (pairs["digits_l"] == pairs["digits_r"]).to_numpy(dtype=bool)
        same = (pairs["acronym_l"] == pairs["acronym_r"]).fillna(False).to_numpy(dtype=bool)
        alike = _reference_similar(
            pairs["acronym_l"], pairs["acronym_r"], Levenshtein.normalized_similarity
        )
        titled = _reference_similar(pairs["title_l"], pairs["title_r"], fuzz.token_sort_ratio, 100)
        keep = (
            _reference_initials_ok(pairs)
            & digits_ok
            & (same | (alike >= ACRONYM_SIMILARITY) | (titled >= TITLE_SIMILARITY))
        )
        edges.append(pairs.loc[keep, ["node_l", "node_r"]].to_numpy())
    by_acronym = unique.dropna(subset=["acronym"])
    by_acronym = by_acronym[by_acronym["acronym"].str.len() >= 3]
    pairs = by_acronym.merge(by_acronym, on=["wave", "acronym"], suffixes=("_l", "_r"))
    pairs = pairs[pairs["node_l"] < pairs["node_r"]]
    if len(pairs):
        leads = by_acronym.groupby(["wave", "acronym"])["surname"].nunique().rename("leads")
        claimed = pairs.join(leads, on=["wave", "acronym"])["leads"].to_numpy() <= 1
        missing = (pairs["surname_l"].isna() | pairs["surname_r"].isna()).to_numpy(dtype=bool)
        alike = _reference_similar(
            pairs["surname_l"], pairs["surname_r"], Levenshtein.normalized_similarity
        )
        keep = (missing & claimed) | (_reference_initials_ok(pairs) & (alike >= SURNAME_SIMILARITY))
        edges.append(pairs.loc[keep, ["node_l", "node_r"]].to_numpy())
    edge = np.concatenate(edges) if edges else np.empty((0, 2), dtype=np.int64)
    labels = _connected_components(
        len(unique), edge[:, 0].astype(np.int64), edge[:, 1].astype(np.int64)
    )
    return pd.Series(labels[node_of_row.to_numpy()], index=responses.index, name="group")


_project_rows = st.lists(
    st.tuples(
        st.sampled_from([2023, 2024]),
        st.sampled_from(
            ["Anna Berg", "A. Berg", "Berg, Anna", "Karl Berg", "Anna Borg", "Anna Bergh", None]
        ),
        st.sampled_from(["STEM-PD", "StemPD", "Stem PD 2", "NEURO-1", "NEURO-2", "AB", None]),
        st.sampled_from(
            ["Stem cells for Parkinson", "Parkinson stem cells for", "CAR-T in ALL", None]
        ),
    ),
    max_size=30,
)


@settings(max_examples=100, deadline=None)
@given(_project_rows)
def test_match_projects_agrees_with_the_reference(rows):
    responses = pd.DataFrame(rows, columns=["wave", "proj_lead", "proj_acronym", "proj_title"])
    responses = responses.astype({c: "string" for c in responses.columns if c != "wave"})
    responses["wave"] = responses["wave"].astype("int64")
    responses.index = responses.index * 3 + 1
    pd.testing.assert_series_equal(match_projects(responses), _reference_match(responses))
