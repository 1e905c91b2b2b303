"""`make serve-prod PORT=8443`: the deploy/ layout on this machine, as a server runs it.

nginx (Debian's binary, a generated config under var/, never /etc/nginx) on https://127.0.0.1:PORT in front of
N ASGI processes (deploy/bin/asgi), one Celery worker and one beat, all from deploy/Procfile run by honcho,
under config.settings.production against DATABASE_URL and REDIS_URL. A self-signed certificate is made at
var/tls/cert.pem (SAN IP:127.0.0.1) if there is none. Ctrl-C or SIGTERM stops every process (honcho).
"""

import argparse
import os
import pwd
import resource
import secrets
import shutil
import socket
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import render  # noqa: E402

NGINX = os.environ.get("FANSI_NGINX", "/usr/sbin/nginx")


def fail(message: str) -> None:
    print(f"serve-prod: {message}", file=sys.stderr)
    raise SystemExit(2)


def free_ports(count: int) -> int:
    """A base port with `count` consecutive free ports (honcho numbers the ASGI processes base, base+1, ...)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + 400 > 65535:
            continue
        if all(port_free(base + i) for i in range(count)):
            return base
    fail("no run of free ports for the ASGI processes")
    return 0


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def local_secret(path: Path) -> str:
    """This checkout's production key: made once (50 random characters), kept in var/, mode 600."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


def self_signed(tls_dir: Path) -> tuple[Path, Path]:
    """var/tls/cert.pem and key.pem for 127.0.0.1 and localhost, unless they are there already."""
    cert, key = tls_dir / "cert.pem", tls_dir / "key.pem"
    if cert.exists() and key.exists():
        return cert, key
    tls_dir.mkdir(parents=True, exist_ok=True)
    if shutil.which("openssl"):
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "825",
                "-subj",
                "/CN=127.0.0.1",
            ]
            + [
                "-addext",
                "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-keyout",
                str(key),
                "-out",
                str(cert),
            ],
            check=True,
            capture_output=True,
        )
    else:
        cryptography_cert(cert, key)
    key.chmod(0o600)
    return cert, key


def cryptography_cert(cert: Path, key: Path) -> None:
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    san = x509.SubjectAlternativeName(
        [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    )
    built = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(san, critical=False)
        .sign(private, hashes.SHA256())
    )
    cert.write_bytes(built.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )


def raise_nofile(target: int = 65536) -> None:
    """Thousands of sockets per process (nginx and the ASGI servers inherit this limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for wanted in ((max(target, hard), max(target, hard)), (hard, hard)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, wanted)
            return
        except (ValueError, OSError):
            continue


def stack_env(args: argparse.Namespace, var: Path) -> dict[str, str]:
    env = dict(os.environ)
    origins = [f"https://127.0.0.1:{args.port}", f"https://localhost:{args.port}"]
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
    if not env.get("SECRET_KEY"):
        env["SECRET_KEY"] = local_secret(var / "secret_key")
    env.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
    env.setdefault("CSRF_TRUSTED_ORIGINS", ",".join(origins))
    env.setdefault("FANSI_SITE_URL", origins[0])
    env.setdefault("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
    env["FANSI_SERVE_FILES"] = "0"  # nginx serves /static/ and /media/products/
    env["FANSI_CLIENT_IP_HEADER"] = env.get("FANSI_CLIENT_IP_HEADER") or "HTTP_X_REAL_IP"
    env["FANSI_VAR_DIR"] = str(var)
    env["FANSI_PYTHON"] = sys.executable
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def manage(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env)
    if done.returncode != 0:
        fail(f"manage.py {' '.join(args)} failed ({done.returncode})")


def write_layout(args: argparse.Namespace, var: Path, base: int, cert: Path, key: Path, env: dict) -> Path:
    """nginx's config under var/<run>/nginx/ and the Procfile honcho runs: deploy/Procfile plus nginx."""
    prefix = var / "nginx"
    for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    static_root = ROOT / "staticfiles"
    media_root = Path(env.get("FANSI_MEDIA_ROOT") or ROOT / "media")
    site = render.site(
        server_name="127.0.0.1 localhost",
        listen=f"127.0.0.1:{args.port}",
        asgi_ports=[base + i for i in range(args.asgi)],
        cert=str(cert),
        key=str(key),
        static_root=str(static_root),
        media_root=str(media_root),
        access_log=str(prefix / "access.log"),
        http_redirect=False,
        upstream_header=True,
    )
    (prefix / "fansi.conf").write_text(site)
    user = pwd.getpwuid(os.geteuid()).pw_name if os.geteuid() == 0 else None
    main = render.local_main(prefix=prefix, user=user, worker_connections=args.worker_connections)
    (prefix / "nginx.conf").write_text(main)
    check = subprocess.run(
        [NGINX, "-t", "-p", str(prefix), "-c", str(prefix / "nginx.conf")], capture_output=True, text=True
    )
    if check.returncode != 0:
        fail(f"nginx -t refused the generated config:\n{check.stderr}")
    procfile = var / "Procfile"
    lines = [line for line in (HERE / "Procfile").read_text().splitlines()]
    lines.append(f"nginx: exec {NGINX} -p {prefix} -c {prefix / 'nginx.conf'}")
    procfile.write_text("\n".join(lines) + "\n")
    return procfile


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8443")))
    parser.add_argument("--asgi", type=int, default=2, help="ASGI processes (one per core)")
    parser.add_argument("--asgi-base-port", type=int, default=0, help="first ASGI port; 0 picks free ones")
    parser.add_argument(
        "--var", type=Path, default=ROOT / "var" / "prod", help="this run's state and configs"
    )
    parser.add_argument("--tls-dir", type=Path, default=ROOT / "var" / "tls")
    parser.add_argument("--worker-connections", type=int, default=16384)
    parser.add_argument("--skip-setup", action="store_true", help="no migrate/collectstatic")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not os.environ.get(name)]
    if missing:
        fail(
            f"{' and '.join(missing)} must be set: the production layout runs against PostgreSQL and Redis, e.g.\n"
            "  DATABASE_URL=postgres://postgres@127.0.0.1:5432/fansi REDIS_URL=redis://127.0.0.1:6379/0 "
            "make serve-prod PORT=8443"
        )
    if not Path(NGINX).exists():
        fail(f"nginx not found at {NGINX} (apt-get install nginx-light, or set FANSI_NGINX)")
    if not port_free(args.port):
        fail(f"port {args.port} is in use")
    var = args.var.resolve()
    var.mkdir(parents=True, exist_ok=True)
    raise_nofile()
    env = stack_env(args, var)
    cert, key = self_signed(args.tls_dir.resolve())
    if not args.skip_setup:
        manage(env, "migrate", "--noinput")
        manage(env, "collectstatic", "--noinput", "-v", "0")
    base = args.asgi_base_port or free_ports(args.asgi)
    # Metrics (docs/metrics.md): every process writes to one multiprocess dir, emptied before they start, and
    # the internal listener adds them up on 127.0.0.1 only (never behind the public nginx server).
    metrics_dir = var / "prometheus"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    env.setdefault("FANSI_METRICS_PORT", str(free_ports(1)))
    procfile = write_layout(args, var, base, cert, key, env)
    honcho = Path(sys.executable).parent / "honcho"
    command = [str(honcho), "start", "-f", str(procfile), "-d", str(ROOT), "-p", str(base)]
    command += ["-c", f"asgi={args.asgi},worker=1,beat=1,metrics=1,nginx=1"]
    ports = ", ".join(str(base + i) for i in range(args.asgi))
    print(
        f"serve-prod: https://127.0.0.1:{args.port}/ (nginx) -> ASGI on 127.0.0.1:{ports}; metrics on "
        f"http://127.0.0.1:{env['FANSI_METRICS_PORT']}/metrics (internal); Ctrl-C stops all",
        flush=True,
    )
    os.chdir(ROOT)
    os.execve(str(honcho), command, env)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
