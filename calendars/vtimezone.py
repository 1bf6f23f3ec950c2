"""The VTIMEZONE for Europe/Stockholm that every invitation carries.

Written as two yearly rules (the EU rules in force since 1996: summer time from the last Sunday of March at
02:00, winter time from the last Sunday of October at 03:00) instead of the list of transitions that
icalendar derives from the tz database. The rule form is a dozen lines, is valid after 2038 where the
generated list stops, and costs nothing to build, so it is built once and shared.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard

STOCKHOLM_TZID = "Europe/Stockholm"

_CET = timedelta(hours=1)
_CEST = timedelta(hours=2)


@lru_cache(maxsize=1)
def stockholm_vtimezone() -> Timezone:
    """The shared, rule-based VTIMEZONE component for Europe/Stockholm.

    Callers add it to a calendar and must not modify it: the same object goes into every message.
    """
    daylight = TimezoneDaylight()
    daylight.add("TZNAME", "CEST")
    daylight.add("TZOFFSETFROM", _CET)
    daylight.add("TZOFFSETTO", _CEST)
    # 1996-03-31 is the last Sunday of March 1996, the first year of the current EU rule.
    daylight.add("DTSTART", datetime(1996, 3, 31, 2, 0, 0))  # noqa: DTZ001 - VTIMEZONE times are local
    daylight.add("RRULE", {"FREQ": "YEARLY", "BYMONTH": 3, "BYDAY": "-1SU"})

    standard = TimezoneStandard()
    standard.add("TZNAME", "CET")
    standard.add("TZOFFSETFROM", _CEST)
    standard.add("TZOFFSETTO", _CET)
    standard.add("DTSTART", datetime(1996, 10, 27, 3, 0, 0))  # noqa: DTZ001 - VTIMEZONE times are local
    standard.add("RRULE", {"FREQ": "YEARLY", "BYMONTH": 10, "BYDAY": "-1SU"})

    timezone = Timezone()
    timezone.add("TZID", STOCKHOLM_TZID)
    timezone.add_component(daylight)
    timezone.add_component(standard)
    return timezone


@lru_cache(maxsize=1)
def stockholm_vtimezone_bytes() -> bytes:
    """The component serialised, once: every calendar sipvakt writes carries these same lines."""
    ical: bytes = stockholm_vtimezone().to_ical(sorted=False)
    return ical
