"""When a reminder may leave: on a working day, within working hours, Europe/Stockholm; on the urgent
track at once, night or holiday."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from calendars.stockholm import STOCKHOLM, local_date
from calendars.workdays import WorkingCalendar


@dataclass(frozen=True)
class SendTimes:
    calendar: WorkingCalendar
    start: time
    end: time
    urgent: bool

    def opening(self, day: date) -> datetime:
        """The start of working hours on a day (08:00 exists on every Stockholm day, DST or not)."""
        return datetime.combine(day, self.start, tzinfo=STOCKHOLM)

    def is_open(self, moment: datetime) -> bool:
        if self.urgent:
            return True
        local = moment.astimezone(STOCKHOLM)
        return self.calendar.is_working_day(local.date()) and self.start <= local.time() < self.end

    def next_open(self, moment: datetime) -> datetime:
        """The first moment from `moment` on at which a reminder may leave."""
        if self.is_open(moment):
            return moment
        day = local_date(moment)
        if self.calendar.is_working_day(day) and moment < self.opening(day):
            return self.opening(day)
        return self.opening(self.calendar.working_day_after(day))

    def on_or_after(self, day: date) -> datetime:
        """A reminder for a day counted forward: that day's opening, or the next working day's."""
        if self.urgent:
            return self.opening(day)
        return self.opening(self.calendar.working_day_on_or_after(day))

    def on_or_before(self, day: date) -> datetime:
        """A reminder counted back from a deadline moves earlier, never later: its lead is kept."""
        if self.urgent:
            return self.opening(day)
        return self.opening(self.calendar.working_day_on_or_before(day))
