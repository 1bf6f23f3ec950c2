from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from service.storage.database import Pool, create_pool
from tests.service.mail import MailSink, smtp_server


@pytest.fixture
async def sink() -> AsyncIterator[tuple[MailSink, int]]:
    """A real SMTP server on loopback that keeps what it receives, and its port."""
    handler = MailSink()
    async with smtp_server(handler) as port:
        yield handler, port


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[Pool]:
    """A pool on a fresh, migrated database with one integration, `test`, for tests of the store."""
    pool = await create_pool(database_url)
    await pool.execute(
        "insert into integrations (integration_id, name, created_at) values ('test', 'test', $1)",
        datetime(2026, 11, 23, 8, 0, tzinfo=UTC),
    )
    yield pool
    await pool.close()
