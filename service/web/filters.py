"""The filter forms of the list pages (GET, so that a filtered list is a link one can keep).

A value outside the choices is a 400 page naming the field in Swedish; the value itself is never shown
again, since anyone may have put anything (a personnummer too) into a link. An empty value means "all"."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from multidict import MultiMapping

_WHOLE = re.compile(r"[0-9]{1,6}", re.ASCII)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


@dataclass
class FilterForm:
    query: MultiMapping[str]
    known: tuple[str, ...]
    # (field name, Swedish message): what the page lists at its top, each linked to its field.
    errors: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if any(name not in self.known for name in self.query):
            self.errors.append(("", "Adressen innehåller ett filter som sidan inte känner till."))

    def text(self, name: str, label: str) -> str | None:
        values = self.query.getall(name, [])
        if len(values) > 1:
            self.errors.append((name, f"{label}: välj bara ett värde."))
            return None
        return values[0] if values and values[0] else None

    def choice(self, name: str, label: str, choices: list[str]) -> str | None:
        value = self.text(name, label)
        if value is not None and value not in choices:
            self.errors.append((name, f"{label}: välj ett av alternativen i listan."))
            return None
        return value

    def day(self, name: str, label: str) -> date | None:
        value = self.text(name, label)
        if value is None:
            return None
        try:
            if _DATE.fullmatch(value):
                parsed = date.fromisoformat(value)
                if 2000 <= parsed.year <= 2100:
                    return parsed
        except ValueError:
            pass
        self.errors.append((name, f"{label}: skriv ett datum som ÅÅÅÅ-MM-DD, till exempel 2026-11-23."))
        return None

    def page(self, name: str = "sida", maximum: int = 100_000) -> int:
        value = self.text(name, "Sida")
        if value is None:
            return 1
        if not _WHOLE.fullmatch(value) or not 1 <= int(value) <= maximum:
            self.errors.append((name, "Sida: ett heltal från 1."))
            return 1
        return int(value)
