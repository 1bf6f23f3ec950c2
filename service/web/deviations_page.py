"""Avvikelser: the deviations of the cases in the user's scope, filtered and paged, newest first, and the
same list as a CSV file for Swedish Excel (UTF-8 with BOM, `;` between fields).

Scope is the API's (`Where.scope`, the same condition `GET /v1/deviations` uses). Pages are read by
position (the last deviation shown), not by number, so the next page costs the same at any depth. The
acknowledgement note is not in the file: it never leaves the service.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from calendars.stockholm import local_date, start_of_day
from service.access import Principal
from service.audit.record import actor_of, record_cases
from service.context import runtime
from service.http.reports import encode_cursor
from service.storage.store import Connection
from service.storage.where import Where
from service.web import labels
from service.web.filters import FilterForm
from service.web.scope import principal, regions_in_scope
from service.web.templating import render

PAGE_SIZE = 50
ACKNOWLEDGED = {"ja": "Kvitterade", "nej": "Inte kvitterade"}
CSV_HEADERS = (
    "Avvikelse",
    "Ärende",
    "Region",
    "Typ",
    "Upptäckt",
    "Möte",
    "Deltagare",
    "Åtgärd",
    "Regel",
    "Rapporteras",
    "Kvitterad",
    "Kvitterad av",
)
_CURSOR_ID = re.compile(r"dev_[0-9a-f]{1,64}", re.ASCII)
_COLUMNS = (
    "d.deviation_id, d.case_id, d.region, d.kind, d.detected_at, d.meeting_id, d.participant_id,"
    " d.action_id, d.rule, d.reportable, d.acknowledged_at, d.acknowledged_by"
)


@dataclass(frozen=True)
class DeviationFilters:
    region: str | None
    kind: str | None
    acknowledged: str | None
    since: date | None

    def query(self) -> dict[str, str]:
        values = {
            "region": self.region,
            "kind": self.kind,
            "kvitterad": self.acknowledged,
            "sedan": self.since.isoformat() if self.since else None,
        }
        return {name: value for name, value in values.items() if value}


def _read_filters(
    request: web.Request, regions: list[str], known: tuple[str, ...]
) -> tuple[FilterForm, DeviationFilters]:
    form = FilterForm(request.query, known)
    filters = DeviationFilters(
        region=form.choice("region", "Region", regions),
        kind=form.choice("kind", "Typ", list(labels.DEVIATION_KINDS)),
        acknowledged=form.choice("kvitterad", "Kvitterad", list(ACKNOWLEDGED)),
        since=form.day("sedan", "Upptäckt från"),
    )
    return form, filters


def _where(who: Principal, filters: DeviationFilters) -> Where:
    where = Where()
    where.scope(who)
    if filters.region:
        where.add("d.region = {0}", filters.region)
    if filters.kind:
        where.add("d.kind = {0}", filters.kind)
    if filters.acknowledged == "ja":
        where.add("d.acknowledged_at is not null")
    elif filters.acknowledged == "nej":
        where.add("d.acknowledged_at is null")
    if filters.since:
        where.add("d.detected_at >= {0}", start_of_day(filters.since))
    return where


def _decode_cursor(value: str | None) -> tuple[datetime, str] | bool | None:
    """The position a `efter` link names; False when it is not one this page made."""
    if value is None:
        return None
    try:
        raw = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        at, deviation_id = raw
        moment = datetime.fromisoformat(at)
        if (
            moment.tzinfo is None
            or not isinstance(deviation_id, str)
            or not _CURSOR_ID.fullmatch(deviation_id)
        ):
            return False
        return moment.astimezone(UTC), deviation_id
    except (binascii.Error, ValueError, TypeError, OverflowError, UnicodeDecodeError):
        return False


async def deviations_page(request: web.Request) -> web.Response:
    who = principal(request)
    rt = runtime(request)
    regions = regions_in_scope(who, rt.rulebook)
    form, filters = _read_filters(
        request, [name for name, _ in regions], ("region", "kind", "kvitterad", "sedan", "efter")
    )
    after = _decode_cursor(form.text("efter", "Sida"))
    if after is False:
        form.errors.append(
            ("", "Länken till nästa sida är inte en som sipvakt har gjort. Börja om från första sidan.")
        )
        after = None
    where = _where(who, filters)
    if after:
        assert not isinstance(after, bool)
        where.add("(d.detected_at, d.deviation_id) < ({0}, {1})", *after)
    async with rt.pool.acquire() as connection:
        rows = await connection.fetch(
            f"select {_COLUMNS} from deviations d join cases c using (case_id) where {where.sql()}"
            f" order by d.detected_at desc, d.deviation_id desc limit {PAGE_SIZE + 1}",
            *where.args,
        )
        total = await _count(connection, who, filters)
        # A deviation is case data: the page is a read of each case it lists.
        await record_cases(
            connection,
            await rt.clock.now(),
            actor_of(who),
            "read",
            "web",
            [row["case_id"] for row in rows[:PAGE_SIZE]],
        )
    shown = rows[:PAGE_SIZE]
    last = shown[-1] if len(rows) > PAGE_SIZE else None
    query = filters.query()
    next_query = (
        urlencode({**query, "efter": encode_cursor(last["detected_at"], last["deviation_id"])})
        if last
        else None
    )
    return render(
        request,
        "deviations.html",
        status=400 if form.errors else 200,
        title="Avvikelser",
        errors=form.errors,
        filters=filters,
        regions=regions,
        kinds=list(labels.DEVIATION_KINDS.items()),
        acknowledged_choices=list(ACKNOWLEDGED.items()),
        rows=[_display(row, dict(regions)) for row in shown],
        total=total,
        first_page=bool(after),
        first_query=urlencode(query),
        next_query=next_query,
        csv_query=urlencode(query),
    )


async def _count(connection: Connection, who: Principal, filters: DeviationFilters) -> int:
    where = _where(who, filters)
    count: int = await connection.fetchval(
        f"select count(*) from deviations d join cases c using (case_id) where {where.sql()}", *where.args
    )
    return count


def _display(row: Any, region_names: dict[str, str]) -> dict[str, Any]:
    return {
        "deviation_id": row["deviation_id"],
        "case_id": row["case_id"],
        "region": region_names.get(row["region"], row["region"]),
        "kind": labels.label(labels.DEVIATION_KINDS, row["kind"]),
        "detected_at": labels.moment(row["detected_at"]),
        "reportable": row["reportable"],
        "acknowledged_at": labels.moment(row["acknowledged_at"]),
    }


def csv_row(row: Any) -> list[str]:
    """One deviation as the file's fields, in CSV_HEADERS' order."""
    return [
        row["deviation_id"],
        row["case_id"],
        row["region"],
        labels.label(labels.DEVIATION_KINDS, row["kind"]),
        labels.moment(row["detected_at"]),
        row["meeting_id"] or "",
        row["participant_id"] or "",
        row["action_id"] or "",
        row["rule"] or "",
        "ja" if row["reportable"] else "nej",
        labels.moment(row["acknowledged_at"]),
        row["acknowledged_by"] or "",
    ]


def _csv_line(fields: list[str]) -> bytes:
    buffer = io.StringIO()
    # `;`, as Excel set to Swedish (where `,` is the decimal sign) splits fields; CRLF, as RFC 4180 says.
    csv.writer(buffer, delimiter=";", lineterminator="\r\n").writerow(fields)
    return buffer.getvalue().encode("utf-8")


async def _csv_rows(connection: Connection, where: Where) -> AsyncIterator[Any]:
    async for row in connection.cursor(
        f"select {_COLUMNS} from deviations d join cases c using (case_id) where {where.sql()}"
        " order by d.detected_at desc, d.deviation_id desc",
        *where.args,
    ):
        yield row


async def deviations_csv(request: web.Request) -> web.Response:
    """The filtered list as a file, every page of it. Built whole before answering, so that the security
    headers (set when the handler returns) reach it, and a failure half-way is an error page, not half a
    file; the rows come through a cursor, a few at a time."""
    who = principal(request)
    rt = runtime(request)
    regions = [name for name, _ in regions_in_scope(who, rt.rulebook)]
    form, filters = _read_filters(request, regions, ("region", "kind", "kvitterad", "sedan"))
    if form.errors:
        raise web.HTTPBadRequest()
    # The byte order mark tells Excel the file is UTF-8, so å, ä and ö read right.
    parts = ["\ufeff".encode() + _csv_line(list(CSV_HEADERS))]
    exported: list[str] = []
    async with rt.pool.acquire() as connection, connection.transaction():
        async for row in _csv_rows(connection, _where(who, filters)):
            parts.append(_csv_line(csv_row(row)))
            exported.append(row["case_id"])
        # The file leaves the service: one `export` entry per case in it, committed before it does.
        await record_cases(connection, await rt.clock.now(), actor_of(who), "export", "web", exported)
    today = local_date(await rt.clock.now()).isoformat()
    return web.Response(
        body=b"".join(parts),
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="avvikelser-{today}.csv"',
        },
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/deviations", deviations_page)
    app.router.add_get("/deviations.csv", deviations_csv)
