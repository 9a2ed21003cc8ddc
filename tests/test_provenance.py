"""Provenance records (atmp_analysis.provenance): digests, versions, git commit, the record."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from atmp_analysis import __version__, provenance
from atmp_analysis.config import SOURCE_ROOT

COMMIT = re.compile(r"[0-9a-f]{40}(\+dirty)?")


def test_sha256_equals_hashlib(tmp_path):
    path = tmp_path / "survey.csv"
    path.write_bytes(b"record_id,stage\n1,4\n2,\xc3\xa5\n")
    assert provenance.sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_sha256_of_a_file_larger_than_one_block(tmp_path):
    data = bytes(range(256)) * (5 * 4096 + 7)  # ~5 MiB, not a multiple of the block size
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    assert provenance.sha256(str(path)) == hashlib.sha256(data).hexdigest()


def test_sha256_of_an_empty_file(tmp_path):
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert provenance.sha256(path) == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


def test_describe_files_names_sizes_and_digests(tmp_path):
    (tmp_path / "raw" / "2023").mkdir(parents=True)
    first = tmp_path / "raw" / "2023" / "survey.csv"
    second = tmp_path / "raw" / "other.xlsx"
    first.write_bytes(b"a,b\n1,2\n")
    second.write_bytes(b"PK\x03\x04 not really a workbook")
    described = provenance.describe_files([first, second], root=tmp_path)
    assert described == [
        {
            "name": "raw/2023/survey.csv",
            "bytes": 8,
            "sha256": hashlib.sha256(b"a,b\n1,2\n").hexdigest(),
        },
        {
            "name": "raw/other.xlsx",
            "bytes": len(second.read_bytes()),
            "sha256": hashlib.sha256(second.read_bytes()).hexdigest(),
        },
    ]
    # without a root: the bare file names (no folders of the user's machine)
    assert [d["name"] for d in provenance.describe_files([str(first), second])] == [
        "survey.csv",
        "other.xlsx",
    ]
    assert provenance.describe_files([]) == []


def test_describe_files_outside_root_raises(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("x")
    with pytest.raises(ValueError):
        provenance.describe_files([path], root=tmp_path / "elsewhere")


def test_versions_name_python_the_package_and_its_dependencies():
    import platform

    import pandas

    found = provenance.versions()
    assert found["python"] == platform.python_version()
    assert found["atmp-analysis"] == __version__
    assert found["pandas"] == pandas.__version__
    assert re.fullmatch(r"\d+\.\d+.*", found["papermill"])
    assert set(provenance.DEPENDENCIES) <= set(found)
    assert list(found)[:2] == ["python", "atmp-analysis"]


def test_versions_of_a_missing_dependency(monkeypatch):
    monkeypatch.setattr(provenance, "DEPENDENCIES", ("pandas", "no-such-package-atmp-test"))
    found = provenance.versions()
    assert found["no-such-package-atmp-test"] == "not installed"
    assert set(found) == {"python", "atmp-analysis", "pandas", "no-such-package-atmp-test"}


def test_git_commit_outside_git_is_none(tmp_path):
    assert provenance.git_commit(tmp_path) is None


def test_git_commit_of_a_missing_folder_is_none(tmp_path):
    assert provenance.git_commit(tmp_path / "missing") is None


def test_git_commit_of_the_checkout():
    if not (SOURCE_ROOT / ".git").exists():
        pytest.skip("not running from a git checkout")
    commit = provenance.git_commit()
    assert commit is not None and COMMIT.fullmatch(commit)
    head = subprocess.run(
        ["git", "-C", str(SOURCE_ROOT), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert commit.removesuffix("+dirty") == head


@pytest.fixture
def repository(tmp_path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root = tmp_path / "repo"
    root.mkdir()

    def git(*args):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
            cwd=root,
            check=True,
            capture_output=True,
        )

    git("init", "-q")
    (root / "tracked.txt").write_text("one\n")
    git("add", "tracked.txt")
    git("commit", "-q", "-m", "first")
    return root


def test_git_commit_clean_dirty_and_untracked(repository):
    clean = provenance.git_commit(repository)
    assert re.fullmatch(r"[0-9a-f]{40}", clean)
    # untracked files do not make the checkout dirty
    (repository / "untracked.txt").write_text("new\n")
    assert provenance.git_commit(repository) == clean
    # a changed tracked file does
    (repository / "tracked.txt").write_text("two\n")
    assert provenance.git_commit(repository) == clean + "+dirty"


def test_now_is_utc_to_the_second():
    stamp = provenance.now()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", stamp)
    parsed = dt.datetime.fromisoformat(stamp)
    assert abs((dt.datetime.now(dt.UTC) - parsed).total_seconds()) < 60


def test_record_keys_and_contents(tmp_path):
    path = tmp_path / "demo_2023_redcap_raw.csv"
    path.write_bytes(b"record_id\n1\n")
    parameters = {"wave": 2023, "audience": "public", "min_cell": 3}
    record = provenance.record([path], parameters, started="2024-02-01T10:00:00+00:00")
    assert set(record) == {"started", "inputs", "parameters", "versions", "git_commit"}
    assert record["started"] == "2024-02-01T10:00:00+00:00"
    assert record["inputs"] == [
        {
            "name": "demo_2023_redcap_raw.csv",
            "bytes": 12,
            "sha256": hashlib.sha256(b"record_id\n1\n").hexdigest(),
        }
    ]
    assert record["parameters"] == parameters
    assert record["versions"]["atmp-analysis"] == __version__
    assert record["git_commit"] is None or COMMIT.fullmatch(record["git_commit"])


def test_record_starts_now_by_default():
    record = provenance.record([], {})
    assert record["inputs"] == [] and record["parameters"] == {}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", record["started"])
