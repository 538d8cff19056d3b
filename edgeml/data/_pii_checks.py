"""Checksums and validators that turn PII candidates into findings.

Each check is cheap and answers one question about a candidate string the patterns
proposed: the Luhn checksum and ISO/IEC 7812 issuer rules for payment cards, the ISO 13616
registry lengths and ISO 7064 mod-97 checksum for IBANs, the SSA rules for US SSNs,
:mod:`ipaddress` for IP addresses, coordinate ranges for GPS pairs, a real calendar date
for dates, and the phone shapes that classify a run of digits as a card, an E.164 number,
a national phone number or nothing.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import re

_NOT_DIGITS = str.maketrans("", "", " \t-.()/+")
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
_MAX_CARD_DIGITS = 19


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
