"""Secrets at rest: webhook secrets are encrypted (they must be read back to verify HMACs), tokens hashed.

The encryption key comes from SIPVAKT_SECRET_KEY (a Fernet key; every replica must share it) or, when
that is unset, from a key file created once in SIPVAKT_DATA_DIR: fine for one machine.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

KEY_FILE = "secret.key"


class SecretKeyError(Exception):
    pass


def load_cipher(secret_key: str | None, data_dir: Path) -> Fernet:
    """The cipher for webhook secrets at rest."""
    if secret_key is not None:
        try:
            return Fernet(secret_key.encode())
        except ValueError:
            raise SecretKeyError("SIPVAKT_SECRET_KEY: must be 32 url-safe base64-encoded bytes") from None
    path = data_dir / KEY_FILE
    if not path.exists():
        _create_key_file(path)
    return Fernet(path.read_bytes().strip())


def _create_key_file(path: Path) -> None:
    """Write a new key beside the file and link it into place: processes starting together on one data
    dir then all read the one key that won, never a file still being written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(Fernet.generate_key())
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        draft.unlink()


def encrypt(cipher: Fernet, plaintext: str) -> bytes:
    return cipher.encrypt(plaintext.encode())


def decrypt(cipher: Fernet, ciphertext: bytes) -> str | None:
    """The plaintext, or None if it was encrypted under another key."""
    try:
        return cipher.decrypt(ciphertext).decode()
    except InvalidToken:
        return None


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: 'whsec_' and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def new_token() -> tuple[str, str]:
    """A bearer token and its public id; the id is the token's first part, safe to log and list."""
    token_id = "tok_" + secrets.token_hex(6)
    return token_id, f"svk_{token_id.removeprefix('tok_')}_{secrets.token_urlsafe(32)}"


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
