"""docs/connecting.md, each form run against the session's local environment: `tenantdb local
env` (no password in its output, psql and psycopg after eval, npx cdktf against the emulator),
SQLAlchemy with the tenant set per transaction, PgBouncer in transaction pooling with
auth_query, through a rotation; and every form keeping search_path pinned after app_user, logged
in itself over TLS, plants a hook on its own role (a control shows an unpinned client caught)."""

from __future__ import annotations

import json
import os
import pty
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tenantdb import settings as settings_mod
from tenantdb.aws import Aws
from tenantdb.database.bootstrap import app_secrets
from tenantdb.database.plumbing.connection import PINNED_OPTIONS
from tenantdb.local.emulator import free_port
from tests import client_forms
from tests import rotation_function as fn
from tests.test_rotation_protocol import aws, net  # noqa: F401 - the module's fixtures

pytestmark = pytest.mark.slow  # the session's local environment (tests/fixtures_local.py)

PGBOUNCER = "/usr/sbin/pgbouncer"


def test_local_env_prints_the_exports_and_no_password(aws: Aws, local_cli, local_settings) -> None:
    s = local_settings
    passwords = [aws.secret_json(n)["password"] for n in (s.connection_secret_name, s.migrator_secret_name)]
    for role, user in (("app", s.app_role), ("migrator", s.migrator_role)):
        run = local_cli("local", "env", "--role", role)
        assert run.returncode == 0, run.stderr
        assert not any(p in run.stdout + run.stderr for p in passwords)
        exported = {line.split("=", 1)[0].removeprefix("export ") for line in run.stdout.splitlines()
                    if line.startswith("export ")}
        assert {"PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGSSLMODE", "PGSSLROOTCERT", "PGPASSWORD", "PGOPTIONS",
                "DATABASE_URL", "TENANTDB_SETTINGS", "TF_CLI_CONFIG_FILE", "CHECKPOINT_DISABLE",
                "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION",
                "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"} <= exported
        assert f"export PGUSER={user}" in run.stdout and "export PGSSLMODE=verify-full" in run.stdout
        for got in (client_forms.psql_with_local_env(local_cli.overlay, role),
                    client_forms.psycopg_with_database_url(local_cli.overlay, role)):
            assert (got.user, got.tls, got.pinned) == (user, True, True), got


def test_local_env_password_refuses_a_terminal(local_cli) -> None:
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run([*client_forms.CLI.split(), "--settings", str(local_cli.overlay), "local", "env",
                               "--password"], stdout=follower, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(follower)
        os.close(leader)
    assert proc.returncode == 2
    assert "refusing to print a password to a terminal" in proc.stderr and len(proc.stderr.splitlines()) == 1


def test_npx_cdktf_diff_works_with_the_local_env(local_cli, local_settings, tmp_path: Path) -> None:
    """The exports are all `npx cdktf diff` needs against the emulator: it finds nothing to change."""
    out = client_forms.local_env_shell(
        local_cli.overlay, "app",
        f"npx cdktf diff {local_settings.stack_id} --skip-provider-lock --output {tmp_path / 'cdktf.out'} 2>&1")
    assert "No changes" in out, out[-3000:]


def _tenants(local_cli) -> dict[str, str]:
    run = local_cli("tenant", "list", "--env", "local", "--format", "json")
    assert run.returncode == 0, run.stderr
    return {t["slug"]: t["tenant_id"] for t in json.loads(run.stdout)}


def test_sqlalchemy_sets_the_tenant_per_transaction(aws: Aws, net: fn.Network, local_cli,
                                                    local_settings) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    s = local_settings
    tenants = _tenants(local_cli)
    secret = aws.secret_json(s.connection_secret_name)
    url = make_url(secret["uri"]).set(drivername="postgresql+psycopg", password=secret["password"])
    engine = create_engine(url, connect_args={"hostaddr": net.host, "port": net.port}, pool_size=1, max_overflow=0)
    try:
        for slug in s.sample_tenants:
            with engine.begin() as conn:
                conn.execute(text("SELECT tenancy.set_tenant(:t)"), {"t": tenants[slug]})
                mine = conn.execute(text(f"SELECT count(*) FROM tenant_{slug}.projects")).scalar_one()  # noqa: S608 - SQLAlchemy text() takes a string; the slugs are settings-validated sample tenants
                other = next(o for o in s.sample_tenants if o != slug)
                theirs = conn.execute(text(f"SELECT count(*) FROM tenant_{other}.projects")).scalar_one()  # noqa: S608 - SQLAlchemy text() takes a string; the slugs are settings-validated sample tenants
            assert (mine, theirs) == (1, 0), slug
        with engine.begin() as conn:  # the same pooled connection, no tenant set: nothing (fail closed)
            assert conn.execute(text("SELECT tenancy.current_tenant_id()")).scalar_one() is None
            assert conn.execute(text(f"SELECT count(*) FROM tenant_{s.sample_tenants[0]}.projects")).scalar_one() == 0  # noqa: S608 - SQLAlchemy text() takes a string; the slugs are settings-validated sample tenants
    finally:
        engine.dispose()


# ----- PgBouncer in transaction pooling, auth_query ------------------------------------------------

GET_AUTH = """
CREATE SCHEMA pgbouncer AUTHORIZATION postgres;
CREATE FUNCTION pgbouncer.get_auth(p_usename text) RETURNS TABLE(usename name, passwd text)
  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$ SELECT rolname, rolpassword FROM pg_authid WHERE rolname = p_usename AND rolcanlogin $$;
REVOKE ALL ON SCHEMA pgbouncer FROM PUBLIC;
REVOKE ALL ON FUNCTION pgbouncer.get_auth(text) FROM PUBLIC;
"""


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _own(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


def _tls_pair(directory: Path) -> tuple[Path, Path]:
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pgbouncer")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .sign(key, hashes.SHA256()))
    crt, pem = directory / "bouncer.crt", directory / "bouncer.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    os.chmod(pem, 0o600)
    return crt, pem


DOCUMENTED = (client_forms.PGBOUNCER_IGNORE, client_forms.PGBOUNCER_RESET, "server_reset_query_always = 1")
"""docs/connecting.md's [pgbouncer] lines that keep search_path pinned (with its connect_query)."""


@dataclass(frozen=True)
class Bouncer:
    port: int
    """The documented PgBouncer's port."""
    start: Callable[..., AbstractContextManager[int]]
    """Another PgBouncer on the same cluster and auth role: ``start(connect_query, lines)`` -> its port."""


@pytest.fixture
def pgbouncer(net: fn.Network, local_settings) -> Iterator[Bouncer]:
    """PgBouncer 1.18 on a free loopback port in front of the local cluster, configured as
    docs/connecting.md prints it: transaction pooling, auth_query through a SECURITY DEFINER
    function (made by the cluster's superuser), TLS both ways, search_path pinned by PgBouncer."""
    if not Path(PGBOUNCER).exists():
        pytest.fail(f"{PGBOUNCER} missing: run scripts/setup (it installs Debian's pgbouncer)")
    from tenantdb.local.pipeline import POSTGRES
    from tenantdb.local.postgres import Cluster
    from tenantdb.local.state import state_dir

    s = local_settings
    cluster = Cluster(state_dir(s.local_state_dir) / POSTGRES, net.port, host=net.host)
    auth_password = secrets.token_urlsafe(24)
    with cluster.superuser_connect(s.db_name) as conn:
        conn.execute(sql.SQL("CREATE ROLE pgbouncer_auth LOGIN PASSWORD {}").format(sql.Literal(auth_password)))
        conn.execute(GET_AUTH)
        conn.execute("GRANT USAGE ON SCHEMA pgbouncer TO pgbouncer_auth; "
                     "GRANT EXECUTE ON FUNCTION pgbouncer.get_auth(text) TO pgbouncer_auth")

    def start(connect_query: str, lines: tuple[str, ...]) -> AbstractContextManager[int]:
        return _running_pgbouncer(net, s, auth_password, connect_query, lines)

    try:
        with start(client_forms.PGBOUNCER_CONNECT_QUERY, DOCUMENTED) as port:
            yield Bouncer(port, start)
    finally:
        with cluster.superuser_connect(s.db_name) as conn:
            conn.execute("DROP SCHEMA pgbouncer CASCADE")
            conn.execute("DROP ROLE pgbouncer_auth")


@contextmanager
def _running_pgbouncer(net: fn.Network, s, auth_password: str, connect_query: str,
                       lines: tuple[str, ...]) -> Iterator[int]:
    base = Path(tempfile.mkdtemp(prefix="tenantdb-pgbouncer-", dir="/tmp"))
    os.chmod(base, 0o700)
    _own(base)
    port = free_port()
    crt, key = _tls_pair(base)
    (base / "userlist.txt").write_text(f'"pgbouncer_auth" "{auth_password}"\n')
    extra = "\n".join(lines)
    (base / "pgbouncer.ini").write_text(f"""[databases]
{s.db_name} = host={net.host} port={net.port} dbname={s.db_name} auth_user=pgbouncer_auth {connect_query}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
pool_mode = transaction
default_pool_size = 1
auth_type = scram-sha-256
auth_user = pgbouncer_auth
auth_query = SELECT usename, passwd FROM pgbouncer.get_auth($1)
auth_file = {base / 'userlist.txt'}
server_tls_sslmode = verify-full
server_tls_ca_file = {net.ca_file}
client_tls_sslmode = require
client_tls_cert_file = {crt}
client_tls_key_file = {key}
{extra}
logfile = {base / 'pgbouncer.log'}
pidfile = {base / 'pgbouncer.pid'}
""")  # noqa: S608 - a pgbouncer.ini, not SQL
    for path in base.iterdir():
        os.chmod(path, 0o600)
        _own(path)
    proc = subprocess.Popen(_as_postgres([PGBOUNCER, str(base / "pgbouncer.ini")]), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not _listening(port):
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "pgbouncer did not listen"
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(base, ignore_errors=True)  # its auth_file held pgbouncer_auth's password


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _through(port: int, s, password: str, **kw) -> psycopg.Connection:
    return psycopg.connect(host="127.0.0.1", port=port, dbname=s.db_name, user=s.app_role, password=password,
                           sslmode="require", prepare_threshold=None, connect_timeout=10, **kw)


def test_pgbouncer_transaction_pooling_through_a_rotation(pgbouncer: Bouncer, aws: Aws, net: fn.Network,
                                                          local_cli, local_settings) -> None:
    s = local_settings
    tenants = _tenants(local_cli)
    slug = s.sample_tenants[0]
    old = aws.secret_json(s.connection_secret_name)["password"]
    a, b = _through(pgbouncer.port, s, old), _through(pgbouncer.port, s, old)
    try:
        assert a.pgconn.ssl_in_use and b.pgconn.ssl_in_use  # client -> PgBouncer over TLS
        for conn in (a, b) * 4:  # one server connection shared: no prepared statement may collide
            with conn.transaction():
                got = client_forms.session(conn.execute(client_forms.WHO).fetchone())
                assert (got.user, got.tls, got.pinned) == (s.app_role, True, True), got  # PgBouncer -> server TLS
        with a.transaction():
            a.execute("SELECT tenancy.set_tenant(%s)", (tenants[slug],))
            assert a.execute(sql.SQL("SELECT count(*) FROM {}.projects").format(
                sql.Identifier(f"tenant_{slug}"))).fetchone() == (1,)
        with b.transaction():  # the next transaction on the same server connection: no tenant
            assert b.execute("SELECT tenancy.current_tenant_id()").fetchone() == (None,)
        a.autocommit = True
        a.execute("SET application_name = 'leaks'")  # a plain SET, its own transaction: session state left behind
        with b.transaction():  # server_reset_query_always: it did not follow the server connection
            assert b.execute("SELECT current_setting('application_name')").fetchone() != ("leaks",)
    finally:
        a.close()
        b.close()

    fn.rotate(aws.secrets, s.connection_secret_name, net)  # AWS's single-user rotation, no reload of PgBouncer
    new = aws.secret_json(s.connection_secret_name)["password"]
    with _through(pgbouncer.port, s, new) as conn:
        assert client_forms.session(conn.execute(client_forms.WHO).fetchone())[:2] == (s.app_role, True)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed|SASL authentication failed"):
        _through(pgbouncer.port, s, old).close()
    # The migrator secret rotates on the same schedule, as the stack configures both: leave the
    # session-shared environment as AWS would have it (one secret rotating alone is a finding).
    fn.rotate(aws.secrets, s.migrator_secret_name, net)
    run = local_cli("verify", "--env", "local", "--format", "json")
    checks = {c["id"]: c for c in json.loads(run.stdout)["checks"]}
    assert checks["AC9"]["status"] == "PASS" and checks["SEC-MIGRATOR"]["status"] == "PASS", checks["AC9"]
    assert run.returncode == 0, [(i, c["detail"]) for i, c in checks.items() if c["status"] in ("FAIL", "ERROR")]


# ----- a search_path hook app_user plants on its own role, and the clients it cannot reach ---------

HOOK = "hook"
"""The schema app_user creates (CREATE on the database, Story 0.4 AC8) for its shadow of lower(text)."""


def _plant(role: str) -> sql.Composed:
    # pg_catalog is searched first unless the path names it: the hook names it after itself, so
    # its lower(text) (same signature as the built-in) wins everywhere the path is in force.
    return sql.SQL("""CREATE SCHEMA {hook};
CREATE FUNCTION {hook}.lower(text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT 'hooked' $$;
ALTER ROLE {role} SET search_path = {hook}, pg_catalog, public""").format(
        hook=sql.Identifier(HOOK), role=sql.Identifier(role))


def _app_login(secret: dict, net: fn.Network) -> psycopg.Connection:
    """app_user's own login over TLS from the secret's keys, without its ``options``: an unpinned client."""
    return psycopg.connect(host=net.host, port=net.port, user=secret["username"], password=secret["password"],
                           dbname=secret["dbname"], sslmode="verify-full", sslrootcert=net.ca_file, autocommit=True)


@contextmanager
def _planted_hook(aws: Aws, net: fn.Network, s, secret: dict) -> Iterator[None]:
    with _app_login(secret, net) as conn:
        conn.execute(_plant(s.app_role))
    try:
        yield
    finally:  # as the master, so the session-shared environment is as the bootstrap left it
        user, password = aws.master_credentials()
        with psycopg.connect(host=net.host, port=net.port, user=user, password=password, dbname=s.db_name,
                             sslmode="verify-full", sslrootcert=net.ca_file, options=PINNED_OPTIONS,
                             autocommit=True) as master:
            master.execute(sql.SQL("ALTER ROLE {} RESET ALL").format(sql.Identifier(s.app_role)))
            master.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(HOOK)))


def _through_pgbouncer(port: int, s, secret: dict, *, with_options: bool = True) -> list[client_forms.Session]:
    """Two app_user clients sharing PgBouncer's one server connection, a transaction at a time; one
    sends the secret's ``options`` (ignore_startup_parameters drops it), then leaves a plain
    ``SET search_path`` to the hook behind on the server connection."""
    hostile = _through(port, s, secret["password"], **({"options": secret["options"]} if with_options else {}))
    other = _through(port, s, secret["password"])
    seen = []
    try:
        for conn in (hostile, other, hostile, other):
            with conn.transaction():
                seen.append(client_forms.session(conn.execute(client_forms.WHO).fetchone()))
        hostile.autocommit = True
        hostile.execute(sql.SQL("SET search_path = {}, pg_catalog, public").format(sql.Identifier(HOOK)))
        with other.transaction():
            seen.append(client_forms.session(other.execute(client_forms.WHO).fetchone()))
    finally:
        hostile.close()
        other.close()
    return seen


def test_every_form_pins_search_path_against_a_hook_app_user_planted(
        pgbouncer: Bouncer, aws: Aws, net: fn.Network, local_cli, local_settings) -> None:
    s = local_settings
    secret = aws.secret_json(s.connection_secret_name)
    assert secret["options"] == app_secrets.OPTIONS == "-c search_path=public,pg_temp"
    assert secret["uri"].endswith("?sslmode=require&options=-c%20search_path%3Dpublic%2Cpg_temp")
    with _planted_hook(aws, net, s, secret):
        with _app_login(secret, net) as conn:  # the control: an unpinned client gets the hook
            got = client_forms.session(conn.execute(client_forms.WHO).fetchone())
        assert (got.search_path, got.lower, got.pinned) == (f"{HOOK}, pg_catalog, public", "hooked", False), got

        for form, got in client_forms.every_form(local_cli.overlay, s, secret, net, "app").items():
            assert (got.user, got.tls, got.pinned) == (s.app_role, True, True), (form, got)
        for got in _through_pgbouncer(pgbouncer.port, s, secret):
            assert (got.user, got.tls, got.pinned) == (s.app_role, True, True), got

        # Why PgBouncer's reset ends with the pin: DISCARD ALL restores the role's default (the
        # hook) after the first transaction; with no reset, the hostile client's SET is inherited.
        discard = ("server_reset_query = DISCARD ALL", "server_reset_query_always = 1", client_forms.PGBOUNCER_IGNORE)
        no_reset = ("server_reset_query_always = 0", client_forms.PGBOUNCER_IGNORE)
        for lines in (discard, no_reset):
            with pgbouncer.start(client_forms.PGBOUNCER_CONNECT_QUERY, lines) as port:
                seen = _through_pgbouncer(port, s, secret)
            assert seen[0].pinned and seen[-1].lower == "hooked", (lines, seen)

        run = local_cli("verify", "--env", "local", "--format", "json")
        role_settings = {c["id"]: c for c in json.loads(run.stdout)["checks"]}["ISO-ROLE-SETTINGS"]
        assert role_settings["status"] == "FAIL", role_settings
        assert f"role {s.app_role}: sets search_path for every new session" in role_settings["detail"]
    with _app_login(secret, net) as conn:  # cleaned up: no hook left for the tests that follow
        assert client_forms.session(conn.execute(client_forms.WHO).fetchone()).lower == "pinned"
        assert conn.execute("SELECT count(*) FROM pg_db_role_setting WHERE setrole = %s::regrole",
                            (s.app_role,)).fetchone() == (0,)


def test_connecting_md_prints_the_pins_the_tests_run() -> None:
    """docs/connecting.md and the forms above hold one value: app_secrets.CLIENT_SEARCH_PATH."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "connecting.md").read_text()
    quoted = app_secrets.uri(settings_mod.load("dev", None), "HOST", "app_user").split("?", 1)[1]
    for text in (app_secrets.OPTIONS, quoted, client_forms.PGBOUNCER_CONNECT_QUERY, client_forms.PGBOUNCER_IGNORE,
                 client_forms.PGBOUNCER_RESET, "server_reset_query_always = 1", app_secrets.CLIENT_SEARCH_PATH):
        assert text in doc, text
    assert "server_reset_query = DISCARD ALL" not in doc
