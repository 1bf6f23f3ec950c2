"""Pages from the Jinja2 templates in `templates/`: every value is escaped, a missing one is an error."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from service.web import security
from service.web.sections import SECTIONS

_ENVIRONMENT = Environment(
    loader=PackageLoader("service.web", "templates"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    """The template as an HTML page, with what every page's frame needs: the signed-in user (or None),
    the form token, and the navigation."""
    session = security.current_session(request)
    page = _ENVIRONMENT.get_template(template).render(
        user=session.user if session else None,
        csrf_token=security.form_token(request),
        path=request.path,
        sections=SECTIONS,
        **context,
    )
    return web.Response(text=page, status=status, content_type="text/html", charset="utf-8")
