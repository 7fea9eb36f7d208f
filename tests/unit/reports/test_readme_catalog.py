"""The README's catalog section is what the definitions say (regenerate: python -m infra.catalog_doc)."""

from __future__ import annotations

from infra.catalog_doc import END, START, catalog_markdown
from infra.settings import PROJECT_ROOT


def test_the_readme_lists_the_catalog_as_defined() -> None:
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert START in text and END in text, "run python -m infra.catalog_doc"
    section = text.split(START, 1)[1].split(END, 1)[0]
    assert section == "\n" + catalog_markdown(), "the README's catalog is stale: run python -m infra.catalog_doc"
