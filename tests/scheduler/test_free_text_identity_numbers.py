"""CONTRACT v1.1 "Free text": a valid personnummer or samordningsnummer in free text is refused; the other
numbers people write (phone numbers, dates, times, amounts) pass."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st
from stdnum import luhn

from scheduler.events import EventValidationError, parse_event
from scheduler.identity import contains_identity_number
from tests import samples

_BIRTH_DATES = st.dates(min_value=date(1920, 1, 1), max_value=date(2026, 12, 1))
_SERIALS = st.integers(min_value=0, max_value=999)
_WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyzåäö ,.:", max_size=20)


def _number(born: date, serial: int, *, coordination: bool) -> tuple[str, str]:
    """The ten digits and the century of a Luhn-valid number for this birth date."""
    day = born.day + (60 if coordination else 0)
    nine = f"{born:%y%m}{day:02d}{serial:03d}"
    return nine + luhn.calc_check_digit(nine), f"{born.year // 100:02d}"


@st.composite
def identity_numbers(draw: st.DrawFn) -> str:
    """Every shape the contract names: with or without century, with '-', '+' or no separator."""
    ten, century = _number(draw(_BIRTH_DATES), draw(_SERIALS), coordination=draw(st.booleans()))
    shape = draw(st.sampled_from(["plain", "dash", "plus", "century", "century_dash"]))
    return {
        "plain": ten,
        "dash": f"{ten[:6]}-{ten[6:]}",
        "plus": f"{ten[:6]}+{ten[6:]}",
        "century": century + ten,
        "century_dash": f"{century}{ten[:6]}-{ten[6:]}",
    }[shape]


_DIGITS = st.text(alphabet="0123456789", min_size=8, max_size=8)
# Numbers that are not identity numbers: phone numbers in their usual groups, dates, times, amounts.
HARMLESS_NUMBERS = st.one_of(
    _DIGITS.map(lambda d: f"07{d[0]}-{d[1:4]} {d[4:6]} {d[6:8]}"),
    _DIGITS.map(lambda d: f"+46 7{d[0]} {d[1:4]} {d[4:6]} {d[6:8]}"),
    _DIGITS.map(lambda d: f"0{d[:2]}-{d[2:5]} {d[5:8]}"),
    st.dates().map(date.isoformat),
    st.times().map(lambda t: t.strftime("%H:%M")),
    st.integers(0, 10**9).map(lambda n: f"{n:,}".replace(",", " ") + " kr"),
    st.integers(0, 10**9 - 1).map(str),
)


@given(identity_numbers(), _WORDS, _WORDS)
def test_free_text_with_a_personnummer_or_samordningsnummer_is_refused(
    number: str, before: str, after: str
) -> None:
    """CONTRACT v1.1 "Free text": with or without century, with '-', '+' or no separator, Luhn-valid,
    a real date (samordningsnummer: day + 60)."""
    assert contains_identity_number(f"{before} {number} {after}")
    assert contains_identity_number(number)


@given(st.lists(HARMLESS_NUMBERS, min_size=1, max_size=4), _WORDS)
def test_phone_numbers_dates_times_and_amounts_in_free_text_pass(numbers: list[str], words: str) -> None:
    """CONTRACT v1.1 "Free text": only identity numbers are refused; other numbers stay accepted."""
    assert not contains_identity_number(f"{words} " + " ".join(numbers))


@given(identity_numbers())
def test_a_personnummer_in_arabic_indic_digits_is_no_personnummer(number: str) -> None:
    """Only ASCII digits make a personnummer; the same digits in another script are text."""
    arabic = number.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    assert not contains_identity_number(arabic)


def test_a_wrong_check_digit_or_a_date_that_does_not_exist_passes() -> None:
    """Luhn-valid and a real date, both: 20121212-1213 fails Luhn; 811232 is no day."""
    assert contains_identity_number("20121212-1212")
    assert not contains_identity_number("20121212-1213")
    nine = "811232987"
    assert not contains_identity_number(nine + luhn.calc_check_digit(nine))


def test_a_longer_run_of_digits_or_an_international_number_is_not_one() -> None:
    """A number inside a longer run of digits, or right after '+', is part of something else."""
    assert not contains_identity_number("1201212121212")
    assert not contains_identity_number("+2012121212")


def test_parse_event_names_the_free_text_field_without_echoing_it() -> None:
    """CONTRACT v1.1 "Free text": the error names the field (`data.questions[2]`), never the value."""
    body = samples.meeting_scheduled(
        questions=["Hur går det i skolan?", "Ring 070-123 45 67", "Gäller 20121212-1212"],
        purpose="Möte om 811228-9874",
    )
    try:
        parse_event(body)
    except EventValidationError as exc:
        found = {tuple(error.loc): error.msg for error in exc.errors}
    else:
        raise AssertionError("the event was accepted")
    assert set(found) == {("data", "questions", 2), ("data", "purpose")}
    assert "1212" not in str(found) and "9874" not in str(found)


def test_each_free_text_field_is_checked() -> None:
    """location, reason, comment and description are free text as well (CONTRACT v1.1)."""
    number = "811228-9874"
    held = samples.event(
        "meeting.held",
        meeting_id="m1",
        responsible={"name": "Kim", "email": "kim@example.se", "organisation": "Testkommun"},
        actions=[
            {
                "action_id": "a1",
                "description": f"Kontakta {number}",
                "responsible_organisation": "Testskolan",
                "due_on": (date(2026, 12, 1) + timedelta(days=10)).isoformat(),
            }
        ],
    )
    bodies = {
        ("data", "location"): samples.rescheduled()
        | {"data": {**samples.rescheduled()["data"], "location": number}},
        ("data", "reason"): samples.event("meeting.cancelled", meeting_id="m1", reason=number),
        ("data", "comment"): samples.responded("p-school", "declined", comment=number),
        ("data", "actions", 0, "description"): held,
    }
    for loc, body in bodies.items():
        try:
            parse_event(body)
        except EventValidationError as exc:
            assert [tuple(error.loc) for error in exc.errors] == [loc]
        else:
            raise AssertionError(f"{loc} accepted")
