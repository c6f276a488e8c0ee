"""What the EPCIS domain mounts: `/v1/epcis`, the GS1 binding under `/epcis/`, `/v1/compliance`;
the binding's error format and the capture paths' body cap."""

from __future__ import annotations

from ..core.domain import Domain, PathPolicy
from . import compliance, v1
from .binding import capture, events, queries, sockets
from .binding.protocol import PREFIX, render_problem

CAPTURE_PATHS = ("/v1/epcis/capture", "/epcis/capture", "/epcis/events")

DOMAIN = Domain(
    "epcis",
    (v1.router, capture.router, queries.router, sockets.router, events.router, compliance.router),
    (
        PathPolicy(prefixes=CAPTURE_PATHS, body_limit="max_capture_bytes"),  # documents of many events
        # the binding: RFC 7807 problems; OPTIONS answered on every path (`protocol`)
        PathPolicy(prefixes=(PREFIX,), render_error=render_problem, answers_options=True),
    ),
)
