"""Loggkontroll: an auditor's random sample of the access log, in the same scope as `GET /v1/audit-log`;
a bad number is a 400 that says what is wrong; a coordinator may not see it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests import samples
from tests.service.harness import ADMIN_TOKEN, Service, service_settings, started
from tests.service.test_web_cases import sign_in_as

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
async def service(database_url: str, tmp_path: Path) -> AsyncIterator[Service]:
    async with started(service_settings(database_url, tmp_path)) as running:
        for case_id, region in (("blek-2026-0042", "blekinge"), ("hall-2026-0007", "halland")):
            assert (await running.push(samples.case_opened(case_id, region))).status == 202
        await running.settle()
        for case_id in ("blek-2026-0042", "hall-2026-0007"):
            assert (await running.client.get(f"/v1/cases/{case_id}", headers=ADMIN)).status == 200
        yield running


def sampled_cases(page: str) -> set[str]:
    return set(re.findall(r"<td>((?:blek|hall)-2026-\d{4})</td></tr>", page))


async def test_an_auditor_samples_only_the_entries_in_scope(service: Service) -> None:
    await sign_in_as(service, "granskare@example.se", ["halland"], role="auditor")
    answer = await service.client.get("/app/audit?antal=50")
    page = await answer.text()
    assert answer.status == 200
    assert sampled_cases(page) == {"hall-2026-0007"}
    assert "poster dragna slumpvis" in page

    one = await (await service.client.get("/app/audit?antal=1")).text()
    assert one.count('<th scope="row">aud_') == 1


async def test_the_sample_can_be_of_one_case_and_a_bad_number_is_named(service: Service) -> None:
    await sign_in_as(service, "admin@example.se", ["*"], role="admin")
    page = await (await service.client.get("/app/audit?antal=50&arende=blek-2026-0042")).text()
    assert sampled_cases(page) == {"blek-2026-0042"}
    for bad in ("0", "1001", "tjugo", "١٢"):
        refused = await service.client.get("/app/audit", params={"antal": bad})
        assert refused.status == 400
        text = await refused.text()
        assert "Antalet ska vara ett heltal från 1 till 1000." in text and f">{bad}<" not in text
    personnummer = await service.client.get("/app/audit", params={"arende": samples.TEST_PERSONNUMMER})
    assert personnummer.status == 400
    assert samples.TEST_PERSONNUMMER not in await personnummer.text()


async def test_a_coordinator_may_not_see_the_log(service: Service) -> None:
    await sign_in_as(service, "kim@example.se", ["*"], role="coordinator")
    assert (await service.client.get("/app/audit")).status == 403
