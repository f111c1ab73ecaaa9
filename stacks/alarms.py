"""Alarms and events that tell someone when the instance runs out of storage, memory, connections or
transaction ids (Story 0.4 tasks 4.3 and 4.4, monitoring).

One SNS topic per environment receives:

- the CloudWatch alarms on the instance's AWS/RDS metrics (``settings.alarm_specs``: thresholds derived
  from the settings), with alarm and OK actions, so a page also says when it is over;
- the instance's RDS events of the categories in ``event_categories`` (failover, low storage,
  maintenance, configuration change) through an event subscription.

The topic is encrypted with a key of its own (``aws_kms_key.alarms``), not the storage key: publishing
needs the CloudWatch and RDS-events service principals in the key policy, and the key that guards every
byte of the database should name no principal beyond the account and RDS. This key protects only
notifications. AWS documents the service principals' key statement without conditions (a condition
the KMS request does not carry drops every notification silently); the account scope is held by the
topic policy instead, which lets exactly these two services publish, for this account's alarms of
this instance and this instance's events (``aws:SourceAccount``, ``aws:SourceArn``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from stacks.account import Account
from stacks.cdk import (
    CloudwatchMetricAlarm,
    Construct,
    DbEventSubscription,
    KmsAlias,
    KmsKey,
    SnsTopic,
    SnsTopicPolicy,
    SnsTopicSubscription,
    TerraformResource,
    named,
)
from stacks.kms import ADMIN_ACTIONS, USE_ACTIONS
from stacks.policy import Statement, document
from tenantdb.settings_alarms import PERIOD_S, PUBLISHERS, AlarmSpec

PUBLISH_KEY_ACTIONS: tuple[str, ...] = ("kms:GenerateDataKey*", "kms:Decrypt")
"""What a publisher needs on the topic's key (AWS SNS developer guide, encrypted topics and AWS services)."""


@dataclass(frozen=True)
class AlarmsProps:
    account: Account
    instance_identifier: str
    """The instance the alarms watch (dimension ``DBInstanceIdentifier``) and the events come from."""
    topic_name: str
    """``settings.alarm_topic_name``: one topic per environment."""
    kms_alias: str
    """``settings.kms_alias_alarms``: the topic's key (Story 0.4 AC5: encrypted at rest)."""
    key_deletion_window_days: int
    """Waiting period before a scheduled deletion of the key (AC5, AWS KMS ScheduleKeyDeletion)."""
    alarms: Sequence[AlarmSpec]
    """``settings.alarm_specs`` (Story 0.4 task 4.3)."""
    event_subscription_name: str
    event_categories: Sequence[str]
    """RDS event categories sent to the topic (Story 0.4 task 4.4)."""
    subscriptions: Sequence[tuple[str, str]]
    """``settings.alarm_subscriptions``: (protocol, endpoint) per subscriber."""
    depends_on: Sequence[TerraformResource]
    """The instance: RDS refuses an event subscription naming a source that does not exist yet."""


class Alarms(Construct):
    def __init__(self, scope: Construct, id_: str, props: AlarmsProps):
        super().__init__(scope, id_)
        p, acct = props, props.account
        key_policy = document(self, "alarms_key_policy", [
            Statement(sid="KeyAdministration", actions=ADMIN_ACTIONS, principals={"AWS": [acct.root_arn]}),
            Statement(sid="UseThroughServices", actions=USE_ACTIONS, principals={"AWS": [acct.root_arn]},
                      conditions=[("StringEquals", "kms:ViaService", [acct.service("sns")]),
                                  ("StringEquals", "kms:CallerAccount", [acct.account_id])]),
            Statement(sid="PublishAlarmsAndEvents", actions=PUBLISH_KEY_ACTIONS,
                      principals={"Service": list(PUBLISHERS)}),
        ])
        self.key = named(KmsKey(
            self, "key", description=f"{p.instance_identifier}: alarm and event notifications (SNS)",
            enable_key_rotation=True, deletion_window_in_days=p.key_deletion_window_days, policy=key_policy.json,
        ), "alarms")
        named(KmsAlias(self, "alias", name=p.kms_alias, target_key_id=self.key.key_id), "alarms")
        self.topic = named(SnsTopic(self, "topic", name=p.topic_name, kms_master_key_id=self.key.arn), "alarms")

        def publisher(sid: str, service: str, sources: list[str]) -> Statement:
            return Statement(sid=sid, actions=["sns:Publish"], resources=[self.topic.arn],
                             principals={"Service": [service]},
                             conditions=[("StringEquals", "aws:SourceAccount", [acct.account_id]),
                                         ("ArnLike", "aws:SourceArn", sources)])

        topic_policy = document(self, "alarms_topic_policy", [
            publisher("CloudWatchAlarms", PUBLISHERS[0], [acct.arn("cloudwatch", f"alarm:{p.instance_identifier}-*")]),
            publisher("RdsEvents", PUBLISHERS[1], [acct.arn("rds", f"db:{p.instance_identifier}"),
                                                    acct.arn("rds", f"es:{p.event_subscription_name}")]),
        ])
        named(SnsTopicPolicy(self, "topic-policy", arn=self.topic.arn, policy=topic_policy.json), "alarms")

        self.alarms = [named(CloudwatchMetricAlarm(
            self, f"alarm-{a.key}",
            alarm_name=f"{p.instance_identifier}-{a.key}",
            alarm_description=f"{p.instance_identifier}: {a.what}",
            namespace="AWS/RDS", metric_name=a.metric, dimensions={"DBInstanceIdentifier": p.instance_identifier},
            statistic=a.statistic, period=PERIOD_S, evaluation_periods=a.periods, datapoints_to_alarm=a.periods,
            threshold=a.threshold, comparison_operator=a.comparison, treat_missing_data="missing",
            actions_enabled=True, alarm_actions=[self.topic.arn], ok_actions=[self.topic.arn],
        ), a.address) for a in p.alarms]

        named(DbEventSubscription(
            self, "events", name=p.event_subscription_name, sns_topic=self.topic.arn, source_type="db-instance",
            source_ids=[p.instance_identifier], event_categories=list(p.event_categories), enabled=True,
            depends_on=list(p.depends_on),
        ), "alarms")

        for protocol, endpoint in p.subscriptions:
            named(SnsTopicSubscription(
                self, f"subscriber-{endpoint}", topic_arn=self.topic.arn, protocol=protocol, endpoint=endpoint,
            ), f"alarms_{re.sub(r'[^A-Za-z0-9_]', '_', endpoint)}")

    @property
    def topic_arn(self) -> str:
        return self.topic.arn
