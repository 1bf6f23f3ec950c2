"""The Dockerfile: linted by hadolint, built in two stages from the lock file, healthy and stoppable."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from dockerfile_parse import DockerfileParser

from tests.deploy.tools import REPOSITORY, broken_copy, venv_tool
from tests.service.processes import ServiceProcess

DOCKERFILE = REPOSITORY / "Dockerfile"
BUILD_TOOLS = ("gcc", "build-essential", "make", "python3-dev", "libpq-dev")


def hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [venv_tool("hadolint"), "--no-color", str(dockerfile)], capture_output=True, text=True, timeout=60
    )


def stages() -> list[list[dict[str, Any]]]:
    """The Dockerfile's instructions, one list per stage."""
    result: list[list[dict[str, Any]]] = []
    for instruction in DockerfileParser(str(DOCKERFILE)).structure:
        if instruction["instruction"] == "FROM":
            result.append([])
        if instruction["instruction"] != "COMMENT":
            result[-1].append(instruction)
    return result


def values(stage: list[dict[str, Any]], name: str) -> list[str]:
    return [str(instruction["value"]) for instruction in stage if instruction["instruction"] == name]


def test_hadolint_passes() -> None:
    result = hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("original", "broken", "rule"),
    [
        ('CMD ["sipvakt", "serve"]', "CMD sipvakt serve", "DL3025"),
        ("tini=0.19.0-1+b3", "tini", "DL3008"),
        ("USER 10001\n", "USER root\n", "DL3002"),
    ],
    ids=["shell-form CMD", "unpinned apt package", "runs as root"],
)
def test_hadolint_fails_a_broken_dockerfile(tmp_path: Path, original: str, broken: str, rule: str) -> None:
    result = hadolint(broken_copy(DOCKERFILE, original, broken, tmp_path))
    assert result.returncode != 0
    assert rule in result.stdout


def test_the_final_image_is_built_from_the_lock_file_without_build_tools_and_runs_as_a_user() -> None:
    builder, final = stages()[0], stages()[-1]
    assert len(stages()) >= 2
    assert any("uv sync --locked" in run for run in values(builder, "RUN"))
    assert any("--require-hashes" in run for run in values(builder, "RUN"))
    final_runs = " ".join(values(final, "RUN"))
    assert not [tool for tool in BUILD_TOOLS if tool in final_runs.split()]
    assert values(final, "COPY") == ["--from=builder /opt/sipvakt /opt/sipvakt"]
    assert values(final, "USER")[-1] not in ("root", "0")


def test_the_service_runs_under_tini_in_exec_form() -> None:
    final = stages()[-1]
    assert json.loads(values(final, "ENTRYPOINT")[-1])[0].endswith("/tini")
    assert json.loads(values(final, "CMD")[-1]) == ["sipvakt", "serve"]


def test_every_copied_path_exists_and_reaches_the_build_context() -> None:
    ignored = {line.strip().rstrip("/") for line in (REPOSITORY / ".dockerignore").read_text().splitlines()}
    for stage in stages():
        for copy in values(stage, "COPY"):
            if copy.startswith("--from="):
                continue
            *sources, _ = copy.split()
            for source in sources:
                assert (REPOSITORY / source).exists(), source
                assert source.split("/")[0] not in ignored, source


async def healthcheck(port: int) -> int:
    """Run the image's HEALTHCHECK command, with this interpreter, against a service on `port`."""
    healthcheck = values(stages()[-1], "HEALTHCHECK")[-1]
    command: list[str] = json.loads(healthcheck.split("CMD", 1)[1])
    assert command[0] == "python"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *command[1:],
        env={"SIPVAKT_HTTP_PORT": str(port), "PATH": "/usr/bin:/bin"},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await asyncio.wait_for(process.wait(), timeout=30)


@pytest.mark.slow
async def test_the_healthcheck_passes_while_the_service_runs_which_stops_cleanly_on_sigterm(
    database_url: str, tmp_path: Path
) -> None:
    service = ServiceProcess({"SIPVAKT_DATABASE_URL": database_url, "SIPVAKT_DATA_DIR": str(tmp_path)})
    await service.start()
    try:
        assert await healthcheck(service.port) == 0
    finally:
        assert service.stop() == 0, service.logs()
    assert await healthcheck(service.port) != 0
