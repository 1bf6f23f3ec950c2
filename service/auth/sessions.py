"""Web sessions in PostgreSQL, so any replica serves any request.

The browser holds a random session token in a cookie; the table keeps its SHA-256, the user, and the
session's CSRF token. A session ends after 30 minutes without a request, 12 hours after it began, at
sign-out, or when its user is disabled.

The times are read from the service's clock (`Runtime.clock`): in production that is the real time; with
SIPVAKT_TEST_CLOCK on, moving the test clock ages sessions too, which is how tests expire one.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from service.auth.users import User, enabled_user
from service.storage.secrets import token_hash
from service.storage.store import Connection

IDLE_TIMEOUT = timedelta(minutes=30)
LIFETIME = timedelta(hours=12)
# Last-seen is written at most this often: a page's stylesheet and its redirects are one visit, not three.
TOUCH_EVERY = timedelta(seconds=30)


@dataclass(frozen=True)
class Session:
    user: User
    csrf_token: str


@dataclass(frozen=True)
class StartedSession:
    cookie_value: str
    csrf_token: str


async def start_session(connection: Connection, user_id: str, now: datetime) -> StartedSession:
    """A new session (always new at sign-in, so a token planted in the browser earlier is worth nothing)."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    await connection.execute(
        "delete from web_sessions where last_seen_at < $1 or created_at < $2",
        now - IDLE_TIMEOUT - timedelta(days=1),
        now - LIFETIME - timedelta(days=1),
    )
    await connection.execute(
        "insert into web_sessions (session_hash, user_id, csrf_token, created_at, last_seen_at)"
        " values ($1, $2, $3, $4, $4)",
        token_hash(token),
        user_id,
        csrf,
        now,
    )
    return StartedSession(token, csrf)


async def resume_session(connection: Connection, token: str, now: datetime) -> Session | None:
    """The live session behind a cookie value, marked as seen now; None when it has ended or expired."""
    if not token or len(token) > 100:
        return None
    row = await connection.fetchrow(
        "select user_id, csrf_token, last_seen_at from web_sessions where session_hash = $1"
        " and ended_at is null and last_seen_at > $2 and created_at > $3",
        token_hash(token),
        now - IDLE_TIMEOUT,
        now - LIFETIME,
    )
    if row is None:
        return None
    user = await enabled_user(connection, user_id=row["user_id"])
    if user is None:
        return None
    if now - row["last_seen_at"] >= TOUCH_EVERY:
        await connection.execute(
            "update web_sessions set last_seen_at = $2 where session_hash = $1", token_hash(token), now
        )
    return Session(user, row["csrf_token"])


async def end_session(connection: Connection, token: str, now: datetime) -> None:
    await connection.execute(
        "update web_sessions set ended_at = $2 where session_hash = $1 and ended_at is null",
        token_hash(token),
        now,
    )
