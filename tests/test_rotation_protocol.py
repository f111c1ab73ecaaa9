"""A rotation as Secrets Manager runs it, on the session's local environment (moto + fidelity
layer, the real PostgreSQL cluster, the real CLI): RotateSecret, then AWS's single-user
function's four steps in-process (tests/rotation_function.py), for both application secrets.

After it: every key but ``password`` is what it was (the function copies them), the old
password is refused and the new one logs in over TLS, every form of docs/connecting.md
connects with search_path pinned (the copied ``options`` and ``uri`` still carry the pin),
`tenantdb verify --env local` exits 0 with AC9 and SEC-MIGRATOR PASS, and a
bootstrap rerun keeps the rotated passwords. A rotation caught half-way stops the bootstrap
before it changes anything.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import psycopg
import pytest

from tenantdb.aws import Aws, pending_version
from tenantdb.database.plumbing.master import parse_endpoint
from tenantdb.local.pipeline import POSTGRES
from tenantdb.local.postgres import Cluster
from tenantdb.local.state import state_dir
from tenantdb.settings import Settings
from tests import client_forms
from tests import rotation_function as fn

pytestmark = pytest.mark.slow  # the session's local environment (tests/fixtures_local.py)


@pytest.fixture(scope="module")
def aws(local_cold_up, local_settings: Settings) -> Aws:
    # Up and bootstrapped (a report on stdout); whether every check passed is asserted where it matters.
    assert local_cold_up.returncode in (0, 1) and json.loads(local_cold_up.stdout)["checks"], \
        local_cold_up.stderr[-3000:]
    return Aws(local_settings)


@pytest.fixture(scope="module")
def net(aws: Aws, local_settings: Settings) -> fn.Network:
    s = local_settings
    host, port = parse_endpoint(s.db_endpoint or "")
    ca = Cluster(state_dir(s.local_state_dir) / POSTGRES, port, host=host).ca_file
    return fn.Network(aws.instance()["Endpoint"]["Address"], host, port, str(ca))


def names(s: Settings) -> dict[str, str]:
    return {s.connection_secret_name: s.app_role, s.migrator_secret_name: s.migrator_role}


def stages(aws: Aws, name: str) -> dict[str, list[str]]:
    return {v: sorted(st) for v, st in aws.secrets.describe_secret(SecretId=name)["VersionIdsToStages"].items()}


def current_version(aws: Aws, name: str) -> str:
    (version,) = [v for v, st in stages(aws, name).items() if "AWSCURRENT" in st]
    return version


def logs_in(net: fn.Network, user: str, password: str, dbname: str) -> bool:
    try:
        with psycopg.connect(host=net.host, port=net.port, user=user, password=password, dbname=dbname,
                             sslmode="verify-full", sslrootcert=net.ca_file, connect_timeout=5) as conn:
            return conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() == (True,)
    except psycopg.OperationalError as exc:
        assert "password authentication failed" in str(exc), exc
        return False


def checks_of(run) -> dict[str, dict]:
    return {c["id"]: c for c in json.loads(run.stdout)["checks"]}


def test_a_rotation_as_aws_runs_it_keeps_both_secrets_and_every_form_working(
        aws: Aws, net: fn.Network, local_cli, local_settings: Settings, local_overlay) -> None:
    s = local_settings
    before = {name: aws.secret_json(name) for name in names(s)}
    old_versions = {name: current_version(aws, name) for name in names(s)}

    tokens = {name: fn.rotate(aws.secrets, name, net) for name in names(s)}

    for name, role in names(s).items():
        new, old = aws.secret_json(name), before[name]
        assert new["password"] != old["password"]
        assert {k: v for k, v in new.items() if k != "password"} == \
            {k: v for k, v in old.items() if k != "password"}  # every other key copied, unchanged
        got = stages(aws, name)
        assert sum("AWSCURRENT" in st for st in got.values()) == 1
        assert "AWSCURRENT" in got[tokens[name]] and "AWSPREVIOUS" in got[old_versions[name]]
        assert pending_version(aws.secrets.describe_secret(SecretId=name)) is None
        # A reader that names no stage gets the new value, as on AWS.
        assert json.loads(aws.secrets.get_secret_value(SecretId=name)["SecretString"]) == new
        assert not logs_in(net, role, old["password"], s.db_name), f"{role}: the old password still works"
        assert logs_in(net, role, new["password"], s.db_name)

    for role in ("app", "migrator"):
        name = s.connection_secret_name if role == "app" else s.migrator_secret_name
        user = names(s)[name]
        for form, got in client_forms.every_form(local_cli.overlay, s, aws.secret_json(name), net, role).items():
            assert (got.user, got.tls, got.pinned) == (user, True, True), (form, got)

    verify = local_cli("verify", "--env", "local", "--format", "json")
    got = checks_of(verify)
    assert got["AC9"]["status"] == got["SEC-MIGRATOR"]["status"] == "PASS", (got["AC9"], got["SEC-MIGRATOR"])
    assert got["SEC-ROTATION-APP"]["status"] == "SKIP"
    assert got["SEC-ROTATION-APP"]["detail"].startswith("emulator: rotation on, every 90 d, no rotation pending")
    not_passed = {k: c["detail"] for k, c in got.items() if c["status"] not in ("PASS", "SKIP")}

    after = {name: aws.secret_json(name) for name in names(s)}
    boot = local_cli("bootstrap", "--env", "local", "--format", "json")
    assert boot.returncode == 0, boot.stderr
    steps = {st["name"]: st for st in json.loads(boot.stdout)["steps"]}
    for step in ("app-password", "migrator-password"):
        assert not steps[step]["changed"], steps[step]  # kept: nothing reverted, nothing rewritten
    for name, role in names(s).items():
        assert current_version(aws, name) == tokens[name]
        assert aws.secret_json(name) == after[name]
        assert logs_in(net, role, after[name]["password"], s.db_name)
    for run in local_cli.runs[-2:]:
        for value in after.values():
            assert value["password"] not in run.stdout + run.stderr
    assert verify.returncode == 0, not_passed


def test_bootstrap_refuses_while_a_rotation_is_pending_and_changes_nothing(
        aws: Aws, net: fn.Network, local_cli, local_settings: Settings) -> None:
    s = local_settings
    name, role = s.connection_secret_name, s.app_role
    current = current_version(aws, name)
    token = fn.rotate(aws.secrets, name, net, steps=("createSecret", "setSecret"))  # caught half-way
    pending = json.loads(aws.secrets.get_secret_value(SecretId=name, VersionId=token,
                                                      VersionStage="AWSPENDING")["SecretString"])
    try:
        boot = local_cli("bootstrap", "--env", "local")
        assert boot.returncode == 1
        (line,) = boot.stderr.strip().splitlines()
        assert name in line and "rotation is in progress" in line and "nothing was changed" in line, line
        assert pending["password"] not in boot.stdout + boot.stderr
        assert current_version(aws, name) == current and stages(aws, name)[token] == ["AWSPENDING"]
        assert logs_in(net, role, pending["password"], s.db_name)  # the function's setSecret not reverted

        verify = checks_of(local_cli("verify", "--env", "local", "--format", "json"))
        assert verify["SEC-ROTATION-APP"]["status"] == "FAIL" and "stuck in AWSPENDING" in \
            verify["SEC-ROTATION-APP"]["detail"]
    finally:
        fn.run_steps(aws.secrets, name, token, net, steps=("testSecret", "finishSecret"))
    assert current_version(aws, name) == token
    assert local_cli("bootstrap", "--env", "local").returncode == 0
    verify = checks_of(local_cli("verify", "--env", "local", "--format", "json"))
    assert (verify["AC9"]["status"], verify["SEC-ROTATION-APP"]["status"]) == ("PASS", "SKIP"), verify["AC9"]


def test_a_uri_holding_the_password_fails_ac9_and_bootstrap_rewrites_it(
        aws: Aws, local_cli, local_settings: Settings) -> None:
    """The shape before this design: the uri carried the password, so a rotation left it stale."""
    s = local_settings
    name = s.connection_secret_name
    value = aws.secret_json(name)
    # URL-encoded, as the old shape had it: a rotated password holds punctuation (AWS's function
    # excludes only / @ " ' and \\).
    stale = dict(value, uri=value["uri"].replace("postgresql://app_user@",
                                                 f"postgresql://app_user:{quote(value['password'], safe='')}@"))
    aws.put_secret_json(name, stale)
    ac9 = checks_of(local_cli("verify", "--env", "local", "--format", "json"))["AC9"]
    assert ac9["status"] == "FAIL" and "uri holds a password" in ac9["detail"]
    assert value["password"] not in ac9["detail"] + ac9["actual"]
    assert local_cli("bootstrap", "--env", "local").returncode == 0
    assert aws.secret_json(name) == value  # rewritten without it; the password kept
