"""Every migration keeps the schema that the version before it relies on, so that during a rolling update
the replicas still running the old version keep working against the migrated database.

A migration may remove a column only once no released version uses it any more (expand, then contract a
release later); it names what it removes on a line `-- contracts: table.column, …`.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest

from service.storage.database import migration_files, with_database

CONTRACTS = re.compile(r"^--\s*contracts:\s*(.+)$", re.MULTILINE | re.IGNORECASE)


@dataclass(frozen=True)
class Column:
    data_type: str
    nullable: bool
    has_default: bool


Schema = dict[tuple[str, str], Column]


@pytest.fixture
async def empty_database(pg_server: str) -> AsyncIterator[str]:
    name = "m_" + secrets.token_hex(6)
    connection = await asyncpg.connect(pg_server)
    try:
        await connection.execute(f'create database "{name}"')
        yield with_database(pg_server, name)
    finally:
        await connection.execute(f'drop database if exists "{name}" with (force)')
        await connection.close()


async def schema(connection: asyncpg.Connection) -> Schema:
    rows = await connection.fetch(
        "select table_name, column_name, data_type, is_nullable = 'YES' as nullable,"
        " column_default is not null or is_identity = 'YES' as has_default"
        " from information_schema.columns where table_schema = 'public'"
    )
    return {
        (row["table_name"], row["column_name"]): Column(row["data_type"], row["nullable"], row["has_default"])
        for row in rows
    }


def incompatibilities(before: Schema, after: Schema, contracted: set[tuple[str, str]]) -> list[str]:
    """What code written for `before` could trip over in `after`."""
    problems = []
    old_tables = {table for table, _ in before}
    for key, old in before.items():
        new = after.get(key)
        if new is None:
            if key not in contracted:
                problems.append(f"{'.'.join(key)} removed")
        elif new.data_type != old.data_type:
            problems.append(f"{'.'.join(key)} changed type from {old.data_type} to {new.data_type}")
        elif old.nullable and not new.nullable:
            problems.append(f"{'.'.join(key)} became not null")
    for key, new in after.items():
        if key not in before and key[0] in old_tables and not new.nullable and not new.has_default:
            problems.append(f"{'.'.join(key)} added as not null without a default: old inserts would fail")
    return problems


def contracted_columns(sql: str) -> set[tuple[str, str]]:
    names = [name.strip() for line in CONTRACTS.findall(sql) for name in line.split(",")]
    return {(table, column) for table, _, column in (name.partition(".") for name in names if name)}


async def test_every_migration_keeps_the_schema_the_version_before_it_uses(empty_database: str) -> None:
    connection = await asyncpg.connect(empty_database)
    try:
        before: Schema = {}
        for version, name, sql in migration_files():
            async with connection.transaction():
                await connection.execute(sql)
            after = await schema(connection)
            problems = incompatibilities(before, after, contracted_columns(sql))
            assert not problems, f"migration {version:04d}_{name}: " + "; ".join(problems)
            before = after
        assert before, "no migration created a table"
    finally:
        await connection.close()


BEFORE: Schema = {
    ("outbox", "case_id"): Column("text", True, False),
    ("outbox", "body"): Column("bytea", False, False),
}


@pytest.mark.parametrize(
    ("after", "problem"),
    [
        ({("outbox", "body"): BEFORE["outbox", "body"]}, "outbox.case_id removed"),
        ({**BEFORE, ("outbox", "body"): Column("text", False, False)}, "changed type"),
        ({**BEFORE, ("outbox", "case_id"): Column("text", False, False)}, "became not null"),
        ({**BEFORE, ("outbox", "kind"): Column("text", False, False)}, "without a default"),
    ],
    ids=["dropped column", "new type", "tightened to not null", "required new column"],
)
def test_a_change_that_breaks_the_version_before_is_caught(after: Schema, problem: str) -> None:
    (found,) = incompatibilities(BEFORE, after, set())
    assert problem in found


def test_a_contracted_column_may_go_and_new_columns_with_defaults_or_new_tables_are_fine() -> None:
    after: Schema = {
        ("outbox", "body"): BEFORE["outbox", "body"],
        ("outbox", "kind"): Column("text", False, True),
        ("outbox", "note"): Column("text", True, False),
        ("digests", "id"): Column("bigint", False, False),
    }
    assert contracted_columns("-- contracts: outbox.case_id\nalter table outbox drop column case_id;") == {
        ("outbox", "case_id")
    }
    assert incompatibilities(BEFORE, after, {("outbox", "case_id")}) == []
