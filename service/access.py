"""Who may do what: integrations and their secrets, tokens with a role and a scope.

A token's scope is a set of regions and a set of organisations ('*' for all). A case is inside the scope
when its region is in the regions and one of its organisations is in the organisations; an integration
token sees only the cases its integration pushed. Outside the scope a case does not exist (404).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from cryptography.fernet import Fernet

from service.http.signatures import SigningKey, key_from_secret
from service.storage.secrets import decrypt, encrypt, new_token, new_webhook_secret, token_hash
from service.storage.store import Connection

Role = Literal["integration", "coordinator", "auditor", "admin"]
ROLES: tuple[Role, ...] = ("integration", "coordinator", "auditor", "admin")
EVERYTHING = "*"
DEFAULT_INTEGRATION = "default"


@dataclass(frozen=True)
class Principal:
    # The token's id, or for a person signed in to the web app their user id (`usr_…`): who acted.
    token_id: str
    role: Role
    regions: frozenset[str]
    organisations: frozenset[str]
    integration_id: str | None = None
    kind: Literal["token", "user"] = "token"

    def may(self, *roles: Role) -> bool:
        return self.role == "admin" or self.role in roles

    def sees(self, region: str, organisations: Sequence[str], integration_id: str) -> bool:
        """Whether a case with these attributes is inside this principal's scope."""
        if self.role == "admin":
            return True
        if self.integration_id is not None and integration_id != self.integration_id:
            return False
        if EVERYTHING not in self.regions and region not in self.regions:
            return False
        return EVERYTHING in self.organisations or not self.organisations.isdisjoint(organisations)

    def region_filter(self) -> list[str] | None:
        """Regions to restrict a listing to, or None for all."""
        return None if EVERYTHING in self.regions or self.role == "admin" else sorted(self.regions)

    def organisation_filter(self) -> list[str] | None:
        """Organisations to restrict a listing to, or None for all."""
        return (
            None if EVERYTHING in self.organisations or self.role == "admin" else sorted(self.organisations)
        )


ADMIN = Principal("admin-token", "admin", frozenset({EVERYTHING}), frozenset({EVERYTHING}))


async def authenticate(connection: Connection, token: str, admin_token: str | None) -> Principal | None:
    """The principal behind a bearer token, or None."""
    if admin_token is not None and hmac.compare_digest(token.encode(), admin_token.encode()):
        return ADMIN
    row = await connection.fetchrow(
        "select token_id, role, regions, organisations, integration_id from tokens"
        " where token_hash = $1 and revoked_at is null",
        token_hash(token),
    )
    if row is None:
        return None
    return Principal(
        token_id=row["token_id"],
        role=row["role"],
        regions=frozenset(row["regions"]),
        organisations=frozenset(row["organisations"]),
        integration_id=row["integration_id"],
    )


@dataclass(frozen=True)
class IssuedToken:
    token_id: str
    token: str


async def create_token(
    connection: Connection,
    *,
    role: Role,
    regions: Sequence[str],
    organisations: Sequence[str],
    integration_id: str | None,
    label: str,
    now: datetime,
) -> IssuedToken:
    """Make a token; only its hash is stored, so the returned token is the only copy."""
    if role == "integration" and integration_id is None:
        raise ValueError("an integration token names its integration")
    if role != "integration" and integration_id is not None:
        raise ValueError("only integration tokens belong to an integration")
    if not regions or not organisations:
        raise ValueError("a scope names at least one region and one organisation ('*' for all)")
    token_id, token = new_token()
    await connection.execute(
        "insert into tokens (token_id, token_hash, role, regions, organisations, integration_id, label,"
        " created_at) values ($1, $2, $3, $4, $5, $6, $7, $8)",
        token_id,
        token_hash(token),
        role,
        list(regions),
        list(organisations),
        integration_id,
        label,
        now,
    )
    return IssuedToken(token_id, token)


async def revoke_token(connection: Connection, token_id: str, now: datetime) -> bool:
    status: str = await connection.execute(
        "update tokens set revoked_at = $2 where token_id = $1 and revoked_at is null", token_id, now
    )
    return status.endswith(" 1")


@dataclass(frozen=True)
class IssuedSecret:
    integration_id: str
    secret_id: int
    secret: str


async def create_integration(
    connection: Connection, cipher: Fernet, name: str, now: datetime
) -> IssuedSecret:
    """Register an integration with a first webhook secret, returned once and stored encrypted."""
    integration_id = "int_" + secrets.token_hex(8)
    await connection.execute(
        "insert into integrations (integration_id, name, created_at) values ($1, $2, $3)",
        integration_id,
        name,
        now,
    )
    return await add_secret(connection, cipher, integration_id, now)


async def add_secret(
    connection: Connection, cipher: Fernet, integration_id: str, now: datetime
) -> IssuedSecret:
    """A further secret for rotation: old and new are both valid until the old one is revoked."""
    secret = new_webhook_secret()
    secret_id = await connection.fetchval(
        "insert into integration_secrets (integration_id, secret_encrypted, created_at)"
        " values ($1, $2, $3) returning secret_id",
        integration_id,
        encrypt(cipher, secret),
        now,
    )
    return IssuedSecret(integration_id, secret_id, secret)


async def revoke_secret(connection: Connection, integration_id: str, secret_id: int, now: datetime) -> bool:
    status: str = await connection.execute(
        "update integration_secrets set revoked_at = $3 where integration_id = $1 and secret_id = $2"
        " and revoked_at is null",
        integration_id,
        secret_id,
        now,
    )
    return status.endswith(" 1")


async def ensure_default_integration(connection: Connection, now: datetime) -> None:
    """The integration that SIPVAKT_WEBHOOK_SECRET signs for; its secret lives in the environment only."""
    await connection.execute(
        "insert into integrations (integration_id, name, created_at) values ($1, $1, $2)"
        " on conflict do nothing",
        DEFAULT_INTEGRATION,
        now,
    )


async def signing_keys(
    connection: Connection, cipher: Fernet, environment_secret: str | None
) -> list[SigningKey]:
    """Every active webhook secret, as HMAC keys labelled with their integration."""
    keys = []
    if environment_secret is not None:
        keys.append(SigningKey(DEFAULT_INTEGRATION, key_from_secret(environment_secret)))
    rows = await connection.fetch(
        "select s.integration_id, s.secret_encrypted from integration_secrets s"
        " join integrations i using (integration_id)"
        " where s.revoked_at is null and i.disabled_at is null"
    )
    for row in rows:
        secret = decrypt(cipher, row["secret_encrypted"])
        if secret is not None:
            keys.append(SigningKey(row["integration_id"], key_from_secret(secret)))
    return keys
