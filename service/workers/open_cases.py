"""The open cases as models, for readers that go through all of them again and again (the daily digest).

Reading and validating every open case's state each working day costs in proportion to the caseload, and
most cases have not changed since the day before. Every write of a case's state goes through
`store.save_case`, which raises its `version`; so a reader that keeps the models it validated, with their
versions, needs from the database only the ids and versions of the open cases, and the states of those
whose version it has not seen. One query, one snapshot: the list is as consistent as reading them all.
"""

from __future__ import annotations

from scheduler.case import Case
from service.storage.store import Connection

# The state of a case comes back only when the version kept here is not the stored one (or none is kept).
OPEN_CASES = """
select c.case_id, c.version, case when k.version is distinct from c.version then c.state end as state
from cases c
left join unnest($1::text[], $2::int[]) as k (case_id, version) on k.case_id = c.case_id
where c.status = 'open'
order by c.case_id
"""


class OpenCases:
    """The models of the open cases, kept between reads; one per process, each read is exact."""

    def __init__(self) -> None:
        self._kept: dict[str, tuple[int, Case]] = {}

    async def read(self, connection: Connection) -> list[Case]:
        """Every open case as it is stored now, ordered by case id."""
        rows = await connection.fetch(
            OPEN_CASES, list(self._kept), [version for version, _ in self._kept.values()]
        )
        kept: dict[str, tuple[int, Case]] = {}
        for row in rows:
            case_id, version, state = row["case_id"], row["version"], row["state"]
            kept[case_id] = (
                (version, Case.model_validate(state)) if state is not None else self._kept[case_id]
            )
        # Cases closed (or gone) since the last read are dropped, so the memory follows the open caseload.
        self._kept = kept
        return [case for _, case in kept.values()]
