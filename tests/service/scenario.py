"""Whole cases under the test clock: push events at their moments, let the time between them pass, and
read back what happened on which day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from calendars.stockholm import STOCKHOLM
from tests.service.harness import Service


@dataclass(frozen=True)
class Happening:
    """One thing sipvakt did, at a Stockholm wall-clock time: a message left, a deviation was recorded."""

    at: str
    what: str
    to: str

    def __str__(self) -> str:
        return f"{self.at} {self.what} -> {self.to}"


async def move_clock(service: Service, to: datetime) -> None:
    """Let time pass until `to`: every timer due on the way fires at its own moment."""
    response = await service.client.post("/v1/test-clock", json={"now": to.isoformat()})
    assert response.status == 200, await response.text()


async def walk(service: Service, until: datetime) -> None:
    """Let time pass until `until`; the one move fires every timer on the way at its own moment."""
    await move_clock(service, until)


async def push_at(service: Service, body: dict[str, Any]) -> None:
    """Move the clock to the event's moment, then push it and let it apply. Letters it queues are
    posted at once, so that a letter's invitation is sent when an e-mail's is."""
    await move_clock(service, datetime.fromisoformat(body["occurred_at"]))
    response = await service.push(body)
    assert response.status == 202, await response.text()
    await service.settle()
    if await service.post_letters():
        await service.settle()


def _local(moment: datetime) -> str:
    return moment.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")


async def happenings(service: Service, case_id: str) -> list[Happening]:
    """Every message queued for the case and every deviation recorded, in order of time."""
    pool = service.runtime.pool
    messages = await pool.fetch(
        "select created_at, kind, channel, recipient, payload from outbox where case_id = $1", case_id
    )
    deviations = await pool.fetch(
        "select detected_at, kind, participant_id, action_id from deviations where case_id = $1", case_id
    )
    found = [
        Happening(_local(row["created_at"]), _message_label(row["kind"], row["payload"]), _short(row))
        for row in messages
    ]
    found.extend(
        Happening(
            _local(row["detected_at"]),
            f"deviation {row['kind']}",
            row["participant_id"] or row["action_id"] or "-",
        )
        for row in deviations
    )
    return sorted(found, key=lambda h: (h.at, h.what, h.to))


def _message_label(kind: str, payload: dict[str, Any]) -> str:
    if kind == "reminder":
        return f"reminder {payload['reminder']}"
    if kind == "notice":
        return f"notice {payload['notice']}"
    return kind


def _short(row: Any) -> str:
    recipient: str = row["recipient"]
    return recipient.split("@")[0] if row["channel"] == "email" else "letter"
