"""`terraform init` of one working directory leaves every other one alone.

The tests apply dev, staging and prod at once, so one stack's init runs while
another stack applies. With a shared plugin cache, an init that has no lock
file reinstalls the cache entry, and for that moment the provider is gone from
under every directory linked to it: the apply beside it failed with "Required
plugins are not installed". Here each directory links the read-only mirror.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tenantdb import settings as settings_mod
from tenantdb.infra import terraform

AWS = Path("registry.terraform.io") / "hashicorp" / "aws"
CONFIG = """terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }
}
"""


def _working_dir(base: Path, name: str) -> Path:
    path = base / name
    path.mkdir()
    (path / "main.tf").write_text(CONFIG)
    return path


def _link_chain(path: Path) -> list[tuple[str, int, int]]:
    """Every link from ``path`` to the provider's files, with the inode and change time of each."""
    chain = []
    while path.is_symlink():
        st = path.lstat()
        chain.append((str(path), st.st_ino, st.st_ctime_ns))
        target = Path(os.readlink(path))
        path = target if target.is_absolute() else path.parent / target
    st = path.stat()
    chain.append((str(path), st.st_ino, st.st_ctime_ns))
    return chain


def _init(directory: Path, mirror: str) -> None:
    result = terraform.init(directory, mirror, backend=False)
    assert result.ok, result.stdout + result.stderr


@pytest.fixture
def mirror() -> str:
    return settings_mod.load("local").provider_mirror


def test_an_init_does_not_touch_the_provider_of_another_directory(tmp_path: Path, mirror: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # A cache named by the caller's environment must not bring the shared entry back.
    monkeypatch.setenv("TF_PLUGIN_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    first, second = _working_dir(tmp_path, "first"), _working_dir(tmp_path, "second")
    _init(first, mirror)
    provider = first / ".terraform" / "providers" / AWS / "5.100.0" / "linux_amd64"
    before = _link_chain(provider)

    _init(second, mirror)

    assert _link_chain(provider) == before
    # The provider resolves into the mirror, which no init writes, and nothing went to a cache.
    used = Path(mirror) if (Path(mirror) / AWS).is_dir() else terraform.BUILT_MIRROR
    assert provider.resolve().is_relative_to(used.resolve())
    assert not any((tmp_path / "cache").iterdir())
