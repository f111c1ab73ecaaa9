"""Fixtures: one `tenantdb local up` for the whole session, shared by every test that needs
the whole local pipeline running (test_local.py, test_faults.py, test_load.py,
test_no_secrets.py). A cold `local up` costs 3-4 minutes; paying it once keeps CI short.

- ``local_overlay`` (session): a ``--settings`` file putting the local environment's state
  directory and both ports somewhere private (a temporary directory, free loopback ports),
  so it never touches a developer's own `local up`.
- ``local_settings`` (session): those settings.
- ``local_cli`` (session): runs ``tenantdb --settings OVERLAY ...`` as a subprocess, as an
  operator would; every run's stdout and stderr is kept (``local_cli.runs``) for the secret
  search in test_no_secrets.py.
- ``local_cold_up`` (session): the first ``local up --format json``, run on first request.
- ``local_down_last``: requested by the tests that take the environment down. The hook below
  runs those tests after every other test of the session, so the one `local up` serves all.

At the end of the session ``local down`` stops whatever is still running.

While iterating on one test file, ``TENANTDB_TEST_LOCAL_OVERLAY=FILE`` reuses an environment
already brought up with that overlay (the first `local up` is then a warm one) and leaves it up.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tenantdb.infra import apply
from tenantdb import settings as settings_mod
from tenantdb.local import emulator

CLI = [sys.executable, "-m", "tenantdb.cli"]
REUSE_VAR = "TENANTDB_TEST_LOCAL_OVERLAY"


@dataclass(frozen=True)
class Run:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float


@dataclass
class LocalCli:
    """``tenantdb --settings OVERLAY ARGS...`` in a subprocess; every run is kept."""

    overlay: Path
    runs: list[Run] = field(default_factory=list)

    def __call__(self, *args: str, timeout: float = 1200) -> Run:
        started = time.monotonic()
        proc = subprocess.run([*CLI, "--settings", str(self.overlay), *args], capture_output=True, text=True,
                              timeout=timeout, check=False)
        run = Run(tuple(args), proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)
        self.runs.append(run)
        return run

    def popen(self, *args: str) -> subprocess.Popen[str]:
        """Start a command without waiting (collect it with :meth:`collect`)."""
        return subprocess.Popen([*CLI, "--settings", str(self.overlay), *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def collect(self, proc: subprocess.Popen[str], args: tuple[str, ...], started: float,
                timeout: float = 1200) -> Run:
        out, err = proc.communicate(timeout=timeout)
        run = Run(args, proc.returncode, out, err, time.monotonic() - started)
        self.runs.append(run)
        return run


@pytest.fixture(scope="session")
def local_overlay() -> Path:
    if os.environ.get(REUSE_VAR):
        return Path(os.environ[REUSE_VAR])
    base = Path(tempfile.mkdtemp(prefix="tenantdb-local-", dir="/tmp"))
    os.chmod(base, 0o755)  # the cluster runs as the postgres user, who must reach the state directory
    return apply.emulator_overlay(base / "overlay.toml", {"local": {
        "local_state_dir": str(base / "state"),
        "local_moto_port": emulator.free_port(),
        "local_postgres_port": emulator.free_port(),
    }})


@pytest.fixture(scope="session")
def local_settings(local_overlay: Path) -> settings_mod.Settings:
    return settings_mod.load("local", local_overlay)


@pytest.fixture(scope="session")
def local_cli(local_overlay: Path) -> Iterator[LocalCli]:
    cli = LocalCli(local_overlay)
    yield cli
    if not os.environ.get(REUSE_VAR):
        # local down stops whatever is still running at the end of the session
        if cli("local", "down").returncode == 0:  # else keep the state: it names what still runs
            shutil.rmtree(local_overlay.parent, ignore_errors=True)  # the overlay and the lock file


@pytest.fixture(scope="session")
def local_cold_up(local_cli: LocalCli) -> Run:
    return local_cli("local", "up", "--format", "json")


@pytest.fixture
def local_down_last() -> None:
    """Marks a test that takes the shared local environment down: it runs last (see the hook)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that take the shared local environment down run after every other test, in their order."""
    last = [item for item in items if "local_down_last" in getattr(item, "fixturenames", ())]
    if last:
        items[:] = [item for item in items if item not in last] + last
