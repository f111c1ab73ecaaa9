"""The signed tenant context, proven live (settings ``tenant_context = "signed"``).

ISO-SIGNED, as app_user (its own login from the connection secret; with
``--master-dsn``, ``SET ROLE`` from the master, which the actual value says),
inside a transaction that is rolled back: a scratch table holding rows of two
tenants A and B under the tenant policy; A's valid token reads A's rows only;
then every forged context for B (a bare uuid, a wrong MAC, A's token with B's
id, an expired token, one beyond the longest lifetime, one under an unknown
key, an altered copy of a valid token), each through the helper and written
to the setting directly, reads none of B's rows and writes none; and app_user
holds no privilege on the key table and cannot select from it.

SEC-CONTEXT-KEY (through AWS): the key secret is encrypted with the secrets
CMK, holds the same keys as the database, and its current key is not overdue
for rotation.

In plain mode both prove the declared mode instead: no key table is left in the
database (ISO-SIGNED) and no context key secret exists (SEC-CONTEXT-KEY); the id
is the context, and AC10/ISO-PROBE prove isolation.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable

import psycopg
from botocore.exceptions import ClientError
from psycopg import sql

from tenantdb.database import connection as db
from tenantdb.database import context_key as keys
from tenantdb.database import context_token as ct
from tenantdb.database import sqlfiles
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
    ring = keys.ring(s, conn=ctx.master_db)
    conn, how = _app_session(ctx)
    try:
        found, problems = _probe(conn, ctx, ring, how)
    finally:
        conn.rollback()
    actual = f"as {s.app_role} ({how}): " + "; ".join(found)
    return (failed if problems else passed)(ID, TITLE, EXPECTED, actual, "; ".join(problems))


def _app_session(ctx: Context) -> tuple[psycopg.Connection, str]:
    if ctx.via_aws:
        return ctx.connect("app_user", ctx.app_target()), "login from the connection secret"
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
    """One statement of the forgery probe, sql/verify/signed/<name>.sql."""
    return sqlfiles.named(f"verify/signed/{name}", values)


def _probe(conn: psycopg.Connection, ctx: Context, ring: ct.KeyRing, how: str) -> tuple[list[str], list[str]]:
    s = ctx.settings
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    found: list[str] = []
    problems: list[str] = []
    with conn.transaction(force_rollback=True):
        if how.startswith("SET ROLE"):
            conn.execute(_q("as_app_user", app_role=sql.Identifier(s.app_role)))
        table = _scratch(conn, s, a, b)
        rows = _probe_rows(conn, table)
        try:
            with conn.transaction():
                conn.execute(_q("set_tenant", tenancy=sql.Identifier(s.tenancy_schema)), (ring.mint(a, 60),))
        except psycopg.errors.InvalidParameterValue as exc:
            problems.append(f"A's valid token refused: {db.first_line(exc)}")
        seen = rows()
        (found if seen == [a, a] else problems).append(f"A's token sees {len(seen)} rows ({seen.count(a)} of A's 2)")
        for label, value in forged(ring, a, b, s.context_token_max_ttl_s).items():
            for via in ("set_tenant", "the setting"):
                bad = _forged_context(conn, s, table, rows, b, value, via)
                if bad:
                    problems.append(f"{label} via {via}: {bad}")
        if not problems:
            found.append("7 forged contexts for B, each via set_tenant and the setting: 0 rows read, 0 written")
        _key_unreadable(conn, s, found, problems)
    return found, problems


def _scratch(conn: psycopg.Connection, s: Settings, a: str, b: str) -> sql.Composable:
    """A temporary table with 2 rows of A and 1 of B, then forced row security with the tenant policy."""
    name = f"tenantdb_signed_{secrets.token_hex(4)}"
    conn.execute(_q("scratch_table", name=sql.Identifier(name)))
    table = sql.Identifier("pg_temp", name)
    conn.execute(_q("seed_rows", table=table), (a, a, b))
    conn.execute(_q("enable_rls", table=table, tenancy=sql.Identifier(s.tenancy_schema)))
    return table


def _probe_rows(conn: psycopg.Connection, table: sql.Composable) -> Callable[[], list[str]]:
    return lambda: [str(r[0]) for r in conn.execute(_q("visible", table=table))]


def _forged_context(conn: psycopg.Connection, s: Settings, table: sql.Composable, rows: Callable[[], list[str]],
                    b: str, value: str, via: str) -> str:
    """What a forged context got through (empty: nothing), in a savepoint that is rolled back."""
    got: list[str] = []
    with conn.transaction(force_rollback=True):
        if via == "set_tenant":
            try:
                with conn.transaction():
                    conn.execute(_q("set_tenant", tenancy=sql.Identifier(s.tenancy_schema)), (value,))
                got.append("set_tenant accepted it")
            except psycopg.errors.InvalidParameterValue:
                pass
        else:
            conn.execute(_q("forge_context"), (s.tenant_setting, value))
        if b in rows():
            got.append("read B's row")
        for verb, name in (("insert", "insert_for_other"), ("update", "update_other"), ("delete", "delete_other")):
            try:
                with conn.transaction():
                    if conn.execute(_q(name, table=table), (b,)).rowcount:
                        got.append(f"{verb} of B's row")
            except psycopg.errors.InsufficientPrivilege as exc:
                if "row-level security" not in str(exc):
                    got.append(f"{verb} failed otherwise: {db.first_line(exc)}")
    return ", ".join(got)


def _key_unreadable(conn: psycopg.Connection, s: Settings, found: list[str], problems: list[str]) -> None:
    keys = sql.Identifier(s.tenancy_schema, "context_keys")
    shown = f"{s.tenancy_schema}.context_keys"
    held = conn.execute(_q("key_privileges", keys_name=sql.Literal(keys.as_string(conn)))).fetchall()
    if held:
        problems.append(f"{s.app_role} holds {', '.join(r[0] for r in held)} on {shown}")
    try:
        with conn.transaction():
            conn.execute(_q("key_read", keys=keys))
        problems.append(f"{s.app_role} can select from {shown}")
    except psycopg.errors.InsufficientPrivilege:
        found.append(f"no privilege on {shown}; select refused")


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
    in_db = keys.read_db(ctx.master_db, s)
    ctx.master_db.rollback()
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
    row = ctx.master_db.execute(_q("plain_mode", tenancy_name=sql.Literal(s.tenancy_schema))).fetchone()
    ctx.master_db.rollback()
    if row and row[0]:
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
