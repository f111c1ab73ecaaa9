"""What every assertion of `tenantdb check` receives: one environment's settings, its
baseline, and its synthesized stacks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from tenantdb import checks
from tenantdb.infra.check.reader import Stack, ref
from tenantdb.report import Check, compare
from tenantdb.settings import PROFILES, Settings


@dataclass
class Ctx:
    s: Settings
    base: Settings
    """The environment's baseline: Story 0.4's values (defaults + profile, no overlay)."""
    source: Stack | Path
    """The database stack, or its directory (read on first use, so init/validate run even if it is unreadable)."""
    dirs: Mapping[str, Path] = field(default_factory=dict)
    """Every synthesized stack by id (the network stand-in, the access stack)."""

    @cached_property
    def db(self) -> Stack:
        return self.source if isinstance(self.source, Stack) else Stack.load(self.source)

    @property
    def directory(self) -> Path:
        return self.source.directory if isinstance(self.source, Stack) else self.source

    @property
    def instance(self) -> dict[str, Any]:
        return self.db.one("aws_db_instance")[1]

    def key_arn(self, alias: str) -> str:
        return ref("aws_kms_key", self.db.key_for_alias(alias), "arn")


def baseline(s: Settings) -> Settings:
    """Story 0.4's values for the environment: defaults + profile, no overlay."""
    return Settings(environment=s.environment, **PROFILES[s.environment])


def title(cid: str) -> str:
    """The control's one title: the registry's (:func:`tenantdb.checks.title`)."""
    return checks.title(cid)


def story_value(c: Ctx, cid: str, field_name: str, actual: Any) -> Check:
    """Compare with the story's value for this environment; say when an overlay moved the setting."""
    want, configured = getattr(c.base, field_name), getattr(c.s, field_name)
    detail = "" if actual == want else (
        f"Story 0.4 requires {field_name}={want} for {c.s.environment}; settings say {configured}")
    return compare(cid, title(cid), want, actual, detail)


def tf(v: Any) -> str:
    """A Terraform boolean as Terraform writes it."""
    return "true" if v is True else "false" if v is False else str(v)
