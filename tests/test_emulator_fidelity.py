"""Each fidelity-layer correction, shown as the difference it removes: plain moto
vs moto with the layer, against what the AWS documentation says RDS does.
And the other side of the rule: the layer never reports what nobody set, and
still rejects what AWS rejects."""

from __future__ import annotations

import itertools
import json
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

from tenantdb import settings as settings_mod, settings_instance
from tenantdb.local.fidelity import windows_share_a_minute

DEV = settings_mod.load("dev")
KEY_ARN_PREFIX = "arn:aws:kms:us-east-1:"


def client(url: str, service: str):
    return boto3.client(service, endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def create_instance(url: str, **extra) -> dict:
    """A DB instance with dev's windows and master user, plus ``extra`` create arguments."""
    args = dict(
        DBInstanceIdentifier=f"fid-{uuid.uuid4().hex[:10]}", DBInstanceClass=DEV.instance_class,
        Engine="postgres", EngineVersion=str(DEV.engine_major), AllocatedStorage=20,
        MasterUsername=DEV.master_username, ManageMasterUserPassword=True,
        PreferredBackupWindow="02:00-03:00", PreferredMaintenanceWindow=DEV.maintenance_window,
    )
    args.update(extra)
    return client(url, "rds").create_db_instance(**args)["DBInstance"]


def describe(url: str, ident: str) -> dict:
    return client(url, "rds").describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]


# ----- touching backup and maintenance windows ------------------------------

def test_touching_windows_rejected_by_plain_moto_accepted_with_layer(plain_emulator, emulator):
    touching = {"PreferredBackupWindow": DEV.backup_window, "PreferredMaintenanceWindow": DEV.maintenance_window}
    assert (DEV.backup_window, DEV.maintenance_window) == ("03:00-04:00", "sun:04:00-sun:05:00")
    with pytest.raises(ClientError, match="must not overlap"):
        create_instance(plain_emulator, **touching)
    inst = create_instance(emulator, **touching)
    got = describe(emulator, inst["DBInstanceIdentifier"])
    assert (got["PreferredBackupWindow"], got["PreferredMaintenanceWindow"]) == (DEV.backup_window,
                                                                                 DEV.maintenance_window)


def test_layer_still_rejects_windows_that_really_overlap(emulator):
    with pytest.raises(ClientError, match="must not overlap"):
        create_instance(emulator, PreferredBackupWindow="03:00-04:00",
                        PreferredMaintenanceWindow="sun:03:30-sun:04:30")
    inst = create_instance(emulator)
    with pytest.raises(ClientError, match="must not overlap"):
        client(emulator, "rds").modify_db_instance(
            DBInstanceIdentifier=inst["DBInstanceIdentifier"], PreferredBackupWindow="04:30-05:30",
            ApplyImmediately=True)


def test_layer_keeps_moto_other_window_validation(emulator):
    with pytest.raises(ClientError, match="at least 30 minutes"):
        create_instance(emulator, PreferredBackupWindow="03:00-04:00",
                        PreferredMaintenanceWindow="sun:04:00-sun:04:10")


def test_modify_to_touching_windows_accepted_with_layer(plain_emulator, emulator):
    for url, ok in ((plain_emulator, False), (emulator, True)):
        inst = create_instance(url)
        call = lambda url=url, inst=inst: client(url, "rds").modify_db_instance(  # noqa: E731 - a one-line local helper reads better as a lambda
            DBInstanceIdentifier=inst["DBInstanceIdentifier"], PreferredBackupWindow="03:00-04:00",
            ApplyImmediately=True)
        if ok:
            assert call()["DBInstance"]["PreferredBackupWindow"] == "03:00-04:00"
        else:
            with pytest.raises(ClientError, match="must not overlap"):
                call()


@pytest.mark.parametrize("backup, maintenance, overlap", [
    ("03:00-04:00", "sun:04:00-sun:05:00", False),   # touching at the end
    ("05:00-06:00", "sun:04:00-sun:05:00", False),   # touching at the start
    ("03:00-04:00", "sun:03:59-sun:05:00", True),
    ("23:30-00:30", "mon:00:00-mon:01:00", True),    # backup crosses midnight
    ("23:30-00:30", "mon:00:30-mon:01:00", False),
    ("23:45-00:15", "mon:00:00-mon:00:30", True),    # Sunday night's backup runs into Monday
    ("00:10-00:40", "sun:23:50-mon:00:20", True),    # maintenance crosses the week's end
    ("00:20-00:50", "sun:23:50-mon:00:20", False),
])
def test_window_overlap_arithmetic(backup, maintenance, overlap):
    assert windows_share_a_minute(backup, maintenance) is overlap


def test_window_overlap_agrees_with_the_settings_rule():
    """The layer and the settings validation must call the same windows overlapping."""
    backups = [f"{h:02d}:{m:02d}-{(h + 1) % 24:02d}:{m:02d}" for h in range(0, 24, 5) for m in (0, 30)]
    maints = [f"{d}:{h:02d}:00-{d}:{h:02d}:45" for d in ("mon", "sun") for h in range(0, 24, 3)]
    for b, mw in itertools.product(backups, maints):
        assert windows_share_a_minute(b, mw) is settings_instance.windows_overlap(b, mw), (b, mw)


# ----- Performance Insights and EngineLifecycleSupport ------------------------

def _pi_and_lifecycle(url: str) -> dict:
    kms = client(url, "kms").create_key()["KeyMetadata"]["Arn"]
    return dict(EnablePerformanceInsights=True, PerformanceInsightsKMSKeyId=kms,
                PerformanceInsightsRetentionPeriod=DEV.performance_insights_retention_days,
                EngineLifecycleSupport=DEV.engine_lifecycle_support)


def test_performance_insights_and_lifecycle_lost_by_plain_moto_kept_with_layer(plain_emulator, emulator):
    plain_args = _pi_and_lifecycle(plain_emulator)
    plain = describe(plain_emulator, create_instance(plain_emulator, **plain_args)["DBInstanceIdentifier"])
    assert not plain.get("PerformanceInsightsEnabled")
    assert plain.get("PerformanceInsightsKMSKeyId") is None
    assert plain.get("PerformanceInsightsRetentionPeriod") is None
    assert plain.get("EngineLifecycleSupport") is None

    args = _pi_and_lifecycle(emulator)
    got = describe(emulator, create_instance(emulator, **args)["DBInstanceIdentifier"])
    assert got["PerformanceInsightsEnabled"] is True
    assert got["PerformanceInsightsKMSKeyId"] == args["PerformanceInsightsKMSKeyId"]
    assert got["PerformanceInsightsRetentionPeriod"] == DEV.performance_insights_retention_days
    assert got["EngineLifecycleSupport"] == "open-source-rds-extended-support-disabled"


def test_layer_reports_nothing_that_was_not_set(emulator):
    got = describe(emulator, create_instance(emulator)["DBInstanceIdentifier"])
    assert not got.get("PerformanceInsightsEnabled")
    assert got.get("PerformanceInsightsKMSKeyId") is None
    assert got.get("PerformanceInsightsRetentionPeriod") is None
    assert got.get("EngineLifecycleSupport") is None


def test_layer_describes_performance_insights_turned_off_by_modify(emulator):
    ident = create_instance(emulator, **_pi_and_lifecycle(emulator))["DBInstanceIdentifier"]
    client(emulator, "rds").modify_db_instance(DBInstanceIdentifier=ident, EnablePerformanceInsights=False,
                                               ApplyImmediately=True)
    assert describe(emulator, ident)["PerformanceInsightsEnabled"] is False


# ----- the default CA of a new instance ------------------------------------------

def test_default_ca_obsolete_in_plain_moto_current_with_layer(plain_emulator, emulator):
    plain = describe(plain_emulator, create_instance(plain_emulator)["DBInstanceIdentifier"])
    assert plain["CACertificateIdentifier"] == "rds-ca-default"
    got = describe(emulator, create_instance(emulator)["DBInstanceIdentifier"])
    assert got["CACertificateIdentifier"] == "rds-ca-rsa2048-g1" == DEV.ca_cert_identifier


def test_layer_keeps_an_explicit_ca(emulator):
    inst = create_instance(emulator, CACertificateIdentifier="rds-ca-ecc384-g1")
    assert describe(emulator, inst["DBInstanceIdentifier"])["CACertificateIdentifier"] == "rds-ca-ecc384-g1"


# ----- the RDS-managed master secret ------------------------------------------

def _master_secret(url: str, inst: dict) -> dict:
    arn = describe(url, inst["DBInstanceIdentifier"])["MasterUserSecret"]["SecretArn"]
    return json.loads(client(url, "secretsmanager").get_secret_value(SecretId=arn)["SecretString"])


def test_master_secret_fake_in_plain_moto_real_user_with_layer(plain_emulator, emulator):
    plain = _master_secret(plain_emulator, create_instance(plain_emulator))
    assert plain["username"] != DEV.master_username  # moto: a fixed "admin"
    first = _master_secret(emulator, create_instance(emulator))
    second = _master_secret(emulator, create_instance(emulator))
    assert first["username"] == second["username"] == DEV.master_username
    assert len(first["password"]) >= 24
    assert first["password"] != second["password"]  # generated per instance, not a constant
    assert plain["password"] not in (first["password"], second["password"])


# ----- DescribeDBParameters Source ---------------------------------------------

def _param_group(url: str) -> str:
    rds = client(url, "rds")
    name = f"fid-{uuid.uuid4().hex[:8]}"
    rds.create_db_parameter_group(DBParameterGroupName=name, DBParameterGroupFamily=DEV.parameter_group_family,
                                  Description="fidelity test")
    rds.modify_db_parameter_group(DBParameterGroupName=name, Parameters=[
        {"ParameterName": k, "ParameterValue": v, "ApplyMethod": m} for k, (v, m) in DEV.db_parameters.items()])
    return name


def test_parameter_source_missing_in_plain_moto_user_with_layer(plain_emulator, emulator):
    plain = client(plain_emulator, "rds")
    name = _param_group(plain_emulator)
    assert all("Source" not in p for p in plain.describe_db_parameters(DBParameterGroupName=name)["Parameters"])
    # plain moto ignores the filter: the user's parameters come back as "system" ones too
    assert plain.describe_db_parameters(DBParameterGroupName=name, Source="system")["Parameters"]

    rds = client(emulator, "rds")
    name = _param_group(emulator)
    user = rds.describe_db_parameters(DBParameterGroupName=name, Source="user")["Parameters"]
    assert {p["ParameterName"]: (p["ParameterValue"], p["ApplyMethod"]) for p in user} == DEV.db_parameters
    assert {p["Source"] for p in user} == {"user"}
    assert rds.describe_db_parameters(DBParameterGroupName=name, Source="system")["Parameters"] == []
    assert rds.describe_db_parameters(DBParameterGroupName=name, Source="engine-default")["Parameters"] == []


def test_layer_reports_no_parameter_nobody_set(emulator):
    rds = client(emulator, "rds")
    name = f"fid-{uuid.uuid4().hex[:8]}"
    rds.create_db_parameter_group(DBParameterGroupName=name, DBParameterGroupFamily="postgres15", Description="x")
    assert rds.describe_db_parameters(DBParameterGroupName=name)["Parameters"] == []
    with pytest.raises(ClientError, match="DBParameterGroupNotFound"):
        rds.describe_db_parameters(DBParameterGroupName="no-such-group")


# ----- AWS managed IAM policies ------------------------------------------------

MONITORING_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"


def test_managed_policy_missing_in_plain_moto_present_with_layer(plain_emulator, emulator):
    with pytest.raises(ClientError, match="NoSuchEntity"):
        client(plain_emulator, "iam").get_policy(PolicyArn=MONITORING_POLICY)
    assert client(emulator, "iam").get_policy(PolicyArn=MONITORING_POLICY)["Policy"]["PolicyName"] == \
        "AmazonRDSEnhancedMonitoringRole"


# ----- Secrets Manager: a rotation's staging labels -------------------------------

def _secret(url: str, value: str = '{"password": "one"}') -> tuple[object, str]:
    sm = client(url, "secretsmanager")
    name = f"fid-{uuid.uuid4().hex[:10]}"
    sm.create_secret(Name=name, SecretString=value)
    return sm, name


def _stages(sm, name: str) -> dict[str, list[str]]:
    return {v: sorted(s) for v, s in sm.describe_secret(SecretId=name)["VersionIdsToStages"].items()}


def _finish_by_stage_move(sm, name: str, value: str) -> str:
    """What a rotation function's createSecret and finishSecret do: AWSPENDING, then AWSCURRENT moved to it."""
    (old,) = [v for v, s in _stages(sm, name).items() if "AWSCURRENT" in s]
    token = str(uuid.uuid4())
    sm.put_secret_value(SecretId=name, ClientRequestToken=token, SecretString=value, VersionStages=["AWSPENDING"])
    sm.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=token,
                                   RemoveFromVersionId=old)
    return token


def test_read_without_stage_after_a_stage_move_old_in_plain_moto_current_with_layer(plain_emulator, emulator):
    for url, want in ((plain_emulator, '{"password": "one"}'), (emulator, '{"password": "two"}')):
        sm, name = _secret(url)
        token = _finish_by_stage_move(sm, name, '{"password": "two"}')
        assert "AWSCURRENT" in _stages(sm, name)[token]
        assert sm.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")["SecretString"] == '{"password": "two"}'
        assert sm.get_secret_value(SecretId=name)["SecretString"] == want, url  # plain moto: the old value


def test_put_after_a_stage_move_two_current_in_plain_moto_one_with_layer(plain_emulator, emulator):
    for url, currents in ((plain_emulator, 2), (emulator, 1)):
        sm, name = _secret(url)
        moved = _finish_by_stage_move(sm, name, '{"password": "two"}')
        put = sm.put_secret_value(SecretId=name, SecretString='{"password": "three"}',
                                  VersionStages=["AWSCURRENT"])["VersionId"]
        stages = _stages(sm, name)
        assert sum("AWSCURRENT" in s for s in stages.values()) == currents, (url, stages)
        if url == emulator:  # as AWS: the new version is current, the one it replaced previous
            assert stages[put] == ["AWSCURRENT"] and "AWSPREVIOUS" in stages[moved]
            assert sum("AWSPREVIOUS" in s for s in stages.values()) == 1
            assert sm.get_secret_value(SecretId=name)["SecretString"] == '{"password": "three"}'


def test_rotate_without_a_function_plain_moto_loses_the_value_layer_leaves_it_pending(plain_emulator, emulator):
    sm, name = _secret(plain_emulator)
    sm.rotate_secret(SecretId=name, RotationRules={"AutomaticallyAfterDays": 90})
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        sm.get_secret_value(SecretId=name)  # plain moto: a new AWSCURRENT version with no value

    sm, name = _secret(emulator)
    (old,) = _stages(sm, name)
    token = sm.rotate_secret(SecretId=name, RotationRules={"AutomaticallyAfterDays": 90})["VersionId"]
    assert _stages(sm, name) == {old: ["AWSCURRENT"], token: ["AWSPENDING"]}
    assert sm.get_secret_value(SecretId=name)["SecretString"] == '{"password": "one"}'
    with pytest.raises(ClientError, match="ResourceNotFoundException"):  # createSecret has not put it yet
        sm.get_secret_value(SecretId=name, VersionId=token, VersionStage="AWSPENDING")
    meta = sm.describe_secret(SecretId=name)
    assert meta["RotationEnabled"] is True and meta["RotationRules"]["AutomaticallyAfterDays"] == 90
    with pytest.raises(ClientError, match="previous rotation isn't complete"):
        sm.rotate_secret(SecretId=name)


def test_next_rotation_refused_by_plain_moto_after_a_finished_one_accepted_with_layer(plain_emulator, emulator):
    """AWS refuses a rotation only while AWSPENDING is on a version that is not AWSCURRENT; plain moto
    refuses exactly when they share one, which is what a finished single-user rotation leaves."""
    for url, accepted in ((plain_emulator, False), (emulator, True)):
        sm, name = _secret(url)
        _finish_by_stage_move(sm, name, '{"password": "two"}')
        if accepted:
            token = sm.rotate_secret(SecretId=name)["VersionId"]
            assert _stages(sm, name)[token] == ["AWSPENDING"]
        else:
            with pytest.raises(ClientError, match="still in progress"):
                sm.rotate_secret(SecretId=name)


def test_layer_rotate_later_creates_no_version(emulator):
    sm, name = _secret(emulator)
    before = _stages(sm, name)
    answer = sm.rotate_secret(SecretId=name, RotationRules={"AutomaticallyAfterDays": 30}, RotateImmediately=False)
    assert "VersionId" not in answer and _stages(sm, name) == before
    with pytest.raises(ClientError, match="1-1000"):  # moto's validation kept (the client checks the minimum)
        sm.rotate_secret(SecretId=name, RotationRules={"AutomaticallyAfterDays": 1001}, RotateImmediately=False)
