"""Whether an identifier (a case, meeting or participant id) holds a personnummer or samordningsnummer.

Identifiers go into mail subjects, calendar UIDs, URLs and logs, where a personnummer must never appear,
so an id that holds one is refused. The check digit is python-stdnum's Luhn; a samordningsnummer is a
personnummer whose day of month is raised by 60, which stdnum's personnummer module does not know.
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

from stdnum import luhn

from scheduler.identity import COORDINATION_DAY_OFFSET

# YYMMDD or YYYYMMDD, an optional separator, the serial and check digit; not inside a longer run of
# digits (a long numeric id is not a personnummer).
_CANDIDATE = re.compile(r"(?<![0-9])(?:[0-9]{2})?([0-9]{6})[-+]?([0-9]{4})(?![0-9])")
_CENTURIES = (1800, 1900, 2000)


@lru_cache(maxsize=8192)
def holds_identity_number(text: str) -> bool:
    """True if `text` holds a Luhn-valid personnummer or samordningsnummer that encodes a real date.

    Remembered: the same meeting and participant ids recur in every case of a bulk import."""
    for match in _CANDIDATE.finditer(text):
        yymmdd, last_four = match.group(1), match.group(2)
        if luhn.is_valid(yymmdd + last_four) and _is_a_birth_date(yymmdd):
            return True
    return False


def _is_a_birth_date(yymmdd: str) -> bool:
    year, month, day = int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:6])
    if day > COORDINATION_DAY_OFFSET:
        day -= COORDINATION_DAY_OFFSET
    for century in _CENTURIES:
        try:
            date(century + year, month, day)
        except ValueError:
            continue
        return True
    return False
