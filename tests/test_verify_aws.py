"""Bootstrap and verify through AWS: the environments' real stacks applied to the emulator
(tests/fixtures_aws.py) with the real Terraform, and the real PostgreSQL cluster standing in
for the instance (reached with --endpoint, as an operator reaches RDS through a tunnel).

Each AWS-side broken state is made with boto3 in the emulator, reported as FAIL with a clear
detail, then put back (the applied environments are shared by the session).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tenantdb import aws as aws_mod
from tenantdb import checks as registry
from tenantdb import cli, verify
from tenantdb.database.bootstrap import steps as bootstrap
from tenantdb.report import Report, Status
from tenantdb.settings import Settings
from tests.fixtures_pg import aws_internal_roles

pytestmark = pytest.mark.slow


@dataclass
class Live:
    """One applied environment whose instance is the local cluster."""

    settings: Settings
    endpoint: str
    overlay: str
    aws: aws_mod.Aws

    def verify(self) -> Report:
        return verify.run(self.settings, endpoint=self.endpoint)

    def check(self, id_: str) -> tuple[Report, object]:
        rep = self.verify()
        return rep, next(c for c in rep.checks if c.id == id_)

    def secret(self) -> dict:
        return self.aws.secret_json(self.settings.connection_secret_name)


def _live(applied_env, env: str, pg_cluster, pg_master) -> Iterator[Live]:
    applied = applied_env(env)
    s = applied.settings.replaced(retry_budget_s=4.0, connect_timeout_s=2, aws_internal_roles=aws_internal_roles())
    a = aws_mod.Aws(s)
    # The instance's master secret holds the master user's name and a password RDS generated;
    # the stand-in's master role takes that password, as RDS's would have it.
    user, password = a.master_credentials()
    assert user == pg_master.user
    pg_cluster.ensure_master_role(user, password)
    # The CLI's view of the same settings: the emulator's endpoint, the stand-in's superuser as AWS's own.
    overlay = Path(tempfile.mkdtemp(prefix="tenantdb-verify-aws-")) / "settings.toml"
    overlay.write_text(f'[{env}]\naws_endpoint_url = "{s.aws_endpoint_url}"\n'
                       f"aws_internal_roles = {json.dumps(list(aws_internal_roles()))}\n")
    try:
        yield Live(s, f"{pg_cluster.host}:{pg_cluster.port}", str(overlay), a)
    finally:
        pg_cluster.ensure_master_role(pg_master.user, pg_master.password)
        shutil.rmtree(overlay.parent, ignore_errors=True)


@pytest.fixture
def dev(applied_env, pg_fresh, pg_master) -> Iterator[Live]:
    yield from _live(applied_env, "dev", pg_fresh, pg_master)


@pytest.fixture
def prod(applied_env, pg_fresh, pg_master) -> Iterator[Live]:
    yield from _live(applied_env, "prod", pg_fresh, pg_master)


@pytest.fixture
def dev_bootstrapped(dev: Live, capsys) -> Iterator[Live]:
    code = cli.main(["--settings", dev.overlay, "bootstrap", "--env", "dev", "--endpoint", dev.endpoint])
    capsys.readouterr()
    assert code == 0
    yield dev
    dev.aws.secrets.put_secret_value(SecretId=dev.settings.connection_secret_name, SecretString="{}")


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_bootstrap_fills_the_secret_and_verify_passes_everything(dev: Live, capsys):
    # The applied environment is shared by the session: an earlier test may have filled the
    # secret already. Start from an empty one, as after `cdktf deploy`.
    dev.aws.secrets.put_secret_value(SecretId=dev.settings.connection_secret_name, SecretString="{}")
    code, out, err = _run(capsys, "--settings", dev.overlay, "bootstrap", "--env", "dev",
                          "--endpoint", dev.endpoint, "--format", "json")
    assert code == 0, err
    steps = {s["name"]: s for s in json.loads(out)["steps"]}
    assert steps["app-password"]["changed"] and not steps["app-password"]["skipped"]
    assert "generated app_user's password" in steps["app-password"]["detail"]

    secret = dev.secret()
    s = dev.settings
    address = dev.aws.instance()["Endpoint"]["Address"]
    assert set(secret) == set(aws_mod.SECRET_KEYS)
    assert secret["host"] == address and secret["port"] == 5432 and secret["engine"] == "postgres"
    assert secret["username"] == s.app_role and secret["dbname"] == secret["database"] == s.db_name
    assert len(secret["password"]) >= 32
    # No key derived from the others holds the password: a rotation changes only `password`.
    # The uri and the options key pin search_path at connect time: a role-level search_path that
    # app_user plants cannot reach a client that connects with either.
    assert secret["uri"] == (f"postgresql://app_user@{address}:5432/qualisys_master?sslmode=require"
                             "&options=-c%20search_path%3Dpublic%2Cpg_temp")
    assert secret["options"] == "-c search_path=public,pg_temp"
    assert (secret["sslmode"], secret["ssl"]) == ("require", True)
    assert aws_mod.SECRET_KEYS == ("engine", "host", "port", "dbname", "database", "username", "password",
                                   "sslmode", "ssl", "options", "uri")
    assert secret["password"] not in out + err

    # The secret's credentials log in as app_user over TLS (through the tunnel endpoint).
    with psycopg.connect(host="127.0.0.1", port=int(dev.endpoint.rsplit(":", 1)[1]), user=secret["username"],
                         password=secret["password"], dbname=secret["dbname"], sslmode="require") as conn:
        assert conn.execute("SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() \
            == ("app_user", True)

    code, out, err = _run(capsys, "--settings", dev.overlay, "bootstrap", "--env", "dev",
                          "--endpoint", dev.endpoint, "--format", "json")
    assert code == 0 and json.loads(out)["changed"] == 0
    assert dev.secret()["password"] == secret["password"]  # kept

    code, out, err = _run(capsys, "--settings", dev.overlay, "verify", "--env", "dev", "--endpoint", dev.endpoint,
                          "--format", "json")
    checks = {c["id"]: c for c in json.loads(out)["checks"]}
    assert code == 0, {k: v["detail"] for k, v in checks.items() if v["status"] != "PASS"}
    # Only the checks of what the emulator leaves out (rotation) SKIP, saying so, and those of the
    # signed tenant context, which dev's plain context does not use.
    why = ("emulator:", "tenant_context = plain")
    assert all(c["status"] == "PASS" or (c["status"] == "SKIP" and c["detail"].startswith(why))
               for c in checks.values()), {k: v["detail"] for k, v in checks.items() if v["status"] != "PASS"}
    assert checks["AC9"]["status"] == checks["SEC-MIGRATOR"]["status"] == "PASS"
    assert "login from the connection secret" in checks["AC10"]["actual"]
    assert "app_user app_user@127.0.0.1" in checks["TLS"]["actual"]
    assert secret["password"] not in out
    dev.aws.secrets.put_secret_value(SecretId=s.connection_secret_name, SecretString="{}")


def test_rotation_sets_a_new_password_that_works(dev_bootstrapped: Live, capsys):
    before = dev_bootstrapped.secret()["password"]
    code, out, _ = _run(capsys, "--settings", dev_bootstrapped.overlay, "bootstrap", "--env", "dev",
                        "--endpoint", dev_bootstrapped.endpoint, "--rotate-app-password")
    assert code == 0 and "rotated app_user's password" in out
    after = dev_bootstrapped.secret()["password"]
    assert after != before and before not in out and after not in out
    _, ac9 = dev_bootstrapped.check("AC9")
    assert ac9.status is Status.PASS


def test_prod_without_multi_az_fails_ac3(prod: Live):
    rds = prod.aws.rds
    ident = prod.settings.instance_identifier
    rds.modify_db_instance(DBInstanceIdentifier=ident, MultiAZ=False, ApplyImmediately=True)
    try:
        _, ac3 = prod.check("AC3")
    finally:
        rds.modify_db_instance(DBInstanceIdentifier=ident, MultiAZ=True, ApplyImmediately=True)
    assert ac3.status is Status.FAIL and ac3.expected == "true" and ac3.actual == "false"
    assert ac3.title == registry.get("AC3").title  # one title, skipped or run


def test_a_wrong_value_in_the_parameter_group_fails_ac6(dev_bootstrapped: Live):
    s = dev_bootstrapped.settings
    rds = dev_bootstrapped.aws.rds
    declared, method = s.db_parameters["work_mem"]

    def set_work_mem(value: str) -> None:
        rds.modify_db_parameter_group(DBParameterGroupName=s.parameter_group_name, Parameters=[
            {"ParameterName": "work_mem", "ParameterValue": value, "ApplyMethod": method}])

    set_work_mem("1024")
    try:
        rep, ac6 = dev_bootstrapped.check("AC6")
    finally:
        set_work_mem(declared)
    assert ac6.status is Status.FAIL and f"work_mem=1024 in the group (declared {declared})" in ac6.detail
    assert rep.exit_code == 1
    assert dev_bootstrapped.check("AC6")[1].status is Status.PASS


def test_key_rotation_off_fails_ac5(dev_bootstrapped: Live):
    kms = dev_bootstrapped.aws.kms
    key = kms.describe_key(KeyId=dev_bootstrapped.settings.kms_alias_rds)["KeyMetadata"]["Arn"]
    kms.disable_key_rotation(KeyId=key)
    try:
        _, ac5 = dev_bootstrapped.check("AC5")
    finally:
        kms.enable_key_rotation(KeyId=key)
    assert ac5.status is Status.FAIL and "automatic rotation of alias/qualisys-dev-rds is off" in ac5.detail


def test_a_secret_missing_a_key_fails_ac9_and_bootstrap_repairs_it(dev_bootstrapped: Live):
    live = dev_bootstrapped
    value = live.secret()
    del value["uri"]
    live.aws.put_secret_json(live.settings.connection_secret_name, value)
    _, ac9 = live.check("AC9")
    assert ac9.status is Status.FAIL and "missing key(s): uri" in ac9.detail
    assert value["password"] not in ac9.detail + ac9.actual

    result = bootstrap.run(live.settings, endpoint=live.endpoint)
    step = next(s for s in result.steps if s.name == "app-password")
    assert step.changed and "written" in step.detail
    assert live.secret()["password"] == value["password"]  # the password was kept
    assert live.check("AC9")[1].status is Status.PASS


def test_a_secret_with_a_wrong_password_fails_ac9_and_bootstrap_converges(dev_bootstrapped: Live):
    live = dev_bootstrapped
    s = live.settings
    value = live.secret()
    forged = "x" * 40
    value["password"] = forged
    live.aws.put_secret_json(s.connection_secret_name, value)

    rep, ac9 = live.check("AC9")
    assert ac9.status is Status.FAIL
    assert "the secret's password does not log in as app_user" in ac9.detail
    assert forged not in ac9.detail + ac9.actual
    ac10 = next(c for c in rep.checks if c.id == "AC10")
    assert ac10.status is Status.PASS and "secret's login failed" in ac10.actual  # falls back to SET ROLE, says so

    # The bootstrap takes the secret as the truth: the role's password is set to it.
    step = next(x for x in bootstrap.run(s, endpoint=live.endpoint).steps if x.name == "app-password")
    assert step.changed and "password reset to the secret's" in step.detail
    assert live.check("AC9")[1].status is Status.PASS


def test_a_secret_under_another_key_fails_ac9(dev_bootstrapped: Live):
    live = dev_bootstrapped
    s = live.settings
    secrets_api = live.aws.secrets
    rds_key = live.aws.kms.describe_key(KeyId=s.kms_alias_rds)["KeyMetadata"]["Arn"]
    secrets_key = live.aws.kms.describe_key(KeyId=s.kms_alias_secrets)["KeyMetadata"]["Arn"]
    secrets_api.update_secret(SecretId=s.connection_secret_name, KmsKeyId=rds_key)
    try:
        _, ac9 = live.check("AC9")
    finally:
        secrets_api.update_secret(SecretId=s.connection_secret_name, KmsKeyId=secrets_key)
    assert ac9.status is Status.FAIL and f"not {s.kms_alias_secrets}" in ac9.detail


def test_verify_makes_each_aws_call_once(dev_bootstrapped: Live, monkeypatch):
    """Every AWS request of a verify run, seen by botocore: no (operation, resource) pair twice
    (the kms:DescribeKey of each key, each secret's metadata and value, the instance, once)."""
    import boto3

    calls: list[tuple[str, str]] = []
    keys = ("DBInstanceIdentifier", "DBParameterGroupName", "SecretId", "KeyId")

    def record(params, model, **_):
        calls.append((f"{model.service_model.endpoint_prefix}:{model.name}",
                      ",".join(str(params[k]) for k in keys if k in params)))

    real_init = boto3.session.Session.__init__

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        self.events.register("before-parameter-build", record)

    monkeypatch.setattr(boto3.session.Session, "__init__", init)
    rep = dev_bootstrapped.verify()
    assert rep.exit_code == 0, [(c.id, c.detail) for c in rep.checks if c.status not in (Status.PASS, Status.SKIP)]
    repeated = sorted({c for c in calls if calls.count(c) > 1})
    assert not repeated, repeated
    assert sum(op == "kms:DescribeKey" for op, _ in calls) == 3  # the RDS, secrets and alarms keys
    assert {"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "rds:DescribeDBInstances"} <= \
        {op for op, _ in calls}
