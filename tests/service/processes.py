"""Real `sipvakt` processes for tests that start, kill and restart the service."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import aiohttp

SIPVAKT = str(Path(sys.executable).parent / "sipvakt")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def wait_until_answering(
    process: subprocess.Popen[bytes], url: str, within_seconds: float, logs: Callable[[], str]
) -> None:
    """Until `url` answers 200; RuntimeError (with the process's logs) if the process exits first."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_seconds
    async with aiohttp.ClientSession() as session:
        while loop.time() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args!r} exited with {process.returncode}: {logs()}")
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {within_seconds} s")


@dataclass
class ServiceProcess:
    environment: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, within_seconds: float = 60.0) -> None:
        env = {**os.environ, **self.environment, "SIPVAKT_HTTP_PORT": str(self.port)}
        # Logs go to a file: a pipe nobody reads would fill up and stall the service.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the process)
        self.process = subprocess.Popen([SIPVAKT, "serve"], env=env, stderr=self.log)  # noqa: ASYNC220
        await wait_until_answering(self.process, self.url + "/v1/health", within_seconds, self.logs)

    def logs(self) -> str:
        """Everything the process has logged so far."""
        if self.log is None:
            return ""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


def run_command(
    *args: str, environment: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SIPVAKT, *args],
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
