"""The layout's rules, checked on the source: layers only point down and no module imports
itself around a circle (module-level and function-level imports alike).

`api/` is a house of domains: `api.core` (the shell) imports no domain; `api.access` (who calls)
imports only core; each domain imports core and access and no other domain; only the middleware
stack and the app factory see them all. A package without a rule fails the test (fail closed)."""

from __future__ import annotations

import ast
from pathlib import Path

from ledger.paths import ROOT

BASE = {
    "ledger",
    "ledger.errors",
    "ledger.paths",
    "ledger.clock",
    "ledger.config",
    "ledger.config_docs",
    "ledger.i18n",
    "ledger.csv_cells",
    "ledger.plain_text",
    "ledger.native",
}
#: each package of `ledger` and the packages (besides base) it may import
MAY_IMPORT = {
    "ledger.access": set(),
    "ledger.store": set(),
    "ledger.chain": {"ledger.store", "ledger.access"},
    "ledger.trace": {"ledger.chain", "ledger.store", "ledger.access"},
    "ledger.money": {"ledger.chain", "ledger.store", "ledger.access"},
    "ledger.compliance": {"ledger.trace", "ledger.chain", "ledger.store"},
    # footprints over the genealogy compliance reads; anchoring on chain; its own tables; partners'
    # secrets sealed at rest (ledger.access.sealed) for answering PACT requests
    "ledger.carbon": {"ledger.compliance", "ledger.trace", "ledger.chain", "ledger.store", "ledger.access"},
    "ledger.privacy": {"ledger.chain", "ledger.store"},
    "ledger.devnet": {"ledger.chain", "ledger.store", "ledger.access"},
    "ledger.devices": {"ledger.trace", "ledger.chain", "ledger.store", "ledger.access"},
    "ledger.flows": {
        "ledger.chain",
        "ledger.store",
        "ledger.access",
        "ledger.trace",
        "ledger.money",
        "ledger.compliance",
    },
    # the loops run the flows that act on chain (cold-chain holds: ledger.flows.cold_chain_holds)
    # and anchor the purchases tree (ledger.privacy); answer PACT requests (ledger.carbon.pact_replies)
    "ledger.worker": {
        "ledger.carbon",
        "ledger.chain",
        "ledger.store",
        "ledger.access",
        "ledger.trace",
        "ledger.flows",
        "ledger.privacy",
    },
    "ledger.__main__": {"ledger.cli"},  # `python -m ledger`: the CLI
    "ledger.cli": {
        "ledger.devnet",
        "ledger.chain",
        "ledger.store",
        "ledger.access",
        "ledger.trace",
        "ledger.money",
        "ledger.flows",
        "ledger.compliance",
        "ledger.carbon",
        "ledger.worker",
        "ledger.privacy",
        "ledger.devices",
    },
}


LEDGER = set(MAY_IMPORT) | {"ledger.cli"}
#: the domains of `api`: each may import core, access and ledger, and no other domain
API_DOMAINS = {
    "api.scan",
    "api.resolver",
    "api.trace",
    "api.epcis",
    "api.money",
    "api.chain",
    "api.system",
    "api.console",
    "api.carbon",
    "api.purchases",
    "api.devices",
}
API_SHELL = {"api.core", "api.access"}
MAY_IMPORT |= {
    "api": set(),  # the package's docstring
    "api.core": LEDGER,
    "api.access": LEDGER | {"api.core"},
    **{d: LEDGER | API_SHELL for d in API_DOMAINS},
    "api.middleware": LEDGER | API_SHELL | API_DOMAINS,
    "api.app": LEDGER | API_SHELL | API_DOMAINS | {"api.middleware"},
    "api.serve": set(),  # launches `api.app:app` by name
}
#: modules not yet in their domain's package (none now; kept for the next move)
API_LOOSE: dict[str, str] = {}
#: imports that break a rule, each with why it is allowed for now
EXCEPTIONS = {
    # the context builds the scan writer and the background loops start it; the `ledger worker`
    # rework of services.py moves the writer's start into the scan domain
    ("api.core.services", "api.scan.recorder"),
    # the scan page is rendered with the console's templates and catalogs (one language negotiation,
    # one Jinja2 environment) and shows the batch's footprint, as is an event's proof page; a shared
    # `api/pages` package of templates and catalogs would end these four
    ("api.scan.routes", "api.console.scan_page"),
    ("api.scan.event_proof", "api.console.scan_page"),
    ("api.scan.routes", "api.carbon.scan"),
    ("api.console.scan_page", "api.carbon.scan"),
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
    if parts[0] == "api" and len(parts) > 1:
        top = ".".join(parts[:2])
        return API_LOOSE.get(top, top)
    return module if module in BASE else ".".join(parts[:2])


def test_ledger_never_imports_api():
    offenders = [(m, i) for m, deps in GRAPH.items() if m.startswith("ledger") for i in deps if i.startswith("api")]
    assert not offenders


def test_every_package_has_its_rule():
    """Fail closed: a package of `ledger` or `api` that MAY_IMPORT does not name is an error, not unchecked."""
    unknown = {_package(m) for m in GRAPH} - set(MAY_IMPORT) - BASE
    assert not unknown, f"add these to MAY_IMPORT: {sorted(unknown)}"


def test_api_domains_stay_apart():
    """Core names no domain, access only core, a domain no other domain (the layout above, spelled out)."""
    for d in API_DOMAINS:
        assert not (MAY_IMPORT[d] & (API_DOMAINS - {d})), d
    assert not MAY_IMPORT["api.core"] & (API_SHELL | API_DOMAINS)
    assert MAY_IMPORT["api.access"] & (API_SHELL | API_DOMAINS) == {"api.core"}
    sees_all = {p for p, may in MAY_IMPORT.items() if may >= API_DOMAINS}
    assert sees_all == {"api.middleware", "api.app"}, sees_all


def test_layers_only_point_down():
    offenders = []
    for module, deps in GRAPH.items():
        pkg = _package(module)
        assert pkg in MAY_IMPORT or pkg in BASE, f"{module}: its package has no rule in MAY_IMPORT"
        if pkg in BASE:
            continue
        allowed = MAY_IMPORT[pkg] | BASE | {pkg}
        offenders += [
            (module, d) for d in deps if _package(d) not in allowed and d not in BASE and (module, d) not in EXCEPTIONS
        ]
    assert not offenders, offenders


def test_base_imports_nothing_of_the_project():
    """Base modules import nothing of the project but the settings (`ledger.config`), which imports nothing."""
    assert not GRAPH["ledger.config"]
    assert not [(m, GRAPH[m]) for m in BASE if GRAPH.get(m, set()) - {"ledger.config"}]


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


def test_orders_never_import_their_reconciliation():
    """Inside `ledger.money`, reconciliation (`recon/`) reads the orders (`orders/`), never the reverse."""
    back = [(m, d) for m, deps in GRAPH.items() if m.startswith("ledger.money.orders") for d in deps]
    assert not [(m, d) for m, d in back if d.startswith("ledger.money.recon")]


def test_every_package_says_what_it_owns():
    for name, path in MODULES.items():
        if path.name == "__init__.py":
            doc = ast.get_docstring(ast.parse(path.read_text()))
            assert doc and "import" in doc.lower(), f"{name} has no docstring saying what it may import"


def test_no_module_over_300_lines():
    long = {n: c for n, p in MODULES.items() if (c := len(p.read_text().splitlines())) > 300}
    assert not long, long


def test_the_app_runs_the_stack_as_listed():
    """The ASGI layers run in the order `api/middleware/stack.py` lists them, each with its reason."""
    from api.app import app
    from api.middleware.stack import STACK

    assert [m.cls for m in app.user_middleware] == [layer.middleware for layer in STACK]
    assert all(len(layer.why) > 20 for layer in STACK)


def test_no_private_module_of_web3_is_imported():
    """web3's `_utils` and other private modules change without notice in minor releases."""
    private = [(m, i) for m, p in MODULES.items() for i in _third_party(p) if i.startswith("web3._")]
    assert not private, private


def _third_party(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            found.add(node.module or "")
    return found
