"""The coordinators' daily digest, end to end: the test clock reaches 08:00 on a working day, the timer
fires once across processes, and each coordinator with something to read gets one e-mail."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from calendars.workdays import WorkingCalendar
from config.rules import load_rulebook
from service.http.testclock import move_test_clock
from service.metrics import Metrics
from service.workers import digest
from service.workers.periodic import PeriodicJobs
from service.workers.timers import TimerWorker
from tests import samples
from tests.service.harness import Service, started
from tests.service.mail import MailSink, Received, mailing_settings, smtp_server

KIM = "kim.koordinator@example.se"
LENA = "lena.ledare@example.se"
TOM = "tom.tyst@example.se"
CASE_A = "blek-2026-0042"
CASE_B = "hall-2026-0007"
CASE_QUIET = "blek-2026-0099"
CONFIG = Path(__file__).resolve().parents[2] / "config"


def coordinator(email: str, name: str) -> dict[str, str]:
    return {"name": name, "email": email, "organisation": "Testkommun socialtjänst"}


def held_with_a_no_show(case_id: str, meeting_id: str, day: str) -> list[dict[str, Any]]:
    """A short meeting on `day` that the school nurse accepted and then missed: a `no_show` deviation."""
    return [
        samples.meeting_scheduled(
            case_id,
            meeting_id,
            starts_at=f"{day}T13:00:00+01:00",
            ends_at=f"{day}T14:00:00+01:00",
            notice_agreed=True,
        ),
        samples.responded("p-school", "accepted", case_id, meeting_id),
        samples.event(
            "meeting.held",
            case_id,
            meeting_id=meeting_id,
            absent=["p-school"],
            responsible=coordinator(KIM, "Kim Koordinator"),
            actions=[],
        ),
    ]


async def push_all(service: Service, events: list[dict[str, Any]]) -> None:
    for body in events:
        response = await service.push(body)
        assert response.status == 202, await response.text()
    await service.settle()


async def move_clock(service: Service, to: str) -> None:
    response = await service.client.post("/v1/test-clock", json={"now": to})
    assert response.status == 200, await response.text()


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def digests(sink: MailSink) -> list[Received]:
    return [mail for mail in sink.received if mail.message_id.startswith("<digest.")]


def digest_count(sink: MailSink) -> Counter[str]:
    return Counter(address for mail in digests(sink) for address in mail.rcpt_tos)


async def payloads(service: Service, day: str) -> dict[str, dict[str, Any]]:
    """The digests queued for `day`, by recipient: their lists exactly as the messages word them."""
    rows = await service.runtime.pool.fetch(
        "select recipient, case_id, channel, payload from outbox where kind = 'digest'"
        " and payload->>'day' = $1",
        day,
    )
    assert all(row["case_id"] is None and row["channel"] == "email" for row in rows)
    return {row["recipient"]: row["payload"] for row in rows}


async def test_a_working_morning_brings_each_coordinator_one_digest_listing_their_items(
    database_url: str, tmp_path: Path
) -> None:
    sink = MailSink()
    async with smtp_server(sink) as port, started(mailing_settings(database_url, tmp_path, port)) as service:
        # Monday 2026-11-23 09:00. Kim: a meeting on 17 December with three unanswered invitations
        # (reply-by 2 December), and a missed meeting today. Lena: the same kind of meeting in Halland.
        # Tom: a case with nothing due, so nothing to read.
        await push_all(
            service,
            [
                samples.case_opened(CASE_A),
                samples.consent_given(CASE_A),
                samples.meeting_scheduled(CASE_A),
                *held_with_a_no_show(CASE_A, "m0", "2026-11-23"),
                samples.case_opened(CASE_B, "halland", coordinator=coordinator(LENA, "Lena Ledare")),
                samples.consent_given(CASE_B),
                samples.meeting_scheduled(CASE_B),
                samples.case_opened(CASE_QUIET, coordinator=coordinator(TOM, "Tom Tyst")),
            ],
        )
        # The letters are posted the same morning: every invitation has reached its participant.
        await service.post_letters()
        await service.settle()
        await move_clock(service, "2026-11-24T07:59:00+01:00")
        assert digests(sink) == []  # business time decides: not before the send window opens

        await move_clock(service, "2026-11-24T08:00:00+01:00")
        assert digest_count(sink) == {KIM: 1, LENA: 1}
        tuesday = await payloads(service, "2026-11-24")
        kim = tuesday[KIM]
        # The reply-by day is 8 days away: outside the week.
        assert kim["deadlines"] == []
        invited = [(i["case_id"], i["participant"], i["organisation"]) for i in kim["invitations"]]
        assert invited == [
            (CASE_A, "Bo Behandlare", "Testregionen BUP"),
            (CASE_A, "Sam Skolsköterska", "Testskolan"),
            (CASE_A, "Åsa Öberg (test)", None),
        ]
        assert {moment(i["starts_at"]) for i in kim["invitations"]} == {moment("2026-12-17T13:00:00+01:00")}
        assert [(d["case_id"], d["kind"], moment(d["detected_at"])) for d in kim["deviations"]] == [
            (CASE_A, "no_show", moment("2026-11-23T09:00:00+01:00"))
        ]
        assert {i["case_id"] for i in tuesday[LENA]["invitations"]} == {CASE_B}
        assert tuesday[LENA]["deviations"] == []

        [mail] = [mail for mail in digests(sink) if KIM in mail.rcpt_tos]
        assert mail.rcpt_tos == (KIM,) and mail.calendar_method() is None
        assert mail.message["Subject"] == "SIP-bevakning: sammanställning tisdag 24 november 2026"
        text = mail.text()
        for expected in (
            "Tidsfrister de närmaste 7 dagarna",
            "Inga tidsfrister de närmaste 7 dagarna.",
            "Obesvarade kallelser",
            "- Sam Skolsköterska (Testskolan): möte torsdag 17 december 2026 kl. 13.00, ärende "
            "blek-2026-0042",
            "Nya avvikelser",
            "- Kallad deltagare kom inte, ärende blek-2026-0042 (upptäckt måndag 23 november 2026 kl. 09.00)",
            "<li>Sam Skolsköterska (Testskolan): möte torsdag 17 december 2026 kl. 13.00",
        ):
            assert expected in text
        assert CASE_B not in text and "Lena" not in text

        # Later on Tuesday Lena's missed meeting; Wednesday the reply-by day is within the week.
        # Halland counts every absent invitee who was called: the nurse's invitation is delivered (250 OK)
        # before the meeting is recorded held.
        *scheduled, held = held_with_a_no_show(CASE_B, "m0", "2026-11-24")
        await push_all(service, scheduled)
        await push_all(service, [held])
        await move_clock(service, "2026-11-25T08:00:00+01:00")
        assert digest_count(sink) == {KIM: 2, LENA: 2}
        wednesday = await payloads(service, "2026-11-25")
        assert wednesday[KIM]["deadlines"] == [
            {"case_id": CASE_A, "kind": "rsvp_due", "due": "2026-12-02", "rule": "default.rsvp_after"}
        ]
        # Each deviation is in exactly one digest: Kim's in Tuesday's, Lena's in Wednesday's.
        assert wednesday[KIM]["deviations"] == []
        assert [(d["case_id"], d["kind"]) for d in wednesday[LENA]["deviations"]] == [(CASE_B, "no_show")]
        await move_clock(service, "2026-11-26T08:00:00+01:00")
        thursday = await payloads(service, "2026-11-26")
        assert thursday[KIM]["deviations"] == thursday[LENA]["deviations"] == []

        # No personnummer and no name of the person any case is about, in any part of any digest.
        assert len(digests(sink)) == 6
        for mail in digests(sink):
            everything = mail.data.decode("utf-8", "replace") + mail.text()
            for secret in (
                samples.TEST_PERSONNUMMER,
                "201212121212",
                "121212-1212",
                "Testa Testsson",
                "Testa",
            ):
                assert secret not in everything
        assert TOM not in digest_count(sink)


async def test_no_digest_on_weekends_or_holidays_and_the_next_working_day_gets_one(
    database_url: str, tmp_path: Path
) -> None:
    sink = MailSink()
    # Friday 18 December 2026, and a meeting in February, so that every digest has something to list.
    async with smtp_server(sink) as port:
        settings = mailing_settings(
            database_url, tmp_path, port, SIPVAKT_TEST_CLOCK="2026-12-18T09:00:00+01:00"
        )
        async with started(settings) as service:
            await push_all(
                service,
                [
                    samples.case_opened(CASE_A),
                    samples.consent_given(CASE_A),
                    samples.meeting_scheduled(
                        CASE_A, starts_at="2027-02-15T13:00:00+01:00", ends_at="2027-02-15T14:00:00+01:00"
                    ),
                ],
            )
            expected = 0
            for morning, working in (
                ("2026-12-19T08:00:00+01:00", 0),  # Saturday
                ("2026-12-21T08:00:00+01:00", 1),  # Monday
                ("2026-12-22T08:00:00+01:00", 1),
                ("2026-12-23T08:00:00+01:00", 1),
                ("2026-12-24T08:00:00+01:00", 0),  # Christmas Eve
                ("2026-12-25T08:00:00+01:00", 0),  # Christmas Day
                ("2026-12-26T08:00:00+01:00", 0),  # Boxing Day, a Saturday too
                ("2026-12-28T08:00:00+01:00", 1),
                # One move over Tuesday and Wednesday is those two mornings passing: two digests.
                ("2026-12-31T08:00:00+01:00", 2),
                ("2027-01-01T08:00:00+01:00", 0),  # New Year's Day
                ("2027-01-04T08:00:00+01:00", 1),  # Monday
            ):
                await move_clock(service, morning)
                expected += working
                assert digest_count(sink) == ({KIM: expected} if expected else {}), morning
            dated = [parsedate_to_datetime(str(mail.message["Date"])) for mail in digests(sink)[-3:]]
            assert dated == [
                moment(f"{day}T08:00:00+01:00") for day in ("2026-12-29", "2026-12-30", "2027-01-04")
            ]

            # Down from Monday morning to Thursday: Tuesday's digest is not sent late, Thursday's is sent
            # (6 January, a Wednesday, is Epiphany).
            await move_test_clock(service.runtime.pool, moment("2027-01-07T08:30:00+01:00"))
            await service.settle()
            days = [
                row["day"].isoformat()
                for row in await service.runtime.pool.fetch("select day from digests order by day")
            ]
            assert days == [
                "2026-12-21",
                "2026-12-22",
                "2026-12-23",
                "2026-12-28",
                "2026-12-29",
                "2026-12-30",
                "2027-01-04",
                "2027-01-07",
            ]


async def test_two_processes_on_one_database_send_each_coordinator_one_digest(
    database_url: str, tmp_path: Path
) -> None:
    sink = MailSink()
    async with smtp_server(sink) as port:
        first = mailing_settings(database_url, tmp_path / "a", port)
        second = mailing_settings(database_url, tmp_path / "b", port)
        async with started(first) as one, started(second) as two:
            await push_all(
                one,
                [
                    samples.case_opened(CASE_A),
                    samples.consent_given(CASE_A),
                    samples.meeting_scheduled(CASE_A),
                    samples.case_opened(CASE_B, "halland", coordinator=coordinator(LENA, "Lena Ledare")),
                    samples.consent_given(CASE_B),
                    samples.meeting_scheduled(CASE_B),
                ],
            )
            await move_clock(two, "2026-11-24T08:00:00+01:00")
            await one.settle()
            assert digest_count(sink) == {KIM: 1, LENA: 1}
            await move_clock(one, "2026-11-25T08:00:00+01:00")
            await two.settle()
            assert digest_count(sink) == {KIM: 2, LENA: 2}
            timers = await one.runtime.pool.fetch(
                "select key, state, attempts from timers where kind = 'digest' order by key"
            )
            assert [(row["key"], row["state"], row["attempts"]) for row in timers] == [
                ("digest:2026-11-24", "done", 1),
                ("digest:2026-11-25", "done", 1),
                ("digest:2026-11-26", "scheduled", 0),
            ]


async def test_a_lost_digest_timer_is_armed_again(database_url: str, tmp_path: Path) -> None:
    sink = MailSink()
    async with smtp_server(sink) as port, started(mailing_settings(database_url, tmp_path, port)) as service:
        pool = service.runtime.pool
        # Started on Monday 09:00: the first digest is Tuesday's.
        assert await pool.fetchval("select key from timers where kind = 'digest'") == "digest:2026-11-24"
        await pool.execute("delete from timers where kind = 'digest'")
        schedule = digest.digest_schedule(load_rulebook(CONFIG), WorkingCalendar())
        worker = TimerWorker(pool, service.runtime.clock, {}, Metrics())
        jobs = PeriodicJobs(pool, service.runtime.clock, worker, digests=schedule)
        await jobs.ensure_digest()
        await jobs.ensure_digest()
        rows = await pool.fetch("select key, due_at, state from timers where kind = 'digest'")
        assert [(row["key"], row["due_at"].isoformat(), row["state"]) for row in rows] == [
            ("digest:2026-11-24", "2026-11-24T07:00:00+00:00", "scheduled")
        ]
