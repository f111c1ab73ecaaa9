"""Live checks of the alarms and events (Story 0.4 tasks 4.3/4.4), AWS side: every alarm the settings
derive exists on the instance, enabled, with actions to the topic and a threshold no weaker than the
settings'; the topic is encrypted with its own key, whose policy and the topic's name exactly the two
publishing services; the instance's event subscription is enabled with its categories.

Each function takes the :class:`Context` and returns one Check. A call that cannot be made raises a
one-line :class:`ToolkitError`, which the runner turns into ERROR (fail closed); something missing or
weakened is FAIL naming it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from tenantdb.checks import title
from tenantdb.errors import ToolkitError
from tenantdb.report import Check, failed, passed
from tenantdb.settings_alarms import EVENT_CATEGORIES, PERIOD_S, PUBLISHERS
from tenantdb.verify.context import Context


def _call(what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
    """One AWS call; its failure is one line naming the call and the code (never PASS)."""
    try:
        return fn(**kwargs)
    except ClientError as exc:
        raise ToolkitError(f"{what}: {exc.response.get('Error', {}).get('Code') or 'failed'}") from None
    except BotoCoreError as exc:
        raise ToolkitError(f"{what}: {exc}") from None


def _verdict(cid: str, expected: str, ok_actual: str, problems: list[str]) -> Check:
    if problems:
        return failed(cid, title(cid), expected, "; ".join(problems), "; ".join(problems))
    return passed(cid, title(cid), expected, ok_actual)


def _alarms(ctx: Context) -> dict[str, dict[str, Any]]:
    """The instance's metric alarms by name (DescribeAlarms, name prefix ``<instance>-``)."""
    cw, prefix = ctx.aws.client("cloudwatch"), f"{ctx.settings.instance_identifier}-"
    found: dict[str, dict[str, Any]] = {}
    token: dict[str, str] = {}
    while True:
        page = _call("cloudwatch:DescribeAlarms", cw.describe_alarms, AlarmNamePrefix=prefix,
                     AlarmTypes=["MetricAlarm"], **token)
        found.update({a["AlarmName"]: a for a in page.get("MetricAlarms", [])})
        if not page.get("NextToken"):
            return found
        token = {"NextToken": page["NextToken"]}


def alarms(ctx: Context) -> Check:
    """MON-ALARMS: every alarm of ``settings.alarm_specs`` present, enabled, to the topic, not weaker."""
    s = ctx.settings
    topic_arn, live = ctx.alarm_topic_arn, _alarms(ctx)
    problems = [] if topic_arn else [f"topic {s.alarm_topic_name} not found"]
    for a in s.alarm_specs:
        name = f"{s.instance_identifier}-{a.key}"
        got = live.get(name)
        if got is None:
            problems.append(f"{name} missing")
            continue
        dims = {d.get("Name"): d.get("Value") for d in got.get("Dimensions", [])}
        if (got.get("Namespace"), got.get("MetricName")) != ("AWS/RDS", a.metric) or \
                dims.get("DBInstanceIdentifier") != s.instance_identifier:
            problems.append(f"{name} watches {got.get('Namespace')} {got.get('MetricName')} {dims}, "
                            f"not AWS/RDS {a.metric} of {s.instance_identifier}")
        if not got.get("ActionsEnabled"):
            problems.append(f"{name} actions disabled")
        for key in ("AlarmActions", "OKActions"):
            if topic_arn and topic_arn not in got.get(key, []):
                problems.append(f"{name} {key} {got.get(key, [])} without the topic")
        if not a.not_weaker(got.get("ComparisonOperator"), got.get("Threshold"), got.get("EvaluationPeriods")) \
                or int(got.get("Period") or 0) > PERIOD_S:
            problems.append(f"{name} weakened: {got.get('ComparisonOperator')} {got.get('Threshold')} for "
                            f"{got.get('EvaluationPeriods')} x {got.get('Period')} s, settings say {a.shown} "
                            f"for {a.periods} x {PERIOD_S} s")
    return _verdict("MON-ALARMS", f"{len(s.alarm_specs)} alarms on {s.instance_identifier}, enabled, to "
                    f"{s.alarm_topic_name}: {', '.join(a.shown for a in s.alarm_specs)}",
                    f"{len(s.alarm_specs)} alarms present, enabled, not weaker", problems)


def _policy_services(policy: Any) -> tuple[set[str], list[str]]:
    """The Service principals an IAM policy JSON names, and every wildcard principal (a problem)."""
    doc = json.loads(policy) if isinstance(policy, str) else policy or {}
    statements = doc.get("Statement", [])
    services, wild = set(), []
    for st in statements if isinstance(statements, list) else [statements]:
        principal = st.get("Principal")
        if principal == "*" or (isinstance(principal, dict) and "*" in (principal.get("AWS"), [principal.get("AWS")])):
            wild.append(f"{st.get('Sid')}: wildcard principal")
        named = principal.get("Service", []) if isinstance(principal, dict) else []
        services.update([named] if isinstance(named, str) else named)
    return services, wild


def topic(ctx: Context) -> Check:
    """MON-TOPIC: the topic's KmsMasterKeyId is the alarms key; the key and topic policies name exactly the
    two publishing services; every subscriber of the settings is subscribed."""
    s = ctx.settings
    arn = ctx.alarm_topic_arn
    expected = f"{s.alarm_topic_name} encrypted with {s.kms_alias_alarms}; only {' and '.join(PUBLISHERS)} publish"
    if arn is None:
        return _verdict("MON-TOPIC", expected, "", [f"topic {s.alarm_topic_name} not found"])
    sns = ctx.aws.client("sns")
    attrs = _call(f"sns:GetTopicAttributes {arn}", sns.get_topic_attributes, TopicArn=arn)["Attributes"]
    key = ctx.key_arn(s.kms_alias_alarms)
    problems = []
    used = attrs.get("KmsMasterKeyId")
    if not used:
        problems.append("topic not encrypted")
    elif ctx.key_arn(used) != key:
        problems.append(f"topic encrypted with {used}, not {s.kms_alias_alarms}")
    key_policy = _call(f"kms:GetKeyPolicy {s.kms_alias_alarms}", ctx.aws.kms.get_key_policy,
                       KeyId=key, PolicyName="default")["Policy"]
    for what, policy in (("key policy", key_policy), ("topic policy", attrs.get("Policy"))):
        services, wild = _policy_services(policy)
        problems += [f"{what} {w}" for w in wild]
        if services != set(PUBLISHERS):
            problems.append(f"{what} services {sorted(services)}, want exactly {list(PUBLISHERS)}")
    subs = _call(f"sns:ListSubscriptionsByTopic {arn}", sns.list_subscriptions_by_topic, TopicArn=arn)
    have = {(x.get("Protocol"), x.get("Endpoint")) for x in subs.get("Subscriptions", [])}
    missing = [e for p, e in s.alarm_subscriptions if (p, e) not in have]
    if missing:
        problems.append(f"not subscribed: {', '.join(missing)}")
    return _verdict("MON-TOPIC", expected, f"{arn} encrypted with {s.kms_alias_alarms}, policies as expected, "
                    f"{len(s.alarm_subscriptions)} subscriber(s)", problems)


def events(ctx: Context) -> Check:
    """MON-EVENTS: the instance's event subscription, enabled, to the topic, with the four categories."""
    s = ctx.settings
    expected = f"{s.event_subscription_name} enabled: {s.instance_identifier}'s {', '.join(EVENT_CATEGORIES)}"
    try:
        found = ctx.aws.rds.describe_event_subscriptions(SubscriptionName=s.event_subscription_name)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code") or "failed"
        if code == "SubscriptionNotFound":
            return _verdict("MON-EVENTS", expected, "", [f"event subscription {s.event_subscription_name} missing"])
        raise ToolkitError(f"rds:DescribeEventSubscriptions {s.event_subscription_name}: {code}") from None
    except BotoCoreError as exc:
        raise ToolkitError(f"rds:DescribeEventSubscriptions {s.event_subscription_name}: {exc}") from None
    sub = (found.get("EventSubscriptionsList") or [{}])[0]
    topic_arn = ctx.alarm_topic_arn
    problems = []
    if str(sub.get("Enabled")).lower() != "true":
        problems.append("disabled")
    if sub.get("SourceType") != "db-instance" or s.instance_identifier not in (sub.get("SourceIdsList") or []):
        problems.append(f"source {sub.get('SourceType')} {sub.get('SourceIdsList')}, not db-instance "
                        f"{s.instance_identifier}")
    missing = sorted(set(EVENT_CATEGORIES) - set(sub.get("EventCategoriesList") or []))
    if missing:
        problems.append(f"categories missing: {', '.join(missing)}")
    if topic_arn is None or sub.get("SnsTopicArn") != topic_arn:
        problems.append(f"sends to {sub.get('SnsTopicArn')}, not {s.alarm_topic_name}")
    return _verdict("MON-EVENTS", expected, f"{s.event_subscription_name} enabled to {s.alarm_topic_name}", problems)
