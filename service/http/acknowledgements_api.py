"""`POST /v1/cases/{case_id}/deviations/{deviation_id}/acknowledgement`: see `service.acknowledgements`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from scheduler.events import FieldError
from service.context import runtime
from service.http.api import authorize
from service.http.json_input import JsonInputError, parse_json
from service.http.problems import Problem, invalid_fields
from service.storage.acknowledgements import (
    Acknowledgement,
    NoteRefused,
    acknowledge,
    case_in_scope,
    checked_note,
)


class AcknowledgementView(BaseModel):
    """The answer: who acknowledged and when; the note stays in the service."""

    deviation_id: str
    acknowledged_at: datetime
    acknowledged_by: str


def acknowledgement_json(deviation_id: str, done: Acknowledgement) -> dict[str, Any]:
    view = AcknowledgementView(
        deviation_id=deviation_id, acknowledged_at=done.acknowledged_at, acknowledged_by=done.acknowledged_by
    )
    return view.model_dump(mode="json")


async def post_acknowledgement(request: web.Request) -> web.Response:
    principal = await authorize(request, "coordinator")
    rt = runtime(request)
    case_id = request.match_info["case_id"]
    deviation_id = request.match_info["deviation_id"]
    async with rt.pool.acquire() as connection, connection.transaction():
        if not await case_in_scope(connection, case_id, principal):
            raise Problem(404, "not-found", "no case with this id")
        if request.content_type != "application/json":
            raise Problem(415, "unsupported-media-type", "send the acknowledgement as application/json")
        try:
            note = checked_note(parse_json(await request.read()))
        except JsonInputError as exc:
            raise invalid_fields("invalid-json", "body", [FieldError(loc=[], msg=str(exc))]) from None
        except NoteRefused as exc:
            raise invalid_fields("invalid-acknowledgement", "acknowledgement", exc.errors) from None
        done = await acknowledge(
            connection, case_id, deviation_id, principal, note, await rt.clock.now(), "api"
        )
    if done is None:
        raise Problem(404, "not-found", "the case has no deviation with this id")
    return web.json_response(acknowledgement_json(deviation_id, done))


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/cases/{case_id}/deviations/{deviation_id}/acknowledgement", post_acknowledgement)
