"""Write benchmark results: a JSON file under the state directory and a table between markers in README."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from infra.settings import PROJECT_ROOT

START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n")


def markdown_table(rows: list[tuple[str, str]], title: str) -> str:
    lines = [f"_{title}_", "", "| measure | result |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


def update_readme(section: str, table: str, readme: Path = PROJECT_ROOT / "README.md") -> None:
    """Replace (or append) the named section between the bench markers, keeping other sections."""
    text = readme.read_text()
    start, end = f"{START[:-4]}:{section} -->", f"{END[:-4]}:{section} -->"
    block = f"{start}\n{table}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    readme.write_text(text)
