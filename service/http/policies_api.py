"""Reminder policies through the API: `GET|PUT /v1/regions/{region}/reminder-policy` and
`GET|PUT /v1/cases/{case_id}/reminder-policy`.

A PUT replaces that level's override (a partial policy; `{}` removes it) after checking it on top of the
levels under it, and lists every error at once. The change reaches the cases at once: every open case of
the region (or the one case) gets a `replan` timer due now, which recomputes its reminders and escalations
under the new policy in the timer worker, under the case's lock, like any other change.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime

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
from service.access import EVERYTHING, Principal
from service.audit.record import Channel, actor_of, record_cases
from service.context import Runtime, runtime
from service.http.api import authorize
from service.http.json_input import JsonInputError, parse_json
from service.http.problems import Problem, invalid_fields
from service.http.query import refuse_query
from service.storage import policies
from service.storage.store import TIMERS_CHANNEL, Connection

REPLAN_KEY = "replan"


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/regions/{region}/reminder-policy", get_region_policy)
    app.router.add_put("/v1/regions/{region}/reminder-policy", put_region_policy)
    app.router.add_get("/v1/cases/{case_id}/reminder-policy", get_case_policy)
    app.router.add_put("/v1/cases/{case_id}/reminder-policy", put_case_policy)


def region_in_scope(rt: Runtime, principal: Principal, region: str) -> bool:
    """Whether the region has a policy this principal may see. Only a region a case can name: `default` is
    the file the regions inherit from, and an override stored under its name would apply to no case."""
    if region not in rt.rulebook.names():
        return False
    return principal.role == "admin" or EVERYTHING in principal.regions or region in principal.regions


async def case_region(rt: Runtime, principal: Principal, case_id: str) -> str | None:
    """The region of a case the principal sees; None for one it does not (as if there were none)."""
    row = await rt.pool.fetchrow(
        "select region, organisations, integration_id from cases where case_id = $1", case_id
    )
    if row is None or not principal.sees(row["region"], row["organisations"], row["integration_id"]):
        return None
    region: str = row["region"]
    return region


async def region_overrides(rt: Runtime, region: str) -> PolicyOverrides:
    async with rt.pool.acquire() as connection:
        return PolicyOverrides(region=await policies.read_override(connection, "region", region))


async def case_overrides(
    rt: Runtime, principal: Principal, region: str, case_id: str, channel: Channel
) -> PolicyOverrides:
    """The case's policy layers; showing them is a read of the case, logged in the same transaction."""
    async with rt.pool.acquire() as connection, connection.transaction():
        overrides = await policies.overrides_for(connection, region, case_id)
        await record_cases(connection, await rt.clock.now(), actor_of(principal), "read", channel, [case_id])
    return overrides


@dataclass(frozen=True)
class Saved:
    overrides: PolicyOverrides
    # Open cases given a `replan` timer by the change.
    replanned: int


async def save_region_policy(
    rt: Runtime, principal: Principal, region: str, body: object, channel: Channel
) -> Saved:
    """Check the override on top of the rule files and store it, re-planning the region's open cases;
    `InvalidPolicy` lists every error, and then nothing is changed."""
    override = check_override(rule_defaults(rt.rulebook.region(region)), body)
    now = await rt.clock.now()
    async with rt.pool.acquire() as connection, connection.transaction():
        await policies.write_override(connection, "region", region, override, principal.token_id, now)
        affected = "select case_id from cases where region = $1 and status = 'open'"
        changed = [row["case_id"] for row in await connection.fetch(affected, region)]
        replanned = await _replan(connection, affected, region, now)
        # The change reaches every open case of the region: each is changed by this person.
        await record_cases(connection, now, actor_of(principal), "change", channel, changed)
    return Saved(PolicyOverrides(region=override), replanned)


async def save_case_policy(
    rt: Runtime, principal: Principal, region: str, case_id: str, body: object, channel: Channel
) -> Saved:
    """The same for one case, checked on top of its region's override."""
    now = await rt.clock.now()
    async with rt.pool.acquire() as connection, connection.transaction():
        current = await policies.overrides_for(connection, region, case_id)
        base = deep_merge(rule_defaults(rt.rulebook.region(region)), current.region or {})
        override = check_override(base, body)
        await policies.write_override(connection, "case", case_id, override, principal.token_id, now)
        replanned = await _replan(
            connection, "select case_id from cases where case_id = $1 and status = 'open'", case_id, now
        )
        await record_cases(connection, now, actor_of(principal), "change", channel, [case_id])
    return Saved(PolicyOverrides(region=current.region, case=override), replanned)


def _region(request: web.Request, principal: Principal) -> str:
    region = request.match_info["region"]
    if not region_in_scope(runtime(request), principal, region):
        raise Problem(404, "not-found", "no region with this name")
    return region


async def _case_region(request: web.Request, principal: Principal) -> tuple[str, str]:
    case_id = request.match_info["case_id"]
    region = await case_region(runtime(request), principal, case_id)
    if region is None:
        raise Problem(404, "not-found", "no case with this id")
    return case_id, region


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
    return _answer(rt, region, await region_overrides(rt, region))


async def put_region_policy(request: web.Request) -> web.Response:
    principal = await authorize(request, "coordinator")
    region = _region(request, principal)
    rt = runtime(request)
    saved = await _checked(save_region_policy(rt, principal, region, await _body(request), "api"))
    return _answer(rt, region, saved.overrides)


async def get_case_policy(request: web.Request) -> web.Response:
    principal = await authorize(request, "coordinator", "auditor")
    refuse_query(request.query)
    case_id, region = await _case_region(request, principal)
    rt = runtime(request)
    return _answer(rt, region, await case_overrides(rt, principal, region, case_id, "api"), case_id)


async def put_case_policy(request: web.Request) -> web.Response:
    principal = await authorize(request, "coordinator")
    case_id, region = await _case_region(request, principal)
    rt = runtime(request)
    saved = await _checked(save_case_policy(rt, principal, region, case_id, await _body(request), "api"))
    return _answer(rt, region, saved.overrides, case_id)


async def _body(request: web.Request) -> object:
    if request.content_type != "application/json":
        raise Problem(415, "unsupported-media-type", "send the policy as application/json")
    try:
        return parse_json(await request.read())
    except JsonInputError as exc:
        raise invalid_fields("invalid-json", "body", [FieldError(loc=[], msg=str(exc))]) from None


async def _checked(saving: Awaitable[Saved]) -> Saved:
    try:
        return await saving
    except InvalidPolicy as exc:
        raise Problem(
            422,
            "invalid-policy",
            f"the policy has {len(exc.errors)} error(s); nothing was changed",
            errors=[error.as_json() for error in exc.errors],
        ) from None


async def _replan(connection: Connection, cases_query: str, subject: str, now: datetime) -> int:
    """A `replan` timer due now for every case the query finds (one already pending is moved to now);
    how many cases that is."""
    status: str = await connection.execute(
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
    return int(status.rsplit(" ", 1)[1])
