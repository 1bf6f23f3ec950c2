"""Whether the receiving mail server vouches for a reply's sender: its Authentication-Results (RFC 8601).

With ``SIPVAKT_INBOUND_AUTHSERV_ID`` set, an answer counts only when the header written by that server
says ``dkim=pass`` for the attendee's domain (the signature's ``header.d``, or the domain of
``header.i``), ``spf=pass`` for it (``smtp.mailfrom``) or ``dmarc=pass`` for it (``header.from``).

Only the topmost header with that authserv-id is read: the receiving server writes its header above
everything that came with the message, so a header the sender wrote in the server's name is further down
(RFC 8601 section 5 asks the server to remove those, and a well-run one does). Parsing is ``authres``'s.
"""

from __future__ import annotations

from collections.abc import Iterable
from email.message import Message

import authres

_HEADER = "Authentication-Results"


def _domain(value: str) -> str:
    """The domain of an address or of a bare domain, lower case, without a final dot."""
    return value.rpartition("@")[2].strip().rstrip(".").lower()


def _parsed(header: str) -> authres.AuthenticationResultsHeader | None:
    try:
        return authres.AuthenticationResultsHeader.parse(f"{_HEADER}: {header}")
    except Exception:  # authres raises several types on a malformed header; such a header vouches for nothing
        return None


def _vouches(result: authres.core.AuthenticationResult, domain: str) -> bool:
    if str(result.result).lower() != "pass":
        return False
    wanted: dict[str, tuple[tuple[str, str], ...]] = {
        "dkim": (("header", "d"), ("header", "i")),
        "spf": (("smtp", "mailfrom"),),
        "dmarc": (("header", "from"),),
    }
    names = wanted.get(str(result.method).lower(), ())
    return any(
        (str(prop.type).lower(), str(prop.name).lower()) in names and _domain(str(prop.value)) == domain
        for prop in result.properties
    )


def authenticated(message: Message, authserv_id: str, address: str) -> bool:
    """True when the topmost Authentication-Results from `authserv_id` passes for `address`'s domain."""
    domain = _domain(address)
    headers: Iterable[str] = (str(value) for value in message.get_all(_HEADER) or [])
    for header in headers:
        parsed = _parsed(header)
        if parsed is None or str(parsed.authserv_id).lower() != authserv_id.lower():
            continue
        return any(_vouches(result, domain) for result in parsed.results)
    return False
