"""Fill deploy/nginx/*.template: the public site (for a server's /etc/nginx) and the local main config.

On a server:
    python deploy/render.py --server-name shop.example.com --asgi-ports 8001,8002 \
        --cert /etc/letsencrypt/live/shop.example.com/fullchain.pem \
        --key /etc/letsencrypt/live/shop.example.com/privkey.pem \
        --static-root /srv/fansi/app/staticfiles --media-root /srv/fansi/media > /etc/nginx/sites-available/fansi
"""

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "nginx"

HTTP_REDIRECT = """server {
    listen 80;
    listen [::]:80;
    server_name %s;
    server_tokens off;
    location / {
        return 301 https://$host$request_uri;
    }
}
"""


def fill(template: str, values: dict[str, str]) -> str:
    text = (TEMPLATES / template).read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    if "{{" in text:
        start = text.index("{{")
        raise ValueError(f"{template}: unfilled placeholder {text[start : text.index('}}', start) + 2]}")
    return text


def site(
    *,
    server_name: str,
    listen: str,
    asgi_ports: list[int],
    cert: str,
    key: str,
    static_root: str,
    media_root: str,
    access_log: str = "/var/log/nginx/fansi.access.log",
    max_body: str = "20m",
    http_redirect: bool = True,
    upstream_header: bool = False,
) -> str:
    """The public server. upstream_header adds X-Fansi-Upstream (which ASGI process answered): for the
    deployment test and local runs, where it proves sockets land on different processes; not for a real site."""
    # max_fails=0: a socket refused during a restart still fails over (proxy_next_upstream), but a process
    # slow to accept under a burst of handshakes is never taken out of the upstream.
    servers = "\n".join(f"    server 127.0.0.1:{port} max_fails=0;" for port in asgi_ports)
    header = "    add_header X-Fansi-Upstream $upstream_addr always;" if upstream_header else ""
    return fill(
        "fansi.conf.template",
        {
            "UPSTREAM_SERVERS": servers,
            "HTTP_REDIRECT_SERVER": HTTP_REDIRECT % server_name if http_redirect else "",
            "LISTEN": listen,
            "SERVER_NAME": server_name,
            "TLS_CERT": cert,
            "TLS_KEY": key,
            "MAX_BODY": max_body,
            "ACCESS_LOG": access_log,
            "UPSTREAM_HEADER": header,
            "STATIC_ROOT": static_root.rstrip("/"),
            "MEDIA_ROOT": media_root.rstrip("/"),
        },
    )


def local_main(*, prefix: Path, user: str | None, workers: int = 2, worker_connections: int = 16384) -> str:
    return fill(
        "local-main.conf.template",
        {
            "USER_LINE": f"user {user};" if user else "",
            "WORKERS": str(workers),
            "NOFILE": str(worker_connections * 2 + 1024),
            "PREFIX": str(prefix),
            "WORKER_CONNECTIONS": str(worker_connections),
            "MIME_TYPES": "/etc/nginx/mime.types",
        },
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server-name", required=True)
    parser.add_argument("--listen", default="443", help="e.g. 443 or [::]:443")
    parser.add_argument("--asgi-ports", required=True, help="comma-separated, one per ASGI process")
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--static-root", required=True)
    parser.add_argument("--media-root", required=True)
    parser.add_argument("--max-body", default="20m")
    args = parser.parse_args(argv)
    sys.stdout.write(
        site(
            server_name=args.server_name,
            listen=args.listen,
            asgi_ports=[int(p) for p in args.asgi_ports.split(",")],
            cert=args.cert,
            key=args.key,
            static_root=args.static_root,
            media_root=args.media_root,
            max_body=args.max_body,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
