"""Credentials never reach the logs: uvicorn's access lines and WebSocket handshake lines carry the
request's query string, where a WebSocket client may put its session token (`?access_token=`,
browsers cannot set headers on a WebSocket). A filter on uvicorn's loggers replaces the value of
any `access_token` parameter, and any session token or API key (`tls_...`, `tlk_...`) written
elsewhere in a line, with `[redacted]`."""

from __future__ import annotations

import logging
import re


def _spelled_any_way(name: str) -> str:
    """A pattern for `name` as a query parameter's name, each character as itself or
    percent-encoded (the server decodes `acc%65ss_token` to `access_token`)."""
    alternatives = (sorted({re.escape(c), *(f"%{ord(v):02x}" for v in {c.lower(), c.upper()})}) for c in name)
    return "".join("(?:" + "|".join(a) + ")" for a in alternatives)


_SECRET = re.compile(r"(?i)(" + _spelled_any_way("access_token") + r"=)[^&\s\"#]*|\btl[sk]_[A-Za-z0-9_-]{8,}")
LOGGERS = ("uvicorn.access", "uvicorn.error", "uvicorn", "traceledger")


def redact(text: str) -> str:
    return _SECRET.sub(lambda m: (m.group(1) or "") + "[redacted]", text)


class RedactCredentials(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


def install() -> None:
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactCredentials) for f in logger.filters):
            logger.addFilter(RedactCredentials())
