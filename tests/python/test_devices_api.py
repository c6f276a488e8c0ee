"""`/v1/devices`: register (PSK once, key on chain), list (own only), revoke (owner only), readings."""

import secrets

from ledger.devices import registry
from ledger.devices.sm2 import Sm2Key

from .helpers import govern, login, make_client


def test_register_list_revoke_and_read(deployment, chain_node, tmp_path, members, monkeypatch):
    (tmp_path / "mqtt").mkdir()
    monkeypatch.setenv("LEDGER_MQTT_DIR", str(tmp_path / "mqtt"))  # no broker running: files only
    dep, _ = deployment
    c = make_client(deployment, chain_node, tmp_path)
    owner, other, auditor = (
        login(c, members["logistics"]),
        login(c, members["merchant_b"]),
        login(c, members["auditor"]),
    )
    key = Sm2Key.generate()
    giai = f"A{tmp_path.name[-20:]}".replace("_", "")[:30]
    said = c.get("/v1/devices/statement", params={"giai": giai}, headers=owner).json()["statement"].encode()
    assert said == registry.statement(dep, giai, members["logistics"].address)
    body = {"giai": giai, "public_key": key.public.hex(), "kind": "logger", "proof": key.sign(said).hex()}
    assert c.post("/v1/devices", json=body).status_code == 401
    # a key the registrant does not hold: no proof, another key's, or one the device made for another member
    for_other = registry.statement(dep, giai, members["merchant_b"].address)
    refused = [body | {"proof": ""}, body | {"proof": Sm2Key.generate().sign(said).hex()},
               body | {"proof": key.sign(for_other).hex()}]  # fmt: skip
    for wrong in refused:
        r = c.post("/v1/devices", json=wrong, headers=owner)
        assert r.status_code == 422, r.text
    assert "proof" in r.text and c.get("/v1/devices", headers=owner).json() == []
    r = c.post("/v1/devices", json=body, headers=owner)
    assert r.status_code == 201, r.text
    dev = r.json()
    assert len(dev["psk"]) == 64 and dev["owner"] == members["logistics"].address
    on_chain = registry.registry(dep).functions.device(bytes.fromhex(dev["device_id"][2:])).call()
    assert on_chain[0] == dev["owner"] and bytes(on_chain[3]) + bytes(on_chain[4]) == key.public[1:]
    assert c.post("/v1/devices", json=body, headers=owner).status_code == 409
    # the same key for another device: refused, its key named in hex (it was Python's repr of bytes)
    giai2 = giai[:-1] + "Z"
    said2 = registry.statement(dep, giai2, members["logistics"].address)
    again = body | {"giai": giai2, "proof": key.sign(said2).hex()}
    r = c.post("/v1/devices", json=again, headers=owner)
    assert r.status_code == 409 and "KeyInUse(0x" in r.text and "b'" not in r.text, r.text
    bad = body | {"giai": giai + "x", "public_key": "04" + "01" * 64}  # not on the curve
    assert c.post("/v1/devices", json=bad, headers=owner).status_code == 422
    assert c.post("/v1/devices", json=body | {"kind": "toaster"}, headers=owner).status_code == 422

    listed = c.get("/v1/devices", headers=owner).json()
    assert [d["device_id"] for d in listed] == [dev["device_id"]] and "psk" not in listed[0]
    assert dev["device_id"] not in [d["device_id"] for d in c.get("/v1/devices", headers=other).json()]
    assert dev["device_id"] in [d["device_id"] for d in c.get("/v1/devices", headers=auditor).json()]
    assert c.get(f"/v1/devices/{dev['device_id']}/readings", headers=other).status_code == 404
    assert c.get(f"/v1/devices/{dev['device_id']}/readings", headers=auditor).json()["readings"] == []
    psk_file = (tmp_path / "mqtt" / "psk").read_text()
    assert f"{dev['identity']}:{dev['psk']}" in psk_file

    assert c.post(f"/v1/devices/{dev['device_id']}/revoke", json={"reason": "x"}, headers=other).status_code == 404
    r = c.post(f"/v1/devices/{dev['device_id']}/revoke", json={"reason": "lost"}, headers=owner)
    assert r.status_code == 200 and r.json()["revoked_at"]
    assert not registry.registry(dep).functions.isActive(bytes.fromhex(dev["device_id"][2:])).call()
    assert dev["identity"] not in (tmp_path / "mqtt" / "psk").read_text()


def _register(c, dep, headers, address, giai):
    key = Sm2Key.generate()
    proof = key.sign(registry.statement(dep, giai, address)).hex()
    body = {"giai": giai, "public_key": key.public.hex(), "kind": "reader", "proof": proof}
    return c.post("/v1/devices", json=body, headers=headers)


def test_a_giai_under_a_company_prefix_is_its_holders(deployment, chain_node, tmp_path, members, accounts, monkeypatch):
    """A GIAI begins with its owner's GS1 company prefix: once governance assigns the prefix, another
    member's registration under it is refused (403, nothing stored), and the holder may revoke a
    device someone registered under it before."""
    (tmp_path / "mqtt").mkdir()
    monkeypatch.setenv("LEDGER_MQTT_DIR", str(tmp_path / "mqtt"))
    dep, _ = deployment
    c = make_client(deployment, chain_node, tmp_path)
    holder, squatter = members["merchant_a"], members["logistics"]
    h_holder, h_squatter, h_other = login(c, holder), login(c, squatter), login(c, members["merchant_b"])
    prefix = "69" + str(secrets.randbelow(10**7)).zfill(7)  # 9 digits, this run's own
    early = _register(c, dep, h_squatter, squatter.address, prefix + "EARLY")
    assert early.status_code == 201, early.text  # first come while the prefix is unassigned
    govern(deployment, accounts, dep.contract("Provenance").functions.assignPrefix(prefix, holder.address))

    r = _register(c, dep, h_squatter, squatter.address, prefix + "SQUAT")
    assert r.status_code == 403 and "PrefixHeldByOther" in r.text, r.text
    assert prefix + "SQUAT" not in [d["giai"] for d in c.get("/v1/devices", headers=h_squatter).json()]
    r = _register(c, dep, h_holder, holder.address, prefix + "DOCK1")
    assert r.status_code == 201, r.text

    did = early.json()["device_id"]
    assert c.post(f"/v1/devices/{did}/revoke", json={"reason": "x"}, headers=h_other).status_code == 404
    r = c.post(f"/v1/devices/{did}/revoke", json={"reason": "under our GS1 prefix"}, headers=h_holder)
    assert r.status_code == 200 and r.json()["revoked_at"], r.text
    assert not registry.registry(dep).functions.isActive(bytes.fromhex(did[2:])).call()
