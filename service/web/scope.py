"""What a signed-in user may reach, for the pages: their principal, the regions in their scope, and the
answer when their role may not do something."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from service.access import EVERYTHING, Principal
from service.context import runtime
from service.web.pages import signed_in
from service.web.templating import render


@dataclass(frozen=True)
class RegionChoice:
    name: str
    display_name: str


def principal(request: web.Request) -> Principal:
    """The signed-in user as a principal (a visitor without a session is sent to sign in)."""
    return signed_in(request).user.principal()


def regions_in_scope(request: web.Request, who: Principal) -> list[RegionChoice]:
    """The regions with a rule file that the user's scope names, by their display names."""
    rulebook = runtime(request).rulebook
    every = who.role == "admin" or EVERYTHING in who.regions
    return sorted(
        (
            RegionChoice(name, rulebook.region(name).display_name)
            for name in rulebook.names()
            if every or name in who.regions
        ),
        key=lambda choice: choice.display_name,
    )


def forbidden(request: web.Request, text: str) -> web.Response:
    return render(request, "forbidden.html", status=403, title="Ingen behörighet", text=text)
