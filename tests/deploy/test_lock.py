"""uv.lock: every file pinned by hash, and a change to pyproject.toml without `make lock` stops the run."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.deploy.tools import REPOSITORY, UV

# What `make check-lock` and `make install` read.
LOCK_INPUTS = ("Makefile", "pyproject.toml", "uv.lock", "README.md", "LICENSE", "requirements/uv.txt")


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    assert UV.exists(), "uv is installed by make install; run make install-test"
    for name in LOCK_INPUTS:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPOSITORY / name, tmp_path / name)
    # The copy borrows this checkout's uv, and must never make reinstall it: its pin is older here.
    (tmp_path / ".uv").symlink_to(REPOSITORY / ".uv")
    installed = UV.stat().st_mtime - 1
    os.utime(tmp_path / "requirements" / "uv.txt", (installed, installed))
    return tmp_path


def make(target: str, directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", target],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=300,
        env={key: value for key, value in os.environ.items() if not key.startswith(("UV_", "VIRTUAL_ENV"))},
    )


def test_the_lock_file_matches_pyproject(project_copy: Path) -> None:
    result = make("check-lock", project_copy)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("original", "changed"),
    [
        ('"fpdf2>=2.7,<3"', '"fpdf2>=2.7,<2.8"'),
        ('"cryptography>=42",', '"cryptography>=42",\n    "toolz>=0.12",'),
    ],
    ids=["narrowed range", "new dependency"],
)
def test_a_dependency_changed_without_make_lock_stops_install_and_test(
    project_copy: Path, original: str, changed: str
) -> None:
    pyproject = project_copy / "pyproject.toml"
    text = pyproject.read_text()
    assert original in text
    pyproject.write_text(text.replace(original, changed, 1))
    for target in ("check-lock", "install"):
        result = make(target, project_copy)
        assert result.returncode != 0
        assert "run make lock" in result.stderr
    assert not (project_copy / ".venv" / ".installed").exists()


def test_every_locked_file_and_the_uv_pin_carry_a_hash() -> None:
    lock = tomllib.loads((REPOSITORY / "uv.lock").read_text())
    files = [
        artefact
        for package in lock["package"]
        for artefact in [*package.get("wheels", []), *([package["sdist"]] if "sdist" in package else [])]
    ]
    assert len(files) > len(lock["package"])
    assert all(artefact["hash"].startswith("sha256:") for artefact in files)
    requirements = (REPOSITORY / "requirements" / "uv.txt").read_text()
    assert "uv==" in requirements and "--hash=sha256:" in requirements
