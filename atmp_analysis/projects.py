"""From responses to projects: who answered, which responses describe one project, merged.

Several people answer for one project, and each writes its acronym, title and lead in their
own way ("STEM-PD", "StemPD"; "Anna Berg", "A. Berg", "Berg, Anna", "Dr. Anna Berg"). The
matching here is vectorised: names and acronyms are normalised into keys, candidate pairs are
formed within blocks (the same lead surname, or the same acronym), scored with rapidfuzz,
and joined into projects as connected components. Acronyms that differ in a number
("NEURO-1", "NEURO-2") are never the same project, and the same lead's projects stay apart
unless their acronyms or titles match.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from atmp_analysis.config import VOCAB_DIR
from atmp_analysis.instrument import DONT_KNOW, Instrument
from atmp_analysis.pseudonym import pseudonymise

#: Thresholds of the matching (similarities in 0..1).
ACRONYM_SIMILARITY = 0.8
TITLE_SIMILARITY = 0.92
SURNAME_SIMILARITY = 0.8
LEAD_ROLE = 1

#: Fields that never reach a project row (personal, or about the respondent).
RESPONDENT_FIELDS = ("resp_name", "resp_email", "resp_role", "resp_group", "proj_lead")
#: Free-text fields merged as "the lead's, else the most recent"; not counted as conflicts.
NARRATIVE_FIELDS = (
    "proj_title",
    "proj_description",
    "cell_type_other",
    "gene_tech_other",
    "disease",
    "ther_area_other",
    "support_other",
    "bottleneck",
)


@cache
def _words(name: str) -> str:
    terms = pd.read_csv(VOCAB_DIR / name, dtype=str)["term"]
    return r"\b(?:" + "|".join(sorted(terms, key=len, reverse=True)) + r")\b\.?"


def _ascii_fold(text: pd.Series) -> pd.Series:
    folded = text.astype("string").str.normalize("NFKD").str.encode("ascii", "ignore")
    return folded.str.decode("ascii").astype("string").str.casefold()


def name_parts(names: pd.Series) -> pd.DataFrame:
    """Split people's names into ``surname`` and first ``initial``, whatever the spelling.

    "Anna Berg", "A. Berg", "Berg, Anna", "Dr. Anna Berg" and "anna berg" all give
    ``surname="berg"``, ``initial="a"``. Titles come from ``vocab/name_titles.csv``.
    """
    s = _ascii_fold(names).str.strip()
    swapped = s.str.extract(r"^([^,]+?)\s*,\s*(.+)$")
    s = s.where(swapped[0].isna(), swapped[1] + " " + swapped[0])
    s = s.str.replace(_words("name_titles.csv"), " ", regex=True)
    s = s.str.replace(r"[^a-z0-9\s-]", " ", regex=True).str.replace(r"\s+", " ", regex=True)
    s = s.str.strip()
    # citation style, surname first: "Berg A" -> "a berg"
    cited = s.str.extract(r"^([a-z0-9-]{2,})\s([a-z])$")
    s = s.where(cited[0].isna(), cited[1] + " " + cited[0])
    surname = s.str.extract(r"([a-z0-9-]+)$")[0]
    initial = s.str.extract(r"^([a-z0-9])[a-z0-9-]*\s")[0]
    return pd.DataFrame(
        {
            "surname": surname.astype("string"),
            "initial": initial.astype("string"),
            "full": s.mask(s == ""),
        },
        index=names.index,
    )


def acronym_key(acronyms: pd.Series) -> pd.Series:
    """Fold an acronym to letters and digits: "STEM-PD", "Stem PD project" → "stempd"."""
    s = _ascii_fold(acronyms).str.replace(_words("acronym_stopwords.csv"), " ", regex=True)
    s = s.str.replace(r"[^a-z0-9]", "", regex=True)
    return s.mask(s == "")


def title_key(titles: pd.Series) -> pd.Series:
    """Fold a title to lower-case words for fuzzy comparison."""
    s = _ascii_fold(titles).str.replace(r"[^a-z0-9]+", " ", regex=True).str.strip()
    return s.mask(s == "")


def respondent_key(responses: pd.DataFrame) -> pd.Series:
    """Who answered: the e-mail address in lower case, else the folded full name."""
    email = responses["resp_email"].astype("string")
    if "tool_email" in responses:
        email = email.fillna(responses["tool_email"].astype("string"))
    email = email.str.strip().str.casefold()
    email = email.where(email.str.contains("@", regex=False, na=False))
    name = responses["resp_name"].astype("string")
    if "tool_name" in responses:
        name = name.fillna(responses["tool_name"].astype("string"))
    full = name_parts(name)["full"]
    return ("email:" + email).fillna("name:" + full)


def _connected_components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Label nodes ``0..n-1`` by connected component (smallest node id), vectorised."""
    labels = np.arange(n)
    if len(left) == 0:
        return labels
    while True:
        low = np.minimum(labels[left], labels[right])
        new = labels.copy()
        np.minimum.at(new, left, low)
        np.minimum.at(new, right, low)
        new = new[new]  # pointer jumping
        if np.array_equal(new, labels):
            return labels
        labels = new


def _similar(a: pd.Series, b: pd.Series) -> np.ndarray:
    both = a.notna().to_numpy() & b.notna().to_numpy()
    out = np.zeros(len(a), dtype=float)
    if both.any():
        out[both] = process.cpdist(
            a[both].tolist(),
            b[both].tolist(),
            scorer=Levenshtein.normalized_similarity,
            workers=1,
        )
    return out


def _title_similar(a: pd.Series, b: pd.Series) -> np.ndarray:
    both = a.notna().to_numpy() & b.notna().to_numpy()
    out = np.zeros(len(a), dtype=float)
    if both.any():
        out[both] = (
            process.cpdist(
                a[both].tolist(), b[both].tolist(), scorer=fuzz.token_sort_ratio, workers=1
            )
            / 100.0
        )
    return out


def _initials_compatible(pairs: pd.DataFrame) -> np.ndarray:
    """Whether the leads' first initials of candidate pairs agree (a missing one agrees)."""
    left, right = pairs["initial_l"], pairs["initial_r"]
    return (left.isna() | right.isna() | (left == right)).fillna(False).to_numpy(dtype=bool)


def match_projects(responses: pd.DataFrame) -> pd.Series:
    """Group responses that describe the same project; returns a group number per row.

    Rows are compared within their ``wave``. Two responses are one project when

    - their leads share a surname with compatible initials, their acronyms carry the same
      digits, and the acronyms are alike (≥ ``ACRONYM_SIMILARITY``) or the titles are
      (≥ ``TITLE_SIMILARITY``); or
    - their acronyms are the same and the leads' surnames are alike (a misspelt lead).

    Groups are the connected components of these pairs.
    """
    lead = name_parts(responses["proj_lead"])
    nodes = pd.DataFrame(
        {
            "wave": responses["wave"].to_numpy(),
            "surname": lead["surname"].to_numpy(),
            "initial": lead["initial"].to_numpy(),
            "acronym": acronym_key(responses["proj_acronym"]).to_numpy(),
            "title": title_key(responses["proj_title"]).to_numpy(),
        },
        index=responses.index,
    ).astype({c: "string" for c in ("surname", "initial", "acronym", "title")})
    nodes["digits"] = nodes["acronym"].str.replace(r"\D", "", regex=True).fillna("")
    node_of_row = nodes.groupby(list(nodes.columns), dropna=False, sort=False).ngroup()
    unique = nodes.assign(node=node_of_row.to_numpy()).drop_duplicates("node")
    unique = unique.set_index("node").sort_index()
    unique["node"] = unique.index.to_numpy()
    edges = []
    # block 1: the same lead surname
    by_lead = unique.dropna(subset=["surname"])
    pairs = by_lead.merge(by_lead, on=["wave", "surname"], suffixes=("_l", "_r"))
    pairs = pairs[pairs["node_l"] < pairs["node_r"]]
    if len(pairs):
        initials_ok = _initials_compatible(pairs)
        digits_ok = (pairs["digits_l"] == pairs["digits_r"]).to_numpy(dtype=bool)
        same = (pairs["acronym_l"] == pairs["acronym_r"]).fillna(False).to_numpy(dtype=bool)
        alike = _similar(pairs["acronym_l"], pairs["acronym_r"]) >= ACRONYM_SIMILARITY
        titled = _title_similar(pairs["title_l"], pairs["title_r"]) >= TITLE_SIMILARITY
        keep = initials_ok & digits_ok & (same | alike | titled)
        edges.append(pairs.loc[keep, ["node_l", "node_r"]].to_numpy())
    # block 2: the same acronym, leads alike (or one lead missing)
    by_acronym = unique.dropna(subset=["acronym"])
    by_acronym = by_acronym[by_acronym["acronym"].str.len() >= 3]
    pairs = by_acronym.merge(by_acronym, on=["wave", "acronym"], suffixes=("_l", "_r"))
    pairs = pairs[pairs["node_l"] < pairs["node_r"]]
    if len(pairs):
        # a response without a lead joins an acronym's project only when no two leads claim it
        leads = by_acronym.groupby(["wave", "acronym"])["surname"].nunique().rename("leads")
        claimed = pairs.join(leads, on=["wave", "acronym"])["leads"].to_numpy() <= 1
        missing = (pairs["surname_l"].isna() | pairs["surname_r"].isna()).to_numpy(dtype=bool)
        missing = missing & claimed
        initials_ok = _initials_compatible(pairs)
        alike = _similar(pairs["surname_l"], pairs["surname_r"]) >= SURNAME_SIMILARITY
        keep = missing | (initials_ok & alike)
        edges.append(pairs.loc[keep, ["node_l", "node_r"]].to_numpy())
    edge = np.concatenate(edges) if edges else np.empty((0, 2), dtype=np.int64)
    labels = _connected_components(
        len(unique), edge[:, 0].astype(np.int64), edge[:, 1].astype(np.int64)
    )
    return pd.Series(labels[node_of_row.to_numpy()], index=responses.index, name="group")


def _preference_order(responses: pd.DataFrame, group: pd.Series) -> np.ndarray:
    """Row order within groups: the lead's response first, then the most recent."""
    is_lead = (responses["resp_role"] == LEAD_ROLE).fillna(False).to_numpy(dtype=bool)
    submitted = responses["submitted"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    row = responses["source_row"].to_numpy(dtype=np.int64)
    return np.lexsort((-row, -submitted, ~is_lead, group.to_numpy()))


def assign_projects(responses: pd.DataFrame, key: bytes) -> pd.DataFrame:
    """Add ``respondent_id``, ``project_id`` and mark duplicate submissions.

    A respondent who submitted the same project (or the screening "No") more than once in a
    wave keeps the most recent submission; the earlier ones become ``duplicate submission``.
    ``project_id`` is an HMAC of the project's lead (surname and initial) and acronym as the
    lead wrote it (else the most common spelling), so it is stable across export formats and
    across waves while they stay the same.

    Parameters
    ----------
    responses
        Cleaned responses (:func:`atmp_analysis.cleaning.clean`), one or more files.
    key
        The pseudonymisation key (:func:`atmp_analysis.pseudonym.load_key`).
    """
    out = responses.copy()
    who = respondent_key(out)
    out["respondent_id"] = pseudonymise(who, key, prefix="R", purpose="respondent")
    is_project = (out["status"] == "project").to_numpy(dtype=bool)
    group = pd.Series(-1, index=out.index, dtype=np.int64)
    if is_project.any():
        group[is_project] = match_projects(out.loc[is_project]).to_numpy()
    # duplicates: the same respondent, wave and project (or "No") more than once
    eligible = is_project | (out["status"] == "no ATMP project").to_numpy(dtype=bool)
    stamp = out["submitted"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    order = np.lexsort((out["source_row"].to_numpy(), stamp))
    order = order[eligible[order]]  # only projects and "No" answers can be duplicates
    dup_key = pd.DataFrame({"w": out["wave"], "who": who, "g": group})
    later = dup_key.iloc[order[::-1]].duplicated(keep="first")
    is_dup = later.reindex(out.index, fill_value=False).to_numpy(dtype=bool)
    is_dup = is_dup & who.notna().to_numpy()
    out.loc[is_dup, "status"] = "duplicate submission"
    group[is_dup] = -1
    # the project id, from the preferred spelling of lead and acronym in each group
    members = out.loc[group >= 0]
    member_group = group[group >= 0]
    lead = name_parts(members["proj_lead"])
    keys = pd.DataFrame(
        {
            "lead": (lead["surname"] + " " + lead["initial"].fillna("")).str.strip(),
            "acronym": acronym_key(members["proj_acronym"]),
        },
        index=members.index,
    )
    preferred = merge_preferred(keys, members, member_group, majority=["lead", "acronym"])
    chosen = preferred.loc[member_group.to_numpy()].fillna("")
    project_key = pd.Series(
        (chosen["lead"] + "|" + chosen["acronym"]).to_numpy(), index=members.index
    )
    out["project_id"] = pd.Series(pd.NA, index=out.index, dtype="string")
    out.loc[members.index, "project_id"] = pseudonymise(
        project_key, key, prefix="P", purpose="project"
    ).to_numpy()
    return out


def merge_preferred(
    values: pd.DataFrame,
    responses: pd.DataFrame,
    group: pd.Series,
    *,
    majority: list[str],
    dont_know: list[str] = (),
) -> pd.DataFrame:
    """Per group, each column's answer: the lead's where given, else the majority.

    Parameters
    ----------
    values
        The answers, aligned with ``responses`` (which supplies ``resp_role``,
        ``submitted`` and ``source_row`` for the order of preference).
    group
        The group of each row.
    majority
        Columns decided by majority when the lead did not answer (ties: the most recent
        answer). Other columns take the lead's answer, else the most recent.
    dont_know
        Columns whose "Don't know" (99) loses to any real answer; it is kept only when no
        respondent knew.

    Returns
    -------
    pandas.DataFrame
        One row per group (index: group), one column per column of ``values``.
    """
    order = _preference_order(responses, group)
    ordered = values.iloc[order].copy()
    g = group.to_numpy()[order]
    known = ordered.copy()
    for column in dont_know:
        known[column] = known[column].mask(known[column] == DONT_KNOW)
    result = known.groupby(g, sort=True).first()
    for column in dont_know:  # only "Don't know" answers: keep it
        any_dk = (ordered[column] == DONT_KNOW).fillna(False).groupby(g, sort=True).any()
        result[column] = result[column].mask(result[column].isna() & any_dk, DONT_KNOW)
    is_lead = (responses["resp_role"] == LEAD_ROLE).fillna(False).to_numpy(dtype=bool)[order]
    lead_answered = known[majority].notna() & is_lead[:, None]
    lead_answered = lead_answered.groupby(g, sort=True).any()
    for column in majority:
        col = known[column]
        codes, uniques = pd.factorize(col)
        frame = pd.DataFrame({"g": g, "code": codes, "pos": np.arange(len(g))})
        frame = frame[frame["code"] >= 0]
        multi = frame.groupby("g")["code"].transform("nunique") > 1
        frame = frame[multi.to_numpy()]
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


def conflicts(values: pd.DataFrame, group: pd.Series, *, dont_know: list[str] = ()) -> pd.Series:
    """Per group, the ``;``-joined names of the columns on which its rows disagree.

    Missing answers and "Don't know" (in ``dont_know`` columns) are not disagreements.
    """
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
    if not parts:
        return pd.Series(dtype="string")
    joined = pd.Series(np.sum(np.vstack(parts).astype(object), axis=0), index=index)
    return joined.str.rstrip(";").astype("string").replace("", pd.NA)


def merge_projects(responses: pd.DataFrame, instrument: Instrument | None = None) -> pd.DataFrame:
    """Merge the responses of each project into one row per project and wave.

    Choice and number answers: the lead's (role = principal investigator) where the lead
    answered, else the majority (ties: the most recent), and "Don't know" only when nobody
    knew. Descriptive free text: the lead's, else the most recent. ``acronym``: as the lead
    wrote it, else the most common spelling. ``conflicts`` names every choice or number
    question on which the merged responses disagreed.

    Returns
    -------
    pandas.DataFrame
        ``project_id``, ``wave``, ``acronym``, ``n_responses``, ``n_respondents``,
        ``lead_responded``, every merged question (codes, bit masks, numbers, text) and
        ``conflicts``. No personal data.
    """
    instrument = instrument or Instrument.default()
    members = responses[responses["project_id"].notna()]
    keys = pd.MultiIndex.from_frame(members[["project_id", "wave"]])
    project_index = keys.unique()
    group = pd.Series(project_index.get_indexer(keys), index=members.index)
    skip = set(RESPONDENT_FIELDS) | {"atmp_project"}
    fields = [f.name for f in instrument.questions if f.name not in skip]
    dont_know = [
        f.name for f in instrument.radio_fields if DONT_KNOW in f.choices and f.name in fields
    ]
    decided = [f for f in fields if f not in NARRATIVE_FIELDS and f != "proj_acronym"]
    values = members[[f for f in fields if f != "proj_acronym"]].copy()
    values["acronym"] = members["proj_acronym"]
    merged = merge_preferred(
        values, members, group, majority=[*decided, "acronym"], dont_know=dont_know
    )
    disagree = conflicts(members[decided], group, dont_know=dont_know)
    counts = members.groupby(group.to_numpy(), sort=True).agg(
        n_responses=("status", "size"),
        n_respondents=("respondent_id", "nunique"),
    )
    lead = (members["resp_role"] == LEAD_ROLE).fillna(False).groupby(group.to_numpy()).any()
    projects = pd.concat([counts, merged], axis=1)
    chosen = project_index.take(projects.index.to_numpy())
    projects.insert(0, "project_id", chosen.get_level_values("project_id").astype("string"))
    projects.insert(1, "wave", chosen.get_level_values("wave").astype("int64"))
    projects["lead_responded"] = lead.reindex(projects.index).to_numpy(dtype=bool)
    projects["conflicts"] = disagree.reindex(projects.index)
    projects = projects.sort_values(
        ["wave", "acronym"],
        key=lambda s: s.astype(str).str.casefold() if s.name == "acronym" else s,
    ).reset_index(drop=True)
    return projects
