"""Errors as Swedish pages, and redirects as plain answers, so the security headers reach both."""

from __future__ import annotations

import logging

from aiohttp import web

from service.web.security import Handler
from service.web.templating import render

log = logging.getLogger(__name__)


@web.middleware
async def html_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            return web.Response(status=exc.status, headers=exc.headers)
        return render(request, "error.html", status=exc.status, status_code=exc.status, title="Fel")
    except Exception:
        log.exception("unexpected error while answering a page")
        return render(request, "error.html", status=500, status_code=500, title="Fel")
