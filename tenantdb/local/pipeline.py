"""`tenantdb local up|down|status`: the whole pipeline on one machine, offline.

``up`` (each stage timed on stderr, the verifier's report on stdout):

1. start the emulator (moto + fidelity layer) and a PostgreSQL cluster in the
   state directory, on the settings' loopback ports (or reuse the ones a
   previous ``up`` started);
2. synthesize, then ``terraform apply`` the network stand-in and the local
   database stack against the emulator (state kept in the state directory);
3. bring the emulated instance to life as the cluster: the parameter group's
   values read back from the emulator are applied to the cluster (the
   ``{DBInstanceClassMemory/32768}`` formula evaluated with the nominal memory
   of the instance class the emulator reports: db.t3.medium's 4 GiB gives
   shared_buffers = 1 GiB, reserved but only touched as it is used), the
   master role is created from the emulator's master secret with RDS's master
   powers (CREATEDB CREATEROLE, not SUPERUSER), the database ``db_name`` is
   created, TLS is on and checked with the cluster's certificate
   (verify-full); ``settings.db_endpoint`` maps the instance endpoint to the
   cluster;
4. ``bootstrap``, the sample tenants (settings.sample_tenants, each with one
   isolated table), and ``verify`` for ``local``; exit 0 only when every check passes.

A second ``up`` converges: Terraform applies nothing, the bootstrap changes
nothing, verify passes again. Two ``up`` at once serialize on a lock beside
the state directory. ``down`` stops exactly the processes ``up`` started
(by pid and start time) and removes the state directory.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from tenantdb.infra import apply
from tenantdb.errors import ToolkitError
from tenantdb.local import emulator, state
from tenantdb.local.progress import Progress
from tenantdb.settings import Settings

POSTGRES = "postgres"


# ----- up -----------------------------------------------------------------------

def up(settings: Settings, fmt: str = "table", overlay: str | os.PathLike[str] | None = None,
       progress: Progress | None = None) -> int:
    """Start, deploy, bring to life, bootstrap and verify the local environment. Returns the exit code."""
    _require_local(settings)
    directory = state.state_dir(settings.local_state_dir)
    progress = progress or Progress()
    _preflight(directory)
    with state.locked(directory):
        refuse_moved(settings, directory)
        with progress.stage("emulator (moto + fidelity layer)"):
            _ensure_emulator(settings, directory, progress)
        with progress.stage("PostgreSQL cluster"):
            cluster = _ensure_cluster(settings, directory, progress)
        with progress.stage("synth (cdktf)"):
            from tenantdb.infra import synth

            synth.synth(overlay=overlay, outdir=directory / "cdktf.out")
        apply.deploy(settings, directory / "cdktf.out", stage=progress.stage, note=progress.note)
        with progress.stage("instance -> local cluster"):
            live = bring_to_life(settings, cluster)
            _record_cluster(directory, cluster)
            progress.note(live)
        s = settings if settings.ca_bundle else settings.replaced(ca_bundle=str(cluster.ca_file))
        with progress.stage("bootstrap"):
            from tenantdb.database.bootstrap import steps as bootstrap

            result = bootstrap.run(s)
            progress.note(f"{result.changed} of {len(result.steps)} steps changed")
        with progress.stage("sample tenants"):  # isolation shown on real tenants
            from tenantdb.local import samples

            progress.note(samples.ensure_samples(s))
        with progress.stage("verify"):
            from tenantdb import verify

            rep = verify.run(s)
            summary = rep.summary
            progress.note(", ".join(f"{n} {k.upper()}" for k, n in summary.items() if n))
    from tenantdb import report

    sys.stderr.write(f"local up: {progress.summary()}\n")
    sys.stdout.write(report.render([rep], fmt).rstrip("\n") + "\n")
    sys.stdout.flush()
    return rep.exit_code


def _require_local(settings: Settings) -> None:
    if settings.environment != "local" or not settings.aws_endpoint_url:
        raise ToolkitError(f"local up/down/status work on the local environment only, not {settings.environment}")


def _preflight(directory: Path) -> None:
    """Refuse, before starting anything, a state directory the postgres user cannot reach.

    As root the cluster runs as ``postgres`` (initdb refuses root), so every
    parent of the state directory must be searchable by others.
    """
    if os.geteuid() != 0:
        return
    for parent in reversed(directory.parents):
        if parent.exists() and not os.stat(parent).st_mode & 0o001:
            raise ToolkitError(f"local_state_dir {directory}: {parent} is not searchable by the postgres user "
                               "(the cluster runs as postgres); chmod o+x it or choose another local_state_dir")


def moved(settings: Settings, directory: Path) -> list[str]:
    """What runs on another port than the settings name: one phrase each (none when all agree).

    A port changed in the settings while the environment runs would otherwise be reported as
    running (status, env) while the process listens on the old one, and `local up` would
    fail late with a socket error after recording the new port.
    """
    wanted = {emulator.NAME: ("local_moto_port", _port_of(settings.aws_endpoint_url)),
              POSTGRES: ("local_postgres_port", _db_address(settings)[1])}
    out = []
    for name, (field, port) in wanted.items():
        rec = state.read(directory, name)
        if rec is not None and rec.running and rec.port != port:
            out.append(f"the local {name} runs on port {rec.port}, the settings say {port} ({field})")
    return out


def refuse_moved(settings: Settings, directory: Path) -> None:
    """Refuse, before anything changes, settings whose ports differ from the running environment's."""
    found = moved(settings, directory)
    if found:
        raise ToolkitError(f"{'; '.join(found)}: run `tenantdb local down` with the settings it was "
                           "started with, or set the port back")


def _ensure_emulator(settings: Settings, directory: Path, progress: Progress) -> emulator.Emulator:
    running = emulator.running(directory)
    if running is not None:
        if running.url != settings.aws_endpoint_url:
            raise ToolkitError(f"the local emulator runs at {running.url}, the settings say "
                               f"{settings.aws_endpoint_url}; run `tenantdb local down` first")
        progress.note(f"running, pid {running.proc.pid}, {running.url}")
        return running
    emulator.stop(directory)  # a stale record (process gone): forget it
    # The emulator starts empty: a Terraform state from an earlier emulator describes a world
    # that no longer exists, and the next apply must create everything again.
    shutil.rmtree(directory / "terraform", ignore_errors=True)
    port = _port_of(settings.aws_endpoint_url)
    started = emulator.start(directory, port)
    progress.note(f"started, pid {started.proc.pid}, {started.url}")
    return started


def _port_of(url: str) -> int:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost") or parts.port is None:
        raise ToolkitError(f"aws_endpoint_url {url}: local up starts the emulator on 127.0.0.1 only; "
                           "set local_moto_port instead")
    return parts.port


def _ensure_cluster(settings: Settings, directory: Path, progress: Progress) -> Any:
    from tenantdb.local.postgres import Cluster, ClusterError

    host, port = _db_address(settings)
    cluster = Cluster(directory / POSTGRES, port, host=host)
    try:
        running = cluster.pid() if cluster.initialized else None
        if running is not None:
            # Our data directory's postmaster: ours, whatever pid a restart gave it.
            _record_cluster(directory, cluster)
            progress.note(f"running, pid {running}, {host}:{port}")
            return cluster
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o755)  # the postgres user must reach the cluster's directory
        _refuse_foreign_listener(host, port)
        cluster.init()
        cluster.start()
    except ClusterError as exc:
        raise ToolkitError(f"local PostgreSQL: {exc}") from None
    pid = _record_cluster(directory, cluster)
    progress.note(f"started, pid {pid}, {host}:{port}")
    return cluster


def _record_cluster(directory: Path, cluster: Any) -> int:
    """Record the postmaster's pid (again after a restart, which gives it a new one)."""
    pid = cluster.pid()
    if pid is None:
        raise ToolkitError(f"local PostgreSQL does not run; see {cluster.log_file}")
    state.record(directory, POSTGRES, pid, cluster.port, data_dir=str(cluster.data_dir))
    return pid


def _refuse_foreign_listener(host: str, port: int) -> None:
    import socket

    with socket.socket() as s:
        s.settimeout(0.5)
        if s.connect_ex((host, port)) == 0:
            raise ToolkitError(f"{host}:{port} is taken by another server; stop it or set "
                               "local_postgres_port in the settings")


def _db_address(settings: Settings) -> tuple[str, int]:
    from tenantdb.database.plumbing.master import parse_endpoint

    if not settings.db_endpoint:
        raise ToolkitError("local: db_endpoint is not set; it maps the instance to the local cluster")
    return parse_endpoint(settings.db_endpoint, "settings db_endpoint")


def bring_to_life(settings: Settings, cluster: Any) -> str:
    """Make the cluster what the emulated instance says it is. Returns a one-line summary."""
    from tenantdb.aws import Aws
    from tenantdb.local.postgres import ClusterError

    aws = Aws(settings)
    inst = aws.instance()
    params = parameter_values(aws, inst)
    memory = instance_memory_bytes(settings, inst)
    user, password = aws.master_credentials(inst)
    if user != inst.get("MasterUsername"):
        raise ToolkitError(f"master secret of {settings.instance_identifier} names user {user!r}, the instance "
                           f"{inst.get('MasterUsername')!r}; the emulator's fidelity layer is not running")
    try:
        outcome = cluster.apply_parameters(params, memory)
        cluster.ensure_master_role(user, password)
        created = cluster.create_database(inst["DBName"], owner=user)
        lacking = cluster.offer_extensions(settings.extensions, inst["DBName"], owner=user)  # RDS's allow-list
    except ClusterError as exc:
        raise ToolkitError(f"local PostgreSQL: {exc}") from None
    restarted = f", restarted for {', '.join(outcome['restarted'])}" if outcome["restarted"] else ""
    lacks = "".join(f"; no extension {name}: {why}" for name, why in lacking.items())
    return (f"{len(outcome['applied'])} parameters{restarted}; master {user}; "
            f"database {inst['DBName']} {'created' if created else 'present'}{lacks}")


def parameter_values(aws: Any, inst: dict[str, Any]) -> dict[str, str]:
    """The values of the instance's parameter group, read back from the emulator (RDS units)."""
    groups = inst.get("DBParameterGroups") or []
    if not groups:
        raise ToolkitError(f"instance {inst.get('DBInstanceIdentifier')} has no parameter group")
    name = groups[0]["DBParameterGroupName"]
    pages = aws.rds.get_paginator("describe_db_parameters").paginate(DBParameterGroupName=name, Source="user")
    values = {p["ParameterName"]: p["ParameterValue"] for page in pages for p in page["Parameters"]
              if "ParameterValue" in p}
    if not values:
        raise ToolkitError(f"parameter group {name} has no user parameters in the emulator")
    return values


def instance_memory_bytes(settings: Settings, inst: dict[str, Any]) -> int:
    """RDS's DBInstanceClassMemory: the settings' class memory, once the emulator confirms it runs that class."""
    cls = inst.get("DBInstanceClass", "")
    if cls != settings.instance_class:
        raise ToolkitError(f"instance class {cls!r} in the emulator, {settings.instance_class!r} in settings "
                           "instance_class: apply the stack again; cannot evaluate {DBInstanceClassMemory}")
    return settings.instance_memory_bytes


# ----- down ---------------------------------------------------------------------

def down(settings: Settings) -> int:
    """Stop what `local up` started (by pid) and remove the state directory."""
    _require_local(settings)
    directory = state.state_dir(settings.local_state_dir)
    with state.locked(directory):
        if not directory.exists():
            print(f"local: nothing runs (no state directory {directory})")
            return 0
        lines = [_stop_postgres(directory), _stop_emulator(directory)]
        shutil.rmtree(directory)
    lines.append(f"removed {directory}")
    print("\n".join(line for line in lines if line))
    return 0


def _stop_postgres(directory: Path) -> str:
    recorded = state.read(directory, POSTGRES)
    if recorded is None:
        return ""
    if not recorded.running:
        return f"postgres: pid {recorded.pid} no longer runs"
    from tenantdb.local.postgres import Cluster, ClusterError

    cluster = Cluster(directory / POSTGRES, recorded.port)
    if cluster.pid() == recorded.pid:
        try:
            cluster.stop("fast")
        except ClusterError:
            pass
    state.terminate(recorded)  # no-op when pg_ctl already stopped it
    return f"postgres: stopped pid {recorded.pid}"


def _stop_emulator(directory: Path) -> str:
    recorded = state.read(directory, emulator.NAME)
    if recorded is None:
        return ""
    if not recorded.running:
        return f"emulator: pid {recorded.pid} no longer runs"
    emulator.stop(directory)
    return f"emulator: stopped pid {recorded.pid}"


# ----- status -------------------------------------------------------------------

def status(settings: Settings, fmt: str = "table") -> int:
    """What runs, where. Exit 0 (a report, not a check)."""
    _require_local(settings)
    info = describe(settings)
    if fmt == "json":
        print(json.dumps(info, indent=2))
        return 0
    print(f"local environment: {info['state_dir']} ({'present' if info['present'] else 'absent'})")
    for line in info["moved"]:
        print(f"  moved: {line}; run `tenantdb local down` before changing a port")
    for name, proc in info["processes"].items():
        where = proc.get("address", "")
        print(f"  {name:<9} {'running' if proc['running'] else 'stopped':<8} "
              f"{'pid ' + str(proc['pid']) if proc.get('pid') else '':<10} {where}")
    if info.get("instance"):
        print(f"  instance  {info['instance']} -> {settings.db_endpoint} (local cluster)")
    return 0


def describe(settings: Settings) -> dict[str, Any]:
    directory = state.state_dir(settings.local_state_dir)
    processes: dict[str, dict[str, Any]] = {}
    for name, address in ((emulator.NAME, settings.aws_endpoint_url), (POSTGRES, settings.db_endpoint)):
        rec = state.read(directory, name)
        processes[name] = {"running": bool(rec and rec.running), "pid": rec.pid if rec else None,
                           "address": address, "port": rec.port if rec else None}
    info: dict[str, Any] = {"environment": settings.environment, "state_dir": str(directory),
                            "present": directory.exists(), "processes": processes,
                            "moved": moved(settings, directory)}
    if processes[emulator.NAME]["running"]:
        try:
            from tenantdb.aws import Aws

            ep = Aws(settings).instance().get("Endpoint") or {}
            info["instance"] = f"{ep.get('Address')}:{ep.get('Port')}"
        except ToolkitError:
            info["instance"] = None
    return info
