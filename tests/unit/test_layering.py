"""Dependencies flow one way: schemas < streams < agents < sinks < api; a lower layer never imports a higher one.

Every module under schemas/ streams/ agents/ sinks/ is parsed (not imported) and each of its imports checked:
the standard library, third-party packages, its own or a lower layer, and infra.settings / infra.clock /
infra.status (underneath everything) are fine. Anything else — a higher layer, or a first-party package
outside the order (the rest of infra/, connectors/) — must be listed in ALLOWED with the reason it is
tolerated; a listed import that no longer exists must leave the list.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("schemas", "streams", "agents", "sinks", "api")
SCANNED = ("schemas", "streams", "agents", "sinks")
FIRST_PARTY = frozenset({*LAYERS, "infra", "connectors"})
SHARED = ("infra.settings", "infra.clock", "infra.status")

# Imports that break the order today, (importing module, imported module) -> why it is tolerated for now.
# Found when this test was written; shrink the list, never grow it without a reason.
ALLOWED: dict[tuple[str, str], str] = {
    # The topic names are derived from the captured-table list, which lives with the PostgreSQL setup.
    ("streams.topics", "infra.postgres.tables"): "captured tables are defined by the database setup",
    # The agents write through the sink interface: agents < sinks in the order, but the sink interface (and
    # its Row type) is what the pipeline, recovery and bank landing are written against. Moving the interface
    # below agents (or agents above sinks) is a larger change than this one.
    ("agents.pipeline", "sinks.base"): "pipeline writes through the Sink interface",
    ("agents.bank_rows", "sinks.base"): "bank rows are sink Rows",
    ("agents.recovery", "sinks.base"): "recovery reads positions and freshness back through the Sink interface",
    ("agents.bank_landing", "sinks.base"): "bank landing writes through the Sink interface",
    # The worker entry points wire everything together: composition roots, not layer code.
    ("agents.worker", "sinks.clickhouse"): "composition root: builds the ClickHouse sink",
    ("agents.worker", "infra.clickhouse.runner"): "composition root: ClickHouse client from settings",
    ("agents.recovery", "sinks.clickhouse"): "recovery reads the ClickHouse sink back (query_rows)",
    ("agents.bank_landing", "sinks.clickhouse"): "composition root of the bank landing worker",
    ("agents.bank_landing", "sinks.bank_tables"): "the bank landing creates its tables",
    ("agents.bank_landing", "infra.clickhouse.runner"): "composition root: ClickHouse client from settings",
    # The bank landing agent consumes what the bank connector parses and reconciles.
    ("agents.bank_landing", "connectors.bank.book_payments"): "bank connector: the book's payments",
    ("agents.bank_landing", "connectors.bank.publish"): "bank connector: its topics",
    ("agents.bank_landing", "connectors.bank.reconcile"): "bank connector: reconciliation",
    ("agents.bank_landing", "connectors.bank.statement"): "bank connector: the statement model",
    ("agents.bank_rows", "connectors.bank.book_payments"): "bank connector: the book's payments",
    ("agents.bank_rows", "connectors.bank.reconcile"): "bank connector: reconciliation",
    ("agents.bank_rows", "connectors.bank.statement"): "bank connector: the statement model",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(base: str, name: str) -> str:
    """`from base import name`: base.name if that is a module of ours, else base."""
    candidate = ROOT.joinpath(*base.split("."), name)
    return f"{base}.{name}" if candidate.with_suffix(".py").is_file() or candidate.is_dir() else base


def _targets(module: str, path: Path, node: ast.AST) -> list[str]:
    """The modules an import statement reaches (`from infra import clock` reaches infra.clock)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        anchor = package[: len(package) - node.level + 1]
        base = ".".join([*anchor, base] if base else anchor)
    return sorted({_resolve(base, alias.name) for alias in node.names})


def _broken(importer: str, target: str) -> bool:
    top = target.split(".", 1)[0]
    if top not in FIRST_PARTY or any(target == s or target.startswith(s + ".") for s in SHARED):
        return False
    layer = importer.split(".", 1)[0]
    return top not in LAYERS or LAYERS.index(top) > LAYERS.index(layer)


def cross_layer_imports() -> dict[tuple[str, str], list[str]]:
    """(importer, imported module) -> where (path:line), for every import that breaks the order."""
    found: dict[tuple[str, str], list[str]] = {}
    for package in SCANNED:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = _module_name(path)
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                for target in _targets(module, path, node):
                    if _broken(module, target):
                        found.setdefault((module, target), []).append(
                            f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}")
    return found


def test_no_lower_layer_imports_a_higher_one() -> None:
    new = {key: where for key, where in cross_layer_imports().items() if key not in ALLOWED}
    assert not new, "imports against the layer order (schemas < streams < agents < sinks < api):\n" + "\n".join(
        f"  {importer} imports {imported} at {', '.join(where)}" for (importer, imported), where in sorted(new.items()))


def test_the_allow_list_has_no_stale_entries() -> None:
    stale = sorted(set(ALLOWED) - set(cross_layer_imports()))
    assert not stale, f"these allowed imports no longer exist, remove them from ALLOWED: {stale}"


def test_sinks_and_schemas_stay_below_agents() -> None:
    # The point of moving FAMILIES/current_table to schemas/outputs.py: no exception may ever creep in here.
    assert not [key for key in ALLOWED if key[0].split(".")[0] in ("schemas", "sinks")]


def test_the_scanner_sees_imports() -> None:
    assert _broken("schemas.decode", "agents.engine")
    assert _broken("sinks.ddl", "api.app")
    assert _broken("schemas.decode", "connectors.bank.statement")
    assert _broken("agents.engine", "infra.process")  # first-party outside the order: must be listed
    assert not _broken("agents.engine", "schemas.outputs")
    assert not _broken("schemas.decode", "infra.clock")
    assert not _broken("sinks.ddl", "pydantic")
    node = ast.parse("from . import Family\nfrom ..tables import w100\nfrom infra import clock").body
    path = ROOT / "schemas" / "tables" / "w100.py"
    assert _targets("schemas.tables.w100", path, node[0]) == ["schemas.tables"]
    assert _targets("schemas.tables.w100", path, node[1]) == ["schemas.tables.w100"]
    assert _targets("schemas.tables.w100", path, node[2]) == ["infra.clock"]
