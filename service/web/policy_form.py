"""The reminder policy as a form: its fields, the layer each value comes from, the override a submitted
form asks for, and the policy checks' errors in Swedish, each at its field. Pure: no I/O.

The form shows every value in force. A submitted value that equals what the layers below give is not
stored, so it keeps following them; any other value becomes this layer's override, which the API's own
check (`config.reminder_policy.check_override`) then accepts or refuses. Values are passed on as the
form gives them where they are not plain numbers or times, so that the check, not this module, decides
what is wrong with them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from config.reminder_policy import PolicyError

Kind = Literal["time", "days", "count", "switch"]
Layer = Literal["rule_file", "region", "case"]
LAYER_NAMES: dict[Layer, str] = {"rule_file": "regelfilen", "region": "regionen", "case": "ärendet"}
COUNTING_NAMES = {"calendar": "kalenderdagar", "working": "arbetsdagar"}
_INTEGER = re.compile(r"-?\d{1,6}", re.ASCII)
_HOUR_MINUTE = re.compile(r"\d{2}:\d{2}", re.ASCII)


@dataclass(frozen=True)
class Field:
    path: tuple[str, ...]
    label: str
    kind: Kind
    hint: str = ""

    @property
    def name(self) -> str:
        return ".".join(self.path)

    @property
    def field_id(self) -> str:
        return "-".join(self.path)


@dataclass(frozen=True)
class Group:
    legend: str
    fields: tuple[Field, ...]


_OFF = "Lämna antalet dagar tomt för att stänga av regeln."


def _lead(section: str, legend: str, what: str) -> Group:
    return Group(
        legend,
        (
            Field((section, "enabled"), f"Skicka påminnelse om {what}", "switch"),
            Field((section, "lead"), "Så här lång tid före", "days", _OFF),
        ),
    )


GROUPS: tuple[Group, ...] = (
    Group(
        "Arbetstid då påminnelser skickas",
        (
            Field(("working_hours", "start"), "Från klockan", "time", "Till exempel 08:00."),
            Field(("working_hours", "end"), "Till klockan", "time", "Måste vara senare än starttiden."),
        ),
    ),
    Group(
        "Påminnelse om svar på kallelse",
        (
            Field(("rsvp", "enabled"), "Påminn den som inte har svarat", "switch"),
            Field(("rsvp", "after"), "Första påminnelsen efter", "days", _OFF),
            Field(("rsvp", "urgent_after"), "Vid skyddsbehov: första påminnelsen efter", "days", _OFF),
            Field(("rsvp", "repeat_every_days"), "Påminn igen var", "count", "Antal dagar, 1–60."),
            Field(("rsvp", "max_reminders"), "Högst antal påminnelser", "count", "0–10."),
        ),
    ),
    Group(
        "Eskalering till samordnaren",
        (
            Field(
                ("escalation", "before_meeting"), "Obesvarade kallelser eskaleras före mötet", "days", _OFF
            ),
            Field(
                ("escalation", "urgent_before_meeting"), "Vid skyddsbehov: eskaleras före mötet", "days", _OFF
            ),
        ),
    ),
    _lead("followup_call", "Kalla till uppföljning", "att kalla till uppföljning"),
    _lead("consent_expiry", "Samtycke som löper ut", "samtycke som löper ut"),
    _lead("turns_18", "Personen fyller 18 år", "att personen fyller 18 år"),
    _lead("leaves_target_group", "Personen lämnar målgruppen", "att personen lämnar målgruppen"),
    _lead("action_due", "Insatser med slutdatum", "insatser som ska vara klara"),
    Group("Avvikelser", (Field(("deviation", "enabled"), "Meddela samordnaren om avvikelser", "switch"),)),
)
FIELDS: tuple[Field, ...] = tuple(field for group in GROUPS for field in group.fields)


def _get(document: Mapping[str, Any] | None, path: Sequence[str]) -> tuple[bool, Any]:
    node: Any = document or {}
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def layer_of(field: Field, region: Mapping[str, Any] | None, case: Mapping[str, Any] | None) -> Layer:
    """Which layer gives the field's value in force (an ignored override is passed as None)."""
    if _get(case, field.path)[0]:
        return "case"
    if _get(region, field.path)[0]:
        return "region"
    return "rule_file"


def form_values(policy: Mapping[str, Any]) -> dict[str, str]:
    """A resolved policy (as JSON) as the form's field values, by field name."""
    values: dict[str, str] = {}
    for field in FIELDS:
        value = _get(policy, field.path)[1]
        if field.kind == "days":
            values[field.name + ".days"] = "" if value is None else str(value["days"])
            values[field.name + ".counting"] = "calendar" if value is None else value["counting"]
        elif field.kind == "switch":
            values[field.name] = "on" if value else ""
        elif field.kind == "time":
            values[field.name] = str(value)[:5]
        else:
            values[field.name] = str(value)
    return values


def _number(text: str) -> int | str:
    text = text.strip()
    return int(text) if _INTEGER.fullmatch(text) else text


def _submitted(field: Field, form: Mapping[str, str]) -> Any:
    raw = form.get(field.name, "")
    if field.kind == "switch":
        return raw == "on"
    if field.kind == "time":
        raw = raw.strip()
        return raw + ":00" if _HOUR_MINUTE.fullmatch(raw) else raw
    if field.kind == "count":
        return _number(raw)
    days = form.get(field.name + ".days", "").strip()
    if not days:
        return None
    return {"days": _number(days), "counting": form.get(field.name + ".counting", "")}


def override_from_form(form: Mapping[str, str], below: Mapping[str, Any]) -> dict[str, Any]:
    """This layer's override: every submitted value that differs from `below` (the policy the layers
    under it give, as JSON)."""
    override: dict[str, Any] = {}
    for field in FIELDS:
        value = _submitted(field, form)
        if value == _get(below, field.path)[1]:
            continue
        *tables, key = field.path
        node = override
        for table in tables:
            node = node.setdefault(table, {})
        node[key] = value
    return override


def _field_for(location: str) -> str | None:
    """The form field (by name) an error's location belongs to."""
    if location == "working_hours":  # the end is not after the start: said at the end
        return "working_hours.end"
    for field in FIELDS:
        if location == field.name:
            return field.name + (".days" if field.kind == "days" else "")
        if field.kind == "days" and location.startswith(field.name + "."):
            return field.name + (".counting" if location.endswith("counting") else ".days")
    return None


def swedish(error: PolicyError) -> str:
    """The check's error in Swedish, from pydantic's error type and bounds."""
    code, context = error.code, error.context
    if code in ("int_type", "int_parsing", "int_from_float"):
        return "Skriv ett heltal."
    if code == "greater_than_equal":
        return f"Talet får inte vara mindre än {context.get('ge')}."
    if code == "less_than_equal":
        return f"Talet får inte vara större än {context.get('le')}."
    if code.startswith("time"):
        return "Skriv en tid som tt:mm, till exempel 08:00."
    if code in ("literal_error", "enum"):
        return "Välj kalenderdagar eller arbetsdagar."
    if code == "value_error":
        return "Sluttiden måste vara senare än starttiden."
    if code == "bool_type":
        return "Välj på eller av."
    if code == "extra_forbidden":
        return "Formuläret har ett fält som ingen policy har."
    if code == "missing":
        return "Fyll i fältet."
    return "Värdet går inte att använda."


def errors_by_field(errors: Sequence[PolicyError]) -> tuple[dict[str, str], list[str]]:
    """The Swedish messages by field name, and those that belong to no field."""
    at_fields: dict[str, str] = {}
    elsewhere: list[str] = []
    for error in errors:
        name = _field_for(error.location)
        if name is None:
            elsewhere.append(swedish(error))
        else:
            at_fields.setdefault(name, swedish(error))
    return at_fields, elsewhere
