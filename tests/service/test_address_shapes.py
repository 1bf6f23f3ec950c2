"""Addresses of every shape, fed to the delivery worker against real aiosmtpd servers (with and without
SMTPUTF8): each message ends delivered or failed for good, never stuck; an internationalised domain is
always delivered, IDNA-encoded; a local part beyond ASCII is delivered where the server offers SMTPUTF8
and fails (with the coordinator told) where it does not; and the ordinary address beside it in the same
batch is delivered whatever happens to the odd one."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calendars.workdays import WorkingCalendar
from config.rules import load_rulebook
from notifiers.compose import Sender
from notifiers.mailbox import UnsendableAddress, wire_address
from notifiers.transport import SmtpTransport
from scheduler.clock import FixedClock
from scheduler.decide import Context
from scheduler.effects import QueueMessage
from scheduler.planning import DeadlinePlanner
from service import access
from service.storage import store
from service.storage.database import create_pool
from service.workers.delivery import DeliveryWorker
from service.workers.outcomes import DeliveryOutcomes
from tests import samples
from tests.scheduler.builders import applied
from tests.service.mail import MAIL_DOMAIN, MAIL_FROM, MailSink, smtp_server

NOW = datetime.fromisoformat("2026-11-23T09:00:00+01:00")
CONTROL = "kontroll@example.org"
COORDINATOR = "kim.koordinator@example.se"
CONFIG = Path(__file__).resolve().parents[2] / "config"
_cases = itertools.count()

ascii_label = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
unicode_label = st.text(st.characters(categories=["Ll", "Lu", "Lo", "Nd"]), min_size=1, max_size=8)
# Anything PostgreSQL can store as text (no NUL, no lone surrogates): what a case document can hold.
any_text = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=12)
domains = st.one_of(
    st.lists(st.one_of(ascii_label, unicode_label), min_size=1, max_size=3)
    .map(".".join)
    .map(lambda d: d + ".se"),
    any_text,
)
local_parts = st.one_of(
    st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,12}", fullmatch=True),
    unicode_label,
    any_text,
)
addresses = st.one_of(
    st.sampled_from(
        [
            "idn@exämple.se",
            "ÅSA@EXÄMPLE.SE",
            "åsa@example.se",
            "x@例え.jp",
            "x@xn--exmple-cua.se",
            "a..b@example.se",
            '"quoted"@example.se',
            "x y@example.se",
            "x@[127.0.0.1]",
            "@example.se",
            "x@",
        ]
    ),
    st.builds(lambda local, domain: f"{local}@{domain}", local_parts, domains),
)


def expected(address: str, smtputf8: bool) -> str:
    """What must become of the message: 'sent' or 'failed'."""
    try:
        wired = wire_address(address).address
    except UnsendableAddress:
        return "failed"
    local = wired.rpartition("@")[0]
    if not local.isascii():
        return "sent" if smtputf8 else "failed"
    return "sent"


async def queue_invitations(pool: Any, address: str) -> str:
    """A case whose meeting invites the control participant and one with `address`, queued as the
    service queues them (the address put in as a substitute named on the reply page would be)."""
    case_id = f"prop-{next(_cases)}"
    planner = DeadlinePlanner(load_rulebook(CONFIG), WorkingCalendar())
    context = Context(now=NOW, integration_id=access.DEFAULT_INTEGRATION, planner=planner)
    meeting = samples.meeting_scheduled(case_id)
    meeting["data"]["participants"] = [
        {
            "participant_id": "p-control",
            "name": "Kontroll Person",
            "email": CONTROL,
            "role": "other",
            "channel": "email",
        },
        {
            "participant_id": "p-odd",
            "name": "Udda Adress",
            "email": "udda@example.org",
            "role": "other",
            "channel": "email",
        },
    ]
    case, effects = applied((samples.case_opened(case_id), samples.consent_given(case_id), meeting), context)
    case.meetings["m1"].participants["p-odd"].email = address
    effects = [
        replace(effect, recipient=address)
        if isinstance(effect, QueueMessage) and effect.participant_id == "p-odd" and effect.kind == "request"
        else effect
        for effect in effects
    ]
    async with pool.acquire() as connection, connection.transaction():
        await access.ensure_default_integration(connection, NOW)
        await store.save_case(connection, case, NOW)
        await store.carry_out(connection, case, effects, NOW)
    return case_id


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(address=addresses, smtputf8=st.booleans())
async def test_every_address_shape_ends_delivered_or_failed_and_never_touches_its_neighbour(
    database_url: str, address: str, smtputf8: bool
) -> None:
    pool = await create_pool(database_url, max_size=4)
    sink = MailSink()
    try:
        async with smtp_server(sink, smtputf8=smtputf8) as port:
            worker = DeliveryWorker(
                pool=pool,
                clock=FixedClock(NOW),
                transport=SmtpTransport("127.0.0.1", port, "none", timeout=5.0),
                sender=Sender(MAIL_FROM, MAIL_FROM, MAIL_DOMAIN, b"test message key"),
                return_address="Testkommun\nBox 1\n111 11 Teststad",
                wake=asyncio.Event(),
                outcomes=DeliveryOutcomes(DeadlinePlanner(load_rulebook(CONFIG), WorkingCalendar())),
            )
            case_id = await queue_invitations(pool, address)
            await worker.deliver_due()
            rows = await pool.fetch(
                "select participant_id, kind, recipient, state from outbox where case_id = $1", case_id
            )
            case = await pool.fetchval("select state from cases where case_id = $1", case_id)
    finally:
        await pool.close()
    states = {(row["participant_id"], row["kind"]): row["state"] for row in rows}
    invitations = case["meetings"]["m1"]["invitations"]

    # Nothing is left in the outbox half-way, and the neighbour is untouched.
    assert set(states.values()) <= {"sent", "failed"}, states
    assert states[("p-control", "request")] == "sent"
    assert invitations["p-control"]["status"] == "sent"
    assert len(sink.to(CONTROL)) == 1

    odd = states[("p-odd", "request")]
    assert odd == expected(address, smtputf8), (address, smtputf8)
    if odd == "sent":
        wired = wire_address(address).address
        assert invitations["p-odd"]["status"] == "sent"
        assert [mail.rcpt_tos for mail in sink.received if wired in mail.rcpt_tos] == [(wired,)]
    else:
        # Failed for good: the case says so and the coordinator is told, once.
        assert invitations["p-odd"]["status"] == "failed"
        assert states[("p-odd", "notice")] == "sent"
        told = [mail for mail in sink.to(COORDINATOR) if "Kallelsen kunde inte levereras" in mail.text()]
        assert len(told) == 1
