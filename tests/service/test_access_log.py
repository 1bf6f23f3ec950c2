"""The access log: reads, changes, prints and disclosures each leave one entry, in the same transaction;
the log refuses UPDATE and DELETE and its hash chain shows the first entry altered or removed; auditors
read it within their scope; `sipvakt audit verify|extract` work on the database the service uses."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from service import access
from service.audit import chain
from service.audit.reading import open_case
from service.auth.users import checked_request, create_user
from service.storage.database import migrate
from tests import samples
from tests.service.harness import ADMIN_TOKEN, Service, started
from tests.service.mail import MailSink, mailing_settings
from tests.service.processes import run_command
from tests.service.scenario import move_clock
from tests.service.webhook_receiver import Receiver, receiving, subscribe

BLEKINGE = "blek-2026-0042"
HALLAND = "hall-2026-0007"
PERSON = "person-1"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with receiving() as found:
        yield found


@pytest.fixture
async def service(
    database_url: str, tmp_path: Path, sink: tuple[MailSink, int], receiver: Receiver
) -> AsyncIterator[Service]:
    """Two cases in two regions; a webhook subscriber; invitations by e-mail (a real SMTP server) and by
    letter, all sent."""
    async with started(
        mailing_settings(database_url, tmp_path, sink[1], SIPVAKT_WEBHOOK_ALLOW_PRIVATE="true")
    ) as running:
        await subscribe(running, receiver.url)
        for case_id, region in ((BLEKINGE, "blekinge"), (HALLAND, "halland")):
            for event in (
                samples.case_opened(case_id, region),
                samples.consent_given(case_id),
                samples.meeting_scheduled(case_id),
            ):
                assert (await running.push(event)).status == 202
        await running.settle()
        yield running


async def entries(service: Service, query: str = "", token: str = ADMIN_TOKEN) -> list[dict[str, Any]]:
    """Every entry the query finds, page after page."""
    found: list[dict[str, Any]] = []
    after = ""
    while True:
        separator = "&" if query else ""
        response = await service.client.get(
            f"/v1/audit-log?{query}{separator}limit=50{after}", headers=bearer(token)
        )
        assert response.status == 200, await response.text()
        page = await response.json()
        found += page["entries"]
        if page["next"] is None:
            return found
        after = f"&after={page['next']}"


async def test_a_read_is_logged_with_who_read_which_case_and_when(service: Service) -> None:
    token = await service.token("coordinator", ["blekinge"], ["Testskolan"])
    token_id = await service.runtime.pool.fetchval(
        "select token_id from tokens order by created_at desc limit 1"
    )
    before = await entries(service, f"actor={token_id}")
    response = await service.client.get(
        f"/v1/cases/{BLEKINGE}", headers={**bearer(token), "X-Request-Id": "req-las-1"}
    )
    assert response.status == 200
    # Outside the scope the case does not exist, and nothing was read.
    assert (await service.client.get(f"/v1/cases/{HALLAND}", headers=bearer(token))).status == 404

    [entry] = [e for e in await entries(service, f"actor={token_id}") if e not in before]
    assert entry["actor"] == {"kind": "token", "id": token_id, "organisation": "Testskolan"}
    assert (entry["action"], entry["channel"], entry["case_id"]) == ("read", "api", BLEKINGE)
    assert entry["person_reference"] == PERSON
    assert entry["request_id"] == "req-las-1"
    assert entry["recipient"] is None
    assert datetime.fromisoformat(entry["at"]) == await service.runtime.clock.now()


async def test_a_policy_change_and_a_print_are_logged(service: Service) -> None:
    path = f"/v1/cases/{BLEKINGE}/reminder-policy"
    body = {"rsvp": {"max_reminders": 1}}
    response = await service.client.put(
        path, data=json.dumps(body), headers={**bearer(ADMIN_TOKEN), "Content-Type": "application/json"}
    )
    assert response.status == 200, await response.text()
    # A refused change leaves nothing, not even its entry.
    refused = await service.client.put(
        path,
        data=b'{"rsvp": {"max_reminders": "many"}}',
        headers={**bearer(ADMIN_TOKEN), "Content-Type": "application/json"},
    )
    assert refused.status == 422
    changes = [e for e in await entries(service, f"case_id={BLEKINGE}") if e["action"] == "change"]
    assert [(e["actor"]["id"], e["channel"]) for e in changes] == [("admin-token", "api")]

    queue = await service.client.get("/v1/letters", headers=bearer(ADMIN_TOKEN))
    letter = (await queue.json())["letters"][0]
    assert (await service.client.get(letter["pdf_url"], headers=bearer(ADMIN_TOKEN))).status == 200
    prints = [e for e in await entries(service, f"case_id={letter['case_id']}") if e["action"] == "print"]
    assert len(prints) == 1 and prints[0]["actor"]["id"] == "admin-token"


async def test_every_disclosure_has_its_entry(service: Service, receiver: Receiver) -> None:
    pool = service.runtime.pool
    messages = await pool.fetch(
        "select case_id, channel, participant_id from outbox where case_id is not null order by case_id"
    )
    assert {m["channel"] for m in messages} == {"email", "letter"}
    deliveries = await pool.fetch(
        "select e.case_id, d.subscription_id from webhook_deliveries d"
        " join webhook_events e using (webhook_id)"
    )
    assert deliveries and receiver.events(), "the subscriber heard of the cases"
    disclosed = [e for e in await entries(service) if e["action"] == "disclose"]

    mails = sorted(
        (e["case_id"], "email" if e["channel"] == "mail" else e["channel"], e["recipient"]["participant_id"])
        for e in disclosed
        if e["channel"] in ("mail", "letter")
    )
    assert mails == sorted((m["case_id"], m["channel"], m["participant_id"]) for m in messages)
    hooks = sorted(
        (e["case_id"], e["recipient"]["subscription_id"]) for e in disclosed if e["channel"] == "webhook"
    )
    assert hooks == sorted((d["case_id"], d["subscription_id"]) for d in deliveries)
    letters = [e for e in disclosed if e["channel"] == "letter"]
    assert {e["recipient"]["organisation"] for e in letters} == {"Testregionen BUP"}
    assert all(e["actor"]["kind"] == "service" and e["person_reference"] == PERSON for e in disclosed)


async def test_a_message_cannot_be_queued_without_its_entry(service: Service, database_url: str) -> None:
    """Whatever code writes an outbox row: the entry comes with its commit, and when the entry cannot be
    written (here: the chain's head held by another transaction past the lock timeout) neither can the
    message."""
    pool = service.runtime.pool
    insert = (
        "insert into outbox (message_id, case_id, kind, channel, meeting_id, participant_id, recipient,"
        " next_attempt_at, created_at) values ($1, $2, 'invitation', 'email', 'm1', 'p-school',"
        " 'x@example.se', now(), now())"
    )
    count = (
        "select count(*) from audit_log where action = 'disclose' and case_id = $1"
        " and recipient_participant = 'p-school'"
    )
    before = await pool.fetchval(count, BLEKINGE)
    await pool.execute(insert, "direct-1", BLEKINGE)
    assert await pool.fetchval(count, BLEKINGE) == before + 1

    holder = await asyncpg.connect(database_url)
    writer = await asyncpg.connect(database_url)
    try:
        await holder.execute("begin; update audit_chain set seq = seq")
        await writer.execute("set lock_timeout = '300ms'")
        with pytest.raises(asyncpg.LockNotAvailableError):
            async with writer.transaction():
                await writer.execute(insert, "direct-2", BLEKINGE)
        await holder.execute("rollback")
    finally:
        await holder.close()
        await writer.close()
    assert await pool.fetchval("select count(*) from outbox where message_id = 'direct-2'") == 0
    assert await pool.fetchval(count, BLEKINGE) == before + 1


async def test_listings_log_a_read_of_each_case_they_show(service: Service) -> None:
    auditor = await service.token("auditor", ["*"], ["*"])
    token_id = await service.runtime.pool.fetchval(
        "select token_id from tokens order by created_at desc limit 1"
    )
    letters = await service.client.get("/v1/letters", headers=bearer(ADMIN_TOKEN))
    listed = {letter["case_id"] for letter in (await letters.json())["letters"]}
    reads = [e for e in await entries(service, "actor=admin-token") if e["action"] == "read"]
    assert sorted(e["case_id"] for e in reads) == sorted(listed)
    # Reading the log itself reads no case.
    await entries(service, token=auditor)
    assert await entries(service, f"actor={token_id}") == []


async def test_the_log_is_read_by_auditors_and_admins_within_their_scope(service: Service) -> None:
    for case_id in (BLEKINGE, HALLAND):
        assert (await service.case(case_id)).status == 200
    halland = await service.token("auditor", ["halland"], ["*"])
    everything = await entries(service)
    assert {e["case_id"] for e in everything} == {BLEKINGE, HALLAND}
    seen = await entries(service, token=halland)
    assert seen and {e["case_id"] for e in seen} == {HALLAND}
    assert seen == [e for e in everything if e["case_id"] == HALLAND]
    assert await entries(service, f"case_id={BLEKINGE}", token=halland) == []
    school = await service.token("auditor", ["*"], ["Testskolan"])
    assert {e["case_id"] for e in await entries(service, token=school)} == {BLEKINGE, HALLAND}
    elsewhere = await service.token("auditor", ["*"], ["Annan kommun"])
    assert await entries(service, token=elsewhere) == []

    coordinator = await service.token("coordinator", ["*"], ["*"])
    async with service.runtime.pool.acquire() as connection:
        integration = await access.create_token(
            connection,
            role="integration",
            regions=["*"],
            organisations=["*"],
            integration_id=access.DEFAULT_INTEGRATION,
            label="test",
            now=await service.runtime.clock.now(),
        )
    for token in (coordinator, integration.token):
        assert (await service.client.get("/v1/audit-log", headers=bearer(token))).status == 403
    assert (await service.client.get("/v1/audit-log")).status == 401

    # Oldest first, a page at a time; and a sample stays in scope.
    numbers = [int(e["entry_id"].removeprefix("aud_")) for e in everything]
    assert numbers == sorted(numbers)
    sample = await service.client.get("/v1/audit-log?sample=3", headers=bearer(halland))
    drawn = (await sample.json())["entries"]
    assert len(drawn) == 3 and all(e in seen for e in drawn)
    since = await service.client.get(
        f"/v1/audit-log?since=2100-01-01&person_reference={PERSON}", headers=bearer(halland)
    )
    assert (await since.json())["entries"] == []


async def test_a_bad_query_is_refused_naming_each_parameter_without_echoing_it(service: Service) -> None:
    personnummer = samples.TEST_PERSONNUMMER
    response = await service.client.get(
        f"/v1/audit-log?limit=0&after={personnummer}&since=igår&sample=0&{personnummer}=1"
        "&case_id=fall%00ett&actor=n%C3%A5gon",
        headers=bearer(ADMIN_TOKEN),
    )
    assert response.status == 400
    text = await response.text()
    assert personnummer not in text and "igår" not in text
    locs = {tuple(error["loc"]) for error in (await response.json())["errors"]}
    assert {
        ("query",),
        ("query", "limit"),
        ("query", "after"),
        ("query", "since"),
        ("query", "sample"),
        ("query", "case_id"),
        ("query", "actor"),
    } <= locs


async def test_the_log_refuses_update_and_delete_and_verify_finds_tampering(
    service: Service, database_url: str, tmp_path: Path
) -> None:
    pool = service.runtime.pool
    for _ in range(3):
        assert (await service.case(BLEKINGE)).status == 200
    environment = {"SIPVAKT_DATABASE_URL": database_url, "SIPVAKT_DATA_DIR": str(tmp_path / "cli")}
    whole = run_command("audit", "verify", environment=environment)
    assert whole.returncode == 0, whole.stderr
    total = await pool.fetchval("select count(*) from audit_log")
    assert f"{total} entries" in whole.stdout

    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await pool.execute("update audit_log set actor_id = 'someone-else' where seq = 2")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await pool.execute("delete from audit_log where seq = 2")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await pool.execute("truncate audit_log")

    # The test's user is a superuser, who can switch the trigger off: the chain still tells.
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("alter table audit_log disable trigger audit_log_append_only")
        await connection.execute("update audit_log set actor_id = 'someone-else' where seq = 2")
        await connection.execute("alter table audit_log enable trigger audit_log_append_only")
    altered = run_command("audit", "verify", environment=environment)
    assert altered.returncode == 1
    assert "aud_2" in altered.stderr and "does not match its hash" in altered.stderr

    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("alter table audit_log disable trigger audit_log_append_only")
        await connection.execute("update audit_log set actor_id = 'sipvakt' where seq = 2")
        await connection.execute("delete from audit_log where seq = 4")
        await connection.execute("alter table audit_log enable trigger audit_log_append_only")
    async with pool.acquire() as connection:
        removed = await chain.verify(connection)
    assert (removed.broken_at, removed.checked) == ("aud_5", 3)
    assert "aud_4" in (removed.reason or "")

    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("alter table audit_log disable trigger audit_log_append_only")
        last = await connection.fetchval("select max(seq) from audit_log")
        await connection.execute("delete from audit_log where seq >= 4")
        await connection.execute("alter table audit_log enable trigger audit_log_append_only")
    async with pool.acquire() as connection:
        truncated = await chain.verify(connection)
    assert truncated.broken_at == "aud_4" and last > 4


async def test_the_service_role_may_append_but_not_alter(service: Service, database_url: str) -> None:
    """The role README tells operators to run the service as: no UPDATE or DELETE on the log."""
    pool = service.runtime.pool
    login = "sipvakt_app_" + database_url.rsplit("/", 1)[1][-8:]
    await pool.execute(f"create role {login} login password 'las' in role sipvakt_service")
    try:
        as_service = await asyncpg.connect(database_url, user=login, password="las")
        try:
            assert await as_service.fetchval("select count(*) from audit_log") > 0
            await as_service.execute(
                "insert into audit_log (at, actor_kind, actor_id, action, channel, case_id)"
                " values (now(), 'service', 'sipvakt', 'change', 'api', $1)",
                BLEKINGE,
            )
            await as_service.execute("update cases set updated_at = updated_at where case_id = $1", BLEKINGE)
            for statement in (
                "update audit_log set actor_id = 'x'",
                "delete from audit_log",
                "update audit_chain set seq = 0",
            ):
                # Refused by the grants, before any trigger is asked.
                with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
                    await as_service.execute(statement)
        finally:
            await as_service.close()
        # The service starts as this role: migrating finds everything applied and needs no CREATE.
        service_pool = await asyncpg.create_pool(database_url, user=login, password="las", min_size=1)
        try:
            assert await migrate(service_pool) == []
        finally:
            await service_pool.close()
    finally:
        await pool.execute(f"drop owned by {login}")
        await pool.execute(f"drop role {login}")
    async with pool.acquire() as connection:
        assert (await chain.verify(connection)).whole


async def test_the_extract_names_who_took_part_of_the_persons_data(
    service: Service, database_url: str, tmp_path: Path
) -> None:
    token = await service.token("coordinator", ["blekinge"], ["Testskolan"])
    assert (await service.client.get(f"/v1/cases/{BLEKINGE}", headers=bearer(token))).status == 200
    environment = {"SIPVAKT_DATABASE_URL": database_url, "SIPVAKT_DATA_DIR": str(tmp_path / "cli")}
    done = run_command("audit", "extract", "--person-reference", PERSON, environment=environment)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["person_reference"] == PERSON
    organisations = {(e["action"], e["organisation"]) for e in found["entries"]}
    assert ("read", "Testskolan") in organisations
    assert ("disclose", "Testregionen BUP") in organisations
    assert samples.TEST_PERSONNUMMER not in done.stdout and "Testa Testsson" not in done.stdout
    later = run_command(
        "audit", "extract", "--person-reference", PERSON, "--since", "2100-01-01", environment=environment
    )
    assert json.loads(later.stdout)["entries"] == []
    bad = run_command(
        "audit", "extract", "--person-reference", PERSON, "--since", "igår", environment=environment
    )
    assert bad.returncode == 2 and "--since" in bad.stderr


async def test_deviations_listed_are_reads_of_their_cases(service: Service) -> None:
    await move_clock(service, datetime.fromisoformat("2026-12-16T12:00:00+01:00"))
    listing = await service.client.get("/v1/deviations", headers=bearer(ADMIN_TOKEN))
    shown = {d["case_id"] for d in (await listing.json())["deviations"]}
    assert shown, "unanswered invitations became deviations"
    reads = [e for e in await entries(service, "actor=admin-token") if e["action"] == "read"]
    assert sorted(e["case_id"] for e in reads) == sorted(shown)


async def test_a_page_opens_a_case_with_one_call_that_logs_the_user(service: Service) -> None:
    """What a page of the web app calls to show a case: the signed-in user is the actor, `web` the
    channel; a case outside the user's scope is not opened, and nothing is logged."""
    now = await service.runtime.clock.now()
    async with service.runtime.pool.acquire() as connection:
        wanted = checked_request(
            {"email": "gun.granskare@example.se", "role": "coordinator", "regions": ["halland"]},
            ["blekinge", "halland"],
        )
        user = await create_user(connection, wanted, now)
    principal = user.principal()
    opened = await open_case(service.runtime.pool, principal, HALLAND, "web", now)
    assert opened is not None and opened.case.case_id == HALLAND
    assert await open_case(service.runtime.pool, principal, BLEKINGE, "web", now) is None
    [entry] = await entries(service, f"actor={user.user_id}")
    assert entry["actor"] == {"kind": "user", "id": user.user_id, "organisation": "*"}
    assert (entry["action"], entry["channel"], entry["case_id"]) == ("read", "web", HALLAND)


async def test_the_erasure_under_retention_is_an_entry_and_the_log_outlives_it(service: Service) -> None:
    closed = samples.event(
        "case.closed", HALLAND, occurred_at="2026-11-23T12:00:00+01:00", reason="goals_met"
    )
    assert (await service.push(closed)).status == 202
    await service.settle()
    before = await entries(service, f"case_id={HALLAND}")
    await move_clock(service, datetime.fromisoformat("2027-02-22T12:00:00+01:00"))
    after = await entries(service, f"case_id={HALLAND}")
    assert after[: len(before)] == before, "retention erased nothing of the log"
    changes = [e for e in after[len(before) :] if e["action"] == "change"]
    assert [(e["actor"], e["person_reference"]) for e in changes] == [
        ({"kind": "service", "id": "sipvakt", "organisation": None}, PERSON)
    ]
    erased = await service.runtime.pool.fetchval(
        "select state ->> 'erased_at' from cases where case_id = $1", HALLAND
    )
    assert erased is not None
    async with service.runtime.pool.acquire() as connection:
        assert (await chain.verify(connection)).whole
