"""Printed invitations (PDF, A4) for participants who are reached by post.

The page is laid out for a C5 or C4 envelope with the window on the left, as used by Swedish
municipalities and regions (same position as DIN 5008 form B; distances from the sheet's top-left):

* window: 20 mm from the left edge, 45 mm from the top, 90 mm wide and 45 mm high;
* return line: the top 5 mm of the window, in 7 pt, showing only the caller's neutral return address
  (for example "sipvakt, Box 123, 371 00 Karlskrona"): no unit name, nothing that tells a postman
  or a neighbour which care the recipient receives;
* recipient: from 52 mm down, at most six lines of name and postal address, 5 mm apart, starting 5 mm
  inside the window so a shifted sheet still shows every character.

Everything outside the window (date, heading, meeting details, reply code) starts 100 mm from the top.
The built-in Helvetica with Windows-1252 encoding covers å, ä, ö, é, ü and the dashes used in the texts,
so no font file is needed; characters beyond it are printed without their accents or as "?".
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from fpdf import FPDF

from calendars.addresses import require_web_url
from calendars.clean_text import clean_line
from notifiers.datefmt import format_calendar_date
from notifiers.templates import MeetingMessage, MeetingTexts, meeting_texts

WINDOW_LEFT_MM = 20.0
WINDOW_TOP_MM = 45.0
WINDOW_WIDTH_MM = 90.0
WINDOW_HEIGHT_MM = 45.0
RETURN_LINE_TOP_MM = WINDOW_TOP_MM + 1.0
ADDRESS_LEFT_MM = WINDOW_LEFT_MM + 5.0
ADDRESS_TOP_MM = WINDOW_TOP_MM + 7.0
ADDRESS_LINE_MM = 5.0
MAX_ADDRESS_LINES = 6
BODY_TOP_MM = 100.0
MARGIN_MM = 20.0

_ENCODING = "windows-1252"


@dataclass(frozen=True)
class PostalRecipient:
    """Whom the letter is addressed to: a name and the lines of a postal address."""

    name: str
    address_lines: tuple[str, ...]


@dataclass(frozen=True)
class LetterReply:
    """How to answer a letter: a short code to give by phone or on the reply page, and that page's URL."""

    code: str
    url: str

    def __post_init__(self) -> None:
        require_web_url(self.url)


def printable(text: str) -> str:
    """One clean line that the built-in PDF font can print: accents dropped only where it must."""
    result = []
    for char in clean_line(text):
        if _encodable(char):
            result.append(char)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
        result.append(base if base and all(_encodable(c) for c in base) else "?")
    return "".join(result)


def _encodable(char: str) -> bool:
    try:
        char.encode(_ENCODING)
    except UnicodeEncodeError:
        return False
    return True


def address_block(recipient: PostalRecipient) -> tuple[str, ...]:
    """The lines shown in the window: name first, empty lines dropped, at most six."""
    lines = [printable(recipient.name), *(printable(line) for line in recipient.address_lines)]
    kept = tuple(line for line in lines if line)
    if len(kept) > MAX_ADDRESS_LINES:
        raise ValueError(f"an address block fits {MAX_ADDRESS_LINES} lines, got {len(kept)}")
    return kept


def build_letter(
    message: MeetingMessage,
    recipient: PostalRecipient,
    return_address: str,
    reply: LetterReply | None,
    letter_date: date,
) -> bytes:
    """An invitation, update or cancellation letter as PDF bytes, one recipient per letter."""
    texts = meeting_texts(message)
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.core_fonts_encoding = _ENCODING
    pdf.set_margins(MARGIN_MM, MARGIN_MM, MARGIN_MM)
    pdf.set_auto_page_break(auto=True, margin=MARGIN_MM)
    # Fixed metadata: no author or unit name in the file, and the same input gives the same bytes.
    pdf.set_title(printable(texts.heading))
    pdf.set_creator("sipvakt")
    pdf.set_producer("sipvakt")
    pdf.set_creation_date(datetime.combine(letter_date, time(0, 0), tzinfo=UTC))
    pdf.add_page()

    _window(pdf, recipient, return_address)
    _body(pdf, message, texts, reply, letter_date)
    return bytes(pdf.output())


def _window(pdf: FPDF, recipient: PostalRecipient, return_address: str) -> None:
    pdf.set_font("Helvetica", size=7)
    pdf.set_xy(ADDRESS_LEFT_MM, RETURN_LINE_TOP_MM)
    pdf.cell(WINDOW_WIDTH_MM - 10, 3, printable(return_address))
    pdf.set_font("Helvetica", size=11)
    for index, line in enumerate(address_block(recipient)):
        pdf.set_xy(ADDRESS_LEFT_MM, ADDRESS_TOP_MM + index * ADDRESS_LINE_MM)
        pdf.cell(WINDOW_WIDTH_MM - 10, ADDRESS_LINE_MM, line)


def _body(
    pdf: FPDF, message: MeetingMessage, texts: MeetingTexts, reply: LetterReply | None, letter_date: date
) -> None:
    width = pdf.w - 2 * MARGIN_MM
    pdf.set_font("Helvetica", size=10)
    pdf.set_xy(130, WINDOW_TOP_MM + 1)
    pdf.cell(60, 5, printable(format_calendar_date(letter_date, message.language)))

    pdf.set_xy(MARGIN_MM, BODY_TOP_MM)
    pdf.set_font("Helvetica", style="B", size=15)
    pdf.multi_cell(width, 8, printable(texts.heading), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(width, 6, printable(texts.intro), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    for label, value in texts.details:
        _field(pdf, label, value, width)
    if texts.questions:
        pdf.ln(2)
        pdf.set_font("Helvetica", style="B", size=11)
        pdf.multi_cell(width, 6, printable(texts.questions_label), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        for question in texts.questions:
            pdf.multi_cell(width, 6, printable(f"- {question}"), new_x="LMARGIN", new_y="NEXT")
    if reply is not None and texts.reply_links:
        pdf.ln(4)
        pdf.set_font("Helvetica", style="B", size=11)
        pdf.multi_cell(width, 6, printable(texts.reply_label), new_x="LMARGIN", new_y="NEXT")
        _field(pdf, texts.labels["reply_code"], reply.code, width)
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(width, 6, printable(reply.url), new_x="LMARGIN", new_y="NEXT")


def _field(pdf: FPDF, label: str, value: str, width: float) -> None:
    pdf.set_font("Helvetica", style="B", size=11)
    pdf.cell(42, 6, printable(label))
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(width - 42, 6, printable(value), new_x="LMARGIN", new_y="NEXT")
