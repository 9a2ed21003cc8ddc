"""Tests of atmp_analysis.tables: the processed tables, their contract and how they are written."""

from __future__ import annotations

import pandas as pd
import pytest

from atmp_analysis.classify import classify_projects
from atmp_analysis.errors import problems_frame
from atmp_analysis.projects import assign_projects, merge_projects
from atmp_analysis.tables import (
    TABLE_NAMES,
    projects_table,
    read_tables,
    responses_table,
    validate,
    write_csv_atomic,
    write_tables,
)

#: projects.csv columns, in the order of OUTPUTS.md.
CONTRACT_PROJECT_COLUMNS = [
    "project_id",
    "wave",
    "acronym",
    "n_responses",
    "atmp_class",
    "atmp_class_reason",
    "platforms",
    "cell_origin",
    "ther_area",
    "rare_disease",
    "stage_code",
    "stage",
    "trl",
    "fih_year",
    "support_needs",
    "support_horizon",
    "bottleneck_themes",
    "conflicts",
]
PERSONAL_COLUMNS = ["resp_name", "resp_email", "proj_lead", "resp_group", "tool_name", "tool_email"]
#: Every personal value in the rows below, as typed and folded.
PERSONAL_VALUES = [
    "Ingrid Sjöholm",
    "ingrid.sjoholm@lu.example",
    "Sjöholm",
    "sjoholm",
    "Torbjörn Wennerström",
    "wennerstrom",
    "t.wennerstrom@region.example",
    "Gustav Ekdahl",
    "ekdahl",
    "Ekdahl group",
    "Maj Lundgren",
    "lundgren",
    "mlundgren@forms.example",
]


@pytest.fixture
def identified(make_responses, key):
    """Identified responses of two projects, a screened-out and a test response."""
    rows = [
        {
            "resp_name": "Ingrid Sjöholm",
            "resp_email": "ingrid.sjoholm@lu.example",
            "resp_role": 1,
            "resp_group": "Sjöholm lab, Dept. of Neurology",
            "proj_acronym": "STEM-PD",
            "proj_lead": "Ingrid Sjöholm",
            "cell_type": [1, 5],
            "support_needs": [2, 13],
            "reg_contact": [1, 3],
            "stage": 9,
            "fih_year": 2027,
            "rare_disease": 1,
            "support_horizon": 2,
        },
        {
            "resp_name": "Torbjörn Wennerström",
            "resp_email": "t.wennerstrom@region.example",
            "proj_acronym": "StemPD",
            "proj_lead": "I. Sjöholm",
            "cell_type": [1],
            "stage": 8,
        },
        {
            "source_format": "msforms",
            "tool_name": "Maj Lundgren",
            "tool_email": "mlundgren@forms.example",
            "resp_group": "Ekdahl group",
            "proj_acronym": "CART-ALL",
            "proj_lead": "Gustav Ekdahl",
            "gene_tech": [2],
            "cell_type": [5],
            "cell_origin": 1,
            "stage": 7,
        },
        {"atmp_project": 0, "resp_name": "Gustav Ekdahl", "resp_email": "g.ekdahl@lu.example"},
        {"status": "test response", "resp_name": "Test", "resp_email": "test@test.example"},
    ]
    return assign_projects(make_responses(rows), key)


@pytest.fixture
def projects(identified, instrument):
    return classify_projects(merge_projects(identified, instrument), instrument)


# -- responses_table -------------------------------------------------------------------------
def test_responses_table_keeps_every_row_with_its_status(identified, instrument):
    table = responses_table(identified, instrument)
    assert table["source_row"].tolist() == identified["source_row"].tolist()
    assert table["status"].tolist() == [
        "project",
        "project",
        "project",
        "no ATMP project",
        "test response",
    ]


def test_responses_table_contract_columns_first(identified, instrument):
    table = responses_table(identified, instrument)
    assert list(table.columns[:3]) == ["respondent_id", "project_id", "status"]
    assert "wave" in table
    assert "stage" in table  # the cleaned answers follow


def test_responses_table_has_no_personal_columns(identified, instrument):
    table = responses_table(identified, instrument)
    assert set(PERSONAL_COLUMNS).isdisjoint(table.columns)


def test_responses_table_writes_checkboxes_as_codes(identified, instrument):
    table = responses_table(identified, instrument)
    assert table["cell_type"].tolist()[:3] == ["1;5", "1", "5"]
    assert table.loc[0, "support_needs"] == "2;13"
    assert table.loc[0, "reg_contact"] == "1;3"
    assert table["gene_tech"].isna().tolist() == [True, True, False, True, True]


def test_responses_table_does_not_change_its_input(identified, instrument):
    before = identified.copy()
    responses_table(identified, instrument)
    pd.testing.assert_frame_equal(identified, before)


def test_responses_table_passes_its_schema(identified, instrument):
    validate(responses_table(identified, instrument), "responses")


# -- projects_table --------------------------------------------------------------------------
def test_projects_table_contract_columns_first_in_order(projects, instrument):
    table = projects_table(projects, instrument)
    assert list(table.columns[: len(CONTRACT_PROJECT_COLUMNS)]) == CONTRACT_PROJECT_COLUMNS
    assert "n_respondents" in table  # extras follow


def test_projects_table_has_no_personal_columns(projects, instrument):
    with_personal = projects.assign(proj_lead="Ingrid Sjöholm", resp_name="Maj Lundgren")
    table = projects_table(with_personal, instrument)
    assert set(PERSONAL_COLUMNS).isdisjoint(table.columns)


def test_projects_table_values(projects, instrument):
    table = projects_table(projects, instrument).set_index("acronym")
    assert table.loc["STEM-PD", "n_responses"] == 2
    assert table.loc["STEM-PD", "stage_code"] == 9  # the lead's answer
    assert table.loc["STEM-PD", "trl"] == 7
    assert table.loc["STEM-PD", "support_needs"] == "GMP manufacturing;Other"
    assert table.loc["STEM-PD", "support_needs_code"] == "2;13"
    assert table.loc["STEM-PD", "cell_type"] == "1;5"
    assert table.loc["STEM-PD", "conflicts"] == "cell_type;stage"
    assert table.loc["CART-ALL", "platforms"] == "lentiviral;T cell"
    assert table.loc["CART-ALL", "cell_origin"] == "autologous"


def test_projects_table_passes_its_schema(projects, instrument):
    validate(projects_table(projects, instrument), "projects")


# -- validate --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("column", "value", "shown"),
    [
        ("stage_code", 12, "12"),
        ("atmp_class", "foo", "foo"),
        ("project_id", "P-not-an-id", "P-not-an-id"),
        ("rare_disease", "maybe", "maybe"),
        ("trl", 10, "10"),
        ("platforms", "AAV;warp drive", "every ;-joined item must be one of"),
    ],
)
def test_validate_rejects_a_bad_projects_table(projects, instrument, column, value, shown):
    table = projects_table(projects, instrument)
    dtype = table[column].dtype
    table[column] = pd.Series([value] * len(table), index=table.index).astype(dtype)
    with pytest.raises(ValueError, match="projects table") as info:
        validate(table, "projects")
    message = str(info.value)
    assert column in message
    assert shown in message


def test_validate_names_the_bad_item_of_a_joined_column(projects, instrument):
    table = projects_table(projects, instrument)
    table["platforms"] = pd.Series(["AAV;warp drive"] * len(table), index=table.index)
    table["platforms"] = table["platforms"].astype("string")
    with pytest.raises(ValueError) as info:
        validate(table, "projects")
    assert "warp drive" in str(info.value)


def test_validate_lists_every_failure(projects, instrument):
    table = projects_table(projects, instrument)
    table["stage_code"] = pd.array([12] * len(table), dtype="Int64")
    table["atmp_class"] = pd.Series(["foo"] * len(table), index=table.index, dtype="string")
    with pytest.raises(ValueError) as info:
        validate(table, "projects")
    message = str(info.value)
    assert "stage_code" in message
    assert "atmp_class" in message


def test_validate_rejects_a_project_id_on_a_screened_out_response(identified, instrument):
    table = responses_table(identified, instrument)
    table.loc[3, "project_id"] = table.loc[0, "project_id"]
    with pytest.raises(ValueError, match="responses table"):
        validate(table, "responses")


def test_validate_rejects_a_bad_respondent_id(identified, instrument):
    table = responses_table(identified, instrument)
    table.loc[0, "respondent_id"] = "ingrid.sjoholm@lu.example"
    with pytest.raises(ValueError, match="respondent_id"):
        validate(table, "responses")


# -- write_tables ----------------------------------------------------------------------------
def test_write_tables_writes_five_files(identified, projects, instrument, tmp_path):
    out = tmp_path / "processed"
    written = write_tables(identified, projects, problems_frame([]), out, instrument)
    assert set(written) == set(TABLE_NAMES)
    assert sorted(p.name for p in out.iterdir()) == [
        "data_quality.csv",
        "missing_answers.csv",
        "projects.csv",
        "responses.csv",
        "unrecognised_values.csv",
    ]
    back = read_tables(out)
    assert list(back) == list(TABLE_NAMES)
    assert len(back["projects"]) == len(projects)
    assert {"wave", "variable", "shown", "not answered"} <= set(back["missing_answers"])
    responses = pd.read_csv(written["responses"], dtype=str)
    projects_csv = pd.read_csv(written["projects"], dtype=str)
    assert len(responses) == 5
    assert len(projects_csv) == 2
    assert list(projects_csv.columns[:18]) == CONTRACT_PROJECT_COLUMNS
    assert responses.loc[0, "cell_type"] == "1;5"


def test_written_tables_hold_no_personal_values(identified, projects, instrument, tmp_path):
    written = write_tables(identified, projects, problems_frame([]), tmp_path, instrument)
    for path in written.values():
        text = path.read_text(encoding="utf-8").casefold()
        header = text.splitlines()[0].split(",")
        assert set(PERSONAL_COLUMNS).isdisjoint(header), path.name
        for value in PERSONAL_VALUES:
            assert value.casefold() not in text, (path.name, value)


def test_write_tables_writes_nothing_when_a_table_is_invalid(
    identified, projects, instrument, tmp_path
):
    (tmp_path / "responses.csv").write_text("previous\n", encoding="utf-8")
    bad = projects.assign(atmp_class="foo")
    with pytest.raises(ValueError):
        write_tables(identified, bad, problems_frame([]), tmp_path, instrument)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["responses.csv"]
    assert (tmp_path / "responses.csv").read_text(encoding="utf-8") == "previous\n"


# -- write_csv_atomic ------------------------------------------------------------------------
def test_write_csv_atomic_writes_and_replaces(tmp_path):
    path = tmp_path / "new" / "table.csv"
    assert write_csv_atomic(pd.DataFrame({"a": [1, 2], "b": ["x", None]}), path) == path
    assert path.read_text(encoding="utf-8") == "a,b\n1,x\n2,\n"
    write_csv_atomic(pd.DataFrame({"a": [3]}), path)
    assert path.read_text(encoding="utf-8") == "a\n3\n"
    assert [p.name for p in path.parent.iterdir()] == ["table.csv"]


def test_write_csv_atomic_leaves_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "projects.csv"
    path.write_text("the previous table\n", encoding="utf-8")
    table = pd.DataFrame({"a": [1, 2]})

    def fail_midway(handle, *args, **kwargs):
        handle.write("a\n1\n")
        raise OSError("disk full")

    monkeypatch.setattr(table, "to_csv", fail_midway)
    with pytest.raises(OSError, match="disk full"):
        write_csv_atomic(table, path)
    assert path.read_text(encoding="utf-8") == "the previous table\n"
    assert [p.name for p in tmp_path.iterdir()] == ["projects.csv"]  # no temp file left


def test_write_csv_atomic_leaves_no_file_when_the_first_write_fails(tmp_path, monkeypatch):
    table = pd.DataFrame({"a": [1]})

    def fail(handle, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(table, "to_csv", fail)
    with pytest.raises(KeyboardInterrupt):
        write_csv_atomic(table, tmp_path / "responses.csv")
    assert list(tmp_path.iterdir()) == []
