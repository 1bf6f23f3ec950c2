"""PDF letters: the address sits in the envelope window, the return line is neutral, text is intact."""

from __future__ import annotations

from datetime import date

import pytest

from notifiers.letters import (
    ADDRESS_TOP_MM,
    WINDOW_HEIGHT_MM,
    WINDOW_LEFT_MM,
    WINDOW_TOP_MM,
    WINDOW_WIDTH_MM,
    LetterReply,
    PostalRecipient,
    address_block,
    build_letter,
    printable,
)
from notifiers.templates import MeetingMessageKind
from tests.calendars.samples import meeting_message
from tests.notifiers.pdf_text import TextPiece, all_text, text_pieces

RECIPIENT = PostalRecipient("Åsa Öberg (test)", ("Storgatan 1 B", "371 31 Karlskrona"))
RETURN_ADDRESS = "sipvakt, Box 123, 371 21 Karlskrona"
REPLY = LetterReply("K7Q-4ZP", "https://sipvakt.example.se/svar")


def _letter(recipient: PostalRecipient = RECIPIENT, **changes: object) -> bytes:
    return build_letter(meeting_message(**changes), recipient, RETURN_ADDRESS, REPLY, date(2026, 11, 23))


def _in_window(piece: TextPiece) -> bool:
    return (
        WINDOW_LEFT_MM <= piece.left_mm <= WINDOW_LEFT_MM + WINDOW_WIDTH_MM
        and WINDOW_TOP_MM <= piece.from_top_mm <= WINDOW_TOP_MM + WINDOW_HEIGHT_MM
    )


def test_it_is_a_pdf() -> None:
    pdf = _letter()
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")


def test_window_shows_the_return_line_then_name_and_address_and_nothing_else() -> None:
    window = [piece.text for piece in text_pieces(_letter()) if _in_window(piece)]
    assert window == [RETURN_ADDRESS, "Åsa Öberg (test)", "Storgatan 1 B", "371 31 Karlskrona"]


def test_address_lines_start_inside_the_window_with_a_margin() -> None:
    pieces = {piece.text: piece for piece in text_pieces(_letter())}
    name = pieces["Åsa Öberg (test)"]
    assert name.left_mm >= WINDOW_LEFT_MM + 4
    assert name.from_top_mm >= ADDRESS_TOP_MM
    last = pieces["371 31 Karlskrona"]
    assert last.from_top_mm <= WINDOW_TOP_MM + WINDOW_HEIGHT_MM - 4


def test_body_is_below_the_window_with_swedish_letters_intact() -> None:
    pieces = text_pieces(_letter())
    text = "\n".join(piece.text for piece in pieces)
    for expected in (
        "Kallelse till SIP-möte",
        "måndag 14 december 2026 kl. 13.00–14.30",
        "Rådhuset, sal 3, Karlskrona",
        "Gemensam planering av stöd",
        "- Hur fungerar skolan?",
        "Svarskod",
        "K7Q-4ZP",
        "https://sipvakt.example.se/svar",
        "23 november 2026",
    ):
        assert expected in text
    heading = next(piece for piece in pieces if piece.text == "Kallelse till SIP-möte")
    assert heading.from_top_mm > WINDOW_TOP_MM + WINDOW_HEIGHT_MM


def test_cancellation_letter_has_no_reply_code() -> None:
    text = all_text(_letter(kind=MeetingMessageKind.CANCELLATION))
    assert "SIP-mötet är inställt" in text
    assert "K7Q-4ZP" not in text


def test_a_hostile_name_cannot_add_or_shift_address_lines() -> None:
    hostile = PostalRecipient("Testa\r\nTestsson\x00\u202e", ("Storgatan 1", "371 31 Karlskrona"))
    window = [piece.text for piece in text_pieces(_letter(hostile)) if _in_window(piece)]
    assert window == [RETURN_ADDRESS, "Testa Testsson", "Storgatan 1", "371 31 Karlskrona"]


def test_too_many_address_lines_are_refused() -> None:
    with pytest.raises(ValueError):
        address_block(PostalRecipient("A", tuple(f"Rad {n}" for n in range(6))))


def test_characters_beyond_the_builtin_font_lose_only_their_accents() -> None:
    assert printable("Łukasz Čapek – Åsa") == "?ukasz Capek – Åsa"
    assert printable("Ödön 😀") == "Ödön ?"


def test_the_same_input_gives_the_same_bytes() -> None:
    assert _letter() == _letter()


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "sv",
            (
                "Kallelse till SIP-möte",
                "måndag 14 december 2026 kl. 13.00–14.30",
                "Svarskod",
                "23 november 2026",
            ),
        ),
        (
            "en",
            (
                "Invitation to a SIP meeting",
                "Monday 14 December 2026 at 13:00–14:30",
                "Reply code",
                "23 November 2026",
            ),
        ),
        (
            "sv-x-lattlast",
            (
                "Du är bjuden till ett SIP-möte",
                "måndag 14 december 2026 klockan 13.00 till 14.30",
                "Kod för att svara",
                "23 november 2026",
            ),
        ),
    ],
)
def test_a_letter_is_written_in_the_participants_language(language: str, expected: tuple[str, ...]) -> None:
    text = "\n".join(piece.text for piece in text_pieces(_letter(language=language)))
    for words in expected:
        assert words in text, words
