"""The signed-in user's scope, read exactly as a token's: the same `Principal` and the same SQL condition
(`service.reports.Where.scope`) that the API uses, so a page never shows what the API would not."""

from __future__ import annotations

from aiohttp import web

from config.rules import RuleBook
from service.access import EVERYTHING, Principal
from service.web.pages import signed_in


def principal(request: web.Request) -> Principal:
    """The signed-in user as a principal; a visitor without a session is sent to sign in."""
    return signed_in(request).user.principal()


def regions_in_scope(who: Principal, rulebook: RuleBook) -> list[tuple[str, str]]:
    """(name, display name) of the regions the user may filter by: those of the scope that have rules."""
    allowed = who.region_filter()
    names = rulebook.names() if allowed is None else [name for name in allowed if name in rulebook.names()]
    return [(name, rulebook.region(name).display_name) for name in names]


def limited_organisations(who: Principal) -> list[str] | None:
    """The organisations of a scope that lists them, or None for all."""
    if who.role == "admin" or EVERYTHING in who.organisations:
        return None
    return sorted(who.organisations)
