"""`sipvakt import`: a file of events held to the intake's rules, stored once however often it is run,
and leaving the state that pushing the same events leaves."""

from __future__ import annotations

import gc
import io
import json
import tracemalloc
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from scheduler.events import FieldError
from service import access
from service.bulk.bulk_apply import apply_cases
from service.bulk.bulk_import import (
    MAX_LINE,
    YOUNG_COLLECTION_EVERY,
    LineReader,
    LineReport,
    StoreSummary,
    store_lines,
)
from tests import pg, samples
from tests.service.harness import Service, service_settings, started
from tests.service.processes import ServiceProcess, run_command

CLOCK = "2026-11-23T09:00:00+01:00"


@pytest.fixture
async def service(database_url: str, tmp_path: Path) -> AsyncIterator[Service]:
    async with started(service_settings(database_url, tmp_path)) as running_service:
        yield running_service


def case_lines(case_id: str, consent_from: str = "2026-11-23") -> list[dict[str, Any]]:
    """A case as a journal system exports it: opened, consent, a meeting, two answers; each with an id."""
    events = [
        samples.case_opened(case_id),
        samples.consent_given(case_id, valid_from=consent_from),
        samples.meeting_scheduled(case_id),
        samples.responded("p-guardian", "accepted", case_id),
        samples.responded("p-school", "declined", case_id, comment="Ledig den dagen"),
    ]
    return [{"id": f"{case_id}-{index}", **event} for index, event in enumerate(events)]


def ndjson(lines: Sequence[object]) -> bytes:
    """Each item a line: text as it is, anything else as its JSON."""
    return b"".join(
        (line if isinstance(line, str) else json.dumps(line, ensure_ascii=False)).encode() + b"\n"
        for line in lines
    )


async def import_bytes(
    service: Service, data: bytes, integration_id: str = access.DEFAULT_INTEGRATION
) -> tuple[list[dict[str, Any]], StoreSummary]:
    """Store and apply as the command does, on the service's database; the report lines as JSON."""
    reports: list[LineReport] = []
    summary = await store_lines(
        service.runtime.pool,
        service.runtime.clock,
        integration_id,
        LineReader(io.BytesIO(data)),
        service.runtime.rulebook.names(),
        reports.append,
    )
    await apply_cases(service.processor, summary.cases)
    return [json.loads(report.to_json()) for report in reports], summary


async def stored_events(service: Service) -> int:
    count: int = await service.runtime.pool.fetchval("select count(*) from events")
    return count


async def test_a_file_is_stored_applied_and_reported_line_by_line(service: Service) -> None:
    reports, summary = await import_bytes(service, ndjson(case_lines("imp-1") + case_lines("imp-2")))

    assert [report["line"] for report in reports] == list(range(1, 11))
    assert {report["status"] for report in reports} == {"accepted"}
    assert all(report["event_id"].startswith("evt_") and "errors" not in report for report in reports)
    assert (summary.accepted, summary.invalid, list(summary.cases)) == (10, 0, ["imp-1", "imp-2"])
    states = await service.runtime.pool.fetch("select state from events order by seq")
    assert {row["state"] for row in states} == {"applied"}
    case = await (await service.case("imp-2")).json()
    invitations = {i["participant_id"]: i["status"] for i in case["meetings"][0]["invitations"]}
    assert invitations["p-guardian"] == "accepted"
    assert invitations["p-school"] == "declined"


async def test_storing_eases_garbage_collection_and_leaves_it_as_it_was(service: Service) -> None:
    before = (gc.get_threshold(), gc.get_freeze_count())
    during: list[tuple[tuple[int, int, int], int]] = []

    def emit(report: LineReport) -> None:
        during.append((gc.get_threshold(), gc.get_freeze_count()))

    await store_lines(
        service.runtime.pool,
        service.runtime.clock,
        access.DEFAULT_INTEGRATION,
        LineReader(io.BytesIO(ndjson(case_lines("imp-gc")))),
        service.runtime.rulebook.names(),
        emit,
    )

    assert len(during) == 5
    assert all(threshold[0] >= YOUNG_COLLECTION_EVERY and frozen > 0 for threshold, frozen in during)
    assert {threshold[1:] for threshold, _ in during} == {before[0][1:]}
    assert (gc.get_threshold(), gc.get_freeze_count()) == before


async def test_a_repeated_id_is_a_duplicate_and_an_id_reused_for_another_event_is_refused(
    service: Service,
) -> None:
    first, second = case_lines("imp-dup")[:2]
    changed = {**second, "data": {**second["data"], "valid_to": "2027-06-30"}}
    reports, summary = await import_bytes(service, ndjson([first, second, first, changed]))

    assert [report["status"] for report in reports] == ["accepted", "accepted", "duplicate", "invalid"]
    assert reports[2]["event_id"] == reports[0]["event_id"]
    assert reports[3]["errors"] == [{"loc": ["id"], "msg": "this id was already used for a different event"}]
    assert (summary.duplicate, summary.invalid) == (1, 1)
    assert await stored_events(service) == 2


async def test_invalid_lines_among_valid_ones_are_refused_one_by_one_without_echoing_a_value(
    service: Service,
) -> None:
    good = case_lines("imp-mixed")
    with_number = {**good[2], "data": {**good[2]["data"], "purpose": "Gäller 20121212-1212"}}
    no_id = {key: value for key, value in good[3].items() if key != "id"}
    past = samples.meeting_scheduled("imp-mixed", "m2", starts_at="2026-11-20T13:00:00+01:00")
    lines: list[object] = [
        good[0],
        good[1],
        with_number,
        "{not json",
        no_id,
        "",
        {"id": "imp-mixed-past", **past, "data": {**past["data"], "ends_at": "2026-11-20T14:00:00+01:00"}},
        {"id": 7, "type": "consent.withdrawn", "case_id": "imp-mixed", "occurred_at": CLOCK, "data": {}},
        [1, 2],
        good[4],
    ]
    reports, summary = await import_bytes(service, ndjson(lines))

    statuses = [report["status"] for report in reports]
    assert statuses == ["accepted", "accepted"] + ["invalid"] * 7 + ["accepted"]
    errors = {report["line"]: report["errors"] for report in reports if report["status"] == "invalid"}
    assert errors[3] == [
        {"loc": ["data", "purpose"], "msg": "must not contain a personnummer or samordningsnummer"}
    ]
    assert errors[4][0]["loc"] == [] and errors[4][0]["msg"].startswith("not JSON")
    assert errors[5] == [{"loc": ["id"], "msg": "field required"}]
    assert errors[6] == [{"loc": [], "msg": "the line is empty"}]
    assert errors[7] == [{"loc": ["data", "starts_at"], "msg": "the meeting's start has passed"}]
    assert [error["loc"] for error in errors[8]] == [["id"]]
    assert errors[9] == [{"loc": [], "msg": "the line must be a JSON object"}]
    assert "20121212" not in json.dumps(reports)
    assert summary.invalid == 7
    # Nothing of a refused line is stored; the valid ones around it are, and applied.
    assert await stored_events(service) == 3
    assert "20121212" not in json.dumps(
        [dict(row) for row in await service.runtime.pool.fetch("select * from events")], default=str
    )


async def test_a_line_for_another_integrations_case_is_refused_and_stores_nothing(service: Service) -> None:
    issued, _ = await service.other_integration()
    opened = await service.push(samples.case_opened("imp-theirs"))
    assert opened.status == 202
    await service.settle()

    lines = case_lines("imp-theirs")[1:3] + case_lines("imp-mine")[:1]
    reports, _ = await import_bytes(service, ndjson(lines), issued.integration_id)

    assert [report["status"] for report in reports] == ["invalid", "invalid", "accepted"]
    assert reports[0]["errors"] == [{"loc": ["case_id"], "msg": "the case belongs to another integration"}]
    rows = await service.runtime.pool.fetch("select case_id, integration_id from events order by seq")
    assert [(row["case_id"], row["integration_id"]) for row in rows] == [
        ("imp-theirs", access.DEFAULT_INTEGRATION),
        ("imp-mine", issued.integration_id),
    ]
    owner = await service.runtime.pool.fetchval(
        "select integration_id from case_owners where case_id = 'imp-mine'"
    )
    assert owner == issued.integration_id


async def test_the_command_reports_on_stdout_and_a_rerun_stores_nothing_twice(
    service: Service, database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "open-cases.ndjson"
    broken = {**case_lines("imp-cli")[1], "data": {"given_by": "someone", "valid_from": "2026-11-23"}}
    path.write_bytes(ndjson([*case_lines("imp-cli"), broken | {"id": "imp-cli-broken"}]))
    environment = {
        "SIPVAKT_DATABASE_URL": database_url,
        "SIPVAKT_DATA_DIR": str(tmp_path / "data"),
        "SIPVAKT_TEST_CLOCK": CLOCK,
    }

    first = run_command(
        "import", "--integration", "default", "--file", str(path), environment=environment, timeout=400
    )
    assert first.returncode == 1, first.stderr
    reports = [json.loads(line) for line in first.stdout.splitlines()]
    assert [report["status"] for report in reports] == ["accepted"] * 5 + ["invalid"]
    assert reports[5]["errors"][0]["loc"] == ["data", "given_by"]
    # No progress bar when standard error is not a terminal: only the closing summary.
    assert "\r" not in first.stderr
    assert "6 lines: 5 accepted, 0 duplicate, 1 invalid; events applied 5" in first.stderr

    path.write_bytes(ndjson(case_lines("imp-cli")))
    again = run_command(
        "import", "--integration", "default", "--file", str(path), environment=environment, timeout=400
    )
    assert again.returncode == 0, again.stderr
    repeated = [json.loads(line) for line in again.stdout.splitlines()]
    assert [report["status"] for report in repeated] == ["duplicate"] * 5
    assert [report["event_id"] for report in repeated] == [report["event_id"] for report in reports[:5]]
    assert await stored_events(service) == 5

    unknown = run_command(
        "import", "--integration", "nobody", "--file", str(path), environment=environment, timeout=400
    )
    assert unknown.returncode == 2
    assert "no enabled integration is named 'nobody'" in unknown.stderr
    missing = run_command(
        "import",
        "--integration",
        "default",
        "--file",
        str(tmp_path / "none"),
        environment=environment,
        timeout=400,
    )
    assert missing.returncode == 2
    assert "No such file" in missing.stderr


async def test_a_100_mb_file_is_read_a_line_at_a_time(service: Service, tmp_path: Path) -> None:
    # 100 MB: valid lines, then one line of 100 MB (far over the limit), then valid lines again.
    path = tmp_path / "large.ndjson"
    before, after = case_lines("imp-big-1"), case_lines("imp-big-2")
    with path.open("wb") as out:
        out.write(ndjson(before))
        out.write(b'{"id": "huge", "x": "')
        chunk = b"y" * (1024 * 1024)
        for _ in range(100):
            out.write(chunk)
        out.write(b'"}\n')
        out.write(ndjson(after))
    assert path.stat().st_size > 100 * 1024 * 1024

    reports: list[LineReport] = []
    tracemalloc.start()
    try:
        with path.open("rb") as stream:
            summary = await store_lines(
                service.runtime.pool,
                service.runtime.clock,
                access.DEFAULT_INTEGRATION,
                LineReader(stream),
                service.runtime.rulebook.names(),
                reports.append,
            )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert [r.status for r in reports] == ["accepted"] * 5 + ["invalid"] + ["accepted"] * 5
    assert reports[5].errors[0].msg == f"the line is longer than {MAX_LINE} bytes"
    assert summary.accepted == 10
    # The file is 100 MB; what the import held at most is a few lines and a batch.
    assert peak < 8 * 1024 * 1024, peak


def test_reading_asks_for_at_most_a_line_and_numbers_every_line() -> None:
    data = b'{"a": 1}\n' + b"z" * (MAX_LINE + 10) + b"\n\n" + b'{"b": 2}'
    lines = list(LineReader(io.BufferedReader(io.BytesIO(data), buffer_size=8192)))
    assert [(number, raw) for number, raw in lines] == [
        (1, b'{"a": 1}\n'),
        (2, None),
        (3, b"\n"),
        (4, b'{"b": 2}'),
    ]


async def test_the_imported_state_is_the_state_that_pushing_the_same_events_leaves(
    pg_template: str, tmp_path: Path
) -> None:
    # Consent from the next day: no invitation leaves while the events come in, so that on both sides
    # every event is applied before anything is sent (pushed one by one, an invitation could otherwise
    # leave between two events, and plan a reminder that the next answer cancels). Then a day passes.
    later = "2026-11-24"
    cases = {
        "imp-same-1": case_lines("imp-same-1", later),
        # A reply that comes before its meeting waits for it, and is applied when the meeting is.
        "imp-same-2": [case_lines("imp-same-2", later)[i] for i in (0, 1, 3, 2, 4)],
        "imp-same-3": [
            *case_lines("imp-same-3", later)[:3],
            {"id": "imp-same-3-x", **samples.event("meeting.cancelled", "imp-same-3", meeting_id="m1")},
        ],
        "imp-same-4": case_lines("imp-same-4", later)[:3],
    }
    lines = [line for events in cases.values() for line in events]

    async def after_a_day(service: Service) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
        await service.settle()
        moved = await service.client.post("/v1/test-clock", json={"now": "2026-11-25T12:00:00+01:00"})
        assert moved.status == 200, await moved.text()
        views = {case_id: await (await service.case(case_id)).json() for case_id in cases}
        return views, await outbox(service)

    pushed_url = await pg.fresh_database(pg_template)
    imported_url = await pg.fresh_database(pg_template)
    try:
        async with started(service_settings(pushed_url, tmp_path / "pushed")) as pushed:
            for line in lines:
                body = {key: value for key, value in line.items() if key != "id"}
                response = await pushed.push(body, webhook_id=line["id"])
                assert response.status == 202, await response.text()
            expected, expected_mail = await after_a_day(pushed)

        path = tmp_path / "cases.ndjson"
        path.write_bytes(ndjson(lines))
        environment = {
            "SIPVAKT_DATABASE_URL": imported_url,
            "SIPVAKT_DATA_DIR": str(tmp_path / "imported"),
            "SIPVAKT_TEST_CLOCK": CLOCK,
        }
        done = run_command(
            "import", "--integration", "default", "--file", str(path), environment=environment, timeout=400
        )
        assert done.returncode == 0, done.stderr
        assert "events applied 17, waiting 0, rejected 0" in done.stderr
        async with started(service_settings(imported_url, tmp_path / "imported")) as imported:
            actual, actual_mail = await after_a_day(imported)
    finally:
        await pg.drop_database(pg_template, pushed_url)
        await pg.drop_database(pg_template, imported_url)

    assert actual == expected
    assert actual_mail == expected_mail
    # The comparison is of something: invitations left, answers and a cancellation are in the state.
    assert any(kind == "request" for _, _, kind, *_ in expected_mail)
    invitations = {
        i["participant_id"]: i["status"] for i in expected["imp-same-2"]["meetings"][0]["invitations"]
    }
    assert (invitations["p-guardian"], invitations["p-school"]) == ("accepted", "declined")
    assert expected["imp-same-3"]["meetings"][0]["status"] == "cancelled"
    assert expected["imp-same-4"]["meetings"][0]["invitations"][0]["status"] == "sent"


async def outbox(service: Service) -> list[tuple[Any, ...]]:
    rows = await service.runtime.pool.fetch(
        "select message_id, case_id, kind, channel, recipient, state from outbox order by message_id"
    )
    return [tuple(row.values()) for row in rows]


@pytest.mark.slow
async def test_the_command_works_beside_a_running_service_on_the_embedded_database(tmp_path: Path) -> None:
    environment = {
        "SIPVAKT_DATA_DIR": str(tmp_path / "data"),
        "SIPVAKT_ADMIN_TOKEN": "import-admin-token-0123456789",
        "SIPVAKT_TEST_CLOCK": CLOCK,
    }
    service = ServiceProcess(environment)
    await service.start(within_seconds=180)
    try:
        path = tmp_path / "open-cases.ndjson"
        path.write_bytes(ndjson(case_lines("imp-beside")))
        # A generous limit: on a loaded machine the command's start alone (imports, joining the server)
        # has been seen to take most of a minute.
        done = run_command(
            "import", "--integration", "default", "--file", str(path), environment=environment, timeout=400
        )
        assert done.returncode == 0, done.stderr
        assert [json.loads(line)["status"] for line in done.stdout.splitlines()] == ["accepted"] * 5
        headers = {"Authorization": f"Bearer {environment['SIPVAKT_ADMIN_TOKEN']}"}
        async with (
            aiohttp.ClientSession(headers=headers) as client,
            client.get(service.url + "/v1/cases/imp-beside") as response,
        ):
            assert response.status == 200
            case = await response.json()
        invitations = {i["participant_id"]: i["status"] for i in case["meetings"][0]["invitations"]}
        assert (invitations["p-guardian"], invitations["p-school"]) == ("accepted", "declined")
    finally:
        assert service.stop() == 0


@pytest.mark.parametrize(
    "report",
    [
        LineReport(1, "accepted", "evt_0123456789abcdef01234567"),
        LineReport(22, "duplicate", "evt_x-y_Z"),
        LineReport(3, "duplicate", 'evt "quoted" ö'),
        LineReport(4, "invalid", errors=(FieldError(loc=["id"], msg="this id was already used"),)),
        LineReport(5, "invalid"),
    ],
)
def test_a_report_line_is_what_json_writes(report: LineReport) -> None:
    fields: dict[str, object] = {"line": report.line, "status": report.status}
    if report.event_id is not None:
        fields["event_id"] = report.event_id
    if report.errors:
        fields["errors"] = [error.model_dump() for error in report.errors]
    assert report.to_json() == json.dumps(fields, ensure_ascii=False)
