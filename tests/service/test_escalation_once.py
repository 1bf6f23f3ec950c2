"""Escalation and reminders happen once: when their timers fire again (a retry after a crash), when two
processes share the work, and never after the case is closed or consent withdrawn."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests import samples
from tests.service.harness import Service, started
from tests.service.mail import MailSink, mailing_settings, smtp_server
from tests.service.scenario import happenings, move_clock, push_at

CASE = "blek-2026-0042"
ESCALATED = datetime.fromisoformat("2026-12-14T08:00:00+01:00")


@pytest.fixture
async def sink_port() -> AsyncIterator[tuple[MailSink, int]]:
    sink = MailSink()
    async with smtp_server(sink) as port:
        yield sink, port


async def open_case(service: Service) -> None:
    for body in (samples.case_opened(), samples.consent_given(), samples.meeting_scheduled()):
        await push_at(service, body)


async def counts(service: Service) -> tuple[int, int]:
    pool = service.runtime.pool
    deviations = await pool.fetchval("select count(*) from deviations where case_id = $1", CASE)
    messages = await pool.fetchval("select count(*) from outbox where case_id = $1", CASE)
    return deviations, messages


async def test_escalation_fired_again_records_and_sends_nothing_more(
    database_url: str, tmp_path: Path, sink_port: tuple[MailSink, int]
) -> None:
    sink, port = sink_port
    async with started(mailing_settings(database_url, tmp_path, port)) as service:
        await open_case(service)
        await move_clock(service, ESCALATED + timedelta(minutes=1))
        before = await counts(service)
        assert before[0] == 3  # nobody answered
        mails_before = len(sink.received)
        # As if every timer that fired had to fire again: its work is redone from the case as it is.
        await service.runtime.pool.execute(
            "update timers set state = 'scheduled', attempts = 0 where case_id = $1 and state = 'done'", CASE
        )
        await move_clock(service, ESCALATED + timedelta(minutes=2))
        assert await counts(service) == before
        assert len(sink.received) == mails_before
        case = await (await service.case(CASE)).json()
        assert [d["kind"] for d in case["deviations"]] == ["no_response"] * 3
        assert len([r for r in case["reminders"] if r["kind"] == "deviation"]) == 3


async def test_two_processes_escalate_and_remind_once(
    database_url: str, tmp_path: Path, sink_port: tuple[MailSink, int]
) -> None:
    sink, port = sink_port
    settings = mailing_settings(database_url, tmp_path, port)
    async with started(settings) as first, started(settings) as second:
        await open_case(first)
        await move_clock(second, ESCALATED + timedelta(hours=1))
        found = [str(h) for h in await happenings(first, CASE) if not h.what.startswith("digest")]
    assert found.count("2026-12-14 08:00 reminder deviation -> kim.koordinator") == 3
    assert len([line for line in found if "deviation no_response" in line]) == 3
    to_coordinator = [
        m for m in sink.to("kim.koordinator@example.se") if "Avvikelse" in str(m.message["Subject"])
    ]
    assert len(to_coordinator) == 3
    assert len({mail.message_id for mail in sink.received}) == len(sink.received)


@pytest.mark.parametrize(
    "closing",
    [
        samples.event("case.closed", occurred_at="2026-11-27T10:00:00+01:00", reason="no_longer_needed"),
        samples.event("consent.withdrawn", occurred_at="2026-11-27T10:00:00+01:00"),
    ],
)
async def test_closing_calls_off_every_reminder_timer_and_unsent_message(
    database_url: str, tmp_path: Path, sink_port: tuple[MailSink, int], closing: dict[str, object]
) -> None:
    _, port = sink_port
    async with started(mailing_settings(database_url, tmp_path, port)) as service:
        await open_case(service)
        case = await (await service.case(CASE)).json()
        assert {r["kind"] for r in case["reminders"] if r["status"] == "scheduled"} >= {
            "rsvp",
            "consent_expiry",
        }
        await push_at(service, closing)
        case = await (await service.case(CASE)).json()
        assert case["status"] == "closed"
        assert [r for r in case["reminders"] if r["status"] == "scheduled"] == []
        pending = await service.runtime.pool.fetch(
            "select kind from timers where case_id = $1 and state in ('scheduled', 'running')", CASE
        )
        # Only the erasure of the closed case is left to come (README "Retention").
        assert [row["kind"] for row in pending] == ["retention"]
        before = await counts(service)
        await move_clock(service, datetime.fromisoformat("2027-02-01T12:00:00+01:00"))
        assert await counts(service) == before
        assert (await (await service.case(CASE)).json())["deviations"] == []
