"""Credentials for a registry never follow a redirect or a Link page to another host."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from runlayer_tf.errors import RegistryError
from runlayer_tf.registries._base import RegistryAddress
from runlayer_tf.registries._oci import Credentials, OciRegistry

CREDS = Credentials("deploy", "s3cr3t-password")
BASIC = "Basic " + base64.b64encode(b"deploy:s3cr3t-password").decode()


def serve(host, handler):
    server = HTTPServer((host, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def storage():
    """A second host (127.0.0.2) that records the Authorization header it is sent."""
    seen = []

    class Storage(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            seen.append(self.headers.get("Authorization"))
            body = json.dumps({"name": "app", "tags": ["v1.0.0"]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = serve("127.0.0.2", Storage)
    yield server, seen
    server.shutdown()


def registry_redirecting_to(target):
    """A registry on 127.0.0.1 demanding basic auth, then redirecting (307) to ``target(path)``."""
    seen = []

    class Registry(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            seen.append((self.path, self.headers.get("Authorization")))
            if not self.headers.get("Authorization"):
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="r"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.path.startswith("/final"):
                body = b'{"tags": ["v2.0.0"]}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_response(307)
            self.send_header("Location", target(self.server.server_port))
            self.send_header("Content-Length", "0")
            self.end_headers()

    return serve("127.0.0.1", Registry), seen


def test_redirect_to_another_host_drops_the_credentials(storage):
    server, seen = storage
    registry, _ = registry_redirecting_to(
        lambda port: f"http://127.0.0.2:{server.server_port}/v2/app/tags/list"
    )
    reg = OciRegistry(RegistryAddress.parse(f"127.0.0.1:{registry.server_port}"), credentials=CREDS)
    assert list(reg.list_tags("app")) == ["v1.0.0"]
    assert seen == [None]
    registry.shutdown()


def test_redirect_on_the_same_host_keeps_the_credentials():
    registry, seen = registry_redirecting_to(lambda port: f"http://127.0.0.1:{port}/final")
    reg = OciRegistry(RegistryAddress.parse(f"127.0.0.1:{registry.server_port}"), credentials=CREDS)
    assert list(reg.list_tags("app")) == ["v2.0.0"]
    assert seen == [
        ("/v2/app/tags/list?n=1000", None),
        ("/v2/app/tags/list?n=1000", BASIC),
        ("/final", BASIC),
    ]
    registry.shutdown()


def test_link_to_another_host_is_refused():
    from runlayer_tf.registries._oci import Response

    def transport(method, url, headers):
        return Response(
            200,
            {"link": '<https://evil.example.com/v2/app/tags/list?last=a>; rel="next"'},
            b'{"tags": ["a"]}',
        )

    reg = OciRegistry(
        RegistryAddress.parse("registry.example.com"), transport=transport, credentials=CREDS
    )
    with pytest.raises(RegistryError) as info:
        reg.list_tags("app")
    assert str(info.value) == (
        "registry registry.example.com pointed the next tag page at another host "
        "(https://evil.example.com/v2/app/tags/list?last=a); refusing to send credentials there"
    )
