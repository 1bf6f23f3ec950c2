"""Sign-in through an OpenID provider: the authorization code flow with PKCE (RFC 7636).

`begin` stores the attempt (state, nonce, PKCE verifier) in the database, so the provider may send the
browser back to any replica, and gives the provider's authorization URL. `finish` takes the code back,
redeems it at the token endpoint with the verifier, and validates the ID token with joserfc: signature
against the provider's JWKS, `iss`, `aud`, `exp`, `iat` and the attempt's `nonce`. The provider's
metadata and keys are fetched at every sign-in: sign-ins are rare, and a rotated key is then never missed.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from service.storage.secrets import token_hash
from service.storage.store import Connection

ATTEMPT_VALID_FOR = timedelta(minutes=10)
CALLBACK_PATH = "/app/auth/callback"
# Asymmetric algorithms only: a token signed with 'none' or with the client secret (HS256) is refused.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA")
LEEWAY_SECONDS = 60
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=10)


class SignInFailed(Exception):
    """The provider's answer cannot sign anyone in; the message is for the log, never for the page."""


@dataclass(frozen=True)
class OidcClient:
    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str


@dataclass(frozen=True)
class Begun:
    state: str
    authorization_url: str


def code_challenge(verifier: str) -> str:
    """RFC 7636's S256 challenge: base64url of the verifier's SHA-256, without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


async def _get_json(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with session.get(url) as response:
        if response.status != 200:
            raise SignInFailed(f"{url} answered {response.status}")
        body = await response.json(content_type=None)
    if not isinstance(body, dict):
        raise SignInFailed(f"{url} did not answer with a JSON object")
    return body


async def discover(session: aiohttp.ClientSession, issuer: str) -> dict[str, Any]:
    metadata = await _get_json(session, issuer.rstrip("/") + "/.well-known/openid-configuration")
    if metadata.get("issuer") != issuer:
        raise SignInFailed("the provider's metadata names another issuer")
    for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(metadata.get(field), str):
            raise SignInFailed(f"the provider's metadata has no {field}")
    return metadata


async def begin(client: OidcClient, connection: Connection, now: datetime) -> Begun:
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as session:
        metadata = await discover(session, client.issuer)
    await connection.execute("delete from oidc_attempts where expires_at < $1", now)
    await connection.execute(
        "insert into oidc_attempts (state_hash, nonce, code_verifier, created_at, expires_at)"
        " values ($1, $2, $3, $4, $5)",
        token_hash(state),
        nonce,
        verifier,
        now,
        now + ATTEMPT_VALID_FOR,
    )
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": client.redirect_uri,
            "scope": "openid email",
            "state": state,
            "nonce": nonce,
            "code_challenge": code_challenge(verifier),
            "code_challenge_method": "S256",
        }
    )
    endpoint = metadata["authorization_endpoint"]
    return Begun(state, f"{endpoint}{'&' if '?' in endpoint else '?'}{query}")


async def finish(
    client: OidcClient, connection: Connection, state: str, code: str, now: datetime, wall_now: datetime
) -> dict[str, Any]:
    """The validated ID token's claims. The attempt is used up whatever the outcome. `now` is the
    service's clock (the attempt's age); `wall_now` the real time the provider signs with (`exp`, `iat`)."""
    attempt = await connection.fetchrow(
        "delete from oidc_attempts where state_hash = $1 returning nonce, code_verifier, expires_at",
        token_hash(state),
    )
    if attempt is None or attempt["expires_at"] <= now:
        raise SignInFailed("no sign-in under way with this state, or it is too old")
    async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as session:
        metadata = await discover(session, client.issuer)
        id_token = await _redeem_code(
            session, client, metadata["token_endpoint"], code, attempt["code_verifier"]
        )
        keys = await _get_json(session, metadata["jwks_uri"])
    return validate_id_token(client, id_token, keys, attempt["nonce"], wall_now)


async def _redeem_code(
    session: aiohttp.ClientSession, client: OidcClient, endpoint: str, code: str, verifier: str
) -> str:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": client.redirect_uri,
        "code_verifier": verifier,
    }
    auth = aiohttp.BasicAuth(client.client_id, client.client_secret)
    async with session.post(endpoint, data=form, auth=auth) as response:
        body = await response.json(content_type=None)
        if response.status != 200 or not isinstance(body, dict):
            error = body.get("error") if isinstance(body, dict) else None
            raise SignInFailed(f"the token endpoint answered {response.status} ({error or 'no error code'})")
    id_token = body.get("id_token")
    if not isinstance(id_token, str):
        raise SignInFailed("the token endpoint gave no ID token")
    return id_token


def validate_id_token(
    client: OidcClient, id_token: str, jwks: dict[str, Any], nonce: str, wall_now: datetime
) -> dict[str, Any]:
    try:
        token = jwt.decode(id_token, KeySet.import_key_set(jwks), algorithms=list(ALGORITHMS))  # type: ignore[arg-type]
        jwt.JWTClaimsRegistry(
            now=int(wall_now.timestamp()),
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": client.issuer},
            aud={"essential": True, "value": client.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        ).validate(token.claims)
    except (JoseError, ValueError) as exc:
        raise SignInFailed(f"the ID token is not valid: {type(exc).__name__}") from None
    claims: dict[str, Any] = token.claims
    return claims


def email_of(claims: dict[str, Any]) -> str | None:
    """The address the provider vouches for: its `email` claim, unless it says the address is unverified."""
    email = claims.get("email")
    if not isinstance(email, str) or claims.get("email_verified") is False:
        return None
    return email
