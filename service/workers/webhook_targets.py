"""Where outgoing webhooks may go: https to a public address, nowhere inside the service's own network.

A subscriber names the URL, so without this rule sipvakt would POST (and report back how it went) to
whatever the subscriber points it at: the cloud metadata address, an admin port on loopback, a database
on the private network. The rule is applied twice: to the URL when the subscription is made, and to the
addresses the host name resolves to at each delivery, which are then the only ones connected to; a name
that resolved to a public address at subscription and to a private one later (DNS rebinding) is caught
at the second check.

`SIPVAKT_WEBHOOK_ALLOW_PRIVATE` turns both checks off for a closed installation (and for the tests,
whose receivers listen on loopback); plain http is then accepted to loopback.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


class NotPublicAddress(OSError):
    """A webhook host that is, or resolves to, an address outside the public internet. An OSError, so
    that aiohttp reports it as a connection failure like any other."""


def is_public(address: IpAddress) -> bool:
    """Whether an address is on the public internet: `is_global` of the standard library, which leaves
    out loopback, link-local (with 169.254.169.254, the cloud metadata address, and fe80::/10), unique-local
    fc00::/7, the private ranges, shared address space 100.64/10 and the other special-purpose blocks.
    An IPv4 address written as IPv6 (::ffff:10.0.0.1) is judged as the IPv4 address it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def literal_address(host: str) -> IpAddress | None:
    """The address `host` spells, if it is one, including the old IPv4 forms that resolvers still accept
    (`2130706433`, `0x7f.1`, `127.1`), since a connection to any of them reaches the same machine."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if host and all(ch in "0123456789abcdefABCDEFxX." for ch in host) and host[0].isdigit():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine."""
    name = host.lower().rstrip(".")
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    address = literal_address(host)
    return address is not None and address.is_loopback


def is_host_name(host: str) -> bool:
    """Whether `host` is a name a resolver can be asked about: labels of letters, digits and hyphens (an
    international name in its IDNA form), none empty but a final one after a trailing dot."""
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_host.removesuffix(".").split(".")
    return len(ascii_host) <= 253 and all(
        0 < len(label) <= 63
        and not label.startswith("-")
        and not label.endswith("-")
        and all(ch.isascii() and (ch.isalnum() or ch == "-") for ch in label)
        for label in labels
    )


def host_syntax_problem(host: str) -> str | None:
    """Why `host` is neither an address nor a host name, or None."""
    if literal_address(host) is None and not is_host_name(host):
        return "must name a host by a valid host name or address"
    return None


def host_problem(host: str) -> str | None:
    """Why a URL's host may not receive webhooks before anything is resolved, or None. Host names other
    than localhost are judged at delivery, by the addresses they resolve to."""
    if is_loopback(host):
        return "must not point at this machine (loopback)"
    address = literal_address(host)
    if address is not None and not is_public(address):
        return "must be a public address, not a private, link-local or otherwise reserved one"
    return None


class PublicOnlyResolver(AbstractResolver):
    """Resolves as usual, then keeps only public addresses; refuses a name that has none. aiohttp connects
    to exactly the addresses a resolver returns, so what is checked here is what is connected to."""

    def __init__(self, inner: AbstractResolver | None = None) -> None:
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        public = [result for result in found if _result_is_public(result)]
        if not public:
            raise NotPublicAddress("the webhook host resolves to no public address")
        return public

    async def close(self) -> None:
        await self._inner.close()


def _result_is_public(result: dict[str, Any] | ResolveResult) -> bool:
    try:
        return is_public(ipaddress.ip_address(str(result["host"]).split("%", 1)[0]))
    except ValueError:
        return False
