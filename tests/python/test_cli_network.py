"""The consortium's command line without running its nodes: ports chosen at init, the defaults
every `ledger` command takes with `LEDGER_NETWORK=consortium` (as `make run` does), and `ledger
signin` when no API answers where it looks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from ledger.paths import ROOT

from .conftest import free_port


def _ledger(*args: str, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")} | env
    return subprocess.run(
        [sys.executable, "-m", "ledger", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env=full,
        cwd=ROOT,
    )


def test_network_ports_come_from_the_command_line_or_the_environment(tmp_path):
    r = _ledger("network", "init", "--base-port", "18645", LEDGER_DATA_DIR=str(tmp_path / "a"))
    assert r.returncode == 0, r.stderr
    nodes = json.loads((tmp_path / "a" / "network" / "network.json").read_text())["nodes"]
    assert [(n["http_port"], n["p2p_port"], n["auth_port"]) for n in nodes] == [
        (18645 + i, 18745 + i, 18845 + i) for i in range(3)
    ]
    urls = _ledger("network", "urls", LEDGER_DATA_DIR=str(tmp_path / "a")).stdout.strip()
    assert urls == ",".join(f"http://127.0.0.1:{18645 + i}" for i in range(3))
    r = _ledger("network", "init", LEDGER_DATA_DIR=str(tmp_path / "b"), LEDGER_NETWORK_PORT="19645")
    nodes = json.loads((tmp_path / "b" / "network" / "network.json").read_text())["nodes"]
    assert [n["http_port"] for n in nodes] == [19645, 19646, 19647], r.stderr
    # the operator's custodial keys, sealed at rest, only for the owner to read
    sealed = tmp_path / "b" / "network" / "platform" / "custodial.sealed"
    assert sealed.stat().st_mode & 0o777 == 0o600 and sealed.read_bytes().startswith(b"TLSEAL1")


def test_the_cli_takes_the_consortiums_manifest_and_nodes_by_default(tmp_path, deployment):
    _, manifest = deployment
    (tmp_path / "network").mkdir()
    shutil.copyfile(manifest, tmp_path / "network" / "deployment.json")
    (tmp_path / "network" / "network.json").write_text(
        json.dumps(
            {
                "chain_id": 1,
                "period_s": 2,
                "nodes": [
                    {
                        "org": "platform",
                        "p2p_port": 1,
                        "http_port": 18999,
                        "auth_port": 2,
                        "validator": "",
                        "enode_key": "",
                    }
                ],
            }
        )  # fmt: skip
    )
    r = _ledger("contracts", LEDGER_DATA_DIR=str(tmp_path), LEDGER_NETWORK="consortium")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {n: c["address"] for n, c in json.loads(manifest.read_text())["contracts"].items()}
    assert _ledger("contracts", LEDGER_DATA_DIR=str(tmp_path)).returncode == 1  # anvil's manifest: none here
    r = _ledger("index", "--confirmations", "1", LEDGER_DATA_DIR=str(tmp_path), LEDGER_NETWORK="consortium")
    assert r.returncode == 1 and "127.0.0.1:18999" in r.stderr  # the network's node, not anvil's 8545


@pytest.mark.parametrize("answering", [False, True])
def test_signin_where_no_api_answers_says_so_in_one_line(deployment, chain_node, answering):
    _, manifest = deployment
    url = chain_node.url if answering else f"http://127.0.0.1:{free_port()}"  # a node, not the API; nothing
    r = _ledger("signin", "merchant_a", "--url", url, LEDGER_MANIFEST=str(manifest))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and url in r.stderr, r.stderr
