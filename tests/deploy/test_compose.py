"""docker-compose.yml, checked by a real Compose implementation (no engine needed for `config`)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.settings import load_settings
from tests.deploy.tools import REPOSITORY, broken_copy, compose_command

COMPOSE_FILE = REPOSITORY / "docker-compose.yml"


def compose_config(compose_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*compose_command(), "--file", str(compose_file), "--project-directory", str(REPOSITORY), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        # The example secrets' defaults in the file are what is checked, not whatever this shell has set.
        env={"PATH": "/usr/local/bin:/usr/bin:/bin"},
    )


def resolved() -> dict[str, Any]:
    result = compose_config(COMPOSE_FILE)
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def test_the_compose_file_is_valid_and_runs_two_replicas_on_postgresql_16_with_a_mail_catcher() -> None:
    services = resolved()["services"]
    assert set(services) == {"sipvakt", "postgres", "mailcatcher"}
    assert services["sipvakt"]["deploy"]["replicas"] == 2
    assert services["postgres"]["image"] == "postgres:16"
    assert services["sipvakt"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    # Replicas share nothing but the database: no fixed host port, no container name, no shared volume.
    assert "container_name" not in services["sipvakt"]
    assert "volumes" not in services["sipvakt"]
    environment = services["sipvakt"]["environment"]
    assert environment["SIPVAKT_SMTP_HOST"] == "mailcatcher"


def test_the_service_accepts_the_compose_files_settings() -> None:
    environment = resolved()["services"]["sipvakt"]["environment"]
    settings = load_settings({key: str(value) for key, value in environment.items()})
    assert settings.database_url is not None and "@postgres:5432/" in settings.database_url
    assert settings.secret_key is not None


# Each breakage: a line of the file, what it becomes, and a word the error must name.
BREAKAGES = {
    "unknown key": ("restart: unless-stopped\n", "restart: unless-stopped\n    replica: 2\n", "replica"),
    "unknown depends_on condition": ("condition: service_healthy", "condition: when_ready", "condition"),
    "port that is not a number": ('- "8080-8081:8080"', "- {published: eighty, target: 8080}", "published"),
}


@pytest.mark.parametrize(("original", "broken", "expected"), BREAKAGES.values(), ids=BREAKAGES.keys())
def test_a_broken_compose_file_fails_the_check(
    tmp_path: Path, original: str, broken: str, expected: str
) -> None:
    result = compose_config(broken_copy(COMPOSE_FILE, original, broken, tmp_path))
    assert result.returncode != 0
    assert expected in result.stderr
