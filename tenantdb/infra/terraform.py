"""The project's Terraform CLI config and Terraform runs.

Terraform must install hashicorp/aws from the on-disk filesystem mirror
(the registry cannot be reached from this kind of build machine). The project writes its own CLI
config under ``.tenantdb/`` and points ``TF_CLI_CONFIG_FILE`` at it in its own
processes only; the user's home directory is never written.

There is no plugin cache. From an unpacked mirror, `terraform init` links each
working directory's provider straight to the mirror, which nothing writes. A
shared cache is different: an init with no lock file reinstalls the cache
entry, and that briefly removes the provider from under every other working
directory linked to it. A concurrent apply then fails with "Required plugins
are not installed".

``python -m tenantdb.infra.terraform`` writes the config and prints its path
(scripts/setup calls it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tenantdb.errors import ToolkitError
from tenantdb.paths import STATE_DIR

CLI_CONFIG = STATE_DIR / "terraform.rc"
DEFAULT_MIRROR = "/opt/tf-plugins"

QUIET_NODE_ENV: Mapping[str, str] = {
    "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
    # The end-of-life banner takes the node major versions to silence, not "1".
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "16,18,20",
}
"""Environment that silences jsii's Node version banners: noise in every cdktf run."""


def cli_config_text(mirror: str = DEFAULT_MIRROR) -> str:
    """HCL for a provider_installation block: aws from the mirror, anything else direct."""
    return (
        "# Written by tenantdb (tenantdb/terraform.py). Do not edit: it is rewritten.\n"
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f'    path    = "{mirror}"\n'
        '    include = ["registry.terraform.io/hashicorp/aws"]\n'
        "  }\n"
        "  direct {\n"
        '    exclude = ["registry.terraform.io/hashicorp/aws"]\n'
        "  }\n"
        "}\n"
    )


BUILT_MIRROR = STATE_DIR / "tf-plugins"
"""The mirror scripts/setup builds from the registry where the settings' mirror does not exist."""


def ensure_cli_config(mirror: str = DEFAULT_MIRROR) -> Path:
    """Write the CLI config when missing or different; return its path."""
    if not (Path(mirror) / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
        if not (BUILT_MIRROR / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
            raise ToolkitError(f"provider mirror {mirror}: no registry.terraform.io/hashicorp/aws below it; "
                               "set provider_mirror in the settings to the mirror root, or run scripts/setup "
                               "where the Terraform registry can be reached (it builds one)")
        mirror = str(BUILT_MIRROR)
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    text = cli_config_text(mirror)
    if not CLI_CONFIG.exists() or CLI_CONFIG.read_text() != text:
        CLI_CONFIG.write_text(text)
    return CLI_CONFIG


def terraform_env(mirror: str = DEFAULT_MIRROR, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a terraform child: our CLI config, no prompts, no checkpoint calls."""
    env = dict(os.environ)
    env.update({
        "TF_CLI_CONFIG_FILE": str(ensure_cli_config(mirror)),
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "CHECKPOINT_DISABLE": "1",
        # No cache: a plugin_cache_dir from the caller's environment would bring the race back.
        "TF_PLUGIN_CACHE_DIR": "",
    })
    if extra:
        env.update(extra)
    return env


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def first_error(self) -> str:
        """The first meaningful line of Terraform's error output, for a one-line message."""
        for line in (self.stderr + "\n" + self.stdout).splitlines():
            line = line.strip(" │╷╵\t")
            if line.startswith("Error:"):
                return line
        lines = [ln.strip(" │╷╵\t") for ln in self.stderr.splitlines() if ln.strip(" │╷╵\t")]
        return lines[0] if lines else f"exit code {self.returncode}"


def run(args: Sequence[str], cwd: Path, mirror: str = DEFAULT_MIRROR,
        env: Mapping[str, str] | None = None, timeout: float | None = 1800) -> Result:
    """Run ``terraform ARGS`` in ``cwd`` with the project's CLI config; never raises on exit code."""
    try:
        proc = subprocess.run(["terraform", *args], cwd=cwd, env=terraform_env(mirror, env),
                              capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise ToolkitError("terraform is not on PATH; install Terraform 1.11 or later") from None
    except subprocess.TimeoutExpired:
        raise ToolkitError(f"terraform {' '.join(args[:1])} in {cwd} timed out after {timeout:.0f} s") from None
    return Result(proc.returncode, proc.stdout, proc.stderr)


def init(cwd: Path, mirror: str = DEFAULT_MIRROR, backend: bool = True,
         backend_config: Sequence[str] = (), env: Mapping[str, str] | None = None) -> Result:
    """`terraform init`; concurrent runs are safe, since each writes only its own working directory."""
    args = ["init", "-no-color", "-input=false"]
    if not backend:
        args.append("-backend=false")
    args += [f"-backend-config={kv}" for kv in backend_config]
    return run(args, cwd, mirror, env)


if __name__ == "__main__":  # pragma: no cover - scripts/setup
    try:
        print(ensure_cli_config(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_MIRROR))
    except ToolkitError as exc:
        print(f"tenantdb: error: {exc}", file=sys.stderr)
        sys.exit(1)
