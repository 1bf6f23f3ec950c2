"""Att göra's ranking and counts, read from the store's small columns: the tier each case falls in, the
exact counts beside it, the 14-day window's edges, the kind filter and the paging."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from scheduler.case import Case, Deadline, Deviation, Warning
from scheduler.effects import RecordDeviation
from service.access import Principal
from service.storage import store
from service.storage.database import Pool
from service.web import todo
from tests.scheduler.builders import make_case

TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
HALLAND = Principal("samordnare", "coordinator", frozenset({"halland"}), frozenset({"*"}))
NO_FILTERS: dict[str, str | None] = {"region": None, "organisation": None, "kind": None}


def deadline(days: int, status: str = "pending") -> Deadline:
    return Deadline.model_validate(
        {"kind": "meeting_due", "due": TODAY + timedelta(days=days), "status": status, "rule": "halland.x"}
    )


def case(case_id: str, *deadlines: Deadline, region: str = "halland", warnings: int = 0) -> Case:
    made = make_case(region, date(2026, 11, 2))
    return made.model_copy(
        update={
            "case_id": case_id,
            "deadlines": list(deadlines),
            "warnings": [Warning(kind="notice_too_short", message="Kort kallelsetid.")] * warnings,
        }
    )


async def save(pool: Pool, *cases: Case, deviation_in: str | None = None) -> None:
    async with pool.acquire() as connection:
        for saved in cases:
            await store.save_case(connection, saved, NOW)
            if saved.case_id == deviation_in:
                deviation = Deviation(deviation_id=f"dev-{saved.case_id}", kind="late", detected_at=NOW)
                await store.record_deviation(connection, saved, RecordDeviation(deviation))


async def listed(
    pool: Pool, kind: str | None = None, page: int = 1
) -> tuple[list[todo.TodoRow], dict[str, int], int]:
    async with pool.acquire() as connection:
        return await todo.todo_list(connection, HALLAND, TODAY, {**NO_FILTERS, "kind": kind}, page)


async def test_each_case_is_ranked_by_its_most_urgent_item_and_counted_exactly(pool: Pool) -> None:
    await save(
        pool,
        case("warned", deadline(200), warnings=2),
        case("window-edge", deadline(14), deadline(15)),
        case("two-overdue", deadline(-3), deadline(-1), deadline(0), deadline(30)),
        case("met-in-past", deadline(-5, "met"), deadline(3)),
        case("beyond-window", deadline(15)),
        case("with-deviation", deadline(100)),
        case("other-region", deadline(-10), region="blekinge"),
        deviation_in="with-deviation",
    )
    rows, counts, total = await listed(pool)
    assert [row.case_id for row in rows] == [
        "two-overdue",
        "met-in-past",
        "window-edge",
        "with-deviation",
        "warned",
    ]
    first = rows[0]
    assert (first.overdue, first.due_soon) == (2, 1)  # today is in the window, not overdue
    assert first.items == ["2 försenade tidsfrister", "1 tidsfrist inom 14 dagar"]
    assert (rows[1].overdue, rows[1].due_soon) == (0, 1)  # a met deadline is not overdue
    assert (rows[2].overdue, rows[2].due_soon) == (0, 1)  # day 14 is within, day 15 is not
    assert rows[3].new_deviations == 1 and rows[4].warnings == 2
    assert [row.kind for row in rows] == [
        "Försenat",
        "Tidsfrist inom 14 dagar",
        "Tidsfrist inom 14 dagar",
        "Nya avvikelser",
        "Varningar",
    ]
    assert counts == {"forsenat": 1, "snart": 3, "obesvarat": 0, "avvikelse": 1, "varning": 1}
    assert total == 5


async def test_an_acknowledged_deviation_is_no_longer_new_and_a_kind_filters_and_counts(pool: Pool) -> None:
    await save(
        pool, case("with-deviation", deadline(100)), case("soon", deadline(2)), deviation_in="with-deviation"
    )
    await pool.execute("update deviations set acknowledged_at = $1, acknowledged_by = 'x'", NOW)
    rows, counts, total = await listed(pool, kind="snart")
    assert [row.case_id for row in rows] == ["soon"] and total == 1
    assert counts["avvikelse"] == 0
    rows, _, total = await listed(pool, kind="avvikelse")
    assert rows == [] and total == 0


async def test_pages_follow_the_ranking_and_a_page_past_the_end_is_empty(pool: Pool) -> None:
    many = [case(f"c-{n:03d}", deadline(n % 10 - 5)) for n in range(todo.PAGE_SIZE + 7)]
    await save(pool, *many)
    first, _, total = await listed(pool)
    second, _, _ = await listed(pool, page=2)
    assert total == todo.PAGE_SIZE + 7 and len(first) == todo.PAGE_SIZE and len(second) == 7
    assert not {row.case_id for row in first} & {row.case_id for row in second}
    ranked = [(row.kind != "Försenat", row.case_id) for row in first + second]
    assert [kind for kind, _ in ranked] == sorted(kind for kind, _ in ranked)
    assert (await listed(pool, page=3))[0] == []
