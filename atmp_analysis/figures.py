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
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import MaxNLocator

from atmp_analysis.config import REFERENCE_DIR

__all__ = [
    "HIDDEN_LABEL",
    "PALETTES_FILE",
    "STUB_FRACTION",
    "bar_counts",
    "describe",
    "funnel",
    "grouped_shares",
    "heatmap",
    "load_palettes",
    "palette",
    "stacked_bars",
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


def _legend_above(ax: Axes, handles: list[Patch], title: str | None) -> None:
    """The legend in a row above the plot area, outside the bars."""
    ax.legend(
        handles=handles,
        title=title,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.02),
        ncols=min(len(handles), 4),
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
