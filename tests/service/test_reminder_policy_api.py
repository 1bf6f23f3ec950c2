"""Reminder policies over HTTP: who may read and set them, every error of a bad one at once, and a change
that reaches the open cases (their reminders and deadlines) through the replan timer."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse

from service import access
from tests import samples
from tests.service.harness import ADMIN_TOKEN, Service, service_settings, started

BLEKINGE_CASE = "blek-2026-0042"
HALLAND_CASE = "hall-2026-0007"
REGION_POLICY = "/v1/regions/blekinge/reminder-policy"
CASE_POLICY = f"/v1/cases/{BLEKINGE_CASE}/reminder-policy"
ANSWER_FIELDS = {"region", "policy", "region_override", "case_override", "ignored"}


@pytest.fixture
async def service(database_url: str, tmp_path: Path) -> AsyncIterator[Service]:
    async with started(service_settings(database_url, tmp_path)) as running_service:
        yield running_service


async def get(service: Service, path: str, token: str = ADMIN_TOKEN) -> ClientResponse:
    return await service.client.get(path, headers={"Authorization": f"Bearer {token}"})


async def put(service: Service, path: str, body: object, token: str = ADMIN_TOKEN) -> ClientResponse:
    # Encoded here: aiohttp's `json=None` would send no body at all rather than `null`.
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return await service.client.put(path, data=json.dumps(body).encode(), headers=headers)


async def integration_token(service: Service) -> str:
    """A token of the default integration (the one whose secret signs the test events)."""
    async with service.runtime.pool.acquire() as connection:
        issued = await access.create_token(
            connection,
            role="integration",
            regions=["*"],
            organisations=["*"],
            integration_id=access.DEFAULT_INTEGRATION,
            label="test",
            now=datetime.now(UTC),
        )
    return issued.token


async def read(service: Service, path: str, token: str = ADMIN_TOKEN) -> dict[str, Any]:
    response = await get(service, path, token)
    assert response.status == 200, await response.text()
    answer: dict[str, Any] = await response.json()
    return answer


async def open_case(service: Service, case_id: str = BLEKINGE_CASE, region: str = "blekinge") -> None:
    """A case with consent and a meeting on 2026-12-17 whose invitations leave at once (2026-11-23)."""
    for body in (
        samples.case_opened(case_id, region=region),
        samples.consent_given(case_id),
        samples.meeting_scheduled(case_id),
    ):
        response = await service.push(body)
        assert response.status == 202, await response.text()
    await service.settle()
    await service.post_letters()
    await service.settle()


async def case_state(service: Service, case_id: str = BLEKINGE_CASE) -> dict[str, Any]:
    response = await service.case(case_id)
    assert response.status == 200, await response.text()
    case: dict[str, Any] = await response.json()
    return case


def reminders(case: dict[str, Any], kind: str) -> list[tuple[str, datetime, str]]:
    """(to, due_at, status) of the case's reminders of one kind, in recipient order."""
    return sorted(
        (reminder["to"], datetime.fromisoformat(reminder["due_at"]), reminder["status"])
        for reminder in case["reminders"]
        if reminder["kind"] == kind
    )


def deadline(case: dict[str, Any], kind: str) -> tuple[str, str]:
    """(due, rule) of the case's one deadline of a kind."""
    [found] = [(d["due"], d["rule"]) for d in case["deadlines"] if d["kind"] == kind]
    return found


async def rsvp_timers(service: Service, case_id: str = BLEKINGE_CASE) -> set[datetime]:
    """When the case's armed RSVP reminder timers are due."""
    rows = await service.runtime.pool.fetch(
        "select due_at from timers where case_id = $1 and key like 'reminder:rsvp:%' and state = 'scheduled'",
        case_id,
    )
    return {row["due_at"] for row in rows}


async def stored_overrides(service: Service) -> list[tuple[str, str, Any]]:
    rows = await service.runtime.pool.fetch(
        "select scope, subject, override from reminder_policies order by scope, subject"
    )
    return [(row["scope"], row["subject"], row["override"]) for row in rows]


async def assert_problem(response: ClientResponse, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    problem: dict[str, Any] = await response.json()
    assert problem["status"] == status
    return problem


# --- region policies ------------------------------------------------------------------------------------


async def test_a_region_policy_reads_back_with_the_rule_files_numbers(service: Service) -> None:
    coordinator = await service.token("coordinator", ["blekinge"], ["*"])
    auditor = await service.token("auditor", ["blekinge"], ["*"])
    answer = await read(service, REGION_POLICY, coordinator)
    assert set(answer) == ANSWER_FIELDS
    assert (answer["region"], answer["region_override"], answer["case_override"], answer["ignored"]) == (
        "blekinge",
        {},
        {},
        [],
    )
    policy = answer["policy"]
    assert policy["working_hours"] == {"start": "08:00:00", "end": "17:00:00"}
    assert policy["rsvp"]["after"] == {"days": 7, "counting": "calendar"}
    assert policy["escalation"]["before_meeting"] == {"days": 3, "counting": "working"}
    assert policy["followup_call"]["lead"] == {"days": 5, "counting": "working"}
    assert policy["consent_expiry"]["lead"] == {"days": 14, "counting": "calendar"}
    assert policy["turns_18"]["lead"] == {"days": 30, "counting": "calendar"}
    assert policy["action_due"]["lead"] == {"days": 2, "counting": "working"}
    # Auditors and admins read the same answer.
    assert await read(service, REGION_POLICY, auditor) == answer
    assert await read(service, REGION_POLICY) == answer


async def test_a_region_override_is_stored_shown_and_removed(service: Service) -> None:
    coordinator = await service.token("coordinator", ["blekinge"], ["*"])
    override = {"rsvp": {"max_reminders": 1, "after": {"days": 4}}, "working_hours": {"start": "09:00"}}
    response = await put(service, REGION_POLICY, override, coordinator)
    assert response.status == 200, await response.text()
    assert (await response.json())["region_override"] == override
    answer = await read(service, REGION_POLICY, coordinator)
    assert answer["region_override"] == override
    assert answer["policy"]["rsvp"]["max_reminders"] == 1
    assert answer["policy"]["rsvp"]["after"] == {"days": 4, "counting": "calendar"}
    assert answer["policy"]["working_hours"] == {"start": "09:00:00", "end": "17:00:00"}
    assert await stored_overrides(service) == [("region", "blekinge", override)]
    # Another region is untouched.
    halland = await read(service, "/v1/regions/halland/reminder-policy")
    assert (halland["region_override"], halland["policy"]["rsvp"]["max_reminders"]) == ({}, 2)

    response = await put(service, REGION_POLICY, {}, coordinator)
    assert response.status == 200, await response.text()
    answer = await read(service, REGION_POLICY, coordinator)
    assert answer["region_override"] == {}
    assert answer["policy"]["rsvp"]["max_reminders"] == 2
    assert answer["policy"]["working_hours"]["start"] == "08:00:00"
    assert await stored_overrides(service) == []


async def test_a_put_replaces_the_whole_override(service: Service) -> None:
    await put(service, REGION_POLICY, {"rsvp": {"max_reminders": 1}})
    await put(service, REGION_POLICY, {"turns_18": {"enabled": False}})
    answer = await read(service, REGION_POLICY)
    assert answer["region_override"] == {"turns_18": {"enabled": False}}
    assert answer["policy"]["rsvp"]["max_reminders"] == 2


async def test_only_coordinators_and_admins_change_a_policy(service: Service) -> None:
    auditor = await service.token("auditor", ["*"], ["*"])
    integration = await integration_token(service)
    await open_case(service)
    for path in (REGION_POLICY, CASE_POLICY):
        await assert_problem(await put(service, path, {"rsvp": {"max_reminders": 1}}, auditor), 403)
        await assert_problem(await put(service, path, {"rsvp": {"max_reminders": 1}}, integration), 403)
        await assert_problem(await get(service, path, integration), 403)
        await assert_problem(await service.client.get(path), 401)
        await assert_problem(await service.client.put(path, json={}), 401)
    assert await stored_overrides(service) == []
    for path in (REGION_POLICY, CASE_POLICY):
        assert (await put(service, path, {"rsvp": {"max_reminders": 1}})).status == 200


async def test_an_invalid_policy_lists_every_error_and_changes_nothing(service: Service) -> None:
    await open_case(service)
    invalid = {
        "rsvp": {"after": {"days": -2, "counting": "weekly"}, "max_reminders": 11, "repeat_every_days": 0},
        "working_hours": {"start": "25:00"},
        "escalation": "soon",
        "colour": "red",
    }
    locations = {
        "rsvp.after.days",
        "rsvp.after.counting",
        "rsvp.max_reminders",
        "rsvp.repeat_every_days",
        "working_hours.start",
        "escalation",
        "",  # the unknown field, reported at the policy that holds it: its name is not repeated
    }
    problem = await assert_problem(await put(service, REGION_POLICY, invalid), 422)
    assert {error["location"] for error in problem["errors"]} == locations
    assert len(problem["errors"]) == len(locations)
    assert all(set(error) == {"location", "message"} and error["message"] for error in problem["errors"])
    # Nothing stored, and no case was sent to be replanned.
    assert await stored_overrides(service) == []
    assert await service.runtime.pool.fetchval("select count(*) from timers where kind = 'replan'") == 0

    # Over a valid override, an invalid one leaves the valid one in force.
    assert (await put(service, REGION_POLICY, {"rsvp": {"max_reminders": 1}})).status == 200
    before = await read(service, REGION_POLICY)
    await assert_problem(await put(service, REGION_POLICY, invalid), 422)
    assert await read(service, REGION_POLICY) == before

    # The same for a case's own override.
    problem = await assert_problem(await put(service, CASE_POLICY, invalid), 422)
    assert {error["location"] for error in problem["errors"]} == locations
    assert (await read(service, CASE_POLICY))["case_override"] == {}


@pytest.mark.parametrize("body", [[], "rsvp", 7, None])
async def test_a_policy_that_is_not_an_object_is_refused(service: Service, body: object) -> None:
    problem = await assert_problem(await put(service, REGION_POLICY, body), 422)
    assert problem["errors"] == [{"location": "", "message": "a policy override is a JSON object"}]


async def test_a_body_that_is_not_json_is_refused(service: Service) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    plain = await service.client.put(
        REGION_POLICY, data=b"{}", headers={**headers, "Content-Type": "text/plain"}
    )
    await assert_problem(plain, 415)
    broken = await service.client.put(
        REGION_POLICY, data=b'{"rsvp": ', headers={**headers, "Content-Type": "application/json"}
    )
    await assert_problem(broken, 400)
    assert await stored_overrides(service) == []


@pytest.mark.parametrize("region", ["varmland", "default", "BLEKINGE", "blekinge.toml"])
async def test_a_region_without_a_rule_file_is_not_found(service: Service, region: str) -> None:
    # `default` has a file, but it is what regions inherit from; no case can name it.
    path = f"/v1/regions/{region}/reminder-policy"
    await assert_problem(await get(service, path), 404)
    await assert_problem(await put(service, path, {"rsvp": {"max_reminders": 1}}), 404)
    assert await stored_overrides(service) == []


async def test_a_region_outside_the_tokens_scope_is_not_found(service: Service) -> None:
    halland = await service.token("coordinator", ["halland"], ["*"])
    auditor = await service.token("auditor", ["halland"], ["*"])
    # The same answer as for a region that does not exist: scope does not leak which regions do.
    for token in (halland, auditor):
        await assert_problem(await get(service, REGION_POLICY, token), 404)
    await assert_problem(await put(service, REGION_POLICY, {"rsvp": {"max_reminders": 1}}, halland), 404)
    assert await stored_overrides(service) == []
    assert (await get(service, "/v1/regions/halland/reminder-policy", halland)).status == 200


# --- case policies --------------------------------------------------------------------------------------


async def test_a_case_policy_is_scoped_like_its_case(service: Service) -> None:
    await open_case(service)
    blekinge = await service.token("coordinator", ["blekinge"], ["*"])
    halland = await service.token("coordinator", ["halland"], ["*"])
    other_organisation = await service.token("coordinator", ["blekinge"], ["Annan kommun"])
    auditor = await service.token("auditor", ["blekinge"], ["*"])

    answer = await read(service, CASE_POLICY, blekinge)
    assert set(answer) == {*ANSWER_FIELDS, "case_id"}
    assert (answer["case_id"], answer["region"], answer["case_override"]) == (BLEKINGE_CASE, "blekinge", {})
    assert await read(service, CASE_POLICY, auditor) == answer

    for token in (halland, other_organisation):
        await assert_problem(await get(service, CASE_POLICY, token), 404)
        await assert_problem(await put(service, CASE_POLICY, {"rsvp": {"max_reminders": 1}}, token), 404)
    await assert_problem(await get(service, "/v1/cases/no-such-case/reminder-policy"), 404)
    await assert_problem(await put(service, "/v1/cases/no-such-case/reminder-policy", {}), 404)
    assert await stored_overrides(service) == []

    override = {"rsvp": {"max_reminders": 1}}
    response = await put(service, CASE_POLICY, override, blekinge)
    assert response.status == 200, await response.text()
    answer = await read(service, CASE_POLICY, auditor)
    assert (answer["case_override"], answer["policy"]["rsvp"]["max_reminders"]) == (override, 1)
    # A case's override is its own: the region reads as before.
    assert (await read(service, REGION_POLICY))["policy"]["rsvp"]["max_reminders"] == 2
    assert await stored_overrides(service) == [("case", BLEKINGE_CASE, override)]

    assert (await put(service, CASE_POLICY, {}, blekinge)).status == 200
    assert (await read(service, CASE_POLICY))["case_override"] == {}
    assert await stored_overrides(service) == []


async def test_a_case_override_stands_on_its_regions_and_is_ignored_when_it_no_longer_fits(
    service: Service,
) -> None:
    await open_case(service)
    late_start = {"working_hours": {"start": "18:00"}}
    # Under the rule files' 17:00 end of day, an 18:00 start is no working day at all.
    problem = await assert_problem(await put(service, CASE_POLICY, late_start), 422)
    assert [error["location"] for error in problem["errors"]] == ["working_hours"]

    assert (await put(service, REGION_POLICY, {"working_hours": {"end": "20:00"}})).status == 200
    assert (await put(service, CASE_POLICY, late_start)).status == 200
    answer = await read(service, CASE_POLICY)
    assert answer["region_override"] == {"working_hours": {"end": "20:00"}}
    assert answer["policy"]["working_hours"] == {"start": "18:00:00", "end": "20:00:00"}
    assert answer["ignored"] == []

    # The region goes back to 17:00: the case's start no longer fits, is shown as ignored, and warned of.
    assert (await put(service, REGION_POLICY, {})).status == 200
    await service.settle()
    answer = await read(service, CASE_POLICY)
    assert answer["ignored"] == ["case"]
    assert answer["case_override"] == late_start
    assert answer["policy"]["working_hours"] == {"start": "08:00:00", "end": "17:00:00"}
    warnings = [warning["kind"] for warning in (await case_state(service))["warnings"]]
    assert "reminder_policy_ignored" in warnings


# --- a policy changes what happens ----------------------------------------------------------------------


async def test_a_case_override_moves_its_rsvp_reminders_and_deadline(service: Service) -> None:
    await open_case(service)
    await open_case(service, "blek-2026-0043")
    before = await case_state(service)
    # Invitations left on Monday 2026-11-23: e-mail reminders 7 calendar days later, at 08:00.
    monday = datetime.fromisoformat("2026-11-30T08:00:00+01:00")
    assert reminders(before, "rsvp") == [
        ("asa.oberg@example.org", monday, "scheduled"),
        ("sam@example.se", monday, "scheduled"),
    ]
    # The letter arrives two working days later (Wednesday): its answer is due the next Wednesday.
    assert deadline(before, "rsvp_due") == ("2026-12-02", "default.rsvp_after")

    override = {"rsvp": {"after": {"days": 2, "counting": "calendar"}}}
    response = await put(service, CASE_POLICY, override)
    assert response.status == 200, await response.text()
    await service.settle()

    after = await case_state(service)
    wednesday = datetime.fromisoformat("2026-11-25T08:00:00+01:00")
    assert reminders(after, "rsvp") == [
        ("asa.oberg@example.org", wednesday, "scheduled"),
        ("sam@example.se", wednesday, "scheduled"),
    ]
    assert all(due < monday for _, due, _ in reminders(after, "rsvp"))
    # Two calendar days after each arrival: the letter's (Wednesday) is the last, on Friday.
    assert deadline(after, "rsvp_due") == ("2026-11-27", "reminder_policy.rsvp_after")
    # The timers follow the reminders, so they leave on the new day.
    assert await rsvp_timers(service) == {wednesday}
    # The other case of the region keeps the region's policy.
    other = await case_state(service, "blek-2026-0043")
    assert reminders(other, "rsvp") == reminders(before, "rsvp")
    assert deadline(other, "rsvp_due") == ("2026-12-02", "default.rsvp_after")


async def test_a_region_override_switching_rsvp_off_cancels_its_open_cases_reminders(
    service: Service,
) -> None:
    await open_case(service)
    await open_case(service, HALLAND_CASE, "halland")
    halland_before = await case_state(service, HALLAND_CASE)
    assert {status for _, _, status in reminders(await case_state(service), "rsvp")} == {"scheduled"}
    assert {status for _, _, status in reminders(halland_before, "rsvp")} == {"scheduled"}

    coordinator = await service.token("coordinator", ["blekinge"], ["*"])
    response = await put(service, REGION_POLICY, {"rsvp": {"enabled": False}}, coordinator)
    assert response.status == 200, await response.text()
    await service.settle()

    blekinge = await case_state(service)
    assert len(reminders(blekinge, "rsvp")) == 2
    assert {status for _, _, status in reminders(blekinge, "rsvp")} == {"cancelled"}
    # Only the rsvp kind is off: the consent reminder stays.
    assert {status for _, _, status in reminders(blekinge, "consent_expiry")} == {"scheduled"}
    assert await rsvp_timers(service) == set()
    # Another region's case is left as it was.
    assert reminders(await case_state(service, HALLAND_CASE), "rsvp") == reminders(halland_before, "rsvp")

    # Removing the override brings the reminders back.
    assert (await put(service, REGION_POLICY, {}, coordinator)).status == 200
    await service.settle()
    assert {status for _, _, status in reminders(await case_state(service), "rsvp")} == {"scheduled"}
