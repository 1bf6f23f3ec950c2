"""GET /v1/deviations and GET /v1/reports/summary: scope, filters, pagination, validation, yearly counts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import pytest

from scheduler.case import Case, ContactInfo, Deviation, DeviationKind
from scheduler.effects import RecordDeviation
from service import access
from service.storage import store
from tests import samples
from tests.scheduler.builders import add_meeting, make_case
from tests.service.harness import ADMIN_TOKEN, Service, service_settings, started

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture
async def service(database_url: str, tmp_path: Path) -> AsyncIterator[Service]:
    async with started(service_settings(database_url, tmp_path)) as running_service:
        yield running_service


async def read(service: Service, path: str, token: str = ADMIN_TOKEN) -> tuple[int, Any]:
    response = await service.client.get(path, headers={"Authorization": f"Bearer {token}"})
    if response.content_type == "application/problem+json":
        return response.status, await response.json(content_type="application/problem+json")
    assert response.content_type == "application/json", response.content_type
    return response.status, await response.json()


async def listed(service: Service, query: str = "", token: str = ADMIN_TOKEN) -> list[str]:
    """The deviation ids one request lists (asserting it succeeds)."""
    status, body = await read(service, "/v1/deviations" + query, token)
    assert status == 200, body
    return [item["deviation_id"] for item in body["deviations"]]


async def summary(service: Service, year: int, token: str = ADMIN_TOKEN) -> dict[str, Any]:
    """The year's totals; its months (checked to add up to the totals) are in `summary_months`."""
    body = await summary_with_months(service, year, token)
    months = body.pop("months")
    assert [month["month"] for month in months] == list(range(1, 13))
    for name in ("cases_opened", "meetings_held", "followups_held"):
        assert sum(month[name] for month in months) == body[name], name
    assert sum(month["deviations"] for month in months) == sum(body["deviations"].values())
    assert sum(month["reportable_deviations"] for month in months) == sum(
        body["reportable_deviations"].values()
    )
    return body


async def summary_with_months(service: Service, year: int, token: str = ADMIN_TOKEN) -> dict[str, Any]:
    status, body = await read(service, f"/v1/reports/summary?region=vastra_gotaland&year={year}", token)
    assert status == 200, body
    assert isinstance(body, dict)
    return body


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- cases and deviations written straight into the store, for scope and boundaries -------------------


def stored_case(
    case_id: str,
    region: str = "vastra_gotaland",
    *,
    organisation: str = "Exempelkommun",
    integration_id: str = "default",
    opened_at: str = "2026-03-02T10:00:00+01:00",
    discharge_notice_at: str | None = None,
) -> Case:
    case = make_case(
        region,
        date(2026, 3, 1),
        discharge_notice_at=moment(discharge_notice_at) if discharge_notice_at else None,
    )
    coordinator = ContactInfo(
        name="Samordnare Exempel", email="samordnare@example.org", organisation=organisation
    )
    return case.model_copy(
        update={
            "case_id": case_id,
            "integration_id": integration_id,
            "opened_at": moment(opened_at),
            "coordinator": coordinator,
        }
    )


def meeting(
    case: Case,
    meeting_id: str,
    starts_at: str,
    kind: Literal["initial", "followup"] = "initial",
    status: Literal["scheduled", "held", "cancelled"] = "held",
) -> None:
    added = add_meeting(case, meeting_id, moment(starts_at), status=status)
    added.kind = kind
    added.organizer = case.coordinator  # keeps the case's organisations to its coordinator's


async def save(service: Service, *cases: Case) -> None:
    async with service.runtime.pool.acquire() as connection:
        for case in cases:
            await store.save_case(connection, case, NOW)


async def deviate(
    service: Service,
    case: Case,
    deviation_id: str,
    detected_at: str,
    kind: DeviationKind = "no_show",
    *,
    reportable: bool = False,
) -> None:
    """Record a deviation as the event processor does; the row carries the case's scope as it is now."""
    deviation = Deviation(
        deviation_id=deviation_id,
        kind=kind,
        detected_at=moment(detected_at),
        meeting_id="m1",
        rule=f"{case.region}.reported" if reportable else "default.escalation",
        reportable=reportable,
    )
    async with service.runtime.pool.acquire() as connection:
        await store.record_deviation(connection, case, RecordDeviation(deviation))


async def other_integration(service: Service) -> tuple[access.IssuedSecret, str]:
    """A second integration, and an integration token of it that is otherwise unscoped."""
    return await service.other_integration("annat")


# --- end to end through events ---------------------------------------------------------------------------


async def push_all(service: Service, *bodies: dict[str, Any]) -> None:
    for body in bodies:
        response = await service.push(body)
        assert response.status == 202, await response.text()


async def move_clock(service: Service, to: str) -> None:
    # Events are applied at the service's time: settle first, so they are not applied after the move.
    await service.settle()
    response = await service.client.post("/v1/test-clock", json={"now": to})
    assert response.status == 200, await response.text()


def everyone_accepts(scheduled: dict[str, Any], occurred_at: str) -> list[dict[str, Any]]:
    data = scheduled["data"]
    return [
        samples.responded(participant["participant_id"], "accepted", scheduled["case_id"], data["meeting_id"])
        | {"occurred_at": occurred_at}
        for participant in data["participants"]
    ]


def held(case_id: str, meeting_id: str, occurred_at: str, absent: list[str]) -> dict[str, Any]:
    return samples.event(
        "meeting.held",
        case_id,
        occurred_at=occurred_at,
        meeting_id=meeting_id,
        absent=absent,
        responsible={"name": "Kim Koordinator", "email": "kim@example.se", "organisation": "Testkommun"},
        actions=[],
    )


async def test_deviations_and_the_yearly_summary_follow_the_events(service: Service) -> None:
    first = samples.meeting_scheduled("vg-1", "m1")
    after_discharge = samples.meeting_scheduled("vg-2", "m1")
    # Starts on New Year's Eve in Stockholm (22:30 UTC) and ends in the next year: a 2026 follow-up.
    followup = samples.meeting_scheduled(
        "vg-1",
        "m2",
        kind="followup",
        starts_at="2026-12-31T23:30:00+01:00",
        ends_at="2027-01-01T00:30:00+01:00",
    )
    await push_all(
        service,
        samples.case_opened("vg-1", "vastra_gotaland"),
        samples.consent_given("vg-1"),
        first,
        *everyone_accepts(first, "2026-11-24T08:00:00+01:00"),
        samples.case_opened("vg-2", "vastra_gotaland", discharge_notice_at="2026-11-20T10:00:00+01:00"),
        samples.consent_given("vg-2"),
        after_discharge,
        *everyone_accepts(after_discharge, "2026-11-24T08:00:00+01:00"),
        samples.case_opened("blek-1", "blekinge"),
    )
    await move_clock(service, "2026-12-17T16:00:00+01:00")
    await push_all(
        service,
        # p-school accepted and did not come: a no_show.
        held("vg-1", "m1", "2026-12-17T15:00:00+01:00", ["p-school"]),
        held("vg-2", "m1", "2026-12-17T15:00:00+01:00", []),
        followup,
    )
    await move_clock(service, "2026-12-17T17:00:00+01:00")
    await push_all(service, *everyone_accepts(followup, "2026-12-17T17:00:00+01:00"))
    await move_clock(service, "2027-01-02T09:00:00+01:00")
    await push_all(service, held("vg-1", "m2", "2027-01-01T01:00:00+01:00", []))
    await service.settle()

    status, body = await read(service, "/v1/deviations")
    assert status == 200 and body["next"] is None
    [no_show] = body["deviations"]
    assert no_show == {
        "deviation_id": no_show["deviation_id"],
        "case_id": "vg-1",
        "region": "vastra_gotaland",
        "kind": "no_show",
        "detected_at": "2026-12-17T15:00:00Z",
        "meeting_id": "m1",
        "participant_id": "p-school",
        "action_id": None,
        # Västra Götaland names systematic absence an avvikelse, not one absence: sipvakt's escalation.
        "rule": "default.escalation",
        "reportable": False,
        "acknowledged_at": None,
        "acknowledged_by": None,
    }
    in_case = (await (await service.case("vg-1")).json())["deviations"]
    assert [deviation["deviation_id"] for deviation in in_case] == [no_show["deviation_id"]]
    # The absent school sees its deviation; an organisation the case never involved sees nothing.
    school = await service.token("coordinator", ["vastra_gotaland"], ["Testskolan"])
    stranger = await service.token("coordinator", ["vastra_gotaland"], ["Annan kommun"])
    assert await listed(service, token=school) == [no_show["deviation_id"]]
    assert await listed(service, token=stranger) == []

    assert await summary(service, 2026) == {
        "region": "vastra_gotaland",
        "year": 2026,
        "cases_opened": 2,
        "meetings_held": 3,
        "followups_held": 1,
        "deviations": {"no_response": 0, "no_show": 1, "action_not_done": 0, "late": 0},
        "reportable_deviations": {"no_response": 0, "no_show": 0, "action_not_done": 0, "late": 0},
        "escalations": {"no_response": 0, "no_show": 1, "action_not_done": 0, "late": 0},
        # KVÅ registers one code per act: vg-2's SIP after discharge is AUI25, not AUI24 as well.
        "kva": {"AUI24": 1, "AUI25": 1, "AW010": 1},
    }
    assert (await summary(service, 2027))["meetings_held"] == 0
    assert (await summary(service, 2026, stranger))["cases_opened"] == 0


async def test_a_missed_must_deadline_is_listed_as_late(service: Service) -> None:
    # Blekinge wants invitations to arrive three weeks ahead; this meeting is scheduled two weeks ahead.
    scheduled = samples.meeting_scheduled(
        "blek-1", starts_at="2026-12-07T13:00:00+01:00", ends_at="2026-12-07T14:00:00+01:00"
    )
    await push_all(service, samples.case_opened("blek-1"), samples.consent_given("blek-1"), scheduled)
    await move_clock(service, "2026-12-01T09:00:00+01:00")
    await service.settle()
    rows = await service.runtime.pool.fetch(
        "select deviation_id, rule from deviations where kind = 'late' order by detected_at, deviation_id"
    )
    assert [row["rule"] for row in rows] == ["blekinge.minimum_notice_days"]
    late = [row["deviation_id"] for row in rows]
    assert await listed(service, "?kind=late&region=blekinge") == late
    assert await listed(service, "?kind=no_show") == []
    assert await listed(service, "?region=halland") == []


# --- scope -----------------------------------------------------------------------------------------------


async def test_a_token_lists_the_deviations_of_the_cases_it_sees_and_no_others(service: Service) -> None:
    issued, integration_token = await other_integration(service)
    ours = stored_case("vg-ours")
    elsewhere = stored_case("blek-ours", "blekinge")
    other_organisation = stored_case("vg-other", organisation="Annan kommun")
    theirs = stored_case("vg-theirs", integration_id=issued.integration_id)
    await save(service, ours, elsewhere, other_organisation, theirs)
    for number, case in enumerate((ours, elsewhere, other_organisation, theirs)):
        await deviate(service, case, f"dev_{case.case_id}", f"2026-06-0{number + 1}T10:00:00+02:00")

    everything = ["dev_vg-ours", "dev_blek-ours", "dev_vg-other", "dev_vg-theirs"]
    assert await listed(service) == everything
    for role in ("coordinator", "auditor"):
        assert await listed(service, token=await service.token(role, ["*"], ["*"])) == everything
    exempel = await service.token("coordinator", ["vastra_gotaland"], ["Exempelkommun"])
    assert await listed(service, token=exempel) == ["dev_vg-ours", "dev_vg-theirs"]
    halland = await service.token("coordinator", ["halland"], ["*"])
    assert await listed(service, token=halland) == []
    nobody = await service.token("auditor", ["*"], ["Ingen kommun"])
    assert await listed(service, token=nobody) == []
    assert await listed(service, token=integration_token) == ["dev_vg-theirs"]
    # Asking for a region outside the scope is not an error: there is nothing there for this token.
    assert await listed(service, "?region=blekinge", token=exempel) == []
    assert await listed(service, "?region=blekinge", token=integration_token) == []

    unauthenticated = await service.client.get("/v1/deviations")
    assert unauthenticated.status == 401
    assert unauthenticated.content_type == "application/problem+json"


async def test_an_organisation_that_joins_a_case_later_sees_its_earlier_deviations(service: Service) -> None:
    case = stored_case("vg-1")
    await save(service, case)
    await deviate(service, case, "dev_early", "2026-06-01T10:00:00+02:00")
    joined = case.model_copy(update={"municipality": "Senare kommun"})
    await save(service, joined)
    token = await service.token("coordinator", ["vastra_gotaland"], ["Senare kommun"])
    assert (await service.case("vg-1", token)).status == 200
    assert await listed(service, token=token) == ["dev_early"]


# --- filters and pages -----------------------------------------------------------------------------------


async def test_region_kind_and_since_filter_the_listing(service: Service) -> None:
    vg, blekinge = stored_case("vg-1"), stored_case("blek-1", "blekinge")
    await save(service, vg, blekinge)
    await deviate(service, vg, "dev_a", "2026-11-30T22:59:59Z", "no_show")  # 23:59:59 on 30 Nov
    await deviate(service, vg, "dev_b", "2026-11-30T23:00:00Z", "late")  # midnight, 1 Dec
    await deviate(service, blekinge, "dev_c", "2026-12-01T12:00:00+01:00", "no_show")
    await deviate(service, vg, "dev_d", "2026-12-02T12:00:00+01:00", "no_response")

    assert await listed(service, "?region=vastra_gotaland") == ["dev_a", "dev_b", "dev_d"]
    assert await listed(service, "?region=blekinge") == ["dev_c"]
    assert await listed(service, "?kind=no_show") == ["dev_a", "dev_c"]
    assert await listed(service, "?kind=action_not_done") == []
    # A date is the start of that day in Stockholm, an hour before midnight UTC in winter.
    assert await listed(service, "?since=2026-12-01") == ["dev_b", "dev_c", "dev_d"]
    assert await listed(service, "?since=2026-12-01T00:00:00%2B01:00") == ["dev_b", "dev_c", "dev_d"]
    assert await listed(service, "?since=2026-11-30T22:59:59.000001Z") == ["dev_b", "dev_c", "dev_d"]
    assert await listed(service, "?since=2026-11-30T23:59:59%2B01:00") == ["dev_a", "dev_b", "dev_c", "dev_d"]
    assert await listed(service, "?since=2026-12-01T13:00:00%2B01:00&kind=no_response") == ["dev_d"]
    assert await listed(service, "?region=vastra_gotaland&kind=no_show&since=2026-12-01") == []


async def test_pages_follow_the_cursor_to_the_end(service: Service) -> None:
    case = stored_case("vg-1")
    await save(service, case)
    times = ["2026-06-03T10:00:00Z", "2026-06-01T10:00:00Z", "2026-06-02T10:00:00Z"]
    # Two at the same moment: the id orders them, so no page repeats or skips one.
    await deviate(service, case, "dev_2b", times[0])
    await deviate(service, case, "dev_2a", times[0])
    for number, detected_at in enumerate(times):
        await deviate(service, case, f"dev_1{number}", detected_at)
    everything = await listed(service)
    assert everything == ["dev_11", "dev_12", "dev_10", "dev_2a", "dev_2b"]

    pages: list[list[str]] = []
    query = "?limit=2"
    while True:
        status, body = await read(service, "/v1/deviations" + query)
        assert status == 200
        pages.append([item["deviation_id"] for item in body["deviations"]])
        if body["next"] is None:
            break
        assert len(pages) < 5, pages
        query = f"?limit=2&after={body['next']}"
    assert pages == [["dev_11", "dev_12"], ["dev_10", "dev_2a"], ["dev_2b"]]

    # A page that ends exactly at the last deviation says so, rather than promising an empty one.
    status, body = await read(service, "/v1/deviations?limit=5")
    assert len(body["deviations"]) == 5 and body["next"] is None
    # The cursor is only a position: it combines with filters, and with another page size.
    status, first = await read(service, "/v1/deviations?limit=1&since=2026-06-02")
    assert [item["deviation_id"] for item in first["deviations"]] == ["dev_12"]
    assert await listed(service, f"?since=2026-06-02&after={first['next']}") == ["dev_10", "dev_2a", "dev_2b"]
    assert await listed(service, "?limit=1000") == everything


# --- validation --------------------------------------------------------------------------------------


def errors_by_parameter(body: dict[str, Any]) -> dict[str, str]:
    by_parameter = {}
    for error in body["errors"]:
        assert error["loc"][0] == "query" and len(error["loc"]) <= 2, error
        # An unknown parameter is reported at the query itself: its name is never repeated.
        by_parameter[error["loc"][1] if len(error["loc"]) == 2 else ""] = error["msg"]
    return by_parameter


async def test_every_bad_parameter_of_the_listing_is_named_at_once(service: Service) -> None:
    query = "?region=atlantis&since=ig%C3%A5r&kind=sad&limit=0&after=not-a-cursor&colour=bl%C3%A5"
    response = await service.client.get(
        "/v1/deviations" + query, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert response.status == 400 and response.content_type == "application/problem+json"
    text = await response.text()
    body = await response.json(content_type="application/problem+json")
    assert body["type"].endswith("/invalid-query") and body["status"] == 400
    errors = errors_by_parameter(body)
    assert set(errors) == {"region", "since", "kind", "limit", "after", ""}
    assert "vastra_gotaland" in errors["region"]
    assert "RFC 3339" in errors["since"] and "YYYY-MM-DD" in errors["since"]
    assert "no_response" in errors["kind"] and "1000" in errors["limit"]
    # What the caller sent is never repeated back: a value could hold anything, a personnummer too.
    for sent in ("atlantis", "igår", "sad", "not-a-cursor", "blå", "colour"):
        assert sent not in text


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("?limit=1001", "limit"),
        ("?limit=-1", "limit"),
        ("?limit=1.5", "limit"),
        ("?limit=%2B5", "limit"),
        ("?since=2026-12-01T00:00:00", "since"),  # no offset: not a moment
        ("?since=2026-12-01T00:00:00+01:00", "since"),  # '+' unencoded reads as a space
        ("?since=2026-13-01", "since"),
        ("?since=20261201", "since"),
        ("?since=0001-01-01T00:00:00%2B01:00", "since"),
        ("?kind=", "kind"),
        ("?kind=late&kind=no_show", "kind"),
        ("?after=WyJ4IiwiZGV2Il0", "after"),  # base64 of ["x","dev"]: not a time
    ],
)
async def test_one_bad_parameter_is_refused(service: Service, query: str, parameter: str) -> None:
    status, body = await read(service, "/v1/deviations" + query)
    assert status == 400
    assert list(errors_by_parameter(body)) == [parameter]


async def test_the_unencoded_plus_is_explained(service: Service) -> None:
    status, body = await read(service, "/v1/deviations?since=2026-12-01T00:00:00+01:00")
    assert status == 400 and "%2B" in errors_by_parameter(body)["since"]


async def test_every_bad_parameter_of_the_summary_is_named_at_once(service: Service) -> None:
    status, body = await read(service, "/v1/reports/summary")
    assert status == 400
    assert errors_by_parameter(body) == {"region": "required", "year": "required"}
    status, body = await read(service, "/v1/reports/summary?region=atlantis&year=1999&since=2026-01-01")
    # `since` is not a parameter of the summary: reported at the query, without its name.
    assert status == 400 and set(errors_by_parameter(body)) == {"region", "year", ""}
    assert "atlantis" not in str(body) and "since" not in str(body)
    for year in ("26", "02026", "abcd", "2101", "1999", ""):
        status, body = await read(service, f"/v1/reports/summary?region=blekinge&year={year}")
        assert status == 400 and list(errors_by_parameter(body)) == ["year"], year
    for year in ("2000", "2100"):
        status, body = await read(service, f"/v1/reports/summary?region=blekinge&year={year}")
        assert status == 200 and body["year"] == int(year) and body["cases_opened"] == 0
    assert (await service.client.get("/v1/reports/summary?region=blekinge&year=2026")).status == 401


# --- the yearly summary ------------------------------------------------------------------------------


async def test_the_summary_counts_each_thing_in_its_own_stockholm_year(service: Service) -> None:
    new_year = stored_case("vg-new-year")
    meeting(new_year, "m1", "2026-12-31T23:30:00+01:00")  # 22:30 UTC: 2026
    meeting(new_year, "m2", "2027-01-01T00:30:00+01:00", "followup")  # 23:30 UTC on 31 Dec: 2027
    meeting(new_year, "m3", "2026-10-01T10:00:00+02:00", status="cancelled")
    meeting(new_year, "m4", "2026-12-01T10:00:00+01:00", status="scheduled")
    # Opened 23:30 UTC on 31 December, which is 2027 in Stockholm.
    opened_late = stored_case(
        "vg-opened-late", opened_at="2026-12-31T23:30:00Z", discharge_notice_at="2027-01-02T10:00:00+01:00"
    )
    meeting(opened_late, "m1", "2027-01-05T10:00:00+01:00")
    discharged = stored_case("vg-discharged", discharge_notice_at="2026-06-10T12:00:00+02:00")
    meeting(discharged, "m1", "2026-06-10T09:00:00+02:00")  # before the notice: not after discharge
    meeting(discharged, "m2", "2026-06-10T12:00:00+02:00")  # at the notice: after discharge
    meeting(discharged, "m3", "2026-09-01T10:00:00+02:00", "followup")
    blekinge = stored_case("blek-1", "blekinge")
    meeting(blekinge, "m1", "2026-06-01T10:00:00+02:00")
    await save(service, new_year, opened_late, discharged, blekinge)
    await deviate(service, new_year, "dev_1", "2025-12-31T23:30:00Z", "no_response")  # 2026 in Stockholm
    await deviate(service, new_year, "dev_2", "2026-06-01T10:00:00+02:00", "action_not_done", reportable=True)
    await deviate(service, new_year, "dev_3", "2026-12-31T23:30:00Z", "late")  # 2027 in Stockholm
    await deviate(service, blekinge, "dev_4", "2026-06-01T10:00:00+02:00", "no_show")

    assert await summary(service, 2026) == {
        "region": "vastra_gotaland",
        "year": 2026,
        "cases_opened": 2,
        "meetings_held": 4,
        "followups_held": 1,
        "deviations": {"no_response": 1, "no_show": 0, "action_not_done": 1, "late": 0},
        "reportable_deviations": {"no_response": 0, "no_show": 0, "action_not_done": 1, "late": 0},
        "escalations": {"no_response": 1, "no_show": 0, "action_not_done": 0, "late": 0},
        "kva": {"AUI24": 2, "AUI25": 1, "AW010": 1},
    }
    assert await summary(service, 2027) == {
        "region": "vastra_gotaland",
        "year": 2027,
        "cases_opened": 1,
        "meetings_held": 2,
        "followups_held": 1,
        "deviations": {"no_response": 0, "no_show": 0, "action_not_done": 0, "late": 1},
        "reportable_deviations": {"no_response": 0, "no_show": 0, "action_not_done": 0, "late": 0},
        "escalations": {"no_response": 0, "no_show": 0, "action_not_done": 0, "late": 1},
        "kva": {"AUI24": 0, "AUI25": 1, "AW010": 1},
    }
    assert (await summary(service, 2025))["deviations"]["no_response"] == 0
    quiet = {
        "cases_opened": 0,
        "meetings_held": 0,
        "followups_held": 0,
        "deviations": 0,
        "reportable_deviations": 0,
    }
    busy = {
        1: {"deviations": 1},  # 2025-12-31T23:30Z is January in Stockholm
        3: {"cases_opened": 2},
        6: {"meetings_held": 2, "deviations": 1, "reportable_deviations": 1},
        9: {"meetings_held": 1, "followups_held": 1},
        12: {"meetings_held": 1},  # 2026-12-31 23:30 +01:00
    }
    months = (await summary_with_months(service, 2026))["months"]
    assert months == [{"month": month} | quiet | busy.get(month, {}) for month in range(1, 13)]
    january = (await summary_with_months(service, 2027))["months"][0]
    assert (january["cases_opened"], january["meetings_held"], january["deviations"]) == (1, 2, 1)


async def test_the_summary_counts_only_the_cases_the_token_sees(service: Service) -> None:
    issued, integration_token = await other_integration(service)
    ours = stored_case("vg-ours")
    meeting(ours, "m1", "2026-06-01T10:00:00+02:00")
    theirs = stored_case("vg-theirs", organisation="Annan kommun", integration_id=issued.integration_id)
    meeting(theirs, "m1", "2026-06-01T10:00:00+02:00", "followup")
    await save(service, ours, theirs)
    await deviate(service, ours, "dev_ours", "2026-06-01T12:00:00+02:00", "no_show")
    await deviate(service, theirs, "dev_theirs", "2026-06-01T12:00:00+02:00", "late")

    def counts(body: dict[str, Any]) -> tuple[int, int, int, int, int]:
        deviations = body["deviations"]
        return (
            body["cases_opened"],
            body["kva"]["AUI24"],
            body["kva"]["AW010"],
            deviations["no_show"],
            deviations["late"],
        )

    assert counts(await summary(service, 2026)) == (2, 1, 1, 1, 1)
    exempel = await service.token("auditor", ["vastra_gotaland"], ["Exempelkommun"])
    assert counts(await summary(service, 2026, exempel)) == (1, 1, 0, 1, 0)
    assert counts(await summary(service, 2026, integration_token)) == (1, 0, 1, 0, 1)
    blekinge = await service.token("coordinator", ["blekinge"], ["*"])
    assert counts(await summary(service, 2026, blekinge)) == (0, 0, 0, 0, 0)
    nobody = await service.token("coordinator", ["*"], ["Ingen kommun"])
    assert counts(await summary(service, 2026, nobody)) == (0, 0, 0, 0, 0)


async def test_the_openapi_document_describes_both_answers(service: Service) -> None:
    document = await (await service.client.get("/v1/openapi.json")).json()
    schemas = document["components"]["schemas"]
    assert set(schemas["YearSummary"]["required"]) >= {
        "cases_opened",
        "meetings_held",
        "kva",
        "deviations",
        "reportable_deviations",
        "escalations",
    }
    assert {"rule", "reportable"} <= set(schemas["DeviationItem"]["required"])
    assert set(schemas["KvaCounts"]["properties"]) == {"AUI24", "AUI25", "AW010"}
    assert set(schemas["DeviationPage"]["required"]) == {"deviations", "next"}
    assert set(schemas["DeviationCounts"]["required"]) == {
        "no_response",
        "no_show",
        "action_not_done",
        "late",
    }
    parameters = document["paths"]["/v1/deviations"]["get"]["parameters"]
    assert [parameter["name"] for parameter in parameters] == ["region", "since", "kind", "limit", "after"]


async def test_the_migration_fills_in_the_held_meetings_that_save_case_writes(service: Service) -> None:
    discharged = stored_case("vg-discharged", discharge_notice_at="2026-06-10T12:00:00+02:00")
    meeting(discharged, "m1", "2026-06-10T09:00:00+02:00")
    meeting(discharged, "m2", "2026-12-31T23:30:00+01:00")
    meeting(discharged, "m3", "2027-01-01T00:30:00+01:00", "followup")
    meeting(discharged, "m4", "2026-10-01T10:00:00+02:00", status="cancelled")
    await save(service, discharged, stored_case("vg-empty"))
    query = "select * from held_meetings order by case_id, meeting_id"
    written = [dict(row) for row in await service.runtime.pool.fetch(query)]
    assert [
        (row["meeting_id"], row["local_year"], row["local_month"], row["after_discharge"]) for row in written
    ] == [
        ("m1", 2026, 6, False),
        ("m2", 2026, 12, True),
        ("m3", 2027, 1, False),
    ]
    migration = (Path(store.__file__).parent / "migrations" / "0018_held_meetings.sql").read_text()
    backfill = migration[migration.index("insert into held_meetings") :]
    await service.runtime.pool.execute("delete from held_meetings")
    await service.runtime.pool.execute(backfill)
    assert [dict(row) for row in await service.runtime.pool.fetch(query)] == written
