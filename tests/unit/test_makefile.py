"""The Makefile's targets: each documented target is defined once and runs what its help line says."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

EXPECTED = {
    "catch-up": "infra.catchup follow",
    "rebuild": "infra.catchup rebuild",
    "verify": "infra.verify",
    "audit-verify": "api.access.audit_verify",
    "bank-pull": "infra.stack bank-pull",
}


def _targets() -> list[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return re.findall(r"^([a-z][a-z-]*):", text, flags=re.MULTILINE)


def test_every_target_is_defined_once() -> None:
    targets = _targets()
    assert sorted({t for t in targets if targets.count(t) > 1}) == []


def test_phony_targets_are_all_defined() -> None:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    phony = re.search(r"^\.PHONY:(.*)$", text, flags=re.MULTILINE)
    assert phony is not None
    assert sorted(set(phony.group(1).split()) - set(_targets())) == []


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize(("target", "command"), sorted(EXPECTED.items()))
def test_target_runs_its_command(target: str, command: str) -> None:
    done = subprocess.run(
        ["make", "-n", "--no-print-directory", target],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr, done.stderr
    assert command in done.stdout
