"""MQTT clients: a device over TLS 1.2 PSK (paho-mqtt + sslpsk3, since Python's ssl has PSK only
from 3.13) and the ingester's loopback connection."""

from __future__ import annotations

import ssl
import threading

import paho.mqtt.client as mqtt
from sslpsk3 import SSLPSKContext

from ledger.devices.broker import PSK_CIPHERS
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
    """A device's connection: connect (raises when refused), publish QoS 1 and wait for PUBACK."""

    def __init__(self, port: int, identity: str, key_hex: str, timeout: float = 15.0):
        self.identity, self.timeout = identity, timeout
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=identity, protocol=mqtt.MQTTv311)
        self.client.tls_set_context(psk_context(identity, key_hex))
        self._connected = threading.Event()
        self._refused: str | None = None
        self.client.on_connect = self._on_connect
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

    def _on_connect(self, client, userdata, flags, reason, props) -> None:
        if reason.is_failure:
            self._refused = str(reason)
        self._connected.set()

    @property
    def connected(self) -> bool:
        return self.client.is_connected()

    def publish(self, payload: bytes, subtopic: str | None = None, wait: bool = True) -> mqtt.MQTTMessageInfo:
        info = self.client.publish(subtopic or topic(self.identity), payload, qos=1)
        if info.rc == mqtt.MQTT_ERR_NO_CONN and self._connected.wait(self.timeout):
            # dropped and reconnecting (paho's loop reconnects and resends what was in flight)
            info = self.client.publish(subtopic or topic(self.identity), payload, qos=1)
        if wait:
            info.wait_for_publish(self.timeout)
        return info

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
