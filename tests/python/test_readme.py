"""The README's layout table names the tree as it is: every package and top-level module of `api/`
and `ledger/`, and every top-level folder it lists exists; the documentation it links exists."""

from __future__ import annotations

import re

from ledger.paths import ROOT

README = (ROOT / "README.md").read_text()


def _layout_paths() -> set[str]:
    section = README.partition("## Layout")[2].partition("\n## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {p for row in rows for p in re.findall(r"`([^`]+)`", row.split(" | ")[0])}


def _tree() -> set[str]:
    found = set()
    for top in ("api", "ledger"):
        for child in (ROOT / top).iterdir():
            if child.is_dir() and (any(child.glob("*.py")) or child.name.endswith("_static")):
                found.add(f"{top}/{child.name}/")
            elif child.suffix == ".py":
                found.add(f"{top}/{child.name}")
    return found


def test_the_layout_table_names_every_package_and_module():
    missing = _tree() - _layout_paths()
    assert not missing, f"add to the README's Layout table: {sorted(missing)}"


def test_everything_the_layout_table_names_exists():
    gone = sorted(p for p in _layout_paths() if not (ROOT / p.rstrip("/")).exists())
    assert not gone, f"the README's Layout table names what is not there: {gone}"


def test_the_documentation_links_resolve():
    links = re.findall(r"\]\((docs/[^)]+)\)", README)
    assert links and not [link for link in links if not (ROOT / link).is_file()]
    assert len(README.splitlines()) <= 160, "the README is what a newcomer reads first: keep the rest in docs/"
