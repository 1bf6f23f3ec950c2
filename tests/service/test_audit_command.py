"""`sipvakt audit …` while `sipvakt serve` runs on the embedded database: the commands join the running
server's PostgreSQL and read the log the service is writing."""

from __future__ import annotations

import asyncio
import json
import secrets
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from standardwebhooks import Webhook

from service.storage.secrets import new_webhook_secret
from tests import samples
from tests.service.processes import ServiceProcess, run_command

pytestmark = pytest.mark.slow
ADMIN = "audit-command-admin-token-0123456789"
CASE = "blek-2026-0042"


async def push(client: aiohttp.ClientSession, url: str, secret: str, body: dict[str, object]) -> None:
    raw = json.dumps(body)
    message_id, moment = "msg_" + secrets.token_hex(8), datetime.now(UTC)
    headers = {
        "Content-Type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, moment, raw),
    }
    async with client.post(url + "/v1/events", data=raw, headers=headers) as response:
        assert response.status == 202, await response.text()


async def test_audit_commands_work_beside_a_running_service_on_the_embedded_database(tmp_path: Path) -> None:
    secret = new_webhook_secret()
    environment = {
        "SIPVAKT_DATA_DIR": str(tmp_path / "data"),
        "SIPVAKT_ADMIN_TOKEN": ADMIN,
        "SIPVAKT_WEBHOOK_SECRET": secret,
    }
    service = ServiceProcess(environment)
    await service.start(within_seconds=180)
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {ADMIN}"}) as client:
            await push(client, service.url, secret, samples.case_opened())
            for _ in range(100):
                async with client.get(f"{service.url}/v1/cases/{CASE}") as response:
                    if response.status == 200:
                        break
                await asyncio.sleep(0.2)
            assert response.status == 200

        verified = run_command("audit", "verify", environment=environment)
        assert verified.returncode == 0, verified.stderr
        assert verified.stdout.startswith("access log whole: ")

        extracted = run_command("audit", "extract", "--person-reference", "person-1", environment=environment)
        assert extracted.returncode == 0, extracted.stderr
        entries = json.loads(extracted.stdout)["entries"]
        assert [(e["action"], e["actor"]["id"], e["case_id"]) for e in entries] == [
            ("read", "admin-token", CASE)
        ]
    finally:
        assert service.stop() == 0
