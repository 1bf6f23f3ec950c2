"""`scripts/push_event.py` as a newcomer runs it: against a service on another port than 8080, with the
example case moved to this week, and against no service at all."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from service.storage.secrets import new_webhook_secret
from tests.service.processes import ServiceProcess, free_port

REPOSITORY = Path(__file__).resolve().parents[2]
SCRIPT = REPOSITORY / "scripts" / "push_event.py"
EXAMPLE = REPOSITORY / "examples" / "blekinge-case.json"
ADMIN = "push-event-admin-token-0123456789"
pytestmark = pytest.mark.slow


def run_script(*args: str, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_the_example_case_pushed_to_another_port_is_fresh(database_url: str, tmp_path: Path) -> None:
    secret = new_webhook_secret()
    # The real clock, as `make run` has it: the example must not be stale today.
    service = ServiceProcess(
        {
            "SIPVAKT_DATABASE_URL": database_url,
            "SIPVAKT_DATA_DIR": str(tmp_path),
            "SIPVAKT_WEBHOOK_SECRET": secret,
            "SIPVAKT_ADMIN_TOKEN": ADMIN,
        }
    )
    await service.start()
    try:
        result = await asyncio.to_thread(
            run_script,
            "--this-week",
            str(EXAMPLE),
            environment={"SIPVAKT_HTTP_PORT": str(service.port), "SIPVAKT_WEBHOOK_SECRET": secret},
        )
        assert result.returncode == 0, result.stderr
        assert [line.split(" ", 1)[0] for line in result.stdout.splitlines()] == ["202"] * 3
        case = await applied_case(service.url, "blek-2026-0042")
        assert case["deviations"] == []
        assert [d["status"] for d in case["deadlines"] if d["kind"] == "notice"] != ["missed"]
        [meeting] = case["meetings"]
        assert meeting["notice_ok"] is True
    finally:
        assert service.stop() == 0


async def applied_case(url: str, case_id: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {ADMIN}"}
    async with aiohttp.ClientSession() as session:
        for _ in range(100):
            async with session.get(f"{url}/v1/cases/{case_id}", headers=headers) as response:
                if response.status == 200:
                    case: dict[str, Any] = await response.json()
                    if case["meetings"]:
                        return case
            await asyncio.sleep(0.1)
    raise AssertionError("the example case was not applied")


def test_no_service_on_the_port_is_one_clear_line() -> None:
    port = free_port()
    result = run_script(
        str(EXAMPLE),
        environment={"SIPVAKT_HTTP_PORT": str(port), "SIPVAKT_WEBHOOK_SECRET": new_webhook_secret()},
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"push_event.py: cannot reach sipvakt at http://127.0.0.1:{port} (Connection refused):"
        " is it running there? Set SIPVAKT_HTTP_PORT or give --url"
    ]


def test_a_missing_file_is_one_clear_line(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.json"
    result = run_script(str(missing), environment={"SIPVAKT_WEBHOOK_SECRET": new_webhook_secret()})
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"push_event.py: {missing}: No such file or directory"]


def test_this_week_keeps_weekdays_and_the_three_weeks_notice() -> None:
    spec = importlib.util.spec_from_file_location("push_event", SCRIPT)
    assert spec is not None and spec.loader is not None
    push_event = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(push_event)
    events = push_event.read_events(EXAMPLE)
    original = datetime.fromisoformat(events[2]["data"]["starts_at"])
    for now in (datetime(2026, 12, 3, 8, 30, tzinfo=UTC), datetime(2027, 6, 20, 12, tzinfo=UTC)):
        moved = push_event.moved_to_this_week(events, now)
        last = max(datetime.fromisoformat(event["occurred_at"]) for event in moved)
        assert timedelta(0) <= now - last < timedelta(days=7)
        starts = datetime.fromisoformat(moved[2]["data"]["starts_at"])
        assert starts.weekday() == original.weekday() and starts.hour == original.hour
        assert starts - now > timedelta(days=21)
