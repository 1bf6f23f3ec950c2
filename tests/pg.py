"""A real PostgreSQL for the tests: the embedded server, or the one SIPVAKT_TEST_DATABASE_URL names.

The schema is migrated once into a template database; every test that asks for a database gets a fresh
copy of it, which takes a fraction of a second.
"""

from __future__ import annotations

import os
import secrets

import asyncpg

from service.storage.database import create_pool, migrate, start_temporary_postgres, with_database

TEMPLATE = "sipvakt_test_template"


def start_server() -> str:
    """A URL to a maintenance database on the test server."""
    configured = os.environ.get("SIPVAKT_TEST_DATABASE_URL")
    if configured:
        return configured
    return start_temporary_postgres("svk-")


async def prepare_template(server_url: str) -> None:
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(f'drop database if exists "{TEMPLATE}"')
        await connection.execute(f'create database "{TEMPLATE}"')
    finally:
        await connection.close()
    pool = await create_pool(with_database(server_url, TEMPLATE))
    try:
        await migrate(pool)
    finally:
        await pool.close()


async def fresh_database(server_url: str) -> str:
    name = "t_" + secrets.token_hex(6)
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(f'create database "{name}" template "{TEMPLATE}"')
    finally:
        await connection.close()
    return with_database(server_url, name)


async def drop_database(server_url: str, url: str) -> None:
    name = url.split("?")[0].rsplit("/", 1)[1]
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(f'drop database if exists "{name}" with (force)')
    finally:
        await connection.close()
