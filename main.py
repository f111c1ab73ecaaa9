"""The cdktf app: one database stack per environment (plus the network stand-in
where AWS is an emulator, and the access stack where settings.access_stack or
`tenantdb synth --with-access` asks for it), all from tenantdb.settings.

Run by `tenantdb synth` (tenantdb/synth.py) and by `npx cdktf synth|diff|deploy`
(cdktf.json). The overlay comes from $TENANTDB_SETTINGS; the output directory
from $CDKTF_OUTDIR (default cdktf.out). A settings error prints one line and
exits 2.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from tenantdb import settings as settings_mod  # noqa: E402 - after the sys.path line that finds the package
from tenantdb.infra import terraform  # noqa: E402 - after the sys.path line that finds the package
from tenantdb.errors import ToolkitError  # noqa: E402 - after the sys.path line that finds the package

WITH_ACCESS_ENV = "TENANTDB_WITH_ACCESS"
"""Set to 1 by `tenantdb synth --with-access`: also synthesize the access stack (docs/access.md)."""


def _prepare_environment(mirror: str) -> None:
    """Before cdktf is imported: its node child copies the environment once."""
    for name, value in terraform.QUIET_NODE_ENV.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("CHECKPOINT_DISABLE", "1")
    try:
        # Only Testing.to_be_valid_terraform runs terraform from here; synth itself does not need it.
        os.environ["TF_CLI_CONFIG_FILE"] = str(terraform.ensure_cli_config(mirror))
    except ToolkitError:
        pass


def access_requested(s: settings_mod.Settings) -> bool:
    return s.access_stack or os.environ.get(WITH_ACCESS_ENV) == "1"


def build(app, targets: list[settings_mod.Settings]) -> None:
    from stacks.database_stack import DatabaseStack
    from stacks.network_standin import NetworkStandinStack, wanted
    for s in targets:
        if wanted(s):
            NetworkStandinStack(app, s)
        DatabaseStack(app, s)
        if access_requested(s):
            # Roles and grants as postgresql provider resources (docs/access.md).
            from stacks.access import AccessStack
            AccessStack(app, s)


def main() -> int:
    try:
        targets = settings_mod.load_all()
    except settings_mod.SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    _prepare_environment(targets[0].provider_mirror)
    from stacks.cdk import App
    app = App(stack_traces=False)
    build(app, targets)
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
