"""`sipvakt import`: a file of events taken in as if each line had been pushed to the intake, with its `id`
as the webhook-id.

Each line is validated by the intake's own code (`intake.validated_event`), stored with the intake's
idempotency (one event per integration and id; the same id with the same event again is a duplicate) and
tenancy (a case belongs to the integration that first named it), and answered by one report line. Lines
are stored a batch at a time, in one transaction of a few statements, and the file is read a line at a
time, so that a region's whole journal fits however large it is. Applying the stored events is
`bulk_apply`'s job.
"""

from __future__ import annotations

import asyncio
import gc
import json
import re
import secrets
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Literal

from scheduler.clock import Clock
from scheduler.events import Event, EventValidationError, FieldError
from service.http.intake import MAX_BODY, validated_event
from service.http.json_input import JsonInputError, parse_json
from service.http.signatures import MAX_ID_LENGTH, is_webhook_id
from service.storage import store
from service.storage.database import Pool

# A line is held to the intake's body limit: what a request may not carry, a line may not either.
MAX_LINE = MAX_BODY
# Lines per transaction: large enough that a round trip is shared by many events, small enough that a
# batch's reports come out while the file is still being read.
BATCH_LINES = 1000
# How many lines are validated between two looks at the batch being written meanwhile.
YIELD_EVERY = 25
# A line over the limit is skipped in pieces of this size, never held whole.
SKIP_CHUNK = 64 * 1024

Status = Literal["accepted", "duplicate", "invalid"]
# An event id JSON writes as it is (sipvakt's own are "evt_" and hex digits).
_PLAIN_ID = re.compile(r"[A-Za-z0-9_-]+")
FOREIGN_CASE = "the case belongs to another integration"
ID_REUSED = "this id was already used for a different event"


@dataclass(frozen=True)
class LineReport:
    """What became of one line of the file."""

    line: int
    status: Status
    event_id: str | None = None
    errors: tuple[FieldError, ...] = ()

    def to_json(self) -> str:
        if not self.errors and self.event_id is not None and _PLAIN_ID.fullmatch(self.event_id):
            # What `json.dumps` writes for these three fields, none of which needs escaping: the line of
            # almost every event, written without building a dict and walking it.
            return f'{{"line": {self.line}, "status": "{self.status}", "event_id": "{self.event_id}"}}'
        report: dict[str, object] = {"line": self.line, "status": self.status}
        if self.event_id is not None:
            report["event_id"] = self.event_id
        if self.errors:
            report["errors"] = [error.model_dump() for error in self.errors]
        return json.dumps(report, ensure_ascii=False)


@dataclass(frozen=True)
class Candidate:
    """A valid line, waiting for its batch to be stored."""

    line: int
    webhook_id: str
    digest: bytes
    event: Event
    # The event as it is stored, written while the line is checked: not on the way of the batch being
    # stored meanwhile, which the next batch waits for.
    payload: str


@dataclass
class StoreSummary:
    lines: int = 0
    accepted: int = 0
    duplicate: int = 0
    invalid: int = 0
    # The cases that got new events, in the order the file first names them: what is left to apply.
    cases: dict[str, None] = field(default_factory=dict)

    def count(self, report: LineReport) -> None:
        self.lines += 1
        if report.status == "accepted":
            self.accepted += 1
        elif report.status == "duplicate":
            self.duplicate += 1
        else:
            self.invalid += 1


@dataclass
class LineReader:
    """The lines of a binary stream, numbered from 1, each at most `limit` bytes; `None` for a longer one.

    A line is read with `readline(limit + 1)`, so a line over the limit is recognised after `limit + 1`
    bytes and the rest of it is skipped a chunk at a time: memory stays bounded whatever the file holds."""

    stream: BinaryIO
    limit: int = MAX_LINE
    bytes_read: int = 0

    def __iter__(self) -> Iterator[tuple[int, bytes | None]]:
        number = 0
        while chunk := self.stream.readline(self.limit + 1):
            number += 1
            self.bytes_read += len(chunk)
            if chunk.endswith(b"\n") or len(chunk) <= self.limit:
                yield number, chunk
                continue
            while chunk and not chunk.endswith(b"\n"):
                chunk = self.stream.readline(SKIP_CHUNK)
                self.bytes_read += len(chunk)
            yield number, None


def check_line(
    number: int, raw: bytes | None, regions: Collection[str], now: datetime
) -> Candidate | LineReport:
    """A line as the event it holds, or its report listing every problem (never a value from the line)."""
    if raw is None:
        return _invalid(number, [FieldError(loc=[], msg=f"the line is longer than {MAX_LINE} bytes")])
    if not raw.strip():
        return _invalid(number, [FieldError(loc=[], msg="the line is empty")])
    try:
        decoded = parse_json(raw)
    except JsonInputError as exc:
        return _invalid(number, [FieldError(loc=[], msg=str(exc))])
    if not isinstance(decoded, dict):
        return _invalid(number, [FieldError(loc=[], msg="the line must be a JSON object")])
    errors: list[FieldError] = []
    webhook_id = decoded.pop("id", None)
    if webhook_id is None:
        errors.append(FieldError(loc=["id"], msg="field required"))
    elif not isinstance(webhook_id, str) or not is_webhook_id(webhook_id):
        errors.append(
            FieldError(
                loc=["id"], msg=f"must be a string of printable ASCII, 1 to {MAX_ID_LENGTH} characters"
            )
        )
    try:
        event = validated_event(decoded, regions, now)
    except EventValidationError as exc:
        errors.extend(exc.errors)
    if errors:
        return _invalid(number, errors)
    assert isinstance(webhook_id, str)
    # The line as written is what is compared, as the intake compares a body: a rerun of the same file
    # is known line by line, a line changed since is a different event.
    return Candidate(number, webhook_id, store.body_digest(raw.strip()), event, event.to_json_text())


def _invalid(number: int, errors: list[FieldError]) -> LineReport:
    return LineReport(number, "invalid", errors=tuple(errors))


async def store_batch(
    connection: store.Connection, integration_id: str, batch: list[Candidate], received_at: datetime
) -> list[LineReport]:
    """Store the batch's events in the caller's transaction: the reports of its lines, in no set order.

    As the intake does for one event: each case is claimed for the integration unless another one owns
    it (then nothing of that line is stored), and an id stored before is a duplicate when its body is the
    same and refused when it is not. The ids of one batch are distinct (the caller sees to it)."""
    # In one order, so that two imports claiming the same new cases wait for each other, not deadlock.
    case_ids = sorted({candidate.event.case_id for candidate in batch})
    owners = await _claim_cases(connection, case_ids, integration_id, received_at)
    reports = [
        LineReport(c.line, "invalid", errors=(FieldError(loc=["case_id"], msg=FOREIGN_CASE),))
        for c in batch
        if owners[c.event.case_id] != integration_id
    ]
    ours = [c for c in batch if owners[c.event.case_id] == integration_id]
    if not ours:
        return reports
    inserted: dict[str, str] = {
        row["webhook_id"]: row["event_id"]
        for row in await connection.fetch(
            "with stored as (insert into events (event_id, integration_id, webhook_id, body_sha256,"
            " case_id, type, occurred_at, received_at, payload)"
            " select e.event_id, $1, e.webhook_id, e.digest, e.case_id, e.type, e.occurred_at, $2,"
            " e.payload::jsonb"
            " from unnest($3::text[], $4::text[], $5::bytea[], $6::text[], $7::text[], $8::timestamptz[],"
            " $9::text[]) with ordinality as e(event_id, webhook_id, digest, case_id, type, occurred_at,"
            " payload, position)"
            # In the file's order: the events of one case are applied in the order of their `seq`.
            " order by e.position"
            " on conflict (integration_id, webhook_id) do nothing returning webhook_id, event_id)"
            # The processor's notice in the same statement, once (and only when something was stored).
            " select s.webhook_id, s.event_id from stored s,"
            f" (select pg_notify('{store.EVENTS_CHANNEL}', '') from stored limit 1) as notified",
            integration_id,
            received_at,
            ["evt_" + secrets.token_hex(12) for _ in ours],
            [c.webhook_id for c in ours],
            [c.digest for c in ours],
            [c.event.case_id for c in ours],
            [c.event.type for c in ours],
            [c.event.occurred_at for c in ours],
            [c.payload for c in ours],
        )
    }
    known = [c.webhook_id for c in ours if c.webhook_id not in inserted]
    earlier = {
        row["webhook_id"]: (row["event_id"], row["body_sha256"])
        for row in (
            await connection.fetch(
                "select webhook_id, event_id, body_sha256 from events"
                " where integration_id = $1 and webhook_id = any($2::text[])",
                integration_id,
                known,
            )
            if known
            else []
        )
    }
    for candidate in ours:
        if candidate.webhook_id in inserted:
            reports.append(LineReport(candidate.line, "accepted", inserted[candidate.webhook_id]))
            continue
        event_id, digest = earlier[candidate.webhook_id]
        if digest == candidate.digest:
            reports.append(LineReport(candidate.line, "duplicate", event_id))
        else:
            reports.append(
                LineReport(candidate.line, "invalid", errors=(FieldError(loc=["id"], msg=ID_REUSED),))
            )
    return reports


async def _claim_cases(
    connection: store.Connection, case_ids: list[str], integration_id: str, now: datetime
) -> dict[str, str]:
    """The integration each case belongs to, claiming for `integration_id` the cases nobody owns: as
    `store_event()` (migration 0023) does for one case, the batch's cases in one round trip in the usual
    cases."""
    # The statement's snapshot does not see its own inserts, hence both halves; a case claimed by another
    # transaction that committed meanwhile shows in neither, and is read again below.
    owners: dict[str, str] = {
        row["case_id"]: row["integration_id"]
        for row in await connection.fetch(
            "with claimed as (insert into case_owners (case_id, integration_id, claimed_at)"
            " select case_id, $2, $3 from unnest($1::text[]) as case_id order by case_id"
            " on conflict (case_id) do nothing returning case_id, integration_id)"
            " select case_id, integration_id from claimed union all"
            " select case_id, integration_id from case_owners where case_id = any($1::text[])",
            case_ids,
            integration_id,
            now,
        )
    }
    missing = [case_id for case_id in case_ids if case_id not in owners]
    if missing:
        owners.update(
            (row["case_id"], row["integration_id"])
            for row in await connection.fetch(
                "select case_id, integration_id from case_owners where case_id = any($1::text[])",
                missing,
            )
        )
    return owners


# Objects allocated, net, between two collections of the youngest generation while a file is stored.
YOUNG_COLLECTION_EVERY = 10_000


@contextmanager
def _set_up_set_aside() -> Iterator[None]:
    """The objects alive before the file is read (modules, schemas, settings) left out of garbage
    collection meanwhile: each line makes and drops hundreds of objects, and every full collection would
    otherwise walk the whole service's set-up again, a sixth of the storing's time.

    The youngest generation is collected less often too: at the usual 700 objects it is collected some
    sixteen times a batch, and the events of the batches in hand that each collection finds alive are
    walked again in every collection of the middle generation until they are dropped: more than half of
    the collections' time."""
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], YOUNG_COLLECTION_EVERY), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


async def store_lines(
    pool: Pool,
    clock: Clock,
    integration_id: str,
    reader: LineReader,
    regions: Collection[str],
    emit: Callable[[LineReport], None],
    *,
    batch_lines: int = BATCH_LINES,
) -> StoreSummary:
    """Validate and store every line of `reader`, a batch per transaction; `emit` each line's report, in
    the file's order, once its batch is committed (accepted means stored, as the intake's 202 does)."""
    with _set_up_set_aside():
        return await _store_lines(pool, clock, integration_id, reader, regions, emit, batch_lines)


async def _store_lines(
    pool: Pool,
    clock: Clock,
    integration_id: str,
    reader: LineReader,
    regions: Collection[str],
    emit: Callable[[LineReport], None],
    batch_lines: int,
) -> StoreSummary:
    summary = StoreSummary()
    batch: list[Candidate] = []
    refused: list[LineReport] = []
    ids: set[str] = set()
    writing: asyncio.Task[None] | None = None
    now = await clock.now()

    async def write(batch: list[Candidate], refused: list[LineReport], received_at: datetime) -> None:
        reports = list(refused)
        if batch:
            async with pool.acquire() as connection, connection.transaction():
                reports += await store_batch(connection, integration_id, batch, received_at)
            accepted = {report.line for report in reports if report.status == "accepted"}
            summary.cases.update(dict.fromkeys(c.event.case_id for c in batch if c.line in accepted))
        for report in sorted(reports, key=lambda r: r.line):
            summary.count(report)
            emit(report)

    async def flush() -> None:
        """Hand the batch to the database and go on reading: one batch is written while the next is
        validated. The previous one is finished first, so batches are stored (and their `seq` given) in
        the file's order, and the same id in two batches meets its first line already stored."""
        nonlocal batch, refused, ids, writing, now
        if writing is not None:
            await writing
        writing = asyncio.create_task(write(batch, refused, now))
        batch, refused, ids = [], [], set()
        now = await clock.now()

    for number, raw in reader:
        checked = check_line(number, raw, regions, now)
        if isinstance(checked, LineReport):
            refused.append(checked)
        else:
            if checked.webhook_id in ids:
                # The same id twice in one batch: the first is stored first, and the database then tells
                # the second one as a duplicate or a reuse, as it would across batches and reruns.
                await flush()
            batch.append(checked)
            ids.add(checked.webhook_id)
        if len(batch) + len(refused) >= batch_lines:
            await flush()
        elif number % YIELD_EVERY == 0:
            # Validating is all computation: let the batch being written send its next statement.
            await asyncio.sleep(0)
    await flush()
    assert writing is not None
    await writing
    return summary
