"""Where the project's own files live: the source tree and its state directory.

Ground floor: imports nothing of the project. Every module that needs the
project root or the state directory reads it here, so a move of the package
changes one line.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
"""The checkout (or the installed package's parent): holds main.py, stacks/, sql/, policy/."""

STATE_DIR = PROJECT_ROOT / ".tenantdb"
"""The project's own state: the Terraform CLI config, a provider mirror built by setup, the local environment."""


def under_root(path: str | Path) -> Path:
    """``path`` as given when absolute, else relative to the project root."""
    p = Path(path)
    return p if p.is_absolute() else PROJECT_ROOT / p


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive fcntl lock on ``path`` (created with its parents): serializes processes
    and threads alike, and the kernel drops it when a holder dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
