"""The coordinators' daily digest, as pure functions: on which days it goes out, and what each one lists.

Once every working day each coordinator of open cases gets one message with up to five lists: the pending
deadlines of their cases due from today through a week ahead, the invitations to their upcoming meetings
that nobody has answered, those that have not reached their participant (still waiting for the mail server
or the post, or failed for good), the deviations recorded since the previous digest, and the answers to
upcoming meetings that came with a comment (a decline's reason), when there are any. A coordinator with
nothing on any list gets nothing that day.

The lists carry case references, dates, rule names and the names of the participants a coordinator
invited; the `Case` model holds no name or personnummer of the person a case is about, so neither can
reach a digest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from calendars.stockholm import STOCKHOLM, local_date
from calendars.workdays import WorkingCalendar
from scheduler.case import Case

NOTICE = "digest"
# Deadlines due from the digest's day through this many days later are listed.
HORIZON_DAYS = 7
# Invitations in these states have had no answer: `sent` is still waiting, `unanswered` is past its
# reply date and escalated.
UNANSWERED = ("sent", "unanswered")
# Invitations in these states have not reached the participant: nobody could have answered them.
NOT_DELIVERED = ("queued", "failed")


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DigestDeadline(_Item):
    case_id: str
    kind: str
    due: date
    rule: str


class DigestInvitation(_Item):
    case_id: str
    meeting_id: str
    starts_at: datetime
    participant: str
    organisation: str | None
    status: str
    # What the participant wrote with their answer (a decline's reason, say); only in `answers`.
    comment: str | None = None


class DigestDeviation(_Item):
    case_id: str
    kind: str
    detected_at: datetime


class Digest(_Item):
    """One coordinator's digest of one day: what its outbox row carries and its message is worded from."""

    day: date
    deadlines: tuple[DigestDeadline, ...] = ()
    invitations: tuple[DigestInvitation, ...] = ()
    undelivered: tuple[DigestInvitation, ...] = ()
    deviations: tuple[DigestDeviation, ...] = ()
    answers: tuple[DigestInvitation, ...] = ()

    # Every list of lines, each line about one case: what `empty` and `without_case` go through.
    LISTS: ClassVar[tuple[str, ...]] = ("deadlines", "invitations", "undelivered", "deviations", "answers")

    @property
    def empty(self) -> bool:
        return not any(getattr(self, name) for name in self.LISTS)

    def without_case(self, case_id: str) -> Digest:
        """The digest with no line about the case, as it is kept once the case is erased."""
        return self.model_copy(
            update={
                name: tuple(line for line in getattr(self, name) if line.case_id != case_id)
                for name in self.LISTS
            }
        )

    def payload(self) -> dict[str, Any]:
        """The outbox payload: the notice's name and the lists as JSON."""
        return {"notice": NOTICE, **self.model_dump(mode="json")}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Digest:
        return cls.model_validate({name: value for name, value in payload.items() if name != "notice"})


@dataclass(frozen=True)
class NewDeviation:
    """A row of the deviations table that no digest has listed yet."""

    deviation_id: str
    case_id: str
    kind: str
    detected_at: datetime


def coordinator_key(email: str) -> str:
    """Addresses are compared without case, so that one coordinator spelled two ways gets one digest."""
    return email.strip().lower()


# A deadline whose day is the person's birthday gives away their birth date; the case shows it instead.
PRIVATE_DEADLINES = frozenset({"turns_18"})


def collect(
    day: date, now: datetime, cases: Iterable[Case], deviations: Iterable[NewDeviation]
) -> dict[str, Digest]:
    """Every coordinator's digest for `day`, keyed by address; coordinators with nothing to read are left
    out. Closed cases are left out, and with them their deviations."""
    last_day = day + timedelta(days=HORIZON_DAYS)
    deadlines: dict[str, list[DigestDeadline]] = {}
    invitations: dict[str, list[DigestInvitation]] = {}
    undelivered: dict[str, list[DigestInvitation]] = {}
    answers: dict[str, list[DigestInvitation]] = {}
    found: dict[str, list[DigestDeviation]] = {}
    coordinator: dict[str, str] = {}
    for case in cases:
        if case.status != "open":
            continue
        address = coordinator_key(case.coordinator.email)
        coordinator[case.case_id] = address
        deadlines.setdefault(address, []).extend(
            DigestDeadline(case_id=case.case_id, kind=deadline.kind, due=deadline.due, rule=deadline.rule)
            for deadline in case.deadlines
            if deadline.status == "pending"
            and day <= deadline.due <= last_day
            and deadline.kind not in PRIVATE_DEADLINES
        )
        for meeting in case.meetings.values():
            if meeting.status != "scheduled" or meeting.starts_at <= now:
                continue
            for invitation in meeting.invitations.values():
                participant = meeting.participants.get(invitation.participant_id)
                if participant is None:
                    continue
                item = DigestInvitation(
                    case_id=case.case_id,
                    meeting_id=meeting.meeting_id,
                    starts_at=meeting.starts_at,
                    participant=participant.name,
                    organisation=participant.organisation,
                    status=invitation.status,
                )
                if invitation.status in UNANSWERED:
                    invitations.setdefault(address, []).append(item)
                elif invitation.status in NOT_DELIVERED:
                    undelivered.setdefault(address, []).append(item)
                elif invitation.comment:
                    # Until the meeting, so that a reason given the day before is not missed.
                    answers.setdefault(address, []).append(
                        item.model_copy(update={"comment": invitation.comment})
                    )
    for deviation in deviations:
        owner = coordinator.get(deviation.case_id)
        if owner is not None:
            found.setdefault(owner, []).append(
                DigestDeviation(
                    case_id=deviation.case_id, kind=deviation.kind, detected_at=deviation.detected_at
                )
            )
    digests = {}
    for address in sorted(set(coordinator.values())):
        digest = Digest(
            day=day,
            deadlines=tuple(sorted(deadlines.get(address, []), key=lambda d: (d.due, d.case_id, d.kind))),
            invitations=_by_meeting(invitations.get(address, [])),
            undelivered=_by_meeting(undelivered.get(address, [])),
            deviations=tuple(
                sorted(found.get(address, []), key=lambda d: (d.detected_at, d.case_id, d.kind))
            ),
            answers=_by_meeting(answers.get(address, [])),
        )
        if not digest.empty:
            digests[address] = digest
    return digests


def _by_meeting(invitations: list[DigestInvitation]) -> tuple[DigestInvitation, ...]:
    return tuple(sorted(invitations, key=lambda i: (i.starts_at, i.case_id, i.participant)))


@dataclass(frozen=True)
class DigestSchedule:
    """When digests go out: at `send_at` (Stockholm) on each working day."""

    calendar: WorkingCalendar
    send_at: time

    def due_at(self, day: date) -> datetime:
        return datetime.combine(day, self.send_at, tzinfo=STOCKHOLM)

    def next_day(self, now: datetime) -> date:
        """The first working day whose sending time is still ahead of `now`: what a fresh start arms."""
        today = local_date(now)
        if self.calendar.is_working_day(today) and now < self.due_at(today):
            return today
        return self.calendar.working_day_after(today)

    def catch_up_day(self, now: datetime) -> date:
        """The day a digest is owed for when an earlier day's timer fires after that day is over: today if
        it is a working day (even past the sending time: a late digest beats none), else the next one."""
        return self.calendar.working_day_on_or_after(local_date(now))

    def sends_on(self, day: date, now: datetime) -> bool:
        """A timer for `day` firing at `now` sends only on that very day, and only if it is a working day;
        a digest for a day already over would be stale, and the next one lists what it would have."""
        return local_date(now) == day and self.calendar.is_working_day(day)
