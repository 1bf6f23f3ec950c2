"""Reminder policies through the API: `GET|PUT /v1/regions/{region}/reminder-policy` and
`GET|PUT /v1/cases/{case_id}/reminder-policy`.

A PUT replaces that level's override (a partial policy; `{}` removes it) after checking it on top of the
levels under it, and lists every error at once. The change reaches the cases at once: every open case of
the region (or the one case) gets a `replan` timer due now, which recomputes its reminders and escalations
under the new policy in the timer worker, under the case's lock, like any other change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from config.reminder_policy import (
    InvalidPolicy,
    PolicyOverrides,
    check_override,
    deep_merge,
    resolve,
    rule_defaults,
)
from scheduler.events import FieldError
from service import policies
from service.access import EVERYTHING, Principal
from service.api import authorize
from service.audit.record import CASE_COLUMNS, CaseRef, Entry, actor_of, case_ref, record, record_cases
from service.context import Runtime, runtime
from service.json_input import JsonInputError, parse_json
from service.problems import Problem, invalid_fields
from service.query import refuse_query
from service.store import TIMERS_CHANNEL, Connection

REPLAN_KEY = "replan"


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/regions/{region}/reminder-policy", get_region_policy)
    app.router.add_put("/v1/regions/{region}/reminder-policy", put_region_policy)
    app.router.add_get("/v1/cases/{case_id}/reminder-policy", get_case_policy)
    app.router.add_put("/v1/cases/{case_id}/reminder-policy", put_case_policy)


def _region(request: web.Request, principal: Principal) -> str:
    region = request.match_info["region"]
    # Only a region a case can name: `default` is the file the regions inherit from, and an override
    # stored under its name would apply to no case at all.
    if region not in runtime(request).rulebook.names():
        raise Problem(404, "not-found", "no region with this name")
    if principal.role != "admin" and EVERYTHING not in principal.regions and region not in principal.regions:
        raise Problem(404, "not-found", "no region with this name")
    return region


async def _case_region(request: web.Request, principal: Principal) -> tuple[str, str, CaseRef]:
    case_id = request.match_info["case_id"]
    row = await runtime(request).pool.fetchrow(
        f"select {CASE_COLUMNS} from cases where case_id = $1", case_id
    )
    if row is None or not principal.sees(row["region"], row["organisations"], row["integration_id"]):
        raise Problem(404, "not-found", "no case with this id")
    return case_id, row["region"], case_ref(case_id, row)


def _answer(rt: Runtime, region: str, overrides: PolicyOverrides, case_id: str | None = None) -> web.Response:
    resolved = resolve(rt.rulebook.region(region), overrides)
    about = {"region": region} if case_id is None else {"case_id": case_id, "region": region}
    return web.json_response(
        {
            **about,
            "policy": resolved.policy.model_dump(mode="json"),
            "region_override": overrides.region or {},
            "case_override": overrides.case or {},
            "ignored": list(resolved.ignored),
        }
    )


async def get_region_policy(request: web.Request) -> web.Response:
    principal = await authorize(request, "coordinator", "auditor")
    refuse_query(request.query)
    region = _region(request, principal)
    rt = runtime(request)
    async with rt.pool.acquire() as connection:
        override = await policies.read_override(connection, "region", region)
    return _answer(rt, region, PolicyOverrides(region=override))


async def put_region_policy(request: web.Request) -> web.Response:
    principal = await authorize(request, "coordinator")
    region = _region(request, principal)
    rt = runtime(request)
    override = _checked(rule_defaults(rt.rulebook.region(region)), await _body(request))
    now = await rt.clock.now()
    async with rt.pool.acquire() as connection, connection.transaction():
        await policies.write_override(connection, "region", region, override, principal.token_id, now)
        affected = "select case_id from cases where region = $1 and status = 'open'"
        changed = [row["case_id"] for row in await connection.fetch(affected, region)]
        await _replan(connection, affected, region, now)
        # The change reaches every open case of the region: each is changed by this person.
        await record_cases(connection, now, actor_of(principal), "change", "api", changed)
    return _answer(rt, region, PolicyOverrides(region=override))


async def get_case_policy(request: web.Request) -> web.Response:
    principal = await authorize(request, "coordinator", "auditor")
    refuse_query(request.query)
    case_id, region, case = await _case_region(request, principal)
    rt = runtime(request)
    entry = Entry(await rt.clock.now(), actor_of(principal), "read", "api", case)
    async with rt.pool.acquire() as connection, connection.transaction():
        overrides = await policies.overrides_for(connection, region, case_id)
        await record(connection, entry)
    return _answer(rt, region, overrides, case_id)


async def put_case_policy(request: web.Request) -> web.Response:
    principal = await authorize(request, "coordinator")
    case_id, region, case = await _case_region(request, principal)
    rt = runtime(request)
    body = await _body(request)
    now = await rt.clock.now()
    async with rt.pool.acquire() as connection, connection.transaction():
        current = await policies.overrides_for(connection, region, case_id)
        base = deep_merge(rule_defaults(rt.rulebook.region(region)), current.region or {})
        override = _checked(base, body)
        await policies.write_override(connection, "case", case_id, override, principal.token_id, now)
        await _replan(
            connection, "select case_id from cases where case_id = $1 and status = 'open'", case_id, now
        )
        await record(connection, Entry(now, actor_of(principal), "change", "api", case))
    return _answer(rt, region, PolicyOverrides(region=current.region, case=override), case_id)


async def _body(request: web.Request) -> object:
    if request.content_type != "application/json":
        raise Problem(415, "unsupported-media-type", "send the policy as application/json")
    try:
        return parse_json(await request.read())
    except JsonInputError as exc:
        raise invalid_fields("invalid-json", "body", [FieldError(loc=[], msg=str(exc))]) from None


def _checked(base: dict[str, Any], body: object) -> dict[str, Any]:
    try:
        return check_override(base, body)
    except InvalidPolicy as exc:
        raise Problem(
            422,
            "invalid-policy",
            f"the policy has {len(exc.errors)} error(s); nothing was changed",
            errors=[error.as_json() for error in exc.errors],
        ) from None


async def _replan(connection: Connection, cases_query: str, subject: str, now: datetime) -> None:
    """A `replan` timer due now for every case the query finds; one already pending is moved to now."""
    await connection.execute(
        "insert into timers (case_id, key, kind, due_at, payload, created_at, updated_at)"
        f" select case_id, $2, 'replan', $3, '{{}}', $3, $3 from ({cases_query}) as affected"
        " on conflict (case_id, key) do update set state = 'scheduled', due_at = excluded.due_at,"
        " attempts = 0, last_error = null, lease_owner = null, lease_until = null,"
        " updated_at = excluded.updated_at",
        subject,
        REPLAN_KEY,
        now,
    )
    await connection.execute("select pg_notify($1, '')", TIMERS_CHANNEL)
