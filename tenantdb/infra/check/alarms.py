"""Assertions about the alarms and events (stacks/alarms.py, Story 0.4 tasks 4.3/4.4): every alarm the
settings derive, on the instance, with the threshold they derive and actions to the topic; the topic
encrypted with its own key, which and whose policy name exactly the two publishing services; the
instance's event subscription with its four categories; one subscription per subscriber."""

from __future__ import annotations

from typing import Any

from tenantdb.infra.check.context import Ctx, title
from tenantdb.infra.check.reader import parse_ref, ref
from tenantdb.report import Check, failed, passed
from tenantdb.settings_alarms import EVENT_CATEGORIES, PERIOD_S, PUBLISHERS

ALARM = "aws_cloudwatch_metric_alarm"


def _verdict(cid: str, expected: str, ok_actual: str, problems: list[str]) -> Check:
    if problems:
        return failed(cid, title(cid), expected, "; ".join(problems), "; ".join(problems))
    return passed(cid, title(cid), expected, ok_actual)


def _topic(c: Ctx) -> tuple[str, dict[str, Any]]:
    return c.db.named("aws_sns_topic", "name", c.s.alarm_topic_name)


def alarms(c: Ctx) -> Check:
    """MON-ALARMS: each of ``settings.alarm_specs`` on the instance, threshold as derived, actions to the topic."""
    s = c.s
    topic_arn = ref("aws_sns_topic", _topic(c)[0], "arn")
    found = c.db.resources(ALARM)
    problems = []
    for a in s.alarm_specs:
        body = found.get(a.address)
        if body is None:
            problems.append(f"{ALARM}.{a.address} ({a.metric}) missing")
            continue
        want = {"alarm_name": f"{s.instance_identifier}-{a.key}", "namespace": "AWS/RDS", "metric_name": a.metric,
                "dimensions": {"DBInstanceIdentifier": s.instance_identifier}, "comparison_operator": a.comparison,
                "threshold": a.threshold, "evaluation_periods": a.periods, "period": PERIOD_S,
                "statistic": a.statistic, "actions_enabled": True, "alarm_actions": [topic_arn],
                "ok_actions": [topic_arn]}
        problems += [f"{a.address}: {k} = {body.get(k)!r}, want {v!r}" for k, v in want.items() if body.get(k) != v]
    names = ", ".join(a.shown for a in s.alarm_specs)
    return _verdict("MON-ALARMS", f"{len(s.alarm_specs)} alarms on {s.instance_identifier} to the topic: {names}",
                    f"{len(s.alarm_specs)} alarms as derived", problems)


def topic(c: Ctx) -> Check:
    """MON-TOPIC: the topic encrypted with its own rotating key; key and topic policies name exactly the two
    publishing services (topic: sns:Publish only, scoped to this account); one subscription per subscriber."""
    s = c.s
    addr, body = _topic(c)
    key_addr = c.db.key_for_alias(s.kms_alias_alarms)
    key = c.db.resources("aws_kms_key")[key_addr]
    problems = []
    if body.get("kms_master_key_id") != ref("aws_kms_key", key_addr, "arn"):
        problems.append(f"topic encrypted with {body.get('kms_master_key_id')!r}, not {s.kms_alias_alarms}")
    if key.get("enable_key_rotation") is not True:
        problems.append(f"{s.kms_alias_alarms}: rotation off")
    problems += _key_policy_problems(c.db.policy_doc(key.get("policy")))
    problems += _topic_policy_problems(c, addr)
    want_subs = {(p, e) for p, e in s.alarm_subscriptions}
    got_subs = {(b.get("protocol"), b.get("endpoint")) for b in c.db.resources("aws_sns_topic_subscription").values()
                if b.get("topic_arn") == ref("aws_sns_topic", addr, "arn")}
    if got_subs != want_subs:
        problems.append(f"subscriptions {sorted(got_subs)}, want {sorted(want_subs)}")
    services = " and ".join(PUBLISHERS)
    return _verdict("MON-TOPIC", f"{s.alarm_topic_name} encrypted with {s.kms_alias_alarms}; {services} only may "
                    f"publish; {len(want_subs)} subscriber(s)", "topic, key and policies as expected", problems)


def _services(doc: dict[str, Any]) -> tuple[set[str], list[str]]:
    """The Service principals a policy document names, and every other principal (each a problem)."""
    services, others = set(), []
    for st in doc.get("statement", []):
        for p in st.get("principals", []):
            for ident in p.get("identifiers", []):
                if p.get("type") == "Service":
                    services.add(ident)
                elif ident == "*" or not str(ident).endswith(":root"):
                    others.append(f"{st.get('sid')}: principal {p.get('type')} {ident}")
    return services, others


def _key_policy_problems(doc: dict[str, Any]) -> list[str]:
    services, others = _services(doc)
    out = [f"key policy {o}" for o in others]
    if services != set(PUBLISHERS):
        out.append(f"key policy services {sorted(services)}, want exactly {list(PUBLISHERS)}")
    return out


def _topic_policy_problems(c: Ctx, topic_addr: str) -> list[str]:
    try:
        _, pol = c.db.named("aws_sns_topic_policy", "arn", ref("aws_sns_topic", topic_addr, "arn"))
    except LookupError:
        return ["no aws_sns_topic_policy on the topic (the default lets every principal of the account publish)"]
    doc = c.db.policy_doc(pol.get("policy"))
    services, out = _services(doc)
    out = [f"topic policy {o}" for o in out]
    if services != set(PUBLISHERS):
        out.append(f"topic policy services {sorted(services)}, want exactly {list(PUBLISHERS)}")
    for st in doc.get("statement", []):
        if st.get("actions") != ["sns:Publish"]:
            out.append(f"topic policy {st.get('sid')}: actions {st.get('actions')}, want sns:Publish only")
        if not any(cond.get("variable") == "aws:SourceAccount" for cond in st.get("condition", [])):
            out.append(f"topic policy {st.get('sid')}: not scoped to this account (aws:SourceAccount)")
    return out


def events(c: Ctx) -> Check:
    """MON-EVENTS: the instance's event subscription to the topic, enabled, with the four categories."""
    s = c.s
    addr, _ = _topic(c)
    try:
        _, sub = c.db.named("aws_db_event_subscription", "name", s.event_subscription_name)
    except LookupError as exc:
        return _verdict("MON-EVENTS", s.event_subscription_name, "", [str(exc)])
    want = {"source_type": "db-instance", "source_ids": [s.instance_identifier],
            "sns_topic": ref("aws_sns_topic", addr, "arn")}
    problems = [f"{k} = {sub.get(k)!r}, want {v!r}" for k, v in want.items() if sub.get(k) != v]
    if sub.get("enabled") is False:
        problems.append("disabled")
    if sorted(sub.get("event_categories") or []) != sorted(EVENT_CATEGORIES):
        problems.append(f"categories {sub.get('event_categories')}, want {list(EVENT_CATEGORIES)}")
    target = parse_ref(sub.get("sns_topic"))
    if target and target[1] != "aws_sns_topic":
        problems.append(f"sends to {sub.get('sns_topic')}, not the alarm topic")
    return _verdict("MON-EVENTS", f"{s.event_subscription_name}: {s.instance_identifier}'s "
                    f"{', '.join(EVENT_CATEGORIES)} events to {s.alarm_topic_name}", "subscription as expected",
                    problems)
