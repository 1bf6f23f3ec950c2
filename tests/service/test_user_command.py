"""`sipvakt user …` while `sipvakt serve` runs on the embedded database: the command joins the running
server's PostgreSQL, and the service sees what it did at once."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from tests.service.processes import ServiceProcess, run_command

pytestmark = pytest.mark.slow
ADMIN = "command-admin-token-0123456789"


async def test_user_commands_work_beside_a_running_service_on_the_embedded_database(tmp_path: Path) -> None:
    environment = {"SIPVAKT_DATA_DIR": str(tmp_path / "data"), "SIPVAKT_ADMIN_TOKEN": ADMIN}
    service = ServiceProcess(environment)
    await service.start(within_seconds=180)
    try:
        created = run_command(
            "user",
            "create",
            "--email",
            "sam@kommun.example",
            "--role",
            "coordinator",
            "--regions",
            "halland,blekinge",
            "--organisations",
            "Region Halland",
            environment=environment,
        )
        assert created.returncode == 0, created.stderr
        assert "user_id: usr_" in created.stdout

        async with (
            aiohttp.ClientSession(headers={"Authorization": f"Bearer {ADMIN}"}) as client,
            client.get(service.url + "/v1/users") as response,
        ):
            [user] = (await response.json())["users"]
        assert (user["email"], user["regions"], user["organisations"]) == (
            "sam@kommun.example",
            ["blekinge", "halland"],
            ["Region Halland"],
        )

        twice = run_command(
            "user", "create", "--email", "SAM@kommun.example", "--role", "auditor", environment=environment
        )
        assert twice.returncode == 2
        assert "already exists" in twice.stderr
        unknown_region = run_command(
            "user",
            "create",
            "--email",
            "gun@kommun.example",
            "--role",
            "auditor",
            "--regions",
            "atlantis",
            environment=environment,
        )
        assert unknown_region.returncode == 2
        assert "regions.0: no region with this name" in unknown_region.stderr

        disabled = run_command("user", "disable", "sam@kommun.example", environment=environment)
        assert disabled.returncode == 0, disabled.stderr
        listing = run_command("user", "list", environment=environment)
        assert listing.returncode == 0
        assert "sam@kommun.example\tcoordinator\tregions=blekinge,halland" in listing.stdout
        assert listing.stdout.rstrip().endswith("disabled")
        again = run_command("user", "disable", "sam@kommun.example", environment=environment)
        assert again.returncode == 2
        assert "no enabled user" in again.stderr
    finally:
        assert service.stop() == 0
