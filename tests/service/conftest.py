from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.service.mail import MailSink, smtp_server


@pytest.fixture
async def sink() -> AsyncIterator[tuple[MailSink, int]]:
    """A real SMTP server on loopback that keeps what it receives, and its port."""
    handler = MailSink()
    async with smtp_server(handler) as port:
        yield handler, port
