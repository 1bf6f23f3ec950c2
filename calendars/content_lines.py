"""iCalendar content lines (RFC 5545 section 3.1) written directly: escaping, parameters, folding.

sipvakt writes a small, fixed set of properties; writing them as text takes a fraction of the time that
building icalendar components and serialising them does, which matters once per message sent. The output
is checked against icalendar's own serialisation in the tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

FOLD_LIMIT = 75
_TEXT_ESCAPES = str.maketrans({"\\": "\\\\", ";": "\\;", ",": "\\,", "\n": "\\n"})
# RFC 6868: a parameter value cannot hold a double quote or a line break; ^ escapes them.
_PARAM_ESCAPES = str.maketrans({"^": "^^", '"': "^'", "\n": "^n"})
_ESCAPE_OCTETS = frozenset(b"\\^")


def text(value: str) -> str:
    """A TEXT value: backslash, semicolon, comma and line breaks escaped."""
    return value.replace("\r\n", "\n").replace("\r", "\n").translate(_TEXT_ESCAPES)


def quoted_param(value: str) -> str:
    """A parameter value, always in double quotes (as CN and DELEGATED-FROM are best written)."""
    return '"' + value.translate(_PARAM_ESCAPES) + '"'


def utc_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def local_time(moment: datetime) -> str:
    """A wall-clock time to be written with the TZID of the zone `moment` is already in."""
    return moment.strftime("%Y%m%dT%H%M%S")


def line(name: str, value: str, params: Sequence[tuple[str, str]] = ()) -> str:
    head = name + "".join(f";{key}={param}" for key, param in params)
    return fold(f"{head}:{value}")


def fold(content: str) -> str:
    """Split a line longer than 75 octets between characters, never right after an escape character."""
    octets = content.encode("utf-8")
    if len(octets) < FOLD_LIMIT:
        return content
    # Cut the octets rather than walk the characters: a piece holds at most 74 octets, ends before a
    # continuation octet (0b10xxxxxx) never, and so always between two characters.
    pieces: list[bytes] = []
    start = 0
    while len(octets) - start >= FOLD_LIMIT:
        end = start + FOLD_LIMIT - 1
        while octets[end] & 0xC0 == 0x80:
            end -= 1
        # Keep "\;" or "^'" together: some clients do not join an escape split across lines.
        if end - start > 1 and octets[end - 1] in _ESCAPE_OCTETS:
            end -= 1
        pieces.append(octets[start:end])
        start = end
    pieces.append(octets[start:])
    return b"\r\n ".join(pieces).decode("utf-8")


def document(lines: Sequence[str]) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")
