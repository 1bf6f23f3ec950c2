"""Hooks for the conformance run (loaded by schemathesis through SCHEMATHESIS_HOOKS).

A move of the test clock lives through every due moment on the way, so a generated move years ahead
(a daily digest alone is a moment a day, and the fuzzing's own subscriptions and events add webhook
retries) is minutes of real work: worth nothing to the conformance check and slower than its request
timeout. Moves are kept within three months of the service's starting clock; what a long move does is
tested on its own (tests/service/test_test_clock.py and the scenarios). A time past 2100 is left as it
is: the service answers it with 400 at once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import schemathesis

# Three months after the clock the test harness starts the service at (tests/service/harness.py).
LATEST = datetime.fromisoformat("2027-02-23T09:00:00+01:00")


@schemathesis.hook
def before_call(context: Any, case: Any, **kwargs: Any) -> None:
    if case.method.upper() != "POST" or case.operation.path != "/v1/test-clock":
        return
    body = case.body
    if not isinstance(body, dict) or not isinstance(body.get("now"), str):
        return
    try:
        wanted = datetime.fromisoformat(body["now"])
    except ValueError:
        return  # not a time: the service's own answer (400) is what is checked
    if wanted.tzinfo is not None and wanted > LATEST and wanted.year <= 2100:
        body["now"] = (LATEST - timedelta(seconds=1)).isoformat()
