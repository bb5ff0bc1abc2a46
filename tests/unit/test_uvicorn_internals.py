"""uvicorn's internals that ``parley.server_protocol`` and ``parley.http_protocol`` rely on are
still the ones they were written against.

Both subclass uvicorn's protocols, override some of their methods and read and set their
attributes. A new uvicorn may rename an attribute, or pause and resume reading in a new place
the overrides do not know of, and nothing else would say so: the protection against a ping
flood or a slow client would just stop working. So each method they override or depend on
is pinned here by a digest of its source. When this fails after an upgrade, read the
changed method against the module named, adjust the module if need be, and record the new
digest (and widen uvicorn's range in pyproject.toml).
"""

from __future__ import annotations

import hashlib
import inspect
from importlib.metadata import version

import pytest
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from parley.http_protocol import BoundedHttpProtocol
from parley.server_protocol import DirectWriteProtocol

# (class, method): the first 16 hex digits of the SHA-256 of its source, uvicorn 0.54.0.
READ_AGAINST_SERVER_PROTOCOL = {
    "__init__": "631dcd744eab875f",  # the attributes read and set
    "run_asgi": "662375aa38d9044c",  # calls self.app; logs an incomplete handshake
    "send": "d4919ed760ce9f7b",  # initial_response, close_sent; resumes reading on close
    "receive": "1dc0e715390021a1",  # overridden: read_paused, queue
    "data_received": "c89d394077d8841d",
    "send_receive_event_to_app": "a2b10de91477dc1d",  # pauses reading for a data frame
    "handle_ping": "41bcf345d372c55c",  # writes the pong
    "pause_writing": "4830f7e0d81f877d",
    "resume_writing": "ef79384e5fff077c",
    "connection_lost": "dd116afc4d8034e1",  # disconnected, writable
}
READ_AGAINST_HTTP_PROTOCOL = {
    "__init__": "4f08999410347141",
    "connection_made": "6efb565ff3d36b91",
    "connection_lost": "c91a4c9bf2e29c55",
    "data_received": "010a7ae59a5d3b1a",  # cancels the keep-alive timer on any data
    "on_message_begin": "96d377fdc7c2baef",
    "on_headers_complete": "1ea8589acfad92d8",
    "on_body": "dba9c32aeba35b6a",  # drops a body's rest once the response is complete
    "on_message_complete": "1fbad42dc31fc01f",
    "on_response_complete": "64e254f28e389e76",  # arms keep-alive; the cycle calls it
}


def _digest(cls: type, name: str) -> str:
    source = inspect.getsource(getattr(cls, name))
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def test_uvicorn_is_a_release_the_protocols_were_read_against() -> None:
    major, minor, *_ = version("uvicorn").split(".")
    assert (int(major), int(minor)) == (0, 54), (
        f"uvicorn {version('uvicorn')}: re-read the methods below, then widen the range"
    )


@pytest.mark.parametrize(
    ("uvicorn_class", "ours", "name", "digest"),
    [
        *(
            pytest.param(WebSocketsSansIOProtocol, DirectWriteProtocol, name, digest, id=name)
            for name, digest in READ_AGAINST_SERVER_PROTOCOL.items()
        ),
        *(
            pytest.param(HttpToolsProtocol, BoundedHttpProtocol, name, digest, id=f"http-{name}")
            for name, digest in READ_AGAINST_HTTP_PROTOCOL.items()
        ),
    ],
)
def test_the_uvicorn_methods_relied_on_are_unchanged(
    uvicorn_class: type, ours: type, name: str, digest: str
) -> None:
    assert issubclass(ours, uvicorn_class)
    assert _digest(uvicorn_class, name) == digest, (
        f"uvicorn's {uvicorn_class.__name__}.{name} changed: read it against "
        f"{ours.__module__} ({ours.__name__}) before trusting its bounds again"
    )


def test_the_attributes_relied_on_exist() -> None:
    # Read from the source, for instances need a running server to exist.
    for name in ("read_paused", "queue", "writable", "initial_response", "handshake_complete"):
        assert name in inspect.getsource(WebSocketsSansIOProtocol.__init__), name
    for name in ("close_sent", "disconnected", "transport", "loop", "conn"):
        assert f"self.{name}" in inspect.getsource(WebSocketsSansIOProtocol), name
    for name in ("transport", "loop", "cycle", "on_response_complete"):
        assert f"self.{name}" in inspect.getsource(HttpToolsProtocol), name
