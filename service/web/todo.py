"""Att göra, the landing page: the open cases in the user's scope that need something, most urgent first.

Urgency, in this order: a deadline passed and not met; a deadline within the next 14 days; invitations
sent and not answered; deviations nobody has acknowledged; warnings. A case is listed once, under the
most urgent of these, and its other items are shown beside it. The list is computed in PostgreSQL from
small columns the database keeps beside each case document (migration 0015), so ten thousand cases in
scope are ordered without reading their documents; only the page shown reads anything more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from calendars.stockholm import local_date
from service.access import EVERYTHING, Principal
from service.audit.record import actor_of, record_cases
from service.context import runtime
from service.http.reports import Where
from service.storage.store import Connection
from service.web.filters import FilterForm
from service.web.labels import day
from service.web.pages import ROLE_NAMES
from service.web.scope import limited_organisations, principal, regions_in_scope
from service.web.templating import render

PAGE_SIZE = 50
SOON = timedelta(days=14)
MAX_ORGANISATION_CHOICES = 500
# (value in the form, heading, the SQL that says a case has it); the order is the order of urgency.
KINDS: tuple[tuple[str, str, str], ...] = (
    ("forsenat", "Försenat", "overdue > 0"),
    ("snart", "Tidsfrist inom 14 dagar", "due_soon > 0"),
    ("obesvarat", "Obesvarade kallelser", "unanswered > 0"),
    ("avvikelse", "Nya avvikelser", "new_deviations > 0"),
    ("varning", "Varningar", "warning_count > 0"),
)
_TIER = "case " + " ".join(f"when {test} then {n}" for n, (_, _, test) in enumerate(KINDS, 1)) + " end"


@dataclass(frozen=True)
class TodoRow:
    case_id: str
    region: str
    urgent: bool
    kind: str
    overdue: int
    due_soon: int
    unanswered: int
    new_deviations: int
    warnings: int
    first_due: str

    @property
    def items(self) -> list[str]:
        """What there is to do, in words, most urgent first; only what there is."""
        counted = (
            (self.overdue, "försenad tidsfrist", "försenade tidsfrister"),
            (self.due_soon, "tidsfrist inom 14 dagar", "tidsfrister inom 14 dagar"),
            (self.unanswered, "obesvarad kallelse", "obesvarade kallelser"),
            (self.new_deviations, "ny avvikelse", "nya avvikelser"),
            (self.warnings, "varning", "varningar"),
        )
        return [f"{n} {one if n == 1 else many}" for n, one, many in counted if n]


def _ranked(where: Where, today: date) -> str:
    """The open cases matching `where`, each with its counts and its tier (null: nothing to do)."""
    first = len(where.args) + 1
    return f"""
        with counted as (
            select c.case_id, c.region, c.open_due_dates, c.unanswered, c.warning_count,
                coalesce(n.new_deviations, 0) as new_deviations,
                (select count(*) from unnest(c.open_due_dates) x where x < ${first}) as overdue,
                (select count(*) from unnest(c.open_due_dates) x
                 where x >= ${first} and x <= ${first + 1}) as due_soon
            from cases c
            left join (
                select case_id, count(*) as new_deviations from deviations
                where acknowledged_at is null group by case_id
            ) as n using (case_id)
            where c.status = 'open' and {where.sql()}
        )
        select *, {_TIER} as tier from counted"""


async def todo_list(
    connection: Connection,
    who: Principal,
    today: date,
    filters: dict[str, str | None],
    page: int,
    region_names: dict[str, str] | None = None,
) -> tuple[list[TodoRow], dict[str, int], int]:
    """One page of the to-do list, the number of cases of each kind, and how many cases in all."""
    where = Where()
    where.scope(who)
    if filters["region"]:
        where.add("c.region = {0}", filters["region"])
    if filters["organisation"]:
        where.add("c.organisations @> array[{0}::text]", filters["organisation"])
    ranked = _ranked(where, today)
    args = [*where.args, today, today + SOON]
    kind_test = next((test for value, _, test in KINDS if value == filters["kind"]), "tier is not null")
    totals = await connection.fetchrow(
        "select count(*) filter (where tier is not null) as all_kinds, "
        + ", ".join(f"count(*) filter (where {test}) as {value}" for value, _, test in KINDS)
        + f" from ({ranked}) as r",
        *args,
    )
    rows = await connection.fetch(
        f"select r.*, coalesce((c.state ->> 'urgent')::boolean, false) as urgent from ({ranked}) as r"
        f" join cases c using (case_id) where {kind_test}"
        f" order by r.tier, r.open_due_dates[1] nulls last, r.case_id"
        f" limit {PAGE_SIZE} offset ${len(args) + 1}",
        *args,
        (page - 1) * PAGE_SIZE,
    )
    assert totals is not None  # an aggregate always answers one row
    counts = {value: totals[value] for value, _, _ in KINDS}
    shown_total = totals["all_kinds"] if filters["kind"] is None else counts[filters["kind"]]
    return [_row(row, region_names or {}) for row in rows], counts, shown_total


def _row(row: Any, region_names: dict[str, str]) -> TodoRow:
    return TodoRow(
        case_id=row["case_id"],
        region=region_names.get(row["region"], row["region"]),
        urgent=row["urgent"],
        kind=KINDS[row["tier"] - 1][1],
        overdue=row["overdue"],
        due_soon=row["due_soon"],
        unanswered=row["unanswered"],
        new_deviations=row["new_deviations"],
        warnings=row["warning_count"],
        first_due=day(row["open_due_dates"][0]) if row["open_due_dates"] else "",
    )


async def organisation_choices(connection: Connection, who: Principal) -> list[str]:
    """The organisations to filter by: the user's own, or those of the open cases in scope."""
    limited = limited_organisations(who)
    if limited is not None:
        return limited
    where = Where()
    where.scope(who)
    rows = await connection.fetch(
        "select distinct o from cases c cross join lateral unnest(c.organisations) as o"
        f" where c.status = 'open' and {where.sql()} order by o limit {MAX_ORGANISATION_CHOICES}",
        *where.args,
    )
    return [row["o"] for row in rows]


async def todo_page(request: web.Request) -> web.Response:
    who = principal(request)
    rt = runtime(request)
    regions = regions_in_scope(who, rt.rulebook)
    async with rt.pool.acquire() as connection:
        organisations = await organisation_choices(connection, who)
        form = FilterForm(request.query, ("region", "organisation", "kind", "sida"))
        filters = {
            "region": form.choice("region", "Region", [name for name, _ in regions]),
            "organisation": form.choice("organisation", "Organisation", organisations),
            "kind": form.choice("kind", "Visa", [value for value, _, _ in KINDS]),
        }
        page = form.page()
        today = local_date(await rt.clock.now())
        rows, counts, total = await todo_list(connection, who, today, filters, page, dict(regions))
        # The list names each case it shows and what is due in it: a read of each, in the access log.
        await record_cases(
            connection, await rt.clock.now(), actor_of(who), "read", "web", [row.case_id for row in rows]
        )
    return render(
        request,
        "todo.html",
        status=400 if form.errors else 200,
        title="Att göra",
        errors=form.errors,
        filters=filters,
        regions=regions,
        organisations=organisations,
        kinds=[(value, heading, counts[value]) for value, heading, _ in KINDS],
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        page_query=_page_query(filters),
        today=today.isoformat(),
        role_name=ROLE_NAMES[who.role],
        scope_regions=", ".join(display for _, display in regions)
        if who.region_filter() is not None
        else "Alla regioner",
        scope_organisations="Alla organisationer"
        if who.role == "admin" or EVERYTHING in who.organisations
        else ", ".join(sorted(who.organisations)),
    )


def _page_query(filters: dict[str, str | None]) -> str:
    """The filters as a query string for the page links (the values are escaped by the template)."""
    return urlencode({name: value for name, value in filters.items() if value})
