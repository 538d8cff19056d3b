"""A labelled corpus for measuring PII recall and precision per entity type.

Each positive is ``(text, type, value)``: ``value`` occurs once in ``text`` and is the
span a detector must report with that type. Each negative is ``(text, type)``: a
look-alike of that type that holds no personal data of any type the detector claims.

Sources of the values: payment processors' published test card numbers (Visa, Mastercard,
Amex, Discover, JCB, Diners, Maestro); the SWIFT IBAN registry's example IBANs; phone
numbers from the ranges reserved for fiction (Ofcom 020 7946 0xxx and 07700 900xxx,
NANPA 555-01xx, ACMA 0491 570 xxx); documentation address ranges (RFC 5737 for IPv4,
RFC 3849 for IPv6); the SSA's famous invalidated "078-05-1120"-family and made-up SSNs
with valid area/group/serial; example.* and IDN test domains (RFC 2606, RFC 6761).
Forms people paste (full-width digits, no-break and thin spaces, zero-width characters,
dots and lower case) are positives of their type: they are the same data.

Run ``python tests/data/pii_corpus.py`` to print the table.
"""

from __future__ import annotations

import json
from collections import Counter

POSITIVES: list[tuple[str, str, str]] = [
    # email
    ("mail bob@example.com today", "email", "bob@example.com"),
    ("bob.smith@example.com.", "email", "bob.smith@example.com"),
    # known miss: spelled-out addresses
    ("bob at example dot com", "email", "bob at example dot com"),
    ("jane.doe+tag@mail.example.co.uk wrote", "email", "jane.doe+tag@mail.example.co.uk"),
    ("contact: j_smith-42@example.org.", "email", "j_smith-42@example.org"),
    ("<alice@example.net>", "email", "alice@example.net"),
    ("jürgen@exämple.de", "email", "jürgen@exämple.de"),
    ("write to bob@例え.jp please", "email", "bob@例え.jp"),
    ("bob@exam\u200bple.com", "email", "bob@exam\u200bple.com"),
    ("user@xn--80ak6aa92e.com", "email", "user@xn--80ak6aa92e.com"),
    ("a@xn--d1acufc.xn--p1ai", "email", "a@xn--d1acufc.xn--p1ai"),
    ("почта: иван@пример.рф", "email", "иван@пример.рф"),
    ("ＢＯＢ＠ＥＸＡＭＰＬＥ．ＣＯＭ", "email", "ＢＯＢ＠ＥＸＡＭＰＬＥ．ＣＯＭ"),
    ("MAIL: Info@Example.COM", "email", "Info@Example.COM"),
    ("cc: o'neil@example.ie", "email", "neil@example.ie"),
    # phone
    ("call +44 20 7946 0958 now", "phone", "+44 20 7946 0958"),
    ("+44\xa020\xa07946\xa00958", "phone", "+44\xa020\xa07946\xa00958"),
    ("tel (212) 555-0142", "phone", "(212) 555-0142"),
    ("（２１２） ５５５－０１４２", "phone", "（２１２） ５５５－０１４２"),
    ("ring 020 7946 0958", "phone", "020 7946 0958"),
    ("mobile 07700 900123", "phone", "07700 900123"),
    ("US: 415-555-0132", "phone", "415-555-0132"),
    ("call 1-415-555-0132", "phone", "1-415-555-0132"),
    ("fax 415.555.0132", "phone", "415.555.0132"),
    ("Brazil: +55 11 98456 5666", "phone", "+55 11 98456 5666"),
    ("FR 01 23 45 67 89", "phone", "01 23 45 67 89"),
    ("Berlin 030/1234567", "phone", "030/1234567"),
    ("AU 0491 570 156", "phone", "0491 570 156"),
    ("+1\u2009415\u2009555\u20090132", "phone", "+1\u2009415\u2009555\u20090132"),
    ("+33 1 42 68 53 00", "phone", "+33 1 42 68 53 00"),
    ("tel: +49 30 1234567", "phone", "+49 30 1234567"),
    ("Tel. 0049 30 1234567", "phone", "0049 30 1234567"),
    ("My Japanese number is 090-1234-5678", "phone", "090-1234-5678"),
    # known misses: a 7-digit local number, bare 10 and 11 digit runs (no separators,
    # no '+'), which are as often order or account numbers
    ("call 555-0142", "phone", "555-0142"),
    ("phone: 4155550132", "phone", "4155550132"),
    ("My CN number is 13812345678", "phone", "13812345678"),
    # ipv4
    ("from 192.0.2.44", "ipv4", "192.0.2.44"),
    ("IP: 192.168.1.1.", "ipv4", "192.168.1.1"),
    ("order 12345 192.0.2.1 ok", "ipv4", "192.0.2.1"),
    ("host 198.51.100.7:8080", "ipv4", "198.51.100.7"),
    ("１９２.１６８.１.２０", "ipv4", "１９２.１６８.１.２０"),
    ("(203.0.113.255)", "ipv4", "203.0.113.255"),
    ("ip=10.0.0.1,", "ipv4", "10.0.0.1"),
    ("localhost 127.0.0.1", "ipv4", "127.0.0.1"),
    # ipv6
    ("from 2001:db8:85a3::8a2e:370:7334", "ipv6", "2001:db8:85a3::8a2e:370:7334"),
    ("gw fe80::1 on eth0", "ipv6", "fe80::1"),
    ("[2001:db8::1]:443", "ipv6", "2001:db8::1"),
    ("mapped ::ffff:192.0.2.1", "ipv6", "::ffff:192.0.2.1"),
    ("2001:0DB8:0000:0000:0000:FF00:0042:8329", "ipv6", "2001:0DB8:0000:0000:0000:FF00:0042:8329"),
    # credit_card
    ("card 4111 1111 1111 1111", "credit_card", "4111 1111 1111 1111"),
    ("4111111111111111", "credit_card", "4111111111111111"),
    ("mc 5555-5555-5555-4444", "credit_card", "5555-5555-5555-4444"),
    ("amex 378282246310005", "credit_card", "378282246310005"),
    ("amex 3782 822463 10005", "credit_card", "3782 822463 10005"),
    ("discover 6011000400000000", "credit_card", "6011000400000000"),
    ("jcb 3528000700000000", "credit_card", "3528000700000000"),
    ("diners 30569309025904", "credit_card", "30569309025904"),
    ("maestro 6759649826438453", "credit_card", "6759649826438453"),
    ("4111.1111.1111.1111", "credit_card", "4111.1111.1111.1111"),
    ("４１１１ １１１１ １１１１ １１１１", "credit_card", "４１１１ １１１１ １１１１ １１１１"),
    ("4111\u200b1111\u200b1111\u200b1111", "credit_card", "4111\u200b1111\u200b1111\u200b1111"),
    ("cards 4012 8888 8888 1881 5555 5555 5555 4444", "credit_card", "4012 8888 8888 1881"),
    ("cards 4012 8888 8888 1881 5555 5555 5555 4444", "credit_card", "5555 5555 5555 4444"),
    ("old visa 4222222222222", "credit_card", "4222222222222"),
    # iban
    ("iban DE89 3704 0044 0532 0130 00", "iban", "DE89 3704 0044 0532 0130 00"),
    ("GB82WEST12345698765432", "iban", "GB82WEST12345698765432"),
    ("FR1420041010050500013M02606", "iban", "FR1420041010050500013M02606"),
    ("de89370400440532013000", "iban", "de89370400440532013000"),
    ("gb82 west 1234 5698 7654 32", "iban", "gb82 west 1234 5698 7654 32"),
    ("NL91ABNA0417164300", "iban", "NL91ABNA0417164300"),
    ("AL47-2121-1009-0000-0002-3569-8741", "iban", "AL47-2121-1009-0000-0002-3569-8741"),
    (
        "CH93\xa00076\xa02011\xa06238\xa05295\xa07",
        "iban",
        "CH93\xa00076\xa02011\xa06238\xa05295\xa07",
    ),
    # us_ssn
    ("ssn 123-45-6789", "us_ssn", "123-45-6789"),
    ("078-05-1123", "us_ssn", "078-05-1123"),
    ("078.05.1123", "us_ssn", "078.05.1123"),
    ("SSN: 078 05 1123", "us_ssn", "078 05 1123"),
    ("ssn ０７８－０５－１１２３", "us_ssn", "０７８－０５－１１２３"),
    ("ssn 219\u201309\u20139999", "us_ssn", "219\u201309\u20139999"),
    # known miss: nine bare digits (read as a national phone number instead)
    ("078051123", "us_ssn", "078051123"),
    # date_of_birth
    ("born 1990-02-03", "date_of_birth", "1990-02-03"),
    ("DOB: 17.05.1984", "date_of_birth", "17.05.1984"),
    ("date of birth: 12/31/1975", "date_of_birth", "12/31/1975"),
    ("geb. 01.02.1960", "date_of_birth", "01.02.1960"),
    ("born on\xa01990-02-03", "date_of_birth", "1990-02-03"),
    ("born ２０００-０１-０１", "date_of_birth", "２０００-０１-０１"),
    # known miss: month names
    ("born March 3, 1990", "date_of_birth", "March 3, 1990"),
    # gps
    ("at 48.8584, 2.2945", "gps", "48.8584, 2.2945"),
    ("loc -33.8688,151.2093", "gps", "-33.8688,151.2093"),
    ("pos 40.689247, -74.044502", "gps", "40.689247, -74.044502"),
    ("pos ４８.８５８４, ２.２９４５", "gps", "４８.８５８４, ２.２９４５"),
    # known miss: degrees, minutes, seconds
    ("48°51′30″N 2°17′40″E", "gps", "48°51′30″N 2°17′40″E"),
]

NEGATIVES: list[tuple[str, str]] = [
    # email look-alikes
    ("follow @alice on the forum", "email"),
    ("root@localhost", "email"),
    ("user@domain", "email"),
    ("info@presidio.", "email"),
    ("a@b.1", "email"),
    ("price 3 @ 4.50", "email"),
    ("decorator @app.route", "email"),
    # phone look-alikes
    ("order 1234567 shipped", "phone"),
    ("version 2.0.1.4 released", "phone"),
    ("ISBN 978-3-16-148410-0", "phone"),
    ("total 12,345,678 units", "phone"),
    ("room 101, floor 3", "phone"),
    ("score 3-2 after 90 minutes", "phone"),
    ("year 2024 and 2025", "phone"),
    ("run id 20240115", "phone"),
    # ipv4 look-alikes
    ("version 1.2.3.4.5", "ipv4"),
    ("256.1.1.1 is out of range", "ipv4"),
    ("subnet 10.0.0", "ipv4"),
    ("IP192.168.1.1text", "ipv4"),
    # ipv6 look-alikes
    ("MAC address aa:bb:cc:dd:ee:ff", "ipv6"),
    ("Time 12:34:56", "ipv6"),
    ("Ratio 1:2:3:4", "ipv6"),
    ("std::cout << x", "ipv6"),
    ("MyClass::toString", "ipv6"),
    # credit card look-alikes
    ("card 4111 1111 1111 1112", "credit_card"),
    ("4012-8888-8888-1882", "credit_card"),
    ("36168002586008", "credit_card"),
    ("1748503543012", "credit_card"),
    ("timestamp 20240115123045123", "credit_card"),
    ("tracking 9400 1000 0000 0000 0000 00", "credit_card"),
    ("part no 0000 0000 0000 0000", "credit_card"),
    # IBAN look-alikes
    ("DE89 3704 0044 0532 0130 01", "iban"),
    ("XX89370400440532013000", "iban"),
    ("ab12 cdef 1234 5678 9012", "iban"),
    ("IL15 0120 6900 0000", "iban"),
    ("model sk12 3456 7890", "iban"),
    # SSN look-alikes
    ("000-12-3456", "us_ssn"),
    ("666-12-3456", "us_ssn"),
    ("900-12-3456", "us_ssn"),
    ("078-05-0000", "us_ssn"),
    ("078 00 1123", "us_ssn"),
    ("693-09.4444", "us_ssn"),
    ("part 123-45-67890", "us_ssn"),
    # date look-alikes
    ("meeting on 2024-01-15", "date_of_birth"),
    ("born 2024-13-45", "date_of_birth"),
    ("invoice 17.05.1984", "date_of_birth"),
    ("born 1850-01-01", "date_of_birth"),
    # GPS look-alikes
    ("95.1234, 10.1234", "gps"),
    ("1.5, 2.5", "gps"),
    ("prices 12.999, 13.499", "gps"),
]

TYPES = ("email", "phone", "ipv4", "ipv6", "credit_card", "iban", "us_ssn", "date_of_birth", "gps")


def measure() -> dict[str, dict[str, float]]:
    """Return recall and precision per type (and counts) over the corpus."""
    from edgeml.data.pii import scan_values

    found: Counter[str] = Counter()
    expected: Counter[str] = Counter()
    false: Counter[str] = Counter()
    negatives: Counter[str] = Counter()
    labels: dict[str, set[tuple[int, int, str]]] = {}
    for text, kind, value in POSITIVES:
        expected[kind] += 1
        start = text.index(value)
        labels.setdefault(text, set()).add((start, start + len(value), kind))
    for text, kind in NEGATIVES:
        negatives[kind] += 1
        labels.setdefault(text, set())
    for text, wanted in labels.items():
        for _, start, end, detail in scan_values([text]):
            public = "phone" if detail.startswith("phone") else detail
            if (start, end, public) in wanted:
                found[public] += 1
            else:
                false[public] += 1
    table = {}
    for kind in TYPES:
        hits = found[kind]
        table[kind] = {
            "positives": expected[kind],
            "look_alikes": negatives[kind],
            "recall": hits / expected[kind],
            "precision": hits / (hits + false[kind]) if hits + false[kind] else 1.0,
            "false_positives": false[kind],
        }
    return table


if __name__ == "__main__":
    print(json.dumps(measure(), indent=1))
