"""Each participant reads their messages in their own language, end to end: the invitation's subject,
body and calendar file, and the letter, in Swedish, English or easy Swedish; any other language is a
400 at the participant's `language`, and nothing is stored."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

from tests import samples
from tests.notifiers.pdf_text import text_pieces
from tests.service.harness import started
from tests.service.mail import MailSink, mailing_settings, reply_token, smtp_server
from tests.service.test_invitation_contact import bodies, calendar_event


def meeting_in_languages(**languages: str) -> dict[str, Any]:
    meeting = samples.meeting_scheduled()
    for participant in meeting["data"]["participants"]:
        if participant["participant_id"] in languages:
            participant["language"] = languages[participant["participant_id"]]
    return meeting


async def test_each_participant_gets_the_invitation_in_their_own_language(
    database_url: str, tmp_path: Path
) -> None:
    sink = MailSink()
    meeting = meeting_in_languages(**{"p-guardian": "sv-x-lattlast", "p-school": "en", "p-bup": "en"})
    async with smtp_server(sink) as port, started(mailing_settings(database_url, tmp_path, port)) as service:
        await service.push(samples.case_opened())
        await service.push(samples.consent_given())
        await service.push(meeting)
        await service.settle()
        coordinator = {"Authorization": f"Bearer {await service.token('coordinator', ['blekinge'], ['*'])}"}
        [letter] = (await (await service.client.get("/v1/letters", headers=coordinator)).json())["letters"]
        pdf = await (await service.client.get(letter["pdf_url"], headers=coordinator)).read()

    [easy] = sink.to("asa.oberg@example.org")
    assert easy.message["Subject"] == "Inbjudan till SIP-möte 17 december 2026 klockan 13.00"
    assert "torsdag 17 december 2026 klockan 13.00 till 14.30" in bodies(easy)
    assert "Jag kommer" in bodies(easy)
    assert " kl. " not in bodies(easy)
    assert calendar_event(easy)["SUMMARY"] == "SIP-möte"

    [english] = sink.to("sam@example.se")
    assert english.message["Subject"] == (
        "Invitation to a SIP meeting 17 December 2026 at 13:00 (case reference blek-2026-0042)"
    )
    assert "Thursday 17 December 2026 at 13:00–14:30" in bodies(english)
    assert "Kallelse" not in bodies(english) and "Tid" not in bodies(english)
    assert calendar_event(english)["SUMMARY"] == "SIP meeting (case reference blek-2026-0042)"
    assert 'lang="en"' in bodies(english)

    letter_text = " ".join(piece.text for piece in text_pieces(pdf))
    assert "Invitation to a SIP meeting" in letter_text
    assert "Thursday 17 December 2026 at 13:00" in letter_text


async def test_a_participant_without_a_language_reads_swedish(database_url: str, tmp_path: Path) -> None:
    sink = MailSink()
    async with smtp_server(sink) as port, started(mailing_settings(database_url, tmp_path, port)) as service:
        await service.push(samples.case_opened())
        await service.push(samples.consent_given())
        await service.push(samples.meeting_scheduled())
        await service.settle()
    [guardian] = sink.to("asa.oberg@example.org")
    assert guardian.message["Subject"] == "Kallelse till SIP-möte 17 december 2026 kl. 13.00"


async def test_an_unknown_language_is_a_400_at_the_participant_and_stores_nothing(
    database_url: str, tmp_path: Path
) -> None:
    sink = MailSink()
    async with smtp_server(sink) as port, started(mailing_settings(database_url, tmp_path, port)) as service:
        await service.push(samples.case_opened())
        for bad in ("fr", "SV", "sv-SE", "", 1, None):
            meeting = copy.deepcopy(samples.meeting_scheduled())
            meeting["data"]["participants"][1]["language"] = bad
            response = await service.push(meeting)
            problem = await response.json(content_type="application/problem+json")
            assert response.status == 400, bad
            assert ["data", "participants", 1, "language"] in [error["loc"] for error in problem["errors"]]
        await service.settle()
        admin = {"Authorization": f"Bearer {await service.token('admin', ['*'], ['*'])}"}
        case = await (await service.client.get("/v1/cases/blek-2026-0042", headers=admin)).json()
    assert case["meetings"] == []
    assert sink.received == []


async def test_the_reply_page_speaks_the_invitations_language(database_url: str, tmp_path: Path) -> None:
    sink = MailSink()
    meeting = meeting_in_languages(**{"p-guardian": "en", "p-school": "sv-x-lattlast"})
    async with smtp_server(sink) as port, started(mailing_settings(database_url, tmp_path, port)) as service:
        await service.push(samples.case_opened())
        await service.push(samples.consent_given())
        await service.push(meeting)
        await service.settle()
        english = reply_token(sink.to("asa.oberg@example.org")[0])
        easy = reply_token(sink.to("sam@example.se")[0])

        page = await (await service.client.get(f"/rsvp/{english}?svar=nej")).text()
        assert '<html lang="en">' in page
        assert "Reply to the invitation to a SIP meeting" in page
        assert "Thursday 17 December 2026 at 13:00–14:30" in page
        assert "Reason (optional)" in page and "Anledning" not in page
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert csrf is not None
        refused = await service.client.post(
            f"/rsvp/{english}", data={"token": english, "csrf_token": csrf[1], "svar": "ersattare"}
        )
        assert refused.status == 400
        assert "Write the substitute&#x27;s name." in await refused.text()

        easy_page = await (await service.client.get(f"/rsvp/{easy}")).text()
        assert '<html lang="sv-x-lattlast">' in easy_page
        assert "Svara på inbjudan till SIP-möte" in easy_page
        assert "torsdag 17 december 2026 klockan 13.00 till 14.30" in easy_page
