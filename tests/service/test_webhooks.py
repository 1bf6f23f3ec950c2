"""Outgoing webhooks end to end: a real receiver on loopback, a real database, the test clock driving
retries. Each event reaches each subscriber once, signed; a dead endpoint is disabled and someone is told."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from scheduler.effects import RecordDeviation
from service.http.views import case_view
from service.storage import store, webhook_events
from service.workers.webhook_delivery import UNREACHABLE
from tests import samples
from tests.service.harness import ADMIN_TOKEN, Service, service_settings, started
from tests.service.mail import MailSink, free_port, mailing_settings
from tests.service.webhook_receiver import (
    ALLOW_PRIVATE,
    bearer,
    deliveries,
    move_clock,
    newest,
    receiving,
    subscribe,
)

START = datetime.fromisoformat("2026-11-23T09:00:00+01:00")  # the harness's test clock
CASE = "blek-2026-0042"
NOTIFY = "drift@example.se"


def at(offset: timedelta) -> str:
    return (START + offset).isoformat()


def meeting_held(absent: list[str]) -> dict[str, Any]:
    return samples.event(
        "meeting.held",
        meeting_id="m1",
        absent=absent,
        responsible={"name": "Kim Koordinator", "email": "kim@example.se", "organisation": "Testkommun"},
        actions=[],
    )


async def no_show(service: Service) -> None:
    """A guardian accepts, then is absent: one `no_show` deviation."""
    for body in (
        samples.case_opened(),
        samples.consent_given(),
        samples.meeting_scheduled(),
        samples.responded("p-guardian", "accepted"),
        meeting_held(["p-guardian"]),
    ):
        assert (await service.push(body)).status == 202
    await service.settle()
    await service.post_letters()
    await service.settle()


async def test_a_receiver_that_fails_twice_gets_each_event_once_signed(
    database_url: str, tmp_path: Path
) -> None:
    async with (
        started(service_settings(database_url, tmp_path, **ALLOW_PRIVATE)) as service,
        receiving(failures=2) as receiver,
    ):
        subscription = await subscribe(
            service, receiver.url, event_types=["deviation.recorded", "case.updated"]
        )
        await no_show(service)
        first_round = {receipt.webhook_id for receipt in receiver.receipts}
        assert first_round and not receiver.delivered()

        await move_clock(service, at(timedelta(minutes=1)))  # the 30 s (±20 %) retry
        await move_clock(service, at(timedelta(minutes=10)))  # the 5 min (±20 %) retry
        await move_clock(service, at(timedelta(days=2)))  # nothing is sent again once delivered

        answers: dict[str, list[int]] = {}
        for receipt in receiver.receipts:
            answers.setdefault(receipt.webhook_id, []).append(receipt.answered)
        for webhook_id in first_round:
            assert answers[webhook_id] == [500, 500, 200], webhook_id
        assert all(statuses.count(200) <= 1 for statuses in answers.values())
        for receipt in receiver.receipts:
            assert receipt.verified(subscription["secret"]) == receipt.event
            assert receipt.headers["content-type"] == "application/json"

        [deviation] = receiver.events("deviation.recorded")
        assert deviation["data"] == {
            "case_id": CASE,
            "region": "blekinge",
            "deviation_id": deviation["data"]["deviation_id"],
            "kind": "no_show",
            "detected_at": "2026-11-23T08:00:00Z",
            "meeting_id": "m1",
            "participant_id": "p-guardian",
            "action_id": None,
            # Blekinge's guideline names no absence an avvikelse: sipvakt's own escalation.
            "rule": "default.escalation",
            "reportable": False,
        }
        assert deviation["timestamp"] == "2026-11-23T08:00:00Z"
        # The last case.updated shows the case as GET /v1/cases/{id} does.
        latest = receiver.event(await newest(service, subscription["subscription_id"], "case.updated"))
        assert latest["data"] == await (await service.case(CASE)).json()

        shown = {row["webhook_id"]: row for row in await deliveries(service, subscription["subscription_id"])}
        for webhook_id in first_round:
            assert shown[webhook_id]["state"] == "delivered"
            assert shown[webhook_id]["attempts"] == 3 and shown[webhook_id]["last_status"] == 200


async def test_an_endpoint_down_for_three_days_is_disabled_and_someone_told(
    database_url: str, tmp_path: Path, sink: tuple[MailSink, int]
) -> None:
    mail, smtp_port = sink
    port = free_port()
    settings = mailing_settings(database_url, tmp_path, smtp_port, **ALLOW_PRIVATE)
    async with started(settings) as service:
        subscription = await subscribe(service, f"http://127.0.0.1:{port}/hook?token=endpoint-own-token")
        subscription_id = subscription["subscription_id"]
        await service.push(samples.case_opened())
        await service.settle()
        [first] = await deliveries(service, subscription_id)
        assert first["state"] == "pending" and first["attempts"] == 1
        assert first["last_error"] == UNREACHABLE

        for hours in range(6, 72, 6):
            await move_clock(service, at(timedelta(hours=hours)))
            if hours == 48:  # an event whose own three days are not over when the endpoint is disabled
                await service.push(samples.consent_given())
        await move_clock(service, at(timedelta(days=3, minutes=1)))

        view = await (
            await service.client.get(
                f"/v1/webhook-subscriptions/{subscription_id}", headers=bearer(ADMIN_TOKEN)
            )
        ).json()
        assert view["status"] == "disabled" and "three days" in view["disabled_reason"]
        shown = {row["webhook_id"]: row for row in await deliveries(service, subscription_id)}
        failed = shown[first["webhook_id"]]
        assert failed["state"] == "failed" and failed["attempts"] >= 8
        [notice] = mail.to(NOTIFY)
        text = notice.text()
        assert "Webhook-prenumeration avstängd" in text and subscription_id in text
        assert f"http://127.0.0.1:{port}" in text and "endpoint-own-token" not in text

        # Deliveries still pending are held; new events are not kept for it, and nothing is attempted.
        [held] = [row for row in shown.values() if row["state"] == "pending"]
        await service.push(samples.meeting_scheduled())
        await move_clock(service, at(timedelta(days=4)))
        assert await deliveries(service, subscription_id) == list(shown.values())

        async with receiving(port) as receiver:
            enabled = await service.client.post(
                f"/v1/webhook-subscriptions/{subscription_id}/enable", headers=bearer(ADMIN_TOKEN)
            )
            assert enabled.status == 200 and (await enabled.json())["status"] == "enabled"
            await service.settle()
            assert [receipt.webhook_id for receipt in receiver.delivered()] == [held["webhook_id"]]
            await service.push(samples.responded("p-guardian", "accepted"))
            await service.settle()
            latest = receiver.event(await newest(service, subscription_id, "case.updated"))["data"]
            [invitation] = [
                i for i in latest["meetings"][0]["invitations"] if i["participant_id"] == "p-guardian"
            ]
            assert invitation["status"] == "accepted"
            assert len(receiver.delivered()) == 2
        assert len(mail.to(NOTIFY)) == 1


async def test_case_updated_only_when_the_stored_case_changes(database_url: str, tmp_path: Path) -> None:
    async with (
        started(service_settings(database_url, tmp_path, **ALLOW_PRIVATE)) as service,
        receiving() as receiver,
    ):
        await subscribe(service, receiver.url)
        await service.push(samples.case_opened())
        await service.settle()
        pool = service.runtime.pool
        before = await pool.fetchval("select count(*) from webhook_events")
        assert before == len(receiver.delivered()) >= 1

        now = await service.runtime.clock.now()
        async with pool.acquire() as connection, connection.transaction():
            case = await store.load_case(connection, CASE, for_update=True)
            assert case is not None
            await store.save_case(connection, case, now)  # a recompute that changes nothing
        await service.settle()
        assert await pool.fetchval("select count(*) from webhook_events") == before

        async with pool.acquire() as connection, connection.transaction():
            case = await store.load_case(connection, CASE, for_update=True)
            assert case is not None
            changed = case.model_copy(update={"urgent": True})
            await store.save_case(connection, changed, now)
        await service.settle()
        assert await pool.fetchval("select count(*) from webhook_events") == before + 1
        assert receiver.events()[-1] == {
            "type": "case.updated",
            "timestamp": "2026-11-23T08:00:00Z",
            "data": case_view(changed),
        }


async def test_a_deviation_noticed_twice_is_sent_once(database_url: str, tmp_path: Path) -> None:
    async with (
        started(service_settings(database_url, tmp_path, **ALLOW_PRIVATE)) as service,
        receiving() as receiver,
    ):
        await subscribe(service, receiver.url, event_types=["deviation.recorded"])
        await no_show(service)
        [deviation] = receiver.events()
        # The same deviation recorded again, as a later recompute does: the row exists, nothing is sent.
        async with service.runtime.pool.acquire() as connection, connection.transaction():
            case = await store.load_case(connection, CASE)
            assert case is not None
            [recorded] = case.deviations
            again = RecordDeviation(recorded)
            await store.carry_out(connection, case, [again], await service.runtime.clock.now())
        await service.settle()
        assert receiver.events() == [deviation]


async def other_integration_token(service: Service) -> str:
    """An integration token, scoped to everything, of an integration that pushed none of the cases."""
    _, token = await service.other_integration("annat")
    return token


async def test_a_subscription_hears_only_of_cases_its_scope_sees(database_url: str, tmp_path: Path) -> None:
    async with (
        started(service_settings(database_url, tmp_path, **ALLOW_PRIVATE)) as service,
        receiving() as blekinge,
        receiving() as halland,
        receiving() as other_organisation,
        receiving() as other_integration,
    ):
        await subscribe(service, blekinge.url, token=await service.token("coordinator", ["blekinge"], ["*"]))
        await subscribe(service, halland.url, token=await service.token("coordinator", ["halland"], ["*"]))
        token = await service.token("coordinator", ["blekinge"], ["Annan kommun"])
        await subscribe(service, other_organisation.url, token=token)
        await subscribe(service, other_integration.url, token=await other_integration_token(service))
        await service.push(samples.case_opened("blek-1"))
        await service.push(samples.case_opened("hall-1", region="halland"))
        await no_show(service)
        await service.settle()
        assert {event["data"]["case_id"] for event in blekinge.events()} == {"blek-1", CASE}
        assert {event["type"] for event in blekinge.events()} == {"case.updated", "deviation.recorded"}
        assert {event["data"]["case_id"] for event in halland.events()} == {"hall-1"}
        assert other_organisation.receipts == []
        assert other_integration.receipts == []


async def test_two_processes_on_one_database_deliver_each_event_once(
    database_url: str, tmp_path: Path
) -> None:
    settings = service_settings(database_url, tmp_path, **ALLOW_PRIVATE)
    async with started(settings) as first, started(settings) as second, receiving() as receiver:
        subscription = await subscribe(first, receiver.url, event_types=["case.updated"])
        for number in range(12):
            service = first if number % 2 else second
            assert (await service.push(samples.case_opened(f"case-{number}"))).status == 202
        await first.settle()
        await second.settle()
        counts = Counter(receipt.webhook_id for receipt in receiver.receipts)
        assert all(count == 1 for count in counts.values()), counts
        assert set(counts) == {
            row["webhook_id"]
            for row in await first.runtime.pool.fetch("select webhook_id from webhook_events")
        }
        assert {event["data"]["case_id"] for event in receiver.events()} == {f"case-{n}" for n in range(12)}
        for receipt in receiver.receipts:
            receipt.verified(subscription["secret"])


async def test_a_send_cut_short_by_a_dead_process_is_made_again(database_url: str, tmp_path: Path) -> None:
    async with (
        started(service_settings(database_url, tmp_path, **ALLOW_PRIVATE)) as service,
        receiving() as receiver,
    ):
        await subscribe(service, receiver.url)
        await service.push(samples.case_opened())
        await service.settle()
        delivered = len(receiver.delivered())
        # A process claims a new delivery and dies: the claim is committed with the event, and its lease
        # (real time) has run out.
        async with service.runtime.pool.acquire() as connection, connection.transaction():
            case = await store.load_case(connection, CASE, for_update=True)
            assert case is not None
            await webhook_events.case_updated(connection, case, await service.runtime.clock.now())
            await connection.execute(
                "update webhook_deliveries set state = 'sending', attempts = 1, lease_owner = 'whw_dead',"
                " lease_until = now() - interval '1 second' where state = 'pending'"
            )
        await service.settle()
        assert len(receiver.delivered()) == delivered + 1
        counts = Counter(receipt.webhook_id for receipt in receiver.receipts)
        assert set(counts.values()) == {1}
