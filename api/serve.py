"""Serve the API with one process per core, each listening on the same port with a socket of its
own (SO_REUSEPORT), so that the kernel spreads connections evenly over the processes.

`uvicorn --workers N` shares one listening socket, and whichever process accepts first takes the
connection: under 50 keep-alive clients we counted 46 on one worker and 4 on the other, whose
clients then waited twice as long. With a socket per process the kernel picks by a hash of each
connection's addresses instead.

    python -m api.serve --host 127.0.0.1 --port 8000 --workers 2

The processes share the database and data directory as uvicorn's workers do (migrations, the
EPCIS anchorer and SQLite writers take locks across processes). SIGINT/SIGTERM stop them all. A
worker that ends otherwise (killed, out of memory) is replaced at once, as gunicorn's arbiter does;
workers that keep ending (more than 5 times in 30 s: a broken configuration, say) stop the
launcher with the last one's status, rather than restarting forever.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time

#: a worker that ends is replaced, unless workers end more than CRASH_LIMIT times in CRASH_WINDOW_S
CRASH_LIMIT, CRASH_WINDOW_S = 5, 30.0


def listening_socket(host: str, port: int) -> socket.socket:
    family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(addr)
    sock.listen(2048)
    return sock


def _child(host: str, port: int, log_level: str) -> None:
    import uvicorn

    from ledger.config import env

    # X-Forwarded-For is believed only from proxies named in LEDGER_TRUSTED_PROXIES (none by
    # default): uvicorn would otherwise take it from any client on 127.0.0.1, who could then
    # rotate it to reset rate limits and forge the networks a code was scanned from
    trusted = env().trusted_proxies.strip()
    config = uvicorn.Config(
        "api.app:app",
        host=host,
        port=port,
        log_level=log_level,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        ws="api.epcis.binding.ws_handshake:ProblemWebSocketProtocol",  # a malformed handshake answered in JSON
        http="api.middleware.connections:GuardedHttpProtocol",  # a deadline for headers, a cap per client
    )
    uvicorn.Server(config).run(sockets=[listening_socket(host, port)])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m api.serve", description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--log-level", default="info")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        _child(args.host, args.port, args.log_level)
        return 0
    listening_socket(args.host, args.port).close()  # a port in use fails here, once, not in every child
    cmd = [sys.executable, "-m", "api.serve", "--child", "--host", args.host, "--port", str(args.port)]
    procs = [subprocess.Popen([*cmd, "--log-level", args.log_level]) for _ in range(max(1, args.workers))]

    stopping = []

    def stop(*_: object) -> None:
        stopping.append(True)
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    deaths: list[float] = []
    died = None
    try:
        while not stopping and died is None:
            time.sleep(0.2)
            for i, proc in enumerate(procs):
                if proc.poll() is None or stopping:
                    continue
                now = time.monotonic()
                deaths[:] = [t for t in deaths if now - t < CRASH_WINDOW_S] + [now]
                if len(deaths) > CRASH_LIMIT:
                    died = proc  # dying as fast as it starts: restarting would hide the cause
                    break
                print(f"api.serve: worker {proc.pid} ended with status {proc.returncode}; starting another",
                      file=sys.stderr, flush=True)  # fmt: skip
                procs[i] = subprocess.Popen([*cmd, "--log-level", args.log_level])
    finally:
        stop()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    if died is None:
        return 0  # stopped as asked (uvicorn re-raises the signal it stopped on: its code is -15)
    print(f"api.serve: workers ended {len(deaths)} times in {CRASH_WINDOW_S} s (last {died.pid}, status "
          f"{died.returncode}); stopped the others", file=sys.stderr)  # fmt: skip
    return died.returncode if died.returncode > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
