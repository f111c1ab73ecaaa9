"""EXTENSIONS live: every extension settings.extensions names exists in db_name.

On RDS a missing one FAILs (the bootstrap creates them all; the master user may).
Where the database is the local stand-in (AWS is an emulator) and the server does
not offer one at all (pgvector is not packaged on this machine), that one is
reported apart, as EXTENSIONS-STANDIN: a SKIP that names it and says why, never a
PASS, so `verify --fail-on-skip` still refuses it.
"""

from __future__ import annotations

from tenantdb.checks import title
from tenantdb.database.bootstrap import extensions as ext
from tenantdb.errors import ToolkitError
from tenantdb.report import Check, failed, passed, skipped
from tenantdb.verify.context import Context


def extensions(ctx: Context) -> list[Check]:
    s = ctx.settings
    have, offered = ctx.catalog["extensions"], ctx.catalog["offered"]  # read with the catalog, no round trip
    if have is None or offered is None:
        raise ToolkitError(f"database {s.db_name} does not exist (AC7); its extensions are not shown")
    offered = set(offered)
    lacking = {n: why for n, why in ext.missing_on_standin(s, have).items() if n not in offered}
    problems = [f"{n} not installed in {s.db_name}: " + ("run tenantdb bootstrap" if n in offered else
                "the server does not offer it (pg_available_extensions)")
                for n in s.extensions if n not in have and n not in lacking]
    expected = ", ".join(n for n in s.extensions if n not in lacking) or "none"
    shown = ", ".join(f"{n} {have[n]}" for n in s.extensions if n in have) or "none"
    out = [failed("EXTENSIONS", title("EXTENSIONS"), expected, shown, "; ".join(problems)) if problems else
           passed("EXTENSIONS", title("EXTENSIONS"), expected, shown,
                  f"not on the local stand-in: {', '.join(lacking)} (EXTENSIONS-STANDIN)" if lacking else "")]
    if lacking:
        out.append(skipped("EXTENSIONS-STANDIN", title("EXTENSIONS-STANDIN"),
                           "; ".join(f"{n}: {why}" for n, why in lacking.items())
                           + "; on RDS the bootstrap creates it and EXTENSIONS proves it", expected=", ".join(lacking)))
    return out
