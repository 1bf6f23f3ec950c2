"""The reply page `/rsvp/{token}`: GET shows the meeting and the answers, POST records one.

GET never changes anything, whatever its query says (mail scanners open every link, and link previews
fetch them): the `svar` in the e-mail's links only preselects an answer, which a button press confirms.
The token in the path says which invitation is answered; the form repeats it and carries a CSRF token
(``service.rsvp_csrf``) made for this link when the page was rendered; a POST without it, or with
another, is refused (403) and changes nothing. No cookies are used.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from calendars.clean_text import clean_line
from notifiers.compose import meeting_message
from notifiers.i18n import DEFAULT_LANGUAGE, Language
from notifiers.templates import Contact, meeting_texts
from scheduler.case import Case, Invitation, Meeting
from scheduler.reply_match import Answer, answer_key
from service.context import Runtime, runtime
from service.http.problems import Problem
from service.http.rate_limits import RateLimited
from service.http.responses import record_answer
from service.replies import rsvp_csrf
from service.replies.rsvp_form import CHOICES, Choice, PageAnswer, read_answer, read_choice
from service.replies.rsvp_page import FOREIGN_FORM, NOT_FOUND, TOO_MANY, answer_page, gone_page, receipt_page
from service.storage import store
from service.storage.reply_tokens import Invitee, find_invitee, normalize_token

_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # No script at all, inline or not; the project's own stylesheet only; never inside another site's frame.
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; form-action 'self';"
    " frame-ancestors 'none'; base-uri 'none'",
}


@dataclass(frozen=True)
class Found:
    invitee: Invitee
    case: Case
    meeting: Meeting


def _html(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8", headers=_HEADERS)


async def _find(rt: Runtime, request: web.Request, token: str) -> Found | web.Response:
    """The invitation the token belongs to, or the page to answer instead. An unknown token counts against
    the visitor's address: tokens cannot be guessed, but trying many should not be free either."""
    source = rt.limiter.source(request)
    limit = rt.limiter.limits.reply_tokens
    try:
        await rt.limiter.check(limit, source)
        async with rt.pool.acquire() as connection:
            invitee = await find_invitee(connection, token)
            case = await store.load_case(connection, invitee.case_id) if invitee else None
        if invitee is None:
            await rt.limiter.count(limit, source)
    except RateLimited as limited:
        page = _html(TOO_MANY, 429)
        page.headers["Retry-After"] = str(limited.retry_after)
        return page
    if invitee is None or case is None or invitee.meeting_id not in case.meetings:
        return _html(NOT_FOUND, 404)
    meeting = case.meetings[invitee.meeting_id]
    if invitee.participant_id not in meeting.invitations:
        return _html(NOT_FOUND, 404)
    now = await rt.clock.now()
    if case.status != "open" or meeting.status != "scheduled" or now >= meeting.ends_at:
        coordinator = case.coordinator
        contact = Contact(coordinator.name, coordinator.organisation, coordinator.email)
        # The participant's own language, whom the page is for; a substitute named since reads Swedish.
        participant = meeting.participants.get(invitee.participant_id)
        language = participant.language if participant is not None else DEFAULT_LANGUAGE
        return _html(gone_page(contact, cancelled=meeting.status == "cancelled", language=language), 410)
    return Found(invitee, case, meeting)


def _language(found: Found) -> Language:
    return found.meeting.participants[found.invitee.participant_id].language


def _details(found: Found) -> tuple[tuple[str, str], ...]:
    participant = found.meeting.participants[found.invitee.participant_id]
    return meeting_texts(
        meeting_message(found.case, found.meeting, "request", participant=participant)
    ).details


async def show(request: web.Request) -> web.Response:
    token = normalize_token(request.match_info["token"])
    found = await _find(runtime(request), request, token)
    if isinstance(found, web.Response):
        return found
    rt = runtime(request)
    invitation = found.meeting.invitations[found.invitee.participant_id]
    page = answer_page(
        action=f"/rsvp/{token}",
        token=token,
        csrf=rsvp_csrf.form_token(rt.sender.message_key, token, await rt.clock.now()),
        details=_details(found),
        status=invitation.status,
        chosen=read_choice(request.query.get("svar")),
        language=_language(found),
    )
    return _html(page)


async def answer(request: web.Request) -> web.Response:
    rt = runtime(request)
    token = normalize_token(request.match_info["token"])
    found = await _find(rt, request, token)
    if isinstance(found, web.Response):
        return found
    try:
        posted = await request.post()
    except ValueError:
        # A multipart type without its boundary: nothing in it can be read as a form.
        raise Problem(400, "invalid-form", "the body is not a form that can be read") from None
    form = {key: value for key, value in posted.items() if isinstance(value, str)}
    now = await rt.clock.now()
    if normalize_token(form.get("token", "")) != token or not rsvp_csrf.valid(
        rt.sender.message_key, token, form.get(rsvp_csrf.FIELD), now
    ):
        rt.metrics.replies.labels("page", "foreign_form").inc()
        return _html(FOREIGN_FORM, 403)
    participant = found.meeting.participants[found.invitee.participant_id]
    read = read_answer(form, participant.email, participant.language)
    if not isinstance(read, PageAnswer):
        rt.metrics.replies.labels("page", "invalid").inc()
        page = answer_page(
            action=f"/rsvp/{token}",
            token=token,
            csrf=rsvp_csrf.form_token(rt.sender.message_key, token, now),
            details=_details(found),
            status=None,
            chosen=read_choice(form.get("svar")),
            # Shown again cleaned: a pasted line break or control character does not come back, and a
            # refused value not at all (it may hold a personnummer).
            values={
                name: clean_line(value)
                for name, value in form.items()
                if name not in {error.field for error in read}
            },
            errors=read,
            language=participant.language,
        )
        return _html(page, 400)
    outcome = await _record(rt, found, read)
    rt.metrics.replies.labels("page", outcome).inc()
    chosen: Choice = next(choice for choice, response in CHOICES.items() if response == read.response)
    page = receipt_page(
        back=f"/rsvp/{token}", details=_details(found), chosen=chosen, language=_language(found)
    )
    return _html(page)


async def _record(rt: Runtime, found: Found, read: PageAnswer) -> str:
    invitee = found.invitee
    reply = Answer(
        meeting_id=invitee.meeting_id,
        participant_id=invitee.participant_id,
        response=read.response,
        delegate=read.delegate,
        comment=read.reason,
    )
    delegate = read.delegate
    current = found.meeting.invitations[invitee.participant_id]
    if _already_given(found.meeting, current, read):
        return "duplicate"
    # The answer as it stands is part of the key: a double submit is one answer, while changing one's
    # mind back to an earlier answer is a new one.
    webhook_id = answer_key(
        "rsvp",
        invitee.case_id,
        invitee.meeting_id,
        invitee.participant_id,
        found.meeting.sequence,
        current.status,
        current.responded_at,
        read.response,
        delegate.name if delegate else "",
        delegate.email.lower() if delegate else "",
        delegate.organisation if delegate else "",
        read.reason or "",
    )
    now = await rt.clock.now()
    async with rt.pool.acquire() as connection, connection.transaction():
        intake = await record_answer(connection, found.case, reply, webhook_id, now)
    return "recorded" if intake.status == "accepted" else "duplicate"


def _already_given(meeting: Meeting, current: Invitation, read: PageAnswer) -> bool:
    """The invitation already holds exactly this answer (sent again after it was applied): one event."""
    if current.status != read.response or (current.comment or None) != read.reason:
        return False
    if read.delegate is None:
        return True
    substitute = meeting.participants.get(current.delegated_to or "")
    return substitute is not None and (substitute.email or "").lower() == read.delegate.email.lower()


def add_routes(app: web.Application) -> None:
    app.router.add_get("/rsvp/{token}", show)
    app.router.add_post("/rsvp/{token}", answer)
