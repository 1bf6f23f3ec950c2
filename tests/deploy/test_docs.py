"""The user's guides in docs/, built by MkDocs in strict mode as CI builds them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.deploy.tools import REPOSITORY, venv_tool

GUIDES = ("samordnare.md", "integratorer.md", "drift.md")


def build(project: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            venv_tool("mkdocs"),
            "build",
            "--strict",
            "--config-file",
            str(project / "mkdocs.yml"),
            "--site-dir",
            str(site),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def copy_of_project(directory: Path) -> Path:
    project = directory / "project"
    shutil.copytree(REPOSITORY / "docs", project / "docs")
    shutil.copy(REPOSITORY / "mkdocs.yml", project / "mkdocs.yml")
    return project


def test_the_guides_build_strictly_with_every_page_and_picture(tmp_path: Path) -> None:
    result = build(REPOSITORY, tmp_path / "site")

    assert result.returncode == 0, result.stderr
    for guide in GUIDES:
        page = (tmp_path / "site" / guide.removesuffix(".md") / "index.html").read_text()
        assert 'lang="sv"' in page
        assert "fonts.googleapis.com" not in page and "cdn" not in page.lower()
    for picture in (REPOSITORY / "docs").glob("**/*.png"):
        assert (tmp_path / "site" / picture.relative_to(REPOSITORY / "docs")).is_file()


def test_a_broken_link_fails_the_build(tmp_path: Path) -> None:
    project = copy_of_project(tmp_path)
    guide = project / "docs" / "drift.md"
    guide.write_text(guide.read_text() + "\nSe [den saknade sidan](saknas.md).\n")

    result = build(project, tmp_path / "site")

    assert result.returncode != 0
    assert "saknas.md" in result.stderr


def test_a_missing_screenshot_fails_the_build(tmp_path: Path) -> None:
    project = copy_of_project(tmp_path)
    guide = project / "docs" / "samordnare.md"
    guide.write_text(guide.read_text() + "\n![Saknas](screenshots/saknas.png)\n")

    result = build(project, tmp_path / "site")

    assert result.returncode != 0
    assert "saknas.png" in result.stderr


def test_a_guide_left_out_of_the_navigation_fails_the_build(tmp_path: Path) -> None:
    project = copy_of_project(tmp_path)
    (project / "docs" / "utanfor.md").write_text("# Utanför\n")

    result = build(project, tmp_path / "site")

    assert result.returncode != 0
    assert "utanfor.md" in result.stderr
