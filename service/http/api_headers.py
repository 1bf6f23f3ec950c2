"""Headers on every answer of the API, so that no browser or cache treats one as more than data.

The web app (`/app/`) and the reply page (`/rsvp/`) set their own, stricter ones for HTML; those are kept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

API_HEADERS = {
    # A case, a letter or a token list must not sit in a shared or browser cache.
    "Cache-Control": "no-store",
    # A JSON or PDF answer is never run as a script or a page, whatever a browser guesses.
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}


@web.middleware
async def api_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if request.path.startswith("/app/") or response.prepared:
        return response
    for name, value in API_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
