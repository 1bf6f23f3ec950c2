"""JSON-lines logging. Only identifiers travel in log lines: event ids, request ids, case ids; never a
name, a personnummer or a body."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

# Attributes every LogRecord has; whatever else is on a record came in through `extra=`.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
SAFE_EXTRA = {
    "event_id",
    "event_type",
    "case_id",
    "request_id",
    "integration_id",
    "status",
    "method",
    "path",
    "duration_ms",
    "reason",
    "version",
    "migration",
    "timer_id",
    "timer_kind",
    "message_id",
    "attempt",
    "url",
    "count",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            # Log timestamps are operational facts about this process, not business time.
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        current_request = request_id.get()
        if current_request is not None:
            line["request_id"] = current_request
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key in SAFE_EXTRA:
                line[key] = value
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # asyncpg warns with a traceback at every try to refill the pool while the database is away; the
    # database watch tells the outage once instead.
    logging.getLogger("asyncpg.pool").setLevel(logging.DEBUG if level == "DEBUG" else logging.ERROR)
