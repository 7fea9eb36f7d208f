"""Render an AccessPlan (infra/clickhouse/access.py): the users file of our chdb-core server, the SQL of a real
ClickHouse server (CREATE ROLE/USER/ROW POLICY/GRANT), and the views of the BI database both need.

Contract: pure functions of the plan (no I/O); the same plan gives byte-identical output, so a caller can
compare a rendering with what a server runs to decide whether to re-provision. Masks: infra/clickhouse/mask_sql.py.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import SecretStr

from infra.clickhouse.bi_settings import LOOPBACK
from infra.clickhouse.mask_sql import mask_sql

if TYPE_CHECKING:
    from infra.clickhouse.bi_settings import BiAccessSettings, BiUser

PROFILE = "bi_readonly"
QUOTA = "bi_hourly"


def sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def masked_view_name(table: str) -> str:
    return f"{table}_masked"


@dataclass(frozen=True, slots=True)
class PublishedView:
    """A view in the BI database over `source` in the analytics database; `masks`: column -> kind. `columns`
    (name, type, comment) and `comment` document it in the BI database (the report views of
    api/reports/bi_views.py); empty: the source's columns, undocumented."""

    name: str
    source: str
    masks: Mapping[str, str]
    columns: tuple[tuple[str, str, str], ...] = ()
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class ViewGrant:
    """SELECT on one published view: every column less `revoked`, or only `columns`; rows where `row_filter`
    holds (None: every row)."""

    view: str
    revoked: tuple[str, ...] = ()
    columns: tuple[str, ...] | None = None
    row_filter: str | None = None


@dataclass(frozen=True, slots=True)
class UserPlan:
    user: BiUser
    grants: tuple[ViewGrant, ...]


@dataclass(frozen=True, slots=True)
class AccessPlan:
    """Everything direct access consists of, independent of how a server is told."""

    source_database: str
    bi: BiAccessSettings
    views: tuple[PublishedView, ...]
    users: tuple[UserPlan, ...]


def view_statements(plan: AccessPlan) -> list[str]:
    """Idempotent DDL: the BI database, then every published view (CREATE OR REPLACE), in `plan.views` order."""
    db, src, definer = plan.bi.database, plan.source_database, plan.bi.definer
    statements = [f"CREATE DATABASE IF NOT EXISTS `{db}`"]
    for view in plan.views:
        replace = ", ".join(f"{mask_sql(kind, col)} AS `{col}`" for col, kind in view.masks.items())
        columns = f"* REPLACE ({replace})" if replace else "*"
        described = ", ".join(f"`{c}` {kind} COMMENT {sql_string(text)}" for c, kind, text in view.columns)
        listed = f" ({described})" if described else ""
        comment = f" COMMENT {sql_string(view.comment)}" if view.comment else ""
        statements.append(f"CREATE OR REPLACE VIEW `{db}`.`{view.name}`{listed} DEFINER = `{definer}` SQL SECURITY "
                          f"DEFINER AS SELECT {columns} FROM `{src}`.`{view.source}`{comment}")
    return statements


def _columns(names: tuple[str, ...]) -> str:
    return ", ".join(f"`{c}`" for c in names)


def grant_queries(plan: AccessPlan, user: UserPlan) -> list[str]:
    """GRANT/REVOKE statements without grantee (users.xml `<grants>` form)."""
    db = plan.bi.database
    queries = [f"GRANT SHOW DATABASES ON `{db}`.*"]
    for grant in user.grants:
        target = f"`{db}`.`{grant.view}`"
        if grant.columns is not None:
            queries.append(f"GRANT SELECT({_columns(grant.columns)}) ON {target}")
            continue
        queries.append(f"GRANT SELECT ON {target}")
        if grant.revoked:
            queries.append(f"REVOKE SELECT({_columns(grant.revoked)}) ON {target}")
    return queries


# Settings a BI login may not change (readonly = 2 lets it change the others): its queries are always logged
# whole (the audit trail), results never come from or go to a cache another login could share, an oversized
# result is an error rather than silently cut.
PINNED: dict[str, str] = {
    "log_queries": "1", "log_queries_min_type": "QUERY_START", "log_queries_min_query_duration_ms": "0",
    "log_queries_probability": "1", "use_query_cache": "0", "query_cache_share_between_users": "0",
    "result_overflow_mode": "throw",
}

# How everyone (the API, `make verify`, BI logins) reads our versioned tables. ClickHouse 26.3+ no longer prunes
# partitions by a predicate under FINAL when the partition key is not in the sorting key (ClickHouse issue
# #104263), so a month of invoices read all of them. Pruning is exact here: ReplacingMergeTree deduplicates only
# within a partition, and the engine writes a deletion of a row's old image into its old month partition when an
# update moves it (agents/engine.py), so every partition alone answers FINAL correctly for its own rows. For the
# same reason FINAL need not merge across partitions: each month is deduplicated alone (and a merged month, one
# part, not at all), which took a customer's payments under FINAL from 41 to 11 ms at one year.
READ_SETTINGS: dict[str, str] = {"defer_partition_pruning_after_final": "0",
                                 "do_not_merge_across_partitions_select_final": "1"}


def _limits(bi: BiAccessSettings) -> dict[str, int]:
    return {"max_execution_time": bi.max_execution_seconds, "max_result_rows": bi.max_result_rows,
            "max_memory_usage": bi.max_memory_bytes}


def quota_name(user: BiUser) -> str:
    """`bi_hourly`, shared (each user counted apart), or `bi_hourly_<user>` for a user with its own limit."""
    return QUOTA if user.queries_per_hour is None else f"{QUOTA}_{user.name}"


def _quotas(plan: AccessPlan) -> dict[str, int]:
    quotas = {QUOTA: plan.bi.queries_per_hour}
    quotas.update({quota_name(u.user): u.user.queries_per_hour for u in plan.users if u.user.queries_per_hour})
    return quotas


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = text
    return element


def render_users_xml(plan: AccessPlan) -> str:
    """The users file of our server: `default` (passwordless, loopback, unrestricted) and every BI user."""
    bi = plan.bi
    root = ET.Element("clickhouse")
    profiles = _sub(root, "profiles")
    default_profile = _sub(profiles, "default")
    profile = _sub(profiles, PROFILE)
    _sub(profile, "readonly", "2")
    for name, text in READ_SETTINGS.items():
        _sub(default_profile, name, text)
        _sub(profile, name, text)
    constraints = ET.Element("constraints")
    for name, value in _limits(bi).items():
        _sub(profile, name, str(value))
        _sub(_sub(constraints, name), "max", str(value))
    for name, text in PINNED.items():
        _sub(profile, name, text)
        _sub(_sub(constraints, name), "readonly")
    profile.append(constraints)
    quotas = _sub(root, "quotas")
    _sub(quotas, "default")
    for name, queries in _quotas(plan).items():
        interval = _sub(_sub(quotas, name), "interval")
        for tag, value in (("duration", 3600), ("queries", queries), ("result_rows", bi.result_rows_per_hour),
                           ("execution_time", bi.execution_seconds_per_hour)):
            _sub(interval, tag, str(value))
    users = _sub(root, "users")
    default = _sub(users, "default")
    _sub(default, "password", "")
    networks = _sub(default, "networks")
    for ip in LOOPBACK:
        _sub(networks, "ip", ip)
    _sub(default, "profile", "default")
    _sub(default, "quota", "default")
    for user in plan.users:
        users.append(_user_element(plan, user))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


def _user_element(plan: AccessPlan, user: UserPlan) -> ET.Element:
    element = ET.Element(user.user.name)
    _sub(element, "password_sha256_hex", password_sha256(user.user.password))
    networks = _sub(element, "networks")
    for ip in user.user.networks:
        _sub(networks, "ip", ip)
    _sub(element, "profile", PROFILE)
    _sub(element, "quota", quota_name(user.user))
    _sub(element, "default_database", plan.bi.database)
    grants = _sub(element, "grants")
    # Always present: a users.xml user without <grants> may read everything. SHOW on its database at least.
    for query in grant_queries(plan, user):
        _sub(grants, "query", query)
    filtered = [g for g in user.grants if g.row_filter is not None]
    if filtered:
        database = _sub(_sub(element, "databases"), plan.bi.database)
        for grant in filtered:
            _sub(_sub(database, grant.view), "filter", grant.row_filter)
    return element


def password_sha256(password: SecretStr) -> str:
    return hashlib.sha256(password.get_secret_value().encode()).hexdigest()


def render_sql(plan: AccessPlan) -> str:
    """The same access for a real ClickHouse server (SQL-driven access control), idempotent. Set
    `access_control_improvements.users_without_row_policies_can_read_rows: false` there, so a user no row
    policy names reads no rows of a filtered view (every BI user is named: every row is `USING 1`), and give
    the profile the API and the streaming worker use the `READ_SETTINGS` too."""
    bi, db = plan.bi, plan.bi.database
    out = [f"{s};" for s in view_statements(plan)]
    limits = ", ".join(f"{k} = {v} MAX {v}" for k, v in _limits(bi).items())
    pinned = ", ".join(f"{k} = {v if v.isdigit() else sql_string(v)} CONST" for k, v in PINNED.items())
    reads = ", ".join(f"{k} = {v}" for k, v in READ_SETTINGS.items())
    out.append(f"CREATE SETTINGS PROFILE OR REPLACE {PROFILE} SETTINGS readonly = 2, {limits}, {pinned}, {reads};")
    for quota, queries in _quotas(plan).items():
        names = ", ".join(u.user.name for u in plan.users if quota_name(u.user) == quota) or "NONE"
        out.append(f"CREATE QUOTA OR REPLACE {quota} KEYED BY user_name FOR INTERVAL 1 HOUR MAX queries = "
                   f"{queries}, result_rows = {bi.result_rows_per_hour}, execution_time = "
                   f"{bi.execution_seconds_per_hour} TO {names};")
    for role, members in _roles(plan).items():
        out.append(f"CREATE ROLE OR REPLACE {role};")
        out += [f"{q} {'FROM' if q.startswith('REVOKE') else 'TO'} {role};" for q in grant_queries(plan, members[0])]
        for member in members:
            u = member.user
            hosts = ", ".join(f"IP {sql_string(ip)}" for ip in u.networks)
            out += [f"CREATE USER OR REPLACE {u.name} IDENTIFIED WITH sha256_hash BY "
                    f"{sql_string(password_sha256(u.password))} HOST {hosts} DEFAULT ROLE NONE "
                    f"DEFAULT DATABASE `{db}` SETTINGS PROFILE {PROFILE};",
                    f"GRANT {role} TO {u.name};", f"SET DEFAULT ROLE {role} TO {u.name};"]
    for user in plan.users:
        for grant in user.grants:
            out.append(f"CREATE ROW POLICY OR REPLACE {user.user.name} ON `{db}`.`{grant.view}` "
                       f"USING {grant.row_filter or '1'} AS PERMISSIVE TO {user.user.name};")
    return "\n".join(out) + "\n"


def _roles(plan: AccessPlan) -> dict[str, list[UserPlan]]:
    """Users by SQL role: one role per policy role and set of grants (`bi_role_<role>`, then `_2`, `_3` …)."""
    by_grants: dict[tuple[str, tuple[str, ...]], list[UserPlan]] = {}
    for user in plan.users:
        by_grants.setdefault((user.user.role, tuple(grant_queries(plan, user))), []).append(user)
    roles: dict[str, list[UserPlan]] = {}
    for (role, _), members in by_grants.items():
        name = f"bi_role_{role}"
        n = 2
        while name in roles:
            name, n = f"bi_role_{role}_{n}", n + 1
        roles[name] = members
    return roles
