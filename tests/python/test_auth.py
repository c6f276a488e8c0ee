"""Sign-in, API keys, role and object checks, rate limits and the audit log, against a real
anvil deployment and a real SQLite database."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from api.core.settings import Settings
from ledger.access.roles import Role
from ledger.chain.client import Sender

from .helpers import DOMAIN, govern, login, make_client, new_gtin, sign_in_message


@pytest.fixture
def client(deployment, chain_node, tmp_path):
    return make_client(deployment, chain_node, tmp_path)


# --- sign-in -------------------------------------------------------------------------------


def test_sign_in_gives_roles_from_chain(client, members):
    headers = login(client, members["merchant_a"])
    r = client.get("/v1/me", headers=headers)
    assert r.status_code == 200
    assert r.json() == {"address": members["merchant_a"].address, "roles": ["merchant"], "auth": "session"}
    assert r.headers["X-Request-ID"]


def test_forged_signature_is_401(client, members):
    message, _ = sign_in_message(client, members["merchant_a"])
    forged = Account.sign_message(encode_defunct(text=message), members["producer"].key).signature.hex()
    r = client.post("/v1/auth/login", json={"message": message, "signature": "0x" + forged.removeprefix("0x")})
    assert r.status_code == 401
    assert "signature does not match" in r.json()["detail"]
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_replayed_nonce_is_401(client, members):
    message, signature = sign_in_message(client, members["merchant_a"])
    assert client.post("/v1/auth/login", json={"message": message, "signature": signature}).status_code == 200
    r = client.post("/v1/auth/login", json={"message": message, "signature": signature})
    assert r.status_code == 401 and "already used" in r.json()["detail"]


@pytest.mark.parametrize(
    "change,reason",
    [
        ({"domain": "evil.example"}, "is for domain 'evil.example'"),
        ({"chain_id": 1}, "is for chain 1"),
        ({"nonce": "deadbeefdeadbeef"}, "nonce unknown"),
        ({"expiration_time": datetime.now(UTC) - timedelta(seconds=1)}, "expired"),
        ({"issued_at": datetime.now(UTC) + timedelta(hours=1)}, "in the future"),
    ],
)
def test_bad_sign_in_messages_are_401_with_reason(client, members, change, reason):
    message, signature = sign_in_message(client, members["merchant_a"], **change)
    r = client.post("/v1/auth/login", json={"message": message, "signature": signature})
    assert r.status_code == 401 and reason in r.json()["detail"]


def _signed(account, message: str) -> dict:
    signature = Account.sign_message(encode_defunct(text=message), account.key).signature.hex()
    return {"message": message, "signature": "0x" + signature.removeprefix("0x")}


@pytest.mark.parametrize(
    "edit,reason",
    [
        # str.isdigit() took both; int() refused the superscript (a 500) and read the full-width as 31337
        (lambda m, cid: m.replace(f"Chain ID: {cid}", "Chain ID: \u00b2"), "ASCII digits"),
        (lambda m, cid: m.replace(f"Chain ID: {cid}", "Chain ID: " + str(cid).translate(_FULL_WIDTH)), "ASCII digits"),
        (lambda m, cid: m.replace(f"Chain ID: {cid}", "Chain ID: " + "1" * 79), "ASCII digits"),
        # a field twice was last-wins: a wallet showing the first signed for chain 1, the server read the second
        (lambda m, cid: m.replace(f"Chain ID: {cid}", f"Chain ID: 1\nChain ID: {cid}"), "more than once"),
        (lambda m, cid: m.replace("Nonce: ", "Nonce: deadbeefdeadbeef\nNonce: "), "more than once"),
    ],
)
def test_odd_numbers_and_repeated_fields_in_the_message_are_401(client, members, edit, reason):
    account = members["merchant_a"]
    message, _ = sign_in_message(client, account)
    chain_id = client.get("/v1/auth/nonce").json()["chain_id"]
    r = client.post("/v1/auth/login", json=_signed(account, edit(message, chain_id)))
    assert r.status_code == 401 and reason in r.json()["detail"], r.text


def test_the_challenge_names_the_configured_url_not_the_host_header(deployment, chain_node, tmp_path, members):
    c = make_client(deployment, chain_node, tmp_path, resolver_url="https://trace.example/")
    account = members["merchant_a"]
    r = c.get("/v1/auth/challenge", params={"address": account.address}, headers={"Host": "evil.example:666"})
    assert r.status_code == 200, r.text
    message = r.json()["message"]
    assert "\nURI: https://trace.example\n" in message and "evil" not in message  # it was http://evil.example:666
    assert message.startswith(f"{DOMAIN} wants you to sign in")
    r = c.post("/v1/auth/login", json=_signed(account, message))  # what the console signs still signs in
    assert r.status_code == 200 and r.json()["address"] == account.address, r.text
    # the session lasts the configured time: the console's message used to end with its nonce
    # (5 minutes), and so did every console session (phone trial)
    ends = datetime.fromisoformat(r.json()["expires_at"].replace("Z", "+00:00"))
    ttl = c.app.state.services.settings.session_ttl_s
    assert abs((ends - datetime.now(UTC)).total_seconds() - ttl) < 60, (ends, ttl)


_FULL_WIDTH = str.maketrans("0123456789", "\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19")


def test_malformed_login_is_422_naming_the_field(client):
    r = client.post("/v1/auth/login", json={"message": "hello", "signature": "0x12"})
    assert r.status_code == 422
    assert [p["field"] for p in r.json()["detail"]] == ["body.signature"]


def test_non_member_cannot_sign_in(client, accounts):
    stranger = accounts[19]
    message, signature = sign_in_message(client, stranger)
    r = client.post("/v1/auth/login", json={"message": message, "signature": signature})
    assert r.status_code == 403 and "not a member" in r.json()["detail"]


def test_expired_session_is_401(deployment, chain_node, tmp_path, members):
    c = make_client(deployment, chain_node, tmp_path, session_ttl_s=1)
    headers = login(c, members["auditor"])
    assert c.get("/v1/me", headers=headers).status_code == 200
    time.sleep(1.2)
    r = c.get("/v1/me", headers=headers)
    assert r.status_code == 401 and "session expired" in r.json()["detail"]


def test_expired_nonces_are_deleted_as_new_ones_are_issued(deployment, chain_node, tmp_path, members):
    """Anyone may ask for nonces: each was a row for ever. Expired unused ones go as new ones are
    issued; one a login used stays (its session names it)."""
    c = make_client(deployment, chain_node, tmp_path, nonce_ttl_s=1)
    login(c, members["auditor"])
    asked = {c.get("/v1/auth/nonce").json()["nonce"] for _ in range(3)}
    engine = c.app.state.services.engine

    def stored() -> set[str]:
        with engine.connect() as conn:
            return {row[0] for row in conn.execute(text("SELECT nonce FROM auth_nonces WHERE used_at IS NULL"))}

    assert asked <= stored()
    time.sleep(1.2)
    fresh = c.get("/v1/auth/nonce").json()["nonce"]
    assert stored() == {fresh}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM auth_nonces WHERE used_at IS NOT NULL")).scalar() == 1


def test_sessions_expired_a_day_ago_are_deleted_with_their_nonces_as_members_sign_in(client, members):
    """Each sign-in was a session and a used nonce for ever. One expired over a day ago goes at the
    next sign-in (its token then unknown); one expired an hour ago is still answered as expired."""
    old, recent = login(client, members["auditor"]), login(client, members["auditor"])
    engine = client.app.state.services.engine

    def expire(headers: dict, ago: timedelta) -> str:
        digest = hashlib.sha256(headers["Authorization"].removeprefix("Bearer ").encode()).hexdigest()
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE sessions SET expires_at = :t WHERE token_hash = :h"),
                {"t": datetime.now(UTC) - ago, "h": digest},
            )
            return conn.execute(text("SELECT nonce FROM sessions WHERE token_hash = :h"), {"h": digest}).scalar()

    gone, kept = expire(old, timedelta(days=1, minutes=1)), expire(recent, timedelta(hours=1))
    login(client, members["producer"])
    with engine.connect() as conn:
        nonces = {row[0] for row in conn.execute(text("SELECT nonce FROM auth_nonces"))}
    assert gone not in nonces and kept in nonces
    assert client.get("/v1/me", headers=old).json()["detail"] == "invalid session token"
    assert "session expired" in client.get("/v1/me", headers=recent).json()["detail"]


@pytest.mark.parametrize(
    "header,reason",
    [
        (None, "missing credentials"),
        ("Bearer tls_not-a-real-token", "invalid session token"),
        ("Bearer tlk_not-a-real-key", "invalid API key"),
        ("Bearer something-else", "unrecognised token"),
    ],
)
def test_bad_credentials_are_401(client, header, reason):
    r = client.get("/v1/me", headers={"Authorization": header} if header else {})
    assert r.status_code == 401 and reason in r.json()["detail"]


# --- API keys --------------------------------------------------------------------------------


def test_api_key_lifecycle(client, members):
    session = login(client, members["merchant_a"])
    r = client.post("/v1/auth/api-keys", json={"name": "erp"}, headers=session)
    assert r.status_code == 201
    created = r.json()
    key = created["key"]
    assert key.startswith("tlk_") and created["prefix"] == key[:12]
    as_key = {"Authorization": f"Bearer {key}"}
    assert client.get("/v1/me", headers=as_key).json()["auth"] == "api_key"
    listed = client.get("/v1/auth/api-keys", headers=session).json()
    assert [k["id"] for k in listed] == [created["id"]] and "key" not in listed[0]
    assert listed[0]["last_used_at"] is not None
    # an API key cannot mint or revoke keys
    assert client.post("/v1/auth/api-keys", json={"name": "x"}, headers=as_key).status_code == 403
    # another member cannot revoke it, and learns nothing
    other = login(client, members["merchant_b"])
    assert client.delete(f"/v1/auth/api-keys/{created['id']}", headers=other).status_code == 404
    assert client.delete(f"/v1/auth/api-keys/{created['id']}", headers=session).status_code == 204
    r = client.get("/v1/me", headers=as_key)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]


def test_keys_are_stored_only_as_hashes(client, members):
    session = login(client, members["merchant_a"])
    key = client.post("/v1/auth/api-keys", json={"name": "k"}, headers=session).json()["key"]
    engine = client.app.state.services.engine
    with engine.connect() as conn:
        dump = " ".join(str(v) for row in conn.execute(text("SELECT * FROM api_keys")) for v in row)
        dump += " ".join(str(v) for row in conn.execute(text("SELECT * FROM sessions")) for v in row)
    assert key not in dump and key[4:] not in dump
    assert session["Authorization"].split()[1] not in dump


# --- roles, on chain and at once ---------------------------------------------------------------


def test_member_removed_on_chain_loses_access_at_once(client, deployment, accounts):
    dep, _ = deployment
    membership = dep.contract("Membership")
    newcomer = accounts[18]
    govern(deployment, accounts, membership.functions.admit(newcomer.address, int(Role.MERCHANT)))
    headers = login(client, newcomer)
    assert client.get("/v1/products", headers=headers).status_code == 200
    govern(deployment, accounts, membership.functions.setRoles(newcomer.address, int(Role.PRODUCER)))
    r = client.get("/v1/products", headers=headers)
    assert r.status_code == 403 and "holds producer" in r.json()["detail"]
    govern(deployment, accounts, membership.functions.remove(newcomer.address))
    r = client.get("/v1/me", headers=headers)
    assert r.status_code == 403 and "not a member" in r.json()["detail"]


ROLES = ["platform", "issuer", "merchant_a", "producer", "logistics", "inspector", "auditor", "arbiter"]
# endpoint => the members allowed (everyone else: 403; anonymous: 401)
MATRIX = {
    ("GET", "/v1/me"): set(ROLES),
    ("POST", "/v1/products"): {"merchant_a"},
    ("GET", "/v1/products"): {"merchant_a", "auditor", "platform"},
    ("GET", "/v1/audit/log"): {"auditor"},
    ("GET", "/v1/auth/api-keys"): set(ROLES),
    ("POST", "/v1/auth/api-keys"): set(ROLES),
    ("GET", "/v1/governance"): set(ROLES),
    ("GET", "/v1/governance/proposals"): set(ROLES),
    ("POST", "/v1/governance/proposals"): set(),  # governors only: none of these members is one
    ("POST", "/v1/governance/proposals/1/approvals"): set(),
    ("POST", "/v1/token/issuances"): {"issuer"},
    ("GET", "/v1/token/issuances"): {"issuer", "auditor", "platform"},
    ("GET", "/v1/token/redemptions"): {"issuer", "auditor", "platform"},
    ("GET", "/v1/token/supply"): {"issuer", "auditor", "platform"},
}
BODIES = {
    "/v1/products": lambda: {"gtin": new_gtin(), "name": "tea"},
    "/v1/governance/proposals": lambda: {"action": {"type": "set_threshold", "threshold": 2}, "reason": "x"},
    "/v1/token/issuances": lambda: {"to": "0x" + "12" * 20, "amount_fen": 1, "fiat_reference": f"M-{new_gtin()}"},
}


@pytest.fixture(scope="module")
def sessions(deployment, chain_node, tmp_path_factory, members):
    c = make_client(deployment, chain_node, tmp_path_factory.mktemp("matrix"))
    return c, {label: login(c, members[label]) for label in ROLES}


@pytest.mark.parametrize("method,path", list(MATRIX))
@pytest.mark.parametrize("who", [*ROLES, "anonymous"])
def test_role_matrix(sessions, method, path, who):
    c, headers = sessions
    body = BODIES.get(path, lambda: {"name": "k"})()
    r = c.request(method, path, headers=headers.get(who, {}), json=body if method == "POST" else None)
    if who == "anonymous":
        assert r.status_code == 401
    elif who in MATRIX[(method, path)]:
        assert r.status_code in (200, 201), r.text
    else:
        assert r.status_code == 403, r.text
        assert r.json()["error"] == "forbidden"


@pytest.mark.parametrize(
    "method,path,who",
    [
        ("DELETE", "/v1/auth/api-keys/{}", "merchant_a"),
        ("DELETE", "/v1/products/09506000134352/links/{}", "merchant_a"),
        ("POST", "/v1/purchases/disputes/{}/payment", None),
        ("GET", "/v1/cases/{}", "auditor"),
        ("GET", "/v1/governance/proposals/{}", "auditor"),
    ],
)
def test_ids_beyond_the_databases_largest_integer_are_422(sessions, method, path, who):
    """SQLite's integers end at 2**63 - 1: a larger id reached the query and overflowed (a 500)."""
    c, headers = sessions
    h = headers[who] if who else {}
    body = {} if method == "POST" else None
    r = c.request(method, path.format(2**63), headers=h, json=body)
    assert r.status_code == 422, r.text
    r = c.request(method, path.format(2**63 - 1), headers=h, json=body)
    assert r.status_code in (404, 409), r.text  # none such (409: purchase proofs not deployed here)


# --- objects: merchant A against merchant B -----------------------------------------------------


def test_merchant_b_cannot_see_or_touch_merchant_a_objects(client, members):
    a, b = login(client, members["merchant_a"]), login(client, members["merchant_b"])
    auditor = login(client, members["auditor"])
    gtin = new_gtin()
    r = client.post("/v1/products", json={"gtin": gtin, "name": "Pu'er tea"}, headers=a)
    assert r.status_code == 201, r.text
    assert r.json()["merchant"] == members["merchant_a"].address
    assert client.post("/v1/batches", json={"gtin": gtin, "lot": "L1"}, headers=a).status_code == 201
    # B: 404 exactly as for a product that does not exist
    missing = client.get(f"/v1/products/{new_gtin()}", headers=b)
    for r in (
        client.get(f"/v1/products/{gtin}", headers=b),
        client.get(f"/v1/batches/{gtin}/L1", headers=b),
        client.post("/v1/batches", json={"gtin": gtin, "lot": "L2"}, headers=b),
    ):
        assert r.status_code == 404
        assert r.json()["error"] == missing.json()["error"] == "not_found"
    assert gtin not in [p["gtin"] for p in client.get("/v1/products", headers=b).json()]
    # auditors read everything, write nothing
    assert client.get(f"/v1/batches/{gtin}/L1", headers=auditor).status_code == 200
    assert client.post("/v1/batches", json={"gtin": gtin, "lot": "L3"}, headers=auditor).status_code == 403


def test_wrong_check_digit_is_422_naming_expected_digit(client, members):
    a = login(client, members["merchant_a"])
    r = client.post("/v1/products", json={"gtin": "06901234567891", "name": "x"}, headers=a)
    assert r.status_code == 422
    (problem,) = r.json()["detail"]
    assert problem["field"] == "body.gtin" and "expected 2" in problem["reason"]


@pytest.mark.parametrize(
    "name,named",
    [
        ("Tea\x00", "U+0000"),
        ("Tea\r\nX-Injected: 1", "U+000D"),
        ("tea\u202egpj.exe", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("te\u200ba", "U+200B ZERO WIDTH SPACE"),
        ("\ufefftea", "U+FEFF"),
        ("tea\u2067x", "U+2067 RIGHT-TO-LEFT ISOLATE"),
    ],
)
def test_names_with_invisible_or_reordering_characters_are_422_naming_them(client, members, name, named):
    a = login(client, members["merchant_a"])
    r = client.post("/v1/products", json={"gtin": new_gtin(), "name": name}, headers=a)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "body.name", r.text
    assert named in r.json()["detail"][0]["reason"], r.text
    r = client.post("/v1/auth/api-keys", json={"name": name}, headers=a)
    assert r.status_code == 422 and named in r.json()["detail"][0]["reason"], r.text


def test_chain_refusal_leaves_nothing_written(client, members, deployment):
    dep, _ = deployment
    gtin = new_gtin()
    # merchant B registers it straight on chain, behind the API's back
    Sender(dep.w3, members["merchant_b"], dep.decoder()).transact(
        dep.contract("Provenance").functions.registerProduct(int(gtin))
    )
    a = login(client, members["merchant_a"])
    r = client.post("/v1/products", json={"gtin": gtin, "name": "x"}, headers=a)
    assert r.status_code == 409 and r.json()["error"] == "ProductExists"
    assert client.get(f"/v1/products/{gtin}", headers=login(client, members["auditor"])).status_code == 404


def test_chain_down_is_503(deployment, tmp_path, members, chain_node):
    up = make_client(deployment, chain_node, tmp_path)
    headers = login(up, members["auditor"])
    _, path = deployment
    down = TestClient(
        create_app(
            Settings(
                rpc_url="http://127.0.0.1:9", manifest_path=path, database_url=f"sqlite:///{tmp_path / 'api.sqlite3'}"
            )
        )
    )
    r = down.get("/v1/me", headers=headers)
    assert r.status_code == 503 and r.json()["error"] == "NodeUnavailable"


# --- public endpoints ----------------------------------------------------------------------------


def test_public_endpoints_are_rate_limited(deployment, chain_node, tmp_path):
    c = make_client(deployment, chain_node, tmp_path, public_rate=3, public_window_s=3600)
    assert [c.get("/v1/contracts").status_code for _ in range(3)] == [200, 200, 200]
    r = c.get("/v1/contracts")
    assert r.status_code == 429
    assert 1 <= int(r.headers["Retry-After"]) <= 3601
    assert r.json()["error"] == "rate_limited"


# --- audit log ---------------------------------------------------------------------------------


def test_every_write_is_audited_and_the_log_is_append_only(client, members):
    a = login(client, members["merchant_a"])
    gtin = new_gtin()
    client.post("/v1/products", json={"gtin": gtin, "name": "x"}, headers={**a, "X-Request-ID": "req-ok-1"})
    client.post("/v1/products", json={"gtin": gtin, "name": "x"}, headers={"X-Request-ID": "req-anon-1"})
    client.post("/v1/products", json={"gtin": "123", "name": "x"}, headers={**a, "X-Request-ID": "req-bad-1"})
    auditor = login(client, members["auditor"])
    log = {e["request_id"]: e for e in client.get("/v1/audit/log", headers=auditor).json()}
    ok, anon, bad = log["req-ok-1"], log["req-anon-1"], log["req-bad-1"]
    assert (ok["actor"], ok["method"], ok["path"], ok["status"], ok["outcome"]) == (
        members["merchant_a"].address,
        "POST",
        "/v1/products",
        201,
        "ok",
    )
    assert gtin in ok["detail"]
    assert (anon["actor"], anon["status"], anon["outcome"]) == (None, 401, "denied")
    assert (bad["status"], bad["outcome"]) == (422, "rejected") and "body.gtin" in bad["detail"]
    logins = [e for e in log.values() if e["path"] == "/v1/auth/login"]
    assert logins and all(e["outcome"] == "ok" for e in logins)
    mine = client.get("/v1/audit/log", params={"actor": members["merchant_a"].address.lower()}, headers=auditor)
    assert {e["actor"] for e in mine.json()} == {members["merchant_a"].address}
    # a page cursor beyond any 64-bit id is refused, not passed to the database (the fuzzer's 500)
    huge = client.get("/v1/audit/log", params={"after_id": 2**80}, headers=auditor)
    assert huge.status_code == 422 and huge.json()["detail"][0]["field"] == "query.after_id"
    engine = client.app.state.services.engine
    for statement in ("UPDATE audit_log SET status = 200", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))


def test_auth_and_audit_on_postgresql(deployment, chain_node, pg_url, members):
    _, path = deployment
    c = TestClient(
        create_app(Settings(rpc_url=chain_node.url, manifest_path=path, database_url=pg_url, siwe_domain=DOMAIN))
    )
    a = login(c, members["merchant_a"])
    gtin = new_gtin()
    assert c.post("/v1/products", json={"gtin": gtin, "name": "x"}, headers=a).status_code == 201
    message, signature = sign_in_message(c, members["merchant_a"])
    assert c.post("/v1/auth/login", json={"message": message, "signature": signature}).status_code == 200
    assert c.post("/v1/auth/login", json={"message": message, "signature": signature}).status_code == 401
    log = c.get("/v1/audit/log", headers=login(c, members["auditor"])).json()
    assert [e["status"] for e in log if e["path"] == "/v1/products"] == [201]
    engine = c.app.state.services.engine
    assert engine.dialect.name == "postgresql"
    with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log"))
    c.app.state.services.engine.dispose()


def test_signing_out_ends_the_session_on_the_server(client, members):
    """Signing out only forgot the token in the page: the token itself answered for its whole
    lifetime, to whoever had copied it (outside probe)."""
    headers, other = login(client, members["auditor"]), login(client, members["auditor"])
    assert client.post("/v1/auth/logout").status_code == 401
    assert client.post("/v1/auth/logout", headers=headers).status_code == 204
    r = client.get("/v1/me", headers=headers)
    assert r.status_code == 401 and "session expired" in r.json()["detail"]
    assert client.post("/v1/auth/logout", headers=headers).status_code == 401
    assert client.get("/v1/me", headers=other).status_code == 200  # the member's other sessions stay
    key = client.post("/v1/auth/api-keys", json={"name": "k"}, headers=other).json()["key"]
    r = client.post("/v1/auth/logout", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 403  # an API key is revoked, not signed out
    assert client.get("/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_the_audit_logs_time_filters_mean_the_moment_whatever_its_zone(client, members):
    """`since` and `until` in another zone than UTC were compared by their digits on SQLite: the same
    moment written in Beijing time hid every entry after it, or showed those before it (outside probe)."""
    auditor = login(client, members["auditor"])
    client.post("/v1/products", json={"gtin": "1", "name": "x"}, headers=auditor)
    before = datetime.now(UTC) - timedelta(minutes=5)
    for hours in (0, 8, -8):
        at = before.astimezone(timezone(timedelta(hours=hours))).isoformat()
        since = client.get("/v1/audit/log", params={"since": at}, headers=auditor).json()
        until = client.get("/v1/audit/log", params={"until": at}, headers=auditor).json()
        assert len(since) >= 1 and until == [], (at, since, until)
    for edge in ("0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59"):  # beyond UTC's years: the first, the last
        assert client.get("/v1/audit/log", params={"since": edge}, headers=auditor).status_code == 200


def test_a_session_never_outlives_its_message_whatever_the_zone_it_names(client, members):
    """The session's end was the message's Expiration Time as written: stored in its own zone's
    digits on SQLite and read back as UTC, an expiry two seconds away written at +14:00 made a
    session of fourteen hours, past the session's lifetime (outside probe)."""
    ends = (datetime.now(UTC) + timedelta(seconds=2)).astimezone(timezone(timedelta(hours=14)))
    message, signature = sign_in_message(client, members["auditor"], expiration_time=ends)
    r = client.post("/v1/auth/login", json={"message": message, "signature": signature})
    assert r.status_code == 200, r.text
    headers = {"Authorization": f"Bearer {r.json()['token']}"}
    assert client.get("/v1/me", headers=headers).status_code == 200
    time.sleep(2.2)
    r = client.get("/v1/me", headers=headers)
    assert r.status_code == 401 and "session expired" in r.json()["detail"], r.text
