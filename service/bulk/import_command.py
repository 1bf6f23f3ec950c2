"""`sipvakt import --integration NAME --file F`: store a file's events, report each line, apply them."""

from __future__ import annotations

import logging
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from calendars.workdays import WorkingCalendar
from config.rules import load_rulebook
from config.settings import Settings
from scheduler.clock import SystemClock
from scheduler.planning import DeadlinePlanner
from service import access
from service.bulk.bulk_apply import apply_cases
from service.bulk.bulk_import import LineReader, LineReport, store_lines
from service.metrics import Metrics
from service.server import make_clock
from service.storage.database import DatabaseTimeouts, open_database
from service.workers.processor import EventProcessor


class ImportRefused(Exception):
    """A reason the import cannot start at all (no such integration); nothing was stored."""


async def run_import(
    settings: Settings, integration: str, path: Path, out: TextIO, *, progress: bool | None = None
) -> int:
    """Exit code: 0 when no line was invalid, 1 otherwise. The progress bars go to standard error, and
    only when it is a terminal (unless `progress` says otherwise)."""
    show = sys.stderr.isatty() if progress is None else progress
    rulebook = load_rulebook(settings.config_dir)
    with path.open("rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        async with open_database(
            settings.database_url, settings.data_dir, DatabaseTimeouts.from_settings(settings)
        ) as (pool, _):
            clock = await make_clock(pool, settings.test_clock, SystemClock())
            async with pool.acquire() as connection:
                await access.ensure_default_integration(connection, await clock.now())
                integration_id = await connection.fetchval(
                    "select integration_id from integrations where name = $1 and disabled_at is null",
                    integration,
                )
            if integration_id is None:
                raise ImportRefused(f"--integration: no enabled integration is named '{integration}'")
            reader = LineReader(stream)
            with tqdm(
                total=size, unit="B", unit_scale=True, desc="stored", file=sys.stderr, disable=not show
            ) as bar:

                def emit(report: LineReport) -> None:
                    out.write(report.to_json() + "\n")
                    bar.update(reader.bytes_read - bar.n)

                summary = await store_lines(pool, clock, integration_id, reader, rulebook.names(), emit)
                out.flush()
            processor = EventProcessor(
                pool,
                clock,
                DeadlinePlanner(rulebook, WorkingCalendar()),
                Metrics(),
                timedelta(days=settings.retention_days),
            )
            # One log line per applied event is the service's way; for a file of thousands, the
            # summary below says it, and the events' own states are in the database.
            if not logging.getLogger().isEnabledFor(logging.DEBUG):
                logging.getLogger("service.workers.processor").setLevel(logging.WARNING)
            with tqdm(
                total=len(summary.cases), unit="case", desc="applied", file=sys.stderr, disable=not show
            ) as bar:
                outcomes = await apply_cases(processor, summary.cases, bar.update)
    print(
        f"sipvakt: {path}: {summary.lines} lines: {summary.accepted} accepted, {summary.duplicate} duplicate,"
        f" {summary.invalid} invalid; events applied {outcomes['applied']}, waiting {outcomes['waiting']},"
        f" rejected {outcomes['rejected']}"
        + (f", left to the service after an error {outcomes['failed']} cases" if outcomes["failed"] else ""),
        file=sys.stderr,
    )
    return 1 if summary.invalid else 0
