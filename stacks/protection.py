"""``lifecycle.prevent_destroy`` on the stateful resources of a stack (settings.prevent_destroy).

With it, `cdktf deploy` and `terraform apply` refuse any plan that would destroy
or replace the instance, a KMS key, a secret or the parameter group: the same
types the plan guard of `tenantdb plan` guards (tenantdb.aws_reference.STATEFUL_RESOURCE_TYPES),
so the two lists cannot drift apart.

Applied as an aspect, once, to the whole stack: it visits every construct at
synth time, so a resource of a guarded type added by any construct, now or
later, is protected without that construct knowing. The deliberate way to
replace one is in docs/runbook.md (deliberate replacement).
"""

from __future__ import annotations

import jsii

from stacks.cdk import Aspects, IAspect, IConstruct, TerraformResource, TerraformStack
from tenantdb.aws_reference import STATEFUL_RESOURCE_TYPES

PROTECTED_TYPES: tuple[str, ...] = tuple(STATEFUL_RESOURCE_TYPES)
"""Resource types that carry prevent_destroy when the settings ask for it."""


@jsii.implements(IAspect)
class PreventDestroy:
    """Adds ``lifecycle { prevent_destroy = true }`` to every resource of :data:`PROTECTED_TYPES`."""

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, TerraformResource) and node.terraform_resource_type in PROTECTED_TYPES:
            node.add_override("lifecycle.prevent_destroy", True)


def protect(stack: TerraformStack, enabled: bool) -> None:
    if enabled:
        Aspects.of(stack).add(PreventDestroy())
