"""`terraform init` (offline, against the provider mirror) and `terraform validate` of a
synthesized stack, as checks. Concurrent inits are serialised by
:func:`tenantdb.infra.terraform.init` itself (one file lock for every caller)."""

from __future__ import annotations

import json
from pathlib import Path

from tenantdb.errors import ToolkitError
from tenantdb.infra import terraform
from tenantdb.infra.check.context import Ctx, title
from tenantdb.report import Check, errored, failed, passed


def database_stack(c: Ctx) -> list[Check]:
    """TF-INIT and TF-VALIDATE of the database stack."""
    return terraform_checks(c.directory, c.s.provider_mirror, ("TF-INIT", "TF-VALIDATE"))


def terraform_checks(directory: Path, mirror: str, ids: tuple[str, str]) -> list[Check]:
    """An init check and a validate check, with these ids; validate is ERROR when init did not succeed."""
    (init_id, val_id), init_title, val_title = ids, title(ids[0]), title(ids[1])
    try:
        res = init_offline(directory, mirror)
    except ToolkitError as exc:
        return [errored(init_id, init_title, str(exc)), errored(val_id, val_title, "init did not run")]
    if not res.ok:
        return [errored(init_id, init_title, res.first_error()), errored(val_id, val_title, "init failed")]
    init = passed(init_id, init_title, "success", "success")
    try:
        val = terraform.run(["validate", "-no-color", "-json"], directory, mirror)
    except ToolkitError as exc:
        return [init, errored(val_id, val_title, str(exc))]
    try:
        diags = json.loads(val.stdout)
    except ValueError:
        return [init, errored(val_id, val_title, val.first_error())]
    if val.ok and diags.get("valid") is True:
        return [init, passed(val_id, val_title, "valid", f"valid, {diags.get('warning_count', 0)} warnings")]
    first = next((f"{d.get('summary')}: {d.get('detail', '')}".strip() for d in diags.get("diagnostics", [])
                  if d.get("severity") == "error"), val.first_error())
    return [init, failed(val_id, val_title, "valid", f"{diags.get('error_count', '?')} errors", first[:300])]


def init_offline(directory: Path, mirror: str) -> terraform.Result:
    """``terraform init -backend=false`` against the provider mirror."""
    return terraform.init(directory, mirror=mirror, backend=False)
