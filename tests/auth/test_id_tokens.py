"""ID-token validation: only a token signed by the provider's key, for this client, from this issuer,
unexpired and carrying this sign-in's nonce, names a user."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey

from service.auth.oidc import OidcClient, SignInFailed, email_of, validate_id_token

CLIENT = OidcClient(
    "https://idp.kommun.example", "sipvakt", "client-secret-" + "x" * 20, "https://s/app/auth/callback"
)
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
NONCE = "nonce-of-this-sign-in"
KEY = RSAKey.generate_key(2048, parameters={"kid": "provider-key-1"})
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "provider-key-1"})
JWKS: dict[str, Any] = dict(KeySet([KEY]).as_dict(private=False))


def claims(**changes: Any) -> dict[str, Any]:
    issued = int(NOW.timestamp())
    base = {
        "iss": CLIENT.issuer,
        "aud": CLIENT.client_id,
        "sub": "sam",
        "iat": issued,
        "exp": issued + 300,
        "nonce": NONCE,
        "email": "sam@kommun.example",
    }
    base.update(changes)
    return {key: value for key, value in base.items() if value is not None}


def signed(payload: dict[str, Any], key: RSAKey = KEY, algorithm: str = "RS256") -> str:
    return jwt.encode({"alg": algorithm, "kid": "provider-key-1"}, payload, key)


def test_a_good_token_gives_its_claims() -> None:
    validated = validate_id_token(CLIENT, signed(claims()), JWKS, NONCE, NOW)
    assert email_of(validated) == "sam@kommun.example"
    assert (
        validate_id_token(CLIENT, signed(claims(aud=["other", "sipvakt"])), JWKS, NONCE, NOW)["sub"] == "sam"
    )


@pytest.mark.parametrize(
    "payload",
    [
        claims(iss="https://idp.elsewhere.example"),
        claims(aud="another-client"),
        claims(nonce="a-replayed-nonce"),
        claims(nonce=None),
        claims(exp=int((NOW - timedelta(minutes=5)).timestamp())),
        claims(exp=None),
        claims(sub=None),
    ],
    ids=["issuer", "audience", "nonce", "no-nonce", "expired", "no-exp", "no-sub"],
)
def test_a_token_with_a_wrong_claim_is_refused(payload: dict[str, Any]) -> None:
    with pytest.raises(SignInFailed):
        validate_id_token(CLIENT, signed(payload), JWKS, NONCE, NOW)


def test_a_token_signed_by_another_key_or_with_the_client_secret_is_refused() -> None:
    with pytest.raises(SignInFailed):
        validate_id_token(CLIENT, signed(claims(), OTHER_KEY), JWKS, NONCE, NOW)
    secret = OctKey.import_key(CLIENT.client_secret)
    hmac_signed = jwt.encode({"alg": "HS256"}, claims(), secret)
    with pytest.raises(SignInFailed):
        validate_id_token(CLIENT, hmac_signed, {"keys": [secret.as_dict()]}, NONCE, NOW)
    with pytest.raises(SignInFailed):
        validate_id_token(CLIENT, "not.a.token", JWKS, NONCE, NOW)


def test_an_address_the_provider_has_not_verified_names_no_one() -> None:
    assert email_of({"email": "sam@kommun.example", "email_verified": False}) is None
    assert email_of({"email": "sam@kommun.example", "email_verified": True}) == "sam@kommun.example"
    assert email_of({"sub": "sam"}) is None
