"""A process killed while it sends mail, under the test clock and beside another replica: the next move
of the clock completes, and every message arrives exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from service.storage.secrets import new_webhook_secret
from tests import samples
from tests.service.mail import MAIL_FROM, MailSink, smtp_server
from tests.service.processes import ServiceProcess
from tests.service.test_processes import push

ADMIN = "crash-admin-token-0123456789abcdef"
EMAIL_PARTICIPANTS = ("asa.oberg@example.org", "sam@example.se")
pytestmark = pytest.mark.slow


class GatedSink(MailSink):
    """Answers RCPT only once the gate opens: until then a sender hangs in its SMTP session. (A sender
    killed after the message's final dot is the one duplicate the design allows; this is before it.)"""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        await self.gate.wait()
        return await super().handle_RCPT(server, session, envelope, address, options)


async def wait_until(check: Any, seconds: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await check():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_a_process_killed_mid_delivery_does_not_stop_the_clock_and_nothing_goes_twice(
    database_url: str, tmp_path: Path
) -> None:
    sink = GatedSink()
    secret = new_webhook_secret()
    async with smtp_server(sink) as port:
        environment = {
            "SIPVAKT_DATABASE_URL": database_url,
            "SIPVAKT_DATA_DIR": str(tmp_path),
            "SIPVAKT_WEBHOOK_SECRET": secret,
            "SIPVAKT_ADMIN_TOKEN": ADMIN,
            "SIPVAKT_TEST_CLOCK": "2026-11-23T09:00:00+01:00",
            "SIPVAKT_SMTP_HOST": "127.0.0.1",
            "SIPVAKT_SMTP_PORT": str(port),
            "SIPVAKT_MAIL_FROM": MAIL_FROM,
            "SIPVAKT_SMTP_TIMEOUT_SECONDS": "120",
        }
        doomed = ServiceProcess(environment)
        await doomed.start()
        observer = await asyncpg.connect(database_url)
        survivor = None
        try:
            for body in (samples.case_opened(), samples.consent_given(), samples.meeting_scheduled()):
                status, _ = await push(doomed.url, secret, body)
                assert status == 202

            async def both_invitations_in_flight() -> bool:
                held = await observer.fetchval(
                    "select count(*) from outbox where kind = 'request' and channel = 'email'"
                    " and state = 'sending' and lease_owner like '%:' || $1 || ':%'",
                    str(doomed.process and doomed.process.pid),
                )
                return bool(held == len(EMAIL_PARTICIPANTS))

            await wait_until(both_invitations_in_flight)
            # A replica starts beside it, then the first one is killed in the middle of its SMTP session.
            survivor = ServiceProcess(environment)
            await survivor.start()
            doomed.kill()
            sink.gate.set()

            async with aiohttp.ClientSession() as session:
                async with session.post(
                    survivor.url + "/v1/test-clock", json={"now": "2026-11-23T10:00:00+01:00"}
                ) as response:
                    assert response.status == 200, await response.text()
                async with session.get(
                    survivor.url + "/v1/cases/blek-2026-0042", headers={"Authorization": f"Bearer {ADMIN}"}
                ) as response:
                    case = await response.json()

            counts = Counter(mail.message_id for mail in sink.received)
            assert all(count == 1 for count in counts.values()), counts
            for address in EMAIL_PARTICIPANTS:
                assert len(sink.to(address)) == 1, address
            states = await observer.fetch("select state from outbox where kind = 'request'")
            assert {row["state"] for row in states} == {"sent"}
            statuses = {i["participant_id"]: i["status"] for i in case["meetings"][0]["invitations"]}
            assert statuses == {"p-guardian": "sent", "p-school": "sent", "p-bup": "queued"}
            assert "put back in the queue" in survivor.logs()
        finally:
            sink.gate.set()
            await observer.close()
            if survivor is not None:
                survivor.stop()
            if doomed.process is not None and doomed.process.poll() is None:
                doomed.kill()


class KillsTheSenderAtTheSecondMessage(MailSink):
    """Keeps every message, and at the second one of a session kills the process sending it: the
    server has the message, and the sender never records it as sent. That is the moment between the
    250 OK and the commit, as the outbox sees it."""

    def __init__(self) -> None:
        super().__init__()
        self.victim: ServiceProcess | None = None
        self.peers: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        self.peers.append(session.peer)
        if self.victim is not None and self.peers.count(session.peer) == 2:
            self.victim.kill()
            self.victim = None
        return answer


async def test_a_process_killed_between_the_250_and_its_record_sends_that_one_message_twice_at_most(
    database_url: str, tmp_path: Path
) -> None:
    sink = KillsTheSenderAtTheSecondMessage()
    secret = new_webhook_secret()
    async with smtp_server(sink) as port:
        environment = {
            "SIPVAKT_DATABASE_URL": database_url,
            "SIPVAKT_DATA_DIR": str(tmp_path),
            "SIPVAKT_WEBHOOK_SECRET": secret,
            "SIPVAKT_ADMIN_TOKEN": ADMIN,
            "SIPVAKT_TEST_CLOCK": "2026-11-23T09:00:00+01:00",
            "SIPVAKT_SMTP_HOST": "127.0.0.1",
            "SIPVAKT_SMTP_PORT": str(port),
            "SIPVAKT_MAIL_FROM": MAIL_FROM,
        }
        doomed = ServiceProcess(environment)
        await doomed.start()
        sink.victim = doomed
        observer = await asyncpg.connect(database_url)
        survivor = None
        try:
            for body in (samples.case_opened(), samples.consent_given(), samples.meeting_scheduled()):
                status, _ = await push(doomed.url, secret, body)
                assert status == 202

            async def killed() -> bool:
                return doomed.process is not None and doomed.process.poll() is not None

            await wait_until(killed)
            # The two invitations went over one kept session; the first was recorded before the second
            # was sent, the second is in the server and still `sending` in the outbox.
            assert sink.peers[0] == sink.peers[1]
            survivor = ServiceProcess(environment)
            await survivor.start()

            async def all_sent() -> bool:
                states = await observer.fetch("select state from outbox where kind = 'request'")
                return {row["state"] for row in states} == {"sent"}

            await wait_until(all_sent)
            counts = Counter(mail.message_id for mail in sink.received)
            twice = [message_id for message_id, count in counts.items() if count > 1]
            assert len(twice) == 1 and counts[twice[0]] == 2, counts
            for address in EMAIL_PARTICIPANTS:
                assert 1 <= len(sink.to(address)) <= 2, address
            assert "put back in the queue" in survivor.logs()
        finally:
            await observer.close()
            if survivor is not None:
                survivor.stop()
            if doomed.process is not None and doomed.process.poll() is None:
                doomed.kill()
