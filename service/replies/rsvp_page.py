"""The reply page's HTML, in the invitation's language (the catalogs' `reply_page` texts): no JavaScript,
one form per answer, labelled for screen readers.

The page shows the meeting as the invitation does (time, place, purpose, organizer, case reference) and
never the participant's or anyone else's name. Every value is escaped here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from notifiers.i18n import DEFAULT_LANGUAGE, Language, text
from notifiers.templates import Contact
from service.replies.rsvp_csrf import FIELD as CSRF_FIELD
from service.replies.rsvp_form import Choice, FieldError

# The web app's stylesheet (service/web/static/), so the reply page looks like the rest of sipvakt.
STYLESHEET = "/app/static/sipvakt.css"
STATUSES = ("accepted", "declined", "tentative", "delegated")


def _e(value: str) -> str:
    return escape(value, quote=True)


def _document(title: str, body: str, language: Language) -> str:
    subtitle = _e(text(language, "reply_page.service_subtitle"))
    return (
        f'<!DOCTYPE html>\n<html lang="{language}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="robots" content="noindex, nofollow">\n'
        f'<title>{_e(title)} – sipvakt</title>\n<link rel="stylesheet" href="{STYLESHEET}">\n</head>\n'
        '<body class="svarssida">\n<header class="sidhuvud"><div class="ram sidhuvud-rad">'
        f'<p class="tjanst">sipvakt <span class="tjanst-undertext">{subtitle}</span></p>'
        "</div></header>\n"
        f'<main class="ram">\n{body}\n</main>\n</body>\n</html>\n'
    )


def _is_link(value: str) -> bool:
    """A web address (the online meeting's, which the message checked is http or https): shown as a link."""
    return value.startswith(("https://", "http://")) and not any(char.isspace() for char in value)


def _value(value: str) -> str:
    if _is_link(value):
        return f'<a href="{_e(value)}" rel="noopener noreferrer">{_e(value)}</a>'
    return _e(value)


def _details(details: Sequence[tuple[str, str]], language: Language) -> str:
    rows = "".join(f"<dt>{_e(name)}</dt><dd>{_value(value)}</dd>" for name, value in details)
    heading = _e(text(language, "reply_page.meeting"))
    return (
        f'<section aria-labelledby="motet">\n<h2 id="motet">{heading}</h2>\n'
        f'<dl class="uppgifter">{rows}</dl>\n</section>'
    )


def _field(
    name: str, label: str, kind: str, values: Mapping[str, str], errors: dict[str, str], extra: str
) -> str:
    described = ""
    error = ""
    if name in errors:
        described = f' aria-invalid="true" aria-describedby="{name}-fel"'
        error = f'<p class="felmeddelande" id="{name}-fel">{_e(errors[name])}</p>'
    value = _e(values.get(name, ""))
    return (
        f'<div class="falt{" falt-fel" if error else ""}"><label for="{name}">{_e(label)}</label>{error}'
        f'<input type="{kind}" id="{name}" name="{name}" value="{value}"{extra}{described}></div>'
    )


def _reason_field(values: Mapping[str, str], errors: dict[str, str], language: Language) -> str:
    described = ' aria-describedby="anledning-hjalp"'
    error = ""
    if "anledning" in errors:
        described = ' aria-invalid="true" aria-describedby="anledning-fel anledning-hjalp"'
        error = f'<p class="felmeddelande" id="anledning-fel">{_e(errors["anledning"])}</p>'
    return (
        f'<div class="falt{" falt-fel" if error else ""}">'
        f'<label for="anledning">{_e(text(language, "reply_page.reason_label"))}</label>'
        f'<p class="lager" id="anledning-hjalp">{_e(text(language, "reply_page.reason_help"))}</p>{error}'
        f'<textarea id="anledning" name="anledning" rows="3" maxlength="1000"{described}>'
        f"{_e(values.get('anledning', ''))}</textarea></div>"
    )


def _form(
    action: str,
    token: str,
    csrf: str,
    choice: Choice,
    values: Mapping[str, str],
    errors: dict[str, str],
    language: Language,
) -> str:
    heading_id = f"svar-{choice}"
    fields = ""
    if choice == "ersattare":
        fields = (
            _field(
                "namn",
                text(language, "reply_page.substitute_name"),
                "text",
                values,
                errors,
                ' autocomplete="off" maxlength="200" required',
            )
            + _field(
                "epost",
                text(language, "reply_page.substitute_email"),
                "email",
                values,
                errors,
                ' autocomplete="off" required',
            )
            + _field(
                "organisation",
                text(language, "reply_page.substitute_organisation"),
                "text",
                values,
                errors,
                ' maxlength="200"',
            )
        )
    if choice == "nej":
        fields = _reason_field(values, errors, language)
    return (
        f'<section aria-labelledby="{heading_id}">\n'
        f'<h2 id="{heading_id}">{_e(_title(choice, language))}</h2>\n'
        f'<form method="post" action="{_e(action)}">\n'
        f'<input type="hidden" name="token" value="{_e(token)}">\n'
        f'<input type="hidden" name="{CSRF_FIELD}" value="{_e(csrf)}">\n'
        f'<input type="hidden" name="svar" value="{choice}">\n{fields}\n'
        f'<button type="submit" class="knapp">{_e(text(language, f"reply_page.button_{choice}"))}</button>\n'
        "</form>\n</section>"
    )


def answer_page(
    *,
    action: str,
    token: str,
    csrf: str,
    details: Sequence[tuple[str, str]],
    status: str | None,
    chosen: Choice | None,
    values: Mapping[str, str] | None = None,
    errors: Sequence[FieldError] = (),
    language: Language = DEFAULT_LANGUAGE,
) -> str:
    """The meeting and the three answers; the chosen one (from the link in the message) first."""
    parts = [f"<h1>{_e(text(language, 'reply_page.heading'))}</h1>"]
    if errors:
        items = "".join(f'<li><a href="#{_e(error.field)}">{_e(error.message)}</a></li>' for error in errors)
        parts.append(
            '<div class="felruta" role="alert" aria-labelledby="fel-rubrik">\n'
            f'<h2 id="fel-rubrik">{_e(text(language, "reply_page.not_saved"))}</h2>\n<ul>{items}</ul>\n</div>'
        )
    if chosen is not None and not errors:
        # The choice is marked up inside the sentence, so the sentence is escaped around it.
        strong = f"<strong>{_e(_title(chosen, language))}</strong>"
        sentence = _e(text(language, "reply_page.chosen", choice="\x00")).replace("\x00", strong)
        parts.append(f"<p>{sentence}</p>")
    if status in STATUSES:
        said = text(language, f"reply_page.status_{status}")
        parts.append(f"<p>{_e(said)} {_e(text(language, 'reply_page.may_change'))}</p>")
    parts.append(_details(details, language))
    order: list[Choice] = ["ja", "nej", "ersattare"]
    if chosen is not None:
        order.remove(chosen)
        order.insert(0, chosen)
    error_fields = {error.field: error.message for error in errors}
    parts.extend(_form(action, token, csrf, choice, values or {}, error_fields, language) for choice in order)
    return _document(text(language, "reply_page.title"), "\n".join(parts), language)


def _title(choice: Choice, language: Language) -> str:
    return text(language, f"reply_page.title_{choice}")


def receipt_page(
    *, back: str, details: Sequence[tuple[str, str]], chosen: Choice, language: Language = DEFAULT_LANGUAGE
) -> str:
    thanks = text(language, "reply_page.thanks")
    body = (
        f"<h1>{_e(thanks)}</h1>\n"
        f"<p>{_e(text(language, f'reply_page.receipt_{chosen}'))}</p>\n{_details(details, language)}\n"
        f'<p><a href="{_e(back)}">{_e(text(language, "reply_page.change"))}</a></p>'
    )
    return _document(thanks, body, language)


def message_page(title_key: str, text_key: str, language: Language = DEFAULT_LANGUAGE) -> str:
    title = text(language, title_key)
    return _document(title, f"<h1>{_e(title)}</h1>\n<p>{_e(text(language, text_key))}</p>", language)


def not_found_page() -> str:
    """No invitation is known, so neither is its language: Swedish."""
    return message_page("reply_page.not_found_title", "reply_page.not_found_text")


def gone_page(contact: Contact, *, cancelled: bool, language: Language = DEFAULT_LANGUAGE) -> str:
    """The page of a meeting that takes no more answers, naming the coordinator to contact."""
    state = "cancelled" if cancelled else "gone"
    title = text(language, f"reply_page.{state}_title")
    organisation = f", {contact.organisation}" if contact.organisation else ""
    email = _e(contact.email)
    asks = text(language, "reply_page.contact", contact=f"{contact.name}{organisation}")
    body = (
        f"<h1>{_e(title)}</h1>\n<p>{_e(text(language, f'reply_page.{state}_text'))}</p>\n"
        f'<p>{_e(asks)} <a href="mailto:{email}">{email}</a>.</p>'
    )
    return _document(title, body, language)


NOT_FOUND = not_found_page()
TOO_MANY = message_page("reply_page.too_many_title", "reply_page.too_many_text")
FOREIGN_FORM = message_page("reply_page.not_saved", "reply_page.foreign_form_text")
