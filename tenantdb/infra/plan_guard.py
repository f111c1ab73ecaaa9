"""The plan guard: a pure reading of ``terraform show -json PLAN`` into checks.

No Terraform runs here (tenantdb/plan.py does that), so every rule is cheap to
test on a plan document. What it decides:

- Every resource the plan creates, updates, replaces, destroys or forgets is
  listed, one check each, PASS (ids ADD, CHANGE, REPLACE, DESTROY, FORGET).
- Destroying or replacing a stateful resource (:data:`GUARDED_TYPES`: the DB
  instance, a KMS key, a secret, the parameter group) is a FAIL naming the
  address and what forces it (``change.replace_paths``, ``action_reason``),
  unless the address was allowed (``--allow-replace``).
- A changing static parameter (apply_method ``pending-reboot``) or a switch
  to another parameter group adds a REBOOT check: PASS with a WARN detail,
  because the instance takes the change only after a reboot.

The plan JSON format: https://developer.hashicorp.com/terraform/internals/json-format
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tenantdb.aws_reference import STATEFUL_RESOURCE_TYPES
from tenantdb.errors import ToolkitError
from tenantdb.report import Check, errored, failed, passed

GUARDED_TYPES: Mapping[str, str] = STATEFUL_RESOURCE_TYPES
"""Resource type -> what destroying it loses (tenantdb.aws_reference's one list, which the stacks'
prevent_destroy also reads). Replacing or destroying one needs --allow-replace."""

REBOOT_METHOD = "pending-reboot"

# Terraform's action_reason values, in words for the report.
_REASONS: Mapping[str, str] = {
    "replace_because_tainted": "the object is tainted",
    "replace_by_request": "replacement requested (-replace)",
    "replace_by_triggers": "replace_triggered_by changed",
    "replace_because_cannot_update": "an attribute that cannot be updated in place changes",
    "delete_because_no_resource_config": "the resource is no longer in the configuration",
    "delete_because_no_module": "its module is no longer in the configuration",
    "delete_because_wrong_repetition": "count/for_each changed",
    "delete_because_count_index": "its count index is out of range",
    "delete_because_each_key": "its for_each key is gone",
    "delete_because_no_move_target": "its moved block has no target",
}


@dataclass(frozen=True)
class Change:
    """One planned change of one managed resource."""

    stack: str
    address: str
    type: str
    action: str
    """create, update, replace, delete or forget."""
    reason: str = ""
    forced_by: tuple[str, ...] = ()
    """Attributes that force a replacement, each with its before -> after when not sensitive."""
    changed: tuple[str, ...] = ()
    """Top-level attributes an update changes."""
    reboot: tuple[str, ...] = ()
    """Why the instance needs a reboot after this change (static parameters, another group)."""

    @property
    def qualified(self) -> str:
        return f"{self.stack}:{self.address}" if self.stack else self.address

    @property
    def guarded(self) -> bool:
        return self.type in GUARDED_TYPES and self.action in ("replace", "delete")


class PlanFormatError(ToolkitError, ValueError):
    """The document is not a Terraform JSON plan this module understands."""


def action_of(actions: Sequence[str]) -> str | None:
    """Terraform's action list as one word; None for no-op and data-source reads."""
    acts = tuple(actions)
    if acts in (("delete", "create"), ("create", "delete")):
        return "replace"
    if acts in (("create",), ("update",), ("delete",), ("forget",)):
        return acts[0]
    if acts in (("no-op",), ("read",)):
        return None
    raise PlanFormatError(f"unknown action list {list(acts)}")


def changes(plan: Mapping[str, Any], stack: str = "") -> list[Change]:
    """Every managed-resource change in a ``terraform show -json`` plan document."""
    version = str(plan.get("format_version", ""))
    if not version.startswith("1."):
        raise PlanFormatError(f"plan format_version {version or 'missing'}: expected 1.x (Terraform >= 1.0)")
    out: list[Change] = []
    for rc in plan.get("resource_changes") or []:
        if rc.get("mode") != "managed":
            continue
        change = rc.get("change") or {}
        action = action_of(change.get("actions") or [])
        if action is None:
            continue
        address = rc["address"] + (f" (deposed {rc['deposed']})" if rc.get("deposed") else "")
        out.append(Change(
            stack=stack, address=address, type=rc.get("type", ""), action=action,
            reason=rc.get("action_reason", ""),
            forced_by=_forced_by(change) if action == "replace" else (),
            changed=_changed_attributes(change) if action == "update" else (),
            reboot=_reboot_reasons(rc.get("type", ""), change) if action == "update" else (),
        ))
    return out


def checks(found: Iterable[Change], allow_replace: Iterable[str] = ()) -> list[Check]:
    """One check per change; guarded replacements and deletions FAIL unless allowed."""
    allowed = set(allow_replace)
    out: list[Check] = []
    for c in found:
        out.append(_check(c, c.address in allowed or c.qualified in allowed))
        if c.reboot:
            out.append(passed("REBOOT", c.qualified, "no reboot", "WARN: reboot needed: " + "; ".join(c.reboot),
                              "WARN: " + "; ".join(c.reboot)
                              + ": the instance takes it only after a reboot (in the maintenance window, "
                                "or `aws rds reboot-db-instance`)"))
    return out


def summary(stack: str, found: Sequence[Change]) -> Check:
    """The PLAN check of one stack: counts in Terraform's words."""
    n = {a: sum(1 for c in found if c.action == a) for a in ("create", "update", "replace", "delete", "forget")}
    counts = (f"{n['create']} to add, {n['update']} to change, {n['replace']} to replace, "
              f"{n['delete']} to destroy" + (f", {n['forget']} to forget" if n["forget"] else ""))
    return passed("PLAN", stack, "a plan", "no changes" if not found else counts)


def unused_allowances(found: Iterable[Change], allow_replace: Iterable[str]) -> list[str]:
    """--allow-replace values that match no planned replacement or destruction (likely typos)."""
    hits = {name for c in found if c.action in ("replace", "delete") for name in (c.address, c.qualified)}
    return [a for a in allow_replace if a not in hits]


def read(plan: Mapping[str, Any] | str, stack: str = "") -> list[Change]:
    """The changes of a plan document or its JSON text; PlanFormatError when it cannot be read."""
    try:
        doc = json.loads(plan) if isinstance(plan, str) else plan
        return changes(doc, stack)
    except PlanFormatError:
        raise
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise PlanFormatError(f"{type(exc).__name__}: {exc}") from None


def analyse(plan: Mapping[str, Any] | str, stack: str = "",
            allow_replace: Iterable[str] = ()) -> list[Check]:
    """The checks for one stack's plan; an unreadable plan is ERROR (fail closed)."""
    try:
        found = read(plan, stack)
    except PlanFormatError as exc:
        return [errored("PLAN", stack or "plan", f"cannot read the plan: {exc}")]
    return [summary(stack, found), *checks(found, allow_replace)]


# ----- one change, in words -------------------------------------------------

def _check(c: Change, allowed: bool) -> Check:
    if c.action == "create":
        return passed("ADD", c.qualified, "", "create")
    if c.action == "update":
        return passed("CHANGE", c.qualified, "", "update in place: " + (", ".join(c.changed) or "(computed)"))
    if c.action == "forget":
        return passed("FORGET", c.qualified, "", "removed from state, left in AWS")
    why = _why(c)
    ident = "REPLACE" if c.action == "replace" else "DESTROY"
    verb = "replace" if c.action == "replace" else "destroy"
    if not c.guarded:
        return passed(ident, c.qualified, "", verb, why)
    if allowed:
        return passed(ident, c.qualified, f"no {verb}, or allowed", f"{verb} (allowed by --allow-replace)",
                      f"allowed by --allow-replace: {why}")
    return failed(ident, c.qualified, f"no {verb} of {c.type}", verb,
                  f"plan would {verb} {c.qualified}, losing {GUARDED_TYPES[c.type]}: {why}; "
                  f"if that is intended, pass --allow-replace {c.address}")


def _why(c: Change) -> str:
    parts = []
    if c.forced_by:
        parts.append("forced by " + ", ".join(c.forced_by))
    reason = _REASONS.get(c.reason, c.reason)
    if reason and not (c.forced_by and c.reason == "replace_because_cannot_update"):
        parts.append(reason)
    return "; ".join(parts) or ("replacement" if c.action == "replace" else "destruction") + " planned"


def _path(steps: Sequence[Any]) -> str:
    out = ""
    for s in steps:
        out += f"[{s}]" if isinstance(s, int) else (f".{s}" if out else str(s))
    return out


def _at(value: Any, steps: Sequence[Any]) -> Any:
    for s in steps:
        if isinstance(value, Mapping) and isinstance(s, str):
            value = value.get(s)
        elif isinstance(value, list) and isinstance(s, int) and 0 <= s < len(value):
            value = value[s]
        else:
            return None
    return value


def _shown(value: Any, sensitive: Any, unknown: Any) -> str:
    if unknown is True:
        return "(known after apply)"
    if sensitive:
        return "(sensitive)"
    if isinstance(value, (str, int, float, bool)) or value is None:
        return json.dumps(value)
    return "(…)"


def _forced_by(change: Mapping[str, Any]) -> tuple[str, ...]:
    out = []
    for steps in change.get("replace_paths") or []:
        before = _shown(_at(change.get("before"), steps), _at(change.get("before_sensitive"), steps), None)
        after = _shown(_at(change.get("after"), steps), _at(change.get("after_sensitive"), steps),
                       _at(change.get("after_unknown"), steps))
        out.append(f"{_path(steps)} ({before} -> {after})")
    return tuple(out)


def _changed_attributes(change: Mapping[str, Any]) -> tuple[str, ...]:
    before = change.get("before") or {}
    after = change.get("after") or {}
    unknown = change.get("after_unknown") or {}
    keys = sorted(set(before) | set(after) | set(unknown))
    return tuple(k for k in keys if k != "tags_all" and (before.get(k) != after.get(k) or unknown.get(k) is True))


def _params(block: Any) -> dict[str, tuple[str, str]]:
    return {p.get("name", ""): (str(p.get("value", "")), p.get("apply_method", "") or "")
            for p in (block or []) if isinstance(p, Mapping)}


def _reboot_reasons(rtype: str, change: Mapping[str, Any]) -> tuple[str, ...]:
    before, after = change.get("before") or {}, change.get("after") or {}
    if rtype == "aws_db_parameter_group":
        old, new = _params(before.get("parameter")), _params(after.get("parameter"))
        out = []
        for name in sorted(set(old) | set(new)):
            if old.get(name, ("", ""))[0] == new.get(name, ("", ""))[0]:
                continue
            method = (new.get(name) or old.get(name) or ("", ""))[1]
            if method == REBOOT_METHOD:
                was, now = (old.get(name, ("(default)", ""))[0], new.get(name, ("(default)", ""))[0])
                out.append(f"static parameter {name} {was} -> {now} (apply_method {REBOOT_METHOD})")
        return tuple(out)
    if rtype == "aws_db_instance" and before.get("parameter_group_name") != after.get("parameter_group_name"):
        return (f"parameter group {before.get('parameter_group_name')} -> {after.get('parameter_group_name')}",)
    return ()
