"""The layout's rules, checked on the source: layers only point down and no module imports
itself around a circle (module-level and function-level imports alike)."""

from __future__ import annotations

import ast
from pathlib import Path

from ledger.paths import ROOT

BASE = {"ledger", "ledger.errors", "ledger.paths", "ledger.clock"}
#: each package of `ledger` and the packages (besides base) it may import
MAY_IMPORT = {
    "ledger.access": set(),
    "ledger.store": set(),
    "ledger.chain": {"ledger.store", "ledger.access"},
    "ledger.trace": {"ledger.chain", "ledger.store", "ledger.access"},
    "ledger.money": {"ledger.chain", "ledger.store", "ledger.access"},
    "ledger.compliance": {"ledger.trace", "ledger.chain", "ledger.store"},
    "ledger.devices": {"ledger.trace", "ledger.chain", "ledger.store", "ledger.access"},
    "ledger.flows": {
        "ledger.chain",
        "ledger.store",
        "ledger.access",
        "ledger.trace",
        "ledger.money",
        "ledger.compliance",
    },
    "ledger.__main__": {"ledger.cli"},  # `python -m ledger`: the CLI
    "ledger.cli": {
        "ledger.chain",
        "ledger.store",
        "ledger.access",
        "ledger.trace",
        "ledger.money",
        "ledger.flows",
        "ledger.compliance",
        "ledger.devices",
    },
}


def _modules() -> dict[str, Path]:
    out = {}
    for top in ("ledger", "api"):
        for path in (ROOT / top).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The project modules `name` imports, wherever in the file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for a in node.names:
                found.add(f"{mod}.{a.name}" if f"{mod}.{a.name}" in MODULES else mod)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _package(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "api":
        return "api"
    return module if module in BASE else ".".join(parts[:2])


def test_ledger_never_imports_api():
    offenders = [(m, i) for m, deps in GRAPH.items() if m.startswith("ledger") for i in deps if i.startswith("api")]
    assert not offenders


def test_every_ledger_package_has_its_rule():
    """Fail closed: a package of `ledger` that MAY_IMPORT does not name is an error, not unchecked."""
    unknown = {_package(m) for m in GRAPH if m.startswith("ledger.")} - set(MAY_IMPORT) - BASE
    assert not unknown, f"add these to MAY_IMPORT: {sorted(unknown)}"


def test_layers_only_point_down():
    offenders = []
    for module, deps in GRAPH.items():
        pkg = _package(module)
        if pkg == "api":
            continue  # the top: may import every layer of ledger
        assert pkg in MAY_IMPORT or pkg in BASE, f"{module}: its package has no rule in MAY_IMPORT"
        if pkg in BASE:
            continue
        allowed = MAY_IMPORT[pkg] | BASE | {pkg}
        offenders += [(module, d) for d in deps if _package(d) not in allowed and d not in BASE]
    assert not offenders, offenders


def test_base_imports_nothing_of_the_project():
    assert not [(m, GRAPH[m]) for m in BASE if GRAPH.get(m)]


def test_no_import_circles():
    circles, state = [], {}

    def visit(m: str, stack: list[str]) -> None:
        state[m] = "open"
        for d in sorted(GRAPH[m]):
            if state.get(d) == "open":
                circles.append(stack[stack.index(d) :] + [d])
            elif d not in state:
                visit(d, [*stack, d])
        state[m] = "done"

    for m in sorted(GRAPH):
        if m not in state:
            visit(m, [m])
    assert not circles, circles[:3]


def test_every_package_says_what_it_owns():
    for name, path in MODULES.items():
        if path.name == "__init__.py":
            doc = ast.get_docstring(ast.parse(path.read_text()))
            assert doc and "import" in doc.lower(), f"{name} has no docstring saying what it may import"


def test_no_module_over_300_lines():
    long = {n: c for n, p in MODULES.items() if (c := len(p.read_text().splitlines())) > 300}
    assert not long, long
