from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests import pg


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    yield pg.start_server()


@pytest.fixture(scope="session")
async def pg_template(pg_server: str) -> str:
    await pg.prepare_template(pg_server)
    return pg_server


@pytest.fixture
async def database_url(pg_template: str) -> AsyncIterator[str]:
    url = await pg.fresh_database(pg_template)
    yield url
    await pg.drop_database(pg_template, url)
