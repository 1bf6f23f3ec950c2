"""The one way an event body becomes the event sipvakt keeps and applies, for the intake and for
`sipvakt deadlines` alike: validated (every error listed, no value echoed), its region one with a rule
file, and its personnummer reduced to the birth date it encodes (`events.without_identity`)."""

from __future__ import annotations

from collections.abc import Collection

from scheduler.events import (
    CaseOpened,
    Event,
    EventValidationError,
    FieldError,
    parse_event,
    without_identity,
)


def accept_event(body: object, regions: Collection[str]) -> Event:
    """The event as it is kept, or EventValidationError listing every problem of the body."""
    event = parse_event(body)
    if isinstance(event.data, CaseOpened) and event.data.region not in regions:
        known = ", ".join(sorted(regions))
        raise EventValidationError(
            [FieldError(loc=["data", "region"], msg=f"no rule file for this region; known: {known}")]
        )
    return without_identity(event)
