"""Derived project columns of OUTPUTS.md: platforms, cell origin, stage, TRL and needs.

Every mapping is a table shipped in the package (``data/vocab/platforms.csv``,
``data/vocab/answer_labels.csv``, ``data/reference/stage_trl.csv``) applied vectorised; the
instrument's own labels come from the data dictionary.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

from atmp_analysis.choices import mask_has, mask_to_labels
from atmp_analysis.config import REFERENCE_DIR, VOCAB_DIR
from atmp_analysis.instrument import Instrument


@cache
def platform_table() -> pd.DataFrame:
    """The answers that make a platform (``field, code, platform``), in output order."""
    return pd.read_csv(
        VOCAB_DIR / "platforms.csv", dtype={"field": str, "code": int, "platform": str}
    )


@cache
def answer_labels() -> pd.DataFrame:
    """Output labels of coded answers (``field, code, label``)."""
    return pd.read_csv(VOCAB_DIR / "answer_labels.csv", dtype={"code": int}, keep_default_na=False)


@cache
def stage_trl() -> pd.DataFrame:
    """The stage → TRL table with its source (``stage_code, trl, source``)."""
    return pd.read_csv(REFERENCE_DIR / "stage_trl.csv")


def _join(flags: dict[str, pd.Series], index: pd.Index) -> pd.Series:
    """``;``-join the names whose flag is set, in the order given; empty → missing."""
    if not flags:
        return pd.Series(pd.NA, index=index, dtype="string")
    parts = np.vstack(
        [np.where(f.to_numpy(dtype=bool), name + ";", "") for name, f in flags.items()]
    ).astype(object)
    joined = pd.Series(np.sum(parts, axis=0), index=index).str.rstrip(";")
    return joined.astype("string").replace("", pd.NA)


def platforms(projects: pd.DataFrame) -> pd.Series:
    """The ``;``-joined platforms of each project, from gene technologies, cell types, device."""
    flags: dict[str, pd.Series] = {}
    for row in platform_table().itertuples(index=False):
        if row.field not in projects:
            continue
        column = projects[row.field]
        if row.field == "device":
            hit = (column == row.code).fillna(False)
        else:
            hit = mask_has(column, row.code)
        flags[row.platform] = flags.get(row.platform, pd.Series(False, index=projects.index)) | hit
    return _join(flags, projects.index)


def _label(projects: pd.DataFrame, field: str) -> pd.Series:
    table = answer_labels()
    mapping = dict(table.loc[table["field"] == field, ["code", "label"]].to_numpy())
    labels = projects[field].map(mapping).astype("string")
    return labels.replace("", pd.NA)


def derive_columns(projects: pd.DataFrame, instrument: Instrument | None = None) -> pd.DataFrame:
    """Add the derived columns of OUTPUTS.md to merged projects (codes stay beside them).

    Adds ``platforms``, ``cell_origin`` (label), ``ther_area`` (label), ``rare_disease``
    (yes/no), ``stage_code``, ``stage`` (label), ``trl``, ``support_needs`` (labels),
    ``support_horizon`` (label); the codes they come from are kept as ``<field>_code``.
    """
    instrument = instrument or Instrument.default()
    out = projects.copy()
    out["platforms"] = platforms(out)
    for field in ("cell_origin", "rare_disease", "support_horizon"):
        out[f"{field}_code"] = out[field]
        out[field] = _label(out, field)
    out["ther_area_code"] = out["ther_area"]
    out["ther_area"] = out["ther_area"].map(instrument["ther_area"].choices).astype("string")
    out["stage_code"] = out["stage"].astype("Int64")
    out["stage"] = out["stage_code"].map(instrument["stage"].choices).astype("string")
    trl = dict(stage_trl()[["stage_code", "trl"]].to_numpy())
    out["trl"] = out["stage_code"].map(trl).astype("Int64")
    out["support_needs_code"] = out["support_needs"]
    out["support_needs"] = mask_to_labels(out["support_needs"], instrument["support_needs"])
    return out
