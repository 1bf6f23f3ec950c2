"""`sipvakt user …`: the same actions as `/v1/users`, each returning the lines to print."""

from __future__ import annotations

from datetime import datetime

from cryptography.fernet import Fernet

from service.admin import AdminError
from service.auth.users import InvalidUser, UserExists, checked_request, create_user, disable_user, list_users
from service.storage.store import Connection


async def create(
    connection: Connection,
    cipher: Fernet,
    now: datetime,
    email: str,
    role: str,
    regions: list[str],
    organisations: list[str],
    known_regions: list[str],
) -> list[str]:
    body = {"email": email, "role": role, "regions": regions, "organisations": organisations}
    try:
        user = await create_user(connection, checked_request(body, known_regions), now)
    except InvalidUser as exc:
        raise AdminError(str(exc)) from None
    except UserExists as exc:
        raise AdminError(str(exc)) from None
    return [f"user_id: {user.user_id}", f"email: {user.email}", f"role: {user.role}"]


async def listing(connection: Connection, cipher: Fernet, now: datetime) -> list[str]:
    return [
        "\t".join(
            [
                user.user_id,
                user.email,
                user.role,
                "regions=" + ",".join(user.regions),
                "organisations=" + ",".join(user.organisations),
                "enabled" if user.enabled else "disabled",
            ]
        )
        for user in await list_users(connection)
    ]


async def disable(connection: Connection, cipher: Fernet, now: datetime, email: str) -> list[str]:
    user = await disable_user(connection, email, now)
    if user is None:
        raise AdminError(f"no enabled user with the address {email}")
    return [f"user {user.email} disabled; their sessions have ended"]
