"""The reply page's CSRF token: a form posts only what a page of ours rendered, for this link, lately.

The page uses no cookies (a participant opens it once, often on a shared or borrowed device), so the
token is stateless: the time the page was rendered and an HMAC of it with the reply token, under a key
derived from the service's secret. A POST without it, with one made for another link, or with one older
than a day is refused (403). The time is the service's clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta

FIELD = "csrf_token"
VALID_FOR = timedelta(hours=24)
_LABEL = b"sipvakt reply page form v1\x1f"


def _mac(key: bytes, reply_token: str, issued: int) -> str:
    digest = hmac.new(key, _LABEL + f"{reply_token}\x1f{issued}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def form_token(key: bytes, reply_token: str, now: datetime) -> str:
    issued = int(now.timestamp())
    return f"{issued}.{_mac(key, reply_token, issued)}"


def valid(key: bytes, reply_token: str, offered: str | None, now: datetime) -> bool:
    if not offered or len(offered) > 100:
        return False
    issued_text, _, mac = offered.partition(".")
    if not issued_text.isdigit():
        return False
    issued = int(issued_text)
    age = now.timestamp() - issued
    if age < -60 or age > VALID_FOR.total_seconds():
        return False
    return hmac.compare_digest(mac.encode(), _mac(key, reply_token, issued).encode())
