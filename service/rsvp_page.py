"""The reply page's HTML: Swedish, no JavaScript, one form per answer, labelled for screen readers.

The page shows the meeting as the invitation does (time, place, purpose, organizer, case reference) and
never the participant's or anyone else's name. Every value is escaped here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from notifiers.templates import Contact
from service.rsvp_csrf import FIELD as CSRF_FIELD
from service.rsvp_form import Choice, FieldError

# The web app's stylesheet (service/web/static/), so the reply page looks like the rest of sipvakt.
STYLESHEET = "/app/static/sipvakt.css"
_TITLES: dict[Choice, str] = {
    "ja": "Jag kommer",
    "nej": "Jag kan inte komma",
    "ersattare": "Jag skickar en ersättare",
}
_BUTTONS: dict[Choice, str] = {
    "ja": "Svara: jag kommer",
    "nej": "Svara: jag kan inte komma",
    "ersattare": "Skicka ersättare",
}
_RECEIPTS: dict[Choice, str] = {
    "ja": "Vi har tagit emot ditt svar: du kommer till mötet.",
    "nej": "Vi har tagit emot ditt svar: du kan inte komma till mötet.",
    "ersattare": "Vi har tagit emot ditt svar: du skickar en ersättare. "
    "Ersättaren får en egen kallelse via e-post.",
}
_STATUS = {
    "accepted": "Du har svarat att du kommer.",
    "declined": "Du har svarat att du inte kan komma.",
    "tentative": "Du har svarat att du kanske kommer.",
    "delegated": "Du har skickat en ersättare.",
}


def _e(value: str) -> str:
    return escape(value, quote=True)


def _document(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="sv">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="robots" content="noindex, nofollow">\n'
        f'<title>{_e(title)} – sipvakt</title>\n<link rel="stylesheet" href="{STYLESHEET}">\n</head>\n'
        '<body class="svarssida">\n<header class="sidhuvud"><div class="ram sidhuvud-rad">'
        '<p class="tjanst">sipvakt <span class="tjanst-undertext">svar på kallelse</span></p>'
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


def _details(details: Sequence[tuple[str, str]]) -> str:
    rows = "".join(f"<dt>{_e(name)}</dt><dd>{_value(value)}</dd>" for name, value in details)
    return (
        f'<section aria-labelledby="motet">\n<h2 id="motet">Mötet</h2>\n<dl class="uppgifter">{rows}</dl>\n'
        "</section>"
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


def _reason_field(values: Mapping[str, str], errors: dict[str, str]) -> str:
    described = ' aria-describedby="anledning-hjalp"'
    error = ""
    if "anledning" in errors:
        described = ' aria-invalid="true" aria-describedby="anledning-fel anledning-hjalp"'
        error = f'<p class="felmeddelande" id="anledning-fel">{_e(errors["anledning"])}</p>'
    return (
        f'<div class="falt{" falt-fel" if error else ""}">'
        '<label for="anledning">Anledning (frivilligt)</label>'
        '<p class="lager" id="anledning-hjalp">Den som kallade dig får se det du skriver. Skriv inga'
        f" personnummer.</p>{error}"
        f'<textarea id="anledning" name="anledning" rows="3" maxlength="1000"{described}>'
        f"{_e(values.get('anledning', ''))}</textarea></div>"
    )


def _form(
    action: str, token: str, csrf: str, choice: Choice, values: Mapping[str, str], errors: dict[str, str]
) -> str:
    heading_id = f"svar-{choice}"
    fields = ""
    if choice == "ersattare":
        fields = (
            _field(
                "namn",
                "Ersättarens namn",
                "text",
                values,
                errors,
                ' autocomplete="off" maxlength="200" required',
            )
            + _field(
                "epost", "Ersättarens e-postadress", "email", values, errors, ' autocomplete="off" required'
            )
            + _field(
                "organisation",
                "Ersättarens organisation (frivilligt)",
                "text",
                values,
                errors,
                ' maxlength="200"',
            )
        )
    if choice == "nej":
        fields = _reason_field(values, errors)
    return (
        f'<section aria-labelledby="{heading_id}">\n<h2 id="{heading_id}">{_e(_TITLES[choice])}</h2>\n'
        f'<form method="post" action="{_e(action)}">\n'
        f'<input type="hidden" name="token" value="{_e(token)}">\n'
        f'<input type="hidden" name="{CSRF_FIELD}" value="{_e(csrf)}">\n'
        f'<input type="hidden" name="svar" value="{choice}">\n{fields}\n'
        f'<button type="submit" class="knapp">{_e(_BUTTONS[choice])}</button>\n</form>\n</section>'
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
) -> str:
    """The meeting and the three answers; the chosen one (from the link in the message) first."""
    parts = ["<h1>Svara på kallelse till SIP-möte</h1>"]
    if errors:
        items = "".join(f'<li><a href="#{_e(error.field)}">{_e(error.message)}</a></li>' for error in errors)
        parts.append(
            '<div class="felruta" role="alert" aria-labelledby="fel-rubrik">\n'
            f'<h2 id="fel-rubrik">Svaret sparades inte</h2>\n<ul>{items}</ul>\n</div>'
        )
    if chosen is not None and not errors:
        parts.append(
            f"<p>Du har valt: <strong>{_e(_TITLES[chosen])}</strong>. Bekräfta med knappen nedan.</p>"
        )
    if status in _STATUS:
        parts.append(f"<p>{_e(_STATUS[status])} Du kan ändra ditt svar här.</p>")
    parts.append(_details(details))
    order: list[Choice] = ["ja", "nej", "ersattare"]
    if chosen is not None:
        order.remove(chosen)
        order.insert(0, chosen)
    error_fields = {error.field: error.message for error in errors}
    parts.extend(_form(action, token, csrf, choice, values or {}, error_fields) for choice in order)
    return _document("Svara på kallelse", "\n".join(parts))


def receipt_page(*, back: str, details: Sequence[tuple[str, str]], chosen: Choice) -> str:
    body = (
        "<h1>Tack för ditt svar</h1>\n"
        f"<p>{_e(_RECEIPTS[chosen])}</p>\n{_details(details)}\n"
        f'<p><a href="{_e(back)}">Ändra ditt svar</a></p>'
    )
    return _document("Tack för ditt svar", body)


def message_page(title: str, text: str) -> str:
    return _document(title, f"<h1>{_e(title)}</h1>\n<p>{_e(text)}</p>")


NOT_FOUND = message_page(
    "Länken hittades inte",
    "Kontrollera att du har fått med hela länken från kallelsen, eller hela svarskoden.",
)


def gone_page(contact: Contact, *, cancelled: bool) -> str:
    """The page of a meeting that takes no more answers, naming the coordinator to contact."""
    title = "Mötet är inställt" if cancelled else "Länken gäller inte längre"
    text = (
        "Mötet är inställt, så det går inte att svara längre."
        if cancelled
        else "Mötet har redan ägt rum, så det går inte att svara längre."
    )
    organisation = f", {_e(contact.organisation)}" if contact.organisation else ""
    email = _e(contact.email)
    body = (
        f"<h1>{_e(title)}</h1>\n<p>{_e(text)}</p>\n"
        f"<p>Har du frågor, kontakta samordnaren: {_e(contact.name)}{organisation}, "
        f'<a href="mailto:{email}">{email}</a>.</p>'
    )
    return _document(title, body)


TOO_MANY = message_page(
    "För många försök",
    "Det har kommit för många försök med okända länkar från din anslutning. "
    "Vänta en stund och öppna sedan länken i kallelsen igen.",
)
FOREIGN_FORM = message_page(
    "Svaret sparades inte",
    "Formuläret hör inte till den här länken. Öppna länken i kallelsen och svara igen.",
)
