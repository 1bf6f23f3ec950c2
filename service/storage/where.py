"""A WHERE clause built condition by condition, and the one condition that says which cases a principal
sees: the API's lists, the web app's pages and the reports all scope their reads with it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from service.access import EVERYTHING, Principal


@dataclass
class Where:
    """A WHERE clause built condition by condition, numbering its parameters as it goes."""

    conditions: list[str] = field(default_factory=list)
    args: list[Any] = field(default_factory=list)

    def add(self, condition: str, *values: Any) -> None:
        """`condition` names its values {0}, {1}…; they become $n placeholders."""
        first = len(self.args) + 1
        self.args.extend(values)
        self.conditions.append(condition.format(*(f"${first + i}" for i in range(len(values)))))

    def scope(self, principal: Principal, alias: str = "c", *, by_integration: bool = True) -> None:
        """The cases the principal sees, as `Principal.sees` decides for one case; `alias` names the
        cases (`c`) or rows that carry a case's scope (region and organisations, and the integration
        unless `by_integration` is false: the access log's entries do not carry it)."""
        if principal.role == "admin":
            return
        if by_integration and principal.integration_id is not None:
            self.add(f"{alias}.integration_id = {{0}}", principal.integration_id)
        regions = principal.region_filter()
        if regions is not None:
            self.add(f"{alias}.region = any({{0}}::text[])", regions)
        if EVERYTHING not in principal.organisations:
            self.add(f"{alias}.organisations && {{0}}::text[]", sorted(principal.organisations))

    def sql(self) -> str:
        return " and ".join(self.conditions) or "true"
