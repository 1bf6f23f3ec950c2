"""The reply page: reached from the link in the e-mail, answered without JavaScript, and closed after
the meeting."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import ClientResponse

from tests import samples
from tests.service.harness import Service, started
from tests.service.mail import MailSink, mailing_settings, reply_token

GUARDIAN = "asa.oberg@example.org"


@pytest.fixture
async def service(database_url: str, tmp_path: Path, sink: tuple[MailSink, int]) -> AsyncIterator[Service]:
    settings = mailing_settings(
        database_url,
        tmp_path,
        sink[1],
        SIPVAKT_PUBLIC_URL="https://sipvakt.example.se",
    )
    async with started(settings) as running_service:
        await running_service.push(samples.case_opened())
        await running_service.push(samples.consent_given())
        await running_service.push(samples.meeting_scheduled())
        await running_service.settle()
        yield running_service


@pytest.fixture
def token(sink: tuple[MailSink, int]) -> str:
    [invitation] = sink[0].to(GUARDIAN)
    return reply_token(invitation)


async def status_of(service: Service, participant_id: str) -> str:
    case = await (await service.case("blek-2026-0042")).json()
    statuses: dict[str, str] = {i["participant_id"]: i["status"] for i in case["meetings"][0]["invitations"]}
    return statuses[participant_id]


def csrf_of(page: str) -> str | None:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    return match.group(1) if match else None


async def post_answer(service: Service, token: str, form: dict[str, str]) -> ClientResponse:
    """Post the form as a browser does: with the CSRF token of the page it was shown on."""
    page = await (await service.client.get(f"/rsvp/{token}")).text()
    csrf = csrf_of(page)
    return await service.client.post(
        f"/rsvp/{token}", data={**form, **({"csrf_token": csrf} if csrf else {})}
    )


async def events(service: Service) -> int:
    count: int = await service.runtime.pool.fetchval("select count(*) from events")
    return count


async def test_every_invitation_links_to_its_own_page(
    service: Service, sink: tuple[MailSink, int], token: str
) -> None:
    mails, _ = sink
    text = mails.to(GUARDIAN)[0].text()
    for answer in ("ja", "nej", "ersattare"):
        assert f"https://sipvakt.example.se/rsvp/{token}?svar={answer}" in text
    other = reply_token(mails.to("sam@example.se")[0])
    assert other != token


async def test_the_page_shows_the_meeting_and_one_labelled_form_per_answer(
    service: Service, token: str
) -> None:
    response = await service.client.get(f"/rsvp/{token}?svar=ja")
    page = await response.text()
    assert response.status == 200 and response.content_type == "text/html"
    assert '<html lang="sv">' in page and "<h1>" in page
    assert "Testskolan, rum 3" in page and "Samordna insatser i skola och hem" in page
    assert "Åsa" not in page and "Testa" not in page
    assert page.count("<form ") == 3
    for field in ("namn", "epost", "organisation"):
        assert f'<label for="{field}">' in page and f'id="{field}"' in page
    assert "<script" not in page
    assert response.headers["Cache-Control"] == "no-store"
    # The answer chosen in the e-mail comes first.
    assert page.index('id="svar-ja"') < page.index('id="svar-nej"') < page.index('id="svar-ersattare"')


async def test_looking_at_the_page_changes_nothing(service: Service, token: str) -> None:
    before = await events(service)
    await service.client.get(f"/rsvp/{token}?svar=nej")
    assert await events(service) == before


async def test_accepting_and_then_declining(service: Service, token: str) -> None:
    accepted = await post_answer(service, token, {"token": token, "svar": "ja"})
    assert accepted.status == 200 and "Tack för ditt svar" in await accepted.text()
    await service.settle()
    assert await status_of(service, "p-guardian") == "accepted"
    declined = await post_answer(service, token, {"token": token, "svar": "nej"})
    assert declined.status == 200
    await service.settle()
    assert await status_of(service, "p-guardian") == "declined"
    page = await (await service.client.get(f"/rsvp/{token}")).text()
    assert "Du har svarat att du inte kan komma." in page


async def test_a_double_submit_is_one_answer(service: Service, token: str) -> None:
    before = await events(service)
    for _ in range(2):
        await post_answer(service, token, {"token": token, "svar": "ja"})
    await service.settle()
    assert await events(service) == before + 1


async def test_naming_a_substitute_invites_them(
    service: Service, sink: tuple[MailSink, int], token: str
) -> None:
    form = {
        "token": token,
        "svar": "ersattare",
        "namn": "Siv Ersättare (test)",
        "epost": "siv.ersattare@example.org",
        "organisation": "Testkommun",
    }
    response = await post_answer(service, token, form)
    assert response.status == 200 and "Ersättaren får en egen kallelse" in await response.text()
    await service.settle()
    assert await status_of(service, "p-guardian") == "delegated"
    assert await status_of(service, "p-guardian.ersattare") == "sent"
    [invitation] = sink[0].to("siv.ersattare@example.org")
    assert invitation.calendar_method() == "REQUEST"


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"svar": "ersattare", "namn": "Siv", "epost": ""}, "Skriv ersättarens e-postadress."),
        ({"svar": "ersattare", "namn": "", "epost": "siv@example.org"}, "Skriv ersättarens namn."),
        ({"svar": "ersattare", "namn": "Siv", "epost": "inte en adress"}, "Skriv en giltig e-postadress"),
        (
            {"svar": "ersattare", "namn": "Siv\r\nBcc: x@example.org", "epost": "siv@example.org"},
            "radbrytningar",
        ),
        ({"svar": "ersattare", "namn": "Siv", "epost": GUARDIAN}, "annan e-postadress"),
        ({"svar": "kanske"}, "Välj ett av svaren."),
    ],
)
async def test_bad_input_is_explained_and_nothing_is_stored(
    service: Service, token: str, form: dict[str, str], message: str
) -> None:
    before = await events(service)
    response = await post_answer(service, token, {"token": token, **form})
    page = await response.text()
    assert response.status == 400
    assert 'role="alert"' in page and message in page
    assert "<script" not in page and "\r\nBcc" not in page
    await service.settle()
    assert await events(service) == before


async def test_a_form_with_another_token_is_refused(
    service: Service, sink: tuple[MailSink, int], token: str
) -> None:
    other = reply_token(sink[0].to("sam@example.se")[0])
    before = await events(service)
    response = await post_answer(service, token, {"token": other, "svar": "nej"})
    assert response.status == 403
    assert await events(service) == before


async def test_an_unknown_token_finds_nothing(service: Service, token: str) -> None:
    forged = "a" * 20
    assert (await service.client.get(f"/rsvp/{forged}")).status == 404
    response = await service.client.post(f"/rsvp/{forged}", data={"token": forged, "svar": "ja"})
    assert response.status == 404
    assert (await service.client.get("/rsvp/not-a-token")).status == 404


async def test_the_link_expires_when_the_meeting_has_ended(service: Service, token: str) -> None:
    moved = await service.client.post("/v1/test-clock", json={"now": "2026-12-17T14:31:00+01:00"})
    assert moved.status == 200
    response = await service.client.get(f"/rsvp/{token}")
    assert response.status == 410 and "gäller inte längre" in await response.text()
    before = await events(service)
    assert (await post_answer(service, token, {"token": token, "svar": "ja"})).status == 410
    assert await events(service) == before


async def test_a_cancelled_meeting_takes_no_answers(service: Service, token: str) -> None:
    await service.push(samples.event("meeting.cancelled", meeting_id="m1"))
    await service.settle()
    assert (await service.client.get(f"/rsvp/{token}")).status == 410


async def test_the_printed_code_opens_the_same_page(service: Service, token: str) -> None:
    code = "-".join(re.findall("....", token.upper()))
    response = await service.client.get(f"/rsvp/{code}")
    assert response.status == 200


async def test_the_token_never_reaches_the_log(
    service: Service, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        await service.client.get(f"/rsvp/{token}")
        await post_answer(service, token, {"token": token, "svar": "ja"})
    assert any(getattr(record, "path", None) == "/rsvp/…" for record in caplog.records)
    assert all(token not in str(record.__dict__) for record in caplog.records)


async def test_the_same_answer_given_again_after_it_was_applied_is_one_event(
    service: Service, token: str
) -> None:
    """README, Replies: the same answer twice on the reply page is one event, also when the first one has
    already changed the invitation (a second click on the link in the e-mail a day later)."""
    before = await events(service)
    for _ in range(2):
        answered = await post_answer(service, token, {"token": token, "svar": "ja"})
        assert answered.status == 200
        await service.settle()
    assert await events(service) == before + 1
    metrics = await (await service.client.get("/metrics")).text()
    assert 'sipvakt_replies_total{channel="page",outcome="duplicate"} 1.0' in metrics


async def test_a_decline_s_reason_reaches_the_coordinator(service: Service, token: str) -> None:
    """The decline form has an optional reason; it becomes the answer's comment, shown with the invitation
    in the case (and so in the case.updated webhook and the digest, as for a calendar decline)."""
    page = await (await service.client.get(f"/rsvp/{token}?svar=nej")).text()
    assert '<label for="anledning">' in page and '<textarea id="anledning" name="anledning"' in page
    reason = "Jag är på kurs den veckan.\nRing mig gärna om en ny tid."
    declined = await post_answer(service, token, {"token": token, "svar": "nej", "anledning": reason})
    assert declined.status == 200
    await service.settle()
    case = await (await service.case("blek-2026-0042")).json()
    [entry] = [i for i in case["meetings"][0]["invitations"] if i["participant_id"] == "p-guardian"]
    assert (entry["status"], entry["comment"]) == ("declined", reason)
    # The reason is part of the answer: a changed reason is a new answer, the same one again is not.
    before = await events(service)
    await post_answer(service, token, {"token": token, "svar": "nej", "anledning": reason})
    await service.settle()
    assert await events(service) == before


async def test_a_reason_holding_a_personnummer_is_refused_without_echoing_it(
    service: Service, token: str
) -> None:
    """CONTRACT v1.1, free text: a personnummer in a comment is refused, naming the field, never echoed."""
    before = await events(service)
    response = await post_answer(
        service,
        token,
        {"token": token, "svar": "nej", "anledning": f"Gäller {samples.TEST_PERSONNUMMER}"},
    )
    page = await response.text()
    assert response.status == 400 and 'href="#anledning"' in page
    assert samples.TEST_PERSONNUMMER not in page and "1212" not in page
    await service.settle()
    assert await events(service) == before


async def test_no_get_changes_anything_whatever_its_query(service: Service, token: str) -> None:
    """Mail scanners and link previews fetch every link, with every query the message has, and more."""
    before = await events(service)
    queries = [
        "",
        "?svar=ja",
        "?svar=nej",
        "?svar=ersattare",
        "?svar=ja&token=" + token,
        "?svar=nej&anledning=x",
        "?svar=ersattare&namn=A&epost=a%40example.org",
    ]
    for query in queries:
        for method in ("GET", "HEAD"):
            response = await service.client.request(method, f"/rsvp/{token}{query}")
            assert response.status == 200
    await service.settle()
    assert await events(service) == before
    assert await status_of(service, "p-guardian") == "sent"


async def test_a_post_without_the_page_s_csrf_token_is_refused(
    service: Service, sink: tuple[MailSink, int], token: str
) -> None:
    other = reply_token(sink[0].to("sam@example.se")[0])
    other_page = await (await service.client.get(f"/rsvp/{other}")).text()
    stale = "1700000000." + "A" * 43
    before = await events(service)
    for extra in ({}, {"csrf_token": ""}, {"csrf_token": csrf_of(other_page) or ""}, {"csrf_token": stale}):
        response = await service.client.post(f"/rsvp/{token}", data={"token": token, "svar": "ja", **extra})
        assert response.status == 403
    await service.settle()
    assert await events(service) == before


async def test_a_form_shown_more_than_a_day_ago_is_refused(service: Service, token: str) -> None:
    page = await (await service.client.get(f"/rsvp/{token}")).text()
    csrf = csrf_of(page)
    assert csrf is not None
    moved = await service.client.post("/v1/test-clock", json={"now": "2026-11-26T09:00:00+01:00"})
    assert moved.status == 200
    response = await service.client.post(
        f"/rsvp/{token}", data={"token": token, "svar": "ja", "csrf_token": csrf}
    )
    assert response.status == 403
    assert (await post_answer(service, token, {"token": token, "svar": "ja"})).status == 200


async def test_the_page_s_headers_keep_it_private_and_unframed(service: Service, token: str) -> None:
    for response in (
        await service.client.get(f"/rsvp/{token}"),
        await service.client.get("/rsvp/" + "a" * 20),
        await post_answer(service, token, {"token": token, "svar": "ja"}),
    ):
        headers = response.headers
        assert headers["Cache-Control"] == "no-store"
        assert headers["Referrer-Policy"] == "no-referrer"
        policy = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
        assert "script-src" not in policy and "'unsafe-inline'" not in policy.split("style-src")[0]


async def test_the_online_meeting_address_is_a_link(
    database_url: str, tmp_path: Path, sink: tuple[MailSink, int]
) -> None:
    settings = mailing_settings(
        database_url, tmp_path, sink[1], SIPVAKT_PUBLIC_URL="https://sipvakt.example.se"
    )
    async with started(settings) as service:
        await service.push(samples.case_opened())
        await service.push(samples.consent_given())
        await service.push(samples.meeting_scheduled(online_url="https://mote.example.se/sip/42"))
        await service.settle()
        token = reply_token(sink[0].to(GUARDIAN)[0])
        page = await (await service.client.get(f"/rsvp/{token}")).text()
        assert '<a href="https://mote.example.se/sip/42" rel="noopener noreferrer">' in page


async def test_a_cancelled_meeting_s_page_names_the_coordinator_to_contact(
    service: Service, token: str
) -> None:
    await service.push(samples.event("meeting.cancelled", meeting_id="m1"))
    await service.settle()
    response = await service.client.get(f"/rsvp/{token}")
    page = await response.text()
    assert response.status == 410
    assert "Mötet är inställt" in page
    coordinator = samples.case_opened()["data"]["coordinator"]
    assert coordinator["name"] in page and f'href="mailto:{coordinator["email"]}"' in page
    assert "Åsa" not in page
