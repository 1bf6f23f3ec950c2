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
from service.access import Principal
from service.audit.record import actor_of, record_cases
from service.context import runtime
from service.storage.store import Connection
from service.storage.where import Where
from service.web.filters import FilterForm
from service.web.labels import day
from service.web.pages import ROLE_NAMES
from service.web.scope import principal, regions_in_scope
from service.web.templating import render

PAGE_SIZE = 50
SOON = timedelta(days=14)
MAX_ORGANISATION_CHOICES = 500
# (value in the form, heading, the SQL that says a case has it); the order is the order of urgency.
# Each test reads a column or two of the `flagged` rows below and no case document, so that ten thousand
# cases are ranked and counted at the cost of one pass over small columns.
KINDS: tuple[tuple[str, str, str], ...] = (
    ("forsenat", "Försenat", "overdue"),
    ("snart", "Tidsfrist inom 14 dagar", "due_soon"),
    ("obesvarat", "Obesvarade kallelser", "unanswered > 0"),
    ("avvikelse", "Nya avvikelser", "has_new_deviations"),
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


def _ranked(where: Where) -> str:
    """The open cases matching `where`, each with what it has to do as flags and its tier (null:
    nothing to do). `open_due_dates` is sorted, so a case is overdue when its first date has passed;
    it has a deadline within 14 days when its dates overlap the window's (the parameter after today),
    which PostgreSQL tests in C without unnesting the array."""
    today = f"${len(where.args) + 1}"
    window = f"${len(where.args) + 2}"
    return f"""
        with flagged as (
            select c.case_id, c.region, c.open_due_dates, c.unanswered, c.warning_count,
                coalesce(c.open_due_dates[1] < {today}, false) as overdue,
                c.open_due_dates && {window}::date[] as due_soon,
                exists (
                    select from deviations d where d.case_id = c.case_id and d.acknowledged_at is null
                ) as has_new_deviations
            from cases c
            where c.status = 'open' and {where.sql()}
        )
        select *, {_TIER} as tier from flagged"""


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
    ranked = _ranked(where)
    window = [today + timedelta(days=n) for n in range(SOON.days + 1)]
    args = [*where.args, today, window]
    kind_test = next((test for value, _, test in KINDS if value == filters["kind"]), "tier is not null")
    # One pass over the small columns ranks the cases and counts each kind (as window counts over every
    # case, taken before the kind filter and the page); only the page's cases are then read further:
    # the exact counts beside each, and whether it is urgent, which lives in its document.
    today_at, window_at = len(where.args) + 1, len(where.args) + 2
    rows = await connection.fetch(
        f"select p.*, coalesce((c.state ->> 'urgent')::boolean, false) as urgent,"
        f" (select count(*) from unnest(p.open_due_dates) x where x < ${today_at}) as overdue_count,"
        f" (select count(*) from unnest(p.open_due_dates) x where x = any(${window_at}::date[]))"
        f" as due_soon_count,"
        f" (select count(*) from deviations d"
        f"  where d.case_id = p.case_id and d.acknowledged_at is null) as new_deviations"
        f" from (select * from ("
        f"   select r.*, {_counts(' over ()')}"
        f"   from ({ranked}) as r) as w"
        f"  where {kind_test}"
        f"  order by tier, open_due_dates[1] nulls last, case_id"
        f"  limit {PAGE_SIZE} offset ${len(args) + 1}) as p"
        f" join cases c using (case_id)"
        f" order by p.tier, p.open_due_dates[1] nulls last, p.case_id",
        *args,
        (page - 1) * PAGE_SIZE,
    )
    totals = rows[0] if rows else await _totals(connection, ranked, args)
    counts = {value: totals[value] for value, _, _ in KINDS}
    shown_total = totals["all_kinds"] if filters["kind"] is None else counts[filters["kind"]]
    return [_row(row, region_names or {}) for row in rows], counts, shown_total


def _counts(window: str) -> str:
    """How many cases there are to do, and of each kind, as aggregates or (`window`: ' over ()') as
    window counts beside every row."""
    tests = [("all_kinds", "tier is not null"), *((value, test) for value, _, test in KINDS)]
    return ", ".join(f"count(*) filter (where {test}){window} as {name}" for name, test in tests)


async def _totals(connection: Connection, ranked: str, args: list[Any]) -> Any:
    """The counts alone, for a page with no case on it (past the end, or nothing of the kind)."""
    totals = await connection.fetchrow(
        f"select {_counts('')} from ({ranked}) as r",
        *args,
    )
    assert totals is not None  # an aggregate always answers one row
    return totals


def _row(row: Any, region_names: dict[str, str]) -> TodoRow:
    return TodoRow(
        case_id=row["case_id"],
        region=region_names.get(row["region"], row["region"]),
        urgent=row["urgent"],
        kind=KINDS[row["tier"] - 1][1],
        overdue=row["overdue_count"],
        due_soon=row["due_soon_count"],
        unanswered=row["unanswered"],
        new_deviations=row["new_deviations"],
        warnings=row["warning_count"],
        first_due=day(row["open_due_dates"][0]) if row["open_due_dates"] else "",
    )


async def organisation_choices(connection: Connection, who: Principal) -> list[str]:
    """The organisations to filter by: the user's own, or those of the open cases in scope."""
    limited = who.organisation_filter()
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
    organisations_limit = who.organisation_filter()
    return render(
        request,
        "todo.html",
        status=400 if form.errors else 200,
        title="Att göra",
        errors=form.errors,
        filters=filters,
        regions=regions,
        organisation_choices=[(name, name) for name in organisations],
        kind_choices=[(value, heading) for value, heading, _ in KINDS],
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
        if organisations_limit is None
        else ", ".join(organisations_limit),
    )


def _page_query(filters: dict[str, str | None]) -> str:
    """The filters as a query string for the page links (the values are escaped by the template)."""
    return urlencode({name: value for name, value in filters.items() if value})
