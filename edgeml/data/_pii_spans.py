"""Finding validated PII spans in text.

One compiled regular expression proposes candidates for every type in a single pass over
the (normalized) text, an IBAN pattern and a scan around each ``':'`` add IBANs and IPv6
addresses, and the checks of :mod:`edgeml.data._pii_checks` decide which candidates are
real. A run of digit groups that fails as a whole is split at its separators and each part
tried again, so several cards in one note are all found. Overlapping spans keep the
leftmost, longest one; positions are mapped back to the original text.
"""

from __future__ import annotations

import re

from edgeml.data._pii_checks import (
    _MAX_CARD_DIGITS,
    _classify_number,
    _date_ok,
    _gps_ok,
    _iban_country,
    _iban_length,
    _ip_ok,
    _ssn_ok,
)
from edgeml.data._pii_normalize import _normalize_text

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
_IPV6_CHARS = frozenset("0123456789abcdefABCDEF:.")
_EMAIL_LOCAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
# One digit group of a number candidate (with its own parentheses or leading '+').
_DIGIT_GROUP = re.compile(r"\+?\(?\d+\)?")
_MIN_NUMBER_DIGITS = 7  # fewer digits are no phone number and no card
_GROUP_START = re.compile(r"(?<!\d)[\d(+]")
_BIRTH_CONTEXT = re.compile(r"(?:born|birth|dob|d\.o\.b|geb|née|nee)\W{0,3}(?:on|:)?\W{0,3}$", re.I)


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
