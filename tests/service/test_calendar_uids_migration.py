"""Migration 0013 on invitations sent before calendar UIDs were random: each keeps the UID its recipient's
calendar holds (`case.meeting@domain`), so an update or a cancellation changes that event instead of
adding a second one; replies under it still answer only for their sender's own invitation."""

from __future__ import annotations

from pathlib import Path

from icalendar import Calendar

from service.storage.database import create_pool, migrate
from tests import samples
from tests.service.harness import Service, started
from tests.service.mail import MailSink, Received, calendar_mail, free_port, mailing_settings, send_reply
from tests.service.replies import GUESSED_UID, PARTICIPANTS, statuses

DAVID = "david.test@example.org"


def calendar_uid(mail: Received) -> str:
    [part] = [part for part in mail.message.walk() if part.get_content_type() == "text/calendar"]
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    [event] = Calendar.from_ical(payload).walk("VEVENT")
    return str(event["UID"])


def reply(attendee: str) -> bytes:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Test//Legacy//EN",
        "METHOD:REPLY",
        "BEGIN:VEVENT",
        f"UID:{GUESSED_UID}",
        "DTSTAMP:20261124T120000Z",
        f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:{attendee}",
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
    return "\r\n".join(lines).encode()


async def test_invitations_sent_before_keep_their_uid_and_replies_stay_bound_to_their_sender(
    database_url: str, tmp_path: Path, sink: tuple[MailSink, int]
) -> None:
    mails, port = sink
    settings = mailing_settings(database_url, tmp_path, port, SIPVAKT_INBOUND_SMTP_PORT=str(free_port()))
    async with started(settings) as service:
        await service.push(samples.case_opened())
        await service.push(samples.consent_given())
        await service.push(samples.meeting_scheduled(participants=PARTICIPANTS[:5]))
        await service.settle()

    pool = await create_pool(database_url)
    try:
        # The shape before 0013: no table; the calendars that left carried the derived UID.
        await pool.execute("drop table calendar_uids")
        await pool.execute("drop index outbox_email_recipient")
        await pool.execute("delete from schema_migrations where version = 13")
        assert await migrate(pool) == [13]
        rows = await pool.fetch(
            "select participant_id, uid, legacy from calendar_uids order by participant_id"
        )
        assert [(row["uid"], row["legacy"]) for row in rows] == [("blek-2026-0042.m1", True)] * 5
    finally:
        await pool.close()

    async with started(settings) as service:
        await answer(service, reply(DAVID), DAVID)
        # Under the shared old UID, a forger speaking for another attendee is still refused.
        await answer(service, reply("bo.test@example.org"), DAVID)
        await service.settle()
        found = await statuses(service)
        assert found["p-android"] == "accepted" and found["p-google"] == "sent"

        await service.push(samples.rescheduled())
        await service.settle()
        [update] = [mail for mail in mails.to(DAVID) if "SEQUENCE:1" in decoded_calendar(mail)]
        assert calendar_uid(update) == GUESSED_UID
        # A participant invited after the migration gets a random UID.
        newcomer = {**PARTICIPANTS[5], "participant_id": "p-new"}
        await service.push(samples.meeting_scheduled(meeting_id="m2", participants=[newcomer]))
        await service.settle()
        [invitation] = mails.to(str(newcomer["email"]))
        assert "blek-2026-0042" not in calendar_uid(invitation)


def decoded_calendar(mail: Received) -> str:
    [part] = [part for part in mail.message.walk() if part.get_content_type() == "text/calendar"]
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


async def answer(service: Service, ics: bytes, sender: str) -> None:
    assert (await send_reply(service, calendar_mail(ics, sender=sender), sender=sender)).endswith("OK")
