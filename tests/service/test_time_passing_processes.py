"""One move of the test clock across two `sipvakt serve` processes on one database: whichever process
fires a timer on the way reads that timer's own moment from the shared clock, and fires it once."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from service.storage.secrets import new_webhook_secret
from tests import samples
from tests.service.mail import MailSink
from tests.service.processes import ServiceProcess
from tests.service.test_processes import ADMIN, environment, push

pytestmark = pytest.mark.slow
CASE = "blek-2026-0042"
TARGET = "2026-12-15T12:00:00+01:00"


async def test_two_processes_fire_each_timer_on_the_way_at_its_own_moment_once(
    database_url: str, tmp_path: Path, sink: tuple[MailSink, int]
) -> None:
    mail, smtp_port = sink
    secret = new_webhook_secret()
    settings = environment(database_url, tmp_path, secret) | {
        "SIPVAKT_SMTP_HOST": "127.0.0.1",
        "SIPVAKT_SMTP_PORT": str(smtp_port),
        "SIPVAKT_MAIL_FROM": "sipvakt@sipvakt.example.se",
    }
    first, second = ServiceProcess(settings), ServiceProcess(settings)
    await first.start()
    await second.start()
    try:
        for body in (samples.case_opened(), samples.consent_given(), samples.meeting_scheduled()):
            status, _ = await push(first.url, secret, body)
            assert status == 202
        async with aiohttp.ClientSession() as session:
            # The move goes to one process; both fire the timers on the way.
            async with session.post(second.url + "/v1/test-clock", json={"now": TARGET}) as moved:
                assert moved.status == 200, await moved.text()
            async with session.get(
                first.url + f"/v1/cases/{CASE}", headers={"Authorization": f"Bearer {ADMIN}"}
            ) as answer:
                case = await answer.json()
    finally:
        assert first.stop() == 0 and second.stop() == 0

    sent = [r for r in case["reminders"] if r["status"] == "sent"]
    # Two reminders each to the two silent e-mail recipients, then escalation on 14 December for those two;
    # the letter is never marked posted, so it misses its notice (late, told 25 November) instead.
    assert Counter(r["kind"] for r in sent) == {"rsvp": 4, "deviation": 3}
    assert len({r["due_at"] for r in sent}) == 4  # the unposted letter's missed notice adds 25 November
    # Each reminder left once, dated its own moment, whichever process sent it.
    reminded = Counter(
        (",".join(m.rcpt_tos), parsedate_to_datetime(str(m.message["Date"])))
        for m in mail.received
        if any(word in str(m.message["Subject"]) for word in ("Påminnelse", "Avvikelse"))
    )
    assert reminded == Counter((r["to"], datetime.fromisoformat(r["due_at"])) for r in sent)
    assert len({m.message_id for m in mail.received}) == len(mail.received)

    connection = await asyncpg.connect(database_url)
    try:
        fired_twice = await connection.fetchval(
            "select count(*) from timers where state = 'done' and attempts > 1"
        )
        left = await connection.fetchval(
            "select count(*) from timers where state in ('scheduled', 'running') and due_at <= $1",
            datetime.fromisoformat(TARGET),
        )
        done = await connection.fetchval("select count(*) from timers where state = 'done'")
    finally:
        await connection.close()
    assert fired_twice == 0 and left == 0 and done >= 4
