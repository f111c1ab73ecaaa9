"""The signed tenant context, proven live (settings ``tenant_context = "signed"``).

ISO-SIGNED, as app_user (its own login from the connection secret; with
``--master-dsn``, ``SET ROLE`` from the master, which the actual value says),
inside a transaction that is rolled back: a scratch table holding rows of two
tenants A and B under the tenant policy; A's valid token reads A's rows only;
then every forged context for B (a bare uuid, a wrong MAC, A's token with B's
id, an expired token, one beyond the longest lifetime, one under an unknown
key, an altered copy of a valid token), each through the helper and written
to the setting directly, reads none of B's rows and writes none; and app_user
holds no privilege on the key table and cannot select from it. The whole probe
is one PL/pgSQL block (sql/verify/signed/probe.sql: each attempt in a block it
undoes) sent with its input in one pipeline: one round trip; the verdict is
made here from what the block reports.

SEC-CONTEXT-KEY (through AWS): the key secret is encrypted with the secrets
CMK, holds the same keys as the database, and its current key is not overdue
for rotation.

In plain mode both prove the declared mode instead: no key table is left in the
database (ISO-SIGNED) and no context key secret exists (SEC-CONTEXT-KEY); the id
is the context, and AC10/ISO-PROBE prove isolation.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from typing import Any

import psycopg
from botocore.exceptions import ClientError
from psycopg import sql

from tenantdb.database import connection as db
from tenantdb.database import context_key as keys
from tenantdb.database import context_token as ct
from tenantdb.database import sqlfiles
from tenantdb.errors import ToolkitError
from tenantdb.report import Check, failed, passed
from tenantdb.settings import Settings
from tenantdb.verify.context import Context

ID, TITLE = "ISO-SIGNED", "Signed tenant context: forged contexts read and write nothing; key unreadable"
KEY_ID, KEY_TITLE = "SEC-CONTEXT-KEY", "Context key secret: secrets CMK, not in Terraform, read by IRSA, rotated"
EXPECTED = ("A's token reads A's rows only; every forged context for B reads 0 and writes 0 of B's rows, "
            "through set_tenant and the setting; no privilege on the key table")
PLAIN = "tenant_context = plain: the tenant id is the context (AC10, ISO-PROBE); docs/tenant-context.md"
PLAIN_DB = "plain mode: no signing key table in the database"
PLAIN_SECRET = "plain mode: no context key secret"


def iso_signed(ctx: Context) -> Check:
    s = ctx.settings
    if s.tenant_context != "signed":
        return _plain_database(ctx)
    ring = ctx.key_ring  # read with the catalog
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    tried = forged(ring, a, b, s.context_token_max_ttl_s)
    conn, how = _app_session(ctx)
    got = _run_probe(ctx, conn, how, {"a": a, "b": b, "good": ring.mint(a, 60), "forged": list(tried.values()),
                                      "setting": s.tenant_setting})
    found, problems = judge(s, got, a, list(tried))
    actual = f"as {s.app_role} ({how}): " + "; ".join(found)
    return (failed if problems else passed)(ID, TITLE, EXPECTED, actual, "; ".join(problems))


def _app_session(ctx: Context) -> tuple[psycopg.Connection, str]:
    if ctx.via_aws:
        return ctx.open("app_user", ctx.app_target()), "login from the connection secret"
    return ctx.master_db, "SET ROLE from the master"


def forged(ring: ct.KeyRing, a: str, b: str, max_ttl_s: int) -> dict[str, str]:
    """Every forged context for tenant ``b`` a session holding ``a``'s token could make."""
    cur = ring.current
    good = ring.mint(a, 60)
    return {
        "bare uuid": b,
        "wrong MAC": ct.mint(ct.Key(cur.kid, secrets.token_bytes(ct.KEY_BYTES), 0), b, 60),
        "A's token with B's id": good.replace(a, b),
        "expired": ct.mint(cur, b, 60, now=time.time() - 120),
        "beyond the longest lifetime": ct.mint(cur, b, max_ttl_s + ct.CLOCK_SKEW_S + 60),
        "unknown or retired key": ct.mint(ct.new_key(), b, 60),
        "altered copy of a valid token": ring.mint(b, 60)[:-1] + "x",
    }


def _q(name: str, /, **values: sql.Composable) -> sql.Composed:
    """A statement of the forgery probe, sql/verify/signed/<name>.sql."""
    return sqlfiles.named(f"verify/signed/{name}", values)


def _run_probe(ctx: Context, conn: psycopg.Connection, how: str, probe: dict[str, object]) -> dict[str, Any]:
    """The whole probe in one round trip (sql/verify/signed/probe.sql), rolled back; with the TLS
    facts of app_user's own connection when it has just been opened for it."""
    s = ctx.settings
    name = f"tenantdb_signed_{secrets.token_hex(4)}"
    key_table = sql.Identifier(s.tenancy_schema, "context_keys")
    queries: list[Any] = [sqlfiles.named("session/tls")] if ctx.tls_pending(conn) else []
    if how.startswith("SET ROLE"):
        queries.append(_q("as_app_user", app_role=sql.Identifier(s.app_role)))
    queries += [(_q("input"), (json.dumps(probe),)),
                _q("probe", name=sql.Identifier(name), table=sql.Identifier("pg_temp", name),
                   tenancy=sql.Identifier(s.tenancy_schema), keys=key_table,
                   keys_name=sql.Literal(key_table.as_string(conn))),
                _q("result")]
    results = db.batch(conn, queries, read_only=False)
    if ctx.tls_pending(conn):
        tls = results[0]
        ctx.record_tls(conn, None if isinstance(tls, BaseException) or not tls else tls[0])
    if isinstance(results[-1], BaseException):
        raise results[-1]
    return results[-1][0]["result"]  # type: ignore[no-any-return]  # JSON from the probe


def judge(s: Settings, got: dict[str, Any], a: str, labels: list[str]) -> tuple[list[str], list[str]]:
    """(found, problems) from what the probe reported."""
    found: list[str] = []
    problems: list[str] = []
    if got["refused"]:
        problems.append(f"A's valid token refused: {got['refused']}")
    seen = [str(x) for x in got["seen"]]
    (found if seen == [a, a] else problems).append(f"A's token sees {len(seen)} rows ({seen.count(a)} of A's 2)")
    bad = [f"{labels[t['i']]} via {t['via']}: {', '.join(t['got'])}" for t in got["attempts"] if t["got"]]
    problems += bad
    if len(got["attempts"]) != 2 * len(labels):
        problems.append(f"{len(got['attempts'])} of {2 * len(labels)} forged attempts ran")
    elif not problems:
        found.append(f"{len(labels)} forged contexts for B, each via set_tenant and the setting: "
                     "0 rows read, 0 written")
    shown = f"{s.tenancy_schema}.context_keys"
    if got["held"]:
        problems.append(f"{s.app_role} holds {', '.join(got['held'])} on {shown}")
    if got["key_read"] == "refused":
        found.append(f"no privilege on {shown}; select refused")
    else:
        problems.append(f"{s.app_role} can select from {shown}")
    return found, problems


def context_key(ctx: Context) -> Check:
    """SEC-CONTEXT-KEY: the secret under the secrets CMK; in signed mode the database's keys, fresh."""
    s = ctx.settings
    if s.tenant_context != "signed":
        return _plain_secret(ctx)
    name = s.context_key_secret_name
    kms = ctx.aws.describe_secret(name).get("KmsKeyId", "")
    expected = f"secret {name} under {s.kms_alias_secrets}"
    if not kms or (kms != ctx.secrets_key_arn and ctx.key_arn(kms) != ctx.secrets_key_arn):
        return failed(KEY_ID, KEY_TITLE, expected, f"kms {kms}", "the context key secret is not under the secrets CMK")
    expected += ", the database's keys, current key younger than context_key_rotation_days"
    in_secret = keys.read_secret(ctx.aws, s)
    in_db = ctx.db_keys  # read with the catalog
    if in_secret is None:
        return failed(KEY_ID, KEY_TITLE, expected, "secret has no value", "run tenantdb bootstrap")
    now = int(time.time())
    kids = sorted(k.kid for k in in_secret.valid(now).keys)
    db_kids = sorted(k.kid for k in in_db.valid(now).keys)
    if in_secret.valid(now) != in_db.valid(now):
        return failed(KEY_ID, KEY_TITLE, expected, f"secret keys {kids}, database keys {db_kids}",
                      "the secret and the database disagree: run tenantdb bootstrap "
                      "(it sets the database to the secret)")
    cur = in_secret.current
    age = (now - cur.created_at) / keys.DAY_S
    actual = f"keys {kids}, current {cur.kid} {age:.0f} days old"
    if age > s.context_key_rotation_days + 1:
        return failed(KEY_ID, KEY_TITLE, expected, actual, "rotation overdue: run tenantdb bootstrap (scheduled) "
                      "or tenantdb bootstrap --rotate-context-key")
    return passed(KEY_ID, KEY_TITLE, expected, actual)


def _plain_database(ctx: Context) -> Check:
    """Plain mode: the signed-context step left no key table (keys left behind would be a finding)."""
    s = ctx.settings
    left = ctx.catalog["context_key_table"]  # read with the catalog (sql/verify/catalog.sql), no round trip
    if left is None:
        raise ToolkitError(f"database {s.db_name} does not exist (AC7); a key table left behind is not ruled out")
    if left:
        return failed(ID, TITLE, PLAIN_DB, f"{s.tenancy_schema}.context_keys exists",
                      "signing keys left in plain mode: run tenantdb bootstrap (it drops them), or set "
                      "tenant_context = \"signed\" if that is the mode in force")
    return passed(ID, TITLE, PLAIN_DB, f"no {s.tenancy_schema}.context_keys; {PLAIN}")


def _plain_secret(ctx: Context) -> Check:
    """Plain mode: the stacks create no context key secret; one that exists was left behind."""
    name = ctx.settings.context_key_secret_name
    try:
        ctx.aws.secrets.describe_secret(SecretId=name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return passed(KEY_ID, KEY_TITLE, PLAIN_SECRET, f"no secret {name}")
        raise
    return failed(KEY_ID, KEY_TITLE, PLAIN_SECRET, f"secret {name} exists",
                  "a context key secret in plain mode: deploy the stack for the declared mode (it removes the "
                  "secret), or set tenant_context = \"signed\"")
