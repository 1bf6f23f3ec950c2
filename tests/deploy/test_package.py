"""The wheel that the image and every non-editable install get: all of the code's files, and the licence."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.deploy.tools import REPOSITORY, UV

PACKAGES = ("scheduler", "notifiers", "calendars", "config", "service")
PROJECT_FILES = ("pyproject.toml", "uv.lock", "README.md", "LICENSE")


def source_files() -> list[str]:
    return sorted(
        path.relative_to(REPOSITORY).as_posix()
        for package in PACKAGES
        for path in (REPOSITORY / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )


def test_the_wheel_holds_every_file_of_the_packages_and_declares_the_licence(tmp_path: Path) -> None:
    # Built from a copy, as in the image's builder, so that nothing is left behind in the checkout.
    source = tmp_path / "source"
    source.mkdir()
    for name in PROJECT_FILES:
        shutil.copy(REPOSITORY / name, source / name)
    for package in PACKAGES:
        shutil.copytree(REPOSITORY / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    environment = {**os.environ, "UV_PYTHON": sys.executable, "UV_PYTHON_DOWNLOADS": "never"}
    result = subprocess.run(
        [str(UV), "build", "--wheel", "--no-build-isolation", "--out-dir", "dist"],
        cwd=source,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = (source / "dist").glob("sipvakt-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (metadata,) = (name for name in names if name.endswith(".dist-info/METADATA"))
        headers = archive.read(metadata).decode()
    assert [name for name in source_files() if name not in names] == []
    assert "License-Expression: EUPL-1.2" in headers.splitlines()
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
