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


def test_every_format_gives_identical_projects(tmp_path):
    """REDCap raw and labels, Microsoft Forms xlsx and csv, Qualtrics text and numeric,
    Google Forms and the Swedish workbook: the same answers give the same projects.csv."""
    from atmp_analysis.cli import main
    from atmp_analysis.demo import FORMATS

    written = generate(tmp_path / "demo")
    key = tmp_path / "key"
    outputs = {}
    for fmt in FORMATS:
        files = [str(p) for p in written if p.name.endswith(f"_{fmt}")]
        assert len(files) == 2, fmt  # both waves
        out = tmp_path / fmt
        assert main(["classify", *files, "--out", str(out), "--key-file", str(key), "-q"]) == 0
        outputs[fmt] = (out / "projects.csv").read_bytes()
    projects = pd.read_csv(tmp_path / "redcap_raw.csv" / "projects.csv")
    assert projects.groupby("wave").size().to_dict() == {2023: 23, 2024: 25}
    reference = outputs["redcap_raw.csv"]
    assert {fmt for fmt, data in outputs.items() if data != reference} == set()


def test_every_format_is_recognised_from_its_content(tmp_path):
    from atmp_analysis.demo import FORMATS
    from atmp_analysis.readers import detect_format

    expected = {
        "redcap_raw.csv": "redcap",
        "redcap_labels.csv": "redcap",
        "msforms.xlsx": "msforms",
        "msforms.csv": "msforms",
        "qualtrics_text.csv": "qualtrics",
        "qualtrics_numeric.csv": "qualtrics",
        "googleforms.csv": "googleforms",
        "swedish.xlsx": "generic",
    }
    assert set(expected) == set(FORMATS)
    for path in generate(tmp_path):
        if "_2023_" in path.name:
            renamed = path.rename(path.with_name(path.stem.replace("_", "-") + ".data"))
            assert detect_format(renamed) == expected[path.name.split("_", 2)[2]], path.name
