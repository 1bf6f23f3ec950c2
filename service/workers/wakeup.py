"""How a worker sleeps: until it is woken, told to stop, or its poll interval runs out."""

from __future__ import annotations

import asyncio


async def wait_for_any(*events: asyncio.Event, seconds: float) -> None:
    """Return when any of the events is set, or after `seconds`, whichever comes first."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
