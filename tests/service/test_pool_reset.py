"""A pooled connection goes back without a reset statement, unless its session was changed."""

from __future__ import annotations

from service.storage.database import create_pool, session_changed

LOCK = 424242


async def backend_and_name(connection: object) -> tuple[int, str]:
    row = await connection.fetchrow(  # type: ignore[attr-defined]
        "select pg_backend_pid() as pid, current_setting('application_name') as name"
    )
    assert row is not None
    return row["pid"], row["name"]


async def test_a_changed_session_is_reset_when_its_connection_goes_back(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as connection:
            session_changed(connection)
            await connection.execute("select pg_advisory_lock($1)", LOCK)
            await connection.execute("set application_name = 'changed for a while'")
            first, _ = await backend_and_name(connection)
        async with pool.acquire() as connection:
            again, name = await backend_and_name(connection)
            assert again == first, "the same connection, reused"
            assert name != "changed for a while"
            held = await connection.fetchval(
                "select count(*) from pg_locks where locktype = 'advisory' and objid = $1", LOCK
            )
            assert held == 0
    finally:
        await pool.close()


async def test_an_unchanged_session_goes_back_as_it_is_and_an_open_transaction_is_rolled_back(
    database_url: str,
) -> None:
    """Without the reset statement a setting made without telling the pool outlives its use, which is why
    every place that changes a session says so; a transaction left open is rolled back all the same."""
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as connection:
            await connection.execute("set application_name = 'not told'")
            await connection.execute("create table left_open (n int)")
            await connection.execute("begin")
            await connection.execute("insert into left_open values (1)")
        async with pool.acquire() as connection:
            _, name = await backend_and_name(connection)
            assert name == "not told"
            assert not connection.is_in_transaction()
            assert await connection.fetchval("select count(*) from left_open") == 0
    finally:
        await pool.close()
