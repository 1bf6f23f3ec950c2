"""What a signed-in user may reach, for the pages: their principal, read exactly as a token's (the same
`Principal` and the same SQL condition, `service.storage.where.Where.scope`, that the API uses, so a page
never shows what the API would not), the regions in their scope, and the answer when their role may not do
something."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from config.rules import RuleBook
from service.access import Principal
from service.context import runtime
from service.web.pages import signed_in
from service.web.templating import render


@dataclass(frozen=True)
class RegionChoice:
    name: str
    display_name: str


def principal(request: web.Request) -> Principal:
    """The signed-in user as a principal; a visitor without a session is sent to sign in."""
    return signed_in(request).user.principal()


def regions_in_scope(who: Principal, rulebook: RuleBook) -> list[tuple[str, str]]:
    """(name, display name) of the regions the user may filter by: those of the scope that have rules."""
    allowed = who.region_filter()
    names = rulebook.names() if allowed is None else [name for name in allowed if name in rulebook.names()]
    return [(name, rulebook.region(name).display_name) for name in names]


def region_choices(request: web.Request, who: Principal) -> list[RegionChoice]:
    """The regions with a rule file that the user's scope names, by their display names."""
    return sorted(
        (
            RegionChoice(name, display_name)
            for name, display_name in regions_in_scope(who, runtime(request).rulebook)
        ),
        key=lambda choice: choice.display_name,
    )


def forbidden(request: web.Request, text: str) -> web.Response:
    return render(request, "forbidden.html", status=403, title="Ingen behörighet", text=text)
