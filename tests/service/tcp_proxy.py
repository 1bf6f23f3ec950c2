"""A loopback TCP proxy in front of the test PostgreSQL, to make it fail the two ways a real one does:
refusing connections (the server is down) and hanging (accepting and then saying nothing, as behind a
dead network path)."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import parse_qs, urlsplit

from tests.service.processes import free_port

CHUNK = 64 * 1024


class DatabaseProxy:
    """Forwards `127.0.0.1:port` to the server of `upstream_url` (TCP or a Unix socket)."""

    def __init__(self, upstream_url: str) -> None:
        self.upstream_url = upstream_url
        self.port = free_port()
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.pumps: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """The upstream URL, pointed at the proxy: same user and database."""
        parts = urlsplit(self.upstream_url)
        user = parts.username or "postgres"
        return f"postgresql://{user}@127.0.0.1:{self.port}{parts.path}"

    async def _open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        parts = urlsplit(self.upstream_url)
        socket_dir = parse_qs(parts.query).get("host", [parts.hostname or ""])[0]
        port = parts.port or 5432
        if socket_dir.startswith("/"):
            return await asyncio.open_unix_connection(f"{socket_dir}/.s.PGSQL.{port}")
        return await asyncio.open_connection(socket_dir, port)

    async def start(self) -> None:
        """Listen (again, on the same port after `refuse`)."""
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    def pause(self) -> None:
        """Hang: keep accepting, forward nothing in either direction."""
        self.flowing.clear()

    def resume(self) -> None:
        self.flowing.set()

    async def refuse(self) -> None:
        """Go down: stop listening (connections are refused) and cut every open connection."""
        if self.server is not None:
            self.server.close()
            self.server = None
        for writer in list(self.writers):
            writer.transport.abort()
        for pump in list(self.pumps):
            pump.cancel()
        await asyncio.gather(*self.pumps, return_exceptions=True)

    async def close(self) -> None:
        self.resume()
        await self.refuse()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await self._open_upstream()
        except OSError:
            client_writer.transport.abort()
            return
        self.writers |= {client_writer, upstream_writer}
        for reader, writer in ((client_reader, upstream_writer), (upstream_reader, client_writer)):
            pump = asyncio.create_task(self._pump(reader, writer))
            self.pumps.add(pump)
            pump.add_done_callback(self.pumps.discard)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(CHUNK):
                await self.flowing.wait()
                writer.write(chunk)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self.writers.discard(writer)
            with contextlib.suppress(OSError, RuntimeError):
                writer.close()
