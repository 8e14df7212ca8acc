"""A real uvicorn process serving a test app on 127.0.0.1: started, waited for (bounded) and stopped
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
from collections.abc import Iterator
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


@dataclass
class Served:
    url: str
    output: str = ""  # stdout and stderr, once the process has exited


@contextmanager
def uvicorn(work: Path, app_source: str, *args: str, env: dict[str, str] | None = None) -> Iterator[Served]:
    """`app_source` as `app.py` in `work`, served by `python -m uvicorn app:app` with `args`."""
    (work / "app.py").write_text(app_source)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(work)]), **(env or {})}
    command = [sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", str(port), *args]
    proc = subprocess.Popen(command, cwd=work, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    served = Served(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if get(f"{served.url}/healthz") == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.2)
        yield served
    finally:
        proc.send_signal(signal.SIGTERM)  # what Kubernetes sends
        try:
            served.output, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            served.output, _ = proc.communicate(timeout=10)
