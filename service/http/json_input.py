"""Reading a JSON request body that anyone may have written: every way it can be wrong is a clear error,
never an exception from deep inside the parser.

`json.loads` alone raises RecursionError for deep nesting, ValueError for an integer of more digits than
Python converts, and reads NaN and Infinity, which are not JSON. None of that reaches a handler from here.
"""

from __future__ import annotations

import json
from typing import NoReturn

# Far deeper than any body the API takes, far shallower than the interpreter's recursion limit.
MAX_DEPTH = 32
# Enough for any count or epoch second the API takes; a longer number is an attack or a mistake.
MAX_NUMBER_LENGTH = 30


class JsonInputError(ValueError):
    """Why the body is not JSON the API reads; the message never holds any of the body."""


def parse_json(raw: bytes) -> object:
    """The decoded body, or JsonInputError saying what is wrong (and where, but never quoting it)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonInputError(f"the body is not UTF-8 (byte {exc.start})") from None
    try:
        if text.startswith("\ufeff"):
            # What `json.loads` says of a byte order mark, which the decoder alone does not check.
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        decoded = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise JsonInputError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise _too_deep() from None
    # A body with no more arrays and objects than the limit cannot nest deeper than it: only a body
    # that could is walked (counting brackets inside strings too only makes the test cautious).
    if text.count("{") + text.count("[") > MAX_DEPTH and _depth(decoded) > MAX_DEPTH:
        raise _too_deep()
    return decoded


def _integer(text: str) -> int:
    if len(text) > MAX_NUMBER_LENGTH:
        _too_long()
    return int(text)


def _fraction(text: str) -> float:
    if len(text) > MAX_NUMBER_LENGTH:
        _too_long()
    return float(text)


def _too_long() -> NoReturn:
    raise JsonInputError(f"a number has more than {MAX_NUMBER_LENGTH} characters")


def _not_json(name: str) -> NoReturn:
    raise JsonInputError("NaN and Infinity are not JSON numbers")


def _object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    # A repeated name means two values for one field; which one a reader takes is a guess, so neither.
    found = dict(pairs)
    if len(found) != len(pairs):
        raise JsonInputError("an object names the same field twice")
    return found


def _too_deep() -> JsonInputError:
    return JsonInputError(f"the body is nested more than {MAX_DEPTH} levels deep")


def _depth(value: object) -> int:
    """How deeply arrays and objects nest in `value`, without recursion."""
    deepest = 0
    pending: list[tuple[object, int]] = [(value, 0)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict):
            children: list[object] = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            deepest = max(deepest, level)
            continue
        deepest = max(deepest, level + 1)
        if deepest > MAX_DEPTH:
            return deepest
        pending.extend((child, level + 1) for child in children)
    return deepest


# Made once: `json.loads` with hooks builds a decoder and its scanner on every call, a tenth of reading
# a small body (a bulk import reads thousands).
_DECODER = json.JSONDecoder(
    parse_int=_integer, parse_float=_fraction, parse_constant=_not_json, object_pairs_hook=_object
)
