"""One-time sign-in links: a random token mailed to a registered user, good for 15 minutes and once.

Only the token's SHA-256 is stored, so the database never holds a working link. The link opens a page
with a button; only pressing it (a POST) redeems the token, so a mail scanner that fetches every link in a
message signs no one in and spends nothing.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from service.storage.secrets import token_hash
from service.storage.store import Connection

VALID_FOR = timedelta(minutes=15)
# Rows are kept a day past their end, then swept: long enough to tell "used" from "unknown" in a log.
KEPT_FOR = timedelta(days=1)


def plausible(token: str) -> bool:
    """Whether the text could be a token at all: anything else is refused before the database."""
    return 20 <= len(token) <= 100 and token.isascii() and all(ch.isalnum() or ch in "-_" for ch in token)


async def issue_link_token(connection: Connection, user_id: str, now: datetime) -> str:
    """A new token for the user; the returned text is its only copy."""
    token = secrets.token_urlsafe(32)
    await connection.execute("delete from sign_in_links where expires_at < $1", now - KEPT_FOR)
    await connection.execute(
        "insert into sign_in_links (token_hash, user_id, created_at, expires_at) values ($1, $2, $3, $4)",
        token_hash(token),
        user_id,
        now,
        now + VALID_FOR,
    )
    return token


async def redeem_link_token(connection: Connection, token: str, now: datetime) -> str | None:
    """The user id the token signs in, marking it used; None when it is unknown, used, expired, or its
    user is disabled. One statement, so two presses at once redeem it once."""
    if not plausible(token):
        return None
    user_id: str | None = await connection.fetchval(
        "update sign_in_links l set used_at = $2 from users u"
        " where l.token_hash = $1 and l.used_at is null and l.expires_at > $2"
        " and u.user_id = l.user_id and u.disabled_at is null returning l.user_id",
        token_hash(token),
        now,
    )
    return user_id


async def link_is_open(connection: Connection, token: str, now: datetime) -> bool:
    """Whether the token could still be redeemed: the landing page says so before the button is pressed."""
    if not plausible(token):
        return False
    return bool(
        await connection.fetchval(
            "select 1 from sign_in_links where token_hash = $1 and used_at is null and expires_at > $2",
            token_hash(token),
            now,
        )
    )
