"""Push signed events to a running sipvakt, as an integrating system would.

    .venv/bin/python scripts/push_event.py --this-week examples/blekinge-case.json
    .venv/bin/python scripts/push_event.py --url http://127.0.0.1:8080 --secret whsec_... FILE

The service is found at --url, else at SIPVAKT_HTTP_HOST and SIPVAKT_HTTP_PORT (as `sipvakt serve` reads
them; 127.0.0.1 and 8080 by default). The secret defaults to SIPVAKT_WEBHOOK_SECRET. --this-week moves
every date and time in the events by the same whole number of weeks, so that the last event happened in
the past seven days and an example is a fresh case whenever it is pushed. Prints the service's answers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from standardwebhooks import Webhook

from calendars.workdays import WorkingCalendar

STOCKHOLM = ZoneInfo("Europe/Stockholm")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T.+")


class PushError(Exception):
    """What went wrong, in one line for the person at the terminal."""


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("file", type=Path, help="a JSON file holding one event, or an array of events")
    parser.add_argument("--url", default=default_url(os.environ), help="the service's base URL")
    parser.add_argument("--secret", default=os.environ.get("SIPVAKT_WEBHOOK_SECRET"))
    parser.add_argument("--this-week", action="store_true", help="move the events' dates to this week")
    args = parser.parse_args()
    if not args.secret:
        parser.error("give --secret or set SIPVAKT_WEBHOOK_SECRET")
    try:
        events = read_events(args.file)
        if args.this_week:
            events = moved_to_this_week(events, datetime.now(UTC))
        worst = 0
        for event in events:
            status, answer = push(args.url, args.secret, event)
            print(status, answer)
            worst = max(worst, 0 if status < 300 else 1)
    except PushError as error:
        print(f"push_event.py: {error}", file=sys.stderr)
        return 2
    return worst


def default_url(environ: Mapping[str, str]) -> str:
    host = environ.get("SIPVAKT_HTTP_HOST") or "127.0.0.1"
    port = environ.get("SIPVAKT_HTTP_PORT") or "8080"
    return f"http://{host}:{port}"


def read_events(file: Path) -> list[Any]:
    try:
        loaded = json.loads(file.read_text(encoding="utf-8"))
    except OSError as error:
        raise PushError(f"{file}: {error.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PushError(f"{file}: not a JSON file ({error})") from None
    return loaded if isinstance(loaded, list) else [loaded]


def moved_to_this_week(events: list[Any], now: datetime) -> list[Any]:
    """The events with every date moved by whole weeks (weekdays and clock times stay), so that the
    last one occurred at most a week before `now`; a week earlier still if a meeting would fall on a
    public holiday."""
    occurred = [datetime.fromisoformat(event["occurred_at"]) for event in events]
    weeks = (now - max(occurred)).days // 7
    calendar = WorkingCalendar()
    while weeks > 0 and not all(
        calendar.is_working_day(_moved_time(start, weeks).date()) for start in _meeting_starts(events)
    ):
        weeks -= 1
    moved: list[Any] = _moved(events, weeks)
    return moved


def _meeting_starts(events: list[Any]) -> list[str]:
    return [event["data"]["starts_at"] for event in events if "starts_at" in event.get("data", {})]


def _moved(value: Any, weeks: int) -> Any:
    if isinstance(value, dict):
        return {key: _moved(item, weeks) for key, item in value.items()}
    if isinstance(value, list):
        return [_moved(item, weeks) for item in value]
    if isinstance(value, str) and DATE_TIME.fullmatch(value):
        return _moved_time(value, weeks).isoformat()
    if isinstance(value, str) and DATE.fullmatch(value):
        return (date.fromisoformat(value) + timedelta(weeks=weeks)).isoformat()
    return value


def _moved_time(text: str, weeks: int) -> datetime:
    """The same Stockholm wall-clock time `weeks` later, with that day's offset (summer time or not)."""
    local = datetime.fromisoformat(text).astimezone(STOCKHOLM)
    return (local.replace(tzinfo=None) + timedelta(weeks=weeks)).replace(tzinfo=STOCKHOLM)


def push(url: str, secret: str, event: object) -> tuple[int, str]:
    body = json.dumps(event, ensure_ascii=False)
    message_id = "msg_" + secrets.token_hex(12)
    now = datetime.now(UTC)
    request = urllib.request.Request(
        url.rstrip("/") + "/v1/events",
        data=body.encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(message_id, now, body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        said = getattr(reason, "strerror", None) or str(reason)
        raise PushError(
            f"cannot reach sipvakt at {url} ({said}): is it running there?"
            " Set SIPVAKT_HTTP_PORT or give --url"
        ) from None


if __name__ == "__main__":
    sys.exit(main())
