"""Paths and commands shared by the deployment checks."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
# make install puts uv in a venv of its own beside .venv.
UV = REPOSITORY / ".uv" / "bin" / "uv"


def compose_command() -> list[str]:
    """A real Compose implementation: the Docker CLI's plugin, or the standalone `docker-compose`."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    assert standalone is not None, "no Docker Compose here: `make compose-cli` installs it"
    return [standalone]


def venv_tool(name: str) -> str:
    """A command that the test extras install beside the interpreter running the tests."""
    path = VENV_BIN / name
    assert path.exists(), f"{name} is missing from {VENV_BIN}: run make install-test"
    return str(path)


def broken_copy(source: Path, original: str, broken: str, directory: Path) -> Path:
    """A copy of `source` in `directory` with its first `original` replaced by `broken`."""
    text = source.read_text()
    assert original in text, f"{source.name} no longer holds {original!r}"
    copy = directory / source.name
    copy.write_text(text.replace(original, broken, 1))
    return copy
