"""Checking the access log's hash chain, independently of the database that wrote it.

Each entry's hash is SHA-256 over the previous entry's hash followed by the entry's canonical encoding:
its fields in a fixed order, each as `<length in UTF-8 bytes>:<text>` (`-` for none), joined by `|`; the
time in UTC to the microsecond. The same encoding is `audit_canonical` in migration 0012; this module
recomputes it in Python so that an entry altered in the database, or a function replaced there, is found.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from service.storage.store import Connection

GENESIS = bytes(32)
BATCH = 5000


def _field(value: str | None) -> str:
    return "-" if value is None else f"{len(value.encode('utf-8'))}:{value}"


def _moment(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(row: Mapping[str, Any] | asyncpg.Record) -> bytes:
    """The bytes an entry's hash covers."""
    organisations = list(row["organisations"])
    head = [
        _field(str(row["seq"])),
        _field(row["entry_id"]),
        _field(_moment(row["at"])),
        _field(row["actor_kind"]),
        _field(row["actor_id"]),
        _field(row["actor_organisation"]),
        _field(row["action"]),
        _field(row["channel"]),
        _field(row["case_id"]),
        _field(row["person_reference"]),
        _field(row["request_id"]),
        _field(row["region"]),
        _field(str(len(organisations))) + "".join("|" + _field(o) for o in organisations),
        _field(row["recipient_organisation"]),
        _field(row["recipient_participant"]),
        _field(row["recipient_subscription"]),
    ]
    return "|".join(head).encode("utf-8")


def entry_hash(previous: bytes, row: Mapping[str, Any] | asyncpg.Record) -> bytes:
    return hashlib.sha256(previous + canonical(row)).digest()


@dataclass(frozen=True)
class Verdict:
    """The chain's state: whole (`broken_at` None) or the first entry that does not match, and why."""

    checked: int
    broken_at: str | None = None
    reason: str | None = None

    @property
    def whole(self) -> bool:
        return self.broken_at is None


async def _entries(connection: Connection) -> AsyncIterator[asyncpg.Record]:
    after = 0
    while True:
        rows = await connection.fetch(
            "select * from audit_log where seq > $1 order by seq limit $2", after, BATCH
        )
        for row in rows:
            yield row
        if len(rows) < BATCH:
            return
        after = rows[-1]["seq"]


async def verify(connection: Connection) -> Verdict:
    """Walk the chain from its first entry; the first one whose number, link or hash is wrong is named.
    An entry removed shows as a gap in the numbers (or, for the last one, as a head that names an entry
    no longer there)."""
    previous_hash, previous_seq, checked = GENESIS, 0, 0
    async for row in _entries(connection):
        name = row["entry_id"]
        if row["seq"] != previous_seq + 1:
            missing = f"aud_{previous_seq + 1}"
            return Verdict(checked, name, f"the entry before it ({missing}) is missing")
        if row["entry_id"] != f"aud_{row['seq']}":
            return Verdict(checked, name, "its id does not match its place in the chain")
        if bytes(row["prev_hash"]) != previous_hash:
            return Verdict(checked, name, "it does not link to the entry before it")
        if bytes(row["hash"]) != entry_hash(previous_hash, row):
            return Verdict(checked, name, "its content does not match its hash")
        previous_hash, previous_seq, checked = bytes(row["hash"]), row["seq"], checked + 1
    head = await connection.fetchrow("select seq, hash from audit_chain")
    if head is not None and (head["seq"] != previous_seq or bytes(head["hash"]) != previous_hash):
        if head["seq"] > previous_seq:
            return Verdict(checked, f"aud_{previous_seq + 1}", "the entry is missing from the end of the log")
        return Verdict(checked, f"aud_{head['seq']}", "the chain's head does not match the last entry")
    return Verdict(checked)
