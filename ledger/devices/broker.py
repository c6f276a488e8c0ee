"""The project's Mosquitto broker: a TLS 1.2 PSK listener for devices and a loopback listener for
the ingester, configured from files this module writes.

Devices connect with their PSK identity as user name (`use_identity_as_username`) and may write
only `devices/<identity>/...` (an ACL pattern). The ingester signs in on the loopback listener with
a password (hashed by `mosquitto_passwd`) and may only read `devices/#`. The PSK file is the one
place a device key sits in the clear (Mosquitto reads it so): 0600 in the broker's own folder,
rewritten whole from the sealed copies in the database whenever a device is added or revoked,
with the ACL; then the broker rereads both (SIGHUP): a revoked device cannot connect again, and
`revocation.cut_off` closes the connection it may still have (Mosquitto 2.0 keeps it open on a
reload). A device's client id is its identity (`use_username_as_clientid`).
QoS 1 messages for an offline persistent session are kept up to `max_queued` (Mosquitto's default,
1,000, drops the rest silently)."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from ledger.access.sealed import seal, unseal
from ledger.config import env
from ledger.errors import LedgerError
from ledger.paths import data_dir

INGESTER_USER = "ingester"
PSK_HINT = "traceledger-devices"
#: TLS 1.2 PSK suites, AEAD only
PSK_CIPHERS = "PSK-AES256-GCM-SHA384:PSK-AES128-GCM-SHA256:PSK-CHACHA20-POLY1305"
DEFAULT_MAX_QUEUED = 1_000_000


def mosquitto_binary() -> str:
    found = env().mosquitto or shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(found).exists():
        raise LedgerError("Mosquitto is not installed: `apt-get install mosquitto` (make system-deps)")
    return found


def broker_dir() -> Path:
    """`LEDGER_MQTT_DIR` or `<data dir>/mqtt`: where `make run`'s broker keeps its files."""
    return Path(env().mqtt_dir or data_dir() / "mqtt")


def reload_running(folder: Path, psks: dict[str, str]) -> bool:
    """Rewrite the PSK file and ACL of the broker whose files are in `folder` and have it reload
    them (by its pid file), from any process; whether a running broker was told."""
    if not folder.exists():
        return False
    Broker.write_files(folder, psks)
    try:
        os.kill(int((folder / "mosquitto.pid").read_text().strip()), signal.SIGHUP)
        return True
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return False


def ingester_password(folder: Path) -> str:
    """The ingester's password on the loopback listener: made once, kept sealed beside the files."""
    path = folder / "ingester.sealed"
    if not path.exists():
        path.write_bytes(seal(secrets.token_urlsafe(24).encode()))
        path.chmod(0o600)
    return unseal(path.read_bytes()).decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    tmp.replace(path)


@dataclass
class Broker:
    """A Mosquitto of our own under `folder`; `psk_port` for devices, `local_port` for the ingester."""

    folder: Path
    psk_port: int = 0
    local_port: int = 0
    max_queued: int = DEFAULT_MAX_QUEUED
    proc: subprocess.Popen | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.psk_port = self.psk_port or free_port()
        self.local_port = self.local_port or free_port()

    @property
    def ingester_password(self) -> str:
        return ingester_password(self.folder)

    def write_config(self, psks: dict[str, str]) -> Path:
        f = self.folder
        (f / "store").mkdir(exist_ok=True)
        self.write_psks(psks)
        _write_private(
            f / "ingester.acl", f"user {INGESTER_USER}\ntopic read devices/#\ntopic write devices/+/receipts\n"
        )
        pw = f / "ingester.passwd"
        _write_private(pw, "")
        subprocess.run(
            ["mosquitto_passwd", "-b", str(pw), INGESTER_USER, self.ingester_password],
            check=True,
            capture_output=True,
        )
        conf = f"""# written by ledger.devices.broker; rewritten on every start
per_listener_settings true
user {pwd.getpwuid(os.getuid()).pw_name}
pid_file {f / "mosquitto.pid"}
persistence true
persistence_location {f / "store"}/
autosave_interval 5
max_queued_messages {self.max_queued}
max_inflight_messages 0
log_dest file {f / "mosquitto.log"}
log_type error
log_type warning
log_type notice
connection_messages true

listener {self.psk_port} 127.0.0.1
psk_hint {PSK_HINT}
psk_file {f / "psk"}
use_identity_as_username true
use_username_as_clientid true
tls_version tlsv1.2
ciphers {PSK_CIPHERS}
allow_anonymous false
acl_file {f / "device.acl"}

listener {self.local_port} 127.0.0.1
allow_anonymous false
password_file {pw}
acl_file {f / "ingester.acl"}
"""
        _write_private(f / "mosquitto.conf", conf)
        return f / "mosquitto.conf"

    def write_psks(self, psks: dict[str, str]) -> None:
        self.write_files(self.folder, psks)

    @staticmethod
    def write_files(folder: Path, psks: dict[str, str]) -> None:
        """identity => key (hex) of every device allowed to connect now."""
        for ident, key in psks.items():
            if not ident.replace("-", "").isalnum() or not key or any(c not in "0123456789abcdef" for c in key):
                raise LedgerError(f"bad PSK entry for {ident!r}")
        _write_private(folder / "psk", "".join(f"{i}:{k}\n" for i, k in sorted(psks.items())))
        # one rule per device, not a %u pattern: a revoked device still connected when the broker
        # reloads (Mosquitto 2.0 keeps PSK sessions open) can then no longer publish anything
        # each device reads its own receipts from the ingester (and nothing else)
        acl = "".join(f"user {i}\ntopic write devices/{i}/#\ntopic read devices/{i}/receipts\n" for i in sorted(psks))
        _write_private(folder / "device.acl", acl)

    def start(self, psks: dict[str, str], timeout: float = 20.0) -> Broker:
        conf = self.write_config(psks)
        with open(self.folder / "stdout.log", "ab") as log:
            self.proc = subprocess.Popen([mosquitto_binary(), "-c", str(conf)], stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while not all(self._listening(p) for p in (self.psk_port, self.local_port)):
            if self.proc.poll() is not None:
                raise LedgerError(f"mosquitto exited ({self.proc.returncode}): see {self.folder / 'mosquitto.log'}")
            if time.monotonic() > deadline:
                self.stop()
                raise LedgerError("mosquitto did not start listening in time")
            time.sleep(0.05)
        return self

    @staticmethod
    def _listening(port: int) -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            return False

    def reload(self, psks: dict[str, str]) -> None:
        """Rewrite the PSK file and have the broker reread it (and drop clients no longer in it)."""
        self.write_psks(psks)
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGHUP)

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # Mosquitto saves its persistent store on SIGTERM
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> Broker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
