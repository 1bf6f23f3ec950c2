"""SIGTERM during a burst of mail to an SMTP server that hangs: the process exits within its grace
period, and the next process sends every message exactly once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from service.storage.secrets import new_webhook_secret
from tests import samples
from tests.service.mail import MailSink, smtp_server
from tests.service.processes import ServiceProcess
from tests.service.test_processes import environment, push

pytestmark = pytest.mark.slow

GRACE_SECONDS = 4.0
# Closing the pool and the process itself, on a busy machine.
EXIT_SLACK_SECONDS = 1.5
CASES = 4  # two e-mail invitations each


@dataclass
class HangingSink(MailSink):
    """Takes the envelope, then never answers the message's data, as a stuck mail server does."""

    hung: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.hung.extend(envelope.rcpt_tos)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def mail_environment(database_url: str, data_dir: Path, secret: str, smtp_port: int) -> dict[str, str]:
    return {
        **environment(database_url, data_dir, secret),
        "SIPVAKT_SMTP_HOST": "127.0.0.1",
        "SIPVAKT_SMTP_PORT": str(smtp_port),
        "SIPVAKT_MAIL_FROM": "sipvakt@sipvakt.example.se",
        "SIPVAKT_SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
    }


async def wait_for(observer: asyncpg.Connection, query: str, within: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        if await observer.fetchval(query):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never true: {query}")


async def test_sigterm_with_a_hung_smtp_server_exits_within_the_grace_and_loses_nothing(
    database_url: str, tmp_path: Path
) -> None:
    secret = new_webhook_secret()
    observer = await asyncpg.connect(database_url)
    try:
        hanging = HangingSink()
        async with smtp_server(hanging) as hung_port:
            first = ServiceProcess(mail_environment(database_url, tmp_path, secret, hung_port))
            await first.start()
            for number in range(CASES):
                case_id = f"blek-2026-{number:04d}"
                for event in (
                    samples.case_opened(case_id),
                    samples.consent_given(case_id),
                    samples.meeting_scheduled(case_id),
                ):
                    status, _ = await push(first.url, secret, event)
                    assert status == 202
            await wait_for(observer, f"select count(*) = {2 * CASES} from outbox where channel = 'email'")
            await wait_for(observer, "select count(*) > 0 from outbox where state = 'sending'")
            started = time.monotonic()
            # In a thread: the hung SMTP server runs on this event loop.
            assert await asyncio.to_thread(first.stop) == 0, first.logs()
            took = time.monotonic() - started
        assert took < GRACE_SECONDS + EXIT_SLACK_SECONDS, (took, first.logs())
        assert hanging.received == [] and hanging.hung
        rows = await observer.fetch("select state, attempts from outbox where channel = 'email'")
        # Handed back: queued, and the attempt that never reached the server's answer is not counted.
        assert {(row["state"], row["attempts"]) for row in rows} == {("queued", 0)}

        sink = MailSink()
        async with smtp_server(sink) as port:
            second = ServiceProcess(mail_environment(database_url, tmp_path, secret, port))
            await second.start()
            try:
                await wait_for(
                    observer, "select bool_and(state = 'sent') from outbox where channel = 'email'"
                )
            finally:
                assert second.stop() == 0
        counts = Counter(mail.message_id for mail in sink.received)
        assert len(counts) == 2 * CASES
        assert set(counts.values()) == {1}
    finally:
        await observer.close()
