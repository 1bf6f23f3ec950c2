"""Consent that starts later, and a guardian's consent for a person who is 18 at the meeting, through the
running service: real PostgreSQL, real SMTP, durable timers under the test clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

from tests import samples
from tests.service.harness import Service, started
from tests.service.mail import MailSink, mailing_settings, smtp_server
from tests.service.scenario import push_at, walk

CASE_ID = "blek-2026-0042"
PARTICIPANTS = {"asa.oberg@example.org", "sam@example.se"}
# Born 2008-12-10 (18 a week before the sample meeting); serial 98x like Skatteverket's test numbers.
TURNS_18_IN_DECEMBER = "20081210-9817"


@pytest.fixture
async def mailed(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Service, MailSink]]:
    sink = MailSink()
    async with smtp_server(sink) as port, started(mailing_settings(database_url, tmp_path, port)) as service:
        yield service, sink


def invitations_mailed(sink: MailSink) -> dict[str, datetime]:
    """Each participant who got an invitation by mail, with the message's Date."""
    return {
        address: parsedate_to_datetime(str(mail.message["Date"]))
        for mail in sink.received
        if mail.calendar_method() == "REQUEST"
        for address in mail.rcpt_tos
        if address in PARTICIPANTS
    }


async def read_case(service: Service) -> dict[str, Any]:
    response = await service.case(CASE_ID)
    assert response.status == 200
    case: dict[str, Any] = await response.json()
    return case


def warning_kinds(case: dict[str, Any]) -> set[str]:
    return {warning["kind"] for warning in case["warnings"]}


def statuses(case: dict[str, Any]) -> set[str]:
    return {invitation["status"] for invitation in case["meetings"][0]["invitations"]}


async def timer_state(service: Service, key: str) -> tuple[str, datetime] | None:
    row = await service.runtime.pool.fetchrow(
        "select state, due_at from timers where case_id = $1 and key = $2", CASE_ID, key
    )
    return None if row is None else (row["state"], row["due_at"])


async def test_invitations_wait_for_consent_that_starts_later_and_leave_at_its_opening(
    mailed: tuple[Service, MailSink],
) -> None:
    """RULES.md "Decisions": "Consent that starts later holds the invitations until its first day";
    CONTRACT v1.1 `waiting_for_consent`: they leave at the opening of that day, by timer."""
    service, sink = mailed
    consent = samples.consent_given(valid_from="2026-11-25")
    for body in (samples.case_opened(), consent, samples.meeting_scheduled()):
        await push_at(service, body)
    case = await read_case(service)
    assert "waiting_for_consent" in warning_kinds(case) and "consent_missing" not in warning_kinds(case)
    assert statuses(case) == {"pending"}
    opening = datetime.fromisoformat("2026-11-25T08:00:00+01:00")
    assert await timer_state(service, "held_invitations:consent_starts") == ("scheduled", opening)

    await walk(service, datetime.fromisoformat("2026-11-25T07:59:00+01:00"))
    assert invitations_mailed(sink) == {}
    await walk(service, datetime.fromisoformat("2026-11-25T12:00:00+01:00"))
    assert invitations_mailed(sink) == dict.fromkeys(PARTICIPANTS, opening)
    case = await read_case(service)
    assert "waiting_for_consent" not in warning_kinds(case)
    # A letter is sent only when marked posted; the e-mails when the server took them, at the opening.
    invitations = case["meetings"][0]["invitations"]
    sent_at = {i["sent_at"] for i in invitations if i["channel"] == "email"}
    assert {datetime.fromisoformat(moment) for moment in sent_at} == {opening}
    assert {i["status"] for i in invitations if i["channel"] == "letter"} <= {"queued"}


async def test_a_late_consent_shows_notice_too_short_with_the_reason(
    mailed: tuple[Service, MailSink],
) -> None:
    """Blekinge (001, "Sammankalla till SIP"): "minst tre veckor innan mötet äger rum"; the notice is counted
    from the consent's first day, so a letter posted then arrives 17 days before the meeting."""
    service, _ = mailed
    consent = samples.consent_given(valid_from="2026-11-26")
    for body in (samples.case_opened(), consent, samples.meeting_scheduled()):
        await push_at(service, body)
    case = await read_case(service)
    [meeting] = case["meetings"]
    assert (meeting["notice_days"], meeting["notice_ok"]) == (17, False)
    [warning] = [w for w in case["warnings"] if w["kind"] == "notice_too_short"]
    assert "samtycket börjar gälla 2026-11-26" in warning["message"]


async def test_guardian_consent_does_not_cover_a_person_who_is_18_at_the_meeting(
    mailed: tuple[Service, MailSink],
) -> None:
    """Föräldrabalken 6 kap. 2 § (custody ends at 18); Västra Götaland (004, "Få samtycke") and Blekinge (001,
    "Samtycke") ask the person: no invitation leaves on the guardian's consent, across the 18th birthday
    too, until consent `given_by` `adult` arrives; then they leave at once."""
    service, sink = mailed
    opened = samples.case_opened(person={"reference": "person-1", "personnummer": TURNS_18_IN_DECEMBER})
    for body in (opened, samples.consent_given(), samples.meeting_scheduled()):
        await push_at(service, body)
    case = await read_case(service)
    assert "guardian_consent_after_18" in warning_kinds(case) and statuses(case) == {"pending"}
    birthday = datetime.fromisoformat("2026-12-10T00:00:00+01:00")
    assert await timer_state(service, "held_invitations:turns_18") == ("scheduled", birthday)

    await walk(service, datetime.fromisoformat("2026-12-10T09:00:00+01:00"))
    assert await timer_state(service, "held_invitations:turns_18") == ("done", birthday)
    assert invitations_mailed(sink) == {}
    assert "guardian_consent_after_18" in warning_kinds(await read_case(service))

    own = samples.consent_given(given_by="adult", valid_from="2026-12-10")
    own["occurred_at"] = "2026-12-10T10:00:00+01:00"
    await push_at(service, own)
    assert invitations_mailed(sink) == dict.fromkeys(PARTICIPANTS, datetime.fromisoformat(own["occurred_at"]))
    case = await read_case(service)
    assert "guardian_consent_after_18" not in warning_kinds(case)
    assert "notice_too_short" in warning_kinds(case)


async def test_invitations_sent_before_the_18th_birthday_stand_when_the_meeting_moves_past_it(
    mailed: tuple[Service, MailSink],
) -> None:
    """README "Consent": invitations that left under the guardian's consent for a meeting before the
    birthday are not withdrawn when the meeting moves past it; the case warns so the person is asked."""
    service, sink = mailed
    opened = samples.case_opened(person={"reference": "person-1", "personnummer": TURNS_18_IN_DECEMBER})
    early = samples.meeting_scheduled(
        starts_at="2026-12-09T13:00:00+01:00", ends_at="2026-12-09T14:00:00+01:00"
    )
    moved = samples.rescheduled("2026-12-17T13:00:00+01:00", "2026-12-17T14:00:00+01:00")
    for body in (opened, samples.consent_given(), early, moved):
        await push_at(service, body)
    case = await read_case(service)
    assert set(invitations_mailed(sink)) == PARTICIPANTS
    assert "cancelled" not in statuses(case) and case["meetings"][0]["status"] == "scheduled"
    [warning] = [w for w in case["warnings"] if w["kind"] == "guardian_consent_after_18"]
    assert "före 18-årsdagen" in warning["message"]
