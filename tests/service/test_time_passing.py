"""One move of the test clock is time passing: a whole case lived with one move between its events gives the
same messages, reminders, deviations and deadlines as the same case lived a day at a time, or in random
steps, each on a fresh database and through a real SMTP server."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from calendars.stockholm import STOCKHOLM
from tests import pg, samples
from tests.service.harness import Service, started
from tests.service.mail import MailSink, mailing_settings, smtp_server
from tests.service.scenario import move_clock

CASE = "blek-tid"
START = "2026-11-23T09:00:00+01:00"
END = datetime.fromisoformat("2027-03-31T12:00:00+02:00")

# Moments between `after` and `until` at which the clock stops on its way; `until` itself comes last.
Steps = Callable[[datetime, datetime], Iterator[datetime]]


def story() -> list[dict[str, Any]]:
    """A Blekinge case over four months: the meeting is called before Christmas for a Tuesday after
    Epiphany; the guardian never answers (two reminders, then escalation), the letter recipient cannot be
    reminded (escalation), the school accepts and then stays away (no show); the meeting leaves an action
    and a follow-up date."""
    scheduled = samples.meeting_scheduled(
        CASE, starts_at="2027-01-12T13:00:00+01:00", ends_at="2027-01-12T14:30:00+01:00"
    )
    scheduled["occurred_at"] = "2026-12-04T10:00:00+01:00"
    accepted = samples.responded("p-school", "accepted", CASE)
    accepted["occurred_at"] = "2026-12-08T09:30:00+01:00"
    held = samples.event(
        "meeting.held",
        CASE,
        occurred_at="2027-01-12T15:00:00+01:00",
        meeting_id="m1",
        absent=["p-school"],
        responsible={
            "name": "Kim Koordinator",
            "email": "kim.koordinator@example.se",
            "organisation": "Testkommun socialtjänst",
        },
        followup_on="2027-04-13",
        actions=[
            {
                "action_id": "a1",
                "description": "Anpassning i skolan",
                "responsible_organisation": "Testskolan",
                "responsible_email": "sam@example.se",
                "due_on": "2027-02-01",
            }
        ],
    )
    return [samples.case_opened(CASE), samples.consent_given(CASE), scheduled, accepted, held]


def one_move(after: datetime, until: datetime) -> Iterator[datetime]:
    yield until


def day_by_day(after: datetime, until: datetime) -> Iterator[datetime]:
    """Every Stockholm midnight on the way: some of them are exactly when a deadline's day ends."""
    day = after.astimezone(STOCKHOLM).date() + timedelta(days=1)
    while (midnight := datetime.combine(day, time(0), STOCKHOLM)) < until:
        yield midnight
        day += timedelta(days=1)
    yield until


def random_steps(seed: int) -> Steps:
    chance = random.Random(seed)

    def steps(after: datetime, until: datetime) -> Iterator[datetime]:
        moment = after + timedelta(seconds=chance.randint(60, 3 * 24 * 3600))
        while moment < until:
            yield moment
            moment += timedelta(seconds=chance.randint(60, 3 * 24 * 3600))
        yield until

    return steps


@dataclass(frozen=True)
class Lived:
    """What a case's life left behind, in a form that compares equal when the same things happened."""

    messages: list[tuple[str, str, str]]
    reminders: list[dict[str, Any]]
    deviations: list[dict[str, Any]]
    deadlines: list[dict[str, Any]]
    moves: int


async def live(service: Service, sink: MailSink, steps: Steps) -> Lived:
    moves = 0
    for body in story():
        moves += await pass_until(service, steps, datetime.fromisoformat(body["occurred_at"]))
        response = await service.push(body)
        assert response.status == 202, await response.text()
        await service.settle()
    moves += await pass_until(service, steps, END)
    case = await (await service.case(CASE)).json()
    messages = sorted(
        (",".join(mail.rcpt_tos), str(mail.message["Subject"]), str(mail.message["Date"]))
        for mail in sink.received
    )
    return Lived(messages, case["reminders"], case["deviations"], case["deadlines"], moves)


async def pass_until(service: Service, steps: Steps, until: datetime) -> int:
    moves = 0
    for moment in steps(await service.runtime.clock.now(), until):
        await move_clock(service, moment)
        moves += 1
    return moves


async def lived_on_a_fresh_database(pg_template: str, data_dir: Path, steps: Steps) -> Lived:
    database_url = await pg.fresh_database(pg_template)
    sink = MailSink()
    try:
        async with smtp_server(sink) as port:
            settings = mailing_settings(database_url, data_dir, port, SIPVAKT_TEST_CLOCK=START)
            async with started(settings) as service:
                return await live(service, sink, steps)
    finally:
        await pg.drop_database(pg_template, database_url)


def stockholm(header: str) -> str:
    """A Date: header's moment as Stockholm wall-clock time."""
    return parsedate_to_datetime(header).astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")


async def test_one_move_and_many_small_ones_give_the_same_case(pg_template: str, tmp_path: Path) -> None:
    whole = await lived_on_a_fresh_database(pg_template, tmp_path / "one", one_move)
    daily = await lived_on_a_fresh_database(pg_template, tmp_path / "daily", day_by_day)
    scattered = await lived_on_a_fresh_database(pg_template, tmp_path / "random", random_steps(20261123))
    assert whole.moves == len(story()) + 1
    assert daily.moves > 100 and scattered.moves > 40

    for other in (daily, scattered):
        assert other.messages == whole.messages
        assert other.reminders == whole.reminders
        assert other.deviations == whole.deviations
        assert other.deadlines == whole.deadlines

    # Each message left at its own moment, not at the end of the move it fell in: the guardian's two
    # reminders before the escalation of 7 January (Epiphany, 6 January, is not a working day), which
    # used to call them off when one move went past both.
    assert [
        f"{stockholm(date)} {to.split('@')[0]} {subject.split()[0].rstrip(':')}"
        for to, subject, date in sorted(whole.messages, key=lambda m: (parsedate_to_datetime(m[2]), m))
        if "sammanställning" not in subject
    ] == [
        "2026-12-04 10:00 asa.oberg Kallelse",
        "2026-12-04 10:00 sam Kallelse",
        "2026-12-11 08:00 asa.oberg Påminnelse",
        "2026-12-14 08:00 asa.oberg Påminnelse",
        # The letter is never marked posted: its notice is missed (late, 18 Dec) and p-bup has no reply day.
        "2026-12-21 08:00 kim.koordinator Avvikelse",
        "2027-01-07 08:00 kim.koordinator Avvikelse",
        "2027-01-12 15:00 kim.koordinator Avvikelse",
        "2027-01-28 08:00 sam Påminnelse",
        "2027-02-02 08:00 kim.koordinator Avvikelse",
        "2027-03-12 08:00 kim.koordinator Dags",
    ]
    digests = [stockholm(date) for _, subject, date in whole.messages if "sammanställning" in subject]
    assert len(set(digests)) == len(digests) == 30 and all(moment.endswith(" 08:00") for moment in digests)
    assert [
        (d["kind"], d["participant_id"] or d["action_id"], d["detected_at"]) for d in whole.deviations
    ] == [
        # An unposted letter misses the minimum notice instead of counting a reply day for p-bup.
        ("late", None, "2026-12-18T23:00:00Z"),
        ("no_response", "p-guardian", "2027-01-07T07:00:00Z"),
        ("no_show", "p-school", "2027-01-12T14:00:00Z"),
        ("action_not_done", "a1", "2027-02-01T23:00:00Z"),
    ]
    assert [(r["kind"], r["due_at"]) for r in whole.reminders if r["status"] == "sent"] == [
        ("rsvp", "2026-12-11T08:00:00+01:00"),
        ("rsvp", "2026-12-14T08:00:00+01:00"),
        # The missed notice of the never-posted letter is told the next working morning.
        ("deviation", "2026-12-21T08:00:00+01:00"),
        ("deviation", "2027-01-07T08:00:00+01:00"),
        ("followup_call", "2027-03-12T08:00:00+01:00"),
        ("action_due", "2027-01-28T08:00:00+01:00"),
        ("deviation", "2027-01-12T15:00:00+01:00"),
        ("deviation", "2027-02-02T08:00:00+01:00"),
    ]
