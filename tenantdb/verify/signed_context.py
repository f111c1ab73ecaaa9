"""The signed tenant context, proven live (settings ``tenant_context = "signed"``).

ISO-SIGNED, as app_user (its own login from the connection secret; with
``--master-dsn``, ``SET ROLE`` from the master, which the actual value says),
inside a transaction that is rolled back: a scratch table holding rows of two
tenants A and B under the tenant policy; A's valid token reads A's rows only;
then every forged context for B (a bare uuid, a wrong MAC, A's token with B's
id, an expired token, one beyond the longest lifetime, one under an unknown
key, one whose separator before the MAC is changed, a valid token of a tenant
that is not registered, an altered copy of a valid token), each through the
helper (which must refuse it) and written to the setting directly, reads none
of B's rows and writes none; and app_user holds no privilege on the key table
and cannot select from it.

set_tenant accepts only a registered tenant's token, so A and B are registered:
from the master's session, two scratch tenants registered inside the probe's
transaction (rolled back with it); on app_user's own login, which cannot write
the registry, the first two registered tenants (their rows are never touched:
the probe reads and writes only its scratch table). With fewer than two, the
probe runs from the master's session and says so.

The attempts run on the one probe engine (tenantdb/verify/batch.py,
sql/verify/probe/attempts.sql): each in its own undone sub-transaction, judged
on the server, each reported on its own; a result that does not come back is
a failure. Tokens are credentials, so they never enter statement text: they
are stashed in a transaction-local setting through a bound parameter
(sql/verify/probe/stash_contexts.sql) and the statements read them from there.
Setup, stash and attempts are one pipeline: one round trip, which also carries
the TLS facts of a connection opened for the probe.

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
from dataclasses import dataclass, field

import psycopg
from botocore.exceptions import ClientError
from psycopg import sql

from tenantdb import checks
from tenantdb.database.plumbing import connection as db
from tenantdb.database.tenancy import context_key as keys
from tenantdb.database.tenancy import context_token as ct
from tenantdb.database.plumbing import sqlfiles
from tenantdb.errors import ToolkitError
from tenantdb.report import Check, errored, failed, passed
from tenantdb.settings import Settings
from tenantdb.verify import batch
from tenantdb.verify.batch import Attempt, Statement, Step
from tenantdb.verify.context import Context

SIGNED, KEY = checks.get("ISO-SIGNED"), checks.get("SEC-CONTEXT-KEY")
"""The registry's rows: the ids this module reports and their one titles."""
EXPECTED = ("A's token reads A's rows only; every forged context for B reads 0 and writes 0 of B's rows, "
            "through set_tenant and the setting; no privilege on the key table")
PLAIN = "tenant_context = plain: the tenant id is the context (AC10, ISO-PROBE); docs/tenant-context.md"
PLAIN_DB = "plain mode: no signing key table in the database"
PLAIN_SECRET = "plain mode: no context key secret"

HELPER_REFUSES = "22023"
"""What tenancy.set_tenant raises for a token that does not verify (invalid_parameter_value)."""


@dataclass(frozen=True)
class Way:
    """How a forged context is put in force: its key, how the report names it, and the attempt that puts it
    (keyed ``f<i>.<way>.set``)."""

    key: str
    shown: str
    put: Attempt


WAYS = (Way("helper", "set_tenant",
            Attempt(".set", f"deny|{HELPER_REFUSES}", "{label}: set_tenant", "signed/through_helper")),
        Way("setting", "the setting",
            Attempt(".set", "forge", "{label} via the setting: putting it in force", "signed/write_setting")))
"""The helper must refuse a forged context ("deny": what it sets when it does not is in force for the attempts
on B's rows after it); written to the setting directly it always takes."""
ON_B = (Attempt(".read", "count", "{label}:", "probe/count_tenant", "b"),
        Attempt(".insert", "policy", "{label}: insert of B's row", "probe/insert_for_other", "b"),
        Attempt(".update", "none", "{label}: update", "probe/update_other", "b"),
        Attempt(".delete", "none", "{label}: delete", "probe/delete_other", "b"))
"""What each forged context tries on B's rows, once put in force each way (keyed ``f<i>.<way>.read`` ...)."""
TLS = Attempt("tls", "check", "", "signed/tls")
WHOAMI = Attempt("whoami", "require", "", "probe/whoami")
A_SET = Attempt("a.set", "forge", "A's token through set_tenant", "signed/set_valid")
A_SEES = Attempt("a_sees", "check", "A's token reads", "probe/visible", "a")
CLEAR = Attempt(".clear", "forge", "clearing the context, before {label}", "probe/forge_context")
"""Before each forgery (keyed ``f<i>.clear``): when A's token is refused, no earlier forgery's context stays."""
A_AGAIN = Attempt(".a", "forge", "A's token again, before {label}", "signed/set_valid")
KEYS_HELD = Attempt("keys.held", "check", "{label}", "signed/key_privileges")
KEYS_READ = Attempt("keys.read", "refused", "select from {label}", "signed/read_keys")
TEXTS = batch.Texts(rows="{what} read {n} of B's rows", touched="{what} touched {n} of B's rows")
"""ISO-SIGNED's wording: every count and write is about B's rows."""


def iso_signed(ctx: Context) -> Check:
    if ctx.settings.tenant_context != "signed":
        return _plain_database(ctx)
    tenants = registered_pair(ctx) if ctx.via_aws else None
    return probe_as(ctx, *_app_session(ctx, tenants), tenants=tenants)


def probe_as(ctx: Context, conn: psycopg.Connection, how: str,
             tenants: tuple[str, str] | None = None) -> Check:
    """ISO-SIGNED in signed mode on ``conn``: app_user's own login, or the master's session when ``how``
    says "SET ROLE" (the probe's transaction then becomes app_user). A and B: on the master's session two
    scratch tenants it registers in the probe's transaction; on app_user's own login ``tenants`` (default:
    the first two registered, read by the master)."""
    s = ctx.settings
    ring = ctx.key_ring  # read with the catalog
    scratch = how.startswith("SET ROLE")
    if scratch:
        a, b = str(uuid.uuid4()), str(uuid.uuid4())
    else:
        pair = tenants or registered_pair(ctx)
        if pair is None:
            raise ToolkitError(f"ISO-SIGNED on {s.app_role}'s own login needs two registered tenants")
        a, b = pair
    tried = forged(ring, a, b, s.context_token_max_ttl_s)
    probe = Probe(s, f"tenantdb_signed_{secrets.token_hex(4)}", a, b, list(tried), ctx.tls_pending(conn))
    _run_probe(ctx, conn, how, probe, [ring.mint(a, 60), *tried.values()], register=scratch)
    got = probe.res.got
    if "whoami" in got and not got["whoami"][0]:
        who = got["whoami"][1].removeprefix("fact:")
        return failed(SIGNED.id, SIGNED.title, EXPECTED, f"as {s.app_role} ({how})", who)
    if probe.res.stopped and not got.keys() - {"tls"}:
        return errored(SIGNED.id, SIGNED.title, f"the probe could not run: {probe.res.stopped}", EXPECTED)
    found, problems = judge(probe)
    actual = f"as {s.app_role} ({how}): " + "; ".join(found)
    # A LOCK TABLE in the way is ERROR: the probe could not judge, which is not a finding.
    return batch.verdict(SIGNED, EXPECTED, probe.res, actual, problems)


def _app_session(ctx: Context, tenants: tuple[str, str] | None) -> tuple[psycopg.Connection, str]:
    if ctx.via_aws and tenants:
        return ctx.open("app_user", ctx.app_target()), "login from the connection secret"
    if ctx.via_aws:
        return ctx.master_db, "SET ROLE from the master: fewer than two registered tenants for the secret's login"
    return ctx.master_db, "SET ROLE from the master"


def registered(ctx: Context, limit: int) -> list[str]:
    """The first ``limit`` registered tenants, read by the master (app_user may not read the registry):
    the tenants a probe on app_user's own login may set through set_tenant, which refuses any other."""
    s = ctx.settings
    query = sqlfiles.named("verify/registered_tenants", {
        "registry": sql.Identifier(s.tenancy_schema, "tenants"), "max_tenants": sql.Literal(limit)})
    rows = db.read_only_batch(ctx.master_db, [query])[0]
    if isinstance(rows, BaseException):
        raise rows
    return [str(r["tenant_id"]) for r in rows]


def registered_pair(ctx: Context) -> tuple[str, str] | None:
    """The first two registered tenants, or None when there are fewer."""
    ids = registered(ctx, 2)
    return (ids[0], ids[1]) if len(ids) == 2 else None


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
        "separator before the MAC changed": _separator(ring.mint(b, 60)),
        "valid token of an unregistered tenant": ring.mint(str(uuid.uuid4()), 60),
        "altered copy of a valid token": ring.mint(b, 60)[:-1] + "x",
    }


def _separator(token: str) -> str:
    """``token`` with the byte between the signed part and the MAC changed: the MAC does not cover it."""
    return token[:-65] + "x" + token[-64:]


def _q(name: str, /, **values: sql.Composable) -> sql.Composed:
    """A statement of the forgery probe, sql/verify/signed/<name>.sql."""
    return sqlfiles.named(f"verify/signed/{name}", values)


@dataclass
class Probe:
    """One run of the forgery probe: its attempts (each carries what is expected back), the part of the
    probe each attempt belongs to (to name what did not run), and what came back."""

    s: Settings
    name: str
    a: str
    b: str
    labels: list[str]
    tls: bool
    steps: list[Step] = field(default_factory=list)
    part: dict[str, str] = field(default_factory=dict)
    res: batch.Results = field(default_factory=batch.Results)

    def __post_init__(self) -> None:
        s = self.s
        values = {"tenancy": sql.Identifier(s.tenancy_schema), "setting": sql.Literal(s.tenant_setting),
                  "table": self.table, "app": sql.Literal(s.app_role)}
        if self.tls:
            self.add(TLS.step({"tls": sqlfiles.named("session/tls")}), "the TLS facts")
        self.add(WHOAMI.step(values), "the role the probe runs as")
        self.add(A_SET.step(values), "A's token")
        self.add(A_SEES.step(values, tenants={"a": self.a}), "A's token")
        for i, label in enumerate(self.labels):
            self._forgery(i, label)
        self.add(KEYS_HELD.step({"keys": sql.Literal(self.shown_keys), "shown": sql.Literal(self.shown_keys)},
                                label=s.app_role), "the key table")
        self.add(KEYS_READ.step({"keys": sql.Identifier(s.tenancy_schema, "context_keys")}, label=self.shown_keys),
                 "the key table")

    def _forgery(self, i: int, label: str) -> None:
        """From A's context (and no other), the forgery through the helper (refused, A's context stands),
        then written to the setting; each way tries B's rows. Stashed context 1 is A's token, i + 2 this
        forgery."""
        s = self.s
        values = {"i": sql.Literal(i + 2), "tenancy": sql.Identifier(s.tenancy_schema), "value": sql.Literal(""),
                  "setting": sql.Literal(s.tenant_setting), "table": self.table}
        helper = f"{label} via set_tenant"
        self.add(CLEAR.step(values, at=f"f{i}", label=label), helper)
        self.add(A_AGAIN.step(values, at=f"f{i}", label=label), helper)
        for way in WAYS:
            part = f"{label} via {way.shown}"
            self.add(way.put.step(values, at=f"f{i}.{way.key}", label=label), part)
            for attempt in ON_B:
                self.add(attempt.step(values, at=f"f{i}.{way.key}", label=part, tenants={"b": self.b}), part)

    @property
    def table(self) -> sql.Identifier:
        return sql.Identifier("pg_temp", self.name)

    @property
    def shown_keys(self) -> str:
        return f"{self.s.tenancy_schema}.context_keys"

    @property
    def expected(self) -> list[tuple[str, str, str]]:
        return [st.expected for st in self.steps]

    def add(self, step: Step, part: str) -> None:
        self.steps.append(step)
        self.part[step.key] = part


def _run_probe(ctx: Context, conn: psycopg.Connection, how: str, probe: Probe, contexts: list[str], *,
               register: bool) -> None:
    """The whole probe as one pipeline (one round trip), rolled back; with the TLS facts of app_user's own
    connection when it has just been opened for it. ``register``: as the master, A and B are registered
    first (for the transaction only)."""
    s = ctx.settings
    tenancy = sql.Identifier(s.tenancy_schema)
    setup: list[Statement] = [batch.plain("probe/begin")]
    if register:
        setup.append((register_scratch(s, {probe.a: f"{probe.name}_a", probe.b: f"{probe.name}_b"}), None))
    if how.startswith("SET ROLE"):
        setup.append(batch.plain("probe/as_app_user", app_role=sql.Identifier(s.app_role)))
    setup += [(batch.q("probe/stash_contexts"), (contexts,)),  # the tokens: a bound parameter, nowhere else
              batch.plain("isolation/create_temp_table", table=sql.Identifier(probe.name)),
              batch.plain("probe/seed_rows", table=probe.table, a=sql.Literal(probe.a), b=sql.Literal(probe.b)),
              batch.plain("isolation/enable_rls", table=probe.table),
              batch.plain("isolation/create_policy", table=probe.table, tenancy=tenancy)]
    batch.run(conn, probe.res, [*setup, batch.attempts(conn, probe.res, probe.steps), batch.plain("probe/rollback")],
              what=f"verify {SIGNED.id}")
    if probe.tls:
        ok, fact = probe.res.got.get("tls", (False, ""))
        ctx.record_tls(conn, json.loads(fact.removeprefix("fact:")) if ok else None)


def register_scratch(s: Settings, slugs: dict[str, str]) -> sql.Composed:
    """As the master, in a probe's transaction: these tenants (id -> slug) registered until it rolls back."""
    return _q("register", registry=sql.Identifier(s.tenancy_schema, "tenants"),
              prefix=sql.Literal(s.tenant_schema_prefix), ids=sql.Literal(list(slugs)),
              slugs=sql.Literal(list(slugs.values())))


def judge(probe: Probe) -> tuple[list[str], list[str]]:
    """(found, problems): every attempt that failed on its own line, naming the forgery and the way; the
    parts of the probe that did not run, named together; what held, summed up."""
    got = probe.res.got
    lines, extra = batch.judge(probe.res, probe.expected, TEXTS)
    problems = [line for key, ok, line in lines if not ok and key in got]
    missing = list(dict.fromkeys(probe.part[key] for key, *_ in probe.expected if key not in got))
    if missing:
        problems.append("did not run (the probe stopped before them): " + ", ".join(missing))
    held = {key for key, ok, _ in lines if ok}
    found = [line for key, _, line in lines if key == "a_sees" and key in held]
    forgeries = [key for key, *_ in probe.expected if key.startswith("f")]
    if held.issuperset(forgeries):
        found.append(f"{len(probe.labels)} forged contexts for B, each via set_tenant (refused) and the setting: "
                     "0 rows read, 0 written")
    else:
        found.append(f"{len(held.intersection(forgeries))} of {len(forgeries)} forged attempts held")
    if held.issuperset({"keys.held", "keys.read"}):
        found.append(f"no privilege on {probe.shown_keys}; select refused")
    return found, problems + extra


def context_key(ctx: Context) -> Check:
    """SEC-CONTEXT-KEY: the secret under the secrets CMK; in signed mode the database's keys, fresh."""
    s = ctx.settings
    if s.tenant_context != "signed":
        return _plain_secret(ctx)
    name = s.context_key_secret_name
    meta = ctx.aws.describe_secret(name)
    kms = meta.get("KmsKeyId", "")
    expected = f"secret {name} under {s.kms_alias_secrets}"
    if meta.get("DeletedDate"):  # left from a switch to plain made with a recovery window: unreadable
        return failed(KEY.id, KEY.title, expected,
                      f"secret {name} scheduled for deletion ({meta['DeletedDate']:%Y-%m-%d %H:%M %Z})",
                      f"restore it (aws secretsmanager restore-secret --secret-id {name}), or delete it at once "
                      f"(aws secretsmanager delete-secret --secret-id {name} --force-delete-without-recovery) and "
                      "deploy the stack; then run tenantdb bootstrap (docs/tenant-context.md, switching modes)")
    if not kms or (kms != ctx.secrets_key_arn and ctx.key_arn(kms) != ctx.secrets_key_arn):
        return failed(KEY.id, KEY.title, expected, f"kms {kms}", "the context key secret is not under the secrets CMK")
    expected += ", the database's keys, current key younger than context_key_rotation_days"
    in_secret = keys.read_secret(ctx.aws, s)
    in_db = ctx.db_keys  # read with the catalog
    if in_secret is None:
        return failed(KEY.id, KEY.title, expected, "secret has no value", "run tenantdb bootstrap")
    now = int(time.time())
    kids = sorted(k.kid for k in in_secret.valid(now).keys)
    db_kids = sorted(k.kid for k in in_db.valid(now).keys)
    if in_secret.valid(now) != in_db.valid(now):
        return failed(KEY.id, KEY.title, expected, f"secret keys {kids}, database keys {db_kids}",
                      "the secret and the database disagree: run tenantdb bootstrap "
                      "(it sets the database to the secret)")
    cur = in_secret.current
    age = (now - cur.created_at) / keys.DAY_S
    actual = f"keys {kids}, current {cur.kid} {age:.0f} days old"
    if age > s.context_key_rotation_days + 1:
        return failed(KEY.id, KEY.title, expected, actual, "rotation overdue: run tenantdb bootstrap (scheduled) "
                      "or tenantdb bootstrap --rotate-context-key")
    return passed(KEY.id, KEY.title, expected, actual)


def _plain_database(ctx: Context) -> Check:
    """Plain mode: the signed-context step left no key table (keys left behind would be a finding)."""
    s = ctx.settings
    left = ctx.catalog["context_key_table"]  # read with the catalog (sql/verify/catalog.sql), no round trip
    if left is None:
        raise ToolkitError(f"database {s.db_name} does not exist (AC7); a key table left behind is not ruled out")
    if left:
        return failed(SIGNED.id, SIGNED.title, PLAIN_DB, f"{s.tenancy_schema}.context_keys exists",
                      "signing keys left in plain mode: run tenantdb bootstrap (it drops them), or set "
                      "tenant_context = \"signed\" if that is the mode in force")
    return passed(SIGNED.id, SIGNED.title, PLAIN_DB, f"no {s.tenancy_schema}.context_keys; {PLAIN}")


def _plain_secret(ctx: Context) -> Check:
    """Plain mode: the stacks create no context key secret; one that exists was left behind. One scheduled
    for deletion is on its way out (a switch made while the secret had a recovery window): nothing can
    read it, GetSecretValue is refused, so it passes, saying when it goes and what a switch back needs."""
    name = ctx.settings.context_key_secret_name
    try:
        meta = ctx.aws.secrets.describe_secret(SecretId=name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return passed(KEY.id, KEY.title, PLAIN_SECRET, f"no secret {name}")
        raise
    if meta.get("DeletedDate"):
        return passed(KEY.id, KEY.title, PLAIN_SECRET,
                      f"secret {name} scheduled for deletion ({meta['DeletedDate']:%Y-%m-%d %H:%M %Z}): "
                      "unreadable, then gone",
                      f"to switch to signed before it goes, delete it at once first: aws secretsmanager "
                      f"delete-secret --secret-id {name} --force-delete-without-recovery")
    return failed(KEY.id, KEY.title, PLAIN_SECRET, f"secret {name} exists",
                  "a context key secret in plain mode: deploy the stack for the declared mode (it deletes the "
                  "secret it created), or delete it, or set tenant_context = \"signed\"")
