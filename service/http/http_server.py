"""The HTTP server around the application, for requests that never reach it.

aiohttp answers a request it cannot parse (a request line over 8190 bytes, a broken header) itself, before
any middleware runs: in text/plain, quoting the offending line, and logging that line with a traceback.
The line holds the path and the query, where a reply link's token may be, and a header may be a bearer
token. Here such a request gets problem+json like every other error, and the log says only what kind of
fault it was.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from service.http.problems import problem

log = logging.getLogger(__name__)


class ProblemRequestHandler(RequestHandler):
    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        fault = type(exc).__name__ if exc is not None else "unknown"
        if status >= 500:
            log.error("request failed outside the application", extra={"fault": fault})
        else:
            log.warning("malformed request refused", extra={"status": status, "fault": fault})
        if request.writer.output_size > 0:
            raise ConnectionError("the answer was already under way; the connection is closed")
        detail = (
            "the request is not well-formed HTTP (the request line and each header are at most 8190 bytes)"
            if status < 500
            else "an unexpected error occurred; it has been logged"
        )
        response = problem(status, "malformed-request" if status < 500 else "internal-error", detail)
        response.force_close()
        return response


class ProblemServer(web.Server):
    def __call__(self) -> RequestHandler:
        return ProblemRequestHandler(self, loop=asyncio.get_running_loop(), **self._kwargs)


class ApiRunner(web.AppRunner):
    """An AppRunner whose connections answer unparsable requests with problem+json."""

    async def _make_server(self) -> web.Server:
        made = await super()._make_server()
        # The same server, with the same handler arguments, only its connections' class differs.
        return ProblemServer(
            made.request_handler,
            request_factory=made.request_factory,
            handler_cancellation=made.handler_cancellation,
            **made._kwargs,
        )
