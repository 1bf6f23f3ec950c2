"""What the browser tests run against: Debian's Chromium driven by Playwright, axe-core in every page,
a real `sipvakt serve`, and a real OpenID provider (the `oidc-provider` package, tests/oidc)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page

from tests.service.processes import free_port, wait_until_answering

CHROMIUM = Path("/usr/bin/chromium")
OIDC_DIR = Path(__file__).resolve().parents[1] / "oidc"
OIDC_CLIENT_ID = "sipvakt-test"
OIDC_CLIENT_SECRET = "sipvakt-test-client-secret-0123456789"
_AXE = Axe()


def require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.skip("no browser: /usr/bin/chromium is missing and `make browser` could not install it")


def require_oidc_provider() -> str:
    """The node binary, once the provider's packages are installed."""
    node = shutil.which("node")
    if node is None or not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.skip(
            "no OpenID provider: Node.js or tests/oidc/node_modules is missing (`make oidc-provider`)"
        )
    return node


async def assert_accessible(page: Page) -> None:
    """axe-core finds no violation on the page as it is now."""
    results = await _AXE.run(page)
    assert results.violations_count == 0, f"{page.url}:\n{results.generate_report()}"


@asynccontextmanager
async def oidc_provider(redirect_uri: str) -> AsyncIterator[str]:
    """The provider running on a free port, with one client (secret, PKCE required); its issuer URL."""
    node = require_oidc_provider()
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    environment = {
        "PATH": "/usr/bin:/bin",
        "OIDC_PORT": str(port),
        "OIDC_CLIENT_ID": OIDC_CLIENT_ID,
        "OIDC_CLIENT_SECRET": OIDC_CLIENT_SECRET,
        "OIDC_REDIRECT_URI": redirect_uri,
    }
    process = subprocess.Popen(  # noqa: ASYNC220 (started once, awaited through HTTP below)
        [node, "provider.js"],
        cwd=OIDC_DIR,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        await wait_until_answering(
            process, f"{issuer}/.well-known/openid-configuration", 30, lambda: _errors(process)
        )
        yield issuer
    finally:
        process.terminate()
        process.wait(timeout=10)


def _errors(process: subprocess.Popen[bytes]) -> str:
    return process.stderr.read().decode(errors="replace") if process.stderr else ""


def _newest_link(outbox: Path, recipient: str) -> str | None:
    for path in sorted(outbox.glob("*.eml"), key=lambda item: item.stat().st_mtime, reverse=True):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if message["To"] and recipient in str(message["To"]):
            body = message.get_body(preferencelist=("plain",))
            assert body is not None
            match = re.search(r"https?://\S+/app/login/link\?token=[\w-]+", body.get_content())
            assert match, body.get_content()
            return match.group(0)
    return None


async def mailed_sign_in_link(outbox: Path, recipient: str, seconds: float = 10) -> str:
    """The sign-in link in the newest message to `recipient` in the outbox folder."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        link = await asyncio.to_thread(_newest_link, outbox, recipient)
        if link is not None:
            return link
        await asyncio.sleep(0.1)
    raise TimeoutError(f"no sign-in link reached the outbox for {recipient}")
