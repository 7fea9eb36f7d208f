"""The report catalog's views for BI tools (api/reports/bi_views.py) on a ClickHouse server, and in the README.

    python -m infra.clickhouse.report_views sql      # print the DDL
    python -m infra.clickhouse.report_views create   # create them on the configured server (idempotent)
    python -m infra.clickhouse.report_views readme   # rewrite the README's list of them

Contract: `create_report_views(client, database)` creates, in the analytics database, every report view whose
tables all exist there and the labels view `report_view_columns`, drops `report_*` views no longer defined, and
returns (created, missing tables). `infra.clickhouse.access.provision_views` calls it before it publishes the
BI database, so the report views reach the BI users like every table of roles.yaml (row filter on their branch
column, `_masked` variants). A statement the server refuses is a StackError naming the view.
`views_markdown()` is the README's table of them, kept between `START` and `END` (a unit test compares).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from api.access.policy import AccessPolicy, load_policy
from api.reports.bi_views import (
    BI_VIEWS,
    LABELS_VIEW,
    PREFIX,
    bi_view,
    column_comment,
    column_type,
    create_statement,
    describe_value,
    labels_statement,
    view_comment,
    view_query,
)
from infra.clickhouse.runner import get_client
from infra.process import StackError
from infra.settings import PROJECT_ROOT, get_settings

START, END = "<!-- bi-views:start -->", "<!-- bi-views:end -->"


def statements(database: str, policy: AccessPolicy | None = None) -> list[tuple[str, tuple[str, ...], str]]:
    """(view, tables it reads, DDL) for every report view, then the labels view."""
    policy = policy if policy is not None else load_policy()
    out = [(v.name, view_query(v, database, policy)[1], create_statement(v, database, policy)) for v in BI_VIEWS]
    return [*out, (LABELS_VIEW, (), labels_statement(database))]


def create_report_views(client: Client, database: str,
                        policy: AccessPolicy | None = None) -> tuple[list[str], list[str]]:
    """Create the report views whose tables exist in `database`; (created, missing tables)."""
    existing = {row[0] for row in client.query("SELECT name FROM system.tables WHERE database = {db:String}",
                                               parameters={"db": database}).result_rows}
    created: list[str] = []
    missing: set[str] = set()
    for name, tables, statement in statements(database, policy):
        absent = [t for t in tables if t not in existing]
        if absent:
            missing.update(absent)
            continue
        try:
            client.command(statement)
        except ClickHouseError as error:
            raise StackError(f"ClickHouse refused report view {name}: {error}") from error
        created.append(name)
    planned = {v.name for v in BI_VIEWS} | {LABELS_VIEW}
    stale = client.query("SELECT name FROM system.tables WHERE database = {db:String} AND engine = 'View' "
                         "AND startsWith(name, {prefix:String})",
                         parameters={"db": database, "prefix": PREFIX}).result_rows
    for (name,) in stale:
        if name.startswith(PREFIX) and name not in planned:  # never anything but a report view
            client.command(f"DROP VIEW IF EXISTS `{database}`.`{name}`")
    return created, sorted(missing)


def report_view_columns(table: str) -> tuple[tuple[tuple[str, str, str], ...], str | None]:
    """((name, type, comment) of each column, the view's comment) of report view `table`, for its published view
    in the BI database (where BI tools read it); ((), None) for any other table."""
    try:
        view = bi_view(table)
    except KeyError:
        return (), None
    return tuple((c.name, column_type(c), column_comment(c)) for c in view.report.columns), view_comment(view)


def views_markdown(policy: AccessPolicy | None = None) -> str:
    """The README's table of the report views."""
    policy = policy if policy is not None else load_policy()
    lines = ["| view | family | made from (catalog report, parameters) | holds | rows limited by |",
             "|---|---|---|---|---|"]
    for view in BI_VIEWS:
        access = policy.table(view.name)
        if access.company_wide:
            scope = "company-wide: not for branch logins"
        elif access.branch_column:
            scope = f"`{access.branch_column}`"
        else:
            scope = "— (the same for everyone)"
        if access.personal_columns:
            scope += f"; `{view.name}_masked` masks {', '.join(f'`{c}`' for c in access.personal_columns)}"
        params = ", ".join(f"{k}={describe_value(v)}" for k, v in view.params.items())
        lines.append(f"| `{view.name}` | {view.family} | `{view.report_id}` ({params}) | {view.holds_en} | {scope} |")
    lines.append(f"| `{LABELS_VIEW}` | reference | every view's columns | view, report, family, position, column, "
                 "label_zh, label_en, unit, kind, type, personal (mask kind) | — |")
    return "\n".join(lines) + "\n"


def update_readme(readme: Path = PROJECT_ROOT / "README.md") -> bool:
    """Rewrite the table between the markers; True when the file changed. ValueError without the markers."""
    text = readme.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise ValueError(f"{readme} has no {START} … {END} section")
    new = pattern.sub(lambda _: f"{START}\n{views_markdown()}{END}", text)
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.clickhouse.report_views",
                                     description="the report catalog's views for BI tools")
    parser.add_argument("command", choices=["sql", "create", "readme"])
    args = parser.parse_args(argv)
    settings = get_settings()
    try:
        if args.command == "sql":
            print(";\n".join(s for _, _, s in statements(settings.clickhouse.database)) + ";")
        elif args.command == "readme":
            print("README.md updated" if update_readme() else "README.md already current")
        else:
            client = get_client(settings)
            try:
                created, missing = create_report_views(client, settings.clickhouse.database)
            finally:
                client.close()
            print(f"created {', '.join(created)}" + (f"; missing tables {', '.join(missing)}" if missing else ""))
    except (StackError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
