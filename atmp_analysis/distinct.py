"""Work done once per distinct combination of values, then spread back over the rows.

Project tables repeat themselves: the same description, the same answers to the product
questions, wave after wave and across a centre's similar projects. The costly steps of
classification (text matching, building the reasons) therefore run on the distinct rows
of the columns they read, and their results are taken back to every row.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd


def on_distinct(
    frame: pd.DataFrame,
    columns: list[str],
    func: Callable[[pd.DataFrame], pd.DataFrame],
) -> pd.DataFrame:
    """Apply ``func`` to the distinct rows of ``frame[columns]``; return a row per row.

    Parameters
    ----------
    frame
        The table.
    columns
        The columns ``func`` reads (absent ones are ignored). Missing values count as a
        value of their own.
    func
        Takes the distinct rows (a frame with ``columns``) and returns a frame with one
        row per distinct row, in the same order.

    Returns
    -------
    pandas.DataFrame
        ``func``'s columns, aligned with ``frame``'s index.
    """
    present = [c for c in columns if c in frame]
    keys = frame[present]
    if keys.empty or not present:
        result = func(keys)
        return result.set_axis(frame.index) if len(result) == len(frame) else result
    codes = keys.groupby(present, dropna=False, sort=False).ngroup().to_numpy()
    distinct = keys.drop_duplicates().reset_index(drop=True)
    result = func(distinct)
    if len(result) != len(distinct):
        raise ValueError("func must return one row per distinct row")
    return result.iloc[codes].set_axis(frame.index)
