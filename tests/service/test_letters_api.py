"""The print queue API: listing, the PDF with its reply code, marking a letter posted, and scope."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests import samples
from tests.notifiers.pdf_text import text_pieces
from tests.service.harness import Service, service_settings, started


@pytest.fixture
async def service(database_url: str, tmp_path: Path) -> AsyncIterator[Service]:
    settings = service_settings(database_url, tmp_path, SIPVAKT_PUBLIC_URL="https://sipvakt.example.se")
    async with started(settings) as running_service:
        await running_service.push(samples.case_opened())
        await running_service.push(samples.consent_given())
        await running_service.push(samples.meeting_scheduled())
        await running_service.settle()
        yield running_service


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


async def test_a_coordinator_lists_prints_and_marks_a_letter_posted(service: Service) -> None:
    coordinator = bearer(await service.token("coordinator", ["blekinge"], ["Testregionen BUP"]))
    listing = await (await service.client.get("/v1/letters?state=queued", headers=coordinator)).json()
    [letter] = listing["letters"]
    assert (letter["case_id"], letter["meeting_id"], letter["participant_id"], letter["kind"]) == (
        "blek-2026-0042",
        "m1",
        "p-bup",
        "request",
    )
    assert letter["state"] == "queued" and letter["sent_at"] is None
    assert letter["letter_id"].startswith("ltr_") and "/" not in letter["letter_id"]

    pdf = await service.client.get(letter["pdf_url"], headers=coordinator)
    assert pdf.status == 200 and pdf.content_type == "application/pdf"
    text = " ".join(piece.text for piece in text_pieces(await pdf.read()))
    assert "https://sipvakt.example.se/rsvp/" in text and "Svarskod" in text

    marked = await service.client.post(f"/v1/letters/{letter['letter_id']}/sent", headers=coordinator)
    body = await marked.json()
    assert marked.status == 200 and body["state"] == "sent" and body["sent_at"] == "2026-11-23T08:00:00+00:00"
    again = await (
        await service.client.post(f"/v1/letters/{letter['letter_id']}/sent", headers=coordinator)
    ).json()
    assert again["sent_at"] == body["sent_at"]
    # Posting the invitation sends it: the case counts its notice from then.
    case = await (await service.case("blek-2026-0042")).json()
    invitation = {i["participant_id"]: i for i in case["meetings"][0]["invitations"]}["p-bup"]
    assert (invitation["status"], invitation["sent_at"]) == ("sent", "2026-11-23T08:00:00Z")
    assert [d["status"] for d in case["deadlines"] if d["kind"] == "notice"] == ["met"]
    assert (await (await service.client.get("/v1/letters", headers=coordinator)).json())["letters"] == []
    sent = await (await service.client.get("/v1/letters?state=sent", headers=coordinator)).json()
    assert [item["letter_id"] for item in sent["letters"]] == [letter["letter_id"]]


async def test_the_printed_reply_code_opens_the_reply_page(service: Service) -> None:
    admin = bearer("test-admin-token-" + "x" * 16)
    [letter] = (await (await service.client.get("/v1/letters", headers=admin)).json())["letters"]
    pdf = await (await service.client.get(letter["pdf_url"], headers=admin)).read()
    pieces = [piece.text for piece in text_pieces(pdf)]
    code = pieces[pieces.index("Svarskod") + 1]
    assert len(code.replace("-", "")) == 20
    assert (await service.client.get(f"/rsvp/{code}")).status == 200


async def test_letters_outside_the_scope_do_not_exist(service: Service) -> None:
    halland = bearer(await service.token("coordinator", ["halland"], ["*"]))
    other_organisation = bearer(await service.token("coordinator", ["blekinge"], ["Annan kommun"]))
    admin = bearer("test-admin-token-" + "x" * 16)
    [letter] = (await (await service.client.get("/v1/letters", headers=admin)).json())["letters"]
    for headers in (halland, other_organisation):
        assert (await (await service.client.get("/v1/letters", headers=headers)).json())["letters"] == []
        assert (await service.client.get(letter["pdf_url"], headers=headers)).status == 404
        posted = await service.client.post(f"/v1/letters/{letter['letter_id']}/sent", headers=headers)
        assert posted.status == 404
    state = await service.runtime.pool.fetchval("select state from letters")
    assert state == "queued"


async def test_only_coordinators_and_admins_reach_the_print_queue(service: Service) -> None:
    auditor = bearer(await service.token("auditor", ["*"], ["*"]))
    assert (await service.client.get("/v1/letters", headers=auditor)).status == 403
    assert (await service.client.get("/v1/letters")).status == 401
    coordinator = bearer(await service.token("coordinator", ["*"], ["*"]))
    bad = await service.client.get("/v1/letters?state=lost", headers=coordinator)
    assert bad.status == 400 and bad.content_type == "application/problem+json"
