"""pandera schemas of the processed tables: the column contract of OUTPUTS.md, checked lazily.

Validation collects every failing cell (``SchemaErrors.failure_cases``) rather than stopping at
the first. The tables are checked before they are written, so a table that breaks the
contract never reaches a user.
"""

from __future__ import annotations

import pandera.pandas as pa

from atmp_analysis.classify import CLASSES
from atmp_analysis.cleaning import STATUSES
from atmp_analysis.derive import bottleneck_themes, platform_table
from atmp_analysis.instrument import Instrument
from atmp_analysis.projects import LINK_CONFIDENCE

ATMP_CLASSES = list(CLASSES)
HORIZONS = ["1-2 years", "3-5 years", "5-10 years"]


def _joined_from(allowed: list[str]) -> pa.Check:
    allowed_set = set(allowed)

    def check(column):
        items = column.str.split(";").explode()
        ok = items.isna() | items.isin(allowed_set)
        return ok.groupby(level=0).all().reindex(column.index, fill_value=True)

    return pa.Check(check, error=f"every ;-joined item must be one of {sorted(allowed_set)}")


def projects_schema() -> pa.DataFrameSchema:
    """The schema of ``projects.csv`` (extra columns allowed)."""
    text = {"nullable": True, "coerce": False}
    needs = list(Instrument.default()["support_needs"].choices.values())
    return pa.DataFrameSchema(
        {
            "project_id": pa.Column(str, pa.Check.str_matches(r"^P[0-9a-f]{12}$")),
            "wave": pa.Column(int, pa.Check.in_range(1990, 2100)),
            "acronym": pa.Column(str, nullable=True),
            "n_responses": pa.Column(int, pa.Check.ge(1)),
            "atmp_class": pa.Column(str, pa.Check.isin(ATMP_CLASSES)),
            "atmp_class_reason": pa.Column(str, pa.Check.str_length(min_value=1)),
            "platforms": pa.Column(str, _joined_from(list(platform_table()["platform"])), **text),
            "cell_origin": pa.Column(
                str, pa.Check.isin(["autologous", "allogeneic", "xenogeneic"]), **text
            ),
            "ther_area": pa.Column(str, **text),
            "rare_disease": pa.Column(str, pa.Check.isin(["yes", "no"]), **text),
            "stage_code": pa.Column("Int64", pa.Check.in_range(1, 11), nullable=True),
            "stage": pa.Column(str, **text),
            "trl": pa.Column("Int64", pa.Check.in_range(1, 9), nullable=True),
            "fih_year": pa.Column("Int64", pa.Check.in_range(1990, 2100), nullable=True),
            "support_needs": pa.Column(str, _joined_from(needs), **text),
            "support_horizon": pa.Column(str, pa.Check.isin(HORIZONS), **text),
            "bottleneck_themes": pa.Column(
                str, _joined_from(list(bottleneck_themes()["theme"])), **text
            ),
            "conflicts": pa.Column(str, **text),
            "linked_wave": pa.Column("Int64", nullable=True, required=False),
            "link_confidence": pa.Column(
                str, pa.Check.isin(list(LINK_CONFIDENCE)), required=False, **text
            ),
        },
        unique=["project_id", "wave"],
        strict=False,
        name="Projects",
    )


def responses_schema() -> pa.DataFrameSchema:
    """The schema of ``responses.csv`` (extra columns allowed)."""
    return pa.DataFrameSchema(
        {
            "respondent_id": pa.Column(
                str, pa.Check.str_matches(r"^R[0-9a-f]{12}$"), nullable=True
            ),
            "project_id": pa.Column(str, pa.Check.str_matches(r"^P[0-9a-f]{12}$"), nullable=True),
            "status": pa.Column(str, pa.Check.isin(list(STATUSES))),
            "wave": pa.Column(int),
            "source_file": pa.Column(str),
            "source_row": pa.Column(int, pa.Check.ge(2)),
        },
        checks=[
            pa.Check(
                lambda df: df["project_id"].notna() == (df["status"] == "project"),
                error="project_id is set exactly on responses with status 'project'",
            )
        ],
        strict=False,
        name="Responses",
    )
