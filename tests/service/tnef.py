"""Writing small TNEF files (``winmail.dat``) the way Exchange 2010 starts its meeting answers.

Exchange's own files are long MAPI dumps; what a meeting answer is shows in its first attributes, which
are written here as Exchange writes them (MS-OXTNEF 2.1.3): the TNEF version, the OEM code page, the
message class and the subject, each with its checksum.
"""

from __future__ import annotations

import struct

SIGNATURE = 0x223E9F78
LEVEL_MESSAGE = 0x01
# attribute ids: the low word names the attribute, the high word its type
ATT_TNEF_VERSION = 0x00089006
ATT_OEM_CODEPAGE = 0x00069007
ATT_MESSAGE_CLASS = 0x00078008
ATT_SUBJECT = 0x00018004


def _attribute(attribute_id: int, data: bytes) -> bytes:
    checksum = sum(data) & 0xFFFF
    return struct.pack("<BII", LEVEL_MESSAGE, attribute_id, len(data)) + data + struct.pack("<H", checksum)


def winmail_dat(message_class: str, subject: str) -> bytes:
    """A TNEF stream with the attributes that say what the message is; strings in code page 1252."""
    return (
        struct.pack("<IH", SIGNATURE, 0x1234)
        + _attribute(ATT_TNEF_VERSION, struct.pack("<I", 0x00010000))
        + _attribute(ATT_OEM_CODEPAGE, struct.pack("<II", 1252, 0))
        + _attribute(ATT_MESSAGE_CLASS, message_class.encode("cp1252") + b"\x00")
        + _attribute(ATT_SUBJECT, subject.encode("cp1252") + b"\x00")
    )
