"""E-mail addresses and web links as they appear in calendar data and in our own messages."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from yarl import URL

from calendars.clean_text import clean_line

# Deliberately narrower than RFC 5322: an address we write into a calendar or a header must never need
# quoting, and single-label domains stay allowed because the default sender is ``sipvakt@localhost``.
_PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)
# What we write may also have a local part beyond ASCII (RFC 6531/6532: sent only under SMTPUTF8); the
# domain is written IDNA-encoded, so it stays ASCII.
_WRITABLE_ADDRESS = re.compile(
    r"[\w.%+'-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)
_MAILTO = re.compile(r"^\s*mailto:", re.IGNORECASE)


def require_plain_address(value: str) -> str:
    """Return ``value`` if it is a bare address such as ``asa@example.se`` or ``åsa@xn--exmple-cua.se``;
    raise ``ValueError`` otherwise.

    Used when writing: ``mailto:Name <addr>`` or an address with spaces would cost the invitation its
    reply buttons, or open a header to injection.
    """
    if not _WRITABLE_ADDRESS.fullmatch(value) or len(value.encode()) > 254:
        raise ValueError(f"not a plain e-mail address: {value!r}")
    return value


def normalize_address(value: object) -> str | None:
    """The comparable form of a calendar address: ``mailto:``/``MAILTO:`` removed, lower case.

    Returns ``None`` for anything that is not an e-mail address (``urn:uuid:…``, empty values), because
    such an attendee cannot be matched to an invitation.
    """
    text = _MAILTO.sub("", str(value)).strip().strip("<>").lower()
    if not _PLAIN_ADDRESS.fullmatch(text):
        return None
    return text


def require_web_url(url: str) -> str:
    """Return ``url`` if it is an http(s) URL without spaces or controls; raise ``ValueError`` otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or clean_line(url) != url or " " in url:
        raise ValueError(f"not an http(s) URL: {url!r}")
    return url


def web_uri(url: str) -> str:
    """An http(s) link as a valid URI (RFC 3986), for a calendar's URL property and a message's link.

    A meeting link may come with non-ASCII letters (``https://möte.region.se/rum/å``): the host is written
    in IDNA (punycode) and the path, query and fragment percent-encoded as UTF-8; what is already encoded
    stays as it is. yarl does this the way browsers do.
    """
    return str(URL(require_web_url(url)))
