"""Sent means delivered, end to end against a real SMTP server: an invitation is `sent` at the 250 OK,
the notice counts from then, one that never arrives is `failed` and gives no notice, and a moved meeting's
notice counts from the update that carried the new time."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tests import samples
from tests.service.harness import Service, started
from tests.service.mail import MailSink, Received, mailing_settings, smtp_server

CASE = "blek-2026-0042"
COORDINATOR = "kim.koordinator@example.se"
DEFERRING = "451 4.7.1 Greylisted, try again later"


async def move_clock(service: Service, to: datetime) -> None:
    response = await service.client.post("/v1/test-clock", json={"now": to.isoformat()})
    assert response.status == 200, await response.text()


async def case_view(service: Service) -> dict[str, Any]:
    response = await service.case(CASE)
    assert response.status == 200
    body: dict[str, Any] = await response.json()
    return body


def invitations(case: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["participant_id"]: i for i in case["meetings"][0]["invitations"]}


def notice(case: dict[str, Any]) -> str:
    [found] = [d["status"] for d in case["deadlines"] if d["kind"] == "notice"]
    return str(found)


async def invite_and_post(service: Service) -> None:
    """The sample case invites its meeting; the letter is posted the same morning."""
    for body in (samples.case_opened(), samples.consent_given(), samples.meeting_scheduled()):
        assert (await service.push(body)).status == 202
    await service.settle()
    await service.post_letters()
    await service.settle()


def digests_to(sink: MailSink, address: str) -> list[Received]:
    return [mail for mail in sink.to(address) if mail.message_id.startswith("<digest.")]


async def test_a_server_that_defers_until_the_invitation_fails_gets_no_notice_and_says_so(
    database_url: str, tmp_path: Path
) -> None:
    sink = MailSink(rcpt_answers={"sam@example.se": DEFERRING})
    async with smtp_server(sink) as port, started(mailing_settings(database_url, tmp_path, port)) as service:
        await invite_and_post(service)

        # Deferred: in the outbox, not delivered, so not sent and no notice counted from it.
        case = await case_view(service)
        assert invitations(case)["p-school"]["status"] == "queued"
        assert invitations(case)["p-school"]["sent_at"] is None
        assert invitations(case)["p-guardian"]["status"] == "sent"
        assert notice(case) == "pending"

        # Time passes through every retry (at most an hour apart) until the message fails for good.
        now = datetime.fromisoformat("2026-11-23T09:00:00+01:00")
        for _ in range(30):
            state = await service.runtime.pool.fetchval(
                "select state from outbox where recipient = 'sam@example.se' and kind = 'request'"
            )
            if state == "failed":
                break
            now += timedelta(hours=1)
            await move_clock(service, now)
        assert state == "failed"
        assert sink.to("sam@example.se") == []

        case = await case_view(service)
        school = invitations(case)["p-school"]
        assert (school["status"], school["sent_at"]) == ("failed", None)
        meeting = case["meetings"][0]
        assert notice(case) == "missed"
        assert meeting["notice_ok"] is False and meeting["notice_days"] == 0
        late = [d for d in case["deviations"] if d["kind"] == "late"]
        assert [(d["meeting_id"], d["participant_id"]) for d in late] == [("m1", None)]
        assert [w["kind"] for w in case["warnings"] if "p-school" in w["message"]] == [
            "invitation_not_delivered"
        ]
        assert not [
            r for r in case["reminders"] if r["to"] == "sam@example.se" and r["status"] == "scheduled"
        ]
        undeliverable = [m for m in sink.to(COORDINATOR) if "Kallelsen kunde inte levereras" in m.text()]
        assert len(undeliverable) == 1

        # The next morning's digest says the invitation did not arrive, and does not call it unanswered.
        await move_clock(service, datetime.fromisoformat("2026-11-24T08:00:00+01:00"))
        [digest] = digests_to(sink, COORDINATOR)
        text = digest.text()
        unanswered, _, rest = text.partition("Kallelser som inte har kommit fram")
        assert "Sam Skolsköterska" not in unanswered.split("Obesvarade kallelser", 1)[1]
        assert "Sam Skolsköterska (Testskolan): möte torsdag 17 december 2026 kl. 13.00, ärende" in rest
        assert "kunde inte levereras" in rest.split("Nya avvikelser")[0]


async def test_a_blekinge_meeting_moved_to_four_days_away_misses_its_notice_and_is_not_escalated(
    database_url: str, tmp_path: Path
) -> None:
    sink = MailSink()
    async with smtp_server(sink) as port, started(mailing_settings(database_url, tmp_path, port)) as service:
        await invite_and_post(service)
        case = await case_view(service)
        assert notice(case) == "met" and case["meetings"][0]["notice_ok"] is True

        # Nobody answers. On Thursday 10 December the meeting of the 17th moves to Monday the 14th: its
        # escalation day (three working days before) was yesterday.
        moved_at = datetime.fromisoformat("2026-12-10T10:00:00+01:00")
        await move_clock(service, moved_at)
        assert (
            await service.push(samples.rescheduled("2026-12-14T13:00:00+01:00", "2026-12-14T14:00:00+01:00"))
        ).status == 202
        await service.settle()

        case = await case_view(service)
        meeting = case["meetings"][0]
        invited = invitations(case)
        # The e-mail updates were delivered at the move, and the notice counts from them; the letter with
        # the new time waits in the print queue.
        for participant_id in ("p-guardian", "p-school"):
            assert invited[participant_id]["status"] == "sent"
            assert datetime.fromisoformat(invited[participant_id]["sent_at"]) == moved_at
        assert (invited["p-bup"]["status"], invited["p-bup"]["sent_at"]) == ("queued", None)
        assert meeting["notice_days"] is not None and meeting["notice_days"] <= 4
        assert meeting["notice_ok"] is False
        assert notice(case) == "missed"
        # Nobody is escalated for not answering an update they had just received.
        assert [d for d in case["deviations"] if d["kind"] == "no_response"] == []
        assert "unanswered" not in {i["status"] for i in invited.values()}
        # The reply day counts from the update too: not before it arrived.
        [rsvp] = [d for d in case["deadlines"] if d["kind"] == "rsvp_due"]
        assert rsvp["due"] >= "2026-12-10"
        updates = [m for m in sink.to("sam@example.se") if m.calendar_method() == "REQUEST"]
        assert len(updates) == 2


async def test_a_reminder_to_an_address_refused_for_good_is_cancelled_at_once_and_shown(
    database_url: str, tmp_path: Path
) -> None:
    sink = MailSink(rcpt_answers={"sam@example.se": "550 5.1.1 No such user here"})
    async with smtp_server(sink) as port, started(mailing_settings(database_url, tmp_path, port)) as service:
        for body in (samples.case_opened(), samples.consent_given(), samples.meeting_scheduled()):
            assert (await service.push(body)).status == 202
        await service.settle()
        case = await case_view(service)
        assert invitations(case)["p-school"]["status"] == "failed"
        assert not [r for r in case["reminders"] if r["to"] == "sam@example.se"]

        # The meeting is held anyway, and gives the school's action to the address that was refused.
        held = samples.event(
            "meeting.held",
            occurred_at="2026-11-23T09:30:00+01:00",
            meeting_id="m1",
            absent=[],
            responsible={"name": "Kim Koordinator", "email": COORDINATOR, "organisation": "Testkommun"},
            actions=[
                {
                    "action_id": "a1",
                    "description": "Anpassning i skolan",
                    "responsible_organisation": "Testskolan",
                    "responsible_email": "sam@example.se",
                    "due_on": "2027-01-15",
                }
            ],
        )
        assert (await service.push(held)).status == 202
        await service.settle()

        case = await case_view(service)
        [reminder] = [r for r in case["reminders"] if r["kind"] == "action_due"]
        assert (reminder["to"], reminder["status"]) == ("sam@example.se", "cancelled")
        assert "reminder_not_sent" in {w["kind"] for w in case["warnings"]}
        # Its day passes and nothing is sent to the address; the coordinator was told once, at the refusal.
        await move_clock(service, datetime.fromisoformat("2027-01-14T12:00:00+01:00"))
        assert sink.to("sam@example.se") == []
        assert [
            r["status"] for r in (await case_view(service))["reminders"] if r["kind"] == "action_due"
        ] == ["cancelled"]
        told = [m for m in sink.to(COORDINATOR) if "Kallelsen kunde inte levereras" in m.text()]
        assert len(told) == 1
