"""What every operation of the document shares, added in one pass so that no operation can forget it.

Each part of the document describes its own answers; this adds the ones that come from the layers around
every handler: the token check (401, 403), the path check and the request parsing (400), the database
(503). It also names the regions, says how the service writes a time of day, and derives the partial
schema of an override.
"""

from __future__ import annotations

import copy
from typing import Any

from service.http.openapi_common import BEARER, problem_response

# A time of day as the service reads and writes it: "08:00" or "08:00:00". JSON Schema's `format: time`
# is RFC 3339's full-time, which needs an offset that a Stockholm time of day does not have.
TIME_OF_DAY = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"
_METHODS = ("get", "put", "post", "delete", "patch")
# Answers that need no database: the document itself.
_WITHOUT_DATABASE = {"/v1/openapi.json"}


def complete(document: dict[str, Any], regions: tuple[str, ...]) -> dict[str, Any]:
    """`document` with the shared answers added to every operation, `region` parameters listing the
    regions there are, and times of day written out."""
    for path, item in document["paths"].items():
        for method in _METHODS:
            if method in item:
                _shared_answers(path, item[method])
                for parameter in item[method].get("parameters", []):
                    _parameter_as_read(parameter, regions)
    _time_of_day(document["components"]["schemas"])
    return document


def _parameter_as_read(parameter: dict[str, Any], regions: tuple[str, ...]) -> None:
    if parameter["name"] == "region":
        parameter["schema"] = {"enum": list(regions)}
    elif parameter["in"] == "query" and parameter["schema"].get("type") == "string":
        # An empty parameter is refused: leaving it out is how a caller says "no filter".
        parameter["schema"]["minLength"] = 1


def _shared_answers(path: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if operation.get("security") == BEARER:
        responses.setdefault("401", problem_response("No token, or one that is unknown or revoked"))
        responses.setdefault("403", problem_response("The token's role may not do this"))
    # A bearer endpoint refuses a query parameter it does not take, so every one may answer 400.
    if (
        "{" in path
        or operation.get("parameters")
        or "requestBody" in operation
        or operation.get("security") == BEARER
    ):
        responses.setdefault(
            "400", problem_response("A path parameter, query or body is malformed; each fault under errors")
        )
    if path not in _WITHOUT_DATABASE:
        responses.setdefault("503", problem_response("The database cannot be reached; try again later"))


def _time_of_day(node: object) -> None:
    if isinstance(node, dict):
        if node.get("format") == "time":
            del node["format"]
            node["pattern"] = TIME_OF_DAY
        for value in node.values():
            _time_of_day(value)
    elif isinstance(node, list):
        for value in node:
            _time_of_day(value)


def partial_schemas(components: dict[str, Any], root: str, name: str) -> dict[str, Any]:
    """The schema `name`: `root` with every field optional, down through every schema it refers to (an
    override gives any subset of the keys, at any depth). Referred schemas get `name`'s suffix too."""
    suffix = name.removeprefix(root)
    reachable = _reachable(components, root)
    renamed = {schema: name if schema == root else schema + suffix for schema in reachable}
    found = {}
    for schema in reachable:
        partial = copy.deepcopy(components[schema])
        _optional_everywhere(partial, renamed)
        found[renamed[schema]] = partial
    return found


def _reachable(components: dict[str, Any], root: str) -> list[str]:
    seen: list[str] = []
    pending = [root]
    while pending:
        schema = pending.pop()
        if schema in seen:
            continue
        seen.append(schema)
        pending.extend(_references(components[schema]))
    return seen


def _references(node: object) -> list[str]:
    if isinstance(node, dict):
        found = []
        if isinstance(node.get("$ref"), str):
            found.append(node["$ref"].rsplit("/", 1)[1])
        for value in node.values():
            found.extend(_references(value))
        return found
    if isinstance(node, list):
        return [reference for value in node for reference in _references(value)]
    return []


def _optional_everywhere(node: object, renamed: dict[str, str]) -> None:
    if isinstance(node, dict):
        node.pop("required", None)
        reference = node.get("$ref")
        if isinstance(reference, str):
            node["$ref"] = "#/components/schemas/" + renamed[reference.rsplit("/", 1)[1]]
        for value in node.values():
            _optional_everywhere(value, renamed)
    elif isinstance(node, list):
        for value in node:
            _optional_everywhere(value, renamed)
