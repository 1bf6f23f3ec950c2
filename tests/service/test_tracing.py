"""One trace from a webhook's 202 to the mail server's 250 OK: the intake, applying the event, the timers
it armed when they fire, and the messages' delivery, recorded by the OpenTelemetry SDK's in-memory
exporter; no span carries personal data. And the OTLP exporter, when configured, really sends."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from aiohttp import web
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from service import tracing
from tests import samples
from tests.service.harness import started
from tests.service.mail import MailSink, mailing_settings, smtp_server
from tests.service.scenario import move_clock

EXPORTER = InMemorySpanExporter()
# What the case's events hold that no span may: names, addresses, the purpose, a personnummer.
PERSONAL = ("Åsa", "Öberg", "asa.oberg@example.org", "sam@example.se", "Samordna insatser", "121212")


@pytest.fixture(scope="module", autouse=True)
def provider() -> Iterator[None]:
    # The global provider can be set once per process; every test in this module shares it.
    current = trace.get_tracer_provider()
    if not isinstance(current, TracerProvider):
        current = TracerProvider()
        trace.set_tracer_provider(current)
    current.add_span_processor(SimpleSpanProcessor(EXPORTER))
    yield


def spans_of(trace_id: int) -> list[ReadableSpan]:
    return [span for span in EXPORTER.get_finished_spans() if span.context.trace_id == trace_id]


async def test_one_trace_runs_from_the_webhook_through_timers_to_the_250(
    database_url: str, tmp_path: Path
) -> None:
    EXPORTER.clear()
    sink = MailSink()
    async with smtp_server(sink) as port, started(mailing_settings(database_url, tmp_path, port)) as service:
        await service.push(samples.case_opened())
        await service.push(samples.consent_given())
        answer = await service.push(samples.meeting_scheduled())
        event_id = (await answer.json())["event_id"]
        await service.settle()
        # The reply reminders the meeting armed fire on the way to the meeting day.
        await move_clock(service, datetime.fromisoformat("2026-12-16T12:00:00+01:00"))

    [intake] = [
        span
        for span in EXPORTER.get_finished_spans()
        if span.name == "POST /v1/events"
        and span.attributes
        and span.attributes.get(tracing.EVENT_ID) == event_id
    ]
    assert intake.kind is trace.SpanKind.SERVER
    assert intake.attributes is not None and intake.attributes["http.response.status_code"] == 202
    in_trace = spans_of(intake.context.trace_id)
    by_name: dict[str, list[ReadableSpan]] = {}
    for span in in_trace:
        by_name.setdefault(span.name, []).append(span)

    [applied] = by_name["apply event"]
    assert applied.parent is not None and applied.parent.span_id == intake.context.span_id
    assert applied.attributes is not None and applied.attributes[tracing.EVENT_ID] == event_id
    assert applied.attributes[tracing.OUTCOME] == "applied"

    deliveries = by_name["deliver message"]
    assert len(deliveries) >= 2  # the two e-mail invitations at least (the letter waits for print)
    for delivery in deliveries:
        assert delivery.attributes is not None and delivery.attributes[tracing.OUTCOME] == "delivered"
    assert {span.parent.span_id for span in deliveries if span.parent} & {applied.context.span_id}

    fired = by_name["fire timer"]
    assert {span.attributes[tracing.TIMER_KIND] for span in fired if span.attributes} >= {"reminder"}
    assert len(sink.received) > 2  # invitations, then reminders: their deliveries are in the trace too

    for span in EXPORTER.get_finished_spans():
        shown = span.name + " ".join(str(value) for value in (span.attributes or {}).values())
        assert not any(word in shown for word in PERSONAL), span.name


async def test_without_a_provider_nothing_is_stored_with_the_rows() -> None:
    # The API's own no-op tracer (what the service has without an endpoint) makes no trace context.
    with trace.NoOpTracer().start_as_current_span("quiet"):
        assert tracing.current_trace_context() is None


def test_tracing_stays_off_without_an_endpoint() -> None:
    assert tracing.configure({}) is None


async def test_the_otlp_exporter_sends_spans_to_the_configured_endpoint(tmp_path: Path) -> None:
    received: list[bytes] = []

    async def collect(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/v1/traces", collect)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        # Its own process: the global provider of this one is the test's in-memory one.
        program = (
            "import os\n"
            "from service import tracing\n"
            "provider = tracing.configure(os.environ)\n"
            "assert provider is not None\n"
            "with tracing.tracer().start_as_current_span('deliver message'):\n"
            "    pass\n"
            "tracing.shutdown(provider)\n"
        )
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}", "PATH": "/usr/bin:/bin"}
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", program],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
    finally:
        await runner.cleanup()
    assert received and b"deliver message" in received[0] and b"sipvakt" in received[0]
