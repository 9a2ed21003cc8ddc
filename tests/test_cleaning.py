"""Tests of atmp_analysis.cleaning on small raw-layout frames built inline."""

from __future__ import annotations

import copy
import csv
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import pytest

from atmp_analysis.choices import codes_to_mask
from atmp_analysis.cleaning import (
    STATUSES,
    _stripped,
    assign_wave,
    clean,
    decode_answers,
    is_test_response,
    parse_numbers,
    problems_of,
    screen,
)
from atmp_analysis.errors import SurveyError
from atmp_analysis.instrument import Instrument
from atmp_analysis.readers import META_COLUMNS, read_export

INSTRUMENT = Instrument.default()
PATH = "/data/exports/survey_2023.csv"


def raw_frame(
    rows: list[Mapping[str, object]],
    *,
    source_format: str = "redcap",
    multiselect_sep: str | None = None,
    headers: Mapping[str, str] | None = None,
    path: str = PATH,
    submitted: list[str | None] | None = None,
) -> pd.DataFrame:
    """A frame in the raw layout the readers produce, with their attrs.

    Answers are text as exported; unstated meta columns get defaults (rows 2, 3, ...;
    submitted in March 2023).
    """
    n = len(rows)
    stamps = (
        submitted if submitted is not None else [f"2023-03-{i + 1:02d} 10:00" for i in range(n)]
    )
    frame = pd.DataFrame(
        {
            "source_file": [Path(path).name] * n,
            "source_row": pd.Series(range(2, n + 2), dtype="int64"),
            "source_format": [source_format] * n,
            "record_id": [str(i + 1) for i in range(n)],
            "submitted": pd.to_datetime(pd.Series(stamps, dtype="object")).astype("datetime64[ns]"),
            "complete": pd.array([2] * n, dtype="Int64"),
            "tool_name": pd.array([None] * n, dtype="string"),
            "tool_email": pd.array([None] * n, dtype="string"),
        }
    )
    answers: dict[str, list[object]] = {}
    for i, row in enumerate(rows):
        for column, value in row.items():
            if column in META_COLUMNS:
                frame.loc[i, column] = value
            else:
                answers.setdefault(column, [None] * n)[i] = value
    for column, values in answers.items():
        frame[column] = pd.array(values, dtype="string")
    frame.attrs.update(
        path=path,
        headers=dict(headers or {}),
        multiselect_sep=multiselect_sep,
        unknown_columns=[],
    )
    return frame


def project(**answers: object) -> dict[str, object]:
    """A response that identifies a project, in raw codes, plus ``answers``."""
    return {
        "atmp_project": "1",
        "proj_acronym": "CARX",
        "proj_lead": "Anna Andersson",
        "stage": "7",
        **answers,
    }


# -- choices: codes and labels ------------------------------------------------------------


def test_codes_and_labels_give_the_same_codes():
    codes = raw_frame(
        [
            project(
                therapy_type="2",
                rna_dna="1",
                contains_cells="1",
                support_horizon="1",
                manufacturer="99",
                **{"cell_type___5": "1", "cell_type___6": "1", "cell_type___1": "0"},
                **{"reg_contact___0": "1"},
            ),
            {"atmp_project": "0"},
        ]
    )
    labels = raw_frame(
        [
            project(
                atmp_project="Yes",
                stage="Phase I",
                therapy_type="Gene-modified cell therapy (ex vivo)",
                rna_dna="yes",
                contains_cells="Yes, viable cells",
                support_horizon="Within 1-2 years",
                manufacturer="not DECIDED",
                **{"cell_type___5": "Checked", "cell_type___6": "Checked"},
                **{"cell_type___1": "Unchecked", "reg_contact___0": "Checked"},
            ),
            {"atmp_project": "No"},
        ],
        source_format="redcap-labels",
    )
    forms = raw_frame(
        [
            project(
                atmp_project="Yes",
                stage="Phase I",
                therapy_type="Gene-modified cell therapy (ex vivo)",
                rna_dna="Yes",
                contains_cells="Yes, viable cells",
                support_horizon="Within 1–2 years",
                manufacturer="Not decided",
                cell_type="T cells;NK cells;",
                reg_contact="None yet;",
            ),
            {"atmp_project": "No"},
        ],
        source_format="msforms",
        multiselect_sep=";",
    )
    results = [clean(raw) for raw in (codes, labels, forms)]
    choice_names = [f.name for f in INSTRUMENT.questions if f.is_choice]
    for result in results[1:]:
        pd.testing.assert_frame_equal(result[choice_names], results[0][choice_names])
    first = results[0].iloc[0]
    assert first["atmp_project"] == 1
    assert first["stage"] == 7
    assert first["therapy_type"] == 2
    assert first["manufacturer"] == 99
    assert first["support_horizon"] == 1
    assert first["cell_type"] == codes_to_mask([5, 6])
    assert first["reg_contact"] == codes_to_mask([0])
    assert results[0]["atmp_project"].tolist() == [1, 0]
    for result in results:
        assert result["cell_type"].dtype == "Int64"
        assert result["stage"].dtype == "Int64"
        assert problems_of(result) == []


def test_raw_and_label_csv_exports_clean_to_the_same_answers(tmp_path):
    raw_header = ["record_id", "atmp_pipeline_survey_timestamp", "atmp_project", "proj_acronym"]
    raw_header += ["proj_lead", "stage", "rare_disease", "gene_tech___2", "gene_tech___9"]
    raw_header += ["atmp_pipeline_survey_complete"]
    label_header = ["Record ID", "Survey Timestamp"]
    label_header += [INSTRUMENT[n].label for n in raw_header[2:7]]
    label_header += [
        "Which gene delivery or gene-editing technologies are used? (choice=Lentiviral vector)",
        "Which gene delivery or gene-editing technologies are used? (choice=CRISPR/Cas nuclease)",
        "Complete?",
    ]
    raw_rows = [
        ["1", "2023-03-01 10:00", "1", "CARX", "Anna", "7", "99", "1", "1", "2"],
        ["2", "2023-03-02 10:00", "0", "", "", "", "", "0", "0", "1"],
    ]
    label_rows = [
        [
            *("1", "2023-03-01 10:00", "Yes", "CARX", "Anna", "Phase I", "Don't know"),
            *("Checked", "Checked", "Complete"),
        ],
        ["2", "2023-03-02 10:00", "No", "", "", "", "", "Unchecked", "Unchecked", "Unverified"],
    ]
    paths = []
    for name, header, rows in (
        ("raw.csv", raw_header, raw_rows),
        ("labels.csv", label_header, label_rows),
    ):
        with (tmp_path / name).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
        paths.append(tmp_path / name)
    raw, labels = (clean(read_export(p)) for p in paths)
    meta = ["source_file", "source_format"]
    pd.testing.assert_frame_equal(raw.drop(columns=meta), labels.drop(columns=meta))
    assert raw["gene_tech"].tolist()[0] == codes_to_mask([2, 9])
    assert raw["rare_disease"].tolist()[0] == 99
    assert raw["status"].tolist() == ["project", "no ATMP project"]
    assert raw["wave"].tolist() == [2023, 2023]


def test_every_question_is_a_column_even_when_not_exported():
    result = clean(raw_frame([project()]))
    for field in INSTRUMENT.questions:
        assert field.name in result.columns
    assert result["gene_tech"].dtype == "Int64"
    assert result["therapy_type"].dtype == "Int64"
    assert result["disease"].dtype == "string"
    assert result["gene_tech"].isna().all()
    assert list(result.columns[:4]) == ["source_file", "source_row", "source_format", "wave"]
    assert result.columns[-1] == "status"
    assert "cell_type___5" not in result.columns


def test_free_text_is_stripped_and_blank_is_missing():
    result = clean(raw_frame([project(disease="  Type 1 diabetes \n", resp_group="   ")]))
    assert result["disease"].iloc[0] == "Type 1 diabetes"
    assert pd.isna(result["resp_group"].iloc[0])


@pytest.mark.parametrize("distinct", [True, False])
def test_free_text_is_stripped_alike_whether_it_repeats_or_not(distinct):
    # distinct text is stripped row by row, repeated text once per distinct answer
    n = 2500
    typed = [f" name {i % (n if distinct else 7)}\t" for i in range(n)]
    typed[3], typed[2000], typed[2001] = None, "   ", "x"
    values = pd.Series(typed, index=range(10, 10 + n), dtype="string")
    expected = values.str.strip()
    expected = expected.mask(expected == "")
    got = _stripped(values)
    pd.testing.assert_series_equal(got, expected, check_names=False)


# -- invalid answers ----------------------------------------------------------------------


def test_unknown_label_raises_listing_file_row_column_value():
    raw = raw_frame(
        [project(), project(stage="Phase 12"), project(rna_dna="Maybe")],
        headers={"stage": "Current stage of development"},
    )
    with pytest.raises(SurveyError) as info:
        clean(raw)
    error = info.value
    assert str(error).startswith(f"{PATH}: 2 answer(s) break the instrument")
    located = {(p.file, p.row, p.column, p.value, p.severity) for p in error.problems}
    assert located == {
        (PATH, 3, "Current stage of development", "Phase 12", "error"),
        (PATH, 4, "rna_dna", "Maybe", "error"),
    }
    text = str(error)
    assert f"{PATH}, row 3, column 'Current stage of development': 'Phase 12'" in text
    assert f"{PATH}, row 4, column 'rna_dna': 'Maybe'" in text


def test_bad_checkbox_indicator_is_an_error_naming_its_column():
    raw = raw_frame([project(**{"funding___4": "ja"})])
    with pytest.raises(SurveyError) as info:
        clean(raw)
    [problem] = info.value.problems
    assert (problem.row, problem.column, problem.value) == (2, "funding___4", "ja")


def test_allow_invalid_blanks_the_cell_and_warns():
    raw = raw_frame([project(stage="Phase 12", rna_dna="1"), project(stage="9")])
    result = clean(raw, allow_invalid=True)
    assert pd.isna(result["stage"].iloc[0])
    assert result["stage"].iloc[1] == 9
    assert result["rna_dna"].iloc[0] == 1  # the rest of the row is kept
    [problem] = problems_of(result)
    assert problem.severity == "warning"
    assert (problem.file, problem.row, problem.column, problem.value) == (
        PATH,
        2,
        "stage",
        "Phase 12",
    )
    assert "not a choice of this question" in problem.problem


# -- wave ---------------------------------------------------------------------------------


def test_wave_is_the_most_common_year_of_submission():
    raw = raw_frame(
        [project(), project(), project()],
        submitted=["2023-12-20 10:00", "2024-01-10 10:00", "2024-01-12 10:00"],
    )
    result = clean(raw)
    assert result["wave"].tolist() == [2024, 2024, 2024]
    assert result["wave"].dtype == "int64"


def test_wave_given_wins_over_timestamps():
    result = clean(raw_frame([project(), project()]), wave=2021)
    assert result["wave"].tolist() == [2021, 2021]


def test_wave_given_without_timestamps():
    raw = raw_frame([project()], submitted=[None])
    assert clean(raw, wave=2022)["wave"].tolist() == [2022]


def test_no_timestamps_and_no_wave_is_an_error():
    raw = raw_frame([project(), project()], submitted=[None, None])
    with pytest.raises(SurveyError, match="--wave") as info:
        clean(raw)
    assert str(info.value).startswith(PATH)


def test_assign_wave_placement():
    decoded = decode_answers(raw_frame([project()]), INSTRUMENT)
    waved = assign_wave(decoded)
    columns = list(waved.columns)
    assert columns.index("wave") == columns.index("source_format") + 1
    assert len(columns) == len(decoded.columns) + 1


# -- numbers from free text ---------------------------------------------------------------


def test_parse_numbers_keeps_the_typed_text():
    raw = raw_frame(
        [
            project(fih_year="2027", budget_ksek="1,5 MSEK", fte="2,5", proj_start_year="2019"),
            project(fih_year="already treated (2023)", budget_ksek="1500", fte="3"),
            project(),
        ],
        headers={"fte": "Number of full-time equivalents working on the project"},
    )
    result = clean(raw)
    assert result["fih_year"].tolist()[:2] == [2027, 2023]
    assert result["budget_ksek"].tolist()[:2] == [1500.0, 1500.0]
    assert result["fte"].tolist()[:2] == [2.5, 3.0]
    assert result["fih_year_text"].tolist()[:2] == ["2027", "already treated (2023)"]
    assert result["budget_ksek_text"].iloc[0] == "1,5 MSEK"
    assert result["fte_text"].iloc[0] == "2,5"
    assert result[["fih_year", "fih_year_text", "fte", "fte_text"]].iloc[2].isna().all()
    assert result["proj_start_year"].tolist()[0] == 2019
    assert result["fih_year"].dtype == "Int64"
    assert result["budget_ksek"].dtype == "Float64"
    assert result["fte"].dtype == "Float64"
    assert result["fte_text"].dtype == "string"
    columns = list(result.columns)
    for name in ("fih_year", "budget_ksek", "fte"):
        assert columns.index(f"{name}_text") == columns.index(name) + 1
    assert problems_of(result) == []


def test_relative_years_count_from_the_wave():
    raw = raw_frame([project(fih_year="in 3 years")])
    assert clean(raw, wave=2023)["fih_year"].tolist() == [2026]
    assert clean(raw, wave=2030)["fih_year"].tolist() == [2033]


def test_parse_numbers_warns_on_unreadable_text():
    raw = raw_frame(
        [
            project(fte="many people", budget_ksek="lots", fih_year="soon", proj_start_year="1850"),
            project(fte="vet ej", proj_start_year="abc"),
        ],
        headers={"fte": "Number of full-time equivalents working on the project"},
    )
    with pytest.raises(SurveyError) as info:
        clean(raw)
    # a start year is validated as a whole year: errors, both listed at once
    assert [(p.row, p.column, p.value, p.severity) for p in info.value.problems] == [
        (2, "proj_start_year", "1850", "error"),
        (3, "proj_start_year", "abc", "error"),
    ]
    result = clean(raw, allow_invalid=True)
    assert result[["fte", "budget_ksek", "fih_year", "proj_start_year"]].isna().all().all()
    assert result["fte_text"].tolist() == ["many people", "vet ej"]
    problems = {(p.row, p.column, p.value): p for p in problems_of(result)}
    assert set(problems) == {
        (2, "Number of full-time equivalents working on the project", "many people"),
        (2, "budget_ksek", "lots"),
        (2, "fih_year", "soon"),
        (2, "proj_start_year", "1850"),
        (3, "proj_start_year", "abc"),
    }
    assert all(p.severity == "warning" and p.file == PATH for p in problems.values())
    assert problems[(2, "proj_start_year", "1850")].problem.endswith("; blanked")


# -- statuses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "status"),
    [
        ({"atmp_project": "0"}, "no ATMP project"),
        ({"atmp_project": "No", "resp_name": "Anna Andersson"}, "no ATMP project"),
        ({"atmp_project": "1"}, "incomplete"),
        ({"atmp_project": None}, "incomplete"),
        ({"atmp_project": "1", "resp_name": "Anna Andersson", "stage": "3"}, "incomplete"),
        ({"atmp_project": "1", "proj_acronym": "CARX"}, "project"),
        ({"atmp_project": "1", "proj_title": "CAR T cells for lymphoma"}, "project"),
        ({"atmp_project": "1", "proj_lead": "Anna Andersson"}, "project"),
        ({"atmp_project": None, "proj_acronym": "CARX"}, "project"),
        (project(resp_name="Anna Testa"), "project"),
        (project(proj_acronym="CONTEST"), "project"),
        (project(resp_email="anna.test@uni.example"), "project"),
        (project(resp_name="Test Testsson"), "test response"),
        (project(resp_name="test"), "test response"),
        (project(resp_name="Anna Test"), "test response"),
        (project(resp_name="Kalle Testsson"), "test response"),
        (project(resp_name="asdfgh"), "test response"),
        (project(resp_name="Dummy"), "test response"),
        (project(resp_name="N.N."), "test response"),
        (project(resp_email="test@uni.example"), "test response"),
        (project(resp_email="TestUser@uni.example"), "test response"),
        (project(resp_email="noreply@uni.example"), "test response"),
        (project(proj_acronym="TEST"), "test response"),
        (project(proj_acronym="Testprojekt"), "test response"),
        (project(proj_acronym="asdf"), "test response"),
        (project(proj_acronym="xxx"), "test response"),
        (project(proj_acronym=" test "), "test response"),
        (project(tool_name="Testperson"), "test response"),
        (project(tool_email="test.account@forms.example"), "test response"),
        # a test comes first, even when it also answers "No"
        ({"atmp_project": "0", "resp_name": "Test Testsson"}, "test response"),
    ],
)
def test_status(answers, status):
    result = clean(raw_frame([answers]))
    assert result["status"].tolist() == [status]
    assert status in STATUSES


@pytest.mark.parametrize("acronym", ["XSCID", "XLRP", "ABCA4"])
def test_real_acronyms_starting_with_x_or_abc_are_projects(acronym):
    result = clean(raw_frame([project(proj_acronym=acronym)]))
    assert result["status"].tolist() == ["project"]


def test_is_test_response_without_identity_columns():
    frame = pd.DataFrame({"proj_acronym": pd.array(["CARX", "TEST", None], dtype="string")})
    assert is_test_response(frame).tolist() == [False, True, False]


def test_status_dtype():
    result = clean(raw_frame([project(), {"atmp_project": "0"}]))
    assert result["status"].dtype == "string"
    assert result["status"].tolist() == ["project", "no ATMP project"]


# -- purity -------------------------------------------------------------------------------


def _unchanged(frame: pd.DataFrame, step) -> None:
    before = copy.deepcopy(frame)
    attrs = copy.deepcopy(frame.attrs)
    step(frame)
    pd.testing.assert_frame_equal(frame, before)
    assert frame.attrs == attrs


def _sample_raw() -> pd.DataFrame:
    return raw_frame(
        [
            project(fte="2,5", budget_ksek="lots", cell_type="T cells;Macrophages;"),
            project(stage="Phase I", proj_start_year="1850", fih_year="in 3 years"),
            {"atmp_project": "No", "cell_type": "NK cells"},
        ],
        source_format="msforms",
        multiselect_sep=";",
        headers={"cell_type": "Which cell types are used?"},
    )


def test_steps_never_change_their_input():
    raw = _sample_raw()
    decoded = decode_answers(raw, INSTRUMENT)
    waved = assign_wave(decoded)
    parsed = parse_numbers(waved)
    _unchanged(raw, lambda f: decode_answers(f, INSTRUMENT))
    _unchanged(raw, lambda f: decode_answers(f, INSTRUMENT, allow_invalid=True))
    _unchanged(decoded, assign_wave)
    _unchanged(decoded, lambda f: assign_wave(f, 2020))
    _unchanged(waved, parse_numbers)
    _unchanged(parsed, screen)
    _unchanged(raw, lambda f: clean(f, allow_invalid=True))


def test_problems_accumulate_across_steps_without_touching_earlier_frames():
    raw = _sample_raw()
    decoded = decode_answers(raw, INSTRUMENT)
    parsed = parse_numbers(assign_wave(decoded))
    assert [p.column for p in problems_of(decoded)] == ["Which cell types are used?"]
    assert [p.column for p in problems_of(parsed)] == [
        "Which cell types are used?",
        "budget_ksek",
        "proj_start_year",
    ]
    assert problems_of(raw) == []


# -- Forms multi-select: unknown text as "Other" ------------------------------------------


def _forms(rows: list[Mapping[str, object]]) -> pd.DataFrame:
    return raw_frame(
        rows,
        source_format="msforms",
        multiselect_sep=";",
        path="/data/forms.xlsx",
        headers={"cell_type": "Which cell types are used?"},
    )


def test_forms_unknown_text_ticks_other_and_fills_the_other_field():
    raw = _forms(
        [
            project(cell_type="T cells;Macrophages;"),
            project(cell_type="NK cells;"),
            project(support_needs="GMP manufacturing;Patient advocacy;"),
        ]
    )
    result = clean(raw)
    assert result["cell_type"].tolist()[:2] == [codes_to_mask([5, 11]), codes_to_mask([6])]
    assert result["cell_type_other"].iloc[0].casefold() == "macrophages"
    assert pd.isna(result["cell_type_other"].iloc[1])
    # support_needs' free text lives in support_other
    assert result["support_needs"].iloc[2] == codes_to_mask([2, 13])
    assert result["support_other"].iloc[2].casefold() == "patient advocacy"
    warnings = problems_of(result)
    assert [(p.row, p.column, p.severity) for p in warnings] == [
        (2, "Which cell types are used?", "warning"),
        (4, "support_needs", "warning"),
    ]
    assert "cell_type_other" in warnings[0].problem


def test_forms_unknown_text_does_not_overwrite_a_typed_other_answer():
    raw = _forms([project(cell_type="Other;Macrophages;", cell_type_other="Tissue macrophages")])
    result = clean(raw)
    assert result["cell_type"].iloc[0] == codes_to_mask([11])
    assert result["cell_type_other"].iloc[0] == "Tissue macrophages"


def test_forms_unknown_text_in_a_question_without_other_is_an_error():
    raw = _forms([project(reg_contact="Ethics approval for a clinical trial;Talked to the FDA;")])
    with pytest.raises(SurveyError) as info:
        clean(raw)
    [problem] = info.value.problems
    assert (problem.file, problem.row, problem.column) == ("/data/forms.xlsx", 2, "reg_contact")
    # the cell as written in the file
    assert problem.value.casefold() == "ethics approval for a clinical trial;talked to the fda;"
    relaxed = clean(raw, allow_invalid=True)  # the bad cell is blanked, and said so
    assert pd.isna(relaxed["reg_contact"].iloc[0])
    [blanked] = [p for p in problems_of(relaxed) if p.column == "reg_contact"]
    assert blanked.severity == "warning" and blanked.problem.endswith("; blanked")


def test_forms_other_text_keeps_the_respondents_spelling():
    result = clean(_forms([project(cell_type="T cells;Treg-like CAR cells;")]))
    assert result["cell_type_other"].iloc[0] == "Treg-like CAR cells"
    assert problems_of(result)[0].value == "Treg-like CAR cells"


@pytest.mark.parametrize(
    ("name", "value", "codes"),
    [
        ("funding", "Vinnova;Wallenberg Foundation;", [4, 9]),
        ("manipulation", "Culture expansion;Electroporation;", [5, 9]),
    ],
)
def test_forms_unknown_text_ticks_other_where_there_is_no_other_field(name, value, codes):
    result = clean(_forms([project(**{name: value})]))
    assert result[name].iloc[0] == codes_to_mask(codes)
    assert [p.severity for p in problems_of(result)] == ["warning"]
