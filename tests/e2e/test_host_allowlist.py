"""The app's server answers only to the Host names it is reached by (DNS rebinding, issue 11 item 9).

A page from a foreign site that re-points its own name at 127.0.0.1 sends its own name in ``Host``;
``server.allowedHosts`` in ``.streamlit/config.toml`` makes Streamlit refuse that WebSocket, so the
page can neither read the data folder's state nor press a button. The probe speaks the WebSocket
opening handshake (RFC 6455 section 4.1) on a plain socket, as a browser would.
"""

from __future__ import annotations

import base64
import os
import socket
import tomllib

from tests.conftest import REPO


def _handshake(port: int, host: str) -> str:
    """The status line the server answers a WebSocket opening handshake sent with this Host header."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET /_stcore/stream HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: streamlit\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(request.encode())
        answer = b""
        while b"\r\n" not in answer:
            chunk = s.recv(1024)
            if not chunk:
                break
            answer += chunk
    return answer.split(b"\r\n", 1)[0].decode(errors="replace")


def test_the_config_keeps_the_protections_on():
    server = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())["server"]
    assert server["address"] == "127.0.0.1"
    assert server["enableXsrfProtection"] is True and server["enableCORS"] is True
    assert set(server["allowedHosts"]) == {"localhost", "127.0.0.1", "::1"}


def test_a_foreign_host_header_is_refused_and_the_local_names_are_served(app_factory):
    app = app_factory()
    for host in (f"127.0.0.1:{app.port}", f"localhost:{app.port}", "localhost", f"[::1]:{app.port}"):
        assert _handshake(app.port, host).startswith("HTTP/1.1 101"), host
    for host in ("evil.example", f"evil.example:{app.port}", f"localhost.evil.example:{app.port}",
                 f"127.0.0.1.nip.io:{app.port}", f"user@localhost:{app.port}"):
        assert _handshake(app.port, host).startswith("HTTP/1.1 403"), host
