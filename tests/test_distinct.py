"""Tests of atmp_analysis.distinct: work once per distinct row, results on every row."""

from __future__ import annotations

import pandas as pd
import pytest

from atmp_analysis.distinct import on_distinct


def _describe(rows: pd.DataFrame) -> pd.DataFrame:
    text = rows["a"].astype("string").fillna("?") + "/" + rows["b"].fillna("?")
    return pd.DataFrame({"seen": text, "n_distinct": len(rows)}, index=rows.index)


def test_results_follow_every_row_including_missing_values():
    frame = pd.DataFrame(
        {
            "a": pd.array([1, None, 1, None, 2, 1], dtype="Int64"),
            "b": pd.array(["x", "y", "x", None, "y", None], dtype="string"),
            "other": range(6),
        },
        index=[10, 11, 12, 13, 14, 15],
    )
    result = on_distinct(frame, ["a", "b"], _describe)
    assert list(result.index) == [10, 11, 12, 13, 14, 15]
    assert result["seen"].tolist() == ["1/x", "?/y", "1/x", "?/?", "2/y", "1/?"]
    assert set(result["n_distinct"]) == {5}  # func saw five distinct rows, not six


def test_columns_that_are_absent_are_ignored():
    frame = pd.DataFrame({"a": [1, 1, 2], "b": ["x", "x", "y"]})
    result = on_distinct(frame, ["a", "b", "not_there"], _describe)
    assert result["seen"].tolist() == ["1/x", "1/x", "2/y"]


def test_an_empty_frame_gives_an_empty_result():
    frame = pd.DataFrame({"a": pd.array([], dtype="Int64"), "b": pd.array([], dtype="string")})
    assert on_distinct(frame, ["a", "b"], _describe).empty


def test_func_must_return_one_row_per_distinct_row():
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    with pytest.raises(ValueError, match="one row per distinct row"):
        on_distinct(frame, ["a", "b"], lambda rows: rows.head(1))
