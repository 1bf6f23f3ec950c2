"""What integrators read besides cases: the OpenAPI document, the CLI and logs."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from scheduler.events import DATA_MODELS
from service.logs import JsonFormatter
from tests import samples
from tests.service.harness import Service, service_settings, started
from tests.service.processes import run_command

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture
async def service(database_url: str, tmp_path: Path) -> AsyncIterator[Service]:
    async with started(service_settings(database_url, tmp_path)) as running_service:
        yield running_service


async def test_openapi_describes_every_route_and_every_event_type(service: Service) -> None:
    document = await (await service.client.get("/v1/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    # The web app's pages under /app are HTML for people, not part of the API.
    routes = {
        route.resource.canonical
        for route in service.client.app.router.routes()
        if route.resource is not None
        and route.method != "HEAD"
        and not (route.resource.canonical + "/").startswith("/app/")
    }
    assert routes == set(document["paths"])
    variants = document["components"]["schemas"]["Event"]["oneOf"]
    assert {variant["properties"]["type"]["const"] for variant in variants} == set(DATA_MODELS)
    case_schema = document["components"]["schemas"]["CaseView"]
    assert set(case_schema["required"]) == samples.CASE_FIELDS


class JsonLines(logging.Handler):
    """Formats each record when it is emitted, inside the request it belongs to, as production does."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


async def test_logs_carry_ids_and_never_a_name_or_personnummer(service: Service) -> None:
    handler = JsonLines()
    root = logging.getLogger()
    root.addHandler(handler)
    previous_level = root.level
    root.setLevel(logging.DEBUG)
    await service.push(samples.case_opened())
    await service.push(samples.consent_given())
    await service.push(samples.meeting_scheduled())
    bad = samples.case_opened("bad-1")
    bad["data"]["person"]["personnummer"] = "20121212-1213"
    await service.push(bad)
    await service.settle()
    root.removeHandler(handler)
    root.setLevel(previous_level)
    lines = handler.lines
    text = "\n".join(lines)
    for secret in ("1212", "Testa", "Testsson", "Åsa", "Öberg", "Skolsköterska", "Box 1"):
        assert secret not in text
    parsed = [json.loads(line) for line in lines]
    assert any("event_id" in line for line in parsed)
    assert any("request_id" in line for line in parsed)


def test_the_deadlines_command_needs_no_database(tmp_path: Path) -> None:
    result = run_command(
        "deadlines",
        "--event-file",
        str(REPOSITORY / "examples" / "blekinge-case.json"),
        "--now",
        "2026-11-24T12:00:00+01:00",
        environment={
            "SIPVAKT_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
            "SIPVAKT_DATA_DIR": str(tmp_path),
        },
    )
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert set(output) == {"deadlines", "warnings"}
    notice = [d for d in output["deadlines"] if d["kind"] == "notice"]
    assert notice and notice[0]["rule"].startswith("blekinge.")
    assert not (tmp_path / "pg").exists()


def test_the_deadlines_command_names_every_bad_field(tmp_path: Path) -> None:
    broken = samples.case_opened()
    del broken["data"]["urgent"]
    events = tmp_path / "events.json"
    events.write_text(json.dumps([broken, {"type": "nope"}]), encoding="utf-8")
    result = run_command(
        "deadlines", "--event-file", str(events), environment={"SIPVAKT_DATA_DIR": str(tmp_path)}
    )
    assert result.returncode == 2
    assert f"{events}: [0].data.urgent: field required" in result.stderr
    assert f"{events}: [1].type:" in result.stderr


def test_integrations_and_tokens_are_made_from_the_command_line(database_url: str, tmp_path: Path) -> None:
    env = {"SIPVAKT_DATABASE_URL": database_url, "SIPVAKT_DATA_DIR": str(tmp_path)}
    created = run_command("integration", "create", "skolsystemet", environment=env)
    assert created.returncode == 0, created.stderr
    fields = dict(line.split(": ", 1) for line in created.stdout.splitlines() if ": " in line)
    assert fields["webhook_secret"].startswith("whsec_")
    token = run_command(
        "token", "create", "--role", "integration", "--integration", fields["integration_id"], environment=env
    )
    assert token.returncode == 0, token.stderr
    assert "svk_" in token.stdout
    listed = run_command("token", "list", environment=env)
    assert "integration" in listed.stdout and "svk_" not in listed.stdout
    again = run_command("integration", "create", "skolsystemet", environment=env)
    assert again.returncode == 2 and "already exists" in again.stderr
