"""Whether a case's consent lets a meeting's invitations leave now, and what holds them back if not.

Consent comes first: no invitation leaves before it, nor after it is withdrawn or has ended. Two more holds
follow from the guidelines and the law:

- consent that starts later (`valid_from` after today) holds the invitations until its first day; a timer
  sends them at the opening of that day's send window (Europe/Stockholm), and the notice is counted from
  that day, so a consent that comes late shows up as a notice too short;
- a guardian's consent does not cover a person who is 18 or older on the day of the meeting: custody ends
  at majority (föräldrabalken 6 kap. 2 §, 9 kap. 1 §), and Blekinge's guideline (001, "Samtycke") and
  Västra Götaland's (004, "Få samtycke") ask the person's own consent. Such invitations wait for consent
  `given_by` `adult` or `representative` and do not leave by themselves. A child's own consent stays the
  person's own and keeps covering them.

Invitations that already left before the rule could hold them (a meeting moved past the 18th birthday)
stand: they were sent under a consent valid then, and withdrawing them would be a disclosure of its own.
The case warns from then on, so that the coordinator asks the young person before the meeting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from calendars.ages import age_on, birthday
from calendars.stockholm import local_date, start_of_day
from scheduler.case import Case, Meeting
from scheduler.effects import CancelTimers, Effect, SetTimer
from scheduler.send_times import SendTimes

MAJORITY_AGE = 18  # föräldrabalken 9 kap. 1 §: "Den som inte har fyllt arton år är underårig."

HELD_INVITATIONS_KIND = "held_invitations"
HELD_INVITATIONS_PREFIX = "held_invitations:"

HoldReason = Literal["no_consent", "consent_starts_later", "guardian_consent_after_18"]


@dataclass(frozen=True)
class Hold:
    """Why a meeting's invitations may not leave today; `until` is the day the hold ends by itself."""

    reason: HoldReason
    until: date | None = None


def invitation_hold(case: Case, meeting: Meeting, today: date) -> Hold | None:
    """What holds the meeting's invitations back today, or None when they may leave."""
    consent = case.consent
    if consent is None or consent.withdrawn_at is not None:
        return Hold("no_consent")
    if consent.valid_to is not None and today > consent.valid_to:
        return Hold("no_consent")
    if guardian_consent_after_majority(case, meeting):
        return Hold("guardian_consent_after_18")
    if consent.valid_from > today:
        return Hold("consent_starts_later", consent.valid_from)
    return None


def guardian_consent_after_majority(case: Case, meeting: Meeting) -> bool:
    """The case rests on a guardian's consent, and the person is of age on the meeting's day."""
    consent, born = case.consent, case.person.birth_date
    if consent is None or consent.withdrawn_at is not None or consent.given_by != "guardian" or born is None:
        return False
    return is_of_age(born, local_date(meeting.starts_at))


def is_of_age(born: date, day: date) -> bool:
    return age_on(born, day) >= MAJORITY_AGE


def majority_day(born: date) -> date:
    return birthday(born, MAJORITY_AGE)


def has_pending_invitations(meeting: Meeting) -> bool:
    return any(invitation.status == "pending" for invitation in meeting.invitations.values())


def has_invitations_to_send(meeting: Meeting, now: datetime) -> bool:
    return meeting.status == "scheduled" and meeting.ends_at > now and has_pending_invitations(meeting)


def _hold_reason(case: Case, meeting: Meeting, today: date) -> HoldReason | None:
    hold = invitation_hold(case, meeting, today)
    return None if hold is None else hold.reason


def held_invitation_timers(case: Case, send: SendTimes, now: datetime) -> list[Effect]:
    """A timer for each moment a hold may change by itself: the opening of the consent's first day (the
    invitations leave then), and the 18th birthday while a guardian's consent and invitations still to
    send remain (the case is looked at again from that day: the guardian's consent no longer covers it)."""
    effects: list[Effect] = [CancelTimers(prefix=HELD_INVITATIONS_PREFIX)]
    consent, born = case.consent, case.person.birth_date
    waiting = [meeting for meeting in case.meetings.values() if has_invitations_to_send(meeting, now)]
    if case.status != "open" or consent is None or not waiting:
        return effects
    today = local_date(now)
    # The hold is by day, the sending at the day's opening: between midnight and the opening of the first
    # day nothing holds the invitations any more, and the timer still has to send them.
    opening = send.opening(consent.valid_from)
    releasable = {None, "consent_starts_later"}
    if opening > now and any(_hold_reason(case, meeting, today) in releasable for meeting in waiting):
        effects.append(
            SetTimer(
                key=f"{HELD_INVITATIONS_PREFIX}consent_starts", kind=HELD_INVITATIONS_KIND, due_at=opening
            )
        )
    if consent.given_by == "guardian" and consent.withdrawn_at is None and born is not None:
        coming_of_age = majority_day(born)
        if coming_of_age > today:
            effects.append(
                SetTimer(
                    key=f"{HELD_INVITATIONS_PREFIX}turns_18",
                    kind=HELD_INVITATIONS_KIND,
                    due_at=start_of_day(coming_of_age),
                )
            )
    return effects
