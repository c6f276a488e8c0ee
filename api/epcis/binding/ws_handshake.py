"""uvicorn's WebSocket protocol, with a malformed handshake refused as this API refuses any bad
request: a 400 in JSON (under /epcis/ an EPCIS problem, as GS1's OpenAPI document types a
subscription's 400), not websockets' `text/plain`. Such a request (`Upgrade: websocket` without a
`Sec-WebSocket-Key`, say) never reaches the application, so it is answered here; a good handshake
goes on as uvicorn's own. Served with it by `api.serve` and by the tests' uvicorn
(`--ws api.epcis.binding.ws_handshake:ProblemWebSocketProtocol`)."""

from __future__ import annotations

import json
from http import HTTPStatus

from uvicorn.protocols.websockets.websockets_impl import WebSocketProtocol
from websockets.exceptions import InvalidHandshake
from websockets.legacy.handshake import check_request

from .protocol import PREFIX, problem, problem_media_type

IMPORT = "api.epcis.binding.ws_handshake:ProblemWebSocketProtocol"


def refusal(path: str, why: str) -> tuple[HTTPStatus, list[tuple[str, str]], bytes]:
    """The 400 answering a malformed handshake on `path`."""
    if path == PREFIX or path.startswith(PREFIX + "/"):
        _, body = problem(400, "invalid_websocket_handshake", why, path)
        body.pop("instance")  # the request's absolute URL is not known here without trusting Host
        kind = problem_media_type(400, path)
    else:
        body, kind = {"error": "invalid_websocket_handshake", "detail": why}, "application/json"
    return HTTPStatus.BAD_REQUEST, [("Content-Type", kind)], json.dumps(body).encode()


class ProblemWebSocketProtocol(WebSocketProtocol):
    _release_slot = None

    def hold_slot(self, release) -> None:  # type: ignore[no-untyped-def]
        """The HTTP protocol's count of this client's connections (api.middleware.connections): this
        socket holds its place until it closes, then `release` gives it back."""
        self._release_slot = release

    def connection_lost(self, exc: Exception | None) -> None:
        try:
            super().connection_lost(exc)
        finally:
            release, self._release_slot = self._release_slot, None
            if release is not None:
                release()

    async def process_request(self, path, request_headers):  # type: ignore[no-untyped-def]
        try:
            check_request(request_headers)
        except InvalidHandshake as exc:
            return refusal(path.partition("?")[0], f"not a WebSocket handshake: {exc}")
        return await super().process_request(path, request_headers)
