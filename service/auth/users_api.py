"""`/v1/users`: an admin registers, lists and disables the people who sign in to the web app."""

from __future__ import annotations

import json
import logging

from aiohttp import web

from scheduler.events import FieldError
from service.auth.users import InvalidUser, UserExists, checked_request, create_user, disable_user, list_users
from service.context import runtime
from service.http.api import authorize
from service.http.problems import Problem, invalid_fields
from service.http.query import refuse_query

log = logging.getLogger(__name__)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/users", post_user)
    app.router.add_get("/v1/users", get_users)
    app.router.add_delete("/v1/users/{email}", delete_user)


async def post_user(request: web.Request) -> web.Response:
    await authorize(request)
    rt = runtime(request)
    if request.content_type != "application/json":
        raise Problem(415, "unsupported-media-type", "send the user as Content-Type: application/json")
    try:
        body = json.loads(await request.read())
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise invalid_fields(
            "invalid-user", "user", [FieldError(loc=[], msg="the body is not JSON")]
        ) from None
    try:
        wanted = checked_request(body, rt.rulebook.names())
    except InvalidUser as exc:
        raise invalid_fields("invalid-user", "user", exc.errors) from None
    try:
        async with rt.pool.acquire() as connection:
            user = await create_user(connection, wanted, await rt.clock.now())
    except UserExists:
        raise Problem(409, "user-exists", "a user with this e-mail address already exists") from None
    log.info("user registered", extra={"reason": user.user_id})
    return web.json_response(user.as_json(), status=201)


async def get_users(request: web.Request) -> web.Response:
    await authorize(request)
    refuse_query(request.query)
    async with runtime(request).pool.acquire() as connection:
        users = await list_users(connection)
    return web.json_response({"users": [user.as_json() for user in users]})


async def delete_user(request: web.Request) -> web.Response:
    """Disable the user (their id stays on what they did) and end their sessions."""
    await authorize(request)
    rt = runtime(request)
    async with rt.pool.acquire() as connection, connection.transaction():
        user = await disable_user(connection, request.match_info["email"], await rt.clock.now())
    if user is None:
        raise Problem(404, "not-found", "no enabled user with this e-mail address")
    return web.Response(status=204)
