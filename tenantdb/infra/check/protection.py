"""Assertions about what protects the stateful resources and what the database will load
(stacks/protection.py, settings.extensions).

- PREVENT-DESTROY: every resource of a type the plan guard guards (the instance, both
  KMS keys, the secrets, the parameter group) carries ``lifecycle.prevent_destroy``
  exactly where the settings ask (prod's baseline: always; an overlay cannot turn it
  off there without this check failing).
- EXTENSIONS: every name in settings.extensions is one RDS for PostgreSQL offers for
  the engine major (vector included, although the local stand-in lacks it), and each
  one RDS can create only when its library is preloaded is in the parameter group's
  shared_preload_libraries.
"""

from __future__ import annotations

from tenantdb.aws_reference import RDS_EXTENSIONS
from tenantdb.infra.check.context import Ctx, title
from tenantdb.infra.plan_guard import GUARDED_TYPES
from tenantdb.report import Check, failed, passed

NEEDS_PRELOAD: frozenset[str] = frozenset({"pg_stat_statements", "pg_cron", "pgaudit", "pg_tle", "pglogical",
                                           "pgactive"})
"""Extensions whose library must be in shared_preload_libraries before they work on RDS
(AWS RDS user guide, each extension's set-up page)."""


def prevent_destroy(c: Ctx) -> Check:
    cid = "PREVENT-DESTROY"
    wanted = c.base.prevent_destroy or c.s.prevent_destroy
    addresses = {f"{rtype}.{name}": body for rtype in GUARDED_TYPES
                 for name, body in c.db.resources(rtype).items()}
    if not addresses:
        return failed(cid, title(cid), "the stateful resources", "none found in the stack")
    wrong = sorted(a for a, body in addresses.items()
                   if ((body.get("lifecycle") or {}).get("prevent_destroy") is True) != wanted)
    expected = f"prevent_destroy={'true' if wanted else 'unset'} on {len(addresses)} resources"
    if not wrong:
        return passed(cid, title(cid), expected, ", ".join(sorted(addresses)))
    detail = (f"{c.s.environment} must keep prevent_destroy (replace deliberately: docs/runbook.md); "
              f"settings prevent_destroy={c.s.prevent_destroy}" if c.base.prevent_destroy and not c.s.prevent_destroy
              else "")
    return failed(cid, title(cid), expected, f"{'missing' if wanted else 'set'} on {', '.join(wrong)}", detail)


def extensions(c: Ctx) -> Check:
    cid = "EXTENSIONS"
    offered = RDS_EXTENSIONS[min(c.s.engine_major, max(RDS_EXTENSIONS))]
    problems = [f"{n}: not offered by RDS for PostgreSQL {c.s.engine_major}" for n in c.s.extensions
                if n not in offered]
    preload = _preloaded(c)
    problems += [f"{n}: needs shared_preload_libraries to include {n} (parameter group has {preload or 'none'})"
                 for n in c.s.extensions if n in NEEDS_PRELOAD and n not in preload.split(",")]
    expected = f"{', '.join(c.s.extensions) or 'none'}: offered by RDS, preloaded where RDS needs it"
    if problems:
        return failed(cid, title(cid), expected, "; ".join(problems), "; ".join(problems))
    return passed(cid, title(cid), expected, f"{', '.join(c.s.extensions) or 'none'}; preloaded: {preload}")


def _preloaded(c: Ctx) -> str:
    for group in c.db.resources("aws_db_parameter_group").values():
        for p in group.get("parameter") or []:
            if p.get("name") == "shared_preload_libraries":
                return ",".join(lib.strip() for lib in str(p.get("value", "")).split(",") if lib.strip())
    return ""
