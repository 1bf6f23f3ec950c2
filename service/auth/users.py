"""Users: people with a role and a scope who sign in to the web app.

A user's role and scope mean exactly what a token's do: a signed-in user becomes a `Principal` (kind
`user`, its id the user's id), and `Principal.sees` and `region_filter` decide what they see. A user is
never deleted, only disabled, so that what was done under their id keeps naming someone; a disabled user
signs in no more and their sessions end at once.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import asyncpg
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from scheduler.events import Email, FieldError
from service.access import EVERYTHING, Principal
from service.storage.store import Connection

UserRole = Literal["coordinator", "auditor", "admin"]
USER_ROLES: tuple[UserRole, ...] = ("coordinator", "auditor", "admin")
_COLUMNS = "user_id, email, role, regions, organisations, created_at, disabled_at"


@dataclass(frozen=True)
class User:
    user_id: str
    email: str
    role: UserRole
    regions: tuple[str, ...]
    organisations: tuple[str, ...]
    created_at: datetime
    disabled_at: datetime | None

    @property
    def enabled(self) -> bool:
        return self.disabled_at is None

    def principal(self) -> Principal:
        return Principal(
            token_id=self.user_id,
            role=self.role,
            regions=frozenset(self.regions),
            organisations=frozenset(self.organisations),
            kind="user",
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "email": self.email,
            "role": self.role,
            "regions": list(self.regions),
            "organisations": list(self.organisations),
            "status": "enabled" if self.enabled else "disabled",
            "created_at": self.created_at.isoformat(),
            "disabled_at": self.disabled_at.isoformat() if self.disabled_at else None,
        }


def _scope_part(values: list[str]) -> list[str]:
    cleaned = [value.strip() for value in values]
    if any(not value or not value.isprintable() or len(value) > 100 for value in cleaned):
        raise ValueError("each entry is a short line of printable text")
    if EVERYTHING in cleaned and len(cleaned) > 1:
        raise ValueError("'*' stands alone: it already means all")
    return cleaned


class UserRequest(BaseModel):
    """A new user as the API and the command take it; the scope defaults to all, as a token's does."""

    model_config = ConfigDict(extra="forbid")

    email: Email
    role: UserRole
    regions: list[str] = Field(default_factory=lambda: [EVERYTHING], min_length=1, max_length=50)
    organisations: list[str] = Field(default_factory=lambda: [EVERYTHING], min_length=1, max_length=200)

    @field_validator("regions", "organisations")
    @classmethod
    def _scope(cls, value: list[str]) -> list[str]:
        return _scope_part(value)


class InvalidUser(ValueError):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, e.loc)) or 'body'}: {e.msg}" for e in errors))
        self.errors = errors


class UserExists(Exception):
    pass


def checked_request(body: object, known_regions: Sequence[str]) -> UserRequest:
    """The body as a UserRequest, or InvalidUser listing every error (values never repeated)."""
    if not isinstance(body, dict):
        raise InvalidUser([FieldError(loc=[], msg="the body must be a JSON object")])
    try:
        wanted = UserRequest.model_validate(body)
    except ValidationError as exc:
        raise InvalidUser(
            [
                FieldError(loc=list(error["loc"]), msg=error["msg"].removeprefix("Value error, "))
                for error in exc.errors(include_input=False, include_url=False)
            ]
        ) from None
    unknown = [
        index
        for index, region in enumerate(wanted.regions)
        if region != EVERYTHING and region not in known_regions
    ]
    if unknown:
        raise InvalidUser(
            [FieldError(loc=["regions", index], msg="no region with this name") for index in unknown]
        )
    return wanted


def _user(row: asyncpg.Record) -> User:
    return User(
        user_id=row["user_id"],
        email=row["email"],
        role=row["role"],
        regions=tuple(row["regions"]),
        organisations=tuple(row["organisations"]),
        created_at=row["created_at"],
        disabled_at=row["disabled_at"],
    )


async def create_user(connection: Connection, wanted: UserRequest, now: datetime) -> User:
    """Register the user. A disabled user's address may be registered again: the same user comes back,
    enabled, with the role and scope given now. An enabled user's address is UserExists."""
    row = await connection.fetchrow(
        f"insert into users ({_COLUMNS}) values ($1, $2, $3, $4, $5, $6, null)"
        " on conflict (lower(email)) do update set role = excluded.role, regions = excluded.regions,"
        " organisations = excluded.organisations, disabled_at = null where users.disabled_at is not null"
        f" returning {_COLUMNS}",
        "usr_" + secrets.token_hex(8),
        str(wanted.email),
        wanted.role,
        sorted(set(wanted.regions)),
        sorted(set(wanted.organisations)),
        now,
    )
    if row is None:
        raise UserExists(f"a user with the address {wanted.email} already exists")
    return _user(row)


async def list_users(connection: Connection) -> list[User]:
    rows = await connection.fetch(f"select {_COLUMNS} from users order by lower(email)")
    return [_user(row) for row in rows]


async def enabled_user(
    connection: Connection, *, email: str | None = None, user_id: str | None = None
) -> User | None:
    """The enabled user with this address (any case) or id, or None."""
    row = await connection.fetchrow(
        f"select {_COLUMNS} from users where disabled_at is null"
        " and (lower(email) = lower($1) or user_id = $2)",
        email,
        user_id,
    )
    return _user(row) if row else None


async def disable_user(connection: Connection, email: str, now: datetime) -> User | None:
    """Disable the enabled user with this address and end their sessions; None if there is none."""
    row = await connection.fetchrow(
        "update users set disabled_at = $2 where lower(email) = lower($1) and disabled_at is null"
        f" returning {_COLUMNS}",
        email,
        now,
    )
    if row is None:
        return None
    await connection.execute(
        "update web_sessions set ended_at = $2 where user_id = $1 and ended_at is null", row["user_id"], now
    )
    return _user(row)
