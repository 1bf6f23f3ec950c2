"""Påminnelser: the reminder policy of a region (`/app/regions/{region}/reminder-policy`) and of a case
(`/app/cases/{case_id}/reminder-policy`) as a form.

Reading and saving go through the API's own functions (`service.policies_api`), so the form is checked
exactly as a PUT is and re-plans the same open cases. Coordinators and admins in scope may change a
policy; auditors see it read-only. Each page reads its case in one function (`_read_case`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiohttp import web

from config.reminder_policy import InvalidPolicy, PolicyOverrides, resolve
from service.access import Principal, Role
from service.context import Runtime, runtime
from service.http import policies_api
from service.web import policy_form
from service.web.policy_form import COUNTING_NAMES, GROUPS, LAYER_NAMES
from service.web.scope import forbidden, principal, region_choices
from service.web.templating import render

CHANGERS: tuple[Role, ...] = ("coordinator",)
RESET = "aterstall"


@dataclass(frozen=True)
class Subject:
    """Whose policy a page shows: a region's, or one case's (then with its region)."""

    region: str
    case_id: str | None = None
    case_open: bool = False

    @property
    def path(self) -> str:
        if self.case_id is None:
            return f"/app/regions/{self.region}/reminder-policy"
        return f"/app/cases/{quote(self.case_id, safe='')}/reminder-policy"


async def _read_case(rt: Runtime, who: Principal, case_id: str) -> Subject | None:
    """The case the page is about, if the user sees it: the one read of a case on these pages."""
    row = await rt.pool.fetchrow(
        "select region, status, organisations, integration_id from cases where case_id = $1", case_id
    )
    if row is None or not who.sees(row["region"], row["organisations"], row["integration_id"]):
        return None
    return Subject(row["region"], case_id, row["status"] == "open")


async def _subject(request: web.Request, who: Principal) -> Subject:
    rt = runtime(request)
    if "case_id" in request.match_info:
        found = await _read_case(rt, who, request.match_info["case_id"])
        if found is None:
            raise web.HTTPNotFound()
        return found
    region = request.match_info["region"]
    if not policies_api.region_in_scope(rt, who, region):
        raise web.HTTPNotFound()
    return Subject(region)


async def _overrides(rt: Runtime, who: Principal, subject: Subject) -> PolicyOverrides:
    if subject.case_id is None:
        return await policies_api.region_overrides(rt, subject.region)
    return await policies_api.case_overrides(rt, who, subject.region, subject.case_id, "web")


async def _open_cases(rt: Runtime, subject: Subject) -> int:
    """How many open cases a change here re-plans."""
    if subject.case_id is not None:
        return 1 if subject.case_open else 0
    count: int = await rt.pool.fetchval(
        "select count(*) from cases where region = $1 and status = 'open'", subject.region
    )
    return count


def _below(rt: Runtime, subject: Subject, overrides: PolicyOverrides) -> dict[str, Any]:
    """The policy the layers under this page's give, as JSON."""
    rules = rt.rulebook.region(subject.region)
    under = PolicyOverrides(region=overrides.region) if subject.case_id else PolicyOverrides()
    return resolve(rules, under).policy.model_dump(mode="json")


async def _page(
    request: web.Request,
    who: Principal,
    subject: Subject,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    other_errors: list[str] | None = None,
    status: int = 200,
) -> web.Response:
    rt = runtime(request)
    overrides = await _overrides(rt, principal(request), subject)
    resolved = resolve(rt.rulebook.region(subject.region), overrides)
    region_layer = None if "region" in resolved.ignored else overrides.region
    case_layer = None if "case" in resolved.ignored else overrides.case
    own = overrides.case if subject.case_id else overrides.region
    replanned = request.query.get("omplanerade", "")
    return render(
        request,
        "reminder_policy.html",
        status=status,
        title="Påminnelser",
        subject=subject,
        region_name=rt.rulebook.region(subject.region).display_name,
        groups=GROUPS,
        values=values or policy_form.form_values(resolved.policy.model_dump(mode="json")),
        layers={
            field.name: LAYER_NAMES[policy_form.layer_of(field, region_layer, case_layer)]
            for group in GROUPS
            for field in group.fields
        },
        counting_names=COUNTING_NAMES,
        errors=errors or {},
        other_errors=other_errors or [],
        ignored=resolved.ignored,
        has_own=bool(own),
        may_change=who.may(*CHANGERS),
        open_cases=await _open_cases(rt, subject),
        saved=int(replanned) if replanned.isdigit() else None,
        reset=RESET,
    )


async def show_policy(request: web.Request) -> web.Response:
    who = principal(request)
    return await _page(request, who, await _subject(request, who))


async def save_policy(request: web.Request) -> web.Response:
    who = principal(request)
    subject = await _subject(request, who)
    if not who.may(*CHANGERS):
        return forbidden(request, "Granskare kan läsa påminnelsepolicyn men inte ändra den.")
    rt = runtime(request)
    form = {key: value for key, value in (await request.post()).items() if isinstance(value, str)}
    overrides = await _overrides(rt, who, subject)
    override = {} if RESET in form else policy_form.override_from_form(form, _below(rt, subject, overrides))
    try:
        if subject.case_id is None:
            saved = await policies_api.save_region_policy(rt, who, subject.region, override, "web")
        else:
            saved = await policies_api.save_case_policy(
                rt, who, subject.region, subject.case_id, override, "web"
            )
    except InvalidPolicy as exc:
        at_fields, elsewhere = policy_form.errors_by_field(exc.errors)
        return await _page(
            request, who, subject, values=form, errors=at_fields, other_errors=elsewhere, status=422
        )
    raise web.HTTPSeeOther(f"{subject.path}?omplanerade={saved.replanned}")


async def policy_index(request: web.Request) -> web.Response:
    who = principal(request)
    return render(
        request, "reminder_policy_index.html", title="Påminnelser", choices=region_choices(request, who)
    )


async def find_case(request: web.Request) -> web.Response:
    """The index page's case field (a GET form, so it works without script) leads to the case's page."""
    principal(request)
    case_id = request.query.get("case_id", "").strip()
    if not case_id:
        raise web.HTTPSeeOther("/app/reminder-policy")
    raise web.HTTPSeeOther(f"/app/cases/{quote(case_id, safe='')}/reminder-policy")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/reminder-policy", policy_index)
    app.router.add_get("/reminder-policy/case", find_case)
    app.router.add_get("/regions/{region}/reminder-policy", show_policy)
    app.router.add_post("/regions/{region}/reminder-policy", save_policy)
    app.router.add_get("/cases/{case_id}/reminder-policy", show_policy)
    app.router.add_post("/cases/{case_id}/reminder-policy", save_policy)
