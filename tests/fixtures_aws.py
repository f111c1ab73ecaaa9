"""Fixtures: the local AWS (a moto server with the fidelity layer) and environments
applied to it with the real Terraform.

- ``emulator`` (session): moto + fidelity layer on a free 127.0.0.1 port; its URL.
- ``plain_emulator`` (session): unpatched moto, to show what the layer corrects.
- ``fresh_emulator`` (function): ``emulator`` emptied first (POST /moto-api/reset).
- :func:`reset_emulator`: the same reset, for tests that manage their own timing.
- ``applied_env`` (session): a factory; ``applied_env("dev")`` applies dev's exact
  stacks (network stand-in + database stack) to a moto server of its own with
  real Terraform, through an overlay that only points ``aws_endpoint_url`` at it,
  and returns an :class:`AppliedEnv`. The first call applies dev, staging and
  prod concurrently (one moto server each: the applies mostly wait on the
  provider's poller), so the three cost about as long as prod alone. Each
  result carries the stacks `terraform plan -detailed-exitcode` found drifting
  right after its apply. A test that breaks AWS state there (with boto3) must
  put it back, or later tests see the breakage.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tenantdb.infra import apply
from tenantdb.infra import synth
from tenantdb import settings as settings_mod
from tenantdb.local import emulator as emulator_mod

APPLIED_ENVS = ("dev", "staging", "prod")


def reset_emulator(url: str) -> None:
    """Empty every emulated service of the moto server at ``url``."""
    emulator_mod.reset(url)


def _start(base: Path, name: str, plain: bool = False) -> emulator_mod.Emulator:
    return emulator_mod.start(base, emulator_mod.free_port(), plain=plain, name=name)


@pytest.fixture(scope="session")
def emulator_dir() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="tenantdb-moto-", dir="/tmp"))
    yield base
    for name in [p.stem for p in base.glob("*.json")]:
        emulator_mod.stop(base, name)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def emulator(emulator_dir: Path) -> str:
    """URL of a moto server with the fidelity layer."""
    return _start(emulator_dir, "moto").url


@pytest.fixture(scope="session")
def plain_emulator(emulator_dir: Path) -> str:
    """URL of an unpatched moto server (no fidelity layer, no managed IAM policies)."""
    return _start(emulator_dir, "moto-plain", plain=True).url


@pytest.fixture
def fresh_emulator(emulator: str) -> str:
    reset_emulator(emulator)
    return emulator


@dataclass
class AppliedEnv:
    """One environment's exact stacks, applied to an emulator of its own."""

    deployed: apply.Deployed
    url: str
    overlay: Path
    drift_after_apply: list[str]
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def settings(self) -> settings_mod.Settings:
        return self.deployed.settings


class _AppliedEnvs:
    """Applies dev/staging/prod once per session, concurrently, on first request."""

    def __init__(self, base: Path):
        self.base = base
        self._lock = threading.Lock()
        self._futures: dict[str, Future[AppliedEnv]] = {}
        self._pool = ThreadPoolExecutor(max_workers=len(APPLIED_ENVS), thread_name_prefix="apply")

    def __call__(self, env: str) -> AppliedEnv:
        assert env in APPLIED_ENVS, f"applied_env: {env} (one of {APPLIED_ENVS})"
        with self._lock:
            if not self._futures:
                self._launch()
        return self._futures[env].result()

    def _launch(self) -> None:
        urls = {env: _start(self.base, f"moto-{env}").url for env in APPLIED_ENVS}
        overlay = apply.emulator_overlay(self.base / "overlay.toml",
                                         {env: {"aws_endpoint_url": url} for env, url in urls.items()})
        outdir = self.base / "cdktf.out"
        synthesized: Future[None] = self._pool.submit(synth.synth, overlay=overlay, outdir=outdir)
        for env in APPLIED_ENVS:
            self._futures[env] = self._pool.submit(self._apply, env, urls[env], overlay, outdir, synthesized)

    @staticmethod
    def _apply(env: str, url: str, overlay: Path, outdir: Path, synthesized: Future[None]) -> AppliedEnv:
        synthesized.result()
        s = settings_mod.load(env, overlay)
        assert s.aws_endpoint_url == url
        started = time.monotonic()
        deployed = apply.deploy(s, outdir)
        applied_s = time.monotonic() - started
        drift = apply.drift(deployed)
        return AppliedEnv(deployed, url, overlay, drift, applied_s,
                          {"apply": applied_s, "plan": time.monotonic() - started - applied_s})

    def close(self) -> None:
        self._pool.shutdown(wait=True)


@pytest.fixture(scope="session")
def applied_env(emulator_dir: Path) -> Iterator[Callable[[str], AppliedEnv]]:
    """Factory: ``applied_env("prod")`` -> :class:`AppliedEnv` (applied once per session)."""
    base = emulator_dir / "applied"
    base.mkdir()
    envs = _AppliedEnvs(base)
    yield envs
    envs.close()
    for name in [p.stem for p in base.glob("moto-*.json")]:
        emulator_mod.stop(base, name)
