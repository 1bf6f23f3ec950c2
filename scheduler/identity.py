"""Swedish personal identity numbers: personnummer and samordningsnummer.

Only the birth date is kept from a number; the number itself is never stored, logged or echoed in an
error message. python-stdnum validates personnummer but not samordningsnummer (day of month + 60),
so the rules are written out here: they are short.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

# ASCII digits only: `\d` alone also matches other scripts' digits, which int() would then read.
_PATTERN = re.compile(
    r"^(?P<century>\d{2})?(?P<yymmdd>\d{6})(?P<sep>[-+]?)(?P<serial>\d{3})(?P<check>\d)$", re.ASCII
)

COORDINATION_DAY_OFFSET = 60


class IdentityNumberError(ValueError):
    """The number is not a valid personnummer or samordningsnummer; the message never holds the number."""


@dataclass(frozen=True)
class IdentityNumber:
    birth_date: date
    coordination: bool


def luhn_check_digit(digits: str) -> int:
    """Check digit (mod 10, weights 2,1,2,…) over the nine digits YYMMDDNNN."""
    total = 0
    for index, char in enumerate(digits):
        product = int(char) * (2 if index % 2 == 0 else 1)
        total += product - 9 if product > 9 else product
    return (10 - total % 10) % 10


def parse_identity_number(value: str, *, reference: date) -> IdentityNumber:
    """Validate a personnummer or samordningsnummer and return the birth date it encodes.

    Accepts 10 digits (YYMMDD-NNNN, YYMMDD+NNNN for people aged 100 or more, or no separator) and
    12 digits (YYYYMMDDNNNN, with or without '-'). The century of a 10-digit number is taken relative
    to `reference` (the day the number was given), as Skatteverket does.
    """
    match = _PATTERN.match(value.strip())
    if match is None:
        raise IdentityNumberError("must be 10 or 12 digits, optionally with '-' or '+' before the last four")
    century, yymmdd, separator = match["century"], match["yymmdd"], match["sep"]
    if century is not None and separator == "+":
        raise IdentityNumberError("'+' is only used with 10 digits")
    if luhn_check_digit(yymmdd + match["serial"]) != int(match["check"]):
        raise IdentityNumberError("check digit does not match")
    year_in_century, month, day = int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:6])
    coordination = day > COORDINATION_DAY_OFFSET
    if coordination:
        day -= COORDINATION_DAY_OFFSET
    year = _full_year(century, year_in_century, month, day, separator, reference)
    try:
        birth_date = date(year, month, day)
    except ValueError:
        raise IdentityNumberError("does not encode a valid date of birth") from None
    if birth_date > reference:
        raise IdentityNumberError("encodes a date of birth in the future")
    return IdentityNumber(birth_date=birth_date, coordination=coordination)


def _full_year(
    century: str | None, year_in_century: int, month: int, day: int, separator: str, reference: date
) -> int:
    if century is not None:
        return int(century) * 100 + year_in_century
    year = (reference.year // 100) * 100 + year_in_century
    # The latest year not after the reference date; '+' adds a hundred years of age.
    if (year, month, day) > (reference.year, reference.month, reference.day):
        year -= 100
    if separator == "+":
        year -= 100
    return year
