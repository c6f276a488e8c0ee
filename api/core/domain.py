"""What a domain of `api/` hands the app factory and the layers above its routes, so that the shell
never names a domain's paths: its routers, in the order they are included, and the policies of its
own paths (how its errors are written, how large a body it takes, whether a body is read at all).

A page sets its own Content-Security-Policy on its answer (the scan page, the console); an HTML
answer that carries none gets `DEFAULT_PAGE_CSP` from the guard.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.types import Scope

#: (status, error code, detail, scope) -> (status, body, media type): a domain's own error format
ErrorRenderer = Callable[[int, str, Any, Scope], tuple[int, dict[str, Any], str]]

DEFAULT_PAGE_CSP = (
    b"default-src 'none'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class PathPolicy:
    """Rules for the paths a domain owns: exactly `exact`, or starting with one of `prefixes`, or
    matching `pattern` in full. A field left None says nothing (the next policy, or the default)."""

    exact: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    pattern: re.Pattern[str] | None = None
    #: errors on these paths are written by this renderer instead of `{"error", "detail"}`
    render_error: ErrorRenderer | None = None
    #: the body cap: bytes, or the name of a `Settings` field holding them
    body_limit: int | str | None = None
    #: True: the body is read before credentials are checked (public sign-in)
    public_body: bool | None = None
    #: False: a write is answered before its body is read (the resolver's 405s)
    reads_body: bool | None = None
    #: True: OPTIONS is answered on these paths (discovery), so a 405's `Allow` names it too
    answers_options: bool | None = None

    def matches(self, path: str) -> bool:
        return (
            path in self.exact or path.startswith(self.prefixes) or bool(self.pattern and self.pattern.fullmatch(path))
        )


@dataclass(frozen=True)
class Domain:
    name: str
    routers: tuple[APIRouter, ...]
    policies: tuple[PathPolicy, ...] = ()
    #: what else the domain installs on the app (exception handlers of its own)
    install: Callable[[FastAPI], None] | None = None


@dataclass
class Policies:
    """Every domain's path policies, asked in registration order."""

    entries: list[PathPolicy] = field(default_factory=list)

    def add(self, entries: Iterable[PathPolicy]) -> None:
        self.entries.extend(entries)

    def get(self, path: str, name: str) -> Any:
        for p in self.entries:
            value = getattr(p, name)
            if value is not None and p.matches(path):
                return value
        return None


def policies(scope: Scope) -> Policies:
    """The policies of the app serving this request (set by the app factory)."""
    app = scope.get("app")
    return getattr(getattr(app, "state", None), "policies", None) or Policies()
