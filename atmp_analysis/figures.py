"""The report's figures: colour-blind-safe palettes and plot functions that draw on an ``ax``.

The palettes are data (``data/reference/palettes.csv``): one for the ATMP classes (Okabe–Ito),
one ordered ramp for the development stages (viridis) and its stage groups, one for the
support horizons, a hatched light grey for hidden cells and neutral ``series`` colours. The
same class or stage has the same colour in every figure.

Plot functions follow seaborn's manner: they take the table and keyword-only options, draw
on the ``ax`` they are given and return it. They never create, size, save or show a figure
and never change ``rcParams``; that is the caller's job.

Tables are the report layer's count tables: rows (and columns) in display order, ``Int64``
counts, ``pd.NA`` where disclosure control hid a count, "Total" margins dropped here. A
hidden cell never reveals its value: it is drawn as a hatched stub of fixed length (a grey
hatched cell in a heatmap) with its label ("<3", "x"), and nothing is derived from it.
"""

from __future__ import annotations

import csv
import re
import textwrap
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import Colormap, Normalize, to_hex, to_rgb
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Patch, PathPatch, Rectangle
from matplotlib.path import Path as BezierPath
from matplotlib.ticker import MaxNLocator

from atmp_analysis.config import REFERENCE_DIR

__all__ = [
    "HIDDEN_LABEL",
    "NEW",
    "NOT_REPORTED",
    "PALETTES_FILE",
    "STUB_FRACTION",
    "alluvial",
    "bar_counts",
    "describe",
    "describe_flows",
    "funnel",
    "grouped_shares",
    "heatmap",
    "interval_bars",
    "interval_lines",
    "load_palettes",
    "palette",
    "stacked_bars",
    "tornado",
    "year_bars",
]

PALETTES_FILE = REFERENCE_DIR / "palettes.csv"
PALETTE_COLUMNS = ["palette", "key", "colour", "note"]
#: Palettes whose keys can name the columns of a stacked chart, tried in this order.
COLUMN_PALETTES = ("atmp_class", "stage_group", "horizon", "stage")

#: The margin row and column the plots drop.
TOTAL = "Total"
#: Text of a hidden cell when no label is given.
HIDDEN_LABEL = "x"
#: Length of the stub drawn for a hidden count, as a fraction of the longest visible bar.
STUB_FRACTION = 0.04
HATCH = "///"
HATCH_COLOUR = "#7A7A7A"
DARK_TEXT = "#1B1B1B"
LIGHT_TEXT = "#FFFFFF"
#: A zero cell in a heatmap: near-white, whatever the colormap, with grey text (4.5:1).
ZERO_FILL = "#F7F7F7"
ZERO_TEXT = "#6E6E6E"
#: Width (characters) at which category labels are wrapped; heatmap column labels are narrower.
WRAP = 28
WRAP_COLUMNS = 14
#: Longest alt text :func:`describe` returns.
MAX_DESCRIPTION = 300
#: Columns of the flows table :func:`alluvial` draws.
FLOW_COLUMNS = ("source_column", "source", "target_column", "target", "projects")
#: The alluvial chart's own categories, grey by default: projects first seen in the next
#: column (a node in the earlier column), and projects seen before but absent now.
NEW = "new"
NOT_REPORTED = "not reported"
#: Alluvial node width (columns are 1 apart), gap between nodes (a fraction of the tallest
#: column), opacity of the bands and the width at which node labels are wrapped.
NODE_WIDTH = 0.03
NODE_GAP = 0.04
BAND_ALPHA = 0.45
NODE_WRAP = 24

_HEX = re.compile(r"#[0-9A-Fa-f]{6}")
_DIGITS = re.compile(r"\s*\d[\d\s,.]*")


# --------------------------------------------------------------------------------- palettes


def load_palettes(path: str | Path | None = None) -> dict[str, dict[str, str]]:
    """Read and check the palettes file: ``{palette: {key: colour}}`` in file order.

    Parameters
    ----------
    path
        A CSV with the columns ``palette,key,colour,note``; ``None`` for the shipped
        ``data/reference/palettes.csv`` (read once and cached).

    Returns
    -------
    dict
        Every palette's colours (``#rrggbb``) by key, keys in the order of the file.

    Raises
    ------
    ValueError
        Naming the file and the line of every bad row: a colour that is not ``#rrggbb``,
        an empty palette or key, a key repeated within its palette, a wrong header.

    Examples
    --------
    >>> list(load_palettes()["horizon"])
    ['1-2 years', '3-5 years', '5-10 years']
    """
    if path is None:
        return {name: dict(colours) for name, colours in _shipped_palettes().items()}
    return _read_palettes(Path(path))


def palette(name: str) -> dict[str, str]:
    """The colours of one shipped palette, by key, in order.

    Parameters
    ----------
    name
        ``atmp_class``, ``stage`` (keys ``"1"`` … ``"11"``), ``stage_group``, ``horizon``,
        ``suppressed`` or ``series``.

    Returns
    -------
    dict
        A fresh ``{key: "#rrggbb"}`` (the file is read once).

    Examples
    --------
    >>> palette("atmp_class")["GTMP"]
    '#0072B2'
    >>> list(palette("stage"))[:3]
    ['1', '2', '3']
    """
    palettes = _shipped_palettes()
    if name not in palettes:
        raise ValueError(f"no palette {name!r} in {PALETTES_FILE}; there are {sorted(palettes)}")
    return dict(palettes[name])


@cache
def _shipped_palettes() -> dict[str, dict[str, str]]:
    return _read_palettes(PALETTES_FILE)


def _read_palettes(path: Path) -> dict[str, dict[str, str]]:
    palettes: dict[str, dict[str, str]] = {}
    first_seen: dict[tuple[str, str], int] = {}
    problems: list[str] = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [h.strip() for h in header] != PALETTE_COLUMNS:
            found = ",".join(header or [])
            raise ValueError(
                f"{path}, line 1: the header must be {','.join(PALETTE_COLUMNS)}, not {found!r}"
            )
        end = reader.line_num
        for row in reader:
            line, end = end + 1, reader.line_num
            if not row or not "".join(row).strip():
                continue
            if len(row) != len(PALETTE_COLUMNS):
                problems.append(f"line {line}: {len(row)} fields, not {len(PALETTE_COLUMNS)}")
                continue
            name, key, colour = (field.strip() for field in row[:3])
            where = f"line {line} (palette {name!r}, key {key!r})"
            if not name or not key:
                problems.append(f"{where}: the palette and the key must not be empty")
                continue
            if not _HEX.fullmatch(colour):
                problems.append(f"{where}: colour {colour!r} is not a hex colour like #0072B2")
                continue
            if (name, key) in first_seen:
                problems.append(f"{where}: duplicate key, already on line {first_seen[name, key]}")
                continue
            first_seen[name, key] = line
            palettes.setdefault(name, {})[key] = colour
    if problems:
        raise ValueError(f"{path}: bad palette rows:\n  " + "\n  ".join(problems))
    if not palettes:
        raise ValueError(f"{path}: no palettes")
    return palettes


def _suppressed_colour() -> str:
    return palette("suppressed")["suppressed"]


def _single_colour() -> str:
    return palette("series")["1"]


def _default_colours(keys: Iterable[Hashable]) -> dict[str, str]:
    """Colours for column keys: the palette that names them all, else the series colours."""
    names = [str(k) for k in keys]
    for name in COLUMN_PALETTES:
        colours = palette(name)
        if set(names) <= set(colours):
            return colours
    series = list(palette("series").values())
    if len(names) > len(series):
        ramp = colormaps["cividis"]
        series = [to_hex(ramp(x)).upper() for x in np.linspace(0.0, 0.9, len(names))]
    return dict(zip(names, series, strict=False))


def _colours_for(
    keys: Iterable[Hashable],
    colours: Mapping[str, str] | None,
    fallback: str | None,
    what: str,
) -> list[str]:
    """One colour per key, looked up as given and as text (stage code 3 finds ``"3"``)."""
    found: list[str] = []
    missing: list[str] = []
    for key in keys:
        colour = (colours or {}).get(str(key)) or fallback
        if colour is None:
            missing.append(str(key))
        found.append(colour or "")
    if missing:
        raise ValueError(f"no colour for the {what} {missing}: add them to colours")
    return found


def _luminance(colour: str) -> float:
    rgb = np.array(to_rgb(colour))
    linear = np.where(rgb <= 0.03928, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return float(linear @ [0.2126, 0.7152, 0.0722])


def _text_colour(background: str | tuple[float, ...]) -> str:
    """Dark or white text, whichever has the higher WCAG contrast on ``background``."""
    lum = _luminance(to_hex(background))
    on_light = 1.05 / (lum + 0.05)
    on_dark = (lum + 0.05) / (_luminance(DARK_TEXT) + 0.05)
    return LIGHT_TEXT if on_light > on_dark else DARK_TEXT


# ------------------------------------------------------------------------------- the tables


@dataclass(frozen=True)
class _Table:
    """A count table ready to draw: numbers (NaN where hidden), hidden mask, cell texts."""

    values: pd.DataFrame
    hidden: pd.DataFrame
    text: pd.DataFrame


def _as_frame(data: pd.DataFrame | pd.Series, what: str) -> pd.DataFrame:
    if isinstance(data, pd.Series):
        return data.to_frame()
    if isinstance(data, pd.DataFrame):
        return data
    raise TypeError(f"{what} must be a pandas DataFrame or Series, not {type(data).__name__}")


def _drop_totals(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(index=TOTAL, columns=TOTAL, errors="ignore")


def _number_text(value: float) -> str:
    if np.isnan(value):
        return ""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _share_text(value: float) -> str:
    return "n/a" if np.isnan(value) else f"{value:.0f}%"


def _prepare(
    data: pd.DataFrame | pd.Series,
    labels: pd.DataFrame | pd.Series | None = None,
    *,
    missing_text: str = HIDDEN_LABEL,
    formatter: Callable[[float], str] = _number_text,
) -> _Table:
    frame = _drop_totals(_as_frame(data, "data"))
    try:
        numbers = frame.apply(pd.to_numeric)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the table must hold numbers (NA where hidden): {exc}") from None
    values = pd.DataFrame(
        numbers.to_numpy(dtype=float, na_value=np.nan), index=frame.index, columns=frame.columns
    )
    if (values < 0).to_numpy().any():
        raise ValueError("the table holds a negative number; counts and shares are never negative")
    hidden = values.isna()
    text = values.map(formatter).mask(hidden, missing_text).astype(object)
    if labels is not None:
        given = _drop_totals(_as_frame(labels, "labels"))
        if given.shape[1] == 1 and frame.shape[1] == 1:
            given = given.set_axis(frame.columns, axis=1)
        given = given.reindex(index=frame.index, columns=frame.columns).astype("string")
        text = text.mask(given.notna(), given.astype(object))
        numeric = text.apply(lambda column: column.astype(str).str.fullmatch(_DIGITS.pattern))
        leaks = (hidden & numeric).stack()
        if leaks.any():
            row, col = leaks[leaks].index[0]
            raise ValueError(
                f"the label of the hidden cell (row {row!r}, column {col!r}) is a number, "
                f"{text.loc[row, col]!r}; a hidden cell is labelled like '<3' or 'x', never "
                "with a count"
            )
    return _Table(values=values, hidden=hidden, text=text)


def _one_column(table: _Table, what: str) -> tuple[pd.Series, pd.Series, pd.Series]:
    if table.values.shape[1] != 1:
        raise ValueError(
            f"{what} draws a table of one column, not {list(table.values.columns)}; "
            "use stacked_bars or heatmap for more"
        )
    return table.values.iloc[:, 0], table.hidden.iloc[:, 0], table.text.iloc[:, 0]


def _scale(largest: float) -> float:
    """The length stubs are measured against: the longest visible bar, at least 1."""
    return float(largest) if np.isfinite(largest) and largest > 0 else 1.0


def _wrap(label: Hashable, width: int = WRAP) -> str:
    return textwrap.fill(str(label), width=width, break_long_words=False) or str(label)


def _hatch(patches: Iterable[Patch]) -> None:
    for patch in patches:
        patch.set_facecolor(_suppressed_colour())
        patch.set_edgecolor(HATCH_COLOUR)
        patch.set_hatch(HATCH)
        patch.set_linewidth(0.6)


def _hidden_handle() -> Patch:
    return Patch(
        facecolor=_suppressed_colour(), edgecolor=HATCH_COLOUR, hatch=HATCH, label="hidden"
    )


def _category_axis(ax: Axes, categories: Sequence[Hashable]) -> None:
    """Categories top to bottom, wrapped; integer value ticks; no top or right spine."""
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_yticks(np.arange(len(categories)), [_wrap(c) for c in categories])
    if len(categories):
        ax.set_ylim(len(categories) - 0.5, -0.5)
    ax.tick_params(axis="y", length=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _legend_above(ax: Axes, handles: list, title: str | None, *, per_row: int = 4) -> None:
    """The legend in rows of ``per_row`` above the plot area, outside the bars."""
    ax.legend(
        handles=handles,
        title=title,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.02),
        ncols=min(len(handles), per_row),
        frameon=False,
        alignment="left",
    )


def _no_visible_values(ax: Axes, axis: str = "x") -> None:
    """Nothing visible: a scale from 0 to 1 without ticks (no number is suggested)."""
    if axis == "x":
        ax.set_xlim(0, 1)
        ax.set_xticks([])
    else:
        ax.set_ylim(0, 1)
        ax.set_yticks([])


# ----------------------------------------------------------------------------------- plots


def bar_counts(
    data: pd.DataFrame | pd.Series,
    *,
    ax: Axes,
    labels: pd.DataFrame | pd.Series | None = None,
    colours: Mapping[str, str] | None = None,
    colour: str | None = None,
    title: str | None = None,
    xlabel: str | None = "Projects",
) -> Axes:
    """Horizontal bars of a 1-D count table, the first category on top.

    Parameters
    ----------
    data
        Counts (``Int64``), index = categories in display order, one column; ``NA`` =
        hidden. A "Total" row is dropped.
    ax
        The axes to draw on.
    labels
        Text per cell (e.g. ``"<3"`` for a hidden count); default the numbers, and
        :data:`HIDDEN_LABEL` for a hidden cell without a label.
    colours
        Colour per category, e.g. ``palette("atmp_class")``; a category missing from it
        takes ``colour``, or is an error when ``colour`` is not given.
    colour
        One colour for every bar (default the first ``series`` colour).
    title, xlabel
        Axes title and value-axis label.

    Returns
    -------
    Axes
        ``ax``, with one bar per category (hidden ones a hatched stub of
        :data:`STUB_FRACTION` of the longest bar) and a label at each bar's end.
    """
    values, hidden, text = _one_column(_prepare(data, labels), "bar_counts")
    scale = _scale(values.max())
    widths = values.fillna(STUB_FRACTION * scale).to_numpy()
    if colours is not None:
        fills = _colours_for(values.index, colours, colour, "categories")
    else:
        fills = [colour or _single_colour()] * len(values)
    bars = ax.barh(np.arange(len(values)), widths, height=0.7, color=fills)
    _hatch(p for p, h in zip(bars, hidden, strict=True) if h)
    ax.bar_label(bars, labels=list(text), padding=3)
    _category_axis(ax, list(values.index))
    ax.margins(x=0.1)
    if not (~hidden).any():
        _no_visible_values(ax)
    if xlabel:
        ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title, loc="left")
    return ax


def funnel(
    data: pd.DataFrame | pd.Series,
    *,
    ax: Axes,
    labels: pd.DataFrame | pd.Series | None = None,
    colours: Mapping[str, str] | None = None,
) -> Axes:
    """A stage funnel: centred bars of the projects that reached at least each stage.

    Parameters
    ----------
    data
        Counts (``Int64``), index = stage labels in order (the first the widest), one
        column; ``NA`` = hidden. A "Total" row is dropped.
    ax
        The axes to draw on.
    labels
        Text per stage (e.g. ``"<3"``); default the numbers.
    colours
        Colour per stage label, e.g. the ``stage`` palette re-keyed by label; default one
        colour.

    Returns
    -------
    Axes
        ``ax``: a label inside each bar wide enough for it, else beside it; hidden stages a
        hatched stub with their label beside it.
    """
    values, hidden, text = _one_column(_prepare(data, labels), "funnel")
    scale = _scale(values.max())
    widths = values.fillna(STUB_FRACTION * scale).to_numpy()
    if colours is not None:
        fills = _colours_for(values.index, colours, None, "stages")
    else:
        fills = [_single_colour()] * len(values)
    y = np.arange(len(values))
    bars = ax.barh(y, widths, left=-widths / 2, height=0.8, color=fills)
    _hatch(p for p, h in zip(bars, hidden, strict=True) if h)
    for position, width, fill, is_hidden, label in zip(y, widths, fills, hidden, text, strict=True):
        if not is_hidden and width >= 0.15 * scale:
            ax.text(0, position, label, ha="center", va="center", color=_text_colour(fill))
        else:
            ax.annotate(
                label,
                xy=(width / 2, position),
                xytext=(4, 0),
                textcoords="offset points",
                ha="left",
                va="center",
            )
    _category_axis(ax, list(values.index))
    ax.set_xlim(-0.62 * scale, 0.62 * scale)
    ax.set_xticks([])
    ax.spines[["left", "bottom"]].set_visible(False)
    return ax


def heatmap(
    data: pd.DataFrame,
    *,
    ax: Axes,
    labels: pd.DataFrame | None = None,
    cmap: str | Colormap = "Blues",
    xlabel: str | None = None,
    ylabel: str | None = None,
) -> Axes:
    """An annotated heatmap of a 2-D count table.

    Parameters
    ----------
    data
        Counts (``Int64``), rows × columns in display order; ``NA`` = hidden. "Total"
        margins are dropped.
    ax
        The axes to draw on.
    labels
        Text per cell (``"<3"``, ``"x"``); default the numbers.
    cmap
        A sequential colormap (name or object), scaled from 0 to the largest visible count.
    xlabel, ylabel
        Axis labels.

    Returns
    -------
    Axes
        ``ax``: every cell labelled; hidden cells grey and hatched; zeros in the lightest
        colour with grey text; white text on dark cells; long column labels wrapped.
    """
    table = _prepare(data, labels)
    values = table.values.to_numpy()
    hidden = table.hidden.to_numpy()
    n_rows, n_cols = values.shape
    if values.size == 0:
        return ax
    texts = table.text.to_numpy()
    colormap = colormaps[cmap] if isinstance(cmap, str) else cmap
    largest = np.nanmax(values) if (~hidden).any() else np.nan
    norm = Normalize(vmin=0, vmax=_scale(largest))
    # hidden and zero cells are masked: zeros light whatever the colormap, hidden hatched
    ax.imshow(
        np.ma.masked_where(hidden | (values == 0), values),
        cmap=colormap.with_extremes(bad=ZERO_FILL),
        norm=norm,
        aspect="auto",
        interpolation="nearest",
    )
    for row, col in np.argwhere(hidden):
        ax.add_patch(
            Rectangle(
                (col - 0.5, row - 0.5),
                1,
                1,
                facecolor=_suppressed_colour(),
                edgecolor=HATCH_COLOUR,
                hatch=HATCH,
                linewidth=0,
            )
        )
    for (row, col), value in np.ndenumerate(values):
        if hidden[row, col]:
            colour = DARK_TEXT
        elif value == 0:
            colour = ZERO_TEXT
        else:
            colour = _text_colour(colormap(norm(value)))
        ax.text(col, row, texts[row, col], ha="center", va="center", color=colour)
    columns = [_wrap(c, WRAP_COLUMNS) for c in table.values.columns]
    if n_cols > 6:
        ax.set_xticks(range(n_cols), columns, rotation=45, ha="right", rotation_mode="anchor")
    else:
        ax.set_xticks(range(n_cols), columns)
    ax.set_yticks(range(n_rows), [_wrap(r) for r in table.values.index])
    ax.set_xticks(np.arange(n_cols + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(n_rows + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", linewidth=2)
    ax.tick_params(which="both", length=0)
    ax.spines[:].set_visible(False)
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    return ax


def _hidden_texts(table: _Table, sep: str) -> pd.Series:
    """Per row with hidden cells: ``"<column> <label>"`` of each hidden cell, joined."""
    named = table.text.apply(lambda column: str(column.name) + " " + column.astype(str))
    return named.where(table.hidden).stack().dropna().groupby(level=0, sort=False).agg(sep.join)


def _stacked(ax: Axes, table: _Table, fills: list[str], *, horizontal: bool) -> list[Patch]:
    """Stacked segments, one hatched stub per row with hidden cells, a label at each end.

    Returns the legend handles: one per column, and "hidden" when a stub was drawn.
    """
    visible = table.values.fillna(0)
    starts = visible.cumsum(axis=1) - visible
    sums = visible.sum(axis=1)
    row_hidden = table.hidden.any(axis=1)
    scale = _scale(sums.max())
    stub = STUB_FRACTION * scale
    if horizontal:
        positions = np.arange(len(visible), dtype=float)
        draw, offset = ax.barh, "left"
    else:
        positions = table.values.index.to_numpy(dtype=float)
        draw, offset = ax.bar, "bottom"
    handles: list[Patch] = []
    for fill, column in zip(fills, visible.columns, strict=True):
        bars = draw(
            positions,
            visible[column].to_numpy(),
            0.7,
            color=fill,
            **{offset: starts[column].to_numpy()},
        )
        wide = ~table.hidden[column] & (visible[column] >= 0.08 * scale)
        inside = table.text[column].where(wide, "")
        ax.bar_label(bars, labels=list(inside), label_type="center", color=_text_colour(fill))
        handles.append(Patch(facecolor=fill, label=str(column)))
    ends = sums.map(_number_text).astype(object)
    if row_hidden.any():
        stubs = draw(
            positions[row_hidden.to_numpy()],
            stub,
            0.7,
            **{offset: sums[row_hidden].to_numpy()},
        )
        _hatch(stubs)
        handles.append(_hidden_handle())
        texts = _hidden_texts(table, "; " if horizontal else "\n")
        ends[texts.index] = texts
    lengths = sums.to_numpy() + np.where(row_hidden, stub, 0.0)
    for position, length, text in zip(positions, lengths, ends, strict=True):
        if horizontal:
            ax.annotate(
                text,
                xy=(length, position),
                xytext=(3, 0),
                textcoords="offset points",
                ha="left",
                va="center",
            )
        else:
            ax.annotate(
                text,
                xy=(position, length),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                va="bottom",
            )
    return handles


def stacked_bars(
    data: pd.DataFrame,
    *,
    ax: Axes,
    colours: Mapping[str, str] | None = None,
    labels: pd.DataFrame | None = None,
    xlabel: str | None = "Projects",
    legend_title: str | None = None,
) -> Axes:
    """Horizontal stacked bars: rows = categories, columns = groups stacked in order.

    Parameters
    ----------
    data
        Counts (``Int64``), rows (e.g. support needs) × columns (e.g. horizons or stage
        groups); ``NA`` = hidden. "Total" margins are dropped.
    ax
        The axes to draw on.
    colours
        Colour per column key; default the palette whose keys name every column
        (``atmp_class``, ``stage_group``, ``horizon``, ``stage``), else the ``series``
        colours.
    labels
        Text per cell; default the numbers.
    xlabel, legend_title
        Value-axis label and the legend's title.

    Returns
    -------
    Axes
        ``ax``: visible segments labelled inside when wide enough, the row total at the end
        of a fully visible row; a row with hidden cells ends in one hatched stub of fixed
        length labelled with the hidden cells (``"3-5 years <3"``) and shows no total. The
        legend is above the plot area.
    """
    table = _prepare(data, labels)
    fills = _colours_for(
        table.values.columns, colours or _default_colours(table.values.columns), None, "columns"
    )
    handles = _stacked(ax, table, fills, horizontal=True)
    _category_axis(ax, list(table.values.index))
    ax.margins(x=0.1)
    if not (~table.hidden).to_numpy().any():
        _no_visible_values(ax)
    if xlabel:
        ax.set_xlabel(xlabel)
    _legend_above(ax, handles, legend_title)
    return ax


def year_bars(
    data: pd.DataFrame | pd.Series,
    *,
    ax: Axes,
    colours: Mapping[str, str] | None = None,
    labels: pd.DataFrame | pd.Series | None = None,
    xlabel: str | None = "Year",
    ylabel: str | None = "Projects",
    legend_title: str | None = None,
) -> Axes:
    """Vertical bars of counts per year, stacked by column (e.g. ATMP class).

    Parameters
    ----------
    data
        Counts (``Int64``), index = years (integers), columns stacked bottom to top;
        ``NA`` = hidden. "Total" margins are dropped.
    ax
        The axes to draw on.
    colours
        Colour per column key; default as in :func:`stacked_bars`.
    labels
        Text per cell; default the numbers.
    xlabel, ylabel, legend_title
        Axis labels and the legend's title.

    Returns
    -------
    Axes
        ``ax``: one bar per year at its year (gaps between years stay visible), the total
        above a fully visible bar; a bar with hidden cells ends in a hatched stub labelled
        with them. The legend is above the plot area.
    """
    table = _prepare(data, labels)
    try:
        years = pd.Index(pd.to_numeric(table.values.index), dtype="int64")
    except (TypeError, ValueError):
        raise ValueError("year_bars needs years (integers) as the index") from None
    table = _Table(
        **{name: getattr(table, name).set_axis(years) for name in ("values", "hidden", "text")}
    )
    fills = _colours_for(
        table.values.columns, colours or _default_colours(table.values.columns), None, "columns"
    )
    handles = _stacked(ax, table, fills, horizontal=False)
    ax.spines[["top", "right"]].set_visible(False)
    if len(years) <= 15:
        ax.set_xticks(years, [str(y) for y in years])
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(axis="x", length=0)
    ax.margins(y=0.12)
    if not (~table.hidden).to_numpy().any():
        _no_visible_values(ax, axis="y")
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if table.values.shape[1] > 1 or table.hidden.to_numpy().any():
        _legend_above(ax, handles, legend_title)
    return ax


def grouped_shares(
    data: pd.DataFrame,
    *,
    ax: Axes,
    colours: Mapping[str, str] | None = None,
    xlabel: str | None = "Share of projects (%)",
    legend_title: str | None = None,
) -> Axes:
    """Grouped horizontal bars of percentages, for comparisons with benchmarks.

    Parameters
    ----------
    data
        Percentages (floats, 0–100), rows = categories (e.g. GTMP, sCTMP, TEP), columns =
        sources (e.g. "This centre 2023", "UK Catapult 2023 (clinical trials)"); ``NaN`` =
        not available. "Total" margins are dropped.
    ax
        The axes to draw on.
    colours
        Colour per source; default the ``series`` colours (the first for the first column).
    xlabel, legend_title
        Value-axis label and the legend's title.

    Returns
    -------
    Axes
        ``ax``: one bar per category and source labelled ``"12%"``; a missing share draws
        no bar and the label ``"n/a"``. The legend is above the plot area.
    """
    table = _prepare(data, missing_text="n/a", formatter=_share_text)
    if (table.values > 100).to_numpy().any():
        raise ValueError("grouped_shares draws percentages (0–100); a share is above 100")
    columns = table.values.columns
    fills = _colours_for(columns, colours or _default_colours(columns), None, "sources")
    n_rows, n_cols = table.values.shape
    height = 0.8 / max(n_cols, 1)
    handles: list[Patch] = []
    for j, (fill, column) in enumerate(zip(fills, columns, strict=True)):
        positions = np.arange(n_rows) - 0.4 + height * (j + 0.5)
        bars = ax.barh(positions, table.values[column].fillna(0).to_numpy(), height, color=fill)
        ax.bar_label(bars, labels=list(table.text[column]), padding=3)
        handles.append(Patch(facecolor=fill, label=str(column)))
    _category_axis(ax, list(table.values.index))
    ax.xaxis.set_major_locator(MaxNLocator(steps=[1, 2, 5, 10]))
    ax.margins(x=0.1)
    if xlabel:
        ax.set_xlabel(xlabel)
    _legend_above(ax, handles, legend_title)
    return ax


# -------------------------------------------------------------------------------- alluvial


def _key(value: object) -> str:
    """A column or category as text, whole numbers without ".0" (2023.0 and 2023 match)."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _positions(values: pd.Series, keys: Sequence[Hashable], what: str) -> np.ndarray:
    """Each value's position among ``keys``, matched as text (stage code 4 finds ``"4"``)."""
    lookup = {_key(k): i for i, k in enumerate(keys)}
    if len(lookup) < len(keys):
        raise ValueError(f"the {what}s {[_key(k) for k in keys]} name one twice")
    missing = values.isna().to_numpy()
    if missing.any():
        raise ValueError(f"a flow has no {what} (row {values.index[missing][0]!r})")
    found = np.array([lookup.get(_key(v), -1) for v in values.astype(object)], dtype=int)
    if (found < 0).any():
        unknown = list(dict.fromkeys(_key(v) for v in values[found < 0].astype(object)))
        raise ValueError(f"unknown {what} {unknown} in the flows; the {what}s are {list(lookup)}")
    return found


def _flow_table(
    flows: pd.DataFrame,
    columns: Sequence[Hashable] | None,
    categories: Sequence[Hashable],
    labels: pd.Series | Sequence[str] | None,
    missing_text: str,
) -> tuple[list[Hashable], pd.DataFrame]:
    """The columns, and the flows to draw by position: ``col`` (of the source), ``source``,
    ``target``, ``value`` (NaN where hidden), ``hidden`` and ``text``; zero flows dropped."""
    if not isinstance(flows, pd.DataFrame):
        raise TypeError(f"flows must be a pandas DataFrame, not {type(flows).__name__}")
    absent = [c for c in FLOW_COLUMNS if c not in flows.columns]
    if absent:
        raise ValueError(f"the flows need the columns {list(FLOW_COLUMNS)}; missing {absent}")
    if columns is None:
        ends = pd.concat([flows["source_column"], flows["target_column"]]).dropna()
        columns = sorted(ends.unique().tolist())
    columns = list(columns)
    start = _positions(flows["source_column"], columns, "column")
    end = _positions(flows["target_column"], columns, "column")
    skips = np.flatnonzero(end - start != 1)
    if len(skips):
        first = skips[0]
        raise ValueError(
            f"flows join consecutive columns only ({', '.join(_key(c) for c in columns)}); "
            f"one goes from {_key(columns[start[first]])} to {_key(columns[end[first]])}"
        )
    source = _positions(flows["source"], categories, "category")
    target = _positions(flows["target"], categories, "category")
    try:
        numbers = pd.to_numeric(flows["projects"])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"projects must be counts (NA where hidden): {exc}") from None
    value = numbers.to_numpy(dtype=float, na_value=np.nan)
    if (value < 0).any():
        row = flows.index[np.flatnonzero(value < 0)[0]]
        raise ValueError(f"the flow in row {row!r} has a negative count; counts are never negative")
    hidden = np.isnan(value)
    text = pd.Series([_number_text(v) for v in value], index=flows.index, dtype=object)
    text[hidden] = missing_text
    if labels is not None:
        if isinstance(labels, pd.Series):
            given = labels.reindex(flows.index)
        elif len(labels) == len(flows):
            given = pd.Series(list(labels), index=flows.index)
        else:
            raise ValueError(f"{len(labels)} labels for {len(flows)} flows")
        given = given.astype("string")
        text = text.mask(given.notna().to_numpy(), given.astype(object))
        leaks = hidden & text.astype(str).str.fullmatch(_DIGITS.pattern).to_numpy()
        if leaks.any():
            row = flows.index[np.flatnonzero(leaks)[0]]
            raise ValueError(
                f"the label of the hidden flow in row {row!r} is a number, {text[row]!r}; a "
                "hidden flow is labelled like '<3' or 'x', never with a count"
            )
    table = pd.DataFrame(
        {"col": start, "source": source, "target": target, "value": value, "hidden": hidden}
    ).assign(text=text.to_numpy())
    twice = table.duplicated(["col", "source", "target"], keep=False).to_numpy()
    if twice.any():
        row = flows.iloc[np.flatnonzero(twice)[0]]
        raise ValueError(
            f"the flow from {row['source']!r} in {_key(row['source_column'])} to "
            f"{row['target']!r} in {_key(row['target_column'])} is listed more than once"
        )
    return columns, table[table["hidden"] | (table["value"] > 0)].reset_index(drop=True)


def _alluvial_colours(
    categories: Sequence[Hashable], colours: Mapping[Hashable, str] | None, used: Iterable[int]
) -> dict[int, str]:
    """By position, the colours of the categories ``used``: the given colours over the
    defaults (stage groups, stage codes, grey for new and not reported)."""
    grey = palette("series")["2"]
    known = {**palette("stage"), **palette("stage_group"), NEW: grey, NOT_REPORTED: grey}
    known.update({_key(k): v for k, v in (colours or {}).items()})
    positions = sorted(set(used))
    found = _colours_for([_key(categories[i]) for i in positions], known, None, "categories")
    return dict(zip(positions, found, strict=True))


def _layout(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """Nodes (``top``, ``height``, ``count``, ``hidden`` by column and category), the flows
    with their drawn ``height`` and slice tops ``y0`` (source) and ``y1`` (target), and the
    tallest column's height; y grows downwards."""
    flows = table.copy()
    visible = flows["value"].fillna(0.0)
    per_column = pd.concat(
        [visible.groupby(flows["col"]).sum(), visible.groupby(flows["col"] + 1).sum()], axis=1
    )
    scale = _scale(per_column.max(axis=1).max() if len(flows) else np.nan)
    flows["height"] = flows["value"].fillna(STUB_FRACTION * scale)

    def side(col: pd.Series, cat: pd.Series) -> pd.DataFrame:
        frame = pd.DataFrame(
            {
                "col": col,
                "cat": cat,
                "height": flows["height"],
                "value": visible,
                "hidden": flows["hidden"],
            }
        )
        return frame.groupby(["col", "cat"]).agg(
            height=("height", "sum"), value=("value", "sum"), hidden=("hidden", "any")
        )

    out = side(flows["col"], flows["source"])
    into = side(flows["col"] + 1, flows["target"])
    both = out.add_suffix("_out").join(into.add_suffix("_in"), how="outer").sort_index()
    filled = both.fillna({"height_out": 0.0, "height_in": 0.0, "value_out": 0.0, "value_in": 0.0})
    nodes = pd.DataFrame(
        {
            "height": np.maximum(filled["height_out"], filled["height_in"]),
            "count": np.maximum(filled["value_out"], filled["value_in"]),
            "hidden": filled["hidden_out"].eq(True) | filled["hidden_in"].eq(True),
        },
        index=both.index,
    )
    gap = NODE_GAP * scale
    by_col = nodes.groupby(level="col")["height"]
    step = nodes["height"] + gap
    totals = by_col.sum() + gap * (by_col.size() - 1)
    tallest = float(totals.max()) if len(totals) else 0.0
    offset = ((tallest - totals) / 2).reindex(nodes.index.get_level_values("col"))
    nodes["top"] = (step.groupby(level="col").cumsum() - step).to_numpy() + offset.to_numpy()

    def slice_tops(col: pd.Series, node: str, other: str) -> pd.Series:
        order = flows.sort_values(["col", node, other]).index
        ordered = flows.loc[order]
        keys = pd.MultiIndex.from_arrays([col.loc[order], ordered[node]])
        within = ordered.groupby(["col", node])["height"].cumsum() - ordered["height"]
        return pd.Series(nodes["top"].reindex(keys).to_numpy() + within.to_numpy(), index=order)

    flows["y0"] = slice_tops(flows["col"], "source", "target")
    flows["y1"] = slice_tops(flows["col"] + 1, "target", "source")
    return nodes, flows.sort_values(["col", "source", "target"]), tallest


def _band_path(x0: float, x1: float, y0: float, y1: float, height: float) -> BezierPath:
    """A band from the slice ``[y0, y0 + height]`` at ``x0`` to ``[y1, y1 + height]`` at
    ``x1``: two cubic Béziers, flat at both ends, joined by straight edges."""
    middle = (x0 + x1) / 2
    vertices = [
        (x0, y0),
        (middle, y0),
        (middle, y1),
        (x1, y1),
        (x1, y1 + height),
        (middle, y1 + height),
        (middle, y0 + height),
        (x0, y0 + height),
        (x0, y0),
    ]
    codes = [
        BezierPath.MOVETO,
        *[BezierPath.CURVE4] * 3,
        BezierPath.LINETO,
        *[BezierPath.CURVE4] * 3,
        BezierPath.CLOSEPOLY,
    ]
    return BezierPath(vertices, codes)


def _spread(centres: Sequence[float], sizes: Sequence[float], bottom: float) -> list[float]:
    """Label centres as near ``centres`` as they go without overlapping (y grows down)."""
    placed = list(centres)
    for k in range(1, len(placed)):
        placed[k] = max(placed[k], placed[k - 1] + (sizes[k - 1] + sizes[k]) / 2)
    if placed:
        placed[-1] = min(placed[-1], bottom - sizes[-1] / 2)
    for k in range(len(placed) - 2, -1, -1):
        placed[k] = min(placed[k], placed[k + 1] - (sizes[k] + sizes[k + 1]) / 2)
    return placed


def _on_white(colour: str, alpha: float) -> tuple[float, float, float]:
    rgb = np.array(to_rgb(colour))
    red, green, blue = alpha * rgb + (1 - alpha) * np.ones(3)
    return (red, green, blue)


def alluvial(
    flows: pd.DataFrame,
    *,
    ax: Axes,
    categories: Sequence[Hashable],
    columns: Sequence[Hashable] | None = None,
    colours: Mapping[Hashable, str] | None = None,
    labels: pd.Series | Sequence[str] | None = None,
    hidden_label: str = HIDDEN_LABEL,
    xlabel: str | None = None,
) -> Axes:
    """An alluvial (Sankey) chart: projects' categories in each column and the flows between.

    Parameters
    ----------
    flows
        One row per flow between consecutive columns: ``source_column``, ``source``,
        ``target_column``, ``target`` and ``projects`` (``Int64``; ``NA`` = hidden), e.g.
        2 projects from "Preclinical and CTA-enabling" in 2023 to "Clinical trial
        application and Phase I" in 2024. Zero flows are left out. Projects first seen in
        the later wave flow from :data:`NEW` in the earlier column (its node is labelled
        "new in 2024"); projects seen before but absent flow to :data:`NOT_REPORTED`.
    ax
        The axes to draw on. The outer columns' labels stand outside the axes like tick
        labels, so give the figure a layout engine (``layout="constrained"``); which labels
        fit is judged at the axes' size when drawn, so size the figure first.
    categories
        The nodes' categories, top to bottom (stage groups, stage codes, ``"new"``, ``"not
        reported"``); matched as text, so stage code 4 finds ``"4"``.
    columns
        The columns (survey waves) left to right; default the sorted columns of ``flows``.
    colours
        Colour per category, over the defaults: the ``stage_group`` palette, the ``stage``
        palette for stage codes, the ``series`` grey for "new" and "not reported".
    labels
        Text per flow (aligned with ``flows``' rows), e.g. ``"<3"`` or ``"x"`` for hidden
        flows; default the numbers, and ``hidden_label`` for a hidden flow.
    hidden_label
        Text of a hidden flow without a label.
    xlabel
        Label under the chart.

    Returns
    -------
    Axes
        ``ax``: per column, stacked node bars as tall as the projects in each category (the
        larger of their in- and out-flows), labelled with the category and its count (left
        column on the left, the others on the right); between consecutive columns a band
        per flow from the source's slice to the target's, in the source's colour, its count
        at its end when the band is tall enough. A hidden flow is a hatched grey band of
        fixed height (:data:`STUB_FRACTION` of the tallest column) labelled with its label;
        a node with a hidden flow shows its category without a count (the visible flows
        are printed, so hiding enough flows that none can be worked out from them is the
        secondary suppression of the caller). The columns are headed above; no y axis, no
        spines.

    Raises
    ------
    ValueError
        For a missing column of ``flows``, an unknown column or category, a flow that skips
        a column, a flow listed twice, a negative count, a numeric label on a hidden flow
        or a category without a colour.
    """
    categories = list(categories)
    columns, table = _flow_table(flows, columns, categories, labels, hidden_label)
    fills = _alluvial_colours(categories, colours, [*table["source"], *table["target"]])
    nodes, bands, tallest = _layout(table)
    width = NODE_WIDTH
    ax.spines[:].set_visible(False)
    ax.set_yticks([])
    ax.set_xticks(range(len(columns)), [_key(c) for c in columns], fontweight="bold")
    ax.xaxis.set_ticks_position("top")
    ax.tick_params(axis="x", length=0, pad=2)
    if xlabel:
        ax.set_xlabel(xlabel)
    pad = 0.01 * max(tallest, 1.0)
    ax.set_ylim(tallest + pad, -pad)
    ax.set_xlim(-0.5, len(columns) - 0.5)
    if nodes.empty:
        return ax
    # data units of y per point, at the axes' size now
    per_point = (tallest + 2 * pad) / max(ax.bbox.height * 72 / ax.figure.dpi, 1.0)

    font = FontProperties(size="x-small")
    for band in bands.itertuples():
        patch = PathPatch(
            _band_path(
                band.col + width / 2, band.col + 1 - width / 2, band.y0, band.y1, band.height
            ),
            facecolor=fills[band.source],
            alpha=BAND_ALPHA,
            edgecolor="none",
            linewidth=0,
            zorder=1,
        )
        ax.add_patch(patch)
        if band.hidden:
            _hatch([patch])
            patch.set_alpha(None)
            patch.set_facecolor((*to_rgb(_suppressed_colour()), 0.8))
        if band.height / per_point >= (0.8 if band.hidden else 1.05) * font.get_size_in_points():
            background = (
                _suppressed_colour() if band.hidden else _on_white(fills[band.source], BAND_ALPHA)
            )
            label = ax.annotate(
                band.text,
                xy=(band.col + 1 - width / 2, band.y1 + band.height / 2),
                xytext=(-3, 0),
                textcoords="offset points",
                ha="right",
                va="center",
                fontproperties=font,
                color=DARK_TEXT if band.hidden else _text_colour(background),
                zorder=3,
            )
            if band.hidden:
                label.set_bbox({"facecolor": background, "edgecolor": "none", "pad": 0.5})

    font = FontProperties(size="small")
    line = 1.2 * font.get_size_in_points() * per_point
    last = len(columns) - 1
    for col, group in nodes.groupby(level="col"):
        names = []
        for (_, cat), node in group.iterrows():
            ax.add_patch(
                Rectangle(
                    (col - width / 2, node["top"]),
                    width,
                    node["height"],
                    facecolor=fills[cat],
                    edgecolor="none",
                    zorder=2,
                )
            )
            name = _key(categories[cat])
            if name == NEW and col < last:
                name = f"{NEW} in {_key(columns[col + 1])}"
            text = textwrap.fill(name, NODE_WRAP, break_long_words=False, break_on_hyphens=False)
            if not node["hidden"]:
                text += f" ({_number_text(node['count'])})"
            names.append(text)
        centres = (group["top"] + group["height"] / 2).tolist()
        sizes = [line * (text.count("\n") + 1) for text in names]
        side = "left" if col == 0 else "right"
        for text, y in zip(names, _spread(centres, sizes, tallest + pad), strict=True):
            label = ax.annotate(
                text,
                xy=(col - width / 2 if side == "left" else col + width / 2, y),
                xytext=(-4 if side == "left" else 4, 0),
                textcoords="offset points",
                ha="right" if side == "left" else "left",
                va="center",
                fontproperties=font,
                linespacing=1.0,
                color=DARK_TEXT,
                zorder=4,
                annotation_clip=False,
            )
            if 0 < col < last:
                label.set_bbox({"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 1})
    # the outer labels stand outside the axes, like tick labels: the layout makes room
    ax.set_xlim(-width / 2 - 0.005, last + width / 2 + 0.005)
    return ax


# -------------------------------------------------------------------------------- alt text


def _shorten(text: str, limit: int = MAX_DESCRIPTION) -> str:
    """Cut ``text`` to ``limit`` characters at an item boundary, ending with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    boundary = max(cut.rfind(", "), cut.rfind("; "))
    if boundary > limit // 2:
        cut = cut[:boundary]
    return cut.rstrip() + "…"


def describe(
    data: pd.DataFrame | pd.Series,
    labels: pd.DataFrame | pd.Series | None = None,
    *,
    what: str,
    kind: str | None = None,
) -> str:
    """Alt text for a figure of ``data``, in plain words, from the table itself.

    Parameters
    ----------
    data
        The table the figure draws (1-D or 2-D counts; ``NA`` = hidden).
    labels
        The texts the figure prints; hidden cells are described by their label only.
    what
        What is counted, e.g. ``"projects by ATMP class"``.
    kind
        The kind of figure; default ``"Bar chart"`` for one column, ``"Heatmap"`` for more.

    Returns
    -------
    str
        At most :data:`MAX_DESCRIPTION` characters, cut with "…" when longer.

    Examples
    --------
    >>> counts = pd.DataFrame(
    ...     {"Projects": pd.array([13, 7, 3, None], dtype="Int64")},
    ...     index=["GTMP", "TEP", "sCTMP", "cATMP"],
    ... )
    >>> describe(counts, counts["Projects"].astype("string").fillna("<3"),
    ...          what="projects by ATMP class")
    'Bar chart of projects by ATMP class: GTMP 13, TEP 7, sCTMP 3, cATMP <3.'
    """
    table = _prepare(data, labels)
    n_rows, n_cols = table.values.shape
    if n_rows == 0 or n_cols == 0:
        return _shorten(f"{kind or 'Chart'} of {what}: no data.")
    if n_cols == 1:
        texts = table.text.iloc[:, 0]
        items = ", ".join(f"{key} {text}" for key, text in texts.items())
        return _shorten(f"{kind or 'Bar chart'} of {what}: {items}.")
    values = table.values.to_numpy()
    n_hidden = int(table.hidden.to_numpy().sum())
    head = f"{kind or 'Heatmap'} of {what}: {n_rows} rows × {n_cols} columns"
    if n_hidden == values.size:
        return _shorten(f"{head}; every cell hidden.")
    row, col = np.unravel_index(np.nanargmax(values), values.shape)
    largest = (
        f"largest cell {table.values.index[row]} × {table.values.columns[col]} "
        f"({table.text.iloc[row, col]})"
    )
    hidden = "" if n_hidden == 0 else f"; {n_hidden} cell{'s' * (n_hidden > 1)} hidden"
    return _shorten(f"{head}; {largest}{hidden}.")


def describe_flows(
    flows: pd.DataFrame,
    *,
    categories: Sequence[Hashable] | None = None,
    columns: Sequence[Hashable] | None = None,
    what: str = "projects",
    kind: str = "Alluvial chart",
    largest: int = 4,
) -> str:
    """Alt text for :func:`alluvial` of ``flows``: the columns, the total and the largest flows.

    Parameters
    ----------
    flows
        The flows the chart draws (``NA`` = hidden); see :func:`alluvial`.
    categories, columns
        As given to :func:`alluvial` (checked the same way); default the categories in
        order of appearance and the sorted columns.
    what, kind
        What is counted and the kind of figure.
    largest
        How many of the largest visible flows to name.

    Returns
    -------
    str
        At most :data:`MAX_DESCRIPTION` characters. The number of projects is the largest
        sum of flows between two columns, given only when no flow is hidden; hidden flows
        are counted, never valued.

    Examples
    --------
    >>> flows = pd.DataFrame({
    ...     "source_column": [2023] * 4, "target_column": [2024] * 4,
    ...     "source": ["Discovery", "Discovery", "Preclinical", "new"],
    ...     "target": ["Discovery", "Preclinical", "Preclinical", "Discovery"],
    ...     "projects": pd.array([6, 4, 9, None], dtype="Int64")})
    >>> print(describe_flows(flows))  # doctest: +NORMALIZE_WHITESPACE
    Alluvial chart of projects across 2023 and 2024 (1 flow hidden); largest flows:
    Preclinical stayed 9, Discovery stayed 6, Discovery to Preclinical 4.
    """
    if categories is None:
        ends = pd.concat([flows["source"], flows["target"]]).dropna()
        categories = list(dict.fromkeys(ends.tolist()))
    categories = list(categories)
    columns, table = _flow_table(flows, columns, categories, None, HIDDEN_LABEL)
    if len(columns) > 1:
        across = ", ".join(_key(c) for c in columns[:-1]) + f" and {_key(columns[-1])}"
    else:
        across = ", ".join(_key(c) for c in columns)
    head = f"{kind} of {what} across {across}"
    if table.empty:
        return _shorten(f"{head}: no flows.")
    n_hidden = int(table["hidden"].sum())
    if n_hidden:
        head += f" ({n_hidden} flow{'s' * (n_hidden > 1)} hidden)"
    else:
        total = table.groupby("col")["value"].sum().max()
        head += f" ({_number_text(total)} {what})"
    shown = table[~table["hidden"]].sort_values("value", ascending=False, kind="stable")
    items = []
    for flow in shown.head(largest).itertuples():
        source, target = _key(categories[flow.source]), _key(categories[flow.target])
        moved = f"{source} stayed" if source == target else f"{source} to {target}"
        when = f" ({_key(columns[flow.col])}–{_key(columns[flow.col + 1])})" * (len(columns) > 2)
        items.append(f"{moved}{when} {_number_text(flow.value)}")
    if not items:
        return _shorten(f"{head}; every flow hidden.")
    return _shorten(f"{head}; largest flows: {', '.join(items)}.")


# ------------------------------------------------------------------------ forecast figures


def _require(table: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in table]
    if missing:
        raise ValueError(f"{what}: missing column {missing[0]!r}")


def _series(
    table: pd.DataFrame,
    what: str,
    columns: Sequence[str],
    order: Sequence[str] | None,
    colours: Mapping[str, str] | None,
) -> tuple[list[str], dict[str, str]]:
    """A long table's series (``columns[1]``) in order, and a colour for each: the given
    one, else the ``series`` palette's."""
    _require(table, columns, what)
    keys = list(order) if order is not None else list(dict.fromkeys(table[columns[1]].astype(str)))
    given = dict(colours or {})
    fallback = _default_colours([k for k in keys if k not in given])
    return keys, {k: given.get(k) or fallback[k] for k in keys}


def interval_bars(
    table: pd.DataFrame,
    *,
    ax: Axes,
    x: str = "calendar_year",
    series: str = "event",
    order: Sequence[str] | None = None,
    names: Mapping[str, str] | None = None,
    colours: Mapping[str, str] | None = None,
    ylabel: str | None = "Projects",
    legend_title: str | None = None,
) -> Axes:
    """Grouped bars of expected values per ``x`` with their intervals as whiskers.

    Parameters
    ----------
    table
        Long format: ``x`` (integers, e.g. calendar years), ``series`` (e.g. event),
        ``mean``, ``low`` and ``high`` (the interval), one row per ``x`` and series.
    order
        The series in legend order (default: as they first appear).
    names
        Legend text per series (default: the series' values).
    colours
        Colour per series (default: the ``series`` palette).

    Returns
    -------
    Axes
        ``ax``: per ``x`` one bar per series at its mean, a whisker from ``low`` to
        ``high``; the legend above the plot area.
    """
    keys, fills = _series(
        table, "interval_bars", (x, series, "mean", "low", "high"), order, colours
    )
    xs = np.sort(pd.to_numeric(table[x]).unique())
    width = 0.8 / max(len(keys), 1)
    handles = []
    for k, key in enumerate(keys):
        part = table[table[series].astype(str) == key].set_index(x).reindex(xs)
        pos = np.arange(len(xs)) - 0.4 + width * (k + 0.5)
        mean = part["mean"].to_numpy(dtype=float)
        low = part["low"].to_numpy(dtype=float)
        high = part["high"].to_numpy(dtype=float)
        ax.bar(pos, mean, width=width * 0.92, color=fills[key], edgecolor="white", linewidth=0.5)
        ax.errorbar(
            pos,
            mean,
            yerr=np.vstack([np.clip(mean - low, 0, None), np.clip(high - mean, 0, None)]),
            fmt="none",
            ecolor=DARK_TEXT,
            elinewidth=0.9,
            capsize=2.5,
        )
        handles.append(Patch(facecolor=fills[key], label=(names or {}).get(key, key)))
    ax.set_xticks(np.arange(len(xs)), [str(int(v)) for v in xs])
    ax.tick_params(axis="x", length=0)
    ax.spines[["top", "right"]].set_visible(False)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if ylabel:
        ax.set_ylabel(ylabel)
    _legend_above(ax, handles, legend_title)
    return ax


def tornado(
    table: pd.DataFrame,
    *,
    ax: Axes,
    baseline: float,
    label: str = "label",
    low: str = "low",
    high: str = "high",
    names: tuple[str, str] = ("assumption halved", "assumption raised"),
    xlabel: str | None = None,
) -> Axes:
    """A tornado chart: per row, a bar from ``baseline`` to the result with the assumption
    low and one to the result with it high; the largest swing on top.

    Parameters
    ----------
    table
        One row per assumption, in display order: ``label`` and the results ``low`` and
        ``high``.
    baseline
        The result with every assumption at its default (the axis the bars start from).
    names
        Legend text of the low and high bars.
    """
    _require(table, (label, low, high), "tornado")
    colours = list(palette("series").values())
    rows = np.arange(len(table))
    for column, colour, name in zip((low, high), colours[:2], names, strict=True):
        value = table[column].to_numpy(dtype=float)
        ax.barh(rows, value - baseline, left=baseline, color=colour, height=0.6, label=name)
    ax.axvline(baseline, color=DARK_TEXT, linewidth=0.9)
    _category_axis(ax, [str(v) for v in table[label]])
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6))
    if xlabel:
        ax.set_xlabel(xlabel)
    handles = [Patch(facecolor=c, label=n) for c, n in zip(colours[:2], names, strict=True)]
    _legend_above(ax, handles, None)
    return ax


def interval_lines(
    table: pd.DataFrame,
    *,
    ax: Axes,
    x: str = "calendar_year",
    series: str = "label",
    order: Sequence[str] | None = None,
    colours: Mapping[str, str] | None = None,
    ylabel: str | None = "Projects",
    legend_title: str | None = None,
) -> Axes:
    """Lines of expected values per ``x``, each point with its interval as a whisker.

    ``table`` is long: ``x``, ``series``, ``mean``, ``low``, ``high``. Each series has its
    own line style too, so the chart reads in grey scale, and its whiskers are set a little
    apart from the others'.
    """
    keys, fills = _series(
        table, "interval_lines", (x, series, "mean", "low", "high"), order, colours
    )
    styles = ["-", "--", "-.", ":"]
    handles = []
    for k, key in enumerate(keys):
        part = table[table[series].astype(str) == key].sort_values(x)
        xs = pd.to_numeric(part[x]).to_numpy(dtype=float)
        xs = xs + (k - (len(keys) - 1) / 2) * 0.1  # intervals side by side, not on top
        mean = part["mean"].to_numpy(dtype=float)
        ax.errorbar(
            xs,
            mean,
            yerr=np.vstack(
                [
                    np.clip(mean - part["low"].to_numpy(dtype=float), 0, None),
                    np.clip(part["high"].to_numpy(dtype=float) - mean, 0, None),
                ]
            ),
            fmt="none",
            ecolor=fills[key],
            elinewidth=1.0,
            alpha=0.6,
        )
        (line,) = ax.plot(
            xs,
            mean,
            color=fills[key],
            linestyle=styles[k % len(styles)],
            linewidth=1.8,
            marker="o",
            markersize=3,
            label=key,
        )
        handles.append(line)
    ax.spines[["top", "right"]].set_visible(False)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0)
    if ylabel:
        ax.set_ylabel(ylabel)
    _legend_above(ax, handles, legend_title, per_row=2)  # long labels: two to a row
    return ax
