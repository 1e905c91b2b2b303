"""The deploy/ layout started as `make serve-prod` starts it (deploy/serve.py: nginx, ASGI processes, worker,
beat under honcho), against the test database, for the deployment test and bench/deploy.py."""

import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
NGINX = os.environ.get("FANSI_NGINX", "/usr/sbin/nginx")


@dataclass
class Stack:
    url: str
    proc: subprocess.Popen
    log: Path
    cafile: Path
    var: Path

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cafile))

    def get(self, path: str, timeout: float = 10) -> int:
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout, context=self.context()) as response:
                return response.status
        except urllib.error.HTTPError as err:
            return err.code

    def session_pids(self) -> list[int]:
        """Every process still in the stack's session (honcho gives each child its own process group)."""
        return session_pids(self.proc.pid)

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


def session_pids(sid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":  # field 6 of stat: the session id
            found.append(int(entry.name))
    return found


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def deploy_stack(env: dict[str, str], workdir: Path, *, asgi: int = 2, port: int = 0, setup: bool = True,
                 start_timeout: float = 180) -> Iterator[Stack]:  # fmt: skip
    port = port or free_port()
    var, tls = workdir / "var", workdir / "tls"
    log = workdir / "serve-prod.log"
    command = [sys.executable, str(ROOT / "deploy" / "serve.py"), "--port", str(port), "--asgi", str(asgi)]
    command += ["--var", str(var), "--tls-dir", str(tls)] + ([] if setup else ["--skip-setup"])
    with log.open("w") as out:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    stack = Stack(f"https://127.0.0.1:{port}", proc, log, tls / "cert.pem", var)
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"serve-prod exited with {proc.returncode}:\n{stack.tail()}")
            if stack.cafile.exists():
                try:
                    if stack.get("/readyz", timeout=5) == 200:
                        break
                except OSError:
                    pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"the stack did not become ready:\n{stack.tail()}")
            time.sleep(1)
        yield stack
    finally:
        stop(stack)


def stop(stack: Stack, timeout: float = 40) -> None:
    """SIGTERM to honcho, as Ctrl-C or systemd would; whatever is left after the timeout is killed."""
    if stack.proc.poll() is None:
        stack.proc.send_signal(signal.SIGTERM)
    try:
        stack.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    deadline = time.monotonic() + 10
    while stack.session_pids() and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in stack.session_pids():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if stack.proc.poll() is None:
        stack.proc.kill()
        stack.proc.wait()
