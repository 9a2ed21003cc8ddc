"""Unattended refresh (atmp_analysis.refresh): the build lock, the request's fingerprint,
the up-to-date check, the run record and the stop signals."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from atmp_analysis import refresh
from atmp_analysis.provenance import describe_files, sha256
from atmp_analysis.refresh import (
    BuildLock,
    Busy,
    Terminated,
    append_run,
    fingerprint,
    key_id,
    lock_path,
    locked,
    read_runs,
    run_entry,
    signals_deferred,
    termination_as_exception,
    up_to_date,
)

KEY = bytes.fromhex("3f1c9a5e7b2d4f608192a3b4c5d6e7f80112233445566778899aabbccddeeff0")
OTHER_KEY = bytes.fromhex("c0ffee00112233445566778899aabbccddeeff00112233445566778899aabbcc")
HEX = re.compile(r"[0-9a-f]+")

#: A process that takes the lock of ``sys.argv[1]``, says so, holds it for ``sys.argv[2]``
#: seconds and releases it.
HOLDER = textwrap.dedent(
    """
    import sys, time
    from atmp_analysis.refresh import BuildLock
    lock = BuildLock(sys.argv[1]).acquire()
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    lock.release()
    print("released", flush=True)
    """
)


@pytest.fixture
def holder() -> Iterator:
    """Start processes that hold a folder's lock; kill whatever is left at the end."""
    started: list[subprocess.Popen] = []

    def start(folder: Path, seconds: float) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(folder), str(seconds)],
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        # readline blocks until the holder has the lock (or has died)
        assert proc.stdout.readline().strip() == "locked"
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()


# --------------------------------------------------------------------------------------------
# The lock


def test_lock_path_is_a_hidden_file_beside_the_folder(tmp_path):
    folder = tmp_path / "reports"
    assert lock_path(folder) == tmp_path / ".reports.lock"
    assert lock_path(Path(f"{folder}/")) == tmp_path / ".reports.lock"
    with BuildLock(folder) as lock:
        assert lock.path == tmp_path / ".reports.lock"
        assert lock.path.is_file()
        assert not folder.exists()  # the lock is beside the folder, never inside it


def test_a_second_lock_in_the_same_process_is_busy_and_names_the_holder(tmp_path):
    first = BuildLock(tmp_path / "out").acquire()
    try:
        with pytest.raises(Busy) as caught:
            BuildLock(tmp_path / "out").acquire(wait=False)
        message = str(caught.value)
        assert f"pid {os.getpid()} on {socket.gethostname()}" in message
        assert "another build is running" in message
    finally:
        first.release()
    BuildLock(tmp_path / "out").acquire(wait=False).release()  # free again


def test_a_lock_held_by_another_process_is_busy(tmp_path, holder):
    proc = holder(tmp_path / "out", 60)
    lock = BuildLock(tmp_path / "out")
    with pytest.raises(Busy, match=f"pid {proc.pid} on "):
        lock.acquire(wait=False)
    assert lock._fd is None  # a refused lock leaves no descriptor open


def test_waiting_for_a_lock_blocks_until_the_other_process_releases_it(tmp_path, holder, caplog):
    proc = holder(tmp_path / "out", 2.0)
    clock = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="atmp_analysis"):
        lock = BuildLock(tmp_path / "out").acquire(wait=True)
    waited = time.monotonic() - clock
    try:
        assert 1.0 <= waited < 30
        assert proc.stdout.readline().strip() == "released"
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()
    finally:
        lock.release()
    [record] = [r for r in caplog.records if "another build is running" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert f"pid {proc.pid}" in record.getMessage()


def test_the_lock_of_a_killed_process_is_free_at_once(tmp_path, holder):
    proc = holder(tmp_path / "out", 60)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    clock = time.monotonic()
    BuildLock(tmp_path / "out").acquire(wait=False).release()
    assert time.monotonic() - clock < 5


def test_locked_takes_every_folder_and_releases_them_all(tmp_path):
    a, b = tmp_path / "reports", tmp_path / "processed"
    with locked([a, b, a]):  # a folder named twice is locked once
        for folder in (a, b):
            with pytest.raises(Busy):
                BuildLock(folder).acquire(wait=False)
    for folder in (a, b):
        BuildLock(folder).acquire(wait=False).release()


def test_locked_releases_what_it_took_when_one_folder_is_busy(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    with BuildLock(b), pytest.raises(Busy):
        with locked([a, b], wait=False):
            pass  # pragma: no cover - never reached
    BuildLock(a).acquire(wait=False).release()


# --------------------------------------------------------------------------------------------
# The fingerprint


@pytest.fixture
def request_files(tmp_path) -> dict[str, list[Path]]:
    survey = tmp_path / "survey.csv"
    survey.write_bytes(b"record_id,stage\n1,4\n2,3\n")
    other = tmp_path / "survey_2024.csv"
    other.write_bytes(b"record_id,stage\n7,1\n")
    codebook = tmp_path / "codebook.yaml"
    codebook.write_text("variables: {}\n", encoding="utf-8")
    return {"inputs": [survey, other], "definitions": [codebook]}


PARAMETERS = {"wave": 2023, "centre": "Lund", "audience": "internal", "min_cell": 5}


def _print(files: dict[str, list[Path]], parameters: dict = PARAMETERS, key=KEY) -> str:
    return fingerprint(files["inputs"], files["definitions"], parameters, key)


def test_the_same_request_has_the_same_fingerprint(request_files):
    first = _print(request_files)
    assert len(first) == 64 and HEX.fullmatch(first)
    assert _print(request_files) == first
    reordered = dict(reversed(PARAMETERS.items()))
    assert _print(request_files, reordered) == first


def test_one_byte_of_an_input_changes_the_fingerprint(request_files):
    before = _print(request_files)
    survey = request_files["inputs"][0]
    data = bytearray(survey.read_bytes())
    data[-2] ^= 1  # "3" becomes "2": same size
    survey.write_bytes(bytes(data))
    assert _print(request_files) != before


def test_a_definitions_file_changes_the_fingerprint(request_files):
    before = _print(request_files)
    request_files["definitions"][0].write_text("variables: {x: 1}\n", encoding="utf-8")
    assert _print(request_files) != before
    assert _print({**request_files, "definitions": []}) != before


@pytest.mark.parametrize(
    "change", [{"wave": 2024}, {"centre": "Karolinska"}, {"audience": "public"}, {"new": 1}]
)
def test_a_parameter_changes_the_fingerprint(request_files, change):
    assert _print(request_files, {**PARAMETERS, **change}) != _print(request_files)


def test_the_key_changes_the_fingerprint_but_never_shows(request_files):
    digest = _print(request_files)
    other = _print(request_files, key=OTHER_KEY)
    assert other != digest
    for key in (KEY, OTHER_KEY):
        for shown in (digest, other, json.dumps(key_id(key))):
            assert key.hex() not in shown
            assert key.hex()[:16] not in shown
            assert key.decode("latin-1") not in shown


def test_key_id_is_16_hex_digits_and_differs_between_keys():
    assert re.fullmatch(r"[0-9a-f]{16}", key_id(KEY))
    assert key_id(KEY) == key_id(KEY)
    assert key_id(KEY) != key_id(OTHER_KEY)
    assert key_id(KEY) not in KEY.hex()


# --------------------------------------------------------------------------------------------
# Up to date


@pytest.fixture
def built(tmp_path) -> tuple[Path, Path, str, dict]:
    """An output folder and processed tables with the manifest a build writes."""
    out, processed = tmp_path / "reports", tmp_path / "processed"
    (out / "figures").mkdir(parents=True)
    processed.mkdir()
    (out / "atmp_pipeline_report.html").write_text("<html>report</html>", encoding="utf-8")
    (out / "figures" / "stages.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(64)))
    (processed / "projects.csv").write_text("project_id,stage\nP1,4\n", encoding="utf-8")
    (processed / "responses.csv").write_text("record_id\n1\n", encoding="utf-8")
    print_ = "ab" * 32
    manifest = {
        "fingerprint": print_,
        "finished": "2024-03-01T09:00:00+00:00",
        "outputs": describe_files(sorted(p for p in out.rglob("*") if p.is_file()), out),
        "processed": describe_files(sorted(processed.iterdir()), processed),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    (out / "runs.jsonl").write_text("{}\n", encoding="utf-8")  # not in the manifest
    return out, processed, print_, manifest


def test_up_to_date_returns_the_manifest_of_an_intact_build(built):
    out, processed, print_, manifest = built
    assert {e["name"] for e in manifest["outputs"]} == {
        "atmp_pipeline_report.html",
        "figures/stages.png",
    }
    assert up_to_date(out, processed, print_) == manifest
    append_run(out / "runs.jsonl", {"outcome": "up-to-date"})  # the record may grow
    assert up_to_date(str(out), str(processed), print_) == manifest


def test_up_to_date_is_none_for_another_fingerprint(built):
    out, processed, _, _ = built
    assert up_to_date(out, processed, "cd" * 32) is None


def _flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda o, p: _flip_last_byte(o / "figures" / "stages.png"), id="changed"),
        pytest.param(lambda o, p: (o / "atmp_pipeline_report.html").unlink(), id="deleted"),
        pytest.param(lambda o, p: _flip_last_byte(p / "projects.csv"), id="processed-changed"),
        pytest.param(lambda o, p: (p / "responses.csv").unlink(), id="processed-deleted"),
        pytest.param(
            lambda o, p: (o / "atmp_pipeline_report.html").write_text("x", "utf-8"),
            id="truncated",
        ),
    ],
)
def test_up_to_date_is_none_when_a_listed_file_changed(built, damage):
    out, processed, print_, _ = built
    damage(out, processed)
    assert up_to_date(out, processed, print_) is None


def test_up_to_date_notices_a_change_of_the_same_size(built):
    out, processed, print_, manifest = built
    figure = out / "figures" / "stages.png"
    size = figure.stat().st_size
    _flip_last_byte(figure)
    assert figure.stat().st_size == size
    entry = next(e for e in manifest["outputs"] if e["name"] == "figures/stages.png")
    assert entry["bytes"] == size and sha256(figure) != entry["sha256"]
    assert up_to_date(out, processed, print_) is None


@pytest.mark.parametrize("text", [None, "", "{not json", '{"fingerprint": "ab', "\xff\xfe"])
def test_up_to_date_is_none_without_a_readable_manifest(built, text):
    out, processed, print_, _ = built
    manifest = out / "manifest.json"
    if text is None:
        manifest.unlink()
    else:
        manifest.write_text(text, encoding="latin-1")
    assert up_to_date(out, processed, print_) is None


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("[]", id="a-list"),
        pytest.param("null", id="null"),
        pytest.param('{{"fingerprint": "{print_}", "outputs": null}}', id="outputs-null"),
        pytest.param(
            '{{"fingerprint": "{print_}", "outputs": [{{"name": "atmp_pipeline_report.html"}}]}}',
            id="entry-without-size",
        ),
    ],
)
def test_up_to_date_is_none_for_a_manifest_of_another_shape(built, text):
    """A manifest that is JSON but not what a build writes means "build again", not a crash."""
    out, processed, print_, _ = built
    (out / "manifest.json").write_text(text.format(print_=print_), encoding="utf-8")
    assert up_to_date(out, processed, print_) is None


# --------------------------------------------------------------------------------------------
# The run record


def test_run_entry_records_the_run(tmp_path):
    survey = tmp_path / "survey.csv"
    survey.write_bytes(b"record_id\n1\n")
    missing = tmp_path / "gone.csv"
    entry = run_entry(
        started="2024-03-01T09:00:00+00:00",
        seconds=12.3456,
        outcome="built",
        exit_code=0,
        inputs=[survey, missing],
        parameters={"wave": 2023},
        fingerprint="ab" * 32,
        failed_notebook=None,
        message=None,
    )
    assert entry["started"] == "2024-03-01T09:00:00+00:00"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", entry["finished"])
    assert entry["seconds"] == 12.35
    assert (entry["outcome"], entry["exit_code"]) == ("built", 0)
    assert entry["inputs"] == [
        {"path": str(survey.resolve()), "sha256": sha256(survey)},
        {"path": str(missing), "sha256": None},
    ]
    assert entry["parameters"] == {"wave": 2023}
    assert entry["fingerprint"] == "ab" * 32
    assert "failed_notebook" not in entry and "message" not in entry
    assert entry["pid"] == os.getpid() and entry["host"] == socket.gethostname()
    json.dumps(entry)  # a run record line


def test_run_entry_defaults():
    entry = run_entry(started="s", seconds=0, outcome="busy", exit_code=75)
    assert entry["inputs"] == [] and entry["parameters"] == {}


def test_runs_are_whole_lines_oldest_first(tmp_path):
    path = tmp_path / "reports" / "runs.jsonl"  # the folder is made when missing
    assert read_runs(path) == []
    for number in range(3):
        append_run(path, {"n": number, "centre": "Lund Stem Cell Center – ÅÄÖ"})
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n") and text.count("\n") == 3
    assert [json.loads(line)["n"] for line in text.splitlines()] == [0, 1, 2]
    assert read_runs(path) == [{"n": n, "centre": "Lund Stem Cell Center – ÅÄÖ"} for n in range(3)]


APPENDER = textwrap.dedent(
    """
    import sys
    from atmp_analysis.refresh import append_run
    writer = int(sys.argv[2])
    for n in range(50):
        append_run(sys.argv[1], {"writer": writer, "n": n, "padding": "x" * (1000 + 37 * n)})
    """
)


def test_concurrent_appenders_never_interleave(tmp_path):
    path = tmp_path / "runs.jsonl"
    procs = [
        subprocess.Popen([sys.executable, "-c", APPENDER, str(path), str(writer)])
        for writer in range(8)
    ]
    assert [proc.wait(timeout=120) for proc in procs] == [0] * 8
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 400
    runs = [json.loads(line) for line in lines]
    assert sorted((r["writer"], r["n"]) for r in runs) == [
        (w, n) for w in range(8) for n in range(50)
    ]
    for writer in range(8):  # each writer's lines in the order it wrote them
        assert [r["n"] for r in runs if r["writer"] == writer] == list(range(50))
    assert read_runs(path) == runs


# --------------------------------------------------------------------------------------------
# Signals


@pytest.fixture(autouse=True)
def _no_signal_state_left() -> Iterator[None]:
    """Keep the module's deferral state and the stop handlers from leaking between tests."""
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    yield
    refresh._deferred.clear()
    refresh._deferring = False
    for s, handler in handlers.items():
        signal.signal(s, handler)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_raises_terminated(signum):
    with pytest.raises(Terminated) as caught, termination_as_exception():
        os.kill(os.getpid(), signum)
        time.sleep(10)  # interrupted by the handler's exception
    assert caught.value.signum == signum
    assert caught.value.name == {signal.SIGTERM: "SIGTERM", signal.SIGHUP: "SIGHUP"}[signum]
    assert not isinstance(caught.value, Exception)  # `except Exception` does not swallow it


def test_a_signal_is_held_until_the_deferred_block_ends():
    ran = []
    with pytest.raises(Terminated) as caught, termination_as_exception():
        with signals_deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.2)  # the handler runs here and only takes note
            ran.append("after the kill")
        ran.append("after the block")  # pragma: no cover - never reached
    assert ran == ["after the kill"]
    assert caught.value.name == "SIGTERM"


def test_nested_deferral_raises_once_at_the_outer_end():
    ran = []
    with pytest.raises(Terminated), termination_as_exception():
        with signals_deferred():
            with signals_deferred():
                os.kill(os.getpid(), signal.SIGHUP)
                time.sleep(0.2)
            ran.append("inner block ended")
        ran.append("outer block ended")  # pragma: no cover - never reached
    assert ran == ["inner block ended"]


def test_a_deferred_block_without_a_signal_raises_nothing():
    with termination_as_exception(), signals_deferred():
        pass
    assert refresh._deferred == []


def test_a_signal_held_by_a_failed_block_is_not_raised_by_a_later_block():
    """A block that fails after a signal was held must not leave it to the next block."""
    with termination_as_exception():
        with pytest.raises(ValueError), signals_deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.2)
            raise ValueError("publishing failed")
        with signals_deferred():
            pass  # no signal came during this block: it must end quietly


def test_the_previous_handlers_are_restored():
    def mine(signum, frame):  # pragma: no cover - never called
        pass

    signal.signal(signal.SIGTERM, mine)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    with termination_as_exception():
        assert signal.getsignal(signal.SIGTERM) is not mine
        assert signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN
    assert signal.getsignal(signal.SIGTERM) is mine
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    with pytest.raises(Terminated), termination_as_exception():
        raise Terminated(signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is mine
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
