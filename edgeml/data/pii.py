"""Find personal data in columns and free text, and redact it.

Text is first normalized for matching (Unicode NFKC, so full-width digits and no-break
spaces read as ASCII; zero-width and other format characters removed; every Unicode space
and dash read as an ASCII one), while every position reported still points into the
original string. One compiled regular expression then proposes candidates for every type
in a single pass over all strings of a column (joined with newlines, so the scan runs in
C, not per string); a run of digit groups that fails as a whole is split at its
separators and each part tried again, so several cards in one note are all found. Only
candidates are then validated with the cheap checks that keep false positives down
(Luhn for cards, ISO 7064 mod-97 for IBANs, the SSA rules for US SSNs, :mod:`ipaddress`
for IP addresses, a real calendar date for dates of birth, coordinate ranges for GPS).

Person names, street addresses and other free-text identifiers are *not* detected: there
is no named-entity model here. Drop or pseudonymize such columns by policy.

Findings report where personal data was seen (row positions), never the values.

Examples
--------
>>> from edgeml.data import detect_pii
>>> scan = detect_pii({"note": ["mail bob@example.com", "ok", "card 4111 1111 1111 1111"]})
>>> [(f.column, f.pii_type, f.count, f.examples) for f in scan.findings]
[('note', 'credit_card', 1, (2,)), ('note', 'email', 1, (0,))]
>>> from edgeml.data.pii import redact_values
>>> redact_values(["call +44 20 7946 0958 now"]).tolist()
['call <PHONE> now']
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import ipaddress
import itertools
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from edgeml._display import html_table, markdown_table, to_jsonable
from edgeml.errors import invalid_argument

__all__ = [
    "PII_TYPES",
    "PIIFinding",
    "PIIScan",
    "detect_pii",
    "redact_values",
    "scan_values",
]

#: Every type :func:`detect_pii` can report, with the placeholder :func:`redact` uses.
PII_TYPES: Mapping[str, str] = {
    "email": "<EMAIL>",
    "phone": "<PHONE>",
    "ipv4": "<IP>",
    "ipv6": "<IP>",
    "credit_card": "<CREDIT_CARD>",
    "iban": "<IBAN>",
    "us_ssn": "<SSN>",
    "date_of_birth": "<DOB>",
    "gps": "<GPS>",
    "column_name": "",
}

# Confidence that a validated candidate of each type really is that type.
_SCORES = {
    "email": 0.95,
    "iban": 0.99,
    "credit_card": 0.9,
    "us_ssn": 0.85,
    "ipv4": 0.8,
    "ipv6": 0.8,
    "gps": 0.75,
    "phone_e164": 0.85,
    "phone_national": 0.6,
    "date_of_birth": 0.7,
}

_REASONS = {
    "email": "local@domain.tld shape",
    "iban": "IBAN shape and ISO 7064 mod-97 checksum",
    "credit_card": "13-19 digits passing the Luhn checksum",
    "us_ssn": "AAA-GG-SSSS with a valid area, group and serial",
    "ipv4": "dotted quad with octets 0-255",
    "ipv6": "valid IPv6 address",
    "gps": "latitude, longitude pair within range",
    "phone_e164": "E.164 number (+ country code, 8-15 digits)",
    "phone_national": "common national phone format",
    "date_of_birth": "a calendar date next to a birth keyword or in a birth-date column",
}

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
# Candidates are found by three scans whose first step the regex engine can do fast:
# - _CANDIDATES starts with a lookahead that admits only positions holding a digit, '+',
#   '(' or '@', so every other position is rejected after one test. Emails are matched
#   from their '@' and extended to the left in Python (see ``_email_start``).
# - _IBAN starts with a character class (letters of either case: IBANs are pasted in
#   lower case too); only two-letter codes of the IBAN registry pass validation.
# - IPv6 addresses are grown in Python around each ':' (rare in ordinary text).
# Only candidates are then validated; overlapping spans keep the leftmost, longest one.
_CANDIDATES = re.compile(
    r"(?=[\d+(@-])(?:"
    r"(?P<email>@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+(?:xn--[A-Za-z0-9-]{2,59}|[^\W\d_]{2,63})"
    r"(?![\w-]))"
    r"|(?P<ipv4>(?<![\w.])" + _OCTET + r"(?:\." + _OCTET + r"){3}(?!\w|\.\d))"
    r"|(?P<gps>(?<![\d.])[-+]?\d{1,3}\.\d{3,}[ \t]*,[ \t]*[-+]?\d{1,3}\.\d{3,}(?![\d.]))"
    r"|(?P<date>(?<![\d./-])(?:\d{4}-\d{2}-\d{2}|\d{1,2}[./]\d{1,2}[./]\d{4})(?![\d./-]))"
    # 078-05-1123, 078.05.1123, 078 05 1123: one separator used twice
    r"|(?P<ssn>(?<![\d.-])(?<!\d[ ])\d{3}(?P<sep>[-. ])\d{2}(?P=sep)\d{4}(?![\d-]|[. ]\d))"
    r"|(?P<number>(?<![\w+])\+?\(?\d[\d \t\-.()/]{5,70}\d(?!\w))"
    r")"
)
_IBAN = re.compile(
    r"[A-Za-z]{2}\d\d(?:[ -]?[A-Za-z0-9]{4}){2,7}(?:[ -]?[A-Za-z0-9]{1,3})?(?![\w-])"
)
_NOT_DIGITS = str.maketrans("", "", " \t-.()/+")
_IPV6_CHARS = frozenset("0123456789abcdefABCDEF:.")
_EMAIL_LOCAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
_PHONE_E164 = re.compile(r"\+[1-9][\d \-.()]{6,20}")
_PHONE_NATIONAL = (
    # North America: (415) 555-0132, 415-555-0132, 415.555.0132, 1-415-555-0132
    re.compile(r"(?:1[ .-]?)?(?:\(\d{3}\)[ ]?|\d{3}[ .-])\d{3}[ .-]\d{4}"),
    # Trunk-prefix national numbers: 020 7946 0958, 07700 900123, 030/1234567, 06-12345678
    # (also 0049 30 1234567 with the international 00 prefix)
    re.compile(r"0\d{1,4}(?:[ /-]|\)[ ]?)?\d{2,4}(?:[ -]?\d{2,5}){0,2}"),
    # France and others written in pairs: 01 23 45 67 89, 06.12.34.56.78
    re.compile(r"0[1-9](?:[ .-]?\d{2}){4}"),
)
_CARD_SHAPE = re.compile(r"\d{4}(?:[ .-]?\d{2,6}){2,4}")
# One digit group of a number candidate (with its own parentheses or leading '+').
_DIGIT_GROUP = re.compile(r"\+?\(?\d+\)?")
_MAX_CARD_DIGITS = 19
_MIN_NUMBER_DIGITS = 7  # fewer digits are no phone number and no card
_GROUP_START = re.compile(r"(?<!\d)[\d(+]")
_BIRTH_CONTEXT = re.compile(r"(?:born|birth|dob|d\.o\.b|geb|née|nee)\W{0,3}(?:on|:)?\W{0,3}$", re.I)
_NAME_TOKEN = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")

# Column-name tokens that suggest personal data, with the type they suggest and a score.
_SUSPICIOUS_NAMES: Mapping[str, tuple[str, float]] = {
    **dict.fromkeys(("name", "firstname", "lastname", "surname", "fullname"), ("name", 0.6)),
    **dict.fromkeys(("username", "login", "nickname"), ("name", 0.5)),
    **dict.fromkeys(("address", "street", "addr"), ("address", 0.6)),
    **dict.fromkeys(("email", "mail", "e-mail"), ("email", 0.6)),
    **dict.fromkeys(("phone", "mobile", "tel", "telephone", "cell"), ("phone", 0.6)),
    **dict.fromkeys(("ssn", "passport", "nationalid", "taxid"), ("national_id", 0.7)),
    **dict.fromkeys(("dob", "birthdate", "birthday", "birth"), ("date_of_birth", 0.6)),
    **dict.fromkeys(("ip", "ipaddress"), ("ip_address", 0.5)),
    **dict.fromkeys(("iban", "creditcard", "card", "pan"), ("financial", 0.6)),
    **dict.fromkeys(("lat", "latitude", "lon", "lng", "longitude", "gps"), ("gps", 0.5)),
    **dict.fromkeys(("zip", "postcode", "postal", "zipcode"), ("postcode", 0.3)),
}
_BIRTH_COLUMN_TYPES = frozenset({"date_of_birth"})


@dataclasses.dataclass(frozen=True)
class PIIFinding:
    """Personal data of one type found in one column.

    Attributes
    ----------
    column : str
        The column (``"values"`` when a plain sequence was scanned).
    pii_type : str
        One of :data:`PII_TYPES` (``"column_name"`` for a finding from the name alone).
    count : int
        How many rows hold at least one match of this type.
    rows_scanned : int
        How many rows were scanned.
    score : float
        Confidence in ``[0, 1]`` that this really is personal data.
    reason : str
        Why it was reported (the checks it passed).
    examples : tuple of int
        Up to five row positions with a match (positions, never values).
    """

    column: str
    pii_type: str
    count: int
    rows_scanned: int
    score: float
    reason: str
    examples: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return dict(to_jsonable(dataclasses.asdict(self)))

    def __repr__(self) -> str:
        return (
            f"PIIFinding(column={self.column!r}, pii_type={self.pii_type!r}, "
            f"count={self.count}, score={self.score:.2f})"
        )


@dataclasses.dataclass(frozen=True)
class PIIScan:
    """What :func:`detect_pii` found, column by column.

    Attributes
    ----------
    findings : tuple of PIIFinding
        Sorted by column, then type.
    rows_scanned : int
        Rows scanned per column (after sampling).
    """

    findings: tuple[PIIFinding, ...]
    rows_scanned: int

    def columns(self, min_score: float = 0.0) -> tuple[str, ...]:
        """Return the columns with a finding scoring at least ``min_score``.

        Parameters
        ----------
        min_score : float, default 0.0
            The lowest score that counts.

        Returns
        -------
        tuple of str
            Column names in order of first appearance.

        Examples
        --------
        >>> detect_pii({"email": ["x"], "age": [3]}).columns(min_score=0.5)
        ('email',)
        """
        return tuple(dict.fromkeys(f.column for f in self.findings if f.score >= min_score))

    def __bool__(self) -> bool:
        return bool(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {"rows_scanned": self.rows_scanned, "findings": [f.to_dict() for f in self.findings]}

    def _rows(self) -> list[list[Any]]:
        return [
            [f.column, f.pii_type, f.count, f.score, f.reason, ", ".join(map(str, f.examples))]
            for f in self.findings
        ]

    _HEADERS = ("column", "type", "rows", "score", "reason", "example rows")

    def to_markdown(self) -> str:
        """Return the findings as a Markdown table."""
        return markdown_table(self._HEADERS, self._rows())

    def _repr_html_(self) -> str:
        return html_table(self._HEADERS, self._rows(), caption="PII findings")

    def __repr__(self) -> str:
        kinds = sorted({f"{f.column}:{f.pii_type}" for f in self.findings})
        return f"PIIScan(rows_scanned={self.rows_scanned}, findings={kinds})"


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


# Length of the IBAN of every country in the ISO 13616 registry (SWIFT's IBAN registry).
# A string with another two-letter prefix is not an IBAN, and one of another length is
# refused before its checksum is tried (a 1-in-97 chance of passing would otherwise let
# lower-case words followed by digits, or an IBAN with a word glued on, through).
_IBAN_REGISTRY = (
    "AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BI27 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 "
    "DJ27 DK18 DO28 EE20 EG29 ES24 FI18 FK18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HN28 "
    "HR21 HU28 IE22 IL23 IQ23 IS26 IT27 JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21 LY25 "
    "MC27 MD24 ME22 MK19 MN20 MR27 MT31 MU30 NI28 NL18 NO15 OM23 PK24 PL28 PS29 PT25 QA29 "
    "RO24 RS22 RU33 SA24 SC31 SD18 SE24 SI19 SK24 SM27 SO23 ST25 SV28 TL23 TN24 TR26 UA29 "
    "VA22 VG24 XK20 YE30"
)
_IBAN_LENGTHS = {entry[:2]: int(entry[2:]) for entry in _IBAN_REGISTRY.split()}


def _iban_country(text: str) -> str | None:
    country = text[:2].upper()
    return country if country in _IBAN_LENGTHS else None


def _iban_ok(text: str) -> bool:
    compact = text.replace(" ", "").replace("-", "").upper()
    if len(compact) != _IBAN_LENGTHS.get(compact[:2]):
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


def _iban_length(text: str) -> int | None:
    """Return the length of the longest prefix of ``text`` (ending at a group) that is an IBAN.

    The pattern may take a short word after the IBAN as its last group (``"... 8901 X"``);
    dropping trailing groups one at a time finds the IBAN itself.
    """
    while len(text) >= 15:
        if _iban_ok(text):
            return len(text)
        cut = max(text.rfind(" "), text.rfind("-"))
        if cut <= 4:
            return None
        text = text[:cut]
    return None


def _ssn_ok(text: str) -> bool:
    area, group, serial = text[:3], text[4:6], text[7:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _ip_ok(text: str, version: int) -> bool:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    if version == 6:
        return address.version == 6 and sum(c in "0123456789abcdefABCDEF" for c in text) >= 3
    return address.version == 4


def _gps_ok(text: str) -> bool:
    lat_text, lon_text = text.split(",")
    return abs(float(lat_text)) <= 90 and abs(float(lon_text)) <= 180


def _date_ok(text: str) -> bool:
    try:
        if "-" in text:
            year, month, day = map(int, text.split("-"))
        else:
            day, month, year = map(int, re.split(r"[./]", text))
            if month > 12:  # US month/day/year
                day, month = month, day
        born = _dt.date(year, month, day)
    except ValueError:
        return False
    return 1900 <= born.year <= _dt.date.today().year


def _card_ok(digits: str) -> bool:
    """Luhn plus the issuer rules of ISO/IEC 7812 that rule out most other numbers."""
    if not 13 <= len(digits) <= _MAX_CARD_DIGITS or digits[0] not in "123456":
        return False
    if len(digits) == 13 and digits[0] != "4":  # only Visa issued 13-digit numbers
        return False
    return _luhn_ok(digits)


_INTERNATIONAL_PREFIX = re.compile(r"00[1-9]")


def _classify_number(text: str, *, part: bool = False) -> str | None:
    digits = text.translate(_NOT_DIGITS)  # a number candidate holds digits and these only
    card_shaped = text.isdigit() or _CARD_SHAPE.fullmatch(text)
    if card_shaped and _card_ok(digits):
        return "credit_card"
    if text.startswith("+"):
        return "phone_e164" if 8 <= len(digits) <= 15 and _PHONE_E164.fullmatch(text) else None
    longest = 17 if _INTERNATIONAL_PREFIX.match(digits) else 12  # 00 + country + number
    if 7 <= len(digits) <= longest and any(p.fullmatch(text) for p in _PHONE_NATIONAL):
        if part and len(digits.strip("0")) < 5:
            return None  # a part of a longer run that is mostly zeros: padding, not a phone
        return "phone_national"
    return None


def _number_spans(text: str, offset: int) -> list[tuple[int, int, str]]:
    """Validate a run of digit groups, splitting it at its separators when it fails whole.

    The leftmost, longest run of consecutive groups that validates is kept, then the scan
    goes on after it: ``"4012 8888 8888 1881 4012 8888 8888 1881"`` is two cards, not one
    32-digit number that fails its checksum.
    """
    detail = _classify_number(text)
    if detail is not None:
        return [(offset, offset + len(text), detail)]
    groups = [
        (m.start(), m.end(), len(m.group().strip("+()"))) for m in _DIGIT_GROUP.finditer(text)
    ]
    if len(groups) < 2 or sum(group[2] for group in groups) < _MIN_NUMBER_DIGITS:
        return []
    spans: list[tuple[int, int, str]] = []
    first = 0
    while first < len(groups):
        found = None
        digits = 0
        last = first
        while last < len(groups) and digits + groups[last][2] <= _MAX_CARD_DIGITS:
            digits += groups[last][2]
            last += 1
        for end in range(last - 1, first - 1, -1):
            if digits < _MIN_NUMBER_DIGITS:
                break  # shorter windows hold even fewer digits
            start_char, end_char = groups[first][0], groups[end][1]
            whole = start_char == 0 and end_char == len(text)  # tried above
            detail = None if whole else _classify_number(text[start_char:end_char], part=True)
            if detail is not None:
                found = (offset + start_char, offset + end_char, detail, end)
                break
            digits -= groups[end][2]
        if found is None:
            first += 1
        else:
            spans.append(found[:3])
            first = found[3] + 1
    return spans


def _email_start(text: str, at: int) -> int:
    """Return where the local part of the email whose '@' is at ``at`` starts."""
    start = at
    while start > 0 and (text[start - 1] in _EMAIL_LOCAL or text[start - 1].isalnum()):
        start -= 1
    return start


def _validate(kind: str, text: str, joined: str, start: int, birth_column: bool) -> str | None:
    """Return the detailed type of a candidate, or ``None`` if it fails validation."""
    if kind == "ipv4":
        return "ipv4" if _ip_ok(text, 4) else None
    if kind == "gps":
        return "gps" if _gps_ok(text) else None
    if kind == "ssn":
        return "us_ssn" if _ssn_ok(text) else None
    if kind == "date":
        if not _date_ok(text):
            return None
        line_start = joined.rfind("\n", 0, start) + 1
        context = joined[max(line_start, start - 24) : start]
        return "date_of_birth" if birth_column or _BIRTH_CONTEXT.search(context) else None
    raise AssertionError(kind)  # pragma: no cover - every group is handled above


def _public_type(detail: str) -> str:
    return "phone" if detail.startswith("phone") else detail


_BYTES_TYPES = (bytes, bytearray, memoryview)


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, _BYTES_TYPES):  # personal data hides in bytes too
        return bytes(value).decode("utf-8", "replace")
    return ""


def _as_text_list(values: np.ndarray) -> list[str] | None:
    """Return the strings to scan, or ``None`` when the column holds no text.

    Bytes (``bytes`` items, or a numpy ``S`` array) are read as UTF-8.
    """
    if values.dtype.kind in "US":
        return [_as_text(v) for v in values.tolist()]
    if values.dtype.kind != "O":
        return None
    items: list[Any] = values.tolist()
    kinds = set(map(type, items))
    if kinds == {str}:
        return items
    if str not in kinds and not any(issubclass(kind, _BYTES_TYPES) for kind in kinds):
        return None
    return [_as_text(v) for v in items]


def _ipv6_spans(text: str) -> list[tuple[int, int, str]]:
    spans = []
    position = text.find(":")
    while position != -1:
        start = end = position
        while start > 0 and text[start - 1] in _IPV6_CHARS:
            start -= 1
        while end < len(text) and text[end] in _IPV6_CHARS:
            end += 1
        while end > start and text[end - 1] == ".":
            end -= 1
        token = text[start:end]
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        boundary = not (before.isalnum() or before == "_" or after.isalnum() or after == "_")
        if boundary and token.count(":") >= 2 and _ip_ok(token, 6):
            spans.append((start, end, "ipv6"))
        position = text.find(":", max(end, position + 1))
    return spans


_DASHES = frozenset(
    "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
)  # hyphens, figure/en/em dashes, minus signs


def _normal_piece(cluster: str) -> str:
    """Return what one character (with its combining marks) reads as for matching."""
    first = cluster[0]
    category = unicodedata.category(first)
    if category == "Cf":  # zero-width space/joiners, BOM, soft hyphen, bidi controls
        return unicodedata.normalize("NFKC", cluster[1:])
    if category in ("Zs", "Zl", "Zp"):
        return " "
    if first in _DASHES:
        return "-"
    if category == "Nd":  # digits of any script read as ASCII digits
        return str(unicodedata.decimal(first)) + unicodedata.normalize("NFKC", cluster[1:])
    return unicodedata.normalize("NFKC", cluster)


class _OffsetMap:
    """Maps positions in normalized text back to the original string.

    The normalized text is a sequence of pieces; each piece is either a run copied
    unchanged (positions map one to one) or what one original cluster became (every
    position maps to that cluster).
    """

    def __init__(self) -> None:
        self.norm_starts: list[int] = []
        self.orig_starts: list[int] = []
        self.orig_ends: list[int] = []
        self.identity: list[bool] = []

    def add(self, norm_start: int, orig_start: int, orig_end: int, identity: bool) -> None:
        self.norm_starts.append(norm_start)
        self.orig_starts.append(orig_start)
        self.orig_ends.append(orig_end)
        self.identity.append(identity)

    def start(self, position: int) -> int:
        k = bisect_right(self.norm_starts, position) - 1
        if self.identity[k]:
            return self.orig_starts[k] + position - self.norm_starts[k]
        return self.orig_starts[k]

    def end(self, position: int) -> int:
        """Map an exclusive end position."""
        k = bisect_right(self.norm_starts, position - 1) - 1
        if self.identity[k]:
            return self.orig_starts[k] + position - self.norm_starts[k]
        return self.orig_ends[k]


# A run of non-ASCII characters, with the ASCII character before it (the base a combining
# mark at the start of the run belongs to: "u" + U+0308 composes to "ü").
_NON_ASCII = re.compile(r"[\x00-\x7f]?[^\x00-\x7f]+")
# Format characters (category Cf, Unicode 14/15), which are removed; a test checks the
# list against the running Python's unicodedata.
_FORMAT_CHARS = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
    "\U000e0020-\U000e007f"
)
# Characters NFKC leaves alone but matching must not: format characters, dashes, and
# non-ASCII digits and spaces.
_SPECIAL = re.compile("[" + _FORMAT_CHARS + "".join(sorted(_DASHES)) + r"]|(?![\x00-\x7f])[\d\s]")


def _needs_work(segment: str) -> bool:
    """Return False when normalizing ``segment`` would leave it unchanged (the common case)."""
    return not unicodedata.is_normalized("NFKC", segment) or _SPECIAL.search(segment) is not None


def _normalize_text(text: str) -> tuple[str, _OffsetMap | None]:
    """Return ``text`` as the patterns read it, and how to map positions back.

    NFKC (full-width forms, ligatures, no-break spaces), format characters removed
    (zero-width space, joiners, soft hyphen, BOM), every Unicode space read as ``" "``,
    every dash as ``"-"`` and every decimal digit as its ASCII digit. ASCII text is
    returned as is, with no map.

    Examples
    --------
    >>> _normalize_text("（２１２） ５５５－０１４２")[0]
    '(212) 555-0142'
    >>> _normalize_text("bob@exam\u200bple.com")[0]
    'bob@example.com'
    """
    if text.isascii() or not _needs_work(text):
        return text, None
    pieces: list[str] = []
    mapping = _OffsetMap()
    length = 0
    copied = 0  # original position up to which text was handled

    def copy(upto: int) -> None:
        nonlocal length, copied
        if upto > copied:
            mapping.add(length, copied, upto, True)
            pieces.append(text[copied:upto])
            length += upto - copied
            copied = upto

    for run in _NON_ASCII.finditer(text):
        i, end = run.span()
        if not _needs_work(text[i:end]):
            continue  # unchanged: copied with the text around it
        while i < end:
            j = i + 1
            while j < len(text) and unicodedata.combining(text[j]):
                j += 1
            cluster = text[i:j]
            piece = _normal_piece(cluster)
            if piece != cluster:
                copy(i)  # everything before it is unchanged
                if piece:
                    mapping.add(length, i, j, False)
                    pieces.append(piece)
                    length += len(piece)
                copied = j
            i = j
    copy(len(text))
    if not mapping.norm_starts:
        mapping.add(0, len(text), len(text), True)
    return "".join(pieces), mapping


def _find_spans(text: str, birth_column: bool = False) -> list[tuple[int, int, str]]:
    """Return validated ``(start, end, detailed type)`` spans in ``text``, non-overlapping.

    ``text`` may hold many rows joined by newlines; no pattern crosses a newline. Matching
    runs on the normalized text; positions are returned in ``text``.
    """
    normal, mapping = _normalize_text(text)
    spans = _find_normal_spans(normal, birth_column)
    if mapping is None:
        return spans
    return [(mapping.start(start), mapping.end(end), kind) for start, end, kind in spans]


def _next_group(text: str, start: int, end: int) -> int:
    """Where the scan resumes after a candidate that failed: its next group of digits.

    No pattern can start inside a group of digits (their look-behinds refuse it), so
    the next possible start is the first digit, '(' or '+' after a separator.
    """
    group = _GROUP_START.search(text, start + 1, end)
    return group.start() if group is not None else end


def _find_normal_spans(text: str, birth_column: bool) -> list[tuple[int, int, str]]:
    spans: list[tuple[int, int, str]] = []
    position = 0
    numbers_tried = 0  # every digit run inside text[:numbers_tried] was already split
    while (match := _CANDIDATES.search(text, position)) is not None:
        kind = match.lastgroup
        start = position = match.start()
        if kind == "email":
            start = _email_start(text, start)
            if start < match.start():
                spans.append((start, match.end(), "email"))
            position = match.end()
        elif kind == "number":
            # A run of digits and separators may hold an IP address, a date or an SSN
            # after a part that is no number at all: resume inside it, not after it.
            if match.end() <= numbers_tried:
                found = []  # a tail of a run whose every window was tried already
            else:
                found = _number_spans(match.group(), start)
                numbers_tried = match.end()
            spans += found
            position = found[-1][1] if found else _next_group(text, start, match.end())
        else:
            assert kind is not None
            detail = _validate(kind, match.group(), text, start, birth_column)
            if detail is not None:
                spans.append((start, match.end(), detail))
                position = match.end()
            else:
                position = _next_group(text, start, match.end())
    for match in _IBAN.finditer(text):
        start = match.start()
        if (start == 0 or not text[start - 1].isalnum()) and _iban_country(match.group()):
            # An IBAN-shaped string failing its checksum still hides the digits inside it
            # from the other types (they are not a card number that happens to pass Luhn).
            length = _iban_length(match.group())
            spans.append((start, start + (length or len(match.group())), "iban" if length else ""))
    if ":" in text:
        spans += _ipv6_spans(text)
    spans.sort(key=lambda span: (span[0], -span[1]))
    kept: list[tuple[int, int, str]] = []
    for span in spans:
        if not kept or span[0] >= kept[-1][1]:
            kept.append(span)
    return [span for span in kept if span[2]]


def _column_argument(owner: str, values: Any, column: Any) -> np.ndarray:
    """Check the arguments shared by :func:`scan_values` and :func:`redact_values`."""
    if not isinstance(column, str):
        raise invalid_argument(owner, "column", column, "a column name (str)")
    if not isinstance(values, np.ndarray) and hasattr(values, "__array__"):
        values = np.asarray(values, dtype=object)  # a pandas Series, an array-like
    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise invalid_argument(
                owner, "values", f"an array of shape {values.shape}", "a 1-D column of values"
            )
        return values
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise invalid_argument(
            owner, "values", values, "a sequence of values (one per row)", fix="wrap it: [value]"
        )
    array = np.empty(len(values), dtype=object)
    array[:] = list(values)  # never a 2-D array, whatever the items are
    return array


def _types_argument(owner: str, types: Any) -> frozenset[str]:
    known = sorted(t for t in PII_TYPES if t != "column_name")
    if isinstance(types, str) or not isinstance(types, Iterable):
        raise invalid_argument(owner, "types", types, f"a list of PII types from {known}")
    wanted = list(types)
    if not wanted or not all(isinstance(t, str) and t in known for t in wanted):
        raise invalid_argument(owner, "types", wanted, f"a non-empty list of types from {known}")
    return frozenset(wanted)


def scan_values(
    values: Sequence[Any] | np.ndarray, *, column: str = "values"
) -> list[tuple[int, int, int, str]]:
    """Return every validated PII span in a column of strings.

    Parameters
    ----------
    values : sequence or numpy.ndarray
        The column; items that are not strings are skipped.
    column : str, default "values"
        The column's name; a name that suggests a birth date turns every valid date in
        it into a ``date_of_birth`` match.

    Returns
    -------
    list of (row, start, end, type)
        Row position, span within that row's string, and detailed type (``phone`` is
        split into ``phone_e164`` and ``phone_national``).

    Examples
    --------
    >>> scan_values(["x 123-45-6789", "none"])
    [(0, 2, 13, 'us_ssn')]
    """
    array = _column_argument("scan_values", values, column)
    texts = _as_text_list(array)
    if not texts:
        return []
    birth_column = _column_name_type(column) in _BIRTH_COLUMN_TYPES
    joined = "\n".join(texts)
    # Start offset of each row's text inside ``joined``.
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)) + 1
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    spans = _find_spans(joined, birth_column)
    if not spans:
        return []
    offsets = np.fromiter((start for start, _, _ in spans), dtype=np.int64, count=len(spans))
    rows = np.searchsorted(starts, offsets, side="right") - 1
    return [
        (int(row), start - int(starts[row]), end - int(starts[row]), kind)
        for row, (start, end, kind) in zip(rows.tolist(), spans, strict=True)
    ]


def redact_values(
    values: Sequence[Any] | np.ndarray,
    *,
    types: Iterable[str] | None = None,
    column: str = "values",
) -> np.ndarray:
    """Replace PII spans in strings by typed placeholders such as ``<EMAIL>``.

    Parameters
    ----------
    values : sequence or numpy.ndarray
        The strings; bytes are read as UTF-8 and, when they hold PII, come back as the
        redacted ``str``; other items (``None``, numbers) are returned unchanged.
    types : iterable of str, optional
        Only redact these types (keys of :data:`PII_TYPES`); all of them by default.
    column : str, default "values"
        The column's name (see :func:`scan_values`).

    Returns
    -------
    numpy.ndarray
        An object array of the same length.

    Examples
    --------
    >>> redact_values(["ip 10.0.0.1, born 1990-02-03", None]).tolist()
    ['ip <IP>, born <DOB>', None]
    """
    array = _column_argument("redact_values", values, column)
    out = np.array(array, dtype=object, copy=True)
    wanted = None if types is None else _types_argument("redact_values", types)
    by_row: dict[int, list[tuple[int, int, str]]] = {}
    for row, start, end, detail in scan_values(array, column=column):
        public = _public_type(detail)
        if wanted is None or public in wanted:
            by_row.setdefault(row, []).append((start, end, PII_TYPES[public]))
    for row, spans in by_row.items():
        text = _as_text(out[row])  # bytes come back as redacted str
        for start, end, placeholder in sorted(spans, reverse=True):
            text = text[:start] + placeholder + text[end:]
        out[row] = text
    return out


def _name_hit(name: str) -> tuple[str, str, float] | None:
    """Return (token, suggested type, score) of the most suspicious token of a column name."""
    tokens = [t.lower() for t in _NAME_TOKEN.findall(name.replace("-", "_"))]
    candidates = [*tokens, "".join(tokens), *(a + b for a, b in itertools.pairwise(tokens))]
    hits = [(t, *_SUSPICIOUS_NAMES[t]) for t in candidates if t in _SUSPICIOUS_NAMES]
    return max(hits, key=lambda hit: hit[2]) if hits else None


def _column_name_type(name: str) -> str | None:
    hit = _name_hit(name)
    return None if hit is None else hit[1]


def _column_name_finding(name: str, rows: int) -> PIIFinding | None:
    hit = _name_hit(name)
    if hit is None:
        return None
    token, suggested, score = hit
    reason = f"column name token {token!r} suggests {suggested.replace('_', ' ')}"
    return PIIFinding(name, "column_name", 0, rows, score, reason, ())


def _numeric_findings(name: str, values: np.ndarray) -> list[PIIFinding]:
    """Return findings for numeric columns: GPS by name and range, card-like integers."""
    rows = len(values)
    if values.dtype.kind == "f" and _column_name_type(name) == "gps":
        finite = values[np.isfinite(values)]
        decimals = np.abs(finite * 1000 - np.round(finite * 1000)) > 1e-6
        if finite.size and np.all(np.abs(finite) <= 180) and np.mean(decimals) > 0.5:
            examples = tuple(int(i) for i in np.flatnonzero(np.isfinite(values))[:5])
            reason = "coordinates with more than 3 decimals in a latitude/longitude column"
            return [PIIFinding(name, "gps", int(finite.size), rows, 0.8, reason, examples)]
    if values.dtype.kind in "iu":
        big = np.flatnonzero(np.abs(values.astype(np.float64)) >= 1e6)
        if big.size:
            texts = np.array([str(int(v)) for v in values[big]], dtype=object)
            found = scan_values(texts, column=name)
            moved = [(int(big[row]), start, end, kind) for row, start, end, kind in found]
            return _group_findings(name, moved, rows)
    return []


def _group_findings(
    column: str, matches: Sequence[tuple[int, int, int, str]], rows_scanned: int
) -> list[PIIFinding]:
    rows_by_detail: dict[str, list[int]] = {}
    for row, _start, _end, detail in matches:
        rows_by_detail.setdefault(detail, []).append(row)
    merged: dict[str, tuple[set[int], float, list[str]]] = {}
    for detail, detail_rows in rows_by_detail.items():
        public = _public_type(detail)
        seen, score, reasons = merged.get(public, (set(), 0.0, []))
        merged[public] = (
            seen | set(detail_rows),
            max(score, _SCORES[detail]),
            [*reasons, _REASONS[detail]],
        )
    findings = []
    for public, (seen, score, reasons) in merged.items():
        ordered = sorted(seen)
        findings.append(
            PIIFinding(
                column,
                public,
                len(ordered),
                rows_scanned,
                score,
                "; ".join(reasons),
                tuple(ordered[:5]),
            )
        )
    return findings


def _sample_positions(n_rows: int, sample: int | None) -> np.ndarray | None:
    if sample is None or sample >= n_rows:
        return None
    return np.unique(np.linspace(0, n_rows - 1, num=sample).round().astype(np.int64))


def scan_column(name: str, values: np.ndarray, *, sample: int | None = None) -> list[PIIFinding]:
    """Return the findings for one column (name and values).

    Parameters
    ----------
    name : str
        The column name.
    values : numpy.ndarray
        Its values (object arrays of strings, numeric arrays).
    sample : int, optional
        Scan only this many evenly spaced rows.

    Returns
    -------
    list of PIIFinding
        Findings sorted by type.
    """
    positions = _sample_positions(len(values), sample)
    scanned = values if positions is None else values[positions]
    findings: list[PIIFinding] = []
    name_finding = _column_name_finding(name, len(scanned))
    if name_finding is not None:
        findings.append(name_finding)
    if scanned.dtype.kind in "OUS":
        matches = scan_values(scanned, column=name)
        findings += _group_findings(name, matches, len(scanned))
    else:
        findings += _numeric_findings(name, scanned)
    if positions is not None:
        findings = [
            dataclasses.replace(f, examples=tuple(int(positions[i]) for i in f.examples))
            for f in findings
        ]
    return sorted(findings, key=lambda f: f.pii_type)


def detect_pii(
    table: Any,
    *,
    sample: int | None = None,
    columns: Iterable[str] | None = None,
) -> PIIScan:
    """Find personal data in a table, a column or a sequence of strings.

    Parameters
    ----------
    table : DataFrame, dict of columns, list of dicts, structured array or sequence
        What to scan. A plain sequence of values is scanned as one column ``"values"``.
    sample : int, optional
        Scan at most this many evenly spaced rows per column (all rows by default).
    columns : iterable of str, optional
        Only scan these columns.

    Returns
    -------
    PIIScan
        Findings per column and type, with counts, scores, reasons and example rows.

    Examples
    --------
    >>> scan = detect_pii({"dob": ["1990-05-17"], "ip": ["2001:db8::1"], "x": [1.5]})
    >>> sorted((f.column, f.pii_type) for f in scan.findings)
    [('dob', 'column_name'), ('dob', 'date_of_birth'), ('ip', 'column_name'), ('ip', 'ipv6')]
    """
    from edgeml.data._table import read_table

    if sample is not None and (
        isinstance(sample, bool) or not isinstance(sample, int) or sample < 1
    ):
        raise invalid_argument("detect_pii", "sample", sample, "a positive integer or None")
    if isinstance(table, (list, tuple, np.ndarray)) and not _looks_like_table(table):
        data = {"values": np.asarray(table, dtype=object)}
        n_rows = len(table)
    else:
        parsed = read_table(table, owner="detect_pii")
        data, n_rows = dict(parsed.columns), parsed.n_rows
    if columns is not None:
        if isinstance(columns, str) or not isinstance(columns, Iterable):
            raise invalid_argument(
                "detect_pii", "columns", columns, "a list of column names", fix=f"use [{columns!r}]"
            )
        wanted = list(columns)
        if not all(isinstance(c, str) for c in wanted):
            raise invalid_argument("detect_pii", "columns", wanted, "a list of column names")
        unknown = [c for c in wanted if c not in data]
        if unknown:
            raise invalid_argument(
                "detect_pii", "columns", unknown, f"columns of the table {sorted(data)}"
            )
        data = {c: data[c] for c in wanted}
    findings: list[PIIFinding] = []
    for name, values in data.items():
        findings += scan_column(name, values, sample=sample)
    scanned = n_rows if sample is None else min(sample, n_rows)
    return PIIScan(tuple(sorted(findings, key=lambda f: (f.column, f.pii_type))), scanned)


def _looks_like_table(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return value.dtype.names is not None
    return bool(value) and all(isinstance(item, Mapping) for item in value)
