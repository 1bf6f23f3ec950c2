"""Hostile and careless requests against a real service: each gets a clear 4xx as problem+json with the
location of the fault, never repeats what was sent, and stores nothing. None of them is a 500."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from multidict import CIMultiDict
from standardwebhooks import Webhook

from tests import samples
from tests.service.harness import ADMIN_TOKEN, Service, service_settings, started

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
# Skatteverket's test numbers: one as a personnummer, one as the samordningsnummer of the same person.
PERSONNUMMER = "19121212-1212"
SAMORDNINGSNUMMER = "191212721219"
DEEP = b"[" * 10_000 + b"]" * 10_000
LONG_INTEGER = b"9" * 5_000
TABLES = (
    "events",
    "cases",
    "case_owners",
    "timers",
    "outbox",
    "reminder_policies",
    "webhook_subscriptions",
    "test_clock",
)


@pytest.fixture
async def service(database_url: str, tmp_path: Path) -> AsyncIterator[Service]:
    async with started(service_settings(database_url, tmp_path)) as running_service:
        yield running_service


async def snapshot(service: Service) -> dict[str, list[str]]:
    """Every row of the tables a request could change, as text, to show that nothing changed."""
    found = {}
    for table in TABLES:
        rows = await service.runtime.pool.fetch(f"select t::text as row from {table} t order by 1")
        found[table] = [row["row"] for row in rows]
    return found


async def assert_refused(
    response: ClientResponse, status: int, loc: list[str | int] | None, *never: str
) -> dict[str, Any]:
    """The answer is `status` as problem+json naming `loc` (None: no field list), holding none of `never`."""
    text = await response.text()
    assert response.status == status, text
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = json.loads(text)
    assert body["status"] == status
    if loc is not None:
        assert loc in [error["loc"] for error in body["errors"]], body
    for value in never:
        assert value not in text
    return body


def with_data(body: dict[str, Any], **changes: Any) -> dict[str, Any]:
    body["data"].update(changes)
    return body


def embedded(raw: bytes) -> bytes:
    """A case.opened whose `municipality` is `raw`, spliced in as JSON text."""
    body = json.dumps(samples.case_opened()).encode()
    return body.replace(b'"Testkommun"', raw, 1)


def participant(participant_id: str) -> dict[str, Any]:
    body = samples.meeting_scheduled()
    body["data"]["participants"][0]["participant_id"] = participant_id
    return body


def person_with(**changes: Any) -> dict[str, Any]:
    body = samples.case_opened()
    body["data"]["person"].update(changes)
    return body


INTAKE_SHAPES: dict[str, tuple[dict[str, Any] | bytes, list[str | int], tuple[str, ...]]] = {
    "nested-10000-deep": (DEEP, [], ()),
    "nested-deep-inside-data": (embedded(DEEP), [], ()),
    "integer-of-5000-digits": (embedded(LONG_INTEGER), [], ("9999",)),
    "nan": (embedded(b"NaN"), [], ()),
    "a-field-twice": (b'{"type": "case.opened", "type": "case.closed"}', [], ()),
    "year-0001-with-offset": (
        {**samples.case_opened(), "occurred_at": "0001-01-01T00:30:00+01:00"},
        ["occurred_at"],
        ("0001",),
    ),
    "year-0001-discharge": (
        with_data(samples.case_opened(), discharge_notice_at="0001-01-01T00:00:00+14:00"),
        ["data", "discharge_notice_at"],
        (),
    ),
    "year-9999-date": (
        with_data(samples.case_opened(), detected_at="9999-12-31"),
        ["data", "detected_at"],
        ("9999",),
    ),
    "yes-is-not-a-boolean": (with_data(samples.case_opened(), urgent="yes"), ["data", "urgent"], ()),
    "one-is-not-a-boolean": (with_data(samples.case_opened(), urgent=1), ["data", "urgent"], ()),
    "notice-agreed-as-text": (
        with_data(samples.meeting_scheduled(), notice_agreed="true"),
        ["data", "notice_agreed"],
        (),
    ),
    "personnummer-as-case-id": (samples.case_opened(PERSONNUMMER), ["case_id"], ("1212",)),
    "samordningsnummer-in-case-id": (
        samples.case_opened(f"case-{SAMORDNINGSNUMMER}"),
        ["case_id"],
        (SAMORDNINGSNUMMER,),
    ),
    "personnummer-as-participant-id": (
        participant(PERSONNUMMER.replace("-", "")),
        ["data", "participants", 0, "participant_id"],
        ("1212",),
    ),
    "case-id-dot": (samples.case_opened("."), ["case_id"], ()),
    "case-id-dot-dot": (samples.case_opened(".."), ["case_id"], ()),
    "personnummer-contradicts-birth-date": (
        person_with(personnummer="20121212-1212", birth_date="2012-12-13"),
        ["data", "person", "birth_date"],
        ("1212", "2012-12-13"),
    ),
    "arabic-indic-digits-personnummer": (
        person_with(personnummer="٢٠١٢١٢١٢-١٢١٢"),
        ["data", "person", "personnummer"],
        ("٢٠١٢",),
    ),
    "an-unknown-field-named-like-a-personnummer": (
        person_with(**{PERSONNUMMER: "x"}),
        ["data", "person"],
        (PERSONNUMMER, "1212"),
    ),
    "an-unknown-envelope-field": ({**samples.case_opened(), PERSONNUMMER: 1}, [], (PERSONNUMMER,)),
    "fullwidth-digits-personnummer": (
        person_with(personnummer="２０１２１２１２-１２１２"),
        ["data", "person", "personnummer"],
        ("２０１２",),
    ),
    "arabic-indic-digits-in-a-time": (
        {**samples.case_opened(), "occurred_at": "٢٠٢٦-11-23T09:15:00+01:00"},
        ["occurred_at"],
        ("٢٠٢٦",),
    ),
    "arabic-indic-digits-in-a-date": (
        with_data(samples.case_opened(), detected_at="2026-١١-20"),
        ["data", "detected_at"],
        ("١١",),
    ),
    "arabic-indic-digits-in-a-birth-date": (
        person_with(birth_date="٢٠١٢-12-12"),
        ["data", "person", "birth_date"],
        ("٢٠١٢",),
    ),
}


@pytest.mark.parametrize("name", INTAKE_SHAPES)
async def test_the_intake_refuses_each_hostile_body_with_a_400(service: Service, name: str) -> None:
    body, loc, never = INTAKE_SHAPES[name]
    before = await snapshot(service)
    response = await service.push(body)
    await assert_refused(response, 400, loc, *never)
    assert await snapshot(service) == before


async def test_arabic_indic_digits_in_free_text_are_not_a_personnummer(service: Service) -> None:
    """Only ASCII digits make a personnummer: the same digits in another script are ordinary text."""
    await service.push(samples.case_opened())
    await service.push(samples.consent_given())
    meeting = with_data(samples.meeting_scheduled(), purpose="Uppföljning ٢٠١٢١٢١٢-١٢١٢")
    assert (await service.push(meeting)).status == 202


async def test_a_meeting_that_has_begun_is_refused_at_intake(service: Service) -> None:
    await service.push(samples.case_opened())
    await service.push(samples.consent_given())
    await service.settle()
    before = await snapshot(service)
    begun = with_data(samples.meeting_scheduled(), starts_at="2026-11-23T08:30:00+01:00")
    await assert_refused(await service.push(begun), 400, ["data", "starts_at"])
    moved = samples.rescheduled(starts_at="2026-11-20T13:00:00+01:00", ends_at="2026-11-20T14:00:00+01:00")
    await assert_refused(await service.push(moved), 400, ["data", "starts_at"])
    assert await snapshot(service) == before


async def test_a_meeting_that_began_before_it_could_be_applied_is_rejected_and_invites_no_one(
    service: Service,
) -> None:
    """A meeting.scheduled that waits for its case.opened, while the business clock passes its start, is
    rejected when it is finally applied: no invitation goes out with a negative notice."""
    meeting = await service.push(samples.meeting_scheduled())
    assert meeting.status == 202
    moved = await service.client.post("/v1/test-clock", json={"now": "2026-12-17T13:30:00+01:00"})
    assert moved.status == 200
    await service.push(samples.case_opened())
    await service.push(samples.consent_given())
    await service.settle()
    status = await service.client.get(f"/v1/events/{(await meeting.json())['event_id']}", headers=ADMIN)
    body = await status.json()
    assert (body["status"], body["detail"]) == ("rejected", "the meeting's start has passed")
    case = await (await service.case("blek-2026-0042")).json()
    assert case["meetings"] == []
    assert await service.runtime.pool.fetchval("select count(*) from outbox") == 0


async def push_with_headers(service: Service, extra: list[tuple[str, str]]) -> ClientResponse:
    """A correctly signed case.opened, with `extra` headers added after the signature's own."""
    raw = json.dumps(samples.case_opened()).encode()
    moment = datetime.now(UTC)
    headers = CIMultiDict(
        [
            ("Content-Type", "application/json"),
            ("webhook-id", "msg_1"),
            ("webhook-timestamp", str(int(moment.timestamp()))),
            ("webhook-signature", Webhook(service.secret).sign("msg_1", moment, raw.decode())),
            *extra,
        ]
    )
    return await service.client.post("/v1/events", data=raw, headers=headers)


@pytest.mark.parametrize(
    "extra",
    [
        [("webhook-id", "msg_2")],
        [("webhook-timestamp", "1")],
        [("webhook-signature", "v1,AAAA")],
    ],
    ids=["id-twice", "timestamp-twice", "signature-twice"],
)
async def test_a_signature_header_sent_twice_is_401(service: Service, extra: list[tuple[str, str]]) -> None:
    before = await snapshot(service)
    response = await push_with_headers(service, extra)
    await assert_refused(response, 401, None, "msg_2")
    assert await snapshot(service) == before


async def test_the_same_request_sent_once_is_accepted(service: Service) -> None:
    assert (await push_with_headers(service, [])).status == 202


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/v1/regions/blekinge/reminder-policy", DEEP),
        (
            "PUT",
            "/v1/regions/blekinge/reminder-policy",
            b'{"rsvp": {"repeat_every_days": ' + LONG_INTEGER + b"}}",
        ),
        ("POST", "/v1/webhook-subscriptions", DEEP),
        ("POST", "/v1/webhook-subscriptions", b'{"url": ' + LONG_INTEGER + b"}"),
    ],
    ids=["policy-deep", "policy-long-integer", "subscription-deep", "subscription-long-integer"],
)
async def test_bodies_of_the_other_writes_are_read_as_safely(
    service: Service, method: str, path: str, body: bytes
) -> None:
    before = await snapshot(service)
    response = await service.client.request(
        method, path, data=body, headers={**ADMIN, "Content-Type": "application/json"}
    )
    await assert_refused(response, 400, [], "9999")
    assert await snapshot(service) == before


@pytest.mark.parametrize(
    ("method", "path", "name"),
    [
        ("GET", "/v1/cases/%00", "case_id"),
        ("GET", "/v1/events/%00", "event_id"),
        ("GET", "/v1/letters/%00.pdf", "letter_id"),
        ("POST", "/v1/letters/%00/sent", "letter_id"),
        ("GET", "/v1/cases/%00/reminder-policy", "case_id"),
        ("PUT", "/v1/cases/a%00b/reminder-policy", "case_id"),
        ("GET", "/v1/regions/%00/reminder-policy", "region"),
        ("GET", "/v1/webhook-subscriptions/%00", "subscription_id"),
        ("DELETE", "/v1/webhook-subscriptions/%00", "subscription_id"),
        ("GET", "/v1/webhook-subscriptions/%00/deliveries", "subscription_id"),
        ("GET", "/v1/cases/%E2%80%8B", "case_id"),
    ],
)
async def test_a_control_character_in_a_path_is_400(
    service: Service, method: str, path: str, name: str
) -> None:
    before = await snapshot(service)
    response = await service.client.request(
        method, path, headers={**ADMIN, "Content-Type": "application/json"}, data=b"{}"
    )
    await assert_refused(response, 400, ["path", name])
    assert await snapshot(service) == before


def cursor(*parts: str) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("path", "loc", "never"),
    [
        ("/v1/deviations?after=" + cursor("2026-11-23T09:00:00+01:00", "\x00"), ["query", "after"], ()),
        ("/v1/deviations?after=" + cursor("0001-01-01T00:00:00+01:00", "dev_00"), ["query", "after"], ()),
        ("/v1/letters?" + PERSONNUMMER + "=1", ["query"], (PERSONNUMMER,)),
        ("/v1/letters?state=queued&state=sent", ["query", "state"], ()),
        ("/v1/letters?state=posted", ["query", "state"], ("posted",)),
        ("/v1/letters?limit=%D9%A1%D9%A0", ["query", "limit"], ("١",)),
        ("/v1/letters?limit=", ["query", "limit"], ()),
        ("/v1/deviations?" + PERSONNUMMER + "=1", ["query"], (PERSONNUMMER,)),
        ("/v1/webhook-subscriptions/sub_x/deliveries?limit=%EF%BC%95", ["query", "limit"], ()),
        ("/v1/deviations?after=" + base64.urlsafe_b64encode(b"\x00").decode(), ["query", "after"], ()),
        ("/v1/deviations?since=%D9%A2%D9%A0%D9%A2%D9%A6-01-01", ["query", "since"], ("٢٠٢٦",)),
        ("/v1/reports/summary?region=blekinge&year=%D9%A2%D9%A0%D9%A2%D9%A6", ["query", "year"], ("٢٠٢٦",)),
        ("/v1/reports/summary?region=blekinge&year=" + PERSONNUMMER, ["query", "year"], (PERSONNUMMER,)),
        ("/v1/webhook-subscriptions?" + PERSONNUMMER + "=1", ["query"], (PERSONNUMMER,)),
        ("/v1/webhook-subscriptions/sub_x?" + PERSONNUMMER + "=1", ["query"], (PERSONNUMMER,)),
        ("/v1/cases/blek-2026-0042?" + PERSONNUMMER + "=1", ["query"], (PERSONNUMMER,)),
        ("/v1/events/evt_x?" + PERSONNUMMER + "=1", ["query"], (PERSONNUMMER,)),
        ("/v1/users?" + PERSONNUMMER + "=1", ["query"], (PERSONNUMMER,)),
        ("/v1/regions/blekinge/reminder-policy?" + PERSONNUMMER + "=1", ["query"], (PERSONNUMMER,)),
    ],
)
async def test_queries_are_read_strictly(
    service: Service, path: str, loc: list[str | int], never: tuple[str, ...]
) -> None:
    response = await service.client.get(path, headers=ADMIN)
    await assert_refused(response, 400, loc, *never)


async def test_the_test_clock_refuses_a_move_past_2100(service: Service) -> None:
    before = await snapshot(service)
    for target in ("2101-01-01T00:00:00+00:00", "9999-12-31T23:59:59+00:00"):
        response = await service.client.post("/v1/test-clock", json={"now": target})
        await assert_refused(response, 400, ["now"], target[:4])
    assert await snapshot(service) == before
    assert (
        await service.client.post("/v1/test-clock", json={"now": "2026-11-24T09:00:00+01:00"})
    ).status == 200


async def test_the_test_clock_reads_only_ascii_digits(service: Service) -> None:
    response = await service.client.post("/v1/test-clock", json={"now": "٢٠٢٦-11-24T09:00:00+01:00"})
    await assert_refused(response, 400, ["now"], "٢٠٢٦")


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ({"rsvp": {"enabled": "yes"}}, "rsvp.enabled"),
        ({"rsvp": {"enabled": 1}}, "rsvp.enabled"),
        ({PERSONNUMMER: {"enabled": True}}, ""),
        ({"rsvp": {PERSONNUMMER: 1}}, "rsvp"),
    ],
    ids=["yes-is-not-a-boolean", "one-is-not-a-boolean", "unknown-section", "unknown-field"],
)
async def test_the_policy_put_names_its_faults_without_echoing_them(
    service: Service, body: dict[str, Any], location: str
) -> None:
    """A policy is checked whole against the layers under it, so its faults are a 422 (as documented) that
    lists each by its dotted location."""
    before = await snapshot(service)
    response = await service.client.put("/v1/regions/blekinge/reminder-policy", json=body, headers=ADMIN)
    found = await assert_refused(response, 422, None, PERSONNUMMER, "1212", "yes")
    assert [error["location"] for error in found["errors"]] == [location]
    assert await snapshot(service) == before


async def test_the_test_clock_names_no_unknown_field(service: Service) -> None:
    response = await service.client.post(
        "/v1/test-clock", json={"now": "2026-11-24T09:00:00+01:00", PERSONNUMMER: 1}
    )
    await assert_refused(response, 400, [], PERSONNUMMER)


async def test_a_method_not_allowed_says_which_are(service: Service) -> None:
    response = await service.client.delete("/v1/cases/blek-2026-0042", headers=ADMIN)
    await assert_refused(response, 405, None)
    assert "GET" in response.headers["Allow"]


async def raw_request(service: Service, request: bytes) -> bytes:
    """Send bytes as they are (no client would send them) and read the whole answer."""
    server = service.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), timeout=10)
    writer.close()
    return answer


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /rsvp/SECRET-TOKEN?" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /v1/cases/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer SECRET-TOKEN"
        + b"a" * 9000
        + b"\r\n\r\n",
        b"GET /v1/cases/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer SECRET-TOKEN\r\nBroken header\r\n\r\n",
        b"GET /rsvp/SECRET-TOKEN HTTP/9\r\n\r\n",
    ],
    ids=["request-line-over-8k", "header-over-8k", "broken-header", "bad-version"],
)
async def test_a_malformed_request_gets_problem_json_and_its_line_is_never_logged(
    service: Service, request_bytes: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answer = await raw_request(service, request_bytes)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b" ", 2)[1] == b"400", head
    assert b"application/problem+json" in head
    assert json.loads(body)["status"] == 400
    assert b"SECRET-TOKEN" not in answer and b"aaaa" not in answer
    for record in caplog.records:
        logged = record.getMessage() + repr(record.__dict__)
        assert "SECRET-TOKEN" not in logged and "aaaa" not in logged
    assert any(record.getMessage() == "malformed request refused" for record in caplog.records)


@pytest.mark.parametrize(
    ("offered", "kept"),
    [
        ("abc-123.x:1", True),
        (PERSONNUMMER, False),
        ("with space", False),
        ("x" * 65, False),
        ("ä-request", False),
    ],
)
async def test_a_request_id_from_outside_is_checked_before_it_is_logged(
    service: Service, offered: str, kept: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    response = await service.client.get("/v1/health", headers={"X-Request-Id": offered})
    assert response.status == 200
    if kept:
        assert response.headers["X-Request-Id"] == offered
    else:
        assert response.headers["X-Request-Id"].startswith("req_")
        assert all(offered not in repr(record.__dict__) for record in caplog.records)


async def test_a_request_id_sent_twice_is_replaced(service: Service) -> None:
    headers = CIMultiDict([("X-Request-Id", "one"), ("X-Request-Id", "two")])
    response = await service.client.get("/v1/health", headers=headers)
    assert response.headers["X-Request-Id"].startswith("req_")


async def test_a_path_holding_a_personnummer_is_logged_as_its_route(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    response = await service.client.get(f"/v1/cases/{PERSONNUMMER}", headers=ADMIN)
    assert response.status == 404
    [line] = [record for record in caplog.records if record.getMessage() == "request"]
    assert line.__dict__["path"] == "/v1/cases/{case_id}"
