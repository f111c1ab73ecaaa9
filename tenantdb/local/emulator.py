"""The local AWS: a moto server on loopback, started with the fidelity layer
(:mod:`tenantdb.local.fidelity`) as a child process we control.

``start`` launches it in its own session (it outlives ``local up``), records its
pid and port in the state directory and waits until it answers; ``stop`` ends
exactly that process; ``reset`` empties every emulated service.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tenantdb.aws import endpoint_answers
from tenantdb.errors import ToolkitError
from tenantdb.local import state
from tenantdb.local.fidelity import SERVER_ENV

NAME = "moto"


@dataclass(frozen=True)
class Emulator:
    url: str
    proc: state.Proc

    @property
    def port(self) -> int:
        return self.proc.port


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def url_for(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def listening(port: int) -> bool:
    """True when something accepts connections on 127.0.0.1:``port``."""
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


answers = endpoint_answers
"""True when a moto server answers its management API at a URL (the probe lives in tenantdb.aws)."""


def start(directory: Path, port: int, *, plain: bool = False, timeout: float = 60.0,
          name: str = NAME) -> Emulator:
    """Start moto (with the fidelity layer unless ``plain``) on 127.0.0.1:``port``; wait until it answers."""
    url = url_for(port)
    if listening(port):
        raise ToolkitError(f"127.0.0.1:{port} is taken by another server; "
                           "stop it or set local_moto_port in the settings")
    directory.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "tenantdb.local.fidelity", "-H", "127.0.0.1", "-p", str(port)]
    if plain:
        cmd.append("--plain")
    env = _server_env(plain)
    with open(directory / f"{name}.log", "ab") as log:
        child = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 env=env, start_new_session=True)
    proc = state.record(directory, name, child.pid, port, url=url, fidelity=str(not plain).lower())
    deadline = time.monotonic() + timeout
    while not answers(url, timeout=1.0):
        if child.poll() is not None or time.monotonic() > deadline:
            state.terminate(proc)
            state.forget(directory, name)
            raise ToolkitError(f"moto server on 127.0.0.1:{port} did not start within {timeout:.0f} s; "
                               f"see {directory / (name + '.log')}")
        time.sleep(0.2)
    return Emulator(url, proc)


def _server_env(plain: bool) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if k not in SERVER_ENV}
    if not plain:
        env.update(SERVER_ENV)
    return env


def running(directory: Path, name: str = NAME) -> Emulator | None:
    """The recorded emulator when it still runs, else None."""
    proc = state.read(directory, name)
    if proc is None or not proc.running:
        return None
    return Emulator(proc.extra.get("url", url_for(proc.port)), proc)


def stop(directory: Path, name: str = NAME) -> bool:
    """Stop the recorded emulator if it is still ours. True when one was stopped."""
    proc = state.read(directory, name)
    if proc is None:
        return False
    stopped = state.terminate(proc)
    state.forget(directory, name)
    return stopped


def reset(url: str) -> None:
    """Empty every emulated service (POST /moto-api/reset)."""
    req = urllib.request.Request(f"{url}/moto-api/reset", method="POST", data=b"")
    try:
        with urllib.request.urlopen(req, timeout=30):
            pass
    except (urllib.error.URLError, OSError) as exc:
        raise ToolkitError(f"moto reset at {url}: {exc}") from None
