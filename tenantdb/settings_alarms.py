"""The settings of the alarms and events that tell someone when the instance runs out of storage, memory,
connections or transaction ids (Story 0.4 tasks 4.3 and 4.4, monitoring): who is told, and the
thresholds, each a share or a bound of a value the settings already hold (``allocated_storage_gb``,
the class's memory, ``max_connections``), so no size is typed twice.

:attr:`AlarmSettings.alarm_specs` is the one list of alarms the stack creates, `tenantdb check` expects
and `tenantdb verify` finds live: metric, comparison, threshold and how long it must hold.

A group of fields :class:`tenantdb.settings.Settings` is made of; never built on its own (its derived
values read the instance's fields).

Ground floor: this module imports only ground-floor modules (settings_rules).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, field_validator

_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
# An ARN SNS can deliver to without a role of its own: an SQS queue or a Lambda function.
_ARN = re.compile(r"^arn:aws[a-z-]*:(sqs|lambda):[a-z0-9-]+:\d{12}:[A-Za-z0-9_:.-]+$")
PERIOD_S = 300
"""Every alarm reads 5-minute statistics (RDS publishes its metrics every minute; five smooth a spike)."""
WRAPAROUND = 2**31
"""PostgreSQL's transaction-id wall: past about 2^31 - 3 million used ids the server refuses writes."""


@dataclass(frozen=True)
class AlarmSpec:
    """One CloudWatch alarm on an AWS/RDS metric of the instance."""

    key: str
    """Short name: the alarm is ``<instance>-<key>``, its Terraform address ``aws_cloudwatch_metric_alarm.<key>``
    (``-`` as ``_``)."""
    metric: str
    comparison: str
    """``GreaterThanThreshold`` or ``LessThanThreshold``."""
    threshold: float
    periods: int
    """Consecutive 5-minute periods over the threshold before it pages."""
    statistic: str
    what: str
    """What it means, for the alarm's description and the runbook."""

    @property
    def address(self) -> str:
        return self.key.replace("-", "_")

    @property
    def shown(self) -> str:
        """The threshold as people read it: GiB, milliseconds or the plain number, with its direction."""
        t = self.threshold
        value = (f"{t / 1024**3:.3g} GiB" if self.metric in ("FreeStorageSpace", "FreeableMemory")
                 else f"{t * 1000:g} ms" if self.metric.endswith("Latency") else f"{t:g}")
        return f"{self.metric} {'>' if self.above else '<'} {value}"

    @property
    def above(self) -> bool:
        return self.comparison.startswith("GreaterThan")

    def not_weaker(self, comparison: Any, threshold: Any, periods: Any) -> bool:
        """True when a live alarm pages at least as early as this one: same direction, a threshold no
        further out, no more periods."""
        try:
            t, p = float(threshold), int(periods)
        except (TypeError, ValueError):
            return False
        nearer = t <= self.threshold if self.above else t >= self.threshold
        return comparison == self.comparison and nearer and p <= self.periods


class AlarmSettings(BaseModel):
    """Who is told, and the thresholds of the instance's alarms."""

    alarm_subscribers: tuple[str, ...] = ()
    """Who the alarm topic notifies: e-mail addresses (protocol email; each must confirm the message
    AWS sends) or ARNs of SQS queues or Lambda functions (a pager's or chat's integration). @default none:
    the topic, alarms and events exist and can be subscribed to outside Terraform; set it per
    environment in the overlay @see Story 0.4 tasks 4.3/4.4 (someone is told), docs/runbook.md
    "Alarms and events"."""

    alarm_free_storage_percent: float = Field(10.0, gt=0, lt=100)
    """Page when free storage falls below this share of ``allocated_storage_gb``. @default 10 (2 GiB of
    dev's 20, 10 GiB of prod's 100): RDS storage autoscaling also starts near 10% free, so the page
    says the volume is growing, or, at ``max_allocated_storage_gb``, that it cannot; a full volume stops
    every tenant's writes @see Story 0.4 task 4.3 (storage), AWS RDS recommended alarms."""

    alarm_freeable_memory_percent: float = Field(10.0, gt=0, lt=100)
    """Page when freeable memory stays below this share of the instance class's memory
    (tenantdb.aws_reference.INSTANCE_CLASS_MEMORY_GIB). @default 10: shared_buffers takes 25% and the page
    cache the rest; under 10% the server swaps and the OOM killer is near @see Story 0.4 task 4.3 (memory)."""

    alarm_connections_percent: float = Field(80.0, gt=0, le=100)
    """Page when connections stay above this share of ``max_connections``. @default 80 (160 of 200):
    room to act before pods are refused with "too many clients" (53300) @see Story 0.4 AC6, task 4.3."""

    alarm_cpu_percent: float = Field(80.0, gt=0, le=100)
    """Page when CPU stays above this percentage. @default 80 @see Story 0.4 task 4.3 (CPU)."""

    alarm_sustained_minutes: int = Field(15, ge=5, le=60)
    """How long CPU, memory, connections, latency and queue depth must stay past their thresholds before
    they page (a multiple of 5: the alarms read 5-minute statistics). Storage and transaction ids page
    on one period: they move slowly and do not come back by themselves. @default 15: a deploy's or a
    vacuum's spike does not page, a lasting one does @see Story 0.4 task 4.3."""

    alarm_latency_ms: float = Field(20.0, gt=0, le=10000)
    """Page when the average read or write latency stays above this many milliseconds. @default 20: gp3
    serves single-digit milliseconds; 20 sustained means the volume's IOPS or throughput are exhausted
    @see Story 0.4 task 1.6 (gp3), task 4.3."""

    alarm_disk_queue_depth: float = Field(20.0, gt=0)
    """Page when the average I/O requests waiting stay above this. @default 20: the same exhaustion seen
    from the queue, which rises before latency does under a burst @see Story 0.4 task 4.3."""

    alarm_max_used_xids: float = Field(1.0e9, ge=1.0e8, le=1.5e9)
    """Page when MaximumUsedTransactionIDs (the oldest unfrozen transaction id's age) passes this.
    @default 1.0e9: autovacuum freezes from 200 million (autovacuum_freeze_max_age), so a normal server
    stays far below; 1e9 is under half of the 2^31 wall (:data:`WRAPAROUND`) where PostgreSQL stops
    accepting writes, which leaves days to weeks to find what blocks vacuum (a long transaction, an
    abandoned replication slot, a prepared transaction) @see Story 0.4 task 4.3, AWS RDS recommended
    alarms (MaximumUsedTransactionIDs), PostgreSQL "Preventing Transaction ID Wraparound Failures"."""

    # ----- validation -------------------------------------------------------
    @field_validator("alarm_subscribers")
    @classmethod
    def _subscribers(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for who in v:
            if not (_EMAIL.match(who) or _ARN.match(who)):
                raise ValueError(f"{who!r} is neither an e-mail address nor an SQS queue or Lambda function ARN; "
                                 'use e.g. "dba@example.com" or "arn:aws:sqs:us-east-1:123456789012:pager"')
        if len(set(v)) != len(v):
            raise ValueError("names a subscriber twice")
        return v

    @field_validator("alarm_sustained_minutes")
    @classmethod
    def _whole_periods(cls, v: int) -> int:
        if v % (PERIOD_S // 60):
            raise ValueError("must be a multiple of 5 (the alarms read 5-minute statistics), e.g. 15")
        return v

    # ----- derived (the stack, check and verify read these) -----------------
    @property
    def alarm_topic_name(self) -> str:
        return f"{self._name_prefix}-db-alarms"

    @property
    def kms_alias_alarms(self) -> str:
        return f"alias/{self._name_prefix}-alarms"

    @property
    def event_subscription_name(self) -> str:
        return f"{self._name_prefix}-db-events"

    def _other(self, name: str) -> Any:
        """A field of another group of the same Settings (the instance's): this group is never built alone."""
        return getattr(self, name)

    @property
    def _name_prefix(self) -> str:
        return f"{self._other('project')}-{self._other('environment')}"

    @property
    def alarm_subscriptions(self) -> tuple[tuple[str, str], ...]:
        """(SNS protocol, endpoint) per subscriber."""
        return tuple(("email", who) if "@" in who and not who.startswith("arn:") else (who.split(":")[2], who)
                     for who in self.alarm_subscribers)

    @property
    def alarm_specs(self) -> tuple[AlarmSpec, ...]:
        """The instance's alarms, thresholds derived from the settings (the one list)."""
        storage_bytes = self._other("allocated_storage_gb") * 1024**3
        memory_bytes = self._other("instance_memory_bytes")
        connections = self._other("max_connections")
        sustained = self.alarm_sustained_minutes // (PERIOD_S // 60)
        latency_s = self.alarm_latency_ms / 1000
        gt, lt = "GreaterThanThreshold", "LessThanThreshold"
        return (
            AlarmSpec("free-storage", "FreeStorageSpace", lt,
                      round(storage_bytes * self.alarm_free_storage_percent / 100), 1, "Minimum",
                      f"free storage below {self.alarm_free_storage_percent:g}% of allocated"),
            AlarmSpec("freeable-memory", "FreeableMemory", lt,
                      round(memory_bytes * self.alarm_freeable_memory_percent / 100), sustained, "Average",
                      f"freeable memory below {self.alarm_freeable_memory_percent:g}% of the class's memory"),
            AlarmSpec("connections", "DatabaseConnections", gt, connections * self.alarm_connections_percent / 100,
                      sustained, "Maximum", f"connections above {self.alarm_connections_percent:g}% "
                      "of max_connections"),
            AlarmSpec("cpu", "CPUUtilization", gt, self.alarm_cpu_percent, sustained, "Average",
                      f"CPU above {self.alarm_cpu_percent:g}%"),
            AlarmSpec("read-latency", "ReadLatency", gt, latency_s, sustained, "Average",
                      f"read latency above {self.alarm_latency_ms:g} ms"),
            AlarmSpec("write-latency", "WriteLatency", gt, latency_s, sustained, "Average",
                      f"write latency above {self.alarm_latency_ms:g} ms"),
            AlarmSpec("disk-queue", "DiskQueueDepth", gt, self.alarm_disk_queue_depth, sustained, "Average",
                      f"disk queue depth above {self.alarm_disk_queue_depth:g}"),
            AlarmSpec("transaction-ids", "MaximumUsedTransactionIDs", gt, self.alarm_max_used_xids, 1, "Maximum",
                      f"used transaction ids above {self.alarm_max_used_xids:.3g} (wraparound at 2^31)"),
        )


EVENT_CATEGORIES: tuple[str, ...] = ("failover", "low storage", "maintenance", "configuration change")
"""The RDS event categories of the instance the topic receives (Story 0.4 task 4.4)."""

PUBLISHERS: tuple[str, ...] = ("cloudwatch.amazonaws.com", "events.rds.amazonaws.com")
"""The service principals that publish to the alarm topic (CloudWatch alarms, RDS event notifications): the
only ones its key policy and topic policy name."""
