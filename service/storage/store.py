"""SQL for events, cases and the effects of applying an event. Every function takes a connection, so the
caller decides the transaction."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, TypeAlias

import asyncpg

from scheduler.case import Case
from scheduler.effects import (
    CancelTimers,
    CancelUnsentMessages,
    Effect,
    QueueMessage,
    RecordDeviation,
    SetTimer,
)
from scheduler.events import Event
from service import tracing
from service.storage import report_facts, webhook_events

# A plain connection or one borrowed from the pool: every function here works with either.
Connection: TypeAlias = (
    "asyncpg.Connection[asyncpg.Record] | asyncpg.pool.PoolConnectionProxy[asyncpg.Record]"
)
EVENTS_CHANNEL = "sipvakt_events"
TIMERS_CHANNEL = "sipvakt_timers"
OUTBOX_CHANNEL = "sipvakt_outbox"
# An outbox row's payload with only what identifies nobody: which message of which series it was. Every
# other key (a reminder's details, a digest's lists) can carry names, addresses or free text.
KEPT_PAYLOAD_KEYS = ["sequence", "queued_at", "notice", "reminder", "deadline"]
ERASED_PAYLOAD = (
    "(select coalesce(jsonb_object_agg(key, value), '{}'::jsonb) from jsonb_each(payload)"
    " where key = any($1::text[]))"
)
# How soon a new timer must fall due for its transaction to wake the timer workers (they look at least
# this often anyway).
TIMER_NOTICE_HORIZON = timedelta(seconds=1)


@dataclass(frozen=True)
class Intake:
    status: Literal["accepted", "duplicate", "conflict", "foreign"]
    # None only for "foreign": the case belongs to another integration and nothing was stored.
    event_id: str | None


def body_digest(body: bytes) -> bytes:
    return hashlib.sha256(body).digest()


async def store_event(
    connection: Connection,
    *,
    integration_id: str,
    webhook_id: str,
    body: bytes,
    event: Event,
    received_at: datetime,
) -> Intake:
    """Store an accepted event once per (integration, webhook-id); tell a replay from a conflict.

    The event's case is claimed for the integration first, so that every path that stores events keeps
    tenancy; an event for a case of another integration is not stored ("foreign"). One statement, atomic
    in or out of a transaction (migration 0023)."""
    row = await connection.fetchrow(
        "select status, event_id from store_event($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        "evt_" + secrets.token_hex(12),
        integration_id,
        webhook_id,
        body_digest(body),
        event.case_id,
        event.type,
        event.occurred_at,
        received_at,
        event.to_json_dict(),
        tracing.current_trace_context(),
        EVENTS_CHANNEL,
    )
    assert row is not None
    return Intake(row["status"], row["event_id"])


async def case_owner(connection: Connection, case_id: str) -> str | None:
    """The integration that claimed the case with its first event, if any did."""
    owner: str | None = await connection.fetchval(
        "select integration_id from case_owners where case_id = $1", case_id
    )
    return owner


async def load_case(connection: Connection, case_id: str, *, for_update: bool = False) -> Case | None:
    row = await connection.fetchrow(
        "select state from cases where case_id = $1" + (" for update" if for_update else ""), case_id
    )
    return Case.model_validate(row["state"]) if row else None


_SAVE_CASE = (
    "with stored as (select state from cases where case_id = $1){cleared}"
    " insert into cases (case_id, integration_id, region, organisations, status, state, version,"
    " opened_at, updated_at) values ($1, $2, $3, $4, $5, $6, 1, $7, $8)"
    " on conflict (case_id) do update set organisations = excluded.organisations,"
    " status = excluded.status, state = excluded.state, version = cases.version + 1,"
    " updated_at = excluded.updated_at"
    " returning (select stored.state::jsonb from stored) is distinct from cases.state::jsonb as changed,"
    " array(" + webhook_events.subscribers_query("'case.updated'", "$2", "$3", "$4") + ") as subscribers"
)
# A case without held meetings has no rows of them: emptied in the saving statement, with no round trip
# of its own (a meeting marked held, then its holding undone, leaves rows to remove).
SAVE_CASE = _SAVE_CASE.format(cleared="")
SAVE_CASE_WITHOUT_HELD_MEETINGS = _SAVE_CASE.format(
    cleared=", cleared as (delete from held_meetings where case_id = $1)"
)


async def save_case(connection: Connection, case: Case, now: datetime) -> None:
    """Store the case. Only a state that differs from the stored one, compared as JSON values, is told to
    webhook subscribers: a recompute that changes nothing sends nothing. The subscribers to tell are
    looked up in the same statement."""
    held = report_facts.held_meetings(case)
    row = await connection.fetchrow(
        SAVE_CASE if held else SAVE_CASE_WITHOUT_HELD_MEETINGS,
        case.case_id,
        case.integration_id,
        case.region,
        sorted(case.organisations()),
        case.status,
        case.model_dump(mode="json"),
        case.opened_at,
        now,
    )
    assert row is not None
    if row["changed"]:
        # Unchanged, the case's held meetings are unchanged too.
        if held:
            await report_facts.write_held_meetings(connection, case, held)
        await webhook_events.case_updated(connection, case, now, list(row["subscribers"]))


async def carry_out(connection: Connection, case: Case, effects: list[Effect], now: datetime) -> None:
    """Write the effects of one decision, in order, in the caller's transaction. A run of timers to set,
    of timers to cancel or of messages to queue goes in one round trip: a recompute re-arms every timer
    of its case."""
    notify_timers = notify_outbox = False
    for effect, run in _runs(effects):
        if isinstance(effect, SetTimer):
            timers = [timer for timer in run if isinstance(timer, SetTimer)]
            await set_timers(connection, case.case_id, timers, now)
            # Only a timer due soon needs a sleeping worker woken; the rest are found by its next look.
            notify_timers = notify_timers or any(t.due_at <= now + TIMER_NOTICE_HORIZON for t in timers)
        elif isinstance(effect, QueueMessage):
            messages = [message for message in run if isinstance(message, QueueMessage)]
            await queue_messages(connection, case.case_id, messages, now)
            notify_outbox = True
        elif isinstance(effect, CancelTimers):
            prefixes = [cancel.prefix for cancel in run if isinstance(cancel, CancelTimers)]
            await cancel_timers(connection, case.case_id, prefixes, now)
        elif isinstance(effect, CancelUnsentMessages):
            await cancel_unsent(connection, case.case_id, effect)
        elif isinstance(effect, RecordDeviation):
            await record_deviation(connection, case, effect)
    channels = [TIMERS_CHANNEL] * notify_timers + [OUTBOX_CHANNEL] * notify_outbox
    if channels:
        await connection.execute("select pg_notify(channel, '') from unnest($1::text[]) as channel", channels)


# Timers set, timers cancelled and messages are written in runs; every other effect on its own. A
# recompute cancels and sets its timers kind by kind (escalations, reminders, deadlines), so the runs of
# one kind are interleaved with the other's: an effect joins the latest run of its kind when it can be
# done earlier, beside that run, without changing what the whole does (`_commutes`). A timer set then
# cancelled by a matching prefix, or cancelled then set again, keeps its order.
_BATCHED = (SetTimer, CancelTimers, QueueMessage)
_TIMER_EFFECTS = (SetTimer, CancelTimers)


def _runs(effects: list[Effect]) -> list[tuple[Effect, list[Effect]]]:
    """The effects in order, each with the run of effects of the same batched kind that it starts."""
    runs: list[tuple[Effect, list[Effect]]] = []
    for effect in effects:
        joined = _run_to_join(runs, effect) if isinstance(effect, _BATCHED) else None
        if joined is None:
            runs.append((effect, [effect]))
        else:
            joined.append(effect)
    return runs


def _run_to_join(runs: list[tuple[Effect, list[Effect]]], effect: Effect) -> list[Effect] | None:
    """The latest run of `effect`'s kind that it may join, if every run after that one commutes with it."""
    for first, run in reversed(runs):
        if type(first) is type(effect):
            return run
        if not all(_commutes(effect, other) for other in run):
            return None
    return None


def _commutes(effect: Effect, other: Effect) -> bool:
    """Whether doing `effect` before `other` ends the same as after it. Timers are a table of their own:
    a timer effect and a message, deviation or withdrawal commute; two timer effects do unless one sets a
    key that the other's prefix cancels. Messages keep their place among everything but timers."""
    timer_effect, other_timer_effect = isinstance(effect, _TIMER_EFFECTS), isinstance(other, _TIMER_EFFECTS)
    if timer_effect != other_timer_effect:
        return True
    if not timer_effect:
        return False
    if isinstance(effect, SetTimer) and isinstance(other, CancelTimers):
        return not effect.key.startswith(other.prefix)
    if isinstance(effect, CancelTimers) and isinstance(other, SetTimer):
        return not other.key.startswith(effect.prefix)
    # Two of a kind are in one run already, in order; the runs between are of the other kind.
    return False


async def cancel_timers(connection: Connection, case_id: str, prefixes: list[str], now: datetime) -> None:
    """Cancel the case's pending timers whose key starts with any of `prefixes`, in one round trip."""
    await connection.execute(
        "update timers set state = 'cancelled', updated_at = $3 where case_id = $1"
        " and state in ('scheduled', 'running')"
        " and exists (select from unnest($2::text[]) as cancelled (prefix) where starts_with(key, prefix))",
        case_id,
        prefixes,
        now,
    )


async def cancel_unsent(connection: Connection, case_id: str, effect: CancelUnsentMessages) -> None:
    """Withdraw the messages that have not left; with `erase`, keep nothing of what they would have said
    to whom, and take the case's unposted letters out of the print queue."""
    await connection.execute(
        "update outbox set state = 'cancelled',"
        " recipient = case when $6 then '' else recipient end,"
        f" payload = case when $6 then {ERASED_PAYLOAD} else payload end"
        " where case_id = $2 and state = 'queued'"
        " and ($3::text is null or meeting_id = $3) and ($4::text is null or participant_id = $4)"
        " and (cardinality($5::text[]) = 0 or kind = any($5))",
        KEPT_PAYLOAD_KEYS,
        case_id,
        effect.meeting_id,
        effect.participant_id,
        list(effect.kinds),
        effect.erase,
    )
    if effect.erase:
        await connection.execute("delete from letters where case_id = $1 and state = 'queued'", case_id)


SET_TIMER = (
    "insert into timers (case_id, key, kind, due_at, payload, created_at, updated_at, trace_context)"
    " values ($1, $2, $3, $4, $5, $6, $6, $7)"
    " on conflict (case_id, key) do update set kind = excluded.kind, due_at = excluded.due_at,"
    " payload = excluded.payload, state = 'scheduled', attempts = 0, last_error = null,"
    " trace_context = excluded.trace_context,"
    " lease_owner = null, lease_until = null,"
    " updated_at = excluded.updated_at"
    " where timers.state in ('scheduled', 'cancelled') or timers.due_at <> excluded.due_at"
)
QUEUE_MESSAGE = (
    "insert into outbox (message_id, case_id, kind, channel, meeting_id, participant_id, recipient,"
    " payload, next_attempt_at, created_at, trace_context)"
    " values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)"
    " on conflict (message_id) do nothing"
)


async def set_timer(connection: Connection, case_id: str, timer: SetTimer, now: datetime) -> None:
    """Create the timer, or move it (a claimed one too: its worker then lets go of it); a timer that already
    fired or was parked as dead is armed again only for a new due time."""
    await set_timers(connection, case_id, [timer], now)


async def set_timers(connection: Connection, case_id: str, timers: list[SetTimer], now: datetime) -> None:
    """`set_timer` for each, in order, in one round trip."""
    if not timers:
        return
    trace = tracing.current_trace_context()
    await connection.executemany(
        SET_TIMER,
        [(case_id, timer.key, timer.kind, timer.due_at, timer.payload, now, trace) for timer in timers],
    )


async def queue_message(
    connection: Connection, case_id: str | None, message: QueueMessage, now: datetime
) -> None:
    await queue_messages(connection, case_id, [message], now)


async def queue_messages(
    connection: Connection, case_id: str | None, messages: list[QueueMessage], now: datetime
) -> None:
    """Queue each message once (a key already queued is left as it is), in order, in one round trip."""
    if not messages:
        return
    trace = tracing.current_trace_context()
    await connection.executemany(
        QUEUE_MESSAGE,
        [
            (
                message.key,
                case_id,
                message.kind,
                message.channel,
                message.meeting_id,
                message.participant_id,
                message.recipient,
                message.payload,
                now,
                trace,
            )
            for message in messages
        ],
    )


async def record_deviation(connection: Connection, case: Case, effect: RecordDeviation) -> None:
    deviation = effect.deviation
    inserted = await connection.fetchval(
        "insert into deviations (deviation_id, case_id, integration_id, region, organisations, kind,"
        " detected_at, meeting_id, participant_id, action_id, rule, reportable)"
        " values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) on conflict (deviation_id) do nothing"
        " returning deviation_id",
        deviation.deviation_id,
        case.case_id,
        case.integration_id,
        case.region,
        sorted(case.organisations()),
        deviation.kind,
        deviation.detected_at,
        deviation.meeting_id,
        deviation.participant_id,
        deviation.action_id,
        deviation.rule,
        deviation.reportable,
    )
    # A deviation noticed again finds its row: subscribers hear of each deviation once.
    if inserted is not None:
        await webhook_events.deviation_recorded(connection, case, deviation)
