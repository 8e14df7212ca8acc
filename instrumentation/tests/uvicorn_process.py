"""A real server process (uvicorn, gunicorn) serving a test app on 127.0.0.1: started, waited for (bounded) and stopped
with SIGTERM, as Kubernetes stops a pod; its output is collected when it has exited."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"


def get(url: str, headers: dict[str, str] | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5) as response:  # noqa: S310 (127.0.0.1)
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def requests_counted(url: str, path: str) -> float:
    """`http_requests_total` of one route template, summed over its series, as a scrape of `url` shows it."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (127.0.0.1)
        text = response.read().decode()
    return sum(
        s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == "http_requests_total" and s.labels["path"] == path
    )


@dataclass
class Served:
    url: str
    output: str = ""  # stdout and stderr, once the process has exited


@contextmanager
def uvicorn(work: Path, app_source: str, *args: str, env: dict[str, str] | None = None) -> Iterator[Served]:
    """`app_source` as `app.py` in `work`, served by `python -m uvicorn app:app` with `args`."""
    with served_by(work, app_source, lambda port: ["-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", str(port), *args], env) as s:
        yield s


@contextmanager
def gunicorn(work: Path, app_source: str, *args: str, env: dict[str, str] | None = None) -> Iterator[Served]:
    """`app_source` as `app.py` in `work`, served by `python -m gunicorn app:app` with `args`."""
    with served_by(work, app_source, lambda port: ["-m", "gunicorn", "--bind", f"127.0.0.1:{port}", *args, "app:app"], env) as s:
        yield s


def run(work: Path, app_source: str, server_args: list[str], env: dict[str, str] | None = None, timeout_s: float = 30) -> tuple[int, str]:
    """A server that is expected to refuse to start: its exit code and output (bounded)."""
    (work / "app.py").write_text(app_source)
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(work)]), **(env or {})}
    done = subprocess.run([sys.executable, *server_args], cwd=work, env=environment, capture_output=True, text=True, timeout=timeout_s)
    return done.returncode, done.stdout + done.stderr


@contextmanager
def served_by(work: Path, app_source: str, command: Callable[[int], list[str]], env: dict[str, str] | None = None) -> Iterator[Served]:
    """`app_source` as `app.py` in `work`, served by `python <command(port)>`; stopped with SIGTERM."""
    (work / "app.py").write_text(app_source)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(work)]), **(env or {})}
    proc = subprocess.Popen([sys.executable, *command(port)], cwd=work, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    served = Served(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if get(f"{served.url}/healthz") == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        yield served
    finally:
        proc.send_signal(signal.SIGTERM)  # what Kubernetes sends
        try:
            served.output, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            served.output, _ = proc.communicate(timeout=10)
