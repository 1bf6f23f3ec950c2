"""Ärende: one case on one page, and the acknowledgement of its deviations.

What happened and when (events, invitations, replies, reminders, deviations, acknowledgements) as one
timeline; the deadlines with the guideline each comes from (document, version and the quoted phrase);
meetings with each invitation's status; reminders still ahead; warnings. A case outside the user's scope
does not exist: the same 404 page as for an unknown id, as the API answers.

Every read of the case goes through `read_case`, the one place a page of this module reads it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from config.rules import RuleBook
from scheduler.case import Case
from scheduler.events import IDENTIFIER_PATTERN
from scheduler.identifiers import holds_identity_number
from service.access import Principal
from service.audit.record import actor_of, record_cases
from service.context import runtime
from service.http.views import case_view
from service.storage.acknowledgements import (
    NOTE_MAX_LENGTH,
    Acknowledgement,
    NoteRefused,
    acknowledge,
    acknowledgements_of,
    case_in_scope,
    checked_note,
)
from service.storage.store import Connection
from service.web import labels
from service.web.scope import principal
from service.web.templating import render

_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)


@dataclass(frozen=True)
class CaseRead:
    case: Case
    acknowledgements: dict[str, Acknowledgement]
    events: list[dict[str, Any]]
    stopped_timers: list[tuple[str, int]]


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    text: str


@dataclass(frozen=True)
class Citation:
    rule: str
    document: str
    version: str
    phrase: str


async def read_case(connection: Connection, case_id: str, who: Principal, at: datetime) -> CaseRead | None:
    """The case with what the page shows of it, or None when it does not exist for this user."""
    row = await connection.fetchrow(
        "select state, region, organisations, integration_id from cases where case_id = $1", case_id
    )
    if row is None or not who.sees(row["region"], row["organisations"], row["integration_id"]):
        return None
    # Shown to the user: a read of the case, in the access log.
    await record_cases(connection, at, actor_of(who), "read", "web", [case_id])
    # Only what the timeline names: the type, the time, and which meeting, participant or action; the
    # events' free text stays in the database.
    events = await connection.fetch(
        "select type, occurred_at, payload -> 'data' ->> 'meeting_id' as meeting_id,"
        " payload -> 'data' ->> 'participant_id' as participant_id,"
        " payload -> 'data' ->> 'response' as response, payload -> 'data' ->> 'action_id' as action_id"
        " from events where case_id = $1 and state = 'applied' order by seq",
        case_id,
    )
    stopped = await connection.fetch(
        "select key, attempts from timers where case_id = $1 and state = 'dead' order by key", case_id
    )
    return CaseRead(
        case=Case.model_validate(row["state"]),
        acknowledgements=await acknowledgements_of(connection, case_id),
        events=[dict(event) for event in events],
        stopped_timers=[(timer["key"], timer["attempts"]) for timer in stopped],
    )


def timeline(read: CaseRead) -> list[TimelineEntry]:
    """Everything that happened to the case, oldest first."""
    case = read.case
    entries = [_event_entry(event) for event in read.events]
    for meeting in case.meetings.values():
        for invitation in meeting.invitations.values():
            who = invitation.participant_id
            if invitation.first_sent_at:
                entries.append(
                    TimelineEntry(
                        invitation.first_sent_at, f"Kallelse till {who} levererad (möte {meeting.meeting_id})"
                    )
                )
            if invitation.reminded_at:
                entries.append(TimelineEntry(invitation.reminded_at, f"Påminnelse om svar till {who}"))
    for reminder in case.reminders:
        if reminder.status == "sent" and reminder.sent_at:
            entries.append(
                TimelineEntry(
                    reminder.sent_at, f"{labels.label(labels.REMINDER_KINDS, reminder.kind)}: skickad"
                )
            )
    for deviation in case.deviations:
        kind = labels.label(labels.DEVIATION_KINDS, deviation.kind)
        entries.append(TimelineEntry(deviation.detected_at, f"Avvikelse: {kind}"))
        done = read.acknowledgements.get(deviation.deviation_id)
        if done:
            entries.append(TimelineEntry(done.acknowledged_at, f"Avvikelse kvitterad ({kind})"))
    return sorted(entries, key=lambda entry: entry.at)


def _event_entry(event: Mapping[str, Any]) -> TimelineEntry:
    text = labels.label(labels.EVENT_TYPES, event["type"])
    if event["participant_id"]:
        text += f": {event['participant_id']}"
        if event["response"]:
            text += " " + labels.label(labels.RESPONSES, event["response"])
    if event["meeting_id"]:
        text += f" (möte {event['meeting_id']})"
    if event["action_id"]:
        text += f" (åtgärd {event['action_id']})"
    return TimelineEntry(event["occurred_at"], text)


def citation(rulebook: RuleBook, region: str, rule: str | None) -> Citation | None:
    """Where a qualified rule ("halland.meeting_within_days") comes from, as the rule files cite it."""
    if rule is None or region not in rulebook.names():
        return None
    for resolved in rulebook.region(region).rules.values():
        if resolved.qualified_name == rule:
            source = resolved.source
            version = " ".join(part for part in (source.version, source.reference) if part)
            if source.date:
                version = f"{version} ({source.date.isoformat()})" if version else source.date.isoformat()
            return Citation(rule, source.title, version, resolved.rule.phrase)
    return None


def _page_context(rulebook: RuleBook, read: CaseRead) -> dict[str, Any]:
    case = read.case
    view = case_view(case, read.stopped_timers, read.acknowledgements)
    deadlines = [
        {
            "kind": labels.label(labels.DEADLINE_KINDS, d.kind),
            "due": labels.day(d.due),
            "status": labels.label(labels.DEADLINE_STATUSES, d.status),
            "missed": d.status == "missed",
            "about": d.meeting_id or d.action_id or "",
            "citation": citation(rulebook, case.region, d.rule),
        }
        for d in case.deadlines
    ]
    meetings = [
        {
            "meeting_id": m.meeting_id,
            "kind": labels.label(labels.MEETING_KINDS, m.kind),
            "status": labels.label(labels.MEETING_STATUSES, m.status),
            "starts_at": labels.moment(m.starts_at),
            "notice": ""
            if m.notice_days is None
            else f"{m.notice_days} dagar" + ("" if m.notice_ok else " (för kort)"),
            "invitations": [
                {
                    "participant_id": i.participant_id,
                    "name": m.participants[i.participant_id].name
                    if i.participant_id in m.participants
                    else "",
                    "organisation": (m.participants[i.participant_id].organisation or "")
                    if i.participant_id in m.participants
                    else "",
                    "channel": "E-post" if i.channel == "email" else "Brev",
                    "status": labels.label(labels.INVITATION_STATUSES, i.status),
                    "sent_at": labels.moment(i.sent_at),
                }
                for i in m.invitations.values()
            ],
        }
        for m in case.meetings.values()
    ]
    deviations = [
        {
            "deviation_id": d.deviation_id,
            "kind": labels.label(labels.DEVIATION_KINDS, d.kind),
            "detected_at": labels.moment(d.detected_at),
            "about": ", ".join(
                part
                for part in (
                    d.meeting_id and f"möte {d.meeting_id}",
                    d.participant_id and f"deltagare {d.participant_id}",
                    d.action_id and f"åtgärd {d.action_id}",
                )
                if part
            ),
            "reportable": d.reportable,
            "citation": citation(rulebook, case.region, d.rule),
            "acknowledgement": read.acknowledgements.get(d.deviation_id),
        }
        for d in case.deviations
    ]
    reminders = [
        {
            "kind": labels.label(labels.REMINDER_KINDS, r.kind),
            "due_at": labels.moment(r.due_at),
            "to": r.to,
        }
        for r in sorted(case.reminders, key=lambda r: r.due_at)
        if r.status == "scheduled"
    ]
    return {
        "case": case,
        "region_name": rulebook.region(case.region).display_name
        if case.region in rulebook.names()
        else case.region,
        "opened_at": labels.moment(case.opened_at),
        "timeline": [
            {"at": labels.moment(e.at), "iso": e.at.isoformat(), "text": e.text} for e in timeline(read)
        ],
        "deadlines": deadlines,
        "meetings": meetings,
        "deviations": deviations,
        "reminders": reminders,
        "warnings": view["warnings"],
        "moment": labels.moment,
    }


async def _case_or_404(request: web.Request, who: Principal) -> CaseRead:
    rt = runtime(request)
    case_id = request.match_info["case_id"]
    async with rt.pool.acquire() as connection:
        read = await read_case(connection, case_id, who, await rt.clock.now())
    if read is None:
        raise web.HTTPNotFound()
    return read


def _render(
    request: web.Request,
    read: CaseRead,
    *,
    status: int = 200,
    refused: str | None = None,
    refusal: str = "",
    message: str | None = None,
) -> web.Response:
    """The case page; `refused` names the deviation whose acknowledgement was refused, `refusal` why."""
    return render(
        request,
        "case.html",
        status=status,
        title=f"Ärende {read.case.case_id}",
        refused=refused,
        refusal=refusal,
        message=message,
        **_page_context(runtime(request).rulebook, read),
    )


async def case_page(request: web.Request) -> web.Response:
    who = principal(request)
    read = await _case_or_404(request, who)
    acknowledged = request.query.get("kvitterad")
    shown = any(d.deviation_id == acknowledged for d in read.case.deviations)
    return _render(request, read, message="Avvikelsen är kvitterad." if shown else None)


async def acknowledge_deviation(request: web.Request) -> web.Response:
    """The acknowledge form, under the API's rules; then back to the case (POST, redirect, GET)."""
    who = principal(request)
    if not who.may("coordinator"):
        raise web.HTTPForbidden()
    rt = runtime(request)
    case_id = request.match_info["case_id"]
    deviation_id = request.match_info["deviation_id"]
    form = await request.post()
    note = form.get("note", "")
    async with rt.pool.acquire() as connection, connection.transaction():
        read = await read_case(connection, case_id, who, await rt.clock.now())
        if read is None or not any(d.deviation_id == deviation_id for d in read.case.deviations):
            raise web.HTTPNotFound()
        try:
            checked = checked_note({"note": note if isinstance(note, str) else ""})
        except NoteRefused as exc:
            return _refused(request, read, deviation_id, exc)
        await acknowledge(connection, case_id, deviation_id, who, checked, await rt.clock.now(), "web")
    raise web.HTTPSeeOther(f"/app/cases/{case_id}?kvitterad={deviation_id}#avvikelser")


def _refused(request: web.Request, read: CaseRead, deviation_id: str, refused: NoteRefused) -> web.Response:
    messages = {error.msg for error in refused.errors}
    if any("personnummer" in message for message in messages):
        text = "Anteckningen får inte innehålla ett personnummer eller samordningsnummer. Skriv den utan."
    else:
        text = f"Anteckningen får vara högst {NOTE_MAX_LENGTH} tecken och får inte innehålla styrtecken."
    return _render(request, read, status=400, refused=deviation_id, refusal=text)


async def find_case_page(request: web.Request) -> web.Response:
    principal(request)
    return render(request, "find_case.html", title="Ärende", error=None)


async def find_case(request: web.Request) -> web.Response:
    """Go to a case by its id. A POST, so that what was typed (perhaps a personnummer by mistake) never
    lands in a URL; only an id of the right shape and without a personnummer becomes one."""
    who = principal(request)
    typed = (await request.post()).get("case_id")
    case_id = typed.strip() if isinstance(typed, str) else ""
    if not case_id or len(case_id) > 100 or not _IDENTIFIER.match(case_id) or holds_identity_number(case_id):
        return render(
            request,
            "find_case.html",
            status=400,
            title="Ärende",
            error="Skriv ett ärende-id, till exempel hall-2026-0007. Ett personnummer går inte att söka på.",
        )
    rt = runtime(request)
    async with rt.pool.acquire() as connection:
        # Only whether it is there: the case page it leads to is what reads (and logs) the case.
        exists = await case_in_scope(connection, case_id, who)
    if not exists:
        return render(
            request,
            "find_case.html",
            status=404,
            title="Ärende",
            error="Det finns inget ärende med det id:t som du har behörighet till.",
        )
    raise web.HTTPSeeOther(f"/app/cases/{case_id}")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/cases", find_case_page)
    app.router.add_post("/cases", find_case)
    app.router.add_get("/cases/{case_id}", case_page)
    app.router.add_post("/cases/{case_id}/deviations/{deviation_id}/acknowledgement", acknowledge_deviation)
