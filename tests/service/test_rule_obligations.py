"""The region rules as the service applies them: which deviations a guideline names (reportable) and which
are sipvakt's escalations, a missed `should` that stays a warning, the follow-up date a guideline asks
for, and the messages RULES.md promises the coordinator (the urgent case, leaving the target group).
Each test cites the seed line it follows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

from tests import samples
from tests.service.harness import ADMIN_TOKEN, Service, started
from tests.service.mail import MailSink, Received, mailing_settings, smtp_server
from tests.service.webhook_receiver import bearer, move_clock

COORDINATOR = "kim.koordinator@example.se"
HELD_AT = "2026-12-17T15:00:00+01:00"


@pytest.fixture
async def mailed(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Service, MailSink]]:
    sink = MailSink()
    async with smtp_server(sink) as port, started(mailing_settings(database_url, tmp_path, port)) as service:
        yield service, sink


async def push_all(service: Service, *bodies: dict[str, Any]) -> None:
    for body in bodies:
        response = await service.push(body)
        assert response.status == 202, await response.text()
    await service.settle()


def opened_with_meeting(case_id: str, region: str, **opened: Any) -> list[dict[str, Any]]:
    return [
        samples.case_opened(case_id, region, **opened),
        samples.consent_given(case_id),
        samples.meeting_scheduled(case_id),
    ]


def held(case_id: str, absent: list[str], **data: Any) -> dict[str, Any]:
    return samples.event(
        "meeting.held",
        case_id,
        occurred_at=HELD_AT,
        meeting_id="m1",
        absent=absent,
        responsible={"name": "Kim Koordinator", "email": COORDINATOR, "organisation": "Testkommun"},
        actions=[],
        **data,
    )


async def case_body(service: Service, case_id: str) -> dict[str, Any]:
    response = await service.case(case_id)
    assert response.status == 200
    body: dict[str, Any] = await response.json()
    return body


def deviations(body: dict[str, Any]) -> list[tuple[str, str | None, str | None, bool]]:
    return sorted((d["kind"], d["participant_id"], d["rule"], d["reportable"]) for d in body["deviations"])


async def summary(service: Service, region: str) -> dict[str, Any]:
    response = await service.client.get(
        f"/v1/reports/summary?region={region}&year=2026", headers=bearer(ADMIN_TOKEN)
    )
    assert response.status == 200
    body: dict[str, Any] = await response.json()
    return body


def mails_to(sink: MailSink, address: str) -> list[Received]:
    return sink.to(address)


async def test_vastra_gotaland_rsvp_after_silence_is_one_escalation_not_also_late(
    mailed: tuple[Service, MailSink],
) -> None:
    """VG (004) "De kallade/inbjudna ska meddela vilka som ska delta på mötet." gives no number: the 7 days
    are sipvakt's, a should, so the invitee who stays silent is escalated once (no_response) and the
    missed answer day is a warning, not a `late` deviation on top (RULES.md: a missed should is a
    warning)."""
    service, _ = mailed
    case_id = "vg-2026-0101"
    await push_all(
        service,
        *opened_with_meeting(case_id, "vastra_gotaland"),
        samples.responded("p-guardian", "accepted", case_id),
        samples.responded("p-bup", "accepted", case_id),
    )
    await move_clock(service, "2026-12-17T12:00:00+01:00")
    await service.settle()
    body = await case_body(service, case_id)
    assert deviations(body) == [("no_response", "p-school", "default.escalation", False)]
    [rsvp_due] = [d for d in body["deadlines"] if d["kind"] == "rsvp_due"]
    assert (rsvp_due["status"], rsvp_due["rule"]) == ("missed", "vastra_gotaland.rsvp_after")
    assert any(
        w["kind"] == "recommendation_missed" and "vastra_gotaland.rsvp_after" in w["message"]
        for w in body["warnings"]
    )


async def test_halland_no_show_is_every_invitee_absent_despite_the_invitation(
    mailed: tuple[Service, MailSink],
) -> None:
    """Halland (002), "Avvikelse": "att någon representant trots kallelse inte kommit till
    samordningsmöte". Everyone invited who is absent is a reportable deviation, whatever they answered
    (the guardian accepted, the school declined); one who sent a substitute was represented. In Blekinge
    (001), whose guideline names no such avvikelse, only the accepted-and-absent guardian is escalated,
    as sipvakt's own, not reportable."""
    service, _ = mailed
    substitute = {"name": "Vera Vikarie", "email": "vera@example.se", "organisation": "Testregionen BUP"}
    for case_id, region in (("hall-2026-0201", "halland"), ("blek-2026-0201", "blekinge")):
        await push_all(
            service,
            *opened_with_meeting(case_id, region),
            samples.responded("p-guardian", "accepted", case_id),
            samples.responded("p-school", "declined", case_id),
            samples.responded("p-bup", "delegated", case_id, delegate=substitute),
            samples.responded("p-bup.ersattare", "accepted", case_id),
        )
    await move_clock(service, HELD_AT)
    for case_id in ("hall-2026-0201", "blek-2026-0201"):
        await push_all(service, held(case_id, ["p-guardian", "p-school", "p-bup"], followup_on="2027-03-01"))

    assert deviations(await case_body(service, "hall-2026-0201")) == [
        ("no_show", "p-guardian", "halland.no_show", True),
        ("no_show", "p-school", "halland.no_show", True),
    ]
    assert deviations(await case_body(service, "blek-2026-0201")) == [
        ("no_show", "p-guardian", "default.escalation", False)
    ]
    response = await service.client.get("/v1/deviations?region=halland", headers=bearer(ADMIN_TOKEN))
    listed = (await response.json())["deviations"]
    assert {(d["rule"], d["reportable"]) for d in listed} == {("halland.no_show", True)}

    none = {"no_response": 0, "no_show": 0, "action_not_done": 0, "late": 0}
    halland = await summary(service, "halland")
    assert halland["deviations"] == halland["reportable_deviations"] == {**none, "no_show": 2}
    assert halland["escalations"] == none
    blekinge = await summary(service, "blekinge")
    assert blekinge["reportable_deviations"] == none
    assert blekinge["escalations"] == blekinge["deviations"] == {**none, "no_show": 1}


@pytest.mark.parametrize(
    ("region", "phrase", "warned"),
    [
        ("halland", "Bestäm tid för uppföljning av planen.", True),  # 002, point h.
        ("vastra_gotaland", "Viktigt att plats och datum för uppföljning dokumenteras.", True),  # 004
        ("dalarna", "", False),  # 003 asks for no follow-up date
    ],
)
async def test_followup_required_warns_on_a_meeting_held_without_a_followup_date(
    mailed: tuple[Service, MailSink], region: str, phrase: str, warned: bool
) -> None:
    """Halland (002) "Bestäm tid för uppföljning av planen." and Västra Götaland (004) "Viktigt att plats
    och datum för uppföljning dokumenteras.": a meeting recorded held without `followup_on` gets a
    warning that quotes the guideline; with the date it does not."""
    service, _ = mailed
    await push_all(service, *opened_with_meeting("c-1", region), *opened_with_meeting("c-2", region))
    await move_clock(service, HELD_AT)
    await push_all(service, held("c-1", []), held("c-2", [], followup_on="2027-03-01"))
    without = [w for w in (await case_body(service, "c-1"))["warnings"] if w["kind"] == "followup_not_set"]
    with_date = [w for w in (await case_body(service, "c-2"))["warnings"] if w["kind"] == "followup_not_set"]
    assert with_date == []
    if warned:
        [warning] = without
        assert f"{region}.followup_required" in warning["message"] and phrase in warning["message"]
    else:
        assert without == []


async def test_leaves_target_group_reminds_the_coordinator_before_the_person_leaves(
    mailed: tuple[Service, MailSink],
) -> None:
    """RULES.md: "A case whose person leaves the target group gets a warning and a reminder to the
    responsible person, not a silent close"; VG (004) "Alla barn och unga t.o.m. 20 år". Born 10 January
    2006, the person leaves the group on 10 January 2027; the coordinator hears 30 days before, at the
    opening of that working day, and the mail carries the case reference but no date or name."""
    service, sink = mailed
    case_id = "vg-2026-0301"
    person = {"reference": "person-1", "birth_date": "2006-01-10", "name": "Testa Testsson"}
    await push_all(service, samples.case_opened(case_id, "vastra_gotaland", person=person))
    [reminder] = [
        r for r in (await case_body(service, case_id))["reminders"] if r["kind"] == "leaves_target_group"
    ]
    assert reminder == {
        "kind": "leaves_target_group",
        "due_at": "2026-12-11T08:00:00+01:00",
        "to": COORDINATOR,
        "status": "scheduled",
    }
    await move_clock(service, "2026-12-11T07:59:00+01:00")
    assert not [m for m in mails_to(sink, COORDINATOR) if "målgruppen" in str(m.message["Subject"])]
    await move_clock(service, "2026-12-11T09:00:00+01:00")
    [mail] = [m for m in mails_to(sink, COORDINATOR) if "målgruppen" in str(m.message["Subject"])]
    assert case_id in str(mail.message["Subject"])
    text = mail.text()
    for private in ("Testa", "2006", "2027", "10 januari"):
        assert private not in text
    [sent] = [
        r for r in (await case_body(service, case_id))["reminders"] if r["kind"] == "leaves_target_group"
    ]
    assert sent["status"] == "sent"


async def test_urgent_case_tells_the_coordinator_at_once(mailed: tuple[Service, MailSink]) -> None:
    """RULES.md, the urgent track: "the coordinator told at once". An urgent case opened on a Saturday
    evening mails its coordinator then, with the case reference and nothing about the person; a case
    that is not urgent sends nothing when it opens."""
    service, sink = mailed
    await move_clock(service, "2026-11-28T21:00:00+01:00")
    opened_at = {"occurred_at": "2026-11-28T20:55:00+01:00"}
    urgent = {**samples.case_opened("hall-2026-0401", "halland", urgent=True), **opened_at}
    ordinary = {**samples.case_opened("hall-2026-0402", "halland"), **opened_at}
    await push_all(service, urgent, ordinary)
    [mail] = mails_to(sink, COORDINATOR)
    assert "hall-2026-0401" in str(mail.message["Subject"])
    sent = parsedate_to_datetime(str(mail.message["Date"]))
    assert sent == datetime.fromisoformat("2026-11-28T21:00:00+01:00")
    assert "skyddsbehov" in mail.text()
    for private in ("Testa", samples.TEST_PERSONNUMMER, "person-1"):
        assert private not in mail.text() and private not in str(mail.message["Subject"])
    reminders = (await case_body(service, "hall-2026-0401"))["reminders"]
    assert [(r["status"], r["to"]) for r in reminders if r["kind"] == "urgent_opened"] == [
        ("sent", COORDINATOR)
    ]
    ordinary_reminders = (await case_body(service, "hall-2026-0402"))["reminders"]
    assert "urgent_opened" not in {r["kind"] for r in ordinary_reminders}
