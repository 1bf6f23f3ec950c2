"""Kept SMTP connections: a few open sessions to the configured server, each carrying many messages.

Opening a session costs a TCP handshake, the greeting, EHLO, and with TLS a handshake and often AUTH:
several round trips per message when each message has its own connection. The pool keeps up to `size`
sessions open and hands each message to an idle one; a session unused for `idle_seconds` is closed with
QUIT, so the server's connection slots are not held for nothing.

What a kept session changes, and what it must not:
- The server may have closed a kept session (its own idle timeout, a restart) or answer 421 (closing
  down) to any command. Up to the reply to the message's final dot nothing has been accepted, so the
  message goes again at once on a fresh session; it is not a duplicate.
- A session lost after the final dot was written and before its reply is the ambiguous case the
  outbox already allows for: the message is deferred and goes again later under the same Message-ID.
- A 4xx or 5xx to one message resets the envelope (RSET) and keeps the session for the next message.
- A send cancelled in the middle (the shutdown grace is over) drops its session without QUIT: a hung
  server never answers it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import aiosmtplib

from notifiers.transport import SMTP_TIMEOUT_SECONDS, PermanentFailure, TemporaryFailure, TlsMode

log = logging.getLogger(__name__)

POOL_SIZE = 4
IDLE_SECONDS = 30.0
# How long a QUIT may take when the pool closes a session; the server may already be gone.
QUIT_SECONDS = 2.0
CLOSING = 421


class _SessionLost(Exception):
    """The session ended before the server accepted the message: safe to send again at once."""


@dataclass
class _Idle:
    client: aiosmtplib.SMTP
    expiry: asyncio.TimerHandle


@dataclass
class SmtpPool:
    """The `Transport` for one SMTP server, over at most `size` kept sessions."""

    host: str
    port: int
    tls: TlsMode
    username: str | None = None
    password: str | None = None
    timeout: float = SMTP_TIMEOUT_SECONDS
    size: int = POOL_SIZE
    idle_seconds: float = IDLE_SECONDS
    _idle: list[_Idle] = field(default_factory=list, init=False, repr=False)
    _slots: asyncio.Semaphore | None = field(default=None, init=False, repr=False)
    _quitting: set[asyncio.Task[None]] = field(default_factory=set, init=False, repr=False)
    # Sessions opened since the pool was made: what the tests and benchmarks count.
    opened: int = field(default=0, init=False)

    async def send(self, sender: str, recipient: str, message: bytes, key: str) -> None:
        """Hand one message to the server over a kept session, or a new one when none is idle."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.size)
        async with self._slots:
            client = self._take()
            if client is not None:
                try:
                    await self._hand_over(client, sender, recipient, message)
                    return
                except _SessionLost:
                    # A kept session the server has ended: the message was not taken, so it goes again
                    # now on a session of its own rather than waiting for the outbox's next attempt.
                    log.info("a kept SMTP session had ended; opening a new one")
            client = await self._open()
            try:
                await self._hand_over(client, sender, recipient, message)
            except _SessionLost as exc:
                raise TemporaryFailure(str(exc)) from None

    async def close(self) -> None:
        """QUIT every idle session (each within QUIT_SECONDS) and wait for the ones already quitting."""
        while self._idle:
            self._retire(self._idle.pop())
        if self._quitting:
            await asyncio.gather(*self._quitting, return_exceptions=True)

    def _take(self) -> aiosmtplib.SMTP | None:
        """The most recently used idle session that is still connected (it is the least likely to have
        been timed out by the server), or None."""
        while self._idle:
            idle = self._idle.pop()
            idle.expiry.cancel()
            if idle.client.is_connected:
                return idle.client
            idle.client.close()
        return None

    def _keep(self, client: aiosmtplib.SMTP) -> None:
        expiry = asyncio.get_running_loop().call_later(self.idle_seconds, self._expire, client)
        self._idle.append(_Idle(client, expiry))

    def _expire(self, client: aiosmtplib.SMTP) -> None:
        for idle in self._idle:
            if idle.client is client:
                self._idle.remove(idle)
                self._retire(idle)
                return

    def _retire(self, idle: _Idle) -> None:
        idle.expiry.cancel()
        task = asyncio.ensure_future(self._quit(idle.client))
        self._quitting.add(task)
        task.add_done_callback(self._quitting.discard)

    @staticmethod
    async def _quit(client: aiosmtplib.SMTP) -> None:
        try:
            async with asyncio.timeout(QUIT_SECONDS):
                await client.quit()
        except (TimeoutError, aiosmtplib.SMTPException, OSError):
            pass
        finally:
            client.close()

    async def _open(self) -> aiosmtplib.SMTP:
        # With starttls or tls configured, a server that cannot do TLS is an error, never plaintext.
        client = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.tls == "tls",
            start_tls=self.tls == "starttls",
            timeout=self.timeout,
        )
        try:
            await client.connect()
            if client.is_ehlo_or_helo_needed:
                await client.ehlo()
        except aiosmtplib.SMTPResponseException as exc:
            client.close()
            raise _failure(exc.code) from None
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            client.close()
            raise TemporaryFailure(type(exc).__name__) from None
        self.opened += 1
        return client

    async def _hand_over(self, client: aiosmtplib.SMTP, sender: str, recipient: str, message: bytes) -> None:
        """One mail transaction; the session goes back to the pool unless it is in doubt."""
        needs_utf8 = not (sender.isascii() and recipient.isascii())
        if needs_utf8 and not client.supports_extension("smtputf8"):
            # This server can never take this message; the session stays good for the next one.
            self._keep(client)
            raise PermanentFailure("the server does not offer SMTPUTF8, which the address needs")
        encoding = "utf-8" if needs_utf8 else "ascii"
        in_data = False
        try:
            await client.mail(sender, options=["SMTPUTF8"] if needs_utf8 else [], encoding=encoding)
            await client.rcpt(recipient, encoding=encoding)
            in_data = True
            await client.data(message)
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code == CLOSING:
                client.close()
                raise _SessionLost(f"SMTP {exc.code}") from None
            await self._reset(client)
            raise _failure(exc.code) from None
        except (aiosmtplib.SMTPServerDisconnected, ConnectionError) as exc:
            client.close()
            if in_data:
                # Perhaps after the final dot: the server may have the message. Later, same Message-ID.
                raise TemporaryFailure(type(exc).__name__) from None
            raise _SessionLost(type(exc).__name__) from None
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            # A session that timed out is in an unknown state: it is not used again.
            client.close()
            raise TemporaryFailure(type(exc).__name__) from None
        except BaseException:
            # Cancelled mid-exchange (or a fault of ours): the session's state is unknown.
            client.close()
            raise
        self._keep(client)

    async def _reset(self, client: aiosmtplib.SMTP) -> None:
        """After a refusal the envelope is reset so that the session can carry the next message."""
        try:
            await client.rset()
        except (TimeoutError, aiosmtplib.SMTPException, OSError):
            client.close()
            return
        self._keep(client)


def _failure(code: int) -> PermanentFailure | TemporaryFailure:
    if 500 <= code < 600:
        return PermanentFailure(f"SMTP {code}")
    return TemporaryFailure(f"SMTP {code}")
