"""Writing outputs so that a failed run never leaves a half-written file behind."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_write(path: Path, *, newline: str | None = None) -> Iterator:
    """Open a temporary file beside ``path``; rename it into place only on success.

    Examples
    --------
    >>> with atomic_write(Path("out.csv"), newline="") as handle:  # doctest: +SKIP
    ...     table.to_csv(handle, index=False)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as handle:
            yield handle
        os.chmod(tmp, 0o666 & ~umask())  # mkstemp makes 0600; outputs are shared tables
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def umask() -> int:
    """The process's file-creation mask (read without changing it for long)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
