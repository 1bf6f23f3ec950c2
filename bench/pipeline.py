"""From an accepted event to the 250 OK of its invitations at a local aiosmtpd, through the whole service.

Cases (1,000 by default; --quick: 60) are opened, given consent and get a meeting with three participants
invited by e-mail, pushed by 16 concurrent clients through `POST /v1/events`. The service runs here with
every worker of `sipvakt serve`, sending over kept SMTP sessions to an aiosmtpd in its own thread. The
figures: invitations delivered per second from the first 202 to the last 250, against the ceiling of the
slowest component measured in the same run, and how long each invitation took from the 202 of its
meeting to its 250. The components' ceilings: the SMTP hand-over of pre-built invitations over one kept
session (what the delivery worker drives, one message at a time), the intake's rate of 202s to signed
events, and the event processor's rate on the same events (case.opened, which sends nothing); there is
one event per invitation here.

    .venv/bin/python bench/pipeline.py [--quick]
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web
from common import (
    arguments,
    case_opened,
    data_dir,
    free_port,
    fresh_database,
    kept_session_rate,
    post,
    quantile,
    result,
    server_url,
    signed,
    smtp_sink,
)

from config.settings import load_settings
from service.http.app import build_app
from service.http.http_server import ApiRunner
from service.server import running
from service.storage.secrets import new_webhook_secret

CLIENTS = 16
PARTICIPANTS = 3
GOAL = 0.50
CEILING_MESSAGES = 300
CEILING_EVENTS = 150


def consent(case_id: str) -> dict[str, Any]:
    return {
        "type": "consent.given",
        "case_id": case_id,
        "occurred_at": "2026-11-23T10:00:00+01:00",
        "data": {"given_by": "adult", "valid_from": "2026-11-23", "valid_to": "2027-11-22"},
    }


def meeting(case_id: str, number: int, starts_at: datetime) -> dict[str, Any]:
    people = [
        {
            "participant_id": f"p{index}",
            "name": f"Deltagare {index} (test)",
            "email": f"p{index}.c{number}@example.org",
            "organisation": "Testskolan",
            "role": "professional",
            "channel": "email",
        }
        for index in range(PARTICIPANTS)
    ]
    return {
        "type": "meeting.scheduled",
        "case_id": case_id,
        "occurred_at": "2026-11-23T11:00:00+01:00",
        "data": {
            "meeting_id": "m1",
            "kind": "initial",
            "starts_at": starts_at.isoformat(),
            "ends_at": (starts_at + timedelta(hours=1, minutes=30)).isoformat(),
            "location": "Testskolan, rum 3",
            "organizer": {"name": "Kim Koordinator", "email": "kim@example.se", "organisation": "Testkommun"},
            "participants": people,
            "purpose": "Samordna insatser i skola och hem",
        },
    }


def invitation_bytes(number: int) -> bytes:
    """A message of an invitation's size (about 7 kB), for the SMTP ceiling."""
    body = b"Kallelse till SIP-mote, rad for rad som i ett riktigt meddelande.\r\n" * 100
    return (
        (
            f"From: sipvakt@sipvakt.example.se\r\nTo: x{number}@example.org\r\n"
            f"Message-ID: <ceiling-{number}@sipvakt.example.se>\r\nSubject: Kallelse\r\n\r\n"
        ).encode()
        + body
        + b"\r\n"
    )


async def smtp_ceiling(port: int) -> float:
    messages = [(f"x{number}@example.org", invitation_bytes(number)) for number in range(CEILING_MESSAGES)]
    return await kept_session_rate(port, messages)


async def main(quick: bool) -> None:
    logging.basicConfig(level=logging.WARNING)
    cases = 60 if quick else 1000
    secret = new_webhook_secret()
    starts_at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=40)
    async with fresh_database(server_url()) as (url, _), smtp_sink() as (smtp_port, sink):
        smtp_rate = await smtp_ceiling(smtp_port)
        settings = load_settings(
            {
                "SIPVAKT_DATABASE_URL": url,
                "SIPVAKT_DATA_DIR": str(data_dir("pipeline")),
                "SIPVAKT_WEBHOOK_SECRET": secret,
                "SIPVAKT_ADMIN_TOKEN": "bench-admin-token-0123456789abcdef",
                "SIPVAKT_SMTP_HOST": "127.0.0.1",
                "SIPVAKT_SMTP_PORT": str(smtp_port),
                "SIPVAKT_MAIL_FROM": "sipvakt@sipvakt.example.se",
            }
        )
        async with running(settings) as (runtime, _):
            http_port = free_port()
            runner = ApiRunner(build_app(runtime), access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", http_port).start()
            events_url = f"http://127.0.0.1:{http_port}/v1/events"
            accepted: dict[int, float] = {}
            try:
                async with aiohttp.ClientSession() as session:
                    # The intake's own ceiling: case.opened events, whose processing sends nothing.
                    opened = [signed(secret, case_opened(f"pipe-ceiling-{n}")) for n in range(CEILING_EVENTS)]
                    started = time.perf_counter()
                    await asyncio.gather(*(drain(session, events_url, opened) for _ in range(CLIENTS)))
                    intake_rate = CEILING_EVENTS / (time.perf_counter() - started)
                    # The processor's own rate: the same events applied, from the first 202 to the last one
                    # applied (it starts at once, so intake and processing overlap as in the pipeline).
                    pending_sql = "select count(*) from events where state = 'pending'"
                    while await runtime.pool.fetchval(pending_sql):  # noqa: ASYNC110 (the database holds the state)
                        await asyncio.sleep(0.05)
                    processor_rate = CEILING_EVENTS / (time.perf_counter() - started)
                    before = len(sink.arrivals)
                    pending = list(range(cases))

                    async def client() -> None:
                        while pending:
                            number = pending.pop()
                            case_id = f"pipe-{number:05d}"
                            for body in (case_opened(case_id), consent(case_id)):
                                assert await post(session, events_url, signed(secret, body)) == 202
                            request = signed(secret, meeting(case_id, number, starts_at))
                            assert await post(session, events_url, request) == 202
                            accepted[number] = datetime.now(UTC).timestamp()

                    first = datetime.now(UTC).timestamp()
                    await asyncio.gather(*(client() for _ in range(CLIENTS)))
                    wanted = cases * PARTICIPANTS
                    deadline = time.perf_counter() + 600
                    # The sink runs in a thread of its own: polled, it cannot set this loop's events.
                    while len(sink.arrivals) - before < wanted and time.perf_counter() < deadline:  # noqa: ASYNC110
                        await asyncio.sleep(0.05)
            finally:
                await runner.cleanup()
    ours = [(to, at) for to, at in sink.arrivals[before:] if to.startswith("p") and ".c" in to]
    assert len(ours) == wanted, (len(ours), wanted)
    last = max(at for _, at in ours)
    rate = wanted / (last - first)
    latencies = [at - accepted[int(to.split(".c")[1].split("@")[0])] for to, at in ours]
    ceilings = {"SMTP hand-over": smtp_rate, "intake": intake_rate, "event processor": processor_rate}
    slowest = min(ceilings, key=lambda name: ceilings[name])
    # Three events (opened, consent, meeting) per three invitations: one event per invitation.
    ceiling = ceilings[slowest]
    print(f"pipeline benchmark: {cases} cases x {PARTICIPANTS} invitations, {CLIENTS} clients")
    print(f"ceiling, SMTP pre-built over a kept session   {smtp_rate:8.1f} messages/s")
    print(f"ceiling, intake (202s to signed events)       {intake_rate:8.1f} events/s")
    print(f"ceiling, event processor (case.opened)        {processor_rate:8.1f} events/s")
    print(f"end to end, first 202 to last 250            {rate:8.1f} invitations/s   {rate / ceiling:6.1%}")
    print(f"  of the slowest component's ceiling ({slowest})")
    print(
        f"202 of the meeting to 250 of an invitation: p50 {quantile(latencies, 0.5):.2f} s,"
        f" p99 {quantile(latencies, 0.99):.2f} s"
    )
    result("pipeline_ratio_of_ceiling", rate / ceiling, f">={GOAL:.2f}", rate / ceiling >= GOAL)
    result("pipeline_p50_seconds_202_to_250", quantile(latencies, 0.5), "report", True)
    result("pipeline_p99_seconds_202_to_250", quantile(latencies, 0.99), "report", True)


async def drain(
    session: aiohttp.ClientSession, url: str, requests: list[tuple[bytes, dict[str, str]]]
) -> None:
    while requests:
        assert await post(session, url, requests.pop()) == 202


if __name__ == "__main__":
    asyncio.run(main(arguments(__doc__.splitlines()[0]).quick))
