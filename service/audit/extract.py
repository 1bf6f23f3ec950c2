"""A person's log extract (HSLF-FS 2016:40 4 kap. 10 §): which organisation took part of the data about
them, and when. The person is named by their reference (the case's `person.reference`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from service.audit.api import COLUMNS, entry_view
from service.storage.store import Connection


async def extract(connection: Connection, person_reference: str, since: datetime | None) -> dict[str, Any]:
    """Every entry about the person since `since`, oldest first, each with the organisation that took part
    of the data: a disclosure's recipient, otherwise the organisation of whoever read or changed it."""
    rows = await connection.fetch(
        f"select {COLUMNS} from audit_log where person_reference = $1"
        " and ($2::timestamptz is null or at >= $2) order by seq",
        person_reference,
        since,
    )
    entries = []
    for row in rows:
        view = entry_view(row)
        disclosed = row["action"] == "disclose"
        view["organisation"] = row["recipient_organisation"] if disclosed else row["actor_organisation"]
        entries.append(view)
    return {
        "person_reference": person_reference,
        "since": since.isoformat() if since else None,
        "entries": entries,
    }
