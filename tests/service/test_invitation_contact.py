"""What a guardian and a professional read in their invitations, end to end through the delivery worker:
everyone is told which coordinator to ask and how; only the professional gets the case reference,
worded as a professionals' handle, in the subject, the body and the calendar."""

from __future__ import annotations

from pathlib import Path

from icalendar import Calendar

from tests import samples
from tests.service.harness import started
from tests.service.mail import MailSink, Received, mailing_settings, smtp_server

CASE_ID = "blek-2026-0042"
# Not the meeting's organizer: the contact named is the case's coordinator.
COORDINATOR = {
    "name": "Kim Samordnare (test)",
    "email": "kim.samordnare@example.se",
    "organisation": "Testkommun socialtjänst",
}
CONTACT = "Kim Samordnare (test), Testkommun socialtjänst, kim.samordnare@example.se"


def calendar_event(mail: Received) -> dict[str, str]:
    for part in mail.message.walk():
        if part.get_content_type() == "text/calendar":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            [event] = Calendar.from_ical(payload).walk("VEVENT")
            return {key: str(event.get(key, "")) for key in ("SUMMARY", "DESCRIPTION", "LOCATION")}
    raise AssertionError("no calendar")


def bodies(mail: Received) -> str:
    """The plain-text and HTML bodies, decoded."""
    found = []
    for part in mail.message.walk():
        if part.get_content_type() in ("text/plain", "text/html"):
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found.append(payload.decode(part.get_content_charset() or "utf-8"))
    return "\n".join(found)


def what_a_reader_sees(mail: Received) -> str:
    """Subject, bodies and the calendar's visible fields (not ids such as the UID)."""
    return "\n".join([str(mail.message["Subject"]), bodies(mail), *calendar_event(mail).values()])


async def test_a_guardian_is_told_whom_to_ask_and_only_a_professional_gets_the_case_reference(
    database_url: str, tmp_path: Path
) -> None:
    sink = MailSink()
    async with smtp_server(sink) as port, started(mailing_settings(database_url, tmp_path, port)) as service:
        await service.push(samples.case_opened(coordinator=COORDINATOR))
        await service.push(samples.consent_given())
        await service.push(samples.meeting_scheduled())
        await service.settle()
    [guardian] = sink.to("asa.oberg@example.org")
    [professional] = sink.to("sam@example.se")

    seen = what_a_reader_sees(guardian)
    assert CASE_ID not in seen
    assert "Ärende" not in seen and "ärende" not in seen
    assert guardian.message["Subject"] == "Kallelse till SIP-möte 17 december 2026 kl. 13.00"
    assert f"Frågor? Kontakta samordnaren: {CONTACT}" in bodies(guardian)
    assert f"Frågor? Kontakta samordnaren: {CONTACT}" in calendar_event(guardian)["DESCRIPTION"]
    assert calendar_event(guardian)["SUMMARY"] == "SIP-möte"

    assert professional.message["Subject"] == (
        f"Kallelse till SIP-möte 17 december 2026 kl. 13.00 (ärendereferens {CASE_ID})"
    )
    assert f"Ärendereferens (för yrkesverksamma): {CASE_ID}" in bodies(professional)
    assert CONTACT in bodies(professional)
    assert calendar_event(professional)["SUMMARY"] == f"SIP-möte (ärendereferens {CASE_ID})"
