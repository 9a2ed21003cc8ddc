"""Small-cell suppression of count tables for public reports.

A centre's report describes a few dozen projects, so a count of 1 or 2 in a table can point
at a researcher. For a public report every count below ``min_cell`` (0 included) is shown as
``"<3"`` (generally ``f"<{min_cell}"``): the *primary* suppression. Because the row and
column totals are shown too, a hidden count could often be worked out by subtraction, so
further cells are withheld and shown as ``"x"``: the *secondary* suppression.

Which secondary cells are needed is decided by an audit of what a reader can infer. The
reader knows that a ``"<3"`` cell lies in ``[0, 2]``, that an ``"x"`` cell lies in
``[3, ∞)`` (it would have been ``"<3"`` otherwise), every shown count exactly, and that each
row and each column adds up to its total (the totals row and column included). The audit
narrows the interval of every hidden cell line by line until nothing changes (interval
constraint propagation); a hidden cell whose interval has shrunk to a single value is
disclosed. Taking the lines one at a time misses what follows from several lines together
(a sum of two rows minus a column, say), so when the intervals show nothing an exact audit
has the last word: the table with its totals is a flow through a network of rows and
columns, and a hidden cell can hold another value exactly when a cycle of one-unit changes
through it stays within what the reader knows. While any cell is disclosed, one more cell
in a line through it is hidden and the audit is run again.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Column name of a table given as an unnamed Series.
SERIES_COLUMN = "Projects"

_VISIBLE, _PRIMARY, _SECONDARY = 0, 1, 2


@dataclass(frozen=True)
class Suppressed:
    """A count table as it may be published.

    Attributes
    ----------
    counts
        ``Int64`` counts with the input's rows and columns (plus the margins if asked
        for); ``pd.NA`` where a cell is hidden. The true values of hidden cells are not
        kept anywhere in this object.
    labels
        The cells as shown: the number as text, ``f"<{min_cell}"`` for a small count and
        ``"x"`` for a cell withheld so that the small counts cannot be worked out.
    min_cell
        The threshold, or ``None`` when nothing is suppressed (internal report).
    n_primary
        Number of cells shown as ``f"<{min_cell}"`` (margins included).
    n_secondary
        Number of cells shown as ``"x"``.
    """

    counts: pd.DataFrame
    labels: pd.DataFrame
    min_cell: int | None
    n_primary: int
    n_secondary: int

    @property
    def hidden(self) -> pd.DataFrame:
        """Boolean mask of the table's shape: ``True`` where a cell is suppressed."""
        return self.counts.isna()


def rule_text(min_cell: int | None) -> str:
    """One plain-English sentence stating the suppression rule, for the report.

    Parameters
    ----------
    min_cell
        The threshold given to :func:`suppress`, or ``None`` for an internal report.

    Returns
    -------
    str
        The sentence.

    Examples
    --------
    >>> rule_text(3)
    'Counts below 3 are shown as “<3”; further cells marked “x” are withheld so that the small counts cannot be worked out from the totals.'
    >>> rule_text(None)
    'All counts are shown (internal report).'
    """  # noqa: E501
    _check_min_cell(min_cell)
    if min_cell is None:
        return "All counts are shown (internal report)."
    return (
        f"Counts below {min_cell} are shown as “<{min_cell}”; further cells marked “x” are "
        "withheld so that the small counts cannot be worked out from the totals."
    )


def suppress(
    counts: pd.DataFrame | pd.Series,
    min_cell: int | None = 3,
    *,
    margins: bool = True,
    total_label: str = "Total",
) -> Suppressed:
    """Hide small counts of a table, and enough other cells that they cannot be recomputed.

    Parameters
    ----------
    counts
        Non-negative integer counts, rows × columns, in display order. A Series is one
        column, named by the Series' name or ``"Projects"``. Not modified.
    min_cell
        Counts below this (0 included) are shown as ``f"<{min_cell}"``; at least 2.
        ``None`` shows every count (internal report).
    margins
        Add a total column (row sums) and a total row (column sums and the grand total),
        computed from the true counts; a one-column table gets only the total row. The
        totals are cells too: a total below ``min_cell`` is hidden as well. With
        ``margins=False`` (tables whose cells do not add up to anything, such as answers
        to a multi-select question) only the small counts are hidden.
    total_label
        Label of the total row and column.

    Returns
    -------
    Suppressed
        The counts with ``pd.NA`` where hidden, the labels as shown, and how many cells
        were hidden for being small (primary) and for protecting those (secondary).

    Raises
    ------
    ValueError
        If a count is missing, negative or not a whole number, ``min_cell`` is below 2, or
        ``total_label`` is already a row or column label.

    Examples
    --------
    The 2 would be 17 − 10 − 5, so the 5 is withheld too:

    >>> s = suppress(pd.Series([10, 2, 5], index=["a", "b", "c"]))
    >>> s.labels["Projects"].tolist()
    ['10', '<3', 'x', '17']
    >>> s.n_primary, s.n_secondary
    (1, 1)
    >>> suppress(pd.Series([10, 2, 5]), None).labels["Projects"].tolist()
    ['10', '2', '5', '17']
    """
    _check_min_cell(min_cell)
    frame = (
        counts.to_frame(SERIES_COLUMN if counts.name is None else counts.name)
        if isinstance(counts, pd.Series)
        else counts
    )
    values = _whole_numbers(frame)
    index, columns = frame.index, frame.columns
    lines: list[tuple[np.ndarray, int]] = []
    if margins:
        values, lines = _with_margins(values)
        index = _append_label(index, total_label)
        if values.shape[1] > frame.shape[1]:
            columns = _append_label(columns, total_label)

    kind = np.full(values.shape, _VISIBLE, dtype=np.int8)
    if min_cell is not None:
        kind[values < min_cell] = _PRIMARY
        if lines and frame.size:
            arcs = _arcs(*frame.shape)
            kind = _add_secondary(values, kind, lines, arcs, min_cell)

    hidden = kind != _VISIBLE
    shown = pd.DataFrame(values, index=index, columns=columns).astype("Int64").mask(hidden)
    labels = np.where(
        kind == _PRIMARY, f"<{min_cell}", np.where(kind == _SECONDARY, "x", values.astype(str))
    )
    return Suppressed(
        counts=shown,
        labels=pd.DataFrame(labels, index=index, columns=columns, dtype=str),
        min_cell=min_cell,
        n_primary=int((kind == _PRIMARY).sum()),
        n_secondary=int((kind == _SECONDARY).sum()),
    )


def _check_min_cell(min_cell: int | None) -> None:
    if min_cell is None:
        return
    if isinstance(min_cell, bool) or not isinstance(min_cell, int | np.integer):
        raise ValueError(f"min_cell must be a whole number or None, not {min_cell!r}")
    if min_cell < 2:
        # Below 2, "<min_cell" would itself tell the value (0), so the rule protects nothing.
        raise ValueError(f"min_cell must be at least 2, not {min_cell}")


def _whole_numbers(frame: pd.DataFrame) -> np.ndarray:
    """The counts as a 2-D int64 array; raise unless all are whole numbers >= 0."""
    if frame.isna().to_numpy().any():
        raise ValueError("counts must not be missing")
    try:
        values = frame.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError("counts must be numbers") from error
    if (values < 0).any() or (values != np.round(values)).any():
        raise ValueError("counts must be whole numbers >= 0")
    return values.astype(np.int64)


def _append_label(labels: pd.Index, total_label: str) -> pd.Index:
    """``labels`` with ``total_label`` at the end (categories are dropped)."""
    if isinstance(labels, pd.MultiIndex):
        total: object = (total_label,) + ("",) * (labels.nlevels - 1)
        if total_label in labels.get_level_values(0):
            raise ValueError(f"{total_label!r} is already a label of the table")
        return pd.MultiIndex.from_tuples([*labels, total], names=labels.names)
    if total_label in labels:
        raise ValueError(f"{total_label!r} is already a label of the table")
    return pd.Index([*labels, total_label], name=labels.name)


def _with_margins(values: np.ndarray) -> tuple[np.ndarray, list[tuple[np.ndarray, int]]]:
    """The table with its totals, and its additive lines.

    A line is ``(members, total)``: flat positions in the table with totals of cells whose
    sum is the cell at ``total``. Lines without members say nothing and are left out.
    """
    n_rows, n_cols = values.shape
    if n_cols == 1:
        table = np.vstack([values, values.sum(axis=0, keepdims=True)])
        lines = [(np.arange(n_rows), n_rows)]
    else:
        with_row_totals = np.hstack([values, values.sum(axis=1, keepdims=True)])
        table = np.vstack([with_row_totals, with_row_totals.sum(axis=0, keepdims=True)])
        width = n_cols + 1
        position = np.arange(table.size).reshape(table.shape)
        # every row (the totals row included) adds up to its last cell ...
        lines = [(position[i, :n_cols], int(position[i, n_cols])) for i in range(n_rows + 1)]
        # ... and every column (the totals column included) to its last cell
        lines += [(position[:n_rows, j], int(position[n_rows, j])) for j in range(width)]
    return table, [(members, total) for members, total in lines if members.size]


def _bounds(
    values: np.ndarray, kind: np.ndarray, lines: list[tuple[np.ndarray, int]], min_cell: int
) -> tuple[np.ndarray, np.ndarray]:
    """What a reader can infer: the lowest and highest possible value of every cell.

    Shown cells are known exactly, ``"<m"`` cells start as ``[0, m-1]`` and ``"x"`` cells
    as ``[m, ∞)``. Each line then narrows its cells until no interval changes: a member
    is at least the line's lowest total minus the highest sum of the other members, and at
    most the highest total minus the lowest sum of the others; the total lies between the
    sums of the members' bounds.
    """
    flat_values, flat_kind = values.ravel(), kind.ravel()
    lo = np.where(flat_kind == _VISIBLE, flat_values, 0).astype(np.float64)
    hi = lo.copy()
    lo[flat_kind == _SECONDARY] = min_cell
    hi[flat_kind == _PRIMARY] = min_cell - 1
    hi[flat_kind == _SECONDARY] = np.inf
    changed = True
    while changed:
        changed = False
        for members, total in lines:
            m_lo, m_hi = lo[members], hi[members]
            unbounded = np.isinf(m_hi)
            finite_hi = np.where(unbounded, 0.0, m_hi)
            # the others' highest sum, without inf - inf
            others_unbounded = unbounded.sum() - unbounded > 0
            others_hi = np.where(others_unbounded, np.inf, finite_hi.sum() - finite_hi)
            others_lo = m_lo.sum() - m_lo
            new_lo = np.maximum(m_lo, lo[total] - others_hi)
            new_hi = np.minimum(m_hi, hi[total] - others_lo)
            total_lo = max(lo[total], m_lo.sum())
            total_hi = min(hi[total], np.inf if unbounded.any() else finite_hi.sum())
            if (
                (new_lo != m_lo).any()
                or (new_hi != m_hi).any()
                or total_lo != lo[total]
                or total_hi != hi[total]
            ):
                lo[members], hi[members] = new_lo, new_hi
                lo[total], hi[total] = total_lo, total_hi
                changed = True
    if (lo > hi).any():  # pragma: no cover - the true values always fit
        raise AssertionError("suppression audit found no values consistent with the table")
    return lo.reshape(values.shape), hi.reshape(values.shape)


def _arcs(n_rows: int, n_cols: int) -> list[tuple[int, int]]:
    """The table with margins as a circulation: ``(from_node, to_node)`` per flat position.

    Node 0 is a source, 1..n_rows the rows, then the columns, and last a sink. A cell is
    the flow from its row to its column, a row total the flow from the source into its
    row, a column total the flow from its column into the sink and the grand total the
    flow from the sink back to the source. Flow is conserved at every node exactly when
    every row and column adds up to its total. A one-column table is one line: its cells
    flow from node 0 to node 1 and the total flows back.
    """
    if n_cols == 1:
        return [(0, 1)] * n_rows + [(1, 0)]
    source, sink = 0, n_rows + n_cols + 1

    def arc(i: int, j: int) -> tuple[int, int]:
        row, col = 1 + i, 1 + n_rows + j
        if i < n_rows:
            return (row, col) if j < n_cols else (source, row)
        return (col, sink) if j < n_cols else (sink, source)

    return [arc(i, j) for i in range(n_rows + 1) for j in range(n_cols + 1)]


def _can_change(
    values: np.ndarray, kind: np.ndarray, arcs: list[tuple[int, int]], min_cell: int
) -> np.ndarray:
    """Exact audit: whether each hidden cell could hold another value, for the reader.

    The true table is a feasible circulation (:func:`_arcs`) within the bounds the
    reader knows (shown cells exact, ``"<m"`` in ``[0, m-1]``, ``"x"`` in ``[m, ∞)``).
    Another feasible table differs from it by a circulation that splits into cycles, each
    of which can be added by itself; so a cell can take another value exactly when some
    cycle through it can move one unit within the bounds: its flow can rise and there is
    a path back from its end to its start (or it can fall and there is a path forward),
    using only other cells that can rise (forwards) or fall (backwards). Every cell on
    such a cycle can change too. Unlike :func:`_bounds`, this sees consequences of
    several lines taken together.
    """
    flat_values, flat_kind = values.ravel(), kind.ravel()
    can_rise = ((flat_kind == _PRIMARY) & (flat_values < min_cell - 1)) | (flat_kind == _SECONDARY)
    can_fall = ((flat_kind == _PRIMARY) & (flat_values > 0)) | (
        (flat_kind == _SECONDARY) & (flat_values > min_cell)
    )
    n_nodes = 1 + max(max(arc) for arc in arcs)
    step: list[list[tuple[int, int]]] = [[] for _ in range(n_nodes)]  # node -> (next, cell)
    for cell, (start, end) in enumerate(arcs):
        if can_rise[cell]:
            step[start].append((end, cell))
        if can_fall[cell]:
            step[end].append((start, cell))

    def path(start: int, end: int, avoid: int) -> list[int] | None:
        """Cells on a path of the residual graph from ``start`` to ``end``, not via ``avoid``."""
        came_from: dict[int, tuple[int, int]] = {start: (start, -1)}
        queue = [start]
        for node in queue:
            if node == end:
                cells = []
                while node != start:
                    node, cell = came_from[node]
                    cells.append(cell)
                return cells
            for following, cell in step[node]:
                if cell != avoid and following not in came_from:
                    came_from[following] = (node, cell)
                    queue.append(following)
        return None

    changeable = np.zeros(len(arcs), dtype=bool)
    for cell in np.flatnonzero(flat_kind != _VISIBLE):
        if changeable[cell]:
            continue
        start, end = arcs[cell]
        cycle = (path(end, start, cell) if can_rise[cell] else None) or (
            path(start, end, cell) if can_fall[cell] else None
        )
        if cycle is not None:
            changeable[[cell, *cycle]] = True
    return changeable.reshape(values.shape)


def _add_secondary(
    values: np.ndarray,
    kind: np.ndarray,
    lines: list[tuple[np.ndarray, int]],
    arcs: list[tuple[int, int]],
    min_cell: int,
) -> np.ndarray:
    """``kind`` with ``"x"`` cells added until no hidden cell can be worked out exactly.

    The interval audit (:func:`_bounds`) runs first; when it finds nothing, the exact
    audit (:func:`_can_change`) has the last word. Hiding a cell only widens what the
    reader knows of it, so a cell that can be worked out even with every cell hidden
    cannot be protected at all: such cells are left out of the target, with a warning,
    rather than hiding the whole table for nothing.
    """
    kind = kind.copy()
    everything_hidden = np.where(kind == _PRIMARY, _PRIMARY, _SECONDARY).astype(np.int8)
    exposed = ~_can_change(values, everything_hidden, arcs, min_cell)
    if (exposed & (kind == _PRIMARY)).any():
        warnings.warn(
            f"{int((exposed & (kind == _PRIMARY)).sum())} count(s) below {min_cell} can be "
            "worked out from which cells are small, however many cells are hidden; merge "
            "categories to protect them",
            stacklevel=3,
        )
    exposed = exposed.ravel()
    while True:
        hidden = kind != _VISIBLE
        lo, hi = _bounds(values, kind, lines, min_cell)
        disclosed = (hidden & (lo == hi)).ravel() & ~exposed
        if not disclosed.any():
            disclosed = (hidden & ~_can_change(values, kind, arcs, min_cell)).ravel() & ~exposed
        if not disclosed.any():
            return kind
        pick = _pick_secondary(values.ravel(), hidden.ravel(), disclosed, lines)
        if pick is None:  # pragma: no cover - with everything hidden only exposed cells remain
            return kind
        kind.flat[pick] = _SECONDARY


def _pick_secondary(
    values: np.ndarray,
    hidden: np.ndarray,
    disclosed: np.ndarray,
    lines: list[tuple[np.ndarray, int]],
) -> int | None:
    """The flat position of the next cell to withhold, or ``None`` if all are hidden.

    The smallest shown member of a line through a disclosed cell, lines with a single
    hidden cell first; failing that the smallest shown total of such a line; failing that
    the smallest shown cell. Ties go to the first line and the first cell in table order.
    """
    members_first: list[tuple[int, int, int, int]] = []
    totals: list[tuple[int, int]] = []
    for order, (members, total) in enumerate(lines):
        if not (disclosed[members].any() or disclosed[total]):
            continue
        n_hidden = int(hidden[members].sum() + hidden[total])
        members_first += [
            (int(n_hidden != 1), int(values[cell]), order, int(cell))
            for cell in members[~hidden[members]]
        ]
        if not hidden[total]:
            totals.append((int(values[total]), total))
    if members_first:
        return min(members_first)[-1]
    if totals:
        return min(totals)[-1]
    shown = np.flatnonzero(~hidden)
    return int(shown[np.argmin(values[shown])]) if shown.size else None


def safe_with_known_margins(counts: pd.DataFrame, shown: Suppressed) -> bool:
    """Whether no hidden cell of a cross table can be worked out even by a reader who knows
    every row and column total exactly (from other tables of the same report).

    ``counts`` are the true counts without margins, ``shown`` their :func:`suppress` result
    with margins. A one-way table of the same categories publishes the totals of a cross
    table; this audit treats them all as known, so it is safe whatever the other tables show.

    >>> counts = pd.DataFrame({"a": [3, 0], "b": [5, 4]}, index=["r1", "r2"])
    >>> safe_with_known_margins(counts, suppress(counts))  # r2 = 4 known: its 0 follows
    False
    """
    if shown.min_cell is None:
        return True
    values, lines = _with_margins(_whole_numbers(counts))
    labels = shown.labels.to_numpy(dtype=str)
    if labels.shape != values.shape:
        raise ValueError("shown must be suppress(counts) with margins")
    kind = np.where(
        labels == f"<{shown.min_cell}",
        _PRIMARY,
        np.where(labels == "x", _SECONDARY, _VISIBLE),
    ).astype(np.int8)
    kind[-1, :] = _VISIBLE  # the totals, known exactly
    if values.shape[1] > counts.shape[1]:
        kind[:, -1] = _VISIBLE
    lo, hi = _bounds(values, kind, lines, shown.min_cell)
    if ((kind != _VISIBLE) & (lo == hi)).any():
        return False
    changeable = _can_change(values, kind, _arcs(*counts.shape), shown.min_cell)
    return bool(changeable.ravel()[(kind != _VISIBLE).ravel()].all())
