"""Retention: SIPVAKT_RETENTION_DAYS after a case closes, its names, addresses and free text are gone from
every table and from the outbox folder, while the yearly summary counts the same and other cases keep
theirs. Withdrawn consent erases the unsent messages at once."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from service.storage.database import Pool
from tests import samples
from tests.service.harness import ADMIN_TOKEN, Service, service_settings, started
from tests.service.mail import MailSink, mailing_settings, smtp_server
from tests.service.processes import run_command
from tests.service.scenario import move_clock, push_at
from tests.service.webhook_receiver import ALLOW_PRIVATE, receiving, subscribe

CASE = "hall-2026-0100"
OTHER = "hall-2026-0200"
CLOSED_AT = datetime.fromisoformat("2026-12-18T10:00:00+01:00")
MEETING_DAY = "2026-12-17"

# Everything of the erased case that names or describes someone: none of it may be found afterwards.
PERSON_EMAIL = "rut.raderad@example.org"
PERSON_ADDRESS = "Raderargatan 9, 222 22 Glomstad"
COORDINATOR = {
    "name": "Cilla Raderkoordinator",
    "email": "cilla.rader@example.se",
    "organisation": "Halmkommun",
}
RESPONSIBLE = {
    "name": "Ronja Ansvarsdottir",
    "email": "ronja.ansvar@example.se",
    "organisation": "Halmkommun",
}
DELEGATE = {"name": "Dag Ersattarsson", "email": "dag.ersattare@example.net"}
PARTICIPANTS = [
    {
        "participant_id": "g1",
        "name": "Greta Vardnadsdottir",
        "email": "greta.vardnad@example.org",
        "role": "guardian",
        "channel": "email",
    },
    {
        "participant_id": "s1",
        "name": "Sixten Skolkurator",
        "email": "sixten.kurator@example.se",
        "organisation": "Halmskolan",
        "role": "professional",
        "channel": "email",
    },
    {
        "participant_id": "b1",
        "name": "Berit Brevmottagare",
        "organisation": "Halmregionen",
        "role": "professional",
        "channel": "letter",
        "postal_address": "Brevvagen 7, 333 33 Posthamn",
    },
]
LOCATION = "Glomskolan, rum Tystnad"
ONLINE_URL = "https://mote.example.se/rum-hemligt-4711"
PURPOSE = "Planera stod kring franvaro och somn"
QUESTION = "Hur gar det med laxlasningen hemma"
COMMENT = "Kan bara efter klockan tre pga skiftarbete"
ACTION = "Kontakta elevhalsan om extra stodsamtal"
SECRETS = [
    PERSON_EMAIL,
    PERSON_ADDRESS,
    COORDINATOR["name"],
    COORDINATOR["email"],
    RESPONSIBLE["name"],
    RESPONSIBLE["email"],
    DELEGATE["name"],
    DELEGATE["email"],
    *(p["name"] for p in PARTICIPANTS),
    *(p["email"] for p in PARTICIPANTS if "email" in p),
    PARTICIPANTS[2]["postal_address"],
    LOCATION,
    ONLINE_URL,
    PURPOSE,
    QUESTION,
    COMMENT,
    ACTION,
]
# The other case's own strings (the samples' defaults): they must stay.
OTHER_STRINGS = ["kim.koordinator@example.se", "Testskolan, rum 3", "sam@example.se", "Samordna insatser"]

TEXT_COLUMNS = """
select table_name, column_name, data_type from information_schema.columns
where table_schema = current_schema()
    and (data_type in ('text', 'json', 'jsonb', 'bytea', 'character varying', 'ARRAY'))
order by table_name, column_name
"""


async def found_in_database(pool: Pool, needles: list[str]) -> set[str]:
    """The needles found in any text, json, array or bytea column of any table."""
    found: set[str] = set()
    for column in await pool.fetch(TEXT_COLUMNS):
        table, name = column["table_name"], column["column_name"]
        if column["data_type"] == "bytea":
            test = f"position(convert_to($1, 'UTF8') in \"{name}\") > 0"
        else:
            test = f'strpos("{name}"::text, $1) > 0'
        for needle in needles:
            if await pool.fetchval(f'select exists (select 1 from "{table}" where {test})', needle):
                found.add(needle)
    return found


def mail_texts(folder: Path) -> dict[str, str]:
    """Each `.eml` file's headers and decoded parts, as text."""
    texts = {}
    for path in sorted(folder.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        parts = [f"{key}: {value}" for key, value in message.items()]
        for part in message.walk():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                parts.append(payload.decode(part.get_content_charset() or "utf-8", errors="replace"))
        texts[path.name] = "\n".join(parts)
    return texts


def found_in_folder(folder: Path, needles: list[str]) -> set[str]:
    texts = "\n".join(mail_texts(folder).values())
    return {needle for needle in needles if needle in texts}


def erased_case_events() -> list[dict[str, Any]]:
    opened = samples.case_opened(
        CASE,
        "halland",
        municipality="Halmkommun",
        person={
            "reference": "person-rad-1",
            "personnummer": samples.TEST_PERSONNUMMER,
            "name": "Rut Raderad",
            "email": PERSON_EMAIL,
            "postal_address": PERSON_ADDRESS,
        },
        coordinator=COORDINATOR,
    )
    scheduled = samples.meeting_scheduled(
        CASE,
        starts_at=f"{MEETING_DAY}T13:00:00+01:00",
        ends_at=f"{MEETING_DAY}T14:30:00+01:00",
        location=LOCATION,
        online_url=ONLINE_URL,
        organizer=COORDINATOR,
        participants=PARTICIPANTS,
        purpose=PURPOSE,
        questions=[QUESTION],
    )
    return [
        opened,
        samples.consent_given(CASE),
        scheduled,
        samples.responded("g1", "accepted", CASE, comment=COMMENT),
        samples.responded("s1", "delegated", CASE, delegate=DELEGATE, comment=COMMENT),
        samples.event(
            "meeting.held",
            CASE,
            occurred_at=f"{MEETING_DAY}T15:00:00+01:00",
            meeting_id="m1",
            absent=["g1"],
            responsible=RESPONSIBLE,
            followup_on="2027-02-01",
            actions=[
                {
                    "action_id": "a1",
                    "description": ACTION,
                    "responsible_organisation": "Halmskolan",
                    "responsible_email": RESPONSIBLE["email"],
                    "due_on": "2026-12-19",
                }
            ],
        ),
        samples.event("case.closed", CASE, occurred_at=CLOSED_AT.isoformat(), reason="goals_met"),
    ]


async def summary(service: Service) -> dict[str, Any]:
    response = await service.client.get(
        "/v1/reports/summary?region=halland&year=2026", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def test_a_closed_case_is_erased_everywhere_after_the_retention_and_nothing_else(
    database_url: str, tmp_path: Path
) -> None:
    settings = service_settings(database_url, tmp_path, **ALLOW_PRIVATE)
    async with started(settings) as service, receiving() as receiver:
        await subscribe(service, receiver.url)
        other = [
            samples.case_opened(OTHER, "halland"),
            samples.consent_given(OTHER),
            samples.meeting_scheduled(
                OTHER, starts_at="2027-03-17T13:00:00+01:00", ends_at="2027-03-17T14:00:00+01:00"
            ),
        ]
        for body in other:
            assert (await service.push(body)).status == 202
        for body in erased_case_events():
            await push_at(service, body)
        pool, outbox = service.runtime.pool, tmp_path / "outbox"
        case = await (await service.case(CASE)).json()
        assert case["status"] == "closed"
        assert case["deviations"] and any(m["invitations"] for m in case["meetings"])
        assert any(r["status"] == "sent" for r in case["reminders"]), case["reminders"]
        assert receiver.receipts, "the subscription heard of the case"
        letters = await pool.fetch("select letter_id from letters where case_id = $1", CASE)
        assert letters

        await move_clock(service, CLOSED_AT + timedelta(days=89))
        before = await summary(service)
        assert before["meetings_held"] == 1 and before["cases_opened"] == 2
        assert sum(before["reportable_deviations"].values()) >= 1
        # Not yet: every string is still where the case left it, in the database and in the mail files.
        assert await found_in_database(pool, SECRETS) == set(SECRETS)
        assert {LOCATION, PURPOSE, COORDINATOR["email"]} <= found_in_folder(outbox, SECRETS)
        other_files = {name for name in mail_texts(outbox) if OTHER in name}
        digests = "select count(*) from outbox where kind = 'digest' and strpos(payload::text, $1) > 0"
        assert await pool.fetchval(digests, CASE) > 0, "a coordinator's digest listed the case"

        await move_clock(service, CLOSED_AT + timedelta(days=90, minutes=1))

        assert await found_in_database(pool, SECRETS) == set()
        assert found_in_folder(outbox, SECRETS) == set()
        assert await summary(service) == before
        assert await pool.fetchval(digests, CASE) == 0
        assert await pool.fetchval("select count(*) from reply_tokens where case_id = $1", CASE) == 0
        assert await pool.fetchval(
            "select bool_and(payload -> 'data' = '{}'::jsonb) from events where case_id = $1", CASE
        )
        assert (
            await pool.fetchval(
                "select state -> 'person' ->> 'birth_date' from cases where case_id = $1", CASE
            )
            is None
        )
        erased = await (await service.case(CASE)).json()
        assert erased["deviations"] == case["deviations"]
        assert [m["status"] for m in erased["meetings"]] == [m["status"] for m in case["meetings"]]
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        pdf = await service.client.get(f"/v1/letters/{letters[0]['letter_id']}.pdf", headers=headers)
        assert pdf.status == 410

        # The other case keeps everything, its mail files too.
        assert await found_in_database(pool, OTHER_STRINGS) == set(OTHER_STRINGS)
        assert other_files and other_files <= set(mail_texts(outbox))

        # An event that arrives for the erased case is refused and kept without its data.
        late = samples.responded("g1", "declined", CASE, comment=COMMENT)
        assert (await service.push(late)).status == 202
        await service.settle()
        assert await found_in_database(pool, [COMMENT]) == set()


async def test_a_changed_setting_moves_the_erasure_of_cases_closed_before(
    database_url: str, tmp_path: Path
) -> None:
    async with started(service_settings(database_url, tmp_path)) as service:
        for body in erased_case_events()[:3] + erased_case_events()[-1:]:
            await push_at(service, body)
        due = "select due_at from timers where case_id = $1 and kind = 'retention'"
        assert await service.runtime.pool.fetchval(due, CASE) == CLOSED_AT + timedelta(days=90)
    async with started(service_settings(database_url, tmp_path, SIPVAKT_RETENTION_DAYS="30")) as service:
        assert await service.runtime.pool.fetchval(due, CASE) == CLOSED_AT + timedelta(days=30)
        await move_clock(service, CLOSED_AT + timedelta(days=30, minutes=1))
        assert await found_in_database(service.runtime.pool, [LOCATION, PURPOSE]) == set()


async def test_withdrawn_consent_erases_the_messages_that_had_not_left(
    database_url: str, tmp_path: Path
) -> None:
    sink = MailSink(rcpt_answer="451 4.3.0 try again later")
    async with smtp_server(sink) as port, started(mailing_settings(database_url, tmp_path, port)) as service:
        for body in erased_case_events()[:3]:
            assert (await service.push(body)).status == 202
        await service.settle()
        pool = service.runtime.pool
        queued = await pool.fetch(
            "select message_id from outbox where case_id = $1 and state = 'queued' and kind = 'request'", CASE
        )
        assert len(queued) == 2  # the mail server keeps saying "later"
        assert await pool.fetchval("select count(*) from letters where case_id = $1", CASE) == 1

        withdrawn = samples.event("consent.withdrawn", CASE, occurred_at="2026-11-23T12:00:00+01:00")
        assert (await service.push(withdrawn)).status == 202
        await service.settle()

        rows = await pool.fetch(
            "select state, recipient, payload from outbox where message_id = any($1)",
            [row["message_id"] for row in queued],
        )
        assert [(row["state"], row["recipient"]) for row in rows] == [("cancelled", "")] * 2
        assert all(set(row["payload"]) <= {"sequence", "queued_at"} for row in rows)
        # The unposted letter is out of the print queue; the cancellation that follows it is a new one.
        letters = await pool.fetch("select kind from letters where case_id = $1", CASE)
        assert [row["kind"] for row in letters] in ([], ["cancel"])


@pytest.mark.parametrize("days", ["0", "ninety", "3651"])
def test_a_bad_retention_stops_the_service_with_one_clear_line(days: str, tmp_path: Path) -> None:
    environment = {"SIPVAKT_RETENTION_DAYS": days, "SIPVAKT_DATA_DIR": str(tmp_path)}
    result = run_command("serve", environment=environment)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("sipvakt: SIPVAKT_RETENTION_DAYS: ")
    assert days not in line.removeprefix("sipvakt: SIPVAKT_RETENTION_DAYS: ")
