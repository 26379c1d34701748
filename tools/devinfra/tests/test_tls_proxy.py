"""The TLS proxy forwards bodies and answers bigger than nginx's in-memory buffers, even when
its run directory is one nginx's workers cannot enter: started by root, they run as `nobody`,
and a clone under a 0700 directory (`mktemp -d`, /root) left them with "Permission denied" on
their temp files, which nginx turned into a 500 page of its own."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from devinfra.tls_proxy import NGINX, TlsProxy

BIG_ANSWER = b"a" * 300_000  # past proxy_buffers (8 x 4-8 KiB): nginx would spill it to a file


class _Upstream(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self._answer(BIG_ANSWER)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self._answer(str(len(body)).encode())

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[TlsProxy]:
    if not NGINX.exists():
        pytest.fail(f"{NGINX} is missing: run scripts/install-system-deps.sh")
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    closed.chmod(0o700)  # whatever the umask: only its owner may enter
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    thread = threading.Thread(target=upstream.serve_forever, daemon=True)
    thread.start()
    tls_proxy = TlsProxy(closed / "https", {"app": upstream.server_address[1]})
    tls_proxy.start()
    try:
        yield tls_proxy
    finally:
        tls_proxy.stop()
        upstream.shutdown()


def test_bodies_and_answers_past_the_buffers_go_through(proxy: TlsProxy) -> None:
    tls = ssl.create_default_context(cafile=str(proxy.certificate.ca))
    with httpx.Client(base_url=proxy.url("app"), verify=tls, timeout=10) as client:
        posted = client.post("/", content=b"x" * 20_000)
        assert (posted.status_code, posted.text) == (200, "20000")
        fetched = client.get("/")
        assert fetched.status_code == 200
        assert fetched.content == BIG_ANSWER
