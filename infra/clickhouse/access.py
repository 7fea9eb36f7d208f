"""Direct ClickHouse access for BI tools and analysts, with the API's role model (api/access/roles.yaml).

One definition, two renderings: `build_plan(policy, bi, users, database)` turns the access policy and the BI
users into an `AccessPlan`; `render_users_xml(plan)` is the users file of our chdb-core server (which has no
SQL-driven access control), `render_sql(plan)` the same as CREATE ROLE/USER/ROW POLICY/GRANT for a real
ClickHouse server, and `view_statements(plan)` the views both need.

BI users read database `bi.database` ("luckygas_bi") only, never `luckygas` itself: a ClickHouse view reads
its source with the reader's rights, so every table of the policy a user's role reads is published there as
a view running with the rights of `bi.definer` (`SQL SECURITY DEFINER`), `<table>` with every column and,
for a table with personal columns, `<table>_masked` with those columns masked like api/access/masking.py.
Per user: SELECT on exactly those views, the personal columns its role sees masked revoked on `<table>`, on
each branch-carrying view a row filter that is the API's own `AccessPolicy.branch_condition` for its branches
(bound to literals, subqueries over the BI database's views; all branches: none), the profile `bi_readonly`
(readonly = 2: no write, no DDL; limits capped, query logging and the query cache pinned), the hourly quota
`bi_hourly` (each user counted apart) and its `<networks>`. `default` stays passwordless, bound to loopback.

`provision(settings)` applies it to the local server: it writes the users file and restarts the server when
the file differs from what the running server read at its start (`provision_users`), then creates the report
catalog's views in the analytics database (infra/clickhouse/report_views.py) and the BI views whose sources
exist (`provision_views`). StackError when the server does not come back.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from api.access.policy import AccessPolicy, BranchScopeError, TableAccess, load_policy
from infra.clickhouse.access_render import (
    AccessPlan,
    PublishedView,
    UserPlan,
    ViewGrant,
    masked_view_name,
    render_sql,
    render_users_xml,
    sql_string,
    view_statements,
)
from infra.clickhouse.bi_settings import LOCAL_USERS, BiAccessSettings, BiUser
from infra.clickhouse.mask_sql import mask_sql
from infra.clickhouse.report_views import create_report_views, report_view_columns
from infra.clickhouse.runner import (
    clickhouse_healthy,
    clickhouse_process,
    get_client,
    loaded_users_file,
    restart_clickhouse,
    users_config_file,
)
from infra.process import StackError
from infra.settings import StackSettings, get_settings

__all__ = ["LOCAL_USERS", "AccessPlan", "BiAccessSettings", "BiUser", "ProvisionReport", "bi_access_settings",
           "bi_logins", "bi_users", "build_plan", "current_plan", "local_passwords", "local_passwords_file", "main",
           "provision", "provision_users", "provision_views", "render_sql", "render_users_xml", "view_statements"]


def build_plan(policy: AccessPolicy, bi: BiAccessSettings, users: Sequence[BiUser],
               source_database: str) -> AccessPlan:
    """The plan for these users. ValueError naming the problem: an unknown role, a role whose money rule only
    the API enforces, an "own branches" role without branches, a duplicate user, an unknown mask kind."""
    if len({u.name for u in users}) != len(users):
        raise ValueError("BI user names must be unique")
    clash = sorted(t for t in policy.tables if masked_view_name(t) in policy.tables)
    if clash:
        raise ValueError(f"policy tables clash with the masked views of {clash}")
    views: dict[str, PublishedView] = {}
    plans = [UserPlan(user, tuple(_user_grants(policy, bi, user, views))) for user in users]
    return AccessPlan(source_database, bi, tuple(views.values()), tuple(plans))


def _user_grants(policy: AccessPolicy, bi: BiAccessSettings, user: BiUser,
                 views: dict[str, PublishedView]) -> list[ViewGrant]:
    role = policy.role(user.role)
    if role.money != "all":
        raise ValueError(f"BI user {user.name}: role {role.name} sees money only through the API")
    if role.branch_scope == "own" and not user.branches:
        raise ValueError(f"BI user {user.name}: role {role.name} needs its branches")
    branches = frozenset(user.branches) if user.branches is not None else None
    readable = {t.table for t in policy.readable(role.name)}
    grants: dict[str, ViewGrant] = {}
    for access in policy.readable(role.name):
        if access.family in policy.sensitive_families and not user.sensitive_without_mfa:
            continue
        try:
            row_filter = _row_filter(policy, access.table, branches, bi.database)
        except BranchScopeError:
            continue  # company-wide figures: not for a reader limited to branches
        hidden = tuple(sorted(c for c, kind in access.personal_columns.items() if kind in role.masked))
        documented = report_view_columns(access.table)
        views.setdefault(access.table, PublishedView(access.table, access.table, {}, *documented))
        grants[access.table] = ViewGrant(access.table, revoked=hidden, row_filter=row_filter)
        if hidden:
            for kind in access.personal_columns.values():
                mask_sql(kind, "probe")
            name = masked_view_name(access.table)
            views.setdefault(name, PublishedView(name, access.table, dict(access.personal_columns), *documented))
            grants[name] = ViewGrant(name, row_filter=row_filter)
        if row_filter is not None:
            _via_grants(policy, access, branches, bi.database, readable, views, grants)
    return list(grants.values())


def _via_grants(policy: AccessPolicy, access: TableAccess, branches: frozenset[str] | None, database: str,
                readable: set[str], views: dict[str, PublishedView], grants: dict[str, ViewGrant]) -> None:
    """A filter that finds the branch through another table (`branch_via`) reads that table's view: a reader
    whose role does not read it gets its key and branch columns only, filtered the same way."""
    current = access
    while current.branch_via is not None:
        target = policy.table(current.branch_via.table)
        if target.table not in readable and target.table not in grants:
            columns = tuple(dict.fromkeys(c for c in (current.branch_via.key, target.branch_column) if c))
            views.setdefault(target.table, PublishedView(target.table, target.table, {}))
            grants[target.table] = ViewGrant(target.table, columns=columns,
                                             row_filter=_row_filter(policy, target.table, branches, database))
        current = target


_FROM_TABLE = re.compile(r"\bFROM `([A-Za-z_][A-Za-z0-9_]*)`")
_PARAMETER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*):Array\(String\)\}")


def _row_filter(policy: AccessPolicy, table: str, branches: frozenset[str] | None, database: str) -> str | None:
    """The policy's branch condition for `table` as literal SQL over the BI database's views (a users.xml
    filter takes no parameters); None: every row. BranchScopeError for company-wide figures and branches."""
    condition, parameters = policy.branch_condition(table, branches)
    if condition == "1" and not parameters:
        return None

    def literal(match: re.Match[str]) -> str:
        values = parameters[match.group(1)]
        return "(" + ", ".join(sql_string(str(v)) for v in values) + ")" if values else "(NULL)"

    condition = _PARAMETER.sub(literal, condition)
    if "{" in condition:
        raise ValueError(f"branch condition of {table} has a parameter the BI filter cannot bind: {condition}")
    return _FROM_TABLE.sub(lambda m: f"FROM `{database}`.`{m.group(1)}`", condition)


def bi_access_settings(settings: StackSettings, bi: BiAccessSettings | None = None) -> BiAccessSettings:
    """`bi` if given, else `settings.bi_access` (StackSettings' field), else the defaults."""
    if bi is not None:
        return bi
    value = getattr(settings, "bi_access", None)
    return value if isinstance(value, BiAccessSettings) else BiAccessSettings()


def local_passwords_file(settings: StackSettings) -> Path:
    return settings.state_dir / "clickhouse" / "bi-passwords.json"


def local_passwords(settings: StackSettings, names: Sequence[str]) -> dict[str, SecretStr]:
    """The local demo users' passwords: generated once (`secrets`), kept in the state directory (mode 0600)."""
    path = local_passwords_file(settings)
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = [name for name in names if name not in known]
    if missing:
        known.update({name: secrets.token_urlsafe(18) for name in missing})
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(known, indent=2) + "\n")
        temporary.chmod(0o600)
        os.replace(temporary, path)
    return {name: SecretStr(known[name]) for name in names}


def bi_users(settings: StackSettings, bi: BiAccessSettings | None = None) -> list[BiUser]:
    """The configured BI users, or the local demo users (LOCAL_USERS) with their generated passwords."""
    bi = bi_access_settings(settings, bi)
    if bi.users is not None:
        return list(bi.users)
    passwords = local_passwords(settings, [name for name, _, _ in LOCAL_USERS])
    return [BiUser(name=name, password=passwords[name], role=role, branches=branches)
            for name, role, branches in LOCAL_USERS]


def bi_logins(settings: StackSettings, bi: BiAccessSettings | None = None) -> list[str]:
    """One line per BI user for `make run`: where and how to connect, with the password (local stack)."""
    ch, bi = settings.clickhouse, bi_access_settings(settings, bi)
    lines = []
    for user in bi_users(settings, bi):
        scope = "all branches" if user.branches is None else "branches " + ",".join(user.branches)
        lines.append(f"{user.name} / {user.password.get_secret_value()}  ({user.role}, {scope}) "
                     f"HTTP {ch.http_url()} native {ch.host}:{ch.tcp_port} database {bi.database}")
    return lines


def current_plan(settings: StackSettings, policy: AccessPolicy | None = None,
                 bi: BiAccessSettings | None = None) -> AccessPlan:
    """The plan for these settings and the access policy (default: api/access/roles.yaml)."""
    policy = policy if policy is not None else load_policy()
    bi = bi_access_settings(settings, bi)
    return build_plan(policy, bi, bi_users(settings, bi), settings.clickhouse.database)


@dataclass(frozen=True, slots=True)
class ProvisionReport:
    """What `provision` did: the users file, whether the server restarted (and how long it took), the views
    created, and the policy tables that do not exist yet (their views follow at the next provision)."""

    users_file: Path
    restarted: bool
    restart_seconds: float
    views: tuple[str, ...]
    missing_sources: tuple[str, ...]


def provision_users(settings: StackSettings, plan: AccessPlan) -> float | None:
    """Write the users file; restart the running local server when what it read at start differs.
    The seconds the restart took, or None when none was needed."""
    rendered = render_users_xml(plan)
    target = users_config_file(settings)
    if not target.exists() or target.read_text() != rendered:
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_suffix(".tmp")
        temporary.write_text(rendered)
        temporary.chmod(0o600)
        os.replace(temporary, target)
    loaded = loaded_users_file(settings)
    running = clickhouse_process(settings).running()
    if not running or (loaded.exists() and loaded.read_text() == rendered):
        return None
    return restart_clickhouse(settings)


def provision_views(settings: StackSettings, plan: AccessPlan) -> tuple[list[str], list[str]]:
    """Create the BI database and every view whose source exists; drop views no longer planned.
    (created, missing sources). StackError when the server does not answer."""
    if not clickhouse_healthy(settings):
        raise StackError(f"ClickHouse does not answer at {settings.clickhouse.http_url()}: start it first")
    client = get_client(settings, database="default")
    try:
        # The report catalog's views first (api/reports/bi_views.py): they are policy tables like the others.
        _, missing_reports = create_report_views(client, plan.source_database)
        existing = {row[0] for row in client.query(
            "SELECT name FROM system.tables WHERE database = {db:String}",
            parameters={"db": plan.source_database}).result_rows}
        statements = view_statements(plan)
        client.command(statements[0])
        created, missing = [], []
        for view, statement in zip(plan.views, statements[1:], strict=True):
            if view.source in existing:
                client.command(statement)
                created.append(view.name)
            else:
                missing.append(view.source)
        stale = client.query("SELECT name FROM system.tables WHERE database = {db:String} AND engine = 'View'",
                             parameters={"db": plan.bi.database}).result_rows
        for (name,) in stale:
            if name not in {v.name for v in plan.views}:
                client.command(f"DROP VIEW IF EXISTS `{plan.bi.database}`.`{name}`")
    finally:
        client.close()
    return created, sorted(set(missing) | set(missing_reports))


def provision(settings: StackSettings, policy: AccessPolicy | None = None,
              bi: BiAccessSettings | None = None) -> ProvisionReport:
    """Apply direct access to the running local server (users file, restart if it changed, views). Idempotent:
    a second call with unchanged inputs neither writes nor restarts. StackError if the server does not answer
    or does not come back; ValueError (naming it) for a plan that cannot be honoured."""
    plan = current_plan(settings, policy, bi)
    seconds = provision_users(settings, plan)
    created, missing = provision_views(settings, plan)
    return ProvisionReport(users_config_file(settings), seconds is not None, seconds or 0.0,
                           tuple(created), tuple(missing))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.clickhouse.access",
                                     description="direct ClickHouse access for BI tools")
    parser.add_argument("command", choices=["sql", "users-xml", "logins", "provision"],
                        help="print the SQL for a real server / our users file / the logins; or provision")
    args = parser.parse_args(argv)
    settings = get_settings()
    try:
        if args.command == "logins":
            print("\n".join(bi_logins(settings)))
        elif args.command == "provision":
            print(provision(settings))
        else:
            plan = current_plan(settings)
            print(render_sql(plan) if args.command == "sql" else render_users_xml(plan), end="")
    except (StackError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
