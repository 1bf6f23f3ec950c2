"""The sections of the app, in the order the navigation shows them; later pages add theirs here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    path: str
    label: str


SECTIONS = (
    Section("/app/", "Att göra"),
    Section("/app/cases", "Ärende"),
    Section("/app/deviations", "Avvikelser"),
    Section("/app/report", "Årsrapport"),
    Section("/app/reminder-policy", "Påminnelser"),
    Section("/app/letters", "Brev"),
    Section("/app/audit", "Loggkontroll"),
)
