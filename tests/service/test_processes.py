"""The service as separate processes: killed mid-way, restarted, started side by side."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from standardwebhooks import Webhook

from service.storage.database import with_database
from service.storage.secrets import new_webhook_secret
from tests import pg, samples
from tests.service.processes import ServiceProcess, run_command

ADMIN = "process-admin-token-0123456789"
pytestmark = pytest.mark.slow


def environment(database_url: str, data_dir: Path, secret: str) -> dict[str, str]:
    return {
        "SIPVAKT_DATABASE_URL": database_url,
        "SIPVAKT_DATA_DIR": str(data_dir),
        "SIPVAKT_WEBHOOK_SECRET": secret,
        "SIPVAKT_ADMIN_TOKEN": ADMIN,
        "SIPVAKT_TEST_CLOCK": "2026-11-23T09:00:00+01:00",
    }


async def push(url: str, secret: str, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    raw = json.dumps(body)
    message_id = "msg_" + secrets.token_hex(8)
    now = datetime.now(UTC)
    headers = {
        "Content-Type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, now, raw),
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(url + "/v1/events", data=raw, headers=headers) as r,
    ):
        return r.status, await r.json()


async def test_an_event_accepted_before_a_crash_is_applied_once_after_restart(
    database_url: str, tmp_path: Path
) -> None:
    secret = new_webhook_secret()
    service = ServiceProcess(environment(database_url, tmp_path, secret))
    await service.start()
    observer = await asyncpg.connect(database_url)
    try:
        status, _ = await push(service.url, secret, samples.case_opened())
        assert status == 202
        await asyncio.sleep(0.5)
        # Hold the case's lock, as a slow transaction would: the service can accept but not apply.
        await observer.execute(
            "select pg_advisory_lock(hashtextextended('case:' || $1, 0))", "blek-2026-0042"
        )
        status, accepted = await push(service.url, secret, samples.consent_given())
        assert status == 202
        await asyncio.sleep(0.5)
        service.kill()
        state = await observer.fetchval("select state from events where event_id = $1", accepted["event_id"])
        assert state == "pending"
        await observer.execute(
            "select pg_advisory_unlock(hashtextextended('case:' || $1, 0))", "blek-2026-0042"
        )

        restarted = ServiceProcess(service.environment)
        await restarted.start()
        try:
            for _ in range(100):
                state = await observer.fetchval(
                    "select state from events where event_id = $1", accepted["event_id"]
                )
                if state == "applied":
                    break
                await asyncio.sleep(0.1)
            assert state == "applied"
            attempts = await observer.fetchval(
                "select attempts from events where event_id = $1", accepted["event_id"]
            )
            assert attempts == 1
            version = await observer.fetchval("select version from cases where case_id = 'blek-2026-0042'")
            assert version == 2  # opened, then consent: each applied exactly once
        finally:
            assert restarted.stop() == 0
    finally:
        await observer.close()


async def test_two_processes_migrating_at_once_both_succeed(pg_template: str, tmp_path: Path) -> None:
    url = with_database(pg_template, "m_" + secrets.token_hex(4))
    name = url.split("?")[0].rsplit("/", 1)[1]
    admin = await asyncpg.connect(pg_template)
    await admin.execute(f'create database "{name}"')
    await admin.close()
    try:
        env = {"SIPVAKT_DATABASE_URL": url, "SIPVAKT_DATA_DIR": str(tmp_path)}
        results = await asyncio.gather(
            asyncio.to_thread(run_command, "migrate", environment=env),
            asyncio.to_thread(run_command, "migrate", environment=env),
        )
        assert [result.returncode for result in results] == [0, 0], [r.stderr for r in results]
        connection = await asyncpg.connect(url)
        versions = [row["version"] for row in await connection.fetch("select version from schema_migrations")]
        await connection.close()
        assert sorted(versions) == sorted(set(versions)) and versions
    finally:
        await pg.drop_database(pg_template, url)


def test_a_bad_setting_stops_the_service_with_one_clear_line(tmp_path: Path) -> None:
    result = run_command(
        "serve", environment={"SIPVAKT_HTTP_PORT": "eighty", "SIPVAKT_DATA_DIR": str(tmp_path)}
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "sipvakt: SIPVAKT_HTTP_PORT: Input should be a valid integer, unable to parse string as an integer"
    ]


def test_a_bad_rule_file_stops_the_service_and_names_the_file(tmp_path: Path) -> None:
    regions = tmp_path / "config" / "regions"
    regions.mkdir(parents=True)
    repository_regions = Path(__file__).resolve().parents[2] / "config" / "regions"
    for source in repository_regions.glob("*.toml"):
        (regions / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    (regions / "broken.toml").write_text("this is = = not toml\n", encoding="utf-8")
    result = run_command(
        "serve",
        environment={"SIPVAKT_CONFIG_DIR": str(tmp_path / "config"), "SIPVAKT_DATA_DIR": str(tmp_path)},
    )
    assert result.returncode == 2
    assert "broken.toml" in result.stderr


def postgres_running_in(data_dir: Path) -> bool:
    pid_file = data_dir / "pg" / "postmaster.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().split()[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_the_embedded_database_is_kept_across_restarts_and_stopped_on_sigterm(tmp_path: Path) -> None:
    secret = new_webhook_secret()
    # A short folder: the embedded server's socket lives in it.
    data_dir = Path(tempfile.mkdtemp(prefix="svk-", dir="/tmp"))
    env = {"SIPVAKT_DATA_DIR": str(data_dir), "SIPVAKT_WEBHOOK_SECRET": secret, "SIPVAKT_ADMIN_TOKEN": ADMIN}
    try:
        first = ServiceProcess(env)
        await first.start()
        status, _ = await push(first.url, secret, samples.case_opened())
        assert status == 202
        assert first.stop() == 0
        assert not postgres_running_in(data_dir)

        second = ServiceProcess(env)
        await second.start()
        try:
            headers = {"Authorization": f"Bearer {ADMIN}"}
            async with aiohttp.ClientSession() as session:
                for _ in range(50):
                    async with session.get(
                        second.url + "/v1/cases/blek-2026-0042", headers=headers
                    ) as response:
                        if response.status == 200:
                            break
                    await asyncio.sleep(0.1)
            assert response.status == 200
        finally:
            assert second.stop() == 0
        assert not postgres_running_in(data_dir)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
