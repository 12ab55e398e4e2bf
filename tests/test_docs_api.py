"""docs/api.md documents exactly the routes the node and the registrar service serve.

The routes are read from the aiohttp route tables themselves: the node's application is
assembled by ``node.http_service.make_node_app``, the function the node itself serves (client API,
peer routes, voting page, backup), and the registrar's by ``node.registrar.app.make_app``. A route
added without documentation, or documented after it was removed, fails here.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from aiohttp import web

from genesis.document import genesis_hash
from node.config import Limits
from node.homes import make_network
from node.http_service import make_node_app
from node.metrics import Metrics
from node.registrar.app import make_app as make_registrar_app

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"
REGISTRAR_SECTION = "## Registrar service"
HEADING = re.compile(r"^#{2,4} `(GET|POST|PUT|PATCH|DELETE|OPTIONS) (/[^`\s]*)`\s*$", re.M)


def _shape(path: str) -> str:
    """A path with its parameters' names dropped: `/v1/txs/{hash}` and `{id}` are one route."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def _routes(app: web.Application) -> set[tuple[str, str]]:
    # aiohttp answers HEAD on every GET route by itself; docs/api.md says so once.
    return {(r.method, _shape(r.resource.canonical)) for r in app.router.routes()
            if r.method != "HEAD" and r.resource is not None}


def _documented(text: str) -> set[tuple[str, str]]:
    return {(m.group(1), _shape(m.group(2))) for m in HEADING.finditer(text)}


def _node_app(tmp_path: Path) -> web.Application:
    g, _ = make_network(tmp_path / "net", "api-doc", 4, 1, base_port=17900)
    backend: Any = SimpleNamespace()  # routes are only registered, never called
    return make_node_app(g, genesis_hash(g), Limits(), Metrics(), backend, backend, lambda: None)


def _registrar_app() -> web.Application:
    reg: Any = SimpleNamespace(cfg=SimpleNamespace(max_request_bytes=64 * 1024))
    return make_registrar_app(reg)


def test_every_node_route_is_documented_and_nothing_else(tmp_path: Path) -> None:
    node_text, _, _ = DOC.read_text().partition(REGISTRAR_SECTION)
    served, documented = _routes(_node_app(tmp_path)), _documented(node_text)
    assert served - documented == set(), "routes missing from docs/api.md"
    assert documented - served == set(), "docs/api.md documents node routes that do not exist"


def test_every_registrar_route_is_documented_and_nothing_else() -> None:
    _, sep, reg_text = DOC.read_text().partition(REGISTRAR_SECTION)
    assert sep, f"docs/api.md has no '{REGISTRAR_SECTION}' section"
    served, documented = _routes(_registrar_app()), _documented(reg_text)
    assert served - documented == set(), "registrar routes missing from docs/api.md"
    assert documented - served == set(), "docs/api.md documents registrar routes that do not exist"


def test_the_route_tables_are_not_empty(tmp_path: Path) -> None:
    """Guards the two tests above against comparing two empty sets."""
    served = _routes(_node_app(tmp_path))
    assert ("POST", "/v1/txs") in served and ("GET", "/vote/speech/{}/{}/{}.wav") in served
    assert ("POST", "/v1/login/finish") in _routes(_registrar_app())
    assert len(_documented(DOC.read_text())) >= len(served)
