"""Where a report comes from: input digests, parameters, software versions, git commit.

The build records this before it runs the notebooks (the report's appendix prints it) and
completes it afterwards with every output's digest, as ``manifest.json``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from atmp_analysis.config import SOURCE_ROOT

#: The package's main dependencies whose versions a manifest records.
DEPENDENCIES = (
    "pandas",
    "numpy",
    "matplotlib",
    "seaborn",
    "papermill",
    "nbconvert",
    "nbformat",
    "ipykernel",
    "openpyxl",
    "pandera",
    "rapidfuzz",
)


def sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe_files(paths: Iterable[Path], root: Path | None = None) -> list[dict]:
    """Name (relative to ``root`` when given), size and SHA-256 of each file."""
    out = []
    for path in paths:
        path = Path(path)
        name = path.relative_to(root).as_posix() if root else path.name
        out.append({"name": name, "bytes": path.stat().st_size, "sha256": sha256(path)})
    return out


def versions() -> dict[str, str]:
    """Python's and the package's version, and those of its main dependencies."""
    import platform

    from atmp_analysis import __version__

    out = {"python": platform.python_version(), "atmp-analysis": __version__}
    for name in DEPENDENCIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_commit(root: Path = SOURCE_ROOT) -> str | None:
    """The checkout's commit (with ``+dirty`` when files changed), or None outside git."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "") if commit else None


def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def record(inputs: Iterable[Path], parameters: dict, *, started: str | None = None) -> dict:
    """The provenance of a build before it runs: inputs, parameters, versions, commit."""
    return {
        "started": started or now(),
        "inputs": describe_files(inputs),
        "parameters": parameters,
        "versions": versions(),
        "git_commit": git_commit(),
    }
