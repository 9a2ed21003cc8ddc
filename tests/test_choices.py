"""Tests of atmp_analysis.choices: single codes, checkbox bit masks, joined multi-selects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atmp_analysis.choices import (
    codes_to_mask,
    decode_single,
    factorize_text,
    label_lookup,
    mask_from_indicators,
    mask_from_joined,
    mask_has,
    mask_to_codes,
    mask_to_labels,
    normalise_label,
    spread,
)
from atmp_analysis.instrument import Instrument

INSTRUMENT = Instrument.default()
CENTRIFUGATION = "Centrifugation, separation, concentration, purification or filtering"
CUTTING = "Cutting, grinding or shaping"


def text(values: list[object]) -> pd.Series:
    return pd.Series(values, dtype="string")


# -- factorize_text / spread -----------------------------------------------------------------


def test_factorize_text_codes_in_order_of_appearance_and_missing_as_minus_one():
    codes, uniques = factorize_text(text(["b", None, "a", "b", pd.NA]))
    assert codes.tolist() == [0, -1, 1, 0, -1]
    assert uniques.tolist() == ["b", "a"]
    assert uniques.dtype == "string"
    assert uniques.index.equals(pd.RangeIndex(2))


def test_factorize_text_compares_other_dtypes_as_text():
    codes, uniques = factorize_text(pd.Series([1, 2, 1, None], dtype="Int64"))
    assert codes.tolist() == [0, 1, 0, -1]
    assert uniques.tolist() == ["1", "2"]


@settings(max_examples=50)
@given(st.lists(st.one_of(st.none(), st.sampled_from(["", " ", "a", "B", "ä"])), max_size=20))
def test_spread_gives_the_factorised_values_back(values):
    series = pd.Series(values, index=np.arange(len(values)) * 3, dtype="string")
    codes, uniques = factorize_text(series)
    pd.testing.assert_series_equal(spread(uniques, codes, series.index), series)


# -- normalise_label / label_lookup -----------------------------------------------------------


def test_normalise_label_folds_case_space_quotes_and_dashes():
    folded = normalise_label(text(["  Don’t   KNOW ", "Within 1–2 years", "a\tb\nc", None]))
    assert folded.tolist()[:3] == ["don't know", "within 1-2 years", "a b c"]
    assert pd.isna(folded.iloc[3])


def test_label_lookup(instrument):
    lookup = label_lookup(instrument["rna_dna"])
    assert lookup == {
        "1": 1,
        "1.0": 1,
        "yes": 1,
        "0": 0,
        "0.0": 0,
        "no": 0,
        "99": 99,
        "99.0": 99,
        "don't know": 99,
    }


# -- decode_single ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("1", 1),
        ("99", 99),
        ("1.0", 1),
        ("99.0", 99),
        (" 2 ", 2),
        ("Gene therapy (in vivo)", 1),
        ("gene therapy (IN VIVO)", 1),
        ("  Gene   therapy\t(in vivo)  ", 1),
        ("Don't know", 99),
        ("Don’t know", 99),  # curly apostrophe, as Word and Forms type it
        ("DON‘T KNOW", 99),
        ("Cells or tissue combined with a medical device or scaffold", 5),
    ],
)
def test_decode_single_codes_and_labels(instrument, value, code):
    codes, invalid = decode_single(text([value]), instrument["therapy_type"])
    assert codes.tolist() == [code]
    assert invalid.tolist() == [False]


@pytest.mark.parametrize(
    "name", [f.name for f in Instrument.default().radio_fields], ids=lambda name: name
)
def test_decode_single_every_choice_by_code_and_label(instrument, name):
    field = instrument[name]
    codes = list(field.choices)
    by_code = [str(c) for c in codes]
    by_label = list(field.choices.values())
    shouted = [label.upper() for label in by_label]
    for values in (by_code, by_label, shouted):
        decoded, invalid = decode_single(text(values), field)
        assert decoded.tolist() == codes
        assert not invalid.any()


def test_decode_single_blank_is_missing_not_invalid(instrument):
    codes, invalid = decode_single(text([None, "", "   "]), instrument["stage"])
    assert codes.isna().all()
    assert invalid.tolist() == [False, False, False]


@pytest.mark.parametrize(
    "value",
    ["12", "0", "Phase 12", "Yes", "1;2", "one", "1.5", "Gene therapy"],
)
def test_decode_single_unknown_is_flagged(instrument, value):
    codes, invalid = decode_single(text(["7", value]), instrument["stage"])
    assert codes.iloc[0] == 7
    assert pd.isna(codes.iloc[1])
    assert invalid.tolist() == [False, True]


def test_decode_single_types_and_index(instrument):
    values = pd.Series(["1", "x", None], index=[7, 3, 5], dtype="str")
    codes, invalid = decode_single(values, instrument["rna_dna"])
    assert codes.dtype == "Int64"
    assert invalid.dtype == bool
    assert list(codes.index) == [7, 3, 5]
    assert list(invalid.index) == [7, 3, 5]
    assert invalid.tolist() == [False, True, False]


def test_decode_single_numbers_as_an_xlsx_gives_them(instrument):
    codes, invalid = decode_single(
        pd.Series([1, 99.0, np.nan], dtype=object), instrument["rna_dna"]
    )
    assert codes.tolist()[:2] == [1, 99]
    assert pd.isna(codes.iloc[2])
    assert not invalid.any()


def test_decode_single_does_not_change_its_input(instrument):
    values = text([" Yes ", "nope"])
    before = values.copy()
    decode_single(values, instrument["rna_dna"])
    pd.testing.assert_series_equal(values, before)


# -- mask_from_indicators ---------------------------------------------------------------------


def test_mask_from_indicators_raw_and_labels(instrument):
    frame = pd.DataFrame(
        {
            "cell_type___1": ["1", "0", "Checked", "Unchecked", "1.0", None],
            "cell_type___5": ["1", "0", " checked ", "UNCHECKED", "0", None],
            "cell_type___11": ["0", "0", "Unchecked", "Unchecked", "1", ""],
            "other_column": ["x"] * 6,
        },
        dtype="string",
    )
    mask, invalid = mask_from_indicators(frame, instrument["cell_type"])
    assert mask.dtype == "Int64"
    assert mask.iloc[0] == (1 << 1) | (1 << 5)
    assert pd.isna(mask.iloc[1])
    assert mask.iloc[2] == (1 << 1) | (1 << 5)
    assert pd.isna(mask.iloc[3])
    assert mask.iloc[4] == (1 << 1) | (1 << 11)
    assert pd.isna(mask.iloc[5])  # nothing ticked is missing, not 0
    assert list(invalid.columns) == ["cell_type___1", "cell_type___5", "cell_type___11"]
    assert not invalid.to_numpy().any()


def test_mask_from_indicators_code_zero_is_bit_zero(instrument):
    frame = pd.DataFrame({"reg_contact___0": ["1", "0"], "reg_contact___2": ["0", "1"]})
    mask, _ = mask_from_indicators(frame, instrument["reg_contact"])
    assert mask.tolist() == [1, 4]


@pytest.mark.parametrize("bad", ["maybe", "2", "Ja", "ticked"])
def test_mask_from_indicators_flags_a_bad_value(instrument, bad):
    frame = pd.DataFrame(
        {"funding___1": ["1", bad, "0"], "funding___4": ["0", "1", "0"]}, dtype="string"
    )
    mask, invalid = mask_from_indicators(frame, instrument["funding"])
    assert invalid["funding___1"].tolist() == [False, True, False]
    assert invalid["funding___4"].tolist() == [False, False, False]
    # the bad cell counts as not ticked; the rest of the row is still read
    assert mask.iloc[0] == 1 << 1
    assert mask.iloc[1] == 1 << 4
    assert pd.isna(mask.iloc[2])


def test_mask_from_indicators_without_columns(instrument):
    frame = pd.DataFrame({"x": ["1", "0"]}, index=[4, 9])
    mask, invalid = mask_from_indicators(frame, instrument["gene_tech"])
    assert mask.isna().all()
    assert list(mask.index) == [4, 9]
    assert invalid.columns.empty


# -- mask_from_joined -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "codes"),
    [
        ("T cells;NK cells;", [5, 6]),
        ("T cells;NK cells", [5, 6]),
        ("T cells ; NK cells ;", [5, 6]),
        ("t CELLS;", [5]),
        ("Haematopoietic stem or progenitor cells (HSC, CD34+);", [4]),
        ("Other;T cells;", [5, 11]),
        ("5;6", [5, 6]),  # codes typed instead of labels
        ("5;NK cells;", [5, 6]),
    ],
)
def test_mask_from_joined_semicolons(instrument, value, codes):
    mask, leftover = mask_from_joined(text([value]), instrument["cell_type"], ";")
    assert mask.tolist() == [codes_to_mask(codes)]
    assert leftover.isna().all()


@pytest.mark.parametrize(
    ("value", "codes"),
    [
        (f"{CENTRIFUGATION}", [2]),
        (f"{CENTRIFUGATION}, Culture expansion", [2, 5]),
        (f"{CUTTING}, {CENTRIFUGATION}", [1, 2]),
        (f"Culture expansion,{CUTTING},Differentiation", [1, 5, 6]),
        (f"{CENTRIFUGATION.lower()}, Other", [2, 9]),
        (
            "Activation or stimulation (for example with cytokines or antigens), "
            "Genetic modification",
            [7, 8],
        ),
    ],
)
def test_mask_from_joined_commas_inside_labels(instrument, value, codes):
    mask, leftover = mask_from_joined(text([value]), instrument["manipulation"], ",")
    assert mask.tolist() == [codes_to_mask(codes)]
    assert leftover.isna().all()


def test_mask_from_joined_longest_label_first(instrument):
    # "Other" is part of "Other viral vector": both must be read, neither left over
    mask, leftover = mask_from_joined(
        text(["Other viral vector, Other", "Other viral vector", "Other"]),
        instrument["gene_tech"],
        ",",
    )
    assert mask.tolist() == [(1 << 6) | (1 << 12), 1 << 6, 1 << 12]
    assert leftover.isna().all()


def test_mask_from_joined_reports_leftover_text(instrument):
    mask, leftover = mask_from_joined(
        text(["T cells;Treg-like cells;", "Macrophages", "NK cells;"]),
        instrument["cell_type"],
        ";",
    )
    assert mask.iloc[0] == 1 << 5
    assert pd.isna(mask.iloc[1])
    assert mask.iloc[2] == 1 << 6
    assert leftover.iloc[0].casefold() == "treg-like cells"
    assert leftover.iloc[1].casefold() == "macrophages"
    assert pd.isna(leftover.iloc[2])


def test_mask_from_joined_leftover_of_several_unknowns(instrument):
    _, leftover = mask_from_joined(
        text(["Culture expansion; foo; bar;"]), instrument["manipulation"], ";"
    )
    assert leftover.iloc[0].casefold() == "foo;bar"


def test_mask_from_joined_leftover_keeps_the_typed_spelling(instrument):
    _, leftover = mask_from_joined(
        text(["T cells;Treg-like CAR cells;"]), instrument["cell_type"], ";"
    )
    assert leftover.iloc[0] == "Treg-like CAR cells"


def test_mask_from_joined_repeated_label_leaves_nothing(instrument):
    mask, leftover = mask_from_joined(
        text(["Culture expansion;Culture expansion;", "5;5;", "Other;Other;Other"]),
        instrument["manipulation"],
        ";",
    )
    assert mask.tolist() == [1 << 5, 1 << 5, 1 << 9]
    assert leftover.isna().all()


@pytest.mark.parametrize("value", [None, "", ";", " ; ;", ","])
def test_mask_from_joined_blank(instrument, value):
    mask, leftover = mask_from_joined(
        text([value]), instrument["funding"], ";" if value != "," else ","
    )
    assert mask.isna().all()
    assert leftover.isna().all()


def test_mask_from_joined_types_and_index(instrument):
    values = pd.Series(["Vinnova;", None], index=["a", "b"], dtype="str")
    mask, leftover = mask_from_joined(values, instrument["funding"], ";")
    assert mask.dtype == "Int64"
    assert list(mask.index) == ["a", "b"]
    assert list(leftover.index) == ["a", "b"]
    assert mask.iloc[0] == 1 << 4


def test_mask_from_joined_does_not_change_its_input(instrument):
    values = text([f"{CUTTING}, Other stuff"])
    before = values.copy()
    mask_from_joined(values, instrument["manipulation"], ",")
    pd.testing.assert_series_equal(values, before)


# -- writing masks back, and round trips ------------------------------------------------------


def test_mask_to_codes_and_labels(instrument):
    field = instrument["cell_type"]
    masks = pd.Series([(1 << 1) | (1 << 5), None, 1 << 11, (1 << 5) | (1 << 1)], dtype="Int64")
    assert mask_to_codes(masks, field).tolist()[0] == "1;5"
    assert pd.isna(mask_to_codes(masks, field).iloc[1])
    assert mask_to_codes(masks, field).tolist()[2:] == ["11", "1;5"]
    labels = mask_to_labels(masks, field, sep=" | ")
    assert labels.iloc[0] == "Induced pluripotent stem cells (iPSC) or iPSC-derived cells | T cells"
    assert labels.iloc[2] == "Other"
    assert labels.dtype == "string"


def test_mask_to_codes_in_choice_order(instrument):
    # reg_contact lists "0, None yet" last: output follows the instrument's order
    mask = pd.Series([codes_to_mask([0, 3, 1])], dtype="Int64")
    assert mask_to_codes(mask, instrument["reg_contact"]).tolist() == ["1;3;0"]
    assert mask_to_labels(mask, instrument["reg_contact"], sep="; ").iloc[0].endswith("None yet")


@pytest.mark.parametrize(
    ("codes", "mask"),
    [([], 0), ([0], 1), ([1], 2), ([1, 5], 34), ([5, 1, 5], 34), ([11], 2048), ([99], 1 << 99)],
)
def test_codes_to_mask(codes, mask):
    assert codes_to_mask(codes) == mask


def test_mask_has(instrument):
    masks = pd.Series([34, None, 2048, 1], index=[3, 1, 2, 0], dtype="Int64")
    assert mask_has(masks, 5).tolist() == [True, False, False, False]
    assert mask_has(masks, 11).tolist() == [False, False, True, False]
    assert mask_has(masks, 0).tolist() == [False, False, False, True]
    assert list(mask_has(masks, 1).index) == [3, 1, 2, 0]
    assert mask_has(masks, 1).dtype == bool


CHECKBOXES = [f.name for f in Instrument.default().checkbox_fields]


@st.composite
def ticked(draw):
    """A checkbox field and a non-empty set of its codes."""
    field = INSTRUMENT[draw(st.sampled_from(CHECKBOXES))]
    codes = draw(st.lists(st.sampled_from(list(field.choices)), min_size=1, unique=True))
    return field, codes


@settings(max_examples=150, deadline=None)
@given(ticked(), st.sampled_from([";", ","]))
def test_round_trip_labels_and_codes(case, sep):
    field, codes = case
    mask = pd.Series([codes_to_mask(codes)], dtype="Int64")
    labels = mask_to_labels(mask, field, sep=sep + " ")
    back, leftover = mask_from_joined(labels, field, sep)
    assert back.tolist() == mask.tolist()
    assert leftover.isna().all()
    back, leftover = mask_from_joined(mask_to_codes(mask, field), field, ";")
    assert back.tolist() == mask.tolist()
    assert leftover.isna().all()
    for code in field.choices:
        assert mask_has(mask, code).iloc[0] == (code in codes)


@settings(max_examples=100, deadline=None)
@given(ticked())
def test_round_trip_indicator_columns(case):
    field, codes = case
    frame = pd.DataFrame(
        {c: ["Checked" if c in codes else "Unchecked"] for c in field.choices}
    ).rename(columns=lambda c: f"{field.name}___{c}")
    mask, invalid = mask_from_indicators(frame, field)
    assert mask.tolist() == [codes_to_mask(codes)]
    assert not invalid.to_numpy().any()
