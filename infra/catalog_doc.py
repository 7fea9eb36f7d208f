"""The README's report catalog, generated from the definitions so it never drifts from them.

    python -m infra.catalog_doc          # rewrite the section between the catalog markers in README.md

Contract: `catalog_markdown()` is one table per group (id, title zh/en, what it answers, parameters, how it is
computed, formats) with an example call per report; `update_readme()` writes it between `START` and `END`.
A unit test fails when the README's section differs from what the definitions give.
"""

from __future__ import annotations

import re
from pathlib import Path

from api.reports.catalog import catalog
from api.reports.definition import GROUP_TITLES, Param, Report
from infra.settings import PROJECT_ROOT

START, END = "<!-- catalog:start -->", "<!-- catalog:end -->"


def _param(p: Param) -> str:
    mark = "*" if p.required else ""
    kind = "|".join(p.choices) if p.choices else p.kind
    return f"`{p.name}`{mark} ({kind})"


def _example(report: Report) -> str:
    samples = {"date": "2026-11-20", "month": "2026-11", "int": "1", "text": "x", "branch": "TPE", "bool": "true"}
    query = "&".join(f"{p.name}={p.choices[0] if p.choices else samples[p.kind]}" for p in report.params
                     if p.required)
    fmt = "csv" if "csv" in report.formats else "json"
    return f"`GET /reports/{report.id}?{query + '&' if query else ''}format={fmt}`"


def catalog_markdown() -> str:
    lines: list[str] = []
    reports = list(catalog().values())
    for group, (zh, en) in GROUP_TITLES.items():
        members = [r for r in reports if r.group == group]
        if not members:
            continue
        lines += [f"**{group} {zh} / {en}**", "",
                  "| id | title | answers | parameters (* required) | computed | formats | example |",
                  "|---|---|---|---|---|---|---|"]
        for r in members:
            params = ", ".join(_param(p) for p in r.params) or "—"
            lines.append(f"| `{r.id}` | {r.title_zh} / {r.title_en} | {r.answers} | {params} | "
                         f"{r.source.replace('_', ' ')} | {', '.join(r.formats)} | {_example(r)} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def update_readme(readme: Path = PROJECT_ROOT / "README.md") -> bool:
    """Rewrite the catalog section; True when the file changed."""
    text = readme.read_text(encoding="utf-8")
    block = f"{START}\n{catalog_markdown()}{END}"
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    new = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    print("README.md updated" if update_readme() else "README.md already current")
