"""Meeting answers that Exchange sends only as TNEF (``winmail.dat``, ``application/ms-tnef``).

An Exchange or Outlook that is set to send "rich text" to a recipient answers an invitation with no
iCalendar at all: the answer is the TNEF message class (``IPM.Schedule.Meeting.Resp.Pos`` in MAPI, or its
legacy name ``IPM.Microsoft Schedule.MtgRespP`` as Exchange 2010 writes it). The class is all that is
read here; which invitation is answered comes from the mail's In-Reply-To (see ``service.inbound_thread``).
Decoding is left to ``tnefparse``: TNEF is a binary MAPI format with checksums and code pages, not
something to hand-write.
"""

from __future__ import annotations

import logging
from typing import Literal

from tnefparse import TNEF

TnefResponse = Literal["accepted", "declined", "tentative"]

_RESPONSES: dict[str, TnefResponse] = {
    "ipm.schedule.meeting.resp.pos": "accepted",
    "ipm.schedule.meeting.resp.neg": "declined",
    "ipm.schedule.meeting.resp.tent": "tentative",
    "ipm.microsoft schedule.mtgrespp": "accepted",
    "ipm.microsoft schedule.mtgrespn": "declined",
    "ipm.microsoft schedule.mtgrespa": "tentative",
}
# PR_MESSAGE_CLASS among the MAPI properties, for writers that leave out the TNEF attribute.
_MAPI_MESSAGE_CLASS = 0x001A

# tnefparse logs every odd checksum and unknown attribute at WARNING; a received file is not our fault.
logging.getLogger("tnefparse").setLevel(logging.ERROR)


def meeting_response(data: bytes) -> TnefResponse | None:
    """The meeting answer a ``winmail.dat`` carries, or None when it is no meeting answer or unreadable."""
    try:
        tnef = TNEF(data, do_checksum=False)
    except Exception:  # tnefparse raises many types on truncated or hostile input; none may escape
        return None
    classes = [str(prop.data) for prop in tnef.msgprops if prop.name == TNEF.ATTMESSAGECLASS]
    classes += [str(prop.data) for prop in tnef.mapiprops if prop.name == _MAPI_MESSAGE_CLASS]
    for message_class in classes:
        response = _RESPONSES.get(message_class.strip().rstrip("\x00").lower())
        if response is not None:
            return response
    return None
