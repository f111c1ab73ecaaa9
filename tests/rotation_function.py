"""Secrets Manager's rotation protocol, played in-process the way Lambda runs AWS's single-user
PostgreSQL rotation function (SecretsManagerRDSPostgreSQLRotationSingleUser, the function the
stacks deploy): the emulator hosts no function, so the tests are the function.

What it does is what AWS's function does, step by step (its lambda_function.py, read for this):
- the handler refuses a secret whose rotation is off, a token with no stage, and returns when
  the token is already AWSCURRENT;
- createSecret copies EVERY key of AWSCURRENT, replaces ``password`` with
  GetRandomPassword(ExcludeCharacters=':/@"\\'\\\\') and puts it as AWSPENDING under the token;
- setSecret logs in with AWSPENDING (done if it works), else with AWSCURRENT (then AWSPREVIOUS),
  and runs ``ALTER USER <user> WITH PASSWORD <pending>`` as the user itself;
- testSecret logs in with AWSPENDING; finishSecret moves AWSCURRENT to the token.
It connects with TLS ``verify-full`` when the secret's ``ssl`` is true (no plaintext fallback),
and falls back to plaintext only when the key is absent. PyGreSQL is swapped for psycopg: the
statements and the connection parameters are the same.

The only stand-in is the network: the function runs in the VPC and reaches the instance by its
endpoint name; here :class:`Network` maps that name to the stand-in cluster.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

CURRENT, PENDING, PREVIOUS = "AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"
EXCLUDE_CHARACTERS = ":/@\"'\\"
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


@dataclass(frozen=True)
class Network:
    """Where the function reaches the instance: its endpoint name -> the stand-in's address."""

    instance_host: str
    host: str
    port: int
    ca_file: str


def rotate(sm: Any, secret_id: str, net: Network, steps: tuple[str, ...] = STEPS) -> str:
    """RotateSecret, then each step as Secrets Manager invokes the function. Returns the new version id."""
    token = sm.rotate_secret(SecretId=secret_id, RotationRules={"AutomaticallyAfterDays": 90})["VersionId"]
    run_steps(sm, secret_id, token, net, steps)
    return token


def run_steps(sm: Any, secret_id: str, token: str, net: Network, steps: tuple[str, ...] = STEPS) -> None:
    for step in steps:
        handler(sm, {"SecretId": secret_id, "ClientRequestToken": token, "Step": step}, net)


def handler(sm: Any, event: dict[str, str], net: Network) -> None:
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    meta = sm.describe_secret(SecretId=arn)
    if "RotationEnabled" in meta and not meta["RotationEnabled"]:
        raise ValueError(f"Secret {arn} is not enabled for rotation")
    versions = meta["VersionIdsToStages"]
    if token not in versions:
        raise ValueError(f"Secret version {token} has no stage for rotation of secret {arn}.")
    if CURRENT in versions[token]:
        return
    if PENDING not in versions[token]:
        raise ValueError(f"Secret version {token} not set as AWSPENDING for rotation of secret {arn}.")
    {"createSecret": create_secret, "setSecret": set_secret, "testSecret": test_secret,
     "finishSecret": finish_secret}[step](sm, arn, token, net)


def secret_dict(sm: Any, arn: str, stage: str, token: str | None = None) -> dict[str, Any]:
    extra = {"VersionId": token} if token else {}
    value = json.loads(sm.get_secret_value(SecretId=arn, VersionStage=stage, **extra)["SecretString"])
    for key in ("host", "username", "password", "engine"):
        if key not in value:
            raise KeyError(f"{key} key is missing from secret JSON")
    if value["engine"] not in ("postgres", "aurora-postgresql"):
        raise KeyError("Database engine must be set to 'postgres' in order to use this rotation lambda")
    return value


def create_secret(sm: Any, arn: str, token: str, net: Network) -> None:
    current = secret_dict(sm, arn, CURRENT)
    try:
        secret_dict(sm, arn, PENDING, token)
        return
    except sm.exceptions.ResourceNotFoundException:
        pass
    current["password"] = sm.get_random_password(ExcludeCharacters=EXCLUDE_CHARACTERS)["RandomPassword"]
    sm.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString=json.dumps(current),
                        VersionStages=[PENDING])


def set_secret(sm: Any, arn: str, token: str, net: Network) -> None:
    try:
        previous: dict[str, Any] | None = secret_dict(sm, arn, PREVIOUS)
    except (sm.exceptions.ResourceNotFoundException, KeyError):
        previous = None
    current, pending = secret_dict(sm, arn, CURRENT), secret_dict(sm, arn, PENDING, token)
    conn = connect(pending, net)
    if conn:
        conn.close()
        return
    for other in (current, previous):
        if other and (other["username"], other["host"]) != (pending["username"], pending["host"]):
            raise ValueError(f"Attempting to modify user {pending['username']} other than {other['username']}")
    conn = connect(current, net) or (connect(previous, net) if previous else None)
    if not conn:
        raise ValueError(f"Unable to log into database with previous, current, or pending secret of secret arn {arn}")
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("ALTER USER {} WITH PASSWORD {}").format(
                sql.Identifier(pending["username"]), sql.Literal(pending["password"])))
        conn.commit()
    finally:
        conn.close()


def test_secret(sm: Any, arn: str, token: str, net: Network) -> None:
    conn = connect(secret_dict(sm, arn, PENDING, token), net)
    if not conn:
        raise ValueError(f"Unable to log into database with pending secret of secret ARN {arn}")
    try:
        conn.execute("SELECT NOW()")
        conn.commit()
    finally:
        conn.close()


def finish_secret(sm: Any, arn: str, token: str, net: Network) -> None:
    current = None
    for version, stages in sm.describe_secret(SecretId=arn)["VersionIdsToStages"].items():
        if CURRENT in stages:
            if version == token:
                return
            current = version
            break
    sm.update_secret_version_stage(SecretId=arn, VersionStage=CURRENT, MoveToVersionId=token,
                                   RemoveFromVersionId=current)


def connect(value: dict[str, Any], net: Network) -> psycopg.Connection | None:
    """As the function connects: verify-full when ``ssl`` says so (or is absent, then with a plaintext fallback)."""
    ssl = value.get("ssl")
    use_ssl, fall_back = (ssl, False) if isinstance(ssl, bool) else \
        ({"true": True, "false": False}[ssl.lower()], False) if isinstance(ssl, str) and \
        ssl.lower() in ("true", "false") else (True, True)
    conn = _attempt(value, net, use_ssl)
    return conn if conn or not fall_back else _attempt(value, net, False)


def _attempt(value: dict[str, Any], net: Network, use_ssl: bool) -> psycopg.Connection | None:
    if value["host"] != net.instance_host:
        return None  # the function reaches only the instance
    tls = {"sslmode": "verify-full", "sslrootcert": net.ca_file} if use_ssl else {"sslmode": "disable"}
    try:
        return psycopg.connect(host=net.host, port=net.port, user=value["username"], password=value["password"],
                               dbname=value.get("dbname", "postgres"), connect_timeout=5, **tls)
    except psycopg.OperationalError:
        return None
