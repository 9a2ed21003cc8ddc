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

from collections.abc import Callable
from functools import cache

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from atmp_analysis.choices import factorize_text
from atmp_analysis.config import VOCAB_DIR
from atmp_analysis.instrument import DONT_KNOW, Instrument
from atmp_analysis.pseudonym import pseudonymise

#: Thresholds of the matching (similarities in 0..1).
ACRONYM_SIMILARITY = 0.8
TITLE_SIMILARITY = 0.92
SURNAME_SIMILARITY = 0.8
LEAD_ROLE = 1
#: How sure a link of a project to an earlier wave is, surest first (see :func:`link_waves`).
LINK_CONFIDENCE = ("high", "medium", "low")
#: The columns :func:`assign_projects` adds about a project's link to an earlier wave.
LINK_COLUMNS = ("linked_wave", "link_confidence", "link_basis")
#: What a link rests on, per rule; the rules are tried in this order, the first decides.
LINK_BASIS = (
    ("high", "same lead and acronym"),
    ("high", "same lead, acronym spelt alike"),
    ("medium", "same lead and title, new acronym"),
    ("medium", "same acronym, new lead"),
    ("medium", "acronym and title alike, new lead"),
    ("low", "same title, new lead and acronym"),
)

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


#: ``str.translate`` tables deleting ASCII characters other than ``[a-z0-9]`` / ``[0-9]``.
_NOT_ALNUM = {c: None for c in range(128) if not chr(c).isdigit() and not "a" <= chr(c) <= "z"}
_NOT_DIGIT = {c: None for c in range(128) if not chr(c).isdigit()}
#: Text of words of ``[a-z0-9-]`` separated by single spaces: what names are folded into.
_CLEAN_NAME = r"[a-z0-9-]+(?: [a-z0-9-]+)*"


def _translate_where(text: pd.Series, where: pd.Series, table: dict[int, None]) -> pd.Series:
    """``text.str.translate(table)``, worked out only where ``where`` (elsewhere it is
    known not to change the text)."""
    rows = where.fillna(False).to_numpy(dtype=bool)
    if not rows.any():
        return text
    out = text.copy()
    out[rows] = text[rows].str.translate(table)
    return out


def _replace_where(text: pd.Series, where: pd.Series, pattern: str, repl: str) -> pd.Series:
    """``text.str.replace(pattern, repl, regex=True)``, worked out only where ``where``.

    For patterns that cannot match where ``where`` is false, so the result is the same.
    """
    rows = where.fillna(False).to_numpy(dtype=bool)
    if not rows.any():
        return text
    out = text.copy()
    out[rows] = text[rows].str.replace(pattern, repl, regex=True)
    return out


def _spread(per_unique: pd.DataFrame, codes: np.ndarray, index: pd.Index) -> pd.DataFrame:
    """Give each row the row of ``per_unique`` its code points at (missing for ``-1``)."""
    return pd.DataFrame(
        {column: per_unique[column].array.take(codes, allow_fill=True) for column in per_unique},
        index=index,
    )


def _ascii_fold(text: pd.Series) -> pd.Series:
    """Fold to lower-case ASCII: decompose, drop what is not ASCII, case-fold.

    Text that is ASCII already only needs case folding, so only the rest goes through the
    Unicode decomposition.
    """
    s = text.astype("string")
    other = ~s.str.isascii().fillna(True).to_numpy(dtype=bool)
    folded = s.str.casefold()
    if other.any():
        decomposed = s[other].str.normalize("NFKD").str.encode("ascii", "ignore")
        folded[other] = decomposed.str.decode("ascii").astype("string").str.casefold()
    return folded


def _name_parts_distinct(names: pd.Series) -> pd.DataFrame:
    """:func:`name_parts` of distinct, non-missing names (the work of ``name_parts``)."""
    s = _ascii_fold(names).str.strip()
    # "Berg, Anna" -> "anna berg"
    comma = s.str.contains(",", regex=False)
    s = _replace_where(s, comma, r"^([^,]+?)\s*,\s*(.+)$", r"\2 \1")
    titles = _words("name_titles.csv")
    s = _replace_where(s, s.str.contains(titles, regex=True), titles, " ")
    # other characters and white space between words: one space
    s = _replace_where(s, ~s.str.fullmatch(_CLEAN_NAME), r"[^a-z0-9-]+", " ").str.strip()
    # citation style, surname first: "Berg A" -> "a berg"
    cited = r"^([a-z0-9-]{2,})\s([a-z])$"
    s = _replace_where(s, s.str.fullmatch(cited), cited, r"\2 \1")
    surname = s.str.replace(r"^.* ", "", regex=True)
    first = s.str[0]
    has_initial = s.str.contains(" ", regex=False) & first.ne("-")
    return pd.DataFrame(
        {
            "surname": surname.mask(surname == ""),
            "initial": first.where(has_initial.fillna(False)),
            "full": s.mask(s == ""),
        }
    )


def name_parts(names: pd.Series) -> pd.DataFrame:
    """Split people's names into ``surname`` and first ``initial``, whatever the spelling.

    "Anna Berg", "A. Berg", "Berg, Anna", "Dr. Anna Berg" and "anna berg" all give
    ``surname="berg"``, ``initial="a"``. Titles come from ``vocab/name_titles.csv``.

    Parameters
    ----------
    names
        People's names as typed; missing stays missing.

    Returns
    -------
    pandas.DataFrame
        ``surname``, ``initial`` and ``full`` (the folded name), ``string`` dtype, on the
        index of ``names``. Each distinct name is worked out once.
    """
    codes, uniques = factorize_text(names)
    return _spread(_name_parts_distinct(uniques), codes, names.index)


def _acronym_parts_distinct(acronyms: pd.Series) -> pd.DataFrame:
    """The acronym key and its digits of distinct, non-missing acronyms."""
    s = _ascii_fold(acronyms)
    stopwords = _words("acronym_stopwords.csv")
    s = _replace_where(s, s.str.contains(stopwords, regex=True), stopwords, " ")
    # the folded text is ASCII and lower case: only what is not all [a-z0-9] changes
    s = _translate_where(s, ~s.str.isalnum(), _NOT_ALNUM)
    s = s.mask(s == "")
    letters = s.str.isalpha().fillna(False)
    digits = _translate_where(s, ~letters, _NOT_DIGIT).mask(letters, "")
    return pd.DataFrame({"acronym": s, "digits": digits})


def acronym_key(acronyms: pd.Series) -> pd.Series:
    """Fold an acronym to letters and digits: "STEM-PD", "Stem PD project" → "stempd"."""
    codes, uniques = factorize_text(acronyms)
    key = _spread(_acronym_parts_distinct(uniques), codes, acronyms.index)["acronym"]
    return key.rename(acronyms.name)


def _title_key_distinct(titles: pd.Series) -> pd.DataFrame:
    s = _ascii_fold(titles).str.replace(r"[^a-z0-9]+", " ", regex=True).str.strip()
    return pd.DataFrame({"title": s.mask(s == "")})


def title_key(titles: pd.Series) -> pd.Series:
    """Fold a title to lower-case words for fuzzy comparison."""
    codes, uniques = factorize_text(titles)
    key = _spread(_title_key_distinct(uniques), codes, titles.index)["title"]
    return key.rename(titles.name)


def respondent_key(responses: pd.DataFrame) -> pd.Series:
    """Who answered: the e-mail address in lower case, else the folded full name."""
    email = responses["resp_email"].astype("string")
    if "tool_email" in responses:
        email = email.fillna(responses["tool_email"].astype("string"))
    email = email.str.strip().str.casefold()
    email = email.where(email.str.contains("@", regex=False, na=False))
    who = "email:" + email
    no_email = who.isna().to_numpy(dtype=bool)
    if no_email.any():  # the name only matters where there is no address
        name = responses["resp_name"].astype("string")
        if "tool_name" in responses:
            name = name.fillna(responses["tool_name"].astype("string"))
        full = name_parts(name[no_email])["full"]
        who[no_email] = ("name:" + full).array
    return who


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


def _similarity(a: list[str], b: list[str]) -> np.ndarray:
    """Normalised Levenshtein similarity (0..1) of each pair ``a[i]``, ``b[i]``."""
    out = np.zeros(len(a), dtype=float)
    out[:] = process.cpdist(a, b, scorer=Levenshtein.normalized_similarity, workers=1)
    return out


def _title_similarity(a: list[str], b: list[str]) -> np.ndarray:
    """Token-sort similarity (0..1) of each pair of titles ``a[i]``, ``b[i]``."""
    out = np.zeros(len(a), dtype=float)
    out[:] = process.cpdist(a, b, scorer=fuzz.token_sort_ratio, workers=1) / 100.0
    return out


def _match_keys(responses: pd.DataFrame) -> pd.DataFrame:
    """The keys the matching compares, one row per response (on its index).

    ``wave``; the lead's ``surname`` and ``initial``; the ``acronym`` key and its
    ``digits`` (``""`` when none); the ``title`` key; and ``lead``, the surname and
    initial that the project id is made of. Each distinct lead, acronym and title is
    worked out once.
    """
    codes, uniques = factorize_text(responses["proj_lead"])
    parts = _name_parts_distinct(uniques)
    parts["lead"] = (parts["surname"] + " " + parts["initial"].fillna("")).str.strip()
    lead = _spread(parts, codes, responses.index)
    codes, uniques = factorize_text(responses["proj_acronym"])
    acronym = _spread(_acronym_parts_distinct(uniques), codes, responses.index)
    return pd.DataFrame(
        {
            "wave": responses["wave"].to_numpy(),
            "surname": lead["surname"].array,
            "initial": lead["initial"].array,
            "acronym": acronym["acronym"].array,
            "title": title_key(responses["proj_title"]).array,
            "digits": acronym["digits"].fillna("").array,
            "lead": lead["lead"].array,
        },
        index=responses.index,
    )


def match_projects(responses: pd.DataFrame) -> pd.Series:
    """Group responses that describe the same project; returns a group number per row.

    Rows are compared within their ``wave``. Two responses are one project when

    - their leads share a surname with compatible initials, their acronyms carry the same
      digits, and the acronyms are alike (≥ ``ACRONYM_SIMILARITY``) or the titles are
      (≥ ``TITLE_SIMILARITY``); or
    - their acronyms are the same and the leads' surnames are alike (a misspelt lead).

    Groups are the connected components of these pairs.
    """
    groups = _match_groups(_match_keys(responses))
    return pd.Series(groups, index=responses.index, name="group")


def _number_rows(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Number the distinct rows of a matrix of small integers (``>= -1``).

    Returns
    -------
    codes, first : numpy.ndarray
        The number of each row (in order of first appearance), and the first row of each
        number.
    """
    codes = np.zeros(len(matrix), dtype=np.int64)
    for column in range(matrix.shape[1]):
        values = matrix[:, column].astype(np.int64) + 1
        codes, _ = pd.factorize(codes * (values.max(initial=0) + 1) + values)
    first = np.unique(codes, return_index=True)[1]
    return codes, first


def _pairs_within(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of positions ``left < right`` whose ``block`` is the same (``>= 0``)."""
    nodes = np.flatnonzero(block >= 0)
    nodes = nodes[np.argsort(block[nodes], kind="stable")]  # ascending within a block
    if not len(nodes):
        return nodes, nodes
    sorted_block = block[nodes]
    new = np.r_[True, sorted_block[1:] != sorted_block[:-1]]
    start = np.flatnonzero(new)
    size = np.diff(np.r_[start, len(nodes)])
    at = np.arange(len(nodes))
    # each node pairs with the nodes after it in its block
    partners = np.repeat(start + size, size) - at - 1
    left = np.repeat(at, partners)
    offset = np.arange(len(left)) - np.repeat(np.cumsum(partners) - partners, partners)
    right = left + 1 + offset
    return nodes[left], nodes[right]


def _initials_agree(initial: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Whether the leads' first initials of each pair agree (a missing initial agrees)."""
    a, b = initial[left], initial[right]
    return (a < 0) | (b < 0) | (a == b)


def _pair_scores(
    left: np.ndarray,
    right: np.ndarray,
    text: np.ndarray,
    similarity: Callable[[list[str], list[str]], np.ndarray],
    cutoff: float,
) -> np.ndarray:
    """Whether the texts with codes ``left`` and ``right`` are at least ``cutoff`` alike.

    A missing text (code ``-1``) is like nothing. Each distinct pair of texts is scored
    once, by ``similarity`` (:func:`_similarity` or :func:`_title_similarity`).
    """
    out = np.zeros(len(left), dtype=bool)
    both = np.flatnonzero((left >= 0) & (right >= 0))
    if len(both):
        pair, first = _number_rows(np.column_stack([left[both], right[both]]))
        a, b = left[both][first], right[both][first]
        out[both] = (similarity(text[a].tolist(), text[b].tolist()) >= cutoff)[pair]
    return out


def _match_groups(nodes: pd.DataFrame) -> np.ndarray:
    """:func:`match_projects` on the keys of :func:`_match_keys`: a group number per row.

    Every key is factorised to integers; responses with the same keys are one node, and
    candidate pairs of nodes are formed within blocks of the same wave and lead surname,
    or wave and acronym. Each distinct pair of texts is scored once.
    """
    columns = ["wave", "surname", "initial", "acronym", "title", "digits"]
    factorised = [pd.factorize(nodes[c]) for c in columns]
    node_of_row, first = _number_rows(np.column_stack([codes for codes, _ in factorised]))
    wave, surname, initial, acronym, title, digits = (codes[first] for codes, _ in factorised)
    surnames, acronyms, titles = (
        np.asarray(factorised[columns.index(c)][1], dtype=object)
        for c in ("surname", "acronym", "title")
    )
    edges = []
    # block 1: the same lead surname
    n_surnames = len(surnames)
    left, right = _pairs_within(np.where(surname >= 0, wave * n_surnames + surname, -1))
    initials_ok = _initials_agree(initial, left, right)
    same = (acronym[left] == acronym[right]) & (acronym[left] >= 0)
    keep = initials_ok & (digits[left] == digits[right])
    alike = same.copy()
    ask = np.flatnonzero(keep & ~alike)  # only pairs whose score can still matter
    alike[ask] = _pair_scores(
        acronym[left[ask]],
        acronym[right[ask]],
        acronyms,
        _similarity,
        ACRONYM_SIMILARITY,
    )
    ask = np.flatnonzero(keep & ~alike)
    alike[ask] = _pair_scores(
        title[left[ask]], title[right[ask]], titles, _title_similarity, TITLE_SIMILARITY
    )
    keep &= alike
    edges.append(np.column_stack([left[keep], right[keep]]))
    # block 2: the same acronym, leads alike (or one lead missing)
    lengths = pd.Series(acronyms, dtype="string").str.len().to_numpy(dtype=np.int64)
    named = np.append(lengths >= 3, False)[acronym]  # -1 (no acronym): the last, False
    block = np.where(named, wave * len(acronyms) + acronym, -1)
    left, right = _pairs_within(block)
    # a response without a lead joins an acronym's project only when no two leads claim it
    claims = np.column_stack([block, surname])[named & (surname >= 0)]
    claims = claims[_number_rows(claims)[1]]  # each (block, lead surname) once
    leads = np.bincount(claims[:, 0], minlength=block.max(initial=-1) + 1)
    missing = ((surname[left] < 0) | (surname[right] < 0)) & (leads[block[left]] <= 1)
    initials_ok = _initials_agree(initial, left, right)
    keep = missing.copy()
    ask = np.flatnonzero(initials_ok & ~missing)
    keep[ask] = _pair_scores(
        surname[left[ask]],
        surname[right[ask]],
        surnames,
        _similarity,
        SURNAME_SIMILARITY,
    )
    edges.append(np.column_stack([left[keep], right[keep]]))
    edge = np.concatenate(edges).astype(np.int64)
    labels = _connected_components(len(first), edge[:, 0], edge[:, 1])
    return labels[node_of_row]


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
    Responses are grouped into projects within each wave (:func:`match_projects`), and each
    wave's projects are linked to those of earlier waves (:func:`link_waves`), so a project
    whose title, acronym or lead changed stays one project. ``project_id`` is an HMAC of the
    lead (surname and initial) and acronym, as the lead wrote them (else the most common
    spelling), in the wave the project was first seen: stable across export formats, and
    across waves. ``linked_wave``, ``link_confidence`` and ``link_basis`` tell which earlier
    wave a response's project was linked to, how surely and on what (empty in the project's
    first wave).

    Parameters
    ----------
    responses
        Cleaned responses (:func:`atmp_analysis.cleaning.clean`), one or more files.
    key
        The pseudonymisation key (:func:`atmp_analysis.pseudonym.load_key`).
    """
    out = responses.copy(deep=False)
    who = respondent_key(out)
    out["respondent_id"] = pseudonymise(who, key, prefix="R", purpose="respondent")
    status = out["status"]
    is_project = (status == "project").to_numpy(dtype=bool)
    group = np.full(len(out), -1, dtype=np.int64)
    keys = _match_keys(out.loc[is_project, ["wave", "proj_lead", "proj_acronym", "proj_title"]])
    if is_project.any():
        group[is_project] = _match_groups(keys)
    # duplicates: the same respondent, wave and project (or "No") more than once
    eligible = is_project | (status == "no ATMP project").to_numpy(dtype=bool)
    stamp = out["submitted"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    order = np.lexsort((out["source_row"].to_numpy(), stamp))
    order = order[eligible[order]]  # only projects and "No" answers can be duplicates
    latest_first = order[::-1]
    dup_key = pd.DataFrame(
        {
            "w": out["wave"].to_numpy()[latest_first],
            "who": pd.factorize(who)[0][latest_first],
            "g": group[latest_first],
        }
    )
    is_dup = np.zeros(len(out), dtype=bool)
    is_dup[latest_first[dup_key.duplicated(keep="first").to_numpy(dtype=bool)]] = True
    is_dup &= who.notna().to_numpy(dtype=bool)
    if is_dup.any():
        out["status"] = status.mask(is_dup, "duplicate submission")
    group[is_dup] = -1
    # the project id, from the preferred spelling of lead and acronym in each group
    is_member = group >= 0
    member_keys = keys.loc[is_member[is_project]]  # members are projects
    members = out.loc[is_member, ["resp_role", "submitted", "source_row"]]
    member_group = pd.Series(group[is_member], index=members.index)
    spelling = pd.DataFrame(
        {"lead": member_keys["lead"].array, "acronym": member_keys["acronym"].array},
        index=members.index,
    )
    preferred = merge_preferred(spelling, members, member_group, majority=["lead", "acronym"])
    chosen = preferred.fillna("")
    project_key = pd.Series((chosen["lead"] + "|" + chosen["acronym"]).to_numpy())
    # each wave's projects linked to earlier waves': the key of a project's first group
    group_wave = pd.Series(member_keys["wave"].to_numpy()).groupby(member_group.to_numpy())
    group_wave = group_wave.first().reindex(preferred.index)
    nodes = pd.DataFrame({"wave": group_wave.to_numpy()})
    if len(group_wave) and (group_wave != group_wave.iloc[0]).any():
        nodes = _group_nodes(member_keys, members, member_group, preferred.index)
        links = link_waves(nodes)
    else:  # one wave: nothing to link
        links = pd.DataFrame(
            {
                "root": np.arange(len(nodes)),
                "linked_wave": pd.array([pd.NA] * len(nodes), dtype="Int64"),
                "link_confidence": pd.array([pd.NA] * len(nodes), dtype="string"),
                "link_basis": pd.array([pd.NA] * len(nodes), dtype="string"),
            }
        )
    root = links["root"].to_numpy()
    # a project is named by its first group; two projects (never linked) with one key:
    # the later one's key names its first wave too
    roots = pd.DataFrame({"key": project_key.to_numpy(), "wave": nodes["wave"].to_numpy()})
    roots = roots[root == np.arange(len(root))].sort_values("wave", kind="stable")
    again = roots["key"].duplicated().to_numpy()
    roots.loc[again, "key"] = roots["key"][again] + "|" + roots["wave"][again].astype(str)
    root_key = roots["key"].reindex(root).to_numpy()
    group_id = pseudonymise(pd.Series(root_key), key, prefix="P", purpose="project")
    of_member = np.searchsorted(preferred.index.to_numpy(), member_group.to_numpy())
    project_id = pd.Series(pd.NA, index=out.index, dtype="string")
    project_id[is_member] = group_id.array.take(of_member)
    out["project_id"] = project_id
    linked_wave = pd.Series(pd.NA, index=out.index, dtype="Int64")
    linked_wave[is_member] = links["linked_wave"].array.take(of_member)
    out["linked_wave"] = linked_wave
    for column in ("link_confidence", "link_basis"):
        values = pd.Series(pd.NA, index=out.index, dtype="string")
        values[is_member] = links[column].array.take(of_member)
        out[column] = values
    return out


def _group_nodes(
    keys: pd.DataFrame, members: pd.DataFrame, group: pd.Series, labels: pd.Index
) -> pd.DataFrame:
    """One row per project group (in the order of ``labels``) with what :func:`link_waves`
    compares: ``wave``, ``surname``, ``initial``, ``acronym``, ``digits`` (the preferred
    spelling) and ``titles``, a tuple of the group's distinct title keys."""
    parts = pd.DataFrame(
        {c: keys[c].array for c in ("surname", "initial", "acronym", "digits")},
        index=members.index,
    )
    preferred = merge_preferred(parts, members, group, majority=list(parts.columns))
    preferred = preferred.reindex(labels)
    wave = pd.Series(keys["wave"].to_numpy(), index=members.index).groupby(group).first()
    titles = pd.DataFrame({"g": group.to_numpy(), "t": keys["title"].to_numpy()}).dropna()
    titles = titles.drop_duplicates().groupby("g")["t"].agg(tuple)
    return pd.DataFrame(
        {
            "wave": wave.reindex(labels).to_numpy(),
            "surname": preferred["surname"].array,
            "initial": preferred["initial"].array,
            "acronym": preferred["acronym"].array,
            "digits": preferred["digits"].fillna("").array,
            "titles": titles.reindex(labels).to_numpy(),
        }
    )


def _link_candidates(nodes: pd.DataFrame) -> pd.DataFrame:
    """Pairs of groups of different waves that may be one project, with the rule that fits.

    Pairs come from three blocks (the same lead surname, the same acronym, a title alike)
    and are scored as in :func:`match_projects`: leads alike by surname (with compatible
    initials), acronyms alike, titles alike. Acronyms with different digits never link.
    Returns ``later``, ``earlier`` (node positions), ``rule`` (index into
    :data:`LINK_BASIS`) and ``score`` (acronym plus title similarity, for ties).
    """
    surname_codes, surnames = pd.factorize(nodes["surname"])
    acronym_codes, acronyms = pd.factorize(nodes["acronym"])
    wave = nodes["wave"].to_numpy(dtype=np.int64)
    pairs = [_pairs_within(surname_codes), _pairs_within(acronym_codes)]
    # a group with the same lead and acronym in another wave is settled (the surest rule):
    # only the others' titles are compared, which keeps that step small in practice
    left, right = pairs[1]
    same = (surname_codes[left] == surname_codes[right]) & (surname_codes[left] >= 0)
    same &= wave[left] != wave[right]
    settled = np.zeros(len(nodes), dtype=bool)
    settled[left[same]] = settled[right[same]] = True
    # titles: each distinct title of an unsettled group against those of other waves
    flat = nodes["titles"][~settled].explode().dropna()
    title_of = flat.index.to_numpy()
    title_wave = wave[title_of]
    texts = np.asarray(flat.astype(str).tolist(), dtype=object)
    for later in np.unique(title_wave)[1:]:  # a loop over waves; each compares in C
        mine, theirs = np.flatnonzero(title_wave == later), np.flatnonzero(title_wave < later)
        scores = process.cdist(
            texts[mine].tolist(),
            texts[theirs].tolist(),
            scorer=fuzz.token_sort_ratio,
            score_cutoff=TITLE_SIMILARITY * 100,
            dtype=np.uint8,
            workers=1,
        )
        a, b = np.nonzero(scores)
        pairs.append((title_of[mine[a]], title_of[theirs[b]]))
    left = np.concatenate([p[0] for p in pairs]).astype(np.int64)
    right = np.concatenate([p[1] for p in pairs]).astype(np.int64)
    cross = wave[left] != wave[right]
    left, right = left[cross], right[cross]
    if len(left):
        left, right = np.unique(np.column_stack([left, right]), axis=0).T
    later = np.where(wave[left] > wave[right], left, right)
    earlier = np.where(wave[left] > wave[right], right, left)
    initial_codes = pd.factorize(nodes["initial"])[0]
    digits = nodes["digits"].to_numpy(dtype=object)
    has_acronym = acronym_codes >= 0
    same_digits = (digits[later] == digits[earlier]) | ~(has_acronym[later] & has_acronym[earlier])
    initials_ok = _initials_agree(initial_codes, later, earlier)
    same_lead = (surname_codes[later] == surname_codes[earlier]) & (surname_codes[later] >= 0)
    alike = _pair_scores(
        surname_codes[later],
        surname_codes[earlier],
        np.asarray(surnames, dtype=object),
        _similarity,
        SURNAME_SIMILARITY,
    )
    lead = (same_lead | alike) & initials_ok
    same_acronym = (acronym_codes[later] == acronym_codes[earlier]) & has_acronym[later]
    acronym_texts = np.asarray(acronyms, dtype=object)
    acronym_score = np.zeros(len(later))
    both = np.flatnonzero(has_acronym[later] & has_acronym[earlier])
    if len(both):
        acronym_score[both] = _similarity(
            acronym_texts[acronym_codes[later[both]]].tolist(),
            acronym_texts[acronym_codes[earlier[both]]].tolist(),
        )
    acronym_alike = acronym_score >= ACRONYM_SIMILARITY
    title_score = np.zeros(len(later))
    ask = np.flatnonzero(~(lead & (same_acronym | acronym_alike)))  # where titles decide
    title_score[ask] = _best_title_similarity(nodes["titles"], later[ask], earlier[ask])
    title_alike = title_score >= TITLE_SIMILARITY
    named = pd.Series(acronyms, dtype="string").str.len().to_numpy(dtype=np.int64) >= 3
    long_acronym = np.append(named, False)[acronym_codes[later]]
    conditions = [
        lead & same_acronym,
        lead & acronym_alike,
        lead & title_alike,
        same_acronym & long_acronym,
        acronym_alike & title_alike,
        title_alike,
    ]
    rule = np.select(conditions, np.arange(len(conditions)), default=-1)
    ok = (rule >= 0) & same_digits
    return pd.DataFrame(
        {
            "later": later[ok],
            "earlier": earlier[ok],
            "rule": rule[ok],
            "score": (acronym_score + title_score)[ok],
        }
    )


def _best_title_similarity(titles: pd.Series, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Per pair of groups, the highest similarity of any title of one to any of the other."""
    out = np.zeros(len(left))
    if not len(left):
        return out
    pair = pd.DataFrame({"pair": np.arange(len(left)), "a": titles.to_numpy()[left]})
    pair["b"] = titles.to_numpy()[right]
    pair = pair.explode("a").explode("b").dropna(subset=["a", "b"])
    if len(pair):
        score = _title_similarity(pair["a"].astype(str).tolist(), pair["b"].astype(str).tolist())
        best = pd.Series(score).groupby(pair["pair"].to_numpy()).max()
        out[best.index.to_numpy()] = best.to_numpy()
    return out


def link_waves(nodes: pd.DataFrame) -> pd.DataFrame:
    """Link each wave's project groups to the groups of earlier waves: one project.

    A group of a later wave is the same project as a group of an earlier one when one of
    the rules of :data:`LINK_BASIS` holds (tried in order; the first gives the link's
    confidence): the same lead with the same or a similar acronym (high); the same lead
    and a title alike under a new acronym, the same acronym under a new lead, or acronym
    and title alike under a new lead (medium); only the title alike (low). Acronyms with
    different digits ("NEURO-1", "NEURO-2") never link.

    Waves are linked oldest first, each to every earlier one. A project takes at most one
    group per wave: candidate links are taken surest first, then to the most recent wave,
    then by similarity, and a link whose project already has a group in that wave is
    dropped. A project absent from a wave and back later is linked across the gap.

    Parameters
    ----------
    nodes
        One row per group: ``wave``, ``surname``, ``initial``, ``acronym``, ``digits``
        and ``titles`` (a tuple of title keys, or missing).

    Returns
    -------
    pandas.DataFrame
        On the index of ``nodes``: ``root`` (the position of the project's first group),
        ``linked_wave`` (``Int64``: the wave of the group it was linked to),
        ``link_confidence`` and ``link_basis`` (missing for a project's first group).
    """
    n = len(nodes)
    root = np.arange(n)
    linked = np.full(n, -1, dtype=np.int64)
    rule_of = np.full(n, -1, dtype=np.int64)
    candidates = _link_candidates(nodes.reset_index(drop=True))
    wave = nodes["wave"].to_numpy(dtype=np.int64)
    # surest rule first, then the most recent earlier wave, then the most alike
    candidates = candidates.assign(earlier_wave=wave[candidates["earlier"].to_numpy()])
    candidates = candidates.sort_values(
        ["rule", "earlier_wave", "score"], ascending=[True, False, False], kind="stable"
    )
    for current in np.unique(wave):  # oldest first: earlier groups already know their root
        todo = candidates[wave[candidates["later"].to_numpy()] == current]
        while len(todo):  # rounds: each takes every best link that nothing contests
            project = root[todo["earlier"].to_numpy()]
            todo = todo.assign(project=project)
            best = todo.drop_duplicates("later").drop_duplicates("project")
            later = best["later"].to_numpy()
            root[later] = best["project"].to_numpy()
            linked[later] = best["earlier"].to_numpy()
            rule_of[later] = best["rule"].to_numpy()
            taken = np.isin(todo["later"].to_numpy(), later) | np.isin(
                todo["project"].to_numpy(), best["project"].to_numpy()
            )
            todo = todo[~taken]
    has = linked >= 0
    confidence = pd.array([c for c, _ in LINK_BASIS], dtype="string")
    basis = pd.array([b for _, b in LINK_BASIS], dtype="string")
    rule = np.where(has, rule_of, -1)
    linked_wave = pd.array(wave[linked], dtype="Int64")
    linked_wave[~has] = pd.NA
    return pd.DataFrame(
        {
            "root": root,
            "linked_wave": linked_wave,
            "link_confidence": confidence.take(rule, allow_fill=True),
            "link_basis": basis.take(rule, allow_fill=True),
        },
        index=nodes.index,
    )


def _runs(sorted_groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Runs of equal group numbers in a sorted array of them.

    Returns
    -------
    run, label : numpy.ndarray
        The run (``0, 1, ...``) of each row, and the group number of each run.
    """
    if not len(sorted_groups):
        return np.empty(0, dtype=np.int64), sorted_groups[:0]
    new = np.r_[True, sorted_groups[1:] != sorted_groups[:-1]]
    return np.cumsum(new) - 1, sorted_groups[new]


def _first_valid(valid: np.ndarray, run: np.ndarray, n_runs: int) -> np.ndarray:
    """Per run, the position of its first valid row, else ``-1``."""
    rows = np.flatnonzero(valid)
    first = np.full(n_runs, -1, dtype=np.int64)
    if len(rows):
        of_row = run[rows]
        lead = np.r_[True, of_row[1:] != of_row[:-1]]
        first[of_row[lead]] = rows[lead]
    return first


def _any(flags: np.ndarray, run: np.ndarray, n_runs: int) -> np.ndarray:
    """Per run, whether any of its rows is flagged."""
    out = np.zeros(n_runs, dtype=bool)
    out[run[flags]] = True
    return out


def _disagree(codes: np.ndarray, run: np.ndarray, n_runs: int) -> np.ndarray:
    """Per run, whether its rows hold more than one distinct code (``-1``, missing, aside)."""
    valid = codes >= 0
    first = _first_valid(valid, run, n_runs)
    first_code = np.where(first >= 0, codes[first], -1) if len(codes) else first
    return _any(valid & (codes != first_code[run]), run, n_runs)


def _majority(codes: np.ndarray, group_of_row: np.ndarray, rows: np.ndarray) -> tuple:
    """Per group, the code most rows among ``rows`` hold; ties go to the earliest row.

    Parameters
    ----------
    codes
        A code per row (``-1`` for missing), rows in order of preference.
    group_of_row
        The group (``0..n-1``) of each row.
    rows
        The rows that vote (positions, ascending), all with a code.

    Returns
    -------
    groups, winners : numpy.ndarray
        The groups with a vote, and the winning code of each.
    """
    order = np.lexsort((rows, codes[rows], group_of_row[rows]))
    voted = rows[order]
    group, code = group_of_row[voted], codes[voted]
    new = np.r_[True, (group[1:] != group[:-1]) | (code[1:] != code[:-1])]
    runs = np.flatnonzero(new)
    count = np.diff(np.r_[runs, len(voted)])
    first = voted[runs]  # the earliest row of each (group, code): rows ascend within a run
    group, code = group[runs], code[runs]
    best = np.lexsort((first, -count, group))
    best = best[np.r_[True, group[best][1:] != group[best][:-1]]]
    return group[best], code[best]


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
        The group (an integer) of each row.
    majority
        Columns decided by majority when the lead did not answer (ties: the most recent
        answer). Other columns take the lead's answer, else the most recent.
    dont_know
        Columns whose "Don't know" (99) loses to any real answer; it is kept only when no
        respondent knew.

    Returns
    -------
    pandas.DataFrame
        One row per group (index: group, ascending), one column per column of ``values``,
        of the same dtype.

    Notes
    -----
    The rows are sorted once, by group and then in order of preference; every column is
    then factorised and reduced over the runs of its groups with numpy.
    """
    order = _preference_order(responses, group)
    g = group.to_numpy()[order]
    group_of_row, labels = _runs(g)
    n_groups = len(labels)
    is_lead = (responses["resp_role"] == LEAD_ROLE).fillna(False).to_numpy(dtype=bool)[order]
    merged = {}
    for position, column in enumerate(values.columns):
        ordered = values.iloc[order, position]
        known = ordered.mask(ordered == DONT_KNOW) if column in dont_know else ordered
        if column in majority:
            codes, uniques = pd.factorize(known)
            valid = codes >= 0
        else:
            valid = known.notna().to_numpy(dtype=bool)
        if not len(g):
            merged[position] = known.array[:0]
            continue
        # the first answer in order of preference: the lead's, else the most recent
        first = _first_valid(valid, group_of_row, n_groups)
        answer = known.array.take(first, allow_fill=True)
        if column in dont_know:  # only "Don't know" answers: keep it
            said = (ordered == DONT_KNOW).fillna(False).to_numpy(dtype=bool)
            only_dk = pd.isna(answer) & _any(said, group_of_row, n_groups)
            answer = pd.Series(answer).mask(only_dk, DONT_KNOW).array
        if column in majority:
            lead_answered = _any(valid & is_lead, group_of_row, n_groups)
            vote = _disagree(codes, group_of_row, n_groups) & ~lead_answered
            rows = np.flatnonzero(valid & vote[group_of_row])
            if len(rows):
                groups, winners = _majority(codes, group_of_row, rows)
                answer[groups] = uniques.take(winners)
        merged[position] = answer
    result = pd.DataFrame(merged, index=pd.Index(labels))
    result.columns = values.columns
    return result


def conflicts(values: pd.DataFrame, group: pd.Series, *, dont_know: list[str] = ()) -> pd.Series:
    """Per group, the ``;``-joined names of the columns on which its rows disagree.

    Missing answers and "Don't know" (in ``dont_know`` columns) are not disagreements.

    Returns
    -------
    pandas.Series
        ``string``, one entry per group (index: group, ascending), missing where the rows
        agree.
    """
    if not len(values.columns):
        return pd.Series(dtype="string")
    order = np.argsort(group.to_numpy(), kind="stable")
    g = group.to_numpy()[order]
    run, labels = _runs(g)
    differ = np.zeros((len(labels), len(values.columns)), dtype=bool)
    for position, column in enumerate(values.columns):
        col = values.iloc[:, position]
        if column in dont_know:
            col = col.mask(col == DONT_KNOW)
        if len(g):
            differ[:, position] = _disagree(pd.factorize(col)[0][order], run, len(labels))
    # one text per distinct combination of disagreeing columns, not per group
    combination, first = _factorize_rows(differ)
    names = np.array([column + ";" for column in values.columns], dtype=object)
    texts = np.array(["".join(names[differ[i]]).rstrip(";") for i in first], dtype=object)
    joined = pd.Series(texts[combination], index=pd.Index(labels))
    return joined.astype("string").replace("", pd.NA)


def _factorize_rows(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Number the distinct rows of a boolean matrix.

    Returns
    -------
    codes, first : numpy.ndarray
        The number of each row's combination, and the first row of each combination.
    """
    words = np.packbits(flags, axis=1)
    codes = np.zeros(len(flags), dtype=np.int64)
    for column in range(words.shape[1]):  # one byte (8 flags) at a time
        codes, _ = pd.factorize(codes * 256 + words[:, column])
    first = np.full(codes.max(initial=-1) + 1, len(codes))
    np.minimum.at(first, codes, np.arange(len(codes)))
    return codes, first


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
        ``lead_responded``, ``linked_wave``, ``link_confidence``, ``link_basis`` (see
        :func:`link_waves`), every merged question (codes, bit masks, numbers, text) and
        ``conflicts``. No personal data.
    """
    instrument = instrument or Instrument.default()
    skip = set(RESPONDENT_FIELDS) | {"atmp_project"}
    fields = [f.name for f in instrument.questions if f.name not in skip]
    used = ["project_id", "wave", "status", "respondent_id", "resp_role", "submitted"]
    links = [c for c in LINK_COLUMNS if c in responses]
    used = list(dict.fromkeys([*used, "source_row", *links, *fields]))
    members = responses.loc[responses["project_id"].notna().to_numpy(dtype=bool), used]
    # projects in order of appearance; the first row of each names it
    group = members.groupby(["project_id", "wave"], sort=False).ngroup()
    first_row = np.unique(group.to_numpy(), return_index=True)[1]
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
    chosen = first_row[projects.index.to_numpy()]
    projects.insert(0, "project_id", members["project_id"].astype("string").array.take(chosen))
    projects.insert(1, "wave", members["wave"].to_numpy()[chosen].astype("int64"))
    projects["lead_responded"] = lead.reindex(projects.index).to_numpy(dtype=bool)
    for column in links:  # one value per project and wave (assign_projects)
        projects[column] = members[column].array.take(chosen)
    projects["conflicts"] = disagree.reindex(projects.index)
    projects = projects.sort_values(
        ["wave", "acronym"],
        key=lambda s: s.astype(str).str.casefold() if s.name == "acronym" else s,
    ).reset_index(drop=True)
    return projects
