"""Where business code gets the time: an injected clock, never the wall clock directly."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    async def now(self) -> datetime:
        """The current moment, timezone-aware."""
        ...


class SystemClock:
    """The real time, for production."""

    async def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that reads what it was set to; for pure tests and the offline `deadlines` command."""

    def __init__(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("a clock's time must be timezone-aware")
        self.moment = moment

    async def now(self) -> datetime:
        return self.moment
