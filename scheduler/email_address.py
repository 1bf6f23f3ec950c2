"""The normal form of a plain e-mail address, found without email_validator's general parser.

Almost every address an integration sends is plain ASCII: a dot-atom before the @-sign, letters, digits and
hyphens after it. email_validator (through pydantic's `validate_email`) checks such an address with the
same steps it takes for quoted, internationalised and display-name forms, and that is the slowest part
of validating an event that names an address seen for the first time (a guardian's, in every case of a
bulk import). `plain_normalised` gives the same normal form for the addresses of that one shape, and
None for anything else, which then goes through `validate_email` as before: it never refuses an
address itself, so every refusal and its message still come from email_validator.

What the shape leaves out, each a case where email_validator does more than lower-case the domain
(email_validator 2.4's `validate_email_domain_name` and `validate_email_local_part`, as pydantic calls
them: no deliverability check, the library's defaults otherwise):

- any character outside printable ASCII, any whitespace, quotes, brackets, a second @-sign;
- a domain label of more than 63 characters, or starting or ending with a hyphen, or any `--` (the
  Punycode `xn--` and the reserved `ab--` labels);
- a domain without a dot, or whose last character is not a letter (no top-level domain ends otherwise);
- a special-use domain (`email_validator.SPECIAL_USE_DOMAIN_NAMES`: `.local`, `.test`, …);
- a local part email_validator lower-cases (RFC 2142's `postmaster`, `info`, …);
- an address over 254 characters.

`tests/scheduler/test_email_address.py` holds this to `validate_email` on generated addresses of and near
the shape.
"""

from __future__ import annotations

import re

import email_validator
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES, EMAIL_MAX_LENGTH

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_LAST_LABEL = r"(?:[A-Za-z0-9][A-Za-z0-9-]{0,61})?[A-Za-z]"
_PLAIN = re.compile(rf"({_ATEXT}+(?:\.{_ATEXT}+)*)@((?:{_LABEL}\.)+{_LAST_LABEL})")
_LOWER_CASED_MAILBOXES = frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)


def plain_normalised(value: str) -> str | None:
    """`validate_email(value)[1]` for a plain ASCII address (see above); None when `value` is not one."""
    # In strict mode email_validator also limits the local part's length: no shortcut then.
    if len(value) > EMAIL_MAX_LENGTH or email_validator.STRICT:
        return None
    match = _PLAIN.fullmatch(value)
    if match is None:
        return None
    local, domain = match.groups()
    if "--" in domain or local.lower() in _LOWER_CASED_MAILBOXES:
        return None
    # What IDNA's mapping does to an ASCII domain of this shape, and all it does.
    domain = domain.lower()
    # Read at each call: the list is email_validator's to change, and a caller may extend it.
    for name in email_validator.SPECIAL_USE_DOMAIN_NAMES:
        if domain == name or domain.endswith("." + name):
            return None
    return f"{local}@{domain}"
