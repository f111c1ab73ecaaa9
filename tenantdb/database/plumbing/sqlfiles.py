"""Find and load the SQL files in sql/, and fill their placeholders through psycopg.sql.

The files live in the source tree's ``sql/`` (an editable install, a clone) or,
in an installed wheel, under ``<sys.prefix>/share/tenantdb/sql`` (pyproject's
data-files). ``$TENANTDB_SQL_DIR`` overrides both.

Each step ``NNN_name.sql`` may have a companion ``NNN_name.state.sql``: one
SELECT returning one row that describes what the step establishes; the
bootstrap compares it before and after the step to say whether it changed
anything. Steps without one use ``state.sql``, a fingerprint of the catalog.

Subfolders (``sql/verify/``, ``sql/tenants/``, ``sql/verify/probe/``; one level of nesting) hold named queries that are
not bootstrap steps: :func:`named` loads ``sql/verify/posture.sql`` as ``"verify/posture"``.
Only ``NNN_name.sql`` at the top level is a step, in name order.

Placeholders are ``{lower_case_name}``; every one must be given, as a
``psycopg.sql`` Composable (Identifier, Literal), so nothing is ever
formatted into SQL text by hand. Other braces (a regular expression's
``{8}``) stay literal.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from psycopg import sql

from tenantdb.errors import ToolkitError
from tenantdb.paths import PROJECT_ROOT

_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


def sql_dir() -> Path:
    """The directory holding the bootstrap's SQL files."""
    candidates = [Path(os.environ["TENANTDB_SQL_DIR"])] if os.environ.get("TENANTDB_SQL_DIR") else []
    candidates += [PROJECT_ROOT / "sql", Path(sys.prefix) / "share" / "tenantdb" / "sql"]
    for path in candidates:
        if path.is_dir() and any(path.glob("*.sql")):
            return path
    raise ToolkitError("the SQL files were not found (looked in "
                       f"{', '.join(str(c) for c in candidates)}); reinstall tenantdb or set TENANTDB_SQL_DIR")


_STEP_FILE = re.compile(r"^\d{3}_[a-z0-9_]+\.sql$")
GENERIC_STATE = "state.sql"
"""The catalog fingerprint for a step that has no ``NNN_name.state.sql`` of its own."""


def files() -> list[Path]:
    """Every step file ``NNN_name.sql``, in order (not the ``.state.sql`` companions)."""
    return sorted(p for p in sql_dir().glob("*.sql") if _STEP_FILE.match(p.name))


def state_file(step: Path) -> Path:
    """The query that fingerprints what ``step`` establishes: its own, else the generic one."""
    own = step.with_name(step.name.removesuffix(".sql") + ".state.sql")
    return own if own.exists() else step.with_name(GENERIC_STATE)


def step_name(path: Path) -> str:
    """``010_roles.sql`` -> ``roles``."""
    return path.stem.split("_", 1)[1].replace("_", "-")


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def compose(text: str, values: dict[str, sql.Composable]) -> sql.Composed:
    """The file's text with each ``{name}`` replaced by its Composable; other braces kept as they are."""
    missing = placeholders(text) - values.keys()
    if missing:
        raise ToolkitError(f"SQL placeholder(s) without a value: {', '.join(sorted(missing))}")
    parts: list[sql.Composable] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(text):
        parts.append(sql.SQL(text[pos:m.start()]))  # raw text: sql.SQL reads braces only in .format()
        parts.append(values[m[1]])
        pos = m.end()
    parts.append(sql.SQL(text[pos:]))
    return sql.Composed(parts)


def load(path: Path, values: dict[str, sql.Composable]) -> sql.Composed:
    return compose(path.read_text(), values)


_NAMED = re.compile(r"^[a-z][a-z0-9_]*(/[a-z][a-z0-9_]*){1,2}$")


def named_path(name: str) -> Path:
    """``"verify/posture"`` -> ``sql/verify/posture.sql``; a name of any other shape is refused."""
    if not _NAMED.match(name):
        raise ValueError(f"named query {name!r}: expected folder/name or folder/sub/name in lower case, "
                         "e.g. verify/posture")
    path = sql_dir() / f"{name}.sql"
    if not path.is_file():
        raise ToolkitError(f"the SQL file {path} is missing; reinstall tenantdb or set TENANTDB_SQL_DIR")
    return path


def named(name: str, values: dict[str, sql.Composable] | None = None) -> sql.Composed:
    """A named query from a subfolder of sql/, placeholders filled (psycopg ``%(x)s`` parameters stay)."""
    return load(named_path(name), values or {})


def one_line(query: sql.Composable, context: object) -> str:
    """``query`` as one line for a message (a fix to run): its ``--`` comment lines dropped."""
    text = query.as_string(context)  # type: ignore[arg-type]
    return " ".join(line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("--"))
