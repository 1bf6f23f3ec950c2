"""Administrative actions behind `sipvakt integration …` and `sipvakt token …`; each returns the lines
to print. A secret or token is printed once, when it is made, and never again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import asyncpg
from cryptography.fernet import Fernet

from service import access
from service.storage.store import Connection

Action = Callable[..., Awaitable[list[str]]]


class AdminError(Exception):
    pass


async def create_integration(connection: Connection, cipher: Fernet, now: datetime, name: str) -> list[str]:
    try:
        issued = await access.create_integration(connection, cipher, name, now)
    except asyncpg.UniqueViolationError:
        raise AdminError(f"an integration named '{name}' already exists") from None
    return [
        f"integration_id: {issued.integration_id}",
        f"secret_id: {issued.secret_id}",
        f"webhook_secret: {issued.secret}",
        "Keep the secret now: it is not shown again.",
    ]


async def add_integration_secret(
    connection: Connection, cipher: Fernet, now: datetime, integration_id: str
) -> list[str]:
    await _require_integration(connection, integration_id)
    issued = await access.add_secret(connection, cipher, integration_id, now)
    return [
        f"secret_id: {issued.secret_id}",
        f"webhook_secret: {issued.secret}",
        "Both the old and the new secret are accepted until the old one is revoked.",
    ]


async def revoke_integration_secret(
    connection: Connection, cipher: Fernet, now: datetime, integration_id: str, secret_id: int
) -> list[str]:
    if not await access.revoke_secret(connection, integration_id, secret_id, now):
        raise AdminError(f"no active secret {secret_id} for integration '{integration_id}'")
    return [f"secret {secret_id} revoked"]


async def list_integrations(connection: Connection, cipher: Fernet, now: datetime) -> list[str]:
    rows = await connection.fetch(
        "select i.integration_id, i.name, array_remove(array_agg(s.secret_id order by s.secret_id)"
        " filter (where s.revoked_at is null), null) as secrets"
        " from integrations i left join integration_secrets s using (integration_id)"
        " group by i.integration_id, i.name order by i.name"
    )
    return [f"{row['integration_id']}\t{row['name']}\tactive secrets: {_ids(row['secrets'])}" for row in rows]


async def create_token(
    connection: Connection,
    cipher: Fernet,
    now: datetime,
    role: access.Role,
    regions: list[str],
    organisations: list[str],
    integration_id: str | None,
    label: str,
) -> list[str]:
    if integration_id is not None:
        await _require_integration(connection, integration_id)
    try:
        issued = await access.create_token(
            connection,
            role=role,
            regions=regions,
            organisations=organisations,
            integration_id=integration_id,
            label=label,
            now=now,
        )
    except ValueError as exc:
        raise AdminError(str(exc)) from None
    return [
        f"token_id: {issued.token_id}",
        f"token: {issued.token}",
        "Keep the token now: it is not shown again.",
    ]


async def revoke_token(connection: Connection, cipher: Fernet, now: datetime, token_id: str) -> list[str]:
    if not await access.revoke_token(connection, token_id, now):
        raise AdminError(f"no active token '{token_id}'")
    return [f"token {token_id} revoked"]


async def list_tokens(connection: Connection, cipher: Fernet, now: datetime) -> list[str]:
    rows = await connection.fetch(
        "select token_id, role, regions, organisations, integration_id, label, revoked_at from tokens"
        " order by created_at"
    )
    return [
        "\t".join(
            [
                row["token_id"],
                row["role"],
                "regions=" + ",".join(row["regions"]),
                "organisations=" + ",".join(row["organisations"]),
                f"integration={row['integration_id'] or '-'}",
                "revoked" if row["revoked_at"] else "active",
                row["label"],
            ]
        )
        for row in rows
    ]


async def _require_integration(connection: Connection, integration_id: str) -> None:
    if not await connection.fetchval("select 1 from integrations where integration_id = $1", integration_id):
        raise AdminError(f"no integration '{integration_id}'")


def _ids(values: list[Any] | None) -> str:
    return ", ".join(str(value) for value in values or []) or "none"
