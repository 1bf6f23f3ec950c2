-- The W3C trace context (traceparent) of the span that wrote the row, so that applying an event, firing
-- a timer and delivering a message continue the trace of the webhook that caused them. Nullable: rows
-- written without tracing, or by an older version, carry none.
alter table events add column if not exists trace_context text;
alter table timers add column if not exists trace_context text;
alter table outbox add column if not exists trace_context text;
