"""Every setting is declared once (`ledger/config.py`), its table in docs/configuration.md is the
one generated from it, and no code reads a `LEDGER_*` variable the class does not declare."""

from __future__ import annotations

import re

from ledger.config import Settings, env
from ledger.config_docs import BEGIN, END, PAGE, table, variable
from ledger.paths import ROOT

#: read by the test suite only (tests/python/conftest.py), documented in docs/development.md
TEST_ONLY = {"LEDGER_REQUIRE_SERVERS", "LEDGER_TEST_PG_URL"}
NAME = re.compile(r"LEDGER_[A-Z0-9_]*[A-Z0-9]")


def test_the_configuration_page_is_the_generated_table():
    page = PAGE.read_text()
    generated = page.partition(BEGIN + "\n")[2].partition(END)[0]
    assert generated == table(), "run `python -m ledger.config_docs --write`"


def test_every_variable_the_code_names_is_declared():
    declared = {variable(n) for n in Settings.model_fields}
    named = {}
    for top in ("ledger", "api", "bench", "scripts", "tools"):
        for path in (ROOT / top).rglob("*.py"):
            for name in NAME.findall(path.read_text()):
                named.setdefault(name, path.relative_to(ROOT))
    unknown = {n: str(p) for n, p in named.items() if n not in declared | TEST_ONLY}
    assert not unknown, f"declare these in ledger/config.py: {unknown}"


def test_only_the_settings_read_the_environment():
    reads = re.compile(r"(environ\.get|environ\[|getenv)\(?\s*[\"']LEDGER_")
    found = [
        str(p.relative_to(ROOT))
        for top in ("ledger", "api")
        for p in (ROOT / top).rglob("*.py")
        if reads.search(p.read_text())
    ]
    assert not found, found


def test_a_variable_sets_its_field(monkeypatch):
    monkeypatch.setenv("LEDGER_TX_TIMEOUT", "8")  # a name apart from its field's
    monkeypatch.setenv("LEDGER_EPCIS_MAX_EVENTS", "7")
    monkeypatch.setenv("LEDGER_REDIS_URL", "")  # empty: unset
    s = env()
    assert (s.tx_timeout_s, s.epcis_max_events, s.redis_url) == (8, 7, None)
    assert Settings(tx_timeout_s=3).tx_timeout_s == 3
