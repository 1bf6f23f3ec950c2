"""The shortcut for plain addresses (`email_address.plain_normalised`) held to pydantic's `validate_email`,
which an event's e-mail field used alone before: an address the shortcut takes is one `validate_email`
accepts, with the same normal form, and every other address still gets `validate_email`'s answer."""

from __future__ import annotations

import pytest
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError
from pydantic.networks import validate_email
from pydantic_core import PydanticCustomError

from scheduler.email_address import plain_normalised
from scheduler.events import Email, _normalised_email

_ATEXT = "abcxyzABCXYZ0189!#$%&'*+/=?^_`{|}~-"
# Characters that make an address other than plain, or invalid: a shortcut that let one through would
# be caught here.
_ODD = ' ."@<>\\()[],;:\t\nåéßüK\u0301\u200b\uff0e。＠-'
_HOST = "abcxyzABCXYZ0189-"
# Top-level domains around the rules: special-use names, Punycode, digits, a hyphen at either end.
_TLDS = [
    "se", "SE", "com", "example", "nu", "local", "LOCAL", "test", "onion", "arpa", "invalid",
    "localhost", "xn--p1ai", "XN--P1AI", "123", "s3", "3s", "-se", "se-", "s-e", "a", "ab--cd", "рф",
]  # fmt: skip


def _spoilt(clean: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Text from `clean`, one time in two with an odd character put in somewhere."""
    return st.builds(
        lambda text, odd, at: text if odd is None else text[:at] + odd + text[at:],
        clean,
        st.none() | st.sampled_from(_ODD),
        st.integers(min_value=0, max_value=300),
    )


_atoms = st.lists(st.text(st.sampled_from(_ATEXT), min_size=1, max_size=30), min_size=1, max_size=4)
_local = _atoms.map(".".join) | st.sampled_from(["postmaster", "Info", "SUPPORT", "www"])
# Letters and digits twice as likely as a hyphen: most labels are valid, some start, end or double one.
_label = st.text(st.sampled_from(_HOST + _HOST.removesuffix("-")), min_size=1, max_size=66)
_domain = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(_label, min_size=0, max_size=5),
    st.sampled_from(_TLDS) | _label,
)
_address = _spoilt(st.builds(lambda local, domain: f"{local}@{domain}", _local, _domain))
# Addresses of the plain shape and nothing else: each is one the shortcut must take.
_plain_label = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?", fullmatch=True).filter(
    lambda label: "--" not in label
)
_plain = st.builds(
    lambda local, labels, tld: f"{local}@{'.'.join([*labels, tld])}",
    st.from_regex(r"[A-Za-z0-9_+'-]{1,20}(\.[A-Za-z0-9_+'-]{1,10}){0,3}", fullmatch=True).filter(
        lambda local: local.lower() not in CASE_INSENSITIVE_MAILBOX_NAMES
    ),
    st.lists(_plain_label, min_size=1, max_size=4),
    st.sampled_from(["se", "SE", "com", "example", "nu", "Org"]),
)


def _validated(value: str) -> str | None:
    try:
        return validate_email(value)[1]
    except PydanticCustomError:
        return None


def _answer(check: object, value: str) -> tuple[str, str | None]:
    """What a check says of `value`: the normal form, or the message it refuses it with."""
    try:
        return "accepted", check(value)  # type: ignore[operator]
    except PydanticCustomError as exc:
        return "refused", exc.message()


@settings(max_examples=2000, deadline=None)
@given(_address)
@example("Vardnadshavare.1@Hem.Example")
@example("a@b." + "c" * 63)
@example("a@b." + "c" * 64)
@example("a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 59 + ".se")
@example("a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 60 + ".se")
@example("a@ab--c.se")
@example("a@mail.test")
@example(" a@b.se")
def test_an_address_the_shortcut_takes_is_accepted_as_it_says(value: str) -> None:
    normal = plain_normalised(value)
    if normal is not None:
        assert _validated(value) == normal


@settings(max_examples=500, deadline=None)
@given(_plain)
def test_every_plain_address_takes_the_shortcut(value: str) -> None:
    normal = plain_normalised(value)
    assert normal is not None
    assert normal == _validated(value)


@settings(max_examples=2000, deadline=None)
@given(_address | _plain)
def test_the_field_check_answers_as_validate_email_does(value: str) -> None:
    # The remembered check unwrapped: what it computes, not what an earlier example left in it.
    assert _answer(_normalised_email.__wrapped__, value) == _answer(lambda v: validate_email(v)[1], value)


@pytest.mark.parametrize(
    ("value", "normal"),
    [
        ("Koordinator.7@Kommun.Example", "Koordinator.7@kommun.example"),
        ("o'brien+skola@elevhalsa.skola.se", "o'brien+skola@elevhalsa.skola.se"),
        ("Postmaster@kommun.se", None),
        ("a@skola.local", None),
        ("a@xn--skla-5qa.se", None),
        ("a@skola.123", None),
        ("åsa@skola.se", None),
        ("Åsa <asa@skola.se>", None),
    ],
)
def test_what_the_shortcut_leaves_to_email_validator(value: str, normal: str | None) -> None:
    assert plain_normalised(value) == normal


def test_no_shortcut_where_email_validator_limits_the_local_part(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("email_validator.STRICT", True)
    value = "a" * 65 + "@skola.se"
    assert _validated(value) is None
    assert plain_normalised(value) is None


def test_an_event_field_keeps_its_normal_form_and_its_refusals() -> None:
    field = TypeAdapter(Email)
    assert field.validate_python("Vardnadshavare.12@HEM.example") == "Vardnadshavare.12@hem.example"
    assert field.validate_python("POSTMASTER@hem.example") == "postmaster@hem.example"
    with pytest.raises(ValidationError, match="special-use or reserved"):
        field.validate_python("vardnadshavare@hem.local")
