"""Notice arithmetic: when an invitation arrives, and the latest day it may leave for a given meeting day."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

from calendars.workdays import WorkingCalendar
from config.region_rules import RegionRules
from config.rule_schema import CountedDays, DayRule, NoticeRule

Channel = Literal["email", "letter"]


def count_forward(calendar: WorkingCalendar, start: date, rule: CountedDays) -> date:
    """The last day of a period of `rule.days` starting after `start`, rolled if the rule rolls."""
    if rule.counting == "working":
        return calendar.add_working_days(start, rule.days)
    end = start + timedelta(days=rule.days)
    return calendar.roll_forward(end) if rule.rolls else end


def count_backward(calendar: WorkingCalendar, end: date, rule: CountedDays) -> date:
    """The day `rule.days` before `end` (calendar or working days); periods counted backwards never roll."""
    if rule.counting == "working":
        return calendar.add_working_days(end, -rule.days)
    return end - timedelta(days=rule.days)


class NoticeCalculator:
    """Receipt days and latest sending days of invitations under one region's rules."""

    def __init__(self, rules: RegionRules, calendar: WorkingCalendar) -> None:
        self._calendar = calendar
        postal = rules.find("postal_delay", DayRule)
        self._postal_days = postal.rule.days if postal else 0
        self.notice = rules.find("minimum_notice", NoticeRule)

    def _counts_receipt(self) -> bool:
        return self.notice is None or self.notice.rule.counted_from == "receipt"

    def received_on(self, sent_on: date, channel: Channel) -> date:
        """Email arrives the day it is sent; a letter the region's postal working days later."""
        if channel == "letter" and self._counts_receipt():
            return self._calendar.add_working_days(sent_on, self._postal_days)
        return sent_on

    def latest_receipt(self, meeting_day: date) -> date | None:
        if self.notice is None:
            return None
        return count_backward(self._calendar, meeting_day, self.notice.rule)

    def latest_send(self, meeting_day: date, channel: Channel) -> date | None:
        """The last day an invitation can leave and still give the minimum notice, or None without one."""
        receipt = self.latest_receipt(meeting_day)
        if receipt is None:
            return None
        if channel == "email" or not self._counts_receipt() or self._postal_days == 0:
            return receipt
        # A letter posted on day S arrives `postal` working days later; the latest S whose arrival is not
        # after the receipt day is `postal` working days before the last working day on or before it.
        return self._calendar.add_working_days(
            self._calendar.working_day_on_or_before(receipt), -self._postal_days
        )
