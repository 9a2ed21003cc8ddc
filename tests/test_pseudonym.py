"""Tests of atmp_analysis.pseudonym: the key file and keyed pseudonyms."""

from __future__ import annotations

import hashlib
import logging
import os
import stat

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from atmp_analysis.config import KEY_ENV, default_key_path
from atmp_analysis.errors import SurveyError
from atmp_analysis.pseudonym import load_key, pseudonymise

FIXED_KEY = bytes.fromhex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")


# -- load_key --------------------------------------------------------------------------------
def test_session_key_file_is_not_the_users(tmp_path_factory):
    path = default_key_path()
    assert os.environ[KEY_ENV] == str(path)
    assert path.is_relative_to(tmp_path_factory.getbasetemp())


def test_load_key_creates_a_private_key_file_and_says_where(tmp_path, caplog):
    path = tmp_path / "config" / "atmp" / "pseudonym.key"
    with caplog.at_level(logging.WARNING, logger="atmp_analysis.pseudonym"):
        key = load_key(path)
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) == 32
    assert path.read_text(encoding="ascii").strip() == key.hex()
    assert str(path) in caplog.text


def test_load_key_reads_the_same_key_back(tmp_path, caplog):
    path = tmp_path / "pseudonym.key"
    first = load_key(path)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="atmp_analysis.pseudonym"):
        second = load_key(path)
    assert second == first
    assert "created" not in caplog.text  # no new key the second time


def test_load_key_reads_an_existing_key_file(tmp_path):
    path = tmp_path / "pseudonym.key"
    path.write_text(FIXED_KEY.hex() + "\n", encoding="ascii")
    assert load_key(path) == FIXED_KEY
    assert load_key(path, create=False) == FIXED_KEY


def test_two_new_key_files_hold_different_keys(tmp_path):
    assert load_key(tmp_path / "a.key") != load_key(tmp_path / "b.key")


@pytest.mark.parametrize(
    "content",
    [
        "not a key at all",
        "zz" * 32,
        "abc",  # odd number of hex digits
        "00112233445566778899aabbccddee",  # 15 bytes: too short
        "",
    ],
    ids=["words", "non-hex", "odd", "too-short", "empty"],
)
def test_load_key_rejects_a_file_that_is_not_a_key(tmp_path, content):
    path = tmp_path / "pseudonym.key"
    path.write_text(content, encoding="ascii")
    with pytest.raises(SurveyError, match=r"pseudonym\.key"):
        load_key(path)
    assert path.read_text(encoding="ascii") == content  # never overwritten


def test_load_key_rejects_a_binary_file(tmp_path):
    path = tmp_path / "pseudonym.key"
    path.write_bytes(bytes(range(200, 256)))
    with pytest.raises(SurveyError):
        load_key(path)


def test_load_key_without_create_refuses_a_missing_file(tmp_path):
    path = tmp_path / "missing.key"
    with pytest.raises(SurveyError, match="not found"):
        load_key(path, create=False)
    assert not path.exists()


# -- pseudonymise ----------------------------------------------------------------------------
def _ids(values, key=FIXED_KEY, prefix="P", purpose="project") -> pd.Series:
    return pseudonymise(pd.Series(values, dtype="string"), key, prefix=prefix, purpose=purpose)


def test_pseudonymise_format_and_dtype():
    ids = _ids(["berg a|stempd", "lindqvist k|cartall"])
    assert ids.dtype == "string"
    assert ids.str.fullmatch(r"P[0-9a-f]{12}").all()
    assert _ids(["x"], prefix="R").str.fullmatch(r"R[0-9a-f]{12}").all()


def test_pseudonymise_is_deterministic():
    values = ["anna.berg@uni.example", "karl@uni.example"]
    assert _ids(values).tolist() == _ids(values).tolist()


def test_pseudonymise_is_keyed():
    other = bytes.fromhex("ff" * 32)
    values = ["anna.berg@uni.example", "karl@uni.example"]
    one, two = _ids(values), _ids(values, key=other)
    assert not (one == two).any()


def test_pseudonymise_is_not_a_plain_hash():
    value = "anna.berg@uni.example"
    digest = hashlib.sha256(value.encode()).hexdigest()[:12]
    assert _ids([value]).iloc[0][1:] != digest


def test_pseudonymise_separates_purposes():
    value = ["anna.berg@uni.example"]
    respondent = _ids(value, prefix="X", purpose="respondent")
    project = _ids(value, prefix="X", purpose="project")
    assert respondent.iloc[0] != project.iloc[0]


def test_pseudonymise_keeps_missing_and_the_index():
    values = pd.Series(["a", None, "b", pd.NA], index=[5, 6, 7, 8], dtype="string")
    ids = pseudonymise(values, FIXED_KEY, prefix="R", purpose="respondent")
    assert ids.index.tolist() == [5, 6, 7, 8]
    assert ids.isna().tolist() == [False, True, False, True]


@given(st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=30))
def test_pseudonymise_maps_equal_inputs_to_equal_ids(values):
    ids = _ids(values)
    pairs = set(zip(values, ids, strict=True))
    # one id per distinct value, and one value per id (no collisions in small samples)
    assert len(pairs) == len(set(values))
    assert len(set(ids)) == len(set(values))
