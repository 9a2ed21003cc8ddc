"""Run a benchmark script's measurement in a fresh interpreter (for honest peak memory)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def spawn(script: str | Path, args: list[str], *, cwd: Path | None = None) -> dict:
    """Run ``script`` with ``args`` in a new Python process; return the JSON line it prints
    last. A failing child ends the benchmark with its error output and exit code."""
    proc = subprocess.run(
        [sys.executable, str(Path(script).resolve()), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"child {args} failed with exit code {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def git_state(root: Path) -> str:
    """The checkout's short commit, and whether the package has uncommitted changes."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    rev = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", "atmp_analysis")
    return rev + (" + uncommitted changes in atmp_analysis/" if dirty else "")
