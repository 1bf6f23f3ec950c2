"""Reading the reply page's form: which answer, and for a substitute who it is. Pure; errors in Swedish."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import validate_email

from calendars.clean_text import clean_line, clean_multiline
from notifiers.i18n import DEFAULT_LANGUAGE, Language, text
from scheduler.identity import contains_identity_number
from scheduler.reply_match import Delegate, Response

Choice = Literal["ja", "nej", "ersattare"]
CHOICES: dict[Choice, Response] = {"ja": "accepted", "nej": "declined", "ersattare": "delegated"}
MAX_FIELD = 200
MAX_REASON = 1000


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


@dataclass(frozen=True)
class PageAnswer:
    response: Response
    delegate: Delegate | None
    # A decline's reason, if one was given: it reaches the coordinator as the answer's comment.
    reason: str | None = None


def read_choice(value: str | None) -> Choice | None:
    if value == "ja":
        return "ja"
    if value == "nej":
        return "nej"
    if value == "ersattare":
        return "ersattare"
    return None


def read_answer(
    form: Mapping[str, str], own_address: str | None, language: Language = DEFAULT_LANGUAGE
) -> PageAnswer | list[FieldError]:
    """The answer the form gives, or every reason it cannot be taken (nothing is stored then)."""
    choice = read_choice(form.get("svar"))
    if choice is None:
        return [FieldError("svar", text(language, "reply_page.error_choose"))]
    if choice == "nej":
        reason = _reason(form.get("anledning", ""), language)
        return reason if isinstance(reason, list) else PageAnswer("declined", None, reason)
    if choice != "ersattare":
        return PageAnswer(CHOICES[choice], None)
    errors: list[FieldError] = []
    name = _text(form, "namn", text(language, "reply_page.error_name"), errors, language, required=True)
    organisation = _text(form, "organisation", "", errors, language, required=False)
    email = _email(form.get("epost", ""), own_address, errors, language)
    if errors or name is None or email is None:
        return errors
    return PageAnswer("delegated", Delegate(name=name, email=email, organisation=organisation or None))


def _reason(value: str, language: Language) -> str | list[FieldError] | None:
    """The optional reason for declining: several lines allowed, no personnummer (it reaches mail)."""
    reason = clean_multiline(value)
    if not reason:
        return None
    if len(reason) > MAX_REASON:
        return [FieldError("anledning", text(language, "reply_page.error_too_long", length=MAX_REASON))]
    if contains_identity_number(reason):
        return [FieldError("anledning", text(language, "reply_page.error_identity_number"))]
    return reason


def _text(
    form: Mapping[str, str],
    field: str,
    missing: str,
    errors: list[FieldError],
    language: Language,
    *,
    required: bool,
) -> str | None:
    value = form.get(field, "").strip()
    if not value:
        if required:
            errors.append(FieldError(field, missing))
        return None
    if clean_line(value) != value:
        errors.append(FieldError(field, text(language, "reply_page.error_line")))
        return None
    if len(value) > MAX_FIELD:
        errors.append(FieldError(field, text(language, "reply_page.error_too_long", length=MAX_FIELD)))
        return None
    return value


def _email(value: str, own_address: str | None, errors: list[FieldError], language: Language) -> str | None:
    value = value.strip()
    if not value:
        errors.append(FieldError("epost", text(language, "reply_page.error_email_missing")))
        return None
    try:
        _, address = validate_email(value)
    except ValueError:
        errors.append(FieldError("epost", text(language, "reply_page.error_email")))
        return None
    if len(address) > 254 or clean_line(address) != address or " " in address or "<" in value:
        errors.append(FieldError("epost", text(language, "reply_page.error_email")))
        return None
    if own_address is not None and address.lower() == own_address.lower():
        errors.append(FieldError("epost", text(language, "reply_page.error_email_own")))
        return None
    return address
