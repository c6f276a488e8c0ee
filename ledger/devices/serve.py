"""`python -m ledger.devices.serve`: the project's broker and ingester for `make run DEVICES=1`.

The broker's files live in `LEDGER_MQTT_DIR` (default `<data dir>/mqtt`); devices connect to
`LEDGER_MQTT_PSK_PORT` (default 8883) with TLS 1.2 PSK, the ingester to `LEDGER_MQTT_LOCAL_PORT`
(default 1884) on loopback. Devices registered or revoked through the API are picked up by
rewriting the PSK file and a SIGHUP (`broker.reload_running`). Runs until SIGTERM or Ctrl-C."""

from __future__ import annotations

import logging
import signal
import threading

from ledger.chain.client import connect
from ledger.chain.deploy import attach
from ledger.config import env
from ledger.devices.broker import Broker, broker_dir
from ledger.devices.ingester import Ingester
from ledger.devices.registry import ChainStatus, psk_table
from ledger.store.db import make_engine, migrate, session_factory


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    engine = make_engine()
    migrate(engine)
    sessions = session_factory(engine)
    with sessions() as db:
        psks = psk_table(db)
    broker = Broker(
        broker_dir(),
        env().mqtt_psk_port,
        env().mqtt_local_port,
    ).start(psks)
    chain = ChainStatus(attach(connect()))
    ingester = Ingester(sessions, broker.local_port, broker.ingester_password, chain).start()
    logging.info("devices: TLS-PSK on 127.0.0.1:%d, %d devices; ingesting", broker.psk_port, len(psks))
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        while not done.wait(60):
            logging.info("devices: %s", dict(ingester.stats))
    except KeyboardInterrupt:
        pass
    finally:
        ingester.stop()
        broker.stop()


if __name__ == "__main__":
    main()
