"""No password in anything synth writes: no password attribute, no secret
version, no secret value. Terraform creates secrets empty; RDS manages the
master password; the bootstrap fills the application secret."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tenantdb import settings as settings_mod
from tenantdb.errors import UsageError

FORBIDDEN_KEYS = {"password", "password_wo", "master_password", "secret_string", "secret_string_wo",
                  "secret_binary", "access_key", "secret_key", "token"}


def _keys(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {k for v in node.values() for k in _keys(v)}
    if isinstance(node, list):
        return {k for v in node for k in _keys(v)}
    return set()


def test_no_synthesized_file_holds_a_password(synth_out: dict[str, Path]) -> None:
    outdir = next(iter(synth_out.values())).parents[1]
    files = [p for p in outdir.rglob("*") if p.is_file() and ".terraform" not in p.parts]
    assert any(p.name == "cdk.tf.json" for p in files)
    for path in files:
        text = path.read_text(errors="replace")
        if path.suffix == ".json":
            found = _keys(json.loads(text)) & FORBIDDEN_KEYS
            assert not found, f"{path}: {found}"
        assert "secretsmanager_secret_version" not in text, path
        assert "random_password" not in text, path
        # No literal that looks like a credential assignment either.
        assert not re.search(r'"(?:master_)?password"\s*:', text), path


def test_master_password_is_managed_by_rds(stack_json: dict) -> None:
    for env in settings_mod.ENVIRONMENTS:
        _, doc = stack_json[settings_mod.load(env, None).stack_id]
        (instance,) = doc["resource"]["aws_db_instance"].values()
        assert instance["manage_master_user_password"] is True
        assert "password" not in instance and "password_wo" not in instance
        for secret in doc["resource"]["aws_secretsmanager_secret"].values():
            # No value attribute: only the names, the key, the window; prod adds prevent_destroy.
            assert set(secret) - {"//", "lifecycle"} == {"name", "description", "kms_key_id", "recovery_window_in_days"}
            assert secret.get("lifecycle", {"prevent_destroy": True}) == {"prevent_destroy": True}


def test_synth_rejects_bad_settings_before_cdktf(tmp_path: Path) -> None:
    """main.py validates settings first and exits 2 with one line; synth maps that to UsageError."""
    from tenantdb.infra import synth

    overlay = tmp_path / "bad.toml"
    overlay.write_text("[prod]\nengine_major = 14\n")
    with pytest.raises(UsageError) as err:
        synth.synth(overlay=overlay, outdir=tmp_path / "out")
    msg = str(err.value)
    assert "\n" not in msg and "prod" in msg and "engine_major=14" in msg and "15" in msg
    assert not (tmp_path / "out").exists(), "nothing half-done"
