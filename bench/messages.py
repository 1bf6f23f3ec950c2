"""How fast invitations are built and handed to SMTP, against sending the same bytes already built.

Every run sends to a local aiosmtpd (in its own thread, like a separate server), one message at a time,
as the delivery worker does, over sessions kept open by `notifiers.smtp_pool.SmtpPool` as the service
does. Each round builds every invitation (text, HTML, iCalendar REQUEST, reply links) right before
sending it, and beside it sends the bytes the previous round built over the same kind of kept session:
the realistic baseline. The two halves of a round swap order every other round, and the figure is the
median of the rounds' ratios, so that load from elsewhere on a shared machine weighs on both alike. The
ratio is how much of the SMTP rate is left once building is included. For comparison the pre-built bytes
also go one connection per message (`SmtpTransport`), as they did before sessions were kept.

    .venv/bin/python bench/messages.py [--messages 300] [--rounds 21] [--quick] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import socket
import statistics
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiosmtpd.controller import Controller
from common import profile_summary, result, spread

from notifiers.compose import Sender, meeting_email
from notifiers.smtp_pool import SmtpPool
from notifiers.transport import SmtpTransport, Transport
from scheduler.case import Case, ContactInfo, Invitation, Meeting, ParticipantInfo, PersonInfo
from service.storage.calendar_uids import new_uid
from service.storage.reply_tokens import Invitee, ReplyTokens

GOAL = 0.70
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


def built(case: Case, participant: ParticipantInfo, tokens: ReplyTokens) -> tuple[str, bytes]:
    """One invitation as the delivery worker writes it: its reply links from the token, then the e-mail."""
    key = f"{case.case_id}/m1/{participant.participant_id}/request/0"
    token = tokens.token(Invitee(case.case_id, "m1", participant.participant_id))
    message = meeting_email(
        case,
        case.meetings["m1"],
        participant,
        "request",
        0,
        key,
        SENDER,
        NOW,
        new_uid(SENDER.domain),
        tokens.links(token),
    )
    return key, message


async def built_and_sent(case: Case, transport: Transport, tokens: ReplyTokens) -> tuple[float, list[bytes]]:
    sent: list[bytes] = []
    started = time.perf_counter()
    for participant in case.meetings["m1"].participants.values():
        assert participant.email is not None
        key, message = built(case, participant, tokens)
        await transport.send(SENDER.mail_from, participant.email, message, key)
        sent.append(message)
    return time.perf_counter() - started, sent


def profile_building(count: int, rounds: int) -> None:
    """Building alone, without SMTP: its time per message, then where that time goes (cProfile)."""
    tokens = ReplyTokens(b"k" * 32, "https://sipvakt.example.se")
    case = meeting_case(count)
    participants = list(case.meetings["m1"].participants.values())
    for participant in participants:  # warm up imports and caches, as the measured runs do
        built(case, participant, tokens)
    per_message = []
    for _ in range(rounds):
        started = time.perf_counter()
        for participant in participants:
            built(case, participant, tokens)
        per_message.append((time.perf_counter() - started) * 1000 / count)
    print(
        f"building alone, no SMTP:        {statistics.median(per_message):8.3f} ms per message   "
        f"({spread(per_message)})"
    )
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(rounds):
        for participant in participants:
            built(case, participant, tokens)
    profile.disable()
    print(profile_summary(profile, 40))


async def prebuilt_sent(messages: list[bytes], transport: Transport) -> float:
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
        kept = SmtpPool(host="127.0.0.1", port=port, tls="none")
        single = SmtpTransport(host="127.0.0.1", port=port, tls="none")
        tokens = ReplyTokens(b"k" * 32, "https://sipvakt.example.se")
        case = meeting_case(count)
        # Warm up imports, caches and sockets; its messages are the first round's pre-built bytes.
        _, messages = await built_and_sent(case, kept, tokens)
        built_rates, prebuilt_rates, single_rates = [], [], []
        for round_number in range(rounds):
            # Each round pairs a built run with a pre-built run taken right beside it, and the order
            # alternates, so that load from elsewhere that comes and goes weighs on both sides alike.
            if round_number % 2 == 0:
                built_seconds, built_messages = await built_and_sent(case, kept, tokens)
                prebuilt_seconds = await prebuilt_sent(messages, kept)
            else:
                prebuilt_seconds = await prebuilt_sent(messages, kept)
                built_seconds, built_messages = await built_and_sent(case, kept, tokens)
            messages = built_messages
            single_seconds = await prebuilt_sent(messages, single)
            built_rates.append(count / built_seconds)
            prebuilt_rates.append(count / prebuilt_seconds)
            single_rates.append(count / single_seconds)
        await kept.close()
        ratios = [b / p for b, p in zip(built_rates, prebuilt_rates, strict=True)]
        median = statistics.median
        built, prebuilt, alone = median(built_rates), median(prebuilt_rates), median(single_rates)
        size = sum(len(message) for message in messages) // len(messages)
        print(f"messages per round:             {count} ({size} bytes each), {rounds} paired rounds")
        print(f"built and delivered, kept:      {built:8.1f} messages/s   (median of the rounds)")
        print(f"pre-built, kept sessions:       {prebuilt:8.1f} messages/s   (baseline)")
        share = alone / prebuilt
        print(f"pre-built, a connection each:   {alone:8.1f} messages/s   {share:6.1%} of the baseline")
        print(f"ratio built / baseline:         {statistics.median(ratios):8.1%}   ({spread(ratios)})")
        print(f"building alone (per message):   {1000 / built - 1000 / prebuilt:8.2f} ms")
        print(f"sessions opened by the pool:    {kept.opened}")
        assert handler.messages == count + 3 * count * rounds
        ratio = statistics.median(ratios)
        result("messages_built_vs_kept_prebuilt", ratio, f">={GOAL:.2f}", ratio >= GOAL)
    finally:
        controller.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--quick", action="store_true", help="100 messages, 11 rounds")
    parser.add_argument(
        "--profile", action="store_true", help="time and profile building alone, without SMTP, and stop"
    )
    arguments = parser.parse_args()
    if arguments.profile:
        profile_building(
            100 if arguments.quick else arguments.messages, 11 if arguments.quick else arguments.rounds
        )
    elif arguments.quick:
        asyncio.run(main(100, 11))
    else:
        asyncio.run(main(arguments.messages, arguments.rounds))
