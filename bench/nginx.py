"""A throwaway nginx in front of the bench's ASGI processes, as a deployment has one (issue 17).

Debian's nginx (/usr/sbin/nginx), not daemonised, with its prefix, config, logs and temp paths under a
temp folder: one upstream of the given ports (least_conn, keepalive) and a /ws/ location that upgrades
the connection. It is a bench harness, not the deployment's site (deploy/ holds that); the two are kept
alike where it matters for throughput: HTTP/1.1 to the upstream, Upgrade/Connection headers, no buffering.
"""

import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

CONFIG = """\
worker_processes {workers};
daemon off;
master_process on;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; multi_accept on; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    upstream asgi {{
        least_conn;
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location /ws/ {{
            proxy_pass http://asgi;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_read_timeout 3600s;
            proxy_buffering off;
            tcp_nodelay on;
        }}
        location / {{
            proxy_pass http://asgi;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
        }}
    }}
}}
"""


@dataclass
class Nginx:
    port: int
    proc: subprocess.Popen
    prefix: Path

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: workers finish, then the master exits
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def nginx_config(port: int, upstream_ports: list[int], prefix: Path, workers: int = 1) -> str:
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=0;" for p in upstream_ports)
    return CONFIG.format(workers=workers, prefix=prefix, servers=servers, port=port)


def nginx_start(port: int, upstream_ports: list[int], prefix: Path, workers: int = 1) -> Nginx:
    prefix.mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(nginx_config(port, upstream_ports, prefix, workers))
    log = open(prefix / "stdout.log", "w")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [NGINX, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 15
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"nginx exited early: {(prefix / 'error.log').read_text()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return Nginx(port, proc, prefix)
        if time.monotonic() > deadline:
            proc.kill()
            raise TimeoutError("nginx did not start")
        time.sleep(0.05)
