"""The events other systems push, as CONTRACT.md defines them, validated into typed models.

An event is an envelope (type, case_id, occurred_at) around a `data` object whose shape depends on the
type. `parse_event` validates both and reports every error it finds, each with its location, never
echoing the input (an input may be a personnummer).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any, Literal, TypeVar, Union, cast

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic import Strict as PydanticStrict
from pydantic.json_schema import JsonSchemaValue
from pydantic.networks import import_email_validator, validate_email
from pydantic_core import CoreSchema, PydanticSerializationError, core_schema

from calendars.stockholm import STOCKHOLM, local_offset_exists, start_of_day
from scheduler.email_address import plain_normalised
from scheduler.identifiers import holds_identity_number
from scheduler.identity import IdentityNumberError, contains_identity_number, parse_identity_number

_LOCAL_OFFSETS = {timedelta(hours=1), timedelta(hours=2)}
_D = TypeVar("_D", date, datetime)


def _exists_in_stockholm(value: datetime) -> datetime:
    """Refuse a wall-clock time that Stockholm skips, when the sender clearly meant Stockholm time.

    A time written with +01:00 or +02:00 is a Stockholm wall-clock reading; if that reading falls in the
    spring-forward gap (2026-03-29 02:30) it names no real local time and is refused, not shifted. Only a
    reading on a day when the clocks move can fall in a gap, so only such a day's are checked in full.
    """
    if (
        value.utcoffset() in _LOCAL_OFFSETS
        and _clocks_move_on(value.date())
        and not local_offset_exists(value)
    ):
        raise ValueError("this local time does not exist in Europe/Stockholm (clocks move forward)")
    return value


@lru_cache(maxsize=1024)
def _clocks_move_on(day: date) -> bool:
    """Whether Stockholm's offset changes during `day` (it changes at most once a day, in every year an
    event may name). Remembered: the events of a day, and of a bulk import, name few days."""
    return start_of_day(day).utcoffset() != start_of_day(day + timedelta(days=1)).utcoffset()


# Every time and date an event carries lies in these years: outside them a time is a typo, and converting
# it (year 1 at +01:00 is before the first instant Python can hold in UTC) would fail far from the input.
FIRST_YEAR, LAST_YEAR = 1900, 2100


def _within_years(value: _D) -> _D:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"must lie in the years {FIRST_YEAR} to {LAST_YEAR}")
    return value


def _moment(value: datetime) -> datetime:
    # The two checks of a time in one call: each validator pydantic calls back into Python costs a call.
    return _exists_in_stockholm(_within_years(value))


Moment = Annotated[AwareDatetime, AfterValidator(_moment)]
Day = Annotated[date, AfterValidator(_within_years)]
# On the wire a flag is true or false: "yes", 1 and "true" are not read as one.
Flag = Annotated[bool, PydanticStrict()]


def _no_nul(value: str) -> str:
    """NUL is never text (and PostgreSQL cannot store it in JSON): refuse it instead of failing later."""
    if "\x00" in value:
        raise ValueError("must not contain the NUL character")
    return value


def _no_identity_number(value: str) -> str:
    """Free text travels further than the person's fields (into invitations, calendars and reports), so a
    personnummer written into it is refused rather than carried (CONTRACT v1.1, "Free text")."""
    if contains_identity_number(value):
        raise ValueError("must not contain a personnummer or samordningsnummer")
    return value


Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), AfterValidator(_no_nul)
]
LongText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000), AfterValidator(_no_nul)
]
# What people write in their own words: purpose, questions, location, reason, comment, description.
FreeText = Annotated[Text, AfterValidator(_no_identity_number)]
LongFreeText = Annotated[LongText, AfterValidator(_no_identity_number)]


def _plain_identifier(value: str) -> str:
    """An id goes into paths, subjects, calendar UIDs and logs: never a path step, never a personnummer."""
    if value in {".", ".."}:
        raise ValueError("'.' and '..' are not identifiers")
    if holds_identity_number(value):
        raise ValueError("must not hold a personnummer or samordningsnummer")
    return value


IDENTIFIER_PATTERN = r"^[A-Za-z0-9._:\-]+$"
Identifier = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=IDENTIFIER_PATTERN),
    AfterValidator(_plain_identifier),
]


@lru_cache(maxsize=8192)
def _normalised_email(value: str) -> str:
    """pydantic's own EmailStr check, remembered: a region's coordinators and school staff recur in
    thousands of events (a bulk import, a busy intake), and the syntax check is the slowest part of
    validating one. A refused address raises and is not remembered. A plain ASCII address, the usual
    kind, has its normal form found without email_validator's general parser (`email_address`)."""
    return plain_normalised(value) or validate_email(value)[1]


class _EmailAddress:
    """`EmailStr` with `_normalised_email` as its check: the same errors, the same `format: email`."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: type[Any], handler: GetCoreSchemaHandler) -> CoreSchema:
        import_email_validator()
        return core_schema.no_info_after_validator_function(_normalised_email, core_schema.str_schema())

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        field_schema = handler(schema)
        field_schema.update(type="string", format="email")
        return field_schema


Email = Annotated[str, _EmailAddress, StringConstraints(max_length=254)]


class Strict(BaseModel):
    """Unknown fields are errors: a typo in an integration must not pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Contact(Strict):
    name: Text
    email: Email
    organisation: Text


class Person(Strict):
    reference: Identifier
    personnummer: str | None = Field(default=None, repr=False)
    name: Text | None = Field(default=None, repr=False)
    birth_date: Day | None = None
    email: Email | None = None
    postal_address: LongText | None = None


DetectedBy = Literal[
    "skola",
    "socialtjanst",
    "regional_halso_och_sjukvard",
    "kommunal_halso_och_sjukvard",
    "den_enskilde",
    "narstaende",
    "annan",
]


class CaseOpened(Strict):
    region: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,64}$")]
    municipality: Text | None = None
    person: Person
    detected_at: Day
    detected_by: DetectedBy
    urgent: Flag
    discharge_notice_at: Moment | None = None
    coordinator: Contact


class ConsentGiven(Strict):
    given_by: Literal["child", "guardian", "representative", "adult"]
    valid_from: Day
    valid_to: Day | None = None

    @model_validator(mode="after")
    def _ends_after_start(self) -> ConsentGiven:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self


class NoData(Strict):
    pass


# The languages a participant may read their messages in (BCP 47): Swedish, English, easy Swedish.
Language = Literal["sv", "en", "sv-x-lattlast"]


class Participant(Strict):
    participant_id: Identifier
    name: Text
    email: Email | None = None
    organisation: Text | None = None
    role: Literal["child", "guardian", "professional", "representative", "other"]
    channel: Literal["email", "letter"]
    postal_address: LongText | None = None
    language: Language = "sv"

    @model_validator(mode="after")
    def _reachable(self) -> Participant:
        if self.channel == "email" and self.email is None:
            raise ValueError("channel 'email' needs an email address")
        if self.channel == "letter" and self.postal_address is None:
            raise ValueError("channel 'letter' needs a postal_address")
        return self


def _ends_after_start(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise ValueError("ends_at must be after starts_at")


class MeetingScheduled(Strict):
    meeting_id: Identifier
    kind: Literal["initial", "followup"]
    starts_at: Moment
    ends_at: Moment
    location: FreeText
    online_url: Annotated[str, StringConstraints(max_length=2000, pattern=r"^https?://\S+$")] | None = None
    organizer: Contact
    participants: Annotated[list[Participant], Field(min_length=1, max_length=100)]
    purpose: LongFreeText
    questions: list[LongFreeText] = Field(default_factory=list, max_length=50)
    notice_agreed: Flag = False

    @model_validator(mode="after")
    def _consistent(self) -> MeetingScheduled:
        _ends_after_start(self.starts_at, self.ends_at)
        ids = [participant.participant_id for participant in self.participants]
        if len(ids) != len(set(ids)):
            raise ValueError("participant_id values must be unique within a meeting")
        return self


class MeetingRescheduled(Strict):
    meeting_id: Identifier
    starts_at: Moment
    ends_at: Moment
    location: FreeText | None = None
    online_url: Annotated[str, StringConstraints(max_length=2000, pattern=r"^https?://\S+$")] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> MeetingRescheduled:
        _ends_after_start(self.starts_at, self.ends_at)
        return self


class MeetingCancelled(Strict):
    meeting_id: Identifier
    reason: LongFreeText | None = None


class Delegate(Strict):
    name: Text
    email: Email
    organisation: Text | None = None


class ParticipantResponded(Strict):
    meeting_id: Identifier
    participant_id: Identifier
    response: Literal["accepted", "declined", "tentative", "delegated"]
    delegate: Delegate | None = None
    comment: LongFreeText | None = None

    @model_validator(mode="after")
    def _delegate_when_delegated(self) -> ParticipantResponded:
        if self.response == "delegated" and self.delegate is None:
            raise ValueError("response 'delegated' needs a delegate")
        return self


class Action(Strict):
    action_id: Identifier
    description: LongFreeText
    responsible_organisation: Text
    responsible_email: Email | None = None
    due_on: Day


class MeetingHeld(Strict):
    meeting_id: Identifier
    absent: list[Identifier] = Field(default_factory=list)
    responsible: Contact
    followup_on: Day | None = None
    actions: list[Action] = Field(default_factory=list, max_length=200)

    @field_validator("actions")
    @classmethod
    def _unique_actions(cls, actions: list[Action]) -> list[Action]:
        ids = [action.action_id for action in actions]
        if len(ids) != len(set(ids)):
            raise ValueError("action_id values must be unique")
        return actions


class ActionCompleted(Strict):
    action_id: Identifier


class CaseClosed(Strict):
    reason: Literal["goals_met", "no_longer_needed", "consent_withdrawn", "other"]


EventData = (
    CaseOpened
    | ConsentGiven
    | NoData
    | MeetingScheduled
    | MeetingRescheduled
    | MeetingCancelled
    | ParticipantResponded
    | MeetingHeld
    | ActionCompleted
    | CaseClosed
)

DATA_MODELS: dict[str, type[Strict]] = {
    "case.opened": CaseOpened,
    "consent.given": ConsentGiven,
    "consent.withdrawn": NoData,
    "meeting.scheduled": MeetingScheduled,
    "meeting.rescheduled": MeetingRescheduled,
    "meeting.cancelled": MeetingCancelled,
    "participant.responded": ParticipantResponded,
    "meeting.held": MeetingHeld,
    "action.completed": ActionCompleted,
    "case.closed": CaseClosed,
}

EVENT_TYPES = tuple(DATA_MODELS)


class Envelope(Strict):
    type: str
    case_id: Identifier
    occurred_at: Moment
    data: dict[str, Any]

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in DATA_MODELS:
            raise ValueError(f"unknown event type; expected one of: {', '.join(EVENT_TYPES)}")
        return value


class Event(BaseModel):
    """A validated event: the envelope plus its typed data."""

    model_config = ConfigDict(frozen=True)

    type: str
    case_id: str
    occurred_at: datetime
    data: EventData

    def to_json_dict(self) -> dict[str, Any]:
        """The event as JSON-ready data, in the intake's body format."""
        return {
            "type": self.type,
            "case_id": self.case_id,
            "occurred_at": self.occurred_at.isoformat(),
            "data": self.data.model_dump(mode="json", exclude_none=True),
        }

    def to_json_text(self) -> str:
        """`json.dumps(self.to_json_dict())` as JSON means it: the same value (the text may differ in
        spacing and escapes), the data written by pydantic's serializer straight to text instead of
        through a dict `json.dumps` walks again. Text JSON cannot hold (a lone surrogate) is written by
        `json.dumps` as before, so that what becomes of it stays as it was."""
        try:
            data = self.data.model_dump_json(exclude_none=True)
        except PydanticSerializationError:
            return json.dumps(self.to_json_dict())
        return (
            f'{{"type": {json.dumps(self.type)}, "case_id": {json.dumps(self.case_id)},'
            f' "occurred_at": "{self.occurred_at.isoformat()}", "data": {data}}}'
        )


UNKNOWN_FIELD = "holds a field that is not part of it (the name is not repeated here)"


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str


class EventValidationError(Exception):
    """Every problem found in an event body, each with its location; never the offending values."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(f"{len(errors)} validation error(s)")
        self.errors = errors


class _TypedEnvelope(Strict):
    case_id: Identifier
    occurred_at: Moment


def _typed_event(event_type: str, data_model: type[Strict]) -> type[_TypedEnvelope]:
    """The envelope of one type with its data model in it: an event of that type in one validation."""
    return create_model(
        "Typed" + data_model.__name__,
        __base__=_TypedEnvelope,
        type=(Literal[event_type], ...),  # type: ignore[arg-type]
        data=(data_model, ...),
    )


# Every event type's envelope and data, told apart by `type`: a valid body is checked in one call into
# pydantic instead of two (the envelope, then its data). An
# invalid body is checked again in two steps (`parse_event`), whose errors are the ones reported.
# A union of types made at run time, which mypy cannot follow.
_ONE_CALL: TypeAdapter[_TypedEnvelope] = TypeAdapter(
    Annotated[  # type: ignore[arg-type]
        Union[tuple(_typed_event(name, model) for name, model in DATA_MODELS.items())],  # noqa: UP007
        Field(discriminator="type"),
    ]
)


def _checked_at_once(body: dict[Any, Any]) -> Event | None:
    """The event, when the body is valid in every part; None when any check fails."""
    if type(body.get("data")) is not dict:
        return None
    try:
        # The adapter's validator itself: `TypeAdapter.validate_python` only passes its defaults on to
        # it, and that costs a quarter of the call.
        typed: Any = _ONE_CALL.validator.validate_python(body)
    except ValidationError:
        return None
    if _identity_errors(body["data"], typed.occurred_at, typed.data):
        return None
    return Event.model_construct(
        type=typed.type, case_id=typed.case_id, occurred_at=typed.occurred_at, data=typed.data
    )


def parse_event(body: object) -> Event:
    """Validate a decoded JSON body into an Event, or raise EventValidationError listing every error."""
    if not isinstance(body, dict):
        raise EventValidationError([FieldError(loc=[], msg="the body must be a JSON object")])
    event = _checked_at_once(body)
    if event is not None:
        return event
    errors: list[FieldError] = []
    envelope: Envelope | None = None
    try:
        envelope = Envelope.model_validate(body)
    except ValidationError as exc:
        errors.extend(field_errors(exc))
    event_type = body.get("type")
    data_model = DATA_MODELS.get(event_type) if isinstance(event_type, str) else None
    data: Strict | None = None
    raw_data = body.get("data")
    if data_model is not None and isinstance(raw_data, dict):
        try:
            data = data_model.model_validate(raw_data)
        except ValidationError as exc:
            errors.extend(field_errors(exc, prefix=["data"]))
        errors.extend(_identity_errors(raw_data, envelope.occurred_at if envelope else None, data))
    if errors or envelope is None or data is None:
        raise EventValidationError(errors)
    # Every part is validated already: built without validating the union of data models once more.
    return Event.model_construct(
        type=envelope.type,
        case_id=envelope.case_id,
        occurred_at=envelope.occurred_at,
        data=cast(EventData, data),
    )


def _identity_errors(
    raw_data: dict[str, Any], occurred_at: datetime | None, data: Strict | None
) -> list[FieldError]:
    person = raw_data.get("person")
    number = person.get("personnummer") if isinstance(person, dict) else None
    if not isinstance(number, str) or occurred_at is None:
        return []
    # The day in Stockholm only when there is a number to read against it: most events carry none.
    reference = occurred_at.astimezone(STOCKHOLM).date()
    try:
        encoded = parse_identity_number(number, reference=reference).birth_date
    except IdentityNumberError as exc:
        return [FieldError(loc=["data", "person", "personnummer"], msg=f"not a valid personnummer: {exc}")]
    given = data.person.birth_date if isinstance(data, CaseOpened) else None
    if given is not None and given != encoded:
        return [
            FieldError(
                loc=["data", "person", "birth_date"],
                msg="is not the date of birth that the personnummer encodes",
            )
        ]
    return []


def field_errors(exc: ValidationError, prefix: list[str | int] | None = None) -> list[FieldError]:
    """Every error of a validation, with its location and never the value (nor an unknown field's name)."""
    found = []
    for error in exc.errors(include_input=False, include_url=False, include_context=False):
        loc = [*(prefix or []), *(part for part in error["loc"] if not _is_union_tag(part))]
        if error["type"] == "extra_forbidden":
            # The name is the sender's own text, and may be a personnummer: the object that holds it
            # is named instead.
            loc = loc[:-1]
        found.append(FieldError(loc=loc, msg=_message(error["type"], error["msg"])))
    return found


def _is_union_tag(part: str | int) -> bool:
    # pydantic names the branch of an `X | None` field in the location ("str", "function-after[...]").
    return isinstance(part, str) and ("[" in part or part in {"str", "date", "datetime"})


def _message(kind: str, message: str) -> str:
    if kind == "extra_forbidden":
        return UNKNOWN_FIELD
    if kind == "missing":
        return "field required"
    return message.removeprefix("Value error, ")


def without_identity(event: Event) -> Event:
    """The event as it is kept: a personnummer becomes the birth date it encodes, the name is dropped.

    sipvakt needs the birth date (18th birthday, age limits) and nothing else of either; what is not
    kept cannot leak.
    """
    if not isinstance(event.data, CaseOpened):
        return event
    person = event.data.person
    birth_date = person.birth_date
    if birth_date is None and person.personnummer is not None:
        reference = event.occurred_at.astimezone(STOCKHOLM).date()
        birth_date = parse_identity_number(person.personnummer, reference=reference).birth_date
    kept = person.model_copy(update={"personnummer": None, "name": None, "birth_date": birth_date})
    return event.model_copy(update={"data": event.data.model_copy(update={"person": kept})})
