"""A real HTTP server that receives EPCIS webhook deliveries (for the subscription benchmark and
tests): each delivery's headers, raw body and parsed document, and when each event first
arrived; it can answer 500 to the first `fail_first` deliveries, and take `delay_s` to answer
each (a slow receiver)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookReceiver:
    def __init__(self, fail_first: int = 0, delay_s: float = 0.0):
        self.deliveries: list[tuple[dict, dict]] = []
        self.arrived: dict[str, float] = {}
        self.refused = 0
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(delay_s)
                if receiver.refused < receiver.fail_first:
                    receiver.refused += 1
                    self.send_response(500)
                    self.end_headers()
                    return
                doc = json.loads(raw)
                now = time.perf_counter()
                for e in events_of(doc):
                    receiver.arrived.setdefault(e["eventID"], now)
                receiver.deliveries.append((dict(self.headers), {"raw": raw, "doc": doc}))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def event_ids(self) -> list[str]:
        return [e["eventID"] for _, d in self.deliveries for e in events_of(d["doc"])]


def events_of(doc: dict) -> list[dict]:
    return doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
