"""Applying the events of many cases at once, as `sipvakt import` does after storing them.

Each event goes through the processor's own step (`EventProcessor.apply_claimed`), under its case's lock
and in its case's order, so the state it leaves is the one the intake's events leave. What is shared is
the rest: the cases are taken a group per transaction, each group's time read once, and no event waits
for a polling round. A running `sipvakt serve` on the same database may apply some of these events at
the same moment; the case lock lets only one of the two apply a case at a time, and each event once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from itertools import islice

from service.storage.store import Connection
from service.workers.database_watch import log_failure
from service.workers.processor import CASE_LOCK, NEXT_OF_CASE, EventProcessor

log = logging.getLogger(__name__)

# Cases per transaction: a commit shared by this many cases' events, and a failing case costs at most
# this many cases a second, separate try.
CASES_PER_TRANSACTION = 50
# Groups in flight at once, each on its own connection: while one waits for the database, another
# computes its cases' next state.
CONCURRENT_GROUPS = 3


async def apply_cases(
    processor: EventProcessor,
    case_ids: Iterable[str],
    progress: Callable[[int], object] = lambda done: None,
    *,
    per_transaction: int = CASES_PER_TRANSACTION,
    concurrency: int = CONCURRENT_GROUPS,
) -> Counter[str]:
    """Apply every pending event of these cases; how many ended applied, waiting or rejected (and
    `failed`: cases left pending, for the service's processor to try again, after an error that is
    logged)."""
    outcomes: Counter[str] = Counter()
    cases = iter(case_ids)

    async def worker() -> None:
        # Groups are disjoint, so workers never wait for each other's locks.
        while group := list(islice(cases, per_transaction)):
            outcomes.update(await _apply_or_leave(processor, group))
            progress(len(group))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return outcomes


async def _apply_or_leave(processor: EventProcessor, group: list[str]) -> Counter[str]:
    try:
        return await _apply_group(processor, group)
    except Exception as error:
        log_failure(log, "applying a group of cases failed; trying them one at a time", error)
    outcomes: Counter[str] = Counter()
    for case_id in group:
        try:
            outcomes.update(await _apply_group(processor, [case_id]))
        except Exception as single:
            log_failure(log, "applying a case's events failed; left to the service", single)
            outcomes["failed"] += 1
    return outcomes


async def _apply_group(processor: EventProcessor, case_ids: Sequence[str]) -> Counter[str]:
    outcomes: Counter[str] = Counter()
    async with processor.pool.acquire() as connection, connection.transaction():
        now = await processor.clock.now()
        # Locks taken in one order by every group, so that two imports never wait for each other in a
        # circle; the service's processor holds one case's lock at a time and never waits for a second.
        for case_id in sorted(case_ids):
            await connection.execute(f"select pg_advisory_xact_lock({CASE_LOCK})", case_id)
            outcomes += await _apply_case(connection, processor, case_id, now)
    return outcomes


async def _apply_case(
    connection: Connection, processor: EventProcessor, case_id: str, now: datetime
) -> Counter[str]:
    final: dict[str, str] = {}
    # Re-read after each event: an applied one may release events that waited for it, which are then
    # tried again (and counted by where they end).
    while (row := await connection.fetchrow(NEXT_OF_CASE, case_id)) is not None:
        outcome = await processor.apply_claimed(connection, row, now)
        final[outcome.event_id] = outcome.state
    return Counter(final.values())
