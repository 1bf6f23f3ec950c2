"""Where e-mail goes: an SMTP server (aiosmtplib), or `.eml` files in a folder when none is configured."""

from __future__ import annotations

import asyncio
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import aiosmtplib

TlsMode = Literal["none", "starttls", "tls"]
SMTP_TIMEOUT_SECONDS = 30.0


class PermanentFailure(Exception):
    """The server refused the message for good (5xx): sending again will not help."""


class TemporaryFailure(Exception):
    """The message did not leave this time (connection, timeout, 4xx): try again later."""


class Transport(Protocol):
    async def send(self, sender: str, recipient: str, message: bytes, key: str) -> None: ...

    async def close(self) -> None:
        """Let go of whatever the transport keeps open (kept SMTP sessions); it is not used after."""


@dataclass(frozen=True)
class SmtpTransport:
    host: str
    port: int
    tls: TlsMode
    username: str | None = None
    password: str | None = None
    timeout: float = SMTP_TIMEOUT_SECONDS

    async def send(self, sender: str, recipient: str, message: bytes, key: str) -> None:
        """One message over a connection of its own. `recipient` is a wire address: domain in ASCII."""
        try:
            async with self._client() as client:
                await transmit(client, sender, recipient, message)
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                raise PermanentFailure(f"SMTP {exc.code}") from None
            raise TemporaryFailure(f"SMTP {exc.code}") from None
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [error.code for error in exc.recipients]
            if codes and all(500 <= code < 600 for code in codes):
                raise PermanentFailure(f"SMTP {codes[0]}") from None
            raise TemporaryFailure(f"SMTP {codes[0] if codes else 'refused'}") from None
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            raise TemporaryFailure(type(exc).__name__) from None

    async def close(self) -> None:
        """Nothing is kept: each message had a connection of its own."""

    def _client(self) -> aiosmtplib.SMTP:
        # With starttls or tls configured, a server that cannot do TLS is an error, never plaintext.
        return aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.tls == "tls",
            start_tls=self.tls == "starttls",
            timeout=self.timeout,
        )


async def transmit(client: aiosmtplib.SMTP, sender: str, recipient: str, message: bytes) -> None:
    """Hand one message to a connected client. An address beyond ASCII goes with SMTPUTF8; a server
    that does not offer it can never take this message, so that is a permanent failure."""
    needs_utf8 = not (sender.isascii() and recipient.isascii())
    try:
        await client.sendmail(sender, [recipient], message, mail_options=["SMTPUTF8"] if needs_utf8 else [])
    except aiosmtplib.SMTPNotSupported:
        if needs_utf8:
            raise PermanentFailure("the server does not offer SMTPUTF8, which the address needs") from None
        raise


def eml_name(key: str) -> str:
    """The file a message's key is written to: the key with every character unsafe in a name as `_`."""
    return "".join(char if char.isalnum() or char in "-_." else "_" for char in key) + ".eml"


@dataclass(frozen=True)
class FolderTransport:
    """Writes each message to `<folder>/<key>.eml`, atomically, so a reader never sees half a file."""

    folder: Path

    async def send(self, sender: str, recipient: str, message: bytes, key: str) -> None:
        await asyncio.to_thread(self._write, key, message)

    async def close(self) -> None:
        """Nothing is kept open between messages."""

    def _write(self, key: str, message: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = eml_name(key)
        descriptor, temporary = tempfile.mkstemp(dir=self.folder, suffix=".part")
        with os.fdopen(descriptor, "wb") as file:
            file.write(message)
        os.replace(temporary, self.folder / name)
