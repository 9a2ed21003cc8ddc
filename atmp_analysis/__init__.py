"""atmp-analysis: read, clean, merge and report an ATMP centre's annual pipeline survey.

The notebook API, step by step::

    from atmp_analysis import load_survey, clean, identify, to_projects, explain, load_key
    raw = load_survey("data/raw/demo/demo_2023_redcap_raw.csv")  # any tool; codebooks=[...]
    responses = identify(clean(raw), load_key())
    projects = to_projects(responses)           # classified: atmp_class, atmp_class_reason …
    print(explain(projects, projects["project_id"].iloc[0]))
"""

from __future__ import annotations

from atmp_analysis.classify import classify_projects, explain
from atmp_analysis.cleaning import clean
from atmp_analysis.config import default_key_path
from atmp_analysis.errors import SurveyError
from atmp_analysis.instrument import Instrument
from atmp_analysis.pipeline import (
    check_surveys,
    data_quality,
    identify,
    load_survey,
    read_surveys,
    to_projects,
    unrecognised_values,
)
from atmp_analysis.pseudonym import load_key as _load_key

__version__ = "0.1.0"

__all__ = [
    "Instrument",
    "SurveyError",
    "check_surveys",
    "classify_projects",
    "clean",
    "data_quality",
    "explain",
    "identify",
    "load_key",
    "load_survey",
    "read_surveys",
    "to_projects",
    "unrecognised_values",
]


def load_key(path: str | None = None) -> bytes:
    """The pseudonymisation key: from ``path``, else ``$ATMP_ANALYSIS_KEY_FILE`` or the
    user's config directory (created there on first use)."""
    return _load_key(path or default_key_path())
