"""What the bootstrap reports: each step's outcome, told from what the step's fingerprints read.

A measured step (tenantdb.database.bootstrap.batch) comes back as its fingerprint before and
after; "changed" is their difference, and the detail names what differs or, when nothing did,
what the fingerprint read: never a fixed claim about the database.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import psycopg

from tenantdb.database.bootstrap import extensions
from tenantdb.database.bootstrap.roles import RoleModel
from tenantdb.database.plumbing import connection as db
from tenantdb import report
from tenantdb.errors import ToolkitError
from tenantdb.settings import Settings


@dataclass(frozen=True)
class Step:
    name: str
    changed: bool
    detail: str
    skipped: bool = False

    @property
    def state(self) -> str:
        return "skipped" if self.skipped else "changed" if self.changed else "unchanged"


@dataclass
class Result:
    environment: str
    target: str
    tls: str = ""
    steps: list[Step] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return sum(1 for s in self.steps if s.changed)

    def to_dict(self) -> dict[str, Any]:
        return {"environment": self.environment, "changed": self.changed,
                "steps": [{"name": s.name, "changed": s.changed, "skipped": s.skipped, "detail": s.detail}
                          for s in self.steps]}

    def render(self, fmt: str = "table") -> str:
        if fmt == "json":
            return json.dumps(self.to_dict(), indent=2) + "\n"
        lines = [f"bootstrap · {self.environment} · {self.target} ({self.tls})"]
        rows = [{"name": s.name, "state": s.state, "detail": s.detail} for s in self.steps]
        lines += [f"  {line}" for line in report.columns(rows, ["name", "state", "detail"])[1:]]
        lines.append(f"  {self.changed} of {len(self.steps)} steps changed" if self.changed
                     else "  nothing changed: the database already matches sql/")
        return "\n".join(lines) + "\n"


def guard(name: str, fn: Any) -> Any:
    """Run one step; a database error becomes one line naming the step (the steps are idempotent)."""
    try:
        return fn()
    except ToolkitError:
        raise
    except psycopg.OperationalError as exc:
        raise ToolkitError(f"step {name}: connection lost ({db.first_line(exc)}); every step is idempotent: "
                           "run the bootstrap again") from None
    except psycopg.Error as exc:
        raise ToolkitError(f"step {name} failed: {db.first_line(exc)}") from None


def measured(name: str, s: Settings, model: RoleModel, before: Any, after: Any) -> Step:
    """What one measured step did, from its fingerprints before and after it."""
    if name in ("tenancy-roles", "object-grants"):
        return _roles_step(name, model, before, after)
    if name == "extensions":  # what is installed, and what the local stand-in lacks and why
        return Step(name, before != after, extensions.summary(s, after.get("extensions")))
    if before != after:
        diff = _diff(before, after)
        detail = f"created: {_summary(name, s, after)}" if diff == "created" else diff or "updated"
        return Step(name, True, detail)
    return Step(name, False, _summary(name, s, after))


def _roles_step(name: str, model: RoleModel, before: list[dict], after: list[dict]) -> Step:
    if name == "object-grants":
        held = sum(len(row.get("tables") or []) + len(row.get("functions") or []) for row in after)
        return Step(name, before != after, f"{held} privileges on {model.schema} functions and tables "
                    "(roles: the access stack)")
    names = ", ".join(r.name for r in model.owned_here)
    if before == after:
        return Step(name, False, f"{names} as declared")
    existed = {row["rolname"] for row in before}
    created = [row["rolname"] for row in after if row["rolname"] not in existed]
    return Step(name, True, f"created {', '.join(created)}" if created else f"converged {names}")


def _diff(before: dict[str, Any], after: dict[str, Any]) -> str:
    if before.get("exists") is False or before.get("schema") is False:
        return "created"
    if before.get("function") is False and before.get("schema_acl") is None:
        return "created"  # the toolkit's schema as the lock made it on the first run, bare (lock_table.sql)
    parts = []
    for key, old in before.items():
        new = after.get(key)
        if old == new:
            continue
        if key == "catalog" or key.endswith(("_definition", "_acl", "_comment")):
            parts.append(f"{key.replace('_', ' ')} updated")
        else:
            parts.append(f"{key.replace('_', ' ')}: {_show(old)} -> {_show(new)}")
    return "; ".join(parts)


def _show(v: Any) -> str:
    return "none" if v is None else str(v).lower() if isinstance(v, bool) else str(v)


_ATTRIBUTES = (("login", "LOGIN"), ("superuser", "SUPERUSER"), ("bypassrls", "BYPASSRLS"),
               ("createdb", "CREATEDB"), ("createrole", "CREATEROLE"))
"""app_user's attributes as the roles step's fingerprint read them (010_roles.state.sql)."""


def _summary(name: str, s: Settings, fp: dict[str, Any]) -> str:
    """What the step's fingerprint read, for people."""
    if name == "roles":
        return f"{s.app_role}: " + " ".join(("" if fp.get(k) else "NO") + word for k, word in _ATTRIBUTES)
    if name == "database-grants":
        return (f"{s.app_role}: {fp.get('grants_on_database', '')} on {s.db_name}; "
                f"PUBLIC: {fp.get('public_grants_on_schema_public')} on schema public")
    if name == "statistics-access":
        return _statistics_summary(fp.get("statistics_acl"))
    if name == "tenancy":
        return _tenancy_summary(s.tenancy_schema, fp)
    if name == "no-hooks":
        return f"role settings: {fp.get('role_settings')}; powerful memberships: {fp.get('powerful_memberships')}"
    return "as declared"  # a step measured by the whole catalog: unchanged by its own declaration


def _tenancy_summary(schema: str, fp: dict[str, Any]) -> str:
    """040_tenancy.state.sql's row: the schema and which of its two functions exist."""
    if not fp.get("schema"):
        return f"no schema {schema}"
    functions = (("set_tenant", "set_tenant_definition"), ("current_tenant_id", "function"))
    have = [f"{schema}.{fn}()" for fn, key in functions if fp.get(key)]
    return f"schema {schema} with {' and '.join(have) or 'neither set_tenant() nor current_tenant_id()'}"


_ACL_ITEM = re.compile(r'(?:"((?:[^"]|"")*)"|([^,={}"]*))=([A-Za-z*]*)/')
"""One aclitem of an ACL's text (``grantee=privileges/grantor``; an empty grantee is PUBLIC)."""


def _statistics_summary(acl: str | None) -> str:
    """035_statistics_access.state.sql's text: who may read pg_stat_statements' views, as the catalog says."""
    if acl is None:
        return "pg_stat_statements not installed"
    views = [item.split(" ", 1) for item in acl.split("; ") if "(" not in item.split(" ", 1)[0]]
    readers = sorted({(quoted.replace('""', '"') if quoted else plain) or "PUBLIC"
                      for _, text in views for quoted, plain, privs in _ACL_ITEM.findall(text) if "r" in privs})
    if any(text == "default" for _, text in views):
        readers.append("its owner (default privileges)")
    return f"pg_stat_statements readable by {', '.join(readers) or 'nobody'}"
