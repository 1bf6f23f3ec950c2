"""Just enough PDF reading for tests: the text pieces fpdf2 writes, with their positions in mm."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.DOTALL)
_TEXT = re.compile(r"BT ([\d.]+) ([\d.]+) Td \((.*?)\) Tj ET", re.DOTALL)
_POINTS_PER_MM = 72 / 25.4
_A4_HEIGHT_MM = 297.0


@dataclass(frozen=True)
class TextPiece:
    text: str
    left_mm: float
    from_top_mm: float


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def text_pieces(pdf: bytes) -> list[TextPiece]:
    pieces: list[TextPiece] = []
    for match in _STREAM.finditer(pdf):
        try:
            content = zlib.decompress(match.group(1)).decode("cp1252")
        except (zlib.error, UnicodeDecodeError):
            continue
        for x, y, text in _TEXT.findall(content):
            pieces.append(
                TextPiece(
                    _unescape(text), float(x) / _POINTS_PER_MM, _A4_HEIGHT_MM - float(y) / _POINTS_PER_MM
                )
            )
    return pieces


def all_text(pdf: bytes) -> str:
    return "\n".join(piece.text for piece in text_pieces(pdf))
