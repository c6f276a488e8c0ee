"""A revoked device is cut off, even if it is connected at that moment.

Mosquitto 2.0.11 rereads its PSK file on SIGHUP but keeps the connections it has (a revoked device
stays connected; the ACL, rewritten with it, then drops what it publishes). To end that connection
the broker's own rule is used: a client connecting with a client id already connected takes the
id over and the older connection is closed. The device listener sets `use_username_as_clientid`,
so a device's client id is always its PSK identity (a device cannot pick another's id and take
it over); the ingester's account on the loopback listener connects once under the revoked
device's identity with a clean session (which also discards the device's stored session) and
leaves. Before that, the reload is seen to have happened: a TLS-PSK handshake with the revoked
key is refused, so the device's automatic reconnection is refused too.

The dynamic security plugin (shipped in Debian's package) could disable a client instead, but it
authenticates by password: PSK identities are taken as user names without a password check, and
its ACLs would replace the per-device ACL file; the takeover needs neither."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from ledger.errors import LedgerError

from .broker import INGESTER_USER, ingester_password, reload_running
from .mqtt_client import DeviceConnection


def ports(folder: Path) -> tuple[int, int]:
    """The device (TLS-PSK) and loopback ports of the broker configured in `folder`."""
    found = re.findall(r"^listener (\d+)", (folder / "mosquitto.conf").read_text(), re.M)
    return int(found[0]), int(found[1])


def refused(port: int, identity: str, key_hex: str) -> bool:
    try:
        DeviceConnection(port, identity, key_hex, timeout=5).close()
        return False
    except LedgerError:
        return True


def take_over(port: int, password: str, identity: str, timeout: float = 10.0) -> None:
    """Connect on the loopback listener as `identity` (a clean session), closing the connection
    that holds that client id, and leave."""
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=identity, clean_session=True, protocol=mqtt.MQTTv311)
    c.username_pw_set(INGESTER_USER, password)
    answered, failure = threading.Event(), []
    c.on_connect = lambda cl, u, f, rc, p: (failure.append(str(rc)) if rc.is_failure else None, answered.set())
    c.connect("127.0.0.1", port, keepalive=10)
    c.loop_start()
    try:
        if not answered.wait(timeout) or failure:
            raise LedgerError(f"could not take over {identity}'s connection: {failure or 'no answer'}")
    finally:
        c.disconnect()
        c.loop_stop()


def cut_off(folder: Path, psks: dict[str, str], revoked: dict[str, str], timeout: float = 15.0) -> bool:
    """Rewrite the broker's PSK file and ACL to `psks` (the devices still allowed), have it reload,
    wait until each of `revoked` (identity => its old key) is refused, then close any connection
    it still has. Whether a running broker was told."""
    if not reload_running(folder, psks):
        return False
    psk_port, local_port = ports(folder)
    password = ingester_password(folder)
    for identity, key in revoked.items():
        deadline = time.monotonic() + timeout
        while not refused(psk_port, identity, key):
            if time.monotonic() > deadline:
                raise LedgerError(f"the broker still accepts {identity} after its reload")
            time.sleep(0.1)
        take_over(local_port, password, identity)
    return True
