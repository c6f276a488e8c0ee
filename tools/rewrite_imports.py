"""Rewrite the project's imports after files moved: `python tools/rewrite_imports.py MOVES DIR...`
rewrites, in every .py file under each DIR, the imports of a moved module (`from .errors import`,
`from api.routers import epcis`, `from ledger.chain.node import ...`) to its new place, keeping
relative imports relative inside `api/`. MOVES lists `old/path.py new/path.py`, one pair a line
(tools/moves-issue26.txt: the issue-26 moves, for files written against the old layout).
Run it on a tree whose files are already at their new paths, and only on files that still
import the old layout (a moved file is read as if at its old place: never run it twice on one);
then `ruff check --fix` and `ruff format` sort the result."""

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
moves = [line.split() for line in Path(sys.argv[1]).read_text().splitlines() if line.strip()]


def mod(p):
    parts = list(Path(p).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


OLD2NEW = {mod(a): mod(b) for a, b in moves}
NEW2OLD = {v: k for k, v in OLD2NEW.items()}
#: names that left their module when it moved: (new module, name) -> where the name is now
NAME_MOVES = {
    ("api.money.fields", "sender_of"): "api.access.deps",
    ("api.money.fields", "deployment_of"): "api.access.deps",
}


def is_pkg_init(path):
    return path.name == "__init__.py"


def rel(from_module_pkg, target):
    """relative import text for `target` seen from package `from_module_pkg` (list of parts)."""
    t = target.split(".")
    i = 0
    while i < min(len(from_module_pkg), len(t)) and from_module_pkg[i] == t[i]:
        i += 1
    if i == 0:
        return target
    ups = len(from_module_pkg) - i
    return "." * (ups + 1) + ".".join(t[i:])


def process(path: Path):
    src = path.read_text()
    newmod = mod(path.relative_to(ROOT))
    oldmod = NEW2OLD.get(newmod, newmod)
    in_api = newmod.split(".")[0] == "api"
    old_pkg = oldmod.split(".") if is_pkg_init(path) else oldmod.split(".")[:-1]
    new_pkg = newmod.split(".") if is_pkg_init(path) else newmod.split(".")[:-1]
    tree = ast.parse(src)
    lines = src.splitlines(keepends=True)
    edits = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = old_pkg[: len(old_pkg) - node.level + 1]
            absmod = ".".join(base + ([node.module] if node.module else []))
        else:
            absmod = node.module or ""
        if not absmod.startswith(("api", "ledger")):
            continue
        # group names by their new target module
        groups = {}
        changed = False
        for a in node.names:
            full = f"{absmod}.{a.name}"
            if full in OLD2NEW:  # a module imported by name
                newfull = OLD2NEW[full]
                tgt, name = newfull.rsplit(".", 1)
                changed = True
                if name != a.name and not a.asname:
                    name = f"{name} as {a.name}"
            else:
                tgt, name = OLD2NEW.get(absmod, absmod), a.name
                tgt = NAME_MOVES.get((tgt, name), tgt)
                if tgt != absmod:
                    changed = True
            groups.setdefault(tgt, []).append(name + (f" as {a.asname}" if a.asname else ""))
        if not changed and node.level == 0:
            continue
        if not changed and new_pkg == old_pkg:
            continue
        out = []
        for tgt, names in groups.items():
            where = rel(new_pkg, tgt) if (node.level or in_api) and in_api else tgt
            out.append(f"from {where} import {', '.join(names)}")
        first, last = node.lineno - 1, node.end_lineno - 1
        tail = lines[last].rstrip("\n")
        comment = ""
        if "#" in tail and not tail.strip().startswith("#"):
            comment = "  " + tail[tail.index("#") :]
        indent = lines[first][: len(lines[first]) - len(lines[first].lstrip())]
        text = "".join(f"{indent}{o}{comment if i == len(out) - 1 else ''}\n" for i, o in enumerate(out))
        edits.append((first, last, text))
    for first, last, text in sorted(edits, reverse=True):
        lines[first : last + 1] = [text]
    new = "".join(lines)
    if new != src:
        path.write_text(new)
        print("fixed", path.relative_to(ROOT))


for top in sys.argv[2:]:
    p = ROOT / top
    for f in [p] if p.is_file() else p.rglob("*.py"):
        if ".venv" in f.parts or "node_modules" in f.parts:
            continue
        process(f)
