"""How fast invitations are built and handed to SMTP, against sending the same bytes already built.

Both runs send one message per SMTP connection through `notifiers.transport.SmtpTransport` to a local
aiosmtpd (in its own thread, like a separate server), one message at a time, as the delivery worker does.
The first run builds each invitation (text, HTML, iCalendar REQUEST, reply links) right before sending
it; the second sends the bytes the first run built. The ratio is how much of the SMTP rate is left once
building is included: building is cheap when the ratio is close to 100 %.

    .venv/bin/python bench/messages.py [--messages 300]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiosmtpd.controller import Controller

from notifiers.compose import Sender, meeting_email
from notifiers.transport import SmtpTransport
from scheduler.case import Case, ContactInfo, Invitation, Meeting, ParticipantInfo, PersonInfo
from service.calendar_uids import new_uid
from service.reply_tokens import Invitee, ReplyTokens

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SENDER = Sender(
    "sipvakt@sipvakt.example.se", "sipvakt@sipvakt.example.se", "sipvakt.example.se", b"bench message key"
)


@dataclass
class Counting:
    messages: int = 0
    sizes: list[int] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages += 1
        return "250 OK"


def meeting_case(participants: int) -> Case:
    organizer = ContactInfo(name="Kim Koordinator", email="kim@example.se", organisation="Testkommun")
    meeting = Meeting(
        meeting_id="m1",
        kind="initial",
        starts_at=NOW + timedelta(days=24),
        ends_at=NOW + timedelta(days=24, hours=1, minutes=30),
        location="Testskolan, rum 3",
        organizer=organizer,
        purpose="Samordna insatser i skola och hem",
        questions=["Hur går det i skolan?", "Vad behöver familjen?"],
        scheduled_at=NOW,
    )
    for index in range(participants):
        participant_id = f"p{index}"
        meeting.participants[participant_id] = ParticipantInfo(
            participant_id=participant_id,
            name=f"Deltagare {index} (test)",
            email=f"deltagare{index}@example.org",
            organisation="Testskolan",
            role="professional",
            channel="email",
        )
        meeting.invitations[participant_id] = Invitation(participant_id=participant_id, channel="email")
    return Case(
        case_id="bench-2026-0001",
        integration_id="default",
        region="blekinge",
        urgent=False,
        person=PersonInfo(reference="person-1"),
        detected_at=NOW.date(),
        detected_by="skola",
        coordinator=organizer,
        opened_at=NOW,
        meetings={"m1": meeting},
    )


async def built_and_sent(
    case: Case, transport: SmtpTransport, tokens: ReplyTokens
) -> tuple[float, list[bytes]]:
    meeting = case.meetings["m1"]
    sent: list[bytes] = []
    started = time.perf_counter()
    for participant in meeting.participants.values():
        assert participant.email is not None
        key = f"{case.case_id}/m1/{participant.participant_id}/request/0"
        token = tokens.token(Invitee(case.case_id, "m1", participant.participant_id))
        message = meeting_email(
            case,
            meeting,
            participant,
            "request",
            0,
            key,
            SENDER,
            NOW,
            new_uid(SENDER.domain),
            tokens.links(token),
        )
        await transport.send(SENDER.mail_from, participant.email, message, key)
        sent.append(message)
    return time.perf_counter() - started, sent


async def prebuilt_sent(messages: list[bytes], transport: SmtpTransport) -> float:
    started = time.perf_counter()
    for index, message in enumerate(messages):
        await transport.send(SENDER.mail_from, f"deltagare{index}@example.org", message, str(index))
    return time.perf_counter() - started


async def main(count: int, rounds: int) -> None:
    handler = Counting()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        transport = SmtpTransport(host="127.0.0.1", port=port, tls="none")
        tokens = ReplyTokens(b"k" * 32, "https://sipvakt.example.se")
        case = meeting_case(count)
        await built_and_sent(meeting_case(20), transport, tokens)  # warm up imports, caches, sockets
        built_rates, prebuilt_rates = [], []
        for _ in range(rounds):
            built_seconds, messages = await built_and_sent(case, transport, tokens)
            prebuilt_seconds = await prebuilt_sent(messages, transport)
            built_rates.append(count / built_seconds)
            prebuilt_rates.append(count / prebuilt_seconds)
        built, prebuilt = max(built_rates), max(prebuilt_rates)
        size = sum(len(message) for message in messages) // len(messages)
        print(f"messages per round:           {count} ({size} bytes each), best of {rounds} rounds")
        print(f"built and delivered:          {built:8.1f} messages/s")
        print(f"pre-built bytes delivered:    {prebuilt:8.1f} messages/s")
        print(f"ratio:                        {built / prebuilt:8.1%}")
        print(f"building alone (per message): {1000 / built - 1000 / prebuilt:8.2f} ms")
        assert handler.messages == 20 + 2 * count * rounds
    finally:
        controller.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.messages, arguments.rounds))
