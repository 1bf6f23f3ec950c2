"""Which processes are alive, as the database sees it: each process holds one connection open under an
application name of its own for as long as it runs. PostgreSQL drops the connection of a process that
dies (killed or crashed) at once, so a lease held by a process without that connection is abandoned, and
another process may take the work back without waiting for the lease to run out.
"""

from __future__ import annotations

import asyncio
import logging

from service.storage.database import Pool, session_changed
from service.workers.wakeup import wait_for_any

log = logging.getLogger(__name__)

PREFIX = "sipvakt "
RECONNECT_SECONDS = 1.0


def application_name(owner: str) -> str:
    # PostgreSQL keeps the first 63 bytes of an application name; an owner id is well within that.
    return PREFIX + owner


# True where `owner_column` names a process that is still connected to the database.
def owner_alive(owner_column: str) -> str:
    return (
        f"exists (select 1 from pg_stat_activity a where a.application_name = '{PREFIX}' || {owner_column})"
    )


class Presence:
    """Keeps this process's named connection open until stopped, reconnecting if it is lost."""

    def __init__(self, pool: Pool, owner: str) -> None:
        self.pool = pool
        self.owner = owner
        self.ready = asyncio.Event()

    async def hold(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                async with self.pool.acquire() as connection:
                    session_changed(connection)
                    await connection.execute(
                        "select set_config('application_name', $1, false)", application_name(self.owner)
                    )
                    self.ready.set()
                    await stopping.wait()
                    # Back in the pool, the connection must not go on speaking for this process.
                    await connection.execute("reset application_name")
            except Exception:
                self.ready.clear()
                log.warning("the liveness connection was lost; reconnecting", exc_info=True)
                await wait_for_any(stopping, seconds=RECONNECT_SECONDS)
