"""Tests of atmp_analysis.terms: vocabulary terms recognised in free text.

The first part uses small inline vocabularies; the last part checks the vocabularies the
package ships (``data/vocab/*.csv``) against the values their users accept.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from atmp_analysis.config import VOCAB_DIR
from atmp_analysis.instrument import Instrument
from atmp_analysis.terms import Vocabulary, first_found, join_flags, term_pattern

COLUMNS = ["term", "language", "value", "case_sensitive"]


def _match(term: str, text: str, case_sensitive: bool = False) -> str | None:
    """The words of ``text`` that ``term`` matches first, or None."""
    found = re.search(term_pattern(term, case_sensitive), text)
    return found.group(0) if found else None


def _table(rows: list[list[str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS)


def _vocabulary(rows: list[list[str]], allowed: list[str] | None = None) -> Vocabulary:
    return Vocabulary.from_table(_table(rows), "terms.csv", "value", allowed)


def _write(tmp_path: Path, text: str, name: str = "terms.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _values(series: pd.Series) -> list[str | None]:
    """The values of a Series, missing ones as None."""
    return [None if pd.isna(value) else value for value in series]


def _row_hits(found: pd.DataFrame) -> list[dict[str, str]]:
    """Per row, the values found and the words quoted for them."""
    return [
        {value: words for value, words in row.items() if not pd.isna(words)}
        for _, row in found.iterrows()
    ]


# -- term_pattern ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("term", "case_sensitive", "text", "expected"),
    [
        # acronyms that are ordinary words in lower case match only as written
        ("LV", True, "an LV vector", "LV"),
        ("LV", True, "lv", None),
        ("LV", True, "Lv", None),
        ("NK", True, "NK-cells", "NK"),
        ("NK", True, "nk", None),
        ("ESC", True, "ESC", "ESC"),
        ("ESC", True, "press esc to quit", None),
        ("ESC", True, "Esc", None),
        ("ESC*", True, "hESC and ESCs", "ESCs"),
        # without case_sensitive, case is ignored
        ("lentivir*", False, "LENTIVIRUS", "LENTIVIRUS"),
        ("Sleeping Beauty", False, "sleeping beauty", "sleeping beauty"),
    ],
)
def test_term_pattern_case(term, case_sensitive, text, expected):
    assert _match(term, text, case_sensitive) == expected


@pytest.mark.parametrize(
    ("term", "text", "expected"),
    [
        ("lentivir*", "a lentiviral vector", "lentiviral"),
        ("lentivir*", "Lentivirus", "Lentivirus"),
        ("lentivir*", "lentivir", "lentivir"),
        ("kondrocyt*", "odlade kondrocyter", "kondrocyter"),
        ("transposon*", "transposons", "transposons"),
        ("lentivir*", "prelentiviral", None),  # a stem still starts at a word boundary
        ("lentiviral", "lentivirals", None),  # no stem: the whole word only
    ],
)
def test_term_pattern_stem(term, text, expected):
    assert _match(term, text) == expected


@pytest.mark.parametrize(
    ("term", "text", "expected"),
    [
        ("CAR-T", "autologous CAR T cells", "CAR T"),
        ("CAR-T", "CAR-T", "CAR-T"),
        ("CAR-T", "CART", "CART"),
        ("CAR-T", "CAR  -  T", "CAR  -  T"),
        ("CAR-T", "CAR\u2011T", "CAR\u2011T"),  # non-breaking hyphen
        ("CAR-T", "CAR\u2013T", "CAR\u2013T"),  # en dash
        ("CAR-T", "CAR_T", "CAR_T"),
        ("CAR T", "CAR-T", "CAR-T"),  # a space in the term matches a hyphen too
        ("CAR T", "CART", "CART"),
        ("base edit*", "base-editing", "base-editing"),
        ("ö-cell*", "öceller", "öceller"),
        ("CAR-T", "CAR X", None),
    ],
)
def test_term_pattern_flexible_space_and_hyphen(term, text, expected):
    assert _match(term, text) == expected


@pytest.mark.parametrize(
    ("term", "case_sensitive", "text", "expected"),
    [
        ("implant", False, "cells implanted in the omentum", None),
        ("implant", False, "a subcutaneous implant.", "implant"),
        ("implant", False, "implant", "implant"),
        ("AAV", True, "xAAV", None),
        ("AAV", True, "AAVx", None),
        ("AAV", True, "(AAV)", "AAV"),
        ("AAV*", True, "scAAV", None),  # the stem does not open the start of the word
        ("AAV*", True, "AAV2/8", "AAV2"),
        ("CD34+", False, "CD34+ cells", "CD34+"),
        ("a.b", False, "axb", None),  # regular-expression characters are literal
        ("(x)", False, "see (x)", "(x)"),
    ],
)
def test_term_pattern_word_boundaries(term, case_sensitive, text, expected):
    assert _match(term, text, case_sensitive) == expected


@pytest.mark.parametrize(
    ("term", "text", "expected"),
    [
        ("hjärtsvikt", "kronisk HJÄRTSVIKT", "HJÄRTSVIKT"),
        ("Läkemedelsverket", "kontakt med läkemedelsverket", "läkemedelsverket"),
        ("tumör*", "solida tumörer", "tumörer"),
        ("ö-cell*", "Ö-CELLER från donator", "Ö-CELLER"),
        ("sår", "kroniska sår", "sår"),
        ("sår", "sårläkning", None),  # å is a letter: no boundary inside the word
        ("lever", "en leverantör av vektor", None),  # ö is a letter too
        ("ö-cell*", "stö-celler", None),
    ],
)
def test_term_pattern_swedish_letters(term, text, expected):
    assert _match(term, text) == expected


def test_term_pattern_doc_examples():
    assert re.search(term_pattern("CAR-T"), "autologous CAR T cells")
    assert not re.search(term_pattern("implant"), "implanted in the omentum")


def test_term_pattern_strips_the_term():
    assert _match("  AAV  ", "an AAV vector", True) == "AAV"


# -- Vocabulary.from_csv / from_table --------------------------------------------------------
def test_from_csv_reads_the_table(tmp_path):
    path = _write(
        tmp_path,
        "term,language,value,case_sensitive,note\n"
        "lentivir*,any,lentiviral,no,en and sv\n"
        "AAV*,any,AAV,yes,\n"
        "LV,any,lentiviral,yes,\n",
    )
    vocabulary = Vocabulary.from_csv(path, "value")
    assert vocabulary.name == "terms.csv"
    assert vocabulary.values == ("lentiviral", "AAV")  # file order
    assert vocabulary.table["note"].tolist() == ["en and sv", "", ""]
    assert vocabulary.table["value"].tolist() == ["lentiviral", "AAV", "lentiviral"]


def test_from_csv_keeps_words_pandas_reads_as_missing(tmp_path):
    path = _write(
        tmp_path,
        "term,language,value,case_sensitive\nNA,any,sodium,yes\nNone,en,none,no\n",
    )
    vocabulary = Vocabulary.from_csv(path, "value")
    assert vocabulary.table["term"].tolist() == ["NA", "None"]
    found = vocabulary.find(pd.Series(["NA+ channel", "na", "none of these"]))
    assert _values(found["sodium"]) == ["NA", None, None]
    assert _values(found["none"]) == [None, None, "none"]


def test_from_csv_empty_case_sensitive_means_no(tmp_path):
    path = _write(tmp_path, "term,language,value,case_sensitive\nAAV,any,AAV,\n")
    vocabulary = Vocabulary.from_csv(path, "value")
    assert vocabulary.find(pd.Series(["aav"]))["AAV"].tolist() == ["aav"]


def test_allowed_gives_the_order_and_values_without_terms():
    vocabulary = _vocabulary(
        [["AAV", "any", "AAV", "yes"], ["LV", "any", "lentiviral", "yes"]],
        allowed=["lentiviral", "mRNA", "AAV"],
    )
    assert vocabulary.values == ("lentiviral", "mRNA", "AAV")
    found = vocabulary.find(pd.Series(["AAV and LV", "nothing"]))
    assert list(found.columns) == ["lentiviral", "mRNA", "AAV"]
    assert found["mRNA"].isna().all()
    assert found["mRNA"].dtype == "string"
    assert vocabulary.recognise(pd.Series(["AAV and LV"])).tolist() == ["lentiviral;AAV"]


def test_several_value_columns_are_joined():
    table = pd.DataFrame(
        {
            "term": ["gene silencing", "suicide gene*"],
            "language": ["en", "en"],
            "fact": ["direct_effect", "direct_effect"],
            "value": ["yes", "no"],
            "case_sensitive": ["no", "no"],
        }
    )
    vocabulary = Vocabulary.from_table(table, "evidence.csv", ["fact", "value"])
    assert vocabulary.values == ("direct_effect=yes", "direct_effect=no")
    found = vocabulary.find(pd.Series(["Gene-silencing by shRNA", "a suicide gene switch"]))
    assert _row_hits(found) == [
        {"direct_effect=yes": "Gene-silencing"},
        {"direct_effect=no": "suicide gene"},
    ]


@pytest.mark.parametrize(
    ("rows", "allowed", "message"),
    [
        (
            [["AAV", "any", "AAV", "yes"], ["lentivir*", "fr", "lentiviral", "no"]],
            None,
            "vocabulary terms.csv:\n  row 3, column language: 'fr' is not one of "
            "('en', 'sv', 'any')",
        ),
        (
            [["AAV", "EN", "AAV", "yes"]],
            None,
            "vocabulary terms.csv:\n  row 2, column language: 'EN' is not one of "
            "('en', 'sv', 'any')",
        ),
        (
            [["AAV", "any", "AAV", "yes"], ["", "en", "AAV", "no"]],
            None,
            "vocabulary terms.csv:\n  row 3, column term: empty term",
        ),
        (
            [["   ", "en", "AAV", "no"]],
            None,
            "vocabulary terms.csv:\n  row 2, column term: empty term",
        ),
        (
            [["AAV", "any", "AAV", "Yes please"]],
            None,
            "vocabulary terms.csv:\n  row 2, column case_sensitive: 'Yes please' is not yes or no",
        ),
        (
            [["AAV", "any", "AAV", "yes"], ["LV", "any", "lentivirus", "yes"]],
            ["AAV", "lentiviral"],
            "vocabulary terms.csv:\n  row 3, column value: 'lentivirus' is not a known value",
        ),
    ],
)
def test_validation_errors_name_file_row_and_column(rows, allowed, message):
    with pytest.raises(ValueError) as raised:
        _vocabulary(rows, allowed)
    assert str(raised.value) == message


def test_validation_lists_every_problem():
    rows = [
        ["AAV", "any", "AAV", "yes"],
        ["", "en", "AAV", "no"],
        ["LV", "de", "lentiviral", "yes"],
        ["pDNA", "any", "plasmids", "ja"],
    ]
    with pytest.raises(ValueError) as raised:
        _vocabulary(rows, ["AAV", "lentiviral", "plasmid"])
    assert str(raised.value) == (
        "vocabulary terms.csv:\n"
        "  row 3, column term: empty term\n"
        "  row 4, column language: 'de' is not one of ('en', 'sv', 'any')\n"
        "  row 5, column case_sensitive: 'ja' is not yes or no\n"
        "  row 5, column value: 'plasmids' is not a known value"
    )


def test_from_csv_error_names_the_file(tmp_path):
    path = _write(
        tmp_path,
        "term,language,value,case_sensitive\nAAV,any,AAV,yes\nLV,any,lentiviral,yes\n"
        "gensax*,se,CRISPR,no\n",
        name="platform_terms.csv",
    )
    with pytest.raises(ValueError) as raised:
        Vocabulary.from_csv(path, "value", allowed=["AAV", "lentiviral", "CRISPR"])
    assert str(raised.value) == (
        "vocabulary platform_terms.csv:\n"
        "  row 4, column language: 'se' is not one of ('en', 'sv', 'any')"
    )


def test_from_table_keeps_the_file_row_numbers_of_a_filtered_table():
    table = _table(
        [
            ["AAV", "any", "AAV", "yes"],
            ["LV", "any", "", "yes"],
            ["gensax*", "se", "CRISPR", "no"],
        ]
    )
    kept = table[table["value"] != ""]
    with pytest.raises(ValueError) as raised:
        Vocabulary.from_table(kept, "need_terms.csv", "value")
    assert str(raised.value) == (
        "vocabulary need_terms.csv:\n"
        "  row 4, column language: 'se' is not one of ('en', 'sv', 'any')"
    )


@pytest.mark.parametrize(
    ("columns", "value", "message"),
    [
        (["term", "language", "value"], "value", "terms.csv: missing column(s) case_sensitive"),
        (["term", "language", "case_sensitive"], "value", "terms.csv: missing column(s) value"),
        (
            ["term", "value", "case_sensitive"],
            "platform",
            "terms.csv: missing column(s) language, platform",
        ),
        (
            ["term", "language", "case_sensitive", "fact"],
            ["fact", "value"],
            "terms.csv: missing column(s) value",
        ),
    ],
)
def test_missing_columns(columns, value, message):
    table = pd.DataFrame({name: ["x"] for name in columns})
    with pytest.raises(ValueError) as raised:
        Vocabulary.from_table(table, "terms.csv", value)
    assert str(raised.value) == message


def test_unknown_value_message_names_the_column():
    with pytest.raises(ValueError) as raised:
        _vocabulary([["LV", "any", "lentivirus", "yes"]], ["lentiviral"])
    assert "row 2, column value: 'lentivirus' is not a known value" in str(raised.value)


@pytest.mark.parametrize("term", ["*", "-", " - "])
def test_term_without_letters_is_an_empty_term(term):
    with pytest.raises(ValueError, match="row 2, column term: empty term"):
        _vocabulary([[term, "any", "AAV", "no"]])


def test_missing_term_in_table_is_an_empty_term():
    table = _table([["AAV", "any", "AAV", "yes"], [None, "en", "AAV", "no"]])
    with pytest.raises(ValueError, match="row 3, column term: empty term"):
        Vocabulary.from_table(table, "terms.csv", "value").find(pd.Series(["AAV"]))


# -- Vocabulary.find / recognise -------------------------------------------------------------
@pytest.fixture
def vectors() -> Vocabulary:
    return _vocabulary(
        [
            ["AAV*", "any", "AAV", "yes"],
            ["adeno-associated*", "en", "AAV", "no"],
            ["lentivir*", "any", "lentiviral", "no"],
            ["LV", "any", "lentiviral", "yes"],
            ["CD34", "any", "HSC", "no"],
            ["CD34+", "any", "HSC", "no"],
            ["blodstamcell*", "sv", "HSC", "no"],
        ]
    )


def test_find_one_column_per_value_with_the_words_as_written(vectors):
    texts = pd.Series(
        [
            "Lentivirus-transduced CD34+ cells",
            "AAV9 and an LV backup",
            "Adeno-Associated Virus",
            "BLODSTAMCELLER",
            "lv and aav",
        ]
    )
    found = vectors.find(texts)
    assert list(found.columns) == ["AAV", "lentiviral", "HSC"]
    assert found.dtypes.tolist() == ["string"] * 3
    assert _row_hits(found) == [
        {"lentiviral": "Lentivirus", "HSC": "CD34+"},  # the longest term is quoted
        {"AAV": "AAV9", "lentiviral": "LV"},
        {"AAV": "Adeno-Associated"},
        {"HSC": "BLODSTAMCELLER"},
        {},
    ]


def test_find_quotes_the_first_match_in_the_text(vectors):
    found = vectors.find(pd.Series(["LV first, then lentiviral"]))
    assert found["lentiviral"].tolist() == ["LV"]


@pytest.mark.parametrize("missing", [None, np.nan, pd.NA, "", "   "])
def test_find_missing_and_blank_texts_find_nothing(vectors, missing):
    found = vectors.find(pd.Series(["AAV", missing], dtype=object))
    assert _row_hits(found) == [{"AAV": "AAV"}, {}]
    assert vectors.recognise(pd.Series([missing], dtype=object)).isna().all()


def test_find_empty_input(vectors):
    found = vectors.find(pd.Series([], dtype="string"))
    assert found.shape == (0, 3)
    assert list(found.columns) == ["AAV", "lentiviral", "HSC"]
    assert vectors.recognise(pd.Series([], dtype=object)).tolist() == []


def test_find_all_missing(vectors):
    found = vectors.find(pd.Series([None, None], dtype="string"))
    assert found.shape == (2, 3)
    assert found.isna().all().all()


def test_find_keeps_the_index_and_repeated_texts(vectors):
    texts = pd.Series(["AAV", "LV", "AAV", None, "AAV"], index=[10, 10, 3, 7, 1])
    found = vectors.find(texts)
    assert found.index.tolist() == [10, 10, 3, 7, 1]
    assert _values(found["AAV"]) == ["AAV", None, "AAV", None, "AAV"]
    assert _values(found["lentiviral"]) == [None, "LV", None, None, None]


def test_recognise_joins_values_in_vocabulary_order(vectors):
    texts = pd.Series(["CD34+ cells, lentiviral vector, AAV helper", "LV only", "nothing"])
    recognised = vectors.recognise(texts)
    assert recognised.dtype == "string"
    assert recognised.tolist()[:2] == ["AAV;lentiviral;HSC", "lentiviral"]
    assert pd.isna(recognised.iloc[2])
    assert vectors.recognise(texts.iloc[:1], sep=" | ").tolist() == ["AAV | lentiviral | HSC"]


# -- join_flags / first_found ----------------------------------------------------------------
def test_join_flags():
    flags = pd.DataFrame(
        {"AAV": [True, False, True], "T cell": [True, False, False]}, index=[5, 6, 7]
    )
    joined = join_flags(flags)
    assert joined.dtype == "string"
    assert joined.index.tolist() == [5, 6, 7]
    assert joined.tolist()[0::2] == ["AAV;T cell", "AAV"]
    assert pd.isna(joined.iloc[1])
    assert join_flags(flags, ", ").iloc[0] == "AAV, T cell"


def test_join_flags_without_columns_or_rows():
    none = join_flags(pd.DataFrame(index=[3, 4]))
    assert none.index.tolist() == [3, 4]
    assert none.isna().all()
    assert join_flags(pd.DataFrame({"a": pd.Series([], dtype=bool)})).tolist() == []


def test_first_found_takes_the_first_column_in_column_order():
    found = pd.DataFrame(
        {
            "Oncology": pd.array([None, "tumour", None], dtype="string"),
            "Ophthalmology": pd.array(["retina", "retinal", None], dtype="string"),
        },
        index=["a", "b", "c"],
    )
    value, words = first_found(found)
    assert value.index.tolist() == ["a", "b", "c"]
    assert value.tolist()[:2] == ["Ophthalmology", "Oncology"]
    assert words.tolist()[:2] == ["retina", "tumour"]
    assert pd.isna(value.iloc[2])
    assert pd.isna(words.iloc[2])
    assert value.dtype == "string"
    assert words.dtype == "string"


def test_first_found_no_rows():
    value, words = first_found(pd.DataFrame({"x": pd.array([], dtype="string")}))
    assert value.tolist() == []
    assert words.tolist() == []


def test_first_found_no_columns():
    value, words = first_found(pd.DataFrame(index=[0, 1]))
    assert value.isna().all()
    assert words.isna().all()


# -- the shipped vocabularies ----------------------------------------------------------------
INSTRUMENT = Instrument.default()
PLATFORMS = list(dict.fromkeys(pd.read_csv(VOCAB_DIR / "platforms.csv")["platform"]))
AREAS = list(INSTRUMENT["ther_area"].choices.values())
NEEDS = list(INSTRUMENT["support_needs"].choices.values())
THEMES = pd.read_csv(VOCAB_DIR / "bottleneck_themes.csv", dtype=str)["theme"].tolist()
#: The fact=value pairs the classification reads (classify.py).
EVIDENCE = [
    "recombinant=no",
    "direct_effect=yes",
    "direct_effect=no",
    "expression=yes",
    "vaccine=yes",
    "infection=yes",
    "cells=non-viable",
    "substantial=yes",
    "substantial=no",
    "action=regenerate",
    "action=pharmacological",
]
VOCABULARY_FILES = [
    "platform_terms.csv",
    "class_evidence.csv",
    "ther_area_terms.csv",
    "need_terms.csv",
]


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(VOCAB_DIR / name, dtype=str, keep_default_na=False)


def _shipped(kind: str) -> Vocabulary:
    if kind == "platform":
        return Vocabulary.from_csv(VOCAB_DIR / "platform_terms.csv", "platform", allowed=PLATFORMS)
    if kind == "ther_area":
        return Vocabulary.from_csv(VOCAB_DIR / "ther_area_terms.csv", "ther_area", allowed=AREAS)
    if kind == "evidence":
        return Vocabulary.from_csv(
            VOCAB_DIR / "class_evidence.csv", ("fact", "value"), allowed=EVIDENCE
        )
    table = _read("need_terms.csv")
    allowed = NEEDS if kind == "support_need" else THEMES
    return Vocabulary.from_table(table[table[kind] != ""], "need_terms.csv", kind, allowed)


SHIPPED = ["platform", "ther_area", "evidence", "support_need", "theme"]


@pytest.mark.parametrize("kind", SHIPPED)
def test_shipped_vocabulary_loads_with_known_values(kind):
    vocabulary = _shipped(kind)  # raises on an unknown language, value or flag
    assert len(vocabulary.table) > 0
    assert set(vocabulary.table["value"]) <= set(vocabulary.values)


@pytest.mark.parametrize("kind", SHIPPED)
def test_every_shipped_term_recognises_itself(kind):
    vocabulary = _shipped(kind)
    table = vocabulary.table
    found = vocabulary.find(table["term"].str.rstrip("*"))
    missed = [
        (term, value)
        for position, (term, value) in enumerate(zip(table["term"], table["value"], strict=True))
        if pd.isna(found[value].iloc[position])
    ]
    assert missed == []


def test_every_platform_area_need_and_theme_has_a_term():
    assert set(_shipped("platform").table["value"]) == set(PLATFORMS)
    assert set(_shipped("ther_area").table["value"]) == set(AREAS) - {"Other"}
    assert set(_shipped("support_need").table["value"]) == set(NEEDS) - {"Other"}
    assert set(_shipped("theme").table["value"]) == set(THEMES)
    assert set(_shipped("evidence").table["value"]) == set(EVIDENCE)


def test_canonical_value_sources_are_as_expected():
    assert PLATFORMS[:3] == ["AAV", "lentiviral", "gamma-retroviral"]
    assert len(PLATFORMS) == 22
    assert AREAS[-1] == "Other"
    assert len(AREAS) == 14
    assert NEEDS[-1] == "Other"
    assert len(NEEDS) == 13
    assert THEMES == [
        "GMP capacity",
        "funding",
        "regulatory",
        "vector supply",
        "toxicology",
        "QC/analytics",
        "staff and competence",
        "hospital capacity",
        "IP and partnering",
    ]


def test_every_bottleneck_theme_has_an_english_and_a_swedish_term():
    table = _read("need_terms.csv")
    languages = table[table["theme"] != ""].groupby("theme")["language"].agg(set)
    lacking = {
        theme: sorted(languages.get(theme, set()))
        for theme in THEMES
        if not {"en", "sv"} <= languages.get(theme, set())
    }
    assert lacking == {}


def test_every_need_terms_row_has_a_theme_or_a_need():
    table = _read("need_terms.csv")
    assert table[(table["theme"] == "") & (table["support_need"] == "")]["term"].tolist() == []


@pytest.mark.parametrize("name", VOCABULARY_FILES)
def test_shipped_terms_are_unique_and_trimmed(name):
    table = _read(name)
    folded = table["term"].str.casefold()
    assert table.loc[folded.duplicated(keep=False), "term"].tolist() == []
    assert table.loc[table["term"] != table["term"].str.strip(), "term"].tolist() == []


@pytest.mark.parametrize("name", VOCABULARY_FILES)
def test_shipped_short_acronyms_are_case_sensitive(name):
    table = _read(name)
    acronym = table["term"].str.fullmatch(r"[A-ZÅÄÖ]{2,4}\*?")
    assert table.loc[acronym & (table["case_sensitive"] != "yes"), "term"].tolist() == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("an LV vector", {"lentiviral": "LV"}),
        ("lv", {}),
        ("NK cells", {"NK cell": "NK cells"}),
        ("NK", {"NK cell": "NK"}),
        ("nk", {}),
        ("ESC-derived", {"pluripotent stem cell": "ESC"}),
        ("esc", {}),
        ("hESCs", {"pluripotent stem cell": "hESCs"}),
        ("AAV9", {"AAV": "AAV9"}),
        ("xAAVy", {}),
        ("cells implanted under the skin", {}),
        ("an implant", {"scaffold/device": "implant"}),
        ("autologous CAR T cells", {"T cell": "CAR T"}),
        ("CAR-T", {"T cell": "CAR-T"}),
        ("CART", {"T cell": "CART"}),
        ("T-celler", {"T cell": "T-celler"}),
        ("Sleeping Beauty transposon", {"transposon": "Sleeping Beauty"}),
        ("kondrocyter", {"chondrocyte": "kondrocyter"}),
        ("Ö-CELLER", {"other cell": "Ö-CELLER"}),
        ("CD34+ cells", {"HSC": "CD34+"}),
        ("γ-retroviral", {"gamma-retroviral": "γ-retroviral"}),
        ("", {}),
    ],
)
def test_shipped_platform_terms(text, expected):
    assert _row_hits(_shipped("platform").find(pd.Series([text]))) == [expected]


@pytest.mark.parametrize("kind", ["platform", "evidence"])
def test_cartilage_is_no_car_t(kind):
    found = _shipped(kind).find(pd.Series(["autologous chondrocytes for cartilage repair"]))
    assert "cartilage" not in _row_hits(found)[0].values()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Parkinson's disease", {"Neurology": "Parkinson"}),
        ("wet AMD", {"Ophthalmology": "AMD"}),
        ("amd", {}),
        ("ALS", {"Neurology": "ALS"}),
        ("als", {}),
        ("Crohns sjukdom", {"Gastroenterology and hepatology": "Crohns"}),
        ("kroniska sår", {"Dermatology and wound healing": "sår"}),
        ("lysosomal storage disease", {"Metabolic or endocrine": "lysosomal storage"}),
        ("en leverantör", {}),
    ],
)
def test_shipped_area_terms(text, expected):
    assert _row_hits(_shipped("ther_area").find(pd.Series([text]))) == [expected]


@pytest.mark.parametrize(
    ("text", "needs", "themes"),
    [
        ("vi behöver GMP-kapacitet", "GMP manufacturing", "GMP capacity"),
        ("GMP capacity", "GMP manufacturing", "GMP capacity"),
        (
            "Vi saknar finansiering och personal",
            "Funding applications;Training and staff competence",
            "funding;staff and competence",
        ),
        ("IP", "Intellectual property and commercialisation", "IP and partnering"),
        ("ip", None, None),
        ("expensive", None, "funding"),
        ("trial design", "Clinical trial design and applications", None),
    ],
)
def test_shipped_need_and_theme_terms(text, needs, themes):
    texts = pd.Series([text])
    found_needs = _shipped("support_need").recognise(texts).iloc[0]
    found_themes = _shipped("theme").recognise(texts).iloc[0]
    assert (None if pd.isna(found_needs) else found_needs) == needs
    assert (None if pd.isna(found_themes) else found_themes) == themes


# -- negation --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a lentiviral vector", "lentiviral"),
        ("not a lentiviral vector", None),
        ("without any lentiviral vector", None),
        ("utan lentivirus", None),
        ("no AAV, but a lentiviral vector", "lentiviral"),
        ("nothing lentiviral here", "lentiviral"),  # "nothing" is not "no"
        ("no, we use a lentiviral vector", "lentiviral"),  # "no" is four words back
    ],
)
def test_negation_drops_negated_mentions_only(text, expected):
    vocabulary = Vocabulary.from_table(
        pd.DataFrame(
            {"term": ["lentivir*"], "language": ["any"], "value": ["LV"], "case_sensitive": ["no"]}
        ),
        "terms.csv",
        "value",
    )
    found = vocabulary.find(pd.Series([text, None], dtype="string"), negation=True)["LV"]
    assert (found.iloc[0] if pd.notna(found.iloc[0]) else None) == (
        text[text.find("lentivir") :].split()[0] if expected else None
    )
    assert pd.isna(found.iloc[1])
    # without negation every mention counts
    plain = vocabulary.find(pd.Series([text], dtype="string"))["LV"]
    assert plain.notna().all()


def test_negation_words_are_a_vocabulary_in_both_languages():
    from atmp_analysis.terms import NEGATION_WORDS, negation_pattern

    table = pd.read_csv(NEGATION_WORDS, dtype=str, keep_default_na=False)
    assert {"en", "sv"} <= set(table["language"])
    assert table["word"].is_unique
    pattern = negation_pattern()
    assert re.search(pattern, "Inte odlade") and re.search(pattern, "NOT expanded")
    assert not re.search(pattern, "nothing known")  # whole words only
