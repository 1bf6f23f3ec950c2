"""Reply links: one unguessable token per invitation (case, meeting, participant).

The token is an HMAC of the invitation under a key derived from the service's secret key, so every resend
of a message carries the same link and every replica computes the same token. Only the token's SHA-256 is
stored, mapped to the invitation; a leaked database does not yield working links.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from notifiers.letters import LetterReply
from notifiers.templates import ReplyLinks
from service.storage.secrets import KEY_FILE
from service.storage.store import Connection

# 20 base32 characters: 100 bits, and no 0/O or 1/I to confuse when typed from a letter.
TOKEN_LENGTH = 20
_GROUP = 4


@dataclass(frozen=True)
class Invitee:
    """The invitation a token answers."""

    case_id: str
    meeting_id: str
    participant_id: str


def reply_key(secret_key: str | None, data_dir: Path) -> bytes:
    """The HMAC key for reply tokens, derived from the same secret that encrypts webhook secrets.

    Call after ``service.secrets.load_cipher``, which creates the key file when no key is configured.
    """
    material = secret_key.encode() if secret_key is not None else (data_dir / KEY_FILE).read_bytes().strip()
    return hmac.new(material, b"sipvakt reply links v1", hashlib.sha256).digest()


def normalize_token(value: str) -> str:
    """A token as typed or printed (``abcd-efgh-…``, any case) in its canonical form."""
    return value.replace("-", "").replace(" ", "").lower()


def token_digest(token: str) -> bytes:
    return hashlib.sha256(normalize_token(token).encode()).digest()


@dataclass(frozen=True)
class ReplyTokens:
    key: bytes
    base_url: str

    def token(self, invitee: Invitee) -> str:
        subject = "\x1f".join((invitee.case_id, invitee.meeting_id, invitee.participant_id)).encode()
        digest = hmac.digest(self.key, subject, "sha256")
        # Base32 writes each 5 octets as 8 characters on their own, so the first 15 octets give the first
        # 24 characters of the whole digest's encoding, enough for the token, at half the work.
        return base64.b32encode(digest[:15]).decode().lower()[:TOKEN_LENGTH]

    def page_url(self, token: str, answer: str | None = None) -> str:
        url = f"{self.base_url}/rsvp/{token}"
        return f"{url}?svar={answer}" if answer else url

    def links(self, token: str) -> ReplyLinks:
        return ReplyLinks(
            accept_url=self.page_url(token, "ja"),
            decline_url=self.page_url(token, "nej"),
            substitute_url=self.page_url(token, "ersattare"),
        )

    def letter_reply(self, token: str) -> LetterReply:
        code = "-".join(token[i : i + _GROUP] for i in range(0, len(token), _GROUP))
        return LetterReply(code=code, url=self.page_url(token))

    async def issue(self, connection: Connection, invitee: Invitee, now: datetime) -> str:
        """The invitation's token, remembered so that the reply page can find the invitation again."""
        token = self.token(invitee)
        await connection.execute(
            "insert into reply_tokens (token_hash, case_id, meeting_id, participant_id, created_at)"
            " values ($1, $2, $3, $4, $5) on conflict (token_hash) do nothing",
            token_digest(token),
            invitee.case_id,
            invitee.meeting_id,
            invitee.participant_id,
            now,
        )
        return token


async def find_invitee(connection: Connection, token: str) -> Invitee | None:
    normalized = normalize_token(token)
    if len(normalized) != TOKEN_LENGTH or not normalized.isalnum():
        return None
    row = await connection.fetchrow(
        "select case_id, meeting_id, participant_id from reply_tokens where token_hash = $1",
        token_digest(normalized),
    )
    return Invitee(row["case_id"], row["meeting_id"], row["participant_id"]) if row else None
