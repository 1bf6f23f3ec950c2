"""Read endpoints across cases: `GET /v1/deviations` and the yearly `GET /v1/reports/summary`.

Both see exactly the cases the token sees (its regions, its organisations, its integration), filtered in
SQL, and both read years and days in Europe/Stockholm. A bad query is refused with every bad parameter
listed at once; a parameter's value is never repeated back, since a caller may have put anything in it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Annotated, get_args

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, Field, StringConstraints, TypeAdapter, ValidationError

from calendars.stockholm import start_of_day
from scheduler.case import DeviationKind
from service.access import Principal
from service.audit.record import actor_of, record_cases
from service.context import runtime
from service.http.api import READERS, authorize
from service.http.query import QueryReader
from service.http.views import DeviationView
from service.storage.database import Pool
from service.storage.where import Where

DEVIATION_KINDS: tuple[DeviationKind, ...] = get_args(DeviationKind)
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
FIRST_YEAR, LAST_YEAR = 2000, 2100
# RFC 3339 date-time (the offset is required) or a plain date; fromisoformat alone accepts far more.
_YEAR = re.compile(r"\d{4}", re.ASCII)
# A cursor names a deviation by its id ("dev_" and hex): anything else in one was not made here.
_CURSOR = TypeAdapter(
    tuple[AwareDatetime, Annotated[str, StringConstraints(pattern=r"^dev_[0-9a-f]{1,64}$")]]
)


class DeviationItem(DeviationView):
    """A deviation as a case shows it, with the case it belongs to: the list spans cases."""

    case_id: str
    region: str


class DeviationPage(BaseModel):
    deviations: list[DeviationItem]
    next: str | None = Field(description="pass as `after` for the next page; null on the last page")


class DeviationCounts(BaseModel):
    """Every kind is always present, 0 when none, so a report needs no key checks."""

    no_response: int
    no_show: int
    action_not_done: int
    late: int


class KvaCounts(BaseModel):
    """KVÅ registers one code per act: a SIP made after discharge is AUI25 and not AUI24 as well."""

    AUI24: int = Field(
        description="SIPs made: held `initial` meetings in the year, except those counted as AUI25"
    )
    AUI25: int = Field(
        description="SIPs made after discharge: held `initial` meetings of a case with a discharge notice"
        " that start at or after the notice"
    )
    AW010: int = Field(description="SIP follow-ups: held `followup` meetings in the year")


class MonthCounts(BaseModel):
    """One Stockholm calendar month of the year, counted by the same rules as the year's totals."""

    month: int = Field(ge=1, le=12)
    cases_opened: int
    meetings_held: int
    followups_held: int
    deviations: int = Field(description="deviations of every kind detected in the month")
    reportable_deviations: int = Field(description="of those, the reportable ones")


class YearSummary(BaseModel):
    region: str
    year: int
    cases_opened: int
    meetings_held: int
    followups_held: int
    deviations: DeviationCounts = Field(description="every deviation recorded in the year, by kind")
    reportable_deviations: DeviationCounts = Field(
        description="of those, the ones the region's guideline names a deviation (avvikelse): what the region"
        " reports"
    )
    escalations: DeviationCounts = Field(
        description="the others: sipvakt's own escalations to the coordinator, not reportable"
    )
    kva: KvaCounts
    months: list[MonthCounts] = Field(
        description="the same counts month by month (Stockholm), January first, every month present"
    )


REPORT_MODELS: tuple[type[BaseModel], ...] = (DeviationPage, YearSummary)


@dataclass
class YearTally:
    """Counts of one Stockholm calendar year, month by month, from rows the database groups by month; no
    I/O, so the sums and the KVÅ rule (one code per act) are here and nowhere else."""

    year: int
    cases_opened: list[int] = field(default_factory=lambda: [0] * 12)
    initial_held: list[int] = field(default_factory=lambda: [0] * 12)
    initial_after_discharge: list[int] = field(default_factory=lambda: [0] * 12)
    followups_held: list[int] = field(default_factory=lambda: [0] * 12)
    # (kind, reportable) → twelve months
    deviations: dict[tuple[str, bool], list[int]] = field(default_factory=dict)

    def opened(self, month: int, count: int) -> None:
        self.cases_opened[month - 1] += count

    def held(self, month: int, kind: str, after_discharge: bool, count: int) -> None:
        if kind == "followup":
            self.followups_held[month - 1] += count
            return
        self.initial_held[month - 1] += count
        if after_discharge:
            self.initial_after_discharge[month - 1] += count

    def deviated(self, month: int, kind: str, reportable: bool, count: int) -> None:
        self.deviations.setdefault((kind, reportable), [0] * 12)[month - 1] += count

    def _deviations(self, month: int, *reportable: bool) -> int:
        return sum(
            self.deviations.get((kind, r), [0] * 12)[month] for kind in DEVIATION_KINDS for r in reportable
        )

    def summary(self, region: str) -> YearSummary:
        def counts(*reportable: bool) -> DeviationCounts:
            return DeviationCounts(
                **{
                    kind: sum(sum(self.deviations.get((kind, r), [])) for r in reportable)
                    for kind in DEVIATION_KINDS
                }
            )

        initial, after, followups = (
            sum(self.initial_held),
            sum(self.initial_after_discharge),
            sum(self.followups_held),
        )
        months = [
            MonthCounts(
                month=month + 1,
                cases_opened=self.cases_opened[month],
                meetings_held=self.initial_held[month] + self.followups_held[month],
                followups_held=self.followups_held[month],
                deviations=self._deviations(month, True, False),
                reportable_deviations=self._deviations(month, True),
            )
            for month in range(12)
        ]
        return YearSummary(
            region=region,
            year=self.year,
            cases_opened=sum(self.cases_opened),
            meetings_held=initial + followups,
            followups_held=followups,
            deviations=counts(True, False),
            reportable_deviations=counts(True),
            escalations=counts(False),
            kva=KvaCounts(AUI24=initial - after, AUI25=after, AW010=followups),
            months=months,
        )


def _region(query: QueryReader, names: list[str], *, required: bool = False) -> str | None:
    value = query.text("region", required=required)
    if value is not None and value not in names:
        query.fail("region", "no rule file for this region; known: " + ", ".join(names))
        return None
    return value


def encode_cursor(detected_at: datetime, deviation_id: str) -> str:
    """The position after one deviation in (detected_at, deviation_id) order; opaque to callers."""
    raw = json.dumps([detected_at.isoformat(), deviation_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after(query: QueryReader) -> tuple[datetime, str] | None:
    value = query.text("after")
    if value is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        detected_at, deviation_id = _CURSOR.validate_json(raw)
        return detected_at.astimezone(UTC), deviation_id
    except (binascii.Error, ValueError, OverflowError, ValidationError):
        query.fail("after", "not a cursor this endpoint gave as `next`")
        return None


async def list_deviations(request: web.Request) -> web.Response:
    """`GET /v1/deviations`: one page of the deviations in scope, in (detected_at, deviation_id) order."""
    principal = await authorize(request, *READERS)
    rt = runtime(request)
    query = QueryReader(request.query, ("region", "since", "kind", "limit", "after"))
    region = _region(query, rt.rulebook.names())
    since, kind = query.moment("since"), query.choice("kind", DEVIATION_KINDS)
    limit, after = query.limit(DEFAULT_LIMIT, MAX_LIMIT), _after(query)
    query.raise_if_any()

    where = Where()
    # Region and integration are copied onto each deviation (indexed there); organisations are read from
    # the case, because a case gains organisations after a deviation is recorded and GET /v1/cases shows
    # the deviation to every one of them.
    where.scope(principal)
    if region is not None:
        where.add("d.region = {0}", region)
    if since is not None:
        where.add("d.detected_at >= {0}", since)
    if kind is not None:
        where.add("d.kind = {0}", kind)
    if after is not None:
        where.add("(d.detected_at, d.deviation_id) > ({0}, {1})", *after)
    async with rt.pool.acquire() as connection, connection.transaction():
        # One row more than asked for tells whether there is a next page.
        rows = await connection.fetch(
            "select d.deviation_id, d.case_id, d.region, d.kind, d.detected_at, d.meeting_id,"
            " d.participant_id, d.action_id, d.rule, d.reportable, d.acknowledged_at, d.acknowledged_by"
            " from deviations d join cases c using (case_id)"
            f" where {where.sql()} order by d.detected_at, d.deviation_id limit ${len(where.args) + 1}",
            *where.args,
            limit + 1,
        )
        page = [DeviationItem.model_validate(dict(row)) for row in rows[:limit]]
        # A deviation is case data: the page is a read of each case it lists.
        await record_cases(
            connection, await rt.clock.now(), actor_of(principal), "read", "api", [d.case_id for d in page]
        )
    last = page[-1] if len(rows) > limit else None
    body = DeviationPage(
        deviations=page, next=encode_cursor(last.detected_at, last.deviation_id) if last else None
    )
    return web.json_response(body.model_dump(mode="json"))


async def year_summary(request: web.Request) -> web.Response:
    """`GET /v1/reports/summary`: one region's counts for one Stockholm year, over the cases in scope."""
    principal = await authorize(request, *READERS)
    rt = runtime(request)
    query = QueryReader(request.query, ("region", "year"))
    region = _region(query, rt.rulebook.names(), required=True)
    year = _year(query)
    query.raise_if_any()
    assert region is not None and year is not None
    summary = await summarize(rt.pool, principal, region, year)
    return web.json_response(summary.model_dump(mode="json"))


def _month_of(column: str, where: Where, year: int) -> str:
    """The Stockholm month (1–12) a moment of the year falls in, as the rest of the summary reads days:
    its place among the months' first moments, far cheaper per row than a time-zone conversion."""
    where.args.append([start_of_day(date(year, month, 1)) for month in range(1, 13)])
    return f"width_bucket({column}, ${len(where.args)}::timestamptz[])"


async def summarize(pool: Pool, principal: Principal, region: str, year: int) -> YearSummary:
    """The yearly summary of one region over the cases the principal sees: the API's and the web app's."""
    start, end = start_of_day(date(year, 1, 1)), start_of_day(date(year + 1, 1, 1))
    tally = YearTally(year)

    def where(alias: str, column: str) -> Where:
        found = Where()
        found.scope(principal)
        found.add(f"{alias}.region = {{0}}", region)
        found.add(f"{column} >= {{0}} and {column} < {{1}}", start, end)
        return found

    opened, deviated = where("c", "c.opened_at"), where("d", "d.detected_at")
    opened_month, deviated_month = (
        _month_of("c.opened_at", opened, year),
        _month_of("d.detected_at", deviated, year),
    )
    held = Where()
    held.scope(principal, "h")
    held.add("h.region = {0} and h.local_year = {1}", region, year)
    # One snapshot for every read, so the counts agree with each other while events keep arriving.
    async with (
        pool.acquire() as connection,
        connection.transaction(isolation="repeatable_read", readonly=True),
    ):
        for row in await connection.fetch(
            f"select {opened_month} as month, count(*) as n from cases c where {opened.sql()} group by 1",
            *opened.args,
        ):
            tally.opened(row["month"], row["n"])
        # The held meetings carry their case's scope and Stockholm month (service/storage/report_facts.py).
        for row in await connection.fetch(
            "select h.local_month as month, h.kind, h.after_discharge, count(*) as n"
            f" from held_meetings h where {held.sql()} group by 1, 2, 3",
            *held.args,
        ):
            tally.held(row["month"], row["kind"], row["after_discharge"], row["n"])
        # Region and integration are copied onto each deviation; organisations are read from the case.
        for row in await connection.fetch(
            f"select {deviated_month} as month, d.kind, d.reportable, count(*) as n"
            f" from deviations d join cases c using (case_id) where {deviated.sql()} group by 1, 2, 3",
            *deviated.args,
        ):
            tally.deviated(row["month"], row["kind"], row["reportable"], row["n"])
    return tally.summary(region)


def _year(query: QueryReader) -> int | None:
    value = query.text("year", required=True)
    if value is None:
        return None
    if not _YEAR.fullmatch(value) or not FIRST_YEAR <= int(value) <= LAST_YEAR:
        query.fail("year", f"must be a year of four digits from {FIRST_YEAR} to {LAST_YEAR}")
        return None
    return int(value)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/deviations", list_deviations)
    app.router.add_get("/v1/reports/summary", year_summary)
