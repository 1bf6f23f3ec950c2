"""OpenTelemetry traces: one trace from a webhook's 202 through applying the event, the timers it sets and
the messages it causes, to the mail server's 250 OK.

The work happens in different tasks, processes and moments, so the trace context travels with the rows
that carry the work: the span that writes an event, a timer or an outbox row stores its W3C
``traceparent`` beside it, and the span that later takes the row up continues that trace. Spans carry
ids only (event, timer kind, message kind, outcome), never a name, an address, a personnummer or a case's
text. With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set, spans are exported over OTLP/HTTP; otherwise the API's
no-op tracer is used, which records nothing and stores no trace context.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind

__all__ = [
    "SpanKind",
    "configure",
    "continued",
    "current_trace_context",
    "recording",
    "shutdown",
    "trace",
    "tracer",
]

TRACER_NAME = "sipvakt"
ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"

# Attribute names, in the project's own namespace (OpenTelemetry's conventions have none for these).
EVENT_ID = "sipvakt.event_id"
EVENT_TYPE = "sipvakt.event_type"
TIMER_KIND = "sipvakt.timer_kind"
MESSAGE_KIND = "sipvakt.message_kind"
MESSAGE_CHANNEL = "sipvakt.message_channel"
OUTCOME = "sipvakt.outcome"


def configure(environ: Mapping[str, str]) -> TracerProvider | None:
    """Export spans over OTLP when an endpoint is configured (the exporter reads the other ``OTEL_*``
    variables itself); otherwise leave tracing off. A provider set before (a test's) is kept."""
    if not environ.get(ENDPOINT_VARIABLE):
        return None
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return None
    # Imported here so that a service without an endpoint never loads the exporter's protobuf code.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    provider = TracerProvider(
        resource=Resource.create({"service.name": environ.get("OTEL_SERVICE_NAME", "sipvakt")})
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def shutdown(provider: TracerProvider | None) -> None:
    """Flush what is left at exit."""
    if provider is not None:
        provider.shutdown()


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


def recording() -> bool:
    """Whether a provider is set that may record spans. Without one every span is the API's no-op span,
    which stores no trace context either, so a path that would open thousands a second (firing timers)
    may skip opening them."""
    provider = trace.get_tracer_provider()
    return not isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider)


def current_trace_context() -> str | None:
    """The ``traceparent`` of the span now running, to store with a row it writes; None without one."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


@contextmanager
def continued(
    name: str,
    trace_context: str | None,
    attributes: Mapping[str, str | int],
    kind: SpanKind = SpanKind.INTERNAL,
) -> Iterator[Span]:
    """A span that continues the trace stored with a row (a new trace when the row carries none)."""
    parent = propagate.extract({"traceparent": trace_context}) if trace_context else None
    with tracer().start_as_current_span(name, context=parent, kind=kind, attributes=dict(attributes)) as span:
        yield span
