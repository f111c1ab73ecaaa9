"""Fixtures: synthesized stacks, made once per session and shared.

- ``synth_out`` (session): `tenantdb synth` (main.py in its own process, the
  real path) into a temporary cdktf.out; maps stack id -> stack directory.
- ``stack_json`` (session): stack id -> (raw JSON text, parsed document).
- ``cdktf_testing`` (session): ``cdktf.Testing`` (imports the jsii runtime
  into the test process: 10-14 s, once).
- ``synth_in_process`` (session): synthesize given Settings in this process
  with main.build (fast once cdktf is loaded), for overlays the tests make up.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:  # main.py and stacks/ live at the project root
    sys.path.insert(0, str(PROJECT_ROOT))


@pytest.fixture(scope="session")
def synth_out(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from tenantdb.infra import synth

    outdir = tmp_path_factory.mktemp("synth") / "cdktf.out"
    return {d.name: d for d in synth.synth(outdir=outdir)}


@pytest.fixture(scope="session")
def stack_json(synth_out: dict[str, Path]) -> dict[str, tuple[str, dict[str, Any]]]:
    out = {}
    for sid, d in synth_out.items():
        raw = (d / "cdk.tf.json").read_text()
        out[sid] = (raw, json.loads(raw))
    return out


@pytest.fixture(scope="session")
def cdktf_testing() -> Any:
    import main  # sets the environment jsii and Terraform need before cdktf loads
    from tenantdb import settings

    main._prepare_environment(settings.load("dev").provider_mirror)
    from stacks.cdk import Testing

    return Testing


@pytest.fixture(scope="session")
def synth_in_process(cdktf_testing: Any, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., dict[str, dict]]:
    """Synthesize ``targets`` (Settings) in-process; return stack id -> parsed document."""
    import main
    from stacks.cdk import App

    def run(targets: list) -> dict[str, dict]:
        outdir = tmp_path_factory.mktemp("synth-inproc")
        app = App(outdir=str(outdir), stack_traces=False)
        main.build(app, targets)
        app.synth()
        return {p.name: json.loads((p / "cdk.tf.json").read_text()) for p in (outdir / "stacks").iterdir()}

    return run
