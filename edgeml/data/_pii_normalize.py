"""Unicode normalisation for PII matching, with a map back to the original positions.

The PII patterns are written for ASCII; this module rewrites text so that full-width and
other-script digits, Unicode spaces and dashes read as their ASCII forms, NFKC folds
compatibility characters, and zero-width and other format characters vanish. Each rewrite
is recorded in an offset map, so a span found in the normalized text is reported at its
place in the string the caller gave. ASCII text (the common case) is returned untouched.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right

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
