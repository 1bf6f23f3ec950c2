"""Mail servers that refuse, defer, stall or are down: nothing is lost, nothing is sent twice, and a
permanent refusal shows on the case and reaches the coordinator."""

from __future__ import annotations

from collections import Counter
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from tests import samples
from tests.service.harness import Service, started
from tests.service.mail import MailSink, Received, free_port, mailing_settings, silent_server, smtp_server

EMAIL_PARTICIPANTS = ("asa.oberg@example.org", "sam@example.se")
COORDINATOR = "kim.koordinator@example.se"


def run(
    database_url: str, tmp_path: Path, port: int, **overrides: str
) -> AbstractAsyncContextManager[Service]:
    settings = mailing_settings(
        database_url,
        tmp_path,
        port,
        SIPVAKT_SMTP_TIMEOUT_SECONDS="0.5",
        **overrides,
    )
    return started(settings)


async def invite(service: Service) -> None:
    await service.push(samples.case_opened())
    await service.push(samples.consent_given())
    await service.push(samples.meeting_scheduled())
    await service.settle()


async def later(service: Service, moment: str) -> None:
    """Move the test clock on; the answer comes when every retry due by then has been made."""
    response = await service.client.post("/v1/test-clock", json={"now": moment})
    assert response.status == 200, await response.text()


async def outbox_states(service: Service) -> dict[str, str]:
    rows = await service.runtime.pool.fetch("select recipient, state from outbox where channel = 'email'")
    return {row["recipient"]: row["state"] for row in rows}


def delivered_once(sink: MailSink) -> None:
    """Every participant has exactly one invitation, and no Message-ID arrived twice."""
    counts = Counter(mail.message_id for mail in sink.received)
    assert all(count == 1 for count in counts.values()), counts
    for address in EMAIL_PARTICIPANTS:
        assert len(sink.to(address)) == 1, address


def undeliverable_notices(sink: MailSink) -> list[Received]:
    return [mail for mail in sink.to(COORDINATOR) if "Kallelsen kunde inte levereras" in mail.text()]


async def statuses(service: Service) -> dict[str, str]:
    case = await (await service.case("blek-2026-0042")).json()
    return {i["participant_id"]: i["status"] for i in case["meetings"][0]["invitations"]}


async def test_a_permanent_refusal_fails_the_invitation_and_tells_the_coordinator(
    database_url: str, tmp_path: Path
) -> None:
    sink = MailSink(rcpt_answers={"sam@example.se": "550 5.1.1 No such user here"})
    async with smtp_server(sink) as port, run(database_url, tmp_path, port) as service:
        await invite(service)
        assert (await statuses(service))["p-school"] == "failed"
        assert (await statuses(service))["p-guardian"] == "sent"
        assert (await outbox_states(service))["sam@example.se"] == "failed"
        [notice] = undeliverable_notices(sink)
        text = notice.text()
        assert "Kallelsen kunde inte levereras" in text
        assert "Sam Skolsköterska (Testskolan)" in text and "sam@example.se" in text
        assert notice.calendar_method() is None
        assert len(sink.to("asa.oberg@example.org")) == 1
        # A later update does not fail the invitation a second time or tell the coordinator again.
        await service.push(samples.rescheduled())
        await service.settle()
        assert len(undeliverable_notices(sink)) == 1


async def test_a_deferral_at_rcpt_is_retried_and_delivered_once(database_url: str, tmp_path: Path) -> None:
    sink = MailSink(rcpt_answer="451 4.7.1 Greylisted, try again later")
    async with smtp_server(sink) as port, run(database_url, tmp_path, port) as service:
        await invite(service)
        assert sink.received == []
        assert set((await outbox_states(service)).values()) == {"queued"}
        sink.rcpt_answer = None
        await later(service, "2026-11-23T11:00:00+01:00")
        delivered_once(sink)
        assert set((await outbox_states(service)).values()) == {"sent"}


async def test_a_server_shutting_down_at_data_is_retried_and_delivered_once(
    database_url: str, tmp_path: Path
) -> None:
    sink = MailSink(data_answer="421 4.3.2 Service shutting down")
    async with smtp_server(sink) as port, run(database_url, tmp_path, port) as service:
        await invite(service)
        assert sink.received == []
        sink.data_answer = None
        await later(service, "2026-11-23T11:00:00+01:00")
        delivered_once(sink)
        assert (await statuses(service))["p-school"] == "sent"


async def test_a_server_that_never_answers_times_out_and_the_message_waits(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    sink = MailSink()
    async with run(database_url, tmp_path, port) as service:
        async with silent_server(port):
            await invite(service)
        errors = await service.runtime.pool.fetch(
            "select state, last_error from outbox where channel = 'email'"
        )
        assert {row["state"] for row in errors} == {"queued"}
        assert all("Timeout" in row["last_error"] for row in errors)
        async with smtp_server(sink, port):
            await later(service, "2026-11-23T11:00:00+01:00")
        delivered_once(sink)


async def test_a_server_that_is_down_and_comes_back_gets_everything_once(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    sink = MailSink()
    async with run(database_url, tmp_path, port) as service:
        await invite(service)
        assert set((await outbox_states(service)).values()) == {"queued"}
        async with smtp_server(sink, port):
            await later(service, "2026-11-23T11:00:00+01:00")
            # Moving on again finds nothing more to send.
            await later(service, "2026-11-23T15:00:00+01:00")
        delivered_once(sink)
        assert set((await outbox_states(service)).values()) == {"sent"}


@pytest.mark.parametrize("mode", ["starttls", "tls"])
async def test_starttls_or_tls_configured_never_falls_back_to_plaintext(
    database_url: str, tmp_path: Path, mode: str
) -> None:
    sink = MailSink()
    async with smtp_server(sink) as port, run(database_url, tmp_path, port, SIPVAKT_SMTP_TLS=mode) as service:
        await invite(service)
        assert sink.received == []
        assert set((await outbox_states(service)).values()) == {"queued"}


async def test_letters_are_not_affected_by_mail_failures(database_url: str, tmp_path: Path) -> None:
    sink = MailSink(rcpt_answer="550 5.7.1 Relaying denied")
    async with smtp_server(sink) as port, run(database_url, tmp_path, port) as service:
        await invite(service)
        assert await service.runtime.pool.fetchval("select count(*) from letters") == 1
        # In the print queue, not yet posted.
        assert (await statuses(service))["p-bup"] == "queued"
