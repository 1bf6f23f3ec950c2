"""Reading a query string strictly: every parameter once, known names only, whole numbers in ASCII digits.

Every error is kept, none raised until `raise_if_any`, so a bad query is refused with all its faults at
once. No value is repeated back, nor the name of an unknown parameter: a caller may have put anything in
either, a personnummer too.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from multidict import MultiMapping

from calendars.stockholm import parse_moment, start_of_day
from service.http.problems import Problem

# ASCII only: int() also reads other scripts' digits, which no caller means as a number here.
_WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")
_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})", re.ASCII)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


class QueryReader:
    """The query string of one request, read parameter by parameter."""

    def __init__(self, query: MultiMapping[str], known: tuple[str, ...]) -> None:
        self.query = query
        self.errors: list[dict[str, Any]] = []
        if any(name not in known for name in query):
            listed = ", ".join(known) if known else "none"
            self.fail(None, f"holds a parameter this endpoint does not take (known: {listed})")

    def fail(self, name: str | None, msg: str) -> None:
        self.errors.append({"loc": ["query"] if name is None else ["query", name], "msg": msg})

    def text(self, name: str, *, required: bool = False) -> str | None:
        values = self.query.getall(name, [])
        if not values:
            if required:
                self.fail(name, "required")
            return None
        if len(values) > 1:
            self.fail(name, "given more than once")
            return None
        if not values[0]:
            self.fail(name, "required" if required else "empty; leave the parameter out to not filter")
            return None
        return values[0]

    def choice(self, name: str, choices: tuple[str, ...], default: str | None = None) -> str | None:
        value = self.text(name)
        if value is None:
            return default
        if value not in choices:
            self.fail(name, "must be one of " + ", ".join(choices))
            return default
        return value

    def limit(self, default: int, maximum: int) -> int:
        value = self.text("limit")
        if value is None:
            return default
        if not _WHOLE_NUMBER.fullmatch(value) or not 1 <= int(value) <= maximum:
            self.fail("limit", f"must be a whole number from 1 to {maximum}")
            return default
        return int(value)

    def moment(self, name: str) -> datetime | None:
        """An RFC 3339 time with offset, or a plain date: the start of that day in Stockholm; in UTC."""
        value = self.text(name)
        if value is None:
            return None
        try:
            # In UTC here, so that a time the database cannot hold is this parameter's error, not a crash.
            if _DATE.fullmatch(value):
                return start_of_day(date.fromisoformat(value)).astimezone(UTC)
            if _MOMENT.fullmatch(value):
                return parse_moment(value).astimezone(UTC)
        except (ValueError, OverflowError):
            pass
        hint = " (a '+' in a query string reads as a space: write it as %2B)" if " " in value else ""
        self.fail(name, "must be an RFC 3339 time with offset or a date YYYY-MM-DD" + hint)
        return None

    def raise_if_any(self) -> None:
        if self.errors:
            raise Problem(
                400, "invalid-query", f"the query has {len(self.errors)} error(s)", errors=self.errors
            )


def refuse_query(request_query: MultiMapping[str]) -> None:
    """For an endpoint that takes no query: any parameter is a fault, named as unknown and not repeated."""
    QueryReader(request_query, ()).raise_if_any()
