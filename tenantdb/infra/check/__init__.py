"""`tenantdb check`: synth-and-plan checks, offline, before anything is applied.

For each selected environment: ``terraform init -backend=false`` against the
provider mirror (the project's CLI config), ``terraform validate``, and
assertions over the synthesized JSON for every acceptance criterion decidable
before apply (Story 0.4 AC1-AC6, AC9's secret) plus the security settings
around them. Which checks run, their ids, titles and order come from the
registry, tenantdb/checks.py.

Expected values come from the settings. Where Story 0.4 fixes a value for an
environment (prod is Multi-AZ, backups at 03:00 UTC, ...), the expectation is
the environment's *baseline* (defaults + profile, no overlay), so an overlay
that breaks a criterion FAILs the check that names it. Fail closed: if synth or
init cannot run, the checks are ERROR, never PASS.

The modules mirror stacks/: the assertions about a construct live in the
module of the same name (instance, parameter_group, kms, secrets, rotation,
network, logs, monitoring, iam, backend, access); reader.py is the one reader
of the synthesized JSON, context.py what every assertion receives,
terraform_checks.py init/validate, policy.py the checkov gate, runner.py the
runner. Nothing here imports cdktf or stacks/: the checks read JSON.
"""

from __future__ import annotations

from tenantdb.infra.check.access import access_checks
from tenantdb.infra.check.backend import REQUIRED_OUTPUTS
from tenantdb.infra.check.context import Ctx, baseline
from tenantdb.infra.check.reader import Stack, parse_ref, ref
from tenantdb.infra.check.runner import STAGE, check_environment, run
from tenantdb.infra.check.terraform_checks import init_offline
from tenantdb.report import run_check

__all__ = ["REQUIRED_OUTPUTS", "STAGE", "Ctx", "Stack", "access_checks", "baseline", "check_environment",
           "init_offline", "parse_ref", "ref", "run", "run_check"]
