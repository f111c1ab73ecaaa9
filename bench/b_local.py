"""6. The local pipeline: a cold ``tenantdb local up`` (nothing running, no state)
and a warm one (everything up: converges, changes nothing), stage by stage from
the pipeline's own progress lines, with a private state directory and free
ports (a settings overlay), so nobody else's local environment is touched.
``local down`` at the end.

While it is up, verify's AWS side: the API calls one ``verify`` makes,
counted with a botocore event hook registered here (before-call), against the
emulator-backed instance the cold up deployed.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from bench.measure import Figure, run_process
from tenantdb.infra.terraform import QUIET_NODE_ENV

ROOT = Path(__file__).resolve().parent.parent
_STAGE = re.compile(r"^\s+ok (.+) \(([0-9.]+) s\)")


def _overlay(directory: Path) -> Path:
    from tenantdb.local.postgres import free_port

    path = directory / "local-settings.toml"
    path.write_text(f'[local]\nlocal_state_dir = "{directory / "state"}"\n'
                    f"local_moto_port = {free_port()}\nlocal_postgres_port = {free_port()}\n")
    return path


def _cli(overlay: Path, *args: str):
    env = {**os.environ, **QUIET_NODE_ENV}
    return run_process([sys.executable, "-m", "tenantdb.cli", "--settings", str(overlay), "local", *args],
                       env=env, cwd=str(ROOT), timeout=1200)


def _stages(stderr: str) -> dict[str, float]:
    return {m[1]: float(m[2]) for line in stderr.splitlines() if (m := _STAGE.match(line))}


def aws_calls(overlay: Path) -> tuple[int, dict[str, int], bool]:
    """(API calls, by operation, verify passed) for one in-process verify of the local environment."""
    import botocore.session  # noqa: F401 - the hook is on every client's event system
    from botocore.client import BaseClient

    from tenantdb import settings as settings_mod
    from tenantdb import verify

    s = settings_mod.load("local", overlay)
    ca = Path(s.local_state_dir) / "postgres" / "data" / "server.crt"
    s = s.replaced(ca_bundle=str(ca)) if not s.ca_bundle else s
    calls: dict[str, int] = {}
    real = BaseClient._make_api_call

    def counted(self, operation_name, api_params):
        key = f"{self.meta.service_model.service_name}:{operation_name}"
        calls[key] = calls.get(key, 0) + 1
        return real(self, operation_name, api_params)

    BaseClient._make_api_call = counted  # counts, then calls the real method: nothing is stubbed
    try:
        rep = verify.run(s)
    finally:
        BaseClient._make_api_call = real
    return sum(calls.values()), calls, rep.ok


def run() -> list[Figure]:
    tmp = Path(tempfile.mkdtemp(prefix="tenantdb-bench-local-", dir="/tmp"))
    tmp.chmod(0o755)  # the cluster under it runs as the postgres user
    overlay = _overlay(tmp)
    figures: list[Figure] = []
    try:
        cold = _cli(overlay, "up")
        if cold.returncode != 0:
            raise RuntimeError(f"cold local up exited {cold.returncode}: {cold.stderr.strip()[-400:]}")
        warm = _cli(overlay, "up")
        if warm.returncode != 0:
            raise RuntimeError(f"warm local up exited {warm.returncode}: {warm.stderr.strip()[-400:]}")
        cs, ws = _stages(cold.stderr), _stages(warm.stderr)
        figures.append(Figure("local.up.cold", round(cold.seconds, 1), round(warm.seconds, 1), "s", None, None, runs=1,
                              note="whole command; floor: the warm up (everything already up); stages: "
                                   + ", ".join(f"{k} {v:.1f}" for k, v in cs.items())))
        figures.append(Figure("local.up.warm", round(warm.seconds, 1), None, "s", None, None, runs=1,
                              note="stages: " + ", ".join(f"{k} {v:.1f}" for k, v in ws.items())))
        for stage, secs in cs.items():
            figures.append(Figure(f"local.stage.{stage}", round(secs, 1), ws.get(stage), "s", None, None, runs=1,
                                  note="cold; floor: the same stage in the warm up"))
        total, by_op, ok = aws_calls(overlay)
        figures.append(Figure("verify.aws.api_calls", total, None, "calls", None, None, runs=1,
                              note=("verify passed; " if ok else "verify did NOT pass; ")
                              + ", ".join(f"{k} {v}" for k, v in sorted(by_op.items()))))
    finally:
        _cli(overlay, "down")
        shutil.rmtree(tmp, ignore_errors=True)
    return figures
