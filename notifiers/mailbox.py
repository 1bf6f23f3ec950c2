"""An address as it goes on the wire: the domain IDNA-encoded (`idn@exämple.se` is sent to
`idn@xn--exmple-cua.se`, which every mail server takes), the local part as it is. A local part beyond ASCII
(`åsa@example.se`) can only travel where the server offers SMTPUTF8 (RFC 6531); the transport checks that.

The `idna` package implements IDNA 2008 with the UTS 46 mapping, which is what mail and browsers use; the
standard library's codec is the older IDNA 2003.
"""

from __future__ import annotations

from dataclasses import dataclass

import idna

# Characters a local part may hold besides letters and digits. RFC 5322 allows a few more unquoted
# (`!#$&*/=?^`{|}~`), but an address is also written into calendar files and headers, which take only
# these (see `calendars.addresses`); no real mailbox of a participant needs the others.
_ATEXT = frozenset("._%+'-")
MAX_ADDRESS_LENGTH = 254


class UnsendableAddress(ValueError):
    """No mail server can be given this address: sending it again will not help."""


@dataclass(frozen=True)
class WireAddress:
    address: str

    @property
    def needs_smtputf8(self) -> bool:
        return not self.address.isascii()


def wire_address(address: str) -> WireAddress:
    """The address with its domain in ASCII; raise UnsendableAddress when it cannot be sent at all."""
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain:
        raise UnsendableAddress("not an e-mail address")
    if not all(char.isalnum() or char in _ATEXT for char in local) or ".." in local:
        raise UnsendableAddress("the local part holds characters that are not sent")
    if local.startswith(".") or local.endswith("."):
        raise UnsendableAddress("the local part starts or ends with a dot")
    try:
        ascii_domain = idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as error:
        raise UnsendableAddress(f"the domain is not a valid domain name ({type(error).__name__})") from None
    wired = f"{local}@{ascii_domain}"
    if len(wired.encode()) > MAX_ADDRESS_LENGTH:
        raise UnsendableAddress("the address is too long")
    return WireAddress(wired)
