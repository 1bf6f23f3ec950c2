"""Standard Webhooks signatures: verify incoming events (several secrets at once) and sign outgoing ones.

Written out rather than wrapped because intake must try every active secret of every integration and
must answer any malformed header with a 401, never an exception; the scheme is small.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from multidict import MultiMapping

TOLERANCE_SECONDS = 5 * 60
MAX_ID_LENGTH = 200
SIGNED_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


class SignatureError(Exception):
    """Why a request's signature was refused; safe to show to the sender."""


@dataclass(frozen=True)
class SigningKey:
    owner: str
    key: bytes


def key_from_secret(secret: str) -> bytes:
    """The HMAC key inside a 'whsec_…' secret."""
    try:
        return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except binascii.Error:
        raise ValueError("a webhook secret is 'whsec_' followed by base64") from None


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value for one key."""
    signed = message_id.encode() + b"." + str(timestamp).encode() + b"." + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def is_webhook_id(text: str) -> bool:
    """What a webhook-id (and a line's `id` in `sipvakt import`) may be: printable ASCII, not too long."""
    return 0 < len(text) <= MAX_ID_LENGTH and text.isprintable() and text.isascii()


def verify(
    headers: MultiMapping[str], body: bytes, keys: Iterable[SigningKey], now: datetime
) -> tuple[str, SigningKey]:
    """Return (webhook-id, the key that signed) or raise SignatureError saying what is wrong."""
    if any(len(headers.getall(name, [])) > 1 for name in SIGNED_HEADERS):
        # Two values for one header: which of them a proxy or a reader takes is a guess, so neither.
        raise SignatureError("webhook-id, webhook-timestamp and webhook-signature are each sent once")
    message_id, timestamp_text, signature_header = (headers.get(name, "") for name in SIGNED_HEADERS)
    if not message_id or not timestamp_text or not signature_header:
        raise SignatureError("webhook-id, webhook-timestamp and webhook-signature headers are required")
    if not is_webhook_id(message_id):
        raise SignatureError("webhook-id must be printable ASCII of at most 200 characters")
    if not timestamp_text.isascii() or not timestamp_text.isdigit() or len(timestamp_text) > 12:
        raise SignatureError("webhook-timestamp must be whole seconds since the Unix epoch")
    timestamp = int(timestamp_text)
    if abs(now.timestamp() - timestamp) > TOLERANCE_SECONDS:
        raise SignatureError("webhook-timestamp is more than 5 minutes away from the current time")
    offered = _offered_signatures(signature_header)
    if not offered:
        raise SignatureError("webhook-signature holds no 'v1,<base64>' signature")
    for signing_key in keys:
        expected = sign(signing_key.key, message_id, timestamp, body).removeprefix("v1,")
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return message_id, signing_key
    raise SignatureError("no signature matches an active secret")


def _offered_signatures(header: str) -> list[str]:
    found = []
    for part in header.split(" "):
        version, _, value = part.partition(",")
        if version == "v1" and value and value.isascii():
            found.append(value)
    return found
