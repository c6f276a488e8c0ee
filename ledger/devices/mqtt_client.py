"""MQTT clients: a device over TLS 1.2 PSK (paho-mqtt + sslpsk3, since Python's ssl has PSK only
from 3.13) and the ingester's loopback connection."""

from __future__ import annotations

import hashlib
import json
import ssl
import threading
import time

import paho.mqtt.client as mqtt
from sslpsk3 import SSLPSKContext

from ledger.devices.broker import PSK_CIPHERS
from ledger.devices.ingester import receipt_topic
from ledger.errors import LedgerError


def psk_context(identity: str, key_hex: str) -> ssl.SSLContext:
    ctx = SSLPSKContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(PSK_CIPHERS)
    key = bytes.fromhex(key_hex)
    ctx.set_psk_client_callback(lambda hint: (identity, key))
    return ctx


def topic(identity: str) -> str:
    return f"devices/{identity}/batches"


class DeviceConnection:
    """A device's connection: connect (raises when refused), publish QoS 1 and wait for PUBACK.

    With `receipts`, PUBACK is not the end: every batch is kept until the ingester's receipt says
    it is final (recorded, a duplicate or refused), and `resend()` publishes again those without
    one after `resend_after` seconds (a broker killed with SIGKILL loses what it acknowledged
    since its last autosave; the ingester's replay window takes the duplicates). A background
    thread calls it every `resend_after` seconds unless `resend_after` is None."""

    def __init__(
        self,
        port: int,
        identity: str,
        key_hex: str,
        timeout: float = 15.0,
        receipts: bool = False,
        resend_after: float | None = 5.0,
    ):
        self.identity, self.timeout, self.receipts, self.resend_after = identity, timeout, receipts, resend_after
        self._pending: dict[str, tuple[str, bytes, float]] = {}  # sha256 => (topic, payload, last sent)
        self._plock = threading.Lock()
        self.resent = 0
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=identity, protocol=mqtt.MQTTv311)
        self.client.tls_set_context(psk_context(identity, key_hex))
        self._connected = threading.Event()
        self._refused: str | None = None
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_receipt
        self._closing = threading.Event()
        self.client.reconnect_delay_set(0.1, 2)
        self.client.on_disconnect = lambda c, u, f, rc, p: self._connected.clear()
        try:
            self.client.connect("127.0.0.1", port, keepalive=30)
        except (ssl.SSLError, OSError) as e:
            raise LedgerError(f"device {identity}: TLS-PSK refused ({e})") from None
        self.client.loop_start()
        if not self._connected.wait(timeout) or self._refused:
            self.close()
            raise LedgerError(f"device {identity}: connection refused ({self._refused or 'timeout'})")
        if receipts and resend_after is not None:
            threading.Thread(target=self._resender, name=f"resend-{identity}", daemon=True).start()

    def _on_connect(self, client, userdata, flags, reason, props) -> None:
        if reason.is_failure:
            self._refused = str(reason)
        elif self.receipts:  # a clean session: subscribe again on every connect
            client.subscribe(receipt_topic(self.identity), qos=0)
        self._connected.set()

    def _on_receipt(self, client, userdata, msg) -> None:
        try:
            digests = json.loads(msg.payload)
        except ValueError:
            return
        with self._plock:
            for d in digests if isinstance(digests, list) else []:
                self._pending.pop(str(d), None)

    @property
    def pending(self) -> int:
        """Batches sent and not yet final at the ingester (receipts only)."""
        with self._plock:
            return len(self._pending)

    def resend(self, older_than: float | None = None) -> int:
        """Publish again every batch without a receipt sent more than `older_than` s ago."""
        age = self.resend_after if older_than is None else older_than
        now = time.monotonic()
        with self._plock:
            due = [(k, t, p) for k, (t, p, at) in self._pending.items() if now - at >= (age or 0)]
            for k, t, p in due:
                self._pending[k] = (t, p, now)
        for _, t, p in due:
            self.client.publish(t, p, qos=1)
        self.resent += len(due)
        return len(due)

    def _resender(self) -> None:
        while not self._closing.wait(self.resend_after):
            if self.connected:
                self.resend()

    @property
    def connected(self) -> bool:
        return self.client.is_connected()

    def publish(self, payload: bytes, subtopic: str | None = None, wait: bool = True) -> mqtt.MQTTMessageInfo:
        if self.receipts:
            with self._plock:
                self._pending[hashlib.sha256(payload).hexdigest()] = (
                    subtopic or topic(self.identity),
                    payload,
                    time.monotonic(),
                )
        info = self.client.publish(subtopic or topic(self.identity), payload, qos=1)
        if info.rc == mqtt.MQTT_ERR_NO_CONN and self._connected.wait(self.timeout):
            # dropped and reconnecting (paho's loop reconnects and resends what was in flight)
            info = self.client.publish(subtopic or topic(self.identity), payload, qos=1)
        if wait:
            info.wait_for_publish(self.timeout)
        return info

    def close(self) -> None:
        self._closing.set()
        self.client.disconnect()
        self.client.loop_stop()
