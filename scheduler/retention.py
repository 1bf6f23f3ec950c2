"""Retention (GDPR art. 5.1 e): what of a closed case is erased once it has been kept long enough, and what
stays, as pure functions.

Erased: every name, e-mail address, postal address and free text (purpose, questions, location, online
URL, comments, action descriptions, reminders' addresses) and the person's birth date. What stays
identifies nobody and is what the yearly summary and the access log need: ids (case, person reference,
meetings, participants, actions, deviations), region, organisations (they decide who may read the case),
roles, channels, kinds, statuses, dates and rule names. A required text field keeps its place as "".
"""

from __future__ import annotations

from datetime import datetime, timedelta

from scheduler.case import Case, ContactInfo, PersonInfo

RETENTION_KIND = "retention"
RETENTION_KEY = "retention"
ERASED = ""


def erase_due(case: Case, retention: timedelta) -> datetime | None:
    """When the case's erasure is due: `retention` after it closed; None while open or once erased."""
    if case.status != "closed" or case.closed_at is None or case.erased_at is not None:
        return None
    return case.closed_at + retention


def _contact(contact: ContactInfo) -> ContactInfo:
    return ContactInfo(name=ERASED, email=ERASED, organisation=contact.organisation)


def erase(case: Case, now: datetime) -> Case:
    """The case without anything that names or describes a person; the input is never changed. Erasing
    an erased case changes nothing but keeps its first `erased_at`."""
    erased = case.model_copy(deep=True)
    erased.erased_at = case.erased_at or now
    erased.person = PersonInfo(reference=case.person.reference)
    erased.coordinator = _contact(case.coordinator)
    erased.unreachable = []
    for meeting in erased.meetings.values():
        meeting.location = ERASED
        meeting.online_url = None
        meeting.purpose = ERASED
        meeting.questions = []
        meeting.organizer = _contact(meeting.organizer)
        if meeting.responsible is not None:
            meeting.responsible = _contact(meeting.responsible)
        for participant in meeting.participants.values():
            participant.name = ERASED
            participant.email = None
            participant.postal_address = None
        for invitation in meeting.invitations.values():
            invitation.comment = None
    for action in erased.actions.values():
        action.description = ERASED
        action.responsible_email = None
    for reminder in erased.reminders:
        reminder.to = ERASED
    return erased
