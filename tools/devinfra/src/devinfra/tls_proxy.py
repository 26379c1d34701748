"""A TLS-terminating reverse proxy in front of the services, as every deployment has one (the
Ingress's ingress-nginx in deploy/k8s): Debian's nginx, run as an ordinary process, with a
certificate made here at start (a throw-away CA and a leaf for ``localhost``).

Each proxied service gets an https port of its own on ``localhost``; nginx forwards plain http
to the service with ``X-Forwarded-Proto``, ``X-Forwarded-Host`` and ``X-Forwarded-For``, which
the service believes only because loopback is in its TRUSTED_PROXIES.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from devinfra.errors import InfraError
from devinfra.processes import free_port, port_accepts, stop_process, wait_until

NGINX = Path("/usr/sbin/nginx")
HOST = "localhost"


@dataclass(frozen=True)
class Certificate:
    ca: Path  # PEM of the CA, for clients that verify (httpx)
    cert: Path  # PEM chain of the leaf, for nginx
    key: Path
    spki_sha256: str  # base64 SHA-256 of the leaf's public key, for Chromium's SPKI allow-list


def make_certificate(
    directory: Path, hosts: tuple[str, ...] = (HOST, "127.0.0.1", "::1")
) -> Certificate:
    """A CA valid for a day and a leaf for ``hosts`` signed by it."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pwreset test CA")])
    ca_key_id = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_key_id, critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    server_auth = x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH])
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(server_auth, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    pem = serialization.Encoding.PEM
    paths = Certificate(
        ca=directory / "ca.pem",
        cert=directory / "localhost.pem",
        key=directory / "localhost.key",
        spki_sha256=base64.b64encode(
            hashlib.sha256(
                key.public_key().public_bytes(
                    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            ).digest()
        ).decode(),
    )
    paths.ca.write_bytes(ca.public_bytes(pem))
    paths.cert.write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    paths.key.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    paths.key.chmod(0o600)
    return paths


def _server(listen_port: int, upstream_port: int, cert: Certificate) -> str:
    listens = f"    listen 127.0.0.1:{listen_port} ssl;\n"
    if _ipv6_loopback():
        listens += f"    listen [::1]:{listen_port} ssl;\n"
    return f"""
  server {{
{listens}    server_name {HOST};
    ssl_certificate {cert.cert};
    ssl_certificate_key {cert.key};
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {{
      proxy_pass http://127.0.0.1:{upstream_port};
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }}
  }}
"""


def _ipv6_loopback() -> bool:
    import socket

    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


@dataclass
class TlsProxy:
    """nginx terminating TLS for ``upstreams`` (name -> plain-http loopback port)."""

    run_dir: Path
    upstreams: dict[str, int]
    ports: dict[str, int] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.run_dir = Path(self.run_dir)
        for name in self.upstreams:
            self.ports.setdefault(name, free_port())
        self.certificate = make_certificate(self.run_dir / "tls")

    def url(self, name: str) -> str:
        return f"https://{HOST}:{self.ports[name]}"

    def start(self, timeout: float = 20.0) -> None:
        if not NGINX.exists():
            raise InfraError(f"{NGINX} is missing: run scripts/install-system-deps.sh")
        temp = self.run_dir / "nginx-temp"
        if temp.exists():
            shutil.rmtree(temp)
        temp.mkdir(parents=True)
        temp.chmod(0o777)  # nginx's workers run as `nobody` when started by root
        log = self.run_dir / "nginx-error.log"
        servers = "".join(
            _server(self.ports[name], port, self.certificate)
            for name, port in self.upstreams.items()
        )
        config = self.run_dir / "nginx.conf"
        config.write_text(
            f"""daemon off;
worker_processes 1;
pid {self.run_dir / "nginx.pid"};
error_log {log} warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {temp}/body;
  proxy_temp_path {temp}/proxy;
  fastcgi_temp_path {temp}/fastcgi;
  uwsgi_temp_path {temp}/uwsgi;
  scgi_temp_path {temp}/scgi;
{servers}}}
"""
        )
        out = log.open("ab")
        self.process = subprocess.Popen(
            [str(NGINX), "-p", str(self.run_dir), "-c", str(config), "-e", str(log)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ},
        )
        out.close()
        wait_until(
            lambda: all(port_accepts("127.0.0.1", p) for p in self.ports.values()),
            timeout=timeout,
            what="nginx (TLS proxy)",
            process=self.process,
            log=log,
        )

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=10)
            self.process = None
