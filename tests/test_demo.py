"""The synthetic demo survey: reproducible, and the committed exports are its output."""

from __future__ import annotations

import pandas as pd

from atmp_analysis.config import DEMO_DIR
from atmp_analysis.demo import generate, load_spec, responses_for_wave
from atmp_analysis.readers import read_export


def test_committed_demo_is_what_the_generator_writes(tmp_path):
    written = generate(tmp_path)
    assert sorted(p.name for p in written) == sorted(
        p.name for p in DEMO_DIR.iterdir() if p.suffix in (".csv", ".xlsx")
    )
    for path in written:
        assert path.read_bytes() == (DEMO_DIR / path.name).read_bytes(), path.name


def test_another_seed_changes_times_not_answers(tmp_path):
    a = read_export(generate(tmp_path / "a", seed=1)[0])
    b = read_export(generate(tmp_path / "b", seed=2)[0])
    assert not a["submitted"].equals(b["submitted"])
    answers = ["proj_acronym", "resp_email", "stage", "fih_year"]
    key = ["proj_acronym", "resp_email", "stage"]
    assert (
        a[answers]
        .sort_values(key)
        .reset_index(drop=True)
        .equals(b[answers].sort_values(key).reset_index(drop=True))
    )


def test_every_wave_has_the_mess_of_real_exports():
    spec = load_spec()
    for wave in spec["centre"]["waves"]:
        kinds = pd.Series([r.meta["kind"] for r in responses_for_wave(spec, wave)])
        counts = kinds.value_counts().to_dict()
        assert counts["test"] >= 1 and counts["duplicate"] >= 1
        assert counts["screened out"] >= 1 and counts["project"] > 40


def test_the_demo_says_it_is_synthetic():
    readme = (DEMO_DIR / "README.md").read_text(encoding="utf-8")
    assert "synthetic" in readme.lower() and "atmp-report demo" in readme
    emails = [p["email"] for p in load_spec()["person"]]
    assert all(e.endswith(".example") for e in emails)
