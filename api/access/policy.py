"""The role model: which role may read which report family, table and column (one file, `roles.yaml`).

Contract: `load_policy(path)` reads and validates the YAML (default: `roles.yaml` beside this module) and
returns an immutable `AccessPolicy`; any unknown family, mask kind, role, table or malformed entry is a
`ValueError` naming it. Nothing is read at import time. `AccessPolicy.branch_condition(table, branches)` is
the one place that turns "these branches" into SQL for a table, for every route (via `RowScope` in
`api.access.principal`) and for generated BI row filters; parameters are ClickHouse server-side bindings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

MaskKind = Literal["phone", "address", "tax_id", "person_name", "email"]
MASK_KINDS: frozenset[str] = frozenset(get_args(MaskKind))
DEFAULT_POLICY_FILE = Path(__file__).with_name("roles.yaml")
BRANCHES_PARAMETER = "branches"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BRANCH_CODE = re.compile(r"^[A-Z]{3}$")


class BranchScopeError(ValueError):
    """A branch-scoped reader asked for a table that holds company-wide figures only."""


@dataclass(frozen=True, slots=True)
class Role:
    """What one role reads: families, branches (all or its own), masked personal data, money, sensitive reports."""

    name: str
    title_zh: str
    title_en: str
    branch_scope: Literal["all", "own"]
    families: frozenset[str]
    masked: frozenset[MaskKind]
    sensitive: bool
    money: Literal["all", "today_totals", "none"]
    inactive_customers: bool = False  # may list closed and blacklisted customers (W100 status filtering)


@dataclass(frozen=True, slots=True)
class BranchVia:
    """The branch of a row is that of the row of `table` whose `key` equals the row's branch column."""

    table: str
    key: str


@dataclass(frozen=True, slots=True)
class TableAccess:
    """A ClickHouse table or view of database `luckygas`: its family, how rows map to branches, personal columns.

    `branch_column` None and not `company_wide`: shared reference data. `branch_rows`: an SQL condition that
    selects the rows whose `branch_column` holds a branch code. `branch_via`: `branch_column` is a key of
    another (itself branch-scoped) table. `company_wide`: no branch dimension; branch-scoped roles never read it.
    """

    table: str
    family: str
    branch_column: str | None
    personal_columns: Mapping[str, MaskKind]
    branch_rows: str | None = None
    branch_via: BranchVia | None = None
    company_wide: bool = False


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """The whole model: roles, tables, and how source employee roles map to roles."""

    roles: Mapping[str, Role]
    tables: Mapping[str, TableAccess]
    employee_roles: Mapping[str, str]
    head_office_branch: str
    head_office_employee_roles: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    families: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    sensitive_families: frozenset[str] = frozenset()

    def role(self, name: str) -> Role:
        """The role called `name`; ValueError when there is none."""
        try:
            return self.roles[name]
        except KeyError:
            raise ValueError(f"unknown role {name!r}") from None

    def table(self, name: str) -> TableAccess:
        """The access entry of table `name`; ValueError when the policy does not list it (nobody reads it)."""
        try:
            return self.tables[name]
        except KeyError:
            raise ValueError(f"table {name!r} is not in the access policy") from None

    def readable(self, role: str) -> list[TableAccess]:
        """The tables `role` may read, by name: its families, minus company-wide tables for branch-scoped roles."""
        r = self.role(role)
        return [t for _, t in sorted(self.tables.items())
                if t.family in r.families and not (t.company_wide and r.branch_scope == "own")]

    def role_for_employee(self, code: str, branch_code: str) -> str | None:
        """The role of an employee with source role `code` at `branch_code`; None: no analytics access."""
        if branch_code == self.head_office_branch and code in self.head_office_employee_roles:
            return self.head_office_employee_roles[code]
        return self.employee_roles.get(code)

    def branch_condition(self, table: str, branches: frozenset[str] | None) -> tuple[str, dict[str, Any]]:
        """An SQL condition limiting `table` to `branches` (None: all branches) and its parameters.

        ("1", {}) when nothing needs limiting; `BranchScopeError` for a company-wide table and some branches.
        """
        access = self.table(table)
        if branches is None or (access.branch_column is None and not access.company_wide):
            return "1", {}
        if access.company_wide or access.branch_column is None:
            raise BranchScopeError(f"{table} holds company-wide figures; it cannot be limited to branches")
        return self._condition(access), {BRANCHES_PARAMETER: sorted(branches)}

    def _condition(self, access: TableAccess) -> str:
        column = f"`{access.branch_column}`"
        if access.branch_via is not None:
            via = self.tables[access.branch_via.table]
            inner = self._condition(via)
            return f"{column} IN (SELECT `{access.branch_via.key}` FROM `{via.table}` WHERE {inner})"
        condition = f"{column} IN {{{BRANCHES_PARAMETER}:Array(String)}}"
        return condition if access.branch_rows is None else f"({access.branch_rows} AND {condition})"


# ---------------------------------------------------------------- the YAML file


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _RoleEntry(_Strict):
    title_zh: str
    title_en: str
    branch_scope: Literal["all", "own"]
    families: list[str]
    masked: list[MaskKind]
    sensitive: bool
    money: Literal["all", "today_totals", "none"]
    inactive_customers: bool = False


class _Via(_Strict):
    table: str
    key: str


class _TableEntry(_Strict):
    family: str
    branch_column: str | None = None
    branch_rows: str | None = None
    branch_via: _Via | None = None
    company_wide: bool = False
    personal_columns: dict[str, MaskKind] = {}


class _PolicyFile(_Strict):
    head_office_branch: str
    families: dict[str, str]
    sensitive_families: list[str] = []
    roles: dict[str, _RoleEntry]
    employee_roles: dict[str, str]
    head_office_employee_roles: dict[str, str] = {}
    tables: dict[str, _TableEntry]


def load_policy(path: Path | None = None) -> AccessPolicy:
    """Read and validate the role model at `path` (default: roles.yaml beside this module)."""
    source = path or DEFAULT_POLICY_FILE
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
        parsed = _PolicyFile.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
        raise ValueError(f"{source}: {problems}") from None
    except yaml.YAMLError as error:
        raise ValueError(f"{source}: not valid YAML ({error})") from None
    policy = _build(parsed)
    _check(policy, source)
    return policy


def _build(parsed: _PolicyFile) -> AccessPolicy:
    roles = {name: Role(name, r.title_zh, r.title_en, r.branch_scope, frozenset(r.families), frozenset(r.masked),
                        r.sensitive, r.money, r.inactive_customers) for name, r in parsed.roles.items()}
    tables = {name: TableAccess(name, t.family, t.branch_column, MappingProxyType(dict(t.personal_columns)),
                                t.branch_rows, None if t.branch_via is None else BranchVia(t.branch_via.table,
                                                                                           t.branch_via.key),
                                t.company_wide)
              for name, t in parsed.tables.items()}
    return AccessPolicy(MappingProxyType(roles), MappingProxyType(tables), MappingProxyType(parsed.employee_roles),
                        parsed.head_office_branch, MappingProxyType(parsed.head_office_employee_roles),
                        MappingProxyType(parsed.families), frozenset(parsed.sensitive_families))


def _check(policy: AccessPolicy, source: Path) -> None:
    problems = [*_family_problems(policy), *_role_problems(policy), *_table_problems(policy)]
    if not _BRANCH_CODE.match(policy.head_office_branch):
        problems.append(f"head_office_branch {policy.head_office_branch!r} is not a branch code like 'TPE'")
    if problems:
        raise ValueError(f"{source}: " + "; ".join(problems))


def _family_problems(policy: AccessPolicy) -> list[str]:
    known = set(policy.families)
    used = [(f"role {r.name}", f) for r in policy.roles.values() for f in sorted(r.families)]
    used += [(f"table {t.table}", t.family) for t in policy.tables.values()]
    used += [("sensitive_families", f) for f in sorted(policy.sensitive_families)]
    return [f"{where}: unknown family {family!r}" for where, family in used if family not in known]


def _role_problems(policy: AccessPolicy) -> list[str]:
    mappings = [("employee_roles", policy.employee_roles), ("head_office_employee_roles",
                                                            policy.head_office_employee_roles)]
    return [f"{where}.{code}: unknown role {role!r}" for where, mapping in mappings
            for code, role in mapping.items() if role not in policy.roles]


def _table_problems(policy: AccessPolicy) -> list[str]:
    problems = []
    for t in policy.tables.values():
        names = [t.table, *([t.branch_column] if t.branch_column else []), *t.personal_columns]
        problems += [f"table {t.table}: {n!r} is not an identifier" for n in names if not _IDENTIFIER.match(n)]
        if t.company_wide and (t.branch_column or t.branch_via or t.branch_rows):
            problems.append(f"table {t.table}: company_wide cannot have a branch column")
        if t.branch_column is None and (t.branch_via or t.branch_rows):
            problems.append(f"table {t.table}: branch_via/branch_rows need a branch_column")
        problems += _via_problems(policy, t)
    return problems


def _via_problems(policy: AccessPolicy, table: TableAccess) -> list[str]:
    seen = {table.table}
    current = table
    while current.branch_via is not None:
        via = current.branch_via
        target = policy.tables.get(via.table)
        if target is None:
            return [f"table {table.table}: branch_via names unknown table {via.table!r}"]
        if not _IDENTIFIER.match(via.key):
            return [f"table {table.table}: branch_via key {via.key!r} is not an identifier"]
        if target.table in seen:
            return [f"table {table.table}: branch_via goes round in a circle"]
        if target.branch_column is None:
            return [f"table {table.table}: branch_via table {via.table!r} is not branch-scoped"]
        seen.add(target.table)
        current = target
    return []
