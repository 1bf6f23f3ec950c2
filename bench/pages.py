"""How long the web app's pages take with 10,000 cases in the signed-in coordinator's scope.

The cases are written straight into the store with COPY (about a second for ten thousand): case
documents built here, each with a held first meeting, every third with a follow-up, every fifth with
a deviation, every twentieth with a letter in the print queue; the held meetings go into
`held_meetings` through the same function `store.save_case` uses (`service.report_facts`). Pushing
10,000 cases through the intake would take many minutes and measure the intake, not the pages.

Then the service runs in this process, as `sipvakt serve` does, and each page is fetched over loopback
HTTP with a session cookie, one request at a time after a warm-up; the time is from sending the request
to having read the whole answer, which bounds the server's time from above. Pages of the app that this
checkout does not have (404) are skipped. `GET /v1/health`, measured the same way in the same run, is
the baseline that tells a loaded machine from a slow page. Each page prints p50 and p95 and a line
`RESULT page_<name>_p95_ms <value> goal 200 PASS|FAIL`.

    .venv/bin/python bench/pages.py [--cases 10000] [--requests 40]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp import web

from config.settings import load_settings
from scheduler.case import Case, ContactInfo, Deadline, Deviation, Meeting, PersonInfo, Warning
from service.auth.sessions import start_session
from service.auth.users import UserRequest, create_user
from service.http.app import build_app
from service.server import running
from service.storage import report_facts
from service.storage.database import Pool, start_temporary_postgres
from service.storage.secrets import new_webhook_secret

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
REGION = "halland"
GOAL_MS = 200.0
ORGANISATION = "Testkommun socialtjänst"


def bench_case(number: int) -> Case:
    coordinator = ContactInfo(
        name="Kim Koordinator", email=f"koordinator{number % 20}@example.se", organisation=ORGANISATION
    )
    opened = START + timedelta(hours=number * 0.7)
    meetings = {}
    for index, kind in enumerate(("initial", "followup")[: 2 if number % 3 == 0 else 1]):
        starts = opened + timedelta(days=20 + 60 * index)
        meetings[f"m{index + 1}"] = Meeting(
            meeting_id=f"m{index + 1}",
            kind=kind,
            status="held",
            starts_at=starts,
            ends_at=starts + timedelta(hours=1),
            location="Testskolan, rum 3",
            organizer=coordinator,
            purpose="Samordna insatser i skola och hem",
            scheduled_at=opened,
            held_at=starts + timedelta(hours=1),
        )
    deviations = []
    if number % 5 == 0:
        deviations.append(
            Deviation(
                deviation_id=f"dev_{number:08x}",
                kind=("no_response", "no_show", "action_not_done", "late")[number % 4],
                detected_at=opened + timedelta(days=25),
                meeting_id="m1",
                rule="default.escalation",
                reportable=number % 10 == 0,
            )
        )
    return Case(
        case_id=f"bench-{number:05d}",
        integration_id="default",
        region=REGION,
        status="closed" if number % 4 == 0 else "open",
        urgent=False,
        person=PersonInfo(reference=f"person-{number}"),
        detected_at=date(2026, 1, 2),
        detected_by="skola",
        coordinator=coordinator,
        opened_at=opened,
        meetings=meetings,
        deviations=deviations,
        # Deadlines from three weeks past to two months ahead, and now and then a warning, so that Att
        # göra has cases in every tier to rank.
        deadlines=[
            Deadline(
                kind="followup_due",
                due=NOW.date() + timedelta(days=number % 80 - 20),
                status="pending",
                rule="halland.followup",
            )
        ],
        warnings=[Warning(kind="notice_too_short", message="Kort kallelsetid.")] if number % 7 == 0 else [],
    )


async def seed(pool: Pool, count: int) -> None:
    cases = [bench_case(number) for number in range(count)]
    async with pool.acquire() as connection, connection.transaction():
        # As CSV: asyncpg's binary COPY has no encoder for the service's text codec of json.
        rows = io.StringIO()
        writer = csv.writer(rows)
        for case in cases:
            organisations = "{" + ",".join(f'"{name}"' for name in sorted(case.organisations())) + "}"
            state = json.dumps(case.model_dump(mode="json"))
            opened, updated = case.opened_at.isoformat(), NOW.isoformat()
            writer.writerow(
                [
                    case.case_id,
                    case.integration_id,
                    case.region,
                    organisations,
                    case.status,
                    state,
                    1,
                    opened,
                    updated,
                ]
            )
        await connection.copy_to_table(
            "cases",
            source=io.BytesIO(rows.getvalue().encode()),
            columns=[
                "case_id",
                "integration_id",
                "region",
                "organisations",
                "status",
                "state",
                "version",
                "opened_at",
                "updated_at",
            ],
            format="csv",
        )
        await connection.copy_records_to_table(
            "held_meetings",
            columns=list(report_facts.COLUMNS),
            records=[
                report_facts.row(case, held) for case in cases for held in report_facts.held_meetings(case)
            ],
        )
        await connection.copy_records_to_table(
            "deviations",
            columns=[
                "deviation_id",
                "case_id",
                "integration_id",
                "region",
                "organisations",
                "kind",
                "detected_at",
                "meeting_id",
                "rule",
                "reportable",
            ],
            records=[
                (
                    d.deviation_id,
                    case.case_id,
                    case.integration_id,
                    case.region,
                    sorted(case.organisations()),
                    d.kind,
                    d.detected_at,
                    d.meeting_id,
                    d.rule,
                    d.reportable,
                )
                for case in cases
                for d in case.deviations
            ],
        )
        await connection.copy_records_to_table(
            "letters",
            columns=[
                "letter_id",
                "case_id",
                "region",
                "organisations",
                "meeting_id",
                "kind",
                "pdf",
                "created_at",
            ],
            records=[
                (
                    f"let_{case.case_id}",
                    case.case_id,
                    case.region,
                    [ORGANISATION],
                    "m1",
                    "request",
                    b"%PDF-1.4 bench",
                    case.opened_at,
                )
                for case in cases[::20]
            ],
        )
        await connection.execute("analyze")


async def measure(client: aiohttp.ClientSession, url: str, cookie: str, requests: int) -> list[float] | None:
    """Milliseconds per request, or None when the page does not exist here."""
    headers = {"Cookie": f"sipvakt_session={cookie}"}
    times = []
    for round_number in range(requests + 5):
        began = time.perf_counter()
        async with client.get(url, headers=headers, allow_redirects=False) as response:
            await response.read()
            if response.status == 404:
                return None
            assert response.status == 200, (url, response.status)
        if round_number >= 5:  # the first few warm the caches and the connection
            times.append((time.perf_counter() - began) * 1000)
    return times


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20, method="inclusive")[-1]


async def main(cases: int, requests: int) -> int:
    database_url = os.environ.get("SIPVAKT_DATABASE_URL") or start_temporary_postgres("pages-")
    with tempfile.TemporaryDirectory(prefix="pages-data-") as data_dir:
        settings = load_settings(
            {
                "SIPVAKT_DATABASE_URL": database_url,
                "SIPVAKT_DATA_DIR": str(Path(data_dir)),
                "SIPVAKT_WEBHOOK_SECRET": new_webhook_secret(),
                "SIPVAKT_TEST_CLOCK": NOW.isoformat(),
            }
        )
        async with running(settings) as (runtime, _):
            began = time.perf_counter()
            await seed(runtime.pool, cases)
            print(f"seeded {cases} cases in {time.perf_counter() - began:.1f} s")
            async with runtime.pool.acquire() as connection:
                user = await create_user(
                    connection,
                    UserRequest(email="bench@kommun.example", role="coordinator", regions=[REGION]),
                    await runtime.clock.now(),
                )
                session = await start_session(connection, user.user_id, await runtime.clock.now())
            runner = web.AppRunner(build_app(runtime), access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = runner.addresses[0][1]
            base = f"http://127.0.0.1:{port}"
            pages = {
                "home": "/app/",
                "report": f"/app/report?region={REGION}&year=2026",
                "policy_index": "/app/reminder-policy",
                "region_policy": f"/app/regions/{REGION}/reminder-policy",
                "case_policy": "/app/cases/bench-00001/reminder-policy",
                "letters": "/app/letters",
                "letters_posted": "/app/letters?visa=postade",
                "deviations": "/app/deviations",
                "case": "/app/cases/bench-00001",
            }
            failed = False
            try:
                async with aiohttp.ClientSession() as client:
                    # The baseline of the same run: the cheapest answer, through the same HTTP stack.
                    health = await measure(client, base + "/v1/health", session.cookie_value, requests)
                    assert health is not None
                    baseline = statistics.median(health)
                    print(f"baseline /v1/health p50 {baseline:.1f} ms")
                    for name, path in pages.items():
                        times = await measure(client, base + path, session.cookie_value, requests)
                        if times is None:
                            print(f"page {name:<15} {path}: not in this checkout, skipped")
                            continue
                        high = p95(times)
                        verdict = "PASS" if high < GOAL_MS else "FAIL"
                        failed |= verdict == "FAIL"
                        median = statistics.median(times)
                        print(
                            f"page {name:<15} p50 {median:7.1f} ms ({median / baseline:4.1f} x baseline)"
                            f"  p95 {high:7.1f} ms  {path}"
                        )
                        print(f"RESULT page_{name}_p95_ms {high:.1f} goal {GOAL_MS:.0f} {verdict}")
            finally:
                await runner.cleanup()
    return 1 if failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=40)
    arguments = parser.parse_args()
    raise SystemExit(asyncio.run(main(arguments.cases, arguments.requests)))
