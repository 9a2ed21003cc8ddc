"""Tests of atmp_analysis.classify: the EU legal class and the rule path behind it."""

from __future__ import annotations

import io
import itertools
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atmp_analysis.classify import (
    CLASSES,
    FACTS,
    Fact,
    classify_projects,
    decide,
    explain,
    load_rules,
    rules,
)
from atmp_analysis.config import RULES_DIR

# tests/data/known_products.csv: well-known products written as a respondent would answer
# the instrument, with the class the EMA gave them (EPARs, and the CAT's published
# classification recommendations), the rule expected to decide, and words the reason must
# contain (" | " between them). Checkbox answers are space-separated codes; an empty cell
# is an unanswered question. The last rows answer "Don't know" and leave the text to
# settle the class.
KNOWN_PRODUCTS = (Path(__file__).parent / "data" / "known_products.csv").read_text()


def _codes(cell: object) -> list[int] | None:
    if pd.isna(cell) or str(cell).strip() == "":
        return None
    return [int(c) for c in str(cell).split()]


def _answers(table: str) -> list[dict]:
    frame = pd.read_csv(io.StringIO(table), dtype=str, keep_default_na=False)
    checkbox = {"cell_type", "manipulation", "gene_tech"}
    rows = []
    for record in frame.to_dict("records"):
        row = {}
        for column, value in record.items():
            if column in {"product", "expected", "rule", "reason_has"} or value == "":
                continue
            if column in checkbox:
                row[column] = _codes(value)
            elif column == "proj_description":
                row[column] = value
            else:
                row[column] = int(value)
        rows.append(row)
    return rows


@pytest.fixture
def classify(make_responses, instrument):
    """classify_projects over rows holding one project's merged answers each."""

    def run(rows: list[dict]) -> pd.DataFrame:
        frame = make_responses(rows)
        frame["project_id"] = [f"P{i:012x}" for i in range(len(frame))]
        frame["acronym"] = [f"PRODUCT-{i}" for i in range(len(frame))]
        return classify_projects(frame, instrument)

    return run


KNOWN = pd.read_csv(io.StringIO(KNOWN_PRODUCTS), dtype=str, keep_default_na=False)


def test_known_products_table_is_large_enough():
    assert len(KNOWN) >= 20
    assert set(KNOWN["expected"]) >= {"GTMP", "sCTMP", "TEP", "cATMP", "not ATMP"}


@pytest.mark.parametrize("position", range(len(KNOWN)), ids=list(KNOWN["product"]))
def test_known_product_gets_its_ema_class_with_its_reason(classify, position):
    # all products are classified together, as one table; then one is checked
    result = classify(_answers(KNOWN_PRODUCTS)).iloc[position]
    expected = KNOWN.iloc[position]
    assert result["atmp_class"] == expected["expected"], result["atmp_class_reason"]
    assert result["atmp_class_rule"] == expected["rule"]
    for words in expected["reason_has"].split(" | "):
        assert words in result["atmp_class_reason"], result["atmp_class_reason"]
    assert "→" in result["atmp_class_reason"]


def test_text_evidence_is_not_used_where_the_answer_exists(classify):
    rows = _answers(KNOWN_PRODUCTS)
    result = classify(rows)
    answered = KNOWN["product"].str.startswith("Kymriah").to_numpy()
    assert "(from " not in result.loc[answered, "atmp_class_reason"].iloc[0]
    assert result.loc[answered, "atmp_class_evidence"].isna().all()


# -- contradictions and conflicts ----------------------------------------------------------
def test_text_contradicting_an_answer_is_a_conflict_and_the_answer_stands(classify):
    # the respondent says: no recombinant nucleic acid; the description names a vector
    result = classify(
        [
            {
                "therapy_type": 3,
                "rna_dna": 0,
                "infect_vaccine": 0,
                "contains_cells": 1,
                "cell_type": [5],
                "manipulation": [5],
                "same_function": 0,
                "intended_action": 2,
                "device": 0,
                "proj_description": "T cells transduced with a lentiviral vector",
            }
        ]
    ).iloc[0]
    assert result["atmp_class"] == "sCTMP"  # the answer, not the text, decides
    assert "no recombinant nucleic acid" not in result["atmp_class_reason"]
    assert "rna_dna" in result["conflicts"].split(";")


def test_negated_text_is_no_evidence(classify):
    result = classify(
        [
            {
                "rna_dna": 99,
                "infect_vaccine": 0,
                "contains_cells": 1,
                "manipulation": [5],
                "same_function": 0,
                "intended_action": 2,
                "device": 0,
                "proj_description": "Expanded NK cells, not genetically modified, no scaffold",
            }
        ]
    ).iloc[0]
    # "not genetically modified" settles nothing: the recombinant question stays open
    assert result["atmp_class"] == "undetermined"
    assert "rna_dna" in result["atmp_class_missing"]


def test_conflicts_from_text_join_those_of_the_responses(make_responses, instrument):
    merged = make_responses(
        [{"rna_dna": 0, "contains_cells": 0, "infect_vaccine": 0, "proj_description": "AAV"}]
    ).assign(project_id="P000000000001", acronym="X", conflicts="stage;fte")
    result = classify_projects(merged, instrument).iloc[0]
    assert result["conflicts"] == "stage;fte;rna_dna"


def test_classifying_twice_gives_the_same_table(classify, instrument):
    once = classify(_answers(KNOWN_PRODUCTS))
    twice = classify_projects(once, instrument)
    pd.testing.assert_frame_equal(once, twice)


def test_the_demo_description_of_an_in_vivo_therapy_raises_no_cell_conflict(classify):
    # "hepatocytes" is where an AAV acts, not cells in the product
    result = classify(
        [
            {
                "therapy_type": 1,
                "rna_dna": 1,
                "gene_effect": 1,
                "infect_vaccine": 0,
                "contains_cells": 0,
                "gene_tech": [1],
                "proj_description": "An AAV vector so that hepatocytes secrete factor VIII",
            }
        ]
    ).iloc[0]
    assert pd.isna(result["conflicts"])
    assert result["atmp_class"] == "GTMP"


# -- undetermined ----------------------------------------------------------------------------
def test_dont_know_without_evidence_is_undetermined_and_names_the_answer(classify):
    result = classify(
        [
            {
                "therapy_type": 3,
                "rna_dna": 0,
                "infect_vaccine": 0,
                "contains_cells": 1,
                "cell_type": [3],
                "manipulation": [5],
                "same_function": 0,
                "intended_action": 99,
                "device": 0,
            }
        ]
    ).iloc[0]
    assert result["atmp_class"] == "undetermined"
    assert "intended_action" in result["atmp_class_reason"]
    assert "sCTMP" in result["atmp_class_reason"] and "TEP" in result["atmp_class_reason"]
    assert result["atmp_class_missing"].startswith("intended_action")


def test_an_empty_project_is_undetermined(classify):
    result = classify([{}]).iloc[0]
    assert result["atmp_class"] == "undetermined"
    for question in ("rna_dna", "contains_cells"):
        assert question in result["atmp_class_missing"]


def test_a_missing_answer_that_does_not_matter_is_said_so(classify):
    # in vivo AAV gene therapy: whether a device is part of it cannot change the class
    result = classify(
        [
            {
                "rna_dna": 1,
                "gene_effect": 1,
                "infect_vaccine": 0,
                "contains_cells": 0,
                "gene_tech": [1],
            }
        ]
    ).iloc[0]
    assert result["atmp_class"] == "GTMP"
    assert "device" not in result["atmp_class_reason"]
    unknown_cells = classify(
        [{"rna_dna": 1, "gene_effect": 1, "infect_vaccine": 0, "gene_tech": [1], "device": 0}]
    ).iloc[0]
    assert unknown_cells["atmp_class"] == "GTMP"
    assert (
        "either answer gives the same class: contains_cells" in unknown_cells["atmp_class_reason"]
    )


# -- the decision table ------------------------------------------------------------------------
def _fact_frame(rows: list[dict]) -> dict[str, Fact]:
    index = pd.RangeIndex(len(rows))
    facts = {}
    for name in FACTS:
        value = pd.Series([r.get(name) for r in rows], index=index, dtype="string")
        facts[name] = Fact(
            value,
            pd.Series("", index=index, dtype="string"),
            phrase=value,
            unknown={q: value.isna() for q, _ in rules().questions[name]},
        )
    return facts


def _all_combinations(with_unknown: bool) -> list[dict]:
    table = rules()
    domains = [list(table.values(f)) + ([None] if with_unknown else []) for f in FACTS]
    return [dict(zip(FACTS, combo, strict=True)) for combo in itertools.product(*domains)]


def test_every_combination_of_known_facts_gets_a_class():
    combos = _all_combinations(with_unknown=False)
    decision = decide(_fact_frame(combos))
    assert decision.atmp_class.isin(CLASSES[:-1]).all()
    assert decision.rule.notna().all()


def test_unknown_facts_give_a_class_only_when_every_answer_agrees():
    # For every combination with unknown facts, the class given must be the class of every
    # way of filling in the unknowns; otherwise it must be undetermined.
    known = _all_combinations(with_unknown=False)
    truth = dict(
        zip(
            (tuple(c.values()) for c in known),
            decide(_fact_frame(known)).atmp_class,
            strict=True,
        )
    )
    partial = _all_combinations(with_unknown=True)
    decided = decide(_fact_frame(partial)).atmp_class
    domains = [rules().values(f) for f in FACTS]
    for combo, cls in zip(partial, decided, strict=True):
        fills = itertools.product(
            *[[v] if v is not None else domains[i] for i, v in enumerate(combo.values())]
        )
        classes = {truth[fill] for fill in fills}
        if len(classes) == 1:
            assert cls == classes.pop(), combo
        else:
            assert cls == "undetermined", combo


def test_the_answer_table_follows_annex_i_on_manipulation():
    table = rules()
    # Reg. 1394/2007 Annex I: cutting, centrifugation, freezing, irradiation ... are not
    # substantial; culture expansion, differentiation, genetic modification, activation are
    assert table.codes("substantial", "manipulation", "no") == (1, 2, 3, 4)
    assert table.codes("substantial", "manipulation", "yes") == (5, 6, 7, 8)
    assert table.mapping("cells", "contains_cells") == {1: "viable", 2: "non-viable", 0: "none"}


def test_the_rules_cite_an_article_each():
    table = rules().table
    assert table["citation"].str.contains(r"Reg\. \(EC\) 1394/2007|Dir\. 2001/83/EC").all()
    assert table["rule"].is_unique
    # the priority rules of Art. 2 are written down in the table
    assert table["citation"].str.contains(r"Art\. 2\(5\)").any()
    assert table["citation"].str.contains(r"Art\. 2\(4\)").any()


@pytest.mark.parametrize(
    ("file", "column", "bad", "message"),
    [
        ("atmp_class_rules.csv", "cells", "alive", "column cells: 'alive'"),
        ("atmp_class_rules.csv", "atmp_class", "ATMP", "column atmp_class: 'ATMP'"),
        ("atmp_fact_questions.csv", "question", "no_such_question", "'no_such_question'"),
        ("atmp_fact_answers.csv", "value", "maybe", "'recombinant' = 'maybe'"),
        ("atmp_fact_answers.csv", "code", "7", "'rna_dna' has no code '7'"),
    ],
)
def test_a_broken_rule_table_is_refused_naming_file_and_row(tmp_path, file, column, bad, message):
    folder = tmp_path / "rules"
    shutil.copytree(RULES_DIR, folder)
    frame = pd.read_csv(folder / file, dtype=str, keep_default_na=False)
    frame.loc[0, column] = bad
    frame.to_csv(folder / file, index=False)
    with pytest.raises(ValueError, match="row 2") as info:
        load_rules(folder)
    assert file in str(info.value)
    assert message in str(info.value)


# -- explain ------------------------------------------------------------------------------------
def test_explain_tells_the_path_fact_by_fact(classify):
    projects = classify(_answers(KNOWN_PRODUCTS))
    position = int(np.flatnonzero(KNOWN["product"].str.startswith("CAR-T answered"))[0])
    project_id = projects["project_id"].iloc[position]
    text = explain(projects, project_id)
    assert text.startswith(f"PRODUCT-{position} ({project_id}, wave 2023): GTMP")
    assert "recombinant nucleic acid: yes, from the description" in text
    assert "Rule: gene-modified-cells" in text
    assert "not a verdict" in text


def test_explain_an_unknown_project_raises_key_error(classify):
    projects = classify([{}])
    with pytest.raises(KeyError, match="no project Pffffffffffff"):
        explain(projects, "Pffffffffffff")


# -- properties ---------------------------------------------------------------------------------
CHOICES = {
    "therapy_type": [1, 2, 3, 4, 5, 6, 99],
    "rna_dna": [0, 1, 99],
    "gene_effect": [0, 1, 99],
    "infect_vaccine": [0, 1],
    "contains_cells": [0, 1, 2],
    "same_function": [0, 1, 99],
    "intended_action": [1, 2, 3, 99],
    "device": [0, 1],
    "delivery": [1, 2, 3],
    "ther_area": list(range(1, 15)),
}
CHECKBOXES = {"cell_type": 11, "manipulation": 9, "gene_tech": 12}
SNIPPETS = [
    "",
    "lentiviral vector",
    "AAV9",
    "antisense oligonucleotide",
    "suicide gene",
    "iPSC-derived cells, expanded",
    "on a collagen membrane",
    "vaccine against COVID-19 infection",
    "non-viable decellularised tissue",
    "to regenerate cartilage",
    "immunotherapy",
    "odlade kondrocyter på ett membran",
]


@st.composite
def project_answers(draw) -> dict:
    row: dict = {}
    for field, codes in CHOICES.items():
        value = draw(st.sampled_from([None, *codes]))
        if value is not None:
            row[field] = value
    for field, n in CHECKBOXES.items():
        ticked = draw(st.lists(st.integers(1, n), max_size=3, unique=True))
        if ticked:
            row[field] = ticked
    description = " ".join(draw(st.lists(st.sampled_from(SNIPPETS), max_size=3)))
    if description.strip():
        row["proj_description"] = description
    return row


FAST = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FAST
@given(st.lists(project_answers(), min_size=1, max_size=12))
def test_every_project_gets_exactly_one_class(classify, rows):
    result = classify(rows)
    assert len(result) == len(rows)
    assert result["atmp_class"].isin(CLASSES).all()
    assert result["atmp_class_reason"].notna().all()
    undetermined = result["atmp_class"] == "undetermined"
    assert result.loc[undetermined, "atmp_class_reason"].str.startswith("undetermined").all()
    assert result.loc[~undetermined, "atmp_class_rule"].notna().all()


@FAST
@given(st.lists(project_answers(), min_size=2, max_size=12), st.randoms(use_true_random=False))
def test_the_class_does_not_depend_on_row_order(classify, rows, rng):
    result = classify(rows)
    order = list(range(len(rows)))
    rng.shuffle(order)
    shuffled = classify([rows[i] for i in order])
    for new_position, old_position in enumerate(order):
        for column in ("atmp_class", "atmp_class_reason", "conflicts"):
            now, before = shuffled[column].iloc[new_position], result[column].iloc[old_position]
            assert (pd.isna(now) and pd.isna(before)) or now == before


DONT_KNOW_FIELDS = {
    "rna_dna": [0, 1],
    "gene_effect": [0, 1],
    "same_function": [0, 1],
    "intended_action": [1, 2, 3],
}


@FAST
@given(project_answers(), st.sampled_from(sorted(DONT_KNOW_FIELDS)))
def test_dont_know_never_gives_a_confident_class_without_named_evidence(classify, row, field):
    # Answer "Don't know" to one question. If the real answers would lead to different
    # classes, then either the result is undetermined, or the reason names the evidence
    # that settled the question (text, or another answer) instead of its answer.
    row = {**row, field: 99}
    answers = [{**row, field: code} for code in DONT_KNOW_FIELDS[field]]
    result = classify([row, *answers])
    dont_know = result.iloc[0]
    outcomes = set(result["atmp_class"].iloc[1:])
    if len(outcomes) > 1 and dont_know["atmp_class"] != "undetermined":
        assert "(from " in dont_know["atmp_class_reason"], dont_know["atmp_class_reason"]
        assert pd.notna(dont_know["atmp_class_evidence"])
