"""Swedish personal identity numbers: personnummer and samordningsnummer.

Only the birth date is kept from a number; the number itself is never stored, logged or echoed in an
error message. python-stdnum checks the Luhn digit, but its personnummer module neither knows the
samordningsnummer (day of month + 60) nor takes the century from the day the number was given, so
those two rules are written out here: they are short.

Only ASCII digits make a number: a string of Arabic-Indic digits is not a personnummer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from stdnum import luhn

_PATTERN = re.compile(
    r"^(?P<century>\d{2})?(?P<yymmdd>\d{6})(?P<sep>[-+]?)(?P<serial>\d{3})(?P<check>\d)$", re.ASCII
)
# A number inside text: 10 or 12 digits, optionally '-' or '+' before the last four, not part of a longer
# run of digits, and not right after '+' (an international phone number such as +46701234567).
_IN_TEXT = re.compile(r"(?<![0-9+])(?:[0-9]{2})?[0-9]{6}[-+]?[0-9]{4}(?![0-9])", re.ASCII)

COORDINATION_DAY_OFFSET = 60
_CENTURIES = (18, 19, 20)


class IdentityNumberError(ValueError):
    """The number is not a valid personnummer or samordningsnummer; the message never holds the number."""


@dataclass(frozen=True)
class IdentityNumber:
    birth_date: date
    coordination: bool


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
    if not luhn.is_valid(yymmdd + match["serial"] + match["check"]):
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


@lru_cache(maxsize=1024)
def contains_identity_number(text: str) -> bool:
    """Whether free text holds a valid personnummer or samordningsnummer, in any of the shapes
    `parse_identity_number` takes.

    Without the day the text was written, a ten-digit number counts when its date is real in either
    century it could belong to; a twelve-digit one names its century. A phone number written in groups
    (070-123 45 67, +46 70 123 45 67), a date (2026-12-03) or a time is never ten or twelve digits in a
    row, so it passes. Remembered: a journal's places and purposes recur from case to case.
    """
    return any(_is_identity_number(match.group()) for match in _IN_TEXT.finditer(text))


def _is_identity_number(candidate: str) -> bool:
    match = _PATTERN.match(candidate)
    if match is None or (match["century"] is not None and match["sep"] == "+"):
        return False
    yymmdd = match["yymmdd"]
    if not luhn.is_valid(yymmdd + match["serial"] + match["check"]):
        return False
    month, day = int(yymmdd[2:4]), int(yymmdd[4:6])
    if day > COORDINATION_DAY_OFFSET:
        day -= COORDINATION_DAY_OFFSET
    # Nobody alive was born before 1800 or after 2099: a "century" outside these is no birth year.
    centuries = [int(match["century"])] if match["century"] is not None else [19, 20]
    centuries = [century for century in centuries if century in _CENTURIES]
    return any(_real_date(century * 100 + int(yymmdd[:2]), month, day) for century in centuries)


def _real_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


IDENTITY_NUMBER_MASK = "[personnummer borttaget]"


def mask_identity_numbers(text: str) -> str:
    """The text with every personnummer or samordningsnummer that `contains_identity_number` finds in it
    replaced by a mask: for text a person wrote that the service passes on (a forwarded reply)."""
    return _IN_TEXT.sub(
        lambda match: IDENTITY_NUMBER_MASK if _is_identity_number(match.group()) else match.group(), text
    )
