"""Alarms and events (Story 0.4 tasks 4.3/4.4): thresholds derived from the settings, the synthesized
alarms, topic, key and event subscription, the offline check's PASS and FAIL, and verify on the
environment applied to the emulator (tests/fixtures_aws.py's shared apply), which FAILs naming an alarm
deleted through boto3.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tenantdb import report
from tenantdb import settings as settings_mod
from tenantdb.infra import check
from tenantdb.infra.check import alarms as alarm_checks
from tenantdb.report import Status
from tenantdb.settings_alarms import EVENT_CATEGORIES, PUBLISHERS
from tenantdb.verify import alarms as live
from tenantdb.verify.context import Context

KEYS = ("free-storage", "freeable-memory", "connections", "cpu", "read-latency", "write-latency", "disk-queue",
        "transaction-ids")


def _spec(s: settings_mod.Settings, key: str) -> Any:
    return next(a for a in s.alarm_specs if a.key == key)


# ----- settings ------------------------------------------------------------------------------------
def test_thresholds_come_from_the_values_the_settings_hold():
    prod = settings_mod.load("prod")
    assert _spec(prod, "free-storage").threshold == 10 * 1024**3  # 10% of prod's 100 GB
    assert _spec(prod, "freeable-memory").threshold == round(16 * 1024**3 / 10)  # db.r5.large: 16 GiB
    assert _spec(prod, "connections").threshold == 160  # 80% of max_connections 200
    assert _spec(prod, "transaction-ids").threshold == 1.0e9 < 2**31
    assert _spec(prod, "cpu").periods == 3 and _spec(prod, "free-storage").periods == 1
    moved = prod.replaced(max_connections=100, allocated_storage_gb=200, max_allocated_storage_gb=500)
    assert _spec(moved, "connections").threshold == 80
    assert _spec(moved, "free-storage").threshold == 20 * 1024**3
    assert tuple(a.key for a in prod.alarm_specs) == KEYS


@pytest.mark.parametrize("field, value, says", [
    ("alarm_subscribers", ("ops at example",), "neither an e-mail address"),
    ("alarm_subscribers", ("a@example.com", "a@example.com"), "twice"),
    ("alarm_sustained_minutes", 7, "multiple of 5"),
    ("alarm_max_used_xids", 2.0e9, "less than or equal"),
])
def test_bad_alarm_settings_are_one_line(field, value, says):
    with pytest.raises(settings_mod.SettingsError) as err:
        settings_mod.load("dev", **{field: value})
    assert f"dev: {field}=" in str(err.value) and says in str(err.value) and "\n" not in str(err.value)


def test_subscribers_get_their_protocol():
    s = settings_mod.load("dev", alarm_subscribers=("dba@example.com", "arn:aws:sqs:us-east-1:123456789012:pager"))
    assert s.alarm_subscriptions == (("email", "dba@example.com"),
                                     ("sqs", "arn:aws:sqs:us-east-1:123456789012:pager"))


# ----- synth ---------------------------------------------------------------------------------------
def _doc(stack_json: dict, env: str) -> dict[str, Any]:
    return stack_json[settings_mod.load(env).stack_id][1]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_synth_has_the_alarms_topic_key_and_events(stack_json: dict, env: str) -> None:
    s, doc = settings_mod.load(env), _doc(stack_json, env)
    res = doc["resource"]
    assert set(res["aws_cloudwatch_metric_alarm"]) == {k.replace("-", "_") for k in KEYS}
    mem = res["aws_cloudwatch_metric_alarm"]["freeable_memory"]
    assert mem["threshold"] == _spec(s, "freeable-memory").threshold == round(s.instance_memory_bytes / 10)
    assert mem["dimensions"] == {"DBInstanceIdentifier": s.instance_identifier}
    assert mem["alarm_actions"] == mem["ok_actions"] == ["${aws_sns_topic.alarms.arn}"]
    assert res["aws_sns_topic"]["alarms"]["kms_master_key_id"] == "${aws_kms_key.alarms.arn}"
    assert res["aws_kms_alias"]["alarms"]["name"] == s.kms_alias_alarms
    key_doc = doc["data"]["aws_iam_policy_document"]["alarms_key_policy"]
    services = {i for st in key_doc["statement"] for p in st.get("principals", []) if p["type"] == "Service"
                for i in p["identifiers"]}
    assert services == set(PUBLISHERS)
    sub = res["aws_db_event_subscription"]["alarms"]
    assert sub["event_categories"] == list(EVENT_CATEGORIES) and sub["source_ids"] == [s.instance_identifier]
    assert sub["depends_on"] == ["aws_db_instance.db"]
    assert "aws_sns_topic_subscription" not in res  # no subscriber by default
    assert res["aws_kms_key"]["alarms"].get("lifecycle", {}).get("prevent_destroy", False) is s.prevent_destroy


def test_each_subscriber_is_subscribed(synth_in_process: Any) -> None:
    s = settings_mod.load("dev", alarm_subscribers=("dba@example.com",))
    doc = synth_in_process([s])[s.stack_id]
    (addr, body), = doc["resource"]["aws_sns_topic_subscription"].items()
    assert addr == "alarms_dba_example_com"
    assert (body["protocol"], body["endpoint"], body["topic_arn"]) == ("email", "dba@example.com",
                                                                       "${aws_sns_topic.alarms.arn}")
    assert _run_checks(s, doc)["MON-TOPIC"].status is Status.PASS


# ----- check ---------------------------------------------------------------------------------------
def _run_checks(s: settings_mod.Settings, doc: dict[str, Any]) -> dict[str, Any]:
    ctx = check.Ctx(s, check.baseline(s), check.Stack(Path("."), doc))
    return {c.id: c for c in (alarm_checks.alarms(ctx), alarm_checks.topic(ctx), alarm_checks.events(ctx))}


def test_check_passes_on_the_synthesized_stack(stack_json: dict) -> None:
    for env in ("dev", "prod"):
        got = _run_checks(settings_mod.load(env), _doc(stack_json, env))
        assert {k: c.status for k, c in got.items()} == dict.fromkeys(("MON-ALARMS", "MON-TOPIC", "MON-EVENTS"),
                                                                      Status.PASS), got


def test_check_fails_a_weakened_or_missing_alarm_a_widened_key_and_a_dropped_category(stack_json: dict) -> None:
    s = settings_mod.load("prod")
    doc = copy.deepcopy(_doc(stack_json, "prod"))
    res = doc["resource"]
    res["aws_cloudwatch_metric_alarm"]["connections"]["threshold"] = 199
    del res["aws_cloudwatch_metric_alarm"]["transaction_ids"]
    key_doc = doc["data"]["aws_iam_policy_document"]["alarms_key_policy"]
    key_doc["statement"][-1]["principals"][0]["identifiers"].append("sns.amazonaws.com")
    res["aws_db_event_subscription"]["alarms"]["event_categories"].remove("failover")
    got = _run_checks(s, doc)
    assert all(c.status is Status.FAIL for c in got.values()), got
    assert "connections: threshold = 199" in got["MON-ALARMS"].detail
    assert "transaction_ids (MaximumUsedTransactionIDs) missing" in got["MON-ALARMS"].detail
    assert "sns.amazonaws.com" in got["MON-TOPIC"].detail
    assert "categories" in got["MON-EVENTS"].detail


def test_check_fails_an_unencrypted_topic(stack_json: dict) -> None:
    doc = copy.deepcopy(_doc(stack_json, "dev"))
    del doc["resource"]["aws_sns_topic"]["alarms"]["kms_master_key_id"]
    got = _run_checks(settings_mod.load("dev"), doc)["MON-TOPIC"]
    assert got.status is Status.FAIL and "topic encrypted with None" in got.detail


# ----- verify on the emulator ----------------------------------------------------------------------
@pytest.mark.slow
def test_verify_passes_then_fails_naming_a_deleted_alarm(applied_env: Any) -> None:
    applied = applied_env("dev")
    assert applied.drift_after_apply == []  # the emulator holds alarms, topic and subscription as declared
    s = applied.settings
    ctx = Context(s)
    fns = {"MON-ALARMS": live.alarms, "MON-TOPIC": live.topic, "MON-EVENTS": live.events}
    got = {cid: fn(ctx) for cid, fn in fns.items()}
    assert {k: c.status for k, c in got.items()} == dict.fromkeys(fns, Status.PASS), got

    cw = ctx.aws.client("cloudwatch")
    name = f"{s.instance_identifier}-transaction-ids"
    (alarm,) = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    cw.delete_alarms(AlarmNames=[name])
    try:
        gone = live.alarms(Context(s))
        assert gone.status is Status.FAIL and f"{name} missing" in gone.detail
    finally:  # the applied environment is shared by the session: put it back
        keep = ("AlarmName", "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions", "MetricName",
                "Namespace", "Statistic", "Dimensions", "Period", "EvaluationPeriods", "DatapointsToAlarm",
                "Threshold", "ComparisonOperator", "TreatMissingData")
        cw.put_metric_alarm(**{k: alarm[k] for k in keep if k in alarm})
    assert live.alarms(Context(s)).status is Status.PASS


def test_verify_is_error_when_aws_cannot_be_asked() -> None:
    s = settings_mod.load("dev", aws_endpoint_url="http://127.0.0.1:9")
    for cid, fn in (("MON-ALARMS", live.alarms), ("MON-TOPIC", live.topic), ("MON-EVENTS", live.events)):
        (got,) = report.run_check(cid, "t", lambda fn=fn: fn(Context(s)))
        assert got.status is Status.ERROR and "127.0.0.1:9" in got.detail, got
