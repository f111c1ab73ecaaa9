"""The one reader of a synthesized Terraform JSON document (``cdk.tf.json``).

Every assertion of `tenantdb check` reads the stack through :class:`Stack`;
nothing here imports cdktf or stacks/: the checks judge what Terraform will
receive, not the Python that produced it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tenantdb.errors import ToolkitError

PASSWORD_ATTRIBUTES = {"password", "password_wo", "master_password", "secret_string", "secret_string_wo",
                       "secret_binary"}
"""Attributes that would put a secret into Terraform state."""

_REF = re.compile(r"^\$\{(data\.)?([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([a-z0-9_\[\]]+)\}$")


class StackUnreadable(ToolkitError):
    """cdk.tf.json is missing or not JSON: every assertion over it is ERROR."""


@dataclass(frozen=True)
class Stack:
    directory: Path
    doc: dict[str, Any]

    @classmethod
    def load(cls, directory: Path) -> Stack:
        path = directory / "cdk.tf.json"
        try:
            return cls(directory, json.loads(path.read_text()))
        except (OSError, ValueError) as exc:
            raise StackUnreadable(f"cannot read {path}: {exc}") from None

    def resources(self, rtype: str) -> dict[str, dict[str, Any]]:
        return self.doc.get("resource", {}).get(rtype, {})

    def data(self, dtype: str) -> dict[str, dict[str, Any]]:
        return self.doc.get("data", {}).get(dtype, {})

    def one(self, rtype: str) -> tuple[str, dict[str, Any]]:
        found = self.resources(rtype)
        if len(found) != 1:
            raise LookupError(f"expected exactly one {rtype}, found {len(found)}")
        return next(iter(found.items()))

    def named(self, rtype: str, attr: str, value: str) -> tuple[str, dict[str, Any]]:
        """The resource of ``rtype`` whose ``attr`` equals ``value``."""
        for name, body in self.resources(rtype).items():
            if body.get(attr) == value:
                return name, body
        raise LookupError(f"no {rtype} with {attr} = {value!r}")

    def key_for_alias(self, alias: str) -> str:
        """The aws_kms_key address behind a KMS alias name."""
        _, body = self.named("aws_kms_alias", "name", alias)
        target = parse_ref(body.get("target_key_id"))
        if not target or target[1] != "aws_kms_key":
            raise LookupError(f"alias {alias} does not point at an aws_kms_key of this stack")
        return target[2]

    def policy_doc(self, reference: Any) -> dict[str, Any]:
        """The aws_iam_policy_document a ``${data.aws_iam_policy_document.X.json}`` points at."""
        target = parse_ref(reference)
        if not target or not target[0] or target[1] != "aws_iam_policy_document":
            raise LookupError(f"policy {reference!r} is not an aws_iam_policy_document reference")
        return self.data("aws_iam_policy_document")[target[2]]

    def walk(self) -> Iterable[tuple[str, Any]]:
        """Every (key, value) pair in the document, at any depth."""
        stack: list[Any] = [self.doc]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                for k, v in node.items():
                    yield k, v
                    stack.append(v)
            elif isinstance(node, list):
                stack.extend(node)


def parse_ref(value: Any) -> tuple[bool, str, str, str] | None:
    """``${data.T.N.attr}`` -> (is_data, T, N, attr); anything else -> None."""
    m = _REF.match(value) if isinstance(value, str) else None
    return (bool(m[1]), m[2], m[3], m[4]) if m else None


def ref(rtype: str, name: str, attr: str, data: bool = False) -> str:
    """The Terraform reference ``${[data.]T.N.attr}``."""
    return f"${{{'data.' if data else ''}{rtype}.{name}.{attr}}}"
