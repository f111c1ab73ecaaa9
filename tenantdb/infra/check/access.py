"""Assertions about the access stack (stacks/access.py), when it is synthesized: asserted
by its JSON only. Its postgresql provider is not in the offline mirror, so init and
validate cannot run here: ACCESS-TF-VALIDATE is SKIP saying so, never PASS."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tenantdb.infra.check.context import Ctx, title
from tenantdb.infra.check.reader import PASSWORD_ATTRIBUTES, Stack
from tenantdb.report import Check, errored, failed, passed, run_check, skipped
from tenantdb.settings import Settings

ID, VALIDATE_ID = "ACCESS-STACK", "ACCESS-TF-VALIDATE"


def access_stack(c: Ctx) -> list[Check]:
    return access_checks(c.s, c.dirs)


def access_checks(s: Settings, dirs: Mapping[str, Path]) -> list[Check]:
    """ACCESS-STACK and ACCESS-TF-VALIDATE; nothing when the access stack is off and absent."""
    directory = dirs.get(s.access_stack_id)
    if directory is None:
        return [errored(ID, title(ID), f"access_stack is on but synth wrote no {s.access_stack_id}")] \
            if s.access_stack else []
    return [*run_check(ID, title(ID), lambda: roles_without_power(Stack.load(directory))),
            skipped(VALIDATE_ID, title(VALIDATE_ID), "the cyrilgdn/postgresql provider is not in the offline "
                    f"mirror ({s.provider_mirror}); plan it where the registry is reachable (docs/access.md)")]


def roles_without_power(st: Stack) -> Check:
    """Every declared role is neither superuser nor bypassrls, and no password is set."""
    roles_ = st.resources("postgresql_role")
    problems = [f"postgresql_role.{n}: {a}" for n, b in roles_.items()
                for a in ("superuser", "bypass_row_level_security") if b.get(a) is not False]
    problems += [f"{k} set" for k, v in st.walk() if k in PASSWORD_ATTRIBUTES | {"encrypted_password"} and v]
    actual = f"{len(roles_)} roles; " + ("; ".join(problems) if problems else "none superuser/bypassrls, no password")
    return (failed if problems or not roles_ else passed)(ID, title(ID), "roles declared, no password", actual)
