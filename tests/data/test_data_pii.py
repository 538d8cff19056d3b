"""PII detection and redaction: checksums, formats, positions, false positives.

Reference values: card numbers are the public test numbers published by payment
processors (Visa 4111 1111 1111 1111, Mastercard 5555 5555 5555 4444, Amex
3782 822463 10005); IBANs are the examples of the SWIFT IBAN registry (DE, GB, FR, NL);
the IPv6 address is from RFC 3849's documentation prefix; phone numbers are from
Ofcom's and NANPA's ranges reserved for drama/fiction (020 7946 0xxx, 555-01xx).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeml.data import PII_TYPES, detect_pii, redact
from edgeml.data.pii import redact_values, scan_values

pytestmark = pytest.mark.compat


def types_in(text: str) -> list[str]:
    return [kind for _, _, _, kind in scan_values([text])]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail jane.doe+tag@mail.example.co.uk", "email"),
        ("card 4111 1111 1111 1111", "credit_card"),
        ("card 5555-5555-5555-4444", "credit_card"),
        ("amex 378282246310005", "credit_card"),
        ("iban DE89 3704 0044 0532 0130 00", "iban"),
        ("iban GB82WEST12345698765432", "iban"),
        ("iban FR1420041010050500013M02606", "iban"),
        ("ssn 123-45-6789", "us_ssn"),
        ("from 192.168.10.254", "ipv4"),
        ("from 2001:db8:85a3::8a2e:370:7334", "ipv6"),
        ("call +44 20 7946 0958", "phone_e164"),
        ("call (212) 555-0142", "phone_national"),
        ("call 020 7946 0958", "phone_national"),
        ("appelez 01 23 45 67 89", "phone_national"),
        ("born on 1984-07-02", "date_of_birth"),
        ("dob: 02/07/1984", "date_of_birth"),
        ("at 48.85837, 2.29448", "gps"),
    ],
)
def test_each_type_is_detected_and_located(text: str, expected: str) -> None:
    matches = scan_values([text])
    assert [kind for *_, kind in matches] == [expected]
    _, start, end, _ = matches[0]
    assert text[start - 1] == " "  # the span starts right after the label
    assert end == len(text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("card 4111 1111 1111 1112", "Luhn checksum fails (last digit changed)"),
        ("iban DE89 3704 0044 0532 0130 01", "mod-97 fails (last digit changed)"),
        ("iban DE89 3704 0044 0532 0130", "German IBANs have 22 characters"),
        ("ssn 666-12-3456", "area 666 is never issued"),
        ("ssn 123-00-6789", "group 00 is never issued"),
        ("ip 256.1.1.1", "octet above 255"),
        ("at 12:30:45", "a clock time is not an IPv6 address"),
        ("on 2020-02-30", "not a calendar date"),
        ("meeting on 2021-06-01", "a date without birth context"),
        ("order 12345678 shipped", "plain order number"),
        ("version 3.14", "decimal number"),
        ("at 95.12345, 200.12345", "latitude out of range"),
        ("price 1,234,567", "thousands separators"),
    ],
)
def test_checksums_and_context_reject_lookalikes(text: str, reason: str) -> None:
    assert types_in(text) == [], reason


def test_positions_not_values_are_reported() -> None:
    values = ["ok", "write to a@b.org", "ok", "x@y.io and z@w.io", *["ok"] * 10]
    scan = detect_pii({"note": values})
    (finding,) = scan.findings
    assert (finding.column, finding.pii_type, finding.count) == ("note", "email", 2)
    assert finding.examples == (1, 3)
    assert finding.rows_scanned == 14
    assert "a@b.org" not in repr(scan.to_dict())
    assert "a@b.org" not in scan.to_markdown()


def test_rows_with_newlines_and_neighbours_map_to_the_right_row() -> None:
    values = ["line one\nline two", None, "tail\n123-45-6789", 42, "a@b.co"]
    rows = [(row, kind) for row, _, _, kind in scan_values(np.array(values, dtype=object))]
    assert rows == [(2, "us_ssn"), (4, "email")]


def test_column_names_are_scored_but_lower_than_values() -> None:
    scan = detect_pii({"FirstName": ["Ann"], "home_address": ["1 Main St"], "zip": ["94107"]})
    by_column = {f.column: f for f in scan.findings}
    assert set(by_column) == {"FirstName", "home_address", "zip"}
    assert all(f.pii_type == "column_name" for f in scan.findings)
    assert by_column["zip"].score < 0.5 <= by_column["FirstName"].score
    assert "name" in by_column["FirstName"].reason


def test_numeric_columns_gps_by_name_and_card_numbers_as_integers() -> None:
    scan = detect_pii(
        {
            "latitude": np.array([48.858370, 51.500729, 40.689247]),
            "pan": np.array([4111111111111111, 5, 7], dtype=np.int64),
            "age": np.array([30, 40, 50]),
        }
    )
    kinds = {(f.column, f.pii_type) for f in scan.findings}
    assert ("latitude", "gps") in kinds
    assert ("pan", "credit_card") in kinds
    assert not any(column == "age" for column, _ in kinds)


def test_sample_scans_evenly_spaced_rows_and_reports_original_positions() -> None:
    values = ["x"] * 1000
    values[999] = "mail a@b.org"
    scan = detect_pii({"note": values}, sample=10)
    assert scan.rows_scanned == 10
    assert scan.findings[0].examples == (999,)


def test_plain_sequence_is_one_column() -> None:
    scan = detect_pii(["call +1 212 555 0142"])
    assert [(f.column, f.pii_type) for f in scan.findings] == [("values", "phone")]


def test_redact_replaces_spans_with_typed_placeholders_and_keeps_the_rest() -> None:
    text = "Hi, I'm at ann@example.org or +44 20 7946 0958; card 4111111111111111."
    assert redact()([text]).tolist() == ["Hi, I'm at <EMAIL> or <PHONE>; card <CREDIT_CARD>."]
    only_email = redact(types=["email"])([text]).tolist()[0]
    assert "<EMAIL>" in only_email
    assert "+44 20 7946 0958" in only_email


def test_redacted_output_holds_no_pii_and_placeholders_are_stable() -> None:
    texts = ["ip 10.1.2.3 ssn 123-45-6789", "born 1990-01-31", None]
    once = redact_values(texts)
    assert scan_values(once) == []
    assert redact_values(once).tolist() == once.tolist()
    assert once[2] is None
    assert set(PII_TYPES.values()) >= {"<IP>", "<SSN>", "<DOB>"}


def test_redact_rejects_unknown_types() -> None:
    with pytest.raises(ValueError, match="types"):
        redact(types=["passport"])


def test_detect_pii_limits_columns_and_rejects_unknown_ones() -> None:
    table = {"a": ["x@y.org"], "b": ["123-45-6789"]}
    assert [f.column for f in detect_pii(table, columns=["b"]).findings] == ["b"]
    with pytest.raises(ValueError, match="columns"):
        detect_pii(table, columns=["c"])
    with pytest.raises(ValueError, match="sample"):
        detect_pii(table, sample=0)
    with pytest.raises(ValueError, match="'sample' argument of detect_pii"):
        detect_pii(table, sample=True)  # a bool is not a row count (True == 1)


def test_invalid_iban_shape_does_not_become_a_card() -> None:
    # the digits after DE89 pass Luhn by chance; the IBAN checksum fails: nothing found
    text = "iban DE89 3704 0044 0532 0130 01"
    assert scan_values([text]) == []


# --- issue 15: PII that got through -------------------------------------------------------
# Every string the adversarial pass found undetected, with the type it must be found as.
ISSUE_15_MISSES = [
    ("jürgen@exämple.de", "email", "jürgen@exämple.de"),
    ("bob@例え.jp", "email", "bob@例え.jp"),
    ("bob@exam\u200bple.com", "email", "bob@exam\u200bple.com"),
    ("+44\xa020\xa07946\xa00958", "phone_e164", "+44\xa020\xa07946\xa00958"),
    ("（２１２） ５５５－０１４２", "phone_national", "（２１２） ５５５－０１４２"),
    ("１９２.１６８.１.２０", "ipv4", "１９２.１６８.１.２０"),
    ("4111.1111.1111.1111", "credit_card", "4111.1111.1111.1111"),
    ("de89370400440532013000", "iban", "de89370400440532013000"),
    ("078.05.1123", "us_ssn", "078.05.1123"),
    ("078 05 1123", "us_ssn", "078 05 1123"),
]


@pytest.mark.parametrize(("text", "kind", "value"), ISSUE_15_MISSES)
def test_issue_15_examples_are_found_at_their_original_positions(
    text: str, kind: str, value: str
) -> None:
    padded = f"note: {text} end"
    start = padded.index(value)
    assert scan_values([padded]) == [(0, start, start + len(value), kind)]
    public = "phone" if kind.startswith("phone") else kind
    assert redact_values([padded])[0] == f"note: {PII_TYPES[public]} end"


def test_several_valid_cards_separated_by_single_spaces_are_all_found() -> None:
    note = "4012 8888 8888 1881 4012 8888 8888 1881"
    assert [(s, e, k) for _, s, e, k in scan_values([note])] == [
        (0, 19, "credit_card"),
        (20, 39, "credit_card"),
    ]
    assert redact_values([note]).tolist() == ["<CREDIT_CARD> <CREDIT_CARD>"]
    # and each alone, as before
    assert types_in("4012 8888 8888 1881") == ["credit_card"]


def test_detect_pii_and_minimize_see_the_normalized_forms() -> None:
    from edgeml.data import Policy, minimize
    from edgeml.errors import PIIFoundError

    notes = [text for text, _, _ in ISSUE_15_MISSES]
    scan = detect_pii({"note": notes})
    assert {f.pii_type for f in scan.findings} >= {"email", "phone", "ipv4", "iban", "us_ssn"}
    assert sum(f.count for f in scan.findings if f.pii_type != "column_name") == len(notes)
    with pytest.raises(PIIFoundError):
        minimize({"note": notes}, Policy(keep={"note": None}))
    table, _ = minimize({"note": notes}, Policy(keep={"note": redact()}))
    assert detect_pii({"x": list(table["note"])}).findings == ()


def test_lookalikes_of_the_new_forms_stay_clean() -> None:
    for text in (
        "693-09.4444",  # mixed separators: not an SSN (Presidio's test_us_ssn_recognizer)
        "078 00 1123",  # group 00
        "xx89370400440532013000",  # no such IBAN country
        "part no 0000 0000 0000 0000",
        "IP192.168.1.1text",
        "1748503543012",  # 13 digits passing Luhn, but only Visa (4...) issued 13-digit PANs
    ):
        assert scan_values([text]) == [], text


@settings(max_examples=200, deadline=None)
@given(
    prefix=st.text(max_size=20),
    junk=st.lists(st.sampled_from(["\u200b", "\u200d", "\xad", "\ufeff", "\u2060"]), max_size=3),
    suffix=st.text(max_size=20),
)
def test_format_characters_inside_a_card_do_not_hide_it_and_spans_are_original(
    prefix: str, junk: list[str], suffix: str
) -> None:
    card = "4111" + "".join(junk) + "1111 1111 1111"
    text = f"{prefix} {card} {suffix}"
    for _, start, end, _kind in scan_values([text]):
        assert 0 <= start < end <= len(text)
    hits = [(s, e) for _, s, e, k in scan_values([text]) if k == "credit_card"]
    start = len(prefix) + 1
    assert (start, start + len(card)) in hits
    assert card not in str(redact_values([text])[0])


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_spans_always_lie_inside_the_original_string(text: str) -> None:
    for row, start, end, kind in scan_values([text, text[::-1]]):
        source = [text, text[::-1]][row]
        assert 0 <= start < end <= len(source)
        assert kind in {"phone_e164", "phone_national"} or kind in PII_TYPES


# --- measured recall and precision per type (tests/data/pii_corpus.py) --------------------
# The floors are the values measured when the corpus was built (the table is in
# docs/data.md); a change that loses recall or precision on this corpus fails here.
MINIMUMS = {
    "email": (0.93, 1.0),
    "phone": (0.85, 0.94),
    "ipv4": (1.0, 0.88),
    "ipv6": (1.0, 1.0),
    "credit_card": (1.0, 1.0),
    "iban": (1.0, 1.0),
    "us_ssn": (0.85, 1.0),
    "date_of_birth": (0.85, 1.0),
    "gps": (0.8, 0.8),
}


def test_recall_and_precision_per_type_on_the_labelled_corpus() -> None:
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "pii_corpus", Path(__file__).with_name("pii_corpus.py")
    )
    assert spec is not None
    assert spec.loader is not None
    corpus = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(corpus)
    table = corpus.measure()
    assert set(table) == set(MINIMUMS)
    for kind, (recall, precision) in MINIMUMS.items():
        assert table[kind]["positives"] >= 5, kind
        assert table[kind]["look_alikes"] >= 3, kind
        assert table[kind]["recall"] >= recall, (kind, table[kind])
        assert table[kind]["precision"] >= precision, (kind, table[kind])


def test_the_fast_path_knows_every_character_normalization_changes() -> None:
    import sys
    import unicodedata

    from edgeml.data import _pii_normalize

    special = {"Cf", "Zs", "Zl", "Zp", "Nd"}
    missed = [
        hex(code)
        for code in range(0x80, sys.maxunicode + 1)
        if (unicodedata.category(chr(code)) in special or chr(code) in _pii_normalize._DASHES)
        and not _pii_normalize._SPECIAL.match(chr(code))
    ]
    assert missed == [], f"add these to _FORMAT_CHARS (Unicode {unicodedata.unidata_version})"


def test_decomposed_accents_compose_before_matching() -> None:
    text = "mail ju\u0308rgen@exa\u0308mple.de now"
    assert scan_values([text]) == [(0, 5, 24, "email")]
    assert redact_values([text])[0] == "mail <EMAIL> now"


def test_personal_data_in_bytes_is_found_and_redacted_as_text() -> None:
    values = [b"mail bob@example.com", bytearray(b"card 4111 1111 1111 1111"), b"\xff ok", 5]
    assert [(row, kind) for row, _, _, kind in scan_values(values)] == [
        (0, "email"),
        (1, "credit_card"),
    ]
    assert redact_values(values).tolist() == [
        "mail <EMAIL>",
        "card <CREDIT_CARD>",
        b"\xff ok",
        5,
    ]
    scan = detect_pii({"raw": np.array([b"bob@example.com", b"x"], dtype="S20")})
    assert [(f.pii_type, f.count) for f in scan.findings] == [("email", 1)]


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: redact_values(["bob@example.com"], types="email"), "types"),
        (lambda: redact_values(["bob@example.com"], types=["nope"]), "types"),
        (lambda: redact_values(["bob@example.com"], types=[{}]), "types"),
        (lambda: redact_values(["x"], column=5), "column"),
        (lambda: scan_values(["x"], column=None), "column"),
        (lambda: redact_values(5), "values"),
        (lambda: scan_values("a note, not a column"), "values"),
        (lambda: scan_values(np.zeros((2, 2))), "values"),
    ],
)
def test_bad_arguments_of_scan_and_redact_are_config_errors(call: Any, argument: str) -> None:
    from edgeml.errors import ConfigError

    with pytest.raises(ConfigError, match=f"'{argument}' argument"):
        call()


def test_scan_and_redact_take_series_and_tuples() -> None:
    pd = pytest.importorskip("pandas")
    series = pd.Series(["mail bob@example.com", None])
    assert [kind for _, _, _, kind in scan_values(series)] == ["email"]
    assert redact_values(("call +44 20 7946 0958",)).tolist() == ["call <PHONE>"]
    assert redact_values(["a@example.com 10.0.0.1"], types=["ipv4"]).tolist() == [
        "a@example.com <IP>"
    ]
