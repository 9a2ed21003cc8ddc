"""Tests of atmp_analysis.figures: palettes as data, plot functions that only draw on an ax."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex, to_rgb
from matplotlib.patches import Rectangle

from atmp_analysis import figures
from atmp_analysis.classify import CLASSES
from atmp_analysis.figures import (
    HIDDEN_LABEL,
    STUB_FRACTION,
    bar_counts,
    describe,
    funnel,
    grouped_shares,
    heatmap,
    load_palettes,
    palette,
    stacked_bars,
    year_bars,
)
from atmp_analysis.schemas import HORIZONS

STAGE_GROUPS = [
    "Discovery and proof of concept",
    "Preclinical and CTA-enabling",
    "Clinical trial application and Phase I",
    "Phase II and later",
]
HEX = re.compile(r"#[0-9A-Fa-f]{6}")


def counts(values, index, column="Projects") -> pd.DataFrame:
    return pd.DataFrame({column: pd.array(values, dtype="Int64")}, index=index)


def table(columns: dict[str, list], index) -> pd.DataFrame:
    return pd.DataFrame(
        {name: pd.array(values, dtype="Int64") for name, values in columns.items()}, index=index
    )


def hidden_as(frame: pd.DataFrame, label: str = "<3") -> pd.DataFrame:
    return frame.astype("string").fillna(label)


def texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def bar_patches(ax) -> list:
    return [p for p in ax.patches if p.get_width() > 0 and p.get_height() > 0]


def hatched(ax) -> list:
    return [p for p in ax.patches if p.get_hatch()]


@pytest.fixture
def ax():
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


#: (true counts 13, 3, 7, 2, 4; cATMP = 2 hidden as "<3")
CLASS_COUNTS = counts([13, 3, 7, None, 2, 4, 29], [*CLASSES, "Total"])
STAGES = ["Discovery", "In vitro PoC", "In vivo PoC", "Preclinical", "CTA-enabling", "Phase I"]
REACHED = counts([30, 22, 14, 9, None, None], STAGES)
CLASS_BY_GROUP = table(
    {
        STAGE_GROUPS[0]: [5, 2, 0, None, 7],
        STAGE_GROUPS[1]: [3, None, 4, 1, 9],
        STAGE_GROUPS[2]: [2, 0, 1, 0, 3],
        STAGE_GROUPS[3]: [None, 0, 0, 0, 1],
        "Total": [11, 3, 5, 2, 21],
    },
    ["GTMP", "sCTMP", "TEP", "cATMP", "Total"],
)
NEEDS_BY_HORIZON = table(
    {
        "1-2 years": [6, 4, 3],
        "3-5 years": [4, None, 2],
        "5-10 years": [2, 1, 1],
        "Total": [12, 6, 6],
    },
    ["GMP manufacturing capacity", "Regulatory advice", "Funding"],
)
SHARES = pd.DataFrame(
    {
        "This centre 2023": [45.0, 20.0, 35.0],
        "UK Catapult 2023 (clinical trials)": [55.0, 38.0, np.nan],
    },
    index=["GTMP", "sCTMP", "TEP"],
)
FIH = table({"GTMP": [2, 3, None, 4], "TEP": [0, 2, 1, 1]}, [2024, 2025, 2026, 2028])

DRAWINGS = {
    "bar_counts": lambda ax: bar_counts(
        CLASS_COUNTS, ax=ax, labels=hidden_as(CLASS_COUNTS), colours=palette("atmp_class")
    ),
    "funnel": lambda ax: funnel(REACHED, ax=ax, labels=hidden_as(REACHED)),
    "heatmap": lambda ax: heatmap(CLASS_BY_GROUP, ax=ax, labels=hidden_as(CLASS_BY_GROUP)),
    "stacked_bars": lambda ax: stacked_bars(
        NEEDS_BY_HORIZON, ax=ax, labels=hidden_as(NEEDS_BY_HORIZON), legend_title="When"
    ),
    "grouped_shares": lambda ax: grouped_shares(SHARES, ax=ax),
    "year_bars": lambda ax: year_bars(FIH, ax=ax, labels=hidden_as(FIH)),
}


# ------------------------------------------------------------------------ house style


@pytest.mark.parametrize("name", list(DRAWINGS))
def test_draws_on_the_given_ax_only(name, ax, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    figures_before = plt.get_fignums()
    rc_before = dict(matplotlib.rcParams)
    result = DRAWINGS[name](ax)
    ax.figure.canvas.draw()
    assert result is ax
    assert plt.get_fignums() == figures_before
    assert dict(matplotlib.rcParams) == rc_before
    assert list(tmp_path.iterdir()) == []
    assert ax.patches or ax.images


@pytest.mark.parametrize("name", list(DRAWINGS))
def test_no_top_or_right_spine(name, ax):
    DRAWINGS[name](ax)
    assert not ax.spines["top"].get_visible()
    assert not ax.spines["right"].get_visible()


def test_module_never_saves_shows_or_makes_figures():
    source = Path(figures.__file__).read_text(encoding="utf-8")
    forbidden = [
        r"\.savefig\(",
        r"\.show\(",
        r"\bplt\.",
        r"subplots\(",
        r"rcParams\[",
        r"rcParams\.update",
        r"\.rc\(",
        r"import matplotlib\.pyplot",
        r"import pyplot",
    ]
    for pattern in forbidden:
        assert not re.search(pattern, source), pattern


# ------------------------------------------------------------------------- bar_counts


def test_bar_colours_follow_the_class_palette_and_the_index_order(ax):
    data = counts([13, 3, 7, 1, 2, 4], list(CLASSES))
    bar_counts(data, ax=ax, colours=palette("atmp_class"))
    bars = ax.containers[0].patches
    assert [to_hex(b.get_facecolor()) for b in bars] == [
        palette("atmp_class")[c].lower() for c in CLASSES
    ]
    centres = [b.get_y() + b.get_height() / 2 for b in bars]
    assert centres == sorted(centres)
    assert ax.yaxis_inverted()
    assert [t.get_text() for t in ax.get_yticklabels()] == list(CLASSES)
    assert [b.get_width() for b in bars] == [13, 3, 7, 1, 2, 4]
    assert texts(ax) == ["13", "3", "7", "1", "2", "4"]


def test_bar_order_follows_the_index_not_the_counts(ax):
    data = counts([1, 9, 5], ["TEP", "GTMP", "sCTMP"])
    bar_counts(data, ax=ax, colours=palette("atmp_class"))
    assert [t.get_text() for t in ax.get_yticklabels()] == ["TEP", "GTMP", "sCTMP"]
    assert [to_hex(b.get_facecolor()) for b in ax.containers[0].patches] == [
        palette("atmp_class")[c].lower() for c in ["TEP", "GTMP", "sCTMP"]
    ]


def test_a_hidden_count_is_a_fixed_stub_with_its_label(ax):
    bar_counts(CLASS_COUNTS, ax=ax, labels=hidden_as(CLASS_COUNTS), colours=palette("atmp_class"))
    bars = ax.containers[0].patches
    stub = bars[list(CLASSES).index("cATMP")]
    assert stub.get_width() == pytest.approx(STUB_FRACTION * 13)
    assert stub.get_hatch()
    assert to_hex(stub.get_facecolor()) == palette("suppressed")["suppressed"].lower()
    assert "<3" in texts(ax)
    # the hidden count (2) is drawn by no bar of cATMP's size: only not ATMP's visible 2
    assert [b.get_width() for b in bars].count(2) == 1
    assert "2" in texts(ax) and texts(ax).count("2") == 1


def test_a_hidden_count_without_labels_shows_the_hidden_mark(ax):
    bar_counts(counts([5, None], ["GTMP", "TEP"]), ax=ax)
    assert texts(ax) == ["5", HIDDEN_LABEL]
    assert len(hatched(ax)) == 1


def test_a_numeric_label_on_a_hidden_cell_is_refused(ax):
    data = counts([5, None], ["GTMP", "TEP"])
    with pytest.raises(ValueError, match=r"hidden cell.*'TEP'.*number"):
        bar_counts(data, ax=ax, labels=data.astype("string").fillna("2"))


def test_every_bar_hidden_suggests_no_scale(ax):
    bar_counts(counts([None, None], ["GTMP", "TEP"]), ax=ax)
    assert list(ax.get_xticks()) == []
    assert len(hatched(ax)) == 2


def test_total_row_is_dropped(ax):
    bar_counts(CLASS_COUNTS, ax=ax, labels=hidden_as(CLASS_COUNTS))
    assert "Total" not in [t.get_text() for t in ax.get_yticklabels()]
    assert len(ax.containers[0].patches) == len(CLASSES)
    assert "29" not in texts(ax)


def test_a_category_without_a_colour_is_an_error_unless_a_fallback_is_given(ax):
    data = counts([3, 2], ["GTMP", "Other"])
    with pytest.raises(ValueError, match="Other"):
        bar_counts(data, ax=ax, colours=palette("atmp_class"))
    bar_counts(data, ax=ax, colours=palette("atmp_class"), colour="#000000")
    assert to_hex(ax.containers[0].patches[1].get_facecolor()) == "#000000"


def test_stage_codes_find_the_stage_palette(ax):
    bar_counts(counts([4, 2], [1, 7]), ax=ax, colours=palette("stage"))
    assert [to_hex(b.get_facecolor()) for b in ax.containers[0].patches] == [
        palette("stage")["1"].lower(),
        palette("stage")["7"].lower(),
    ]


def test_long_category_labels_are_wrapped(ax):
    long = "Regulatory advice on the clinical trial application and scientific advice"
    bar_counts(counts([3], [long]), ax=ax)
    label = ax.get_yticklabels()[0].get_text()
    assert "\n" in label
    assert max(len(line) for line in label.splitlines()) <= 28
    assert ax.xaxis.get_major_locator()._integer


# ----------------------------------------------------------------------------- funnel


def test_funnel_bars_are_centred_widest_first_and_hidden_are_stubs(ax):
    funnel(REACHED, ax=ax, labels=hidden_as(REACHED))
    bars = ax.containers[0].patches
    for bar in bars:
        assert bar.get_x() + bar.get_width() / 2 == pytest.approx(0)
    assert [b.get_width() for b in bars[:4]] == [30, 22, 14, 9]
    assert [b.get_width() for b in bars[4:]] == [pytest.approx(STUB_FRACTION * 30)] * 2
    assert all(b.get_hatch() for b in bars[4:]) and not any(b.get_hatch() for b in bars[:4])
    assert texts(ax).count("<3") == 2
    assert {"30", "22", "14", "9"} <= set(texts(ax))


# ---------------------------------------------------------------------------- heatmap


def test_heatmap_drops_totals_and_hatches_hidden_cells(ax):
    heatmap(CLASS_BY_GROUP, ax=ax, labels=hidden_as(CLASS_BY_GROUP))
    assert ax.images[0].get_array().shape == (4, 4)
    assert "Total" not in [t.get_text() for t in ax.get_yticklabels()]
    assert "21" not in texts(ax)
    cells = [p for p in hatched(ax) if isinstance(p, Rectangle)]
    assert sorted((p.get_x(), p.get_y()) for p in cells) == [(-0.5, 2.5), (0.5, 0.5), (2.5, -0.5)]
    assert texts(ax).count("<3") == 3
    assert len(texts(ax)) == 16


@pytest.mark.parametrize("cmap", ["Blues", "viridis"])
def test_heatmap_text_is_readable_and_zeros_are_light(ax, cmap):
    data = table({"a": [0, 10], "b": [1, None]}, ["x", "y"])
    heatmap(data, ax=ax, labels=hidden_as(data, "x"), cmap=cmap)
    image = ax.images[0]
    assert np.ma.getmaskarray(image.get_array())[0, 0]  # the zero cell takes the light fill
    assert figures._luminance(to_hex(image.cmap.get_bad())) > 0.9
    colour = {t.get_text(): to_hex(t.get_color()) for t in ax.texts}
    assert colour["0"] == figures.ZERO_TEXT.lower()
    for cell in ("10", "1"):  # text on a coloured cell: 4.5:1 at least
        background = image.cmap(image.norm(int(cell)))
        lum = sorted([figures._luminance(to_hex(background)), figures._luminance(colour[cell])])
        assert (lum[1] + 0.05) / (lum[0] + 0.05) >= 4.5, (cmap, cell)


def test_heatmap_wraps_long_column_labels(ax):
    heatmap(CLASS_BY_GROUP, ax=ax)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[2] == "Clinical trial\napplication\nand Phase I"
    assert all(t.get_fontsize() >= 9 for t in ax.get_xticklabels())


# ------------------------------------------------------------------------ stacked_bars


def test_stacked_bars_hide_a_row_total_and_show_one_stub(ax):
    stacked_bars(NEEDS_BY_HORIZON, ax=ax, labels=hidden_as(NEEDS_BY_HORIZON))
    horizon = palette("horizon")
    segments = [p for p in ax.patches if not p.get_hatch()]
    assert {to_hex(p.get_facecolor()) for p in segments if p.get_width() > 0} == {
        c.lower() for c in horizon.values()
    }
    (stub,) = hatched(ax)
    assert stub.get_width() == pytest.approx(STUB_FRACTION * 12)
    assert stub.get_x() == pytest.approx(4 + 1)  # after the visible segments of its row
    assert "3-5 years <3" in texts(ax)
    assert "12" in texts(ax) and "6" in texts(ax)  # totals of the fully visible rows
    assert "Total" not in [t.get_text() for t in ax.get_legend().get_texts()]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [*HORIZONS, "hidden"]


# ---------------------------------------------------------------------- grouped_shares


def test_grouped_shares_label_percentages_and_missing_shares(ax):
    grouped_shares(SHARES, ax=ax)
    assert {"45%", "55%", "20%", "38%", "35%", "n/a"} == set(texts(ax))
    widths = [p.get_width() for p in ax.patches]
    assert sorted(widths) == [0, 20, 35, 38, 45, 55]
    assert to_hex(ax.containers[0].patches[0].get_facecolor()) == palette("series")["1"].lower()


def test_grouped_shares_refuse_fractions_over_100(ax):
    with pytest.raises(ValueError, match="percentages"):
        grouped_shares(SHARES * 10, ax=ax)


# --------------------------------------------------------------------------- year_bars


def test_year_bars_stand_at_their_years_with_class_colours(ax):
    year_bars(FIH, ax=ax, labels=hidden_as(FIH))
    gtmp = ax.containers[0].patches
    assert [b.get_x() + b.get_width() / 2 for b in gtmp] == [2024, 2025, 2026, 2028]
    assert to_hex(gtmp[0].get_facecolor()) == palette("atmp_class")["GTMP"].lower()
    (stub,) = hatched(ax)
    assert stub.get_x() + stub.get_width() / 2 == 2026
    assert stub.get_height() == pytest.approx(STUB_FRACTION * 5)  # tallest visible: 5
    assert "GTMP <3" in texts(ax)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2024", "2025", "2026", "2028"]


# ---------------------------------------------------------------------------- describe


def test_describe_a_bar_chart_lists_counts_and_hidden_labels():
    text = describe(CLASS_COUNTS, hidden_as(CLASS_COUNTS), what="projects by ATMP class")
    assert text.startswith("Bar chart of projects by ATMP class: ")
    for part in ("GTMP 13", "sCTMP 3", "TEP 7", "cATMP <3", "not ATMP 2", "undetermined 4"):
        assert part in text
    assert "Total" not in text and "29" not in text


def test_describe_a_table_names_its_size_and_largest_cell():
    text = describe(CLASS_BY_GROUP, hidden_as(CLASS_BY_GROUP), what="projects by class and stage")
    assert text == (
        "Heatmap of projects by class and stage: 4 rows × 4 columns; largest cell GTMP × "
        "Discovery and proof of concept (5); 3 cells hidden."
    )


def test_describe_is_cut_short():
    many = counts(list(range(100)), [f"category {i}" for i in range(100)])
    text = describe(many, what="many things")
    assert len(text) <= figures.MAX_DESCRIPTION
    assert text.endswith("…")
    assert "category 0 0" in text


# ---------------------------------------------------------------------------- palettes


def test_every_palette_has_its_keys_in_order():
    palettes = load_palettes()
    assert list(palettes["atmp_class"]) == list(CLASSES)
    assert list(palettes["stage"]) == [str(code) for code in range(1, 12)]
    assert list(palettes["stage_group"]) == STAGE_GROUPS
    assert list(palettes["horizon"]) == HORIZONS
    assert list(palettes["suppressed"]) == ["suppressed"]


def test_every_colour_is_a_hex_colour():
    for name, colours in load_palettes().items():
        for key, colour in colours.items():
            assert HEX.fullmatch(colour), (name, key, colour)


def test_class_colours_are_distinct_and_the_greys_are_neutral():
    colours = {k: v.lower() for k, v in palette("atmp_class").items()}
    assert len(set(colours.values())) == len(colours)
    greys = [to_rgb(colours["not ATMP"]), to_rgb(colours["undetermined"])]
    for rgb in greys:
        assert rgb[0] == rgb[1] == rgb[2]
    assert abs(greys[0][0] - greys[1][0]) > 0.2
    hidden = to_rgb(palette("suppressed")["suppressed"])
    assert abs(hidden[0] - greys[1][0]) > 0.1
    okabe_ito = {"#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7"}
    assert {colours[c] for c in ["GTMP", "sCTMP", "TEP", "cATMP"]} <= okabe_ito


def test_the_stage_ramp_darkens_with_the_stage_and_groups_take_its_colours():
    ramp = list(palette("stage").values())
    lightness = [figures._luminance(c) for c in ramp]
    assert lightness == sorted(lightness, reverse=True)
    assert set(palette("stage_group").values()) <= set(ramp)


def test_palette_returns_a_copy_and_names_unknown_palettes():
    palette("atmp_class")["GTMP"] = "#000000"
    assert palette("atmp_class")["GTMP"] != "#000000"
    with pytest.raises(ValueError, match="no palette 'rainbow'"):
        palette("rainbow")


def _write(tmp_path, rows: list[str]):
    path = tmp_path / "palettes.csv"
    path.write_text("palette,key,colour,note\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_a_bad_colour_is_named_with_file_and_line(tmp_path):
    path = _write(tmp_path, ["atmp_class,GTMP,#0072B2,", "atmp_class,TEP,green,"])
    with pytest.raises(ValueError) as error:
        load_palettes(path)
    message = str(error.value)
    assert str(path) in message
    assert "line 3" in message and "'TEP'" in message and "'green'" in message


def test_a_duplicate_key_is_named_with_file_and_both_lines(tmp_path):
    path = _write(
        tmp_path,
        ["horizon,1-2 years,#B03903,", "horizon,3-5 years,#F3701B,", "horizon,1-2 years,#FDB576,"],
    )
    with pytest.raises(ValueError, match=r"palettes\.csv.*\n.*line 4 .*'1-2 years'.*line 2"):
        load_palettes(path)


def test_every_bad_row_is_listed_and_a_good_file_loads(tmp_path):
    path = _write(tmp_path, ["a,1,#12345,", "a,,#123456,", "b,1,#ABCDEF,note, with comma"])
    with pytest.raises(ValueError) as error:
        load_palettes(path)
    assert all(f"line {n}" in str(error.value) for n in (2, 3, 4))
    good = _write(tmp_path, ["a,2,#123456,", "a,1,#abcdef,"])
    assert load_palettes(good) == {"a": {"2": "#123456", "1": "#abcdef"}}


def test_a_wrong_header_is_refused(tmp_path):
    path = tmp_path / "palettes.csv"
    path.write_text("name,key,hex\nx,1,#000000\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 1: the header"):
        load_palettes(path)


# --------------------------------------------------------------------------- alluvial

from matplotlib.patches import PathPatch  # noqa: E402

from atmp_analysis.figures import MAX_DESCRIPTION, alluvial, describe_flows  # noqa: E402

FLOW_CATEGORIES = [*STAGE_GROUPS, "new", "not reported"]


def flow_frame(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows, columns=["source_column", "source", "target_column", "target", "projects"]
    )
    return frame.assign(projects=pd.array(frame["projects"].tolist(), dtype="Int64"))


#: 2023 → 2024: 26 projects; a zero flow, which is not drawn.
FLOWS = flow_frame(
    [
        (2023, STAGE_GROUPS[0], 2024, STAGE_GROUPS[0], 12),
        (2023, STAGE_GROUPS[0], 2024, STAGE_GROUPS[1], 1),
        (2023, STAGE_GROUPS[0], 2024, "not reported", 1),
        (2023, STAGE_GROUPS[1], 2024, STAGE_GROUPS[1], 8),
        (2023, STAGE_GROUPS[2], 2024, STAGE_GROUPS[2], 1),
        (2023, STAGE_GROUPS[2], 2024, STAGE_GROUPS[3], 0),
        (2023, "new", 2024, STAGE_GROUPS[0], 3),
    ]
)
#: The same with the flow from preclinical to "Clinical trial application and Phase I"
#: hidden (its true value, 2, is not in the table).
HIDDEN_FLOWS = flow_frame(
    [
        (2023, STAGE_GROUPS[0], 2024, STAGE_GROUPS[0], 12),
        (2023, STAGE_GROUPS[1], 2024, STAGE_GROUPS[1], 8),
        (2023, STAGE_GROUPS[1], 2024, STAGE_GROUPS[2], None),
        (2023, "new", 2024, STAGE_GROUPS[0], 3),
    ]
)


def bands(ax) -> list[PathPatch]:
    return [p for p in ax.patches if isinstance(p, PathPatch)]


def nodes(ax) -> dict[int, list[Rectangle]]:
    """Node bars by column position, top to bottom."""
    found: dict[int, list[Rectangle]] = {}
    for patch in ax.patches:
        if isinstance(patch, Rectangle):
            column = round(patch.get_x() + patch.get_width() / 2)
            found.setdefault(column, []).append(patch)
    return {c: sorted(ps, key=lambda p: p.get_y()) for c, ps in sorted(found.items())}


def test_alluvial_draws_one_band_per_nonzero_flow_and_returns_ax(ax, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    figures_before = plt.get_fignums()
    rc_before = dict(matplotlib.rcParams)
    result = alluvial(FLOWS, ax=ax, categories=FLOW_CATEGORIES)
    ax.figure.canvas.draw()
    assert result is ax
    assert len(bands(ax)) == int((FLOWS["projects"] > 0).sum()) == 6
    assert plt.get_fignums() == figures_before
    assert dict(matplotlib.rcParams) == rc_before
    assert list(tmp_path.iterdir()) == []
    assert not any(ax.spines[side].get_visible() for side in ax.spines)
    assert list(ax.get_yticks()) == []
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2023", "2024"]


def test_alluvial_node_heights_are_the_in_and_out_sums_in_category_order(ax):
    alluvial(FLOWS, ax=ax, categories=FLOW_CATEGORIES)
    drawn = FLOWS[FLOWS["projects"] > 0]
    out = drawn.groupby("source", sort=False)["projects"].sum()
    into = drawn.groupby("target", sort=False)["projects"].sum()
    by_column = nodes(ax)
    expected_left = [int(out[c]) for c in FLOW_CATEGORIES if c in out.index]
    expected_right = [int(into[c]) for c in FLOW_CATEGORIES if c in into.index]
    assert [p.get_height() for p in by_column[0]] == pytest.approx(expected_left)
    assert [p.get_height() for p in by_column[1]] == pytest.approx(expected_right)
    # the node of a category is in its palette's colour; "new" and "not reported" grey
    grey = palette("series")["2"]
    assert (
        to_hex(by_column[0][0].get_facecolor()).upper() == palette("stage_group")[STAGE_GROUPS[0]]
    )
    assert to_hex(by_column[0][-1].get_facecolor()).upper() == grey  # new
    assert to_hex(by_column[1][-1].get_facecolor()).upper() == grey  # not reported
    # a band has the source's colour, translucent; it joins its two slices
    for band in bands(ax):
        assert 0.3 <= band.get_alpha() <= 0.6
    labels = texts(ax)
    assert f"{STAGE_GROUPS[0]} (14)" in [t.replace("\n", " ") for t in labels]
    assert "not reported (1)" in labels


def test_alluvial_node_order_follows_the_categories(ax):
    alluvial(FLOWS, ax=ax, categories=FLOW_CATEGORIES[::-1])
    left = nodes(ax)[0]
    colours = [to_hex(p.get_facecolor()).upper() for p in left]
    groups = palette("stage_group")
    expected = [
        palette("series")["2"],
        groups[STAGE_GROUPS[2]],
        groups[STAGE_GROUPS[1]],
        groups[STAGE_GROUPS[0]],
    ]
    assert colours == expected


def test_alluvial_hidden_flow_is_a_hatched_stub_and_no_number_gives_it_away(ax):
    alluvial(HIDDEN_FLOWS, ax=ax, categories=FLOW_CATEGORIES, hidden_label="<3")
    hatched_bands = [b for b in bands(ax) if b.get_hatch()]
    assert len(hatched_bands) == 1
    assert len(bands(ax)) == 4
    # a stub of fixed height: STUB_FRACTION of the tallest column (the 23 visible projects)
    ys = hatched_bands[0].get_path().vertices[:, 1]
    assert (ys[4] - ys[3]) == pytest.approx(STUB_FRACTION * 23)
    labels = texts(ax)
    assert "<3" in labels
    # the nodes the hidden flow touches (preclinical in 2023, clinical in 2024) show their
    # category and no number; the others keep their counts
    shown = sorted(t.replace("\n", " ") for t in labels if t != "<3")
    assert shown == sorted(
        [
            f"{STAGE_GROUPS[0]} (12)",
            STAGE_GROUPS[1],
            "new in 2024 (3)",
            f"{STAGE_GROUPS[0]} (15)",
            f"{STAGE_GROUPS[1]} (8)",
            STAGE_GROUPS[2],
            "12",
            "8",
            "3",
        ]
    )


def test_alluvial_hidden_flow_labels_and_numeric_labels(ax):
    labels = pd.Series(["12", "8", "x", "3"], index=HIDDEN_FLOWS.index)
    alluvial(HIDDEN_FLOWS, ax=ax, categories=FLOW_CATEGORIES, labels=labels)
    assert "x" in texts(ax)
    with pytest.raises(ValueError, match=r"hidden flow .* is a number"):
        alluvial(
            HIDDEN_FLOWS,
            ax=ax,
            categories=FLOW_CATEGORIES,
            labels=["12", "8", "2", "3"],
        )


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([(2023, "Somewhere else", 2024, STAGE_GROUPS[0], 2)], "unknown category"),
        ([(2022, STAGE_GROUPS[0], 2024, STAGE_GROUPS[0], 2)], "consecutive columns"),
        ([(2023, STAGE_GROUPS[0], 2024, STAGE_GROUPS[0], -1)], "negative"),
        ([(2023, STAGE_GROUPS[0], 2024, STAGE_GROUPS[0], 1)] * 2, "more than once"),
        ([(2023, STAGE_GROUPS[0], 2025, STAGE_GROUPS[0], 1)], "unknown column"),
    ],
)
def test_alluvial_refuses_bad_flows(ax, rows, message):
    with pytest.raises(ValueError, match=message):
        alluvial(flow_frame(rows), ax=ax, categories=FLOW_CATEGORIES, columns=[2022, 2023, 2024])


def test_alluvial_refuses_a_table_without_the_flow_columns(ax):
    with pytest.raises(ValueError, match="missing \\['projects'\\]"):
        alluvial(FLOWS.drop(columns="projects"), ax=ax, categories=FLOW_CATEGORIES)


def test_alluvial_three_columns_with_a_middle_node_of_in_and_out_flows(ax, tmp_path):
    flows = flow_frame(
        [
            (2022, STAGE_GROUPS[0], 2023, STAGE_GROUPS[0], 5),
            (2022, STAGE_GROUPS[0], 2023, STAGE_GROUPS[1], 2),
            (2022, "new", 2023, STAGE_GROUPS[0], 3),
            (2023, STAGE_GROUPS[0], 2024, STAGE_GROUPS[0], 6),
            (2023, STAGE_GROUPS[0], 2024, STAGE_GROUPS[1], 2),
            (2023, STAGE_GROUPS[1], 2024, STAGE_GROUPS[1], 2),
            (2023, "new", 2024, STAGE_GROUPS[0], 4),
        ]
    )
    alluvial(flows, ax=ax, categories=FLOW_CATEGORIES, xlabel="Survey wave")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2022", "2023", "2024"]
    assert len(bands(ax)) == len(flows)
    by_column = nodes(ax)
    assert sorted(by_column) == [0, 1, 2]
    # 2023: discovery 8 in and out, preclinical 2, "new in 2024" 4
    assert [p.get_height() for p in by_column[1]] == pytest.approx([8, 2, 4])
    assert [p.get_height() for p in by_column[2]] == pytest.approx([10, 4])
    assert "new in 2023 (3)" in texts(ax)
    assert "new in 2024 (4)" in texts(ax)
    ax.figure.set_size_inches(7.5, 4)
    ax.figure.set_layout_engine("constrained")
    target = tmp_path / "alluvial.png"
    ax.figure.savefig(target, dpi=80)
    assert target.stat().st_size > 1000
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_alluvial_stage_codes_find_the_stage_palette(ax):
    flows = flow_frame([(2023, 4, 2024, 5, 3), (2023, 4, 2024, 4, 2)])
    alluvial(flows, ax=ax, categories=[str(code) for code in range(1, 12)])
    left, right = nodes(ax)[0], nodes(ax)[1]
    assert to_hex(left[0].get_facecolor()).upper() == palette("stage")["4"]
    assert [to_hex(p.get_facecolor()).upper() for p in right] == [
        palette("stage")["4"],
        palette("stage")["5"],
    ]


def test_describe_flows_names_the_total_and_the_largest_flows():
    text = describe_flows(FLOWS, categories=FLOW_CATEGORIES)
    assert text.startswith("Alluvial chart of projects across 2023 and 2024 (26 projects)")
    assert f"{STAGE_GROUPS[0]} stayed 12" in text
    assert len(text) <= MAX_DESCRIPTION


def test_describe_flows_counts_hidden_flows_and_gives_no_total():
    text = describe_flows(HIDDEN_FLOWS, categories=FLOW_CATEGORIES)
    assert "(1 flow hidden)" in text
    assert "projects)" not in text
    assert not re.search(r"\b23\b", text)


# --------------------------------------------------------------------------- forecast figures

from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.container import BarContainer, ErrorbarContainer  # noqa: E402

from atmp_analysis.figures import interval_bars, interval_lines, tornado  # noqa: E402

#: Two events over three years; the approval of 2026 has its mean above its interval (a
#: quantile interval of whole counts can miss a small mean).
EVENTS_PER_YEAR = pd.DataFrame(
    {
        "calendar_year": [2025, 2026, 2027, 2025, 2026, 2027],
        "event": ["fih", "fih", "fih", "approval", "approval", "approval"],
        "mean": [1.0, 2.5, 3.0, 0.5, 0.1, 1.2],
        "low": [0.0, 1.0, 1.0, 0.0, 0.0, 0.0],
        "high": [2.0, 4.0, 6.0, 1.0, 0.0, 3.0],
    }
)
EVENT_NAMES = {"fih": "first-in-human", "approval": "approval"}
EVENT_COLOURS = {"fih": "#56B4E9", "approval": "#2B2B2B"}
#: One row per assumption, largest swing first; one result below the baseline.
SWINGS = pd.DataFrame(
    {
        "label": ["cta: chance", "cta: years", "discovery: chance"],
        "low": [1.3, 3.2, 2.6],
        "high": [3.8, 1.7, 2.8],
    }
)
BASELINE = 2.7
#: Three resources over three years (long format, as Demand.per_year gives).
RESOURCES_PER_YEAR = pd.DataFrame(
    {
        "calendar_year": [2025, 2026, 2027] * 3,
        "label": ["GMP"] * 3 + ["Vector"] * 3 + ["Regulatory"] * 3,
        "mean": [2.0, 2.5, 3.0, 1.0, 1.2, 1.5, 4.0, 4.5, 3.5],
        "low": [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 2.0, 3.0, 1.0],
        "high": [3.0, 4.0, 6.0, 2.0, 3.0, 3.0, 7.0, 7.0, 6.0],
    }
)
RESOURCE_ORDER = ["Regulatory", "GMP", "Vector"]

FORECAST_DRAWINGS = {
    "interval_bars": lambda ax: interval_bars(
        EVENTS_PER_YEAR, ax=ax, order=["fih", "approval"], names=EVENT_NAMES
    ),
    "tornado": lambda ax: tornado(SWINGS, ax=ax, baseline=BASELINE, xlabel="First-in-human"),
    "interval_lines": lambda ax: interval_lines(RESOURCES_PER_YEAR, ax=ax, order=RESOURCE_ORDER),
}


def containers(ax, kind) -> list:
    return [c for c in ax.containers if isinstance(c, kind)]


def whiskers(container: ErrorbarContainer) -> list[tuple[float, float, float]]:
    """(x, bottom, top) of each whisker of an errorbar."""
    [collection] = container.lines[2]
    assert isinstance(collection, LineCollection)
    out = []
    for segment in collection.get_segments():
        (x0, y0), (x1, y1) = segment
        assert x0 == pytest.approx(x1)
        out.append((float(x0), float(min(y0, y1)), float(max(y0, y1))))
    return out


def legend_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


@pytest.mark.parametrize("name", list(FORECAST_DRAWINGS))
def test_forecast_figures_draw_on_the_given_ax_only(name, ax, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    figures_before = plt.get_fignums()
    rc_before = dict(matplotlib.rcParams)
    result = FORECAST_DRAWINGS[name](ax)
    ax.figure.canvas.draw()
    assert result is ax
    assert plt.get_fignums() == figures_before
    assert dict(matplotlib.rcParams) == rc_before
    assert list(tmp_path.iterdir()) == []
    assert not ax.spines["top"].get_visible()
    assert not ax.spines["right"].get_visible()


def test_interval_bars_one_bar_per_series_and_year_at_the_mean(ax):
    interval_bars(
        EVENTS_PER_YEAR, ax=ax, order=["fih", "approval"], names=EVENT_NAMES, colours=EVENT_COLOURS
    )
    bars = containers(ax, BarContainer)
    assert len(bars) == 2
    assert all(len(container.patches) == 3 for container in bars)
    for container, event in zip(bars, ["fih", "approval"], strict=True):
        expected = EVENTS_PER_YEAR[EVENTS_PER_YEAR["event"] == event]["mean"].tolist()
        assert [p.get_height() for p in container.patches] == pytest.approx(expected)
        colours = {to_hex(p.get_facecolor()).upper() for p in container.patches}
        assert colours == {EVENT_COLOURS[event].upper()}
    # side by side within each year: the first series left of the second, around the tick
    centres = [[p.get_x() + p.get_width() / 2 for p in c.patches] for c in bars]
    for year in range(3):
        assert centres[0][year] < year < centres[1][year]
        assert centres[0][year] + centres[1][year] == pytest.approx(2 * year)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2025", "2026", "2027"]
    assert list(ax.get_xticks()) == [0, 1, 2]


def test_interval_bars_whiskers_span_the_interval(ax):
    interval_bars(EVENTS_PER_YEAR, ax=ax, order=["fih", "approval"])
    bars = containers(ax, BarContainer)
    errors = containers(ax, ErrorbarContainer)
    assert len(errors) == 2
    for bar, error, event in zip(bars, errors, ["fih", "approval"], strict=True):
        rows = EVENTS_PER_YEAR[EVENTS_PER_YEAR["event"] == event]
        found = whiskers(error)
        assert [x for x, _, _ in found] == pytest.approx(
            [p.get_x() + p.get_width() / 2 for p in bar.patches]
        )
        for (_, bottom, top), row in zip(found, rows.itertuples(), strict=True):
            if row.low <= row.mean <= row.high:
                assert (bottom, top) == pytest.approx((row.low, row.high))
            else:  # the mean outside its interval: the whisker never reaches past low..high
                assert bottom >= row.low - 1e-9
                assert bottom <= row.mean <= top + 1e-9


def test_interval_bars_legend_names_and_order(ax):
    interval_bars(EVENTS_PER_YEAR, ax=ax, order=["approval", "fih"], names={"fih": "FIH"})
    assert legend_texts(ax) == ["approval", "FIH"]  # a series without a name keeps its key
    first = containers(ax, BarContainer)[0]
    expected = EVENTS_PER_YEAR[EVENTS_PER_YEAR["event"] == "approval"]["mean"].tolist()
    assert [p.get_height() for p in first.patches] == pytest.approx(expected)


def test_interval_bars_default_order_is_first_appearance(ax):
    interval_bars(EVENTS_PER_YEAR, ax=ax, names=EVENT_NAMES)
    assert legend_texts(ax) == ["first-in-human", "approval"]


def test_interval_bars_order_can_leave_a_series_out(ax):
    interval_bars(EVENTS_PER_YEAR, ax=ax, order=["fih"])
    assert len(containers(ax, BarContainer)) == 1
    assert legend_texts(ax) == ["fih"]


@pytest.mark.parametrize("column", ["calendar_year", "event", "mean", "low", "high"])
def test_interval_bars_missing_column_is_an_error(ax, column):
    with pytest.raises(ValueError, match=f"interval_bars: missing column '{column}'"):
        interval_bars(EVENTS_PER_YEAR.drop(columns=column), ax=ax)


def test_tornado_bars_start_at_the_baseline_and_end_at_the_results(ax):
    tornado(SWINGS, ax=ax, baseline=BASELINE)
    low, high = containers(ax, BarContainer)
    for container, column in ((low, "low"), (high, "high")):
        assert len(container.patches) == len(SWINGS)
        for patch, value in zip(container.patches, SWINGS[column], strict=True):
            assert patch.get_x() == pytest.approx(BASELINE)
            assert patch.get_x() + patch.get_width() == pytest.approx(value)
    assert low.patches[0].get_facecolor() != high.patches[0].get_facecolor()
    # the baseline is drawn as a vertical line
    assert any(
        list(line.get_xdata()) == pytest.approx([BASELINE, BASELINE]) for line in ax.get_lines()
    )


def test_tornado_labels_top_to_bottom_in_the_table_s_order(ax):
    tornado(SWINGS, ax=ax, baseline=BASELINE)
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == SWINGS["label"].tolist()
    bottom, top = ax.get_ylim()
    assert bottom > top  # the first row is on top
    low, _ = containers(ax, BarContainer)
    rows = [p.get_y() + p.get_height() / 2 for p in low.patches]
    assert rows == pytest.approx([0, 1, 2])
    # on screen, row 0 above row 1 above row 2
    screen = [ax.transData.transform((BASELINE, y))[1] for y in rows]
    assert screen[0] > screen[1] > screen[2]


def test_tornado_legend_gives_the_names(ax):
    tornado(SWINGS, ax=ax, baseline=BASELINE, names=("lowered", "raised"), xlabel="FIH")
    assert legend_texts(ax) == ["lowered", "raised"]
    assert ax.get_xlabel() == "FIH"


def test_tornado_other_column_names(ax):
    table = SWINGS.rename(columns={"label": "what", "low": "fih_low", "high": "fih_high"})
    tornado(table, ax=ax, baseline=BASELINE, label="what", low="fih_low", high="fih_high")
    _, high = containers(ax, BarContainer)
    assert [p.get_x() + p.get_width() for p in high.patches] == pytest.approx(
        table["fih_high"].tolist()
    )


@pytest.mark.parametrize("column", ["label", "low", "high"])
def test_tornado_missing_column_is_an_error(ax, column):
    with pytest.raises(ValueError, match=f"tornado: missing column '{column}'"):
        tornado(SWINGS.drop(columns=column), ax=ax, baseline=BASELINE)


def test_interval_lines_one_line_per_series_in_order(ax):
    interval_lines(RESOURCES_PER_YEAR, ax=ax, order=RESOURCE_ORDER)
    lines = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert [line.get_label() for line in lines] == RESOURCE_ORDER
    assert legend_texts(ax) == RESOURCE_ORDER
    for line in lines:
        rows = RESOURCES_PER_YEAR[RESOURCES_PER_YEAR["label"] == line.get_label()]
        assert list(line.get_ydata()) == pytest.approx(rows["mean"].tolist())
    assert len({line.get_linestyle() for line in lines}) == len(lines)  # grey-scale safe
    assert len({to_hex(line.get_color()) for line in lines}) == len(lines)


def test_interval_lines_whiskers_are_offset_per_series_and_span_the_interval(ax):
    interval_lines(RESOURCES_PER_YEAR, ax=ax, order=RESOURCE_ORDER)
    errors = containers(ax, ErrorbarContainer)
    assert len(errors) == len(RESOURCE_ORDER)
    offsets = []
    for error, key in zip(errors, RESOURCE_ORDER, strict=True):
        rows = RESOURCES_PER_YEAR[RESOURCES_PER_YEAR["label"] == key]
        found = whiskers(error)
        shifts = {
            round(x - year, 6) for (x, _, _), year in zip(found, rows["calendar_year"], strict=True)
        }
        assert len(shifts) == 1  # one offset per series, the same every year
        offsets.append(shifts.pop())
        for (_, bottom, top), row in zip(found, rows.itertuples(), strict=True):
            assert (bottom, top) == pytest.approx((row.low, row.high))
    assert len(set(offsets)) == len(offsets)  # side by side, not on top of each other
    assert sum(offsets) == pytest.approx(0)  # centred on the year
    assert offsets == sorted(offsets)


def test_interval_lines_start_at_zero(ax):
    table = RESOURCES_PER_YEAR.assign(
        mean=RESOURCES_PER_YEAR["mean"] + 10,
        low=RESOURCES_PER_YEAR["low"] + 10,
        high=RESOURCES_PER_YEAR["high"] + 10,
    )
    interval_lines(table, ax=ax, ylabel="Projects needing it")
    assert ax.get_ylim()[0] == 0
    assert ax.get_ylim()[1] >= table["high"].max()
    assert ax.get_ylabel() == "Projects needing it"


def test_interval_lines_default_order_and_colours(ax):
    colours = {"GMP": "#3E5C76"}
    interval_lines(RESOURCES_PER_YEAR, ax=ax, colours=colours)
    assert legend_texts(ax) == ["GMP", "Vector", "Regulatory"]
    [gmp] = [line for line in ax.get_lines() if line.get_label() == "GMP"]
    assert to_hex(gmp.get_color()).upper() == "#3E5C76"


@pytest.mark.parametrize("column", ["calendar_year", "label", "mean", "low", "high"])
def test_interval_lines_missing_column_is_an_error(ax, column):
    with pytest.raises(ValueError, match=f"interval_lines: missing column '{column}'"):
        interval_lines(RESOURCES_PER_YEAR.drop(columns=column), ax=ax)
