"""An invitation's calendar UID: made once, then the same for every update, whoever asks first."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from service.storage.calendar_uids import invitation_uid
from service.storage.database import Pool

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
DOMAIN = "sipvakt.example.se"


async def uid_of(pool: Pool, participant_id: str) -> str:
    async with pool.acquire() as connection, connection.transaction():
        return await invitation_uid(connection, "test-0001", "m1", participant_id, DOMAIN, NOW)


async def test_the_first_uid_made_is_the_one_every_later_message_gets(pool: Pool) -> None:
    first = await uid_of(pool, "p1")
    assert first.endswith("@" + DOMAIN)
    assert await uid_of(pool, "p1") == first
    assert await uid_of(pool, "p2") != first


async def test_two_writers_at_once_agree_on_one_uid(pool: Pool) -> None:
    for number in range(10):
        uids = await asyncio.gather(*(uid_of(pool, f"race-{number}") for _ in range(4)))
        assert len(set(uids)) == 1, uids
    assert await pool.fetchval("select count(*) from calendar_uids where participant_id like 'race-%'") == 10


async def test_a_legacy_uid_is_given_with_the_service_domain(pool: Pool) -> None:
    await pool.execute(
        "insert into calendar_uids (case_id, meeting_id, participant_id, uid, legacy, created_at)"
        " values ('test-0001', 'm1', 'old', 'test-0001-m1', true, $1)",
        NOW,
    )
    assert await uid_of(pool, "old") == f"test-0001-m1@{DOMAIN}"
