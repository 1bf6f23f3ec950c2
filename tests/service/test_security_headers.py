"""Every answer says how it may be handled: API data is never cached, sniffed or framed; the HTML pages
carry their own stricter policies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests import samples
from tests.service.harness import ADMIN_TOKEN, Service, service_settings, started

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
async def service(database_url: str, tmp_path: Path) -> AsyncIterator[Service]:
    async with started(service_settings(database_url, tmp_path)) as running_service:
        yield running_service


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/cases/blek-2026-0042", 200),
        ("GET", "/v1/cases/no-such-case", 404),
        ("GET", "/v1/webhook-subscriptions", 200),
        ("POST", "/v1/events", 415),
        ("GET", "/v1/no-such-route", 404),
    ],
)
async def test_api_answers_are_not_cached_sniffed_or_framed(
    service: Service, method: str, path: str, status: int
) -> None:
    assert (await service.push(samples.case_opened())).status == 202
    await service.settle()
    response = await service.client.request(method, path, headers=ADMIN)
    assert response.status == status
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert response.headers["Referrer-Policy"] == "no-referrer"


async def test_the_reply_page_keeps_its_own_policy(service: Service) -> None:
    response = await service.client.get("/rsvp/" + "a" * 20)
    assert response.status == 404
    assert "form-action 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"


async def test_the_web_apps_style_sheet_may_be_cached(service: Service) -> None:
    style = await service.client.get("/app/static/sipvakt.css")
    assert style.status == 200
    assert style.headers.get("Cache-Control") != "no-store"
