"""The EU legal class of each project, with the rule path that led to it.

The decision procedure follows Regulation (EC) No 1394/2007 Art. 2 and Directive
2001/83/EC Annex I Part IV. It is data, not code: ``data/rules/atmp_class_rules.csv`` is a
decision table over seven facts (``data/rules/README.md`` explains it), and this module

1. establishes the facts from the answers, vectorised over the table. Where an answer is
   "Don't know" or empty, other answers or the free text (description, "other" fields;
   English and Swedish terms in ``data/vocab/``) may settle a fact; the reason then names
   that evidence. Text never overrides an explicit answer: a contradiction adds the
   question to ``conflicts``;
2. applies the rules, in order, to the whole table at once. An unknown fact could take any
   value, so every rule it could lead to is considered: if they agree, the class stands
   and the reason says the missing answer did not matter; if not, the result is
   ``undetermined`` and the reason names the missing answers.

In a notebook::

    projects = classify_projects(merged)          # atmp_class, atmp_class_reason, …
    print(explain(projects, "P0123456789ab"))     # the whole path of one project

The class is advice with its rule path shown, never a verdict: the EMA's Committee for
Advanced Therapies gives the binding-in-practice classification (Reg. 1394/2007 Art. 17).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from atmp_analysis.choices import mask_to_labels
from atmp_analysis.config import RULES_DIR, VOCAB_DIR
from atmp_analysis.derive import (
    coded,
    derive_columns,
    platform_table,
    platform_vocabulary,
    text,
)
from atmp_analysis.distinct import on_distinct
from atmp_analysis.instrument import Instrument
from atmp_analysis.terms import Vocabulary, join_flags, join_present

__all__ = ["CLASSES", "classify_projects", "establish_facts", "explain", "rules"]

#: The facts of the decision table, in the order their phrases appear in a reason.
FACTS = ("recombinant", "direct_effect", "vaccine", "cells", "engineered", "action", "device")
#: Every class a project can get, in report order.
CLASSES = ("GTMP", "sCTMP", "TEP", "cATMP", "not ATMP", "undetermined")
UNDETERMINED = "undetermined"

#: Free-text answers searched for evidence, and how a reason names them.
TEXT_SOURCES = {
    "proj_description": "the description",
    "gene_tech_other": "the other gene technology named",
    "cell_type_other": "the other cell type named",
}
#: Parts of the fact ``engineered`` that answers settle on their own (atmp_fact_answers.csv).
SUB_FACTS = {"substantial": ("yes", "no"), "same_function": ("yes", "no")}
DISCLAIMER = (
    "This is advice from the survey answers, not a verdict: the EMA's Committee for "
    "Advanced Therapies gives the classification (Reg. (EC) 1394/2007 Art. 17)."
)


# ------------------------------------------------------------------------ the rule tables


@dataclass(frozen=True)
class Rules:
    """The decision table and what its facts mean.

    Attributes
    ----------
    table
        One row per rule, in order: ``rule``, one column per fact (accepted values joined
        by ``|``, blank = any), ``atmp_class``, ``conclusion``, ``citation``.
    phrases
        ``(fact, value) -> phrase`` in plain words.
    questions
        ``fact -> [(question, asks)]``: the instrument questions behind each fact.
    answers
        Which answer codes give which fact value (``fact, question, code, value, role``):
        ``role`` is ``answer`` for the fact's own question, ``fallback`` for another
        answer used (and named in the reason) when the own one is missing.
    """

    table: pd.DataFrame
    phrases: dict[tuple[str, str], str]
    questions: dict[str, list[tuple[str, str]]]
    answers: pd.DataFrame

    def mapping(self, fact: str, question: str) -> dict[int, str]:
        """Answer code → fact value, for one question's part in one fact."""
        rows = self.answers[(self.answers["fact"] == fact) & (self.answers["question"] == question)]
        return dict(zip(rows["code"], rows["value"], strict=True))

    def codes(self, fact: str, question: str, value: str) -> tuple[int, ...]:
        """The answer codes of ``question`` that give ``fact`` the value ``value``."""
        return tuple(c for c, v in self.mapping(fact, question).items() if v == value)

    def accepts(self, rule: int, fact: str) -> tuple[str, ...] | None:
        """The values of ``fact`` that rule number ``rule`` accepts (``None``: any)."""
        cell = self.table[fact].iloc[rule]
        return tuple(cell.split("|")) if cell else None

    def values(self, fact: str) -> tuple[str, ...]:
        """The values a fact can take, in table order."""
        return tuple(v for f, v in self.phrases if f == fact)


@cache
def rules() -> Rules:
    """The classification rules shipped in ``data/rules/`` (checked, cached)."""
    return load_rules(RULES_DIR)


def load_rules(directory: Path) -> Rules:
    """Load and check the classification rules of a folder.

    Parameters
    ----------
    directory
        Holds ``atmp_class_rules.csv``, ``atmp_facts.csv`` and
        ``atmp_fact_questions.csv`` and ``atmp_fact_answers.csv`` (see
        ``data/rules/README.md``).

    Raises
    ------
    ValueError
        Naming the file, row and column of a value a fact cannot take, of a class that
        is not in :data:`CLASSES`, or of a question the instrument does not have.
    """
    read = {"dtype": str, "keep_default_na": False}
    table = pd.read_csv(directory / "atmp_class_rules.csv", **read)
    facts = pd.read_csv(directory / "atmp_facts.csv", **read)
    asked = pd.read_csv(directory / "atmp_fact_questions.csv", **read)
    answers = pd.read_csv(directory / "atmp_fact_answers.csv", **read)
    phrases = {(f, v): p for f, v, p in facts[["fact", "value", "phrase"]].to_numpy()}
    instrument = Instrument.default()
    problems = []
    for fact in FACTS:
        known = {v for f, v in phrases if f == fact}
        if not known:
            problems.append(f"atmp_facts.csv: no values for the fact {fact!r}")
        for row, cell in zip(table.index + 2, table[fact], strict=True):
            bad = [v for v in cell.split("|") if cell and v not in known]
            if bad:
                problems.append(
                    f"atmp_class_rules.csv row {row}, column {fact}: {'|'.join(bad)!r} is "
                    f"not one of {sorted(known)}"
                )
    for row, cls in zip(table.index + 2, table["atmp_class"], strict=True):
        if cls not in CLASSES or cls == UNDETERMINED:
            problems.append(f"atmp_class_rules.csv row {row}, column atmp_class: {cls!r}")
    questions: dict[str, list[tuple[str, str]]] = {}
    for row, (fact, question, asks) in zip(
        asked.index + 2, asked[["fact", "question", "asks"]].to_numpy(), strict=True
    ):
        if fact not in FACTS or question not in instrument.names:
            problems.append(f"atmp_fact_questions.csv row {row}: {fact!r}, {question!r}")
        questions.setdefault(fact, []).append((question, asks))
    values = {f: {v for g, v in phrases if g == f} for f in FACTS} | {
        f: set(v) for f, v in SUB_FACTS.items()
    }
    for row, (fact, question, code, value) in zip(
        answers.index + 2, answers[["fact", "question", "code", "value"]].to_numpy(), strict=True
    ):
        field_ = instrument[question] if question in instrument else None
        if fact not in values or value not in values[fact]:
            problems.append(f"atmp_fact_answers.csv row {row}: {fact!r} = {value!r}")
        elif field_ is None or not code.isdigit() or int(code) not in field_.choices:
            problems.append(f"atmp_fact_answers.csv row {row}: {question!r} has no code {code!r}")
    if problems:
        raise ValueError("classification rules:\n  " + "\n  ".join(problems))
    answers = answers.assign(code=answers["code"].astype(int))
    return Rules(table, phrases, questions, answers)


@cache
def evidence_vocabulary() -> Vocabulary:
    """Terms that can settle a fact when its answer is missing (``fact=value``)."""
    return Vocabulary.from_csv(VOCAB_DIR / "class_evidence.csv", ("fact", "value"))


# ------------------------------------------------------------------------------ helpers


def _na(index: pd.Index) -> pd.Series:
    return pd.Series(pd.NA, index=index, dtype="string")


def _pick(index: pd.Index, choices: list[tuple[pd.Series, str]]) -> pd.Series:
    """Per row, the value of the first true condition; missing when none holds."""
    out = _na(index)
    for condition, value in reversed(choices):
        out = out.mask(pd.Series(condition, index=index).fillna(False).astype(bool), value)
    return out


def _quote(label: str | pd.Series, words: pd.Series) -> pd.Series:
    """``label ("words")`` where there are words; missing elsewhere."""
    return label + ' ("' + words + '")'


def _bits(codes: tuple[int, ...]) -> int:
    return sum(1 << c for c in codes)


def _ticked(mask: pd.Series, codes: tuple[int, ...]) -> pd.Series:
    """Whether any of ``codes`` is ticked in each checkbox bit mask."""
    values = mask.fillna(0).to_numpy(dtype=np.int64)
    return pd.Series((values & _bits(codes)) != 0, index=mask.index)


def _only(mask: pd.Series, codes: tuple[int, ...]) -> pd.Series:
    """Whether something is ticked and everything ticked is among ``codes``."""
    values = mask.fillna(0).to_numpy(dtype=np.int64)
    return pd.Series((values != 0) & ((values & ~_bits(codes)) == 0), index=mask.index)


def _labels(
    mask: pd.Series, codes: tuple[int, ...], field_: str, inst: Instrument, lower: bool = False
) -> pd.Series:
    """The labels of the ticked choices among ``codes``, joined with ``, ``."""
    kept = pd.Series(mask.fillna(0).to_numpy(dtype=np.int64) & _bits(codes), index=mask.index)
    labels = mask_to_labels(kept.astype("Int64").mask(kept == 0), inst[field_], ", ")
    return labels.str.lower() if lower else labels


class _Found:
    """Vocabulary terms found in free-text answers, quoted with where they were found."""

    def __init__(self, projects: pd.DataFrame, vocabulary: Vocabulary, sources: dict[str, str]):
        quoted = None
        for column, label in sources.items():
            found = vocabulary.find(text(projects, column), negation=True)
            found = found.apply(lambda words, label=label: _quote(label, words))
            quoted = found if quoted is None else quoted.fillna(found)
        self.quoted = quoted if quoted is not None else pd.DataFrame(index=projects.index)

    def get(self, value: str) -> pd.Series:
        """Where ``value`` was found (``the description ("AAV9")``), or missing."""
        if value in self.quoted:
            return self.quoted[value].astype("string")
        return _na(self.quoted.index)

    def first(self, values: list[str]) -> pd.Series:
        """The first of ``values`` found in each row, quoted."""
        out = _na(self.quoted.index)
        for value in values:
            out = out.fillna(self.get(value))
        return out


# -------------------------------------------------------------------------------- facts


@dataclass
class Fact:
    """One fact for every project.

    Attributes
    ----------
    value
        The fact's value (strings of :meth:`Rules.values`); missing = unknown.
    source
        ``""`` where the question's own answer settled it, else the evidence used
        (``the description ("lentiviral")``).
    phrase
        Plain words for the reason, naming the evidence when it is not the answer.
    unknown
        For each question behind the fact, where its answer is missing or "Don't know"
        and nothing else settled it.
    """

    value: pd.Series
    source: pd.Series
    phrase: pd.Series = field(default_factory=pd.Series)
    unknown: dict[str, pd.Series] = field(default_factory=dict)


def _settle(index: pd.Index, steps: list[tuple[pd.Series, pd.Series | str]]) -> Fact:
    """Each row's value from the first step that knows it, with that step's source.

    ``steps`` are ``(value, source)`` pairs in order of preference: the question's own
    answer first (source ``""``), then other answers and text evidence.
    """
    value, source = _na(index), _na(index)
    for step_value, step_source in steps:
        take = (value.isna() & step_value.notna()).to_numpy(dtype=bool)
        if isinstance(step_source, str):
            step_source = pd.Series(step_source, index=index, dtype="string")
        value = value.mask(take, step_value)
        source = source.mask(take, step_source)
    return Fact(value, source.fillna(""))


def _worded(name: str, fact: Fact, question: str, detail: pd.Series | None = None) -> Fact:
    """Fill the fact's phrase (the table's words or ``detail``, then the evidence)."""
    words = {v: p for (f, v), p in rules().phrases.items() if f == name}
    base = fact.value.map(words).astype("string")
    if detail is not None:
        base = base.mask(detail.notna(), detail)
    from_evidence = fact.source != ""
    fact.phrase = base.mask(from_evidence, base + " (from " + fact.source + ")")
    if not fact.unknown:
        fact.unknown = {question: fact.value.isna()}
    return fact


def establish_facts(
    projects: pd.DataFrame, instrument: Instrument | None = None
) -> tuple[dict[str, Fact], dict[str, pd.Series]]:
    """Establish the seven facts of the decision table for every project.

    Parameters
    ----------
    projects
        Merged projects: coded answers, or derived labels with ``<field>_code`` beside
        them.
    instrument
        The instrument (default: the shipped one), for choice labels.

    Returns
    -------
    (facts, contradictions)
        ``facts`` maps each name of :data:`FACTS` to its :class:`Fact`;
        ``contradictions`` maps a question to where the free text (or another answer)
        contradicts its explicit answer, which stands.
    """
    inst = instrument or Instrument.default()
    idx = projects.index
    evidence = _Found(projects, evidence_vocabulary(), TEXT_SOURCES)
    disease = _Found(projects, evidence_vocabulary(), {"disease": "the disease named"})
    found = _Found(projects, platform_vocabulary(), TEXT_SOURCES)
    table = platform_table()
    gene_platforms = list(dict.fromkeys(table.loc[table["field"] == "gene_tech", "platform"]))
    # cell products named specifically; "other cell" words (hepatocytes, neurons) are too
    # often the target of an in vivo therapy to stand for cells in the product
    cell_platforms = [
        p
        for p in dict.fromkeys(table.loc[table["field"] == "cell_type", "platform"])
        if p != "other cell"
    ]
    therapy = coded(projects, "therapy_type")
    product_type = _quote("the product type", therapy.map(inst["therapy_type"].choices))
    contradicts: dict[str, pd.Series] = {}

    table_ = rules()

    def answer(fact: str, question: str) -> pd.Series:
        """The fact's value as ``question``'s answer gives it (atmp_fact_answers.csv)."""
        return coded(projects, question).map(table_.mapping(fact, question)).astype("string")

    # recombinant nucleic acid ------------------------------------------------------
    rna_dna = answer("recombinant", "rna_dna")
    gene_tech = coded(projects, "gene_tech")
    named_codes = table_.codes("recombinant", "gene_tech", "yes")
    tech_named = _ticked(gene_tech, named_codes)
    tech_labels = _labels(gene_tech, named_codes, "gene_tech", inst)
    vector_text = found.first(gene_platforms)
    oligo_text = evidence.get("recombinant=no")
    recombinant = _settle(
        idx,
        [
            (rna_dna, ""),
            (_pick(idx, [(tech_named, "yes")]), _quote("the gene technologies named", tech_labels)),
            (_pick(idx, [(vector_text.notna(), "yes")]), vector_text),
            (_pick(idx, [(oligo_text.notna(), "no")]), oligo_text),
            (answer("recombinant", "therapy_type"), product_type),
        ],
    )
    contradicts["rna_dna"] = (rna_dna.eq("no") & (vector_text.notna() | tech_named)) | (
        rna_dna.eq("yes") & vector_text.isna() & oligo_text.notna() & ~tech_named
    )
    is_recombinant = recombinant.value.eq("yes").fillna(False)

    # a direct effect of the sequence -------------------------------------------------
    gene_effect = answer("direct_effect", "gene_effect")
    carries = evidence.get("direct_effect=yes")  # "chimeric antigen receptor", "silences"
    switch = evidence.get("direct_effect=no")  # "suicide gene", "iCasp9"
    expresses = evidence.get("expression=yes")  # weaker: "expressing", "encoding"
    direct = _settle(
        idx,
        [
            (gene_effect, ""),
            (_pick(idx, [(carries.notna(), "yes")]), carries),
            (_pick(idx, [(switch.notna(), "no")]), switch),
            (_pick(idx, [(expresses.notna(), "yes")]), expresses),
        ],
    )
    contradicts["gene_effect"] = is_recombinant & (
        (gene_effect.eq("yes") & carries.isna() & switch.notna())
        | (gene_effect.eq("no") & carries.notna())
    )

    # a vaccine against an infectious disease ----------------------------------------
    infect_vaccine = answer("vaccine", "infect_vaccine")
    area = coded(projects, "ther_area")
    other_area = answer("vaccine", "ther_area").eq("no").fillna(False)
    infectious = (
        evidence.get("infection=yes").notna()
        | disease.get("infection=yes").notna()
        | (area.notna() & ~other_area)
    )
    vaccine_text = evidence.get("vaccine=yes").where(infectious)
    area_label = area.map(inst["ther_area"].choices).astype("string")
    vaccine = _settle(
        idx,
        [
            (infect_vaccine, ""),
            (_pick(idx, [(vaccine_text.notna(), "yes")]), vaccine_text),
            (_pick(idx, [(other_area, "no")]), _quote("the therapeutic area", area_label)),
        ],
    )
    contradicts["infect_vaccine"] = infect_vaccine.eq("no") & vaccine_text.notna()

    # cells: viable, non-viable or none -------------------------------------------------
    contains = answer("cells", "contains_cells")
    cell_type = coded(projects, "cell_type")
    cells_named = _ticked(cell_type, table_.codes("cells", "cell_type", "viable"))
    cell_labels = mask_to_labels(cell_type, inst["cell_type"], ", ")
    non_viable = evidence.get("cells=non-viable")
    cell_text = found.first(cell_platforms)
    cells = _settle(
        idx,
        [
            (contains, ""),
            (
                _pick(
                    idx, [(cells_named & non_viable.notna(), "non-viable"), (cells_named, "viable")]
                ),
                _quote("the cell types named", cell_labels),
            ),
            (_pick(idx, [(non_viable.notna(), "non-viable")]), non_viable),
            (_pick(idx, [(cell_text.notna(), "viable")]), cell_text),
            (answer("cells", "therapy_type"), product_type),
        ],
    )
    contradicts["contains_cells"] = contains.eq("none") & cell_text.notna()
    has_cells = cells.value.isin(["viable", "non-viable"]).fillna(False)

    # engineered: substantially manipulated, or not for the same essential function ----
    steps = coded(projects, "manipulation")
    substantial_steps = table_.codes("substantial", "manipulation", "yes")
    minimal_steps = table_.codes("substantial", "manipulation", "no")
    steps_say = _pick(
        idx, [(_ticked(steps, substantial_steps), "yes"), (_only(steps, minimal_steps), "no")]
    )
    text_substantial = evidence.get("substantial=yes")
    text_minimal = evidence.get("substantial=no")
    ex_vivo = is_recombinant & (
        answer("substantial", "delivery").eq("yes")
        | answer("substantial", "therapy_type").eq("yes")
    ).fillna(False)
    substantial = _settle(
        idx,
        [
            (steps_say, ""),
            (_pick(idx, [(text_substantial.notna(), "yes")]), text_substantial),
            (_pick(idx, [(text_minimal.notna(), "no")]), text_minimal),
            (_pick(idx, [(ex_vivo, "yes")]), "genetic modification ex vivo"),
        ],
    )
    contradicts["manipulation"] = steps_say.eq("no") & text_substantial.notna()
    same = answer("same_function", "same_function")
    by_steps = substantial.value.eq("yes").fillna(False)
    elsewhere = same.eq("no").fillna(False)
    minimal = (substantial.value.eq("no") & same.eq("yes")).fillna(False)
    evidenced = substantial.source != ""
    how = _labels(steps, substantial_steps, "manipulation", inst, lower=True).mask(
        evidenced, "from " + substantial.source
    )
    how_little = _labels(steps, minimal_steps, "manipulation", inst, lower=True).mask(
        evidenced, "from " + substantial.source
    )
    detail = _pick(
        idx,
        [
            (by_steps, "substantially manipulated"),
            (elsewhere, "not used for the same essential function in the patient as in the donor"),
            (minimal, "only minimally manipulated"),
        ],
    )
    detail = detail.mask(by_steps & how.notna(), "substantially manipulated (" + how + ")")
    detail = detail.mask(
        minimal & how_little.notna(), "only minimally manipulated (" + how_little + ")"
    )
    detail = detail.mask(minimal, detail + " and used for the same essential function")
    engineered = Fact(
        _pick(idx, [(by_steps | elsewhere, "yes"), (minimal, "no")]),
        pd.Series("", index=idx, dtype="string"),
        unknown={"manipulation": substantial.value.isna(), "same_function": same.isna()},
    )

    # intended action -------------------------------------------------------------
    intended = answer("action", "intended_action")
    regenerates = evidence.get("action=regenerate")
    acts = evidence.get("action=pharmacological")
    action = _settle(
        idx,
        [
            (intended, ""),
            (
                _pick(idx, [(regenerates.notna() & acts.notna(), "both")]),
                regenerates + " and " + acts,
            ),
            (_pick(idx, [(regenerates.notna(), "regenerate")]), regenerates),
            (_pick(idx, [(acts.notna(), "pharmacological")]), acts),
            (answer("action", "therapy_type"), product_type),
        ],
    )

    # an integral medical device ----------------------------------------------------------
    device_answer = answer("device", "device")
    device_text = found.get("scaffold/device")
    device = _settle(
        idx,
        [
            (device_answer, ""),
            (answer("device", "therapy_type"), product_type),
            (_pick(idx, [(device_text.notna(), "yes")]), device_text),
        ],
    )
    contradicts["device"] = device_answer.eq("no") & (
        (has_cells & device_text.notna()) | answer("device", "therapy_type").eq("yes").fillna(False)
    )

    facts = {
        "recombinant": _worded("recombinant", recombinant, "rna_dna"),
        "direct_effect": _worded("direct_effect", direct, "gene_effect"),
        "vaccine": _worded("vaccine", vaccine, "infect_vaccine"),
        "cells": _worded("cells", cells, "contains_cells"),
        "engineered": _worded("engineered", engineered, "manipulation", detail),
        "action": _worded("action", action, "intended_action"),
        "device": _worded("device", device, "device"),
    }
    contradicts = {q: flag.fillna(False).astype(bool) for q, flag in contradicts.items()}
    return facts, contradicts


# ------------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class Decision:
    """The outcome of the decision table for every project (see :func:`decide`)."""

    atmp_class: pd.Series
    reason: pd.Series
    rule: pd.Series  # the rule that decided, or missing when undetermined
    missing: pd.Series  # the questions whose answers would settle an undetermined class
    evidence: pd.Series  # what other than the facts' own answers was used


@dataclass(frozen=True)
class Outcomes:
    """The decision table worked out for every pattern of known and unknown facts.

    A pattern gives each fact one of its values or "unknown". Its outcome is found by
    trying every way of filling in the unknowns: one class for all of them, or several.

    Attributes
    ----------
    sizes
        The number of values of each fact (unknown is coded as ``sizes[j]``).
    atmp_class
        Per pattern, the index in :data:`CLASSES` (``undetermined`` when fillings differ).
    rule
        Per pattern with one class, the first rule (table order) that decides a filling;
        ``-1`` otherwise.
    could_be
        Per pattern and class, whether some filling gets that class.
    matters
        Per pattern and fact, whether the fact is unknown and its value can change the
        class (for some values of the other unknowns).
    """

    sizes: tuple[int, ...]
    atmp_class: np.ndarray
    rule: np.ndarray
    could_be: np.ndarray
    matters: np.ndarray

    def pattern(self, codes: np.ndarray) -> np.ndarray:
        """Pattern numbers of rows of fact codes (``n x facts``; unknown = ``sizes[j]``)."""
        radix = np.array(self.sizes) + 1
        strides = np.concatenate([np.cumprod(radix[::-1])[::-1][1:], [1]])
        return codes @ strides


def outcomes(table: Rules | None = None) -> Outcomes:
    """Work the decision table out for all patterns of facts (computed once per table)."""
    table = table or rules()
    cached = table.__dict__.get("_outcomes")
    if cached is not None:
        return cached
    domains = [table.values(f) for f in FACTS]
    sizes = tuple(len(d) for d in domains)
    # every combination of known facts: the first rule that matches decides
    known = np.array(list(itertools.product(*[range(s) for s in sizes])), dtype=np.int64)
    first = np.full(len(known), -1)
    for r in range(len(table.table) - 1, -1, -1):  # last to first: the first rule wins
        ok = np.ones(len(known), dtype=bool)
        for j, name in enumerate(FACTS):
            accepted = table.accepts(r, name)
            if accepted is not None:
                ok &= np.isin(known[:, j], [domains[j].index(v) for v in accepted])
        first = np.where(ok, r, first)
    rule_class = np.array([CLASSES.index(c) for c in table.table["atmp_class"]])
    undetermined = CLASSES.index(UNDETERMINED)
    truth = np.where(first >= 0, rule_class[np.maximum(first, 0)], undetermined).reshape(sizes)
    truth_rule = np.where(first >= 0, first, len(table.table)).reshape(sizes)
    patterns = list(itertools.product(*[range(s + 1) for s in sizes]))
    atmp_class = np.empty(len(patterns), dtype=np.int64)
    rule = np.empty(len(patterns), dtype=np.int64)
    could_be = np.zeros((len(patterns), len(CLASSES)), dtype=bool)
    matters = np.zeros((len(patterns), len(FACTS)), dtype=bool)
    for p, pattern in enumerate(patterns):  # a few thousand patterns, once
        where = tuple(slice(None) if v == sizes[j] else v for j, v in enumerate(pattern))
        fillings = truth[where]
        found = np.unique(fillings)
        could_be[p, found] = True
        single = len(found) == 1 and found[0] != undetermined
        atmp_class[p] = found[0] if single else undetermined
        rule[p] = truth_rule[where].min() if single else -1
        open_axes = [j for j, v in enumerate(pattern) if v == sizes[j]]
        for axis, j in enumerate(open_axes):
            matters[p, j] = bool(np.ptp(fillings, axis=axis).any()) if fillings.ndim else False
    result = Outcomes(sizes, atmp_class, rule, could_be, matters)
    object.__setattr__(table, "_outcomes", result)
    return result


def decide(facts: dict[str, Fact], table: Rules | None = None) -> Decision:
    """Apply the decision table to established facts, for all projects at once.

    Each project's facts form a pattern (some unknown); :func:`outcomes` has worked out
    every pattern, so a project gets a class when every way of filling in its unknown
    facts leads to that class, and ``undetermined`` otherwise. ``table`` defaults to the
    shipped :func:`rules`.
    """
    table = table or rules()
    worked = outcomes(table)
    rule_table = table.table
    index = facts["recombinant"].value.index
    codes = (
        np.column_stack(
            [
                facts[f]
                .value.map({v: i for i, v in enumerate(table.values(f))})
                .fillna(worked.sizes[j])
                .to_numpy(dtype=np.int64)
                for j, f in enumerate(FACTS)
            ]
        )
        if len(index)
        else np.zeros((0, len(FACTS)), dtype=np.int64)
    )
    pattern = worked.pattern(codes)
    deciding = worked.rule[pattern]
    settled = deciding >= 0
    unknown = codes == np.array(worked.sizes)
    constrains = np.array(
        [[table.accepts(r, f) is not None for f in FACTS] for r in range(len(rule_table))]
    )

    classes = pd.Series(np.array(CLASSES, dtype=object)[worked.atmp_class[pattern]], index=index)
    classes = classes.astype("string")
    reasons = _na(index)
    rule_ids = _na(index)
    unneeded = np.zeros_like(unknown)
    for r in range(len(rule_table)):  # a dozen rules, each over all its projects at once
        rows = pd.Series(deciding == r, index=index)
        if not rows.any():
            continue
        parts = [facts[f].phrase.where(rows) for j, f in enumerate(FACTS) if constrains[r, j]]
        row = rule_table.iloc[r]
        words = join_present(parts, ", ") + " → " + row["conclusion"] + " (" + row["citation"] + ")"
        reasons = reasons.mask(rows, words)
        rule_ids = rule_ids.mask(rows, row["rule"])
        unneeded |= rows.to_numpy()[:, None] & constrains[r][None, :] & unknown

    open_facts = worked.matters[pattern] & ~settled[:, None]
    missing = _open_questions(facts, table, open_facts, index)
    not_needed = _open_questions(facts, table, unneeded, index)
    could_be = join_flags(
        pd.DataFrame(worked.could_be[pattern][:, :-1], index=index, columns=list(CLASSES[:-1])),
        ", ",
    ).str.replace(r", ([^,]+)$", r" or \1", regex=True)  # "GTMP, TEP or cATMP"
    reasons = reasons.mask(
        pd.Series(~settled, index=index),
        (
            "undetermined: the answers fit "
            + could_be
            + '; not answered or "Don\'t know": '
            + missing
        ).fillna("undetermined: no rule applies"),
    )
    reasons = reasons.mask(
        not_needed.notna(),
        reasons + "; not answered, but either answer gives the same class: " + not_needed,
    )
    used = join_present(
        [(f + ": " + facts[f].source).where(facts[f].source != "") for f in FACTS],
        "; ",
    )
    return Decision(classes, reasons, rule_ids, missing.where(~settled), used)


def _open_questions(
    facts: dict[str, Fact], table: Rules, open_facts: np.ndarray, index: pd.Index
) -> pd.Series:
    """The questions (``name (what it asks)``) behind the open facts of each row."""
    flags = {}
    for j, name in enumerate(FACTS):
        for question, asks in table.questions.get(name, []):
            unknown = facts[name].unknown.get(question, facts[name].value.isna())
            flag = open_facts[:, j] & unknown.to_numpy(dtype=bool)
            key = f"{question} ({asks})"
            flags[key] = flags.get(key, False) | flag
    return join_flags(pd.DataFrame(flags, index=index), "; ")


# ------------------------------------------------------------------------------- API


def _add_conflicts(existing: pd.Series, flags: dict[str, pd.Series]) -> pd.Series:
    """``existing`` ``;``-joined names plus the flagged ones, each name once."""
    added = join_flags(pd.DataFrame(flags, index=existing.index))
    combined = join_present([existing.astype("string"), added], ";")
    codes, uniques = pd.factorize(combined)
    deduped = [";".join(dict.fromkeys(u.split(";"))) for u in uniques]  # per distinct value
    out = np.append(np.asarray(deduped, dtype=object), None)[codes]
    return pd.Series(out, index=existing.index, dtype="string")


def classify_projects(projects: pd.DataFrame, instrument: Instrument | None = None) -> pd.DataFrame:
    """Classify merged projects and add the derived columns of OUTPUTS.md.

    Parameters
    ----------
    projects
        One row per project and wave, as :func:`atmp_analysis.projects.merge_projects`
        returns it (classifying an already classified table gives the same table).
    instrument
        The instrument the answers follow (default: the shipped one).

    Returns
    -------
    pandas.DataFrame
        A new table with ``atmp_class``, ``atmp_class_reason``, ``atmp_class_rule`` (the
        rule that decided), ``atmp_class_missing`` (the answers that would settle an
        undetermined class), ``atmp_class_evidence`` (evidence other than the facts' own
        answers), the derived columns of :func:`atmp_analysis.derive.derive_columns`, and
        ``conflicts`` extended by the questions whose answers the text contradicts.
    """
    inst = instrument or Instrument.default()
    out = derive_columns(projects, inst)
    decided = on_distinct(out, CLASS_INPUTS, lambda rows: _classify_rows(rows, inst))
    for column in CLASS_COLUMNS:
        out[column] = decided[column].astype("string")
    conflicts = out["conflicts"] if "conflicts" in out else _na(out.index)
    flags = {q: decided[f"contradicts {q}"].astype(bool) for q in CONTRADICTED}
    out["conflicts"] = _add_conflicts(conflicts, flags)
    return out


#: The answers the class depends on: questions of the product, and the free text.
CLASS_INPUTS = [
    "therapy_type",
    "rna_dna",
    "gene_effect",
    "infect_vaccine",
    "contains_cells",
    "cell_type",
    "manipulation",
    "same_function",
    "intended_action",
    "device",
    "gene_tech",
    "delivery",
    "ther_area_code",
    "ther_area",
    "proj_description",
    "gene_tech_other",
    "cell_type_other",
    "disease",
]
CLASS_COLUMNS = [
    "atmp_class",
    "atmp_class_reason",
    "atmp_class_rule",
    "atmp_class_missing",
    "atmp_class_evidence",
]
#: Questions whose explicit answer the free text may contradict.
CONTRADICTED = [
    "rna_dna",
    "gene_effect",
    "infect_vaccine",
    "contains_cells",
    "manipulation",
    "device",
]


def _classify_rows(rows: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """The class columns and contradiction flags of each row of ``rows``."""
    facts, contradicts = establish_facts(rows, instrument)
    decision = decide(facts)
    out = pd.DataFrame(
        {
            "atmp_class": decision.atmp_class,
            "atmp_class_reason": decision.reason,
            "atmp_class_rule": decision.rule,
            "atmp_class_missing": decision.missing,
            "atmp_class_evidence": decision.evidence,
        },
        index=rows.index,
    )
    for question in CONTRADICTED:
        out[f"contradicts {question}"] = contradicts[question].to_numpy(dtype=bool)
    return out


FACT_NAMES = {
    "recombinant": "recombinant nucleic acid",
    "direct_effect": "direct effect of the sequence",
    "vaccine": "vaccine against an infectious disease",
    "cells": "cells",
    "engineered": "engineered (substantial manipulation or another function)",
    "action": "intended action",
    "device": "integral medical device",
}


def explain(projects: pd.DataFrame, project_id: str, wave: int | None = None) -> str:
    """Explain in plain words how a project got its class, fact by fact.

    Parameters
    ----------
    projects
        Projects as :func:`classify_projects` returns them.
    project_id
        The project's pseudonymous id (``P`` + 12 hex digits).
    wave
        The survey year; default: every wave the project is in.

    Raises
    ------
    KeyError
        If no project has that id (in that wave).
    """
    chosen = projects[projects["project_id"] == project_id]
    if wave is not None:
        chosen = chosen[chosen["wave"] == wave]
    if chosen.empty:
        where = f" in wave {wave}" if wave is not None else ""
        raise KeyError(f"no project {project_id}{where}")
    chosen = chosen.sort_values("wave")
    facts, contradicts = establish_facts(chosen)
    decision = decide(facts)
    table = rules()
    blocks = []
    for pos, (_, row) in enumerate(chosen.iterrows()):  # one block per wave of one project
        lines = [
            f"{row.get('acronym', '')} ({project_id}, wave {row['wave']}): "
            f"{decision.atmp_class.iloc[pos]}",
            f"  Rule path: {decision.reason.iloc[pos]}",
            "  Facts:",
        ]
        for name in FACTS:
            fact = facts[name]
            value = fact.value.iloc[pos]
            questions = ", ".join(q for q, _ in table.questions.get(name, []))
            if pd.isna(value):
                said = f'unknown (no answer or "Don\'t know" to {questions})'
            elif fact.source.iloc[pos]:
                said = f"{value}, from {fact.source.iloc[pos]} (not from {questions})"
            else:
                said = f"{value}, answered ({questions})"
            lines.append(f"    - {FACT_NAMES[name]}: {said}")
        rule_id = decision.rule.iloc[pos]
        if pd.notna(rule_id):
            rule = table.table.loc[table.table["rule"] == rule_id].iloc[0]
            lines.append(f"  Rule: {rule_id}: {rule['conclusion']} ({rule['citation']})")
        contra = [q for q, flag in contradicts.items() if flag.iloc[pos]]
        if contra:
            lines.append(
                "  The free text contradicts the answer to "
                + ", ".join(contra)
                + "; the answer stands (listed in conflicts)."
            )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n\n" + DISCLAIMER
