"""The local environment's state directory: which processes we started, on which ports.

Each started process is recorded as ``<name>.json`` with its pid and the kernel's
start time for that pid, so a later ``local down`` stops only a process that is
still the one we started (a recycled pid has another start time).
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tenantdb.errors import ToolkitError
from tenantdb.paths import file_lock, under_root


def state_dir(configured: str) -> Path:
    """The state directory: absolute as given, else relative to the project root."""
    path = Path(configured)
    return under_root(path)


def start_time(pid: int) -> str | None:
    """The pid's start time in clock ticks since boot (/proc/PID/stat field 22), None when gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may hold spaces; fields after its closing parenthesis are fixed.
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # a zombie has exited
        return None
    return fields[19]


@dataclass(frozen=True)
class Proc:
    """A process we started: name, pid, its start time, where it listens."""

    name: str
    pid: int
    started: str
    port: int
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        """True when the pid is alive and still the process we started."""
        return start_time(self.pid) == self.started


def record(directory: Path, name: str, pid: int, port: int, **extra: str) -> Proc:
    started = start_time(pid)
    if started is None:
        raise ToolkitError(f"{name} (pid {pid}) exited right after start; see {directory}/{name}.log")
    proc = Proc(name, pid, started, port, dict(extra))
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.json").write_text(json.dumps(asdict(proc)))
    return proc


def read(directory: Path, name: str) -> Proc | None:
    try:
        data = json.loads((directory / f"{name}.json").read_text())
        return Proc(**data)
    except (FileNotFoundError, json.JSONDecodeError, TypeError):
        return None


def forget(directory: Path, name: str) -> None:
    (directory / f"{name}.json").unlink(missing_ok=True)


def terminate(proc: Proc, timeout: float = 15.0) -> bool:
    """SIGTERM the process if it is still ours, SIGKILL after ``timeout``. True when it was running."""
    if not proc.running:
        return False
    os.kill(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.running:
            return True
        _reap(proc.pid)
        time.sleep(0.1)
    if proc.running:
        os.kill(proc.pid, signal.SIGKILL)
        while proc.running:
            _reap(proc.pid)
            time.sleep(0.05)
    return True


def _reap(pid: int) -> None:
    """Collect the exit status when the process is our own child (else it stays a zombie)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


@contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock beside the state directory (it survives the directory's removal).

    When another `local up|down` holds it, say so on stderr once before waiting: a silent wait
    looks like a hang."""
    path = directory.parent / f".{directory.name}.lock"
    if busy(path):
        print(f"local: another `tenantdb local up|down` is running on {directory}; waiting for it",
              file=sys.stderr, flush=True)
    with file_lock(path):
        yield


def busy(path: Path) -> bool:
    """Whether another process holds the lock at ``path`` right now (a try that takes nothing)."""
    if not path.exists():
        return False
    with open(path) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False
