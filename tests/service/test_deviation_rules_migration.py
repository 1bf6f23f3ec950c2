"""Migration 0009 on deviations stored before they carried their rule: each gets the rule the region files
give its kind today and whether it is reportable, in the table and in the case document, whose key order
is kept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from service.storage.database import create_pool, migrate
from tests import samples
from tests.service.harness import Service, service_settings, started
from tests.service.webhook_receiver import move_clock

HELD = "2026-12-17T15:00:00+01:00"


async def invite(service: Service, case_id: str, region: str) -> None:
    """The guardian is invited and accepts, before the meeting's start."""
    for body in (
        samples.case_opened(case_id, region),
        samples.consent_given(case_id),
        samples.meeting_scheduled(case_id),
        samples.meeting_scheduled(
            case_id, "m2", starts_at="2027-01-20T13:00:00+01:00", ends_at="2027-01-20T14:00:00+01:00"
        ),
        samples.responded("p-guardian", "accepted", case_id),
    ):
        assert (await service.push(body)).status == 202
    await service.settle()


async def absent_guardian(service: Service, case_id: str) -> None:
    """The guardian accepted and did not come: a no_show in every region."""
    held = samples.event(
        "meeting.held",
        case_id,
        occurred_at=HELD,
        meeting_id="m1",
        absent=["p-guardian"],
        responsible={"name": "Kim Koordinator", "email": "kim@example.se", "organisation": "Testkommun"},
        followup_on="2027-03-01",
        actions=[],
    )
    assert (await service.push(held)).status == 202
    await service.settle()


def without_rules(state: dict[str, Any]) -> dict[str, Any]:
    for deviation in state["deviations"]:
        deviation.pop("rule", None)
        deviation.pop("reportable", None)
    return state


async def test_stored_deviations_get_their_rule_and_reportable(database_url: str, tmp_path: Path) -> None:
    """Halland (002) names "att någon representant trots kallelse inte kommit" an avvikelse: its old
    no_show becomes `halland.no_show`, reportable; Blekinge's (001) is sipvakt's `default.escalation`."""
    settings = service_settings(database_url, tmp_path)
    async with started(settings) as service:
        # Both cases are taken in before the clock passes the meetings' start: intake refuses a past one.
        await invite(service, "hall-2026-0501", "halland")
        await invite(service, "blek-2026-0501", "blekinge")
        await move_clock(service, HELD)
        await absent_guardian(service, "hall-2026-0501")
        await absent_guardian(service, "blek-2026-0501")

    pool = await create_pool(database_url)
    try:
        # The shape before 0009: no reportable column, no rule but on `late`, none in the documents.
        before: dict[str, list[str]] = {}
        # Read and written as text, so that the key order is the document's own.
        for row in await pool.fetch("select case_id, state::text as state from cases"):
            state = without_rules(json.loads(row["state"]))
            before[row["case_id"]] = [*state]
            await pool.execute(
                "update cases set state = $2::text::json where case_id = $1",
                row["case_id"],
                json.dumps(state),
            )
        await pool.execute("update deviations set rule = null where kind <> 'late'")
        await pool.execute("drop index deviations_region_reportable")
        await pool.execute("alter table deviations drop column reportable")
        await pool.execute("delete from schema_migrations where version = 9")

        assert await migrate(pool) == [9]

        rows = await pool.fetch(
            "select case_id, kind, rule, reportable from deviations where kind in ('late', 'no_show')"
            " order by case_id, kind"
        )
        assert [tuple(row) for row in rows] == [
            # Blekinge's three weeks' notice was missed too: a late one keeps the rule it always had.
            ("blek-2026-0501", "late", "blekinge.minimum_notice_days", False),
            ("blek-2026-0501", "no_show", "default.escalation", False),
            ("hall-2026-0501", "no_show", "halland.no_show", True),
        ]
        for row in await pool.fetch("select case_id, state::text as state from cases"):
            state = json.loads(row["state"])
            assert [*state] == before[row["case_id"]]
            assert [*state["meetings"]] == ["m1", "m2"]
    finally:
        await pool.close()

    async with started(settings) as service:
        body = await (await service.case("hall-2026-0501")).json()
        found = [(d["rule"], d["reportable"]) for d in body["deviations"] if d["kind"] == "no_show"]
        assert found == [("halland.no_show", True)]
        assert all(d["rule"] is not None for d in body["deviations"])
