"""5. RLS overhead: what the generated policies cost the server, against the same
statements with an explicit tenant filter as a role without row security
(BYPASSRLS, made by the cluster's superuser, which plays rdsadmin: only the
benchmark's throwaway cluster has it).

The method is server-side timing, chosen because throughput on a shared
2-core machine moved by more than the 3% to be resolved (0.76x and 0.89x for
the same point reads in two runs): each side has one connection (app_user
under the policy; the baseline role) and the figure is the **CPU time its
backend spends** (``/proc/<pid>/schedstat``, nanoseconds on the CPU, so
waiting for the CPU does not count) for a block of requests. Blocks alternate
policy/baseline in ABBA order, ``pairs`` pairs; each pair gives a ratio, and
the figure is their mean with a 95% confidence interval (Student's t). Goal:
the interval within 3% (upper end <= 1.03) and no wider than +-1% (else the
method cannot tell, and the goal is not met).

A request is what an application sends per unit of work: set the tenant
context, then the statement (both sides send both, prepared, so only the
policy differs). One table, ``tenant_bench.items``, made the toolkit's way (a
tenant schema, the table created as the migrator, ``tenancy.enable_isolation``:
the schema-bound policy), ``rows`` rows of which every ``tenants``-th is the
bench tenant's (the rest are other tenants' ids), so the tenant's rows are
scattered over the table. Workloads: a point read by primary key, a range scan
(every row of the tenant, through the tenant index), an insert.

Signed mode (settings ``tenant_context = "signed"``, sql/045): the same, with a
context key written to ``tenancy.context_keys`` and a token minted per request
(tenantdb.database.tenancy.context_token) per block. Then the policy-form experiment: the same
three workloads under other policy expressions (informational): what earlier releases' binding
and context check cost, and the floors.
"""

from __future__ import annotations

import hashlib
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from bench.measure import Figure, ratio_ci, skipped
from bench.server import BenchServer

BASE_ROLE = "bench_norls"
SCHEMA, TABLE = "tenant_bench", "items"
OTHER_PREFIX = "00000000-0000-4000-8000-"
GOAL, LIMIT, RESOLUTION = "within 3% of baseline", 1.03, 0.01
PROPOSAL_SCHEMA = "bench_proposal"

REGEX_FUNCTION = """CREATE OR REPLACE FUNCTION {schema}.current_tenant_id() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN pg_catalog.current_setting({setting}, true) OPERATOR(pg_catalog.~)
    '^[0-9a-fA-F]{{8}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{12}}$'
  THEN pg_catalog.current_setting({setting}, true)::pg_catalog.uuid END $$"""
"""The plain-mode function of earlier releases: a regular expression turned a malformed context into
NULL instead of an error (the generated one casts, and a malformed context raises 22P02)."""

REGISTRY_BINDING = """CREATE OR REPLACE FUNCTION {schema}.bind_schema(tenant uuid, schema_name name) RETURNS uuid
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ DECLARE bound pg_catalog.uuid; BEGIN
  IF tenant IS NULL THEN RETURN NULL; END IF;
  SELECT t.tenant_id INTO bound FROM {tenancy}.tenants t
   WHERE t.schema_name OPERATOR(pg_catalog.=) bind_schema.schema_name::pg_catalog.text
     AND t.tenant_id OPERATOR(pg_catalog.=) bind_schema.tenant;
  RETURN bound; END $$"""
"""The binding of earlier releases: a registry lookup per statement in a SECURITY DEFINER function
(what the digest binding replaced), kept here to show what it cost."""

FORMS = {
    "registry_lookup": "(tenant_id = (SELECT {proposal}.bind_schema({tenancy}.current_tenant_id(), {schema})))",
    "regex_context": "(tenant_id = (SELECT {tenancy}.bound_tenant({proposal}.current_tenant_id(), {schema}, "
                     "{binding})))",
    "unbound": "(tenant_id = (SELECT {tenancy}.current_tenant_id()))",
    "bare_setting": "(tenant_id = (SELECT pg_catalog.current_setting({setting}, true)::pg_catalog.uuid))",
}
"""Other policy expressions, each measured against the same baseline (the generated one, the digest
binding ``tenancy.bound_tenant`` over the casting ``current_tenant_id()``, is the figure):
``registry_lookup`` and ``regex_context`` are what earlier releases paid, ``unbound`` drops the schema
binding (the floor of any binding), ``bare_setting`` is the least any policy on the setting can cost."""


@dataclass(frozen=True)
class Workload:
    name: str
    policy: sql.Composable
    baseline: sql.Composable
    params: Callable[[random.Random], tuple]
    """The baseline's parameters; the policy side sends the first ``arity`` of them."""
    arity: int

    def on_policy(self, params: list[tuple]) -> list[tuple]:
        return [p[:self.arity] for p in params]


def workloads(tenant: str, tenants: int, rows: int) -> dict[str, Workload]:
    t = sql.Identifier(SCHEMA, TABLE)
    per = rows // tenants

    def point(r: random.Random) -> tuple:
        return (r.randrange(per) * tenants + 1, tenant)  # every tenants-th row (1, 1 + tenants, ...) is the tenant's

    read = sql.SQL("SELECT payload FROM {} WHERE id = %s").format(t)
    scan = sql.SQL("SELECT count(*), sum(length(payload)) FROM {}").format(t)
    insert = sql.SQL("INSERT INTO {} (tenant_id, payload) VALUES (%s, 'bench row')").format(t)
    return {
        "point_read": Workload("point_read", read, read + sql.SQL(" AND tenant_id = %s"), point, 1),
        "range_scan": Workload("range_scan", scan, scan + sql.SQL(" WHERE tenant_id = %s"), lambda r: (tenant,), 0),
        "insert": Workload("insert", insert, insert, lambda r: (tenant,), 1),
    }


# ----- the database ------------------------------------------------------------------

def setup(server: BenchServer, s, tenants: int, rows: int) -> tuple[str, dict[str, str], object]:
    """Bootstrap ``s``, the tenant, the table and the roles; (tenant id, {role: password}, signing key or None)."""
    from tenantdb.database.bootstrap import steps as bootstrap
    from tenantdb.database.tenancy import tenants as tenants_mod

    server.reset()
    bootstrap.run(s, master_dsn=server.master_dsn())
    tenant = str(tenants_mod.create(s, "bench", master_dsn=server.master_dsn()))
    key = server.install_context_key(s) if s.tenant_context == "signed" else None
    table = sql.Identifier(SCHEMA, TABLE)
    with server.superuser(s.db_name) as su:
        su.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(s.migrator_role)))
        su.execute(sql.SQL("CREATE TABLE {} (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
                           "tenant_id uuid NOT NULL, payload text NOT NULL)").format(table))
        su.execute(sql.SQL("INSERT INTO {} (id, tenant_id, payload) SELECT i, CASE WHEN (i - 1) %% %s = 0 "
                           "THEN %s::uuid ELSE (%s || lpad((((i - 1) %% %s) + 1)::text, 12, '0'))::uuid END, "
                           "md5(i::text) FROM generate_series(1, %s) i").format(table),
                   (tenants, tenant, OTHER_PREFIX, tenants, rows))
        su.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", (f"{SCHEMA}.{TABLE}", rows))
        su.execute(sql.SQL("SELECT {}.enable_isolation({})").format(
            sql.Identifier(s.tenancy_schema), sql.Literal(f"{SCHEMA}.{TABLE}")))
        su.execute("RESET ROLE")
        su.execute(sql.SQL("VACUUM ANALYZE {}").format(table))
        su.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(BASE_ROLE)))
        su.execute(sql.SQL("CREATE ROLE {} LOGIN BYPASSRLS").format(sql.Identifier(BASE_ROLE)))
        su.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(s.db_name),
                                                                         sql.Identifier(BASE_ROLE)))
        su.execute(sql.SQL("GRANT USAGE ON SCHEMA {1} TO {0}; GRANT SELECT, INSERT ON {1}.{2} TO {0}; "
                           "GRANT USAGE ON ALL SEQUENCES IN SCHEMA {1} TO {0}").format(
            sql.Identifier(BASE_ROLE), sql.Identifier(SCHEMA), sql.Identifier(TABLE)))
    return tenant, {s.app_role: server.set_password(s.app_role), BASE_ROLE: server.set_password(BASE_ROLE)}, key


def tenant_index(server: BenchServer, s) -> str:
    """The name of the index whose first column is tenant_id (what enable_isolation ensures)."""
    with server.superuser(s.db_name) as su:
        row = su.execute("SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                         "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
                         "WHERE i.indrelid = %s::regclass AND a.attname = 'tenant_id'",
                         (f"{SCHEMA}.{TABLE}",)).fetchone()
    return row[0] if row else ""


# ----- one side: a connection and its backend's CPU time ---------------------------------

class Side:
    def __init__(self, server: BenchServer, s, role: str, password: str, context: Callable[[], str]) -> None:
        c = server.cluster
        self.conn = psycopg.connect(c.tcp_conninfo(role, password, s.db_name), autocommit=True,
                                    application_name=f"bench-rls-{role}")
        self.pid = self.conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        self.setting, self.context = s.tenant_setting, context

    def cpu_ns(self) -> int:
        with open(f"/proc/{self.pid}/schedstat") as fh:
            return int(fh.read().split()[0])

    def block(self, statement: str, params: list[tuple]) -> float:
        """Backend CPU seconds for one request (context, then the statement) per entry of ``params``."""
        ctx = self.context()
        before = self.cpu_ns()
        with self.conn.pipeline():  # sent back to back: the backend works without waiting on this client
            for p in params:
                self.conn.execute("SELECT pg_catalog.set_config(%s, %s, false)", (self.setting, ctx), prepare=True)
                self.conn.execute(statement, p, prepare=True)
        return (self.cpu_ns() - before) / 1e9

    def close(self) -> None:
        self.conn.close()


@dataclass
class Comparison:
    mean: float
    low: float
    high: float
    pairs: int
    policy_us: float
    baseline_us: float
    rows_seen: str


def compare(policy: Side, base: Side, w: Workload, pairs: int, block_s: float) -> Comparison:
    rng = random.Random(7)
    n = _calibrate(policy, w, block_s, rng)
    warm = [w.params(rng) for _ in range(n)]
    policy.block(w.policy, w.on_policy(warm))  # plans made, caches filled: not measured
    base.block(w.baseline, warm)
    ratios: list[tuple[float, float]] = []
    for i in range(pairs):
        params = [w.params(rng) for _ in range(n)]
        if i % 2 == 0:  # ABBA: neither side always goes first
            a, b = policy.block(w.policy, w.on_policy(params)), base.block(w.baseline, params)
        else:
            b, a = base.block(w.baseline, params), policy.block(w.policy, w.on_policy(params))
        ratios.append((a, b))
    mean, low, high = ratio_ci(ratios)
    seen = _rows_seen(policy, base, w, rng)
    return Comparison(mean, low, high, pairs, statistics.median(a for a, _ in ratios) / n * 1e6,
                      statistics.median(b for _, b in ratios) / n * 1e6, seen)


def _calibrate(side: Side, w: Workload, block_s: float, rng: random.Random) -> int:
    """Requests per block so that a block of one side takes about ``block_s`` / 2 of wall time."""
    side.block(w.policy, w.on_policy([w.params(rng) for _ in range(20)]))
    t0 = time.perf_counter()
    side.block(w.policy, w.on_policy([w.params(rng) for _ in range(100)]))
    per = (time.perf_counter() - t0) / 100
    return max(50, int(block_s / 2 / max(per, 1e-6)))


def _rows_seen(policy: Side, base: Side, w: Workload, rng: random.Random) -> str:
    """Both sides must see the same rows (else the comparison is of different work)."""
    if w.name == "insert":
        return "inserts"
    p = w.params(rng)
    got = []
    for side, stmt, args in ((policy, w.policy, p[:w.arity]), (base, w.baseline, p)):
        side.conn.execute("SELECT pg_catalog.set_config(%s, %s, false)", (side.setting, side.context()))
        got.append(side.conn.execute(stmt, args).fetchall())
    if got[0] != got[1] or not got[0] or got[0] == [(0, None)]:
        raise RuntimeError(f"the policy side saw {got[0][:2]} and the baseline {got[1][:2]}: not the same rows")
    return f"{got[0][0][0] if w.name == 'range_scan' else 1} row(s)"


# ----- plans ----------------------------------------------------------------------------

def explain(side: Side, w: dict[str, Workload]) -> dict[str, str]:
    out = {}
    side.conn.execute("SELECT pg_catalog.set_config(%s, %s, false)", (side.setting, side.context()))
    for name in ("point_read", "range_scan"):
        stmt = sql.SQL("EXPLAIN (FORMAT JSON) {}").format(w[name].policy)
        plan = side.conn.execute(stmt, w[name].params(random.Random(1))[:w[name].arity]).fetchone()[0]
        out[name] = ", ".join(_scans(plan[0]["Plan"]))
    return out


def _scans(node: dict) -> list[str]:
    found = []
    if "Scan" in node["Node Type"]:
        idx = node.get("Index Name")
        found.append(f"{node['Node Type']}" + (f" using {idx}" if idx else ""))
    for child in node.get("Plans", []):
        found += _scans(child)
    return found


# ----- the benchmark ------------------------------------------------------------------------

def run(server: BenchServer, tenants: int, rows: int, block_s: float, pairs: int) -> list[Figure]:
    figures = _mode(server, server.settings, "rls", tenants, rows, block_s, pairs, forms=True)
    signed = server.settings.replaced(tenant_context="signed")
    try:
        figures += _mode(server, signed, "rls.signed", tenants, rows, block_s, pairs, forms=False)
    except Exception as exc:  # noqa: BLE001 - signed mode failing must not hide the plain figures; not met
        why = f"signed mode: {type(exc).__name__}: {str(exc)[:200]}"
        figures += [skipped(f"rls.signed.{name}", "x baseline CPU", GOAL, why)
                    for name in ("point_read", "range_scan", "insert")]
    finally:
        server.reset()
    return figures


def _mode(server: BenchServer, s, prefix: str, tenants: int, rows: int, block_s: float, pairs: int,
          forms: bool) -> list[Figure]:
    from tenantdb.database.tenancy import context_token

    tenant, pw, key = setup(server, s, tenants, rows)
    context = (lambda: context_token.mint(key, tenant, 300)) if key else (lambda: tenant)
    policy = Side(server, s, s.app_role, pw[s.app_role], context)
    base = Side(server, s, BASE_ROLE, pw[BASE_ROLE], context)  # the same setting sent; nothing reads it
    work = workloads(tenant, tenants, rows)
    figures: list[Figure] = []
    try:
        plans = explain(policy, work)
        for name, w in work.items():
            figures.append(_figure(f"{prefix}.{name}", compare(policy, base, w, pairs, block_s), s, plans.get(name)))
            _forget_inserts(server, s, rows)
        if prefix == "rls":
            figures.append(_explain_figure(plans, tenant_index(server, s)))
        if forms:
            figures += _forms(server, s, policy, base, work, pairs, block_s, tenant, rows)
    finally:
        policy.close()
        base.close()
    return figures


def _figure(name: str, c: Comparison, s, plan: str | None, goal: str | None = GOAL) -> Figure:
    half = (c.high - c.low) / 2
    resolved = half <= RESOLUTION
    met = (c.high <= LIMIT and resolved) if goal else None
    verdict = "" if resolved else f"; the interval is wider than +-{RESOLUTION:.2f}: the method cannot tell here"
    return Figure(name, round(c.mean, 4), None, "x baseline CPU", goal, met,
                  spread=f"95% CI {c.low:.4f}-{c.high:.4f} (+-{half:.4f}), {c.pairs} ABBA pairs", runs=c.pairs,
                  note=f"backend CPU per request, {s.tenant_context} context: policy {c.policy_us:.1f} us, baseline "
                       f"{c.baseline_us:.1f} us (context + statement; both saw {c.rows_seen})"
                       + (f"; plan under the policy: {plan}" if plan else "") + verdict)


def _explain_figure(plans: dict[str, str], index: str) -> Figure:
    # "Index Scan using", "Bitmap Index Scan using", "Index Only Scan using": all contain this
    used = bool(index) and (f"Index Scan using {index}" in plans["range_scan"]
                            or f"Index Only Scan using {index}" in plans["range_scan"])
    return Figure("rls.explain.tenant_index", 1.0 if used else 0.0, None, "bool",
                  "the tenant index is used under the policy", used,
                  note=f"the range scan under the policy must use the tenant index ({index or 'none found'}); "
                       + "; ".join(f"{k}: {v}" for k, v in plans.items()))


def _forget_inserts(server: BenchServer, s, rows: int) -> None:
    """Back to the table as set up: the insert workload's rows would make later range scans longer."""
    with server.superuser(s.db_name) as su:  # autocommit: VACUUM runs outside a transaction
        su.execute(sql.SQL("DELETE FROM {} WHERE id > %s").format(sql.Identifier(SCHEMA, TABLE)), (rows,))
        su.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(SCHEMA, TABLE)))


def _forms(server: BenchServer, s, policy: Side, base: Side, work: dict[str, Workload], pairs: int,
           block_s: float, tenant: str, rows: int) -> list[Figure]:
    """The policy-form experiment: each expression, each workload, against the same baseline."""
    out: list[Figure] = []
    with server.superuser(s.db_name) as su:
        su.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {0}; GRANT USAGE ON SCHEMA {0} TO {1}, {2}").format(
            sql.Identifier(PROPOSAL_SCHEMA), sql.Identifier(s.app_role), sql.Identifier(s.migrator_role)))
        su.execute(sql.SQL(REGEX_FUNCTION).format(schema=sql.Identifier(PROPOSAL_SCHEMA),
                                                     setting=sql.Literal(s.tenant_setting)))
        su.execute(sql.SQL(REGISTRY_BINDING).format(schema=sql.Identifier(PROPOSAL_SCHEMA),
                                                    tenancy=sql.Identifier(s.tenancy_schema)))
        su.execute(sql.SQL("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {} TO {}").format(
            sql.Identifier(PROPOSAL_SCHEMA), sql.Identifier(s.app_role)))
    try:
        for form, expr in FORMS.items():
            _set_policy(server, s, expr, tenant)
            for name, w in work.items():
                c = compare(policy, base, w, max(4, pairs // 2), block_s)  # informational: half the pairs
                out.append(_figure(f"rls.form.{form}.{name}", c, s, None, goal=None))
                _forget_inserts(server, s, rows)
    finally:
        with server.superuser(s.db_name) as su:  # back to what the toolkit generates
            su.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(s.migrator_role)))
            su.execute(sql.SQL("SELECT {}.enable_isolation({})").format(
                sql.Identifier(s.tenancy_schema), sql.Literal(f"{SCHEMA}.{TABLE}")))
    return out


def _set_policy(server: BenchServer, s, form: str, tenant: str) -> None:
    binding = hashlib.sha256(f"{SCHEMA}:{tenant}".encode()).digest()
    expr = sql.SQL(form).format(tenancy=sql.Identifier(s.tenancy_schema), proposal=sql.Identifier(PROPOSAL_SCHEMA),
                                schema=sql.Literal(SCHEMA), setting=sql.Literal(s.tenant_setting),
                                binding=sql.SQL("{}::pg_catalog.bytea").format(sql.Literal(binding)))
    with server.superuser(s.db_name) as su:
        su.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(s.migrator_role)))
        su.execute(sql.SQL("ALTER POLICY tenant_isolation ON {} USING {} WITH CHECK {}").format(
            sql.Identifier(SCHEMA, TABLE), expr, expr))
