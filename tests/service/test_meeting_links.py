"""A meeting link with non-ASCII letters leaves as a valid URI, in the calendar file and in the text."""

from __future__ import annotations

from pathlib import Path

from tests import samples
from tests.service.harness import started
from tests.service.mail import MailSink, mailing_settings

LINK = "https://möte.exempel.se/rum/Åsa-Öberg?namn=ö"
URI = "https://xn--mte-sna.exempel.se/rum/%C3%85sa-%C3%96berg?namn=%C3%B6"


async def test_a_link_with_non_ascii_letters_is_written_as_a_uri(
    database_url: str, tmp_path: Path, sink: tuple[MailSink, int]
) -> None:
    """RFC 5545 3.3.13 (URI values) and RFC 3986: the host in IDNA (RFC 5891), the rest percent-encoded."""
    mails, port = sink
    async with started(mailing_settings(database_url, tmp_path, port)) as service:
        await service.push(samples.case_opened())
        await service.push(samples.consent_given())
        await service.push(samples.meeting_scheduled(online_url=LINK))
        await service.settle()
    [invitation] = mails.to("asa.oberg@example.org")
    calendar = next(p for p in invitation.message.walk() if p.get_content_type() == "text/calendar")
    payload = calendar.get_payload(decode=True)
    assert isinstance(payload, bytes)
    unfolded = payload.decode().replace("\r\n ", "")
    assert f"\r\nURL:{URI}\r\n" in unfolded
    assert URI in invitation.text() and "möte.exempel" not in invitation.text()
