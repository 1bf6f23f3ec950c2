"""The webhook retry schedule and failure wording, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
from hypothesis import given
from hypothesis import strategies as st

from service.workers.webhook_delivery import GIVE_UP_AFTER, describe_failure, next_attempt, retry_delay
from service.workers.webhook_targets import NotPublicAddress

FIRST = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def test_the_schedule_backs_off_then_repeats_ten_hours() -> None:
    delays = [retry_delay(attempts, 0.5) for attempts in range(1, 9)]
    assert delays == [
        timedelta(seconds=30),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=5),
        timedelta(hours=10),
        timedelta(hours=10),
        timedelta(hours=10),
    ]


def test_retries_end_exactly_three_days_after_the_first_attempt() -> None:
    moment, attempts, tried = FIRST, 1, [FIRST]
    while (following := next_attempt(FIRST, attempts, moment, 0.5)) is not None:
        moment, attempts = following, attempts + 1
        tried.append(moment)
    assert tried[-1] == FIRST + GIVE_UP_AFTER
    # The first, five after growing waits (7 h 35.5 min in all), six ten hours apart, the last at 72 h.
    assert len(tried) == 13
    assert next_attempt(FIRST, attempts, FIRST + GIVE_UP_AFTER, 0.5) is None


@given(attempts=st.integers(min_value=1, max_value=50), jitter=st.floats(min_value=0, max_value=0.999))
def test_jitter_stays_within_a_fifth_of_the_delay(attempts: int, jitter: float) -> None:
    base = retry_delay(attempts, 0.5)
    assert base * 0.8 <= retry_delay(attempts, jitter) < base * 1.2


def test_a_failure_is_described_without_its_address() -> None:
    assert describe_failure(TimeoutError(), 10.0) == "no answer within 10 s"
    key = aiohttp.client_reqrep.ConnectionKey("hooks.example.se", 443, True, True, None, None, None)
    refused = aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "Connect call failed"))
    assert describe_failure(refused, 10.0) == "could not connect (Connection refused)"
    assert "hooks.example.se" not in describe_failure(aiohttp.ClientPayloadError("hooks.example.se"), 10.0)
    not_public = aiohttp.ClientConnectorDNSError(
        key, NotPublicAddress("the webhook host resolves to no public address")
    )
    assert describe_failure(not_public, 10.0) == "the host is not a public address"
