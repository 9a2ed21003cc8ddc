"""Tests of atmp_analysis.disclosure: small-cell suppression of count tables."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atmp_analysis.disclosure import Suppressed, rule_text, suppress


def _frame(rows: list[list[int]]) -> pd.DataFrame:
    return pd.DataFrame(
        rows,
        index=[f"r{i}" for i in range(len(rows))],
        columns=[f"c{j}" for j in range(len(rows[0]))],
    )


def _with_margins(true: np.ndarray) -> np.ndarray:
    """The true table with its totals, as suppress() lays it out."""
    if true.shape[1] == 1:
        return np.vstack([true, true.sum(axis=0, keepdims=True)])
    wide = np.hstack([true, true.sum(axis=1, keepdims=True)])
    return np.vstack([wide, wide.sum(axis=0, keepdims=True)])


def _pinned_cells(labels: np.ndarray, true: np.ndarray, min_cell: int) -> list[tuple[int, int]]:
    """Hidden cells a reader can work out exactly, by search over whole tables.

    The reader sees ``labels`` (the table with totals) and knows ``min_cell``. A table of
    inner counts is consistent when every shown number equals its cell, every "<m" cell is
    below m and every "x" cell is at least m, the totals being sums of the inner counts.
    For each hidden cell, a depth-first search looks for a consistent table in which it
    differs from the truth. Only values up to ``max(true) + min_cell`` are tried for the
    inner "x" cells: a table found is consistent all the same, so a cell reported as not
    pinned is certainly not pinned.
    """
    n_rows, n_cols = true.shape
    # every cell of the table with totals as the set of inner cells it adds up
    members = np.zeros((*labels.shape, n_rows * n_cols), dtype=np.int64)
    for i in range(labels.shape[0]):
        for j in range(labels.shape[1]):
            block = np.zeros((n_rows, n_cols), dtype=np.int64)
            rows = slice(None) if i == n_rows else slice(i, i + 1)
            cols = slice(None) if j == n_cols else slice(j, j + 1)
            block[rows, cols] = 1
            members[i, j] = block.ravel()
    constraint = members.reshape(-1, n_rows * n_cols)
    low = np.empty(constraint.shape[0])
    high = np.empty(constraint.shape[0])
    for k, label in enumerate(labels.ravel()):
        if label == "x":
            low[k], high[k] = min_cell, np.inf
        elif label == f"<{min_cell}":
            low[k], high[k] = 0, min_cell - 1
        else:
            low[k] = high[k] = int(label)
    inner = labels[:n_rows, :n_cols].ravel()
    free = [p for p in range(inner.size) if not inner[p].isdigit()]
    cap = int(true.max()) + min_cell

    def domain(p: int) -> list[int]:
        """Possible values of a hidden inner cell, nearest the true value first."""
        values = range(0, min_cell) if inner[p] == f"<{min_cell}" else range(min_cell, cap + 1)
        return sorted(values, key=lambda v: (abs(v - true.flat[p]), v))

    domains = {p: domain(p) for p in free}
    fixed = np.where([s.isdigit() for s in inner], true.ravel(), 0).astype(np.float64)
    smallest = {p: min(values) for p, values in domains.items()}
    largest = {p: max(values) for p, values in domains.items()}

    def consistent(k: int, lo: np.ndarray, hi: np.ndarray) -> bool:
        """Some table may exist with free[:k] as in ``fixed`` and free[k:] anywhere."""
        least, most = fixed.copy(), fixed.copy()
        for p in free[k:]:
            least[p], most[p] = smallest[p], largest[p]
        return bool(((constraint @ most) >= lo).all() and ((constraint @ least) <= hi).all())

    def search(k: int, lo: np.ndarray, hi: np.ndarray) -> bool:
        if not consistent(k, lo, hi):
            return False
        if k == len(free):
            return True
        for value in domains[free[k]]:
            fixed[free[k]] = value
            if search(k + 1, lo, hi):
                return True
        fixed[free[k]] = 0
        return False

    truth = _with_margins(true).ravel()
    pinned = []
    for k in np.flatnonzero(~np.char.isdigit(labels.ravel().astype(str))):
        other_value = False
        for lo_k, hi_k in ((low[k], truth[k] - 1), (truth[k] + 1, high[k])):
            lo, hi = low.copy(), high.copy()
            lo[k], hi[k] = lo_k, hi_k
            if lo_k <= hi_k and search(0, lo, hi):
                other_value = True
                break
        if not other_value:
            pinned.append(divmod(int(k), labels.shape[1]))
    return pinned


def _check_published(result: Suppressed, true: np.ndarray, min_cell: int) -> None:
    """Labels agree with counts; no shown number is small; small cells are all "<m"."""
    labels = result.labels.to_numpy(dtype=str)
    counts = result.counts.to_numpy(dtype=object, na_value=None)
    truth = _with_margins(true)
    small = f"<{min_cell}"
    assert (labels == small).sum() == result.n_primary
    assert (labels == "x").sum() == result.n_secondary
    assert ((labels == small) == (truth < min_cell)).all()
    for label, count, value in zip(labels.ravel(), counts.ravel(), truth.ravel(), strict=True):
        if label in (small, "x"):
            assert count is None
        else:
            assert int(label) == count == value
            assert count >= min_cell
    assert (result.hidden.to_numpy() == np.isin(labels, [small, "x"])).all()


# -- internal reports ----------------------------------------------------------------------


def test_internal_report_keeps_every_number() -> None:
    counts = _frame([[0, 1, 7], [2, 0, 4]])
    result = suppress(counts, None)
    assert result.min_cell is None
    assert result.n_primary == result.n_secondary == 0
    assert not result.hidden.to_numpy().any()
    expected = pd.DataFrame(
        [[0, 1, 7, 8], [2, 0, 4, 6], [2, 1, 11, 14]],
        index=["r0", "r1", "Total"],
        columns=["c0", "c1", "c2", "Total"],
    )
    pd.testing.assert_frame_equal(result.counts, expected.astype("Int64"))
    assert (result.labels == expected.astype(str)).all().all()


# -- one-way tables ------------------------------------------------------------------------


def test_one_way_without_small_counts_hides_nothing() -> None:
    result = suppress(pd.Series([13, 7, 3], index=["a", "b", "c"]))
    assert result.labels["Projects"].tolist() == ["13", "7", "3", "23"]
    assert result.n_primary == result.n_secondary == 0
    assert list(result.counts.index) == ["a", "b", "c", "Total"]
    assert list(result.counts.columns) == ["Projects"]


def test_one_way_small_count_cannot_be_recomputed_from_the_total() -> None:
    result = suppress(pd.Series([10, 2, 5], index=["a", "b", "c"]))
    labels = result.labels["Projects"]
    assert labels["b"] == "<3"
    assert (labels == "x").sum() == 1  # otherwise 2 = 17 - 10 - 5
    assert labels["Total"] == "17"
    assert result.counts["Projects"].isna().tolist() == [False, True, True, False]
    assert (result.n_primary, result.n_secondary) == (1, 1)
    assert _pinned_cells(labels.to_numpy(dtype=str)[:, None], np.array([[10], [2], [5]]), 3) == []


def test_series_gives_its_name_to_the_column() -> None:
    assert list(suppress(pd.Series([4, 5], name="n")).counts.columns) == ["n"]
    assert list(suppress(pd.Series([4, 5])).counts.columns) == ["Projects"]


def test_one_column_frame_gets_only_a_total_row() -> None:
    result = suppress(pd.DataFrame({"n": [4, 5]}, index=["a", "b"]))
    assert result.labels.shape == (3, 1)
    assert result.labels["n"].tolist() == ["4", "5", "9"]


# -- two-way tables ------------------------------------------------------------------------


def test_small_cell_is_protected_in_its_row_and_its_column() -> None:
    counts = _frame([[5, 6, 1], [4, 4, 4], [7, 8, 9]])
    result = suppress(counts)
    hidden = result.hidden
    assert result.labels.loc["r0", "c2"] == "<3"
    assert hidden.loc["r0", ["c0", "c1"]].any()
    assert hidden.loc[["r1", "r2"], "c2"].any()
    assert not hidden.loc["Total"].any() and not hidden["Total"].any()
    assert result.n_primary == 1 and result.n_secondary >= 3
    _check_published(result, counts.to_numpy(), 3)
    assert _pinned_cells(result.labels.to_numpy(dtype=str), counts.to_numpy(), 3) == []


def test_zeros_that_add_up_to_nothing_are_protected() -> None:
    # Row [5, 0, 0 | 5]: the two hidden cells must add up to 0, so both are 0.
    counts = _frame([[5, 0, 0], [4, 4, 4]])
    result = suppress(counts)
    assert result.labels.loc["r0", ["c1", "c2"]].tolist() == ["<3", "<3"]
    assert result.n_secondary >= 1
    assert result.hidden.loc["r0", "c0"] or result.labels.loc["r0", "Total"] != "5"
    _check_published(result, counts.to_numpy(), 3)
    assert _pinned_cells(result.labels.to_numpy(dtype=str), counts.to_numpy(), 3) == []


def test_small_totals_are_hidden_too() -> None:
    counts = _frame([[1, 1], [6, 7]])
    result = suppress(counts)
    assert result.labels.loc["r0", "Total"] == "<3"
    assert result.n_primary == 3
    _check_published(result, counts.to_numpy(), 3)
    assert _pinned_cells(result.labels.to_numpy(dtype=str), counts.to_numpy(), 3) == []


def test_several_lines_together_are_audited() -> None:
    # Each line on its own leaves every hidden cell two or more values here, but rows and
    # columns taken together pin some cells unless more are withheld.
    true = np.array([[5, 2, 6], [0, 0, 1], [2, 5, 2], [0, 6, 2]])
    result = suppress(_frame(true.tolist()))
    _check_published(result, true, 3)
    assert _pinned_cells(result.labels.to_numpy(dtype=str), true, 3) == []


def test_min_cell_sets_the_label() -> None:
    result = suppress(pd.Series([10, 4, 7]), 5)
    assert result.labels["Projects"].tolist()[1] == "<5"
    assert "x" in result.labels["Projects"].tolist()


def test_custom_total_label() -> None:
    result = suppress(_frame([[4, 5], [6, 7]]), total_label="All")
    assert list(result.counts.index) == ["r0", "r1", "All"]
    assert list(result.counts.columns) == ["c0", "c1", "All"]


def test_margins_false_hides_only_small_counts() -> None:
    counts = _frame([[5, 1, 6], [0, 4, 9]])
    result = suppress(counts, margins=False)
    assert result.labels.shape == counts.shape
    assert result.labels.to_numpy().tolist() == [["5", "<3", "6"], ["<3", "4", "9"]]
    assert result.n_secondary == 0 and result.n_primary == 2
    assert "Total" not in result.counts.index


def test_no_true_value_of_a_hidden_cell_is_kept() -> None:
    counts = _frame([[5, 2, 6], [9, 8, 7]])
    result = suppress(counts)
    assert str(result.counts.dtypes.unique()[0]) == "Int64"
    assert pd.api.types.is_string_dtype(result.labels["c0"]) or result.labels["c0"].dtype == object
    hidden = result.hidden.to_numpy()
    assert result.counts.isna().to_numpy().tolist() == hidden.tolist()
    assert set(result.labels.to_numpy()[hidden]) <= {"<3", "x"}
    assert set(vars(result)) == {"counts", "labels", "min_cell", "n_primary", "n_secondary"}


def test_input_is_not_modified_and_order_is_kept() -> None:
    index = pd.CategoricalIndex(["late", "early"], categories=["late", "early"], name="stage")
    counts = pd.DataFrame({"b": [1, 8], "a": [9, 9]}, index=index)
    before = counts.copy(deep=True)
    result = suppress(counts)
    pd.testing.assert_frame_equal(counts, before)
    assert list(result.labels.index) == ["late", "early", "Total"]
    assert result.labels.index.name == "stage"
    assert list(result.labels.columns) == ["b", "a", "Total"]


@pytest.mark.parametrize(
    "counts",
    [
        pd.Series([1, -1]),
        pd.Series([1.5, 2.0]),
        pd.Series([1, None], dtype="Int64"),
        pd.Series(["a", "b"]),
    ],
)
def test_bad_counts_are_rejected(counts: pd.Series) -> None:
    with pytest.raises(ValueError, match="counts"):
        suppress(counts)


@pytest.mark.parametrize("min_cell", [0, 1, 2.5, True])
def test_bad_min_cell_is_rejected(min_cell: object) -> None:
    with pytest.raises(ValueError, match="min_cell"):
        suppress(pd.Series([4, 5]), min_cell)  # type: ignore[arg-type]


def test_total_label_must_be_new() -> None:
    with pytest.raises(ValueError, match="Total"):
        suppress(pd.Series([4, 5], index=["a", "Total"]))


def test_counts_no_pattern_protects_are_reported_not_hidden_for_nothing() -> None:
    # Row r0 is [<3, <3 | <3] and each column total is at least 3 ("x" or shown), so each
    # r1 cell is at least 1 and each r0 cell at least 1: r0 is [1, 1 | 2] whatever is hidden.
    counts = _frame([[1, 1], [2, 2]])
    with pytest.warns(UserWarning, match="however many cells are hidden"):
        result = suppress(counts)
    assert result.n_secondary == 0
    everything_hidden = np.where(result.labels == "<3", "<3", "x")
    small = {(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)}
    assert small <= set(_pinned_cells(everything_hidden, counts.to_numpy(), 3))


def test_min_cell_2_zero_or_one_cells_adding_to_an_x() -> None:
    # "<2" is 0 or 1 and "x" at least 2: two "<2" adding up to 2 or more are both 1.
    with pytest.warns(UserWarning, match="however many cells are hidden"):
        result = suppress(_frame([[1, 1], [1, 1]]), 2)
    assert result.n_primary == 4


def test_rule_text_states_the_threshold() -> None:
    assert "3" in rule_text(3) and "“<3”" in rule_text(3) and "“x”" in rule_text(3)
    assert "“<5”" in rule_text(5)
    assert rule_text(None) == "All counts are shown (internal report)."


# -- property: nothing small is shown, no hidden cell can be worked out -------------------


@st.composite
def _tables(draw: st.DrawFn) -> tuple[np.ndarray, int]:
    n_rows = draw(st.integers(1, 4))
    n_cols = draw(st.integers(1, 4))
    cells = draw(st.lists(st.integers(0, 6), min_size=n_rows * n_cols, max_size=n_rows * n_cols))
    return np.array(cells).reshape(n_rows, n_cols), draw(st.sampled_from([3, 4]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_tables())
def test_no_hidden_cell_can_be_worked_out(table: tuple[np.ndarray, int]) -> None:
    true, min_cell = table
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = suppress(_frame(true.tolist()), min_cell)
    _check_published(result, true, min_cell)
    labels = result.labels.to_numpy(dtype=str)
    pinned = _pinned_cells(labels, true, min_cell)
    if not caught:
        assert pinned == []
    else:
        # only cells no suppression pattern could protect, as the warning says
        everything_hidden = np.where(labels == f"<{min_cell}", labels, "x")
        unprotectable = _pinned_cells(everything_hidden, true, min_cell)
        assert set(pinned) <= set(unprotectable)
        assert any(labels[cell] == f"<{min_cell}" for cell in unprotectable)


@settings(max_examples=100, deadline=None)
@given(_tables())
def test_without_margins_exactly_the_small_cells_are_hidden(table: tuple[np.ndarray, int]) -> None:
    true, min_cell = table
    result = suppress(_frame(true.tolist()), min_cell, margins=False)
    assert (result.hidden.to_numpy() == (true < min_cell)).all()
    assert result.n_secondary == 0
