"""Real SMTP servers on loopback for tests: a programmable aiosmtpd sink, one that never answers, and
helpers to read what arrived and to send calendar replies the way mail clients do."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.encoders import encode_base64
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path
from typing import Any

import aiosmtplib
from aiosmtpd.smtp import SMTP

from config.settings import Settings
from tests.service.harness import Service, service_settings

FIXTURE_UID = "sipvakt-meeting-0042-1@sipvakt.example.se"
MAIL_DOMAIN = "sipvakt.example.se"
MAIL_FROM = f"sipvakt@{MAIL_DOMAIN}"


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes

    @property
    def message(self) -> Message:
        return email.message_from_bytes(self.data, policy=email.policy.default)

    @property
    def message_id(self) -> str:
        # A long Message-ID is folded onto its own line; the parsed value then keeps the fold's space.
        return str(self.message["Message-ID"]).strip()

    def calendar_method(self) -> str | None:
        for part in self.message.walk():
            if part.get_content_type() == "text/calendar":
                method = part.get_param("method")
                return str(method) if method else None
        return None

    def text(self) -> str:
        """Every text part, decoded."""
        parts = []
        for part in self.message.walk():
            if part.get_content_maintype() == "text" and not part.is_multipart():
                payload = part.get_payload(decode=True)
                assert isinstance(payload, bytes)
                parts.append(payload.decode(part.get_content_charset() or "utf-8"))
        return "\n".join(parts)


@dataclass
class MailSink:
    """Accepts mail, unless told to answer otherwise: for everyone, or for one recipient."""

    received: list[Received] = field(default_factory=list)
    rcpt_answer: str | None = None
    rcpt_answers: dict[str, str] = field(default_factory=dict)
    data_answer: str | None = None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        answer = self.rcpt_answers.get(address.lower()) or self.rcpt_answer
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_answer:
            return self.data_answer
        self.received.append(
            Received(envelope.mail_from, tuple(envelope.rcpt_tos), envelope.original_content)
        )
        return "250 OK"

    def to(self, address: str) -> list[Received]:
        return [mail for mail in self.received if address in mail.rcpt_tos]


def mailing_settings(database_url: str, data_dir: Path, smtp_port: int, **overrides: str) -> Settings:
    """Service settings that send mail to the test SMTP server on `smtp_port`."""
    return service_settings(
        database_url,
        data_dir,
        SIPVAKT_SMTP_HOST="127.0.0.1",
        SIPVAKT_SMTP_PORT=str(smtp_port),
        SIPVAKT_MAIL_FROM=MAIL_FROM,
        **overrides,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def smtp_server(handler: object, port: int = 0, *, smtputf8: bool = False) -> AsyncIterator[int]:
    """A real aiosmtpd server on loopback; with `smtputf8` it offers SMTPUTF8 (RFC 6531)."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, loop=loop, enable_SMTPUTF8=smtputf8), "127.0.0.1", port
    )
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@asynccontextmanager
async def silent_server(port: int = 0) -> AsyncIterator[int]:
    """Accepts connections and never says a word: not even the greeting."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", port)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


def fixture_reply(ics: bytes, uid: str) -> bytes:
    return ics.replace(FIXTURE_UID.encode(), uid.encode())


def calendar_mail(
    ics: bytes,
    *,
    method: str | None = "REPLY",
    content_type: str = "text/calendar",
    sender: str = "alias@example.net",
) -> bytes:
    """A reply as a client sends it: text plus the calendar (as ``content_type``, ``method=`` if given)."""
    message = MIMEMultipart("mixed")
    message["From"] = sender
    message["To"] = MAIL_FROM
    message["Subject"] = "Svar: SIP-mote"
    message.attach(MIMEText("Se bifogat svar.", "plain", "utf-8"))
    maintype, subtype = content_type.split("/")
    part = MIMEBase(maintype, subtype)
    part.set_payload(ics)
    encode_base64(part)
    if method is not None:
        part.set_param("method", method)
    if content_type == "application/ics":
        part.add_header("Content-Disposition", "attachment", filename="invite.ics")
    message.attach(part)
    return message.as_bytes(policy=SMTP_POLICY)


async def send_reply(service: Service, raw: bytes, sender: str = "alias@example.net") -> str:
    """Send to the service's inbound receiver; return the text of its 250 answer (anything else raises)."""
    port = service.runtime.settings.inbound_smtp_port
    assert port is not None
    _, answer = await aiosmtplib.send(
        raw, sender=sender, recipients=[MAIL_FROM], hostname="127.0.0.1", port=port, timeout=10
    )
    return answer


def reply_token(mail: Received) -> str:
    match = re.search(r"/rsvp/([a-z2-7]{20})\?svar=ja", mail.text())
    assert match is not None, "no reply link in the message"
    return match.group(1)
