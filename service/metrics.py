"""Prometheus metrics. Each application has its own registry, so tests can run several side by side."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from service.storage.database import Pool, is_unavailable


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.events_accepted = Counter(
            "sipvakt_events_accepted", "Events accepted at intake (202).", registry=self.registry
        )
        self.events_rejected = Counter(
            "sipvakt_events_rejected",
            "Events refused at intake, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.events_applied = Counter(
            "sipvakt_events_processed",
            "Stored events processed, by outcome (applied, waiting, rejected).",
            ["outcome"],
            registry=self.registry,
        )
        self.processing_lag = Histogram(
            "sipvakt_event_processing_lag_seconds",
            "Time from an event's receipt to its processing.",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=self.registry,
        )
        self.events_waiting = Gauge(
            "sipvakt_events_waiting",
            "Stored events not yet applied, by state (pending: to do; waiting: for a predecessor).",
            ["state"],
            registry=self.registry,
        )
        self.oldest_pending = Gauge(
            "sipvakt_oldest_pending_event_age_seconds",
            "Age of the oldest event not yet applied (0 when none).",
            registry=self.registry,
        )
        self.timers = Gauge("sipvakt_timers", "Timers by state.", ["state"], registry=self.registry)
        self.timers_fired = Counter(
            "sipvakt_timers_fired", "Timers fired by this process, by kind.", ["kind"], registry=self.registry
        )
        self.timer_failures = Counter(
            "sipvakt_timer_failures",
            "Timer handler failures, by kind and outcome (retry: tried again later; dead: parked).",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.outbox = Gauge(
            "sipvakt_outbox_messages", "Outgoing messages by state.", ["state"], registry=self.registry
        )
        self.deliveries = Counter(
            "sipvakt_deliveries",
            "Delivery attempts of this process, by outcome (delivered: 250 OK or written to the outbox"
            " folder; deferred: to be retried; failed: for good; reclaimed: taken back from a process"
            " that stopped while sending).",
            ["outcome"],
            registry=self.registry,
        )
        self.replies = Counter(
            "sipvakt_replies",
            "Participants' replies received, by channel (smtp, page) and outcome (recorded, duplicate,"
            " or why it was ignored).",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "sipvakt_rate_limited",
            "Requests this process refused with 429 because their source was over a rate limit, by kind"
            " (webhook_signature, sign_in, reply_token).",
            ["kind"],
            registry=self.registry,
        )

        self.database_up = Gauge(
            "sipvakt_database_up",
            "1 while the database answers and the LISTEN connection is open, 0 during an outage.",
            registry=self.registry,
        )
        self.notifications = Counter(
            "sipvakt_notifications",
            "NOTIFY wake-ups received on the LISTEN connection, by channel.",
            ["channel"],
            registry=self.registry,
        )
        self.database_outages = Counter(
            "sipvakt_database_outages", "Database outages this process has seen.", registry=self.registry
        )

    def observe_applied(self, outcome: str, lag: timedelta) -> None:
        self.events_applied.labels(outcome).inc()
        self.processing_lag.observe(max(lag.total_seconds(), 0.0))

    async def render(self, pool: Pool, *, database_up: bool = True) -> bytes:
        """Refresh the gauges that are read from the database, then the exposition text. While the database
        is away (known, or found now) those gauges keep their last values and `sipvakt_database_up` says 0,
        so a scrape answers at once instead of waiting for timeouts."""
        if database_up:
            try:
                await self._refresh_from_database(pool)
            except Exception as error:
                if not is_unavailable(error):
                    raise
        return generate_latest(self.registry)

    async def _refresh_from_database(self, pool: Pool) -> None:
        async with pool.acquire() as connection:
            for state in ("pending", "waiting"):
                self.events_waiting.labels(state).set(0)
            for row in await connection.fetch(
                "select state, count(*) as n from events where state in ('pending', 'waiting') group by state"
            ):
                self.events_waiting.labels(row["state"]).set(row["n"])
            age = await connection.fetchval(
                "select coalesce(extract(epoch from clock_timestamp() - min(received_at)), 0)"
                " from events where state = 'pending'"
            )
            self.oldest_pending.set(float(age))
            # A state with no rows left would otherwise keep its last count.
            for state in ("scheduled", "running", "done", "cancelled", "dead"):
                self.timers.labels(state).set(0)
            for state in ("queued", "sending", "sent", "failed", "cancelled"):
                self.outbox.labels(state).set(0)
            for table, gauge in (("timers", self.timers), ("outbox", self.outbox)):
                for row in await connection.fetch(f"select state, count(*) as n from {table} group by state"):
                    gauge.labels(row["state"]).set(row["n"])
