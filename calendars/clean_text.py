"""Make text from outside safe to place in a calendar property, a mail header or a printed letter.

Names, places and purposes arrive from other systems. A carriage return or line feed in a name could start
a new iCalendar property or mail header; NUL and other control characters confuse parsers; bidirectional
override and isolate characters can make a line read differently on screen than it is stored. All of them
are removed here, once, for every output channel.
"""

from __future__ import annotations

import re
import unicodedata

# Bidi embedding/override (U+202A-U+202E), isolates (U+2066-U+2069), marks (U+200E, U+200F, U+061C).
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
# Characters that some software treats as a line break although they are not CR or LF.
_LINE_BREAKS = frozenset("\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
_LINE_BREAK = re.compile("[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_SPACES = re.compile(r"[ \t\u00a0\u3000\u2000-\u200a\u202f\u205f]+")
# Any character that clean_line would change or drop, or a double space: text without them is returned
# as it is. Covers every control, bidi, line-break and space character handled below, and every
# character str.strip() removes.
_NEEDS_CLEANING = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00a0\u061c\u1680\u2000-\u200f\u2028-\u202f\u205f\u2066-\u2069\u3000\ufeff"
    "\ud800-\udfff]|  "
)


def _is_removable(char: str) -> bool:
    """True for C0 and C1 controls, bidi controls, the byte order mark and unassigned surrogates."""
    if char in _BIDI_CONTROLS or char == "\ufeff":
        return True
    category = unicodedata.category(char)
    return category in ("Cc", "Cs")


def clean_line(value: str) -> str:
    """One line of text: every line break becomes a space, controls and bidi marks are dropped.

    Runs of whitespace collapse to one space and the ends are trimmed, so a display name cannot carry
    hidden padding either.
    """
    if not _NEEDS_CLEANING.search(value) and value.strip() == value:
        return value  # already clean: the common case, answered without looking at each character
    return _clean_line_by_character(value)


def _clean_line_by_character(value: str) -> str:
    chars = [" " if char in _LINE_BREAKS or char == "\t" else char for char in value]
    kept = "".join(char for char in chars if not _is_removable(char))
    return _SPACES.sub(" ", kept).strip()


def clean_multiline(value: str) -> str:
    """Text that may keep its line breaks (a description, a comment), normalised to LF.

    Each line is cleaned like :func:`clean_line`; blank lines in the middle are kept, trailing ones not.
    """
    normalised = value.replace("\r\n", "\n")
    lines = _LINE_BREAK.split(normalised)
    return "\n".join(clean_line(line) for line in lines).strip("\n")
