"""The strict JSON reading of a request body or an import line: each fault named, never quoted."""

from __future__ import annotations

import pytest

from service.http.json_input import JsonInputError, parse_json


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("\ufeff{}".encode(), "not JSON: Unexpected UTF-8 BOM (decode using utf-8-sig) at line 1 column 1"),
        (b'{"a": 1, "a": 2}', "an object names the same field twice"),
        (b'{"a": {"b": 1, "b": 1}}', "an object names the same field twice"),
        (b"[NaN]", "NaN and Infinity are not JSON numbers"),
        (b'{"a": -Infinity}', "NaN and Infinity are not JSON numbers"),
        (b"1" * 31, "a number has more than 30 characters"),
        (b"0." + b"1" * 29, "a number has more than 30 characters"),
        (b"[" * 33 + b"]" * 33, "the body is nested more than 32 levels deep"),
        (b'{"a": 1', "not JSON: Expecting ',' delimiter at line 1 column 8"),
        (b"\xff{}", "the body is not UTF-8 (byte 0)"),
    ],
)
def test_a_faulty_body_is_named(raw: bytes, message: str) -> None:
    with pytest.raises(JsonInputError) as caught:
        parse_json(raw)
    assert str(caught.value) == message


def test_a_body_is_read_as_json_says() -> None:
    assert parse_json(b'{"a": [1, 2.5, "x", null, true], "b": {"a": 1}}') == {
        "a": [1, 2.5, "x", None, True],
        "b": {"a": 1},
    }
    assert parse_json(b"[" * 32 + b"]" * 32) is not None
    assert parse_json(b"1" * 30) == int("1" * 30)
