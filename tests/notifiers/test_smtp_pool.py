"""Kept SMTP sessions against real aiosmtpd servers that end sessions the ways real ones do: closing the
connection between messages, answering 421, refusing one message, or hanging in the middle of one."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from notifiers.smtp_pool import SmtpPool
from notifiers.transport import PermanentFailure, TemporaryFailure
from tests.service.mail import MailSink, smtp_server

SENDER = "sipvakt@sipvakt.example.se"


def message(number: int) -> bytes:
    return (
        f"From: {SENDER}\r\nTo: deltagare{number}@example.org\r\n"
        f"Message-ID: <msg-{number}@sipvakt.example.se>\r\nSubject: Kallelse {number}\r\n\r\nHej.\r\n"
    ).encode()


class Sessions(MailSink):
    """Counts the sessions the messages came over and the QUITs it was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.peers: list[Any] = []
        self.quits = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        if answer.startswith("250"):
            self.peers.append(session.peer)
        return answer

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        self.quits += 1
        return "221 Bye"

    def ids(self) -> Counter[str]:
        return Counter(mail.message_id for mail in self.received)


class ClosesAfterEachMessage(Sessions):
    """Takes one message per session: at the next MAIL it drops the connection without a word, as a
    server does that timed the session out while the client still thought it open."""

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if session.peer in self.peers:
            server.transport.abort()
            return "250 OK"
        envelope.mail_from = address
        return "250 OK"


class ClosingDownMidSession(Sessions):
    """Answers 421 (closing down) to the third MAIL of each session, and to the second message's final
    dot, then drops the connection, as a server being restarted does."""

    def __init__(self) -> None:
        super().__init__()
        self.mails: Counter[Any] = Counter()
        self.refused_at_dot = False

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        self.mails[session.peer] += 1
        if self.mails[session.peer] == 3:
            asyncio.get_running_loop().call_soon(server.transport.close)
            return "421 4.3.2 Service shutting down"
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if len(self.received) == 1 and not self.refused_at_dot:
            self.refused_at_dot = True
            asyncio.get_running_loop().call_soon(server.transport.close)
            return "421 4.3.2 Service shutting down"
        return await super().handle_DATA(server, session, envelope)


async def send_all(pool: SmtpPool, count: int) -> None:
    for number in range(count):
        await pool.send(SENDER, f"deltagare{number}@example.org", message(number), str(number))


async def test_many_messages_go_over_one_kept_session() -> None:
    sink = Sessions()
    async with smtp_server(sink) as port:
        pool = SmtpPool("127.0.0.1", port, "none", timeout=5.0)
        await send_all(pool, 6)
        await pool.close()
    assert pool.opened == 1
    assert len(set(sink.peers)) == 1
    assert sink.ids() == Counter({f"<msg-{n}@sipvakt.example.se>": 1 for n in range(6)})
    assert sink.quits == 1


async def test_concurrent_messages_use_at_most_the_pool_size_in_sessions() -> None:
    sink = Sessions()
    async with smtp_server(sink) as port:
        pool = SmtpPool("127.0.0.1", port, "none", timeout=5.0, size=3)
        sends = [pool.send(SENDER, f"d{n}@example.org", message(n), str(n)) for n in range(30)]
        await asyncio.gather(*sends)
        await pool.close()
    assert 1 < pool.opened <= 3
    assert len(set(sink.peers)) == pool.opened
    assert len(sink.received) == 30 and all(count == 1 for count in sink.ids().values())


async def test_a_server_that_closes_between_messages_gets_each_once_over_a_new_session() -> None:
    sink = ClosesAfterEachMessage()
    async with smtp_server(sink) as port:
        pool = SmtpPool("127.0.0.1", port, "none", timeout=5.0)
        await send_all(pool, 4)
        await pool.close()
    assert sink.ids() == Counter({f"<msg-{n}@sipvakt.example.se>": 1 for n in range(4)})
    assert pool.opened == 4


async def test_a_421_mid_session_reopens_and_nothing_is_lost_or_doubled() -> None:
    sink = ClosingDownMidSession()
    async with smtp_server(sink) as port:
        pool = SmtpPool("127.0.0.1", port, "none", timeout=5.0)
        await send_all(pool, 7)
        await pool.close()
    # Every message arrived once although the server refused one at its final dot and ended sessions
    # at their third MAIL: each refusal was followed by a new session, never by a lost message.
    assert sink.ids() == Counter({f"<msg-{n}@sipvakt.example.se>": 1 for n in range(7)})
    assert sink.refused_at_dot
    assert pool.opened >= 3


async def test_a_421_on_a_new_session_is_a_temporary_failure() -> None:
    sink = Sessions()
    sink.data_answer = "421 4.3.2 Service shutting down"
    async with smtp_server(sink) as port:
        pool = SmtpPool("127.0.0.1", port, "none", timeout=5.0)
        with pytest.raises(TemporaryFailure, match="421"):
            await pool.send(SENDER, "d@example.org", message(0), "0")
        await pool.close()
    assert sink.received == []


async def test_a_refused_message_leaves_the_session_for_the_next_one() -> None:
    sink = Sessions()
    sink.rcpt_answers = {
        "gone@example.org": "550 5.1.1 No such user here",
        "full@example.org": "452 4.2.2 Mailbox full",
    }
    async with smtp_server(sink) as port:
        pool = SmtpPool("127.0.0.1", port, "none", timeout=5.0)
        with pytest.raises(PermanentFailure, match="550"):
            await pool.send(SENDER, "gone@example.org", message(0), "0")
        with pytest.raises(TemporaryFailure, match="452"):
            await pool.send(SENDER, "full@example.org", message(1), "1")
        await pool.send(SENDER, "d2@example.org", message(2), "2")
        await pool.close()
    assert pool.opened == 1
    assert [mail.rcpt_tos for mail in sink.received] == [("d2@example.org",)]


async def test_an_idle_session_is_closed_with_quit_and_a_new_one_opened_later() -> None:
    sink = Sessions()
    async with smtp_server(sink) as port:
        pool = SmtpPool("127.0.0.1", port, "none", timeout=5.0, idle_seconds=0.2)
        await send_all(pool, 2)
        await asyncio.sleep(0.6)
        assert sink.quits == 1
        await send_all(pool, 1)
        await pool.close()
    assert pool.opened == 2
    assert sink.quits == 2


class Hanging(Sessions):
    """Takes the first message, then never answers the second one's DATA."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.received:
            await asyncio.Event().wait()
        return await super().handle_DATA(server, session, envelope)


async def test_a_send_cancelled_midway_drops_its_session() -> None:
    sink = Hanging()
    async with smtp_server(sink) as port:
        pool = SmtpPool("127.0.0.1", port, "none", timeout=30.0)
        await send_all(pool, 1)
        sending = asyncio.create_task(pool.send(SENDER, "d@example.org", message(1), "1"))
        await asyncio.sleep(0.3)
        sending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sending
        # The session cut off is never used again: its state is unknown.
        await pool.close()
        assert pool.opened == 1
        assert sink.quits == 0
