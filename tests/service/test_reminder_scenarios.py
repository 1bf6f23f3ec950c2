"""Whole cases under the test clock, months in a second: exactly which messages, reminders and deviations
happen on which day (Stockholm time) for Blekinge across Christmas, for an urgent Halland case, and for a
Västra Götaland case after discharge from inpatient care."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from calendars.stockholm import STOCKHOLM
from calendars.workdays import WorkingCalendar
from tests import samples
from tests.service.harness import Service, started
from tests.service.mail import MailSink, mailing_settings, smtp_server
from tests.service.scenario import Happening, happenings, move_clock, push_at

SURVEY_URL = "https://enkat.example.se/sip"
COORDINATOR = "kim.koordinator"


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """The shipped rule files, with a survey address for Blekinge (its document names none)."""
    target = tmp_path / "config"
    shutil.copytree(Path(__file__).resolve().parents[2] / "config" / "regions", target / "regions")
    blekinge = target / "regions" / "blekinge.toml"
    text = blekinge.read_text(encoding="utf-8")
    blekinge.write_text(
        text.replace('# url = "https://enkat.example.se/sip"', f'url = "{SURVEY_URL}"'), encoding="utf-8"
    )
    return target


@pytest.fixture
async def mailed(
    database_url: str, tmp_path: Path, config_dir: Path
) -> AsyncIterator[tuple[Service, MailSink]]:
    sink = MailSink()
    async with smtp_server(sink) as port:
        settings = mailing_settings(
            database_url,
            tmp_path,
            port,
            SIPVAKT_CONFIG_DIR=str(config_dir),
            SIPVAKT_TEST_CLOCK="2026-11-23T09:00:00+01:00",
        )
        async with started(settings) as service:
            yield service, sink


def lines(found: list[Happening]) -> list[str]:
    return [str(happening) for happening in found if not happening.what.startswith("digest")]


def assert_reminders_in_working_hours(found: list[Happening]) -> None:
    calendar = WorkingCalendar()
    for happening in found:
        if happening.what.startswith("reminder"):
            moment = datetime.fromisoformat(happening.at).replace(tzinfo=STOCKHOLM)
            assert calendar.is_working_day(moment.date()), happening
            assert 8 <= moment.hour < 17, happening


def assert_no_personal_data(sink: MailSink) -> None:
    for mail in sink.received:
        text = mail.data.decode("utf-8", "replace") + mail.text()
        assert samples.TEST_PERSONNUMMER not in text and "121212-1212" not in text
        assert "Testa Testsson" not in text


def held(
    case_id: str,
    occurred_at: str,
    absent: list[str],
    responsible: tuple[str, str, str],
    followup_on: str,
    action_due_on: str,
) -> dict[str, Any]:
    """`meeting.held` for meeting m1 with one action owned by the school."""
    name, email, organisation = responsible
    return samples.event(
        "meeting.held",
        case_id,
        occurred_at=occurred_at,
        meeting_id="m1",
        absent=absent,
        responsible={"name": name, "email": email, "organisation": organisation},
        followup_on=followup_on,
        actions=[
            {
                "action_id": "a1",
                "description": "Anpassning i skolan",
                "responsible_organisation": "Testskolan",
                "responsible_email": "sam@example.se",
                "due_on": action_due_on,
            }
        ],
    )


def participant(participant_id: str, role: str, email: str | None = None, **extra: Any) -> dict[str, Any]:
    found: dict[str, Any] = {
        "participant_id": participant_id,
        "name": f"{participant_id.title()} Testperson",
        "role": role,
        "channel": "email" if email else "letter",
        **extra,
    }
    if email:
        found["email"] = email
    else:
        found["postal_address"] = "Box 1\n111 11 Teststad"
    return found


async def test_blekinge_across_christmas(mailed: tuple[Service, MailSink]) -> None:
    service, sink = mailed
    case_id = "blek-jul"
    await push_at(service, samples.case_opened(case_id))
    await push_at(service, samples.consent_given(case_id))
    scheduled = samples.meeting_scheduled(
        case_id, starts_at="2027-01-19T13:00:00+01:00", ends_at="2027-01-19T14:30:00+01:00"
    )
    scheduled["occurred_at"] = "2026-12-18T10:00:00+01:00"
    await push_at(service, scheduled)
    school_accepts = samples.responded("p-school", "accepted", case_id)
    school_accepts["occurred_at"] = "2026-12-21T09:30:00+01:00"
    await push_at(service, school_accepts)
    held_on = held(
        case_id,
        "2027-01-19T15:00:00+01:00",
        absent=["p-school"],
        responsible=("Kim Koordinator", "kim.koordinator@example.se", "Testkommun socialtjänst"),
        followup_on="2027-04-20",
        action_due_on="2027-02-15",
    )
    await push_at(service, held_on)
    await move_clock(service, datetime.fromisoformat("2027-04-21T12:00:00+02:00"))
    found = await happenings(service, case_id)
    assert lines(found) == [
        "2026-12-18 10:00 request -> asa.oberg",
        "2026-12-18 10:00 request -> letter",
        "2026-12-18 10:00 request -> sam",
        # Received 18 Dec + 7 days = Christmas Day: the next working day after the holidays.
        "2026-12-28 08:00 reminder rsvp -> asa.oberg",
        # Three days later is New Year's Eve: not before Monday 4 January.
        "2027-01-04 08:00 reminder rsvp -> asa.oberg",
        # Three working days before Tuesday 19 January (6 January is a holiday, but not in the way).
        "2027-01-14 08:00 deviation no_response -> p-bup",
        "2027-01-14 08:00 deviation no_response -> p-guardian",
        "2027-01-14 08:00 reminder deviation -> kim.koordinator",
        "2027-01-14 08:00 reminder deviation -> kim.koordinator",
        "2027-01-19 15:00 deviation no_show -> p-school",
        "2027-01-19 15:00 reminder deviation -> kim.koordinator",
        "2027-01-19 15:00 survey -> asa.oberg",
        "2027-02-11 08:00 reminder action_due -> sam",
        "2027-02-16 00:00 deviation action_not_done -> a1",
        "2027-02-16 08:00 reminder deviation -> kim.koordinator",
        # Follow-up 20 April: a letter must leave by 24 March (21 days + 2 postal working days around
        # Easter), and the reminder comes 5 working days before that.
        "2027-03-17 08:00 reminder followup_call -> kim.koordinator",
        "2027-04-21 00:00 deviation late -> -",
        "2027-04-21 08:00 reminder deviation -> kim.koordinator",
    ]
    assert_reminders_in_working_hours(found)
    [survey] = [mail for mail in sink.to("asa.oberg@example.org") if SURVEY_URL in mail.text()]
    assert "enkät" in survey.text().lower()
    reminders = [
        mail for mail in sink.to("asa.oberg@example.org") if "Påminnelse" in str(mail.message["Subject"])
    ]
    assert len(reminders) == 2 and all("/rsvp/" in mail.text() for mail in reminders)
    assert_no_personal_data(sink)
    case = await (await service.case(case_id)).json()
    assert {(r["kind"], r["status"]) for r in case["reminders"]} >= {
        ("consent_expiry", "scheduled"),
        ("turns_18", "scheduled"),
        ("rsvp", "cancelled"),
    }
    [guardian] = [i for i in case["meetings"][0]["invitations"] if i["participant_id"] == "p-guardian"]
    assert guardian["status"] == "unanswered" and guardian["reminded_at"] is not None


async def test_halland_urgent_over_christmas(mailed: tuple[Service, MailSink]) -> None:
    service, sink = mailed
    case_id = "hall-akut"
    opened = samples.case_opened(case_id, region="halland", urgent=True, detected_at="2026-12-22")
    opened["occurred_at"] = "2026-12-22T16:30:00+01:00"
    await push_at(service, opened)
    consent = samples.consent_given(case_id, valid_from="2026-12-22", valid_to="2027-06-30")
    consent["occurred_at"] = "2026-12-22T16:40:00+01:00"
    await push_at(service, consent)
    scheduled = samples.meeting_scheduled(
        case_id,
        starts_at="2026-12-30T09:00:00+01:00",
        ends_at="2026-12-30T10:30:00+01:00",
        participants=[
            participant("p-guardian", "guardian", "asa.oberg@example.org"),
            participant("p-school", "professional", "sam@example.se", organisation="Testskolan"),
        ],
    )
    scheduled["occurred_at"] = "2026-12-22T16:45:00+01:00"
    await push_at(service, scheduled)
    await move_clock(service, datetime.fromisoformat("2027-01-02T12:00:00+01:00"))
    found = await happenings(service, case_id)
    assert lines(found) == [
        # The urgent track tells the coordinator at once that the case is open.
        "2026-12-22 16:30 reminder urgent_opened -> kim.koordinator",
        "2026-12-22 16:45 request -> asa.oberg",
        "2026-12-22 16:45 request -> sam",
        # Urgent: an answer is due the next working day, and reminders do not wait for working days.
        "2026-12-23 08:00 reminder rsvp -> asa.oberg",
        "2026-12-23 08:00 reminder rsvp -> sam",
        "2026-12-26 08:00 reminder rsvp -> asa.oberg",
        "2026-12-26 08:00 reminder rsvp -> sam",
        # Escalated one working day before Wednesday 30 December.
        "2026-12-29 08:00 deviation no_response -> p-guardian",
        "2026-12-29 08:00 deviation no_response -> p-school",
        "2026-12-29 08:00 reminder deviation -> kim.koordinator",
        "2026-12-29 08:00 reminder deviation -> kim.koordinator",
    ]
    case = await (await service.case(case_id)).json()
    # The urgent meeting was due within 3 working days (29 December): Halland recommends it, so missing
    # it is a warning, not a deviation.
    [meeting_due] = [d for d in case["deadlines"] if d["kind"] == "meeting_due"]
    assert (meeting_due["due"], meeting_due["status"]) == ("2026-12-29", "missed")
    assert "recommendation_missed" in {w["kind"] for w in case["warnings"]}
    assert {d["kind"] for d in case["deviations"]} == {"no_response"}
    assert_no_personal_data(sink)


async def test_vastra_gotaland_after_discharge(mailed: tuple[Service, MailSink]) -> None:
    service, sink = mailed
    case_id = "vg-utskr"
    opened = samples.case_opened(
        case_id,
        region="vastra_gotaland",
        detected_at="2027-03-01",
        discharge_notice_at="2027-03-01T10:00:00+01:00",
    )
    opened["occurred_at"] = "2027-03-01T10:30:00+01:00"
    await push_at(service, opened)
    consent = samples.consent_given(case_id, valid_from="2027-03-01", valid_to="2027-12-31", given_by="adult")
    consent["occurred_at"] = "2027-03-01T11:00:00+01:00"
    await push_at(service, consent)
    scheduled = samples.meeting_scheduled(
        case_id,
        starts_at="2027-03-15T09:00:00+01:00",
        ends_at="2027-03-15T10:00:00+01:00",
        participants=[
            participant("p-youth", "child", "ung@example.org"),
            participant("p-guardian", "guardian", "asa.oberg@example.org"),
            participant("p-school", "professional", "sam@example.se", organisation="Testskolan"),
        ],
    )
    scheduled["occurred_at"] = "2027-03-05T10:00:00+01:00"
    await push_at(service, scheduled)
    youth = samples.responded("p-youth", "accepted", case_id)
    youth["occurred_at"] = "2027-03-08T18:00:00+01:00"
    await push_at(service, youth)
    held_on = held(
        case_id,
        "2027-03-15T10:15:00+01:00",
        absent=["p-youth"],
        responsible=("Sam Skolsköterska", "sam@example.se", "Testskolan"),
        followup_on="2027-09-15",
        action_due_on="2027-03-31",
    )
    await push_at(service, held_on)
    done = samples.event("action.completed", case_id, occurred_at="2027-03-30T14:00:00+02:00", action_id="a1")
    await push_at(service, done)
    await move_clock(service, datetime.fromisoformat("2027-04-05T12:00:00+02:00"))
    found = await happenings(service, case_id)
    assert lines(found) == [
        # Invitations were due 3 days after the discharge notice (4 March): a must, so a deviation.
        "2027-03-05 00:00 deviation late -> -",
        "2027-03-05 08:00 reminder deviation -> kim.koordinator",
        "2027-03-05 10:00 request -> asa.oberg",
        "2027-03-05 10:00 request -> sam",
        "2027-03-05 10:00 request -> ung",
        # The answer is due on the escalation day, so the reminder goes the working day before.
        "2027-03-09 08:00 reminder rsvp -> asa.oberg",
        "2027-03-09 08:00 reminder rsvp -> sam",
        "2027-03-10 08:00 deviation no_response -> p-guardian",
        "2027-03-10 08:00 deviation no_response -> p-school",
        "2027-03-10 08:00 reminder deviation -> kim.koordinator",
        "2027-03-10 08:00 reminder deviation -> kim.koordinator",
        # Answering is a duty in Västra Götaland, but its 7 days are sipvakt's, a should: the missed
        # answer day is a warning, and the silent invitees are escalated once, above.
        "2027-03-15 10:15 deviation no_show -> p-youth",
        "2027-03-15 10:15 reminder deviation -> kim.koordinator",
        # Two working days before 31 March, stepping over Easter Monday and Good Friday.
        "2027-03-25 08:00 reminder action_due -> sam",
    ]
    assert_reminders_in_working_hours(found)
    case = await (await service.case(case_id)).json()
    reminders = {(r["kind"], r["due_at"], r["status"]) for r in case["reminders"]}
    assert ("followup_call", "2027-09-08T08:00:00+02:00", "scheduled") in reminders
    # The young person gave consent as an adult: no reminder about turning 18.
    assert [r["status"] for r in case["reminders"] if r["kind"] == "turns_18"] == ["cancelled"]
    assert "action_not_done" not in {d["kind"] for d in case["deviations"]}
    assert_no_personal_data(sink)
