"""The load balancer: HAProxy from Debian's `haproxy` package, in the foreground.

Each node is checked on /readyz every second and taken out after two failed checks, or at
once when a connection to it is refused (a node killed mid-load); a request whose
connection failed is sent to the other node. When no node is ready (every node's readiness
fails on a part they share, e.g. the queue Redis during a Sentinel failover), requests go
to the nodes that are alive on /healthz instead of all getting a 503: the app itself
carries on without Redis and answers 503 + Retry-After when PostgreSQL is away. Every
response says which node served it in X-Served-By.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from apps.core.cluster.process import Process

SERVED_BY_HEADER = "X-Served-By"
INSTALL_COMMAND = "sudo apt-get install -y haproxy"
ERR_NO_HAPROXY = (
    "make cluster needs HAProxy (Debian's package), which is not installed. "
    f"Install it with: {INSTALL_COMMAND}"
)

_CONFIG = """\
global
    maxconn 4096
    # To haproxy.log (the process's stdout): only requests that went wrong (a 5xx, a
    # connection closed early, a timeout, a retry or redispatch), with HAProxy's reason.
    log stdout format raw local0 info

defaults
    mode http
    log global
    option httplog
    option dontlog-normal
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout http-request 10s
    timeout check 2s
    retries 2
    option redispatch 1
    option forwardfor

frontend web
    bind 127.0.0.1:{port}
    use_backend live if {{ nbsrv(ready) eq 0 }}
    default_backend ready
"""
_BACKEND = """
backend {backend}
    option httpchk
    http-check send meth GET uri {check} ver HTTP/1.1 hdr Host localhost
    http-check expect status 200
    default-server inter 1s fall 2 rise 2 observe layer4 error-limit 1 on-error mark-down
    http-response set-header {header} %[srv_name]
{servers}
"""


def haproxy_binary() -> str:
    path = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")
    if path is None:
        raise FileNotFoundError(ERR_NO_HAPROXY)
    return path


def haproxy(folder: Path, *, port: int, nodes: dict[str, int]) -> Process:
    """A Process (not started) balancing `port` over {node name: port}."""
    binary = haproxy_binary()
    folder.mkdir(parents=True, exist_ok=True)
    servers = "\n".join(f"    server {name} 127.0.0.1:{p} check" for name, p in nodes.items())
    config = folder / "haproxy.cfg"
    backends = [
        _BACKEND.format(backend=backend, check=check, header=SERVED_BY_HEADER, servers=servers)
        for backend, check in (("ready", "/readyz"), ("live", "/healthz"))
    ]
    config.write_text(_CONFIG.format(port=port) + "".join(backends))
    # -db: stay in the foreground, so this process is the one to stop.
    return Process("haproxy", [binary, "-db", "-f", str(config)], folder / "haproxy.log")
