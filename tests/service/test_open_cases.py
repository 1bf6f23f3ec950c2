"""The open cases kept between digests: each read is the stored state, though only changed ones are read."""

from __future__ import annotations

from datetime import UTC, date, datetime

from scheduler.case import Case
from service.storage import store
from service.storage.database import Pool
from service.workers.open_cases import OpenCases
from tests.scheduler.builders import make_case

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def case(case_id: str) -> Case:
    return make_case("blekinge", date(2026, 11, 20)).model_copy(update={"case_id": case_id})


async def save(pool: Pool, saved: Case) -> None:
    async with pool.acquire() as connection:
        await store.save_case(connection, saved, NOW)


async def test_a_changed_case_is_read_again_a_closed_one_left_out_and_an_unchanged_one_kept(
    pool: Pool,
) -> None:
    await save(pool, case("test-0002"))
    await save(pool, case("test-0001"))
    open_cases = OpenCases()
    async with pool.acquire() as connection:
        first = await open_cases.read(connection)
    assert [read.case_id for read in first] == ["test-0001", "test-0002"]

    await save(pool, case("test-0001").model_copy(update={"urgent": True}))
    await save(pool, case("test-0002").model_copy(update={"status": "closed"}))
    await save(pool, case("test-0003"))
    async with pool.acquire() as connection:
        second = await open_cases.read(connection)
    assert [(read.case_id, read.urgent) for read in second] == [("test-0001", True), ("test-0003", False)]

    async with pool.acquire() as connection:
        third = await open_cases.read(connection)
    # Nothing changed: the very models of the last read, not validated again.
    assert [id(read) for read in third] == [id(read) for read in second]
    assert [read.model_dump() for read in third] == [read.model_dump() for read in second]


async def test_a_fresh_reader_and_a_kept_one_read_the_same(pool: Pool) -> None:
    for number in range(1, 6):
        await save(pool, case(f"test-000{number}"))
    kept = OpenCases()
    async with pool.acquire() as connection:
        await kept.read(connection)
    await save(pool, case("test-0004").model_copy(update={"urgent": True}))
    async with pool.acquire() as connection:
        assert [c.model_dump() for c in await kept.read(connection)] == [
            c.model_dump() for c in await OpenCases().read(connection)
        ]
