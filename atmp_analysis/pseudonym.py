"""Pseudonyms by keyed hash (HMAC-SHA256) with a secret key kept outside the repository.

A pseudonym cannot be recomputed from a name or e-mail address without the centre's key,
and the same input always gives the same pseudonym under the same key, so ids stay stable
across waves and export formats. The key is 32 random bytes, hex-encoded, in a file readable
only by its owner.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

import pandas as pd

from atmp_analysis.errors import SurveyError

log = logging.getLogger(__name__)

ID_LENGTH = 12  # hex digits: 48 bits, collision-free in practice up to millions of ids


def load_key(path: str | Path, *, create: bool = True) -> bytes:
    """Read the pseudonymisation key from ``path``, creating it on first use.

    Parameters
    ----------
    path
        The key file (see :func:`atmp_analysis.config.default_key_path`).
    create
        Create a new random key when the file does not exist, and say where.

    Raises
    ------
    SurveyError
        When the file is missing (and ``create`` is false), unreadable or not a key.
    """
    path = Path(path)
    if not path.exists():
        if not create:
            raise SurveyError(f"{path}: pseudonymisation key not found")
        path.parent.mkdir(parents=True, exist_ok=True)
        key_hex = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(key_hex + "\n")
        log.warning(
            "created a new pseudonymisation key at %s; keep it secret and back it up: "
            "project and respondent ids stay the same across waves only with the same key",
            path,
        )
    try:
        text = path.read_text(encoding="ascii").strip()
        key = bytes.fromhex(text)
    except (OSError, UnicodeDecodeError, ValueError):
        raise SurveyError(f"{path}: not a pseudonymisation key (expected 64 hex digits)") from None
    if len(key) < 16:
        raise SurveyError(f"{path}: the pseudonymisation key is too short (at least 32 hex digits)")
    return key


def pseudonymise(values: pd.Series, key: bytes, *, prefix: str, purpose: str) -> pd.Series:
    """Map each distinct value to ``prefix`` + the first hex digits of its HMAC.

    Parameters
    ----------
    values
        Normalised identifying keys (e.g. an e-mail address in lower case); missing stays
        missing.
    key
        The secret key (:func:`load_key`).
    prefix
        Prepended to the digest, e.g. ``"P"`` for projects.
    purpose
        Mixed into the message, so the same text gives unrelated ids for different uses.

    The HMAC is computed once per distinct value, not once per row, from a copy of the
    HMAC state that has already taken in the purpose.
    """
    codes, uniques = pd.factorize(values)
    keyed = hmac.new(key, f"{purpose}\x1f".encode(), hashlib.sha256)
    # a plain list: iterating over a pandas Index goes element by element through pandas
    digests = [prefix + _hexdigest(keyed, f"{value}") for value in uniques.tolist()]
    ids = pd.array(digests, dtype="string").take(codes, allow_fill=True)
    return pd.Series(ids, index=values.index, name=values.name, copy=False)


def _hexdigest(keyed: hmac.HMAC, text: str) -> str:
    """The first ``ID_LENGTH`` hex digits of the HMAC ``keyed`` continued with ``text``."""
    state = keyed.copy()
    state.update(text.encode())
    return state.hexdigest()[:ID_LENGTH]
