"""Loggkontroll (`/app/audit`): a random sample of the access log for the care provider's systematic
checks (HSLF-FS 2016:40 4 kap. 9 §), as `GET /v1/audit-log?sample=N` gives it, through the same query
and the same scope. For auditors and admins; reading the log is not itself a read of a case."""

from __future__ import annotations

import re
from dataclasses import dataclass

import asyncpg
from aiohttp import web

from calendars.stockholm import STOCKHOLM
from scheduler.events import IDENTIFIER_PATTERN
from scheduler.identifiers import holds_identity_number
from service.audit.api import MAX_IDENTIFIER, MAX_SAMPLE, drawn, scoped
from service.context import runtime
from service.web.filters import FilterForm
from service.web.scope import forbidden, principal
from service.web.templating import render

DEFAULT_SIZE = 20
_IDENTIFIER = re.compile(IDENTIFIER_PATTERN, re.ASCII)
ACTIONS = {
    "read": "Läst",
    "change": "Ändrat",
    "disclose": "Lämnat ut",
    "print": "Skrivit ut",
    "export": "Exporterat",
}
CHANNELS = {"api": "API", "web": "Webbappen", "mail": "E-post", "letter": "Brev", "webhook": "Webhook"}
ACTOR_KINDS = {"token": "Token", "user": "Användare", "service": "sipvakt"}


@dataclass(frozen=True)
class SampledEntry:
    entry_id: str
    at: str
    actor: str
    organisation: str
    action: str
    channel: str
    case_id: str


def _entry(row: asyncpg.Record) -> SampledEntry:
    return SampledEntry(
        entry_id=row["entry_id"],
        at=row["at"].astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M:%S"),
        actor=f"{ACTOR_KINDS.get(row['actor_kind'], row['actor_kind'])} {row['actor_id'] or ''}".strip(),
        organisation=row["actor_organisation"] or "",
        action=ACTIONS.get(row["action"], row["action"]),
        channel=CHANNELS.get(row["channel"], row["channel"]),
        case_id=row["case_id"] or "",
    )


def _size(form: FilterForm) -> int | None:
    value = form.text("antal", "Antal")
    if value is None:
        return DEFAULT_SIZE
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_SAMPLE:
        form.errors.append(("antal", f"Antalet ska vara ett heltal från 1 till {MAX_SAMPLE}."))
        return None
    return int(value)


def _case_id(form: FilterForm) -> str | None:
    value = form.text("arende", "Ärende")
    if value is None:
        return None
    if len(value) > MAX_IDENTIFIER or holds_identity_number(value) or not _IDENTIFIER.fullmatch(value):
        form.errors.append(
            ("arende", "Skriv ett ärende-id, till exempel blek-2026-0042, eller lämna fältet tomt.")
        )
        return None
    return value


async def audit_page(request: web.Request) -> web.Response:
    who = principal(request)
    if not who.may("auditor"):
        return forbidden(request, "Loggkontrollen är till för granskare och administratörer.")
    form = FilterForm(request.query, ("antal", "arende"))
    size, case_id = _size(form), _case_id(form)
    entries: list[SampledEntry] = []
    if not form.errors and size is not None:
        rows = await drawn(runtime(request).pool, scoped(who, case_id), size)
        entries = [_entry(row) for row in rows]
    return render(
        request,
        "audit.html",
        status=400 if form.errors else 200,
        title="Loggkontroll",
        errors=form.errors,
        entries=entries,
        size=size or DEFAULT_SIZE,
        case_id=case_id or "",
        max_size=MAX_SAMPLE,
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/audit", audit_page)
