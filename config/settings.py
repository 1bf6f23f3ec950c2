"""Settings from the environment (CONTRACT.md), validated once at start.

A bad value stops the service with one line that names the variable and what is wrong with it; the
value itself is not repeated (it may be a password).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import AnyUrl, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from calendars.stockholm import parse_moment

REPOSITORY_CONFIG_DIR = Path(__file__).resolve().parent
# Days after a case closes until its names, addresses and free text are erased (GDPR art. 5.1 e).
DEFAULT_RETENTION_DAYS = 90


class SettingsError(Exception):
    """One line per bad variable: `SIPVAKT_X: what is wrong`."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SIPVAKT_", extra="ignore", frozen=True, env_ignore_empty=True
    )

    database_url: str | None = None
    data_dir: Path = Path(".sipvakt")
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=1, le=65535)
    smtp_host: str | None = None
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = Field(default=None, repr=False)
    smtp_tls: Literal["none", "starttls", "tls"] = "none"
    # How long one SMTP exchange may take before the message is tried again later.
    smtp_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    # Sessions kept open to the SMTP server, each carrying many messages, and how long one may sit unused
    # before it is closed (well under the five minutes after which RFC 5321 lets a server drop it). The
    # delivery worker hands over as many messages at once as there are sessions.
    smtp_pool_size: int = Field(default=4, ge=1, le=64)
    smtp_idle_seconds: float = Field(default=30.0, gt=0, le=3600)
    # How long the database may take before a request answers 503 instead of waiting: to open a connection,
    # to run one statement, and to get a connection from the pool when every one is busy.
    database_connect_timeout_seconds: float = Field(default=3.0, gt=0, le=600)
    database_command_timeout_seconds: float = Field(default=5.0, gt=0, le=3600)
    database_acquire_timeout_seconds: float = Field(default=3.0, gt=0, le=600)
    # After SIGTERM: how long work in flight may take to finish before it is handed back to the queue.
    shutdown_grace_seconds: float = Field(default=8.0, gt=0, le=600)
    mail_from: str = "sipvakt@localhost"
    reply_address: str | None = None
    inbound_smtp_port: int | None = Field(default=None, ge=1, le=65535)
    # The receiving mail server's authserv-id: when set, a calendar reply counts only when that server's
    # Authentication-Results header vouches for the attendee's domain (see service.reply_auth).
    inbound_authserv_id: str | None = Field(default=None, min_length=1, max_length=255)
    # STARTTLS on the inbound receiver: both files (PEM), or neither.
    inbound_tls_cert: Path | None = None
    inbound_tls_key: Path | None = None
    # Limits of the inbound receiver: a calendar reply is a few kilobytes, with a handful of parts, to one
    # address; anything far beyond that is not a reply, and a host may not hold more connections than this.
    # At most what service.inbound_mail reads of a message (MAX_MESSAGE_BYTES).
    inbound_max_message_bytes: int = Field(default=2_000_000, ge=10_000, le=2_000_000)
    inbound_max_mime_parts: int = Field(default=50, ge=2, le=10_000)
    inbound_max_recipients: int = Field(default=10, ge=1, le=1000)
    inbound_max_connections: int = Field(default=50, ge=1, le=10_000)
    public_url: AnyUrl | None = None
    webhook_secret: str | None = Field(default=None, repr=False)
    admin_token: str | None = Field(default=None, repr=False, min_length=16)
    test_clock: str | None = None
    config_dir: Path = REPOSITORY_CONFIG_DIR
    secret_key: str | None = Field(default=None, repr=False)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Printed above the address in a letter's window: neutral, never a unit's or clinic's name.
    letter_return_address: str = Field(default="sipvakt", max_length=120)
    # OpenID Connect sign-in to the web app: all three, or none (then sign-in links by e-mail).
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = Field(default=None, repr=False)
    # At least a day, so that the messages of the closing (cancellations) have left before their addresses
    # go; at most ten years, since a longer wait is a mistake rather than a policy.
    retention_days: int = Field(default=DEFAULT_RETENTION_DAYS, ge=1, le=3650)
    # Outgoing webhooks go only to public https addresses; a closed installation whose receivers sit on
    # its own network (and the tests, on loopback) may allow private addresses and plain http to loopback.
    webhook_allow_private: bool = False
    # Rate limits per source address, each so many attempts per window (0: no limit). Counted are failed
    # webhook signatures; sign-in link requests and failed sign-in confirmations; unknown reply-page tokens.
    rate_limit_window_seconds: int = Field(default=600, ge=1, le=86400)
    rate_limit_webhook_signatures: int = Field(default=30, ge=0)
    rate_limit_sign_in: int = Field(default=20, ge=0)
    rate_limit_reply_tokens: int = Field(default=30, ge=0)
    # Comma-separated addresses or networks of reverse proxies in front of the service: from them, the
    # source of a request is read from X-Forwarded-For (the nearest address not itself a proxy).
    trusted_proxies: str | None = None

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URL")
        return value

    @field_validator("mail_from", "reply_address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None and (value.count("@") != 1 or any(c in value for c in " \r\n<>,")):
            raise ValueError("must be a bare e-mail address (local@domain)")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            key = base64.b64decode(value.removeprefix("whsec_"), validate=True)
        except binascii.Error:
            raise ValueError("must be 'whsec_' followed by base64") from None
        if not value.startswith("whsec_") or len(key) < 16:
            raise ValueError("must be 'whsec_' followed by base64 of at least 16 bytes")
        return value

    @field_validator("test_clock")
    @classmethod
    def _test_clock(cls, value: str | None) -> str | None:
        if value is not None and value != "now":
            parse_moment(value)
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                for part in value.split(","):
                    ipaddress.ip_network(part.strip(), strict=False)
            except ValueError:
                raise ValueError("must be comma-separated IP addresses or networks (CIDR)") from None
        return value

    @property
    def trusted_proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        if self.trusted_proxies is None:
            return ()
        return tuple(
            ipaddress.ip_network(part.strip(), strict=False) for part in self.trusted_proxies.split(",")
        )

    @field_validator("oidc_issuer")
    @classmethod
    def _issuer(cls, value: str | None) -> str | None:
        # Kept as written: the ID token's `iss` must equal it character for character.
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be the provider's http(s) issuer URL")
        return value

    @model_validator(mode="after")
    def _oidc_complete(self) -> Settings:
        given = [self.oidc_issuer, self.oidc_client_id, self.oidc_client_secret]
        if any(value is not None for value in given) and None in given:
            raise ValueError(
                "SIPVAKT_OIDC_ISSUER, SIPVAKT_OIDC_CLIENT_ID and SIPVAKT_OIDC_CLIENT_SECRET go together"
            )
        return self

    @model_validator(mode="after")
    def _inbound_tls_complete(self) -> Settings:
        if (self.inbound_tls_cert is None) != (self.inbound_tls_key is None):
            raise ValueError("SIPVAKT_INBOUND_TLS_CERT and SIPVAKT_INBOUND_TLS_KEY go together")
        return self

    @property
    def oidc_enabled(self) -> bool:
        return self.oidc_issuer is not None

    @property
    def public_url_is_https(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def smtp_port_or_default(self) -> int:
        if self.smtp_port is not None:
            return self.smtp_port
        return {"none": 25, "starttls": 587, "tls": 465}[self.smtp_tls]

    @property
    def reply_to(self) -> str:
        return self.reply_address or self.mail_from

    @property
    def base_url(self) -> str:
        if self.public_url is not None:
            return str(self.public_url).rstrip("/")
        return f"http://{self.http_host}:{self.http_port}"

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read and validate the settings, or raise SettingsError naming each bad variable."""
    try:
        if environ is None:
            return Settings()
        return Settings.model_validate(
            {
                key.removeprefix("SIPVAKT_").lower(): value
                for key, value in environ.items()
                if key.startswith("SIPVAKT_")
            }
        )
    except ValidationError as exc:
        lines = []
        for error in exc.errors(include_input=False, include_url=False):
            message = error["msg"].removeprefix("Value error, ")
            if not error["loc"]:  # a rule about several variables names them itself
                lines.append(message)
                continue
            name = "SIPVAKT_" + "_".join(str(part) for part in error["loc"]).upper()
            lines.append(f"{name}: {message}")
        raise SettingsError("\n".join(lines)) from None
