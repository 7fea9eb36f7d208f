"""Settings of direct ClickHouse access for BI tools (infra/clickhouse/access.py): the BI users and their limits.

A leaf module (pydantic only) so that infra/settings.py can hold a `BiAccessSettings` field without an import
cycle. Validation refuses what could not be written safely into a users file or SQL: names that are not
identifiers, `default`, branch codes with other characters than letters, digits, `_` and `-`.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, SecretStr, field_validator

LOOPBACK = ("127.0.0.1", "::1")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_BRANCH = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class BiUser(BaseModel):
    """One BI principal (a tool's service login or an analyst). `branches` None: every branch."""

    name: str = Field(pattern=_NAME.pattern)
    password: SecretStr
    role: str
    branches: list[str] | None = None
    # IP allow-list (ClickHouse `<networks>`): addresses or CIDR ranges the login may come from.
    networks: list[str] = Field(default_factory=lambda: list(LOOPBACK))
    # Its own hourly query quota instead of BiAccessSettings.queries_per_hour (e.g. a BI gateway's login).
    queries_per_hour: int | None = Field(default=None, ge=1)
    # The API shows the sensitive families (ledger, bank, audit) only after a recent MFA, which a database login
    # cannot give: a BI user reads them only when this says so explicitly (e.g. an auditors' reporting login).
    sensitive_without_mfa: bool = False

    @field_validator("name")
    @classmethod
    def _not_default(cls, value: str) -> str:
        if value == "default":
            raise ValueError("`default` is the project's own passwordless loopback user, not a BI user")
        return value

    @field_validator("branches")
    @classmethod
    def _branch_codes(cls, value: list[str] | None) -> list[str] | None:
        for code in value or ():
            if not _BRANCH.match(code):
                raise ValueError(f"not a branch code: {code!r}")
        return value


class BiAccessSettings(BaseModel):
    """Direct access for BI tools. `users` None: the local stack's demo users (LOCAL_USERS), with passwords
    generated once into the state directory (`bi_users`)."""

    users: list[BiUser] | None = None
    database: str = Field(default="luckygas_bi", pattern=_NAME.pattern)
    # Whose rights the published views run with: `default` on our server, a dedicated reader on a real one.
    definer: str = Field(default="default", pattern=_NAME.pattern)
    queries_per_hour: int = 1_000
    result_rows_per_hour: int = 20_000_000
    execution_seconds_per_hour: int = 1_800
    max_execution_seconds: int = 120
    max_result_rows: int = 1_000_000
    max_memory_bytes: int = 2_000_000_000


# name, role, branches (None: all) of the local stack's demo users.
LOCAL_USERS: tuple[tuple[str, str, list[str] | None], ...] = (
    ("bi_analyst", "analyst", None),
    ("bi_branch_tpe", "branch_manager", ["TPE"]),
)
