"""The service's own inbound SMTP receiver: STARTTLS with a configured certificate, and each limit refused
with its SMTP code (README, Settings)."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

import aiosmtplib
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from config.settings import Settings
from tests.service.harness import Service
from tests.service.mail import MAIL_FROM, MailSink
from tests.service.replies import attendee_mail, fixture, metrics, replying_service, statuses

HOST = "127.0.0.1"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sipvakt test receiver")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "inbound.crt", directory / "inbound.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def client_context(cert: Path) -> ssl.SSLContext:
    """A client that trusts exactly the test certificate."""
    context = ssl.create_default_context(cafile=str(cert))
    return context


@pytest.fixture
async def tls_service(
    database_url: str, tmp_path: Path, sink: tuple[MailSink, int]
) -> AsyncIterator[tuple[Service, Path]]:
    cert, key = self_signed(tmp_path)
    async with replying_service(
        database_url,
        tmp_path,
        sink[1],
        SIPVAKT_INBOUND_TLS_CERT=str(cert),
        SIPVAKT_INBOUND_TLS_KEY=str(key),
    ) as running_service:
        yield running_service, cert


def inbound_port(service: Service) -> int:
    port = service.runtime.settings.inbound_smtp_port
    assert port is not None
    return port


async def test_starttls_is_offered_and_a_reply_sent_over_it_counts(tls_service: tuple[Service, Path]) -> None:
    service, cert = tls_service
    raw, sender = await attendee_mail(service, fixture("android-accepted.ics"))
    client = aiosmtplib.SMTP(hostname=HOST, port=inbound_port(service), start_tls=False, timeout=10)
    async with client:
        await client.ehlo()
        assert client.supports_extension("starttls")
        await client.starttls(tls_context=client_context(cert))
        transport = client.transport
        assert transport is not None
        ssl_object = transport.get_extra_info("ssl_object")
        assert ssl_object is not None and ssl_object.version() in ("TLSv1.2", "TLSv1.3")
        await client.sendmail(sender, [MAIL_FROM], raw)
    await service.settle()
    assert (await statuses(service))["p-android"] == "accepted"


async def test_a_plain_connection_is_still_taken(tls_service: tuple[Service, Path]) -> None:
    """A sending server without TLS must still reach us: STARTTLS is offered, not required."""
    service, _ = tls_service
    raw, sender = await attendee_mail(service, fixture("android-accepted.ics"))
    await aiosmtplib.send(
        raw, sender=sender, recipients=[MAIL_FROM], hostname=HOST, port=inbound_port(service), start_tls=False
    )
    await service.settle()
    assert (await statuses(service))["p-android"] == "accepted"


def test_a_certificate_without_its_key_is_a_settings_error(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path)
    with pytest.raises(ValueError, match="SIPVAKT_INBOUND_TLS_KEY"):
        Settings(inbound_tls_cert=cert)


@pytest.fixture
async def limited(database_url: str, tmp_path: Path, sink: tuple[MailSink, int]) -> AsyncIterator[Service]:
    async with replying_service(
        database_url,
        tmp_path,
        sink[1],
        SIPVAKT_INBOUND_MAX_MESSAGE_BYTES="20000",
        SIPVAKT_INBOUND_MAX_MIME_PARTS="6",
        SIPVAKT_INBOUND_MAX_RECIPIENTS="2",
        SIPVAKT_INBOUND_MAX_CONNECTIONS="2",
    ) as running_service:
        yield running_service


def text_mail(parts: int, size: int = 100) -> bytes:
    message = MIMEMultipart("mixed")
    message["From"] = "david.test@example.org"
    message["To"] = MAIL_FROM
    message["Subject"] = "Svar"
    for index in range(parts):
        message.attach(MIMEText(f"Del {index} " + "x" * size, "plain", "utf-8"))
    return message.as_bytes()


async def test_a_message_over_the_size_limit_is_refused_with_552(limited: Service) -> None:
    client = aiosmtplib.SMTP(hostname=HOST, port=inbound_port(limited), start_tls=False, timeout=10)
    async with client:
        await client.ehlo()
        # The limit is offered in EHLO (RFC 1870) and enforced when the data comes.
        assert client.esmtp_extensions.get("size") == "20000"
        with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
            await client.sendmail("david.test@example.org", [MAIL_FROM], text_mail(2, size=15000))
        assert refused.value.code == 552
    # A message within the limit still goes.
    async with client:
        await client.sendmail("david.test@example.org", [MAIL_FROM], text_mail(2))


async def test_a_message_with_too_many_parts_is_refused_with_552(limited: Service) -> None:
    client = aiosmtplib.SMTP(hostname=HOST, port=inbound_port(limited), start_tls=False, timeout=10)
    async with client:
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await client.sendmail("david.test@example.org", [MAIL_FROM], text_mail(6))
        assert refused.value.code == 552 and "5.3.4" in refused.value.message
        # Five parts and the container: within the limit.
        await client.sendmail("david.test@example.org", [MAIL_FROM], text_mail(5))
    assert 'outcome="too_many_parts"} 1.0' in await metrics(limited)


async def test_recipients_beyond_the_limit_are_refused_with_452(limited: Service) -> None:
    client = aiosmtplib.SMTP(hostname=HOST, port=inbound_port(limited), start_tls=False, timeout=10)
    async with client:
        await client.ehlo()
        await client.mail("david.test@example.org")
        for address in (MAIL_FROM, "svar@sipvakt.example.se"):
            accepted = await client.rcpt(address)
            assert accepted.code == 250
        with pytest.raises(aiosmtplib.SMTPRecipientRefused) as refused:
            await client.rcpt("tredje@sipvakt.example.se")
        assert refused.value.code == 452 and "4.5.3" in refused.value.message


async def greeting(port: int) -> tuple[bytes, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(HOST, port)
    return await asyncio.wait_for(reader.readline(), 10), writer


async def test_connections_beyond_the_limit_are_refused_with_421(limited: Service) -> None:
    port = inbound_port(limited)
    held = [await greeting(port) for _ in range(2)]
    try:
        assert all(line.startswith(b"220") for line, _ in held)
        line, extra = await greeting(port)
        assert line.startswith(b"421 4.7.0")
        extra.close()
    finally:
        for _, writer in held:
            writer.close()
            await writer.wait_closed()
    # Once the others have gone, a new connection is served again.
    for _ in range(50):
        line, writer = await greeting(port)
        writer.close()
        if line.startswith(b"220"):
            break
        await asyncio.sleep(0.05)
    assert line.startswith(b"220")
    assert 'outcome="too_many_connections"} 1.0' in await metrics(limited)
