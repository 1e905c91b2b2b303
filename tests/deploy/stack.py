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

    def process_pids(self) -> list[int]:
        """serve.py/honcho and every process under it (honcho starts each child in a session of its own)."""
        return descendants(self.proc.pid)

    def asgi_ports(self) -> list[int]:
        """From serve.py's first line: "... -> ASGI on 127.0.0.1:P1, P2; ..."."""
        import re

        match = re.search(r"ASGI on 127\.0\.0\.1:([\d, ]+);", self.log.read_text(errors="replace"))
        return [int(p) for p in match.group(1).split(",")] if match else []

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def alive(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) and fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root] if alive(root) else []
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def all_listening(ports: list[int]) -> bool:
    """Every ASGI process listens (nginx would otherwise mark a late one failed and skip it for a while)."""
    import socket

    if not ports:
        return False
    for port in ports:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return False
    return True


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def deploy_stack(env: dict[str, str], workdir: Path, *, asgi: int = 2, port: int = 0, setup: bool = True,
                 start_timeout: float = 180, extra: tuple[str, ...] = ()) -> Iterator[Stack]:  # fmt: skip
    port = port or free_port()
    var, tls = workdir / "var", workdir / "tls"
    log = workdir / "serve-prod.log"
    command = [sys.executable, str(ROOT / "deploy" / "serve.py"), "--port", str(port), "--asgi", str(asgi)]
    command += ["--var", str(var), "--tls-dir", str(tls)] + ([] if setup else ["--skip-setup"]) + list(extra)
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
            if stack.cafile.exists() and all_listening(stack.asgi_ports()):
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
    pids = stack.process_pids()
    if stack.proc.poll() is None:
        stack.proc.send_signal(signal.SIGTERM)
    try:
        stack.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in [p for p in pids if alive(p)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if stack.proc.poll() is None:
        stack.proc.kill()
        stack.proc.wait()
