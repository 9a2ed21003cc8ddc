"""End to end: the atmp-report command on the demo survey and on bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from atmp_analysis.cli import main
from atmp_analysis.config import DEMO_DIR, demo_exports
from atmp_analysis.demo import load_spec

REDCAP_2023 = DEMO_DIR / "demo_2023_redcap_raw.csv"
FORMS_2023 = DEMO_DIR / "demo_2023_msforms.xlsx"
REDCAP_2024 = DEMO_DIR / "demo_2024_redcap_raw.csv"


@pytest.fixture(scope="module")
def key_file(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("key") / "pseudonym.key"


def classify(surveys: list[Path], out: Path, key_file: Path, *extra: str) -> int:
    return main(
        [
            "-q",
            "classify",
            *map(str, surveys),
            "--out",
            str(out),
            "--key-file",
            str(key_file),
            *extra,
        ]
    )


@pytest.fixture(scope="module")
def demo_2023(tmp_path_factory, key_file) -> dict[str, Path]:
    outs = {}
    for name, survey in (("redcap", REDCAP_2023), ("msforms", FORMS_2023)):
        out = tmp_path_factory.mktemp(name)
        assert classify([survey], out, key_file) == 0
        outs[name] = out
    return outs


def split_count(column: pd.Series) -> dict[str, int]:
    return column.dropna().str.split(";").explode().value_counts().to_dict()


def test_redcap_and_forms_give_identical_projects(demo_2023):
    redcap = (demo_2023["redcap"] / "projects.csv").read_bytes()
    forms = (demo_2023["msforms"] / "projects.csv").read_bytes()
    assert redcap == forms


def test_demo_2023_reproduces_the_published_figures(demo_2023):
    projects = pd.read_csv(demo_2023["redcap"] / "projects.csv")
    assert len(projects) == 23
    assert projects["project_id"].is_unique
    platforms = split_count(projects["platforms"])
    assert (platforms["AAV"], platforms["lentiviral"], platforms["pluripotent stem cell"]) == (
        7,
        4,
        10,
    )
    stages = projects["stage_code"].value_counts().to_dict()
    assert stages[7] == 1  # one project in Phase I ...
    phase1 = projects[projects["stage_code"] == 7].iloc[0]
    assert phase1["disease"] == "Parkinson's disease"
    assert phase1["trl"] == 6
    assert stages[4] == 8  # ... and 3 TEPs + 5 GTMPs in preclinical development
    assert not any(code in stages for code in (5, 6, 8, 9, 10, 11))


@pytest.mark.parametrize("fmt", ["redcap", "msforms"])
def test_demo_2023_classes_are_the_published_ones(demo_2023, fmt):
    projects = pd.read_csv(demo_2023[fmt] / "projects.csv")
    assert projects["atmp_class"].value_counts().to_dict() == {"GTMP": 13, "TEP": 7, "sCTMP": 3}
    assert projects["atmp_class_reason"].str.contains("→").all()
    preclinical = projects[projects["stage_code"] == 4]["atmp_class"].value_counts().to_dict()
    assert preclinical == {"GTMP": 5, "TEP": 3}
    assert projects.loc[projects["stage_code"] == 7, "atmp_class"].tolist() == ["TEP"]


def test_every_demo_project_gets_the_class_it_was_written_for(tmp_path, key_file):
    assert classify([REDCAP_2023, REDCAP_2024], tmp_path, key_file) == 0
    projects = pd.read_csv(tmp_path / "projects.csv")
    intended = {
        spelling: project["intended_class"]
        for project in load_spec()["project"]
        for spelling in project["acronym_spellings"]
    }
    expected = projects["acronym"].map(intended)
    assert expected.notna().all()
    assert (projects["atmp_class"] == expected).all(), projects[["acronym", "atmp_class"]]
    # DC-GBM's lead answered "Don't know" to the intended action: the description settles it
    dc = projects.set_index("acronym").loc["DC-GBM"]
    assert 'from the description ("anti-tumour")' in dc["atmp_class_reason"]
    unrecognised = pd.read_csv(tmp_path / "unrecognised_values.csv")
    assert unrecognised[["acronym", "field"]].values.tolist() == [["CAR-TREG", "support_other"]]


def test_classify_logs_the_classes_per_wave(tmp_path, key_file, caplog):
    args = ["classify", str(REDCAP_2023), "--out", str(tmp_path), "--key-file", str(key_file)]
    with caplog.at_level("INFO", logger="atmp_analysis"):
        assert main(args) == 0
    assert "2023: 23 projects: 13 GTMP, 3 sCTMP, 7 TEP" in caplog.text


def test_nothing_read_is_dropped_and_statuses_are_counted(demo_2023):
    responses = pd.read_csv(demo_2023["redcap"] / "responses.csv")
    rows_in_file = len(pd.read_csv(REDCAP_2023))
    assert len(responses) == rows_in_file
    assert sorted(responses["source_row"]) == list(range(2, rows_in_file + 2))
    statuses = responses["status"].value_counts().to_dict()
    assert statuses == {
        "project": 46,
        "no ATMP project": 5,
        "duplicate submission": 2,
        "test response": 1,
    }
    # 44 researchers answered: every identified respondent but the test, plus the "No"s
    people = responses.loc[responses["status"] != "test response", "respondent_id"].nunique()
    assert people + statuses["no ATMP project"] == 44
    merged = responses.loc[responses["status"] == "project", "project_id"]
    assert merged.nunique() == 23
    assert responses.loc[responses["status"] != "project", "project_id"].isna().all()


def test_two_waves_track_the_same_projects(tmp_path, key_file):
    assert classify([REDCAP_2023, REDCAP_2024], tmp_path, key_file) == 0
    projects = pd.read_csv(tmp_path / "projects.csv")
    assert projects.groupby("wave").size().to_dict() == {2023: 23, 2024: 25}
    waves = {w: g.set_index("project_id") for w, g in projects.groupby("wave")}
    lost = waves[2023].index.difference(waves[2024].index)
    new = waves[2024].index.difference(waves[2023].index)
    assert (len(lost), len(new)) == (1, 3)
    both = waves[2023].merge(
        waves[2024], left_index=True, right_index=True, suffixes=("_23", "_24")
    )
    moved = both[both["stage_code_24"] > both["stage_code_23"]]
    assert sorted(moved["acronym_23"]) == ["CAR-T22", "HUNT-SIL", "NEURO-1", "STEM-PD"]


def test_no_personal_data_in_any_output(demo_2023):
    spec = load_spec()
    personal = {p["name"] for p in spec["person"]} | {p["email"] for p in spec["person"]}
    for project in spec["project"]:
        personal |= set(project["lead_spellings"])
    for out in demo_2023.values():
        for path in out.iterdir():
            text = path.read_text(encoding="utf-8").casefold()
            found = sorted(v for v in personal if v.casefold() in text)
            assert not found, f"{path.name} contains {found[:3]}"


def test_a_missing_file_is_one_line_and_exit_2(tmp_path, key_file, capsys):
    assert classify([tmp_path / "nope.csv"], tmp_path, key_file) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {tmp_path / 'nope.csv'}: file not found"


def test_an_unrelated_csv_is_refused_by_name(tmp_path, key_file, capsys):
    path = tmp_path / "budget.csv"
    path.write_text("account,amount\n4010,1200\n", encoding="utf-8")
    assert classify([path], tmp_path / "out", key_file) == 2
    err = capsys.readouterr().err
    assert "budget.csv: not a recognised export" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_invalid_answers_are_listed_by_row_and_column(tmp_path, key_file, capsys):
    frame = pd.read_csv(REDCAP_2023, dtype=str, keep_default_na=False)
    frame.loc[3, "stage"] = "42"
    frame.loc[7, "therapy_type"] = "Gene thing"
    bad = tmp_path / "bad.csv"
    frame.to_csv(bad, index=False)
    assert classify([bad], tmp_path / "out", key_file) == 1
    err = capsys.readouterr().err
    assert "2 answer(s) break the instrument" in err
    assert "row 5, column 'stage': '42'" in err
    assert "row 9, column 'therapy_type': 'Gene thing'" in err
    # --allow-invalid blanks only those cells and goes on
    assert classify([bad], tmp_path / "out", key_file, "--allow-invalid") == 0
    quality = pd.read_csv(tmp_path / "out" / "data_quality.csv")
    assert set(quality.loc[quality["severity"] == "warning", "row"]) >= {5, 9}


def test_every_invalid_cell_is_listed_not_a_sample(tmp_path, key_file, capsys):
    frame = pd.read_csv(REDCAP_2023, dtype=str, keep_default_na=False)
    frame["stage"] = "42"  # one bad cell on each of the 54 rows
    bad = tmp_path / "bad.csv"
    frame.to_csv(bad, index=False)
    assert classify([bad], tmp_path / "out", key_file) == 1
    err = capsys.readouterr().err
    assert "54 answer(s) break the instrument" in err
    assert err.count("column 'stage': '42'") == 54
    assert "more" not in err


def test_debug_shows_the_traceback(tmp_path, key_file):
    with pytest.raises(Exception, match="file not found"):
        main(
            [
                "classify",
                str(tmp_path / "nope.csv"),
                "--out",
                str(tmp_path),
                "--debug",
                "--key-file",
                str(key_file),
            ]
        )


def test_console_script_is_installed(tmp_path, key_file):
    script = Path(sys.executable).with_name("atmp-report")
    result = subprocess.run(
        [
            str(script),
            "classify",
            str(REDCAP_2023),
            "--out",
            str(tmp_path),
            "--key-file",
            str(key_file),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "54 responses read, 23 project rows (23 in 2023)" in result.stderr


def test_wave_per_file_sets_each_files_year(tmp_path, key_file):
    # the 2023 export's submission times say 2023; --wave FILE=YEAR overrides it per file
    exports = demo_exports(fmt="redcap")
    first, second = exports
    out = tmp_path / "out"
    code = main(
        [
            "classify",
            str(first),
            str(second),
            "--wave",
            f"{first}=2021",
            "--wave",
            f"{second}=2022",
            "--key-file",
            str(key_file),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    projects = pd.read_csv(out / "projects.csv")
    assert projects.groupby("wave").size().to_dict() == {2021: 23, 2022: 25}


def test_wave_for_a_file_not_given_is_a_usage_error(tmp_path, key_file, capsys):
    first = demo_exports(fmt="redcap")[0]
    code = main(
        [
            "classify",
            str(first),
            "--wave",
            str(tmp_path / "other.csv") + "=2021",
            "--key-file",
            str(key_file),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 2
    assert "is not one of the survey files given" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["20x4", "=2023", "a.csv=1800"])
def test_wave_option_refuses_what_is_not_a_year(value, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["classify", "--wave", value, "--out", "x"])
    assert exit_.value.code == 2
    assert "--wave" in capsys.readouterr().err


def test_demo_further_waves_writes_later_waves_and_their_truth(tmp_path):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--further-waves", "2"]) == 0
    assert (out / "demo_2025_redcap_raw.csv").is_file()
    assert (out / "demo_2026_redcap_raw.csv").is_file()
    events = pd.read_csv(out / "demo_truth_events.csv")
    assert events["wave"].tolist() == [2025, 2026]
    rates = pd.read_csv(out / "demo_truth_rates.csv")
    assert len(rates) == 16
    assert np.allclose(rates[["stay", "advance", "stop"]].sum(axis=1), 1)
