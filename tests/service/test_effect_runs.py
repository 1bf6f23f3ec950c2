"""The runs a decision's effects are written in: fewer statements, the same outcome as one by one."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from scheduler.case import ContactInfo, Meeting
from scheduler.effects import CancelTimers, CancelUnsentMessages, Effect, QueueMessage, SetTimer
from service.storage import store
from service.storage.database import Pool
from tests.scheduler.builders import make_case

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
KEYS = ("meeting:m1:rsvp", "meeting:m1:remind", "reminder:consent", "deadline:plan")
PREFIXES = ("", "meeting:", "meeting:m1:rsvp", "reminder:", "deadline:", "escalation:")


def message(key: str) -> QueueMessage:
    return QueueMessage(key, "reminder", "email", None, None, "kim@example.se")


effects_strategy = st.lists(
    st.one_of(
        st.builds(
            SetTimer,
            key=st.sampled_from(KEYS),
            kind=st.just("deadline"),
            due_at=st.sampled_from([NOW, NOW + timedelta(days=1)]),
        ),
        st.builds(CancelTimers, prefix=st.sampled_from(PREFIXES)),
        st.builds(message, st.sampled_from(("n1", "n2"))),
        st.just(CancelUnsentMessages()),
    ),
    max_size=12,
)


def outcome(effects: list[Effect]) -> tuple[dict[str, tuple[str, datetime]], list[tuple[str, str]]]:
    """What the statements do, one effect after the other: the timers' states and the outbox's."""
    timers: dict[str, tuple[str, datetime]] = {}
    outbox: list[tuple[str, str]] = []
    for effect in effects:
        if isinstance(effect, SetTimer):
            timers[effect.key] = ("scheduled", effect.due_at)
        elif isinstance(effect, CancelTimers):
            for key, (state, due) in timers.items():
                if state == "scheduled" and key.startswith(effect.prefix):
                    timers[key] = ("cancelled", due)
        elif isinstance(effect, QueueMessage):
            if all(key != effect.key for key, _ in outbox):
                outbox.append((effect.key, "queued"))
        elif isinstance(effect, CancelUnsentMessages):
            outbox = [(key, "cancelled" if state == "queued" else state) for key, state in outbox]
    return timers, outbox


def in_runs(effects: list[Effect]) -> list[Effect]:
    return [effect for _, run in store._runs(effects) for effect in run]


@given(effects_strategy)
def test_the_runs_end_as_the_effects_one_by_one(effects: list[Effect]) -> None:
    runs = store._runs(effects)
    assert sorted(map(id, in_runs(effects))) == sorted(map(id, effects)), "each effect once"
    assert outcome(in_runs(effects)) == outcome(effects)
    for first, run in runs:
        assert all(type(effect) is type(first) for effect in run)


def test_a_recompute_cancels_in_one_statement_around_what_it_sets() -> None:
    """The shape a firing reminder's recompute has: cancels of several kinds around a message and a set."""
    effects: list[Effect] = [
        CancelTimers("escalation:"),
        CancelTimers("reminder:"),
        message("n1"),
        CancelTimers("reminder:"),
        CancelTimers("meeting:m1:remind"),
        SetTimer("reminder:consent", "reminder", NOW),
        CancelTimers("deadline:"),
    ]
    assert [(type(first).__name__, len(run)) for first, run in store._runs(effects)] == [
        ("CancelTimers", 5),
        ("QueueMessage", 1),
        ("SetTimer", 1),
    ]


def test_a_timer_set_then_cancelled_by_its_prefix_keeps_its_order() -> None:
    effects: list[Effect] = [
        CancelTimers("deadline:"),
        SetTimer("reminder:consent", "reminder", NOW),
        CancelTimers("reminder:"),
    ]
    assert len(store._runs(effects)) == 3


async def test_the_runs_write_what_the_effects_say(pool: Pool) -> None:
    """Against the database: a set after a matching cancel stays, a set before one goes."""
    case = make_case("blekinge", date(2026, 11, 20))
    async with pool.acquire() as connection, connection.transaction():
        await store.save_case(connection, case, NOW)
        await store.carry_out(
            connection,
            case,
            [
                SetTimer("reminder:consent", "reminder", NOW + timedelta(days=3)),
                SetTimer("meeting:m1:rsvp", "rsvp", NOW + timedelta(days=2)),
                CancelTimers("deadline:"),
                CancelTimers("reminder:"),
                SetTimer("deadline:plan", "deadline", NOW + timedelta(days=9)),
                CancelTimers("escalation:"),
            ],
            NOW,
        )
    rows = await pool.fetch("select key, state from timers where case_id = $1 order by key", case.case_id)
    assert [(row["key"], row["state"]) for row in rows] == [
        ("deadline:plan", "scheduled"),
        ("meeting:m1:rsvp", "scheduled"),
        ("reminder:consent", "cancelled"),
    ]


async def test_saving_a_case_whose_meeting_is_no_longer_held_removes_its_row(pool: Pool) -> None:
    """A case without held meetings has their rows emptied by the statement that saves it."""
    organizer = ContactInfo(name="Kim Koordinator (test)", email="kim@example.se", organisation="Testkommun")
    meeting = Meeting(
        meeting_id="m1",
        kind="initial",
        starts_at=NOW - timedelta(days=1),
        ends_at=NOW - timedelta(days=1) + timedelta(hours=1),
        location="Testskolan",
        purpose="Samordna insatser",
        organizer=organizer,
        scheduled_at=NOW - timedelta(days=20),
        status="held",
    )
    held = make_case("blekinge", date(2026, 11, 2)).model_copy(update={"meetings": {"m1": meeting}})
    not_held = held.model_copy(
        update={"meetings": {"m1": meeting.model_copy(update={"status": "scheduled"})}}
    )
    count = "select count(*) from held_meetings where case_id = $1"
    async with pool.acquire() as connection:
        await store.save_case(connection, held, NOW)
        assert await connection.fetchval(count, held.case_id) == 1
        await store.save_case(connection, not_held, NOW)
        assert await connection.fetchval(count, held.case_id) == 0
        await store.save_case(connection, held, NOW)
        assert await connection.fetchval(count, held.case_id) == 1
