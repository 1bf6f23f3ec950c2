"""What the webhook subscription API takes and answers, as models: requests are validated by them and the
OpenAPI document is generated from them, so the two cannot drift."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from scheduler.events import Email, FieldError, field_errors
from service.storage.webhook_events import ALL_EVENTS, EVENT_TYPES
from service.workers.webhook_targets import host_problem, host_syntax_problem, is_loopback

MAX_URL_LENGTH = 2048
# For the document: https to a host name or address. The validator below is what decides (an operator may
# allow private addresses and plain http to loopback, SIPVAKT_WEBHOOK_ALLOW_PRIVATE).
URL_PATTERN = r"^https://[A-Za-z0-9.-]+(:[1-9][0-9]{0,3})?(/[!-~]*)?$"
# The validation context's key: whether this installation lets webhooks go to private addresses.
ALLOW_PRIVATE = "allow_private"


def _endpoint_url(value: str, info: ValidationInfo) -> str:
    """An https URL to a public host. A body carries case data (a deviation names a meeting and a
    participant), which the signature protects from change but not from being read; and a URL into the
    service's own network would let a subscriber reach, and probe, what is not meant to be reachable."""
    allow_private = bool((info.context or {}).get(ALLOW_PRIVATE))
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ValueError("must not contain spaces or control characters")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an https URL")
    if not parts.hostname:
        raise ValueError("must name a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry a user name or password; the signature authenticates sipvakt")
    try:
        port = parts.port  # reading it is what checks it
    except ValueError:
        raise ValueError("has a port that is not a number from 1 to 65535") from None
    if port == 0:
        raise ValueError("has a port that is not a number from 1 to 65535")
    if (problem := host_syntax_problem(parts.hostname)) is not None:
        raise ValueError(problem)
    if parts.scheme == "http" and not (allow_private and is_loopback(parts.hostname)):
        raise ValueError("must use https: plain http is not accepted")
    if not allow_private and (problem := host_problem(parts.hostname)) is not None:
        raise ValueError(problem)
    return value


def _event_type(value: str) -> str:
    if value != ALL_EVENTS and value not in EVENT_TYPES:
        raise ValueError(f"unknown event type; known: {', '.join(EVENT_TYPES)}, or '*' for all")
    return value


def _plain_text(value: str) -> str:
    if any(not ch.isprintable() for ch in value):
        raise ValueError("must be one line of printable text")
    return value


class SubscriptionRequest(BaseModel):
    """`POST /v1/webhook-subscriptions`."""

    model_config = ConfigDict(extra="forbid")

    url: Annotated[
        str,
        Field(max_length=MAX_URL_LENGTH, json_schema_extra={"pattern": URL_PATTERN}),
        AfterValidator(_endpoint_url),
    ]
    event_types: Annotated[
        list[
            Annotated[
                str,
                Field(json_schema_extra={"enum": [*EVENT_TYPES, ALL_EVENTS]}),
                AfterValidator(_event_type),
            ]
        ],
        Field(min_length=1),
    ]
    notify_email: Email
    description: Annotated[str, Field(max_length=200), AfterValidator(_plain_text)] = ""

    @field_validator("event_types")
    @classmethod
    def _everything_alone(cls, value: list[str]) -> list[str]:
        if ALL_EVENTS in value and len(set(value)) > 1:
            raise ValueError("'*' already means every event type; give it alone")
        # Order kept, repeats dropped: asking twice for a type is asking once.
        return list(dict.fromkeys(value))


def request_errors(exc: ValidationError) -> list[FieldError]:
    """Every error, with its location and without the offending value (a URL may hold a token)."""
    return field_errors(exc)


class SubscriptionScope(BaseModel):
    """The scope of the token that made the subscription: it receives events only about cases this sees."""

    regions: list[str]
    organisations: list[str]
    integration_id: str | None


class SubscriptionView(BaseModel):
    subscription_id: str
    url: str
    event_types: list[str]
    notify_email: str
    description: str
    status: Literal["enabled", "disabled"]
    disabled_at: datetime | None
    disabled_reason: str | None
    created_at: datetime
    scope: SubscriptionScope


class CreatedSubscriptionView(SubscriptionView):
    """The answer to a creation: the only time the secret is shown."""

    secret: str = Field(description="Standard Webhooks secret ('whsec_' + base64); shown once")


class DeliveryView(BaseModel):
    webhook_id: str
    event_type: Literal["deviation.recorded", "case.updated"]
    case_id: str
    state: Literal["pending", "sending", "delivered", "failed"]
    attempts: int
    created_at: datetime
    first_attempt_at: datetime | None
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None = Field(description="When the next attempt is due (pending only)")
    delivered_at: datetime | None
    last_status: int | None = Field(description="The HTTP status of the last answer, if there was one")
    last_error: str | None


class SubscriptionList(BaseModel):
    subscriptions: list[SubscriptionView]


class DeliveryList(BaseModel):
    deliveries: list[DeliveryView]
