"""Tests of atmp_analysis.codebook: reading codebooks, the shipped en.yaml and sv.yaml, and
what an instrument with codebooks accepts (headers, tool columns, choice labels)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from atmp_analysis.choices import codes_to_mask, decode_single, label_lookup, mask_from_joined
from atmp_analysis.codebook import (
    SHIPPED,
    TOOL_COLUMNS,
    Codebook,
    dump,
    fold,
    load_codebooks,
)
from atmp_analysis.config import CODEBOOK_DIR
from atmp_analysis.errors import SurveyError
from atmp_analysis.instrument import Instrument, resolve_instrument

EN = CODEBOOK_DIR / "en.yaml"
SV = CODEBOOK_DIR / "sv.yaml"


def body(path: Path) -> str:
    """The text of a shipped codebook without its leading comment lines."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    return "".join(lines)


def write(tmp_path: Path, text: str, name: str = "centre.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def text(values: list[str | None]) -> pd.Series:
    return pd.Series(values, dtype="string")


@pytest.fixture(scope="module")
def sv() -> Codebook:
    return Codebook.load(SV, strict=True)


@pytest.fixture(scope="module")
def reading() -> Instrument:
    """The instrument exports are read with: the shipped one and the shipped codebooks."""
    return resolve_instrument()


# -- fold -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("  Don’t   KNOW ", "don't know"),
        ("DON‘T know", "don't know"),
        ("Don´t know", "don't know"),
        ("Inom 1–2 år", "inom 1-2 år"),
        ("A — B", "a - b"),
        ("Vilka\tcelltyper\nanvänds?", "vilka celltyper används?"),
        ("ÅÄÖ Straße", "åäö strasse"),
        ("  ", ""),
    ],
)
def test_fold(raw, folded):
    assert fold(raw) == folded


# -- the shipped codebooks -------------------------------------------------------------------


def test_shipped_files_are_there():
    assert SHIPPED == ("en.yaml", "sv.yaml")
    for name in SHIPPED:
        assert (CODEBOOK_DIR / name).is_file()


def test_en_yaml_is_in_step_with_the_data_dictionary():
    instrument = Instrument.default()
    expected = dump(Codebook.from_instrument(instrument).to_dict(instrument))
    assert body(EN) == expected


def test_en_yaml_starts_with_a_comment():
    assert EN.read_text(encoding="utf-8").startswith("# ")


def test_en_yaml_loads_strictly_and_reads_as_the_instrument():
    instrument = Instrument.default()
    book = Codebook.load(EN, strict=True)
    assert book.language == "en"
    assert book.headers == {f.label: f.name for f in instrument.questions}
    assert book.labels == {
        f.name: {code: (label,) for code, label in f.choices.items()}
        for f in instrument.questions
        if f.is_choice
    }


def test_sv_yaml_starts_with_a_comment():
    assert SV.read_text(encoding="utf-8").startswith("# ")


def test_sv_yaml_is_written_as_en_yaml_is(sv):
    # the same layout: what to_dict/dump write of it, key order kept
    assert body(SV) == dump(sv.to_dict(Instrument.default()))


def test_sv_yaml_names_itself(sv):
    assert sv.language == "sv"
    assert sv.name
    assert sv.source == str(SV)
    assert sv.multiselect_separator is None


def test_sv_yaml_tool_columns(sv):
    assert sv.tool_columns == {
        "submitted": ("Tidstämpel", "Sluttid", "Inskickad"),
        "record_id": ("ID", "Svars-ID"),
        "name": ("Namn",),
        "email": ("E-post", "E-postadress"),
    }


def test_sv_yaml_has_a_header_for_every_question(sv):
    instrument = Instrument.default()
    headed = {}
    for header, name in sv.headers.items():
        headed.setdefault(name, []).append(header)
    assert sorted(headed) == sorted(f.name for f in instrument.questions)
    assert all(len(headers) == 1 for headers in headed.values())


def test_sv_yaml_headers_are_swedish_and_unique(sv):
    instrument = Instrument.default()
    folded = [fold(h) for h in sv.headers]
    assert len(set(folded)) == len(folded)
    english = {fold(f.label): f.name for f in instrument.questions}
    for header, name in sv.headers.items():
        # no Swedish header is an English one, of this question or another
        assert fold(header) not in english, header
        assert header == header.strip() and header, name


def test_sv_yaml_headers_are_not_tool_columns(sv):
    tools = {fold(h) for book in load_codebooks() for hs in book.tool_columns.values() for h in hs}
    assert not tools & {fold(h) for h in sv.headers}


def test_sv_yaml_has_a_label_for_every_choice(sv):
    instrument = Instrument.default()
    choice_fields = [f for f in instrument.questions if f.is_choice]
    assert sorted(sv.labels) == sorted(f.name for f in choice_fields)
    for f in choice_fields:
        assert list(sv.labels[f.name]) == list(f.choices), f.name
        for code, labels in sv.labels[f.name].items():
            assert len(labels) == 1, (f.name, code)
            assert labels[0].strip(), (f.name, code)


def test_sv_yaml_labels_are_distinct_per_field(sv):
    for name, by_code in sv.labels.items():
        folded = [fold(label) for labels in by_code.values() for label in labels]
        assert len(set(folded)) == len(folded), name


def test_sv_yaml_labels_are_not_english_labels_of_other_codes(sv):
    instrument = Instrument.default()
    for name, by_code in sv.labels.items():
        english = {fold(label): code for code, label in instrument[name].choices.items()}
        for code, labels in by_code.items():
            for label in labels:
                assert english.get(fold(label), code) == code, (name, code, label)


def test_sv_yaml_common_answers(sv):
    instrument = Instrument.default()
    for f in instrument.questions:
        for code, label in f.choices.items():
            swedish = fold(sv.labels[f.name][code][0])
            if label == "Yes":
                assert swedish == "ja", f.name
            elif label == "No":
                assert swedish == "nej", f.name
            elif label == "Don't know":
                assert swedish == "vet ej", f.name
            elif label == "Other":
                assert swedish in ("annat", "annan"), f.name


def test_sv_yaml_keeps_the_abbreviations(sv):
    instrument = Instrument.default()
    kept = ("iPSC", "ESC", "MSC", "HSC", "CD34+", "NK", "AAV", "mRNA", "CRISPR/Cas", "EMA")
    kept += ("CAT", "GMP", "CDMO", "VR", "ERC", "ALF", "kSEK", "Vinnova", "Läkemedelsverket")
    english = [f.label for f in instrument.questions]
    english += [label for f in instrument.questions for label in f.choices.values()]
    swedish = list(sv.headers) + [
        label for by_code in sv.labels.values() for ls in by_code.values() for label in ls
    ]
    for abbreviation in kept:
        pattern = rf"(?<![\w+]){re.escape(abbreviation)}(?![\w+])"
        in_english = sum(bool(re.search(pattern, t)) for t in english)
        in_swedish = sum(bool(re.search(pattern, t)) for t in swedish)
        assert in_english > 0, abbreviation
        assert in_swedish >= in_english, abbreviation


def test_shipped_codebooks_load_leniently_over_a_smaller_dictionary():
    full = Instrument.default()
    small = Instrument(list(full.fields[:5]), "small.csv")  # record_id .. resp_role
    with pytest.raises(SurveyError, match="is not a variable of the instrument"):
        Codebook.load(SV, small, strict=True)
    books = load_codebooks(instrument=small)
    assert [b.language for b in books] == ["en", "sv"]
    assert set(books[1].headers.values()) == {f.name for f in small.questions}
    assert set(books[1].labels) == {"atmp_project", "resp_role"}


# -- Codebook.load: errors --------------------------------------------------------------------


def load_error(path: Path, **kwargs) -> str:
    with pytest.raises(SurveyError) as info:
        Codebook.load(path, **kwargs)
    message = str(info.value)
    assert str(path) in message
    return message


def test_load_missing_file(tmp_path):
    message = load_error(tmp_path / "nowhere.yaml")
    assert "not found" in message


def test_load_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("variables:\n  resp_name: Förnamn\n".encode("latin-1"))
    assert "UTF-8" in load_error(path)


def test_load_accepts_a_byte_order_mark(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes("variables:\n  resp_name: Förnamn\n".encode("utf-8-sig"))
    assert Codebook.load(path).headers == {"Förnamn": "resp_name"}


def test_load_invalid_yaml_names_the_line(tmp_path):
    path = write(tmp_path, "codebook: 1\nvariables:\n  rna_dna:\n    header: a: b\n")
    message = load_error(path)
    assert "line 4" in message
    assert "not a readable codebook" in message


@pytest.mark.parametrize(
    "content",
    ["", "- a\n- b\n", "just text\n", "codebook: 1\nname: x\n", "variables\n"],
)
def test_load_not_a_codebook(tmp_path, content):
    message = load_error(write(tmp_path, content))
    assert "not a codebook" in message


def test_load_variables_not_a_mapping(tmp_path):
    message = load_error(write(tmp_path, "variables:\n- resp_name\n"))
    assert "variables: expected a mapping" in message


def test_load_empty_variables(tmp_path):
    book = Codebook.load(write(tmp_path, "codebook: 1\nvariables:\n"))
    assert (book.headers, book.labels, book.tool_columns) == ({}, {}, {})
    assert book.name == "centre"  # the file's stem when the codebook has no name


@pytest.mark.parametrize("version", ["2", "'1'", "0"])
def test_load_unknown_format_version(tmp_path, version):
    message = load_error(write(tmp_path, f"codebook: {version}\nvariables: {{}}\n"))
    assert "codebook format" in message
    assert "is not known" in message


def test_load_unknown_top_level_key(tmp_path):
    message = load_error(write(tmp_path, "codebook: 1\nlanguages: sv\nvariables: {}\n"))
    assert "unknown entry languages" in message


def test_load_unknown_variable_strict(tmp_path):
    path = write(tmp_path, "variables:\n  resp_name: Namnet\n  shoe_size: Skostorlek\n")
    message = load_error(path)
    assert "variables.shoe_size" in message
    assert "'shoe_size' is not a variable of the instrument" in message


def test_load_unknown_variable_skipped_when_not_strict(tmp_path):
    path = write(tmp_path, "variables:\n  resp_name: Namnet\n  shoe_size: Skostorlek\n")
    book = Codebook.load(path, strict=False)
    assert book.headers == {"Namnet": "resp_name"}


def test_load_record_id_is_not_a_question(tmp_path):
    path = write(tmp_path, "variables:\n  record_id: Svarsnummer\n")
    assert "variables.record_id" in load_error(path)
    assert Codebook.load(path, strict=False).headers == {}


def test_load_unknown_variable_entry(tmp_path):
    path = write(tmp_path, "variables:\n  resp_name:\n    header: Namnet\n    heading: Namn\n")
    message = load_error(path)
    assert "variables.resp_name" in message
    assert "unknown entry heading" in message


def test_load_unknown_choice_code_strict(tmp_path):
    path = write(tmp_path, "variables:\n  rna_dna:\n    choices:\n      1: Ja\n      2: Kanske\n")
    message = load_error(path)
    assert "variables.rna_dna.choices" in message
    assert "rna_dna has no choice 2" in message
    assert "1, 0, 99" in message


def test_load_unknown_choice_code_skipped_when_not_strict(tmp_path):
    path = write(tmp_path, "variables:\n  rna_dna:\n    choices:\n      1: Ja\n      2: Kanske\n")
    assert Codebook.load(path, strict=False).labels == {"rna_dna": {1: ("Ja",)}}


@pytest.mark.parametrize("code", ["yes", "one", "1.5"])
def test_load_choice_code_not_a_number(tmp_path, code):
    path = write(tmp_path, f"variables:\n  rna_dna:\n    choices:\n      {code}: Ja\n")
    message = load_error(path)
    assert "variables.rna_dna.choices" in message
    assert "is not a choice code" in message


def test_load_choices_not_a_mapping(tmp_path):
    path = write(tmp_path, "variables:\n  rna_dna:\n    choices:\n    - Ja\n    - Nej\n")
    assert "variables.rna_dna.choices: expected code: label" in load_error(path)


def test_load_choices_on_a_free_text_question(tmp_path):
    path = write(tmp_path, "variables:\n  resp_name:\n    choices:\n      1: Ja\n")
    message = load_error(path)
    assert "variables.resp_name.choices" in message
    assert "free-text question" in message


def test_load_header_of_two_variables(tmp_path):
    path = write(tmp_path, "variables:\n  resp_name: Namn på dig\n  proj_lead: Namn på dig\n")
    message = load_error(path)
    assert "variables.proj_lead.header" in message
    assert "'Namn på dig' is also the header of resp_name" in message


def test_load_same_header_twice_for_one_variable(tmp_path):
    path = write(tmp_path, "variables:\n  resp_name:\n    header: [Namn på dig, Namn på dig]\n")
    assert Codebook.load(path).headers == {"Namn på dig": "resp_name"}


@pytest.mark.parametrize(
    ("entry", "where"),
    [
        ("resp_name:\n    header: '  '", "variables.resp_name.header"),
        ("resp_name:\n    header: [Namnet, '']", "variables.resp_name.header"),
        ("rna_dna:\n    choices:\n      1: ''", "variables.rna_dna.choices.1"),
        ("rna_dna:\n    choices:\n      1: [Ja, ' ']", "variables.rna_dna.choices.1"),
    ],
)
def test_load_blank_header_or_label(tmp_path, entry, where):
    message = load_error(write(tmp_path, f"variables:\n  {entry}\n"))
    assert where in message
    assert "blank" in message


@pytest.mark.parametrize(
    ("entry", "where"),
    [
        ("rna_dna:\n    choices:\n      1:\n        sv: Ja", "variables.rna_dna.choices.1"),
        ("rna_dna:\n    choices:\n      1: [[Ja]]", "variables.rna_dna.choices.1"),
        ("rna_dna:\n    choices:\n      1: true", "variables.rna_dna.choices.1"),
        ("resp_name:\n    header:\n      sv: Namnet", "variables.resp_name.header"),
        ("resp_name:\n    header: [Namnet, null]", "variables.resp_name.header"),
    ],
)
def test_load_label_or_header_not_text(tmp_path, entry, where):
    message = load_error(write(tmp_path, f"variables:\n  {entry}\n"))
    assert where in message
    assert "expected text" in message


def test_load_variable_entry_not_a_mapping(tmp_path):
    message = load_error(write(tmp_path, "variables:\n  resp_name: [Namnet, Namn]\n"))
    assert "variables.resp_name: expected 'header:' and 'choices:'" in message


@pytest.mark.parametrize("sep", ["'/'", "';;'", "tab", "1"])
def test_load_bad_multiselect_separator(tmp_path, sep):
    message = load_error(write(tmp_path, f"multiselect_separator: {sep}\nvariables: {{}}\n"))
    assert "multiselect_separator must be" in message


@pytest.mark.parametrize("sep", [",", ";", "|"])
def test_load_multiselect_separator(tmp_path, sep):
    book = Codebook.load(write(tmp_path, f"multiselect_separator: '{sep}'\nvariables: {{}}\n"))
    assert book.multiselect_separator == sep


def test_load_unknown_tool_column(tmp_path):
    path = write(tmp_path, "tool_columns:\n  started: [Starttid]\nvariables: {}\n")
    message = load_error(path)
    assert "tool_columns: 'started' is not one of" in message
    assert ", ".join(TOOL_COLUMNS) in message


def test_load_tool_column_not_text(tmp_path):
    path = write(tmp_path, "tool_columns:\n  name:\n    sv: Namn\nvariables: {}\n")
    assert "tool_columns.name: expected text" in load_error(path)


# -- Codebook.load: what it reads ------------------------------------------------------------


def test_load_short_form_is_the_header(tmp_path):
    book = Codebook.load(write(tmp_path, "variables:\n  resp_name: Vad heter du?\n"))
    assert book.headers == {"Vad heter du?": "resp_name"}
    assert book.labels == {}


def test_load_codes_as_strings(tmp_path):
    path = write(
        tmp_path,
        "variables:\n  rna_dna:\n    choices:\n"
        "      '1': Ja\n      ' 0 ': Nej\n      '99': Vet ej\n",
    )
    assert Codebook.load(path).labels == {"rna_dna": {1: ("Ja",), 0: ("Nej",), 99: ("Vet ej",)}}


def test_load_lists_of_headers_and_labels(tmp_path):
    path = write(
        tmp_path,
        """\
codebook: 1
name: Lund 2024
language: sv
tool_columns:
  submitted: Starttid
  email: [E-post, Mejl]
multiselect_separator: ';'
variables:
  rna_dna:
    header:
    - Rekombinant nukleinsyra?
    - "  Innehåller produkten DNA/RNA?  "
    choices:
      1: [Ja, Japp]
      0: Nej
    sure: true
    note: checked by the centre
  resp_name:
""",
    )
    book = Codebook.load(path)
    assert book.name == "Lund 2024"
    assert book.language == "sv"
    assert book.multiselect_separator == ";"
    assert book.tool_columns == {"submitted": ("Starttid",), "email": ("E-post", "Mejl")}
    assert book.headers == {
        "Rekombinant nukleinsyra?": "rna_dna",
        "Innehåller produkten DNA/RNA?": "rna_dna",  # stripped
    }
    assert book.labels == {"rna_dna": {1: ("Ja", "Japp"), 0: ("Nej",)}}


def test_load_numbers_as_text(tmp_path):
    path = write(tmp_path, "variables:\n  rna_dna:\n    header: 2024\n    choices:\n      1: 1\n")
    book = Codebook.load(path)
    assert book.headers == {"2024": "rna_dna"}
    assert book.labels == {"rna_dna": {1: ("1",)}}


def test_load_checks_against_the_given_instrument(tmp_path):
    full = Instrument.default()
    small = Instrument(list(full.fields[:5]), "small.csv")
    path = write(tmp_path, "variables:\n  rna_dna: Rekombinant nukleinsyra?\n")
    assert Codebook.load(path).headers == {"Rekombinant nukleinsyra?": "rna_dna"}
    assert "'rna_dna' is not a variable" in load_error(path, instrument=small)


def test_to_dict_round_trip(tmp_path):
    path = write(
        tmp_path,
        "variables:\n  rna_dna:\n    header: ['A?', 'B?']\n"
        "    choices:\n      0: Nej\n      1: [Ja, J]\n",
    )
    book = Codebook.load(path)
    data = book.to_dict(Instrument.default())
    # choices in the instrument's order, one label as a string, several as a list
    assert data["variables"] == {
        "rna_dna": {"header": ["A?", "B?"], "choices": {1: ["Ja", "J"], 0: "Nej"}}
    }
    again = Codebook.load(write(tmp_path, dump(data), "again.yaml"))
    assert (again.headers, again.labels) == (book.headers, book.labels)


# -- an instrument with codebooks ------------------------------------------------------------


def book_from(tmp_path: Path, name: str, content: str) -> Codebook:
    return Codebook.load(write(tmp_path, content, name))


def test_with_codebooks_gives_fields_aliases(tmp_path):
    first = book_from(
        tmp_path, "a.yaml", "variables:\n  rna_dna:\n    choices:\n      1: [Ja, J]\n"
    )
    second = book_from(
        tmp_path, "b.yaml", "variables:\n  rna_dna:\n    choices:\n      1: [J, Jo]\n      0: Nej\n"
    )
    base = Instrument.default()
    instrument = base.with_codebooks([first, second])
    assert instrument["rna_dna"].aliases == {1: ("Ja", "J", "Jo"), 0: ("Nej",)}
    assert instrument["resp_role"].aliases == {}
    assert instrument["rna_dna"].choices == base["rna_dna"].choices
    assert instrument.codebooks == (first, second)
    # the instrument itself is left as it was
    assert base["rna_dna"].aliases == {}
    assert base.codebooks == ()
    assert instrument.names == base.names


def test_with_codebooks_twice_keeps_the_first(tmp_path):
    first = book_from(tmp_path, "a.yaml", "variables:\n  rna_dna:\n    choices:\n      1: Ja\n")
    second = book_from(tmp_path, "b.yaml", "variables:\n  rna_dna:\n    choices:\n      1: Jo\n")
    instrument = Instrument.default().with_codebooks([first]).with_codebooks([second])
    assert instrument["rna_dna"].aliases == {1: ("Ja", "Jo")}
    assert instrument.codebooks == (first, second)


def test_header_map(tmp_path):
    book = book_from(tmp_path, "a.yaml", "variables:\n  resp_name: ' Vad  HETER du? '\n")
    instrument = Instrument.default().with_codebooks([book])
    mapping = instrument.header_map
    assert mapping[fold("Your name")] == "resp_name"  # the instrument's own
    assert mapping["vad heter du?"] == "resp_name"
    assert "vad heter du?" not in Instrument.default().header_map


def test_header_map_later_codebook_wins(tmp_path):
    first = book_from(tmp_path, "a.yaml", "variables:\n  resp_name: Namn\n")
    second = book_from(tmp_path, "b.yaml", "variables:\n  proj_lead: NAMN\n")
    assert Instrument.default().with_codebooks([first, second]).header_map["namn"] == "proj_lead"
    assert Instrument.default().with_codebooks([second, first]).header_map["namn"] == "resp_name"


def test_header_map_codebook_wins_over_the_instrument(tmp_path):
    book = book_from(tmp_path, "a.yaml", "variables:\n  proj_lead: Your name\n")
    assert Instrument.default().with_codebooks([book]).header_map["your name"] == "proj_lead"


def test_tool_header_map(tmp_path):
    first = book_from(
        tmp_path, "a.yaml", "tool_columns:\n  submitted: [Starttid]\n  name: Namn\nvariables: {}\n"
    )
    second = book_from(
        tmp_path, "b.yaml", "tool_columns:\n  email: Namn\n  record_id: Löpnr\nvariables: {}\n"
    )
    assert Instrument.default().tool_header_map == {}
    mapping = Instrument.default().with_codebooks([first, second]).tool_header_map
    assert mapping == {"starttid": "submitted", "namn": "tool_email", "löpnr": "record_id"}
    mapping = Instrument.default().with_codebooks([second, first]).tool_header_map
    assert mapping["namn"] == "tool_name"


def test_multiselect_separator(tmp_path):
    comma = book_from(tmp_path, "a.yaml", "multiselect_separator: ','\nvariables: {}\n")
    pipe = book_from(tmp_path, "b.yaml", "multiselect_separator: '|'\nvariables: {}\n")
    unset = book_from(tmp_path, "c.yaml", "variables: {}\n")
    assert Instrument.default().multiselect_separator is None
    assert Instrument.default().with_codebooks([unset]).multiselect_separator is None
    assert Instrument.default().with_codebooks([comma, pipe, unset]).multiselect_separator == "|"
    assert Instrument.default().with_codebooks([pipe, comma]).multiselect_separator == ","


def test_resolve_instrument_has_the_shipped_codebooks(reading):
    assert [b.language for b in reading.codebooks] == ["en", "sv"]
    assert [Path(b.source).name for b in reading.codebooks] == list(SHIPPED)
    assert reading.header_map[fold("Vilka celltyper används?")] == "cell_type"
    assert reading.header_map[fold("Which cell types are used?")] == "cell_type"
    assert reading.tool_header_map[fold("Tidstämpel")] == "submitted"
    assert reading.tool_header_map[fold("Svars-ID")] == "record_id"
    assert reading.tool_header_map[fold("E-postadress")] == "tool_email"
    assert reading.tool_header_map[fold("Namn")] == "tool_name"
    assert reading.tool_header_map[fold("Completion time")] == "submitted"


def test_resolve_instrument_every_swedish_header(reading, sv):
    for header, name in sv.headers.items():
        assert reading.header_map[fold(header)] == name


def test_resolve_instrument_with_a_centre_codebook(tmp_path):
    path = write(tmp_path, "variables:\n  resp_name: Namn på dig\n  proj_lead: Ditt namn\n")
    instrument = resolve_instrument(codebooks=[path])
    assert len(instrument.codebooks) == 3
    assert instrument.header_map["namn på dig"] == "resp_name"
    assert instrument.header_map["ditt namn"] == "proj_lead"  # over sv.yaml's resp_name
    assert resolve_instrument().header_map["ditt namn"] == "resp_name"


def test_resolve_instrument_refuses_a_bad_centre_codebook(tmp_path):
    path = write(tmp_path, "variables:\n  shoe_size: Skostorlek\n")
    with pytest.raises(SurveyError, match="shoe_size"):
        resolve_instrument(codebooks=[path])


# -- Swedish answers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "code"),
    [("Ja", 1), ("nej", 0), ("Vet ej", 99), ("VET  EJ", 99), ("Yes", 1), ("Don’t know", 99)],
)
def test_label_lookup_swedish(reading, label, code):
    assert label_lookup(reading["rna_dna"])[fold(label)] == code


def test_label_lookup_without_the_codebook_has_no_swedish():
    lookup = label_lookup(Instrument.default()["rna_dna"])
    assert "ja" not in lookup
    assert "vet ej" not in lookup


def test_label_lookup_every_swedish_label(reading, sv):
    for name, by_code in sv.labels.items():
        lookup = label_lookup(reading[name])
        for code, labels in by_code.items():
            for label in labels:
                assert lookup[fold(label)] == code, (name, label)


def test_label_lookup_english_still_wins(reading):
    # the instrument's own labels are read as before
    instrument = Instrument.default()
    for f in instrument.questions:
        if f.is_choice:
            lookup = label_lookup(reading[f.name])
            for code, label in f.choices.items():
                assert lookup[fold(label)] == code


def test_decode_single_swedish(reading):
    codes, invalid = decode_single(
        text(["Ja", "Nej", "Vet ej", "Yes", "Kanske", None]), reading["rna_dna"]
    )
    assert codes.tolist()[:4] == [1, 0, 99, 1]
    assert codes.isna().tolist()[4:] == [True, True]
    assert invalid.tolist() == [False, False, False, False, True, False]


@pytest.mark.parametrize(
    ("value", "codes"),
    [
        ("T-celler;NK-celler;", [5, 6]),
        (
            "Inducerade pluripotenta stamceller (iPSC) eller iPSC-härledda celler;"
            "Hematopoetiska stam- eller progenitorceller (HSC, CD34+);Annan;",
            [1, 4, 11],
        ),
        ("t-CELLER ; Kondrocyter", [5, 8]),
        ("T cells;NK-celler;Other;", [5, 6, 11]),  # English and Swedish mixed
        ("Limbusceller eller hornhinneceller;", [10]),
    ],
)
def test_mask_from_joined_swedish_cell_types(reading, value, codes):
    mask, leftover = mask_from_joined(text([value]), reading["cell_type"], ";")
    assert mask.tolist() == [codes_to_mask(codes)]
    assert leftover.isna().all()


def test_mask_from_joined_swedish_bits(reading):
    mask, _ = mask_from_joined(
        text(["Mesenkymala stromaceller eller stamceller (MSC);"]), reading["cell_type"], ";"
    )
    assert mask.iloc[0] == 1 << 3


def test_mask_from_joined_swedish_commas_inside_labels(reading):
    value = (
        "Skärning, malning eller formning,"
        "Centrifugering, separation, koncentrering, rening eller filtrering,"
        "Expansion genom odling, Annat"
    )
    mask, leftover = mask_from_joined(text([value]), reading["manipulation"], ",")
    assert mask.tolist() == [codes_to_mask([1, 2, 5, 9])]
    assert leftover.isna().all()


def test_mask_from_joined_swedish_longest_label_first(reading):
    mask, leftover = mask_from_joined(
        text(["Annan viral vektor, Annan", "Annan viral vektor", "Annan"]),
        reading["gene_tech"],
        ",",
    )
    assert mask.tolist() == [(1 << 6) | (1 << 12), 1 << 6, 1 << 12]
    assert leftover.isna().all()


def test_mask_from_joined_swedish_code_zero(reading):
    mask, _ = mask_from_joined(
        text(["Inga ännu;", "Vetenskaplig rådgivning från EMA;Inga ännu;"]),
        reading["reg_contact"],
        ";",
    )
    assert mask.tolist() == [1, (1 << 2) | 1]


def test_mask_from_joined_swedish_unknown_is_left_over(reading):
    mask, leftover = mask_from_joined(text(["T-celler;Makrofager;"]), reading["cell_type"], ";")
    assert mask.tolist() == [1 << 5]
    assert leftover.tolist() == ["Makrofager"]


def test_mask_from_joined_without_the_codebook_has_no_swedish():
    mask, leftover = mask_from_joined(text(["T-celler;"]), Instrument.default()["cell_type"], ";")
    assert mask.isna().all()
    assert leftover.tolist() == ["T-celler"]


def test_every_swedish_multiselect_label_is_read(reading, sv):
    for f in reading.questions:
        if not f.is_checkbox:
            continue
        labels = [sv.labels[f.name][code][0] for code in f.choices]
        for sep in (";", ","):
            mask, leftover = mask_from_joined(text([sep.join(labels) + sep]), f, sep)
            assert mask.tolist() == [codes_to_mask(list(f.choices))], (f.name, sep)
            assert leftover.isna().all(), (f.name, sep, leftover.tolist())


# -- entries that would be read wrongly are refused -------------------------------------------


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (
            "codebook: 1\nvariables:\n  resp_name: Namn på dig\n  proj_lead: namn  PÅ dig\n",
            "is also the header of resp_name",
        ),
        ("codebook: 1\ntool_columns: [Tidstämpel]\nvariables: {}\n", "tool_columns: expected"),
        (
            "codebook: 1\nvariables:\n  rna_dna:\n    choices: {1: Ja, 0: ja}\n",
            "the label 'ja' already means choice 1",
        ),
        (
            "codebook: 1\nvariables:\n  rna_dna:\n    choices: {0: 'Yes'}\n",
            "the label 'Yes' already means choice 1",
        ),
        ("codebook: 1\nvariables:\n  rna_dna:\n    choices:\n      1:\n", "no label given"),
        (
            "codebook: 1\nvariables:\n  stage:\n    header: Fas\n    sure: false\n",
            "variables.stage is marked 'sure: false'",
        ),
    ],
    ids=[
        "folded-duplicate-header",
        "tool-columns-list",
        "label-twice",
        "instrument-label",
        "empty-label",
        "unsure",
    ],
)
def test_load_refuses_entries_that_would_be_read_wrongly(tmp_path, content, fragment):
    assert fragment in load_error(write(tmp_path, content))


def test_a_checked_entry_loads(tmp_path):
    path = write(tmp_path, "codebook: 1\nvariables:\n  stage:\n    header: Fas\n    sure: true\n")
    assert Codebook.load(path).headers == {"Fas": "stage"}


def test_a_later_codebook_takes_a_label_over(tmp_path):
    """The shipped Swedish codebook reads 'Medverkande forskare' as role 2; a centre's own
    codebook that means role 6 by it wins, as it does for headers."""
    base = resolve_instrument()
    label = base["resp_role"].aliases[2][-1]  # the Swedish label of "Co-investigator"
    assert label_lookup(base["resp_role"])[label.casefold()] == 2
    path = write(
        tmp_path,
        f"codebook: 1\nvariables:\n  resp_role:\n    choices:\n      6: {label!r}\n",
    )
    centre = resolve_instrument(codebooks=[path])
    assert label_lookup(centre["resp_role"])[label.casefold()] == 6
    assert label not in centre["resp_role"].aliases.get(2, ())
    codes, invalid = decode_single(text([label]), centre["resp_role"])
    assert codes.tolist() == [6] and not invalid.any()


def test_a_centre_codebook_reads_its_file_end_to_end(tmp_path):
    """load_survey with the centre's codebook, then clean without naming it again."""
    from atmp_analysis import clean, load_survey

    book = write(
        tmp_path,
        "codebook: 1\nname: centre\ntool_columns:\n  submitted: Submitted at\nvariables:\n"
        "  proj_acronym: Project short name\n  proj_lead: Lead PI\n"
        "  atmp_project: Working on ATMP?\n"
        "  stage:\n    header: Development stage (current)\n"
        "    choices: {2: In vitro PoC, 7: Phase 1}\n",
    )
    export = tmp_path / "own.csv"
    export.write_text(
        "Submitted at,Project short name,Lead PI,Development stage (current),Working on ATMP?\n"
        "2023-03-01 10:00,STEM-X,Anna A,Phase 1,Yes\n"
        "2024-03-02 10:00,GENE-Y,Bo B,In vitro PoC,Yes\n",
        encoding="utf-8",
    )
    with pytest.raises(SurveyError, match="not a recognised export"):
        load_survey(export)
    responses = clean(load_survey(export, codebooks=[book]), wave=2023)
    assert responses["stage"].tolist() == [7, 2]
    assert responses["submitted"].dt.year.tolist() == [2023, 2024]
    assert responses["source_format"].tolist() == ["generic", "generic"]
