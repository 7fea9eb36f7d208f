"""What a caller may see of a table: the branch condition every query gets and the masking of personal data.

Contract: `RowScopeDep` gives a route the caller's `RowScope` (built from the current principal and the role
model). `where(table)` returns the SQL condition and parameters limiting `table` to the caller's branches
(403 for company-wide figures a branch-scoped caller may not see) and notes the filter for the request's audit
record; `mask(table, rows)` masks the personal columns the caller's role must not see in clear. Routes never
write their own branch SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from api.access.masking import mask_row
from api.access.policy import AccessPolicy, BranchScopeError, Role
from api.access.principal import CurrentPrincipal, Principal
from api.deps import PolicyDep


@dataclass(frozen=True, slots=True)
class RowScope:
    """What the caller may see of a table: `where(table)` limits rows, `mask(table, rows)` hides personal data.
    With the request given, the branch filter applied is noted for the request's audit record."""

    principal: Principal
    policy: AccessPolicy
    request: Request | None = None

    @property
    def role(self) -> Role:
        return self.policy.role(self.principal.role)

    def where(self, table: str) -> tuple[str, dict[str, Any]]:
        """The SQL condition (and parameters) limiting `table` to the caller's branches; 403 for company-wide
        figures a branch-scoped caller may not see."""
        try:
            condition = self.policy.branch_condition(table, self.principal.branches)
        except BranchScopeError:
            raise HTTPException(403, f"{table} holds company-wide figures; the caller sees only its branches") from None
        if self.request is not None:
            branches = self.principal.branches
            self.request.state.audit_branch_filter = "all" if branches is None else ",".join(sorted(branches))
        return condition

    def mask(self, table: str, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """`rows` of `table` with the personal columns the caller's role sees masked."""
        columns, masked = self.policy.table(table).personal_columns, self.role.masked
        return [mask_row(row, columns, masked) for row in rows]


def get_row_scope(request: Request, principal: CurrentPrincipal, policy: PolicyDep) -> RowScope:
    return RowScope(principal, policy, request)


RowScopeDep = Annotated[RowScope, Depends(get_row_scope)]
