"""A bearer-token service for the distribution registry's ``auth: token`` mode.

The registry answers 401 with ``WWW-Authenticate: Bearer realm=...``; clients
fetch a JWT from this service (``GET /token?service=...&scope=...``, with basic
credentials or anonymously) and retry with ``Authorization: Bearer <jwt>``.  The
JWT is signed with ES256 by a key whose self-signed certificate the registry
trusts (``rootcertbundle``), and names the certificate in its ``x5c`` header, as
Docker Hub's and Harbor's token services do.  Anonymous callers may pull
repositories under ``public/`` only; the configured user may pull and push.
"""

from __future__ import annotations

import base64
import datetime
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import attrs

ISSUER = "runlayer-tf-test-issuer"
SERVICE = "runlayer-tf-test-registry"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def self_signed(common_name: str, *, ip: str | None = None):  # type: ignore[no-untyped-def]
    """An EC P-256 key and a self-signed CA certificate for ``common_name`` (and ``ip`` as its SAN)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if ip is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
            critical=False,
        )
    builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    return key, builder.sign(key, hashes.SHA256())


def make_signing_key(directory: Path):
    """An EC P-256 key and a self-signed certificate (PEM written to ``directory/root.crt``)."""
    from cryptography.hazmat.primitives import serialization

    key, cert = self_signed("runlayer-tf test token signer")
    (directory / "root.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert.public_bytes(serialization.Encoding.DER)


def sign_jwt(key, cert_der: bytes, claims: dict) -> str:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    header = {"typ": "JWT", "alg": "ES256", "x5c": [base64.b64encode(cert_der).decode()]}
    signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


@attrs.define
class TokenServer:
    """Issues registry tokens on 127.0.0.1; ``realm`` is its token URL."""

    directory: Path
    credentials: tuple[str, str]
    issued: list[dict] = attrs.field(factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def realm(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/token"

    def start(self) -> TokenServer:
        key, cert_der = make_signing_key(self.directory)
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                url = urlsplit(self.path)
                params = parse_qs(url.query)
                user = None
                auth = self.headers.get("Authorization", "")
                if auth.startswith("Basic "):
                    name, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                    if (name, password) != server_self.credentials:
                        self.send_response(401)
                        self.end_headers()
                        return
                    user = name
                access = []
                for scope in params.get("scope", []):
                    kind, _, rest = scope.partition(":")
                    repository, _, actions = rest.rpartition(":")
                    wanted = actions.split(",")
                    granted = (
                        wanted
                        if user
                        else [a for a in wanted if a == "pull" and repository.startswith("public/")]
                    )
                    if kind == "repository" and granted:
                        access.append(
                            {"type": "repository", "name": repository, "actions": granted}
                        )
                now = int(time.time())
                claims = {
                    "iss": ISSUER,
                    "sub": user or "",
                    "aud": params.get("service", [""])[0],
                    "exp": now + 300,
                    "nbf": now - 10,
                    "iat": now,
                    "jti": secrets.token_hex(8),
                    "access": access,
                }
                server_self.issued.append({"user": user, "access": access})
                token = sign_jwt(key, cert_der, claims)
                body = json.dumps(
                    {"token": token, "access_token": token, "expires_in": 300}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def registry_auth_config(self) -> str:
        return (
            "auth:\n  token:\n"
            f"    realm: {self.realm}\n"
            f"    service: {SERVICE}\n"
            f"    issuer: {ISSUER}\n"
            f"    rootcertbundle: {self.directory / 'root.crt'}\n"
        )
