"""The inbound SMTP receiver (aiosmtpd, on SIPVAKT_INBOUND_SMTP_PORT): STARTTLS and limits around
``service.inbound.ReplyReceiver``.

A calendar reply is a few kilobytes with a handful of MIME parts, sent to one address; each limit below
refuses what is far beyond that, with the code RFC 5321 and RFC 3463 give for it, before anything is read:

| limit | answer |
| --- | --- |
| message size (`SIPVAKT_INBOUND_MAX_MESSAGE_BYTES`, also offered as EHLO SIZE) | 552 (aiosmtpd's own) |
| MIME parts (`SIPVAKT_INBOUND_MAX_MIME_PARTS`) | 552 5.3.4 after DATA |
| recipients per message (`SIPVAKT_INBOUND_MAX_RECIPIENTS`) | 452 4.5.3 to each RCPT beyond it |
| open connections (`SIPVAKT_INBOUND_MAX_CONNECTIONS`) | 421 4.7.0 as the greeting, then closed |

With ``SIPVAKT_INBOUND_TLS_CERT`` and ``SIPVAKT_INBOUND_TLS_KEY`` the receiver offers STARTTLS (TLS 1.2 or
newer); it does not require it, since a sending server that cannot do TLS must still reach us.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP

from service.mail.inbound import ReplyReceiver

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InboundLimits:
    max_message_bytes: int = 2_000_000
    max_mime_parts: int = 50
    max_recipients: int = 10
    max_connections: int = 50


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server context for STARTTLS from PEM files; a file that cannot be read stops the start."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile=str(cert), keyfile=str(key))
    return context


def mime_parts(raw: bytes) -> int:
    """How many MIME parts the message has, itself included."""
    return sum(1 for _ in message_from_bytes(raw, policy=policy.compat32).walk())


class _Handler:
    def __init__(self, receiver: ReplyReceiver, limits: InboundLimits) -> None:
        self.receiver = receiver
        self.limits = limits

    async def handle_RCPT(
        self, server: SMTP, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if len(envelope.rcpt_tos) >= self.limits.max_recipients:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content or b""
        data = raw if isinstance(raw, bytes) else raw.encode("utf-8", "replace")
        if mime_parts(data) > self.limits.max_mime_parts:
            self.receiver.metrics.replies.labels("smtp", "too_many_parts").inc()
            return "552 5.3.4 Too many MIME parts"
        mail_from = envelope.mail_from if isinstance(envelope.mail_from, str) else None
        try:
            await self.receiver.receive(data, mail_from)
        except Exception:
            log.exception("a calendar reply could not be stored; the sender will try again")
            return "451 4.3.0 Temporary failure, please try again later"
        return "250 2.0.0 OK"


class _Busy(asyncio.Protocol):
    """Answers a connection beyond the limit with 421 (RFC 5321 3.8) and closes it."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(b"421 4.7.0 Too many connections, try again later\r\n")
        transport.close()


class _Counted(SMTP):
    """aiosmtpd's SMTP session, counted among the open connections until it is lost."""

    def __init__(self, handler: _Handler, gate: _Gate, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._gate = gate

    def connection_lost(self, error: Exception | None) -> None:
        self._gate.leave(self)
        super().connection_lost(error)


class _Gate:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open: set[SMTP] = set()

    def leave(self, session: SMTP) -> None:
        self.open.discard(session)


async def start_inbound_smtp(
    host: str,
    port: int,
    receiver: ReplyReceiver,
    limits: InboundLimits | None = None,
    tls: ssl.SSLContext | None = None,
) -> asyncio.Server:
    """Listen for replies on the running loop; close the returned server to stop."""
    # aiosmtpd logs every command at INFO, addresses included; only its warnings belong in our log.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    loop = asyncio.get_running_loop()
    limits = limits or InboundLimits()
    handler = _Handler(receiver, limits)
    gate = _Gate(limits.max_connections)

    def protocol() -> asyncio.Protocol:
        if len(gate.open) >= gate.limit:
            receiver.metrics.replies.labels("smtp", "too_many_connections").inc()
            return _Busy()
        session = _Counted(
            handler,
            gate,
            data_size_limit=limits.max_message_bytes,
            enable_SMTPUTF8=True,
            tls_context=tls,
            loop=loop,
        )
        gate.open.add(session)
        return session

    return await loop.create_server(protocol, host, port)
