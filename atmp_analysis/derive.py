"""Derived project columns of OUTPUTS.md: platforms, cell origin, area, stage, TRL, needs.

Every mapping is a table shipped in the package (``data/vocab/*.csv``,
``data/reference/stage_trl.csv``) applied vectorised; the instrument's own labels come from
its data dictionary. Free text is read where the structured answer leaves a gap:

- **platforms**: the "other" gene technology and cell type; the description when the
  gene technologies (or cell types, or the device question) were not answered and the
  answers do not rule them out;
- **therapeutic area**: the "other" area, then the disease, when the area is "Other" or
  empty ("Parkinson's disease" → Neurology, "AMD" → Ophthalmology);
- **support needs**: the ticked needs plus those recognised in ``support_other`` and in
  the ``bottleneck`` text;
- **bottleneck themes**: a small vocabulary (``data/vocab/bottleneck_themes.csv``).

What was taken from text is listed in ``text_evidence``; free text that matched nothing
is named in ``unrecognised`` and listed by :func:`unrecognised_values`, never dropped.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

from atmp_analysis.choices import mask_has
from atmp_analysis.config import REFERENCE_DIR, VOCAB_DIR
from atmp_analysis.distinct import on_distinct
from atmp_analysis.instrument import Instrument
from atmp_analysis.terms import Vocabulary, first_found, join_flags, join_present

#: Free-text fields whose unrecognised values are listed, with what became of them.
UNRECOGNISED_OUTCOME = {
    "gene_tech_other": "no gene technology recognised: no platform counted for it",
    "cell_type_other": "no cell type recognised: counted as 'other cell'",
    "ther_area_other": "no therapeutic area recognised: left as 'Other'",
    "disease": "no therapeutic area recognised in the disease: area left as answered",
    "support_other": "no support need recognised: counted as 'Other'",
    "bottleneck": "no bottleneck theme recognised",
}
OTHER_AREA = 14
OTHER_NEED = 13
OTHER_GENE_TECH = 12
OTHER_CELL_TYPE = 11


@cache
def platform_table() -> pd.DataFrame:
    """The answers that make a platform (``field, code, platform``), in output order."""
    return pd.read_csv(
        VOCAB_DIR / "platforms.csv", dtype={"field": str, "code": int, "platform": str}
    )


@cache
def answer_labels() -> pd.DataFrame:
    """Output labels of coded answers (``field, code, label``)."""
    return pd.read_csv(VOCAB_DIR / "answer_labels.csv", dtype={"code": int}, keep_default_na=False)


@cache
def stage_trl() -> pd.DataFrame:
    """The stage → TRL table with its source (``stage_code, trl, source``)."""
    return pd.read_csv(REFERENCE_DIR / "stage_trl.csv")


@cache
def bottleneck_themes() -> pd.DataFrame:
    """The bottleneck themes (``theme, description``), in report order."""
    return pd.read_csv(VOCAB_DIR / "bottleneck_themes.csv", dtype=str, keep_default_na=False)


@cache
def platform_vocabulary() -> Vocabulary:
    """Vectors, editing tools, cell types and devices in free text, as platforms."""
    order = list(dict.fromkeys(platform_table()["platform"]))
    return Vocabulary.from_csv(VOCAB_DIR / "platform_terms.csv", "platform", allowed=order)


@cache
def _area_terms() -> Vocabulary:
    areas = Instrument.default()["ther_area"].choices
    return Vocabulary.from_csv(
        VOCAB_DIR / "ther_area_terms.csv", "ther_area", allowed=list(areas.values())
    )


@cache
def _need_terms() -> Vocabulary:
    needs = Instrument.default()["support_needs"].choices
    table = pd.read_csv(VOCAB_DIR / "need_terms.csv", dtype=str, keep_default_na=False)
    return Vocabulary.from_table(
        table[table["support_need"] != ""], "need_terms.csv", "support_need", needs.values()
    )


@cache
def _theme_terms() -> Vocabulary:
    table = pd.read_csv(VOCAB_DIR / "need_terms.csv", dtype=str, keep_default_na=False)
    themes = bottleneck_themes()["theme"]
    return Vocabulary.from_table(table[table["theme"] != ""], "need_terms.csv", "theme", themes)


def coded(projects: pd.DataFrame, field: str) -> pd.Series:
    """The coded answer of ``field``: ``<field>_code`` once a label has replaced it."""
    column = f"{field}_code" if f"{field}_code" in projects else field
    if column not in projects:
        return pd.Series(pd.NA, index=projects.index, dtype="Int64")
    return projects[column].astype("Int64")


def text(projects: pd.DataFrame, field: str) -> pd.Series:
    """A free-text answer as strings (missing when the column is absent)."""
    if field not in projects:
        return pd.Series(pd.NA, index=projects.index, dtype="string")
    return projects[field].astype("string")


def _unanswered(projects: pd.DataFrame, field: str) -> pd.Series:
    return coded(projects, field).fillna(0).eq(0)


def _evidence(name: str, values: pd.Series, quoted: pd.Series) -> pd.Series:
    return name + ": " + values + " (" + quoted + ")"


def platforms(projects: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """The ``;``-joined platforms of each project, and what text contributed.

    Returns
    -------
    (platforms, from_text, unrecognised)
        ``platforms`` from the gene technologies, cell types and device answers, plus
        those recognised in the "other" fields and, where the question was not answered
        and not ruled out, in the description; ``from_text`` names what the text added;
        ``unrecognised`` flags ``gene_tech_other`` / ``cell_type_other`` texts in which
        no platform was recognised.
    """
    table = platform_table()
    index = projects.index
    order = list(dict.fromkeys(table["platform"]))
    flags = {p: pd.Series(False, index=index) for p in order}
    for row in table.itertuples(index=False):  # one vectorised test per platform answer
        column = coded(projects, row.field)
        hit = (
            column.eq(row.code).fillna(False)
            if row.field == "device"
            else mask_has(column, row.code)
        )
        flags[row.platform] = flags[row.platform] | hit
    vocabulary = platform_vocabulary()
    kind = {p: f for f, p in zip(table["field"], table["platform"], strict=True)}
    gene_kind = [p for p in order if kind[p] == "gene_tech"]
    cell_kind = [p for p in order if kind[p] == "cell_type"]

    # the "other" answers: recognised platforms of their kind are added
    other_gene = text(projects, "gene_tech_other").where(
        mask_has(coded(projects, "gene_tech"), OTHER_GENE_TECH)
    )
    other_cell = text(projects, "cell_type_other").where(
        mask_has(coded(projects, "cell_type"), OTHER_CELL_TYPE)
    )
    gene_found = vocabulary.find(other_gene)[gene_kind]
    cell_named = vocabulary.find(other_cell)[cell_kind]
    cell_found = cell_named[[p for p in cell_kind if p != "other cell"]]
    # the description, where the structured question was skipped and not ruled out
    described = vocabulary.find(text(projects, "proj_description"), negation=True)
    no_gene = _unanswered(projects, "gene_tech") & coded(projects, "rna_dna").ne(0).fillna(True)
    no_cells = _unanswered(projects, "cell_type") & coded(projects, "contains_cells").ne(0).fillna(
        True
    )
    no_device = coded(projects, "device").isna()
    added = []
    for platform in order:
        from_text = pd.Series(False, index=index)
        if platform in gene_found:
            from_text |= gene_found[platform].notna()
        if platform in cell_found:
            from_text |= cell_found[platform].notna()
        allowed = {"gene_tech": no_gene, "cell_type": no_cells, "device": no_device}[kind[platform]]
        if platform != "other cell":  # generic cell words in a description are no evidence
            from_text |= described[platform].notna() & allowed
        new = from_text & ~flags[platform]
        added.append(pd.Series(np.where(new, platform, None), index=index, dtype="string"))
        flags[platform] = flags[platform] | from_text
    specific_cell = cell_found.notna().any(axis=1)
    only_other = mask_has(coded(projects, "cell_type"), OTHER_CELL_TYPE) & specific_cell
    # a cell type named under "Other" and recognised is counted as what it is
    flags["other cell"] = flags["other cell"] & ~(only_other & _only_other_cell(projects))
    joined = join_flags(pd.DataFrame(flags))
    from_text = join_present(added, ", ")
    unrecognised = pd.DataFrame(
        {
            "gene_tech_other": other_gene.notna() & gene_found.isna().all(axis=1),
            "cell_type_other": other_cell.notna() & cell_named.isna().all(axis=1),
        }
    )
    return joined, from_text, unrecognised


def _only_other_cell(projects: pd.DataFrame) -> pd.Series:
    """Whether "Other" is the only cell type that maps to the platform "other cell"."""
    table = platform_table()
    codes = table.loc[(table["field"] == "cell_type") & (table["platform"] == "other cell"), "code"]
    mask = coded(projects, "cell_type").fillna(0).to_numpy(dtype=np.int64)
    other_bits = sum(1 << int(c) for c in codes if c != OTHER_CELL_TYPE)
    return pd.Series((mask & other_bits) == 0, index=projects.index)


def _label(projects: pd.DataFrame, field: str) -> pd.Series:
    table = answer_labels()
    mapping = dict(table.loc[table["field"] == field, ["code", "label"]].to_numpy())
    labels = coded(projects, field).map(mapping).astype("string")
    return labels.replace("", pd.NA)


def therapeutic_area(projects: pd.DataFrame, instrument: Instrument) -> tuple[pd.Series, ...]:
    """The area label; "Other" or empty areas recognised from the other area or disease.

    Returns
    -------
    (area, from_text, unrecognised)
    """
    code = coded(projects, "ther_area")
    area = code.map(instrument["ther_area"].choices).astype("string")
    open_ = code.isna() | code.eq(OTHER_AREA).fillna(False)
    vocabulary = _area_terms()
    other_text = text(projects, "ther_area_other")
    disease = text(projects, "disease")
    by_other, words_other = first_found(vocabulary.find(other_text.where(open_)))
    by_disease, words_disease = first_found(vocabulary.find(disease.where(open_)))
    recognised = by_other.fillna(by_disease)
    quoted = ('the other area ("' + words_other + '")').fillna(
        'the disease ("' + words_disease + '")'
    )
    area = area.mask(recognised.notna(), recognised)
    from_text = _evidence("ther_area", recognised, quoted)
    unrecognised = pd.DataFrame(
        {
            "ther_area_other": (open_ & other_text.notna() & recognised.isna()).fillna(False),
            "disease": (open_ & disease.notna() & recognised.isna()).fillna(False),
        }
    )
    return area, from_text, unrecognised


def needs_and_themes(projects: pd.DataFrame, instrument: Instrument) -> tuple[pd.Series, ...]:
    """Support needs (ticked, plus recognised in text) and bottleneck themes.

    Returns
    -------
    (support_needs, themes, from_text, unrecognised)
    """
    field = instrument["support_needs"]
    ticked = coded(projects, "support_needs")
    other = text(projects, "support_other")
    bottleneck = text(projects, "bottleneck")
    vocabulary = _need_terms()
    in_other = vocabulary.find(other).notna()
    in_bottleneck = vocabulary.find(bottleneck).notna()
    flags = {}
    added = []
    for code, label in field.choices.items():
        answered = mask_has(ticked, code)
        said = pd.Series(False, index=projects.index)
        if label in in_other:
            said = said | in_other[label] | in_bottleneck[label]
        flags[label] = answered | said
        added.append(
            pd.Series(np.where(said & ~answered, label, None), index=projects.index, dtype="string")
        )
    recognised_other = in_other.any(axis=1)
    other_label = field.choices[OTHER_NEED]
    flags[other_label] = flags[other_label] & ~recognised_other  # counted as what it is
    needs = join_flags(pd.DataFrame(flags))
    themes_found = _theme_terms().find(bottleneck).notna()
    themes = join_flags(themes_found[list(bottleneck_themes()["theme"])])
    from_text = join_present(added, ", ")
    unrecognised = pd.DataFrame(
        {
            "support_other": (other.notna() & ~recognised_other).fillna(False),
            "bottleneck": (bottleneck.notna() & ~themes_found.any(axis=1)).fillna(False),
        }
    )
    return needs, themes, from_text, unrecognised


def derive_columns(projects: pd.DataFrame, instrument: Instrument | None = None) -> pd.DataFrame:
    """Add the derived columns of OUTPUTS.md to merged projects (codes stay beside them).

    Adds ``platforms``, ``cell_origin`` (label), ``ther_area`` (label), ``rare_disease``
    (yes/no), ``stage_code``, ``stage`` (label), ``trl``, ``support_needs`` (labels),
    ``support_horizon`` (label), ``bottleneck_themes``, ``text_evidence`` (what free text
    added) and ``unrecognised`` (free-text fields in which nothing was recognised). The
    codes they come from are kept as ``<field>_code``; deriving a derived table again
    gives the same table.
    """
    instrument = instrument or Instrument.default()
    out = projects.copy()
    for field in ("cell_origin", "rare_disease", "support_horizon", "ther_area", "support_needs"):
        out[f"{field}_code"] = coded(out, field)
    out["cell_origin"] = _label(out, "cell_origin")
    out["rare_disease"] = _label(out, "rare_disease")
    out["support_horizon"] = _label(out, "support_horizon")
    stage = out["stage_code"] if "stage_code" in out else out["stage"]
    out["stage_code"] = stage.astype("Int64")
    out["stage"] = out["stage_code"].map(instrument["stage"].choices).astype("string")
    trl = dict(stage_trl()[["stage_code", "trl"]].to_numpy())
    out["trl"] = out["stage_code"].map(trl).astype("Int64")
    read = on_distinct(out, TEXT_INPUTS, lambda rows: _read_text(rows, instrument))
    for column in read.columns:
        out[column] = read[column]
    return out


#: The answers the text-reading columns depend on (codes, and the free text).
TEXT_INPUTS = [
    "gene_tech",
    "cell_type",
    "device",
    "rna_dna",
    "contains_cells",
    "gene_tech_other",
    "cell_type_other",
    "proj_description",
    "ther_area_code",
    "ther_area_other",
    "disease",
    "support_needs_code",
    "support_other",
    "bottleneck",
]


def _read_text(rows: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Platforms, area, needs, themes, text evidence and unrecognised fields of ``rows``."""
    out = pd.DataFrame(index=rows.index)
    out["platforms"], platforms_text, unknown_platforms = platforms(rows)
    out["ther_area"], area_text, unknown_area = therapeutic_area(rows, instrument)
    out["support_needs"], out["bottleneck_themes"], needs_text, unknown_needs = needs_and_themes(
        rows, instrument
    )
    out["text_evidence"] = join_present(
        [
            "platforms: " + platforms_text,
            area_text,
            "support_needs: " + needs_text + " (support_other or bottleneck)",
        ],
        "; ",
    )
    unknown = pd.concat([unknown_platforms, unknown_area, unknown_needs], axis=1)
    out["unrecognised"] = join_flags(unknown[list(UNRECOGNISED_OUTCOME)])
    return out


def unrecognised_values(projects: pd.DataFrame) -> pd.DataFrame:
    """Free-text answers in which the vocabularies recognised nothing, one row each.

    Returns
    -------
    pandas.DataFrame
        ``project_id, wave, acronym, field, value, outcome`` (what the project was
        counted as instead), sorted by wave, acronym and field.
    """
    columns = ["project_id", "wave", "acronym", "field", "value", "outcome"]
    if "unrecognised" not in projects or projects["unrecognised"].isna().all():
        return pd.DataFrame(columns=columns)
    listed = projects[projects["unrecognised"].notna()]
    rows = []
    for field, outcome in UNRECOGNISED_OUTCOME.items():  # six fields, each vectorised
        hit = listed["unrecognised"].str.contains(rf"(?:^|;){field}(?:;|$)", regex=True)
        part = listed.loc[hit.to_numpy(dtype=bool), ["project_id", "wave", "acronym"]].copy()
        part["field"] = field
        part["value"] = listed.loc[hit.to_numpy(dtype=bool), field].astype("string")
        part["outcome"] = outcome
        rows.append(part)
    result = pd.concat(rows, ignore_index=True)
    order = pd.Categorical(result["field"], categories=list(UNRECOGNISED_OUTCOME), ordered=True)
    return (
        result.assign(_order=order)
        .sort_values(["wave", "acronym", "_order"], key=_casefold)
        .drop(columns="_order")
        .reset_index(drop=True)[columns]
    )


def _casefold(column: pd.Series) -> pd.Series:
    return column.str.casefold() if column.name == "acronym" else column
