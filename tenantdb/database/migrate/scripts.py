"""The Alembic glue: find and load a script directory, resolve the target, run env.py for one tenant.

Alembic and SQLAlchemy come with the ``migrations`` extra; without it every
entry point here says so in one line (exit 2). Loading a script directory
and walking its revisions is pure Python (no database, no Alembic
``context``), so the parent process does it once; running env.py uses
Alembic's process-wide ``context`` and ``op``, so it happens in one process
per tenant at a time (:mod:`.worker`).

The contract with a team's env.py: ``config.attributes['connection']`` is an
open SQLAlchemy connection inside the tenant's transaction (None with
``--sql``), ``['tenant_schema']`` the schema's name (pass it as
``version_table_schema``), ``['tenant_id']`` and ``['tenant_slug']``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tenantdb.errors import UsageError, first_line
from tenantdb.paths import PROJECT_ROOT

EXTRA_HINT = "pip install 'tenantdb[migrations]' (Alembic and SQLAlchemy)"


def require_alembic() -> None:
    try:
        import alembic  # noqa: F401 - imported only to prove the extra is installed
        import sqlalchemy  # noqa: F401 - imported only to prove the extra is installed
    except ImportError:
        raise UsageError(f"tenantdb migrate needs the migrations extra: {EXTRA_HINT}") from None


def resolve_dir(given: str | None, setting: str | None) -> Path:
    """``--migrations`` (relative to the working directory), else settings tenant_migrations (relative to
    the project, or shipped under <prefix>/share/tenantdb/), else exit 2."""
    if given:
        return Path(given).resolve()
    if not setting:
        raise UsageError("no tenant migrations: pass --migrations DIR or set tenant_migrations in the settings")
    p = Path(setting)
    if p.is_absolute():
        return p
    for base in (PROJECT_ROOT, Path(sys.prefix) / "share" / "tenantdb"):
        if (base / p).is_dir():
            return base / p
    return PROJECT_ROOT / p


@dataclass
class Scripts:
    """A loaded script directory and the target revision(s) of this run."""

    directory: Path
    script: Any  # alembic.script.ScriptDirectory
    destination: str
    """What Alembic upgrades to: "heads" or one revision id."""
    target: tuple[str, ...]

    def __post_init__(self) -> None:
        self._known: dict[tuple[str, ...], set[str]] = {}

    def ancestry(self, versions: tuple[str, ...]) -> set[str]:
        """The revisions ``versions`` include (themselves and every ancestor), cached per distinct set."""
        if versions not in self._known:
            seen: set[str] = set()
            todo = list(versions)
            while todo:
                rev = todo.pop()
                if rev in seen:
                    continue
                seen.add(rev)
                down = self.script.get_revision(rev).down_revision
                todo += [d for d in ((down,) if isinstance(down, str) else (down or ())) if d]
            self._known[versions] = seen
        return self._known[versions]

    def unknown(self, versions: tuple[str, ...]) -> list[str]:
        """Revisions a version table holds that this directory does not know (a newer or foreign set)."""
        from alembic.util import CommandError

        out = []
        for v in versions:
            try:
                found = self.script.get_revision(v)
            except CommandError:
                found = None
            if found is None or found.revision != v:
                out.append(v)
        return out

    def is_current(self, versions: tuple[str, ...] | None) -> bool:
        return bool(versions) and set(self.target) <= self.ancestry(tuple(versions or ()))


def load(directory: Path, to: str | None = None) -> Scripts:
    """The script directory at ``directory`` and the target ``to`` (default: every head); exit 2 when
    it is not an Alembic script directory or the revision is unknown."""
    require_alembic()
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    if not (directory / "env.py").is_file() or not (directory / "versions").is_dir():
        raise UsageError(f"--migrations {directory}: not an Alembic script directory (needs env.py and versions/)")
    try:
        script = ScriptDirectory(str(directory))
        heads = tuple(script.get_heads())
    except CommandError as exc:
        raise UsageError(f"--migrations {directory}: {first_line(exc)}") from None
    if not heads:
        raise UsageError(f"--migrations {directory}: versions/ holds no revision")
    if to in (None, "head", "heads"):
        return Scripts(directory, script, "heads", heads)
    try:
        revs = script.get_revisions(to)
    except CommandError as exc:
        raise UsageError(f"--to {to}: {first_line(exc)} (see the revisions in {directory}/versions)") from None
    if len(revs) != 1 or revs[0] is None:
        raise UsageError(f"--to {to}: name one revision (or head); migrate only upgrades")
    return Scripts(directory, script, revs[0].revision, (revs[0].revision,))


def config(directory: Path, schema: str, tenant_id: str, slug: str, connection: Any) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(directory).replace("%", "%%"))
    cfg.attributes.update(connection=connection, tenant_schema=schema, tenant_id=tenant_id, tenant_slug=slug)
    return cfg


def upgrade(scripts: Scripts, cfg: Any, *, as_sql: bool = False, starting_rev: str | None = None,
            output: Any = None) -> None:
    """What ``alembic upgrade`` does, with the already loaded script directory (revision files are
    parsed once per process, not once per tenant)."""
    from alembic.runtime.environment import EnvironmentContext

    script, destination = scripts.script, scripts.destination

    def fn(rev: Any, _context: Any) -> Any:
        return script._upgrade_revs(destination, rev)

    kw: dict[str, Any] = {"output_buffer": output} if output is not None else {}
    with EnvironmentContext(cfg, script, fn=fn, as_sql=as_sql, starting_rev=starting_rev,
                            destination_rev=destination, **kw):
        script.run_env()
