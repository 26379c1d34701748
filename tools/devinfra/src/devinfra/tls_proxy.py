"""A TLS-terminating reverse proxy in front of the services, as every deployment has one (the
Ingress's ingress-nginx in deploy/k8s): Debian's nginx, run as an ordinary process, with a
certificate made here at start (a throw-away CA and a leaf for ``localhost``).

Each proxied service gets an https port of its own on ``localhost``; nginx forwards plain http
to the service with ``X-Forwarded-Proto``, ``X-Forwarded-Host`` and ``X-Forwarded-For``, which
the service believes only because loopback is in its TRUSTED_PROXIES.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from devinfra.certificates import Certificate, make_certificate
from devinfra.errors import InfraError
from devinfra.processes import free_port, port_accepts, stop_process, wait_until

NGINX = Path("/usr/sbin/nginx")
HOST = "localhost"


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
  # Bodies and answers stay in memory: started by root, the workers run as `nobody`, which
  # cannot enter a run directory under a 0700 one (a clone in `mktemp -d` or /root), and a
  # temp file there turns a 20 KB body into nginx's own 500.
  client_max_body_size 1m;
  client_body_buffer_size 1m;
  proxy_max_temp_file_size 0;
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
