"""Where things are: the package's data files, the demo survey, default outputs and the key.

Paths come from this one place. Library functions take paths and keys as arguments; only the
command line and the notebook helpers call the resolvers below, which read the environment.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

PACKAGE_DATA = Path(str(resources.files("atmp_analysis") / "data"))
INSTRUMENT_DIR = PACKAGE_DATA / "instrument"
VOCAB_DIR = PACKAGE_DATA / "vocab"
REFERENCE_DIR = PACKAGE_DATA / "reference"
RULES_DIR = PACKAGE_DATA / "rules"
CODEBOOK_DIR = PACKAGE_DATA / "codebooks"
DEMO_SPEC = PACKAGE_DATA / "demo" / "demo_centre.toml"

DATA_DICTIONARY = INSTRUMENT_DIR / "redcap_data_dictionary.csv"
QUESTION_LIST = INSTRUMENT_DIR / "question_list.md"

#: The checkout's root when the package runs from a source tree (editable install).
SOURCE_ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = SOURCE_ROOT / "data" / "raw" / "demo"
PROCESSED_DIR = SOURCE_ROOT / "data" / "processed"
REPORTS_DIR = SOURCE_ROOT / "reports"
#: The report page in the report folder.
REPORT_FILE = "atmp_pipeline_report.html"

#: Environment variable naming the pseudonymisation key file.
KEY_ENV = "ATMP_ANALYSIS_KEY_FILE"
KEY_FILENAME = "pseudonym.key"


def default_key_path() -> Path:
    """Return the pseudonymisation key file: ``$ATMP_ANALYSIS_KEY_FILE`` or the config dir.

    The user's configuration directory is ``$XDG_CONFIG_HOME/atmp-analysis`` (default
    ``~/.config/atmp-analysis``) on Linux and macOS and ``%APPDATA%\\atmp-analysis`` on
    Windows. The key never lives in the repository.
    """
    explicit = os.environ.get(KEY_ENV)
    if explicit:
        return Path(explicit).expanduser()
    if os.name == "nt" and os.environ.get("APPDATA"):
        base = Path(os.environ["APPDATA"])
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "atmp-analysis" / KEY_FILENAME


def demo_exports(wave: int | None = None, fmt: str = "redcap") -> list[Path]:
    """Return the bundled demo exports of one format, all waves unless ``wave`` is given.

    Parameters
    ----------
    wave
        A survey year (2023 or 2024), or ``None`` for every wave.
    fmt
        ``"redcap"`` (REDCap raw CSV), ``"msforms"`` (Microsoft Forms xlsx), or any other
        format of the demo by its file ending (``"qualtrics_text"``, ``"swedish"`` ...).
    """
    pattern = {"redcap": "*_redcap_raw.csv", "msforms": "*_msforms.xlsx"}.get(fmt, f"*_{fmt}.*")
    files = sorted(DEMO_DIR.glob(pattern))
    if wave is not None:
        files = [f for f in files if f.name.startswith(f"demo_{wave}_")]
    return files
